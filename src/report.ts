/**
 * Report: turns what happened to each record into Lambda's partial batch response. Lambda
 * checkpoints at the lowest identifier reported, so every record that still has work must be in it.
 */
import type { FailedTarget } from "./batch-deleter.js";
import { InvalidRecordError, type RecordRef } from "./errors.js";
import { targetId } from "./object-target.js";
import { isSequenceNumber } from "./parse-stream-records.js";
import type { BatchResponse, ObjectTarget } from "./types.js";

/** Orders two sequence numbers by value: they are digit strings of up to 40 digits. */
export function compareSequenceNumbers(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A distinct target and every record that owns it: if it fails, they all must be retried. */
export interface Ownership<R extends RecordRef = RecordRef> {
  target: ObjectTarget;
  records: Set<R>;
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
      if (owner === undefined) {
        // Not `new Set([item])`: building a Set from an array goes through the iterator protocol.
        const records = new Set<R>();
        records.add(item);
        owners.set(id, { target, records });
      } else owner.records.add(item);
    }
  }
  return owners;
}

/** The records that own a failed target. Every target the deleter reports came from `owners`. */
export function ownersOf<R extends RecordRef>(owners: Map<string, Ownership<R>>, failure: FailedTarget): R[] {
  return [...(owners.get(targetId(failure.target)) as Ownership<R>).records];
}

/**
 * The first record that must be reported but has no usable SequenceNumber, as the error to throw:
 * an identifier Lambda cannot use would fail the batch anyway, and leaving the record out would
 * lose its work, so the whole batch must be retried.
 */
export function unreportable(records: Iterable<RecordRef>): InvalidRecordError | undefined {
  for (const record of records) {
    if (!isSequenceNumber(record.sequenceNumber)) {
      const { index, sequenceNumber, eventId } = record;
      return new InvalidRecordError(
        { index, sequenceNumber, eventId },
        "dynamodb.SequenceNumber",
        "is needed to report this record as failed, and it has no usable one: failing the whole invocation so that Lambda retries the batch",
      );
    }
  }
  return undefined;
}

/**
 * The partial batch response for the records that must be redelivered: deduplicated, sorted
 * ascending. Throws the {@link unreportable} error when one of them has no usable SequenceNumber.
 */
export function buildBatchResponse(mustRetry: Iterable<RecordRef>): BatchResponse {
  const records = [...mustRetry];
  const error = unreportable(records);
  if (error !== undefined) throw error;
  const identifiers = new Set(records.map((record) => record.sequenceNumber as string));
  return {
    batchItemFailures: [...identifiers].sort(compareSequenceNumbers).map((itemIdentifier) => ({ itemIdentifier })),
  };
}
