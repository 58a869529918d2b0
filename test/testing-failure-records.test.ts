import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { batchOfFailureRecord, failureMessagesOf, failureObjectOf } from "../src/failure-destination-records.js";
import type { StreamRecord } from "../src/index.js";
import { type FailureRecordInput, failureObjectKeyOf, failureRecordOf, removeRecord } from "../src/testing/index.js";
import { propertyRuns } from "./property-runs.js";

const STREAM_ARN = "arn:aws:dynamodb:eu-west-1:111122223333:table/products/stream/2026-11-30T08:15:00.000";
const FUNCTION_ARN = "arn:aws:lambda:eu-west-1:111122223333:function:products-cleanup";
const REQUEST_ID = "0e5b7a2c-3d4f-4a1b-9c8d-7e6f5a4b3c2d";
const SHARD_ID = "shardId-00000001764489300000-1a2b3c4d";
const DISCARDED_AT = new Date("2026-12-02T09:31:12.345Z");

const record = (id: string, sequenceNumber: string, approximateCreationDateTime?: number): StreamRecord =>
  removeRecord({
    keys: { productId: id },
    sequenceNumber,
    tableName: "products",
    ...(approximateCreationDateTime === undefined ? {} : { approximateCreationDateTime }),
  });

const RECORDS = [
  record("p-1", "470000000000000012345678901", 1_795_000_001.75),
  record("p-2", "470000000000000012345678920"),
  record("p-3", "470000000000000012345678955", 1_795_000_004),
];

const input = (overrides: Partial<FailureRecordInput> = {}): FailureRecordInput => ({
  streamArn: STREAM_ARN,
  shardId: SHARD_ID,
  records: RECORDS,
  attempts: 4,
  functionArn: FUNCTION_ARN,
  requestId: REQUEST_ID,
  functionError: "Unhandled",
  discardedAt: DISCARDED_AT,
  ...overrides,
});

/** An SQS event of one message per body, as the replay function receives it. */
const sqsEvent = (...bodies: string[]) => ({
  Records: bodies.map((body, index) => ({ messageId: `message-${index}`, eventSource: "aws:sqs", body })),
});

