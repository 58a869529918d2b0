import { describe, expect, it } from "vitest";
import { InvalidEventError, type InvalidRecordError, isInvalidEventError } from "../src/errors.js";
import { DYNAMODB_STREAMS, detectEventSource, EVENT_SOURCES, KINESIS, PIPES } from "../src/event-sources.js";
import { parseStreamRecords } from "../src/parse-stream-records.js";
import { unreportable } from "../src/report.js";
import { kinesisEvent, pipesEvent } from "../src/testing/sources.js";
import {
  createRecordFactory,
  onlyInvalid,
  productKeys,
  streamEvent,
  TTL_IDENTITY,
  withoutSequenceNumber,
} from "./factories.js";

const KINESIS_SEQUENCE = "49654321000000000000000000000000000000000000000000000001";

/** A Kinesis record as Lambda delivers it, carrying `payload` as base64 JSON in `kinesis.data`. */
function kinesisRecord(payload: unknown, sequenceNumber: unknown = KINESIS_SEQUENCE): Record<string, unknown> {
  return rawKinesisRecord(Buffer.from(JSON.stringify(payload)).toString("base64"), sequenceNumber);
}

/** A Kinesis record whose `kinesis.data` is `data` as given. */
function rawKinesisRecord(data: unknown, sequenceNumber: unknown = KINESIS_SEQUENCE): Record<string, unknown> {
  return {
    kinesis: { kinesisSchemaVersion: "1.0", partitionKey: "p", sequenceNumber, data },
    eventSource: "aws:kinesis",
    eventID: `shardId-000000000000:${String(sequenceNumber)}`,
    eventName: "aws:kinesis:record",
    awsRegion: "us-east-1",
    eventSourceARN: "arn:aws:kinesis:us-east-1:123456789012:stream/table-changes",
  };
}

/** What Kinesis Data Streams for DynamoDB writes for a user's DeleteItem. */
function removalPayload(fields: Record<string, unknown> = {}, dynamodb: Record<string, unknown> = {}) {
  return {
    awsRegion: "us-east-1",
    eventID: "6f1c1b8e-0000-4000-8000-000000000001",
    eventName: "REMOVE",
    userIdentity: null,
    recordFormat: "application/json",
    tableName: "products",
    dynamodb: { ApproximateCreationDateTime: 1_795_000_000_123, Keys: productKeys("p-1"), SizeBytes: 20, ...dynamodb },
    eventSource: "aws:dynamodb",
    ...fields,
  };
}

function without(value: object, name: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([field]) => field !== name));
}

