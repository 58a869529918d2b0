/**
 * Delete: deduplicates targets, lists the versions of keys to purge and deletes each page as it is
 * listed, batches objects into DeleteObjects requests of at most 1,000 keys, bounds the requests in
 * flight, retries transient per-key errors with backoff, splits a request refused for its content
 * until the keys that cause it are alone, falls back to single deletes for stores that refuse a
 * DeleteObjects body's checksum, sends a target's `etag` as a condition (conditional deletes), and
 * reports every target as deleted, failed, or kept because it was replaced. All of it within the
 * call's signal. It talks to S3 only through s3-requests.ts and s3-listing.ts.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import * as z from "zod/mini";
import { abortable, backoffDelay, followSignal, sleep as sleepWithSignal } from "./abort.js";
import { createLimiter, type Limiter, mapInOrder } from "./concurrency.js";
import { distinctBy, targetId } from "./object-target.js";
import { expandPrefix } from "./prefix-expander.js";
import {
  abortedFailure,
  type Failure,
  failureOf,
  graver,
  type KeyError,
  refusesChecksum,
  refusesContent,
} from "./s3-errors.js";
import type { ListContext } from "./s3-listing.js";
import {
  canBatch,
  MAX_KEYS_PER_REQUEST,
  type RequestContext,
  type RequestOutcome,
  sendDeleteObject,
  sendDeleteObjects,
} from "./s3-requests.js";
import { createSendRate, type SendRate } from "./send-rate.js";
import type { ObjectTarget } from "./types.js";
import {
  fn,
  nonNegativeInt,
  type OptionalFields,
  optionsSchema,
  positiveInt,
  s3ClientSchema,
  trueOrFalse,
  validateOptions,
} from "./validation.js";

export { MAX_KEYS_PER_REQUEST };

/** Options of {@link createBatchDeleter}. */
export interface BatchDeleterOptions {
  /** The client that sends the deletes. */
  s3Client: S3Client;
  /**
   * How many S3 requests may be in flight at once: deletes, and with `versions: "all"` listings too.
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
  /**
   * Waits `ms` milliseconds before a retry, or rejects when `signal` fires first.
   * @default a setTimeout promise that the signal cuts short
   */
  sleep?: ((ms: number, signal: AbortSignal | undefined) => Promise<void>) | undefined;
  /** A number in [0, 1), for jitter. @default Math.random */
  random?: (() => number) | undefined;
  /**
   * Which versions a target without `versionId` deletes. A target with a `versionId` deletes exactly
   * that version either way.
   *
   * - `"current"`: the key is deleted as given. In a versioned bucket that only adds a delete marker
   *   (each repeat adds another); the older versions stay.
   * - `"all"`: the key is purged. ListObjectVersions with the key as `Prefix` (paged, keeping only
   *   entries whose key is exactly the target's, since the prefix `a.png` also matches `a.png.bak`;
   *   paging stops at the first other key, as keys are listed in order) finds every version and
   *   delete marker, and each page is deleted by `VersionId` as soon as it is listed, with the same
   *   retries and fallback as any object. Listing requests count against `concurrency` and the
   *   signal too, and the versions listed against `maxListedObjects`. The target, as passed in
   *   (without `versionId`), is reported deleted when every one of its versions was, or when it had
   *   none. Else it is reported failed with the code, message and `retryable` of one failed
   *   version: the first one that failed permanently, or if none did, the first that failed, in
   *   listing order; or with the listing's error when its listing stopped early (a request that
   *   threw, the signal, `maxListedObjects`): the versions listed before are deleted all the same,
   *   so that a later call goes on from what is left. A dry run lists nothing.
   *   A target with an `etag` and no `versionId` is not purged: S3 checks an ETag against the
   *   current version only, so purging it would delete versions unconditionally. It fails,
   *   permanently, with code `ConditionalPurgeUnsupported`, and nothing of it is listed or deleted.
   *   Needs `s3:ListBucketVersions` on the bucket and `s3:DeleteObjectVersion` on the objects,
   *   besides `s3:DeleteObject`.
   *
   * @default "current"
   */
  versions?: "current" | "all" | undefined;
  /**
   * Send each DeleteObjects request with a `Content-MD5` header and without the SDK's
   * `x-amz-checksum-*` headers, for S3-compatible stores known to require it (older MinIO, Ceph,
   * OpenStack Swift, ...). The header is set by a middleware on each DeleteObjects command, never on
   * your client. AWS S3 accepts either; leave it off there.
   * @default false
   */
  contentMd5?: boolean | undefined;
  /**
   * When a store refuses a DeleteObjects request with `MissingContentMD5` or `NotImplemented` (or
   * HTTP 501), delete its objects with single DeleteObject calls instead, which carry no body and
   * so no checksum, within the same `concurrency` and signal; and send every later batch of the
   * same call as single deletes straight away. The report's `fallback` then says so. When off, the
   * objects of a refused request fail with the store's code.
   * @default true
   */
  fallbackToSingleDeletes?: boolean | undefined;
  /**
   * The most versions one call lists for `versions: "all"` purges (1 to 1,000,000); the handler
   * counts the objects listed under prefix targets against the same bound. A purge not finished by
   * then has what was listed deleted, and fails with code `ListingNotFinished` (retryable), so that
   * a later call goes on from what is left. Requests in flight together may take up to
   * `concurrency` pages past it.
   * @default 10000
   */
  maxListedObjects?: number | undefined;
  /**
   * Once S3 answers SlowDown (a 503, or per-key SlowDown errors), pace the deletes in keys per
   * second and adapt the pace (AIMD): start at S3's documented 3,500 DELETE/s per prefix,
   * take 10% off at every further SlowDown, add about 1% a second while none comes, and stop pacing
   * a minute after the last one. The pace is shared by every call of one deleter (and every
   * invocation of one handler), and its waits take the call's signal. When off, requests go as fast
   * as `concurrency` lets them.
   * @default true
   */
  adaptiveRate?: boolean | undefined;
}

