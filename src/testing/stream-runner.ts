/**
 * A local event source mapping: reads a DynamoDB stream through the DynamoDB Streams API and calls a
 * handler with Lambda-shaped batches, checkpointing on its partial batch responses the way Lambda
 * does. For tests and demos against DynamoDB Local, moto or a real table; production runs on
 * Lambda's own event source mapping.
 *
 * @aws-sdk/client-dynamodb-streams is an optional peer: it is loaded when `runStream` is called, so
 * that the record factories of the same entry point work without it. So is @aws-sdk/client-sqs, loaded
 * only for an SQS on-failure destination, and @aws-sdk/client-s3 for an S3 one.
 */
import { randomUUID } from "node:crypto";
import type {
  _Record,
  DynamoDBStreamsClient,
  GetRecordsCommandOutput,
  ShardIteratorType,
} from "@aws-sdk/client-dynamodb-streams";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { ConfigError, type ConfigIssue } from "../errors.js";
import { toLambdaRecord } from "../lambda-shape.js";
import { compareSequenceNumbers } from "../report.js";
import type { AwsClientLike, BatchResponse, StreamEvent, StreamRecord } from "../types.js";
import { failureObjectKeyOf, failureRecordOf } from "./failure-records.js";

/** The context `runStream` passes to the handler: the part of Lambda's context a handler reads. */
export interface StreamRunnerContext {
  /** A fresh id for each invocation, retries included. */
  awsRequestId: string;
  /** Milliseconds left of `functionTimeoutMs`, counted from the start of the invocation; at least 0. */
  getRemainingTimeInMillis(): number;
}

/**
 * A function subscribed to the stream, such as the handler `createCleanupHandler` returns. It may
 * return a partial batch response, or nothing for complete success.
 */
export type StreamHandler = (
  event: StreamEvent,
  context: StreamRunnerContext,
) => Promise<BatchResponse | null | undefined> | Promise<void> | BatchResponse | null | undefined | void;

/** One invocation of the handler, as `onBatch` sees it. */
export interface StreamBatch {
  /** The shard the records come from. */
  shardId: string;
  /** The SequenceNumber of the batch's first record. */
  firstSequenceNumber: string;
  /** The SequenceNumber of the batch's last record. */
  lastSequenceNumber: string;
  /** How many records the batch holds. */
  records: number;
  /** 1 for the first delivery of these records, 2 for the first retry, and so on. */
  attempt: number;
  /** What the handler returned, when it returned (`undefined` for `null`). */
  response?: BatchResponse | undefined;
  /** What the handler threw, or the timeout error when it ran longer than `functionTimeoutMs`. */
  error?: unknown;
  /**
   * Where the batch failed: this record and every later one of the batch are delivered again, or
   * discarded once the retries are used up. Absent when the batch succeeded.
   */
  failedSequenceNumber?: string;
}

/** Records given up on after `maxRetries`, as an on-failure destination would receive them. */
export interface DiscardedBatch {
  /** The shard the records come from. */
  shardId: string;
  /** The SequenceNumber of the first discarded record: the one the handler failed. */
  firstSequenceNumber: string;
  /** The SequenceNumber of the last discarded record: the batch's last. */
  lastSequenceNumber: string;
  /** The discarded records, Lambda-shaped. */
  records: StreamRecord[];
  /** How many times the handler was called with them (or with a batch that held them). */
  attempts: number;
  /** Where `onFailure` wrote the batch's on-failure record, when it did. */
  writtenTo?: FailureRecordLocation | undefined;
  /**
   * Why writing the on-failure record to `onFailure` failed, when it did. As on Lambda, the run goes
   * on without it: the batch is then known only from this report.
   */
  writeError?: unknown;
}

/** Where an on-failure record was written: the SQS message, or the S3 object. */
export type FailureRecordLocation = { queueUrl: string; messageId: string } | { bucket: string; key: string };

/** What `runStream` did. */
export interface StreamRunReport {
  /** Handler invocations, retries included. */
  batches: number;
  /** Records read from the stream, each counted once however often it was delivered. */
  records: number;
  /** Invocations that redelivered records after a failure. */
  retries: number;
  /** Records given up on after `maxRetries`, one entry per batch. */
  discarded: DiscardedBatch[];
  /**
   * Records the handler failed that were not retried because `signal` aborted the run first: neither
   * delivered successfully nor discarded. A run is clean only when this and `discarded` are empty.
   */
  unfinished: DiscardedBatch[];
  /**
   * Why it stopped: every shard was closed and read to its end, no record arrived for
   * `idleTimeoutMs`, or `signal` was aborted.
   */
  stoppedBy: "drained" | "idle" | "aborted";
}

