/**
 * The public shapes of reconcile: what it reads (listed objects), what it decides about each, and
 * what it reports. Types only; shared by the one-machine run (`reconcile`), the Distributed Map
 * batch handler and the command.
 */
import type { AttributeMap } from "./types.js";

/** One object as a listing (ListObjectsV2, an S3 Inventory report) gives it. */
export interface ListedObject {
  /** The object key, decoded. */
  key: string;
  /** Size in bytes. */
  size: number;
  /** When the object was last written. */
  lastModified: Date;
  /**
   * The object's ETag, quoted as S3 gives it (`"9b2cf535f27731c974343645a3985328"`), when the listing
   * has one. Deletes send it as a condition, so that an object replaced since it was listed is kept.
   */
  etag?: string | undefined;
}

/**
 * What an object is:
 * - `unrelated`: its key is not one the templates (or `itemKeyOf`) give for an item. Never deleted.
 * - `live`: its item exists.
 * - `young`: its item is missing, but it was written within `minAgeMs`. Never deleted.
 * - `orphan`: its item is missing, and it is older than that.
 * - `unchecked`: whether its item exists could not be told (the table could not be read, or
 *   `itemKeyOf` failed). Never deleted.
 */
export type ObjectVerdict = "unrelated" | "live" | "young" | "orphan" | "unchecked";

/**
 * What happened to an orphan: `found` (reported only, `delete: false`), `deleted`, `failed` (the
 * delete failed; `error` says why), `kept-replaced` (the object was replaced since it was listed: its
 * ETag no longer matched), or `kept-recreated` (its item was written since the first probe).
 */
export type OrphanStatus = "found" | "deleted" | "failed" | "kept-replaced" | "kept-recreated";

/** An object whose item is missing and which is older than `minAgeMs`, as `onOrphan` receives it. */
export interface Orphan extends ListedObject {
  bucket: string;
  /** The item key the object key was read back into, in DynamoDB JSON (`{ productId: { N: "42" } }`). */
  itemKey: AttributeMap;
  status: OrphanStatus;
  /** Why the delete failed, when `status` is `failed`. */
  error?: { code: string; message: string } | undefined;
}

/** What a run (or one Distributed Map batch) counted. Every listed object is in exactly one of `unrelated`, `live`, `young`, `orphans`, `unchecked`. */
export interface ReconcileCounts {
  /** Objects listed (or given in the batch). */
  listed: number;
  unrelated: number;
  live: number;
  young: number;
  /** Objects whose item was missing at the first probe and which are older than `minAgeMs`. */
  orphans: number;
  /** Objects whose item's presence could not be told; nothing was deleted for them. */
  unchecked: number;
  /** Orphans deleted (`delete: true`). */
  deleted: number;
  /** Orphans whose delete failed. */
  failed: number;
  /** Orphans kept because the object was replaced since it was listed (its ETag changed). */
  keptReplaced: number;
  /** Orphans kept because their item was written between the first probe and the delete. */
  keptRecreated: number;
  /** Bytes of the orphans (`size` summed). */
  bytes: number;
}

/** What one Distributed Map batch counted, and its items that were not objects of the bucket. */
export interface ReconcileBatchResult extends ReconcileCounts {
  invalidItems: number;
}
