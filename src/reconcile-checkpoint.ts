/**
 * Reconcile's checkpoint: where each partition of a run has got to, so that a stopped run goes on
 * after the last key it completed. Kept in a JSON file (written whole to a temporary file, then
 * renamed over the old one) or by the caller's `load`/`save`. A partition's place never moves past
 * an orphan whose delete failed: a resumed run lists it again.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import { ConfigError, errorMessage, ReconcileError } from "./errors.js";
import type { Partition } from "./key-space-partitions.js";
import type { ReconcileCounts } from "./reconcile-types.js";

/** A partition's progress. */
export interface PartitionProgress extends Partition {
  /** The last key completed: every key up to it was reconciled (and each orphan deleted). */
  after?: string | undefined;
  /** The whole partition is done. */
  done: boolean;
  /** What the keys up to `after` counted. */
  counts: ReconcileCounts;
}

/**
 * What a run reconciles and how: a checkpoint of another run is refused, so that a report-only run
 * is not finished by a deleting one (its first pages would never be deleted), nor with another age.
 */
export interface RunIdentity {
  tableName: string;
  bucket: string;
  keys: readonly string[] | "itemKeyOf";
  prefixes: readonly string[];
  delete: boolean;
  mode: "keys" | "scan";
  minAgeMs: number;
  allowedPrefixes: readonly string[] | null;
}

/** What a checkpoint holds: the run it belongs to, and each partition's progress. */
export interface ReconcileCheckpoint {
  version: 1;
  /** What the run reconciles; a checkpoint of another run is refused. */
  run: RunIdentity;
  partitions: PartitionProgress[];
}

/** Where a checkpoint is kept, when not in a file. */
export interface CheckpointStore {
  /** The saved checkpoint, or `undefined` when there is none yet. */
  load(): Promise<ReconcileCheckpoint | undefined>;
  /** Saves the checkpoint, replacing the last one. Calls never overlap. */
  save(checkpoint: ReconcileCheckpoint): Promise<void>;
}

/** A checkpoint kept in the JSON file at `path`. */
export function fileCheckpointStore(path: string): CheckpointStore {
  return {
    async load() {
      let text: string;
      try {
        text = await readFile(path, "utf8");
      } catch (error) {
        if ((error as { code?: unknown }).code === "ENOENT") return undefined;
        throw new ReconcileError(`the checkpoint file ${path} cannot be read: ${errorMessage(error)}`, "checkpoint", {
          cause: error,
        });
      }
      try {
        return JSON.parse(text) as ReconcileCheckpoint;
      } catch (error) {
        throw new ReconcileError(`the checkpoint file ${path} is not JSON: ${errorMessage(error)}`, "checkpoint", {
          cause: error,
        });
      }
    },
    async save(checkpoint) {
      const temporary = `${path}.${process.pid}.tmp`;
      await writeFile(temporary, `${JSON.stringify(checkpoint)}\n`);
      await rename(temporary, path);
    },
  };
}

/**
 * The progress a run starts from: the checkpoint's, when it belongs to this run and is not finished,
 * else none. Throws a ConfigError naming `checkpoint` when it belongs to another run or is not a
 * checkpoint at all.
 */
export function resumedProgress(saved: unknown, run: RunIdentity): PartitionProgress[] | undefined {
  if (saved === undefined) return undefined;
  if (!isCheckpoint(saved)) {
    throw new ConfigError([{ path: "checkpoint", message: "holds something other than a reconcile checkpoint" }]);
  }
  if (runIdentity(saved.run) !== runIdentity(run)) {
    throw new ConfigError([
      {
        path: "checkpoint",
        message: `belongs to another run (${JSON.stringify(saved.run)}); this one is ${JSON.stringify(run)}: give another checkpoint, or remove it to start over`,
      },
    ]);
  }
  return saved.partitions.every((partition) => partition.done) ? undefined : saved.partitions;
}

/** What identifies a run, whatever order a store gives its fields back in. */
function runIdentity(run: RunIdentity): string {
  const { tableName, bucket, keys, prefixes, delete: deleting, mode, minAgeMs, allowedPrefixes } = run;
  return JSON.stringify([tableName, bucket, keys, prefixes, deleting, mode, minAgeMs, allowedPrefixes]);
}

function isCheckpoint(value: unknown): value is ReconcileCheckpoint {
  if (typeof value !== "object" || value === null) return false;
  const { version, run, partitions } = value as Partial<ReconcileCheckpoint>;
  return (
    version === 1 &&
    typeof run === "object" &&
    run !== null &&
    Array.isArray(partitions) &&
    partitions.length > 0 &&
    partitions.every(
      (partition) =>
        typeof partition === "object" &&
        partition !== null &&
        typeof partition.prefix === "string" &&
        typeof partition.done === "boolean" &&
        typeof partition.counts === "object" &&
        partition.counts !== null,
    )
  );
}

/**
 * Saves checkpoints one at a time: a save asked for while one is running happens once it ends,
 * with the state of that moment, so the last state asked for is always the last one saved.
 */
export function createCheckpointWriter(
  store: CheckpointStore,
  snapshot: () => ReconcileCheckpoint,
): { save(): Promise<void> } {
  // Whether a save loop runs: cleared in the same turn as its last look at `again`, so that a save
  // asked for after that look starts a loop of its own instead of waiting on one that has ended.
  let active = false;
  let running: Promise<void> = Promise.resolve();
  let again = false;
  const loop = async (): Promise<void> => {
    try {
      do {
        again = false;
        await store.save(snapshot());
      } while (again);
    } finally {
      active = false;
    }
  };
  return {
    save() {
      if (active) {
        again = true;
        return running;
      }
      active = true;
      running = loop();
      return running;
    },
  };
}
