import {
  type _Record,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  type GetRecordsCommandInput,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
} from "@aws-sdk/client-dynamodb-streams";
import {
  KinesisClient,
  GetRecordsCommand as KinesisGetRecordsCommand,
  type GetRecordsCommandInput as KinesisGetRecordsInput,
  GetShardIteratorCommand as KinesisGetShardIteratorCommand,
  type GetShardIteratorCommandInput as KinesisGetShardIteratorInput,
  type _Record as KinesisRecord,
} from "@aws-sdk/client-kinesis";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { DiscardedRange } from "../src/failure-destination-records.js";
import { type AwsClientLike, isConfigError, parseStreamRecords, type StreamRecord } from "../src/index.js";
import {
  BACKOFF_BASE_MS,
  BACKOFF_CAP_MS,
  createRangeReader,
  MAX_CALL_ATTEMPTS,
  RANGE_EMPTY,
  RANGE_END_NOT_REACHED,
  RANGE_TRIMMED,
  type RangeRead,
  type RangeReaderOptions,
} from "../src/stream-range-reader.js";
import { createFakeClock, type Deferred, deferred, settle } from "./fake-clock.js";
import { propertyRuns } from "./property-runs.js";

const streams = mockClient(DynamoDBStreamsClient);
const kinesis = mockClient(KinesisClient);

