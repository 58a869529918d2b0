/**
 * The replay handler factory: for each message of an on-failure queue it gets the discarded
 * batch's records (re-read from the stream, or from the object an S3 destination wrote), runs them
 * through the cleanup pipeline with the re-creation guard on, and reports every message whose
 * records are not all done, so that SQS delivers it again or moves it to the queue's DLQ.
 */
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { abortable, invocationSignal, sendOptions } from "./abort.js";
import { kinesisClientOf, streamsClientOf } from "./aws-clients.js";
import {
  type CleanupConfig,
  type CleanupOptions,
  type CommonCleanupOptions,
  type ResolveSettings,
  resolveCleanupOptions,
} from "./cleanup-options.js";
import { type BatchSignals, createCleanupPipeline } from "./cleanup-pipeline.js";
import { errorMessage, isInvalidEventError } from "./errors.js";
import {
  type DiscardedRange,
  type FailureMessage,
  type FailureObjectRef,
  failureMessagesOf,
  failureObjectOf,
} from "./failure-destination-records.js";
import { configFromEnv } from "./from-env.js";
import { parseStreamRecords } from "./parse-stream-records.js";
import { summaryOf } from "./report.js";
import { createRangeReader } from "./stream-range-reader.js";
import type { AwsClientLike, BatchResponse, CleanupContext, CleanupEvent, CleanupSummary } from "./types.js";
import { clientSchema } from "./validation.js";

/** Options of {@link createReplayHandler}: those of `createCleanupHandler`, and the stream clients. */
export type ReplayOptions = DistributiveOmit<CleanupOptions, "onResult"> & ReplayOnlyOptions;

/** Omit that keeps a union a union. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The options only the replay handler has. */
export interface ReplayOnlyOptions {
  /**
   * Called once per invocation with what it did (the summary line's fields). What it throws or
   * rejects with is logged and otherwise ignored. `emfMetrics` fits.
   */
  onResult?: ((summary: ReplaySummary) => void | Promise<void>) | undefined;
  /**
   * The DynamoDB Streams client that re-reads discarded ranges of DynamoDB streams: a
   * `DynamoDBStreamsClient` of @aws-sdk/client-dynamodb-streams.
   * @default one `new DynamoDBStreamsClient({})`, created the first time a range is read
   */
  streamsClient?: AwsClientLike | undefined;
  /**
   * The Kinesis client that re-reads discarded ranges of Kinesis Data Streams for DynamoDB: a
   * `KinesisClient` of @aws-sdk/client-kinesis.
   * @default one `new KinesisClient({})`, created the first time a range is read
   */
  kinesisClient?: AwsClientLike | undefined;
}

/** An SQS message as the replay handler reads it: the fields of `SQSRecord` it uses. */
export interface ReplayMessage {
  messageId: string;
  body: string;
}

/** The event of an SQS queue of on-failure records; `SQSEvent` of @types/aws-lambda fits. */
export interface ReplayEvent {
  Records: ReplayMessage[];
}

/** The replay handler: the SQS partial batch response names every message not done. */
export type ReplayHandler = (event: ReplayEvent, context?: CleanupContext) => Promise<BatchResponse>;

/** What one replay invocation did: the fields of its summary line, also given to `onResult`. */
export interface ReplaySummary extends Omit<CleanupSummary, "source" | "records" | "batchItemFailures" | "fallback"> {
  /** Messages in the event. */
  messages: number;
  /** Discarded batches whose records were all read (from the stream, or from an S3 object). */
  batches: number;
  /**
   * Discarded batches that can never be read again (trimmed, or the stream is gone): their messages
   * are reported, so that the queue's redrive policy moves them to its DLQ. Run reconcile for them.
   */
  unreplayableBatches: number;
  /**
   * Discarded batches not read this time (throttling, the time budget, an object S3 would not give,
   * an unexpected error): their messages are retried.
   */
  unfinishedBatches: number;
  /** Messages that hold no on-failure record, or an S3 object that holds none. */
  invalidMessages: number;
  /** Stream records replayed. */
  records: number;
  /** `"single-deletes"` when any batch's deletes went one by one (see `CleanupSummary.fallback`). */
  fallback: "single-deletes" | "none";
  /** Messages reported for redelivery. */
  batchItemFailures: number;
}

/**
 * Creates the Lambda handler for the SQS queue that an event source mapping's (or a pipe's)
 * on-failure destination writes to. For each message it re-reads the discarded range of the stream
 * (`GetShardIterator` at its first sequence number, `GetRecords` to its last, at most one reader per
 * shard, backing off on `LimitExceededException`), or reads the object an S3 destination wrote
 * (a message that is an S3 event notification), and deletes the removed items' objects exactly as
 * `createCleanupHandler` would with the same options. `verifyAbsent` is on by default: a replay is
 * hours late, and an item written again since keeps its objects.
 *
 * It answers with the SQS partial batch response: every message whose records are not all done,
 * and every message whose range can no longer be read (logged at error, counted as
 * `unreplayableBatches`), so that the queue's redrive policy moves it to the DLQ. Subscribe it with
 * `ReportBatchItemFailures`.
 *
 * @example
 * ```ts
 * export const handler = createReplayHandler({ bucket: "product-images", key: "{productId}.png" });
 * ```
 */
