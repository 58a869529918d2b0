/**
 * Plan and execute: collects what the mapped removals own (distinct objects and distinct prefixes,
 * each with every record that owns it), then deletes it within the invocation's signal, or in a dry
 * run only logs it. Between map and report in the handler's flow.
 */
import {
  type DeleteReport,
  type DeleterConfig,
  deleteObjects,
  deleteTargets,
  firstFailure,
  listContext,
  MAX_KEYS_PER_REQUEST,
  openDeletion,
} from "./batch-deleter.js";
import { mapInOrder } from "./concurrency.js";
import type { RecordRef } from "./errors.js";
import { isPrefixTarget, prefixTargetId } from "./key-mapper.js";
import { expandPrefix, type PrefixOutcome } from "./prefix-expander.js";
import { collectOwnership, type Ownership } from "./report.js";
import type { SendRate } from "./send-rate.js";
import type { CleanupTarget, Logger, ObjectTarget, PrefixTarget } from "./types.js";

/** A prefix target and every record that owns it, in record order. */
export interface PrefixOwnership<R> {
  target: PrefixTarget;
  records: R[];
}

/** What the batch deletes: its distinct objects and prefixes, each with its records. */
export interface CleanupPlan<R extends RecordRef> {
  objects: Map<string, Ownership<R>>;
  prefixes: PrefixOwnership<R>[];
}

/** Plans the cleanup of mapped removals. */
export function planCleanup<R extends RecordRef>(
  mapped: readonly { item: R; targets: readonly CleanupTarget[] }[],
): CleanupPlan<R> {
  const prefixes = new Map<string, PrefixOwnership<R>>();
  const objects = collectOwnership(
    mapped.map(({ item, targets }) => {
      const own: ObjectTarget[] = [];
      for (const target of targets) {
        if (!isPrefixTarget(target)) own.push(target);
        else {
          const id = prefixTargetId(target);
          const owner = prefixes.get(id);
          if (owner === undefined) prefixes.set(id, { target, records: [item] });
          else if (!owner.records.includes(item)) owner.records.push(item);
        }
      }
      return { item, targets: own };
    }),
  );
  return { objects, prefixes: [...prefixes.values()] };
}

/** What became of a plan: its objects' report, and each prefix's outcome in the plan's order. */
export interface CleanupOutcome {
  objects: DeleteReport;
  prefixes: PrefixOutcome[];
}

/**
 * Deletes a plan: the objects, and beside them the prefixes, listed at most `concurrency` at once,
 * the first records' first, each page deleted as soon as it is listed. Every request of it shares
 * one limiter, one signal and one listing budget.
 */
export async function executePlan<R extends RecordRef>(
  plan: CleanupPlan<R>,
  config: DeleterConfig,
  signal: AbortSignal,
  sendRate?: SendRate | undefined,
): Promise<CleanupOutcome> {
  const deletion = openDeletion(config, signal, sendRate);
  const list = listContext(deletion);
  const [objects, prefixes] = await Promise.all([
    deleteTargets(
      deletion,
      [...plan.objects.values()].map(({ target }) => target),
    ),
    mapInOrder(plan.prefixes, config.concurrency, ({ target }) =>
      expandPrefix(target, config.versions, list, async (page) => {
        const outcomes = await deleteObjects(deletion, page);
        return { failed: outcomes.failures.size, failure: firstFailure(outcomes, page) };
      }),
    ),
  ]);
  // Prefix pages may have met the refused checksum after the objects were done.
  if (deletion.singlesOnly) objects.fallback = "single-deletes";
  return { objects, prefixes };
}

/**
 * A dry run of a plan: logs the objects it would delete (one info line per 1,000), and lists the
 * prefixes, read-only, logging the objects under them page by page. Deletes nothing. With
 * `versions: "all"` it logs the keys to purge and lists no versions.
 */
export async function previewPlan<R extends RecordRef>(
  plan: CleanupPlan<R>,
  config: DeleterConfig,
  signal: AbortSignal,
  logger: Logger,
): Promise<CleanupOutcome> {
  // The listings share one limiter and budget, as a real run's would.
  const list = listContext(openDeletion(config, signal));
  const log = (targets: readonly ObjectTarget[]) => {
    for (let start = 0; start < targets.length; start += MAX_KEYS_PER_REQUEST) {
      logger.info("Dry run: these objects would be deleted", {
        targets: targets.slice(start, start + MAX_KEYS_PER_REQUEST),
      });
    }
  };
  log([...plan.objects.values()].map(({ target }) => target));
  const prefixes = await mapInOrder(plan.prefixes, config.concurrency, ({ target }) =>
    expandPrefix(target, config.versions, list, async (page) => {
      log(page);
      return { failed: 0, failure: undefined };
    }),
  );
  return { objects: { deleted: [], failed: [], keptReplaced: [] }, prefixes };
}
