/**
 * What reconcile on one machine and the Distributed Map batch handler share: their common options,
 * validated the same way, and the reconciler built from them once the table's key schema is known.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import * as z from "zod/mini";
import type { ClientSource } from "./aws-clients.js";
import { createBatchDeleter } from "./batch-deleter.js";
import { ConfigError, type ConfigIssue } from "./errors.js";
import { functionKeyReader, type ItemKeyOf, type ItemKeyReader, templateKeyReader } from "./item-key-reader.js";
import { createItemProbe } from "./item-presence.js";
import type { KeyInversionProblem } from "./key-template-inversion.js";
import { templatePrefix } from "./key-template-inversion.js";
import {
  createObjectReconciler,
  type ObjectReconciler,
  type ObjectReconcilerConfig,
  tablePresence,
} from "./reconcile-objects.js";
import type { Orphan } from "./reconcile-types.js";
import { describeTableKey } from "./table-key-schema.js";
import { scanExpectedKeys, scanKeyReader } from "./table-scan.js";
import type { AwsClientLike, Logger } from "./types.js";
import {
  allowedPrefixesSchema,
  clientSchema,
  fn,
  loggerSchema,
  nonEmptyString,
  nonNegativeInt,
  type OptionalFields,
  positiveInt,
  s3ClientSchema,
  trueOrFalse,
} from "./validation.js";

/** The default `minAgeMs`: a day. */
export const DEFAULT_MIN_AGE_MS = 24 * 60 * 60 * 1000;

/** The options every reconcile takes. Give `key` or `itemKeyOf`, not both. */
export interface ReconcilerOptions {
  /** The table whose items the objects belong to. Needs `dynamodb:DescribeTable` and `dynamodb:BatchGetItem`. */
  tableName: string;
  /** The bucket to reconcile. Needs `s3:ListBucket`, and to delete, `s3:DeleteObject` and `s3:GetObject`. */
  bucket: string;
  /**
   * The key template(s) of the cleanup handler, such as `"images/{productId}.png"`: each placeholder a
   * key attribute of the table, and every key attribute in each template. An object key is read back
   * into its item key through them (an N attribute as the number DynamoDB stores).
   */
  key?: string | readonly string[] | undefined;
  /**
   * For layouts a template cannot express: the item key of an object key, as plain values (a string
   * for S, a number, bigint or numeric string for N, a Uint8Array for B), or `undefined` for an object
   * of no item. A throw, or a key the table cannot have, leaves the object unchecked.
   */
  itemKeyOf?: ItemKeyOf | undefined;
  /**
   * An object written within this many milliseconds is never an orphan (its item may not be written
   * yet: uploads often come first).
   * @default 86400000 (24 h)
   */
  minAgeMs?: number | undefined;
  /**
   * Delete the orphans: each on the condition of the ETag it was listed with, after asking the table
   * once more for its item. Off, orphans are only reported.
   * @default false
   */
  delete?: boolean | undefined;
  /**
   * How many BatchGetItem and DeleteObjects requests a batch of objects has in flight at once (and
   * for `reconcile`, how many partitions of the key space are listed at once).
   * @default 4
   */
  concurrency?: number | undefined;
  /** Called for each orphan with what became of it. The run waits for it; if it throws, the run stops and rejects. */
  onOrphan?: ((orphan: Orphan) => void | Promise<void>) | undefined;
  /** When set, only objects under these prefixes are ever deleted. */
  allowedPrefixes?: readonly string[] | undefined;
  /** When set, `bucket` must be one of these. */
  allowedBuckets?: readonly string[] | undefined;
  /** @default a new S3Client({}) */
  s3Client?: S3Client | undefined;
  /** @default a new DynamoDBClient({}), from the optional peer @aws-sdk/client-dynamodb */
  dynamoDbClient?: AwsClientLike | undefined;
  /** @default JSON lines on stdout, at AWS_LAMBDA_LOG_LEVEL or `info` */
  logger?: Logger | undefined;
  /** The time now, in ms since the epoch, which `minAgeMs` is measured from. @default Date.now */
  now?: (() => number) | undefined;
}

/** The schemas of {@link ReconcilerOptions}' optional fields. */
export const reconcilerFields: OptionalFields = {
  key: () => z.union([z.string(), z.array(z.string())], { error: "must be a template or an array of templates" }),
  itemKeyOf: () => fn(),
  minAgeMs: nonNegativeInt,
  delete: trueOrFalse,
  concurrency: () => positiveInt(64),
  onOrphan: () => fn(),
  allowedPrefixes: allowedPrefixesSchema,
  allowedBuckets: () => z.array(nonEmptyString(), { error: "must be an array of bucket names" }),
  s3Client: s3ClientSchema,
  dynamoDbClient: clientSchema("a DynamoDBClient"),
  logger: loggerSchema,
  now: () => fn(),
};

