/**
 * Expand: turns prefix targets into the objects under them by listing each prefix, within a bound
 * on objects per call and the invocation's time budget, and makes the records that own a prefix own
 * its objects. It only lists; the deleter deletes what it returns, with its usual batching, retries
 * and failure mapping. Between map and delete in the handler's flow.
 */
import { ListObjectsV2Command, ListObjectVersionsCommand, type S3Client } from "@aws-sdk/client-s3";
import * as z from "zod/mini";
import { mapInOrder } from "./concurrency.js";
import { isPrefixTarget, prefixTargetId } from "./key-mapper.js";
import { decodeListedKey, distinctBy } from "./object-target.js";
import { fromThrown } from "./s3-errors.js";
import type { CleanupTarget, ObjectTarget, PrefixTarget } from "./types.js";
import { positiveInt } from "./validation.js";

/** S3's largest page of a listing, in keys (ListObjectsV2) or versions and delete markers (ListObjectVersions). */
export const MAX_KEYS_PER_LIST = 1000;

/** Options of {@link buildPrefixExpander}; the handler passes its own. */
export interface PrefixExpanderOptions {
  /** The client that sends the listings. */
  s3Client: S3Client;
  /**
   * How many list requests may be in flight at once: that many prefixes are listed at a time, each
   * page after page, taken in the order they were passed in, so that the first prefixes finish first
   * when the bound or the deadline stops the call (Lambda checkpoints at the first record reported).
   * @default 4
   */
  concurrency?: number | undefined;
  /**
   * What a prefix expands to.
   *
   * - `"current"`: ListObjectsV2; every key under the prefix, without `versionId`. In a versioned
   *   bucket deleting them only adds delete markers, which ListObjectsV2 does not list again.
   *   Needs `s3:ListBucket` on the bucket.
   * - `"all"`: ListObjectVersions; every version and delete marker under the prefix, each with its
   *   `versionId` (`"null"` for one stored while versioning was off), so deleting them purges the
   *   prefix. Needs `s3:ListBucketVersions` on the bucket and `s3:DeleteObjectVersion`.
   *
   * @default "current"
   */
  versions?: "current" | "all" | undefined;
  /**
   * The most objects one call returns, across all its prefixes (versions and delete markers count
   * one each), so that listing and deleting them fits in one invocation. A prefix with more is
   * returned in part and reported unfinished (code `PrefixNotFinished`), so that its records are
   * redelivered; the redelivery lists it again and goes on where the deletes stopped. 1 to 1,000,000.
   * @default 10000
   */
  maxPrefixObjects?: number | undefined;
  /** The clock, in milliseconds. @default Date.now */
  now?: (() => number) | undefined;
}

/** Options of one call of a {@link PrefixExpander}. */
export interface ExpandCallOptions {
  /**
   * No list request starts at or after this time (in the expander's clock, ms). A prefix not fully
   * listed by then is reported unfinished with code `DeadlineExceeded`, retryable.
   */
  deadline?: number | undefined;
}

/** A prefix and the objects listed under it. */
export interface ExpandedPrefix {
  /** The prefix target, as it was first passed in. */
  prefix: PrefixTarget;
  /** The objects listed under it, in listing order: all of them unless the prefix is also in `failed`. */
  targets: ObjectTarget[];
}

/** A prefix that was not fully listed: its records must be redelivered. */
export interface FailedPrefix {
  /** The prefix target, as it was first passed in. */
  target: PrefixTarget;
  /**
   * `PrefixNotFinished` (the `maxPrefixObjects` bound was reached), `DeadlineExceeded`,
   * `UnexpectedPrefixListing` (the store listed a key outside the prefix), `IncompletePrefixListing`
   * (a page said more follow but gave no new place to go on from), or the code of the error a list
   * request threw (`AccessDenied`, `NoSuchBucket`, ...).
   */
  code: string;
  /** What happened, and how many of its objects were listed before. */
  message: string;
  /** True when a later attempt may get further: the bound, the deadline, transient errors. */
  retryable: boolean;
}

/**
 * The outcome of one call. Every distinct prefix passed in is in `expanded` exactly once, with the
 * objects listed under it, which may be deleted now: that is progress even for a prefix not
 * finished. A prefix not fully listed is also in `failed`. A prefix whose listing held a key outside
 * it (`UnexpectedPrefixListing`) is not trusted at all: it is expanded to no objects.
 */
