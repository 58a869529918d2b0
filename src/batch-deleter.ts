/**
 * Delete: the only module that talks to S3. Deduplicates targets, lists the versions of keys to
 * purge, batches the objects into DeleteObjects calls of at most 1,000 keys, bounds the calls in
 * flight, retries transient per-key errors with backoff, falls back to single deletes for stores
 * that refuse a DeleteObjects body's checksum, sends a target's `etag` as a condition (conditional
 * deletes), and reports every target as deleted, failed, or kept because it was replaced.
 */
import {
  DeleteObjectCommand,
  type DeleteObjectCommandInput,
  DeleteObjectsCommand,
  ListObjectVersionsCommand,
  type ObjectIdentifier,
  type S3Client,
} from "@aws-sdk/client-s3";
import * as z from "zod/mini";
import { createLimiter, type Limiter } from "./concurrency.js";
import { withContentMd5 } from "./content-md5.js";
import { decodeListedKey, distinctBy, targetId } from "./object-target.js";
import { asConditional, classifyCode, fromThrown, type KeyError, refusesChecksum } from "./s3-errors.js";
import type { ObjectTarget } from "./types.js";
import { fn, nonNegativeInt, positiveInt, s3ClientSchema, validateOptions } from "./validation.js";

/** S3's limit on keys per DeleteObjects request. */
export const MAX_KEYS_PER_REQUEST = 1000;

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
  /** The clock, in milliseconds. @default Date.now */
  now?: (() => number) | undefined;
  /** Waits `ms` milliseconds. @default a setTimeout promise */
  sleep?: ((ms: number) => Promise<void>) | undefined;
  /** A number in [0, 1), for jitter. @default Math.random */
  random?: (() => number) | undefined;
  /**
   * Which versions a target without `versionId` deletes. A target with a `versionId` deletes exactly
   * that version either way.
   *
   * - `"current"`: the key is deleted as given. In a versioned bucket that only adds a delete marker
   *   (each repeat adds another); the older versions stay.
   * - `"all"`: the key is purged. ListObjectVersions with the key as `Prefix` (paged with
   *   `KeyMarker`/`VersionIdMarker`, keeping only entries whose key is exactly the target's, since
   *   the prefix `a.png` also matches `a.png.bak`; paging stops at the first other key, as keys are
   *   listed in order) finds every version and delete marker, and each is deleted by `VersionId` in
   *   the same DeleteObjects batches (of up to 1,000, pooled with the other targets' objects),
   *   retries, fallback and deadline as any object. Listing requests count against `concurrency`
   *   and the deadline too. The target, as passed in (without `versionId`), is reported deleted when
   *   every one of its versions was, or when it had none. Else it is reported failed with the code,
   *   message and `retryable` of one failed version: the first one that failed permanently, or if
   *   none did, the first that failed, in listing order (each page's versions, then its delete
   *   markers). A listing that throws fails the target with the error's code, and nothing of it is
   *   deleted; it is not retried here (the SDK has retried it). A dry run lists nothing.
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
   * so no checksum, within the same `concurrency` and deadline; and send every later batch of the
   * same call as single deletes straight away. The report's `fallback` then says so. When off, the
   * objects of a refused request fail with the store's code.
   * @default true
   */
  fallbackToSingleDeletes?: boolean | undefined;
}

