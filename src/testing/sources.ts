/**
 * The other shapes the same records arrive in: Kinesis Data Streams for DynamoDB, and EventBridge
 * Pipes. Built from Lambda-shaped DynamoDB stream records (see records.ts), so that one test can run
 * against every source.
 */
import type { KinesisStreamEvent, KinesisStreamRecord, StreamRecord } from "../types.js";

/** Options of {@link kinesisEvent}. */
export interface KinesisEventOptions {
  /**
   * The unit of `dynamodb.ApproximateCreationDateTime` in the records, as the table's Kinesis
   * streaming destination is set.
   * @default "MILLISECOND"
   */
  precision?: "MILLISECOND" | "MICROSECOND";
  /**
   * The Kinesis stream's name, in `eventSourceARN`.
   * @default "table-changes"
   */
  streamName?: string;
}

const TABLE_NAME = /:table\/([^/]+)/;

/**
 * A Kinesis event carrying the given DynamoDB stream records, as Kinesis Data Streams for DynamoDB
 * and Lambda deliver them: `kinesis.data` is base64 JSON of the record with `tableName`, with
 * `userIdentity: null` for users' deletes and without `SequenceNumber`; `kinesis.sequenceNumber`
 * is the record's `dynamodb.SequenceNumber` (absent when the record has none), and
 * ApproximateCreationDateTime is in ms (or µs).
 *
 * @example
 * ```ts
 * await handler(kinesisEvent([removeRecord({ keys: { productId: "p-1" } })]));
 * ```
 */
export function kinesisEvent(records: readonly StreamRecord[], options: KinesisEventOptions = {}): KinesisStreamEvent {
  const scale = options.precision === "MICROSECOND" ? 1_000_000 : 1000;
  const streamName = options.streamName ?? "table-changes";
  return {
    Records: records.map((record): KinesisStreamRecord => {
      const { SequenceNumber, StreamViewType: _, ApproximateCreationDateTime, ...data } = record.dynamodb ?? {};
      const arn = record.eventSourceARN ?? "";
      const region = record.awsRegion ?? "us-east-1";
      const created = typeof ApproximateCreationDateTime === "number" ? ApproximateCreationDateTime : undefined;
      const payload = {
        awsRegion: record.awsRegion,
        eventID: record.eventID,
        eventName: record.eventName,
        userIdentity: record.userIdentity ?? null,
        recordFormat: "application/json",
        tableName: TABLE_NAME.exec(arn)?.[1],
        dynamodb: { ...(created === undefined ? {} : { ApproximateCreationDateTime: created * scale }), ...data },
        eventSource: "aws:dynamodb",
      };
      const kinesis: KinesisStreamRecord["kinesis"] = {
        kinesisSchemaVersion: "1.0",
        partitionKey: record.eventID ?? "",
        sequenceNumber: SequenceNumber as string,
        data: Buffer.from(JSON.stringify(payload)).toString("base64"),
        ...(created === undefined ? {} : { approximateArrivalTimestamp: created }),
      };
      if (SequenceNumber === undefined) delete (kinesis as Partial<typeof kinesis>).sequenceNumber;
      return {
        kinesis,
        eventSource: "aws:kinesis",
        eventVersion: "1.0",
        eventID: `shardId-000000000000:${SequenceNumber ?? ""}`,
        eventName: "aws:kinesis:record",
        invokeIdentityArn: "arn:aws:iam::123456789012:role/cleanup",
        awsRegion: region,
        eventSourceARN: `arn:aws:kinesis:${region}:123456789012:stream/${streamName}`,
      };
    }),
  };
}

/**
 * The event EventBridge Pipes gives a Lambda target for a DynamoDB stream source: the records
 * themselves, as a bare array.
 *
 * @example
 * ```ts
 * await handler(pipesEvent([removeRecord({ keys: { productId: "p-1" } })]));
 * ```
 */
export function pipesEvent(records: readonly StreamRecord[]): StreamRecord[] {
  return [...records];
}
