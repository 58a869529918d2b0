/**
 * Re-reading a discarded batch: the records between a {@link DiscardedRange}'s start and end
 * sequence numbers, read again from its DynamoDB stream or Kinesis data stream with
 * GetShardIterator (AT_SEQUENCE_NUMBER) and GetRecords, and returned as the event Lambda would
 * have delivered. Reading is all it does; what the records mean is the handler's business.
 *
 * A range that can never be read again (trimmed, or its stream or shard gone) is told apart from
 * one that was not read this time (throttled until the signal fired, or any other error), so that
 * the caller can report the first loudly and retry the second.
 */
import type {
  GetRecordsOutput as StreamsGetRecordsOutput,
  GetShardIteratorOutput as StreamsGetShardIteratorOutput,
} from "@aws-sdk/client-dynamodb-streams";
import type {
  GetRecordsOutput as KinesisGetRecordsOutput,
  GetShardIteratorOutput as KinesisGetShardIteratorOutput,
} from "@aws-sdk/client-kinesis";
import { ABORTED, abortable, backoffDelay, followSignal, sendOptions, sleep as sleepWithSignal } from "./abort.js";
import type { DiscardedRange } from "./failure-destination-records.js";
import { toLambdaRecord } from "./lambda-shape.js";
import { compareSequenceNumbers } from "./report.js";
import type { AwsClientLike, KinesisStreamEvent, KinesisStreamRecord, StreamEvent, StreamRecord } from "./types.js";
import { fn, type OptionalFields, optionsSchema, positiveInt, validateOptions } from "./validation.js";

/** Options of {@link createRangeReader}. */
export interface RangeReaderOptions {
  /**
   * Resolves to the client that reads DynamoDB streams (a `DynamoDBStreamsClient`) in `region`, the
   * stream ARN's. Called for every DynamoDB batch, so that the caller can create its client the
   * first time it is needed.
   */
  streamsClient: (region: string | undefined) => Promise<AwsClientLike>;
  /** Resolves to the client that reads Kinesis data streams (a `KinesisClient`), like `streamsClient`. */
  kinesisClient: (region: string | undefined) => Promise<AwsClientLike>;
  /**
   * How many empty pages in a row (pages without records that still name a next iterator) a read
   * accepts before it gives up with `RangeEndNotReached`. Past its newest record a shard answers
   * empty pages forever, so the end of a range that is not there would otherwise never come.
   * @default 10
   */
  maxEmptyPages?: number | undefined;
  /**
   * Waits `ms` milliseconds before a throttled call is retried, or rejects when `signal` fires first.
   * @default a setTimeout promise that the signal cuts short
   */
  sleep?: ((ms: number, signal?: AbortSignal) => Promise<void>) | undefined;
  /** A number in [0, 1), for the backoff's jitter. @default Math.random */
  random?: (() => number) | undefined;
}

/**
 * What reading a batch's range came to.
 *
 * - `read`: the records from `startSequenceNumber` to `endSequenceNumber` inclusive, in stream
 *   order, as Lambda delivers them; `endedBy` tells whether the range's end was read or the shard
 *   closed before it.
 * - `unreplayable`: the range can never be read again (trimmed, stream or shard gone).
 * - `unfinished`: the range was not read this time (throttled until the signal fired, the signal,
 *   any other error); a later attempt may succeed.
 */
export type RangeRead =
  | {
      outcome: "read";
      event: StreamEvent | KinesisStreamEvent;
      /** How many records `event` holds. */
      records: number;
      endedBy: "range-end" | "shard-closed";
    }
  | { outcome: "unreplayable"; code: string; reason: string }
  | { outcome: "unfinished"; code: string; reason: string };

/** Reads one discarded batch's range within `signal`. Never rejects. */
export type RangeReader = (batch: DiscardedRange, signal: AbortSignal) => Promise<RangeRead>;

/** The first backoff wait's bound, in ms: the wait before retry n is random in [0, min(cap, base · 2^(n−1))). */
export const BACKOFF_BASE_MS = 100;
/** The cap on one backoff wait, in ms. */
export const BACKOFF_CAP_MS = 5000;

/** The code of a range whose first record is later than its start: the start was trimmed away. */
export const RANGE_TRIMMED = "RangeTrimmed";
/** The code of a range whose shard closed before any record at or after its start. */
export const RANGE_EMPTY = "RangeEmpty";
/** The code of a read that ran out of empty pages (or caught up with a Kinesis stream) before the end. */
export const RANGE_END_NOT_REACHED = "RangeEndNotReached";

