/**
 * On-failure records: what Lambda's event source mapping or an EventBridge pipe sends to its
 * on-failure destination when it discards a batch of a DynamoDB or Kinesis stream, read into a
 * typed {@link DiscardedRange}. Pure; the formats are described in
 * docs/reference-failure-destinations.md.
 *
 * - Event source mapping, to SQS or SNS: `{ requestContext, responseContext, version, timestamp,
 *   DDBStreamBatchInfo | KinesisBatchInfo }`.
 * - EventBridge Pipes DLQ (SQS or SNS): `{ context: { partnerResourceArn, condition }, version,
 *   timestamp, DDBStreamBatchInfo | KinesisBatchInfo }`.
 * - Event source mapping, to S3: the first shape plus `payload`, the invoked event as a JSON string.
 *
 * Through SNS without raw message delivery, SQS receives the SNS notification, whose `Message` holds
 * the record as a string.
 */
import { describeShape, InvalidEventError } from "./errors.js";
import { isSequenceNumber } from "./event-sources.js";

/** One batch a stream consumer gave up on: where it lies in its stream, and who gave up. */
export interface DiscardedRange {
  /** The stream the batch was read from: `DDBStreamBatchInfo` or `KinesisBatchInfo`. */
  source: "dynamodb-streams" | "kinesis";
  /** What discarded the batch: Lambda's event source mapping, or an EventBridge pipe. */
  discardedBy: "event-source-mapping" | "pipe";
  /** The stream's ARN: `arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>`, or a Kinesis stream's. */
  streamArn: string;
  /** The shard the batch was read from. */
  shardId: string;
  /** The sequence number of the batch's first record, a digit string. */
  startSequenceNumber: string;
  /** The sequence number of the batch's last record, a digit string, never below the first. */
  endSequenceNumber: string;
  /** How many records the batch held. */
  batchSize: number;
  /** When the first record reached the stream, as written (ISO 8601; whole seconds for DynamoDB). */
  approximateArrivalOfFirstRecord: string;
  /** When the last record reached the stream, as written. */
  approximateArrivalOfLastRecord: string;
  /** Why the batch was discarded, such as `RetryAttemptsExhausted`, when the record says (any string: the docs list no values). */
  condition?: string | undefined;
  /** When the record was written (its `timestamp`), when it says. */
  discardedAt?: string | undefined;
  /** The function whose invocations failed (`requestContext.functionArn`), for an event source mapping. */
  functionArn?: string | undefined;
  /** The pipe that discarded the batch (`context.partnerResourceArn`), for EventBridge Pipes. */
  pipeArn?: string | undefined;
}

/** What an SQS message of on-failure records turned into: its batch, or why it holds none. */
export type FailureMessage =
  | {
      messageId: string;
      batch: DiscardedRange;
      /** The SNS topic the record came through, when the message is an SNS notification. */
      topicArn?: string | undefined;
    }
  | {
      messageId: string;
      /**
       * The objects an S3 event notification announces (an S3 on-failure destination's bucket
       * notifying the queue): each holds one on-failure record with its records, to read with
       * {@link failureObjectOf}. Empty for S3's test event and for events other than ObjectCreated.
       */
      objects: FailureObjectRef[];
    }
  | {
      messageId: string;
      /** Names the message, the field at fault, and what the message looks like. */
      error: InvalidEventError;
    };

/** An object in S3, as an event notification names it (its key decoded). */
export interface FailureObjectRef {
  bucket: string;
  key: string;
}

/** The record an S3 on-failure destination writes: the batch, and the event that was invoked with it. */
export interface FailureObject {
  batch: DiscardedRange;
  /** `payload`, parsed: the event the function was invoked with, `{ Records: [...] }`. */
  event: { Records: unknown[] };
}

/** Why a value is not an on-failure record: the field at fault (undefined: the whole value) and the problem. */
interface Problem {
  field: string | undefined;
  problem: string;
}

const STREAM_ARN = {
  "dynamodb-streams": /^arn:[^:]+:dynamodb:[^:]*:[^:]*:table\/[^/]+\/stream\/.+$/,
  kinesis: /^arn:[^:]+:kinesis:[^:]*:[^:]*:stream\/.+$/,
} as const;