/** Options of one call of a {@link BatchDeleter}. */
export interface DeleteCallOptions {
  /**
   * No request (listing or delete) or retry starts at or after this time (in the deleter's clock,
   * ms). Targets not yet attempted then fail with code `DeadlineExceeded`; targets whose retry it
   * cuts short keep their last error's code. Both are retryable.
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

/** The deleter's options schema; the handler shares its fields. */
export const deleterOptionFields = () => ({
  concurrency: z.optional(positiveInt(64)),
  maxAttempts: z.optional(positiveInt(10)),
  baseDelayMs: z.optional(nonNegativeInt()),
  maxDelayMs: z.optional(nonNegativeInt()),
  now: z.optional(fn<() => number>()),
  sleep: z.optional(fn<(ms: number) => Promise<void>>()),
  random: z.optional(fn<() => number>()),
  versions: z.optional(z.enum(["current", "all"], { error: 'must be "current" or "all"' })),
  contentMd5: z.optional(z.boolean({ error: "must be true or false" })),
  fallbackToSingleDeletes: z.optional(z.boolean({ error: "must be true or false" })),
});

// Characters XML 1.0 cannot carry: a key holding one makes S3 reject a whole DeleteObjects body.
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
// What a DeleteObjects body can carry: XML 1.0's characters without line ends, which XML parsers
// normalise (CR and CRLF to LF), so they may not survive the round trip. One regex, tested per key.
const NOT_BATCHABLE = /[^\t\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** True when a key can travel in an XML body: every character is allowed by XML 1.0. */
export function isXmlSafe(key: string): boolean {
  return !NOT_XML.test(key);
}

/** True when a key goes in a DeleteObjects body; other keys go in the URL of a single DeleteObject. */
export function canBatch(key: string): boolean {
  return !NOT_BATCHABLE.test(key);
}

const sleepWithTimer = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The options of a deleter, defaults applied. */
type Settings = Required<{ [K in keyof BatchDeleterOptions]: Exclude<BatchDeleterOptions[K], undefined> }>;

/** The state of one call. Nothing is shared between calls. */
interface Call {
  readonly settings: Settings;
  /** Bounds every request of the call: listings, batches and single deletes. */
  readonly limit: Limiter;
  readonly deadline: number;
  /** The final error of each object not deleted, by {@link targetId}. */
  readonly failures: Map<string, Failure>;
  /** The {@link targetId} of each object kept because it was replaced (PreconditionFailed on its etag). */
  readonly kept: Set<string>;
  /** Set once the store refused a DeleteObjects request's checksum: later batches go as single deletes. */
  singlesOnly: boolean;
}

/** Why an object or a target was not deleted. */
type Failure = Omit<FailedTarget, "target">;

/** A distinct target and the objects to delete for it, or why they could not be found. */
interface Plan {
  target: ObjectTarget;
  objects: readonly ObjectTarget[];
  /** Set when the objects could not be listed: the target fails with it. */
  listing: Failure | undefined;
}

/**
 * Sends one request for some keys of one bucket; returns the errors by target, or "refused" when
 * the keys must go as single deletes instead. Never throws.
 */
type Send = (
  call: Call,
  bucket: string,
  targets: readonly ObjectTarget[],
) => Promise<Map<ObjectTarget, KeyError> | "refused">;

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
  const settings: Settings = {
    s3Client: options.s3Client,
    concurrency: options.concurrency ?? 4,
    maxAttempts: options.maxAttempts ?? 3,
    baseDelayMs: options.baseDelayMs ?? 100,
    maxDelayMs: options.maxDelayMs ?? 2000,
    now: options.now ?? Date.now,
    sleep: options.sleep ?? sleepWithTimer,
    random: options.random ?? Math.random,
    versions: options.versions ?? "current",
    contentMd5: options.contentMd5 ?? false,
    fallbackToSingleDeletes: options.fallbackToSingleDeletes ?? true,
  };
  return async (targets, callOptions = {}) => {
    const call: Call = {
      settings,
      limit: createLimiter(settings.concurrency),
      deadline: callOptions.deadline ?? Number.POSITIVE_INFINITY,
      failures: new Map(),
      kept: new Set(),
      singlesOnly: false,
    };
    const unique = distinctBy(targets, targetId);
    if (settings.versions === "current") {
      // Each target is its own object: no listing, and the objects are distinct already.
      await deleteAll(call, unique, { distinct: true });
      return report(
        call,
        unique.map((target) => ({ target, objects: [target], listing: undefined })),
      );
    }
    const plans = await Promise.all(unique.map((target) => plan(call, target)));
    await deleteAll(
      call,
      plans.flatMap(({ objects }) => objects),
      { distinct: false },
    );
    return report(call, plans);
  };
}

/** The objects to delete for a target: itself, or with `versions: "all"` every version of its key. */
async function plan(call: Call, target: ObjectTarget): Promise<Plan> {
  if (call.settings.versions === "current" || target.versionId !== undefined) {
    return { target, objects: [target], listing: undefined };
  }
  if (target.etag !== undefined) return { target, objects: [], listing: CONDITIONAL_PURGE };
  const versions = await listVersions(call, target);
  return "code" in versions
    ? { target, objects: [], listing: failureOf(versions) }
    : { target, objects: versions, listing: undefined };
}

/** Every version and delete marker of exactly `key`, page by page, or the error that stopped the listing. */
async function listVersions(call: Call, { bucket, key }: ObjectTarget): Promise<ObjectTarget[] | KeyError> {
  const versions: ObjectTarget[] = [];
  let marker: string | undefined;
  do {
    const after = marker;
    const page = await attemptWithin(call, () => listPage(call.settings.s3Client, bucket, key, after));
    if (page === "deadline") return DEADLINE;
    if ("code" in page) return page;
    versions.push(...page.versions);
    marker = page.next;
  } while (marker !== undefined);
  return versions;
}

/** A page of a listing: the key's versions on it, and the VersionIdMarker to list after when more may follow. */
interface VersionPage {
  versions: ObjectTarget[];
  next: string | undefined;
}

/**
 * Lists one page of versions and delete markers under the prefix `key`, after version `after` of
 * `key`. Keys XML cannot carry are requested URL-encoded (they could not come back otherwise) and
 * decoded when the store says it encoded them. Every listed key must start with `key`: a listing
 * that does not (a store that encodes differently) fails the target rather than pass for "no
 * versions", which would count as deleted. Never throws.
 */
async function listPage(
  s3Client: S3Client,
  bucket: string,
  key: string,
  after: string | undefined,
): Promise<VersionPage | KeyError> {
  try {
    const page = await s3Client.send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        Prefix: key,
        ...(isXmlSafe(key) ? {} : { EncodingType: "url" }),
        ...(after === undefined ? {} : { KeyMarker: key, VersionIdMarker: after }),
      }),
    );
    const encoded = page.EncodingType === "url";
    // An entry without a Key names no object: there is nothing to delete for it.
    const entries = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].filter(
      (entry) => entry.Key !== undefined,
    );
    const keys = entries.map((entry) => (encoded ? decodeListedKey(entry.Key as string) : (entry.Key as string)));
    if (keys.some((listed) => !listed.startsWith(key))) return UNEXPECTED_LISTING;
    const own = entries.filter((_, i) => keys[i] === key);
    const versions = own.map((entry) => ({ bucket, key, versionId: entry.VersionId ?? "null" }));
    // Keys come in UTF-8 binary order, and `key` sorts before every other key it is a prefix of: once
    // another key shows up, every version of `key` has been listed.
    if (page.IsTruncated !== true || own.length < entries.length) return { versions, next: undefined };
    const next = page.NextVersionIdMarker;
    return next === undefined || next === after ? NO_PROGRESS : { versions, next };
  } catch (error) {
    return fromThrown(error);
  }
}

