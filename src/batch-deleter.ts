/**
 * Delete: the only module that talks to S3. Deduplicates targets, batches them into DeleteObjects
 * calls of at most 1,000 keys, bounds the calls in flight, retries transient per-key errors with
 * backoff, and reports every target as deleted or failed.
 */
import { DeleteObjectCommand, DeleteObjectsCommand, type S3Client } from "@aws-sdk/client-s3";
import * as z from "zod/mini";
import { createLimiter, type Limiter } from "./concurrency.js";
import { targetId } from "./object-target.js";
import { classifyCode, fromThrown, type KeyError } from "./s3-errors.js";
import type { ObjectTarget } from "./types.js";
import { fn, nonNegativeInt, positiveInt, s3ClientSchema, validateOptions } from "./validation.js";

/** S3's limit on keys per DeleteObjects request. */
export const MAX_KEYS_PER_REQUEST = 1000;

/** Options of {@link createBatchDeleter}. */
export interface BatchDeleterOptions {
  /** The client that sends the deletes. */
  s3Client: S3Client;
  /**
   * How many delete requests may be in flight at once.
   * @default 4
   */
  concurrency?: number | undefined;
  /**
   * Attempts per key, counting the first, for transient per-key errors in a DeleteObjects answer
   * (SlowDown, InternalError, ...), which the SDK does not retry. Requests that throw are not
   * retried here: the SDK's retry strategy has already retried them.
   * @default 3
   */
  maxAttempts?: number | undefined;
  /**
   * The backoff before retry n is a random wait in [0, min(maxDelayMs, baseDelayMs · 2^(n−1))).
   * @default 100
   */
  baseDelayMs?: number | undefined;
  /**
   * The cap on one backoff wait, in ms.
   * @default 2000
   */
  maxDelayMs?: number | undefined;
  /** The clock, in milliseconds. @default Date.now */
  now?: (() => number) | undefined;
  /** Waits `ms` milliseconds. @default a setTimeout promise */
  sleep?: ((ms: number) => Promise<void>) | undefined;
  /** A number in [0, 1), for jitter. @default Math.random */
  random?: (() => number) | undefined;
}

/** Options of one call of a {@link BatchDeleter}. */
export interface DeleteCallOptions {
  /**
   * No request or retry starts at or after this time (in the deleter's clock, ms). Targets not yet
   * attempted then fail with code `DeadlineExceeded`; targets whose retry it cuts short keep their
   * last error's code. Both are retryable.
   */
  deadline?: number | undefined;
}

/** A target that was not deleted. */
export interface FailedTarget {
  /** The object, as it was passed in. */
  target: ObjectTarget;
  /** S3's error code (`AccessDenied`, `SlowDown`, ...) or `DeadlineExceeded`. */
  code: string;
  /** S3's message, or why the deleter gave up. */
  message: string;
  /** True when the error is transient, so a later attempt may succeed. */
  retryable: boolean;
}

/** The outcome of one call: each distinct target is in exactly one list. */
export interface DeleteReport {
  /** Objects S3 reported deleted, or already gone. */
  deleted: ObjectTarget[];
  /** Objects not deleted, each with its reason. */
  failed: FailedTarget[];
}

/** Deletes targets and reports the outcome of each. Never rejects for S3 errors. */
export type BatchDeleter = (targets: readonly ObjectTarget[], options?: DeleteCallOptions) => Promise<DeleteReport>;

/** The deleter's options schema; the handler shares its fields. */
export const deleterOptionFields = () => ({
  concurrency: z.optional(positiveInt(64)),
  maxAttempts: z.optional(positiveInt(10)),
  baseDelayMs: z.optional(nonNegativeInt()),
  maxDelayMs: z.optional(nonNegativeInt()),
  now: z.optional(fn<() => number>()),
  sleep: z.optional(fn<(ms: number) => Promise<void>>()),
  random: z.optional(fn<() => number>()),
});

