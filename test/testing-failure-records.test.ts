import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { batchOfFailureRecord, failureMessagesOf, failureObjectOf } from "../src/failure-destination-records.js";
import type { StreamRecord } from "../src/index.js";
import { type FailureRecordInput, failureObjectKeyOf, failureRecordOf, removeRecord } from "../src/testing/index.js";
import {
  DISCARDED_AT,
  discardedRange,
  dynamoDbBatchInfo,
  END_SEQUENCE_NUMBER,
  esmRecord,
  FUNCTION_ARN,
  jsonMessage,
  REQUEST_ID,
  SHARD_ID,
  START_SEQUENCE_NUMBER,
  STREAM_ARN,
  sqsEvent,
} from "./failure-record-factories.js";
import { propertyRuns } from "./property-runs.js";

/** The first and last records of RECORDS arrived at these times, in whole seconds. */
const ARRIVALS = {
  approximateArrivalOfFirstRecord: "2026-11-18T11:06:41Z",
  approximateArrivalOfLastRecord: "2026-11-18T11:06:44Z",
};

const record = (id: string, sequenceNumber: string, approximateCreationDateTime?: number): StreamRecord =>
  removeRecord({
    keys: { productId: id },
    sequenceNumber,
    tableName: "products",
    ...(approximateCreationDateTime === undefined ? {} : { approximateCreationDateTime }),
  });

const RECORDS = [
  record("p-1", START_SEQUENCE_NUMBER, 1_795_000_001.75),
  record("p-2", "470000000000000012345678920"),
  record("p-3", END_SEQUENCE_NUMBER, 1_795_000_004),
];

const input = (overrides: Partial<FailureRecordInput> = {}): FailureRecordInput => ({
  streamArn: STREAM_ARN,
  shardId: SHARD_ID,
  records: RECORDS,
  attempts: 4,
  functionArn: FUNCTION_ARN,
  requestId: REQUEST_ID,
  functionError: "Unhandled",
  discardedAt: new Date(DISCARDED_AT),
  ...overrides,
});

describe("failureRecordOf", () => {
  it("writes Lambda's record field for field, with arrival times in whole seconds", () => {
    // Act
    const written = failureRecordOf(input());

    // Assess
    expect(JSON.parse(JSON.stringify(written))).toStrictEqual(
      esmRecord({ DDBStreamBatchInfo: dynamoDbBatchInfo(ARRIVALS) }),
    );
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
      startSequenceNumber: START_SEQUENCE_NUMBER,
      endSequenceNumber: START_SEQUENCE_NUMBER,
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
    const [message] = failureMessagesOf(sqsEvent(jsonMessage("message-0", failureRecordOf(input()))));

    // Assess
    expect(message).toStrictEqual({ messageId: "message-0", batch: discardedRange(ARRIVALS) });
  });

  it("reads back through failureObjectOf, as an S3 object, records included", () => {
    // Prepare
    const key = failureObjectKeyOf({
      mappingUuid: "mapping",
      shardId: SHARD_ID,
      discardedAt: new Date(DISCARDED_AT),
      id: "x",
    });

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