/**
 * Errors a stream answers when the records asked for are gone for good. GetShardIterator's
 * refusals of the sequence number count too ({@link REFUSALS}).
 */
const GONE = new Set(["TrimmedDataAccessException", "ResourceNotFoundException"]);

/**
 * Throttling: DynamoDB Streams allows about two readers per shard and the event source mapping is
 * one; Kinesis allows five GetRecords a second per shard, shared with every consumer.
 */
const THROTTLING = new Set([
  "LimitExceededException",
  "ProvisionedThroughputExceededException",
  "KMSThrottlingException",
]);

const EXPIRED_ITERATOR = "ExpiredIteratorException";

const readerOptionFields: OptionalFields = {
  maxEmptyPages: () => positiveInt(1000),
  sleep: () => fn(),
  random: () => fn(),
};

/** One record of a page: its sequence number, and the record as Lambda delivers it. */
interface PageRecord<R> {
  sequenceNumber: string | undefined;
  record: R;
}

interface Page<R> {
  records: PageRecord<R>[];
  /** Absent when the shard is closed and this page holds its last records. */
  next: string | undefined;
  /** True when the stream says that nothing newer exists yet (Kinesis' `MillisBehindLatest` of 0). */
  caughtUp: boolean;
}

/** The two stream APIs, behind one face. */
interface ShardApi<R> {
  /** The most records one GetRecords call may ask for. */
  maxLimit: number;
  getIterator(
    type: "AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER",
    sequenceNumber: string,
    signal: AbortSignal,
  ): Promise<string | undefined>;
  getRecords(iterator: string, limit: number, signal: AbortSignal): Promise<Page<R>>;
}

/**
 * Creates a range reader. Reads of one shard (by stream ARN and shard ID) wait for each other, so
 * that this reader never takes more than one of the shard's read slots; reads of different shards
 * run at once. Throws {@link ConfigError} when an option is wrong.
 *
 * @example
 * ```ts
 * const readRange = createRangeReader({
 *   streamsClient: async () => new DynamoDBStreamsClient({}),
 *   kinesisClient: async () => new KinesisClient({}),
 * });
 * const read = await readRange(batch, AbortSignal.timeout(60_000));
 * if (read.outcome === "read") await handler(read.event);
 * ```
 */
export function createRangeReader(options: RangeReaderOptions): RangeReader {
  validateOptions(optionsSchema({ streamsClient: fn(), kinesisClient: fn() }, readerOptionFields, options), options);
  const config: ReadConfig = {
    streamsClient: options.streamsClient,
    kinesisClient: options.kinesisClient,
    maxEmptyPages: options.maxEmptyPages ?? 10,
    sleep: options.sleep ?? sleepWithSignal,
    random: options.random ?? Math.random,
  };
  const oneAtATime = createShardQueue();
  return async (batch, callerSignal) => {
    const { signal, dispose } = followSignal(callerSignal);
    try {
      return await oneAtATime(`${batch.streamArn}\n${batch.shardId}`, signal, () => readRange(config, batch, signal));
    } catch (error) {
      return failed(batch, error, signal, undefined);
    } finally {
      dispose();
    }
  };
}

interface ReadConfig {
  streamsClient: (region: string | undefined) => Promise<AwsClientLike>;
  kinesisClient: (region: string | undefined) => Promise<AwsClientLike>;
  maxEmptyPages: number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  random: () => number;
}

/**
 * Runs tasks of one key one after the other, in the order they came, and tasks of different keys
 * at once. A task that the signal stops while it waits lets the next one go only after those
 * before it.
 */
