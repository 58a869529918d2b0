import {
  type _Record,
  DescribeStreamCommand,
  type DescribeStreamCommandInput,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  type GetRecordsCommandInput,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
} from "@aws-sdk/client-dynamodb-streams";
import { DeleteObjectsCommand, type DeleteObjectsCommandInput, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from "vitest";
import { failureMessagesOf, failureObjectOf } from "../src/failure-destination-records.js";
import {
  type BatchResponse,
  type ConfigError,
  type ConfigIssue,
  createCleanupHandler,
  isConfigError,
  type StreamEvent,
} from "../src/index.js";
import {
  type OnFailureDestination,
  type RunStreamOptions,
  runStream,
  type S3ClientLike,
  type SqsClientLike,
  type StreamBatch,
  type StreamHandler,
  type StreamRunnerContext,
} from "../src/testing/index.js";

const STREAM_ARN = "arn:aws:dynamodb:ddblocal:000000000000:table/products/stream/2026-11-27T00:00:00.000";
const CREATED = new Date(1_795_000_000_000);

const streams = mockClient(DynamoDBStreamsClient);
const client = new DynamoDBStreamsClient({ region: "us-east-1" });

afterAll(() => {
  streams.restore();
});

/** A shard of the fake stream; tests may add records, close it, or add shards while a run goes on. */
interface FakeShard {
  id: string;
  parentId?: string;
  records: _Record[];
  closed: boolean;
}

/** What the fake stream answers; tests may change it while a run goes on. */
interface FakeStream {
  shards: FakeShard[];
  /** Shards per DescribeStream page. */
  describePageSize: number;
  /** The most records one GetRecords call returns, whatever its Limit. */
  maxRecordsPerCall: number;
  /** Answer an empty page without a `Records` member. */
  omitEmptyRecords: boolean;
  /** The fake clock's time of each GetRecords call, in call order. */
  readTimes: number[];
  /**
   * Changes the stream at `ms` on the fake clock: the change is made before the first call answered
   * from then on, as the runner sees the stream only through its calls. No timer is involved (see
   * {@link onFakeClock}).
   */
  at(ms: number, change: () => void): void;
}

/** A sequence number like DynamoDB Local's: 21 digits. */
const seq = (n: number) => String(n).padStart(21, "0");

/** A record as GetRecords returns it through the SDK: a Date, Uint8Array binary, `{ PrincipalId, Type }`. */
function apiRecord(n: number, overrides: Partial<_Record> = {}): _Record {
  return {
    eventID: `event-${n}`,
    eventName: "INSERT",
    eventVersion: "1.1",
    eventSource: "aws:dynamodb",
    awsRegion: "ddblocal",
    dynamodb: {
      ApproximateCreationDateTime: CREATED,
      Keys: { productId: { S: `p-${n}` } },
      SequenceNumber: seq(n),
      SizeBytes: 20,
      StreamViewType: "KEYS_ONLY",
    },
    ...overrides,
  };
}

const records = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => apiRecord(from + i));

const shard = (id: string, recordList: _Record[], closed = true, parentId?: string): FakeShard => ({
  id,
  records: recordList,
  closed,
  ...(parentId === undefined ? {} : { parentId }),
});

/**
 * Answers DescribeStream, GetShardIterator and GetRecords from in-memory shards, as DynamoDB
 * Streams does: an iterator is a position in a shard, and a closed shard read to its end has no
 * next iterator.
 */
function fakeStream(shards: FakeShard[]): FakeStream {
  const changes: { ms: number; change: () => void }[] = [];
  const stream: FakeStream = {
    shards,
    describePageSize: 100,
    maxRecordsPerCall: 1000,
    omitEmptyRecords: false,
    readTimes: [],
    at: (ms, change) => {
      changes.push({ ms, change });
      changes.sort((a, b) => a.ms - b.ms);
    },
  };
  const makeDueChanges = () => {
    while (changes[0] !== undefined && changes[0].ms <= Date.now()) changes.shift()?.change();
  };
  const find = (id: string | undefined) => {
    const found = stream.shards.find((each) => each.id === id);
    if (found === undefined) throw new Error(`no shard ${id}`);
    return found;
  };
  // A record no longer there (trimmed) puts the iterator at the shard's end.
  const indexOf = (target: FakeShard, sequenceNumber: string | undefined) => {
    const index = target.records.findIndex((record) => record.dynamodb?.SequenceNumber === sequenceNumber);
    return index === -1 ? target.records.length : index;
  };

  streams.on(DescribeStreamCommand).callsFake((input: DescribeStreamCommandInput) => {
    makeDueChanges();
    const start =
      input.ExclusiveStartShardId === undefined
        ? 0
        : stream.shards.findIndex((each) => each.id === input.ExclusiveStartShardId) + 1;
    const page = stream.shards.slice(start, start + stream.describePageSize);
    const more = start + stream.describePageSize < stream.shards.length;
    return {
      StreamDescription: {
        StreamArn: STREAM_ARN,
        StreamStatus: "ENABLED",
        Shards: page.map((each) => ({ ShardId: each.id, ParentShardId: each.parentId })),
        ...(more ? { LastEvaluatedShardId: page.at(-1)?.id } : {}),
      },
    };
  });
  streams.on(GetShardIteratorCommand).callsFake((input: GetShardIteratorCommandInput) => {
    makeDueChanges();
    const target = find(input.ShardId);
    const position = {
      TRIM_HORIZON: 0,
      LATEST: target.records.length,
      AT_SEQUENCE_NUMBER: indexOf(target, input.SequenceNumber),
      AFTER_SEQUENCE_NUMBER: indexOf(target, input.SequenceNumber) + 1,
    }[input.ShardIteratorType ?? "TRIM_HORIZON"];
    return { ShardIterator: `${target.id}@${position}` };
  });
  streams.on(GetRecordsCommand).callsFake((input: GetRecordsCommandInput) => {
    makeDueChanges();
    stream.readTimes.push(Date.now());
    const [id, at] = (input.ShardIterator ?? "").split("@");
    const target = find(id);
    const position = Number(at);
    const limit = Math.min(input.Limit ?? 1000, stream.maxRecordsPerCall);
    const page = target.records.slice(position, position + limit);
    const next = position + page.length;
    return {
      ...(page.length === 0 && stream.omitEmptyRecords ? {} : { Records: page }),
      ...(target.closed && next >= target.records.length ? {} : { NextShardIterator: `${target.id}@${next}` }),
    };
  });
  return stream;
}

/** The sequence numbers of each batch the handler got, as numbers. */
function recorder(respond: (event: StreamEvent, call: number) => unknown = () => undefined) {
  const calls: number[][] = [];
  const handler = (async (event: StreamEvent) => {
    calls.push(event.Records.map((record) => Number(record.dynamodb?.SequenceNumber)));
    return respond(event, calls.length);
  }) as StreamHandler;
  return { calls, handler };
}

const fail = (...numbers: number[]): BatchResponse => ({
  batchItemFailures: numbers.map((n) => ({ itemIdentifier: seq(n) })),
});

/**
 * Settles `running` on vitest's fake clock. Each step lets every pending callback run (a real
 * macrotask turn), then moves the clock to the next timer and fires it: time passes only while the
 * code under test waits on a timer, so no outcome depends on how fast the machine is. The only
 * timers must be those of the code under test (the runner's polling, a handler's or onBatch's wait,
 * or one a fake call sets while the runner awaits it): a timer the test set before the run could fire
 * while the runner awaits something else. Change the stream over time with {@link FakeStream.at}.
 */
