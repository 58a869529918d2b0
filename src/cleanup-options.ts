/**
 * The handler's options: their types, their one schema, and their defaults. Checked once, when a
 * factory is called; both `createCleanupHandler` and `createCleanupHandlerFromEnv` go through
 * {@link resolveCleanupOptions}.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import * as z from "zod/mini";
import { type BatchDeleterOptions, type DeleterConfig, deleterConfig, deleterOptionFields } from "./batch-deleter.js";
import { defaultLogger } from "./json-logger.js";
import {
  type KeyFunction,
  type KeyMapperOptions,
  type KeySpec,
  keyMapperFields,
  keySpecSchema,
  requireBucket,
} from "./key-mapper.js";
import { type ParseOptions, REMOVAL_FILTERS, tableNamesSchema } from "./parse-stream-records.js";
import type { AwsClientLike, CleanupSummary, Logger, RemovalFilter } from "./types.js";
import {
  clientSchema,
  fn,
  loggerSchema,
  nonEmptyString,
  nonNegativeInt,
  type OptionalFields,
  optionsSchema,
  s3ClientSchema,
  trueOrFalse,
  validateOptions,
} from "./validation.js";

/**
 * Options of {@link createCleanupHandler}. `bucket` is required when `key` is a template or
 * `{ attribute }`; a key function needs `bucket`, `allowedBuckets` or both, the only buckets its
 * targets may lie in.
 */
export type CleanupOptions = CommonCleanupOptions &
  (
    | {
        /** How to find a removed item's objects: a template, templates or `{ attribute }`. */
        key: Exclude<KeySpec, KeyFunction>;
        /** The bucket of the keys that `key` produces. */
        bucket: string;
      }
    | {
        /** A function that returns a removed item's objects. */
        key: KeyFunction;
        /** The bucket of the keys the function returns as bare strings, and one it may return targets in. */
        bucket: string;
      }
    | {
        /** A function that returns a removed item's objects. */
        key: KeyFunction;
        /** The bucket of the keys the function returns as bare strings, and one it may return targets in. */
        bucket?: string | undefined;
        /** The buckets the function may return targets in, besides `bucket`. */
        allowedBuckets: readonly string[];
      }
  );

