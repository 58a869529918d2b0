/**
 * `reconcile(options)`: one machine's run over a bucket. It describes the table, splits the key
 * space, and runs the partitions `concurrency` at a time, each one page at a time: list a page,
 * reconcile it (reconcile-objects.ts), save the checkpoint. The next page is listed while one is
 * reconciled. Memory holds a page per partition, never the bucket or the table.
 */
import { S3Client } from "@aws-sdk/client-s3";
import * as z from "zod/mini";
import { dynamoDbClientOf } from "./aws-clients.js";
import { mapInOrder } from "./concurrency.js";
import { ConfigError, errorMessage } from "./errors.js";
import { defaultLogger } from "./json-logger.js";
import { compareKeys, distinctPrefixes, inPartition, splitKeySpace } from "./key-space-partitions.js";
import { templatePrefix } from "./key-template-inversion.js";
import {
  type CheckpointStore,
  createCheckpointWriter,
  fileCheckpointStore,
  type PartitionProgress,
  type ReconcileCheckpoint,
  type RunIdentity,
  resumedProgress,
} from "./reconcile-checkpoint.js";
import { addCounts, noCounts, type ObjectReconciler } from "./reconcile-objects.js";
import {
  createReconcilerFor,
  DEFAULT_MIN_AGE_MS,
  type ReconcilerOptions,
  reconcilerCrossCheck,
  reconcilerFields,
  reconcilerRequired,
  templatesOf,
} from "./reconcile-setup.js";
import type { ListedObject, ReconcileCounts } from "./reconcile-types.js";
import { ListingError, listObjects } from "./s3-listing.js";
import { fn, nonEmptyString, optionsSchema, validateOptions } from "./validation.js";

/** Options of {@link reconcile}. Give `key` or `itemKeyOf`, not both. */
export interface ReconcileOptions extends ReconcilerOptions {
  /**
   * The prefix to list.
   * @default the text before the first placeholder of each template ("" with `itemKeyOf`)
   */
  prefix?: string | undefined;
  /**
   * Stops the run: no page is listed after it fires, the pages in hand are reconciled to their end,
   * and the report says `complete: false`.
   */
  signal?: AbortSignal | undefined;
  /** Called after each page, with the counts so far. */
  onProgress?: ((progress: ReconcileProgress) => void) | undefined;
  /**
   * Where the run keeps its progress: a file path, or a `{ load, save }` pair. A run given the
   * checkpoint of a stopped run goes on after the last key each partition completed; the checkpoint
   * of a finished run starts a new one.
   */
  checkpoint?: string | CheckpointStore | undefined;
  /**
   * How an object's item is found. `"keys"`: the object key is read back into the item key, and the
   * table is asked for it (BatchGetItem). `"scan"`: for templates that use attributes outside the
   * key, the table is scanned (ConsistentRead, `concurrency` segments, only the templates'
   * attributes) into the set of object keys its items render to, held in memory, and an object is
   * live when its key is in it. There is no second probe then: an object is an orphan only when it
   * was older than `minAgeMs` when the scan began. Needs `dynamodb:Scan`.
   * @default "keys"
   */
  mode?: "keys" | "scan" | undefined;
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
  /** Scan mode: the items scanned so far (the listing starts when the scan is done). */
  scannedItems?: number | undefined;
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
      reconcilerRequired(),
      {
        ...reconcilerFields,
        prefix: () => z.string({ error: "must be a string" }),
        signal: () =>
          z.custom<AbortSignal>((value) => value instanceof AbortSignal, { error: "must be an AbortSignal" }),
        onProgress: () => fn(),
        mode: () => z.enum(["keys", "scan"], { error: 'must be "keys" or "scan"' }),
        checkpoint: () =>
          z.union([nonEmptyString(), z.looseObject({ load: fn("must be a method"), save: fn("must be a method") })], {
            error: "must be a file path or an object with load and save methods",
          }),
      },
      options,
    ),
    options,
    (input) => [
      ...reconcilerCrossCheck(input),
      ...(input.mode === "scan" && input.itemKeyOf !== undefined
        ? [{ path: "mode", message: 'is "scan", which renders the templates of `key`: give `key`, not `itemKeyOf`' }]
        : []),
    ],
  );
  const { tableName, bucket, concurrency = 4, signal, allowedPrefixes, logger = defaultLogger() } = options;
  const templates = templatesOf(options.key);
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
  let reconcileObjects: ObjectReconciler;
  try {
    reconcileObjects = await createReconcilerFor(options, { s3Client, dynamoDbClient, logger }, signal, {
      scan: options.mode === "scan",
      onScanned: (scannedItems) =>
        options.onProgress?.({ ...noCounts(), scannedItems, partitions: [], durationMs: Date.now() - started }),
    });
  } catch (error) {
    // Stopped before the listing began: nothing was listed, and the run is not complete.
    if (signal?.aborted) return { ...noCounts(), partitions: [], durationMs: Date.now() - started, complete: false };
    throw error;
  }

  const store = typeof options.checkpoint === "string" ? fileCheckpointStore(options.checkpoint) : options.checkpoint;
  const run: RunIdentity = {
    tableName,
    bucket,
    keys: templates ?? "itemKeyOf",
    prefixes,
    delete: options.delete === true,
    mode: options.mode ?? "keys",
    minAgeMs: options.minAgeMs ?? DEFAULT_MIN_AGE_MS,
    allowedPrefixes: allowedPrefixes ?? null,
  };
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
        listingSignal: runSignal,
        pageSignal: stop.signal,
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
  /** Stops the listing: the caller's signal, or a fatal error elsewhere. */
  listingSignal: AbortSignal;
  /** Cuts a page in hand short: a fatal error elsewhere only. */
  pageSignal: AbortSignal;
  onPage: (counts: ReconcileCounts) => Promise<void>;
}