export interface PrefixExpansion {
  expanded: ExpandedPrefix[];
  failed: FailedPrefix[];
}

/** Lists prefixes into their objects. Never rejects for S3 errors. */
export type PrefixExpander = (prefixes: readonly PrefixTarget[], call?: ExpandCallOptions) => Promise<PrefixExpansion>;

/** The expander's own option, for the handler's schema (it shares `concurrency`, `versions` and `now` with the deleter). */
export const prefixExpanderOptionFields = () => ({
  maxPrefixObjects: z.optional(positiveInt(1_000_000)),
});

/** The options of an expander, defaults applied. */
type Settings = Required<{ [K in keyof PrefixExpanderOptions]: Exclude<PrefixExpanderOptions[K], undefined> }>;

/** The state of one call. Nothing is shared between calls. */
interface Call {
  readonly settings: Settings;
  readonly deadline: number;
  /** How many more objects the call may return. */
  remaining: number;
}

/** Why a prefix was not fully listed. */
type Failure = Omit<FailedPrefix, "target">;

/** Where a listing goes on from: a ListObjectsV2 continuation token, or ListObjectVersions' two markers. */
type Cursor = { token: string } | { key: string; versionId: string };

/** One page of a listing: the objects on it, and where to go on from when more follow. */
interface Page {
  objects: ObjectTarget[];
  next: Cursor | undefined;
}

/**
 * Builds an expander from options already validated.
 *
 * @example
 * ```ts
 * const expand = buildPrefixExpander({ s3Client: new S3Client({}), maxPrefixObjects: 5000 });
 * const { expanded, failed } = await expand([{ bucket: "product-media", prefix: "products/p-1/" }]);
 * ```
 */
export function buildPrefixExpander(options: PrefixExpanderOptions): PrefixExpander {
  const settings: Settings = {
    s3Client: options.s3Client,
    concurrency: options.concurrency ?? 4,
    versions: options.versions ?? "current",
    maxPrefixObjects: options.maxPrefixObjects ?? 10_000,
    now: options.now ?? Date.now,
  };
  return async (prefixes, callOptions = {}) => {
    const call: Call = {
      settings,
      deadline: callOptions.deadline ?? Number.POSITIVE_INFINITY,
      remaining: settings.maxPrefixObjects,
    };
    const unique = distinctBy(prefixes, prefixTargetId);
    // Each listing runs to its end (its pages come one after another) before the next prefix is
    // taken: at most `concurrency` requests are in flight, and the bound goes to the first prefixes
    // rather than to a first page of every prefix.
    const outcomes = await mapInOrder(unique, settings.concurrency, (prefix) => listPrefix(call, prefix));
    const expansion: PrefixExpansion = { expanded: [], failed: [] };
    unique.forEach((prefix, i) => {
      const { targets, failure } = outcomes[i] as Listed;
      expansion.expanded.push({ prefix, targets });
      if (failure !== undefined) expansion.failed.push({ target: prefix, ...failure });
    });
    return expansion;
  };
}

/** Objects a record owns: if one of them is not deleted, the record must be redelivered. */
export interface OwnedObjects<R> {
  item: R;
  targets: readonly ObjectTarget[];
}

/** The mapped removals with their prefixes replaced by the objects listed under them. */
export interface ExpandedRemovals<R> {
  /**
   * Every removal with its own object targets, then one entry per prefix it owns with the objects
   * listed under that prefix (an array shared by every record owning the prefix). A record may so
   * appear more than once; ownership maps take that in their stride.
   */
  owned: readonly OwnedObjects<R>[];
  /** Each prefix not fully listed, with every record that owns it: they must all be redelivered. */
  unfinished: { failure: FailedPrefix; records: R[] }[];
}

/**
 * Lists the prefixes of mapped removals, in the order the records own them, and makes every record
 * that owns a prefix own the objects listed under it. Without prefix targets it lists nothing and
 * hands the removals back as they are.
 */