/** The options of {@link createCleanupHandler} other than `key` and `bucket`. */
export interface CommonCleanupOptions extends Omit<BatchDeleterOptions, "s3Client"> {
  /**
   * Which REMOVE records delete objects: all, only TTL expiries, or only users' deletes.
   * @default "any"
   */
  removals?: RemovalFilter | undefined;
  /**
   * The table's TTL attribute (epoch seconds). When set, a REMOVE without userIdentity also counts
   * as a TTL removal when `OldImage[ttlAttribute] <= ApproximateCreationDateTime`. This makes
   * `removals: "ttl"` right in a global table's replica Regions, where replicated TTL deletes carry
   * no userIdentity. Needs an OLD_IMAGE or NEW_AND_OLD_IMAGES stream. Such a REMOVE whose attribute is
   * malformed (an N that is no number, say) is invalid.
   */
  ttlAttribute?: string | undefined;
  /**
   * Only these tables' records delete objects: a record of any other table is skipped like an INSERT
   * (counted in `skipped`, never invalid, never deleted). For a Kinesis stream that several tables
   * write to. The table is read from `tableName` (Kinesis) or `eventSourceARN` (DynamoDB Streams,
   * Pipes); a REMOVE whose table cannot be read there is invalid (see `onInvalidRecord`).
   * @default undefined (every table)
   */
  tableNames?: readonly string[] | undefined;
  /**
   * Conditional deletes: the OldImage attribute (S) holding the ETag the object had when the item
   * was written. Each object is then deleted only while it still has that ETag; an object replaced
   * since is kept and counted as `keptReplaced`, not as a failure. This guards against a stale or
   * redelivered REMOVE deleting a new object under the same key. Needs an OLD_IMAGE or
   * NEW_AND_OLD_IMAGES stream, one object per record (or key functions returning `{ key, etag }`),
   * and s3:GetObject besides s3:DeleteObject. Not with `versions: "all"`.
   */
  etagAttribute?: string | undefined;
  /**
   * Called once per invocation with what it did (the summary line's fields), also when the
   * handler throws because a record cannot be reported. For metrics: see `emfMetrics`. What it
   * throws or rejects with is logged and otherwise ignored.
   */
  onResult?: ((summary: CleanupSummary) => void | Promise<void>) | undefined;
  /** The S3 client. @default one `new S3Client({})`, created when the factory is called */
  s3Client?: S3Client | undefined;
  /**
   * The re-creation guard: before a removed item's objects are deleted, ask its table whether an
   * item with the same key exists again (`BatchGetItem`, strongly consistent, key attributes only, up
   * to 100 keys a request). An item that is back keeps its objects and is counted in
   * `keptRecreated`, never as failed; a table read that fails leaves its record to be retried, and
   * deletes nothing for it. The table is the record's (`eventSourceARN`, or `tableName` for
   * Kinesis), or `{ tableName }`. Needs `dynamodb:BatchGetItem` on the table.
   * @default false for `createCleanupHandler` (a live stream's REMOVE is seconds old); true for
   * `createReplayHandler` (a replay is hours late)
   */
  verifyAbsent?: boolean | { tableName?: string | undefined } | undefined;
  /**
   * The DynamoDB client of `verifyAbsent`: a `DynamoDBClient` of @aws-sdk/client-dynamodb.
   * @default one `new DynamoDBClient({})`, created the first time the table is read
   */
  dynamoDbClient?: AwsClientLike | undefined;
  /**
   * What to do with a record that cannot be parsed or mapped: report it as a batch item failure
   * (`"fail"`: Lambda retries from it) or only log it (`"skip"`). Nothing is deleted for it either way.
   * @default "fail"
   */
  onInvalidRecord?: "fail" | "skip" | undefined;
  /**
   * How many S3 requests (deletes, and listings for `versions: "all"` and prefix targets) may be
   * in flight at once, and how many key functions may run at once.
   * @default 4
   */
  concurrency?: number | undefined;
  /**
   * Further buckets a key function may return targets in, besides `bucket`. A target in any other
   * bucket makes its record invalid, and nothing is deleted for it. Templates and `{ attribute }`
   * put every key in `bucket`, so for them it changes nothing.
   * @default undefined (only `bucket`)
   */
  allowedBuckets?: readonly string[] | undefined;
  /**
   * When set, every key must start with one of these, in every allowed bucket; a record with any
   * other key is invalid. Required by prefix targets, which must lie strictly inside one of them.
   */
  allowedPrefixes?: readonly string[] | undefined;
  /**
   * Where the prefix of a `{ bucket, prefix }` target returned by a key function must end, so that
   * `products/p-1/` cannot be given as `products/p-1` (which would take `products/p-10/` too).
   * @default "/"
   */
  prefixDelimiter?: string | undefined;
  /**
   * Log the planned deletes (one info line per 1,000 objects) and delete nothing. With
   * `versions: "all"` it logs the keys to purge; it lists no versions. Prefix targets are listed
   * (read-only), and the objects under them logged; a prefix not fully listed (`maxListedObjects`,
   * the time budget, a listing error) is logged at warn but its records are not reported, since a
   * redelivery would list the same objects again. Invalid records are reported as `onInvalidRecord`
   * says.
   * @default false
   */
  dryRun?: boolean | undefined;
  /**
   * Where log lines go; a Powertools Logger fits, and gets `(message, fields)` as they are.
   * @default one JSON object per line on stdout (`level`, `message`, `timestamp`, then the fields), at
   * the level `AWS_LAMBDA_LOG_LEVEL` sets when the factory is called (Lambda's advanced logging
   * controls), else at every level
   */
  logger?: Logger | undefined;
  /**
   * The invocation's signal fires this many ms before the function's timeout
   * (`context.getRemainingTimeInMillis()` when the invocation starts). It is passed to every S3
   * request, backoff wait and listing page; when it fires, the handler stops waiting for them (also
   * for a client that ignores it), reports every record whose objects are not all deleted (as
   * retryable), and returns. The margin is the time left for that, the summary line and
   * `onResult`. Key functions get a signal that fires halfway to it: records not mapped by then are
   * reported, and the other half of the budget deletes what was mapped.
   * @default 2000
   */
  timeoutMarginMs?: number | undefined;
}