/** Options of one call of a {@link BatchDeleter}. */
export interface DeleteCallOptions {
  /**
   * Bounds the call: when it fires, no further request, listing page or retry starts, requests in
   * flight are abandoned (it is passed to each `send` as `abortSignal`, and the call stops waiting
   * for them even if the client ignores it), and the call resolves at once. Objects it cut off fail
   * with code `Aborted` (or, if a retry was cut short, their last error's code), retryable.
   */
  signal?: AbortSignal | undefined;
}

/** A target that was not deleted. */
export interface FailedTarget extends Failure {
  /** The object, as it was passed in. */
  target: ObjectTarget;
}

/**
 * The outcome of one call: each distinct target (by bucket, key, versionId and etag) is in exactly
 * one of `deleted`, `failed` and `keptReplaced`, each list in the order the targets came.
 */
export interface DeleteReport {
  /**
   * Objects S3 reported deleted, or already gone (NoSuchKey, with or without an `etag`). With
   * `versions: "all"`, a key without `versionId` is here once every one of its versions and delete
   * markers is deleted.
   */
  deleted: ObjectTarget[];
  /** Objects not deleted, each with its reason. */
  failed: FailedTarget[];
  /**
   * Conditional deletes S3 refused with PreconditionFailed: the target carried an `etag`, and the
   * object under its key has another one now, so it was replaced after the ETag was stored (a stale
   * or redelivered removal). The new object is kept on purpose: these are neither failed nor
   * retried. A PreconditionFailed for a target without `etag` is a failure like any other.
   */
  keptReplaced: ObjectTarget[];
  /**
   * Present when the store refused a DeleteObjects request's checksum during this call, so that its
   * objects and every later batch went as single DeleteObject calls (see `fallbackToSingleDeletes`).
   * Setting `contentMd5: true` avoids the refused request and the extra calls.
   */
  fallback?: "single-deletes";
}

/** Deletes targets and reports the outcome of each. Never rejects for S3 errors. */
export type BatchDeleter = (targets: readonly ObjectTarget[], options?: DeleteCallOptions) => Promise<DeleteReport>;

/** The deleter's optional options (besides `s3Client`); the handler shares these fields. */
export const deleterOptionFields: OptionalFields = {
  concurrency: () => positiveInt(64),
  maxAttempts: () => positiveInt(10),
  baseDelayMs: nonNegativeInt,
  maxDelayMs: nonNegativeInt,
  sleep: () => fn(),
  random: () => fn(),
  versions: () => z.enum(["current", "all"], { error: 'must be "current" or "all"' }),
  contentMd5: trueOrFalse,
  fallbackToSingleDeletes: trueOrFalse,
  maxListedObjects: () => positiveInt(1_000_000),
  adaptiveRate: trueOrFalse,
};

/** The options of a deleter, defaults applied. */
export type DeleterConfig = Required<{ [K in keyof BatchDeleterOptions]: Exclude<BatchDeleterOptions[K], undefined> }>;

