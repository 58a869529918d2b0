/**
 * The writer's side of on-failure records: the JSON document Lambda's event source mapping sends
 * to an on-failure destination when it discards a batch of a DynamoDB stream, and the key an S3
 * destination stores it under. Pure. The formats, and the AWS pages they come from, are in
 * docs/reference-failure-destinations.md; src/failure-destination-records.ts reads them.
 */
import type { StreamRecord } from "../types.js";

/** What {@link failureRecordOf} needs to know about a discarded batch and the invocation that gave up. */
export interface FailureRecordInput {
  /** The stream the records were read from: `DDBStreamBatchInfo.streamArn`. */
  streamArn: string;
  /** The shard the records were read from. */
  shardId: string;
  /**
   * The discarded records, Lambda-shaped and in stream order: the first and last give the range and
   * the arrival times. At least one, each with `dynamodb.SequenceNumber`.
   */
  records: readonly StreamRecord[];
  /** How many times the function was invoked with them: `requestContext.approximateInvokeCount`. */
  attempts: number;
  /** The function whose invocations failed: `requestContext.functionArn`. */
  functionArn: string;
  /** The request id of the last invocation: `requestContext.requestId`. */
  requestId: string;
  /**
   * `responseContext.functionError` of the last invocation: `"Unhandled"` when the function threw
   * or timed out; absent when it returned (a partial batch response).
   */
  functionError?: string | undefined;
  /** When the batch was discarded: the record's `timestamp`, and the date in an S3 key. */
  discardedAt: Date;
}

/** `DDBStreamBatchInfo` of an on-failure record: where the discarded batch lies in the stream. */
export interface DynamoDBStreamBatchInfo {
  shardId: string;
  /** The SequenceNumber of the first discarded record, as the stream wrote it. */
  startSequenceNumber: string;
  /** The SequenceNumber of the last discarded record. */
  endSequenceNumber: string;
  /** ISO 8601 in whole seconds, as DynamoDB Streams records arrival: `2026-12-02T09:30:01Z`. */
  approximateArrivalOfFirstRecord: string;
  approximateArrivalOfLastRecord: string;
  batchSize: number;
  streamArn: string;
}

/**
 * The record Lambda's event source mapping sends to an SQS queue or SNS topic when it discards a
 * batch of a DynamoDB stream. An S3 destination stores the same with `payload`.
 */
export interface FailureRecord {
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: "RetryAttemptsExhausted";
    approximateInvokeCount: number;
  };
  responseContext: { statusCode: number; executedVersion: string; functionError?: string };
  version: "1.0";
  /** ISO 8601 with milliseconds. */
  timestamp: string;
  DDBStreamBatchInfo: DynamoDBStreamBatchInfo;
  /** Only in an S3 destination's object: the discarded records as an event, `{"Records":[...]}`, in a JSON string. */
  payload?: string;
}

/** `2026-12-02T09:30:01Z`: ISO 8601 cut to whole seconds, as DynamoDB Streams records times. */
function isoSeconds(epochSeconds: number): string {
  return new Date(Math.floor(epochSeconds) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function sequenceNumberOf(record: StreamRecord, index: number): string {
  const sequenceNumber = record.dynamodb?.SequenceNumber;
  if (typeof sequenceNumber !== "string") {
    throw new TypeError(`failureRecordOf: record ${index} has no dynamodb.SequenceNumber`);
  }
  return sequenceNumber;
}

/**
 * The on-failure record of a batch Lambda's event source mapping discarded after its retries
 * (`condition` `RetryAttemptsExhausted`), field for field as Lambda writes it to an SQS queue or SNS
 * topic: `requestContext`, `responseContext` (status 200 and `$LATEST`, as a synchronous invoke of
 * an unpublished function answers), `version` `"1.0"`, `timestamp`, and `DDBStreamBatchInfo`. The
 * arrival times come from the first and last records' `ApproximateCreationDateTime` (or
 * `discardedAt` for a record without one). With `payload: true` it is what an S3 destination
 * stores: the same plus `payload`, the records as the event `{"Records":[...]}` in a JSON string.
 *
 * Throws a TypeError when `records` is empty or a record has no `dynamodb.SequenceNumber`.
 *
 * @example
 * ```ts
 * const body = JSON.stringify(
 *   failureRecordOf({ streamArn, shardId, records, attempts: 4, functionArn, requestId, discardedAt: new Date() }),
 * );
 * ```
 */
export function failureRecordOf(input: FailureRecordInput, options: { payload?: boolean } = {}): FailureRecord {
  const { records, discardedAt } = input;
  const first = records[0];
  const last = records[records.length - 1];
  if (first === undefined || last === undefined) throw new TypeError("failureRecordOf: no records to discard");
  const sequenceNumbers = records.map(sequenceNumberOf);
  const arrivalOf = (record: StreamRecord) =>
    isoSeconds(record.dynamodb?.ApproximateCreationDateTime ?? discardedAt.getTime() / 1000);
  return {
    requestContext: {
      requestId: input.requestId,
      functionArn: input.functionArn,
      condition: "RetryAttemptsExhausted",
      approximateInvokeCount: input.attempts,
    },
    responseContext: {
      statusCode: 200,
      executedVersion: "$LATEST",
      ...(input.functionError === undefined ? {} : { functionError: input.functionError }),
    },
    version: "1.0",
    timestamp: discardedAt.toISOString(),
    DDBStreamBatchInfo: {
      shardId: input.shardId,
      startSequenceNumber: sequenceNumbers[0] as string,
      endSequenceNumber: sequenceNumbers[sequenceNumbers.length - 1] as string,
      approximateArrivalOfFirstRecord: arrivalOf(first),
      approximateArrivalOfLastRecord: arrivalOf(last),
      batchSize: records.length,
      streamArn: input.streamArn,
    },
    ...(options.payload === true ? { payload: JSON.stringify({ Records: records }) } : {}),
  };
}

/**
 * The key an S3 on-failure destination stores a record under:
 * `aws/lambda/<mapping UUID>/<shard id>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<id>`, in UTC.
 *
 * @example
 * ```ts
 * failureObjectKeyOf({ mappingUuid, shardId, discardedAt: new Date(), id: randomUUID() });
 * // "aws/lambda/9f1c…/shardId-000…/2026/12/02/2026-12-02T09.31.12-5b0e…"
 * ```
 */
export function failureObjectKeyOf(where: {
  mappingUuid: string;
  shardId: string;
  discardedAt: Date;
  id: string;
}): string {
  const iso = where.discardedAt.toISOString();
  const [year, month, day] = iso.slice(0, 10).split("-");
  const time = iso.slice(0, 19).replaceAll(":", ".");
  return `aws/lambda/${where.mappingUuid}/${where.shardId}/${year}/${month}/${day}/${time}-${where.id}`;
}
