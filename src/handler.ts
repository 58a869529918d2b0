/**
 * The handler factory: composes parse → select → map → delete → report. It holds no rules of its
 * own beyond the wiring; each step lives in its module.
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
import type { RecordRef } from "./errors.js";
import {
  buildKeyMapper,
  type KeyFunction,
  type KeySpec,
  keyMapperFields,
  mapRemovals,
  requireBucket,
} from "./key-mapper.js";
import { type InvalidRecord, parseStreamRecords, REMOVAL_FILTERS } from "./parse-stream-records.js";
import { buildBatchResponse, collectOwnership, ownersOf, unreportable } from "./report.js";
import type { CleanupContext, CleanupHandler, Logger, RemovalFilter } from "./types.js";
import { loggerSchema, nonNegativeInt, s3ClientSchema, validateOptions } from "./validation.js";

/**
 * Options of {@link createCleanupHandler}. `bucket` is required unless `key` is a function, which
 * may return `{ bucket, key }` objects instead of bare keys.
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
        /** The bucket of the keys the function returns as bare strings. */
        bucket?: string | undefined;
      }
  );

/** The options of {@link createCleanupHandler} other than `key` and `bucket`. */
export interface CommonCleanupOptions extends Omit<BatchDeleterOptions, "s3Client"> {
  /**
   * Which REMOVE records delete objects: all, only TTL expiries, or only users' deletes.
   * @default "any"
   */
  removals?: RemovalFilter | undefined;
  /** The S3 client. @default one `new S3Client({})`, created when the factory is called */
  s3Client?: S3Client | undefined;
  /**
   * What to do with a record that cannot be parsed or mapped: report it as a batch item failure
   * (`"fail"`: Lambda retries from it) or only log it (`"skip"`). Nothing is deleted for it either way.
   * @default "fail"
   */
  onInvalidRecord?: "fail" | "skip" | undefined;
  /**
   * How many S3 requests (deletes, and with `versions: "all"` listings) may be in flight at once,
   * and how many key functions may run at once.
   * @default 4
   */
  concurrency?: number | undefined;
  /** When set, every key must start with one of these; a record with any other key is invalid. */
  allowedPrefixes?: readonly string[] | undefined;
  /**
   * Log the planned deletes (one info line per 1,000 objects) and delete nothing. With
   * `versions: "all"` it logs the keys to purge; it lists no versions.
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
    removals: z.optional(z.enum(REMOVAL_FILTERS as RemovalFilter[], { error: 'must be "any", "ttl" or "user"' })),
    s3Client: z.optional(s3ClientSchema()),
    onInvalidRecord: z.optional(z.enum(["fail", "skip"], { error: 'must be "fail" or "skip"' })),
    dryRun: z.optional(z.boolean({ error: "must be true or false" })),
    logger: z.optional(loggerSchema()),
    timeoutMarginMs: z.optional(nonNegativeInt()),
  });

/**
 * Creates the Lambda handler for a DynamoDB stream: for every selected REMOVE record it deletes the
 * item's S3 objects, and it returns the partial batch response that makes Lambda redeliver exactly
 * the records whose objects were not all deleted.
 *
 * Options are validated here, once; a mistake throws {@link ConfigError} at cold start.
 *
 * @example
 * ```ts
 * export const handler = createCleanupHandler({ bucket: "product-images", key: "{productId}.png" });
 * ```
 */
export function createCleanupHandler(options: CleanupOptions): CleanupHandler {
  validateOptions(cleanupOptionsSchema(), options, requireBucket);
  const {
    removals = "any",
    onInvalidRecord = "fail",
    dryRun = false,
    logger = console,
    timeoutMarginMs = 2000,
    concurrency = 4,
    now = Date.now,
  } = options;
  const mapKeys = buildKeyMapper(options.key, { bucket: options.bucket, allowedPrefixes: options.allowedPrefixes });
  const deleteTargets = buildBatchDeleter({
    s3Client: options.s3Client ?? new S3Client({}),
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
    const batch = parseStreamRecords(event, { removals });
    const records = batch.removals.length + batch.skipped.length + batch.invalid.length;
    const summary = (counts: Omit<Summary, "records" | "skipped" | "durationMs" | "dryRun">): Summary => ({
      records,
      removals: counts.removals,
      withoutObjects: counts.withoutObjects,
      skipped: batch.skipped.length,
      invalid: counts.invalid,
      targets: counts.targets,
      deleted: counts.deleted,
      failed: counts.failed,
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
          error: record.error.message,
        });
      }
    };

    // Found before any key function or delete runs: Lambda must retry this batch whole anyway.
    const cannotReport = onInvalidRecord === "fail" ? unreportable(batch.invalid) : undefined;
    if (cannotReport !== undefined) {
      logInvalid(batch.invalid);
      const nothing = {
        removals: 0,
        withoutObjects: 0,
        targets: 0,
        deleted: 0,
        failed: 0,
        fallback: "none",
        batchItemFailures: undefined,
      } as const;
      logger.error("dynamodb-s3-cleanup summary: failing the whole batch", {
        ...summary({ ...nothing, invalid: batch.invalid.length }),
        error: cannotReport.message,
      });
      throw cannotReport;
    }

    const { mapped, invalid: unmappable } = await mapRemovals(batch.removals, mapKeys, concurrency);
    const invalid = [...batch.invalid, ...unmappable].sort((a, b) => a.index - b.index);
    logInvalid(invalid);
    const owners = collectOwnership(mapped);
    const targets = [...owners.values()].map((owner) => owner.target);

    let report: DeleteReport;
    if (dryRun) {
      for (let start = 0; start < targets.length; start += MAX_KEYS_PER_REQUEST) {
        logger.info("Dry run: these objects would be deleted", {
          targets: targets.slice(start, start + MAX_KEYS_PER_REQUEST),
        });
      }
      report = { deleted: [], failed: [] };
    } else {
      report = await deleteTargets(targets, { deadline });
    }

    const mustRetry: RecordRef[] = onInvalidRecord === "fail" ? [...invalid] : [];
    for (const failure of report.failed) {
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
    const response = buildBatchResponse(mustRetry);
    logger.info(
      "dynamodb-s3-cleanup summary",
      summary({
        removals: mapped.length,
        withoutObjects: mapped.filter((removal) => removal.targets.length === 0).length,
        invalid: invalid.length,
        targets: targets.length,
        deleted: report.deleted.length,
        failed: report.failed.length,
        fallback: report.fallback ?? "none",
        batchItemFailures: response.batchItemFailures.length,
      }),
    );
    return response;
  };
}

/** The fields of the summary line, in the order they are logged. */
type Summary = {
  records: number;
  removals: number;
  withoutObjects: number;
  skipped: number;
  invalid: number;
  targets: number;
  deleted: number;
  failed: number;
  /** `"single-deletes"` when the store refused a DeleteObjects checksum and objects went one by one. */
  fallback: NonNullable<DeleteReport["fallback"]> | "none";
  /** Absent when the handler throws instead of answering. */
  batchItemFailures: number | undefined;
  durationMs: number;
  dryRun: boolean;
};

function deadlineOf(context: CleanupContext | undefined, now: () => number, marginMs: number): number | undefined {
  const remaining = context?.getRemainingTimeInMillis?.();
  return typeof remaining === "number" && Number.isFinite(remaining) ? now() + remaining - marginMs : undefined;
}