const STREAM_ARN_RULE = {
  "dynamodb-streams": "must be a DynamoDB stream ARN, arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>",
  kinesis: "must be a Kinesis stream ARN, arn:aws:kinesis:<region>:<account>:stream/<name>",
} as const;

/** An ISO 8601 date-time with a zone, as the records write arrival times: `2026-12-02T09:30:01Z`, `…01.125Z`. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})$/;

const isDateTime = (value: unknown): value is string =>
  typeof value === "string" && DATE_TIME.test(value) && !Number.isNaN(Date.parse(value));

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A field's text for a message: `` `field` `` followed by a space, or nothing for the whole value. */
function describeProblem({ field, problem }: Problem): string {
  return `${field === undefined ? "" : `\`${field}\` `}${problem}`;
}

/**
 * What a value that is no on-failure record looks like, for a message: another AWS event or record
 * when its fields say so, else its shape.
 */
function looksLike(value: unknown): string {
  if (!isObject(value)) return describeShape(value);
  if (Array.isArray(value.Records)) {
    const first = value.Records[0];
    const source = isObject(first) ? (first.eventSource ?? first.EventSource) : undefined;
    if (source === "aws:s3") return "an S3 event notification";
    if (source === "aws:dynamodb") return "a DynamoDB stream event";
    if (source === "aws:kinesis") return "a Kinesis event";
    if (source === "aws:sqs") return "an SQS event";
    if (source === "aws:sns") return "an SNS event";
    return "an event with a Records array";
  }
  if (value.Event === "s3:TestEvent") return "an S3 test event";
  if (value.eventSource === "aws:dynamodb" || isObject(value.dynamodb)) return "a DynamoDB stream record";
  if (isObject(value.kinesis)) return "a Kinesis record";
  if (typeof value.Type === "string") return `an SNS message of Type ${JSON.stringify(value.Type.slice(0, 40))}`;
  if ("requestPayload" in value || "responsePayload" in value) {
    return "a record of an asynchronous invocation (it has requestPayload)";
  }
  if ("detail-type" in value) return "an EventBridge event";
  return describeShape(value);
}

function optionalString(holder: Record<string, unknown>, name: string, path: string): string | undefined | Problem {
  const value = holder[name];
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" ? value : { field: path, problem: `must be a string (got ${describeShape(value)})` };
}

const isProblem = (value: unknown): value is Problem => isObject(value) && "problem" in value;

/** Reads `DDBStreamBatchInfo` or `KinesisBatchInfo`. */
function readBatchInfo(
  info: unknown,
  source: DiscardedRange["source"],
  name: string,
): Omit<DiscardedRange, "discardedBy"> | Problem {
  if (!isObject(info)) return { field: name, problem: `must be an object (got ${describeShape(info)})` };
  const { shardId, startSequenceNumber, endSequenceNumber, batchSize, streamArn } = info;
  if (typeof streamArn !== "string" || !STREAM_ARN[source].test(streamArn)) {
    return { field: `${name}.streamArn`, problem: STREAM_ARN_RULE[source] };
  }
  if (typeof shardId !== "string" || shardId === "") {
    return { field: `${name}.shardId`, problem: `must be a non-empty string (got ${describeShape(shardId)})` };
  }
  for (const [field, value] of [
    ["startSequenceNumber", startSequenceNumber],
    ["endSequenceNumber", endSequenceNumber],
  ] as const) {
    if (!isSequenceNumber(value)) {
      return { field: `${name}.${field}`, problem: "must be a string of digits" };
    }
  }
  const start = startSequenceNumber as string;
  const end = endSequenceNumber as string;
  if (BigInt(start) > BigInt(end)) {
    return { field: `${name}.endSequenceNumber`, problem: `must not be below startSequenceNumber ${start}` };
  }
  // isSafeInteger is false for anything but a number.
  if (!Number.isSafeInteger(batchSize) || (batchSize as number) < 1) {
    return { field: `${name}.batchSize`, problem: "must be a positive integer" };
  }
  const arrivals: string[] = [];
  for (const field of ["approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord"] as const) {
    const value = info[field];
    if (!isDateTime(value)) {
      return {
        field: `${name}.${field}`,
        problem: "must be an ISO 8601 date-time string, such as 2026-12-02T09:30:01Z",
      };
    }
    arrivals.push(value);
  }
  return {
    source,
    streamArn,
    shardId,
    startSequenceNumber: start,
    endSequenceNumber: end,
    batchSize: batchSize as number,
    approximateArrivalOfFirstRecord: arrivals[0] as string,
    approximateArrivalOfLastRecord: arrivals[1] as string,
  };
}

/** Who discarded the batch, from the record's envelope: `requestContext` (Lambda) or `context` (Pipes). */
function readEnvelope(
  record: Record<string, unknown>,
): Pick<DiscardedRange, "discardedBy" | "condition" | "functionArn" | "pipeArn"> | Problem {
  const { requestContext, context } = record;
  if (isObject(requestContext)) {
    const condition = optionalString(requestContext, "condition", "requestContext.condition");
    if (isProblem(condition)) return condition;
    const functionArn = optionalString(requestContext, "functionArn", "requestContext.functionArn");
    if (isProblem(functionArn)) return functionArn;
    return { discardedBy: "event-source-mapping", condition, functionArn };
  }
  if (isObject(context)) {
    const { partnerResourceArn } = context;
    if (typeof partnerResourceArn !== "string" || partnerResourceArn === "") {
      return {
        field: "context.partnerResourceArn",
        problem: `must be the pipe's ARN (got ${describeShape(partnerResourceArn)})`,
      };
    }
    const condition = optionalString(context, "condition", "context.condition");
    if (isProblem(condition)) return condition;
    return { discardedBy: "pipe", condition, pipeArn: partnerResourceArn };
  }
  return notARecord(record);
}

