/** Identity of S3 objects, shared by the deleter (deduplication) and the handler (ownership). */
import type { ObjectTarget } from "./types.js";

/**
 * A string that is equal for two targets exactly when bucket, key and versionId are all equal.
 * Length prefixes keep it unambiguous whatever characters a key holds.
 */
export function targetId(target: ObjectTarget): string {
  const version = target.versionId ?? "";
  return `${target.bucket.length}:${version.length}:${target.bucket}${version}${target.key}`;
}