/**
 * What `runStream` needs of its client: a `DynamoDBStreamsClient` of @aws-sdk/client-dynamodb-streams
 * fits. Described by its shape, so that the types of this entry point do not need that optional peer.
 */
export type DynamoDBStreamsClientLike = AwsClientLike;

/**
 * What an SQS on-failure destination needs of its client: an `SQSClient` of @aws-sdk/client-sqs
 * fits. Described by its shape, so that the types of this entry point do not need that optional peer.
 */
export type SqsClientLike = AwsClientLike;

/** What an S3 on-failure destination needs of its client: an `S3Client` of @aws-sdk/client-s3 fits. */
export type S3ClientLike = AwsClientLike;

/** Settings of an on-failure destination of either kind. */
interface FailureDestinationCommon {
  /**
   * `requestContext.functionArn` of the records: the function the runner stands in for.
   * @default "arn:<partition>:lambda:<region>:<account>:function:run-stream", with the stream ARN's
   * partition, region and account
   */
  functionArn?: string;
}

/**
 * Where {@link runStream} sends a record of each batch it discards, in the format Lambda's event
 * source mapping writes to its `DestinationConfig.OnFailure`: an SQS queue gets the record (the
 * batch's place in the stream, not its records); an S3 bucket gets the record with the records in
 * `payload`, under Lambda's key layout.
 */
export type OnFailureDestination =
  | (FailureDestinationCommon & {
      /** The queue's URL, as SendMessage takes it. */
      queueUrl: string;
      /** A client for the queue's endpoint (AWS, moto): an `SQSClient`. */
      client: SqsClientLike;
      bucket?: never;
      mappingUuid?: never;
    })
  | (FailureDestinationCommon & {
      /** The bucket's name. */
      bucket: string;
      /** A client for the bucket's endpoint (AWS, moto): an `S3Client`. */
      client: S3ClientLike;
      /**
       * The event source mapping's UUID, the third segment of each object's key.
       * @default a random UUID for each run
       */
      mappingUuid?: string;
      queueUrl?: never;
    });

/** Options of {@link runStream}. */
export interface RunStreamOptions {
  /** A client for the endpoint to read (AWS, DynamoDB Local, moto): a `DynamoDBStreamsClient`. */
  client: DynamoDBStreamsClientLike;
  /** The stream to read, such as a table's `LatestStreamArn`. It becomes each record's `eventSourceARN`. */
  streamArn: string;
  /** The function to call with each batch. */
  handler: StreamHandler;
  /**
   * The most records in one batch: GetRecords' `Limit`. Lambda's BatchSize, up to what one
   * GetRecords call returns.
   * @default 100
   */
  batchSize?: number;
  /**
   * Where to start in each shard the stream has when the run starts: TRIM_HORIZON (the oldest
   * record kept) or LATEST (only records written from now on). Shards that appear later are read
   * from their start.
   * @default "TRIM_HORIZON"
   */
  startingPosition?: "TRIM_HORIZON" | "LATEST";
  /**
   * How many times a failed batch is delivered again before its failed records are discarded (see
   * {@link StreamRunReport.discarded}): Lambda's MaximumRetryAttempts. `Infinity` retries until
   * the handler succeeds or `signal` is aborted.
   * @default 3
   */
  maxRetries?: number;
  /**
   * Stop when no record has arrived for this long, in milliseconds.
   * @default 2000
   */
  idleTimeoutMs?: number;
  /**
   * How long to wait before reading again when no shard returned a record, in milliseconds.
   * @default 250
   */
  pollIntervalMs?: number;
  /**
   * The function's timeout, in milliseconds: `getRemainingTimeInMillis()` counts down from it, and
   * an invocation that takes longer fails its whole batch, as a Lambda timeout does (the runner
   * waits for the handler to settle; it cannot stop it).
   * @default 60000
   */
  functionTimeoutMs?: number;
  /** Stops the run: after the current invocation, or at once while waiting for records. */
  signal?: AbortSignal;
  /** Called after each invocation, retries included; the run waits for it. */
  onBatch?: (batch: StreamBatch) => void | Promise<void>;
  /**
   * Where to write an on-failure record of each discarded batch, when it is discarded, in Lambda's
   * format: `{ queueUrl, client }` for an SQS queue, `{ bucket, client }` for an S3 bucket. Each
   * {@link DiscardedBatch} then says where its record went (`writtenTo`), or why it could not be
   * written (`writeError`).
   */
  onFailure?: OnFailureDestination;
}

