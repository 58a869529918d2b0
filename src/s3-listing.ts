/**
 * Listing: the one paginator for S3 listings (ListObjectsV2, or ListObjectVersions for versions),
 * shared by prefix targets and version purges. Each page is requested URL-encoded and decoded, its
 * keys checked to lie under the prefix asked for, and yielded as soon as it arrives, so that the
 * caller can delete it before the next page is listed.
 */
import { ListObjectsV2Command, ListObjectVersionsCommand, type S3Client } from "@aws-sdk/client-s3";
import { abortable, sendOptions } from "./abort.js";
import type { Limiter } from "./concurrency.js";
import { decodeListedKey } from "./object-target.js";
import type { ListedObject } from "./reconcile-types.js";
import { type Failure, failureOfThrown } from "./s3-errors.js";
import type { ObjectTarget } from "./types.js";

/** S3's largest page of a listing, in keys (ListObjectsV2) or versions and delete markers (ListObjectVersions). */
export const MAX_KEYS_PER_LIST = 1000;

/** What to list. */
export interface ListRequest {
  bucket: string;
  prefix: string;
  /** `"current"`: ListObjectsV2, objects without `versionId`. `"all"`: every version and delete marker. */
  versions: "current" | "all";
  /** ListObjectsV2 only: list the keys after this one (not itself), in S3's order. */
  startAfter?: string | undefined;
}

/** How many more objects may be listed, shared by every listing that holds it, and the bound it started from. */
export interface ListBudget {
  remaining: number;
  readonly max: number;
}

/** How a listing runs: its signal, the limiter its requests take a slot of, and its budget. */
export interface ListContext {
  s3Client: S3Client;
  signal?: AbortSignal | undefined;
  limit?: Limiter | undefined;
  /**
   * Each page asks for at most what is left of it, and takes what it got from it; a listing that
   * has more to list when nothing is left stops with `ListingNotFinished`.
   */
  budget?: ListBudget | undefined;
}

/** Why a listing stopped before its end. Thrown by {@link listPages}. */
export class ListingError extends Error {
  override readonly name = "ListingError";
  readonly failure: Failure;
  constructor(failure: Failure) {
    super(failure.message);
    this.failure = failure;
  }
}

/** Where a listing goes on from: a ListObjectsV2 continuation token, or ListObjectVersions' two markers. */
type Cursor = { ContinuationToken: string } | { KeyMarker: string; VersionIdMarker: string };

/**
 * Lists `request` page by page, yielding each page's objects (with `versionId` under `"all"`, `"null"`
 * for an object stored while versioning was off) until the end of the listing. Throws a
 * {@link ListingError} when the budget runs out first (`ListingNotFinished`, retryable), when a
 * request fails (with the error's code, and `retryable` as S3's answer says), when the signal
 * fires (code `Aborted`, retryable), when a page holds a key outside the prefix or one that does
 * not decode (`UnexpectedListing`; that page is not yielded), and when a page says more follow but
 * names no place to go on from that was not visited already (`IncompleteListing`: paging would stop
 * short or loop).
 */
export async function* listPages(request: ListRequest, context: ListContext): AsyncGenerator<ObjectTarget[]> {
  for await (const page of listEntries(request, context)) {
    yield page.map(({ key, versionId }) => {
      const object: ObjectTarget = { bucket: request.bucket, key };
      if (versionId !== undefined) object.versionId = versionId;
      return object;
    });
  }
}

/**
 * Lists the current objects under `request.prefix` (after `request.startAfter`) page by page, with
 * their size, last-modified time and ETag, as {@link listPages} does, and with the same errors.
 */
export async function* listObjects(
  request: Omit<ListRequest, "versions">,
  context: ListContext,
): AsyncGenerator<ListedObject[]> {
  for await (const page of listEntries({ ...request, versions: "current" }, context)) {
    yield page.map(({ key, size, lastModified, etag }) => {
      // No time listed: an invalid date, which reconcile never takes for an old object.
      const object: ListedObject = { key, size: size ?? 0, lastModified: lastModified ?? new Date(Number.NaN) };
      if (etag !== undefined) object.etag = etag;
      return object;
    });
  }
}