// Characters XML 1.0 cannot carry: a key holding one makes S3 reject a whole DeleteObjects body.
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
// Line ends: XML parsers normalise CR and CRLF to LF, so they may not survive the round trip.
const LINE_END = /[\r\n]/;

/** True when a key can travel in an XML body: every character is allowed by XML 1.0. */
export function isXmlSafe(key: string): boolean {
  return !NOT_XML.test(key);
}

/** True when a key goes in a DeleteObjects body; other keys go in the URL of a single DeleteObject. */
export function canBatch(key: string): boolean {
  return isXmlSafe(key) && !LINE_END.test(key);
}

const sleepWithTimer = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Sends one request for some keys of one bucket; returns the errors by target, never throws. */
type Send = (bucket: string, targets: readonly ObjectTarget[]) => Promise<Map<ObjectTarget, KeyError>>;

/**
 * Creates a batch deleter. Throws {@link ConfigError} when an option is wrong.
 *
 * @example
 * ```ts
 * const deleteObjects = createBatchDeleter({ s3Client: new S3Client({}) });
 * const { deleted, failed } = await deleteObjects([{ bucket: "product-images", key: "42.png" }]);
 * ```
 */
export function createBatchDeleter(options: BatchDeleterOptions): BatchDeleter {
  validateOptions(z.strictObject({ s3Client: s3ClientSchema(), ...deleterOptionFields() }), options);
  return buildBatchDeleter(options);
}

/** Builds a deleter from options already validated. */
export function buildBatchDeleter(options: BatchDeleterOptions): BatchDeleter {
  const {
    s3Client,
    concurrency = 4,
    maxAttempts = 3,
    baseDelayMs = 100,
    maxDelayMs = 2000,
    now = Date.now,
    sleep = sleepWithTimer,
    random = Math.random,
  } = options;

  const sendBatch: Send = async (bucket, targets) => {
    const errors = new Map<ObjectTarget, KeyError>();
    try {
      const output = await s3Client.send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: {
            Objects: targets.map(({ key, versionId }) =>
              versionId === undefined ? { Key: key } : { Key: key, VersionId: versionId },
            ),
            Quiet: true,
          },
        }),
      );
      if (output.Errors && output.Errors.length > 0) matchErrors(targets, output.Errors, errors);
    } catch (error) {
      const keyError = fromThrown(error);
      for (const target of targets) errors.set(target, keyError);
    }
    return errors;
  };

  const sendSingle: Send = async (bucket, [target]) => {
    const errors = new Map<ObjectTarget, KeyError>();
    const { key, versionId } = target as ObjectTarget;
    try {
      await s3Client.send(
        new DeleteObjectCommand(
          versionId === undefined ? { Bucket: bucket, Key: key } : { Bucket: bucket, Key: key, VersionId: versionId },
        ),
      );
    } catch (error) {
      errors.set(target as ObjectTarget, fromThrown(error));
    }
    return errors;
  };

  return async (targets, callOptions = {}) => {
    const deadline = callOptions.deadline ?? Number.POSITIVE_INFINITY;
    const limit = createLimiter(concurrency);
    const report: DeleteReport = { deleted: [], failed: [] };

    const run = async (send: Send, bucket: string, first: readonly ObjectTarget[]) => {
      let pending = first;
      for (let attempt = 1; ; attempt++) {
        const errors = await attemptWithin(limit, now, deadline, () => send(bucket, pending));
        const retry: { target: ObjectTarget; error: KeyError }[] = [];
        for (const target of pending) {
          const error = errors === "deadline" ? DEADLINE : errors.get(target);
          if (error === undefined || error.class === "gone") report.deleted.push(target);
          else if (error.class === "retryable" && !error.thrown && error !== DEADLINE && attempt < maxAttempts)
            retry.push({ target, error });
          else
            report.failed.push({
              target,
              code: error.code,
              message: error.message,
              retryable: error.class === "retryable",
            });
        }
        if (retry.length === 0) return;
        const delay = random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
        if (now() + delay >= deadline) {
          for (const { target, error } of retry) report.failed.push(cutShort(target, error));
          return;
        }
        await sleep(delay);
        pending = retry.map(({ target }) => target);
      }
    };

    const work: Promise<void>[] = [];
    for (const [bucket, group] of groupByBucket(targets)) {
      const batchable: ObjectTarget[] = [];
      for (const target of group) {
        if (canBatch(target.key)) batchable.push(target);
        else work.push(run(sendSingle, bucket, [target]));
      }
      for (let start = 0; start < batchable.length; start += MAX_KEYS_PER_REQUEST) {
        work.push(run(sendBatch, bucket, batchable.slice(start, start + MAX_KEYS_PER_REQUEST)));
      }
    }
    await Promise.all(work);
    return report;
  };
}