type StreamsSdk = typeof import("@aws-sdk/client-dynamodb-streams");

/** `onFailure` with its defaults. */
type FailureSettings =
  | { kind: "sqs"; queueUrl: string; client: SQSClient; functionArn: string }
  | { kind: "s3"; bucket: string; client: S3Client; functionArn: string; mappingUuid: string };

/** An on-failure destination with the SDK that writes to it. */
type FailureDestination =
  | (Extract<FailureSettings, { kind: "sqs" }> & { sdk: typeof import("@aws-sdk/client-sqs") })
  | (Extract<FailureSettings, { kind: "s3" }> & { sdk: typeof import("@aws-sdk/client-s3") });

interface RunSettings {
  client: DynamoDBStreamsClient;
  streamArn: string;
  handler: StreamHandler;
  batchSize: number;
  startingPosition: "TRIM_HORIZON" | "LATEST";
  maxRetries: number;
  idleTimeoutMs: number;
  pollIntervalMs: number;
  functionTimeoutMs: number;
  signal: AbortSignal | undefined;
  onBatch: ((batch: StreamBatch) => void | Promise<void>) | undefined;
  onFailure: FailureSettings | undefined;
}

interface Shard {
  id: string;
  parentId: string | undefined;
  /** Where to start reading: the starting position, or TRIM_HORIZON for shards found later. */
  start: ShardIteratorType;
  /** The iterator of the next read; undefined until the shard is first read. */
  iterator: string | undefined;
  /** Closed, and read to its end. */
  done: boolean;
}

/** The state of one run: nothing outlives the call to `runStream`. */
interface Run extends RunSettings {
  sdk: StreamsSdk;
  destination: FailureDestination | undefined;
  shards: Map<string, Shard>;
  report: StreamRunReport;
}

/** How one invocation went: the index of the first record to redeliver, if any. */
interface Outcome {
  /** The invocation's `awsRequestId`. */
  requestId: string;
  response?: BatchResponse | undefined;
  error?: unknown;
  failedIndex: number | undefined;
}

/**
 * Reads a DynamoDB stream and feeds it to `handler` the way Lambda's event source mapping does,
 * for tests and demos. Every shard is read, a child only after its parent; a batch is at most
 * `batchSize` records of one shard, converted to the Lambda event shape. Returning nothing, null, or
 * an empty or null `batchItemFailures` is complete success. When the handler reports
 * `batchItemFailures`, everything before the lowest reported SequenceNumber is done and the batch is
 * delivered again from that record on, read anew from the stream; a thrown error, a timeout, or an
 * identifier that is empty, missing or not in the batch fails the whole batch. After `maxRetries`
 * retries the failed records are discarded (and listed in the report) and reading goes on.
 *
 * Shards are read one batch at a time, in turn. It stops when every shard is closed and read, when
 * no record arrived for `idleTimeoutMs`, or when `signal` is aborted; it rejects when a DynamoDB
 * Streams call fails (after the SDK's own retries) or `onBatch` throws, and throws a ConfigError
 * for invalid options.
 *
 * @example
 * ```ts
 * const report = await runStream({
 *   client: new DynamoDBStreamsClient({ endpoint: "http://127.0.0.1:8000" }),
 *   streamArn,
 *   handler: createCleanupHandler({ bucket: "product-images", key: "{productId}.png" }),
 *   onBatch: (batch) => console.log(`${batch.records} records, attempt ${batch.attempt}`),
 * });
 * ```
 */