/**
 * Deletes objects once each: keys that can go in an XML body in batches of 1,000, the others one by
 * one. `distinct: true` says the objects hold no duplicates, which spares deduplicating them again.
 *
 * Objects of one key and version that differ only in their etag (two records removing one key with
 * different ETags) are distinct, and both are sent; but only the first goes in a DeleteObjects
 * batch and the others as single deletes, since a batch's per-key errors name no ETag and could
 * not be told apart. Whichever delete comes second finds the object gone (NoSuchKey: deleted) or
 * replaced (PreconditionFailed: kept).
 */
async function deleteAll(
  call: Call,
  objects: readonly ObjectTarget[],
  { distinct: unique }: { distinct: boolean },
): Promise<void> {
  const work: Promise<unknown>[] = [];
  for (const [bucket, group] of groupByBucket(unique ? objects : distinctBy(objects, targetId))) {
    const batchable: ObjectTarget[] = [];
    // Only an object with an etag can share its key and version with another distinct object.
    const batched = group.some((object) => object.etag !== undefined) ? new Set<string>() : undefined;
    for (const object of group) {
      if (canBatch(object.key) && (batched === undefined || firstOfItsVersion(batched, object))) batchable.push(object);
      else work.push(run(call, sendSingle, bucket, [object]));
    }
    for (let start = 0; start < batchable.length; start += MAX_KEYS_PER_REQUEST) {
      work.push(deleteBatch(call, bucket, batchable.slice(start, start + MAX_KEYS_PER_REQUEST)));
    }
  }
  await Promise.all(work);
}

