/**
 * Event sources: the same DynamoDB stream records reach a function in three shapes. Each source
 * adapter recognises its shape and opens every record into the DynamoDB record inside it, with the
 * identifier its source takes back in `batchItemFailures`. Everything after opening is one pipeline.
 *
 * - DynamoDB Streams through Lambda's event source mapping: `{ Records: [dynamodbRecord] }`,
 *   reported by `dynamodb.SequenceNumber`; Lambda checkpoints at the lowest one reported.
 * - Kinesis Data Streams for DynamoDB: `{ Records: [{ kinesis: { data, sequenceNumber } }] }`,
 *   `data` being base64 JSON of the DynamoDB record; reported by `kinesis.sequenceNumber`, and
 *   Lambda checkpoints at the lowest one reported. ApproximateCreationDateTime is in ms or µs.
 * - EventBridge Pipes: a bare array of DynamoDB records, reported by `eventID`; Pipes retries the
 *   records reported, which are listed in batch order.
 */
import { describeShape, InvalidEventError, InvalidRecordError, type RecordRef } from "./errors.js";
import type { EventSourceKind, StreamRecord } from "./types.js";

/**
 * A record of the batch, opened: the DynamoDB record inside it, and its sequence number and
 * identifier as received (of any type: they are checked only when the record must be reported).
 */
export interface OpenedRecord {
  index: number;
  record: StreamRecord;
  sequenceNumber: unknown;
  itemIdentifier: unknown;
  /** The table's name, when the source's shape carries it outside the ARN (Kinesis). */
  tableName?: string | undefined;
}

/** An element of the batch that holds no record to open, and why. */
export interface UnopenedRecord {
  ref: RecordRef;
  error: InvalidRecordError;
}

const text = (value: unknown) => (typeof value === "string" ? value : undefined);

/** The identifiers of an opened record, as far as they are strings. */
export function refOfOpened({ index, record, sequenceNumber, itemIdentifier }: OpenedRecord): RecordRef {
  return {
    index,
    sequenceNumber: text(sequenceNumber),
    eventId: text(record.eventID),
    itemIdentifier: text(itemIdentifier),
  };
}

/** What the pipeline needs to know about a source. */
export interface EventSource {
  kind: EventSourceKind;
  /** The field of the sequence number, for messages: `dynamodb.SequenceNumber` or `kinesis.sequenceNumber`. */
  sequenceField: string;
  /** The field Lambda or Pipes takes back as `itemIdentifier`, for messages. */
  identifierField: string;
  /** The field of the DynamoDB record that tells its table: `eventSourceARN`, or `tableName` for Kinesis. */
  tableField: "eventSourceARN" | "tableName";
  /** True when `value` can be reported as an `itemIdentifier` of this source. */
  isIdentifier(value: unknown): value is string;
  /** True when identifiers are ordered by value (sequence numbers); false: by position in the batch. */
  ordersByValue: boolean;
  /** A record's `ApproximateCreationDateTime` in milliseconds. */
  creationTimeMs(value: number): number;
  /** Opens one element of the batch. */
  open(value: unknown, index: number): OpenedRecord | UnopenedRecord;
}

const DIGITS = /^\d+$/;

/** True when `value` is a usable sequence number: a non-empty string of digits. */
export function isSequenceNumber(value: unknown): value is string {
  return typeof value === "string" && DIGITS.test(value);
}

function notAnObject(value: unknown, index: number) {
  const ref = { index };
  return { ref, error: new InvalidRecordError(ref, undefined, `is not a record object (got ${describeShape(value)})`) };
}

function isRecordObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Opens a DynamoDB record as Lambda or Pipes delivers it, reported by `identify`. */
function openDynamoDbRecord(
  value: unknown,
  index: number,
  identify: (record: StreamRecord) => unknown,
): OpenedRecord | UnopenedRecord {
  if (!isRecordObject(value)) return notAnObject(value, index);
  const record = value as StreamRecord;
  return { index, record, sequenceNumber: record.dynamodb?.SequenceNumber, itemIdentifier: identify(record) };
}