describe("failureRecordOf", () => {
  it("writes Lambda's record field for field, with arrival times in whole seconds", () => {
    // Act
    const written = failureRecordOf(input());

    // Assess
    expect(JSON.parse(JSON.stringify(written))).toStrictEqual({
      requestContext: {
        requestId: REQUEST_ID,
        functionArn: FUNCTION_ARN,
        condition: "RetryAttemptsExhausted",
        approximateInvokeCount: 4,
      },
      responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
      version: "1.0",
      timestamp: "2026-12-02T09:31:12.345Z",
      DDBStreamBatchInfo: {
        shardId: SHARD_ID,
        startSequenceNumber: "470000000000000012345678901",
        endSequenceNumber: "470000000000000012345678955",
        approximateArrivalOfFirstRecord: "2026-11-18T11:06:41Z",
        approximateArrivalOfLastRecord: "2026-11-18T11:06:44Z",
        batchSize: 3,
        streamArn: STREAM_ARN,
      },
    });
    expect(Object.keys(written)).toEqual([
      "requestContext",
      "responseContext",
      "version",
      "timestamp",
      "DDBStreamBatchInfo",
    ]);
  });

  it("leaves functionError out when the function returned", () => {
    // Act
    const written = failureRecordOf(input({ functionError: undefined }));

    // Assess
    expect(written.responseContext).toStrictEqual({ statusCode: 200, executedVersion: "$LATEST" });
  });

  it("takes the discard time, in whole seconds, for a record without ApproximateCreationDateTime", () => {
    // Prepare
    const { ApproximateCreationDateTime: _, ...dynamodb } = RECORDS[0]?.dynamodb ?? {};
    const timeless = { ...RECORDS[0], dynamodb };

    // Act
    const written = failureRecordOf(input({ records: [timeless] }));

    // Assess
    expect(written.DDBStreamBatchInfo).toMatchObject({
      startSequenceNumber: "470000000000000012345678901",
      endSequenceNumber: "470000000000000012345678901",
      approximateArrivalOfFirstRecord: "2026-12-02T09:31:12Z",
      approximateArrivalOfLastRecord: "2026-12-02T09:31:12Z",
      batchSize: 1,
    });
  });

  it("adds the records as the event in a JSON string under payload, for an S3 destination", () => {
    // Act
    const written = failureRecordOf(input(), { payload: true });

    // Assess
    expect(Object.keys(written).at(-1)).toBe("payload");
    expect(JSON.parse(written.payload ?? "")).toStrictEqual({ Records: RECORDS });
  });

  it("reads back through failureMessagesOf, as the body of an SQS message", () => {
    // Act
    const [message] = failureMessagesOf(sqsEvent(JSON.stringify(failureRecordOf(input()))));

    // Assess
    expect(message).toStrictEqual({
      messageId: "message-0",
      batch: {
        source: "dynamodb-streams",
        discardedBy: "event-source-mapping",
        streamArn: STREAM_ARN,
        shardId: SHARD_ID,
        startSequenceNumber: "470000000000000012345678901",
        endSequenceNumber: "470000000000000012345678955",
        batchSize: 3,
        approximateArrivalOfFirstRecord: "2026-11-18T11:06:41Z",
        approximateArrivalOfLastRecord: "2026-11-18T11:06:44Z",
        condition: "RetryAttemptsExhausted",
        discardedAt: "2026-12-02T09:31:12.345Z",
        functionArn: FUNCTION_ARN,
      },
    });
  });

  it("reads back through failureObjectOf, as an S3 object, records included", () => {
    // Prepare
    const key = failureObjectKeyOf({ mappingUuid: "mapping", shardId: SHARD_ID, discardedAt: DISCARDED_AT, id: "x" });

    // Act
    const object = failureObjectOf(key, JSON.stringify(failureRecordOf(input(), { payload: true })));

    // Assess
    expect(object.batch).toMatchObject({ shardId: SHARD_ID, batchSize: 3, functionArn: FUNCTION_ARN });
    expect(object.event).toStrictEqual({ Records: RECORDS });
  });

  it("reads back for any batch: the range, the size and the arrival times", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 26n }),
        fc.array(
          fc.record({
            gap: fc.bigInt({ min: 1n, max: 10n ** 6n }),
            seconds: fc.double({ min: 0, max: 4e9, noNaN: true }),
          }),
          {
            minLength: 1,
            maxLength: 20,
          },
        ),
        fc.boolean(),
        (start, steps, threw) => {
          // Prepare
          let sequence = start;
          const records = steps.map(({ gap, seconds }, index) => {
            sequence += gap;
            return record(`p-${index}`, String(sequence).padStart(21, "0"), seconds);
          });

          // Act
          const written = JSON.stringify(
            failureRecordOf(input({ records, functionError: threw ? "Unhandled" : undefined })),
          );
          const batch = batchOfFailureRecord(JSON.parse(written));

          // Assess
          expect(batch.startSequenceNumber).toBe(records[0]?.dynamodb?.SequenceNumber);
          expect(batch.endSequenceNumber).toBe(records.at(-1)?.dynamodb?.SequenceNumber);
          expect(batch.batchSize).toBe(records.length);
          expect(Date.parse(batch.approximateArrivalOfFirstRecord) / 1000).toBe(Math.floor(steps[0]?.seconds ?? -1));
          expect(Date.parse(batch.approximateArrivalOfLastRecord) / 1000).toBe(Math.floor(steps.at(-1)?.seconds ?? -1));
        },
      ),
      { numRuns: propertyRuns(200) },
    );
  });

  it("throws a TypeError for no records", () => {
    expect(() => failureRecordOf(input({ records: [] }))).toThrow(
      new TypeError("failureRecordOf: no records to discard"),
    );
  });

  it("throws a TypeError naming a record without dynamodb.SequenceNumber", () => {
    // Prepare
    const { SequenceNumber: _, ...dynamodb } = RECORDS[1]?.dynamodb ?? {};

    // Act / Assess
    expect(() =>
      failureRecordOf(input({ records: [RECORDS[0] as StreamRecord, { ...RECORDS[1], dynamodb }] })),
    ).toThrow(new TypeError("failureRecordOf: record 1 has no dynamodb.SequenceNumber"));
  });
});

describe("failureObjectKeyOf", () => {
  it("lays the key out as Lambda does, in UTC", () => {
    expect(
      failureObjectKeyOf({
        mappingUuid: "9f1c2d3e-0000-4000-8000-000000000001",
        shardId: SHARD_ID,
        discardedAt: new Date("2026-12-02T23:59:07.999-02:00"),
        id: "5b0e0000-0000-4000-8000-000000000002",
      }),
    ).toBe(
      `aws/lambda/9f1c2d3e-0000-4000-8000-000000000001/${SHARD_ID}/2026/12/03/2026-12-03T01.59.07-5b0e0000-0000-4000-8000-000000000002`,
    );
  });
});
