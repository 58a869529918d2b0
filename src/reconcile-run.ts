/**
 * `reconcile(options)`: one machine's run over a bucket. It describes the table, splits the key
 * space, and runs the partitions `concurrency` at a time, each one page at a time: list a page,
 * reconcile it (reconcile-objects.ts), save the checkpoint. The next page is listed while one is
 * reconciled. Memory holds a page per partition, never the bucket or the table.
 */
import { S3Client } from "@aws-sdk/client-s3";
import * as z from "zod/mini";
import { dynamoDbClientOf } from "./aws-clients.js";
import { createBatchDeleter } from "./batch-deleter.js";
import { mapInOrder } from "./concurrency.js";
import { ConfigError, type ConfigIssue, errorMessage } from "./errors.js";
import { functionKeyReader, type ItemKeyOf, type ItemKeyReader, templateKeyReader } from "./item-key-reader.js";
import { createItemProbe } from "./item-presence.js";
import { defaultLogger } from "./json-logger.js";
import { distinctPrefixes, inPartition, splitKeySpace } from "./key-space-partitions.js";
import { templatePrefix } from "./key-template-inversion.js";
import {
  type CheckpointStore,
  createCheckpointWriter,
  fileCheckpointStore,
  type PartitionProgress,
  type ReconcileCheckpoint,
  resumedProgress,
} from "./reconcile-checkpoint.js";
import {
  addCounts,
  createObjectReconciler,
  noCounts,
  type ObjectReconciler,
  tablePresence,
} from "./reconcile-objects.js";
import type { Orphan, ReconcileCounts } from "./reconcile-types.js";
import { ListingError, listObjects } from "./s3-listing.js";
import { describeTableKey } from "./table-key-schema.js";
import type { AwsClientLike, Logger } from "./types.js";
import {
  allowedPrefixesSchema,
  clientSchema,
  fn,
  loggerSchema,
  nonEmptyString,
  nonNegativeInt,
  optionsSchema,
  positiveInt,
  s3ClientSchema,
  trueOrFalse,
  validateOptions,
} from "./validation.js";

/** The default `minAgeMs`: a day. */
export const DEFAULT_MIN_AGE_MS = 24 * 60 * 60 * 1000;