/** The required fields' schemas. */
export const reconcilerRequired = () => ({ tableName: nonEmptyString(), bucket: nonEmptyString() });

/** The templates of `key`, as an array; `undefined` with `itemKeyOf`. */
export function templatesOf(key: ReconcilerOptions["key"]): string[] | undefined {
  return key === undefined ? undefined : typeof key === "string" ? [key] : [...key];
}

/** What the schemas cannot tell: `key` xor `itemKeyOf`, well-formed templates, `bucket` among `allowedBuckets`. */
export function reconcilerCrossCheck(input: Record<string, unknown>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if ((input.key === undefined) === (input.itemKeyOf === undefined)) {
    issues.push({ path: "key", message: "give `key` (the templates) or `itemKeyOf`, exactly one of them" });
  }
  const templates = typeof input.key === "string" ? [input.key] : Array.isArray(input.key) ? input.key : [];
  templates.forEach((template, index) => {
    if (typeof template === "string" && templatePrefix(template) === undefined) {
      issues.push({
        path: typeof input.key === "string" ? "key" : `key[${index}]`,
        message: `is not a key template: ${JSON.stringify(template)}`,
      });
    }
  });
  if (Array.isArray(input.key) && input.key.length === 0) {
    issues.push({ path: "key", message: "must hold at least one template" });
  }
  const allowed = input.allowedBuckets;
  if (Array.isArray(allowed) && typeof input.bucket === "string" && !allowed.includes(input.bucket)) {
    issues.push({ path: "bucket", message: `is not one of \`allowedBuckets\` (${allowed.join(", ")})` });
  }
  return issues;
}

/**
 * Describes the table and builds the reconciler of `options`: through the templates or `itemKeyOf`,
 * asking the table, deleting orphans when `options.delete` is true. With `scan: true` the table is
 * scanned first into the object keys its items render to (scan mode; `onScanned` after each page),
 * and objects are aged from the moment the scan began. Rejects with a ReconcileError when the table cannot be described or
 * scanned, and a ConfigError naming `key` when a template cannot be read backwards.
 */
export async function createReconcilerFor(
  options: ReconcilerOptions,
  clients: { s3Client: S3Client; dynamoDbClient: ClientSource; logger: Logger },
  signal?: AbortSignal | undefined,
  { scan = false, onScanned }: { scan?: boolean; onScanned?: ((items: number) => void) | undefined } = {},
): Promise<ObjectReconciler> {
  const { tableName, bucket, concurrency = 4 } = options;
  const now = options.now ?? Date.now;
  const table = await describeTableKey(clients.dynamoDbClient, tableName, signal);
  const templates = templatesOf(options.key);
  let found: Pick<ObjectReconcilerConfig, "readItemKey" | "presence" | "now" | "secondProbe">;
  if (scan) {
    const readItemKey = checked(scanKeyReader(templates as string[], table.keySchema));
    // An item written after the scan began may be missing from it: only objects older than
    // minAgeMs at that moment can be orphans.
    const startedAt = now();
    clients.logger.info("reconcile: scanning the table", { table: tableName, itemCount: table.itemCount });
    const { expected, items } = await scanExpectedKeys({
      dynamoDbClient: clients.dynamoDbClient,
      tableName,
      templates: templates as string[],
      segments: concurrency,
      signal,
      onPage: onScanned,
    });
    clients.logger.info("reconcile: table scanned", { table: tableName, items, objectKeys: expected.size });
    found = {
      readItemKey,
      presence: async (candidates) => candidates.map(({ object }) => (expected.has(object.key) ? "present" : "absent")),
      // The set does not change: asking it again before deleting would tell nothing new.
      secondProbe: false,
      now: () => startedAt,
    };
  } else {
    found = {
      readItemKey:
        templates === undefined
          ? functionKeyReader(options.itemKeyOf as ItemKeyOf, table.keySchema)
          : checked(templateKeyReader(templates, table.keySchema)),
      presence: tablePresence(createItemProbe({ dynamoDbClient: clients.dynamoDbClient, concurrency }), tableName),
      now,
    };
  }
  return createObjectReconciler({
    bucket,
    tableName,
    ...found,
    deleter: options.delete === true ? createBatchDeleter({ s3Client: clients.s3Client, concurrency }) : undefined,
    minAgeMs: options.minAgeMs ?? DEFAULT_MIN_AGE_MS,
    allowedPrefixes: options.allowedPrefixes,
    onOrphan: options.onOrphan,
    logger: clients.logger,
  });
}

/** The reader, or a ConfigError naming `key` with why the templates cannot be read backwards. */
function checked(reader: ItemKeyReader | KeyInversionProblem): ItemKeyReader {
  if (typeof reader === "function") return reader;
  throw new ConfigError([{ path: "key", message: reader.message }]);
}