export async function runStream(options: RunStreamOptions): Promise<StreamRunReport> {
  const settings = settingsOf(options);
  const run: Run = {
    ...settings,
    sdk: await import("@aws-sdk/client-dynamodb-streams"),
    destination: await loadDestination(settings.onFailure),
    shards: new Map(),
    report: { batches: 0, records: 0, retries: 0, discarded: [], unfinished: [], stoppedBy: "drained" },
  };
  await discoverShards(run, run.startingPosition);
  let idleSince = Date.now();
  for (;;) {
    if (run.signal?.aborted) return stop(run, "aborted");
    const ready = [...run.shards.values()].filter((shard) => !shard.done && !isUnfinished(run, shard.parentId));
    if (ready.length === 0 && run.shards.size > 0) return stop(run, "drained");
    let received = false;
    for (const shard of ready) {
      if (run.signal?.aborted) break;
      received = (await readShard(run, shard)) || received;
    }
    // A shard that closed may have children by now; a stream without shards may have one.
    if (ready.some((shard) => shard.done) || run.shards.size === 0) await discoverShards(run, "TRIM_HORIZON");
    if (received) idleSince = Date.now();
    else if (Date.now() - idleSince >= run.idleTimeoutMs) return stop(run, "idle");
    else await pause(run.pollIntervalMs, run.signal);
  }
}

/** Loads the SDK of the destination before the first read, so that a missing peer fails the run at once. */
async function loadDestination(settings: FailureSettings | undefined): Promise<FailureDestination | undefined> {
  if (settings === undefined) return undefined;
  return settings.kind === "sqs"
    ? { ...settings, sdk: await import("@aws-sdk/client-sqs") }
    : { ...settings, sdk: await import("@aws-sdk/client-s3") };
}

function stop(run: Run, reason: StreamRunReport["stoppedBy"]): StreamRunReport {
  run.report.stoppedBy = reason;
  return run.report;
}

/** True when `shardId` is a known shard not yet read to its end: its children must wait. */
function isUnfinished(run: Run, shardId: string | undefined): boolean {
  return shardId !== undefined && run.shards.get(shardId)?.done === false;
}

