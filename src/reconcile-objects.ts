/**
 * Reconcile's decision over one batch of listed objects (a listing page, or a Distributed Map child
 * batch): read each object key back into its item key, ask the table whether the items exist, sort
 * every object into unrelated / live / young / orphan / unchecked, and with deletes on, probe the
 * orphans' items once more and delete the orphans still without an item, each on the condition of
 * the ETag it was listed with. Only orphans are ever deleted.
 */
import type { BatchDeleter } from "./batch-deleter.js";
import type { ItemKeyReader } from "./item-key-reader.js";
import type { ItemPresence, ItemProbe } from "./item-presence.js";
import type { ListedObject, ObjectVerdict, Orphan, ReconcileCounts } from "./reconcile-types.js";
import type { AttributeMap, Logger } from "./types.js";

/** An object whose item key was read, waiting for the table's answer. */
export interface Candidate {
  object: ListedObject;
  itemKey: AttributeMap;
}

/**
 * Whether each candidate's item exists, in the order given. Never rejects: an answer that cannot be
 * had is unknown.
 */
export type PresenceOf = (candidates: readonly Candidate[], signal: AbortSignal) => Promise<ItemPresence[]>;

/** Presence by asking `tableName` for each candidate's item key. */
export function tablePresence(probe: ItemProbe, tableName: string): PresenceOf {
  return (candidates, signal) =>
    probe(
      candidates.map(({ itemKey }) => ({ table: tableName, key: itemKey })),
      signal,
    );
}

/** What a reconciler needs; built once per run. */
export interface ObjectReconcilerConfig {
  bucket: string;
  /** For log lines. */
  tableName: string;
  readItemKey: ItemKeyReader;
  /** Asked once for every candidate, and with deletes on, once more for the orphans (unless `secondProbe` is false). */
  presence: PresenceOf;
  /** Ask `presence` again before deleting: false when its answers cannot change (a scan). @default true */
  secondProbe?: boolean | undefined;
  /** Deletes the orphans; `undefined` when the run only reports. */
  deleter: BatchDeleter | undefined;
  minAgeMs: number;
  /** The time now, in ms since the epoch. */
  now: () => number;
  /** Objects outside these prefixes are never deleted (they count as unrelated). */
  allowedPrefixes: readonly string[] | undefined;
  /** Receives each orphan with what became of it, before the batch's counts are returned. */
  onOrphan: ((orphan: Orphan) => void | Promise<void>) | undefined;
  logger: Logger;
}

/**
 * Reconciles one batch of objects and counts what they were. Never rejects for S3 or DynamoDB
 * errors (they make objects unchecked or failed); rejects only when `onOrphan` does.
 */
export type ObjectReconciler = (objects: readonly ListedObject[], signal: AbortSignal) => Promise<ReconcileCounts>;

/** Counts of nothing. */
export function noCounts(): ReconcileCounts {
  return {
    listed: 0,
    unrelated: 0,
    live: 0,
    young: 0,
    orphans: 0,
    unchecked: 0,
    deleted: 0,
    failed: 0,
    keptReplaced: 0,
    keptRecreated: 0,
    bytes: 0,
  };
}

/** Adds `more` into `into`, field by field. */
export function addCounts(into: ReconcileCounts, more: ReconcileCounts): void {
  for (const field of Object.keys(into) as (keyof ReconcileCounts)[]) into[field] += more[field];
}

/**
 * Creates the reconciler of one run.
 *
 * @example
 * ```ts
 * const reconcileObjects = createObjectReconciler(config);
 * const counts = await reconcileObjects(page, signal);
 * ```
 */