/** The handler's optional options (every one but `key`), in the order their issues are listed. */
const optionalFields: OptionalFields = {
  ...keyMapperFields,
  ...deleterOptionFields,
  removals: () => z.enum(REMOVAL_FILTERS as RemovalFilter[], { error: 'must be "any", "ttl" or "user"' }),
  ttlAttribute: nonEmptyString,
  tableNames: tableNamesSchema,
  onResult: () => fn(),
  s3Client: s3ClientSchema,
  verifyAbsent: () =>
    z.union([trueOrFalse(), z.strictObject({ tableName: z.optional(nonEmptyString()) })], {
      error: "must be true, false or { tableName }",
    }),
  dynamoDbClient: clientSchema("a DynamoDBClient"),
  onInvalidRecord: () => z.enum(["fail", "skip"], { error: 'must be "fail" or "skip"' }),
  dryRun: trueOrFalse,
  logger: loggerSchema,
  timeoutMarginMs: nonNegativeInt,
};

/** The handler's options, checked, with their defaults; the S3 client is left to the handler to create. */
export interface CleanupConfig {
  key: KeySpec;
  keyMapper: KeyMapperOptions;
  parse: ParseOptions;
  /** The deleter's settings, without the client. */
  deleter: Omit<DeleterConfig, "s3Client">;
  s3Client: S3Client | undefined;
  /** Whether to check the table, and which table when the records' own is not to be used. */
  verifyAbsent: false | { tableName: string | undefined };
  dynamoDbClient: AwsClientLike | undefined;
  onResult: CleanupOptions["onResult"];
  onInvalidRecord: "fail" | "skip";
  dryRun: boolean;
  logger: Logger;
  timeoutMarginMs: number;
}

/** How a factory other than `createCleanupHandler` resolves the options: its defaults, its own options. */
export interface ResolveSettings {
  /** The default of `verifyAbsent`. */
  verifyAbsent: boolean;
  /** Options of the factory's own, checked with the others and left out of the config. */
  fields: OptionalFields;
}

/**
 * Checks the options (throws one {@link ConfigError} naming every wrong option) and applies the
 * defaults.
 */
export function resolveCleanupOptions(
  options: CleanupOptions,
  settings: ResolveSettings = { verifyAbsent: false, fields: {} },
): CleanupConfig {
  const fields = { ...optionalFields, ...settings.fields };
  validateOptions(optionsSchema({ key: keySpecSchema() }, fields, options), options, (input) => [
    ...requireBucket(input),
    ...(input.etagAttribute !== undefined && input.versions === "all"
      ? [
          {
            path: "etagAttribute",
            message: 'cannot be used with versions: "all": a purge of every version has no ETag to match',
          },
        ]
      : []),
  ]);
  const { s3Client, ...deleter } = deleterConfig(options as BatchDeleterOptions);
  return {
    key: options.key,
    keyMapper: {
      bucket: options.bucket,
      allowedBuckets: options.allowedBuckets,
      allowedPrefixes: options.allowedPrefixes,
      prefixDelimiter: options.prefixDelimiter,
      etagAttribute: options.etagAttribute,
    },
    parse: {
      removals: options.removals ?? "any",
      ttlAttribute: options.ttlAttribute,
      // A copy: changing the array later must not change which tables this handler serves.
      tableNames: options.tableNames && [...options.tableNames],
    },
    deleter,
    s3Client: options.s3Client,
    verifyAbsent: verifyAbsentOf(options.verifyAbsent ?? settings.verifyAbsent),
    dynamoDbClient: options.dynamoDbClient,
    onResult: options.onResult,
    onInvalidRecord: options.onInvalidRecord ?? "fail",
    dryRun: options.dryRun ?? false,
    logger: options.logger ?? defaultLogger(),
    timeoutMarginMs: options.timeoutMarginMs ?? 2000,
  };
}

function verifyAbsentOf(option: NonNullable<CommonCleanupOptions["verifyAbsent"]>): CleanupConfig["verifyAbsent"] {
  if (option === false) return false;
  return { tableName: option === true ? undefined : option.tableName };
}
