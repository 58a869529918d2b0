/**
 * Report: turns what happened to each record into Lambda's partial batch response. Lambda
 * checkpoints at the lowest identifier reported, so every record that still has work must be in it.
 */
import { InvalidRecordError, type RecordRef } from "./errors.js";
import { isSequenceNumber } from "./parse-stream-records.js";
import type { BatchResponse } from "./types.js";

/** Orders two sequence numbers by value: they are digit strings of up to 40 digits. */
export function compareSequenceNumbers(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The partial batch response for the records that must be redelivered: deduplicated, sorted
 * ascending. Throws when one of them has no usable SequenceNumber, because an identifier Lambda
 * cannot use would fail the batch anyway, and leaving the record out would lose its work.
 */
export function buildBatchResponse(mustRetry: Iterable<RecordRef>): BatchResponse {
  const identifiers = new Set<string>();
  for (const record of mustRetry) {
    if (!isSequenceNumber(record.sequenceNumber)) {
      throw new InvalidRecordError(
        record,
        "dynamodb.SequenceNumber",
        "is needed to report this record as failed, and it has no usable one: failing the whole invocation so that Lambda retries the batch",
      );
    }
    identifiers.add(record.sequenceNumber);
  }
  return {
    batchItemFailures: [...identifiers].sort(compareSequenceNumbers).map((itemIdentifier) => ({ itemIdentifier })),
  };
}