beforeEach(() => {
  streams.reset();
  kinesis.reset();
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

afterAll(() => {
  streams.restore();
  kinesis.restore();
});

const STREAM_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/products/stream/2026-11-27T00:00:00.000";
const KINESIS_ARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/table-changes";
const SHARD = "shardId-00000001764000000000-aaaaaaaa";

/** A sequence number as DynamoDB Local writes them: 21 zero-padded digits. */
const seq = (n: number) => String(n).padStart(21, "0");

const batchOf = (start: number, end: number, overrides: Partial<DiscardedRange> = {}): DiscardedRange => ({
  source: "dynamodb-streams",
  discardedBy: "event-source-mapping",
  streamArn: STREAM_ARN,
  shardId: SHARD,
  startSequenceNumber: seq(start),
  endSequenceNumber: seq(end),
  batchSize: end - start + 1,
  approximateArrivalOfFirstRecord: "2026-12-02T09:30:01Z",
  approximateArrivalOfLastRecord: "2026-12-02T09:30:05Z",
  ...overrides,
});

/** A Kinesis batch: moto's sequence numbers are "1", "2", ..., so these are unpadded. */
const kinesisBatchOf = (start: number, end: number, overrides: Partial<DiscardedRange> = {}) =>
  batchOf(start, end, {
    source: "kinesis",
    streamArn: KINESIS_ARN,
    shardId: "shardId-000000000000",
    startSequenceNumber: String(start),
    endSequenceNumber: String(end),
    ...overrides,
  });

/** A REMOVE record as GetRecords returns it. */
function removal(n: number): _Record {
  return {
    eventID: `event-${n}`,
    eventName: "REMOVE",
    eventVersion: "1.1",
    eventSource: "aws:dynamodb",
    awsRegion: "eu-west-1",
    dynamodb: {
      ApproximateCreationDateTime: new Date(1_764_667_800_000),
      Keys: { productId: { S: `p-${n}` } },
      SequenceNumber: seq(n),
      SizeBytes: 20,
      StreamViewType: "KEYS_ONLY",
    },
  };
}

/** A Kinesis record as GetRecords returns it, carrying a REMOVE as Kinesis Data Streams for DynamoDB writes it. */
function kinesisRemoval(n: number): KinesisRecord {
  const payload = {
    awsRegion: "eu-west-1",
    eventID: `event-${n}`,
    eventName: "REMOVE",
    userIdentity: null,
    recordFormat: "application/json",
    tableName: "products",
    dynamodb: { ApproximateCreationDateTime: 1_764_667_800_123, Keys: { productId: { S: `p-${n}` } }, SizeBytes: 20 },
    eventSource: "aws:dynamodb",
  };
  return {
    SequenceNumber: String(n),
    ApproximateArrivalTimestamp: new Date(1_764_667_800_250),
    Data: new TextEncoder().encode(JSON.stringify(payload)),
    PartitionKey: `key-${n}`,
  };
}

const sequenceNumbersOf = (read: RangeRead) =>
  read.outcome === "read"
    ? read.event.Records.map((record) =>
        "kinesis" in record ? record.kinesis.sequenceNumber : (record as StreamRecord).dynamodb?.SequenceNumber,
      )
    : read;

/**
 * A fake DynamoDB shard on the Streams mock: iterators are positions, GetRecords answers at most
 * `Limit` records and at most the next of `pageSizes` (the last repeats), and the shard is closed
 * (no NextShardIterator after its last record) when `closed`.
 */
function fakeShard(records: _Record[], options: { pageSizes?: number[]; closed?: boolean } = {}) {
  const pageSizes = options.pageSizes ?? [100];
  let pages = 0;
  const positionOf = (input: GetShardIteratorCommandInput) => {
    const wanted = BigInt(input.SequenceNumber as string);
    const after = input.ShardIteratorType === "AFTER_SEQUENCE_NUMBER";
    const index = records.findIndex((record) => {
      const n = BigInt(record.dynamodb?.SequenceNumber as string);
      return after ? n > wanted : n >= wanted;
    });
    return index === -1 ? records.length : index;
  };
  streams.on(GetShardIteratorCommand).callsFake(async (input: GetShardIteratorCommandInput) => ({
    ShardIterator: `at:${positionOf(input)}`,
  }));
  streams.on(GetRecordsCommand).callsFake(async (input: GetRecordsCommandInput) => {
    const from = Number((input.ShardIterator as string).slice(3));
    const size = Math.min(input.Limit ?? 1000, pageSizes[Math.min(pages++, pageSizes.length - 1)] ?? 100);
    const to = Math.min(records.length, from + size);
    const closedNow = options.closed === true && to === records.length;
    return { Records: records.slice(from, to), ...(closedNow ? {} : { NextShardIterator: `at:${to}` }) };
  });
}

/** A reader on the mocks whose backoff is recorded in `clock.delays`; `random` returns 0.5 unless given. */
function setup(options: Partial<RangeReaderOptions> = {}) {
  const clock = createFakeClock();
  const read = createRangeReader({
    streamsClient: async () => new DynamoDBStreamsClient({ region: "eu-west-1" }),
    kinesisClient: async () => new KinesisClient({ region: "eu-west-1" }),
    sleep: clock.sleep,
    random: () => 0.5,
    ...options,
  });
  return { clock, read };
}

const signal = () => new AbortController().signal;

/** An SDK-like service error. */
function serviceError(name: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${name} happened`), { name, $fault: "client", $metadata: {}, ...extra });
}

describe("createRangeReader: DynamoDB Streams", () => {
  it("reads a range across several pages, as Lambda delivers the records", async () => {
    fakeShard([98, 99, 100, 101, 102, 103, 104, 105, 106].map(removal), { pageSizes: [2, 3, 1] });
    const { read } = setup();

    const result = await read(batchOf(100, 105), signal());

    expect(sequenceNumbersOf(result)).toEqual([100, 101, 102, 103, 104, 105].map(seq));
    expect(result).toMatchObject({ outcome: "read", records: 6, endedBy: "range-end" });
    const first = result.outcome === "read" ? result.event.Records[0] : undefined;
    expect(first).toEqual({
      eventID: "event-100",
      eventName: "REMOVE",
      eventVersion: "1.1",
      eventSource: "aws:dynamodb",
      awsRegion: "eu-west-1",
      eventSourceARN: STREAM_ARN,
      dynamodb: {
        ApproximateCreationDateTime: 1_764_667_800,
        Keys: { productId: { S: "p-100" } },
        SequenceNumber: seq(100),
        SizeBytes: 20,
        StreamViewType: "KEYS_ONLY",
      },
    });
    expect(streams.commandCalls(GetRecordsCommand)).toHaveLength(3);
  });

  it("asks for the start's iterator with the sequence number exactly as given", async () => {
    fakeShard([100, 101].map(removal));
    const { read } = setup();

    await read(batchOf(100, 101), signal());

    expect(streams.commandCalls(GetShardIteratorCommand).map((call) => call.args[0].input)).toEqual([
      { StreamArn: STREAM_ARN, ShardId: SHARD, ShardIteratorType: "AT_SEQUENCE_NUMBER", SequenceNumber: seq(100) },
    ]);
  });

  it("asks for the client of the region the stream's ARN names", async () => {
    fakeShard([100].map(removal));
    const streamsClient = vi.fn(async () => new DynamoDBStreamsClient({ region: "eu-west-1" }));
    const { read } = setup({ streamsClient });

    await read(batchOf(100, 100, { streamArn: STREAM_ARN.replace("eu-west-1", "ap-south-2") }), signal());

    expect(streamsClient).toHaveBeenCalledWith("ap-south-2");
  });

  it("asks every page for as many records as a call returns, whatever the batch's size", async () => {
    // The range also holds the records a mapping's filter dropped: batchSize does not count them.
    fakeShard([100, 101, 102, 103, 104].map(removal), { pageSizes: [2] });
    const { read } = setup();

    await read(batchOf(100, 104, { batchSize: 1 }), signal());

    const limits = streams.commandCalls(GetRecordsCommand).map((call) => call.args[0].input.Limit);
    expect(limits).toEqual([1000, 1000, 1000]);
  });

  it("drops the records beyond the end and reads no further page", async () => {
    fakeShard([100, 101, 102, 103, 104].map(removal), { pageSizes: [2, 10] });
    const { read } = setup();

    const result = await read(batchOf(100, 102, { batchSize: 10 }), signal());

    expect(sequenceNumbersOf(result)).toEqual([100, 101, 102].map(seq));
    expect(streams.commandCalls(GetRecordsCommand)).toHaveLength(2);
  });

  it("ends the range at the first record beyond its end when the end itself is not in the shard", async () => {
    fakeShard([100, 101, 103, 104].map(removal));
    const { read } = setup();

    const result = await read(batchOf(100, 102), signal());

    expect(sequenceNumbersOf(result)).toEqual([100, 101].map(seq));
    expect(result).toMatchObject({ endedBy: "range-end" });
  });

  it("stops at a page whose last record is the end", async () => {
    fakeShard([100, 101, 102, 103].map(removal), { pageSizes: [2] });
    const { read } = setup();

    const result = await read(batchOf(100, 101, { batchSize: 10 }), signal());

    expect(sequenceNumbersOf(result)).toEqual([100, 101].map(seq));
    expect(streams.commandCalls(GetRecordsCommand)).toHaveLength(1);
  });

  it("compares sequence numbers as integers, whatever their padding", async () => {
    fakeShard([9, 10, 11].map(removal));
    const { read } = setup();

    const result = await read(batchOf(9, 10, { startSequenceNumber: "9", endSequenceNumber: "0010" }), signal());

    expect(sequenceNumbersOf(result)).toEqual([seq(9), seq(10)]);
  });

  it("returns what it read when the shard closes before the end", async () => {
    fakeShard([100, 101, 102].map(removal), { pageSizes: [2], closed: true });
    const { read } = setup();

    const result = await read(batchOf(100, 110), signal());

    expect(sequenceNumbersOf(result)).toEqual([100, 101, 102].map(seq));
    expect(result).toMatchObject({ outcome: "read", records: 3, endedBy: "shard-closed" });
  });

  it("reports a trimmed start as unreplayable, naming shard, range and the first record found", async () => {
    fakeShard([103, 104, 105].map(removal));
    const { read } = setup();

    const result = await read(batchOf(100, 105), signal());

    expect(result).toEqual({
      outcome: "unreplayable",
      code: RANGE_TRIMMED,
      reason: expect.stringContaining(seq(103)),
    });
    const { reason } = result as { reason: string };
    expect(reason).toContain(SHARD);
    expect(reason).toContain(STREAM_ARN);
    expect(reason).toContain(`${seq(100)} to ${seq(105)}`);
  });

  it("reports a trimmed start found after empty pages", async () => {
    const { read } = setup();
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: "it-0" });
    streams
      .on(GetRecordsCommand)
      .resolvesOnce({ Records: [], NextShardIterator: "it-1" })
      .resolves({ Records: [removal(101)], NextShardIterator: "it-2" });

    const result = await read(batchOf(100, 105), signal());

    expect(result).toMatchObject({ outcome: "unreplayable", code: RANGE_TRIMMED });
  });

  it("reports a closed shard without any record from the start as unreplayable", async () => {
    fakeShard([98, 99].map(removal), { closed: true });
    const { read } = setup();

    const result = await read(batchOf(100, 105), signal());

    expect(result).toEqual({ outcome: "unreplayable", code: RANGE_EMPTY, reason: expect.stringContaining(SHARD) });
  });

  it("drops records before the start that a shard answers against the rules", async () => {
    const { read } = setup();
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: "it-0" });
    streams.on(GetRecordsCommand).resolves({ Records: [removal(99), removal(100), removal(101)] });

    const result = await read(batchOf(100, 101), signal());

    expect(sequenceNumbersOf(result)).toEqual([seq(100), seq(101)]);
  });

  describe.each([
    ["GetShardIterator", "TrimmedDataAccessException"],
    ["GetShardIterator", "ResourceNotFoundException"],
    ["GetShardIterator", "ValidationException"],
    ["GetRecords", "TrimmedDataAccessException"],
    ["GetRecords", "ResourceNotFoundException"],
    ["GetRecords", "ExpiredIteratorException"],
  ])("on %s's %s", (call, name) => {
    it("reports the range as unreplayable with the error's name and message, the shard and the range", async () => {
      const { read, clock } = setup();
      streams.on(GetShardIteratorCommand).resolves({ ShardIterator: "it-0" });
      streams.on(GetRecordsCommand).resolves({ Records: [removal(100)], NextShardIterator: "it-1" });
      if (call === "GetShardIterator") streams.on(GetShardIteratorCommand).rejects(serviceError(name));
      else streams.on(GetRecordsCommand).rejects(serviceError(name));

      const result = await read(batchOf(100, 105), signal());

      expect(result).toEqual({
        outcome: "unreplayable",
        code: name,
        reason: `${name}: ${name} happened (shard ${SHARD} of ${STREAM_ARN}, sequence numbers ${seq(100)} to ${seq(105)})`,
      });
      expect(clock.delays).toEqual([]);
    });
  });

  it("leaves a range unfinished when GetRecords answers ValidationException", async () => {
    const { read } = setup();
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: "it-0" });
    streams.on(GetRecordsCommand).rejects(serviceError("ValidationException"));

    const result = await read(batchOf(100, 105), signal());

    expect(result).toMatchObject({ outcome: "unfinished", code: "ValidationException" });
  });

  it.each(["AccessDeniedException", "UnrecognizedClientException"])(
    "leaves a range unfinished on %s, without retrying",
    async (name) => {
      const { read, clock } = setup();
      streams.on(GetShardIteratorCommand).rejects(serviceError(name));

      const result = await read(batchOf(100, 105), signal());

      expect(result).toEqual({
        outcome: "unfinished",
        code: name,
        reason: expect.stringMatching(new RegExp(`^${name}: ${name} happened \\(shard ${SHARD}`)),
      });
      expect(streams.commandCalls(GetShardIteratorCommand)).toHaveLength(1);
      expect(clock.delays).toEqual([]);
    },
  );

  it("leaves a range unfinished when something that is no SDK error is thrown", async () => {
    const { read } = setup();
    streams.on(GetShardIteratorCommand).callsFake(() => Promise.reject("a string"));

    const result = await read(batchOf(100, 105), signal());

    expect(result).toMatchObject({
      outcome: "unfinished",
      code: "UnknownError",
      reason: expect.stringContaining("a string"),
    });
  });

  it("leaves a range unfinished when the client cannot be had", async () => {
    const { read } = setup({ streamsClient: () => Promise.reject(serviceError("CredentialsProviderError")) });

    const result = await read(batchOf(100, 105), signal());

    expect(result).toMatchObject({ outcome: "unfinished", code: "CredentialsProviderError" });
  });

  it("leaves a range unfinished when GetShardIterator answers no iterator", async () => {
    const { read } = setup();
    streams.on(GetShardIteratorCommand).resolves({});

    const result = await read(batchOf(100, 105), signal());

    expect(result).toMatchObject({ outcome: "unfinished", code: "MissingShardIterator" });
    expect((result as { reason: string }).reason).toMatch(
      /^MissingShardIterator: GetShardIterator answered without a ShardIterator/,
    );
  });

  it("leaves a range unfinished when a record has no sequence number", async () => {
    const { read } = setup();
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: "it-0" });
    streams
      .on(GetRecordsCommand)
      .resolves({ Records: [{ eventName: "REMOVE", dynamodb: {} }], NextShardIterator: "it-1" });

    const result = await read(batchOf(100, 105), signal());

    expect(result).toMatchObject({ outcome: "unfinished", code: "MissingSequenceNumber" });
    expect((result as { reason: string }).reason).toMatch(/^a record without a sequence number came in /);
  });

  it("does not retry a client error that is no throttling, even with an HTTP status", async () => {
    const { read, clock } = setup();
    streams
      .on(GetShardIteratorCommand)
      .rejects(serviceError("AccessDeniedException", { $metadata: { httpStatusCode: 400 } }));

    const result = await read(batchOf(100, 105), signal());

    expect(result).toMatchObject({ outcome: "unfinished", code: "AccessDeniedException" });
    expect(streams.commandCalls(GetShardIteratorCommand)).toHaveLength(1);
    expect(clock.delays).toEqual([]);
  });

  it.each([
    ["a string", "boom"],
    ["null", null],
    ["an error without a name", Object.assign(new Error("no name"), { name: "" })],
  ])("names what is thrown as UnknownError when it is %s", async (_, thrown) => {
    const { read } = setup();
    streams.on(GetShardIteratorCommand).callsFake(() => Promise.reject(thrown));

    const result = await read(batchOf(100, 105), signal());

    expect(result).toMatchObject({ outcome: "unfinished", code: "UnknownError" });
  });

  it("takes an iterator that expires at its first page as unreplayable, asking for no other", async () => {
    const { read } = setup();
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: "it-0" });
    streams.on(GetRecordsCommand).rejects(serviceError("ExpiredIteratorException"));

    const result = await read(batchOf(100, 105), signal());

    expect(result).toMatchObject({ outcome: "unreplayable", code: "ExpiredIteratorException" });
    expect(streams.commandCalls(GetShardIteratorCommand)).toHaveLength(1);
  });

  it("leaves the range unfinished, without a new iterator, when a later page fails otherwise", async () => {
    const { read } = setup();
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: "it-0" });
    streams
      .on(GetRecordsCommand)
      .resolvesOnce({ Records: [removal(100)], NextShardIterator: "it-1" })
      .rejects(serviceError("AccessDeniedException"));

    const result = await read(batchOf(100, 105), signal());

    expect(result).toMatchObject({ outcome: "unfinished", code: "AccessDeniedException" });
    expect(streams.commandCalls(GetShardIteratorCommand)).toHaveLength(1);
  });

  describe("an iterator that expires during the read", () => {
    it("is replaced by one after the last record read, and the read goes on", async () => {
      const { read } = setup();
      streams
        .on(GetShardIteratorCommand)
        .resolves({ ShardIterator: "it-0" })
        .on(GetShardIteratorCommand, { ShardIteratorType: "AFTER_SEQUENCE_NUMBER" })
        .resolves({ ShardIterator: "after-101" });
      streams
        .on(GetRecordsCommand, { ShardIterator: "it-0" })
        .resolves({ Records: [removal(100), removal(101)], NextShardIterator: "it-1" })
        .on(GetRecordsCommand, { ShardIterator: "it-1" })
        .rejects(serviceError("ExpiredIteratorException"))
        .on(GetRecordsCommand, { ShardIterator: "after-101" })
        .resolves({ Records: [removal(102)], NextShardIterator: "it-3" });

      const result = await read(batchOf(100, 102), signal());

      expect(sequenceNumbersOf(result)).toEqual([100, 101, 102].map(seq));
      expect(streams.commandCalls(GetShardIteratorCommand).map((call) => call.args[0].input)).toEqual([
        expect.objectContaining({ ShardIteratorType: "AT_SEQUENCE_NUMBER", SequenceNumber: seq(100) }),
        expect.objectContaining({ ShardIteratorType: "AFTER_SEQUENCE_NUMBER", SequenceNumber: seq(101) }),
      ]);
    });

    it("is replaced at the start when no record was read yet", async () => {
      const { read } = setup();
      streams.on(GetShardIteratorCommand).resolvesOnce({ ShardIterator: "it-0" }).resolves({ ShardIterator: "again" });
      streams
        .on(GetRecordsCommand, { ShardIterator: "it-0" })
        .resolves({ Records: [], NextShardIterator: "it-1" })
        .on(GetRecordsCommand, { ShardIterator: "it-1" })
        .rejects(serviceError("ExpiredIteratorException"))
        .on(GetRecordsCommand, { ShardIterator: "again" })
        .resolves({ Records: [removal(100)], NextShardIterator: "it-3" });

      const result = await read(batchOf(100, 100), signal());

      expect(sequenceNumbersOf(result)).toEqual([seq(100)]);
      expect(streams.commandCalls(GetShardIteratorCommand)[1]?.args[0].input).toMatchObject({
        ShardIteratorType: "AT_SEQUENCE_NUMBER",
        SequenceNumber: seq(100),
      });
    });

    it("makes the range unreplayable when the fresh iterator expires too", async () => {
      const { read } = setup();
      streams.on(GetShardIteratorCommand).resolvesOnce({ ShardIterator: "it-0" }).resolves({ ShardIterator: "after" });
      streams
        .on(GetRecordsCommand, { ShardIterator: "it-0" })
        .resolves({ Records: [removal(100)], NextShardIterator: "it-1" })
        .on(GetRecordsCommand, { ShardIterator: "it-1" })
        .rejects(serviceError("ExpiredIteratorException"))
        .on(GetRecordsCommand, { ShardIterator: "after" })
        .rejects(serviceError("ExpiredIteratorException"));

      const result = await read(batchOf(100, 105), signal());

      expect(result).toMatchObject({ outcome: "unreplayable", code: "ExpiredIteratorException" });
      expect(streams.commandCalls(GetShardIteratorCommand)).toHaveLength(2);
    });
  });

  describe("throttling", () => {
    it("backs off exponentially with full jitter on LimitExceededException, and succeeds after", async () => {
      const { read, clock } = setup();
      streams
        .on(GetShardIteratorCommand)
        .rejectsOnce(serviceError("LimitExceededException"))
        .rejectsOnce(serviceError("LimitExceededException"))
        .resolves({ ShardIterator: "it-0" });
      streams
        .on(GetRecordsCommand)
        .rejectsOnce(serviceError("LimitExceededException"))
        .rejectsOnce(serviceError("LimitExceededException"))
        .rejectsOnce(serviceError("LimitExceededException"))
        .resolves({ Records: [removal(100)], NextShardIterator: "it-1" });

      const result = await read(batchOf(100, 100), signal());

      expect(sequenceNumbersOf(result)).toEqual([seq(100)]);
      expect(clock.delays).toEqual([50, 100, 50, 100, 200]);
    });

    it(`gives up after ${MAX_CALL_ATTEMPTS} attempts of one call, for a handler whose signal never fires`, async () => {
      const { read, clock } = setup();
      streams.on(GetShardIteratorCommand).rejects(serviceError("LimitExceededException"));

      const result = await read(batchOf(100, 100), signal());

      expect(result).toMatchObject({ outcome: "unfinished", code: "LimitExceededException" });
      expect(streams.commandCalls(GetShardIteratorCommand)).toHaveLength(MAX_CALL_ATTEMPTS);
      expect(clock.delays).toHaveLength(MAX_CALL_ATTEMPTS - 1);
    });

    it("caps a wait at 5 s", async () => {
      const { read, clock } = setup({ random: () => 0.999 });
      const limited = streams.on(GetShardIteratorCommand);
      for (let i = 0; i < 9; i++) limited.rejectsOnce(serviceError("LimitExceededException"));
      limited.resolves({});

      await read(batchOf(100, 100), signal());

      expect(clock.delays.map(Math.round)).toEqual([100, 200, 400, 799, 1598, 3197, 4995, 4995, 4995]);
      expect(Math.max(...clock.delays)).toBeLessThan(BACKOFF_CAP_MS);
    });

    it.each([
      ["one the SDK marks retryable", serviceError("SomethingTransient", { $retryable: {} })],
      ["a server error", serviceError("InternalServerError", { $metadata: { httpStatusCode: 500 } })],
      ["a 429", serviceError("TooManyRequests", { $metadata: { httpStatusCode: 429 } })],
    ])("retries %s", async (_, error) => {
      const { read, clock } = setup();
      streams.on(GetShardIteratorCommand).rejectsOnce(error).resolves({ ShardIterator: "it-0" });
      streams.on(GetRecordsCommand).resolves({ Records: [removal(100)] });

      const result = await read(batchOf(100, 100), signal());

      expect(result).toMatchObject({ outcome: "read", records: 1 });
      expect(clock.delays).toEqual([50]);
    });

    it("waits on a timer by default", async () => {
      vi.useFakeTimers();
      const read = createRangeReader({
        streamsClient: async () => new DynamoDBStreamsClient({ region: "eu-west-1" }),
        kinesisClient: async () => new KinesisClient({ region: "eu-west-1" }),
        random: () => 0.5,
      });
      streams
        .on(GetShardIteratorCommand)
        .rejectsOnce(serviceError("LimitExceededException"))
        .resolves({ ShardIterator: "it-0" });
      streams.on(GetRecordsCommand).resolves({ Records: [removal(100)] });
      let result: RangeRead | undefined;

      void read(batchOf(100, 100), signal()).then((read) => {
        result = read;
      });
      await vi.advanceTimersByTimeAsync(BACKOFF_BASE_MS / 2 - 1);
      expect(result).toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);

      expect(result).toMatchObject({ outcome: "read", records: 1 });
    });

    it("draws its jitter from Math.random by default", async () => {
      vi.spyOn(Math, "random").mockReturnValue(0.25);
      const clock = createFakeClock();
      const read = createRangeReader({
        streamsClient: async () => new DynamoDBStreamsClient({ region: "eu-west-1" }),
        kinesisClient: async () => new KinesisClient({ region: "eu-west-1" }),
        sleep: clock.sleep,
      });
      streams
        .on(GetShardIteratorCommand)
        .rejectsOnce(serviceError("LimitExceededException"))
        .resolves({ ShardIterator: "it-0" });
      streams.on(GetRecordsCommand).resolves({ Records: [removal(100)] });

      await read(batchOf(100, 100), signal());

      expect(clock.delays).toEqual([25]);
    });

    it("stops when the signal fires during a backoff, naming the last throttling", async () => {
      const controller = new AbortController();
      const waits: Deferred<void>[] = [];
      const { read } = setup({
        sleep: (_ms, waitSignal) => {
          const wait = deferred<void>();
          waits.push(wait);
          waitSignal?.addEventListener("abort", () => wait.reject(waitSignal.reason));
          return wait.promise;
        },
      });
      streams.on(GetShardIteratorCommand).rejects(serviceError("LimitExceededException"));

      const reading = read(batchOf(100, 105), controller.signal);
      await settle();
      expect(waits).toHaveLength(1);
      controller.abort(new Error("time budget ran out"));
      const result = await reading;

      expect(result).toEqual({
        outcome: "unfinished",
        code: "Aborted",
        reason: expect.stringContaining(
          "(time budget ran out), after LimitExceededException: LimitExceededException happened",
        ),
      });
      expect(streams.commandCalls(GetShardIteratorCommand)).toHaveLength(1);
    });

    it("stops after a backoff whose sleep ignores the signal", async () => {
      const controller = new AbortController();
      const { read } = setup({
        sleep: async () => {
          controller.abort(new Error("stop"));
        },
      });
      streams.on(GetShardIteratorCommand).rejects(serviceError("LimitExceededException"));

      const result = await read(batchOf(100, 105), controller.signal);

      expect(result).toMatchObject({ outcome: "unfinished", code: "Aborted" });
      expect(streams.commandCalls(GetShardIteratorCommand)).toHaveLength(1);
    });
  });

  describe("the signal", () => {
    it("stops a read whose send hangs, though the client ignores the signal", async () => {
      const controller = new AbortController();
      const { read } = setup();
      streams.on(GetShardIteratorCommand).resolves({ ShardIterator: "it-0" });
      streams.on(GetRecordsCommand).callsFake(() => new Promise(() => {}));

      const reading = read(batchOf(100, 105), controller.signal);
      await settle();
      controller.abort(new Error("time budget ran out"));

      expect(await reading).toEqual({
        outcome: "unfinished",
        code: "Aborted",
        reason: `the signal stopped reading shard ${SHARD} of ${STREAM_ARN}, sequence numbers ${seq(100)} to ${seq(105)} (time budget ran out)`,
      });
    });

    it("is passed to every send", async () => {
      const options: unknown[] = [];
      const client: AwsClientLike = {
        send: async (command, sendOptions) => {
          options.push(sendOptions);
          return command instanceof GetShardIteratorCommand ? { ShardIterator: "it-0" } : { Records: [removal(100)] };
        },
      };
      const { read } = setup({ streamsClient: async () => client });

      await read(batchOf(100, 100), signal());

      expect(options).toEqual([{ abortSignal: expect.any(AbortSignal) }, { abortSignal: expect.any(AbortSignal) }]);
    });

    it("stops a read before it starts when it has fired already", async () => {
      const { read } = setup();
      fakeShard([100].map(removal));

      const result = await read(batchOf(100, 100), AbortSignal.abort(new Error("too late")));

      expect(result).toMatchObject({ outcome: "unfinished", code: "Aborted" });
      expect(streams.commandCalls(GetShardIteratorCommand)).toHaveLength(0);
    });
  });

  describe("empty pages", () => {
    it("gives up after maxEmptyPages in a row, saying that the end was not reached", async () => {
      const { read } = setup({ maxEmptyPages: 3 });
      streams.on(GetShardIteratorCommand).resolves({ ShardIterator: "it-0" });
      streams.on(GetRecordsCommand).resolves({ NextShardIterator: "it-next" });

      const result = await read(batchOf(100, 105), signal());

      expect(result).toEqual({
        outcome: "unfinished",
        code: RANGE_END_NOT_REACHED,
        reason: expect.stringContaining("3 empty pages in a row"),
      });
      expect(streams.commandCalls(GetRecordsCommand)).toHaveLength(3);
    });

    it("accepts 10 by default, and counts only those in a row", async () => {
      const { read } = setup();
      streams.on(GetShardIteratorCommand).resolves({ ShardIterator: "it-0" });
      const pages = streams.on(GetRecordsCommand);
      for (let i = 0; i < 9; i++) pages.resolvesOnce({ Records: [], NextShardIterator: "it-next" });
      pages.resolvesOnce({ Records: [removal(100)], NextShardIterator: "it-next" });
      pages.resolves({ Records: [], NextShardIterator: "it-next" });

      const result = await read(batchOf(100, 105), signal());

      expect(result).toMatchObject({ outcome: "unfinished", code: RANGE_END_NOT_REACHED });
      expect(streams.commandCalls(GetRecordsCommand)).toHaveLength(20);
    });
  });

  describe("one reader per shard", () => {
    /** GetShardIterator calls held until the test answers them, by shard. */
    function heldIterators() {
      const held: { shard: string; answer: Deferred<{ ShardIterator: string }> }[] = [];
      streams.on(GetShardIteratorCommand).callsFake((input: GetShardIteratorCommandInput) => {
        const answer = deferred<{ ShardIterator: string }>();
        held.push({ shard: input.ShardId as string, answer });
        return answer.promise;
      });
      streams.on(GetRecordsCommand).resolves({ Records: [removal(100)] });
      return held;
    }

    it("never overlaps two reads of the same shard", async () => {
      const held = heldIterators();
      const { read } = setup();

      const first = read(batchOf(100, 100), signal());
      const second = read(batchOf(100, 100), signal());
      await settle();
      expect(held).toHaveLength(1);

      held[0]?.answer.resolve({ ShardIterator: "it-0" });
      expect(await first).toMatchObject({ outcome: "read" });
      await settle();
      expect(held).toHaveLength(2);
      held[1]?.answer.resolve({ ShardIterator: "it-0" });
      expect(await second).toMatchObject({ outcome: "read" });
    });

    it("reads two shards at once", async () => {
      const held = heldIterators();
      const { read } = setup();

      const first = read(batchOf(100, 100), signal());
      const second = read(batchOf(100, 100, { shardId: "shardId-other" }), signal());
      await settle();

      expect(held.map((call) => call.shard)).toEqual([SHARD, "shardId-other"]);
      for (const call of held) call.answer.resolve({ ShardIterator: "it-0" });
      expect(await Promise.all([first, second])).toMatchObject([{ outcome: "read" }, { outcome: "read" }]);
    });

    it("counts the same shard ID of two streams as two shards", async () => {
      const held = heldIterators();
      const { read } = setup();

      const first = read(batchOf(100, 100), signal());
      const second = read(batchOf(100, 100, { streamArn: `${STREAM_ARN}-other` }), signal());
      await settle();

      expect(held).toHaveLength(2);
      for (const call of held) call.answer.resolve({ ShardIterator: "it-0" });
      await Promise.all([first, second]);
    });

    it("stops a read waiting for its turn when its signal fires, and keeps the next one waiting", async () => {
      const held = heldIterators();
      const { read } = setup();
      const controller = new AbortController();

      const first = read(batchOf(100, 100), signal());
      const second = read(batchOf(100, 100), controller.signal);
      const third = read(batchOf(100, 100), signal());
      await settle();
      controller.abort(new Error("budget"));

      expect(await second).toMatchObject({ outcome: "unfinished", code: "Aborted" });
      await settle();
      expect(held).toHaveLength(1);
      held[0]?.answer.resolve({ ShardIterator: "it-0" });
      await first;
      await settle();
      expect(held).toHaveLength(2);
      held[1]?.answer.resolve({ ShardIterator: "it-0" });
      expect(await third).toMatchObject({ outcome: "read" });
    });

    it("lets the next read go after one that failed", async () => {
      const { read } = setup();
      streams
        .on(GetShardIteratorCommand)
        .rejectsOnce(serviceError("AccessDeniedException"))
        .resolves({ ShardIterator: "it-0" });
      streams.on(GetRecordsCommand).resolves({ Records: [removal(100)] });

      const results = await Promise.all([read(batchOf(100, 100), signal()), read(batchOf(100, 100), signal())]);

      expect(results.map((result) => result.outcome)).toEqual(["unfinished", "read"]);
    });
  });

  it("returns exactly the records from start to end, however the shard pages them", async () => {
    const arbitrary = fc
      .uniqueArray(fc.integer({ min: 1, max: 10_000 }), { minLength: 1, maxLength: 40 })
      .chain((values) => {
        const sorted = [...values].sort((a, b) => a - b);
        return fc.record({
          numbers: fc.constant(sorted),
          startIndex: fc.integer({ min: 0, max: sorted.length - 1 }),
          endOffset: fc.nat({ max: sorted.length - 1 }),
          pageSizes: fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 10 }),
          closed: fc.boolean(),
          batchSizeSlack: fc.integer({ min: -3, max: 3 }),
        });
      });
    await fc.assert(
      fc.asyncProperty(arbitrary, async ({ numbers, startIndex, endOffset, pageSizes, closed, batchSizeSlack }) => {
        streams.reset();
        const endIndex = Math.min(numbers.length - 1, startIndex + endOffset);
        const start = numbers[startIndex] as number;
        const end = numbers[endIndex] as number;
        // An empty page is always followed by a full one (the last size repeats), so that the bound
        // on empty pages never stops the read.
        const sizes = pageSizes.map((size, i) =>
          size === 0 && (i % 2 === 1 || i === pageSizes.length - 1) ? 1 : size,
        );
        fakeShard(numbers.map(removal), { pageSizes: sizes, closed });
        const { read } = setup({ maxEmptyPages: 2 });
        const batchSize = Math.max(1, endIndex - startIndex + 1 + batchSizeSlack);

        const result = await read(batchOf(start, end, { batchSize }), signal());

        expect(sequenceNumbersOf(result)).toEqual(numbers.slice(startIndex, endIndex + 1).map(seq));
      }),
      { numRuns: propertyRuns(200) },
    );
  });
});

describe("createRangeReader: Kinesis", () => {
  it("reads a range as Lambda's Kinesis records, which parse back into the REMOVEs", async () => {
    kinesis.on(KinesisGetShardIteratorCommand).resolves({ ShardIterator: "it-0" });
    kinesis
      .on(KinesisGetRecordsCommand, { ShardIterator: "it-0" })
      .resolves({ Records: [kinesisRemoval(7), kinesisRemoval(8)], NextShardIterator: "it-1", MillisBehindLatest: 900 })
      .on(KinesisGetRecordsCommand, { ShardIterator: "it-1" })
      .resolves({ Records: [kinesisRemoval(9), kinesisRemoval(10)], NextShardIterator: "it-2", MillisBehindLatest: 0 });
    const { read } = setup();

    const result = await read(kinesisBatchOf(7, 9), signal());

    expect(result).toMatchObject({ outcome: "read", records: 3, endedBy: "range-end" });
    const event = result.outcome === "read" ? result.event : { Records: [] };
    expect(event.Records[0]).toEqual({
      kinesis: {
        kinesisSchemaVersion: "1.0",
        partitionKey: "key-7",
        sequenceNumber: "7",
        data: Buffer.from(kinesisRemoval(7).Data as Uint8Array).toString("base64"),
        approximateArrivalTimestamp: 1_764_667_800.25,
      },
      eventSource: "aws:kinesis",
      eventVersion: "1.0",
      eventID: "shardId-000000000000:7",
      eventName: "aws:kinesis:record",
      awsRegion: "eu-west-1",
      eventSourceARN: KINESIS_ARN,
    });
    const parsed = parseStreamRecords(event);
    expect(parsed.source).toBe("kinesis");
    expect(parsed.invalid).toEqual([]);
    expect(parsed.removals.map(({ keys, sequenceNumber, tableName }) => ({ keys, sequenceNumber, tableName }))).toEqual(
      [
        { keys: { productId: "p-7" }, sequenceNumber: "7", tableName: "products" },
        { keys: { productId: "p-8" }, sequenceNumber: "8", tableName: "products" },
        { keys: { productId: "p-9" }, sequenceNumber: "9", tableName: "products" },
      ],
    );
  });

  it("asks Kinesis for the shard of the stream by ARN, at most 10,000 records a page", async () => {
    kinesis.on(KinesisGetShardIteratorCommand).resolves({ ShardIterator: "it-0" });
    kinesis.on(KinesisGetRecordsCommand).resolves({ Records: [kinesisRemoval(7)] });
    const { read } = setup();

    await read(kinesisBatchOf(7, 7, { batchSize: 50_000 }), signal());

    expect(kinesis.commandCalls(KinesisGetShardIteratorCommand)[0]?.args[0].input).toEqual({
      StreamARN: KINESIS_ARN,
      ShardId: "shardId-000000000000",
      ShardIteratorType: "AT_SEQUENCE_NUMBER",
      StartingSequenceNumber: "7",
    } satisfies KinesisGetShardIteratorInput);
    expect(kinesis.commandCalls(KinesisGetRecordsCommand)[0]?.args[0].input).toEqual({
      ShardIterator: "it-0",
      Limit: 10_000,
      StreamARN: KINESIS_ARN,
    } satisfies KinesisGetRecordsInput);
  });

  it("writes a record without arrival time, data or partition key as far as it can", async () => {
    kinesis.on(KinesisGetShardIteratorCommand).resolves({ ShardIterator: "it-0" });
    kinesis.on(KinesisGetRecordsCommand).resolves({ Records: [{ SequenceNumber: "7", Data: undefined }] });
    const { read } = setup();

    const result = await read(kinesisBatchOf(7, 7), signal());

    expect(result.outcome === "read" ? result.event.Records[0] : undefined).toMatchObject({
      kinesis: { sequenceNumber: "7", data: "", partitionKey: undefined },
    });
  });

  it("stops at an empty page when the stream has nothing newer", async () => {
    kinesis.on(KinesisGetShardIteratorCommand).resolves({ ShardIterator: "it-0" });
    kinesis
      .on(KinesisGetRecordsCommand)
      .resolvesOnce({ NextShardIterator: "it-1", MillisBehindLatest: 5000 })
      .resolvesOnce({ Records: [kinesisRemoval(7)], NextShardIterator: "it-2", MillisBehindLatest: 0 })
      .resolves({ Records: [], NextShardIterator: "it-3", MillisBehindLatest: 0 });
    const { read } = setup();

    const result = await read(kinesisBatchOf(7, 9), signal());

    expect(result).toEqual({
      outcome: "unfinished",
      code: RANGE_END_NOT_REACHED,
      reason: expect.stringContaining("after 1 records: the stream has nothing newer"),
    });
    expect(kinesis.commandCalls(KinesisGetRecordsCommand)).toHaveLength(3);
  });

  it.each(["InvalidArgumentException", "ResourceNotFoundException", "TrimmedDataAccessException"])(
    "reports the range as unreplayable on GetShardIterator's %s",
    async (name) => {
      kinesis.on(KinesisGetShardIteratorCommand).rejects(serviceError(name));
      const { read } = setup();

      const result = await read(kinesisBatchOf(7, 9), signal());

      expect(result).toMatchObject({
        outcome: "unreplayable",
        code: name,
        reason: expect.stringContaining(KINESIS_ARN),
      });
    },
  );

  it.each(["ProvisionedThroughputExceededException", "LimitExceededException", "KMSThrottlingException"])(
    "backs off on %s",
    async (name) => {
      kinesis.on(KinesisGetShardIteratorCommand).resolves({ ShardIterator: "it-0" });
      kinesis
        .on(KinesisGetRecordsCommand)
        .rejectsOnce(serviceError(name))
        .rejectsOnce(serviceError(name))
        .resolves({ Records: [kinesisRemoval(7)] });
      const { read, clock } = setup();

      const result = await read(kinesisBatchOf(7, 7), signal());

      expect(result).toMatchObject({ outcome: "read", records: 1 });
      expect(clock.delays).toEqual([50, 100]);
    },
  );

  it("leaves a range unfinished when a record has no sequence number", async () => {
    kinesis.on(KinesisGetShardIteratorCommand).resolves({ ShardIterator: "it-0" });
    kinesis.on(KinesisGetRecordsCommand).resolves({ Records: [{ SequenceNumber: undefined, Data: new Uint8Array() }] });
    const { read } = setup();

    const result = await read(kinesisBatchOf(7, 9), signal());

    expect(result).toMatchObject({ outcome: "unfinished", code: "MissingSequenceNumber" });
  });

  it("leaves a range unfinished when the Kinesis client cannot be had", async () => {
    const { read } = setup({ kinesisClient: () => Promise.reject(new Error("no client")) });

    expect(await read(kinesisBatchOf(7, 9), signal())).toMatchObject({ outcome: "unfinished", code: "Error" });
  });
});

describe("createRangeReader options", () => {
  it.each([
    [{}, ["streamsClient", "kinesisClient"]],
    [{ streamsClient: async () => ({}), kinesisClient: "no" }, ["kinesisClient"]],
    [{ streamsClient: async () => ({}), kinesisClient: async () => ({}), maxEmptyPages: 0 }, ["maxEmptyPages"]],
    [{ streamsClient: async () => ({}), kinesisClient: async () => ({}), sleep: 5, random: "x" }, ["sleep", "random"]],
    [{ streamsClient: async () => ({}), kinesisClient: async () => ({}), limit: 5 }, ["limit"]],
  ])("rejects %o, naming %o", (options, paths) => {
    let thrown: unknown;
    try {
      createRangeReader(options as unknown as RangeReaderOptions);
    } catch (error) {
      thrown = error;
    }
    expect(isConfigError(thrown)).toBe(true);
    expect((thrown as { issues: { path: string }[] }).issues.map((issue) => issue.path)).toEqual(paths);
  });
});