/** Adds the stream's shards not yet known, reading every page of DescribeStream. */
async function discoverShards(run: Run, start: ShardIteratorType): Promise<void> {
  let exclusiveStartShardId: string | undefined;
  do {
    const { StreamDescription: description } = await run.client.send(
      new run.sdk.DescribeStreamCommand({ StreamArn: run.streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
    );
    for (const { ShardId: id, ParentShardId: parentId } of description?.Shards ?? []) {
      if (id !== undefined && !run.shards.has(id)) {
        run.shards.set(id, { id, parentId, start, iterator: undefined, done: false });
      }
    }
    exclusiveStartShardId = description?.LastEvaluatedShardId;
  } while (exclusiveStartShardId !== undefined);
}

async function shardIterator(
  run: Run,
  shardId: string,
  type: ShardIteratorType,
  sequenceNumber?: string,
): Promise<string> {
  const { ShardIterator: iterator } = await run.client.send(
    new run.sdk.GetShardIteratorCommand({
      StreamArn: run.streamArn,
      ShardId: shardId,
      ShardIteratorType: type,
      SequenceNumber: sequenceNumber,
    }),
  );
  if (iterator === undefined) throw new Error(`GetShardIterator returned no ShardIterator for shard ${shardId}`);
  return iterator;
}

/** Reads one page of a shard and delivers it; true when it held records. */
async function readShard(run: Run, shard: Shard): Promise<boolean> {
  shard.iterator ??= await shardIterator(run, shard.id, shard.start);
  const page = await run.client.send(
    new run.sdk.GetRecordsCommand({ ShardIterator: shard.iterator, Limit: run.batchSize }),
  );
  // No next iterator: the shard is closed and this was its last page.
  shard.iterator = page.NextShardIterator;
  shard.done = page.NextShardIterator === undefined;
  const records = lambdaRecords(run, page.Records);
  if (records.length > 0) await deliver(run, shard.id, records);
  return records.length > 0;
}

function lambdaRecords(run: Run, records: _Record[] | undefined): StreamRecord[] {
  return (records ?? []).map((record) => toLambdaRecord(record, run.streamArn));
}

function sequenceNumberOf(record: StreamRecord): string {
  const sequenceNumber = record.dynamodb?.SequenceNumber;
  if (sequenceNumber === undefined) {
    throw new Error(`A record of the stream has no dynamodb.SequenceNumber (eventID ${record.eventID})`);
  }
  return sequenceNumber;
}

/** Calls the handler with a batch until it succeeds or the retries are used up. */
async function deliver(run: Run, shardId: string, first: StreamRecord[]): Promise<void> {
  run.report.records += first.length;
  let records = first;
  for (let attempt = 1; ; attempt++) {
    const sequenceNumbers = records.map(sequenceNumberOf);
    const outcome = await invoke(run, records, sequenceNumbers);
    run.report.batches++;
    const { failedIndex } = outcome;
    await run.onBatch?.({
      shardId,
      firstSequenceNumber: sequenceNumbers[0] as string,
      lastSequenceNumber: sequenceNumbers[sequenceNumbers.length - 1] as string,
      records: records.length,
      attempt,
      ...("error" in outcome ? { error: outcome.error } : { response: outcome.response }),
      ...(failedIndex === undefined ? {} : { failedSequenceNumber: sequenceNumbers[failedIndex] as string }),
    });
    if (failedIndex === undefined) return;
    const failed = records.slice(failedIndex);
    const from = sequenceNumbers[failedIndex] as string;
    const given: DiscardedBatch = {
      shardId,
      firstSequenceNumber: from,
      lastSequenceNumber: sequenceNumbers[sequenceNumbers.length - 1] as string,
      records: failed,
      attempts: attempt,
    };
    if (attempt > run.maxRetries) {
      if (run.destination !== undefined) await writeFailureRecord(run, run.destination, given, outcome);
      run.report.discarded.push(given);
      return;
    }
    if (run.signal?.aborted) {
      run.report.unfinished.push(given);
      return;
    }
    run.report.retries++;
    records = await reread(run, shardId, from, failed.length);
  }
}

/** One invocation, with Lambda's rules for what counts as success. */
async function invoke(run: Run, records: StreamRecord[], sequenceNumbers: string[]): Promise<Outcome> {
  const started = Date.now();
  const requestId = randomUUID();
  const context: StreamRunnerContext = {
    awsRequestId: requestId,
    getRemainingTimeInMillis: () => Math.max(0, run.functionTimeoutMs - (Date.now() - started)),
  };
  try {
    // A copy, as Lambda sends each invocation its own: what the handler changes stays there.
    const response = (await run.handler({ Records: structuredClone(records) }, context)) ?? undefined;
    if (Date.now() - started > run.functionTimeoutMs) {
      return { requestId, error: new Error(`Task timed out after ${run.functionTimeoutMs} ms`), failedIndex: 0 };
    }
    return { requestId, response, failedIndex: firstFailed(sequenceNumbers, response) };
  } catch (error) {
    return { requestId, error, failedIndex: 0 };
  }
}

/**
 * The index of the record with the lowest SequenceNumber the response reports, or undefined when
 * it reports none. 0 (the whole batch) when an identifier is empty, null, under another name, or
 * not in the batch, or when `batchItemFailures` is not an array.
 */
function firstFailed(sequenceNumbers: string[], response: BatchResponse | undefined): number | undefined {
  const failures: unknown = response?.batchItemFailures;
  if (failures === undefined || failures === null) return undefined;
  if (!Array.isArray(failures)) return 0;
  let lowest: string | undefined;
  for (const failure of failures) {
    const identifier: unknown = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof identifier !== "string" || !sequenceNumbers.includes(identifier)) return 0;
    if (lowest === undefined || compareSequenceNumbers(identifier, lowest) < 0) lowest = identifier;
  }
  return lowest === undefined ? undefined : sequenceNumbers.indexOf(lowest);
}

/**
 * Writes the on-failure record of a discarded batch, and notes on it where the record went or why it
 * did not. A failed write does not stop the run: Lambda's event source mapping, too, counts it
 * (the DestinationDeliveryFailures metric) and goes on reading the shard. Not given `signal`: an
 * abort stops the run after the current invocation, and writing the record finishes that invocation.
 */
async function writeFailureRecord(
  run: Run,
  destination: FailureDestination,
  batch: DiscardedBatch,
  outcome: Outcome,
): Promise<void> {
  const discardedAt = new Date();
  const input = {
    streamArn: run.streamArn,
    shardId: batch.shardId,
    records: batch.records,
    attempts: batch.attempts,
    functionArn: destination.functionArn,
    requestId: outcome.requestId,
    // A thrown error and a timeout both reach Lambda as an unhandled function error.
    functionError: "error" in outcome ? "Unhandled" : undefined,
    discardedAt,
  };
  try {
    if (destination.kind === "sqs") {
      const { MessageId: messageId } = await destination.client.send(
        new destination.sdk.SendMessageCommand({
          QueueUrl: destination.queueUrl,
          MessageBody: JSON.stringify(failureRecordOf(input)),
        }),
      );
      if (messageId === undefined) throw new Error("SendMessage returned no MessageId");
      batch.writtenTo = { queueUrl: destination.queueUrl, messageId };
    } else {
      const key = failureObjectKeyOf({
        mappingUuid: destination.mappingUuid,
        shardId: batch.shardId,
        discardedAt,
        id: randomUUID(),
      });
      await destination.client.send(
        new destination.sdk.PutObjectCommand({
          Bucket: destination.bucket,
          Key: key,
          Body: JSON.stringify(failureRecordOf(input, { payload: true })),
        }),
      );
      batch.writtenTo = { bucket: destination.bucket, key };
    }
  } catch (error) {
    batch.writeError = error;
  }
}

/**
 * The records to redeliver, read anew from the stream at the checkpoint: `count` records from
 * `sequenceNumber` on, as Lambda reads them again from its checkpoint.
 */
async function reread(run: Run, shardId: string, sequenceNumber: string, count: number): Promise<StreamRecord[]> {
  let iterator: string | undefined = await shardIterator(run, shardId, "AT_SEQUENCE_NUMBER", sequenceNumber);
  const records: StreamRecord[] = [];
  while (iterator !== undefined && records.length < count) {
    const page: GetRecordsCommandOutput = await run.client.send(
      new run.sdk.GetRecordsCommand({ ShardIterator: iterator, Limit: count - records.length }),
    );
    const got = lambdaRecords(run, page.Records);
    if (got.length === 0) break;
    records.push(...got);
    iterator = page.NextShardIterator;
  }
  if (records.length < count) {
    throw new Error(
      `Reading shard ${shardId} again from SequenceNumber ${sequenceNumber} returned ${records.length} of the ${count} records to redeliver: were they trimmed?`,
    );
  }
  return records;
}

/**
 * Waits `ms`, or less when `signal` is (or gets) aborted: the caller then sees the signal and stops.
 * On the global `setTimeout`, so that fake timers (vitest's, Jest's) control it. Not the library's
 * `sleep` of src/abort.ts: the testing entry may use only what the main entry exports (see
 * tsup.config.ts).
 */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

const isDuration = (value: unknown): boolean => typeof value === "number" && value >= 0 && Number.isFinite(value);

const isNonEmptyString = (value: unknown): value is string => typeof value === "string" && value !== "";

/** `arn:<partition>:dynamodb:<region>:<account>:…`: the parts a function ARN in the same place shares. */
const STREAM_ARN_PLACE = /^arn:([^:]+):dynamodb:([^:]*):([^:]*):/;

/** A Lambda function ARN in the stream's partition, region and account (DynamoDB Local's `ddblocal` too). */
function defaultFunctionArn(streamArn: string): string {
  const [, partition = "aws", region = "us-east-1", account = "000000000000"] = STREAM_ARN_PLACE.exec(streamArn) ?? [];
  return `arn:${partition}:lambda:${region}:${account}:function:run-stream`;
}

/** `onFailure` with its defaults, pushing a ConfigIssue for each invalid setting. */
function failureSettingsOf(
  onFailure: unknown,
  streamArn: string,
  check: (valid: boolean, path: string, message: string) => void,
): FailureSettings | undefined {
  if (onFailure === undefined) return undefined;
  if (typeof onFailure !== "object" || onFailure === null) {
    check(false, "onFailure", "must be { queueUrl, client } (an SQS queue) or { bucket, client } (an S3 bucket)");
    return undefined;
  }
  const { queueUrl, bucket, client, functionArn, mappingUuid } = onFailure as Record<string, unknown>;
  const toQueue = queueUrl !== undefined;
  if (toQueue === (bucket !== undefined)) {
    check(
      false,
      "onFailure",
      toQueue
        ? "must have either queueUrl (an SQS queue) or bucket (an S3 bucket), not both"
        : "must have queueUrl (an SQS queue) or bucket (an S3 bucket)",
    );
    return undefined;
  }
  let valid = true;
  const checkHere = (ok: boolean, path: string, message: string) => {
    valid &&= ok;
    check(ok, path, message);
  };
  if (toQueue) {
    checkHere(
      isNonEmptyString(queueUrl) && /^https?:\/\/[^/]+\/./.test(queueUrl) && URL.canParse(queueUrl),
      "onFailure.queueUrl",
      "must be an SQS queue URL, such as https://sqs.us-east-1.amazonaws.com/111122223333/cleanup-failures",
    );
    checkHere(mappingUuid === undefined, "onFailure.mappingUuid", "names S3 objects: it applies only with bucket");
  } else {
    checkHere(
      isNonEmptyString(bucket) && !bucket.includes("/"),
      "onFailure.bucket",
      "must be an S3 bucket name, without slashes",
    );
    checkHere(
      mappingUuid === undefined || (isNonEmptyString(mappingUuid) && !mappingUuid.includes("/")),
      "onFailure.mappingUuid",
      "must be a non-empty string without slashes: one segment of the object keys",
    );
  }
  checkHere(
    typeof (client as { send?: unknown } | null)?.send === "function",
    "onFailure.client",
    toQueue ? "must be an SQSClient" : "must be an S3Client",
  );
  checkHere(
    functionArn === undefined ||
      (isNonEmptyString(functionArn) && /^arn:[^:]+:lambda:[^:]*:[^:]*:function:./.test(functionArn)),
    "onFailure.functionArn",
    "must be a Lambda function ARN, such as arn:aws:lambda:us-east-1:111122223333:function:cleanup",
  );
  if (!valid) return undefined;
  const common = { functionArn: (functionArn as string | undefined) ?? defaultFunctionArn(streamArn) };
  // runStream sends them the commands of @aws-sdk/client-sqs or client-s3, and reads their outputs.
  return toQueue
    ? { ...common, kind: "sqs", queueUrl: queueUrl as string, client: client as SQSClient }
    : {
        ...common,
        kind: "s3",
        bucket: bucket as string,
        client: client as S3Client,
        mappingUuid: (mappingUuid as string | undefined) ?? randomUUID(),
      };
}

/** The options with their defaults; throws one ConfigError naming every invalid option. */
function settingsOf(options: RunStreamOptions): RunSettings {
  const {
    batchSize = 100,
    startingPosition = "TRIM_HORIZON",
    maxRetries = 3,
    idleTimeoutMs = 2000,
    pollIntervalMs = 250,
    functionTimeoutMs = 60_000,
  } = options;
  const issues: ConfigIssue[] = [];
  const check = (valid: boolean, path: string, message: string) => {
    if (!valid) issues.push({ path, message });
  };
  check(typeof options.client?.send === "function", "client", "must be a DynamoDBStreamsClient");
  check(typeof options.streamArn === "string" && options.streamArn !== "", "streamArn", "must be a stream ARN");
  check(typeof options.handler === "function", "handler", "must be a function");
  check(
    Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= 1000,
    "batchSize",
    "must be an integer from 1 to 1000 (the most one GetRecords call returns)",
  );
  check(
    startingPosition === "TRIM_HORIZON" || startingPosition === "LATEST",
    "startingPosition",
    'must be "TRIM_HORIZON" or "LATEST"',
  );
  check(
    maxRetries === Number.POSITIVE_INFINITY || (Number.isInteger(maxRetries) && maxRetries >= 0),
    "maxRetries",
    "must be an integer of at least 0, or Infinity",
  );
  check(isDuration(idleTimeoutMs), "idleTimeoutMs", "must be a finite number of milliseconds, at least 0");
  check(isDuration(pollIntervalMs), "pollIntervalMs", "must be a finite number of milliseconds, at least 0");
  check(
    isDuration(functionTimeoutMs) && functionTimeoutMs > 0,
    "functionTimeoutMs",
    "must be a finite number of milliseconds, more than 0",
  );
  const onFailure = failureSettingsOf(options.onFailure, String(options.streamArn), check);
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    // runStream sends it the commands of @aws-sdk/client-dynamodb-streams, and reads their outputs.
    client: options.client as DynamoDBStreamsClient,
    streamArn: options.streamArn,
    handler: options.handler,
    batchSize,
    startingPosition,
    maxRetries,
    idleTimeoutMs,
    pollIntervalMs,
    functionTimeoutMs,
    signal: options.signal,
    onBatch: options.onBatch,
    onFailure,
  };
}