/** The problem of an object with neither `requestContext` (Lambda) nor `context` (Pipes). */
function notARecord(record: Record<string, unknown>): Problem {
  return {
    field: undefined,
    problem: `is not an on-failure record: it has neither requestContext nor context (it looks like ${looksLike(record)})`,
  };
}

/** Reads one on-failure record; returns the problem instead of throwing. */
function readFailureRecord(value: unknown): DiscardedRange | Problem {
  if (!isObject(value)) {
    return { field: undefined, problem: `is not an on-failure record (it looks like ${looksLike(value)})` };
  }
  const hasDynamoDb = value.DDBStreamBatchInfo !== undefined;
  const hasKinesis = value.KinesisBatchInfo !== undefined;
  if (hasDynamoDb && hasKinesis) {
    return {
      field: undefined,
      problem: "has both DDBStreamBatchInfo and KinesisBatchInfo: one batch comes from one stream",
    };
  }
  if (!hasDynamoDb && !hasKinesis) {
    if (!isObject(value.requestContext) && !isObject(value.context)) return notARecord(value);
    return {
      field: undefined,
      problem: `is not an on-failure record of a stream: it has no DDBStreamBatchInfo or KinesisBatchInfo (it looks like ${looksLike(value)})`,
    };
  }
  const envelope = readEnvelope(value);
  if (isProblem(envelope)) return envelope;
  const info = hasDynamoDb
    ? readBatchInfo(value.DDBStreamBatchInfo, "dynamodb-streams", "DDBStreamBatchInfo")
    : readBatchInfo(value.KinesisBatchInfo, "kinesis", "KinesisBatchInfo");
  if (isProblem(info)) return info;
  const discardedAt = optionalString(value, "timestamp", "timestamp");
  if (isProblem(discardedAt)) return discardedAt;
  const batch: DiscardedRange = { ...info, discardedBy: envelope.discardedBy };
  if (envelope.condition !== undefined) batch.condition = envelope.condition;
  if (discardedAt !== undefined) batch.discardedAt = discardedAt;
  if (envelope.functionArn !== undefined) batch.functionArn = envelope.functionArn;
  if (envelope.pipeArn !== undefined) batch.pipeArn = envelope.pipeArn;
  return batch;
}