/** Applies the defaults to options already validated. */
export function deleterConfig(options: BatchDeleterOptions): DeleterConfig {
  return {
    s3Client: options.s3Client,
    concurrency: options.concurrency ?? 4,
    maxAttempts: options.maxAttempts ?? 3,
    baseDelayMs: options.baseDelayMs ?? 100,
    maxDelayMs: options.maxDelayMs ?? 2000,
    sleep: options.sleep ?? sleepWithSignal,
    random: options.random ?? Math.random,
    versions: options.versions ?? "current",
    contentMd5: options.contentMd5 ?? false,
    fallbackToSingleDeletes: options.fallbackToSingleDeletes ?? true,
    maxListedObjects: options.maxListedObjects ?? 10_000,
    adaptiveRate: options.adaptiveRate ?? true,
  };
}

/**
 * The most extra requests one call spends splitting requests refused for their content: isolating
 * one refused key among 1,000 takes 20 (two halves at each of 10 levels), so this isolates about 5.
 * Keys not isolated by then fail with the refusal's error.
 */
export const MAX_SPLIT_REQUESTS = 100;

/**
 * One call's shared state: its signal, the limiter every request of it takes a slot of, the
 * listing budget, and what it has learnt about the store. Nothing is shared between calls. The
 * handler opens one per invocation and deletes with it directly, prefix pages included.
 */
export interface Deletion extends RequestContext {
  readonly config: DeleterConfig;
  readonly limit: Limiter;
  /** How many more objects this call may list (`maxListedObjects`), shared by every listing of the call. */
  readonly budget: { remaining: number; readonly max: number };
  /** Set once the store refused a DeleteObjects request's checksum: later batches go as single deletes. */
  singlesOnly: boolean;
  /** How many more requests splitting may send ({@link MAX_SPLIT_REQUESTS}). */
  splitsLeft: number;
}

/** Opens a call; `sendRate` is the deleter's or the handler's, when `adaptiveRate` is on. */
export function openDeletion(
  config: DeleterConfig,
  signal: AbortSignal | undefined,
  sendRate?: SendRate | undefined,
): Deletion {
  return {
    config,
    s3Client: config.s3Client,
    contentMd5: config.contentMd5,
    signal,
    sendRate,
    limit: createLimiter(config.concurrency, signal),
    budget: { remaining: config.maxListedObjects, max: config.maxListedObjects },
    singlesOnly: false,
    splitsLeft: MAX_SPLIT_REQUESTS,
  };
}

/** A listing context for the call: its client, signal, limiter and budget. */
export function listContext(deletion: Deletion): ListContext {
  return { s3Client: deletion.s3Client, signal: deletion.signal, limit: deletion.limit, budget: deletion.budget };
}

/** What happened to the objects of one {@link deleteObjects} run: those not deleted, by {@link targetId}. */
export interface Outcomes {
  /** The final failure of each object not deleted. */
  readonly failures: Map<string, Failure>;
  /** Objects kept because they were replaced (PreconditionFailed on their etag). */
  readonly kept: Set<string>;
}

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
  validateOptions(optionsSchema({ s3Client: s3ClientSchema() }, deleterOptionFields, options), options);
  const config = deleterConfig(options);
  const sendRate = config.adaptiveRate ? createSendRate(config.sleep) : undefined;
  return async (targets, options = {}) => {
    const { signal, dispose } = followSignal(options.signal);
    try {
      return await deleteTargets(openDeletion(config, signal, sendRate), targets);
    } finally {
      dispose();
    }
  };
}

/**
 * Deletes targets with a call's deletion and reports each: as given, or under `versions: "all"`
 * purged, key after key (at most `concurrency` listings at once, the first targets first), while
 * the other targets' deletes run beside them.
 */
export async function deleteTargets(deletion: Deletion, targets: readonly ObjectTarget[]): Promise<DeleteReport> {
  const unique = distinctBy(targets, targetId);
  const purging = deletion.config.versions === "all";
  const direct = purging ? unique.filter((target) => target.versionId !== undefined) : unique;
  const purged = purging ? unique.filter((target) => target.versionId === undefined) : [];
  const [outcomes, purges] = await Promise.all([
    deleteObjects(deletion, direct),
    mapInOrder(purged, deletion.config.concurrency, (target) => purge(deletion, target)),
  ]);
  const purgeFailures = new Map(purged.map((target, i) => [target, purges[i]]));
  const report: DeleteReport = { deleted: [], failed: [], keptReplaced: [] };
  for (const target of unique) {
    const id = targetId(target);
    const failure = purgeFailures.has(target) ? purgeFailures.get(target) : outcomes.failures.get(id);
    if (failure !== undefined) report.failed.push({ target, ...failure });
    else if (outcomes.kept.has(id)) report.keptReplaced.push(target);
    else report.deleted.push(target);
  }
  if (deletion.singlesOnly) report.fallback = "single-deletes";
  return report;
}

