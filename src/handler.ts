/**
 * The handler factory: composes parse → select → map → expand (prefix targets) → delete → report.
 * It holds no rules of its own beyond the wiring; each step lives in its module.
 */
import { S3Client } from "@aws-sdk/client-s3";
import * as z from "zod/mini";
import {
  type BatchDeleterOptions,
  buildBatchDeleter,
  type DeleteReport,
  deleterOptionFields,
  MAX_KEYS_PER_REQUEST,
} from "./batch-deleter.js";
import { describeShape, type RecordRef } from "./errors.js";
import { EVENT_SOURCES } from "./event-sources.js";
import {
  buildKeyMapper,
  type KeyFunction,
  type KeySpec,
  keyMapperFields,
  mapRemovals,
  requireBucket,
} from "./key-mapper.js";
import { type InvalidRecord, parseStreamRecords, REMOVAL_FILTERS, tableNamesSchema } from "./parse-stream-records.js";
import { buildPrefixExpander, expandRemovals, prefixExpanderOptionFields } from "./prefix-expander.js";
import { buildBatchResponse, collectOwnership, ownersOf, unreportable } from "./report.js";
import type { CleanupContext, CleanupHandler, CleanupSummary, Logger, RemovalFilter } from "./types.js";
import { fn, loggerSchema, nonEmptyString, nonNegativeInt, s3ClientSchema, validateOptions } from "./validation.js";

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
   * The most objects listed under prefix targets in one invocation, across all of them (1 to
   * 1,000,000). A prefix not finished by then has what was listed deleted, and its records reported
   * for redelivery, which goes on where this one stopped.
   * @default 10000
   */
  maxPrefixObjects?: number | undefined;
  /**
   * Log the planned deletes (one info line per 1,000 objects) and delete nothing. With
   * `versions: "all"` it logs the keys to purge; it lists no versions. Prefix targets are listed
   * (read-only), and the objects under them logged; a prefix not fully listed (`maxPrefixObjects`,
   * the time budget, a listing error) is logged at warn but its records are not reported, since a
   * redelivery would list the same objects again. Invalid records are reported as `onInvalidRecord`
   * says.
   * @default false
   */
  dryRun?: boolean | undefined;
  /** Where log lines go; a Powertools Logger fits. @default console */
  logger?: Logger | undefined;
  /**
   * No new request or retry starts once the invocation has less than this many ms left
   * (`context.getRemainingTimeInMillis()`); objects not deleted by then are reported as failed.
   * @default 2000
   */
  timeoutMarginMs?: number | undefined;
}

const cleanupOptionsSchema = () =>
  z.strictObject({
    ...keyMapperFields(),
    ...deleterOptionFields(),
    ...prefixExpanderOptionFields(),
    removals: z.optional(z.enum(REMOVAL_FILTERS as RemovalFilter[], { error: 'must be "any", "ttl" or "user"' })),
    ttlAttribute: z.optional(nonEmptyString()),
    tableNames: z.optional(tableNamesSchema()),
    onResult: z.optional(fn()),
    s3Client: z.optional(s3ClientSchema()),
    onInvalidRecord: z.optional(z.enum(["fail", "skip"], { error: 'must be "fail" or "skip"' })),
    dryRun: z.optional(z.boolean({ error: "must be true or false" })),
    logger: z.optional(loggerSchema()),
    timeoutMarginMs: z.optional(nonNegativeInt()),
  });

/**
 * Creates the Lambda handler for a DynamoDB stream: for every selected REMOVE record it deletes the
 * item's S3 objects, and it returns the partial batch response that makes Lambda redeliver exactly
 * the records whose objects were not all deleted. It takes the records from a DynamoDB stream,
 * from Kinesis Data Streams for DynamoDB or from EventBridge Pipes, telling them apart per
 * invocation.
 *
 * Options are validated here, once; a mistake throws {@link ConfigError} at cold start.
 *
 * @example
 * ```ts
 * export const handler = createCleanupHandler({ bucket: "product-images", key: "{productId}.png" });
 * ```
 */