export function createReplayHandler(options: ReplayOptions): ReplayHandler {
  const config = resolveCleanupOptions(options as CleanupOptions, REPLAY_SETTINGS);
  return replayHandlerOf(config, options);
}

/** The replay handler's defaults and options of its own. */
export const REPLAY_SETTINGS: ResolveSettings = {
  verifyAbsent: true,
  fields: {
    streamsClient: () => clientSchema("a DynamoDBStreamsClient")(),
    kinesisClient: () => clientSchema("a KinesisClient")(),
  },
};

/**
 * Creates the replay handler (see `createReplayHandler`) from the same environment variables as
 * `createCleanupHandlerFromEnv`, for a replay function deployed without code of its own:
 * `dynamodb-s3-cleanup/replay` exports `handler = createReplayHandlerFromEnv()`. `verifyAbsent` is
 * on unless `CLEANUP_VERIFY_ABSENT=false`.
 *
 * @param env - The variables; `process.env` when left out.
 * @param overrides - Options that replace what the variables set, such as clients, a `logger` or an
 * `onResult`. None when left out.
 *
 * @example
 * ```ts
 * // CLEANUP_BUCKET=product-images CLEANUP_KEY={productId}.png
 * export const handler = createReplayHandlerFromEnv();
 * ```
 */
export function createReplayHandlerFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
  overrides: Partial<Omit<CommonCleanupOptions, "onResult"> & ReplayOnlyOptions> = {},
): ReplayHandler {
  // The clients are checked with the other options (an undefined override replaces nothing).
  const { onResult, ...checked } = overrides;
  const config = configFromEnv(env, checked, REPLAY_SETTINGS);
  return replayHandlerOf(config, {
    ...overrides,
    onResult: onResult ?? (config.onResult as ReplayOnlyOptions["onResult"]),
  });
}