/**
 * Purges one key: lists its versions and delete markers and deletes each page as it comes. Resolves
 * to the failure that stops it from being gone (the first permanent failure of a version or of the
 * listing, else the first failure), or undefined once every version is deleted.
 */
async function purge(deletion: Deletion, target: ObjectTarget): Promise<Failure | undefined> {
  if (target.etag !== undefined) return CONDITIONAL_PURGE;
  const prefix = { bucket: target.bucket, prefix: target.key };
  const { failure } = await expandPrefix(prefix, "all", listContext(deletion), async (page) => {
    const own = page.filter((object) => object.key === target.key);
    const outcomes = await deleteObjects(deletion, own);
    // Keys come in UTF-8 binary order, and a key sorts before every other key it is a prefix of:
    // once another key shows up, every version of this one has been listed.
    return { failed: outcomes.failures.size, failure: firstFailure(outcomes, own), last: own.length < page.length };
  });
  return failure;
}

/** The first permanent failure among `objects`, else the first failure, else undefined. */
export function firstFailure(outcomes: Outcomes, objects: readonly ObjectTarget[]): Failure | undefined {
  if (outcomes.failures.size === 0) return undefined;
  let first: Failure | undefined;
  for (const object of objects) {
    first = graver(first, outcomes.failures.get(targetId(object)));
    if (first?.retryable === false) return first;
  }
  return first;
}

/**
 * Deletes distinct objects (no two with the same {@link targetId}: targets deduplicated, or pages of
 * a listing): keys that can go in an XML body in batches of 1,000, the others one by one.
 *
 * Objects of one key and version that differ only in their etag (two records removing one key with
 * different ETags) are distinct, and both are sent; but only the first goes in a DeleteObjects
 * batch and the others as single deletes, since a batch's per-key errors name no ETag and could
 * not be told apart. Whichever delete comes second finds the object gone (NoSuchKey: deleted) or
 * replaced (PreconditionFailed: kept).
 */
export async function deleteObjects(deletion: Deletion, objects: readonly ObjectTarget[]): Promise<Outcomes> {
  const outcomes: Outcomes = { failures: new Map(), kept: new Set() };
  const work: Promise<unknown>[] = [];
  for (const [bucket, group] of groupByBucket(objects)) {
    const batchable: ObjectTarget[] = [];
    // Only an object with an etag can share its key and version with another distinct object.
    const batched = group.some((object) => object.etag !== undefined) ? new Set<string>() : undefined;
    for (const object of group) {
      if (canBatch(object.key) && (batched === undefined || firstOfItsVersion(batched, object))) batchable.push(object);
      else work.push(deleteSingle(deletion, object, outcomes));
    }
    for (let start = 0; start < batchable.length; start += MAX_KEYS_PER_REQUEST) {
      work.push(deleteBatch(deletion, bucket, batchable.slice(start, start + MAX_KEYS_PER_REQUEST), outcomes));
    }
  }
  await Promise.all(work);
  return outcomes;
}

/** True, and the object's key and version are noted in `seen`, unless they were noted already. */
function firstOfItsVersion(seen: Set<string>, { key, versionId = "" }: ObjectTarget): boolean {
  const id = `${versionId.length}:${versionId}${key}`;
  if (seen.has(id)) return false;
  seen.add(id);
  return true;
}

/** Deletes one object with DeleteObject, retrying transient errors. */
function deleteSingle(deletion: Deletion, object: ObjectTarget, outcomes: Outcomes): Promise<void> {
  return withRetries(deletion, [object], outcomes, ([only]) => sendDeleteObject(deletion, only as ObjectTarget));
}

/**
 * Deletes one batch with DeleteObjects, retrying transient per-key errors. When the store refuses
 * the request's checksum, its objects go as single deletes (and so does every later batch); when it
 * refuses the request for its content, the batch is split in two halves, each sent on its own, until
 * the objects that cause it are alone.
 */