/** True, and the object's key and version are noted in `seen`, unless they were noted already. */
function firstOfItsVersion(seen: Set<string>, { key, versionId = "" }: ObjectTarget): boolean {
  const id = `${versionId.length}:${versionId}${key}`;
  if (seen.has(id)) return false;
  seen.add(id);
  return true;
}

/** Deletes one batch with DeleteObjects; if the store refuses its checksum, each of its keys with DeleteObject. */
async function deleteBatch(call: Call, bucket: string, batch: readonly ObjectTarget[]): Promise<void> {
  const refused = await run(call, sendBatch, bucket, batch);
  await Promise.all(refused.map((object) => run(call, sendSingle, bucket, [object])));
}

/**
 * Sends `first` and retries the keys with a transient per-key error, with backoff, until they are
 * deleted, fail for good, run out of attempts or of time. Records every failure in the call; returns
 * the keys the store refused to take in a DeleteObjects body.
 */
async function run(
  call: Call,
  send: Send,
  bucket: string,
  first: readonly ObjectTarget[],
): Promise<readonly ObjectTarget[]> {
  const { maxAttempts, maxDelayMs, baseDelayMs, now, random, sleep } = call.settings;
  let pending = first;
  for (let attempt = 1; ; attempt++) {
    const errors = await attemptWithin(call, () => send(call, bucket, pending));
    if (errors === "refused") return pending;
    const retry: { target: ObjectTarget; error: KeyError }[] = [];
    for (const target of pending) {
      const error = errors === "deadline" ? DEADLINE : errors.get(target);
      if (error === undefined || error.class === "gone") continue;
      if (error.class === "replaced") {
        call.kept.add(targetId(target));
        continue;
      }
      if (error.class === "retryable" && !error.thrown && error !== DEADLINE && attempt < maxAttempts)
        retry.push({ target, error });
      else call.failures.set(targetId(target), failureOf(error));
    }
    if (retry.length === 0) return [];
    const delay = random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
    if (now() + delay >= call.deadline) {
      for (const { target, error } of retry) call.failures.set(targetId(target), cutShort(error));
      return [];
    }
    await sleep(delay);
    pending = retry.map(({ target }) => target);
  }
}

/** Sends one DeleteObjects request (Quiet), or none once the store has refused one in this call. */
const sendBatch: Send = async (call, bucket, targets) => {
  const { s3Client, contentMd5, fallbackToSingleDeletes } = call.settings;
  if (call.singlesOnly) return "refused";
  const errors = new Map<ObjectTarget, KeyError>();
  try {
    const command = new DeleteObjectsCommand({
      Bucket: bucket,
      Delete: {
        Objects: targets.map(objectIdentifier),
        Quiet: true,
      },
    });
    const output = await s3Client.send(contentMd5 ? withContentMd5(command) : command);
    if (output.Errors && output.Errors.length > 0) matchErrors(targets, output.Errors, errors);
  } catch (error) {
    if (fallbackToSingleDeletes && refusesChecksum(error)) {
      call.singlesOnly = true;
      return "refused";
    }
    const keyError = fromThrown(error);
    for (const target of targets) errors.set(target, keyError);
  }
  return errors;
};

/** A target's entry in a DeleteObjects body: its key, and its versionId and etag (as `ETag`) when it has them. */
function objectIdentifier({ key, versionId, etag }: ObjectTarget): ObjectIdentifier {
  const object: ObjectIdentifier = { Key: key };
  if (versionId !== undefined) object.VersionId = versionId;
  if (etag !== undefined) object.ETag = etag;
  return object;
}

