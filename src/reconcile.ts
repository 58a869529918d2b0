/**
 * The published entry point `dynamodb-s3-cleanup/reconcile`: finds the objects whose items are gone,
 * which no stream will ever report, and deletes them safely. Kept apart from the main entry so that
 * no handler loads it.
 */

export {
  isReconcileBatchError,
  isReconcileError,
  ReconcileBatchError,
  ReconcileError,
} from "./errors.js";
export type { ItemKeyOf, ItemKeyValue } from "./item-key-reader.js";
export type {
  ReconcileBatchEvent,
  ReconcileBatchHandler,
  ReconcileBatchHandlerOptions,
  ReconcileBatchResult,
} from "./reconcile-batch-handler.js";
export { createReconcileBatchHandler } from "./reconcile-batch-handler.js";
export type { CheckpointStore, PartitionProgress, ReconcileCheckpoint } from "./reconcile-checkpoint.js";
export { fileCheckpointStore } from "./reconcile-checkpoint.js";
export type { PartitionReport, ReconcileOptions, ReconcileProgress, ReconcileReport } from "./reconcile-run.js";
export { reconcile } from "./reconcile-run.js";
export type { ReconcilerOptions } from "./reconcile-setup.js";
export { DEFAULT_MIN_AGE_MS } from "./reconcile-setup.js";
export type {
  ListedObject,
  ObjectVerdict,
  Orphan,
  OrphanStatus,
  ReconcileCounts,
} from "./reconcile-types.js";
