/**
 * On-failure records for tests, in the shapes AWS writes them: the record of Lambda's event source
 * mapping (requestContext, responseContext, DDBStreamBatchInfo or KinesisBatchInfo), an EventBridge
 * pipe's dead-letter record (context), the SNS notification that wraps either, the SQS message that
 * carries a body, and S3's event notification of an object written by an S3 on-failure destination.
 *
 * Every builder takes overrides and defaults to one discarded batch of three DynamoDB stream records,
 * so a test names only the fields it is about. `discardedRange` is what the library reads back from
 * the default record.
 */
import type { DiscardedRange } from "../src/failure-destination-records.js";

export const STREAM_ARN = "arn:aws:dynamodb:eu-west-1:111122223333:table/products/stream/2026-11-30T08:15:00.000";
export const KINESIS_ARN = "arn:aws:kinesis:eu-west-1:111122223333:stream/products-changes";
export const FUNCTION_ARN = "arn:aws:lambda:eu-west-1:111122223333:function:products-cleanup";
export const PIPE_ARN = "arn:aws:pipes:eu-west-1:111122223333:pipe/products-cleanup";
export const TOPIC_ARN = "arn:aws:sns:eu-west-1:111122223333:products-cleanup-failures";
export const QUEUE_ARN = "arn:aws:sqs:eu-west-1:111122223333:products-cleanup-failures";
export const REQUEST_ID = "0e5b7a2c-3d4f-4a1b-9c8d-7e6f5a4b3c2d";
export const SHARD_ID = "shardId-00000001764489300000-1a2b3c4d";
/** The first and last sequence numbers of the default batch (27 digits, like DynamoDB's). */
export const START_SEQUENCE_NUMBER = "470000000000000012345678901";
export const END_SEQUENCE_NUMBER = "470000000000000012345678955";
/** When the default batch was discarded: the `timestamp` of the event source mapping's record. */
export const DISCARDED_AT = "2026-12-02T09:31:12.345Z";

/** DDBStreamBatchInfo of a batch of three records, as Lambda writes it, with `fields` replaced. */
export function dynamoDbBatchInfo(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    shardId: SHARD_ID,
    startSequenceNumber: START_SEQUENCE_NUMBER,
    endSequenceNumber: END_SEQUENCE_NUMBER,
    approximateArrivalOfFirstRecord: "2026-12-02T09:30:01Z",
    approximateArrivalOfLastRecord: "2026-12-02T09:30:04Z",
    batchSize: 3,
    streamArn: STREAM_ARN,
    ...fields,
  };
}

/** KinesisBatchInfo of a batch of two records (Kinesis keeps milliseconds), with `fields` replaced. */
export function kinesisBatchInfo(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    shardId: "shardId-000000000002",
    startSequenceNumber: "49658000000000000000000000000000000000000000000000000017",
    endSequenceNumber: "49658000000000000000000000000000000000000000000000000042",
    approximateArrivalOfFirstRecord: "2026-12-02T09:30:01.125Z",
    approximateArrivalOfLastRecord: "2026-12-02T09:30:01.750Z",
    batchSize: 2,
    streamArn: KINESIS_ARN,
    ...fields,
  };
}

/**
 * The record Lambda's event source mapping sends to an SQS, SNS or S3 destination, after four
 * invocations that threw; `info` holds the batch info (and any other top-level field).
 */
export function esmRecord(
  info: Record<string, unknown> = { DDBStreamBatchInfo: dynamoDbBatchInfo() },
): Record<string, unknown> {
  return {
    requestContext: {
      requestId: REQUEST_ID,
      functionArn: FUNCTION_ARN,
      condition: "RetryAttemptsExhausted",
      approximateInvokeCount: 4,
    },
    responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
    version: "1.0",
    timestamp: DISCARDED_AT,
    ...info,
  };
}