/**
 * Sends one DeleteObject request, for the one target it is given; its etag goes as `If-Match`, and
 * a PreconditionFailed (HTTP 412) then means the object was replaced.
 */
const sendSingle: Send = async (call, bucket, [target]) => {
  const errors = new Map<ObjectTarget, KeyError>();
  const { key, versionId, etag } = target as ObjectTarget;
  const input: DeleteObjectCommandInput = { Bucket: bucket, Key: key };
  if (versionId !== undefined) input.VersionId = versionId;
  if (etag !== undefined) input.IfMatch = etag;
  try {
    await call.settings.s3Client.send(new DeleteObjectCommand(input));
  } catch (error) {
    errors.set(target as ObjectTarget, fromThrown(error, etag !== undefined));
  }
  return errors;
};

/**
 * The report of a call, in the order the targets came: a target is deleted when it was listed and
 * none of its objects failed or was kept. A target whose versions were not all deleted takes the
 * first permanent failure among them, else the first failure. Only a target deleted as given (no
 * listing) can be kept, so its own id says whether it was.
 */
function report(call: Call, plans: readonly Plan[]): DeleteReport {
  const result: DeleteReport = { deleted: [], failed: [], keptReplaced: [] };
  for (const { target, objects, listing } of plans) {
    const failure = listing ?? (call.failures.size === 0 ? undefined : firstFailure(call, objects));
    if (failure !== undefined) result.failed.push({ target, ...failure });
    else if (call.kept.size > 0 && call.kept.has(targetId(target))) result.keptReplaced.push(target);
    else result.deleted.push(target);
  }
  if (call.singlesOnly) result.fallback = "single-deletes";
  return result;
}

/** The first permanent failure among `objects`, else the first failure, else undefined. */
function firstFailure(call: Call, objects: readonly ObjectTarget[]): Failure | undefined {
  let first: Failure | undefined;
  for (const object of objects) {
    const failure = call.failures.get(targetId(object));
    if (failure !== undefined && !failure.retryable) return failure;
    first ??= failure;
  }
  return first;
}

/** How a key error is reported. */
function failureOf(error: KeyError): Failure {
  return { code: error.code, message: error.message, retryable: error.class === "retryable" };
}

const DEADLINE: KeyError = {
  code: "DeadlineExceeded",
  message: "not attempted: the invocation's time budget (timeoutMarginMs) ran out",
  class: "retryable",
  thrown: false,
};

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

/** A listing whose keys do not all start with the prefix asked for. */
const UNEXPECTED_LISTING: KeyError = {
  code: "UnexpectedVersionListing",
  message: "the store listed keys outside the prefix asked for, so the key's versions cannot be told apart",
  class: "permanent",
  thrown: false,
};

/**
 * A ListObjectVersions page that says more follow but not after which version (none, or the one it
 * started after): the key's versions cannot all be found, and asking again would loop.
 */
const NO_PROGRESS: KeyError = {
  code: "IncompleteVersionListing",
  message: "ListObjectVersions answered IsTruncated without a new NextVersionIdMarker: not every version can be listed",
  class: "permanent",
  thrown: true,
};

/** A target whose retry the deadline cut short keeps its last error's code. */
function cutShort(last: KeyError): Failure {
  return {
    code: last.code,
    message: `no time left to retry after ${last.code}: ${last.message}`,
    retryable: true,
  };
}

/** Runs `send` in a slot of the call's limiter, unless the deadline has passed by the time the slot is free. */
function attemptWithin<T>(call: Call, send: () => Promise<T>): Promise<T | "deadline"> {
  return call.limit(async () => (call.settings.now() >= call.deadline ? "deadline" : send()));
}

/** Targets by bucket, in order. */
function groupByBucket(targets: readonly ObjectTarget[]): Map<string, ObjectTarget[]> {
  const groups = new Map<string, ObjectTarget[]>();
  for (const target of targets) {
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
      // Only an entry for exactly this object says its condition failed: a target sent with an
      // etag is then kept, not failed.
      errors.set(target, target.etag === undefined ? error : asConditional(error));
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
