import { BatchGetItemCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  type _Record,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
} from "@aws-sdk/client-dynamodb-streams";
import {
  KinesisClient,
  GetRecordsCommand as KinesisGetRecordsCommand,
  GetShardIteratorCommand as KinesisGetShardIteratorCommand,
} from "@aws-sdk/client-kinesis";
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createReplayHandler,
  emfMetrics,
  isConfigError,
  isInvalidEventError,
  type ReplayOptions,
  type ReplaySummary,
} from "../src/index.js";
import { recordingLogger } from "./factories.js";
import {
  END_SEQUENCE_NUMBER,
  esmRecord,
  jsonMessage,
  kinesisBatchInfo,
  SHARD_ID,
  START_SEQUENCE_NUMBER,
  STREAM_ARN,
  s3Notification,
  sqsEvent,
} from "./failure-record-factories.js";
import { createFakeClock } from "./fake-clock.js";

const s3 = mockClient(S3Client);
const streams = mockClient(DynamoDBStreamsClient);
const dynamodb = mockClient(DynamoDBClient);
const kinesis = mockClient(KinesisClient);

beforeEach(() => {
  s3.reset();
  streams.reset();
  dynamodb.reset();
  kinesis.reset();
  s3.on(DeleteObjectsCommand).callsFake((input: { Delete: { Objects: { Key: string }[] } }) => ({
    Deleted: input.Delete.Objects.map(({ Key }) => ({ Key })),
  }));
  dynamodb.on(BatchGetItemCommand).resolves({ Responses: { products: [] } });
});

afterEach(() => {
  s3.reset();
  streams.reset();
  dynamodb.reset();
  kinesis.reset();
});

/** A REMOVE record as the DynamoDB Streams API returns it. */
function sdkRemove(productId: string, sequenceNumber: string): _Record {
  return {
    eventID: `event-${sequenceNumber}`,
    eventName: "REMOVE",
    eventVersion: "1.1",
    eventSource: "aws:dynamodb",
    awsRegion: "us-east-1",
    dynamodb: {
      ApproximateCreationDateTime: new Date("2026-12-02T09:30:01Z"),
      Keys: { productId: { S: productId } },
      SequenceNumber: sequenceNumber,
      SizeBytes: 20,
      StreamViewType: "KEYS_ONLY",
    },
  };
}

/** The stream answers the range with these records on one page, and then that its shard is closed. */
function streamHolds(...records: _Record[]) {
  streams.on(GetShardIteratorCommand).resolves({ ShardIterator: "iterator-1" });
  streams
    .on(GetRecordsCommand)
    .resolvesOnce({ Records: records, NextShardIterator: "iterator-2" })
    .resolves({ Records: [] });
}

function replay(options: Partial<ReplayOptions> = {}) {
  const { logger, lines } = recordingLogger();
  const summaries: ReplaySummary[] = [];
  const handler = createReplayHandler({
    bucket: "product-images",
    key: "{productId}.png",
    s3Client: s3 as unknown as S3Client,
    streamsClient: new DynamoDBStreamsClient({}),
    dynamoDbClient: new DynamoDBClient({}),
    kinesisClient: new KinesisClient({}),
    sleep: createFakeClock().sleep,
    logger,
    onResult: (summary) => {
      summaries.push(summary);
    },
    ...options,
  } as ReplayOptions);
  return { handler, lines, summaries };
}

const deletedKeys = () =>
  s3.commandCalls(DeleteObjectsCommand).flatMap((call) => call.args[0].input.Delete?.Objects?.map(({ Key }) => Key));