async function onFakeClock<T>(running: Promise<T>): Promise<T> {
  let settled = false;
  const settle = () => {
    settled = true;
  };
  running.then(settle, settle);
  while (!settled) await vi.advanceTimersToNextTimerAsync();
  return running;
}

/** runStream on the fake clock with fast polling, collecting what onBatch sees. */
async function run(options: Partial<RunStreamOptions> & Pick<RunStreamOptions, "handler">) {
  const batches: StreamBatch[] = [];
  const report = await onFakeClock(
    runStream({
      client,
      streamArn: STREAM_ARN,
      pollIntervalMs: 1,
      idleTimeoutMs: 30,
      onBatch: (batch) => {
        batches.push(batch);
      },
      ...options,
    }),
  );
  return { report, batches };
}

const iteratorRequests = () => streams.commandCalls(GetShardIteratorCommand).map((call) => call.args[0].input);
const recordsRequests = () => streams.commandCalls(GetRecordsCommand).map((call) => call.args[0].input);

beforeEach(() => {
  streams.reset();
  // Every test runs on a fake clock that starts at 0: see onFakeClock.
  vi.useFakeTimers({ now: 0 });
});

afterEach(() => {
  vi.useRealTimers();
});

describe("runStream", () => {
  describe("the Lambda event shape", () => {
    it("adds eventSourceARN, and converts the date, the userIdentity spelling and binary at any depth", async () => {
      // Prepare
      const bytes = (...values: number[]) => new Uint8Array(values);
      fakeStream([
        shard("shard-1", [
          apiRecord(1, {
            eventName: "REMOVE",
            userIdentity: { PrincipalId: "dynamodb.amazonaws.com", Type: "Service" },
            dynamodb: {
              ApproximateCreationDateTime: new Date(1_795_000_000_500),
              Keys: { productId: { S: "p-1" }, raw: { B: bytes(0, 255) } },
              OldImage: {
                productId: { S: "p-1" },
                price: { N: "9.99" },
                tags: { SS: ["a"] },
                sizes: { NS: ["1"] },
                gone: { NULL: true },
                active: { BOOL: false },
                blobs: { BS: [bytes(1), bytes(2)] },
                nested: {
                  M: {
                    blob: { B: bytes(104, 105) },
                    list: { L: [{ B: bytes(3) }, { M: { deep: { BS: [bytes(4)] } } }, { S: "x" }] },
                  },
                },
              },
              SequenceNumber: seq(1),
              SizeBytes: 120,
              StreamViewType: "NEW_AND_OLD_IMAGES",
            },
          }),
        ]),
      ]);
      const { handler } = recorder();
      const events: StreamEvent[] = [];

      // Act
      await run({
        handler: (event, context) => {
          events.push(event);
          return handler(event, context);
        },
      });

      // Assess
      expect(events).toStrictEqual([
        {
          Records: [
            {
              eventID: "event-1",
              eventName: "REMOVE",
              eventVersion: "1.1",
              eventSource: "aws:dynamodb",
              awsRegion: "ddblocal",
              dynamodb: {
                ApproximateCreationDateTime: 1_795_000_000.5,
                Keys: { productId: { S: "p-1" }, raw: { B: "AP8=" } },
                OldImage: {
                  productId: { S: "p-1" },
                  price: { N: "9.99" },
                  tags: { SS: ["a"] },
                  sizes: { NS: ["1"] },
                  gone: { NULL: true },
                  active: { BOOL: false },
                  blobs: { BS: ["AQ==", "Ag=="] },
                  nested: {
                    M: {
                      blob: { B: "aGk=" },
                      list: { L: [{ B: "Aw==" }, { M: { deep: { BS: ["BA=="] } } }, { S: "x" }] },
                    },
                  },
                },
                SequenceNumber: seq(1),
                SizeBytes: 120,
                StreamViewType: "NEW_AND_OLD_IMAGES",
              },
              userIdentity: { principalId: "dynamodb.amazonaws.com", type: "Service" },
              eventSourceARN: STREAM_ARN,
            },
          ],
        },
      ]);
    });

    it("leaves everything else as it is", async () => {
      // Prepare
      const record = apiRecord(1, {
        userIdentity: { Type: "Service" },
        dynamodb: {
          ApproximateCreationDateTime: 1_795_000_000 as unknown as Date,
          Keys: { productId: { B: "already-base64" as unknown as Uint8Array } },
          NewImage: {
            blobs: { BS: ["AQ==" as unknown as Uint8Array] },
            empty: { M: null as unknown as Record<string, never> },
          },
          SequenceNumber: seq(1),
        },
      });
      fakeStream([shard("shard-1", [record, apiRecord(2)])]);
      const events: StreamEvent[] = [];

      // Act
      await run({ handler: (event) => void events.push(event) });

      // Assess
      expect(events[0]?.Records).toStrictEqual([
        {
          eventID: "event-1",
          eventName: "INSERT",
          eventVersion: "1.1",
          eventSource: "aws:dynamodb",
          awsRegion: "ddblocal",
          dynamodb: {
            ApproximateCreationDateTime: 1_795_000_000,
            Keys: { productId: { B: "already-base64" } },
            NewImage: { blobs: { BS: ["AQ=="] }, empty: { M: null } },
            SequenceNumber: seq(1),
          },
          userIdentity: { type: "Service" },
          eventSourceARN: STREAM_ARN,
        },
        {
          eventID: "event-2",
          eventName: "INSERT",
          eventVersion: "1.1",
          eventSource: "aws:dynamodb",
          awsRegion: "ddblocal",
          dynamodb: {
            ApproximateCreationDateTime: 1_795_000_000,
            Keys: { productId: { S: "p-2" } },
            SequenceNumber: seq(2),
            SizeBytes: 20,
            StreamViewType: "KEYS_ONLY",
          },
          eventSourceARN: STREAM_ARN,
        },
      ]);
    });

    it("passes each invocation its own copy of the records", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 2))]);
      const seen: unknown[] = [];

      // Act
      const { report } = await run({
        maxRetries: 0,
        handler: (event) => {
          seen.push(event.Records[0]?.dynamodb?.Keys);
          for (const record of event.Records) delete record.dynamodb;
          throw new Error("boom");
        },
      });

      // Assess
      expect(seen).toEqual([{ productId: { S: "p-1" } }]);
      expect(report.discarded[0]?.records.map((record) => record.dynamodb?.Keys)).toEqual([
        { productId: { S: "p-1" } },
        { productId: { S: "p-2" } },
      ]);
    });

    it("passes a context with a request id and the time left of functionTimeoutMs", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 2))]);
      const contexts: { awsRequestId: string; remaining: number }[] = [];
      const capture = (context: StreamRunnerContext) =>
        contexts.push({ awsRequestId: context.awsRequestId, remaining: context.getRemainingTimeInMillis() });

      // Act
      await run({ batchSize: 1, handler: (_event, context) => void capture(context) });
      await run({
        batchSize: 2,
        functionTimeoutMs: 5000,
        handler: async (_event, context) => {
          await new Promise((resolve) => setTimeout(resolve, 1500));
          capture(context);
        },
      });

      // Assess
      expect(contexts).toHaveLength(3);
      expect(new Set(contexts.map((context) => context.awsRequestId)).size).toBe(3);
      for (const { awsRequestId } of contexts) expect(awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(contexts.map((context) => context.remaining)).toEqual([60_000, 60_000, 3500]);
    });
  });

  describe("batches", () => {
    it("delivers at most batchSize records at a time, asking GetRecords for that many", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 5))]);
      const { calls, handler } = recorder();

      // Act
      const { report, batches } = await run({ handler, batchSize: 2 });

      // Assess
      expect(calls).toEqual([[1, 2], [3, 4], [5]]);
      expect(recordsRequests().map((input) => input.Limit)).toEqual([2, 2, 2]);
      expect(report).toEqual({
        batches: 3,
        records: 5,
        retries: 0,
        discarded: [],
        unfinished: [],
        stoppedBy: "drained",
      });
      expect(batches[1]).toStrictEqual({
        shardId: "shard-1",
        firstSequenceNumber: seq(3),
        lastSequenceNumber: seq(4),
        records: 2,
        attempt: 1,
        response: undefined,
      });
    });

    it("reads 100 records at a time by default", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 150))]);
      const { calls, handler } = recorder();

      // Act
      await onFakeClock(runStream({ client, streamArn: STREAM_ARN, handler }));

      // Assess
      expect(calls.map((call) => call.length)).toEqual([100, 50]);
      expect(recordsRequests()[0]?.Limit).toBe(100);
    });

    it("reads on when GetRecords answers without Records", async () => {
      // Prepare
      const target = shard("shard-1", [], false);
      const stream = fakeStream([target]);
      stream.omitEmptyRecords = true;
      stream.at(10, () => target.records.push(...records(1, 2)));
      const { calls, handler } = recorder();

      // Act
      const { report } = await run({ handler, idleTimeoutMs: 300, pollIntervalMs: 5 });

      // Assess
      expect(stream.readTimes.slice(0, 4)).toEqual([0, 5, 10, 10]);
      expect(calls).toEqual([[1, 2]]);
      expect(report.stoppedBy).toBe("idle");
    });

    it("starts every shard at TRIM_HORIZON by default", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 2))]);
      const { calls, handler } = recorder();

      // Act
      await run({ handler });

      // Assess
      expect(calls).toEqual([[1, 2]]);
      expect(iteratorRequests()).toEqual([
        { StreamArn: STREAM_ARN, ShardId: "shard-1", ShardIteratorType: "TRIM_HORIZON" },
      ]);
    });
  });

  describe("checkpointing on the handler's response", () => {
    it("redelivers from the failed record on, never the records before it, until the handler succeeds", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 6))]);
      const { calls, handler } = recorder((_event, call) => (call <= 2 ? fail(5, 4) : { batchItemFailures: [] }));

      // Act
      const { report, batches } = await run({ handler });

      // Assess
      expect(calls).toEqual([
        [1, 2, 3, 4, 5, 6],
        [4, 5, 6],
        [4, 5, 6],
      ]);
      expect(report).toEqual({
        batches: 3,
        records: 6,
        retries: 2,
        discarded: [],
        unfinished: [],
        stoppedBy: "drained",
      });
      expect(iteratorRequests().slice(1)).toEqual([
        { StreamArn: STREAM_ARN, ShardId: "shard-1", ShardIteratorType: "AT_SEQUENCE_NUMBER", SequenceNumber: seq(4) },
        { StreamArn: STREAM_ARN, ShardId: "shard-1", ShardIteratorType: "AT_SEQUENCE_NUMBER", SequenceNumber: seq(4) },
      ]);
      expect(
        batches.map(({ attempt, failedSequenceNumber, firstSequenceNumber }) => [
          attempt,
          failedSequenceNumber,
          firstSequenceNumber,
        ]),
      ).toEqual([
        [1, seq(4), seq(1)],
        [2, seq(4), seq(4)],
        [3, undefined, seq(4)],
      ]);
      expect(batches[0]?.response).toEqual(fail(5, 4));
    });

    it("finds the lowest reported sequence number by value, not as text", async () => {
      // Prepare
      const numbered = ["998", "999", "1000", "1001"].map((sequenceNumber, i) =>
        apiRecord(i, { dynamodb: { SequenceNumber: sequenceNumber, Keys: { productId: { S: `p-${i}` } } } }),
      );
      fakeStream([shard("shard-1", numbered)]);
      const { calls, handler } = recorder((_event, call) =>
        call === 1
          ? { batchItemFailures: [{ itemIdentifier: "1001" }, { itemIdentifier: "999" }, { itemIdentifier: "1000" }] }
          : undefined,
      );

      // Act
      await run({ handler });

      // Assess
      expect(calls).toEqual([
        [998, 999, 1000, 1001],
        [999, 1000, 1001],
      ]);
    });

    it("moves the checkpoint on when a retry fails further on", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 5))]);
      const { calls, handler } = recorder((_event, call) => [fail(2), fail(4), undefined][call - 1]);

      // Act
      const { report } = await run({ handler });

      // Assess
      expect(calls).toEqual([
        [1, 2, 3, 4, 5],
        [2, 3, 4, 5],
        [4, 5],
      ]);
      expect(report.retries).toBe(2);
    });

    it("discards the records from the failed one to the end of the batch after maxRetries, and reads on", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 7))]);
      const { calls, handler } = recorder((event) =>
        event.Records.some((record) => record.dynamodb?.SequenceNumber === seq(3)) ? fail(3) : undefined,
      );

      // Act
      const { report } = await run({ handler, batchSize: 5, maxRetries: 2 });

      // Assess
      expect(calls).toEqual([
        [1, 2, 3, 4, 5],
        [3, 4, 5],
        [3, 4, 5],
        [6, 7],
      ]);
      expect(report).toMatchObject({ batches: 4, records: 7, retries: 2, stoppedBy: "drained" });
      expect(report.discarded).toHaveLength(1);
      expect(report.discarded[0]).toMatchObject({
        shardId: "shard-1",
        firstSequenceNumber: seq(3),
        lastSequenceNumber: seq(5),
        attempts: 3,
      });
      expect(report.discarded[0]?.records.map((record) => record.dynamodb?.SequenceNumber)).toEqual([
        seq(3),
        seq(4),
        seq(5),
      ]);
      expect(report.discarded[0]?.records[0]?.eventSourceARN).toBe(STREAM_ARN);
    });

    it("with maxRetries 0, discards at the first failure", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 3))]);
      const { calls, handler } = recorder(() => fail(2));

      // Act
      const { report } = await run({ handler, maxRetries: 0 });

      // Assess
      expect(calls).toEqual([[1, 2, 3]]);
      expect(report.retries).toBe(0);
      expect(report.discarded.map((batch) => [batch.firstSequenceNumber, batch.attempts])).toEqual([[seq(2), 1]]);
    });

    const wholeBatchFailures: [string, (event: StreamEvent) => unknown][] = [
      [
        "a thrown error",
        () => {
          throw new Error("boom");
        },
      ],
      ["a rejected promise", () => Promise.reject(new Error("boom"))],
      ["an empty identifier", () => ({ batchItemFailures: [{ itemIdentifier: "" }] })],
      ["a null identifier", () => ({ batchItemFailures: [{ itemIdentifier: null }] })],
      ["an identifier under another name", () => ({ batchItemFailures: [{ ItemIdentifier: seq(2) }] })],
      ["an identifier not in the batch", () => ({ batchItemFailures: [{ itemIdentifier: seq(99) }] })],
      ["the same number without its leading zeros", () => ({ batchItemFailures: [{ itemIdentifier: "2" }] })],
      ["a null entry", () => ({ batchItemFailures: [null] })],
      [
        "a valid and an invalid identifier",
        () => ({ batchItemFailures: [...fail(3).batchItemFailures, { itemIdentifier: "" }] }),
      ],
      ["batchItemFailures that is not an array", () => ({ batchItemFailures: seq(2) })],
    ];

    it.each(wholeBatchFailures)("fails the whole batch on %s", async (_name, respond) => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 3))]);
      const { calls, handler } = recorder((event, call) => (call === 1 ? respond(event) : undefined));

      // Act
      const { report, batches } = await run({ handler });

      // Assess
      expect(calls).toEqual([
        [1, 2, 3],
        [1, 2, 3],
      ]);
      expect(report.retries).toBe(1);
      expect(batches[0]?.failedSequenceNumber).toBe(seq(1));
      expect(iteratorRequests()[1]).toMatchObject({ ShardIteratorType: "AT_SEQUENCE_NUMBER", SequenceNumber: seq(1) });
    });

    it("reports what the handler threw to onBatch", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 1))]);
      const error = new Error("boom");
      const { handler } = recorder(() => {
        throw error;
      });

      // Act
      const { batches } = await run({ handler, maxRetries: 0 });

      // Assess
      expect(batches).toStrictEqual([
        {
          shardId: "shard-1",
          firstSequenceNumber: seq(1),
          lastSequenceNumber: seq(1),
          records: 1,
          attempt: 1,
          error,
          failedSequenceNumber: seq(1),
        },
      ]);
    });

    it.each([
      ["nothing", undefined],
      ["null", null],
      ["an empty object", {}],
      ["an empty batchItemFailures", { batchItemFailures: [] }],
      ["a null batchItemFailures", { batchItemFailures: null }],
    ])("counts %s as complete success", async (_name, response) => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 3))]);
      const { calls, handler } = recorder(() => response);

      // Act
      const { report } = await run({ handler });

      // Assess
      expect(calls).toEqual([[1, 2, 3]]);
      expect(report.retries).toBe(0);
    });

    it("fails the whole batch when the handler runs longer than functionTimeoutMs", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 2))]);
      const remaining: number[] = [];
      const { calls, handler } = recorder();

      // Act
      const { batches } = await run({
        functionTimeoutMs: 100,
        handler: async (event, context) => {
          await handler(event, context);
          if (calls.length === 1) {
            await new Promise((resolve) => setTimeout(resolve, 150));
            remaining.push(context.getRemainingTimeInMillis());
          }
        },
      });

      // Assess: the first invocation took 150 ms, the retry none
      expect(calls).toEqual([
        [1, 2],
        [1, 2],
      ]);
      expect(remaining).toEqual([0]);
      expect(batches[0]?.error).toEqual(new Error("Task timed out after 100 ms"));
      expect(batches[1]).not.toHaveProperty("error");
    });

    it("reads the records to redeliver over several GetRecords pages when the stream returns fewer", async () => {
      // Prepare
      const stream = fakeStream([shard("shard-1", records(1, 6))]);
      const { calls, handler } = recorder((_event, call) => {
        stream.maxRecordsPerCall = 2;
        return call === 1 ? fail(2) : undefined;
      });

      // Act
      await run({ handler });

      // Assess
      expect(calls).toEqual([
        [1, 2, 3, 4, 5, 6],
        [2, 3, 4, 5, 6],
      ]);
      expect(recordsRequests().map((input) => input.Limit)).toEqual([100, 5, 3, 1]);
    });

    it.each([
      ["are gone from a closed shard", true, 1, "returned 0 of the 2 records"],
      ["are partly gone from a closed shard", true, 2, "returned 1 of the 2 records"],
      ["are gone from an open shard", false, 1, "returned 0 of the 2 records"],
    ])("rejects when the records to redeliver %s", async (_name, closed, keep, message) => {
      // Prepare
      const stream = fakeStream([shard("shard-1", records(1, 3), closed)]);
      const { handler } = recorder(() => {
        const target = stream.shards[0] as FakeShard;
        target.records = target.records.slice(0, keep);
        return fail(2);
      });

      // Act
      const running = run({ handler });

      // Assess
      await expect(running).rejects.toThrow(
        `Reading shard shard-1 again from SequenceNumber ${seq(2)} ${message} to redeliver: were they trimmed?`,
      );
    });
  });

  describe("shards", () => {
    it("reads a child shard only after its parent is read to its end, across DescribeStream pages", async () => {
      // Prepare
      const stream = fakeStream([
        shard("child", records(10, 11), true, "parent"),
        shard("parent", records(1, 3), true),
        shard("other", records(20, 21), true, "trimmed-away"),
      ]);
      stream.describePageSize = 1;
      const { handler } = recorder();

      // Act
      const { report, batches } = await run({ handler, batchSize: 2 });

      // Assess
      expect(batches.map((batch) => [batch.shardId, batch.firstSequenceNumber])).toEqual([
        ["parent", seq(1)],
        ["other", seq(20)],
        ["parent", seq(3)],
        ["child", seq(10)],
      ]);
      expect(report).toEqual({
        batches: 4,
        records: 7,
        retries: 0,
        discarded: [],
        unfinished: [],
        stoppedBy: "drained",
      });
      const describes = streams
        .commandCalls(DescribeStreamCommand)
        .map((call) => call.args[0].input.ExclusiveStartShardId);
      expect(describes.slice(0, 3)).toEqual([undefined, "child", "parent"]);
    });

    it("finds a child that appears when its parent closes, and reads it from its start", async () => {
      // Prepare
      const parent = shard("parent", records(1, 2), false);
      const stream = fakeStream([parent]);
      stream.at(10, () => {
        parent.closed = true;
        stream.shards.push(shard("child", records(3, 4), true, "parent"));
      });
      const { calls, handler } = recorder();

      // Act
      const { report } = await run({
        handler,
        startingPosition: "LATEST",
        batchSize: 2,
        idleTimeoutMs: 500,
        pollIntervalMs: 5,
      });

      // Assess
      expect(calls).toEqual([[3, 4]]);
      expect(report.stoppedBy).toBe("drained");
      expect(iteratorRequests().map((input) => [input.ShardId, input.ShardIteratorType])).toEqual([
        ["parent", "LATEST"],
        ["child", "TRIM_HORIZON"],
      ]);
    });

    it("delivers records from a closed parent before those its child gets while the run goes on", async () => {
      // Prepare
      const parent = shard("parent", records(1, 2), false);
      const stream = fakeStream([parent]);
      const { calls, handler } = recorder((_event, call) => {
        if (call === 1) {
          parent.records.push(apiRecord(3));
          parent.closed = true;
          stream.shards.push(shard("child", records(4, 5), false, "parent"));
        }
      });

      // Act
      const { report } = await run({ handler, batchSize: 2 });

      // Assess
      expect(calls).toEqual([[1, 2], [3], [4, 5]]);
      expect(report.stoppedBy).toBe("idle");
    });

    it("waits for a shard when the stream has none yet", async () => {
      // Prepare
      const stream = fakeStream([]);
      stream.at(10, () => stream.shards.push(shard("shard-1", records(1, 2))));
      const { calls, handler } = recorder();

      // Act
      const { report } = await run({ handler, idleTimeoutMs: 500, pollIntervalMs: 5 });

      // Assess
      expect(calls).toEqual([[1, 2]]);
      expect(report.stoppedBy).toBe("drained");
    });

    it("stops after idleTimeoutMs when the stream never gets a shard", async () => {
      // Prepare
      fakeStream([]);
      const { calls, handler } = recorder();

      // Act
      const { report } = await run({ handler, idleTimeoutMs: 20 });

      // Assess
      expect(calls).toEqual([]);
      expect(report).toEqual({ batches: 0, records: 0, retries: 0, discarded: [], unfinished: [], stoppedBy: "idle" });
      expect(Date.now()).toBe(20);
      expect(streams.commandCalls(DescribeStreamCommand).length).toBeGreaterThan(1);
    });

    it("ignores a shard without an id, and an empty DescribeStream answer", async () => {
      // Prepare
      fakeStream([]);
      streams
        .on(DescribeStreamCommand)
        .resolvesOnce({ StreamDescription: { Shards: [{}] } })
        .resolves({});
      const { handler } = recorder();

      // Act
      const { report } = await run({ handler, idleTimeoutMs: 10 });

      // Assess
      expect(report.stoppedBy).toBe("idle");
      expect(streams.commandCalls(GetShardIteratorCommand)).toEqual([]);
    });
  });

  describe("stopping", () => {
    it("stops when no record arrived for idleTimeoutMs, polling every pollIntervalMs", async () => {
      // Prepare
      const stream = fakeStream([shard("shard-1", records(1, 2), false)]);
      const { calls, handler } = recorder();

      // Act
      const { report } = await run({ handler, idleTimeoutMs: 100, pollIntervalMs: 10 });

      // Assess
      expect(calls).toEqual([[1, 2]]);
      expect(report.stoppedBy).toBe("idle");
      expect(Date.now()).toBe(100);
      // The records, at once the next page, then a read every 10 ms until 100 ms without a record.
      expect(stream.readTimes).toEqual([0, 0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    });

    it("delivers records that arrive while it polls, and counts idleness from the last of them", async () => {
      // Prepare
      const target = shard("shard-1", records(1, 1), false);
      const stream = fakeStream([target]);
      stream.at(250, () => target.records.push(apiRecord(2)));
      const { calls, handler } = recorder();

      // Act
      const { report } = await run({ handler, idleTimeoutMs: 300, pollIntervalMs: 50 });

      // Assess: 300 ms after the read that found record 2, not after the first record or the start
      expect(calls).toEqual([[1], [2]]);
      expect(report.stoppedBy).toBe("idle");
      expect(Date.now()).toBe(550);
    });

    it("stops at once when the signal is aborted while it waits for records", async () => {
      // Prepare
      fakeStream([shard("shard-1", [], false)]);
      const controller = new AbortController();
      // Set as the read is answered: from then on the runner only waits for its next read.
      streams.on(GetRecordsCommand).callsFake(() => {
        setTimeout(() => controller.abort(), 20);
        return { Records: [], NextShardIterator: "shard-1@0" };
      });
      const { handler } = recorder();

      // Act
      const { report } = await run({
        handler,
        signal: controller.signal,
        idleTimeoutMs: 60_000,
        pollIntervalMs: 10_000,
      });

      // Assess
      expect(report.stoppedBy).toBe("aborted");
      expect(Date.now()).toBe(20);
      expect(recordsRequests()).toHaveLength(1);
    });

    it("stops after the current invocation when the handler aborts the signal", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 4), false)]);
      const controller = new AbortController();
      const { calls, handler } = recorder(() => controller.abort());

      // Act
      const { report } = await run({ handler, batchSize: 2, signal: controller.signal });

      // Assess
      expect(calls).toEqual([[1, 2]]);
      expect(report).toEqual({
        batches: 1,
        records: 2,
        retries: 0,
        discarded: [],
        unfinished: [],
        stoppedBy: "aborted",
      });
    });

    it("reads no other shard once the handler aborts the signal", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 2), false), shard("shard-2", records(3, 4), false)]);
      const controller = new AbortController();
      const { calls, handler } = recorder(() => controller.abort());

      // Act
      const { report } = await run({ handler, signal: controller.signal });

      // Assess
      expect(calls).toEqual([[1, 2]]);
      expect(report.stoppedBy).toBe("aborted");
      expect(recordsRequests().map((input) => input.ShardIterator)).toEqual(["shard-1@0"]);
    });

    it("does not wait for the poll interval once a read finds the signal aborted", async () => {
      // Prepare
      fakeStream([shard("shard-1", [], false)]);
      const controller = new AbortController();
      streams.on(GetRecordsCommand).callsFake(() => {
        controller.abort();
        return { Records: [], NextShardIterator: "shard-1@0" };
      });
      const { handler } = recorder();

      // Act
      const { report } = await run({
        handler,
        signal: controller.signal,
        pollIntervalMs: 10_000,
        idleTimeoutMs: 60_000,
      });

      // Assess
      expect(report.stoppedBy).toBe("aborted");
      expect(Date.now()).toBe(0);
    });

    it("stops retrying when the signal is aborted, even with unbounded retries", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 2))]);
      const controller = new AbortController();
      const { calls, handler } = recorder(() => {
        throw new Error("always");
      });

      // Act
      const { report } = await run({
        handler,
        maxRetries: Number.POSITIVE_INFINITY,
        signal: controller.signal,
        onBatch: (batch) => {
          if (batch.attempt === 3) controller.abort();
        },
      });

      // Assess
      expect(calls).toHaveLength(3);
      expect(report).toEqual({
        batches: 3,
        records: 2,
        retries: 2,
        discarded: [],
        unfinished: [
          {
            shardId: "shard-1",
            firstSequenceNumber: report.unfinished[0]?.records[0]?.dynamodb?.SequenceNumber,
            lastSequenceNumber: report.unfinished[0]?.records[1]?.dynamodb?.SequenceNumber,
            records: [expect.objectContaining({ eventName: expect.any(String) }), expect.anything()],
            attempts: 3,
          },
        ],
        stoppedBy: "aborted",
      });
    });

    it("reads nothing when the signal is already aborted", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 2))]);
      const { calls, handler } = recorder();

      // Act
      const { report } = await run({ handler, signal: AbortSignal.abort() });

      // Assess
      expect(calls).toEqual([]);
      expect(report.stoppedBy).toBe("aborted");
      expect(streams.commandCalls(GetRecordsCommand)).toEqual([]);
    });
  });

  describe("startingPosition LATEST", () => {
    it("delivers only the records written after the run starts", async () => {
      // Prepare
      const target = shard("shard-1", records(1, 3), false);
      const stream = fakeStream([target]);
      stream.at(10, () => target.records.push(apiRecord(4)));
      const { calls, handler } = recorder();

      // Act
      await run({ handler, startingPosition: "LATEST", idleTimeoutMs: 300, pollIntervalMs: 5 });

      // Assess
      expect(calls).toEqual([[4]]);
      expect(iteratorRequests()).toEqual([{ StreamArn: STREAM_ARN, ShardId: "shard-1", ShardIteratorType: "LATEST" }]);
    });
  });

  describe("errors", () => {
    it("rejects when GetShardIterator returns no iterator", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 1))]);
      streams.on(GetShardIteratorCommand).resolves({});
      const { handler } = recorder();

      // Act
      const running = run({ handler });

      // Assess
      await expect(running).rejects.toThrow("GetShardIterator returned no ShardIterator for shard shard-1");
    });

    it("rejects when a record has no SequenceNumber", async () => {
      // Prepare
      fakeStream([shard("shard-1", [apiRecord(1, { dynamodb: undefined })])]);
      const { handler } = recorder();

      // Act
      const running = run({ handler });

      // Assess
      await expect(running).rejects.toThrow("A record of the stream has no dynamodb.SequenceNumber (eventID event-1)");
    });

    it("rejects when a DynamoDB Streams call fails", async () => {
      // Prepare
      streams.on(DescribeStreamCommand).rejects(new Error("ResourceNotFoundException"));
      const { handler } = recorder();

      // Act
      const running = run({ handler });

      // Assess
      await expect(running).rejects.toThrow("ResourceNotFoundException");
    });

    it("rejects when onBatch throws, and waits for an async onBatch", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 2))]);
      const { handler } = recorder();
      const order: string[] = [];

      // Act
      const running = run({
        handler,
        batchSize: 1,
        onBatch: async (batch) => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          order.push(batch.firstSequenceNumber);
          if (batch.firstSequenceNumber === seq(2)) throw new Error("onBatch failed");
        },
      });

      // Assess
      await expect(running).rejects.toThrow("onBatch failed");
      expect(order).toEqual([seq(1), seq(2)]);
    });

    const invalid: [string, Partial<RunStreamOptions>, string, string][] = [
      [
        "client",
        { client: undefined as unknown as DynamoDBStreamsClient },
        "client",
        "must be a DynamoDBStreamsClient",
      ],
      ["streamArn", { streamArn: "" }, "streamArn", "must be a stream ARN"],
      ["handler", { handler: "handler" as unknown as StreamHandler }, "handler", "must be a function"],
      [
        "batchSize 0",
        { batchSize: 0 },
        "batchSize",
        "must be an integer from 1 to 1000 (the most one GetRecords call returns)",
      ],
      [
        "batchSize 1001",
        { batchSize: 1001 },
        "batchSize",
        "must be an integer from 1 to 1000 (the most one GetRecords call returns)",
      ],
      [
        "batchSize 1.5",
        { batchSize: 1.5 },
        "batchSize",
        "must be an integer from 1 to 1000 (the most one GetRecords call returns)",
      ],
      [
        "startingPosition",
        { startingPosition: "AT_TIMESTAMP" as "LATEST" },
        "startingPosition",
        'must be "TRIM_HORIZON" or "LATEST"',
      ],
      ["maxRetries -1", { maxRetries: -1 }, "maxRetries", "must be an integer of at least 0, or Infinity"],
      ["maxRetries 0.5", { maxRetries: 0.5 }, "maxRetries", "must be an integer of at least 0, or Infinity"],
      ["idleTimeoutMs", { idleTimeoutMs: -1 }, "idleTimeoutMs", "must be a finite number of milliseconds, at least 0"],
      [
        "pollIntervalMs",
        { pollIntervalMs: Number.NaN },
        "pollIntervalMs",
        "must be a finite number of milliseconds, at least 0",
      ],
      [
        "pollIntervalMs Infinity",
        { pollIntervalMs: Number.POSITIVE_INFINITY },
        "pollIntervalMs",
        "must be a finite number of milliseconds, at least 0",
      ],
      [
        "functionTimeoutMs 0",
        { functionTimeoutMs: 0 },
        "functionTimeoutMs",
        "must be a finite number of milliseconds, more than 0",
      ],
      [
        "functionTimeoutMs string",
        { functionTimeoutMs: "1000" as unknown as number },
        "functionTimeoutMs",
        "must be a finite number of milliseconds, more than 0",
      ],
    ];

    it.each(invalid)(
      "throws a ConfigError naming an invalid %s, before any call",
      async (_name, options, path, message) => {
        // Prepare
        const { handler } = recorder();

        // Act
        const running = runStream({ client, streamArn: STREAM_ARN, handler, ...options });

        // Assess
        const error = (await running.catch((caught: unknown) => caught)) as ConfigError;
        expect(isConfigError(error)).toBe(true);
        expect(error.issues).toEqual([{ path, message }]);
        expect(streams.calls()).toEqual([]);
      },
    );

    it("names every invalid option at once", async () => {
      // Act
      const running = runStream({ client, streamArn: STREAM_ARN, handler: () => {}, batchSize: 0, maxRetries: -1 });

      // Assess
      await expect(running).rejects.toThrow(/`batchSize`[\s\S]*`maxRetries`/);
    });

    it("accepts the boundary values", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 1))]);
      const { calls, handler } = recorder();

      // Act
      await onFakeClock(
        runStream({
          client,
          streamArn: STREAM_ARN,
          handler,
          batchSize: 1000,
          maxRetries: 0,
          idleTimeoutMs: 0,
          pollIntervalMs: 0,
          functionTimeoutMs: 1,
        }),
      );

      // Assess
      expect(calls).toEqual([[1]]);
    });
  });

  describe("with createCleanupHandler", () => {
    const s3 = mockClient(S3Client);

    afterAll(() => {
      s3.restore();
    });

    it("deletes the REMOVE records' objects, and redelivers the record whose delete failed until it succeeds", async () => {
      // Prepare
      s3.reset();
      let deletes = 0;
      s3.on(DeleteObjectsCommand).callsFake((input: DeleteObjectsCommandInput) => {
        deletes++;
        const keys = (input.Delete?.Objects ?? []).map((object) => object.Key);
        return deletes === 1 && keys.includes("images/p-3.png")
          ? { Errors: [{ Key: "images/p-3.png", Code: "AccessDenied", Message: "Access Denied" }] }
          : {};
      });
      const ttl = { PrincipalId: "dynamodb.amazonaws.com", Type: "Service" };
      fakeStream([
        shard("shard-1", [
          apiRecord(1),
          apiRecord(2, { eventName: "REMOVE", userIdentity: ttl }),
          apiRecord(3, { eventName: "REMOVE" }),
          apiRecord(4, { eventName: "MODIFY" }),
          apiRecord(5, { eventName: "REMOVE", userIdentity: ttl }),
        ]),
      ]);
      const handler = createCleanupHandler({
        bucket: "product-images",
        key: "images/{productId}.png",
        s3Client: new S3Client({ region: "us-east-1" }),
        logger: { debug() {}, info() {}, warn() {}, error() {} },
      });

      // Act
      const { report, batches } = await run({ handler });

      // Assess
      const sent = s3
        .commandCalls(DeleteObjectsCommand)
        .map((call) => (call.args[0].input.Delete?.Objects ?? []).map((object) => object.Key).sort());
      expect(sent).toEqual([
        ["images/p-2.png", "images/p-3.png", "images/p-5.png"],
        ["images/p-3.png", "images/p-5.png"],
      ]);
      expect(batches.map((batch) => [batch.firstSequenceNumber, batch.response])).toEqual([
        [seq(1), fail(3)],
        [seq(3), { batchItemFailures: [] }],
      ]);
      expect(report).toEqual({
        batches: 2,
        records: 5,
        retries: 1,
        discarded: [],
        unfinished: [],
        stoppedBy: "drained",
      });
    });
  });

  describe("onFailure", () => {
    const QUEUE_URL = "http://127.0.0.1:4566/000000000000/cleanup-failures";
    const sqsClient = new SQSClient({ region: "us-east-1" });
    const sqs = mockClient(sqsClient);
    const s3Client = new S3Client({ region: "us-east-1" });
    const s3 = mockClient(s3Client);

    beforeEach(() => {
      sqs.reset();
      s3.reset();
    });

    afterAll(() => {
      sqs.restore();
      s3.restore();
    });

    const sentBodies = () =>
      sqs.commandCalls(SendMessageCommand).map((call) => JSON.parse(call.args[0].input.MessageBody ?? "") as unknown);
    const asSqsEvent = (bodies: unknown[]) => ({
      Records: bodies.map((body, index) => ({
        messageId: `m-${index}`,
        eventSource: "aws:sqs",
        body: JSON.stringify(body),
      })),
    });
    const throwing = () => {
      throw new Error("boom");
    };

    it("sends Lambda's record of a discarded batch to the queue when it is discarded, and notes the message id", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 7))]);
      const order: string[] = [];
      sqs.on(SendMessageCommand).callsFake(() => {
        order.push("SendMessage");
        return { MessageId: "message-1" };
      });
      const contexts: StreamRunnerContext[] = [];
      const now: number[] = [];
      const { handler } = recorder((event) => {
        order.push(`invoke ${event.Records.length}`);
        return event.Records.some((record) => record.dynamodb?.SequenceNumber === seq(3)) ? fail(3) : undefined;
      });

      // Act
      const { report } = await run({
        handler: (event, context) => {
          contexts.push(context);
          now.push(Date.now());
          return handler(event, context);
        },
        batchSize: 5,
        maxRetries: 2,
        onFailure: { queueUrl: QUEUE_URL, client: sqsClient },
      });

      // Assess
      expect(order).toEqual(["invoke 5", "invoke 3", "invoke 3", "SendMessage", "invoke 2"]);
      expect(sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input.QueueUrl)).toEqual([QUEUE_URL]);
      expect(sentBodies()).toStrictEqual([
        {
          requestContext: {
            requestId: contexts[2]?.awsRequestId,
            functionArn: "arn:aws:lambda:ddblocal:000000000000:function:run-stream",
            condition: "RetryAttemptsExhausted",
            approximateInvokeCount: 3,
          },
          responseContext: { statusCode: 200, executedVersion: "$LATEST" },
          version: "1.0",
          timestamp: new Date(now[2] ?? -1).toISOString(),
          DDBStreamBatchInfo: {
            shardId: "shard-1",
            startSequenceNumber: seq(3),
            endSequenceNumber: seq(5),
            approximateArrivalOfFirstRecord: "2026-11-18T11:06:40Z",
            approximateArrivalOfLastRecord: "2026-11-18T11:06:40Z",
            batchSize: 3,
            streamArn: STREAM_ARN,
          },
        },
      ]);
      expect(report.discarded.map((batch) => batch.writtenTo)).toEqual([
        { queueUrl: QUEUE_URL, messageId: "message-1" },
      ]);
      expect(report.discarded[0]).not.toHaveProperty("writeError");
    });

    it("sends one record per discarded batch, each read back by failureMessagesOf with its range", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 4))]);
      sqs.on(SendMessageCommand).resolves({ MessageId: "message" });

      // Act
      const { report } = await run({
        handler: throwing,
        batchSize: 2,
        maxRetries: 1,
        onFailure: { queueUrl: QUEUE_URL, client: sqsClient },
      });

      // Assess
      const messages = failureMessagesOf(asSqsEvent(sentBodies()));
      expect(
        messages.map((message) =>
          "batch" in message
            ? [
                message.batch.shardId,
                message.batch.startSequenceNumber,
                message.batch.endSequenceNumber,
                message.batch.batchSize,
              ]
            : message,
        ),
      ).toEqual([
        ["shard-1", seq(1), seq(2), 2],
        ["shard-1", seq(3), seq(4), 2],
      ]);
      expect(report.discarded).toHaveLength(2);
    });

    it("writes functionError Unhandled when the handler threw or timed out", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 1)), shard("shard-2", [apiRecord(2)])]);
      sqs.on(SendMessageCommand).resolves({ MessageId: "message" });
      const handler: StreamHandler = async (event) => {
        if (event.Records[0]?.dynamodb?.SequenceNumber === seq(1)) throw new Error("boom");
        await new Promise((resolve) => setTimeout(resolve, 20));
      };

      // Act
      await run({
        handler,
        maxRetries: 0,
        functionTimeoutMs: 10,
        onFailure: { queueUrl: QUEUE_URL, client: sqsClient },
      });

      // Assess
      expect(sentBodies().map((body) => (body as { responseContext: unknown }).responseContext)).toEqual([
        { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
        { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
      ]);
    });

    it("writes the functionArn it is given", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 1))]);
      sqs.on(SendMessageCommand).resolves({ MessageId: "message" });
      const functionArn = "arn:aws:lambda:eu-west-1:111122223333:function:products-cleanup";

      // Act
      await run({
        handler: throwing,
        maxRetries: 0,
        onFailure: { queueUrl: QUEUE_URL, client: sqsClient, functionArn },
      });

      // Assess
      expect(sentBodies()).toMatchObject([{ requestContext: { functionArn } }]);
    });

    it("names a function in us-east-1 of account 000000000000 when the stream ARN has no region or account", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 1))]);
      sqs.on(SendMessageCommand).resolves({ MessageId: "message" });

      // Act
      await onFakeClock(
        runStream({
          client,
          streamArn: "products-stream",
          handler: throwing,
          maxRetries: 0,
          idleTimeoutMs: 0,
          onFailure: { queueUrl: QUEUE_URL, client: sqsClient },
        }),
      );

      // Assess
      expect(sentBodies()).toMatchObject([
        { requestContext: { functionArn: "arn:aws:lambda:us-east-1:000000000000:function:run-stream" } },
      ]);
    });

    it("writes nothing for records that succeed on a retry, or that an abort leaves unfinished", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 2)), shard("shard-2", [apiRecord(3)])]);
      const controller = new AbortController();
      const { handler } = recorder((event, call) => {
        if (event.Records[0]?.dynamodb?.SequenceNumber === seq(3)) {
          controller.abort();
          return fail(3);
        }
        return call === 1 ? fail(2) : undefined;
      });

      // Act
      const { report } = await run({
        handler,
        signal: controller.signal,
        onFailure: { queueUrl: QUEUE_URL, client: sqsClient },
      });

      // Assess
      expect(report.unfinished.map((batch) => batch.firstSequenceNumber)).toEqual([seq(3)]);
      expect(report.discarded).toEqual([]);
      expect(sqs.calls()).toEqual([]);
    });

    const sqsFailures: [string, () => void, unknown][] = [
      [
        "SendMessage fails",
        () => sqs.on(SendMessageCommand).rejects(new Error("AWS.SimpleQueueService.NonExistentQueue")),
        new Error("AWS.SimpleQueueService.NonExistentQueue"),
      ],
      [
        "SendMessage returns no MessageId",
        () => sqs.on(SendMessageCommand).resolves({}),
        new Error("SendMessage returned no MessageId"),
      ],
    ];

    it.each(sqsFailures)("notes the error and reads on when %s", async (_name, prepare, expected) => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 2))]);
      prepare();
      const { calls, handler } = recorder((event) => (event.Records.length === 2 ? fail(1) : undefined));

      // Act
      const { report } = await run({
        handler,
        batchSize: 2,
        maxRetries: 0,
        onFailure: { queueUrl: QUEUE_URL, client: sqsClient },
      });

      // Assess
      expect(report.discarded).toHaveLength(1);
      expect(report.discarded[0]?.writeError).toEqual(expected);
      expect(report.discarded[0]).not.toHaveProperty("writtenTo");
      expect(calls).toEqual([[1, 2]]);
      expect(report.stoppedBy).toBe("drained");
    });

    it("puts Lambda's record with the records in payload under Lambda's key layout, and notes the key", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 3))]);
      s3.on(PutObjectCommand).resolves({});
      const now: number[] = [];
      const { handler } = recorder(() => {
        now.push(Date.now());
        return fail(2);
      });

      // Act
      const { report } = await run({
        handler,
        maxRetries: 1,
        onFailure: { bucket: "cleanup-failures", client: s3Client, mappingUuid: "mapping-1" },
      });

      // Assess
      const puts = s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
      expect(puts).toHaveLength(1);
      const { Bucket: bucket, Key: key, Body: body } = puts[0] ?? {};
      const date = new Date(now[1] ?? -1).toISOString();
      expect(bucket).toBe("cleanup-failures");
      expect(key).toMatch(
        new RegExp(
          `^aws/lambda/mapping-1/shard-1/${date.slice(0, 4)}/${date.slice(5, 7)}/${date.slice(8, 10)}/${date.slice(0, 19).replaceAll(":", "\\.")}-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`,
        ),
      );
      const object = failureObjectOf(key ?? "", String(body));
      expect(object.batch).toMatchObject({
        shardId: "shard-1",
        startSequenceNumber: seq(2),
        endSequenceNumber: seq(3),
        batchSize: 2,
        condition: "RetryAttemptsExhausted",
        discardedAt: date,
      });
      expect(object.event).toStrictEqual({ Records: report.discarded[0]?.records });
      expect(report.discarded[0]?.writtenTo).toEqual({ bucket: "cleanup-failures", key });
    });

    it("keys every object of a run under one random mapping UUID", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 1)), shard("shard-2", [apiRecord(2)])]);
      s3.on(PutObjectCommand).resolves({});

      // Act
      const { report } = await run({ handler: throwing, maxRetries: 0, onFailure: { bucket: "b", client: s3Client } });

      // Assess
      const keys = s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input.Key ?? "");
      const [first, second] = keys.map((key) => key.split("/"));
      expect(keys).toHaveLength(2);
      expect(first?.[2]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(second?.[2]).toBe(first?.[2]);
      expect([first?.[3], second?.[3]]).toEqual(["shard-1", "shard-2"]);
      expect(report.discarded.map((batch) => batch.writtenTo)).toEqual(keys.map((key) => ({ bucket: "b", key })));
    });

    it("notes the error and reads on when PutObject fails", async () => {
      // Prepare
      fakeStream([shard("shard-1", records(1, 1)), shard("shard-2", [apiRecord(2)])]);
      s3.on(PutObjectCommand).rejectsOnce(new Error("NoSuchBucket")).resolves({});

      // Act
      const { report } = await run({ handler: throwing, maxRetries: 0, onFailure: { bucket: "b", client: s3Client } });

      // Assess
      expect(report.discarded.map((batch) => [batch.writeError, batch.writtenTo?.constructor])).toEqual([
        [new Error("NoSuchBucket"), undefined],
        [undefined, Object],
      ]);
    });

    const sqsDestination = { queueUrl: QUEUE_URL, client: sqsClient };
    const s3Destination = { bucket: "b", client: s3Client };
    const invalid: [string, unknown, ConfigIssue[]][] = [
      [
        "a string",
        QUEUE_URL,
        [
          {
            path: "onFailure",
            message: "must be { queueUrl, client } (an SQS queue) or { bucket, client } (an S3 bucket)",
          },
        ],
      ],
      [
        "both queueUrl and bucket",
        { ...sqsDestination, bucket: "b" },
        [{ path: "onFailure", message: "must have either queueUrl (an SQS queue) or bucket (an S3 bucket), not both" }],
      ],
      [
        "neither queueUrl nor bucket",
        { client: sqsClient },
        [{ path: "onFailure", message: "must have queueUrl (an SQS queue) or bucket (an S3 bucket)" }],
      ],
      ...["", "cleanup-failures", "https://sqs.us-east-1.amazonaws.com/", "ftp://host/queue", 42].map(
        (queueUrl): [string, unknown, ConfigIssue[]] => [
          `queueUrl ${JSON.stringify(queueUrl)}`,
          { ...sqsDestination, queueUrl },
          [
            {
              path: "onFailure.queueUrl",
              message:
                "must be an SQS queue URL, such as https://sqs.us-east-1.amazonaws.com/111122223333/cleanup-failures",
            },
          ],
        ],
      ),
      ...["", "b/c", null].map((bucket): [string, unknown, ConfigIssue[]] => [
        `bucket ${JSON.stringify(bucket)}`,
        { ...s3Destination, bucket },
        [{ path: "onFailure.bucket", message: "must be an S3 bucket name, without slashes" }],
      ]),
      [
        "SQS client without send",
        { queueUrl: QUEUE_URL, client: {} },
        [{ path: "onFailure.client", message: "must be an SQSClient" }],
      ],
      ["S3 client missing", { bucket: "b" }, [{ path: "onFailure.client", message: "must be an S3Client" }]],
      [
        "functionArn of no function",
        { ...sqsDestination, functionArn: "arn:aws:lambda:us-east-1:111122223333:layer:x" },
        [
          {
            path: "onFailure.functionArn",
            message: "must be a Lambda function ARN, such as arn:aws:lambda:us-east-1:111122223333:function:cleanup",
          },
        ],
      ],
      [
        "mappingUuid with queueUrl",
        { ...sqsDestination, mappingUuid: "m" },
        [{ path: "onFailure.mappingUuid", message: "names S3 objects: it applies only with bucket" }],
      ],
      ...["", "a/b"].map((mappingUuid): [string, unknown, ConfigIssue[]] => [
        `mappingUuid ${JSON.stringify(mappingUuid)}`,
        { ...s3Destination, mappingUuid },
        [
          {
            path: "onFailure.mappingUuid",
            message: "must be a non-empty string without slashes: one segment of the object keys",
          },
        ],
      ]),
      [
        "queueUrl and client at once",
        { queueUrl: "q", client: null },
        [
          {
            path: "onFailure.queueUrl",
            message:
              "must be an SQS queue URL, such as https://sqs.us-east-1.amazonaws.com/111122223333/cleanup-failures",
          },
          { path: "onFailure.client", message: "must be an SQSClient" },
        ],
      ],
    ];

    it.each(invalid)(
      "throws a ConfigError naming an onFailure with %s, before any call",
      async (_name, onFailure, issues) => {
        // Act
        const running = runStream({
          client,
          streamArn: STREAM_ARN,
          handler: () => {},
          onFailure: onFailure as OnFailureDestination,
        });

        // Assess
        const error = (await running.catch((caught: unknown) => caught)) as ConfigError;
        expect(isConfigError(error)).toBe(true);
        expect(error.issues).toEqual(issues);
        expect([...streams.calls(), ...sqs.calls(), ...s3.calls()]).toEqual([]);
      },
    );

    it("takes the SDK's clients, and one kind of destination at a time", () => {
      expectTypeOf<SQSClient>().toExtend<SqsClientLike>();
      expectTypeOf<S3Client>().toExtend<S3ClientLike>();
      expectTypeOf({ queueUrl: QUEUE_URL, client: sqsClient }).toExtend<OnFailureDestination>();
      expectTypeOf({ bucket: "b", client: s3Client, mappingUuid: "m" }).toExtend<OnFailureDestination>();
      expectTypeOf({ queueUrl: QUEUE_URL, bucket: "b", client: sqsClient }).not.toExtend<OnFailureDestination>();
      expectTypeOf({ queueUrl: QUEUE_URL, client: sqsClient, mappingUuid: "m" }).not.toExtend<OnFailureDestination>();
    });
  });

  describe("types", () => {
    it("takes createCleanupHandler's handler, and handlers that return nothing", () => {
      const handler = createCleanupHandler({ bucket: "b", key: "{productId}" });
      expectTypeOf(handler).toExtend<StreamHandler>();
      expectTypeOf(async () => {}).toExtend<StreamHandler>();
      expectTypeOf(() => undefined).toExtend<StreamHandler>();
      expectTypeOf((_event: StreamEvent) => ({
        batchItemFailures: [{ itemIdentifier: "1" }],
      })).toExtend<StreamHandler>();
      expectTypeOf(async () => 42).not.toExtend<StreamHandler>();
      expectTypeOf<StreamBatch["records"]>().toEqualTypeOf<number>();
    });
  });
});