/** The entries of a listing, keys decoded and checked, page by page. */
async function* listEntries(request: ListRequest, context: ListContext): AsyncGenerator<Entry[]> {
  const { s3Client, signal, limit = (task) => task(), budget } = context;
  const visited = new Set<string>();
  let cursor: Cursor | undefined;
  for (;;) {
    if (signal?.aborted) throw new ListingError(failureOfThrown(signal.reason, signal));
    const maxKeys = Math.min(MAX_KEYS_PER_LIST, budget?.remaining ?? MAX_KEYS_PER_LIST);
    if (maxKeys <= 0) {
      throw new ListingError({
        code: "ListingNotFinished",
        message: `not finished: this call reached maxListedObjects (${budget?.max}); the next one goes on from what is left`,
        retryable: true,
      });
    }
    const input = {
      Bucket: request.bucket,
      Prefix: request.prefix,
      EncodingType: "url",
      MaxKeys: maxKeys,
      ...(cursor ?? (request.startAfter === undefined ? {} : { StartAfter: request.startAfter })),
    } as const;
    let page: Page;
    try {
      page = await limit(() =>
        request.versions === "current"
          ? abortable(s3Client.send(new ListObjectsV2Command(input), sendOptions(signal)), signal).then(readObjects)
          : abortable(s3Client.send(new ListObjectVersionsCommand(input), sendOptions(signal)), signal).then(
              readVersions,
            ),
      );
    } catch (error) {
      throw new ListingError(failureOfThrown(error, signal));
    }
    const objects = page.entries.map((entry) => {
      const key = decode(page.encoded, entry.key);
      if (!key.startsWith(request.prefix)) throw untrusted("the store listed a key outside the prefix asked for");
      return { ...entry, key };
    });
    if (budget !== undefined) budget.remaining -= objects.length;
    yield objects;
    if (!page.truncated) return;
    const next = page.next === undefined ? undefined : decodeCursor(page.encoded, page.next);
    const id = JSON.stringify(next);
    if (next === undefined || visited.has(id)) {
      throw new ListingError({
        code: "IncompleteListing",
        message: "a listing page said more objects follow but gave no new place to go on from",
        retryable: false,
      });
    }
    visited.add(id);
    cursor = next;
  }
}

/** One entry of a page: a key, and what the listing says of it. */
interface Entry {
  key: string;
  versionId?: string | undefined;
  size?: number | undefined;
  lastModified?: Date | undefined;
  etag?: string | undefined;
}

/** One page, read from either listing's output. */
interface Page {
  entries: Entry[];
  encoded: boolean;
  truncated: boolean;
  next: Cursor | undefined;
}

interface ListedEntry {
  Key?: string | undefined;
  VersionId?: string | undefined;
  Size?: number | undefined;
  LastModified?: Date | undefined;
  ETag?: string | undefined;
}

function readObjects(output: {
  Contents?: ListedEntry[] | undefined;
  EncodingType?: string | undefined;
  IsTruncated?: boolean | undefined;
  NextContinuationToken?: string | undefined;
}): Page {
  const entries: Page["entries"] = [];
  // An entry without a Key names no object: there is nothing to delete for it.
  for (const { Key, Size, LastModified, ETag } of output.Contents ?? []) {
    if (Key !== undefined) entries.push({ key: Key, size: Size, lastModified: LastModified, etag: ETag });
  }
  const token = output.NextContinuationToken;
  return {
    entries,
    encoded: output.EncodingType === "url",
    truncated: output.IsTruncated === true,
    next: token === undefined ? undefined : { ContinuationToken: token },
  };
}

function readVersions(output: {
  Versions?: ListedEntry[] | undefined;
  DeleteMarkers?: ListedEntry[] | undefined;
  EncodingType?: string | undefined;
  IsTruncated?: boolean | undefined;
  NextKeyMarker?: string | undefined;
  NextVersionIdMarker?: string | undefined;
}): Page {
  const entries: Page["entries"] = [];
  for (const { Key, VersionId } of [...(output.Versions ?? []), ...(output.DeleteMarkers ?? [])]) {
    if (Key !== undefined) entries.push({ key: Key, versionId: VersionId ?? "null" });
  }
  const { NextKeyMarker, NextVersionIdMarker } = output;
  return {
    entries,
    encoded: output.EncodingType === "url",
    truncated: output.IsTruncated === true,
    next:
      NextKeyMarker === undefined || NextVersionIdMarker === undefined
        ? undefined
        : { KeyMarker: NextKeyMarker, VersionIdMarker: NextVersionIdMarker },
  };
}

/** A listing that cannot be trusted: a key outside the prefix, or one that does not decode. */
function untrusted(problem: string): ListingError {
  return new ListingError({
    code: "UnexpectedListing",
    message: `${problem}, so nothing on that page is deleted`,
    retryable: false,
  });
}

/** A key listed with `EncodingType=url` (form encoding, `+` for a space), or verbatim when the store did not encode. */
function decode(encoded: boolean, listed: string): string {
  if (!encoded) return listed;
  try {
    return decodeListedKey(listed);
  } catch {
    throw untrusted("the store listed a key that is not valid URL encoding");
  }
}

/**
 * The next key marker comes encoded like the keys; a request takes it as the key itself. A marker
 * that does not decode leaves no place to go on from (its page, already handed on, was fine).
 */
function decodeCursor(encoded: boolean, cursor: Cursor): Cursor {
  if (!("KeyMarker" in cursor)) return cursor;
  try {
    return { ...cursor, KeyMarker: decode(encoded, cursor.KeyMarker) };
  } catch {
    throw new ListingError({
      code: "UnexpectedListing",
      message: "the store gave a NextKeyMarker that is not valid URL encoding, so the listing cannot go on from it",
      retryable: false,
    });
  }
}