export function createObjectReconciler(config: ObjectReconcilerConfig): ObjectReconciler {
  const { bucket, tableName, readItemKey, presence, deleter, minAgeMs, now, allowedPrefixes, onOrphan, logger } =
    config;
  return async (objects, signal) => {
    const counts = noCounts();
    counts.listed = objects.length;
    const unchecked: string[] = [];
    const candidates: Candidate[] = [];
    for (const object of objects) {
      if (allowedPrefixes !== undefined && !allowedPrefixes.some((prefix) => object.key.startsWith(prefix))) {
        counts.unrelated++;
        continue;
      }
      const read = readItemKey(object.key);
      if (read.kind === "item") candidates.push({ object, itemKey: read.key });
      else if (read.kind === "unrelated") counts.unrelated++;
      else unchecked.push(read.message);
    }
    const firstAnswers = await presence(candidates, signal);
    const orphans: Candidate[] = [];
    const age = now();
    candidates.forEach((candidate, index) => {
      const verdict = verdictOf(firstAnswers[index], candidate.object, age, minAgeMs);
      if (verdict === "live") counts.live++;
      else if (verdict === "young") counts.young++;
      else if (verdict === "orphan") orphans.push(candidate);
      else unchecked.push(`\`${candidate.object.key}\`: ${(firstAnswers[index] as { problem: string }).problem}`);
    });
    counts.unchecked = unchecked.length;
    if (unchecked.length > 0) {
      logger.warn("reconcile: objects unchecked, nothing deleted for them", {
        table: tableName,
        bucket,
        unchecked: unchecked.length,
        first: unchecked[0],
      });
    }
    counts.orphans = orphans.length;
    for (const { object } of orphans) counts.bytes += object.size;
    const settled = deleter === undefined ? found(orphans) : await deleteOrphans(config, deleter, orphans, signal);
    for (const orphan of settled) {
      if (orphan.status === "deleted") counts.deleted++;
      else if (orphan.status === "failed") counts.failed++;
      else if (orphan.status === "kept-replaced") counts.keptReplaced++;
      else if (orphan.status === "kept-recreated") counts.keptRecreated++;
      if (onOrphan !== undefined) await onOrphan(orphan);
    }
    return counts;
  };

  function found(orphans: readonly Candidate[]): Orphan[] {
    return orphans.map((candidate) => orphanOf(bucket, candidate, "found"));
  }
}

function verdictOf(
  answer: ItemPresence | undefined,
  object: ListedObject,
  now: number,
  minAgeMs: number,
): Exclude<ObjectVerdict, "unrelated"> {
  if (answer === "present") return "live";
  if (answer !== "absent") return "unchecked";
  // Compared this way round so that an object of unknown age (an invalid date) is young, never an orphan.
  return now - object.lastModified.getTime() >= minAgeMs ? "orphan" : "young";
}

/**
 * Asks for the orphans' items once more, then deletes those still absent on the condition of the
 * ETag they were listed with; says what became of each orphan, in the order given.
 */
async function deleteOrphans(
  config: ObjectReconcilerConfig,
  deleter: BatchDeleter,
  orphans: readonly Candidate[],
  signal: AbortSignal,
): Promise<Orphan[]> {
  if (orphans.length === 0) return [];
  const { bucket } = config;
  const answers: ItemPresence[] =
    config.secondProbe === false ? orphans.map(() => "absent") : await config.presence(orphans, signal);
  const deletable = orphans.filter(({ object }, index) => answers[index] === "absent" && object.etag !== undefined);
  const report =
    deletable.length === 0
      ? undefined
      : await deleter(
          deletable.map(({ object }) => ({ bucket, key: object.key, etag: object.etag as string })),
          { signal },
        );
  const deleted = new Set(report?.deleted.map((target) => target.key));
  const replaced = new Set(report?.keptReplaced.map((target) => target.key));
  const failures = new Map(report?.failed.map((failure) => [failure.target.key, failure]));
  const failed = (candidate: Candidate, code: string, message: string): Orphan => ({
    ...orphanOf(bucket, candidate, "failed"),
    error: { code, message },
  });
  return orphans.map((candidate, index) => {
    const answer = answers[index] as ItemPresence;
    const { key, etag } = candidate.object;
    if (answer === "present") return orphanOf(bucket, candidate, "kept-recreated");
    if (answer !== "absent") return failed(candidate, "ItemPresenceUnknown", answer.problem);
    // Without its ETag a delete would be unconditional: an object uploaded again since the listing
    // (a week-old inventory, say) for an item not written yet would go.
    if (etag === undefined) {
      return failed(
        candidate,
        "EtagMissing",
        "the listing gave no ETag, so the object is not deleted: a delete without one would be unconditional",
      );
    }
    if (deleted.has(key)) return orphanOf(bucket, candidate, "deleted");
    if (replaced.has(key)) return orphanOf(bucket, candidate, "kept-replaced");
    const failure = failures.get(key);
    return failure === undefined
      ? failed(candidate, "NotReported", "not deleted: the deleter did not report it")
      : failed(candidate, failure.code, failure.message);
  });
}

function orphanOf(bucket: string, { object, itemKey }: Candidate, status: Orphan["status"]): Orphan {
  const orphan: Orphan = {
    bucket,
    key: object.key,
    size: object.size,
    lastModified: object.lastModified,
    itemKey,
    status,
  };
  if (object.etag !== undefined) orphan.etag = object.etag;
  return orphan;
}
