import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isInvalidEventError } from "../src/errors.js";
import {
  batchOfFailureRecord,
  type DiscardedRange,
  type FailureMessage,
  failureMessagesOf,
  failureObjectOf,
} from "../src/failure-destination-records.js";
import { parseStreamRecords } from "../src/parse-stream-records.js";
import { createRecordFactory, streamEvent } from "./factories.js";
import {
  discardedRange,
  dynamoDbBatchInfo,
  esmRecord,
  FUNCTION_ARN,
  KINESIS_ARN,
  kinesisBatchInfo,
  PIPE_ARN,
  pipeRecord,
  STREAM_ARN,
  s3EventRecord,
  snsNotification,
  sqsEvent,
  sqsMessage,
  TOPIC_ARN,
} from "./failure-record-factories.js";
import { propertyRuns } from "./property-runs.js";

/** The error of a message that must have one; it also passes the guard. */
function errorOf(message: FailureMessage | undefined): string {
  if (message === undefined || !("error" in message))
    throw new Error(`expected an error, got ${JSON.stringify(message)}`);
  expect(isInvalidEventError(message.error)).toBe(true);
  return message.error.message;
}

/** The message text of what `action` throws, which must be an InvalidEventError. */
function thrown(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(isInvalidEventError(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error("expected an InvalidEventError");
}

describe("batchOfFailureRecord", () => {
  it("reads the event source mapping's record of a DynamoDB stream batch", () => {
    expect(batchOfFailureRecord(esmRecord())).toEqual(discardedRange());
  });

  it("reads the event source mapping's record of a Kinesis batch", () => {
    expect(batchOfFailureRecord(esmRecord({ KinesisBatchInfo: kinesisBatchInfo() }))).toEqual({
      source: "kinesis",
      discardedBy: "event-source-mapping",
      streamArn: KINESIS_ARN,
      shardId: "shardId-000000000002",
      startSequenceNumber: "49658000000000000000000000000000000000000000000000000017",
      endSequenceNumber: "49658000000000000000000000000000000000000000000000000042",
      batchSize: 2,
      approximateArrivalOfFirstRecord: "2026-12-02T09:30:01.125Z",
      approximateArrivalOfLastRecord: "2026-12-02T09:30:01.750Z",
      condition: "RetryAttemptsExhausted",
      discardedAt: "2026-12-02T09:31:12.345Z",
      functionArn: FUNCTION_ARN,
    });
  });

  it("reads an EventBridge pipe's dead-letter record, naming the pipe instead of a function", () => {
    const batch = batchOfFailureRecord(pipeRecord());
    expect(batch).toEqual({
      ...discardedRange(),
      discardedBy: "pipe",
      condition: "RecordAgeExceeded",
      discardedAt: "2026-12-02T09:31:12Z",
      functionArn: undefined,
      pipeArn: PIPE_ARN,
    });
    expect("functionArn" in batch).toBe(false);
  });

  it("reads a pipe's record of a Kinesis batch", () => {
    const batch = batchOfFailureRecord(pipeRecord({ KinesisBatchInfo: kinesisBatchInfo() }));
    expect(batch).toMatchObject({ source: "kinesis", discardedBy: "pipe", pipeArn: PIPE_ARN });
  });

  it("leaves out condition, timestamp and functionArn when the record has none", () => {
    const record = { requestContext: {}, DDBStreamBatchInfo: dynamoDbBatchInfo() };
    const batch = batchOfFailureRecord(record);
    expect(Object.keys(batch).sort()).toEqual(
      [
        "source",
        "discardedBy",
        "streamArn",
        "shardId",
        "startSequenceNumber",
        "endSequenceNumber",
        "batchSize",
        "approximateArrivalOfFirstRecord",
        "approximateArrivalOfLastRecord",
      ].sort(),
    );
  });

  it("takes null condition, functionArn and timestamp as absent", () => {
    const record = {
      requestContext: { condition: null, functionArn: null },
      timestamp: null,
      DDBStreamBatchInfo: dynamoDbBatchInfo(),
    };
    expect(batchOfFailureRecord(record)).not.toHaveProperty("condition");
  });

  it("accepts a batch of one record, whose start and end are the same", () => {
    const info = dynamoDbBatchInfo({ endSequenceNumber: "470000000000000012345678901", batchSize: 1 });
    expect(batchOfFailureRecord(esmRecord({ DDBStreamBatchInfo: info })).endSequenceNumber).toBe(
      "470000000000000012345678901",
    );
  });

  it("compares sequence numbers as integers, not as text", () => {
    // As text "99" > "100"; as integers it is below.
    const info = dynamoDbBatchInfo({ startSequenceNumber: "99", endSequenceNumber: "100" });
    expect(batchOfFailureRecord(esmRecord({ DDBStreamBatchInfo: info })).startSequenceNumber).toBe("99");
    const reversed = dynamoDbBatchInfo({ startSequenceNumber: "100", endSequenceNumber: "99" });
    expect(thrown(() => batchOfFailureRecord(esmRecord({ DDBStreamBatchInfo: reversed })))).toBe(
      "The on-failure record `DDBStreamBatchInfo.endSequenceNumber` must not be below startSequenceNumber 100",
    );
  });

  it("accepts sequence numbers beyond 2^53 without losing digits", () => {
    const start = "12345678901234567890123456789012345678";
    const end = "12345678901234567890123456789012345679";
    const batch = batchOfFailureRecord(
      esmRecord({ DDBStreamBatchInfo: dynamoDbBatchInfo({ startSequenceNumber: start, endSequenceNumber: end }) }),
    );
    expect([batch.startSequenceNumber, batch.endSequenceNumber]).toEqual([start, end]);
  });

  it("accepts stream ARNs of other partitions", () => {
    const streamArn = "arn:aws-cn:dynamodb:cn-north-1:111122223333:table/products/stream/2026-11-30T08:15:00.000";
    expect(batchOfFailureRecord(esmRecord({ DDBStreamBatchInfo: dynamoDbBatchInfo({ streamArn }) })).streamArn).toBe(
      streamArn,
    );
  });

  describe("names the field at fault", () => {
    it.each([
      ["streamArn", { streamArn: undefined }, "must be a DynamoDB stream ARN"],
      ["streamArn", { streamArn: KINESIS_ARN }, "must be a DynamoDB stream ARN"],
      ["streamArn", { streamArn: [STREAM_ARN] }, "must be a DynamoDB stream ARN"],
      ["streamArn", { streamArn: "arn:aws:dynamodb:eu-west-1:111122223333:table/products" }, "must be a DynamoDB"],
      ["shardId", { shardId: "" }, "must be a non-empty string (got a string)"],
      ["shardId", { shardId: 7 }, "must be a non-empty string (got a number)"],
      ["startSequenceNumber", { startSequenceNumber: 470000000000 }, "must be a string of digits"],
      ["startSequenceNumber", { startSequenceNumber: "" }, "must be a string of digits"],
      ["startSequenceNumber", { startSequenceNumber: "-1" }, "must be a string of digits"],
      ["endSequenceNumber", { endSequenceNumber: "4.7e26" }, "must be a string of digits"],
      ["endSequenceNumber", { endSequenceNumber: undefined }, "must be a string of digits"],
      ["batchSize", { batchSize: 0 }, "must be a positive integer"],
      ["batchSize", { batchSize: 2.5 }, "must be a positive integer"],
      ["batchSize", { batchSize: 2 ** 53 }, "must be a positive integer"],
      ["batchSize", { batchSize: "3" }, "must be a positive integer"],
      ["approximateArrivalOfFirstRecord", { approximateArrivalOfFirstRecord: "yesterday" }, "must be an ISO 8601"],
      [
        "approximateArrivalOfFirstRecord",
        { approximateArrivalOfFirstRecord: ["2026-12-02T09:30:01Z"] },
        "must be an ISO 8601",
      ],
      ["approximateArrivalOfFirstRecord", { approximateArrivalOfFirstRecord: "2026-12-02" }, "must be an ISO 8601"],
      ["approximateArrivalOfFirstRecord", { approximateArrivalOfFirstRecord: "2026-12-02T09:30:01" }, "must be an ISO"],
      [
        "approximateArrivalOfFirstRecord",
        { approximateArrivalOfFirstRecord: "2026-13-45T09:30:01Z" },
        "must be an ISO",
      ],
      ["approximateArrivalOfLastRecord", { approximateArrivalOfLastRecord: 1764667804 }, "must be an ISO 8601"],
    ])("DDBStreamBatchInfo.%s (%j)", (field, fields, problem) => {
      const message = thrown(() => batchOfFailureRecord(esmRecord({ DDBStreamBatchInfo: dynamoDbBatchInfo(fields) })));
      expect(message).toContain(`\`DDBStreamBatchInfo.${field}\` ${problem}`);
    });

    it("KinesisBatchInfo.streamArn when it names a DynamoDB stream", () => {
      const record = esmRecord({ KinesisBatchInfo: kinesisBatchInfo({ streamArn: STREAM_ARN }) });
      expect(thrown(() => batchOfFailureRecord(record))).toBe(
        "The on-failure record `KinesisBatchInfo.streamArn` must be a Kinesis stream ARN, arn:aws:kinesis:<region>:<account>:stream/<name>",
      );
    });

    it("the batch info when it is no object", () => {
      expect(thrown(() => batchOfFailureRecord(esmRecord({ DDBStreamBatchInfo: "shard" })))).toBe(
        "The on-failure record `DDBStreamBatchInfo` must be an object (got a string)",
      );
    });

    it("context.partnerResourceArn of a pipe's record when it is empty", () => {
      const record = { ...pipeRecord(), context: { partnerResourceArn: "" } };
      expect(thrown(() => batchOfFailureRecord(record))).toBe(
        "The on-failure record `context.partnerResourceArn` must be the pipe's ARN (got a string)",
      );
    });

    it("the batch info before the timestamp, when both are wrong", () => {
      const record = { ...esmRecord({ DDBStreamBatchInfo: dynamoDbBatchInfo({ shardId: 7 }) }), timestamp: 1 };
      expect(thrown(() => batchOfFailureRecord(record))).toBe(
        "The on-failure record `DDBStreamBatchInfo.shardId` must be a non-empty string (got a number)",
      );
    });

    it("context.partnerResourceArn of a pipe's record", () => {
      const record = { ...pipeRecord(), context: { condition: "RetryAttemptsExhausted" } };
      expect(thrown(() => batchOfFailureRecord(record))).toBe(
        "The on-failure record `context.partnerResourceArn` must be the pipe's ARN (got undefined)",
      );
    });

    it.each([
      ["requestContext.condition", { requestContext: { condition: 3 } }],
      ["requestContext.functionArn", { requestContext: { functionArn: ["arn"] } }],
      ["context.condition", { context: { partnerResourceArn: PIPE_ARN, condition: {} } }],
      ["timestamp", { requestContext: {}, timestamp: 1764667872 }],
    ])("%s when it is no string", (field, fields) => {
      const record = { DDBStreamBatchInfo: dynamoDbBatchInfo(), ...fields };
      expect(thrown(() => batchOfFailureRecord(record))).toMatch(
        new RegExp(`^The on-failure record \`${field.replace(".", "\\.")}\` must be a string \\(got `),
      );
    });
  });

  it("refuses a record with both kinds of batch info", () => {
    const record = esmRecord({ DDBStreamBatchInfo: dynamoDbBatchInfo(), KinesisBatchInfo: kinesisBatchInfo() });
    expect(thrown(() => batchOfFailureRecord(record))).toBe(
      "The on-failure record has both DDBStreamBatchInfo and KinesisBatchInfo: one batch comes from one stream",
    );
  });

  it("refuses a record of Lambda with no batch info, saying what it looks like", () => {
    const asyncRecord = { requestContext: { condition: "RetriesExhausted" }, requestPayload: {}, version: "1.0" };
    expect(thrown(() => batchOfFailureRecord(asyncRecord))).toBe(
      "The on-failure record is not an on-failure record of a stream: it has no DDBStreamBatchInfo or KinesisBatchInfo (it looks like a record of an asynchronous invocation (it has requestPayload))",
    );
  });

  it("refuses a pipe's record with no batch info", () => {
    const { DDBStreamBatchInfo: _, ...record } = pipeRecord();
    expect(thrown(() => batchOfFailureRecord(record))).toBe(
      "The on-failure record is not an on-failure record of a stream: it has no DDBStreamBatchInfo or KinesisBatchInfo (it looks like an object with keys [context, version, timestamp])",
    );
  });

  it("refuses batch info without requestContext or context", () => {
    expect(thrown(() => batchOfFailureRecord({ DDBStreamBatchInfo: dynamoDbBatchInfo() }))).toBe(
      "The on-failure record is not an on-failure record: it has neither requestContext nor context (it looks like an object with keys [DDBStreamBatchInfo])",
    );
  });

  it.each([
    ["an S3 event notification", { Records: [{ eventSource: "aws:s3", s3: {} }] }],
    ["an S3 test event", { Service: "Amazon S3", Event: "s3:TestEvent", Bucket: "b" }],
    ["a DynamoDB stream record", { eventSource: "aws:dynamodb" }],
    ["a DynamoDB stream record", { dynamodb: {} }],
    [`an SNS message of Type "${"N".repeat(40)}"`, { Type: "N".repeat(41), Message: "x" }],
  ])("says a value with neither context looks like %s", (shape, value) => {
    expect(thrown(() => batchOfFailureRecord(value))).toBe(
      `The on-failure record is not an on-failure record: it has neither requestContext nor context (it looks like ${shape})`,
    );
  });

  it("takes a record with responsePayload alone for one of an asynchronous invocation", () => {
    const asyncRecord = { requestContext: {}, responsePayload: { errorMessage: "x" } };
    expect(thrown(() => batchOfFailureRecord(asyncRecord))).toMatch(
      /\(it looks like a record of an asynchronous invocation \(it has requestPayload\)\)$/,
    );
  });

  it.each([
    [null, "null"],
    [[esmRecord()], "an array"],
    ["text", "a string"],
  ])("refuses %j as a whole", (value, shape) => {
    expect(thrown(() => batchOfFailureRecord(value))).toBe(
      `The on-failure record is not an on-failure record (it looks like ${shape})`,
    );
  });
});

describe("failureMessagesOf", () => {
  it("reads one batch per message, in the event's order", () => {
    const event = sqsEvent(
      sqsMessage("m-1", JSON.stringify(esmRecord())),
      sqsMessage("m-2", JSON.stringify(pipeRecord({ KinesisBatchInfo: kinesisBatchInfo() }))),
    );
    const messages = failureMessagesOf(event);
    expect(messages.map((message) => message.messageId)).toEqual(["m-1", "m-2"]);
    expect(messages[0]).toEqual({ messageId: "m-1", batch: discardedRange() });
    expect(messages[1]).toMatchObject({ messageId: "m-2", batch: { source: "kinesis", discardedBy: "pipe" } });
  });

  it("unwraps an SNS notification and tells the topic", () => {
    const body = JSON.stringify(snsNotification(JSON.stringify(esmRecord())));
    expect(failureMessagesOf(sqsEvent(sqsMessage("m-1", body)))).toEqual([
      { messageId: "m-1", batch: discardedRange(), topicArn: TOPIC_ARN },
    ]);
  });

  it("unwraps an SNS notification of a pipe's record", () => {
    const body = JSON.stringify(snsNotification(JSON.stringify(pipeRecord())));
    const [message] = failureMessagesOf(sqsEvent(sqsMessage("m-1", body)));
    expect(message).toMatchObject({ batch: { discardedBy: "pipe", pipeArn: PIPE_ARN }, topicArn: TOPIC_ARN });
  });

  it("unwraps an SNS notification without TopicArn, telling no topic", () => {
    const { TopicArn: _, ...notification } = snsNotification(JSON.stringify(esmRecord()));
    const [message] = failureMessagesOf(sqsEvent(sqsMessage("m-1", JSON.stringify(notification))));
    expect(message).toEqual({ messageId: "m-1", batch: discardedRange() });
  });

  it("reads the S3 destination's record too, ignoring its payload", () => {
    const body = JSON.stringify({ ...esmRecord(), payload: JSON.stringify({ Records: [] }) });
    expect(failureMessagesOf(sqsEvent(sqsMessage("m-1", body)))).toEqual([
      { messageId: "m-1", batch: discardedRange() },
    ]);
  });

  it("gives a bad message its error and still reads the others", () => {
    const event = sqsEvent(
      sqsMessage("m-1", "not json {"),
      sqsMessage("m-2", JSON.stringify(esmRecord())),
      sqsMessage(
        "m-3",
        JSON.stringify(esmRecord({ DDBStreamBatchInfo: dynamoDbBatchInfo({ startSequenceNumber: "x" }) })),
      ),
    );
    const [first, second, third] = failureMessagesOf(event);
    expect(errorOf(first)).toBe("message m-1: `body` is not JSON, so it is not an on-failure record");
    expect(second).toEqual({ messageId: "m-2", batch: discardedRange() });
    expect(errorOf(third)).toBe(
      "message m-3: the body `DDBStreamBatchInfo.startSequenceNumber` must be a string of digits",
    );
  });

  it("names the SNS topic in the error of a wrapped record", () => {
    const record = esmRecord({ DDBStreamBatchInfo: dynamoDbBatchInfo({ batchSize: -1 }) });
    const body = JSON.stringify(snsNotification(JSON.stringify(record)));
    expect(errorOf(failureMessagesOf(sqsEvent(sqsMessage("m-1", body)))[0])).toBe(
      `message m-1: the body (an SNS notification of ${TOPIC_ARN}) \`DDBStreamBatchInfo.batchSize\` must be a positive integer`,
    );
  });

  it("names an SNS notification without TopicArn in the error of its record", () => {
    const { TopicArn: _, ...notification } = snsNotification(JSON.stringify({ hello: "world" }));
    expect(errorOf(failureMessagesOf(sqsEvent(sqsMessage("m-1", JSON.stringify(notification))))[0])).toBe(
      "message m-1: the body (an SNS notification) is not an on-failure record: it has neither requestContext nor context (it looks like an object with keys [hello])",
    );
  });

  it("accepts arrival times with an offset instead of Z", () => {
    const info = dynamoDbBatchInfo({ approximateArrivalOfFirstRecord: "2026-12-02T10:30:01+01:00" });
    const [message] = failureMessagesOf(
      sqsEvent(sqsMessage("m-1", JSON.stringify(esmRecord({ DDBStreamBatchInfo: info })))),
    );
    expect(message).toMatchObject({ batch: { approximateArrivalOfFirstRecord: "2026-12-02T10:30:01+01:00" } });
  });

  it("reads an SNS notification whose Message is no string as the body itself", () => {
    const body = JSON.stringify({ ...snsNotification(""), Message: esmRecord() });
    expect(errorOf(failureMessagesOf(sqsEvent(sqsMessage("m-1", body)))[0])).toBe(
      'message m-1: the body is not an on-failure record: it has neither requestContext nor context (it looks like an SNS message of Type "Notification")',
    );
  });

  it("tells no topic for an SNS notification whose TopicArn is no string", () => {
    const body = JSON.stringify({ ...snsNotification(JSON.stringify(esmRecord())), TopicArn: 7 });
    expect(failureMessagesOf(sqsEvent(sqsMessage("m-1", body)))).toEqual([
      { messageId: "m-1", batch: discardedRange() },
    ]);
  });

  it("names an SNS notification whose Message is not JSON", () => {
    const body = JSON.stringify(snsNotification("Discarded batch, see console"));
    expect(errorOf(failureMessagesOf(sqsEvent(sqsMessage("m-1", body)))[0])).toBe(
      "message m-1: the SNS notification's `Message` is not JSON, so it is not an on-failure record",
    );
  });

  describe("S3 event notifications of an S3 on-failure destination", () => {
    const messageOf = (body: unknown) => failureMessagesOf(sqsEvent(sqsMessage("m-1", JSON.stringify(body))))[0];

    it("gives the objects created, keys decoded as S3 encodes them", () => {
      const body = {
        Records: [
          s3EventRecord("failures", "aws/lambda/uuid/shardId-1/2026/12/03/2026-12-03T01%3A02%3A03.000Z-a"),
          s3EventRecord("failures", "with+space%2Band+plus"),
        ],
      };
      expect(messageOf(body)).toEqual({
        messageId: "m-1",
        objects: [
          { bucket: "failures", key: "aws/lambda/uuid/shardId-1/2026/12/03/2026-12-03T01:02:03.000Z-a" },
          { bucket: "failures", key: "with space+and plus" },
        ],
      });
    });

    it("gives no objects for a record without eventName", () => {
      const { eventName: _, ...unnamed } = s3EventRecord("b", "k");
      expect(messageOf({ Records: [unnamed] })).toEqual({ messageId: "m-1", objects: [] });
    });

    it("gives no objects for S3's test event and for events other than ObjectCreated", () => {
      expect(messageOf({ Service: "Amazon S3", Event: "s3:TestEvent", Bucket: "b" })).toEqual({
        messageId: "m-1",
        objects: [],
      });
      expect(messageOf({ Records: [s3EventRecord("b", "k", "ObjectRemoved:Delete")] })).toEqual({
        messageId: "m-1",
        objects: [],
      });
    });

    it.each([
      [
        { Records: [s3EventRecord("b", "k"), { eventSource: "aws:sqs" }] },
        "message m-1: the S3 event notification's `Records[1]` must be an S3 event record (got an object with keys [eventSource])",
      ],
      [
        { Records: [s3EventRecord("", "k")] },
        "message m-1: the S3 event notification's `Records[0].s3.bucket.name` must be a bucket name, and is empty",
      ],
      [
        { Records: [{ eventSource: "aws:s3", eventName: "ObjectCreated:Put" }] },
        "message m-1: the S3 event notification's `Records[0].s3.bucket.name` must be a bucket name (got undefined)",
      ],
      [
        { Records: [s3EventRecord("b", 7)] },
        "message m-1: the S3 event notification's `Records[0].s3.object.key` must be an object key (got a number)",
      ],
      [
        { Records: [s3EventRecord("b", "100%")] },
        'message m-1: the S3 event notification\'s `Records[0].s3.object.key` is not URL-encoded as S3 writes it: "100%"',
      ],
    ])("names the field at fault: %j", (body, message) => {
      expect(errorOf(messageOf(body))).toBe(message);
    });

    it("is read inside an SNS notification too (S3 → SNS → SQS)", () => {
      const body = snsNotification(JSON.stringify({ Records: [s3EventRecord("b", "k")] }));
      expect(messageOf(body)).toEqual({ messageId: "m-1", objects: [{ bucket: "b", key: "k" }] });
    });
  });

  describe("says what a message that is no on-failure record looks like", () => {
    const remove = createRecordFactory().removeRecord({ keys: { id: { S: "doc-1" } } });
    it.each([
      ["a DynamoDB stream event", streamEvent(remove)],
      ["a DynamoDB stream record", remove],
      ["a Kinesis event", { Records: [{ eventSource: "aws:kinesis", kinesis: {} }] }],
      ["a Kinesis record", { kinesis: { data: "" } }],
      ["an SQS event", { Records: [{ eventSource: "aws:sqs" }] }],
      ["an SNS event", { Records: [{ EventSource: "aws:sns" }] }],
      ["an event with a Records array", { Records: [] }],
      ['an SNS message of Type "SubscriptionConfirmation"', { Type: "SubscriptionConfirmation", Message: "x" }],
      ["an EventBridge event", { "detail-type": "Object Created", source: "aws.s3", detail: {} }],
      ["an object with keys [hello]", { hello: "world" }],
      ["a number", 42],
      ["an array", []],
      ["null", null],
    ])("%s", (shape, value) => {
      const message = errorOf(failureMessagesOf(sqsEvent(sqsMessage("abc", JSON.stringify(value))))[0]);
      expect(message).toMatch(/^message abc: the body is not an on-failure record/);
      expect(message).toContain(`(it looks like ${shape})`);
    });
  });

  it.each([
    [undefined, "undefined"],
    [{ text: "x" }, "an object with keys [text]"],
  ])("gives a message whose body is %j an error", (body, shape) => {
    expect(errorOf(failureMessagesOf(sqsEvent(sqsMessage("m-1", body)))[0])).toBe(
      `message m-1: \`body\` must be a string (got ${shape})`,
    );
  });

  describe("refuses an event that is no SQS event", () => {
    it.each([
      [undefined, "got undefined"],
      [[], "got an array"],
      [{ Records: "m" }, "got an object with keys [Records]"],
    ])("%j", (event, shape) => {
      expect(thrown(() => failureMessagesOf(event))).toBe(
        `The event has no Records array (${shape}): the replay function must be subscribed to the SQS queue of on-failure records`,
      );
    });

    it("naming at most 40 characters of the eventSource", () => {
      const event = { Records: [{ eventSource: `aws:${"x".repeat(60)}` }] };
      expect(thrown(() => failureMessagesOf(event))).toContain(
        `record 0 has eventSource "aws:${"x".repeat(36)}" (it looks like`,
      );
    });

    it("a DynamoDB stream event, saying so", () => {
      const event = streamEvent(createRecordFactory().removeRecord({ keys: { id: { S: "doc-1" } } }));
      expect(thrown(() => failureMessagesOf(event))).toBe(
        'The event is not an SQS event: record 0 has eventSource "aws:dynamodb" (it looks like a DynamoDB stream event); the replay function must be subscribed to the SQS queue of on-failure records',
      );
    });

    it.each([
      ["without messageId", { body: "{}" }, "an object with keys [body]"],
      ["with an empty messageId", { messageId: "", body: "{}" }, "an object with keys [messageId, body]"],
      ["that is no object", "m-1", "a string"],
    ])("a record %s", (_, record, shape) => {
      expect(thrown(() => failureMessagesOf({ Records: [sqsMessage("m-0", "{}"), record] }))).toBe(
        `The event is not an SQS event: record 1 has no messageId (got ${shape})`,
      );
    });
  });

  it("reads an empty event as no messages", () => {
    expect(failureMessagesOf({ Records: [] })).toEqual([]);
  });
});

describe("failureObjectOf", () => {
  const factory = createRecordFactory();
  const invoked = streamEvent(
    factory.removeRecord({ keys: { id: { S: "doc-1" } } }),
    factory.removeRecord({ keys: { id: { S: "doc-2" } } }),
  );
  const KEY =
    "aws/lambda/6d4f1c2e-0000-4000-8000-000000000001/shardId-00000001764489300000-1a2b3c4d/2026/12/02/2026-12-02T09.31.12-0b1c2d3e-0000-4000-8000-000000000002";

  it("reads the batch and the invoked event, which parses into its records", () => {
    const text = JSON.stringify({ ...esmRecord(), payload: JSON.stringify(invoked) });
    const { batch, event } = failureObjectOf(KEY, text);
    expect(batch).toEqual(discardedRange());
    expect(event).toEqual(invoked);
    expect(parseStreamRecords(event).removals.map((removal) => removal.keys)).toEqual([
      { id: "doc-1" },
      { id: "doc-2" },
    ]);
  });

  it.each([
    ["not JSON", "{", "is not JSON, so it is not an on-failure record"],
    [
      "a record without payload",
      JSON.stringify(esmRecord()),
      "`payload` must be the invoked event as a JSON string (got undefined)",
    ],
    [
      "a payload that is an object, not a string",
      JSON.stringify({ ...esmRecord(), payload: invoked }),
      "`payload` must be the invoked event as a JSON string (got an object with keys [Records])",
    ],
    [
      "a payload that is not JSON",
      JSON.stringify({ ...esmRecord(), payload: "<Whole Event>" }),
      "`payload` is not JSON",
    ],
    [
      "a payload of an object without Records",
      JSON.stringify({ ...esmRecord(), payload: "{}" }),
      "`payload` must hold an event with a Records array (got an object with keys [])",
    ],
    [
      "a payload without Records",
      JSON.stringify({ ...esmRecord(), payload: "[]" }),
      "`payload` must hold an event with a Records array (got an array)",
    ],
    [
      "a record with a bad batch info",
      JSON.stringify({ ...esmRecord({ DDBStreamBatchInfo: dynamoDbBatchInfo({ shardId: "" }) }), payload: "{}" }),
      "the record `DDBStreamBatchInfo.shardId` must be a non-empty string (got a string)",
    ],
  ])("names the object and the problem: %s", (_, text, problem) => {
    expect(thrown(() => failureObjectOf(KEY, text))).toBe(`object ${KEY}: ${problem}`);
  });
});

describe("properties", () => {
  const digits = fc.stringMatching(/^[0-9]{1,40}$/);
  const dateTime = fc
    .date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2100-01-01T00:00:00Z"), noInvalidDate: true })
    .map((date) => date.toISOString());
  const name = fc.stringMatching(/^[A-Za-z0-9._-]{1,30}$/);
  const text = fc.string({ minLength: 1, maxLength: 40 });

  const validBatch: fc.Arbitrary<DiscardedRange> = fc
    .record({
      source: fc.constantFrom("dynamodb-streams" as const, "kinesis" as const),
      discardedBy: fc.constantFrom("event-source-mapping" as const, "pipe" as const),
      table: name,
      shardId: text,
      start: digits,
      gap: fc.bigInt({ min: 0n, max: 10n ** 30n }),
      batchSize: fc.integer({ min: 1, max: 10_000 }),
      first: dateTime,
      last: dateTime,
      condition: fc.option(text, { nil: undefined }),
      discardedAt: fc.option(dateTime, { nil: undefined }),
      owner: name,
    })
    .map((drawn) => {
      const batch: DiscardedRange = {
        source: drawn.source,
        discardedBy: drawn.discardedBy,
        streamArn:
          drawn.source === "kinesis"
            ? `arn:aws:kinesis:eu-west-1:111122223333:stream/${drawn.table}`
            : `arn:aws:dynamodb:eu-west-1:111122223333:table/${drawn.table}/stream/2026-11-30T08:15:00.000`,
        shardId: drawn.shardId,
        startSequenceNumber: drawn.start,
        endSequenceNumber: (BigInt(drawn.start) + drawn.gap).toString(),
        batchSize: drawn.batchSize,
        approximateArrivalOfFirstRecord: drawn.first,
        approximateArrivalOfLastRecord: drawn.last,
      };
      if (drawn.condition !== undefined) batch.condition = drawn.condition;
      if (drawn.discardedAt !== undefined) batch.discardedAt = drawn.discardedAt;
      if (drawn.discardedBy === "pipe") batch.pipeArn = `arn:aws:pipes:eu-west-1:111122223333:pipe/${drawn.owner}`;
      else batch.functionArn = `arn:aws:lambda:eu-west-1:111122223333:function:${drawn.owner}`;
      return batch;
    });

  /** The record Lambda or a pipe would write for `batch`. */
  function recordOf(batch: DiscardedRange): Record<string, unknown> {
    const info = {
      shardId: batch.shardId,
      startSequenceNumber: batch.startSequenceNumber,
      endSequenceNumber: batch.endSequenceNumber,
      approximateArrivalOfFirstRecord: batch.approximateArrivalOfFirstRecord,
      approximateArrivalOfLastRecord: batch.approximateArrivalOfLastRecord,
      batchSize: batch.batchSize,
      streamArn: batch.streamArn,
    };
    const envelope =
      batch.discardedBy === "pipe"
        ? { context: { partnerResourceArn: batch.pipeArn, condition: batch.condition } }
        : { requestContext: { functionArn: batch.functionArn, condition: batch.condition, approximateInvokeCount: 3 } };
    return {
      ...envelope,
      version: "1.0",
      timestamp: batch.discardedAt,
      [batch.source === "kinesis" ? "KinesisBatchInfo" : "DDBStreamBatchInfo"]: info,
    };
  }

  it("any valid batch info round-trips, bare or through SNS", () => {
    fc.assert(
      fc.property(validBatch, fc.boolean(), (batch, throughSns) => {
        const record = JSON.stringify(recordOf(batch));
        const body = throughSns ? JSON.stringify(snsNotification(record)) : record;
        const [message] = failureMessagesOf(sqsEvent(sqsMessage("m-1", body)));
        expect(message).toEqual(
          throughSns ? { messageId: "m-1", batch, topicArn: TOPIC_ARN } : { messageId: "m-1", batch },
        );
      }),
      { numRuns: propertyRuns(200) },
    );
  });

  /** Bodies of every kind: any text, any JSON, and valid records with one field replaced by anything. */
  const body = fc.oneof(
    fc.string(),
    fc.jsonValue().map((value) => JSON.stringify(value)),
    fc
      .tuple(validBatch, fc.constantFrom("shardId", "startSequenceNumber", "batchSize", "streamArn"), fc.anything())
      .map(([batch, field, value]) => {
        const record = recordOf(batch);
        const infoName = batch.source === "kinesis" ? "KinesisBatchInfo" : "DDBStreamBatchInfo";
        const info = record[infoName] as Record<string, unknown>;
        return JSON.stringify({ ...record, [infoName]: { ...info, [field]: value } });
      }),
    fc.anything(),
  );

  it("no input crashes: every message gets a batch or an error, in order", () => {
    fc.assert(
      fc.property(fc.array(body, { maxLength: 5 }), fc.boolean(), (bodies, throughSns) => {
        const event = sqsEvent(
          ...bodies.map((value, index) =>
            sqsMessage(
              `m-${index}`,
              throughSns && typeof value === "string" ? JSON.stringify(snsNotification(value)) : value,
            ),
          ),
        );
        const messages = failureMessagesOf(event);
        expect(messages.map((message) => message.messageId)).toEqual(bodies.map((_, index) => `m-${index}`));
        for (const message of messages) {
          expect(["batch", "objects", "error"].filter((field) => field in message)).toHaveLength(1);
          if ("error" in message) expect(message.error.message.startsWith(`message ${message.messageId}: `)).toBe(true);
          else if ("batch" in message)
            expect(BigInt(message.batch.startSequenceNumber) <= BigInt(message.batch.endSequenceNumber)).toBe(true);
        }
      }),
      { numRuns: propertyRuns(300) },
    );
  });

  it("batchOfFailureRecord returns a batch or throws an InvalidEventError, for any value", () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        try {
          batchOfFailureRecord(value);
        } catch (error) {
          expect(isInvalidEventError(error)).toBe(true);
        }
      }),
      { numRuns: propertyRuns(200) },
    );
  });
});