export function createCleanupHandler(options: CleanupOptions): CleanupHandler {
  validateOptions(cleanupOptionsSchema(), options, (input) => [
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
  const {
    removals = "any",
    ttlAttribute,
    onResult,
    onInvalidRecord = "fail",
    dryRun = false,
    logger = console,
    timeoutMarginMs = 2000,
    concurrency = 4,
    now = Date.now,
  } = options;
  const tableNames = options.tableNames && [...options.tableNames];
  const mapKeys = buildKeyMapper(options.key, {
    bucket: options.bucket,
    allowedBuckets: options.allowedBuckets,
    allowedPrefixes: options.allowedPrefixes,
    prefixDelimiter: options.prefixDelimiter,
    etagAttribute: options.etagAttribute,
  });
  const s3Client = options.s3Client ?? new S3Client({});
  const expandPrefixes = buildPrefixExpander({
    s3Client,
    concurrency,
    versions: options.versions,
    maxPrefixObjects: options.maxPrefixObjects,
    now,
  });
  const deleteTargets = buildBatchDeleter({
    s3Client,
    concurrency,
    maxAttempts: options.maxAttempts,
    baseDelayMs: options.baseDelayMs,
    maxDelayMs: options.maxDelayMs,
    now,
    sleep: options.sleep,
    random: options.random,
    versions: options.versions,
    contentMd5: options.contentMd5,
    fallbackToSingleDeletes: options.fallbackToSingleDeletes,
  });

  return async (event, context) => {
    const started = now();
    const deadline = deadlineOf(context, now, timeoutMarginMs);
    const batch = parseStreamRecords(event, { removals, ttlAttribute, tableNames });
    const source = EVENT_SOURCES[batch.source];
    const records = batch.removals.length + batch.skipped.length + batch.invalid.length;
    const summary = (
      counts: Omit<CleanupSummary, "source" | "records" | "skipped" | "durationMs" | "dryRun">,
    ): CleanupSummary => ({
      source: batch.source,
      records,
      removals: counts.removals,
      withoutObjects: counts.withoutObjects,
      skipped: batch.skipped.length,
      invalid: counts.invalid,
      targets: counts.targets,
      deleted: counts.deleted,
      failed: counts.failed,
      keptReplaced: counts.keptReplaced,
      fallback: counts.fallback,
      batchItemFailures: counts.batchItemFailures,
      durationMs: now() - started,
      dryRun,
    });
    const logInvalid = (invalid: readonly InvalidRecord[]) => {
      for (const record of invalid) {
        logger.warn(onInvalidRecord === "fail" ? "Invalid record, reported as failed" : "Invalid record, skipped", {
          index: record.index,
          sequenceNumber: record.sequenceNumber,
          eventId: record.eventId,
          itemIdentifier: record.itemIdentifier,
          error: record.error.message,
        });
      }
    };

    // Found before any key function or delete runs: Lambda must retry this batch whole anyway.
    const cannotReport = onInvalidRecord === "fail" ? unreportable(batch.invalid, source) : undefined;
    if (cannotReport !== undefined) {
      logInvalid(batch.invalid);
      const nothing = {
        removals: 0,
        withoutObjects: 0,
        targets: 0,
        deleted: 0,
        failed: 0,
        keptReplaced: 0,
        fallback: "none",
        batchItemFailures: undefined,
      } as const;
      const result = summary({ ...nothing, invalid: batch.invalid.length });
      logger.error("dynamodb-s3-cleanup summary: failing the whole batch", { ...result, error: cannotReport.message });
      await report(result);
      throw cannotReport;
    }

    const { mapped, invalid: unmappable } = await mapRemovals(batch.removals, mapKeys, concurrency);
    const invalid = [...batch.invalid, ...unmappable].sort((a, b) => a.index - b.index);
    logInvalid(invalid);
    // Prefix targets are listed, read-only, in a dry run too: what they would delete is the answer.
    const { owned, unfinished } = await expandRemovals(mapped, expandPrefixes, { deadline });
    const owners = collectOwnership(owned);
    const targets = [...owners.values()].map((owner) => owner.target);

    let outcome: DeleteReport;
    if (dryRun) {
      for (let start = 0; start < targets.length; start += MAX_KEYS_PER_REQUEST) {
        logger.info("Dry run: these objects would be deleted", {
          targets: targets.slice(start, start + MAX_KEYS_PER_REQUEST),
        });
      }
      outcome = { deleted: [], failed: [], keptReplaced: [] };
    } else {
      outcome = await deleteTargets(targets, { deadline });
    }

    const mustRetry: RecordRef[] = onInvalidRecord === "fail" ? [...invalid] : [];
    for (const { failure, records: owning } of unfinished) {
      logger.warn(dryRun ? "Dry run: prefix not fully listed" : "Prefix not fully deleted", {
        bucket: failure.target.bucket,
        prefix: failure.target.prefix,
        code: failure.code,
        message: failure.message,
        retryable: failure.retryable,
        sequenceNumbers: owning.map((record) => record.sequenceNumber),
      });
      // A dry run deletes nothing, so a redelivery would list the very same objects: no progress.
      if (!dryRun) mustRetry.push(...owning);
    }
    for (const failure of outcome.failed) {
      const owning = ownersOf(owners, failure);
      logger.warn("Object not deleted", {
        bucket: failure.target.bucket,
        key: failure.target.key,
        versionId: failure.target.versionId,
        code: failure.code,
        message: failure.message,
        retryable: failure.retryable,
        sequenceNumbers: owning.map((record) => record.sequenceNumber),
      });
      mustRetry.push(...owning);
    }
    for (const kept of outcome.keptReplaced) {
      logger.debug("Object kept: replaced since its item was written", {
        bucket: kept.bucket,
        key: kept.key,
        versionId: kept.versionId,
      });
    }
    const response = buildBatchResponse(mustRetry, source);
    const result = summary({
      removals: mapped.length,
      withoutObjects: mapped.filter((removal) => removal.targets.length === 0).length,
      invalid: invalid.length,
      targets: targets.length,
      deleted: outcome.deleted.length,
      failed: outcome.failed.length,
      keptReplaced: outcome.keptReplaced.length,
      fallback: outcome.fallback ?? "none",
      batchItemFailures: response.batchItemFailures.length,
    });
    logger.info("dynamodb-s3-cleanup summary", { ...result });
    await report(result);
    return response;
  };

  /** Hands the summary to `onResult`; a metrics hook that fails must not fail the cleanup. */
  async function report(result: CleanupSummary): Promise<void> {
    if (onResult === undefined) return;
    try {
      await onResult(result);
    } catch (error) {
      logger.warn("onResult failed; the cleanup's response is unaffected", {
        error: error instanceof Error ? error.message : describeShape(error),
      });
    }
  }
}

function deadlineOf(context: CleanupContext | undefined, now: () => number, marginMs: number): number | undefined {
  const remaining = context?.getRemainingTimeInMillis?.();
  return typeof remaining === "number" && Number.isFinite(remaining) ? now() + remaining - marginMs : undefined;
}