describe("createReplayHandler", () => {
  it("re-reads the discarded range and deletes the removed items' objects", async () => {
    // Prepare
    streamHolds(
      sdkRemove("p-1", START_SEQUENCE_NUMBER),
      sdkRemove("p-2", "470000000000000012345678920"),
      sdkRemove("p-3", END_SEQUENCE_NUMBER),
    );
    const { handler, summaries } = replay();

    // Act
    const response = await handler(sqsEvent(jsonMessage("m-1", esmRecord())));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(streams.commandCalls(GetShardIteratorCommand)[0]?.args[0].input).toEqual({
      StreamArn: STREAM_ARN,
      ShardId: SHARD_ID,
      ShardIteratorType: "AT_SEQUENCE_NUMBER",
      SequenceNumber: START_SEQUENCE_NUMBER,
    });
    expect(deletedKeys()).toEqual(["p-1.png", "p-2.png", "p-3.png"]);
    expect(summaries[0]).toMatchObject({
      messages: 1,
      batches: 1,
      records: 3,
      removals: 3,
      deleted: 3,
      unreplayableBatches: 0,
      keptRecreated: 0,
      batchItemFailures: 0,
      fallback: "none",
    });
  });

  it("checks the table first, and keeps the objects of an item written again since", async () => {
    // Prepare
    streamHolds(sdkRemove("p-1", START_SEQUENCE_NUMBER), sdkRemove("p-2", END_SEQUENCE_NUMBER));
    dynamodb.on(BatchGetItemCommand).resolves({ Responses: { products: [{ productId: { S: "p-2" } }] } });
    const { handler, summaries } = replay();

    // Act
    const response = await handler(sqsEvent(jsonMessage("m-1", esmRecord())));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    const request = dynamodb.commandCalls(BatchGetItemCommand)[0]?.args[0].input;
    expect(request?.RequestItems?.products).toMatchObject({
      ConsistentRead: true,
      Keys: [{ productId: { S: "p-1" } }, { productId: { S: "p-2" } }],
    });
    expect(deletedKeys()).toEqual(["p-1.png"]);
    expect(summaries[0]).toMatchObject({ deleted: 1, keptRecreated: 1, failed: 0 });
  });

  it("deletes nothing for the records of a table outside tableNames", async () => {
    streamHolds(sdkRemove("p-1", START_SEQUENCE_NUMBER));
    const { handler, summaries } = replay({ tableNames: ["orders"] });

    const response = await handler(sqsEvent(jsonMessage("m-1", esmRecord())));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(s3.commandCalls(DeleteObjectsCommand)).toEqual([]);
    expect(dynamodb.commandCalls(BatchGetItemCommand)).toEqual([]);
    expect(summaries[0]).toMatchObject({ records: 1, skipped: 1, removals: 0 });
  });

  it("does not read the table with verifyAbsent: false", async () => {
    streamHolds(sdkRemove("p-1", START_SEQUENCE_NUMBER));
    const { handler } = replay({ verifyAbsent: false });

    await handler(sqsEvent(jsonMessage("m-1", esmRecord())));

    expect(dynamodb.commandCalls(BatchGetItemCommand)).toEqual([]);
    expect(deletedKeys()).toEqual(["p-1.png"]);
  });

  it("reports a message whose item could not be checked, and deletes nothing for it", async () => {
    streamHolds(sdkRemove("p-1", START_SEQUENCE_NUMBER));
    dynamodb.on(BatchGetItemCommand).rejects(Object.assign(new Error("denied"), { name: "AccessDeniedException" }));
    const { handler, lines } = replay();

    const response = await handler(sqsEvent(jsonMessage("m-1", esmRecord())));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "m-1" }] });
    expect(s3.commandCalls(DeleteObjectsCommand)).toEqual([]);
    expect(lines.some((line) => line.level === "warn" && /not checked for re-creation/.test(line.message))).toBe(true);
  });

  it("reports a message whose objects were not all deleted, and only that one", async () => {
    // Prepare
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: "iterator-1" });
    streams
      .on(GetRecordsCommand)
      .resolvesOnce({
        Records: [sdkRemove("p-1", START_SEQUENCE_NUMBER), sdkRemove("p-2", END_SEQUENCE_NUMBER)],
        NextShardIterator: "i",
      })
      .resolvesOnce({
        Records: [sdkRemove("p-3", START_SEQUENCE_NUMBER), sdkRemove("p-4", END_SEQUENCE_NUMBER)],
        NextShardIterator: "i",
      });
    s3.on(DeleteObjectsCommand).callsFake((input: { Delete: { Objects: { Key: string }[] } }) => ({
      Deleted: input.Delete.Objects.filter(({ Key }) => Key !== "p-4.png").map(({ Key }) => ({ Key })),
      Errors: input.Delete.Objects.filter(({ Key }) => Key === "p-4.png").map(({ Key }) => ({
        Key,
        Code: "AccessDenied",
        Message: "Access Denied",
      })),
    }));
    const { handler, summaries } = replay();

    // Act
    const response = await handler(sqsEvent(jsonMessage("m-1", esmRecord()), jsonMessage("m-2", esmRecord())));

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "m-2" }] });
    expect(summaries[0]).toMatchObject({ messages: 2, batches: 2, deleted: 3, failed: 1, batchItemFailures: 1 });
  });

  it("reports a range that can no longer be read, with the advice to run reconcile and the metric", async () => {
    // Prepare
    streams.on(GetShardIteratorCommand).rejects(new TrimmedDataAccessException({ message: "trimmed", $metadata: {} }));
    const emf: string[] = [];
    const { handler, lines } = replay({
      onResult: emfMetrics({ namespace: "ProductImages", write: (line) => emf.push(line) }),
    });

    // Act
    const response = await handler(sqsEvent(jsonMessage("m-1", esmRecord())));

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "m-1" }] });
    const error = lines.find((line) => line.level === "error");
    expect(error?.message).toMatch(/cannot be replayed.*Run reconcile/);
    expect(error?.attributes).toMatchObject({
      messageId: "m-1",
      shardId: SHARD_ID,
      startSequenceNumber: START_SEQUENCE_NUMBER,
      endSequenceNumber: END_SEQUENCE_NUMBER,
      approximateArrivalOfFirstRecord: "2026-12-02T09:30:01Z",
      approximateArrivalOfLastRecord: "2026-12-02T09:30:04Z",
    });
    expect(JSON.parse(emf[0] as string)).toMatchObject({ UnreplayableBatches: 1, DeletedObjects: 0 });
    expect(s3.commandCalls(DeleteObjectsCommand)).toEqual([]);
  });

  it("reports a message that holds no on-failure record, naming what it is", async () => {
    const { handler, lines, summaries } = replay();

    const response = await handler(sqsEvent(jsonMessage("m-1", { hello: "world" })));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "m-1" }] });
    const error = lines.find((line) => line.level === "error");
    expect(error?.message).toBe("Message holds no on-failure record: reported, so that the queue's DLQ gets it");
    expect(error?.attributes?.error).toMatch(/^message m-1: the body is not an on-failure record/);
    expect(summaries[0]).toMatchObject({ invalidMessages: 1, fallback: "none", aborted: false, dryRun: false });
    expect(lines.some((line) => /Dry run/.test(line.message))).toBe(false);
  });

  it("writes no line of its own but the summary for an event without messages, dry run or not", async () => {
    for (const dryRun of [false, true]) {
      const { handler, lines } = replay({ dryRun });

      expect(await handler(sqsEvent())).toEqual({ batchItemFailures: [] });
      expect(lines.map((line) => line.message)).toEqual(["dynamodb-s3-cleanup replay summary"]);
    }
  });

  it("without onResult, writes no warning", async () => {
    streamHolds(sdkRemove("p-1", START_SEQUENCE_NUMBER));
    const { handler, lines } = replay({ onResult: undefined });

    await handler(sqsEvent(jsonMessage("m-1", esmRecord())));

    expect(lines.filter((line) => line.level === "warn")).toEqual([]);
  });

  it("logs each replayed batch at debug, with its counts, and counts every record of it", async () => {
    // Prepare: a REMOVE, and a record without Keys (invalid).
    const invalid = sdkRemove("p-2", END_SEQUENCE_NUMBER);
    delete invalid.dynamodb?.Keys;
    streamHolds(sdkRemove("p-1", START_SEQUENCE_NUMBER), invalid);
    const { handler, lines, summaries } = replay();

    // Act
    await handler(sqsEvent(jsonMessage("m-1", esmRecord())));

    // Assess
    expect(lines.find((line) => line.level === "debug" && line.message === "Discarded batch replayed")).toMatchObject({
      attributes: { messageId: "m-1", records: 2, removals: 1, invalid: 1, deleted: 1 },
    });
    expect(summaries[0]).toMatchObject({ records: 2, invalid: 1 });
  });

  it("throws InvalidEventError for an event that is no SQS event", async () => {
    const { handler } = replay();

    const error = await handler({ Records: [{ eventSource: "aws:dynamodb" }] } as never).catch((thrown) => thrown);

    expect(isInvalidEventError(error)).toBe(true);
  });

  it("replays the records an S3 destination wrote, read from the object its notification names", async () => {
    // Prepare
    const payload = {
      Records: [
        {
          eventID: "e-1",
          eventName: "REMOVE",
          eventSource: "aws:dynamodb",
          eventSourceARN: STREAM_ARN,
          dynamodb: {
            Keys: { productId: { S: "p-9" } },
            SequenceNumber: START_SEQUENCE_NUMBER,
            StreamViewType: "KEYS_ONLY",
          },
        },
      ],
    };
    const object = JSON.stringify({ ...esmRecord(), payload: JSON.stringify(payload) });
    s3.on(GetObjectCommand).resolves({ Body: { transformToString: async () => object } as never });
    const notification = s3Notification("failures", "aws/lambda/uuid/shard/2026/12/02/x");
    const { handler } = replay();

    // Act
    const response = await handler(sqsEvent(jsonMessage("m-1", notification)));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(s3.commandCalls(GetObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: "failures",
      Key: "aws/lambda/uuid/shard/2026/12/02/x",
    });
    expect(streams.commandCalls(GetShardIteratorCommand)).toEqual([]);
    expect(deletedKeys()).toEqual(["p-9.png"]);
  });

  it("reports an S3 notification whose object cannot be read", async () => {
    s3.on(GetObjectCommand).rejects(Object.assign(new Error("gone"), { name: "NoSuchKey" }));
    const notification = s3Notification("f", "k");
    const { handler, lines } = replay();

    const response = await handler(sqsEvent(jsonMessage("m-1", notification)));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "m-1" }] });
    expect(lines.find((line) => line.level === "error")).toMatchObject({
      message: "On-failure object could not be read: the message is retried",
      attributes: { messageId: "m-1", bucket: "f", key: "k", error: "gone" },
    });
  });

  it("replays a Kinesis batch, decoding the records as Kinesis Data Streams for DynamoDB writes them", async () => {
    // Prepare
    const data = {
      awsRegion: "us-east-1",
      eventID: "e-1",
      eventName: "REMOVE",
      userIdentity: null,
      recordFormat: "application/json",
      tableName: "products",
      dynamodb: { ApproximateCreationDateTime: 1795000000000, Keys: { productId: { S: "p-7" } }, SizeBytes: 20 },
      eventSource: "aws:dynamodb",
    };
    kinesis.on(KinesisGetShardIteratorCommand).resolves({ ShardIterator: "k-1" });
    kinesis.on(KinesisGetRecordsCommand).resolves({
      Records: [
        {
          SequenceNumber: "17",
          ApproximateArrivalTimestamp: new Date("2026-12-02T09:30:01Z"),
          Data: new TextEncoder().encode(JSON.stringify(data)),
          PartitionKey: "p-7",
        },
      ],
      NextShardIterator: "k-2",
      MillisBehindLatest: 0,
    });
    const info = kinesisBatchInfo({ startSequenceNumber: "17", endSequenceNumber: "17", batchSize: 1 });
    const { handler } = replay();

    // Act
    const response = await handler(sqsEvent(jsonMessage("m-1", esmRecord({ KinesisBatchInfo: info }))));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(Object.keys(dynamodb.commandCalls(BatchGetItemCommand)[0]?.args[0].input.RequestItems ?? {})).toEqual([
      "products",
    ]);
    expect(deletedKeys()).toEqual(["p-7.png"]);
  });

  it("reports the messages it did not reach before the time budget ran out, without counting them", async () => {
    streamHolds(sdkRemove("p-1", START_SEQUENCE_NUMBER));
    const { handler, summaries } = replay();

    const response = await handler(sqsEvent(jsonMessage("m-1", esmRecord()), jsonMessage("m-2", esmRecord())), {
      getRemainingTimeInMillis: () => 1000,
    });

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "m-1" }, { itemIdentifier: "m-2" }] });
    expect(streams.commandCalls(GetShardIteratorCommand)).toEqual([]);
    expect(s3.commandCalls(DeleteObjectsCommand)).toEqual([]);
    expect(summaries[0]).toMatchObject({ batches: 0, unfinishedBatches: 0, unreplayableBatches: 0, aborted: true });
  });

  it("deletes nothing in a dry run, says which objects it would delete, and keeps every message on the queue", async () => {
    streamHolds(sdkRemove("p-1", START_SEQUENCE_NUMBER));
    const { handler, lines } = replay({ dryRun: true });

    const response = await handler(sqsEvent(jsonMessage("m-1", esmRecord())));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "m-1" }] });
    expect(s3.commandCalls(DeleteObjectsCommand)).toEqual([]);
    expect(lines.some((line) => /would be deleted/.test(line.message))).toBe(true);
    expect(lines.find((line) => /Dry run: every message is reported/.test(line.message))?.attributes).toEqual({
      messages: 1,
    });
  });

  it("reports a range not read to its end, as unfinished, without the advice to reconcile", async () => {
    // Prepare: the shard answers empty pages, and never reaches the range.
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: "iterator-1" });
    streams.on(GetRecordsCommand).resolves({ Records: [], NextShardIterator: "iterator-2" });
    const { handler, lines, summaries } = replay();

    // Act
    const response = await handler(sqsEvent(jsonMessage("m-1", esmRecord())));

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "m-1" }] });
    expect(summaries[0]).toMatchObject({ unfinishedBatches: 1, unreplayableBatches: 0 });
    const warning = lines.find((line) => line.level === "warn");
    expect(warning?.message).toMatch(/not read to its end/);
    expect(warning?.attributes).toMatchObject({ messageId: "m-1", shardId: SHARD_ID, code: "RangeEndNotReached" });
    expect(lines.some((line) => line.level === "error")).toBe(false);
  });

  it("counts an object S3 would not give as unfinished, not invalid", async () => {
    s3.on(GetObjectCommand).rejects(Object.assign(new Error("slow down"), { name: "SlowDown" }));
    const notification = s3Notification("f", "k");
    const { handler, summaries } = replay();

    const response = await handler(sqsEvent(jsonMessage("m-1", notification)));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "m-1" }] });
    expect(summaries[0]).toMatchObject({ unfinishedBatches: 1, invalidMessages: 0 });
  });

  it("reports an object whose payload is no stream event as invalid", async () => {
    const mixed = {
      Records: [
        { eventSource: "aws:kinesis", kinesis: { data: "" } },
        { eventSource: "aws:dynamodb", dynamodb: {} },
      ],
    };
    const object = JSON.stringify({ ...esmRecord(), payload: JSON.stringify(mixed) });
    s3.on(GetObjectCommand).resolves({ Body: { transformToString: async () => object } as never });
    const notification = s3Notification("f", "k");
    const { handler, lines, summaries } = replay();

    const response = await handler(sqsEvent(jsonMessage("m-1", notification)));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "m-1" }] });
    expect(summaries[0]).toMatchObject({ invalidMessages: 1, batches: 0 });
    expect(lines.find((line) => line.level === "error")).toEqual({
      level: "error",
      message: "Discarded batch's records are no stream event: the message is retried",
      attributes: { messageId: "m-1", error: expect.stringMatching(/mixes shapes/) },
    });
  });

  it("reports a message that fails unexpectedly, alone, and goes on with the others", async () => {
    // Prepare: the logger throws on the line the first message's replay writes last.
    streamHolds(sdkRemove("p-1", START_SEQUENCE_NUMBER));
    const { logger, lines } = recordingLogger();
    let debugLines = 0;
    const { handler, summaries } = replay({
      logger: {
        ...logger,
        debug: (text: string, fields?: Record<string, unknown>) => {
          debugLines++;
          if (debugLines === 1) throw new Error("log sink down");
          logger.debug(text, fields);
        },
      },
    });

    // Act
    const response = await handler(sqsEvent(jsonMessage("m-1", esmRecord()), jsonMessage("m-2", { hello: "world" })));

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "m-1" }, { itemIdentifier: "m-2" }] });
    expect(lines.find((line) => /unexpected error/.test(line.message))?.attributes).toEqual({
      messageId: "m-1",
      error: "log sink down",
    });
    expect(summaries[0]).toMatchObject({ unfinishedBatches: 1, invalidMessages: 1, messages: 2 });
  });

  it("logs an onResult that throws, and answers as usual", async () => {
    streamHolds(sdkRemove("p-1", START_SEQUENCE_NUMBER));
    const { handler, lines } = replay({
      onResult: () => {
        throw new Error("metrics down");
      },
    });

    const response = await handler(sqsEvent(jsonMessage("m-1", esmRecord())));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(lines.find((line) => line.level === "warn")).toEqual({
      level: "warn",
      message: "onResult failed; the replay's response is unaffected",
      attributes: { error: "metrics down" },
    });
  });

  it("writes one summary line, with how long the invocation took", async () => {
    // Prepare
    streamHolds(sdkRemove("p-1", START_SEQUENCE_NUMBER));
    const { handler, lines } = replay();
    vi.useFakeTimers({ toFake: ["Date"], now: 1_800_000_000_000 });
    s3.on(DeleteObjectsCommand).callsFake((input: { Delete: { Objects: { Key: string }[] } }) => {
      vi.setSystemTime(1_800_000_000_250);
      return { Deleted: input.Delete.Objects.map(({ Key }) => ({ Key })) };
    });

    // Act
    try {
      await handler(sqsEvent(jsonMessage("m-1", esmRecord())));
    } finally {
      vi.useRealTimers();
    }

    // Assess
    const summaries = lines.filter((line) => line.message === "dynamodb-s3-cleanup replay summary");
    expect(summaries).toHaveLength(1);
    expect(summaries[0]?.attributes).toMatchObject({ messages: 1, deleted: 1, durationMs: 250, batchItemFailures: 0 });
  });

  it("creates its own S3 client when none is given, for deletes and for an S3 destination's objects", async () => {
    streamHolds(sdkRemove("p-1", START_SEQUENCE_NUMBER));
    s3.on(GetObjectCommand).rejects(Object.assign(new Error("gone"), { name: "NoSuchKey" }));
    const { handler, lines } = replay({ s3Client: undefined });

    await handler(sqsEvent(jsonMessage("m-1", esmRecord()), jsonMessage("m-2", s3Notification("f", "k"))));

    expect(deletedKeys()).toEqual(["p-1.png"]);
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(1);
    expect(lines.find((line) => line.level === "error")?.attributes?.error).toBe("gone");
  });

  it("counts an object without a body as invalid", async () => {
    s3.on(GetObjectCommand).resolves({});
    const notification = s3Notification("f", "k");
    const { handler, lines, summaries } = replay();

    const response = await handler(sqsEvent(jsonMessage("m-1", notification)));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "m-1" }] });
    expect(summaries[0]).toMatchObject({ invalidMessages: 1 });
    expect(lines.find((line) => line.level === "error")?.attributes?.error).toBe(
      "object k: is not JSON, so it is not an on-failure record",
    );
  });

  it("stops reading objects when the time budget runs out, and reports the message without counting it", async () => {
    // Prepare: S3 never answers, and the budget runs out while it is asked.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    s3.on(GetObjectCommand).callsFake(() => {
      vi.advanceTimersByTime(60_000);
      return new Promise(() => {});
    });
    const { handler, summaries } = replay();

    // Act
    const response = await handler(sqsEvent(jsonMessage("m-1", s3Notification("f", "a", "b"))), {
      getRemainingTimeInMillis: () => 30_000,
    }).finally(() => vi.useRealTimers());

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "m-1" }] });
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ unfinishedBatches: 0, invalidMessages: 0, aborted: true });
  });

  it("says in the summary that a batch's deletes went one by one, when the store refuses DeleteObjects' checksum", async () => {
    // Prepare: the first message's batch falls back, the second's does not; the flag stays.
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: "iterator-1" });
    streams
      .on(GetRecordsCommand)
      .resolvesOnce({ Records: [sdkRemove("p-1", START_SEQUENCE_NUMBER), sdkRemove("p-2", END_SEQUENCE_NUMBER)] })
      .resolvesOnce({ Records: [sdkRemove("p-3", START_SEQUENCE_NUMBER), sdkRemove("p-4", END_SEQUENCE_NUMBER)] });
    s3.on(DeleteObjectsCommand)
      .rejectsOnce(
        new S3ServiceException({
          name: "MissingContentMD5",
          $fault: "client",
          $metadata: { httpStatusCode: 400 },
          message: "Missing required header for this request: Content-Md5.",
        }),
      )
      .callsFake((input: { Delete: { Objects: { Key: string }[] } }) => ({
        Deleted: input.Delete.Objects.map(({ Key }) => ({ Key })),
      }));
    s3.on(DeleteObjectCommand).resolves({});
    const { handler, summaries } = replay();

    // Act
    const response = await handler(sqsEvent(jsonMessage("m-1", esmRecord()), jsonMessage("m-2", esmRecord())));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(s3.commandCalls(DeleteObjectCommand).map((call) => call.args[0].input.Key)).toEqual(["p-1.png", "p-2.png"]);
    // The first DeleteObjects, refused, asked for p-1 and p-2; the second message's went through.
    expect(deletedKeys()).toEqual(["p-1.png", "p-2.png", "p-3.png", "p-4.png"]);
    expect(summaries[0]).toMatchObject({ batches: 2, deleted: 4, failed: 0, fallback: "single-deletes" });
  });

  it("clears the time budget's timers of the invocation and of each message when it returns", async () => {
    // Prepare
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    streamHolds(sdkRemove("p-1", START_SEQUENCE_NUMBER));
    const { handler } = replay();

    // Act
    const response = await handler(sqsEvent(jsonMessage("m-1", esmRecord())), {
      getRemainingTimeInMillis: () => 60_000,
    });
    const timers = vi.getTimerCount();
    vi.useRealTimers();

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(timers).toBe(0);
  });

  it("clears the time budget's timers of a message that throws", async () => {
    // Prepare: the logger throws on the line the message's replay writes last.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    streamHolds(sdkRemove("p-1", START_SEQUENCE_NUMBER));
    const { logger, lines } = recordingLogger();
    const { handler } = replay({
      logger: {
        ...logger,
        debug: () => {
          throw new Error("log sink down");
        },
      },
    });

    // Act
    const response = await handler(sqsEvent(jsonMessage("m-1", esmRecord())), {
      getRemainingTimeInMillis: () => 60_000,
    });
    const timers = vi.getTimerCount();
    vi.useRealTimers();

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "m-1" }] });
    expect(lines.some((line) => /unexpected error/.test(line.message))).toBe(true);
    expect(timers).toBe(0);
  });

  it("reports the message of an object whose read the time budget cut short", async () => {
    // Prepare: S3 never answers, and the budget runs out while it is asked.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    s3.on(GetObjectCommand).callsFake(() => {
      vi.advanceTimersByTime(60_000);
      return new Promise(() => {});
    });
    const { handler, summaries } = replay();

    // Act
    const response = await handler(sqsEvent(jsonMessage("m-1", s3Notification("f", "a"))), {
      getRemainingTimeInMillis: () => 30_000,
    }).finally(() => vi.useRealTimers());

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "m-1" }] });
    expect(summaries[0]).toMatchObject({ unfinishedBatches: 0, invalidMessages: 0, aborted: true });
  });

  it("names a wrong client option", () => {
    const error = (() => {
      try {
        replay({ streamsClient: {} as never, kinesisClient: 7 as never });
      } catch (thrown) {
        return thrown;
      }
    })();
    expect(isConfigError(error)).toBe(true);
    expect((error as Error).message).toContain("`streamsClient.send`: must be a method");
    expect((error as Error).message).toContain("`kinesisClient`: must be a KinesisClient");
  });
});