const DEADLINE: KeyError = {
  code: "DeadlineExceeded",
  message: "not attempted: the invocation's time budget (timeoutMarginMs) ran out",
  class: "retryable",
  thrown: false,
};

/** A target whose retry the deadline cut short keeps its last error's code. */
function cutShort(target: ObjectTarget, last: KeyError): FailedTarget {
  return {
    target,
    code: last.code,
    message: `no time left to retry after ${last.code}: ${last.message}`,
    retryable: true,
  };
}

/** Runs `send` in a limiter slot, unless the deadline has passed by the time the slot is free. */
function attemptWithin<T>(
  limit: Limiter,
  now: () => number,
  deadline: number,
  send: () => Promise<T>,
): Promise<T | "deadline"> {
  return limit(async () => (now() >= deadline ? "deadline" : send()));
}

/** Distinct targets by bucket, in first-seen order. */
function groupByBucket(targets: readonly ObjectTarget[]): Map<string, ObjectTarget[]> {
  const seen = new Set<string>();
  const groups = new Map<string, ObjectTarget[]>();
  for (const target of targets) {
    const id = targetId(target);
    if (seen.has(id)) continue;
    seen.add(id);
    const group = groups.get(target.bucket);
    if (group === undefined) groups.set(target.bucket, [target]);
    else group.push(target);
  }
  return groups;
}

interface ErrorEntry {
  Key?: string | undefined;
  VersionId?: string | undefined;
  Code?: string | undefined;
  Message?: string | undefined;
}

/**
 * Attributes each per-key error to the targets it concerns. An entry names a key and maybe a
 * version. One without a VersionId also fails the key's other versions in the request, unless they
 * have an entry of their own; one that names no key sent (or no key at all) fails every target of
 * the request without an entry of its own. An error is never counted as a success.
 */
function matchErrors(
  targets: readonly ObjectTarget[],
  entries: readonly ErrorEntry[],
  errors: Map<ObjectTarget, KeyError>,
): void {
  const byKey = new Map<string, ObjectTarget[]>();
  for (const target of targets) {
    const same = byKey.get(target.key);
    if (same === undefined) byKey.set(target.key, [target]);
    else same.push(target);
  }
  const ownEntry = new Set<ObjectTarget>();
  let unattributed: KeyError | undefined;
  for (const entry of entries) {
    const code = entry.Code ?? "UnknownError";
    const error: KeyError = { code, message: entry.Message ?? code, class: classifyCode(code), thrown: false };
    const sameKey = entry.Key === undefined ? undefined : byKey.get(entry.Key);
    if (sameKey === undefined) {
      unattributed ??= error;
      continue;
    }
    const exact = sameKey.filter((target) => target.versionId === entry.VersionId);
    for (const target of exact) {
      errors.set(target, error);
      ownEntry.add(target);
    }
    if (entry.VersionId === undefined || exact.length === 0) {
      for (const target of sameKey) if (!ownEntry.has(target)) errors.set(target, error);
    }
  }
  if (unattributed !== undefined) {
    for (const target of targets) if (!errors.has(target)) errors.set(target, unattributed);
  }
}