const fromSeconds = (value: number) => value * 1000;

/** DynamoDB Streams through Lambda's event source mapping. */
export const DYNAMODB_STREAMS: EventSource = {
  kind: "dynamodb-streams",
  sequenceField: "dynamodb.SequenceNumber",
  identifierField: "dynamodb.SequenceNumber",
  tableField: "eventSourceARN",
  isIdentifier: isSequenceNumber,
  ordersByValue: true,
  creationTimeMs: fromSeconds,
  open: (value, index) => openDynamoDbRecord(value, index, (record) => record.dynamodb?.SequenceNumber),
};

/** EventBridge Pipes with a DynamoDB stream source: a bare array of records. */
export const PIPES: EventSource = {
  kind: "pipes",
  sequenceField: "dynamodb.SequenceNumber",
  identifierField: "eventID",
  tableField: "eventSourceARN",
  isIdentifier: (value): value is string => typeof value === "string" && value !== "",
  ordersByValue: false,
  creationTimeMs: fromSeconds,
  open: (value, index) => openDynamoDbRecord(value, index, (record) => record.eventID),
};

/** Kinesis Data Streams for DynamoDB, through Lambda's event source mapping. */
export const KINESIS: EventSource = {
  kind: "kinesis",
  sequenceField: "kinesis.sequenceNumber",
  identifierField: "kinesis.sequenceNumber",
  tableField: "tableName",
  isIdentifier: isSequenceNumber,
  ordersByValue: true,
  // Milliseconds, or microseconds when the table's Kinesis destination is set to them: in µs,
  // today's time has 16 digits, in ms 13; 10^14 ms is the year 5138.
  creationTimeMs: (value) => (Math.abs(value) >= 1e14 ? value / 1000 : value),
  open(value, index) {
    if (!isRecordObject(value)) return notAnObject(value, index);
    const kinesis = isRecordObject(value.kinesis) ? value.kinesis : {};
    const sequenceNumber = text(kinesis.sequenceNumber);
    const outer: RecordRef = { index, sequenceNumber, itemIdentifier: sequenceNumber };
    const data = kinesis.data;
    if (typeof data !== "string") {
      return {
        ref: outer,
        error: new InvalidRecordError(outer, "kinesis.data", `must be a base64 string (got ${describeShape(data)})`),
      };
    }
    let record: unknown;
    try {
      record = JSON.parse(Buffer.from(data, "base64").toString("utf8"));
    } catch (error) {
      return {
        ref: outer,
        error: new InvalidRecordError(outer, "kinesis.data", "is not base64 of a JSON document", { cause: error }),
      };
    }
    if (!isRecordObject(record)) {
      return {
        ref: outer,
        error: new InvalidRecordError(
          outer,
          "kinesis.data",
          `must hold a DynamoDB record object (got ${describeShape(record)})`,
        ),
      };
    }
    return {
      index,
      record: record as StreamRecord,
      sequenceNumber: kinesis.sequenceNumber,
      itemIdentifier: kinesis.sequenceNumber,
      tableName: text(record.tableName),
    };
  },
};

/** Every source, by kind. */
export const EVENT_SOURCES: Readonly<Record<EventSourceKind, EventSource>> = {
  "dynamodb-streams": DYNAMODB_STREAMS,
  kinesis: KINESIS,
  pipes: PIPES,
};

/** True when a record of a `Records` array is shaped as Kinesis delivers it. */
function isKinesisShaped(value: unknown): boolean {
  return isRecordObject(value) && (value.kinesis !== undefined || value.eventSource === "aws:kinesis");
}

/** True when a record is shaped as a DynamoDB stream record. Records of neither shape count for neither. */
function isDynamoDbShaped(value: unknown): boolean {
  return isRecordObject(value) && (value.dynamodb !== undefined || value.eventSource === "aws:dynamodb");
}