export async function expandRemovals<R>(
  mapped: readonly { item: R; targets: readonly CleanupTarget[] }[],
  expand: PrefixExpander,
  call: ExpandCallOptions = {},
): Promise<ExpandedRemovals<R>> {
  if (!mapped.some(({ targets }) => targets.some(isPrefixTarget))) {
    return { owned: mapped as readonly OwnedObjects<R>[], unfinished: [] };
  }
  const owned: OwnedObjects<R>[] = [];
  const prefixOwners = new Map<string, { target: PrefixTarget; records: Set<R> }>();
  for (const { item, targets } of mapped) {
    if (!targets.some(isPrefixTarget)) {
      owned.push({ item, targets: targets as readonly ObjectTarget[] });
      continue;
    }
    const objects: ObjectTarget[] = [];
    for (const target of targets) {
      if (!isPrefixTarget(target)) {
        objects.push(target);
        continue;
      }
      const id = prefixTargetId(target);
      const owner = prefixOwners.get(id);
      if (owner === undefined) prefixOwners.set(id, { target, records: new Set<R>().add(item) });
      else owner.records.add(item);
    }
    owned.push({ item, targets: objects });
  }
  const { expanded, failed } = await expand(
    [...prefixOwners.values()].map(({ target }) => target),
    call,
  );
  const recordsOf = (prefix: PrefixTarget) => (prefixOwners.get(prefixTargetId(prefix)) as { records: Set<R> }).records;
  for (const { prefix, targets } of expanded) {
    if (targets.length > 0) for (const item of recordsOf(prefix)) owned.push({ item, targets });
  }
  return { owned, unfinished: failed.map((failure) => ({ failure, records: [...recordsOf(failure.target)] })) };
}

/** What listing one prefix found, and why it stopped early if it did. */
interface Listed {
  targets: ObjectTarget[];
  failure: Failure | undefined;
}

/**
 * Lists one prefix page by page, taking at most what is left of the call's bound. Stops at the
 * bound, the deadline or an error, keeping what it listed before; a listing that cannot be trusted
 * keeps nothing.
 */
async function listPrefix(call: Call, prefix: PrefixTarget): Promise<Listed> {
  const targets: ObjectTarget[] = [];
  let cursor: Cursor | undefined;
  for (;;) {
    if (call.remaining <= 0) return { targets, failure: notFinished(call, targets.length) };
    if (call.settings.now() >= call.deadline) return { targets, failure: deadlineExceeded(targets.length) };
    const page = await listPage(call, prefix, cursor, Math.min(MAX_KEYS_PER_LIST, call.remaining), targets.length);
    if ("code" in page) return { targets: page.code === UNEXPECTED_LISTING ? [] : targets, failure: page };
    // Requests in flight at once may together bring more than the bound: take what is left of it.
    const taken = page.objects.length <= call.remaining ? page.objects : page.objects.slice(0, call.remaining);
    call.remaining -= taken.length;
    for (const object of taken) targets.push(object);
    if (taken.length < page.objects.length) return { targets, failure: notFinished(call, targets.length) };
    if (page.next === undefined) return { targets, failure: undefined };
    cursor = page.next;
  }
}

/**
 * Lists one page of the prefix after `after`, up to `maxKeys` entries. Keys may hold characters
 * XML cannot carry, so they are always requested URL-encoded, and decoded when the store says it
 * encoded them. Never throws: a thrown request, a key outside the prefix or a page that cannot be
 * continued becomes the prefix's failure. `listed` counts its objects listed before, for messages.
 */