/** Options of {@link reconcile}. Give `key` or `itemKeyOf`, not both. */
export interface ReconcileOptions {
  /** The table whose items the objects belong to. Needs `dynamodb:DescribeTable` and `dynamodb:BatchGetItem`. */
  tableName: string;
  /** The bucket to reconcile. Needs `s3:ListBucket`, and with `delete: true` `s3:DeleteObject`. */
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
   * The prefix to list.
   * @default the text before the first placeholder of each template ("" with `itemKeyOf`)
   */
  prefix?: string | undefined;
  /**
   * An object written within this many milliseconds is never an orphan (its item may not be written
   * yet: uploads often come first).
   * @default 86400000 (24 h)
   */
  minAgeMs?: number | undefined;
  /**
   * Delete the orphans: each on the condition of the ETag it was listed with, after asking the table
   * once more for its item. Off, the run only reports.
   * @default false
   */
  delete?: boolean | undefined;
  /**
   * How many partitions of the key space are listed at once; also the BatchGetItem and DeleteObjects
   * requests in flight per partition.
   * @default 4
   */
  concurrency?: number | undefined;
  /** Stops the run: no page is listed or reconciled after it fires, and the report says `complete: false`. */
  signal?: AbortSignal | undefined;
  /** Called after each page, with the counts so far. */
  onProgress?: ((progress: ReconcileProgress) => void) | undefined;
  /** Called for each orphan with what became of it. The run waits for it; if it throws, the run stops and rejects. */
  onOrphan?: ((orphan: Orphan) => void | Promise<void>) | undefined;
  /**
   * Where the run keeps its progress: a file path, or a `{ load, save }` pair. A run given the
   * checkpoint of a stopped run goes on after the last key each partition completed; the checkpoint
   * of a finished run starts a new one.
   */
  checkpoint?: string | CheckpointStore | undefined;
  /** When set, only objects under these prefixes are ever deleted, and the prefixes listed must lie within them. */
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

/** A partition's progress, as reports and `onProgress` give it. */
export interface PartitionReport {
  prefix: string;
  startAfter?: string | undefined;
  endAt?: string | undefined;
  /** The last key completed. */
  after?: string | undefined;
  listed: number;
  done: boolean;
  /** Why the partition stopped early. */
  error?: { code: string; message: string } | undefined;
}

/** The counts so far, and each partition's progress. */
export interface ReconcileProgress extends ReconcileCounts {
  partitions: PartitionReport[];
  /** Milliseconds since the run started. */
  durationMs: number;
}

/** What a run found and did. */
export interface ReconcileReport extends ReconcileProgress {
  /** Every partition was listed to its end: nothing was left out. */
  complete: boolean;
}

/**
 * Finds the objects of `bucket` whose items are gone from `tableName`, and with `delete: true`
 * deletes them. Resolves with the report, also when the signal stops it or a listing fails (then
 * `complete` is false); rejects with a ConfigError for bad options, with a ReconcileError when the
 * table cannot be described or a checkpoint cannot be read, and with `onOrphan`'s error.
 *
 * @example
 * ```ts
 * const report = await reconcile({ tableName: "products", bucket: "product-images", key: "images/{productId}.png" });
 * console.log(`${report.orphans} orphans, ${report.bytes} bytes`);
 * ```
 */
export async function reconcile(options: ReconcileOptions): Promise<ReconcileReport> {
  const started = Date.now();
  validateOptions(
    optionsSchema(
      { tableName: nonEmptyString(), bucket: nonEmptyString() },
      {
        key: () => z.union([z.string(), z.array(z.string())], { error: "must be a template or an array of templates" }),
        itemKeyOf: () => fn(),
        prefix: () => z.string({ error: "must be a string" }),
        minAgeMs: nonNegativeInt,
        delete: trueOrFalse,
        concurrency: () => positiveInt(64),
        signal: () =>
          z.custom<AbortSignal>((value) => value instanceof AbortSignal, { error: "must be an AbortSignal" }),
        onProgress: () => fn(),
        onOrphan: () => fn(),
        checkpoint: () =>
          z.union([nonEmptyString(), z.looseObject({ load: fn("must be a method"), save: fn("must be a method") })], {
            error: "must be a file path or an object with load and save methods",
          }),
        allowedPrefixes: allowedPrefixesSchema,
        allowedBuckets: () => z.array(nonEmptyString(), { error: "must be an array of bucket names" }),
        s3Client: s3ClientSchema,
        dynamoDbClient: clientSchema("a DynamoDBClient"),
        logger: loggerSchema,
        now: () => fn(),
      },
      options,
    ),
    options,
    crossCheck,
  );
  const {
    tableName,
    bucket,
    minAgeMs = DEFAULT_MIN_AGE_MS,
    concurrency = 4,
    signal,
    allowedPrefixes,
    logger = defaultLogger(),
  } = options;
  const templates =
    options.key === undefined ? undefined : typeof options.key === "string" ? [options.key] : [...options.key];
  const prefixes = distinctPrefixes(
    options.prefix !== undefined
      ? [options.prefix]
      : (templates?.map((template) => templatePrefix(template) as string) ?? [""]),
  );
  const outside =
    allowedPrefixes === undefined
      ? []
      : prefixes.filter((prefix) => !allowedPrefixes.some((allowed) => prefix.startsWith(allowed)));
  if (outside.length > 0) {
    throw new ConfigError([
      {
        path: options.prefix === undefined ? "key" : "prefix",
        message: `lists \`${outside[0]}\`, which is outside \`allowedPrefixes\``,
      },
    ]);
  }
  const s3Client = options.s3Client ?? new S3Client({});
  const dynamoDbClient = dynamoDbClientOf(options.dynamoDbClient);
  const table = await describeTableKey(dynamoDbClient, tableName, signal);
  const readItemKey = itemKeyReaderOf(templates, options.itemKeyOf, table.keySchema);
  const reconcileObjects = createObjectReconciler({
    bucket,
    tableName,
    readItemKey,
    presence: tablePresence(createItemProbe({ dynamoDbClient, concurrency }), tableName),
    deleter: options.delete === true ? createBatchDeleter({ s3Client, concurrency }) : undefined,
    minAgeMs,
    now: options.now ?? Date.now,
    allowedPrefixes,
    onOrphan: options.onOrphan,
    logger,
  });

  const store = typeof options.checkpoint === "string" ? fileCheckpointStore(options.checkpoint) : options.checkpoint;
  const run: ReconcileCheckpoint["run"] = { tableName, bucket, keys: templates ?? "itemKeyOf", prefixes };
  const resumed = store === undefined ? undefined : resumedProgress(await store.load(), run);
  const partitions: PartitionState[] = (
    resumed ??
    (await splitKeySpace(s3Client, bucket, prefixes, concurrency, signal)).map((partition) => ({
      ...partition,
      done: false,
      counts: noCounts(),
    }))
  ).map((progress) => ({ progress, listed: progress.counts.listed, frozen: false, ended: false }));
  if (resumed !== undefined)
    logger.info("reconcile: going on from the checkpoint", { table: tableName, bucket, partitions: partitions.length });

  const total = noCounts();
  for (const { progress } of partitions) addCounts(total, progress.counts);
  const writer =
    store === undefined
      ? undefined
      : createCheckpointWriter(
          store,
          (): ReconcileCheckpoint => ({ version: 1, run, partitions: partitions.map(({ progress }) => progress) }),
        );
  // onOrphan's error stops every partition, and the run rejects with it.
  const stop = new AbortController();
  const runSignal = signal === undefined ? stop.signal : AbortSignal.any([signal, stop.signal]);
  let fatal: { error: unknown } | undefined;
  const progressOf = (): ReconcileProgress => ({
    ...total,
    partitions: partitions.map(reportOf),
    durationMs: Date.now() - started,
  });

  await mapInOrder(partitions, concurrency, async (partition) => {
    if (partition.progress.done) return;
    try {
      await runPartition(partition, {
        bucket,
        s3Client,
        reconcileObjects,
        signal: runSignal,
        onPage: async (counts) => {
          addCounts(total, counts);
          await writer?.save();
          options.onProgress?.(progressOf());
        },
      });
    } catch (error) {
      if (error instanceof ListingError) {
        partition.error = { code: error.failure.code, message: error.failure.message };
        if (!runSignal.aborted)
          logger.error("reconcile: a partition's listing failed; the run is not complete", {
            bucket,
            ...reportOf(partition),
          });
        return;
      }
      fatal ??= { error };
      stop.abort(error);
    }
  });
  if (fatal !== undefined) throw fatal.error;
  await writer?.save();
  const report: ReconcileReport = {
    ...progressOf(),
    complete: partitions.every(({ ended, progress }) => ended || progress.done),
  };
  logger.info("dynamodb-s3-cleanup reconcile summary", {
    table: tableName,
    bucket,
    ...report,
    partitions: report.partitions.length,
  });
  return report;
}

/** A partition as a run holds it. */
interface PartitionState {
  progress: PartitionProgress;
  /** Objects listed in it, this run and the runs before. */
  listed: number;
  /** An orphan of it failed to delete, or an object was unchecked: its checkpoint stays where it was. */
  frozen: boolean;
  /** It was listed to its end. */
  ended: boolean;
  error?: { code: string; message: string } | undefined;
}

interface PartitionRun {
  bucket: string;
  s3Client: S3Client;
  reconcileObjects: ObjectReconciler;
  signal: AbortSignal;
  onPage: (counts: ReconcileCounts) => Promise<void>;
}

/** Lists and reconciles one partition page by page, listing the next page while one is reconciled. */
async function runPartition(partition: PartitionState, run: PartitionRun): Promise<void> {
  const { progress } = partition;
  const pages = listObjects(
    { bucket: run.bucket, prefix: progress.prefix, startAfter: progress.after ?? progress.startAfter },
    { s3Client: run.s3Client, signal: run.signal },
  );
  try {
    let next = pages.next();
    for (;;) {
      const page = await next;
      if (page.done) break;
      const inRange = page.value.filter((object) => inPartition(progress, object.key));
      const ended = inRange.length < page.value.length;
      next = ended ? Promise.resolve({ done: true, value: undefined }) : pages.next();
      // Awaited on the next turn, unless this page stops the partition first: never unhandled.
      next.catch(() => undefined);
      // A page listed before the signal fired is not reconciled after it.
      if (run.signal.aborted)
        throw new ListingError({ code: "Aborted", message: errorMessage(run.signal.reason), retryable: true });
      const counts = await run.reconcileObjects(inRange, run.signal);
      partition.listed += counts.listed;
      if (counts.failed > 0 || counts.unchecked > 0) partition.frozen = true;
      if (!partition.frozen) {
        addCounts(progress.counts, counts);
        const last = inRange[inRange.length - 1];
        if (last !== undefined) progress.after = last.key;
      }
      await run.onPage(counts);
      if (ended) break;
    }
    partition.ended = true;
    progress.done = !partition.frozen;
    await run.onPage(noCounts());
  } finally {
    await pages.return(undefined);
  }
}

function reportOf({ progress, listed, error }: PartitionState): PartitionReport {
  const report: PartitionReport = { prefix: progress.prefix, listed, done: progress.done };
  if (progress.startAfter !== undefined) report.startAfter = progress.startAfter;
  if (progress.endAt !== undefined) report.endAt = progress.endAt;
  if (progress.after !== undefined) report.after = progress.after;
  if (error !== undefined) report.error = error;
  return report;
}

/** The reader of object keys: through the templates, or `itemKeyOf`. */
function itemKeyReaderOf(
  templates: readonly string[] | undefined,
  itemKeyOf: ItemKeyOf | undefined,
  keySchema: Parameters<typeof templateKeyReader>[1],
): ItemKeyReader {
  if (templates === undefined) return functionKeyReader(itemKeyOf as ItemKeyOf, keySchema);
  const reader = templateKeyReader(templates, keySchema);
  if (typeof reader === "function") return reader;
  throw new ConfigError([{ path: "key", message: reader.message }]);
}

function crossCheck(input: Record<string, unknown>): ConfigIssue[] {
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
  if (Array.isArray(input.key) && input.key.length === 0)
    issues.push({ path: "key", message: "must hold at least one template" });
  const allowed = input.allowedBuckets;
  if (Array.isArray(allowed) && typeof input.bucket === "string" && !allowed.includes(input.bucket)) {
    issues.push({ path: "bucket", message: `is not one of \`allowedBuckets\` (${allowed.join(", ")})` });
  }
  return issues;
}