/** What an event whose records come from another service looks like, by the source they name. */
const FOREIGN_EVENTS: ReadonlyMap<string, string> = new Map([
  ["aws:sqs", "an SQS event"],
  ["aws:sns", "an SNS event"],
  ["aws:s3", "an S3 event notification"],
]);

const SUBSCRIBE =
  "the function must be subscribed to a DynamoDB stream, a Kinesis stream or an EventBridge pipe with a DynamoDB stream source";

/** A string of the event for a message: quoted, escaped, and cut after 64 characters. */
function quoted(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

/**
 * The first record that names a source other than DynamoDB or Kinesis: in `eventSource` (SQS, S3
 * notifications, and most services) or `EventSource` (SNS). Records that name none are left to fail
 * alone later.
 */
function foreignRecord(records: readonly unknown[]): { index: number; field: string; source: string } | undefined {
  for (let index = 0; index < records.length; index++) {
    const value = records[index];
    if (!isRecordObject(value)) continue;
    for (const field of ["eventSource", "EventSource"]) {
      const source = value[field];
      if (typeof source === "string" && source !== "aws:dynamodb" && source !== "aws:kinesis") {
        return { index, field, source };
      }
    }
  }
  return undefined;
}

/**
 * Throws InvalidEventError when a record of the event comes from another service: the trigger is
 * miswired, and acknowledging its records (even under `onInvalidRecord: "skip"`) would lose them.
 */
function refuseForeignRecords(records: readonly unknown[], inArray: boolean): void {
  const foreign = foreignRecord(records);
  if (foreign === undefined) return;
  const { index, field, source } = foreign;
  const looksLike = FOREIGN_EVENTS.get(source) ?? `records from ${quoted(source)}`;
  throw new InvalidEventError(
    `The event ${inArray ? "is an array, as EventBridge Pipes delivers records, and " : ""}looks like ${looksLike} (record ${index} has ${field} ${quoted(source)}): ${SUBSCRIBE}`,
  );
}

/**
 * Recognises the event's source from its shape. Throws {@link InvalidEventError} when the event is
 * none of the three shapes, when its records mix shapes, or when a record names another source
 * than DynamoDB or Kinesis in its `eventSource` (`EventSource` for SNS): an SQS, SNS or S3 event,
 * say, or a pipe with another source.
 */
export function detectEventSource(event: unknown): { source: EventSource; records: unknown[] } {
  if (Array.isArray(event)) {
    refuseForeignRecords(event, true);
    const foreign = event.findIndex((value) => isKinesisShaped(value) || (isRecordObject(value) && "data" in value));
    if (foreign >= 0) {
      throw new InvalidEventError(
        `The event is an array, as EventBridge Pipes delivers DynamoDB stream records, but record ${foreign} is not a DynamoDB stream record (it looks like a Kinesis record): only Pipes with a DynamoDB stream source are supported`,
      );
    }
    return { source: PIPES, records: event };
  }
  const records = (event as { Records?: unknown } | null | undefined)?.Records;
  if (!Array.isArray(records)) {
    throw new InvalidEventError(
      `The event has no Records array and is not an array of records (got ${describeShape(event)}): is the function subscribed to a DynamoDB stream, a Kinesis stream or an EventBridge pipe?`,
    );
  }
  refuseForeignRecords(records, false);
  const kinesis = records.filter(isKinesisShaped).length;
  const dynamodb = records.filter(isDynamoDbShaped).length;
  if (kinesis > 0 && dynamodb > 0) {
    throw new InvalidEventError(
      `The event mixes shapes: ${kinesis} of its ${records.length} records are Kinesis records and ${dynamodb} are DynamoDB stream records; one invocation comes from one source`,
    );
  }
  return { source: kinesis > 0 ? KINESIS : DYNAMODB_STREAMS, records };
}