async function deleteBatch(
  deletion: Deletion,
  bucket: string,
  batch: readonly ObjectTarget[],
  outcomes: Outcomes,
): Promise<void> {
  // The objects of a request the store refused (on the first attempt or a retry), and why.
  let refused: { why: "checksum" | "content"; objects: readonly ObjectTarget[] } | undefined;
  await withRetries(deletion, batch, outcomes, async (objects) => {
    // The store may have refused another request's checksum while this one waited for its slot.
    if (deletion.singlesOnly) {
      refused = { why: "checksum", objects };
      return { errors: new Map() };
    }
    const outcome = await sendDeleteObjects(deletion, bucket, objects);
    if (outcome.thrown === undefined || deletion.signal?.aborted) return outcome;
    if (deletion.config.fallbackToSingleDeletes && refusesChecksum(outcome.thrown)) {
      deletion.singlesOnly = true;
      refused = { why: "checksum", objects };
    } else if (objects.length > 1 && refusesContent(outcome.thrown) && deletion.splitsLeft >= 2) {
      deletion.splitsLeft -= 2;
      refused = { why: "content", objects };
    } else return outcome;
    // Not done, not failed: the refused objects are sent again below.
    return { errors: new Map() };
  });
  if (refused?.why === "checksum") {
    await Promise.all(refused.objects.map((object) => deleteSingle(deletion, object, outcomes)));
  } else if (refused?.why === "content") {
    const half = Math.ceil(refused.objects.length / 2);
    await Promise.all([
      deleteBatch(deletion, bucket, refused.objects.slice(0, half), outcomes),
      deleteBatch(deletion, bucket, refused.objects.slice(half), outcomes),
    ]);
  }
}

/**
 * Sends `first` and retries the objects with a transient per-key error, with backoff, until they are
 * deleted, fail for good, run out of attempts, or the signal fires. Each request takes a slot of the
 * call's limiter. Records every failure and kept object in `outcomes`.
 */
async function withRetries(
  deletion: Deletion,
  first: readonly ObjectTarget[],
  outcomes: Outcomes,
  send: (objects: readonly ObjectTarget[]) => Promise<RequestOutcome>,
): Promise<void> {
  const { maxAttempts, maxDelayMs, baseDelayMs, random, sleep } = deletion.config;
  const { signal } = deletion;
  let pending = first;
  for (let attempt = 1; ; attempt++) {
    let errors: Map<ObjectTarget, KeyError>;
    try {
      ({ errors } = await deletion.limit(() => send(pending)));
    } catch (error) {
      // `send` never throws; the limiter does when the signal fires before a slot comes free.
      if (!signal?.aborted) throw error;
      for (const object of pending) outcomes.failures.set(targetId(object), abortedFailure(signal));
      return;
    }
    const retry: { object: ObjectTarget; error: KeyError }[] = [];
    for (const object of pending) {
      const error = errors.get(object);
      if (error === undefined || error.class === "gone") continue;
      if (error.class === "replaced") outcomes.kept.add(targetId(object));
      else if (error.class === "retryable" && !error.thrown && attempt < maxAttempts) retry.push({ object, error });
      else outcomes.failures.set(targetId(object), failureOf(error));
    }
    if (retry.length === 0) return;
    try {
      await abortable(sleep(backoffDelay(attempt, baseDelayMs, maxDelayMs, random), signal), signal);
    } catch {
      for (const { object, error } of retry) outcomes.failures.set(targetId(object), cutShort(error));
      return;
    }
    pending = retry.map(({ object }) => object);
  }
}

/** Objects by bucket, in order. */
function groupByBucket(objects: readonly ObjectTarget[]): Map<string, ObjectTarget[]> {
  const groups = new Map<string, ObjectTarget[]>();
  for (const object of objects) {
    const group = groups.get(object.bucket);
    if (group === undefined) groups.set(object.bucket, [object]);
    else group.push(object);
  }
  return groups;
}

/**
 * A target with an etag under `versions: "all"`: S3 evaluates an ETag against the current version
 * only, so its versions cannot be purged on that condition, and purging them without it would
 * defeat the guard the etag stands for.
 */
const CONDITIONAL_PURGE: Failure = {
  code: "ConditionalPurgeUnsupported",
  message:
    'versions: "all" cannot purge a target that carries an etag: S3 checks an ETag against the current version only, and the versions are not deleted unconditionally instead',
  retryable: false,
};

/** An object whose retry the signal cut short keeps its last error's code. */
function cutShort(last: KeyError): Failure {
  return {
    code: last.code,
    message: `no time left to retry after ${last.code}: ${last.message}`,
    retryable: true,
  };
}