/**
 * Reads the record Lambda's event source mapping or an EventBridge pipe writes when it discards a
 * batch of a DynamoDB or Kinesis stream. Sequence numbers stay digit strings; `endSequenceNumber` is
 * checked not to be below `startSequenceNumber`, compared as integers.
 *
 * Throws {@link InvalidEventError} naming the field at fault, or what the value looks like when it
 * is no on-failure record at all.
 *
 * @example
 * ```ts
 * const batch = batchOfFailureRecord(JSON.parse(sqsRecord.body));
 * // { source: "dynamodb-streams", shardId, startSequenceNumber, endSequenceNumber, ... }
 * ```
 */
export function batchOfFailureRecord(value: unknown): DiscardedRange {
  const result = readFailureRecord(value);
  if (isProblem(result)) throw new InvalidEventError(`The on-failure record ${describeProblem(result)}`);
  return result;
}

function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) };
  } catch {
    // Not JSON: undefined, and the caller names what the text should have been.
  }
}

/** Opens one SQS message: its body, unwrapped from an SNS notification, read as an on-failure record. */
function readMessage(messageId: string, body: unknown): FailureMessage {
  const fail = (problem: string): FailureMessage => ({
    messageId,
    error: new InvalidEventError(`message ${messageId}: ${problem}`),
  });
  if (typeof body !== "string") return fail(`\`body\` must be a string (got ${describeShape(body)})`);
  const parsed = parseJson(body);
  if (parsed === undefined) return fail("`body` is not JSON, so it is not an on-failure record");
  let record = parsed.value;
  let topicArn: string | undefined;
  let via = "";
  if (isObject(record) && record.Type === "Notification" && typeof record.Message === "string") {
    topicArn = typeof record.TopicArn === "string" ? record.TopicArn : undefined;
    via = ` (an SNS notification${topicArn === undefined ? "" : ` of ${topicArn}`})`;
    const message = parseJson(record.Message);
    if (message === undefined)
      return fail(`the SNS notification's \`Message\` is not JSON, so it is not an on-failure record`);
    record = message.value;
  }
  if (isS3Notification(record)) {
    const objects = objectsOf(record);
    return isProblem(objects)
      ? fail(`the S3 event notification's ${describeProblem(objects)}`)
      : { messageId, objects };
  }
  const result = readFailureRecord(record);
  if (isProblem(result)) return fail(`the body${via} ${describeProblem(result)}`);
  return topicArn === undefined ? { messageId, batch: result } : { messageId, batch: result, topicArn };
}

/** S3's test event, or an event notification whose first record comes from S3. */
function isS3Notification(value: unknown): value is Record<string, unknown> {
  if (!isObject(value)) return false;
  if (value.Event === "s3:TestEvent") return true;
  const first: unknown = Array.isArray(value.Records) ? value.Records[0] : undefined;
  return isObject(first) && first.eventSource === "aws:s3";
}

/**
 * The objects an S3 event notification says were created. Keys arrive URL-encoded, spaces as `+`
 * (S3's event message structure), and are decoded here.
 */
function objectsOf(notification: Record<string, unknown>): FailureObjectRef[] | Problem {
  const records: unknown[] = Array.isArray(notification.Records) ? notification.Records : [];
  const objects: FailureObjectRef[] = [];
  for (const [index, record] of records.entries()) {
    const path = `Records[${index}]`;
    if (!isObject(record) || record.eventSource !== "aws:s3") {
      return { field: path, problem: `must be an S3 event record (got ${describeShape(record)})` };
    }
    if (typeof record.eventName !== "string" || !record.eventName.startsWith("ObjectCreated:")) continue;
    const s3 = isObject(record.s3) ? record.s3 : {};
    const bucket = isObject(s3.bucket) ? s3.bucket.name : undefined;
    const key = isObject(s3.object) ? s3.object.key : undefined;
    const missing =
      nonEmptyProblem(bucket, `${path}.s3.bucket.name`, "a bucket name") ??
      nonEmptyProblem(key, `${path}.s3.object.key`, "an object key");
    if (missing !== undefined) return missing;
    const decoded = decodeKey(key as string);
    if (decoded === undefined) {
      return { field: `${path}.s3.object.key`, problem: `is not URL-encoded as S3 writes it: ${JSON.stringify(key)}` };
    }
    objects.push({ bucket: bucket as string, key: decoded });
  }
  return objects;
}

