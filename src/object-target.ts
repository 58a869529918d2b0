/**
 * Identity of S3 objects, shared by the deleter (deduplication) and the handler (ownership), one way
 * to deduplicate by identity, and keys as S3 lists them.
 */
import type { ObjectTarget } from "./types.js";

/**
 * A string that is equal for two targets exactly when bucket, key, versionId and etag are all
 * equal. The etag is part of it so that two records removing one key with different ETags stay two
 * targets, each deleted on its own condition. Length prefixes keep it unambiguous whatever
 * characters a key holds; with an etag, `;` instead of `:` after the versionId's length tells the
 * two forms apart. It always starts with a digit.
 */
export function targetId(target: ObjectTarget): string {
  const version = target.versionId ?? "";
  const etag = target.etag;
  return etag === undefined
    ? `${target.bucket.length}:${version.length}:${target.bucket}${version}${target.key}`
    : `${target.bucket.length}:${version.length};${etag.length}:${target.bucket}${version}${etag}${target.key}`;
}

/**
 * Decodes a key S3 listed with `EncodingType=url`: form encoding, `+` for a space (as boto3 and the
 * Java SDK read it). Throws URIError for a malformed escape.
 */
export function decodeListedKey(encoded: string): string {
  return decodeURIComponent(encoded.replaceAll("+", " "));
}

/** The items with distinct ids, each at its first occurrence, in order. */
export function distinctBy<T>(items: readonly T[], idOf: (item: T, index: number) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item, index) => {
    const id = idOf(item, index);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}