/** The replay handler for options already resolved. */
export function replayHandlerOf(
  config: CleanupConfig,
  { streamsClient, kinesisClient, onResult }: ReplayOnlyOptions,
): ReplayHandler {
  const { logger, dryRun } = config;
  const s3Client = config.s3Client ?? new S3Client({});
  const cleanUp = createCleanupPipeline({ ...config, s3Client });
  const readRange = createRangeReader({
    streamsClient: streamsClientOf(streamsClient),
    kinesisClient: kinesisClientOf(kinesisClient),
    sleep: config.deleter.sleep,
    random: config.deleter.random,
  });

  return async (event, context) => {
    const started = Date.now();
    const signals = invocationSignal(context, config.timeoutMarginMs);
    try {
      const messages = failureMessagesOf(event);
      const total = emptySummary(messages.length, dryRun);
      const failures: string[] = [];
      // One message at a time: each may hold thousands of records, and the deleter already runs
      // `concurrency` requests at once for each.
      for (const message of messages) {
        const done = await replayEach(message, context, total);
        // A dry run deletes nothing: its messages must stay for the replay that does.
        if (!done || dryRun) failures.push(message.messageId);
      }
      if (dryRun && messages.length > 0) {
        logger.info("Dry run: every message is reported, so that it stays on the queue", {
          messages: messages.length,
        });
      }
      total.batchItemFailures = failures.length;
      total.aborted = signals.signal.aborted;
      total.durationMs = Date.now() - started;
      logger.info("dynamodb-s3-cleanup replay summary", { ...total });
      await notify(total);
      return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
    } finally {
      signals.dispose();
    }
  };

  /**
   * Replays one message within signals of its own: key functions get half of the time left when it
   * starts, not half of the invocation's, which earlier messages may have used. A message that
   * throws is reported alone.
   */
  async function replayEach(
    message: FailureMessage,
    context: CleanupContext | undefined,
    total: ReplaySummary,
  ): Promise<boolean> {
    const signals = invocationSignal(context, config.timeoutMarginMs);
    try {
      return await replayMessage(message, signals, total);
    } catch (error) {
      total.unfinishedBatches++;
      logger.error("Message not replayed: an unexpected error; it is reported", {
        messageId: message.messageId,
        error: errorMessage(error),
      });
      return false;
    } finally {
      signals.dispose();
    }
  }

  /** Replays one message; true when every record of it is done. */
  async function replayMessage(message: FailureMessage, signals: BatchSignals, total: ReplaySummary): Promise<boolean> {
    const { messageId } = message;
    if ("error" in message) {
      total.invalidMessages++;
      logger.error("Message holds no on-failure record: reported, so that the queue's DLQ gets it", {
        messageId,
        error: message.error.message,
      });
      return false;
    }
    if (signals.signal.aborted) return false;
    if ("batch" in message) return replayBatch(messageId, message.batch, signals, total);
    let done = true;
    for (const object of message.objects) {
      if (signals.signal.aborted) return false;
      done = (await replayObject(messageId, object, signals, total)) && done;
    }
    return done;
  }

  async function replayBatch(
    messageId: string,
    batch: DiscardedRange,
    signals: BatchSignals,
    total: ReplaySummary,
  ): Promise<boolean> {
    const range = rangeFields(messageId, batch);
    const read = await readRange(batch, signals.signal);
    if (read.outcome === "unreplayable") {
      total.unreplayableBatches++;
      logger.error(
        "Discarded batch cannot be replayed: its records are gone from the stream. Run reconcile to find the objects it leaves behind",
        { ...range, code: read.code, error: read.reason },
      );
      return false;
    }
    if (read.outcome === "unfinished") {
      total.unfinishedBatches++;
      logger.warn("Discarded batch not read to its end: the message is retried", {
        ...range,
        code: read.code,
        error: read.reason,
      });
      return false;
    }
    return cleanUpRecords(messageId, read.event, signals, total);
  }

  async function replayObject(
    messageId: string,
    { bucket, key }: FailureObjectRef,
    signals: BatchSignals,
    total: ReplaySummary,
  ): Promise<boolean> {
    let event: CleanupEvent;
    try {
      const object = await abortable(
        s3Client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), sendOptions(signals.signal)),
        signals.signal,
      );
      const text = await abortable(object.Body?.transformToString() ?? Promise.resolve(""), signals.signal);
      event = failureObjectOf(key, text).event as CleanupEvent;
    } catch (error) {
      if (signals.signal.aborted) return false;
      if (isInvalidEventError(error)) total.invalidMessages++;
      else total.unfinishedBatches++;
      logger.error("On-failure object could not be read: the message is retried", {
        messageId,
        bucket,
        key,
        error: errorMessage(error),
      });
      return false;
    }
    return cleanUpRecords(messageId, event, signals, total);
  }

  /** Runs a discarded batch's records through the pipeline; true when every one is done. */
  async function cleanUpRecords(
    messageId: string,
    event: CleanupEvent,
    signals: BatchSignals,
    total: ReplaySummary,
  ): Promise<boolean> {
    let batch: ReturnType<typeof parseStreamRecords>;
    try {
      batch = parseStreamRecords(event, config.parse);
    } catch (error) {
      total.invalidMessages++;
      logger.error("Discarded batch's records are no stream event: the message is retried", {
        messageId,
        error: (error as Error).message,
      });
      return false;
    }
    total.batches++;
    const { mustRetry, ...done } = await cleanUp(batch, signals);
    const summary = summaryOf({
      source: batch.source,
      records: batch.removals.length + batch.skipped.length + batch.invalid.length,
      skipped: batch.skipped.length,
      dryRun,
      ...done,
      batchItemFailures: mustRetry.length,
      aborted: signals.signal.aborted,
      durationMs: 0,
    });
    addCounts(total, summary);
    logger.debug("Discarded batch replayed", { messageId, ...summary, durationMs: undefined });
    return mustRetry.length === 0;
  }

  /** Hands the summary to `onResult`; a metrics hook that fails must not fail the replay. */
  async function notify(summary: ReplaySummary): Promise<void> {
    if (onResult === undefined) return;
    try {
      await onResult(summary);
    } catch (error) {
      logger.warn("onResult failed; the replay's response is unaffected", {
        error: errorMessage(error),
      });
    }
  }
}

/** The fields that say which range a log line is about. */
function rangeFields(messageId: string, batch: DiscardedRange): Record<string, unknown> {
  return {
    messageId,
    streamArn: batch.streamArn,
    shardId: batch.shardId,
    startSequenceNumber: batch.startSequenceNumber,
    endSequenceNumber: batch.endSequenceNumber,
    batchSize: batch.batchSize,
    approximateArrivalOfFirstRecord: batch.approximateArrivalOfFirstRecord,
    approximateArrivalOfLastRecord: batch.approximateArrivalOfLastRecord,
  };
}

function emptySummary(messages: number, dryRun: boolean): ReplaySummary {
  return {
    messages,
    batches: 0,
    unreplayableBatches: 0,
    unfinishedBatches: 0,
    invalidMessages: 0,
    records: 0,
    removals: 0,
    withoutObjects: 0,
    skipped: 0,
    invalid: 0,
    targets: 0,
    deleted: 0,
    failed: 0,
    keptReplaced: 0,
    keptRecreated: 0,
    fallback: "none",
    batchItemFailures: 0,
    aborted: false,
    durationMs: 0,
    dryRun,
  };
}

const COUNTS = [
  "records",
  "removals",
  "withoutObjects",
  "skipped",
  "invalid",
  "targets",
  "deleted",
  "failed",
  "keptReplaced",
  "keptRecreated",
] as const;

/** Adds one batch's counts to the invocation's. */
function addCounts(total: ReplaySummary, batch: CleanupSummary): void {
  for (const name of COUNTS) total[name] += batch[name];
  if (batch.fallback === "single-deletes") total.fallback = "single-deletes";
}