function createShardQueue() {
  const tails = new Map<string, Promise<unknown>>();
  return async <T>(key: string, signal: AbortSignal, task: () => Promise<T>): Promise<T> => {
    const previous = tails.get(key);
    let release = () => {};
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous === undefined ? done : Promise.all([previous, done]);
    tails.set(key, tail);
    try {
      if (previous !== undefined) await abortable(previous, signal);
      return await task();
    } finally {
      release();
      // The last in line clears the key, so that the map holds only shards being read.
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}

/** Names a batch's range for messages. */
function describeRange(batch: DiscardedRange): string {
  return `shard ${batch.shardId} of ${batch.streamArn}, sequence numbers ${batch.startSequenceNumber} to ${batch.endSequenceNumber}`;
}

interface SdkErrorDetails {
  name?: unknown;
  message?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

function detailsOf(error: unknown): SdkErrorDetails {
  return typeof error === "object" && error !== null ? (error as SdkErrorDetails) : {};
}

function nameOf(error: unknown): string {
  const { name } = detailsOf(error);
  return typeof name === "string" && name !== "" ? name : "UnknownError";
}

function messageOf(error: unknown): string {
  const { message } = detailsOf(error);
  return typeof message === "string" ? message : String(error);
}

/** Throttling, or an answer the SDK marks retryable, or a server error: worth the same call again. */
function isTransient(error: unknown): boolean {
  const details = detailsOf(error);
  const status = details.$metadata?.httpStatusCode;
  return (
    THROTTLING.has(nameOf(error)) ||
    details.$retryable !== undefined ||
    (typeof status === "number" && (status >= 500 || status === 429))
  );
}

/** A call that stopped the read: the error, which call it was, and whether its iterator was fresh. */
class CallFailed extends Error {
  constructor(
    readonly call: "GetShardIterator" | "GetRecords",
    readonly error: unknown,
    /** For GetRecords: the iterator came straight from GetShardIterator. */
    readonly freshIterator: boolean,
  ) {
    super(messageOf(error));
  }
}

/** What the read came to after `error` stopped it; `lastTransient` is the last throttling it backed off from. */
function failed(batch: DiscardedRange, error: unknown, signal: AbortSignal, lastTransient: unknown): RangeRead {
  if (signal.aborted) {
    const after = lastTransient === undefined ? "" : `, after ${nameOf(lastTransient)}: ${messageOf(lastTransient)}`;
    return {
      outcome: "unfinished",
      code: ABORTED,
      reason: `the signal stopped reading ${describeRange(batch)} (${messageOf(signal.reason)})${after}`,
    };
  }
  const cause = error instanceof CallFailed ? error.error : error;
  const name = nameOf(cause);
  const text = `${name}: ${messageOf(cause)} (${describeRange(batch)})`;
  if (error instanceof CallFailed && isGone(error, name, batch)) {
    return { outcome: "unreplayable", code: name, reason: text };
  }
  return { outcome: "unfinished", code: name, reason: text };
}

/** True when the call's error means that the range can never be read again. */
function isGone(failure: CallFailed, name: string, batch: DiscardedRange): boolean {
  if (GONE.has(name)) return true;
  if (failure.call === "GetShardIterator") return REFUSALS[batch.source].has(name);
  // An iterator that expired as soon as it was handed out points at records that are no more.
  return name === EXPIRED_ITERATOR && failure.freshIterator;
}

/**
 * GetShardIterator's answers for a sequence number the shard will never serve: DynamoDB Local says
 * ValidationException for one before the shard's first record; Kinesis InvalidArgumentException.
 */
const REFUSALS: Record<DiscardedRange["source"], ReadonlySet<string>> = {
  "dynamodb-streams": new Set(["ValidationException"]),
  kinesis: new Set(["InvalidArgumentException"]),
};

/** The region of an ARN, its fourth field. */
export function regionOf(arn: string): string | undefined {
  return arn.split(":")[3];
}

async function streamsApi(
  client: AwsClientLike,
  batch: DiscardedRange,
  attempt: Attempt,
): Promise<ShardApi<StreamRecord>> {
  const { GetShardIteratorCommand, GetRecordsCommand } = await import("@aws-sdk/client-dynamodb-streams");
  return {
    maxLimit: 1000,
    async getIterator(type, sequenceNumber, signal) {
      const input = {
        StreamArn: batch.streamArn,
        ShardId: batch.shardId,
        ShardIteratorType: type,
        SequenceNumber: sequenceNumber,
      };
      const send = () => client.send(new GetShardIteratorCommand(input), sendOptions(signal));
      const output = (await attempt(send)) as StreamsGetShardIteratorOutput;
      return output.ShardIterator;
    },
    async getRecords(iterator, limit, signal) {
      const input = { ShardIterator: iterator, Limit: limit };
      const send = () => client.send(new GetRecordsCommand(input), sendOptions(signal));
      const output = (await attempt(send)) as StreamsGetRecordsOutput;
      return {
        records: (output.Records ?? []).map((record) => ({
          sequenceNumber: record.dynamodb?.SequenceNumber,
          record: toLambdaRecord(record, batch.streamArn),
        })),
        next: output.NextShardIterator,
        caughtUp: false,
      };
    },
  };
}

async function kinesisApi(
  client: AwsClientLike,
  batch: DiscardedRange,
  attempt: Attempt,
): Promise<ShardApi<KinesisStreamRecord>> {
  const { GetShardIteratorCommand, GetRecordsCommand } = await import("@aws-sdk/client-kinesis");
  const awsRegion = regionOf(batch.streamArn);
  return {
    maxLimit: 10_000,
    async getIterator(type, sequenceNumber, signal) {
      const input = {
        StreamARN: batch.streamArn,
        ShardId: batch.shardId,
        ShardIteratorType: type,
        StartingSequenceNumber: sequenceNumber,
      };
      const send = () => client.send(new GetShardIteratorCommand(input), sendOptions(signal));
      const output = (await attempt(send)) as KinesisGetShardIteratorOutput;
      return output.ShardIterator;
    },
    async getRecords(iterator, limit, signal) {
      const input = { ShardIterator: iterator, Limit: limit, StreamARN: batch.streamArn };
      const send = () => client.send(new GetRecordsCommand(input), sendOptions(signal));
      const output = (await attempt(send)) as KinesisGetRecordsOutput;
      return {
        records: (output.Records ?? []).map((record) => ({
          sequenceNumber: record.SequenceNumber,
          record: toKinesisLambdaRecord(record, batch, awsRegion),
        })),
        next: output.NextShardIterator,
        caughtUp: output.MillisBehindLatest === 0,
      };
    },
  };
}

/** A Kinesis GetRecords record, as far as Lambda's record needs it. */
interface KinesisApiRecord {
  SequenceNumber?: string | undefined;
  Data?: Uint8Array | undefined;
  PartitionKey?: string | undefined;
  ApproximateArrivalTimestamp?: Date | undefined;
}

/**
 * A record from Kinesis' GetRecords as Lambda's event source mapping delivers it: `data` in base64,
 * the arrival time in epoch seconds, `eventID` of shard and sequence number.
 */
export function toKinesisLambdaRecord(
  record: KinesisApiRecord,
  batch: Pick<DiscardedRange, "streamArn" | "shardId">,
  awsRegion = regionOf(batch.streamArn),
): KinesisStreamRecord {
  const data = record.Data ?? new Uint8Array();
  const sequenceNumber = record.SequenceNumber ?? "";
  const arrival = record.ApproximateArrivalTimestamp;
  return {
    kinesis: {
      kinesisSchemaVersion: "1.0",
      partitionKey: record.PartitionKey,
      sequenceNumber,
      data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64"),
      ...(arrival instanceof Date ? { approximateArrivalTimestamp: arrival.getTime() / 1000 } : {}),
    },
    eventSource: "aws:kinesis",
    eventVersion: "1.0",
    eventID: `${batch.shardId}:${sequenceNumber}`,
    eventName: "aws:kinesis:record",
    awsRegion,
    eventSourceARN: batch.streamArn,
  };
}

/**
 * How many times one call is sent while it is throttled: the signal bounds the wait in a Lambda
 * invocation, and this bounds it when there is no signal to fire (a handler called without a
 * context). The backoff before the last attempt reaches its 5 s cap.
 */
export const MAX_CALL_ATTEMPTS = 10;

/** Sends one call, again and again while it is throttled, with backoff, until the signal fires or {@link MAX_CALL_ATTEMPTS}. */
type Attempt = <T>(call: () => Promise<T>) => Promise<T>;

/** An {@link Attempt} that records the last transient error it backed off from in `state`. */
function attempts(config: ReadConfig, signal: AbortSignal, state: { lastTransient: unknown }): Attempt {
  return async (call) => {
    for (let retry = 1; ; retry++) {
      try {
        return await abortable(call(), signal);
      } catch (error) {
        if (signal.aborted || !isTransient(error) || retry >= MAX_CALL_ATTEMPTS) throw error;
        state.lastTransient = error;
        // Full jitter: readers throttled together do not come back together.
        await config.sleep(backoffDelay(retry, BACKOFF_BASE_MS, BACKOFF_CAP_MS, config.random), signal);
        if (signal.aborted) throw signal.reason;
      }
    }
  };
}

async function readRange(config: ReadConfig, batch: DiscardedRange, signal: AbortSignal): Promise<RangeRead> {
  const state = { lastTransient: undefined as unknown };
  try {
    const attempt = attempts(config, signal, state);
    if (batch.source === "kinesis") {
      const client = await abortable(config.kinesisClient(regionOf(batch.streamArn)), signal);
      return await readPages(config, batch, await kinesisApi(client, batch, attempt), signal);
    }
    const client = await abortable(config.streamsClient(regionOf(batch.streamArn)), signal);
    return await readPages(config, batch, await streamsApi(client, batch, attempt), signal);
  } catch (error) {
    return failed(batch, error, signal, state.lastTransient);
  }
}

async function getIterator<R>(
  api: ShardApi<R>,
  type: "AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER",
  sequenceNumber: string,
  signal: AbortSignal,
): Promise<string> {
  let iterator: string | undefined;
  try {
    iterator = await api.getIterator(type, sequenceNumber, signal);
  } catch (error) {
    throw new CallFailed("GetShardIterator", error, false);
  }
  if (iterator === undefined) {
    const missing = new Error("GetShardIterator answered without a ShardIterator");
    missing.name = "MissingShardIterator";
    throw missing;
  }
  return iterator;
}

/** Pages through the shard from the range's start until its end, the shard's end, or a bound. */
async function readPages<R extends StreamRecord | KinesisStreamRecord>(
  config: ReadConfig,
  batch: DiscardedRange,
  api: ShardApi<R>,
  signal: AbortSignal,
): Promise<RangeRead> {
  const { startSequenceNumber: start, endSequenceNumber: end } = batch;
  const records: R[] = [];
  /** The sequence number of the last record read, in the range or not. */
  let last: string | undefined;
  let iterator: string | undefined = await getIterator(api, "AT_SEQUENCE_NUMBER", start, signal);
  let fresh = true;
  let emptyPages = 0;
  while (iterator !== undefined) {
    let page: Page<R>;
    try {
      // Always a full page: the range also holds the records a mapping's filter dropped, so
      // `batchSize` says nothing about how many calls it takes; the end sequence number bounds it.
      page = await api.getRecords(iterator, api.maxLimit, signal);
    } catch (error) {
      if (nameOf(error) !== EXPIRED_ITERATOR || fresh || signal.aborted)
        throw new CallFailed("GetRecords", error, fresh);
      // Iterators live 15 minutes: a long read (or long throttling) outlives one. Go on after the
      // last record read, with an iterator that must not expire at once.
      iterator =
        last === undefined
          ? await getIterator(api, "AT_SEQUENCE_NUMBER", start, signal)
          : await getIterator(api, "AFTER_SEQUENCE_NUMBER", last, signal);
      fresh = true;
      continue;
    }
    fresh = false;
    for (const { sequenceNumber, record } of page.records) {
      if (sequenceNumber === undefined) {
        return unfinished(
          "MissingSequenceNumber",
          `a record without a sequence number came in ${describeRange(batch)}`,
        );
      }
      if (last === undefined && compareSequenceNumbers(sequenceNumber, start) > 0) {
        return {
          outcome: "unreplayable",
          code: RANGE_TRIMMED,
          reason: `the first record read has sequence number ${sequenceNumber}, later than the range's start: the start was trimmed (${describeRange(batch)})`,
        };
      }
      last = sequenceNumber;
      if (compareSequenceNumbers(sequenceNumber, start) < 0) continue;
      if (compareSequenceNumbers(sequenceNumber, end) > 0) return done(records, "range-end");
      records.push(record);
      if (compareSequenceNumbers(sequenceNumber, end) === 0) return done(records, "range-end");
    }
    iterator = page.next;
    if (iterator === undefined) break;
    emptyPages = page.records.length === 0 ? emptyPages + 1 : 0;
    if (emptyPages >= config.maxEmptyPages || (page.caughtUp && page.records.length === 0)) {
      const why = page.caughtUp ? "the stream has nothing newer" : `${emptyPages} empty pages in a row`;
      return unfinished(
        RANGE_END_NOT_REACHED,
        `the range's end was not reached after ${records.length} records: ${why} (${describeRange(batch)})`,
      );
    }
  }
  if (last === undefined) {
    return {
      outcome: "unreplayable",
      code: RANGE_EMPTY,
      reason: `the shard is closed and holds no record at or after the range's start (${describeRange(batch)})`,
    };
  }
  return done(records, "shard-closed");
}

function unfinished(code: string, reason: string): RangeRead {
  return { outcome: "unfinished", code, reason };
}

function done<R extends StreamRecord | KinesisStreamRecord>(
  records: R[],
  endedBy: "range-end" | "shard-closed",
): RangeRead {
  return {
    outcome: "read",
    event: { Records: records } as StreamEvent | KinesisStreamEvent,
    records: records.length,
    endedBy,
  };
}