/** The record an EventBridge pipe sends to its dead-letter queue (its timestamp has no milliseconds). */
export function pipeRecord(
  info: Record<string, unknown> = { DDBStreamBatchInfo: dynamoDbBatchInfo() },
): Record<string, unknown> {
  return {
    context: { partnerResourceArn: PIPE_ARN, condition: "RecordAgeExceeded" },
    version: "1.0",
    timestamp: "2026-12-02T09:31:12Z",
    ...info,
  };
}

/** What the library reads from the default `esmRecord()`, with `fields` replaced. */
export function discardedRange(fields: Partial<DiscardedRange> = {}): DiscardedRange {
  return {
    source: "dynamodb-streams",
    discardedBy: "event-source-mapping",
    streamArn: STREAM_ARN,
    shardId: SHARD_ID,
    startSequenceNumber: START_SEQUENCE_NUMBER,
    endSequenceNumber: END_SEQUENCE_NUMBER,
    batchSize: 3,
    approximateArrivalOfFirstRecord: "2026-12-02T09:30:01Z",
    approximateArrivalOfLastRecord: "2026-12-02T09:30:04Z",
    condition: "RetryAttemptsExhausted",
    discardedAt: DISCARDED_AT,
    functionArn: FUNCTION_ARN,
    ...fields,
  };
}

/** An SNS notification of `message`, as SQS receives it from a subscription without raw message delivery. */
export function snsNotification(message: string): Record<string, unknown> {
  return {
    Type: "Notification",
    MessageId: "5f6e7d8c-0000-4000-8000-000000000001",
    TopicArn: TOPIC_ARN,
    Message: message,
    Timestamp: "2026-12-02T09:31:12.400Z",
    SignatureVersion: "1",
    Signature: "c2lnbmF0dXJl",
    SigningCertURL: "https://sns.example.invalid/cert.pem",
    UnsubscribeURL: "https://sns.example.invalid/unsubscribe",
  };
}

/** One record of S3's event notification: `eventName` of the object `key` in `bucket`, both as S3 encodes them. */
export function s3EventRecord(bucket: unknown, key: unknown, eventName = "ObjectCreated:Put"): Record<string, unknown> {
  return { eventSource: "aws:s3", eventName, s3: { bucket: { name: bucket }, object: { key } } };
}

/** The event notification S3 sends when an S3 on-failure destination writes the objects `keys` to `bucket`. */
export function s3Notification(bucket: string, ...keys: string[]): { Records: Record<string, unknown>[] } {
  return { Records: keys.map((key) => s3EventRecord(bucket, key)) };
}

/** A message of an SQS event as Lambda delivers it; `body` is a string unless a test wants a refusal. */
export interface SqsMessage<Body = unknown> {
  messageId: string;
  receiptHandle: string;
  body: Body;
  attributes: Record<string, string>;
  messageAttributes: Record<string, unknown>;
  md5OfBody: string;
  eventSource: "aws:sqs";
  eventSourceARN: string;
  awsRegion: string;
}

/** An SQS message carrying `body` as it is: a string, or (to test refusals) anything else. */
export function sqsMessage<Body>(messageId: string, body: Body): SqsMessage<Body> {
  return {
    messageId,
    receiptHandle: `receipt-${messageId}`,
    body,
    attributes: { ApproximateReceiveCount: "1", SentTimestamp: "1764667872345" },
    messageAttributes: {},
    md5OfBody: "0",
    eventSource: "aws:sqs",
    eventSourceARN: QUEUE_ARN,
    awsRegion: "eu-west-1",
  };
}

/** An SQS message whose body is `value` in JSON, as a destination queue holds a record or a notification. */
export const jsonMessage = (messageId: string, value: unknown): SqsMessage<string> =>
  sqsMessage(messageId, JSON.stringify(value));

/** The SQS event Lambda gives the replay function for these messages. */
export const sqsEvent = <Message>(...messages: Message[]): { Records: Message[] } => ({ Records: messages });