function nonEmptyProblem(value: unknown, field: string, what: string): Problem | undefined {
  if (typeof value !== "string") return { field, problem: `must be ${what} (got ${describeShape(value)})` };
  return value === "" ? { field, problem: `must be ${what}, and is empty` } : undefined;
}

function decodeKey(key: string): string | undefined {
  try {
    return decodeURIComponent(key.replaceAll("+", " "));
  } catch {
    // A "%" without two hex digits after it, or bytes that are no UTF-8: undefined.
  }
}

/**
 * Reads every message of an SQS event whose bodies are on-failure records, one discarded batch per
 * message: the record as Lambda or EventBridge Pipes writes it, or wrapped in an SNS notification
 * (an SQS queue subscribed to an SNS topic without raw message delivery).
 *
 * Each message gets its own result, in the event's order: its batch, or an {@link InvalidEventError}
 * naming the message, the field at fault and what the body looks like ("not JSON", "an S3 event
 * notification", "a DynamoDB stream record"). One bad message never hides the others.
 *
 * Throws InvalidEventError only when the event is no SQS event: no `Records` array, a record without
 * a `messageId`, or a record from another service. No message of it could be reported.
 *
 * @example
 * ```ts
 * for (const message of failureMessagesOf(event)) {
 *   if ("error" in message) logger.error(message.error.message);
 *   else await replay(message.batch);
 * }
 * ```
 */
export function failureMessagesOf(event: unknown): FailureMessage[] {
  const records = isObject(event) ? event.Records : undefined;
  if (!Array.isArray(records)) {
    throw new InvalidEventError(
      `The event has no Records array (got ${describeShape(event)}): the replay function must be subscribed to the SQS queue of on-failure records`,
    );
  }
  records.forEach((record, index) => {
    const source = isObject(record) ? record.eventSource : undefined;
    if (source !== undefined && source !== "aws:sqs") {
      throw new InvalidEventError(
        `The event is not an SQS event: record ${index} has eventSource ${JSON.stringify(String(source).slice(0, 40))} (it looks like ${looksLike(event)}); the replay function must be subscribed to the SQS queue of on-failure records`,
      );
    }
    if (!isObject(record) || typeof record.messageId !== "string" || record.messageId === "") {
      throw new InvalidEventError(
        `The event is not an SQS event: record ${index} has no messageId (got ${describeShape(record)})`,
      );
    }
  });
  return records.map((record) => {
    const { messageId, body } = record as { messageId: string; body: unknown };
    return readMessage(messageId, body);
  });
}

/**
 * Reads an object written by an S3 on-failure destination of Lambda's event source mapping: the
 * on-failure record plus `payload`, the event the function was invoked with, as a JSON string.
 * Takes the object's content as text.
 *
 * Throws {@link InvalidEventError} naming the object and the field at fault.
 *
 * @example
 * ```ts
 * const { batch, event } = failureObjectOf(key, await body.transformToString());
 * const parsed = parseStreamRecords(event);
 * ```
 */
export function failureObjectOf(key: string, text: string): FailureObject {
  const fail = (problem: string) => new InvalidEventError(`object ${key}: ${problem}`);
  const parsed = parseJson(text);
  if (parsed === undefined) throw fail("is not JSON, so it is not an on-failure record");
  const result = readFailureRecord(parsed.value);
  if (isProblem(result)) throw fail(`the record ${describeProblem(result)}`);
  const payload = (parsed.value as Record<string, unknown>).payload;
  if (typeof payload !== "string") {
    throw fail(`\`payload\` must be the invoked event as a JSON string (got ${describeShape(payload)})`);
  }
  const event = parseJson(payload);
  if (event === undefined) throw fail("`payload` is not JSON");
  if (!isObject(event.value) || !Array.isArray(event.value.Records)) {
    throw fail(`\`payload\` must hold an event with a Records array (got ${describeShape(event.value)})`);
  }
  return { batch: result, event: { ...event.value, Records: event.value.Records } };
}