function invalidEventMessage(event: unknown): string {
  try {
    detectEventSource(event);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidEventError);
    expect(isInvalidEventError(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error("no InvalidEventError thrown");
}

describe("detectEventSource", () => {
  describe("DynamoDB Streams", () => {
    it("recognises { Records } of DynamoDB stream records, and hands back the same array", () => {
      // Prepare
      const factory = createRecordFactory();
      const event = streamEvent(factory.removeRecord(), factory.insertRecord());

      // Act
      const detected = detectEventSource(event);

      // Assess
      expect(detected.source).toBe(DYNAMODB_STREAMS);
      expect(detected.records).toBe(event.Records);
    });

    it.each([
      ["no records", []],
      ["records of neither shape", [null, {}, "x", { eventName: "REMOVE" }]],
      ["records recognised by eventSource alone", [{ eventSource: "aws:dynamodb" }]],
    ])("takes { Records } with %s for a DynamoDB stream: bad records fail alone later", (_name, records) => {
      // Act
      const detected = detectEventSource({ Records: records });

      // Assess
      expect(detected.source).toBe(DYNAMODB_STREAMS);
    });
  });

  describe("Kinesis", () => {
    it("recognises { Records } of Kinesis records by their kinesis field", () => {
      // Prepare
      const event = { Records: [{ kinesis: { data: "e30=", sequenceNumber: "1" } }] };

      // Act
      const detected = detectEventSource(event);

      // Assess
      expect(detected.source).toBe(KINESIS);
      expect(detected.records).toBe(event.Records);
    });

    it("recognises a Kinesis record by eventSource alone, and keeps records of neither shape with it", () => {
      // Prepare
      const event = { Records: [{ eventSource: "aws:kinesis" }, null, { eventName: "REMOVE" }] };

      // Act
      const detected = detectEventSource(event);

      // Assess
      expect(detected.source).toBe(KINESIS);
      expect(detected.records).toHaveLength(3);
    });
  });

  describe("EventBridge Pipes", () => {
    it("recognises a bare array of DynamoDB stream records, and hands back the same array", () => {
      // Prepare
      const factory = createRecordFactory();
      const event = pipesEvent([factory.removeRecord(), factory.modifyRecord()]);

      // Act
      const detected = detectEventSource(event);

      // Assess
      expect(detected.source).toBe(PIPES);
      expect(detected.records).toBe(event);
    });

    it.each([
      ["an empty array", []],
      ["records of neither shape", [null, 42, { eventName: "REMOVE" }]],
    ])("takes %s for Pipes", (_name, event) => {
      // Act
      const detected = detectEventSource(event);

      // Assess
      expect(detected.source).toBe(PIPES);
    });

    it.each([
      ["a kinesis field", 2, { kinesis: { data: "e30=" } }],
      ["eventSource aws:kinesis", 2, { eventSource: "aws:kinesis" }],
      ["a data field, as Pipes gives a Kinesis or SQS record", 2, { data: "e30=" }],
    ])("throws InvalidEventError for an array holding a record with %s", (_name, index, foreign) => {
      // Prepare
      const factory = createRecordFactory();
      const event = [factory.removeRecord(), null, foreign, factory.removeRecord()];

      // Act
      const message = invalidEventMessage(event);

      // Assess
      expect(message).toBe(
        `The event is an array, as EventBridge Pipes delivers DynamoDB stream records, but record ${index} is not a DynamoDB stream record (it looks like a Kinesis record): only Pipes with a DynamoDB stream source are supported`,
      );
    });
  });

  describe("mixed shapes", () => {
    it.each([
      ["by their kinesis and dynamodb fields", { kinesis: {} }, { dynamodb: {} }],
      ["by eventSource alone", { eventSource: "aws:kinesis" }, { eventSource: "aws:dynamodb" }],
    ])("throws InvalidEventError for Records that mix Kinesis and DynamoDB records, told %s", (_name, k, d) => {
      // Prepare
      const event = { Records: [d, k, null, d] };

      // Act
      const message = invalidEventMessage(event);

      // Assess
      expect(message).toBe(
        "The event mixes shapes: 1 of its 4 records are Kinesis records and 2 are DynamoDB stream records; one invocation comes from one source",
      );
    });

    it("throws for real records of both sources in one event", () => {
      // Prepare
      const factory = createRecordFactory();
      const dynamodb = factory.removeRecord();
      const [kinesis] = kinesisEvent([factory.removeRecord()]).Records;

      // Act
      const detect = () => detectEventSource({ Records: [kinesis, dynamodb] });

      // Assess
      expect(detect).toThrow(InvalidEventError);
    });
  });

  describe("events of no known shape", () => {
    it.each([
      ["undefined", undefined, "undefined"],
      ["null", null, "null"],
      ["an object without Records", {}, "an object with keys []"],
      ["Records that is not an array", { Records: "x" }, "an object with keys [Records]"],
      ["Records: null", { Records: null }, "an object with keys [Records]"],
      ["a Records object", { Records: { 0: {} } }, "an object with keys [Records]"],
      ["a string", "event", "a string"],
      ["a number", 42, "a number"],
      ["a boolean", false, "a boolean"],
      ["a function", () => [], "a function"],
    ])("throws InvalidEventError for %s, naming what it got", (_name, event, got) => {
      // Act
      const message = invalidEventMessage(event);

      // Assess
      expect(message).toBe(
        `The event has no Records array and is not an array of records (got ${got}): is the function subscribed to a DynamoDB stream, a Kinesis stream or an EventBridge pipe?`,
      );
    });

    it("names at most the first five keys of an event object, never its values", () => {
      // Prepare
      const event = { a: "secret@example.com", b: 1, c: 2, d: 3, e: 4, f: 5, Items: [] };

      // Act
      const message = invalidEventMessage(event);

      // Assess
      expect(message).toContain("(got an object with keys [a, b, c, d, e])");
      expect(message).not.toContain("secret");
    });
  });
});

/** An SQS event, as Lambda delivers a queue's messages. */
const SQS_EVENT = {
  Records: [
    {
      messageId: "3b0e2f8a-7d51-4c0e-9a6e-5f1d2c3b4a01",
      receiptHandle: "AQEBxYz0cleanupReceiptHandle==",
      body: '{"productId":"p-1","action":"deleted"}',
      attributes: {
        ApproximateReceiveCount: "1",
        SentTimestamp: "1795000000000",
        SenderId: "AIDAEXAMPLESENDER0001",
        ApproximateFirstReceiveTimestamp: "1795000000012",
      },
      messageAttributes: {},
      md5OfBody: "0c1ab6c6b9d5e1a3f4e2d7c8b9a01234",
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:product-cleanup",
      awsRegion: "us-east-1",
    },
  ],
};

/** An SNS event, as Lambda delivers a topic's notification: SNS spells its fields with capitals. */
const SNS_EVENT = {
  Records: [
    {
      EventVersion: "1.0",
      EventSubscriptionArn: "arn:aws:sns:us-east-1:123456789012:product-events:5e1d7c2a-0b3f-4e8d-9c6a-2f4b1a0e9d77",
      EventSource: "aws:sns",
      Sns: {
        SignatureVersion: "1",
        Timestamp: "2026-11-27T12:00:00.000Z",
        Signature: "c2lnbmF0dXJl",
        SigningCertUrl: "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
        MessageId: "8d2c6f1e-4a7b-5c3d-9e0f-1a2b3c4d5e6f",
        Message: '{"productId":"p-1"}',
        MessageAttributes: {},
        Type: "Notification",
        UnsubscribeUrl: "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
        TopicArn: "arn:aws:sns:us-east-1:123456789012:product-events",
        Subject: null,
      },
    },
  ],
};

/** An S3 event notification, as Lambda delivers a bucket's notification directly. */
const S3_EVENT = {
  Records: [
    {
      eventVersion: "2.1",
      eventSource: "aws:s3",
      awsRegion: "us-east-1",
      eventTime: "2026-11-27T12:00:00.000Z",
      eventName: "ObjectRemoved:Delete",
      userIdentity: { principalId: "AWS:AIDAEXAMPLEUSER0001" },
      requestParameters: { sourceIPAddress: "203.0.113.7" },
      responseElements: { "x-amz-request-id": "7C1E2A3B4D5F6071", "x-amz-id-2": "aWQtMg==" },
      s3: {
        s3SchemaVersion: "1.0",
        configurationId: "product-images-removed",
        bucket: {
          name: "product-images",
          ownerIdentity: { principalId: "A3EXAMPLEOWNER" },
          arn: "arn:aws:s3:::product-images",
        },
        object: { key: "images/p-1.png", sequencer: "00674701C8E0A1B2C3" },
      },
    },
  ],
};

/** An SES event: records from a service with no name of its own in the messages. */
const SES_EVENT = {
  Records: [
    {
      eventSource: "aws:ses",
      eventVersion: "1.0",
      ses: {
        mail: { timestamp: "2026-11-27T12:00:00.000Z", source: "sender@example.com", messageId: "o3vrnil0e2ic" },
        receipt: { recipients: ["cleanup@example.com"], spamVerdict: { status: "PASS" } },
      },
    },
  ],
};

/** What EventBridge Pipes gives a Lambda target for an Amazon MSK source: a bare array of Kafka records. */
const PIPES_KAFKA_EVENT = [
  {
    eventSource: "aws:kafka",
    eventSourceArn: "arn:aws:kafka:us-east-1:123456789012:cluster/products/6a1b2c3d-0000-4000-8000-000000000001-1",
    eventSourceKey: "product-events-0",
    bootstrapServers: "b-1.products.kafka.us-east-1.amazonaws.com:9098",
    topic: "product-events",
    partition: 0,
    offset: 15,
    timestamp: 1795000000000,
    timestampType: "CREATE_TIME",
    key: "cC0x",
    value: "eyJwcm9kdWN0SWQiOiJwLTEifQ==",
    headers: [],
  },
];

const SUBSCRIBE =
  "the function must be subscribed to a DynamoDB stream, a Kinesis stream or an EventBridge pipe with a DynamoDB stream source";

describe("wrong triggers", () => {
  it.each([
    ["an SQS event", SQS_EVENT, 'eventSource "aws:sqs"'],
    ["an SNS event", SNS_EVENT, 'EventSource "aws:sns"'],
    ["an S3 event notification", S3_EVENT, 'eventSource "aws:s3"'],
    ['records from "aws:ses"', SES_EVENT, 'eventSource "aws:ses"'],
  ])("throws InvalidEventError for %s, naming it and what to subscribe to", (looksLike, event, field) => {
    // Act
    const message = invalidEventMessage(event);

    // Assess
    expect(message).toBe(`The event looks like ${looksLike} (record 0 has ${field}): ${SUBSCRIBE}`);
  });

  it.each([
    ["an SQS event", SQS_EVENT.Records, 'eventSource "aws:sqs"'],
    ["an SNS event", SNS_EVENT.Records, 'EventSource "aws:sns"'],
    ["an S3 event notification", S3_EVENT.Records, 'eventSource "aws:s3"'],
    ['records from "aws:kafka"', PIPES_KAFKA_EVENT, 'eventSource "aws:kafka"'],
  ])(
    "throws InvalidEventError for %s whose records come as a bare array, as from a pipe",
    (looksLike, event, field) => {
      // Act
      const message = invalidEventMessage(event);

      // Assess
      expect(message).toBe(
        `The event is an array, as EventBridge Pipes delivers records, and looks like ${looksLike} (record 0 has ${field}): ${SUBSCRIBE}`,
      );
    },
  );

  it("names the first record of another source among DynamoDB stream records", () => {
    // Prepare
    const factory = createRecordFactory();
    const event = {
      Records: [factory.removeRecord(), factory.removeRecord(), ...S3_EVENT.Records, ...SQS_EVENT.Records],
    };

    // Act
    const message = invalidEventMessage(event);

    // Assess
    expect(message).toBe(
      `The event looks like an S3 event notification (record 2 has eventSource "aws:s3"): ${SUBSCRIBE}`,
    );
  });

  it("names a record of another source among Kinesis records, rather than a mix of shapes", () => {
    // Prepare
    const [kinesis] = kinesisEvent([createRecordFactory().removeRecord()]).Records;
    const event = { Records: [kinesis, ...SQS_EVENT.Records] };

    // Act
    const message = invalidEventMessage(event);

    // Assess
    expect(message).toBe(`The event looks like an SQS event (record 1 has eventSource "aws:sqs"): ${SUBSCRIBE}`);
  });

  it("refuses a record of another source in a pipe's array of DynamoDB stream records", () => {
    // Prepare
    const factory = createRecordFactory();
    const event = [factory.removeRecord(), { ...factory.removeRecord(), eventSource: "aws:dynamodb-replica" }];

    // Act
    const message = invalidEventMessage(event);

    // Assess
    expect(message).toBe(
      `The event is an array, as EventBridge Pipes delivers records, and looks like records from "aws:dynamodb-replica" (record 1 has eventSource "aws:dynamodb-replica"): ${SUBSCRIBE}`,
    );
  });

  it("quotes a long or odd eventSource escaped and cut after 64 characters", () => {
    // Prepare
    const source = `${"x".repeat(63)}\ud800"tail that is never shown`;
    const event = { Records: [{ eventSource: source }] };

    // Act
    const message = invalidEventMessage(event);

    // Assess
    const shown = JSON.stringify(`${"x".repeat(63)}\ud800…`);
    expect(message).toBe(
      `The event looks like records from ${shown} (record 0 has eventSource ${shown}): ${SUBSCRIBE}`,
    );
    expect(message).not.toContain("tail");
    // No lone surrogate: with the u flag, \p{Cs} matches only unpaired halves.
    expect(message).not.toMatch(/\p{Cs}/u);
  });

  it.each([
    ["a number", 42],
    ["null", null],
    ["an object", { name: "aws:sqs" }],
  ])("leaves a record whose eventSource is %s to fail alone later", (_name, eventSource) => {
    // Prepare
    const factory = createRecordFactory();
    const event = { Records: [factory.removeRecord(), { ...factory.removeRecord(), eventSource }] };

    // Act
    const batch = parseStreamRecords(event as never);

    // Assess
    expect(batch.source).toBe("dynamodb-streams");
    expect(batch.removals).toHaveLength(2);
  });

  it("throws from parseStreamRecords too, instead of making the records invalid", () => {
    // Act
    const parse = () => parseStreamRecords(SQS_EVENT);

    // Assess
    expect(parse).toThrow(InvalidEventError);
    expect(parse).toThrow(`The event looks like an SQS event (record 0 has eventSource "aws:sqs"): ${SUBSCRIBE}`);
  });
});

describe("event sources", () => {
  it("lists every source by its kind", () => {
    // Assess
    expect(EVENT_SOURCES).toStrictEqual({ "dynamodb-streams": DYNAMODB_STREAMS, kinesis: KINESIS, pipes: PIPES });
    for (const [kind, source] of Object.entries(EVENT_SOURCES)) expect(source.kind).toBe(kind);
  });

  it.each([
    [DYNAMODB_STREAMS, "dynamodb.SequenceNumber", "dynamodb.SequenceNumber", true, "eventSourceARN"],
    [KINESIS, "kinesis.sequenceNumber", "kinesis.sequenceNumber", true, "tableName"],
    [PIPES, "dynamodb.SequenceNumber", "eventID", false, "eventSourceARN"],
  ])(
    "$kind reads $sequenceField and $tableField, and reports $identifierField",
    (source, sequenceField, identifierField, byValue, tableField) => {
      // Assess
      expect(source.sequenceField).toBe(sequenceField);
      expect(source.identifierField).toBe(identifierField);
      expect(source.ordersByValue).toBe(byValue);
      expect(source.tableField).toBe(tableField);
    },
  );

  it.each([
    [DYNAMODB_STREAMS, ["0", "100000000000000000000"], ["", "12a", "a-b", 1, undefined, null]],
    [KINESIS, ["0", KINESIS_SEQUENCE], ["", "12a", "a-b", 1, undefined, null]],
    [PIPES, ["a-b", "6f1c1b8e-0000-4000-8000-000000000001", "1"], ["", 1, undefined, null]],
  ])("$kind takes exactly its own identifiers", (source, accepted, rejected) => {
    // Assess
    for (const value of accepted) expect(source.isIdentifier(value), String(value)).toBe(true);
    for (const value of rejected) expect(source.isIdentifier(value), String(value)).toBe(false);
  });

  it.each([
    ["DynamoDB Streams (seconds)", DYNAMODB_STREAMS, 1_795_000_000, 1_795_000_000_000],
    ["Pipes (seconds)", PIPES, 1_795_000_000, 1_795_000_000_000],
    ["Kinesis in milliseconds", KINESIS, 1_795_000_000_123, 1_795_000_000_123],
    ["Kinesis in milliseconds, up to the year 5138", KINESIS, 99_999_999_999_999, 99_999_999_999_999],
    ["Kinesis in microseconds", KINESIS, 1_795_000_000_123_456, 1_795_000_000_123.456],
    ["Kinesis in microseconds, exact at a whole second", KINESIS, 1_795_000_000_000_000, 1_795_000_000_000],
    ["Kinesis in microseconds, from 10^14", KINESIS, 100_000_000_000_000, 100_000_000_000],
  ])("converts creation times of %s to milliseconds", (_name, source, value, ms) => {
    // Act
    const result = source.creationTimeMs(value);

    // Assess
    expect(result).toBe(ms);
  });
});

describe("Kinesis records", () => {
  it("opens kinesis.data into the DynamoDB record, reported by kinesis.sequenceNumber", () => {
    // Prepare
    const payload = removalPayload(
      {},
      {
        OldImage: { productId: { S: "p-1" }, imageKeys: { SS: ["images/p-1.png"] } },
        SequenceNumber: "100000000000000000000",
      },
    );
    const event = { Records: [kinesisRecord(payload)] };

    // Act
    const batch = parseStreamRecords(event);

    // Assess
    expect(batch.source).toBe("kinesis");
    expect(batch.invalid).toEqual([]);
    expect(batch.removals).toStrictEqual([
      {
        index: 0,
        sequenceNumber: KINESIS_SEQUENCE,
        eventId: payload.eventID,
        itemIdentifier: KINESIS_SEQUENCE,
        keys: { productId: "p-1" },
        oldImage: { productId: "p-1", imageKeys: new Set(["images/p-1.png"]) },
        removedBy: "user",
        tableName: "products",
        approximateCreationDateTime: new Date(1_795_000_000_123),
        streamViewType: undefined,
        record: payload,
      },
    ]);
  });

  it("reads ApproximateCreationDateTime in milliseconds and in microseconds", () => {
    // Prepare
    const event = {
      Records: [
        kinesisRecord(removalPayload({}, { ApproximateCreationDateTime: 1_795_000_000_123 }), "1"),
        kinesisRecord(removalPayload({}, { ApproximateCreationDateTime: 1_795_000_000_123_456 }), "2"),
      ],
    };

    // Act
    const batch = parseStreamRecords(event);

    // Assess
    expect(batch.removals.map((item) => item.approximateCreationDateTime)).toEqual([
      new Date(1_795_000_000_123),
      new Date(1_795_000_000_123),
    ]);
  });

  it("takes the table's name from the payload's tableName, not from the stream's ARN", () => {
    // Prepare
    const event = {
      Records: [
        kinesisRecord(removalPayload({ tableName: "orders" }), "1"),
        kinesisRecord(without(removalPayload(), "tableName"), "2"),
        kinesisRecord(removalPayload({ tableName: 7 }), "3"),
      ],
    };

    // Act
    const batch = parseStreamRecords(event);

    // Assess
    expect(batch.removals.map((item) => item.tableName)).toEqual(["orders", undefined, undefined]);
  });

  it.each([
    ["null, as Kinesis writes it for users", null, "user"],
    ["absent", undefined, "user"],
    ["DynamoDB's TTL service", { ...TTL_IDENTITY }, "ttl"],
  ])("tells who removed the item from a userIdentity that is %s", (_name, userIdentity, removedBy) => {
    // Prepare
    const payload =
      userIdentity === undefined ? without(removalPayload(), "userIdentity") : removalPayload({ userIdentity });

    // Act
    const batch = parseStreamRecords({ Records: [kinesisRecord(payload)] });

    // Assess
    expect(batch.removals.map((item) => item.removedBy)).toEqual([removedBy]);
  });

  it("skips INSERT and MODIFY records, naming them by kinesis.sequenceNumber", () => {
    // Prepare
    const event = {
      Records: [
        kinesisRecord(removalPayload({ eventName: "INSERT" }), "7"),
        kinesisRecord(removalPayload({ eventName: "MODIFY" }), "8"),
      ],
    };

    // Act
    const batch = parseStreamRecords(event);

    // Assess
    expect(batch.skipped).toEqual([
      {
        index: 0,
        sequenceNumber: "7",
        itemIdentifier: "7",
        eventId: removalPayload().eventID,
        eventName: "INSERT",
        reason: "not-a-removal",
      },
      {
        index: 1,
        sequenceNumber: "8",
        itemIdentifier: "8",
        eventId: removalPayload().eventID,
        eventName: "MODIFY",
        reason: "not-a-removal",
      },
    ]);
  });

  describe("kinesis.data that cannot be opened", () => {
    it.each([
      ["a number", 42, "a number"],
      ["missing", undefined, "undefined"],
      ["an object", { Keys: {} }, "an object with keys [Keys]"],
    ])("makes the record invalid when data is %s, naming kinesis.data", (_name, data, got) => {
      // Prepare
      const record = rawKinesisRecord(data);

      // Act
      const batch = parseStreamRecords({ Records: [record] });

      // Assess
      const invalid = onlyInvalid(batch);
      expect(invalid).toMatchObject({ index: 0, sequenceNumber: KINESIS_SEQUENCE, itemIdentifier: KINESIS_SEQUENCE });
      expect((invalid.error as InvalidRecordError).field).toBe("kinesis.data");
      expect(invalid.error.message).toBe(
        `record 0 (SequenceNumber ${KINESIS_SEQUENCE}): \`kinesis.data\` must be a base64 string (got ${got})`,
      );
    });

    it("makes the record invalid when it has no kinesis field at all", () => {
      // Prepare
      const record = { eventSource: "aws:kinesis", eventID: "shardId-000000000000:1" };

      // Act
      const batch = parseStreamRecords({ Records: [record] });

      // Assess
      const invalid = onlyInvalid(batch);
      expect(invalid.error.message).toBe("record 0: `kinesis.data` must be a base64 string (got undefined)");
      expect(invalid.itemIdentifier).toBeUndefined();
    });

    it.each([
      ["text that is not base64", "%%% not base64 %%%"],
      ["base64 of text that is not JSON", Buffer.from("REMOVE p-1").toString("base64")],
      ["an empty string", ""],
    ])("makes the record invalid when data is %s, keeping the parse error as cause", (_name, data) => {
      // Act
      const batch = parseStreamRecords({ Records: [rawKinesisRecord(data)] });

      // Assess
      const invalid = onlyInvalid(batch);
      expect((invalid.error as InvalidRecordError).field).toBe("kinesis.data");
      expect(invalid.error.message).toBe(
        `record 0 (SequenceNumber ${KINESIS_SEQUENCE}): \`kinesis.data\` is not base64 of a JSON document`,
      );
      expect(invalid.error.cause).toBeInstanceOf(SyntaxError);
    });

    it.each([
      ["an array", [removalPayload()], "an array"],
      ["null", null, "null"],
      ["a string", "secret@example.com", "a string"],
      ["a number", 42, "a number"],
    ])("makes the record invalid when data holds %s instead of a record object", (_name, payload, got) => {
      // Act
      const batch = parseStreamRecords({ Records: [kinesisRecord(payload)] });

      // Assess
      const invalid = onlyInvalid(batch);
      expect((invalid.error as InvalidRecordError).field).toBe("kinesis.data");
      expect(invalid.error.message).toBe(
        `record 0 (SequenceNumber ${KINESIS_SEQUENCE}): \`kinesis.data\` must hold a DynamoDB record object (got ${got})`,
      );
      expect(invalid.error.message).not.toContain("secret");
    });

    it("keeps such a record reportable by its kinesis.sequenceNumber, and the records around it", () => {
      // Prepare
      const event = {
        Records: [
          kinesisRecord(removalPayload(), "1"),
          rawKinesisRecord("not base64 JSON", "2"),
          kinesisRecord(removalPayload(), "3"),
        ],
      };

      // Act
      const batch = parseStreamRecords(event);

      // Assess
      expect(batch.removals.map((item) => item.itemIdentifier)).toEqual(["1", "3"]);
      expect(batch.invalid.map((record) => record.itemIdentifier)).toEqual(["2"]);
      expect(unreportable(batch.invalid, KINESIS)).toBeUndefined();
    });
  });

  describe("kinesis.sequenceNumber", () => {
    it.each([
      ["missing", undefined, "undefined"],
      ["a number", 49654321, "a number"],
      ["not digits", "4965-4321", "a string"],
    ])("makes a REMOVE invalid when it is %s, naming kinesis.sequenceNumber", (_name, sequenceNumber, got) => {
      // Prepare
      const payload = removalPayload();
      const record = kinesisRecord(payload);
      record.kinesis = { ...(record.kinesis as object), sequenceNumber };

      // Act
      const batch = parseStreamRecords({ Records: [record] });

      // Assess
      const invalid = onlyInvalid(batch);
      expect((invalid.error as InvalidRecordError).field).toBe("kinesis.sequenceNumber");
      expect(invalid.error.message).toContain(`\`kinesis.sequenceNumber\` must be a string of digits (got ${got})`);
      expect(invalid.error.message).toContain(`eventID ${payload.eventID}`);
      expect(unreportable(batch.invalid, KINESIS)?.field).toBe("kinesis.sequenceNumber");
    });

    it("ignores a SequenceNumber inside the payload", () => {
      // Prepare
      const payload = removalPayload({}, { SequenceNumber: "100000000000000000000" });

      // Act
      const [item] = parseStreamRecords({ Records: [kinesisRecord(payload, "5")] }).removals;

      // Assess
      expect(item).toMatchObject({ sequenceNumber: "5", itemIdentifier: "5" });
    });
  });

  it("rejects a record that is not an object in a Kinesis batch", () => {
    // Prepare
    const event = { Records: [kinesisRecord(removalPayload(), "1"), "x"] };

    // Act
    const batch = parseStreamRecords(event);

    // Assess
    expect(batch.invalid.map((record) => [record.index, record.error.message])).toEqual([
      [1, "record 1: is not a record object (got a string)"],
    ]);
  });

  it("reads duplicates as separate removals, each with its own sequence number", () => {
    // Prepare
    const payload = removalPayload();
    const event = { Records: [kinesisRecord(payload, "10"), kinesisRecord(payload, "11")] };

    // Act
    const batch = parseStreamRecords(event);

    // Assess
    expect(batch.removals.map((item) => [item.eventId, item.itemIdentifier, item.keys])).toEqual([
      [payload.eventID, "10", { productId: "p-1" }],
      [payload.eventID, "11", { productId: "p-1" }],
    ]);
  });
});

describe("EventBridge Pipes records", () => {
  it("reads a bare array, reported by eventID", () => {
    // Prepare
    const factory = createRecordFactory();
    const record = factory.removeRecord({ keys: productKeys("p-1") });
    const insert = factory.insertRecord({ keys: productKeys("p-2") });

    // Act
    const batch = parseStreamRecords(pipesEvent([insert, record]));

    // Assess
    expect(batch.source).toBe("pipes");
    expect(batch.skipped).toEqual([
      {
        index: 0,
        sequenceNumber: insert.dynamodb?.SequenceNumber,
        eventId: insert.eventID,
        itemIdentifier: insert.eventID,
        eventName: "INSERT",
        reason: "not-a-removal",
      },
    ]);
    expect(batch.removals).toMatchObject([
      {
        index: 1,
        sequenceNumber: record.dynamodb?.SequenceNumber,
        eventId: record.eventID,
        itemIdentifier: record.eventID,
        keys: { productId: "p-1" },
        tableName: "products",
        approximateCreationDateTime: new Date(1_795_000_000_000),
      },
    ]);
    expect(batch.removals[0]?.record).toBe(record);
  });

  it.each([
    ["missing", undefined, "undefined"],
    ["empty", "", "a string"],
    ["a number", 7, "a number"],
  ])("makes a REMOVE whose eventID is %s invalid and unreportable, naming eventID", (_name, eventID, got) => {
    // Prepare
    const record = createRecordFactory().removeRecord();
    const spoilt = eventID === undefined ? without(record, "eventID") : { ...record, eventID };

    // Act
    const batch = parseStreamRecords([spoilt]);

    // Assess
    const invalid = onlyInvalid(batch);
    expect(invalid.itemIdentifier).toBe(typeof eventID === "string" ? eventID : undefined);
    expect((invalid.error as InvalidRecordError).field).toBe("eventID");
    expect(invalid.error.message).toContain(`\`eventID\` must be a non-empty string (got ${got})`);
    expect(unreportable(batch.invalid, PIPES)?.message).toContain(
      "`eventID` is needed to report this record as failed, and it has no usable one",
    );
  });

  it("makes a REMOVE with an eventID but no SequenceNumber invalid, and reportable by its eventID", () => {
    // Prepare
    const record = withoutSequenceNumber(createRecordFactory().removeRecord());

    // Act
    const batch = parseStreamRecords(pipesEvent([record]));

    // Assess
    const invalid = onlyInvalid(batch);
    expect(invalid).toMatchObject({ index: 0, eventId: record.eventID, itemIdentifier: record.eventID });
    expect((invalid.error as InvalidRecordError).field).toBe("dynamodb.SequenceNumber");
    expect(invalid.error.message).toBe(
      `record 0 (eventID ${record.eventID}): \`dynamodb.SequenceNumber\` must be a string of digits (got undefined)`,
    );
    expect(unreportable(batch.invalid, PIPES)).toBeUndefined();
  });

  it("skips an INSERT without eventID: it has nothing to report", () => {
    // Prepare
    const insert = without(createRecordFactory().insertRecord(), "eventID");

    // Act
    const batch = parseStreamRecords([insert]);

    // Assess
    expect(batch.skipped).toMatchObject([{ index: 0, eventId: undefined, itemIdentifier: undefined }]);
  });

  it("rejects an element that is not a record object by its position", () => {
    // Act
    const batch = parseStreamRecords([null]);

    // Assess
    const invalid = onlyInvalid(batch);
    expect(invalid.error.message).toBe("record 0: is not a record object (got null)");
    expect(unreportable(batch.invalid, PIPES)?.field).toBe("eventID");
  });
});