/**
 * Lists and reconciles one partition page by page, listing the next page while one is reconciled.
 * The run's signal stops the listing; a page already in hand is reconciled to its end.
 */
async function runPartition(partition: PartitionState, run: PartitionRun): Promise<void> {
  const { progress } = partition;
  const startAfter = progress.after ?? progress.startAfter;
  // Its own stop, so that an error here (onOrphan's) cuts the prefetched page short before the
  // listing is closed, which waits for it.
  const own = new AbortController();
  const pages = listObjects(
    { bucket: run.bucket, prefix: progress.prefix, startAfter },
    { s3Client: run.s3Client, signal: AbortSignal.any([run.listingSignal, own.signal]) },
  );
  try {
    let next: Promise<IteratorResult<ListedObject[]>> | undefined = pages.next();
    while (next !== undefined) {
      const page: IteratorResult<ListedObject[]> = await next;
      if (page.done) break;
      if (startAfter !== undefined && page.value.some((object) => compareKeys(object.key, startAfter) <= 0)) {
        // A store that ignores StartAfter: going on would take the keys before it for the end of the range.
        throw new ListingError({
          code: "UnexpectedListing",
          message: `the store listed keys at or before StartAfter ${JSON.stringify(startAfter)}: it does not honour StartAfter, so this partition cannot be listed`,
          retryable: false,
        });
      }
      const inRange: ListedObject[] = page.value.filter((object) => inPartition(progress, object.key));
      // Keys past the partition's end: the next partition lists them.
      const ended: boolean = inRange.length < page.value.length;
      next = ended ? undefined : pages.next();
      // Awaited on the next turn, unless this page stops the partition first: never unhandled.
      next?.catch(() => undefined);
      // A page listed before the signal fired is not reconciled after it.
      if (run.listingSignal.aborted) {
        throw new ListingError({ code: "Aborted", message: errorMessage(run.listingSignal.reason), retryable: true });
      }
      const counts = await run.reconcileObjects(inRange, run.pageSignal);
      partition.listed += counts.listed;
      if (counts.failed > 0 || counts.unchecked > 0) partition.frozen = true;
      if (!partition.frozen) {
        addCounts(progress.counts, counts);
        const last = inRange[inRange.length - 1];
        if (last !== undefined) progress.after = last.key;
      }
      await run.onPage(counts);
    }
    partition.ended = true;
    progress.done = !partition.frozen;
    await run.onPage(noCounts());
  } catch (error) {
    own.abort(error);
    throw error;
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
