/**
 * The handler factory: composes parse → select → map → delete → report. It holds no rules of its
 * own beyond the wiring; each step lives in its module.
 */
import { S3Client } from "@aws-sdk/client-s3";
import * as z from "zod/mini";
import {
  type BatchDeleterOptions,
  createBatchDeleter,
  type DeleteReport,
  deleterOptionFields,
} from "./batch-deleter.js";
import { createLimiter } from "./concurrency.js";
import type { KeyMappingError, RecordRef } from "./errors.js";
import { createKeyMapper, type KeyMapper, type KeySpec, keyMapperFields, requireBucket } from "./key-mapper.js";
import { targetId } from "./object-target.js";
import { type InvalidRecord, parseStreamRecords, type RemovedItem } from "./parse-stream-records.js";
import { buildBatchResponse } from "./report.js";
import type { CleanupContext, CleanupHandler, Logger, ObjectTarget, RemovalFilter } from "./types.js";
import { loggerSchema, nonNegativeInt, s3ClientSchema, validateOptions } from "./validation.js";

/** Options of {@link createCleanupHandler}. */
export interface CleanupOptions extends Omit<BatchDeleterOptions, "s3Client"> {
  /**
   * The bucket of the keys that `key` produces. Required unless `key` is a function that returns
   * `{ bucket, key }` objects.
   */
  bucket?: string | undefined;
  /** How to find a removed item's objects: a template, templates, `{ attribute }` or a function. */
  key: KeySpec;
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
  /** When set, every key must start with one of these; a record with any other key is invalid. */
  allowedPrefixes?: readonly string[] | undefined;
  /**
   * Log the planned deletes and delete nothing.
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
    removals: z.optional(z.enum(["any", "ttl", "user"], { error: 'must be "any", "ttl" or "user"' })),
    s3Client: z.optional(s3ClientSchema()),
    onInvalidRecord: z.optional(z.enum(["fail", "skip"], { error: 'must be "fail" or "skip"' })),
    dryRun: z.optional(z.boolean({ error: "must be true or false" })),
    logger: z.optional(loggerSchema()),
    timeoutMarginMs: z.optional(nonNegativeInt()),
  });

/** One removal and the objects it owns. */
interface Plan {
  item: RemovedItem;
  targets: ObjectTarget[];
}

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
  const mapKeys = createKeyMapper(options.key, { bucket: options.bucket, allowedPrefixes: options.allowedPrefixes });
  const deleteTargets = createBatchDeleter({
    s3Client: options.s3Client ?? new S3Client({}),
    concurrency,
    maxAttempts: options.maxAttempts,
    baseDelayMs: options.baseDelayMs,
    maxDelayMs: options.maxDelayMs,
    now,
    sleep: options.sleep,
    random: options.random,
  });

  return async (event, context) => {
    const started = now();
    const deadline = deadlineOf(context, now, timeoutMarginMs);
    const batch = parseStreamRecords(event, { removals });
    const { plans, invalid: unmappable } = await mapAll(batch.removals, mapKeys, concurrency);
    const invalid = [...batch.invalid, ...unmappable].sort((a, b) => a.index - b.index);
    for (const record of invalid) {
      logger.warn(onInvalidRecord === "fail" ? "Invalid record, reported as failed" : "Invalid record, skipped", {
        index: record.index,
        sequenceNumber: record.sequenceNumber,
        eventId: record.eventId,
        error: record.error.message,
      });
    }

    const owners = ownersOf(plans);
    const targets = [...owners.values()].map((owner) => owner.target);
    let report: DeleteReport;
    if (dryRun) {
      logger.info("Dry run: these objects would be deleted", { targets });
      report = { deleted: [], failed: [] };
    } else {
      report = await deleteTargets(targets, { deadline });
    }

    const mustRetry: RecordRef[] = onInvalidRecord === "fail" ? [...invalid] : [];
    for (const failure of report.failed) {
      const records = (owners.get(targetId(failure.target)) as Owner).records;
      logger.warn("Object not deleted", {
        bucket: failure.target.bucket,
        key: failure.target.key,
        versionId: failure.target.versionId,
        code: failure.code,
        message: failure.message,
        retryable: failure.retryable,
        sequenceNumbers: records.map((record) => record.sequenceNumber),
      });
      mustRetry.push(...records);
    }
    const response = buildBatchResponse(mustRetry);

    logger.info("dynamodb-s3-cleanup summary", {
      records: batch.removals.length + batch.skipped.length + batch.invalid.length,
      removals: plans.length,
      skipped: batch.skipped.length,
      invalid: invalid.length,
      targets: targets.length,
      deleted: report.deleted.length,
      failed: report.failed.length,
      batchItemFailures: response.batchItemFailures.length,
      durationMs: now() - started,
      dryRun,
    });
    return response;
  };
}

function deadlineOf(context: CleanupContext | undefined, now: () => number, marginMs: number): number | undefined {
  const remaining = context?.getRemainingTimeInMillis?.();
  return typeof remaining === "number" && Number.isFinite(remaining) ? now() + remaining - marginMs : undefined;
}

/** Maps every removal to its targets; a record whose mapping fails becomes invalid, alone. */
async function mapAll(removals: readonly RemovedItem[], mapKeys: KeyMapper, concurrency: number) {
  const limit = createLimiter(concurrency);
  const plans: Plan[] = [];
  const invalid: InvalidRecord[] = [];
  await Promise.all(
    removals.map((item) =>
      limit(async () => {
        try {
          plans.push({ item, targets: await mapKeys(item) });
        } catch (error) {
          // A key mapper rejects with KeyMappingError only.
          invalid.push({
            index: item.index,
            sequenceNumber: item.sequenceNumber,
            eventId: item.eventId,
            error: error as KeyMappingError,
          });
        }
      }),
    ),
  );
  return { plans, invalid };
}

/** A distinct target and every record that owns it: if it fails, they all must be retried. */
interface Owner {
  target: ObjectTarget;
  records: RemovedItem[];
}

function ownersOf(plans: readonly Plan[]): Map<string, Owner> {
  const owners = new Map<string, Owner>();
  for (const { item, targets } of plans) {
    for (const target of targets) {
      const id = targetId(target);
      const owner = owners.get(id);
      if (owner === undefined) owners.set(id, { target, records: [item] });
      else if (!owner.records.includes(item)) owner.records.push(item);
    }
  }
  return owners;
}
