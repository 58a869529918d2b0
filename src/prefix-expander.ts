/**
 * Expand: turns a prefix target into the objects under it, page by page, and hands each page on as
 * soon as it is listed (to the deleter, or to a dry run's log), so that every invocation that lists
 * a page deletes it, and a redelivery goes on from what is left. Between map and delete in the
 * handler's flow; it lists through the shared listing layer and never deletes by itself.
 */
import { type Failure, graver } from "./s3-errors.js";
import { type ListContext, ListingError, listPages } from "./s3-listing.js";
import type { ObjectTarget, PrefixTarget } from "./types.js";

/** What became of a page's objects. */
export interface PageOutcome {
  /** How many of them were not deleted. */
  failed: number;
  /** The first permanent failure among them, else the first failure; undefined when all were deleted. */
  failure: Failure | undefined;
  /** True when the listing need not go on (a purge that has seen every version of its key). */
  last?: boolean;
}

/** What became of a prefix. */
export interface PrefixOutcome {
  /** How many objects were listed under it (and handed on). */
  listed: number;
  /** How many of those were not deleted. */
  failed: number;
  /**
   * Why the prefix is not done, undefined when every object under it was listed and deleted: the
   * first permanent failure (of an object or of the listing), else the first one. The listing's
   * codes: `ListingNotFinished` (`maxListedObjects`), `Aborted`, `UnexpectedListing` (a key outside
   * the prefix, or badly encoded), `IncompleteListing`, or the code of a list request that threw.
   */
  failure: Failure | undefined;
}

/**
 * Lists a prefix (ListObjectsV2, or with `versions: "all"` ListObjectVersions) and awaits
 * `onPage` for each page before the next is listed, until the listing ends or `onPage` says it was
 * the last. Never rejects for S3 errors. The deleter purges a key's versions with it too.
 */
export async function expandPrefix(
  { bucket, prefix }: PrefixTarget,
  versions: "current" | "all",
  context: ListContext,
  onPage: (objects: ObjectTarget[]) => Promise<PageOutcome>,
): Promise<PrefixOutcome> {
  const outcome: PrefixOutcome = { listed: 0, failed: 0, failure: undefined };
  try {
    for await (const page of listPages({ bucket, prefix, versions }, context)) {
      outcome.listed += page.length;
      const { failed, failure, last } = await onPage(page);
      outcome.failed += failed;
      outcome.failure = graver(outcome.failure, failure);
      if (last === true) break;
    }
  } catch (error) {
    if (!(error instanceof ListingError)) throw error;
    outcome.failure = graver(outcome.failure, error.failure);
  }
  return outcome;
}
