/**
 * Report: turns what happened to each record into the partial batch response. Lambda checkpoints
 * at the lowest sequence number reported and Pipes retries the eventIDs reported, so every record
 * that still has work must be in it.
 */
import type { FailedTarget } from "./batch-deleter.js";
import type { CleanupOutcome, CleanupPlan } from "./cleanup-plan.js";
import { InvalidRecordError, type RecordRef, refOf } from "./errors.js";
import { DYNAMODB_STREAMS, type EventSource } from "./event-sources.js";
import { targetId } from "./object-target.js";
import type { Failure } from "./s3-errors.js";
import type { BatchResponse, CleanupSummary, EventSourceKind, Logger, ObjectTarget } from "./types.js";

/** Orders two sequence numbers by value: they are digit strings of up to 40 digits. */
export function compareSequenceNumbers(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * A distinct target and every record that owns it: if it fails, they all must be retried. Most
 * targets have one owner, so further owners get a Set only when there are some: for a batch of
 * thousands of records, a Set per target is most of this map's memory.
 */
export interface Ownership<R extends RecordRef = RecordRef> {
  target: ObjectTarget;
  /** The first record that owns the target. */
  owner: R;
  /** The other records that own it, when there are any. */
  others: Set<R> | undefined;
}

/** Collects the distinct targets of the mapped records, each with the records that own it. */
export function collectOwnership<R extends RecordRef>(
  mapped: Iterable<{ item: R; targets: readonly ObjectTarget[] }>,
): Map<string, Ownership<R>> {
  const owners = new Map<string, Ownership<R>>();
  for (const { item, targets } of mapped) {
    for (const target of targets) {
      const id = targetId(target);
      const owner = owners.get(id);
      if (owner === undefined) owners.set(id, { target, owner: item, others: undefined });
      else if (owner.owner !== item) {
        owner.others ??= new Set<R>();
        owner.others.add(item);
      }
    }
  }
  return owners;
}

/** The records that own a failed target. Every target the deleter reports came from `owners`. */
export function ownersOf<R extends RecordRef>(owners: Map<string, Ownership<R>>, failure: FailedTarget): R[] {
  return recordsOf(owners.get(targetId(failure.target)) as Ownership<R>);
}

/** Every record that owns a target, the first one first. */
export function recordsOf<R extends RecordRef>({ owner, others }: Ownership<R>): R[] {
  return others === undefined ? [owner] : [owner, ...others];
}

/**
 * The first record that must be reported but has no usable identifier, as the error to throw: an
 * identifier the source cannot use would fail the batch anyway, and leaving the record out would
 * lose its work, so the whole batch must be retried.
 */
export function unreportable(
  records: Iterable<RecordRef>,
  source: EventSource = DYNAMODB_STREAMS,
): InvalidRecordError | undefined {
  for (const record of records) {
    if (!source.isIdentifier(record.itemIdentifier)) {
      return new InvalidRecordError(
        refOf(record),
        source.identifierField,
        "is needed to report this record as failed, and it has no usable one: failing the whole invocation so that the batch is retried",
      );
    }
  }
  return undefined;
}

/**
 * The partial batch response for the records that must be redelivered, each identifier once:
 * sequence numbers sorted ascending by value, Pipes' eventIDs in batch order. Throws the
 * {@link unreportable} error when one of them has no usable identifier.
 */
export function buildBatchResponse(
  mustRetry: Iterable<RecordRef>,
  source: EventSource = DYNAMODB_STREAMS,
): BatchResponse {
  const records = [...mustRetry];
  const error = unreportable(records, source);
  if (error !== undefined) throw error;
  const ordered = source.ordersByValue
    ? records.map((record) => record.itemIdentifier as string).sort(compareSequenceNumbers)
    : records.sort((a, b) => a.index - b.index).map((record) => record.itemIdentifier as string);
  return { batchItemFailures: [...new Set(ordered)].map((itemIdentifier) => ({ itemIdentifier })) };
}

/** What a batch left undone, for {@link recordsToRetry}. */
export interface Undone<R extends RecordRef> {
  plan: CleanupPlan<R>;
  outcome: CleanupOutcome;
  /** Records that could not be parsed or mapped, in batch order. */
  invalid: readonly (RecordRef & { error: Error })[];
  /** Records whose key function the signal cut off. */
  cutOff: readonly R[];
  onInvalidRecord: "fail" | "skip";
  dryRun: boolean;
}

/**
 * Every record that must be redelivered, each failure logged at warn with the records it concerns:
 * invalid records (under `onInvalidRecord: "fail"`), records cut off before they were mapped, the
 * owners of every object not deleted, and of every prefix not done. A dry run deletes nothing, so
 * its unfinished prefixes are only logged: a redelivery would list the very same objects.
 */
export function recordsToRetry<R extends RecordRef>(
  { plan, outcome, invalid, cutOff, onInvalidRecord, dryRun }: Undone<R>,
  logger: Logger,
): RecordRef[] {
  for (const record of invalid) {
    logger.warn(onInvalidRecord === "fail" ? "Invalid record, reported as failed" : "Invalid record, skipped", {
      ...refOf(record),
      error: record.error.message,
    });
  }
  const mustRetry: RecordRef[] = onInvalidRecord === "fail" ? [...invalid] : [];
  if (cutOff.length > 0) {
    logger.warn("Records not mapped: the time budget ran out first", { itemIdentifiers: identifiers(cutOff) });
    mustRetry.push(...cutOff);
  }
  plan.prefixes.forEach(({ target, records }, i) => {
    const failure = outcome.prefixes[i]?.failure;
    if (failure === undefined) return;
    logger.warn(dryRun ? "Dry run: prefix not fully listed" : "Prefix not fully deleted", {
      bucket: target.bucket,
      prefix: target.prefix,
      ...failureFields(failure),
      itemIdentifiers: identifiers(records),
    });
    if (!dryRun) mustRetry.push(...records);
  });
  for (const failure of outcome.objects.failed) {
    const owning = ownersOf(plan.objects, failure);
    const { target } = failure;
    logger.warn("Object not deleted", {
      bucket: target.bucket,
      key: target.key,
      versionId: target.versionId,
      ...failureFields(failure),
      itemIdentifiers: identifiers(owning),
    });
    mustRetry.push(...owning);
  }
  for (const kept of outcome.objects.keptReplaced) {
    logger.debug("Object kept: replaced since its item was written", {
      bucket: kept.bucket,
      key: kept.key,
      versionId: kept.versionId,
    });
  }
  return mustRetry;
}

/** The identifiers of records, for a log line: what `batchItemFailures` would report for each. */
function identifiers(records: readonly RecordRef[]): (string | undefined)[] {
  return records.map((record) => record.itemIdentifier);
}

/** What a batch came to, for its summary line. */
export interface Tally {
  source: EventSourceKind;
  /** Records in the event. */
  records: number;
  skipped: number;
  invalid: number;
  /** The removals mapped, each with its targets. */
  mapped: readonly { targets: readonly unknown[] }[];
  plan: CleanupPlan<RecordRef>;
  outcome: CleanupOutcome;
  /** Removals whose item exists again (`verifyAbsent`): their objects were kept. */
  keptRecreated: number;
  /** Undefined when the handler throws instead of answering. */
  batchItemFailures: number | undefined;
  aborted: boolean;
  durationMs: number;
  dryRun: boolean;
}

/** The summary line's fields (and `onResult`'s argument) for a batch. */
export function summaryOf(tally: Tally): CleanupSummary {
  const { plan, outcome, dryRun } = tally;
  const listed = outcome.prefixes.reduce((sum, prefix) => sum + prefix.listed, 0);
  const failedUnderPrefixes = outcome.prefixes.reduce((sum, prefix) => sum + prefix.failed, 0);
  return {
    source: tally.source,
    records: tally.records,
    removals: tally.mapped.length,
    withoutObjects: tally.mapped.filter((removal) => removal.targets.length === 0).length,
    skipped: tally.skipped,
    invalid: tally.invalid,
    targets: plan.objects.size + listed,
    deleted: dryRun ? 0 : outcome.objects.deleted.length + listed - failedUnderPrefixes,
    failed: outcome.objects.failed.length + failedUnderPrefixes,
    keptReplaced: outcome.objects.keptReplaced.length,
    keptRecreated: tally.keptRecreated,
    fallback: outcome.objects.fallback ?? "none",
    batchItemFailures: tally.batchItemFailures,
    aborted: tally.aborted,
    durationMs: tally.durationMs,
    dryRun,
  };
}

/** A plan and outcome with nothing in them, for a batch that fails before anything is done. */
export const NOTHING_DONE: Pick<Undone<RecordRef>, "plan" | "outcome" | "cutOff"> = {
  plan: { objects: new Map(), prefixes: [] },
  outcome: { objects: { deleted: [], failed: [], keptReplaced: [] }, prefixes: [] },
  cutOff: [],
};

/**
 * A failure as log fields: its message goes under `error`, as in the other lines, so that it never
 * clashes with the line's own `message` (which the JSON logger and Powertools keep for themselves).
 */
function failureFields({ code, message, retryable }: Failure): { code: string; error: string; retryable: boolean } {
  return { code, error: message, retryable };
}