async function listPage(
  call: Call,
  { bucket, prefix }: PrefixTarget,
  after: Cursor | undefined,
  maxKeys: number,
  listed: number,
): Promise<Page | Failure> {
  const { s3Client, versions } = call.settings;
  const request = { Bucket: bucket, Prefix: prefix, EncodingType: "url", MaxKeys: maxKeys } as const;
  try {
    const objects: ObjectTarget[] = [];
    let truncated: boolean | undefined;
    let next: Cursor | undefined;
    if (versions === "current") {
      const output = await s3Client.send(
        new ListObjectsV2Command(after === undefined ? request : { ...request, ContinuationToken: tokenOf(after) }),
      );
      const readKey = keyReader(output.EncodingType, prefix);
      for (const { Key } of output.Contents ?? []) if (Key !== undefined) objects.push({ bucket, key: readKey(Key) });
      truncated = output.IsTruncated;
      const token = output.NextContinuationToken;
      next = token === undefined ? undefined : { token };
    } else {
      const output = await s3Client.send(
        new ListObjectVersionsCommand(after === undefined ? request : { ...request, ...markersOf(after) }),
      );
      const readKey = keyReader(output.EncodingType, prefix);
      for (const { Key, VersionId } of [...(output.Versions ?? []), ...(output.DeleteMarkers ?? [])]) {
        // An entry without a Key names no object: there is nothing to delete for it.
        if (Key !== undefined) objects.push({ bucket, key: readKey(Key), versionId: VersionId ?? "null" });
      }
      truncated = output.IsTruncated;
      const { NextKeyMarker: key, NextVersionIdMarker: versionId } = output;
      // The next key marker comes encoded like the keys; a request takes it as the key itself.
      next =
        key === undefined || versionId === undefined
          ? undefined
          : { key: decodeListed(output.EncodingType, key), versionId };
    }
    if (truncated !== true) return { objects, next: undefined };
    // More follow, but from where? Without a new place to go on from, paging would stop short or loop.
    if (next === undefined || sameCursor(next, after)) return incomplete(listed + objects.length);
    return { objects, next };
  } catch (error) {
    if (error instanceof UntrustedListing) return untrusted(error.message);
    const { code, message, class: errorClass } = fromThrown(error);
    return {
      code,
      message: `listing the prefix failed after ${listed} of its objects: ${message}`,
      retryable: errorClass === "retryable",
    };
  }
}

/** A key that a listing does not decode, or that lies outside the prefix asked for. */
class UntrustedListing extends Error {}

/**
 * Reads a listed key: decoded when the store says it URL-encoded it, and checked to start with the
 * prefix (a store that encodes differently must not make the expander delete elsewhere).
 */
function keyReader(encodingType: string | undefined, prefix: string): (listed: string) => string {
  return (listed) => {
    const key = decodeListed(encodingType, listed);
    if (!key.startsWith(prefix)) throw new UntrustedListing("the store listed a key outside the prefix asked for");
    return key;
  };
}

/**
 * Decodes a key (or key marker) listed with `EncodingType=url`: form encoding, `+` for a space (as
 * boto3 and the Java SDK read it). Verbatim when the store did not encode it.
 */
function decodeListed(encodingType: string | undefined, listed: string): string {
  if (encodingType !== "url") return listed;
  try {
    return decodeListedKey(listed);
  } catch {
    throw new UntrustedListing("the store listed a key that is not valid URL encoding");
  }
}

function tokenOf(cursor: Cursor): string {
  return (cursor as { token: string }).token;
}

function markersOf(cursor: Cursor): { KeyMarker: string; VersionIdMarker: string } {
  const { key, versionId } = cursor as { key: string; versionId: string };
  return { KeyMarker: key, VersionIdMarker: versionId };
}

function sameCursor(next: Cursor, after: Cursor | undefined): boolean {
  if (after === undefined) return false;
  if ("token" in next) return next.token === tokenOf(after);
  const { KeyMarker, VersionIdMarker } = markersOf(after);
  return next.key === KeyMarker && next.versionId === VersionIdMarker;
}

const UNEXPECTED_LISTING = "UnexpectedPrefixListing";

function untrusted(problem: string): Failure {
  return {
    code: UNEXPECTED_LISTING,
    message: `${problem}, so none of its listing is trusted and nothing under it is deleted`,
    retryable: false,
  };
}

function incomplete(listed: number): Failure {
  return {
    code: "IncompletePrefixListing",
    message: `a listing page said more objects follow but gave no new place to go on from, after ${listed} of its objects`,
    retryable: false,
  };
}

function notFinished(call: Call, listed: number): Failure {
  return {
    code: "PrefixNotFinished",
    message: `not finished: ${listed} of its objects were listed when this invocation reached maxPrefixObjects (${call.settings.maxPrefixObjects}); the redelivery goes on`,
    retryable: true,
  };
}

function deadlineExceeded(listed: number): Failure {
  return {
    code: "DeadlineExceeded",
    message: `not finished: ${listed} of its objects were listed when the invocation's time budget (timeoutMarginMs) ran out`,
    retryable: true,
  };
}
