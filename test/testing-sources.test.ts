import { describe, expect, expectTypeOf, it } from "vitest";
import { type KinesisStreamEvent, parseStreamRecords, type RemovedItem, type StreamRecord } from "../src/index.js";
import {
  createRecordFactory,
  type KinesisEventOptions,
  kinesisEvent,
  pipesEvent,
  streamEvent,
} from "../src/testing/index.js";

const CREATED = 1_795_000_000;
const TTL_USER_IDENTITY = { type: "Service", principalId: "dynamodb.amazonaws.com" };

/** The DynamoDB record a Kinesis record carries in `kinesis.data`. */
function payloadOf(record: KinesisStreamEvent["Records"][number] | undefined): Record<string, unknown> {
  return JSON.parse(Buffer.from(record?.kinesis.data ?? "", "base64").toString("utf8"));
}

describe("kinesisEvent", () => {
  it("wraps each record as Kinesis Data Streams for DynamoDB and Lambda deliver it", () => {
    // Prepare
    const { removeRecord } = createRecordFactory({ tableName: "products", region: "eu-west-1" });
    const record = removeRecord({
      keys: { productId: "p-1" },
      oldImage: { productId: "p-1", imageKeys: ["images/p-1.png"] },
      approximateCreationDateTime: CREATED,
    });

    // Act
    const event = kinesisEvent([record]);

    // Assess
    const sequenceNumber = record.dynamodb?.SequenceNumber as string;
    expect(event.Records).toHaveLength(1);
    expect(event.Records[0]).toStrictEqual({
      kinesis: {
        kinesisSchemaVersion: "1.0",
        partitionKey: record.eventID,
        sequenceNumber,
        data: expect.any(String),
        approximateArrivalTimestamp: CREATED,
      },
      eventSource: "aws:kinesis",
      eventVersion: "1.0",
      eventID: `shardId-000000000000:${sequenceNumber}`,
      eventName: "aws:kinesis:record",
      invokeIdentityArn: "arn:aws:iam::123456789012:role/cleanup",
      awsRegion: "eu-west-1",
      eventSourceARN: "arn:aws:kinesis:eu-west-1:123456789012:stream/table-changes",
    });
    expect(payloadOf(event.Records[0])).toStrictEqual({
      awsRegion: "eu-west-1",
      eventID: record.eventID,
      eventName: "REMOVE",
      userIdentity: null,
      recordFormat: "application/json",
      tableName: "products",
      dynamodb: {
        ApproximateCreationDateTime: CREATED * 1000,
        Keys: record.dynamodb?.Keys,
        OldImage: record.dynamodb?.OldImage,
        SizeBytes: record.dynamodb?.SizeBytes,
      },
      eventSource: "aws:dynamodb",
    });
  });

  it("keeps the TTL service's userIdentity", () => {
    // Prepare
    const { ttlRemoveRecord } = createRecordFactory();

    // Act
    const event = kinesisEvent([ttlRemoveRecord({ keys: { productId: "p-1" } })]);

    // Assess
    expect(payloadOf(event.Records[0]).userIdentity).toStrictEqual(TTL_USER_IDENTITY);
  });

  it.each([
    ["by default", undefined, CREATED * 1000],
    ["with MILLISECOND", "MILLISECOND", CREATED * 1000],
    ["with MICROSECOND", "MICROSECOND", CREATED * 1_000_000],
  ] as const)("writes ApproximateCreationDateTime %s", (_name, precision, expected) => {
    // Prepare
    const record = createRecordFactory().removeRecord({
      keys: { productId: "p-1" },
      approximateCreationDateTime: CREATED,
    });
    const options: KinesisEventOptions = precision === undefined ? {} : { precision };

    // Act
    const event = kinesisEvent([record], options);

    // Assess
    expect(payloadOf(event.Records[0]).dynamodb).toMatchObject({ ApproximateCreationDateTime: expected });
  });

  it("names the Kinesis stream with streamName", () => {
    // Prepare
    const record = createRecordFactory().removeRecord({ keys: { productId: "p-1" } });

    // Act
    const event = kinesisEvent([record], { streamName: "orders-cdc" });

    // Assess
    expect(event.Records[0]?.eventSourceARN).toBe("arn:aws:kinesis:us-east-1:123456789012:stream/orders-cdc");
  });

  it("keeps the records' order and gives each its own sequence number", () => {
    // Prepare
    const { removeRecord, insertRecord } = createRecordFactory();
    const records = [removeRecord({ keys: { productId: "p-1" } }), insertRecord({ keys: { productId: "p-2" } })];

    // Act
    const event = kinesisEvent(records);

    // Assess
    expect(event.Records.map((record) => record.kinesis.sequenceNumber)).toEqual(
      records.map((record) => record.dynamodb?.SequenceNumber),
    );
    expect(event.Records.map((record) => payloadOf(record).eventName)).toEqual(["REMOVE", "INSERT"]);
    expect(kinesisEvent([])).toStrictEqual({ Records: [] });
  });

  it("leaves out what a record lacks: sequence number, creation time, region, ARN, eventID, dynamodb", () => {
    // Prepare
    const bare: StreamRecord = { eventName: "REMOVE" };
    const withoutTime: StreamRecord = { eventName: "REMOVE", dynamodb: { Keys: { productId: { S: "p-1" } } } };

    // Act
    const event = kinesisEvent([bare, withoutTime]);

    // Assess
    const [first, second] = event.Records;
    expect(first?.kinesis).toStrictEqual({ kinesisSchemaVersion: "1.0", partitionKey: "", data: expect.any(String) });
    expect(first).toMatchObject({ eventID: "shardId-000000000000:", awsRegion: "us-east-1" });
    expect(payloadOf(first)).toStrictEqual({
      eventName: "REMOVE",
      userIdentity: null,
      recordFormat: "application/json",
      dynamodb: {},
      eventSource: "aws:dynamodb",
    });
    expect(payloadOf(second).dynamodb).toStrictEqual({ Keys: { productId: { S: "p-1" } } });
  });

  it("gives parseStreamRecords the same removals as the stream event, reported by kinesis.sequenceNumber", () => {
    // Prepare
    const { removeRecord, ttlRemoveRecord, modifyRecord } = createRecordFactory({ tableName: "products" });
    const records = [
      removeRecord({ keys: { productId: "p-1" }, oldImage: { productId: "p-1", size: 3 } }),
      modifyRecord({ keys: { productId: "p-2" }, oldImage: { productId: "p-2" }, newImage: { productId: "p-2" } }),
      ttlRemoveRecord({ keys: { productId: "p-3" }, approximateCreationDateTime: CREATED }),
    ];
    const fields = ({
      index,
      eventId,
      keys,
      oldImage,
      removedBy,
      tableName,
      approximateCreationDateTime,
    }: RemovedItem) => ({
      index,
      eventId,
      keys,
      oldImage,
      removedBy,
      tableName,
      approximateCreationDateTime,
    });

    // Act
    const fromStream = parseStreamRecords(streamEvent(...records));
    const fromKinesis = parseStreamRecords(kinesisEvent(records, { precision: "MICROSECOND" }));

    // Assess
    expect(fromKinesis.source).toBe("kinesis");
    expect(fromKinesis.invalid).toEqual([]);
    expect(fromKinesis.removals.map(fields)).toEqual(fromStream.removals.map(fields));
    expect(fromKinesis.removals.map((item) => item.itemIdentifier)).toEqual(
      fromStream.removals.map((item) => item.sequenceNumber),
    );
    expect(fromKinesis.skipped.map((record) => record.index)).toEqual([1]);
  });

  it("returns a KinesisStreamEvent", () => {
    // Assess
    expectTypeOf(kinesisEvent([])).toEqualTypeOf<KinesisStreamEvent>();
    expectTypeOf(kinesisEvent).parameter(1).toEqualTypeOf<KinesisEventOptions | undefined>();
  });
});

describe("pipesEvent", () => {
  it("returns the records themselves, in a new array, as EventBridge Pipes gives them", () => {
    // Prepare
    const { removeRecord, insertRecord } = createRecordFactory();
    const records = [removeRecord({ keys: { productId: "p-1" } }), insertRecord({ keys: { productId: "p-2" } })];

    // Act
    const event = pipesEvent(records);

    // Assess
    expect(event).toStrictEqual(records);
    expect(event).not.toBe(records);
    expect(event[0]).toBe(records[0]);
    expect(pipesEvent([])).toStrictEqual([]);
    expectTypeOf(event).toEqualTypeOf<StreamRecord[]>();
  });

  it("gives parseStreamRecords the records, reported by eventID", () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const records = [removeRecord({ keys: { productId: "p-1" } }), removeRecord({ keys: { productId: "p-2" } })];

    // Act
    const batch = parseStreamRecords(pipesEvent(records));

    // Assess
    expect(batch.source).toBe("pipes");
    expect(batch.removals.map((item) => [item.itemIdentifier, item.sequenceNumber])).toEqual(
      records.map((record) => [record.eventID, record.dynamodb?.SequenceNumber]),
    );
  });
});
