/**
 * The `replay` command: drains an SQS queue of on-failure records by hand, at a terminal. It
 * long-polls the queue, hands each batch of messages to the replay handler as Lambda would (an SQS
 * event, a time budget that ends before the messages become visible again), deletes every message
 * the handler did not report, and leaves the reported ones to come back after their visibility
 * timeout. The handler itself is injected, so that this module holds only the command's own logic.
 */

import { parseArgs } from "node:util";
import type {
  DeleteMessageBatchCommandOutput,
  Message,
  ReceiveMessageCommandOutput,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { abortable, sendOptions } from "./abort.js";
import { errorMessage, isConfigError } from "./errors.js";
import { jsonLogger } from "./json-logger.js";
import type { AwsClientLike, Logger } from "./types.js";
import { LOG_LEVELS } from "./validation.js";

/** An SQS client, or anything with its `send`: `SQSClient` of @aws-sdk/client-sqs. */
export type SqsClientLike = AwsClientLike;

/** The parts of @aws-sdk/client-sqs the command uses: its commands, and the default client. */
export type SqsModule = Pick<
  typeof import("@aws-sdk/client-sqs"),
  "SQSClient" | "ReceiveMessageCommand" | "DeleteMessageBatchCommand" | "GetQueueAttributesCommand"
>;

/** An SQS message as the handler gets it: the fields of Lambda's `SQSRecord` that the command can fill. */
export interface ReplayCommandMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  /** The message's system attributes, such as `ApproximateReceiveCount` and `SentTimestamp`. */
  attributes: Record<string, string>;
  md5OfBody?: string;
  eventSource: "aws:sqs";
  /** The queue's ARN, when the queue URL is an AWS one it can be read from. */
  eventSourceARN?: string;
  /** The queue's Region, when the queue URL is an AWS one it can be read from. */
  awsRegion?: string;
}

/** The context the handler is called with: its time budget ends before the messages become visible again. */
export interface ReplayCommandContext {
  getRemainingTimeInMillis(): number;
}

/** The replay handler as the command calls it; what `createReplayHandler` returns fits. */
export type ReplayCommandHandler = (
  event: { Records: ReplayCommandMessage[] },
  context: ReplayCommandContext,
) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;

/** The counts of the replay handler's summary that the command adds up; `ReplaySummary` has them all. */
export interface ReplayCommandSummary {
  /** True when the handler ran with `dryRun`: from then on no message is deleted from the queue either. */
  dryRun: boolean;
  batches: number;
  unreplayableBatches: number;
  unfinishedBatches: number;
  invalidMessages: number;
  records: number;
  removals: number;
  deleted: number;
  failed: number;
  keptReplaced: number;
  keptRecreated: number;
}

/** The summary counts the command adds up, in the order the final summary lists them. */
const SUMMARY_COUNTS = [
  "batches",
  "unreplayableBatches",
  "unfinishedBatches",
  "invalidMessages",
  "records",
  "removals",
  "deleted",
  "failed",
  "keptReplaced",
  "keptRecreated",
] as const satisfies readonly (keyof ReplayCommandSummary)[];

/** Where the handler's options come from: a `--config` file, or the `CLEANUP_*` variables. */
export type ReplayCommandConfig =
  | {
      from: "file";
      /** The JSON object the file holds: the handler's data options. */
      options: Readonly<Record<string, unknown>>;
    }
  | {
      from: "env";
      env: Readonly<Record<string, string | undefined>>;
    };

/** The options the command sets on the handler, over what the configuration says. */
export interface ReplayCommandOverrides {
  /** Set by `--dry-run`; absent without it, so that the configuration's own `dryRun` stands. */
  dryRun?: true;
  /** Writes JSON lines to stderr, below the progress line. */
  logger: Logger;
  /** Adds each call's summary to the command's totals. */
  onResult: (summary: ReplayCommandSummary) => void;
}

/**
 * Creates the replay handler. It throws a ConfigError when the options are wrong, which the command
 * shows and exits with 2. See {@link replayHandlerFactory} for the one made of the library's factories.
 */
export type ReplayHandlerFactory = (
  config: ReplayCommandConfig,
  overrides: ReplayCommandOverrides,
) => ReplayCommandHandler;

/** What the command reads and writes, injected so that tests need no process, queue or terminal. */
export interface ReplayCommandIo {
  /** The environment: the `CLEANUP_*` variables, when no `--config` is given. */
  env: Readonly<Record<string, string | undefined>>;
  /** Reads a file as UTF-8 text: the `--config` file. */
  readFile: (path: string) => Promise<string>;
  /** Writes to standard output: the usage and the summary. */
  stdout: (text: string) => void;
  /** Writes to standard error: progress, problems and log lines. */
  stderr: (text: string) => void;
  /** Whether standard error is a terminal: progress then rewrites one line. */
  stderrIsTty: boolean;
  /** Creates the handler. */
  createHandler: ReplayHandlerFactory;
  /** @default one `new SQSClient()` of @aws-sdk/client-sqs, in the queue URL's Region when it names one */
  sqsClient?: SqsClientLike | undefined;
  /** Loads @aws-sdk/client-sqs, an optional peer dependency. @default `import("@aws-sdk/client-sqs")` */
  importSqs?: (() => Promise<SqsModule>) | undefined;
  /**
   * Calls `listener` on every interrupt (Ctrl-C), and returns what stops that. The first interrupt
   * lets the batches in hand finish; the second makes the command return 130 at once.
   * @default SIGINT of the process
   */
  onInterrupt?: ((listener: () => void) => () => void) | undefined;
  /** The clock that counts down each batch's time budget, in ms. @default Date.now */
  now?: (() => number) | undefined;
  /**
   * How long each ReceiveMessage waits for messages, in seconds: the queue counts as drained when
   * one returns none. Shorter only for tests against a local queue.
   * @default 20 (the longest long poll SQS allows)
   */
  waitTimeSeconds?: number | undefined;
}

/** The command's usage text. */
export const REPLAY_USAGE = `Usage: dynamodb-s3-cleanup replay --queue-url URL [options]

Drains an SQS queue of on-failure records: re-reads each discarded batch, deletes the S3 objects
of its removed items as the cleanup handler would, and deletes each message that is done. A message
that is not done stays on the queue and comes back after the visibility timeout.

Options:
  --queue-url URL               the queue the on-failure destination writes to (required)
  --dry-run                     delete nothing, neither objects nor messages (sets dryRun)
  --config FILE.json            the handler's options as a JSON object (bucket, key, allowedPrefixes,
                                ...); without it, the CLEANUP_* variables
  --concurrency N               batches of up to 10 messages handled at once, 1 to 10 (default 2)
  --visibility-timeout SECONDS  how long a received message stays hidden, 10 to 43200 (default 300)
  -h, --help                    show this help

Exit code: 0 when the queue was drained and every message was done, 1 when not, 2 for bad usage
or configuration.
`;

/** `--concurrency` when not given: the event source mapping already reads each shard, and DynamoDB Streams allows 2 readers. */
export const DEFAULT_REPLAY_CONCURRENCY = 2;
/** `--visibility-timeout` when not given, in seconds. */
export const DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 300;
/** How much of the visibility timeout is kept back from the handler, for deleting the messages it is done with. */
export const DELETE_RESERVE_MS = 5_000;
/** The most messages one ReceiveMessage returns, and one DeleteMessageBatch takes. */
export const SQS_BATCH_SIZE = 10;
/** How long one ReceiveMessage waits for messages by default: the longest long poll SQS allows. */
export const WAIT_TIME_SECONDS = 20;
/** What the command returns after a second interrupt, as a shell does for SIGINT. */
export const INTERRUPTED_EXIT_CODE = 130;

const OPTIONS = {
  "queue-url": { type: "string" },
  "dry-run": { type: "boolean" },
  config: { type: "string" },
  concurrency: { type: "string" },
  "visibility-timeout": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** The command's flags, checked. */
interface ReplayFlags {
  queueUrl: string;
  dryRun: boolean;
  configPath: string | undefined;
  concurrency: number;
  visibilityTimeoutSeconds: number;
}

/** Bad usage of a command: the message names the flag at fault. */
export class UsageProblem {
  constructor(readonly message: string) {}
}

/**
 * Runs `dynamodb-s3-cleanup replay` with `argv` (the arguments after `replay`) and resolves to its
 * exit code: 0 when the queue was drained and every message was done (deleted from the queue, or,
 * with `dryRun`, handled without a report), 1 when not (a message reported by the handler, a
 * failed delete from the queue, a handler or ReceiveMessage error, an interrupt), 2 for bad usage or
 * configuration, 130 at a second interrupt (without waiting for the batches in hand).
 *
 * @example
 * ```ts
 * const code = await runReplayCommand(["--queue-url", queueUrl, "--dry-run"], io);
 * ```
 */
export async function runReplayCommand(argv: string[], io: ReplayCommandIo): Promise<number> {
  const flags = parseFlags(argv);
  if (flags === "help") {
    io.stdout(REPLAY_USAGE);
    return 0;
  }
  if (flags instanceof UsageProblem) return usageError(io, flags.message);
  const config = await readConfig(flags, io);
  if (config instanceof UsageProblem) return usageError(io, config.message);
  if (config.from === "file" && Object.keys(io.env).some((name) => name.startsWith("CLEANUP_"))) {
    io.stderr("replay: the CLEANUP_* variables are ignored: --config is given\n");
  }
  // Decided before anything is received: in a dry run no message may be deleted from the queue,
  // or the batches it only looked at would be gone for good.
  const dryRun = flags.dryRun || dryRunOf(config);
  const run = createRun(io, dryRun);
  let handler: ReplayCommandHandler;
  try {
    handler = io.createHandler(config, {
      ...(flags.dryRun ? { dryRun: true } : {}),
      logger: jsonLogger({ level: logLevelOf(io.env), write: run.writeLogLine }),
      onResult: run.add,
    });
  } catch (error) {
    if (!isConfigError(error)) throw error;
    io.stderr(`replay: ${error.message}\n`);
    return 2;
  }
  let sqs: SqsModule;
  try {
    sqs = await (io.importSqs ?? (() => import("@aws-sdk/client-sqs")))();
  } catch (error) {
    io.stderr(
      `replay: the replay command needs @aws-sdk/client-sqs (npm install @aws-sdk/client-sqs): ${errorMessage(error)}\n`,
    );
    return 2;
  }
  const region = regionOf(flags.queueUrl);
  const client = io.sqsClient ?? new sqs.SQSClient(region === undefined ? {} : { region });
  try {
    return await drain({ flags, io, run, handler, sqs, client });
  } finally {
    if (io.sqsClient === undefined) (client as SQSClient).destroy();
  }
}

/** The flags of `argv`, `"help"`, or what is wrong with them. */
function parseFlags(argv: string[]): ReplayFlags | "help" | UsageProblem {
  let values: ReturnType<typeof flagValues>;
  try {
    values = flagValues(argv);
  } catch (error) {
    // Node's messages name the flag ("Unknown option '--queu-url'"); the lines after the first are advice about dashes.
    return new UsageProblem(errorMessage(error).split("\n")[0] as string);
  }
  if (values.help === true) return "help";
  const queueUrl = values["queue-url"];
  if (queueUrl === undefined) return new UsageProblem("--queue-url is required");
  if (!isHttpUrl(queueUrl)) {
    return new UsageProblem(
      "--queue-url must be the URL of an SQS queue, such as https://sqs.us-east-1.amazonaws.com/123456789012/replay",
    );
  }
  const concurrency = integerFlag("--concurrency", values.concurrency, 1, 10, DEFAULT_REPLAY_CONCURRENCY);
  if (concurrency instanceof UsageProblem) return concurrency;
  const visibilityTimeoutSeconds = integerFlag(
    "--visibility-timeout",
    values["visibility-timeout"],
    10,
    43_200,
    DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
  );
  if (visibilityTimeoutSeconds instanceof UsageProblem) return visibilityTimeoutSeconds;
  return {
    queueUrl,
    dryRun: values["dry-run"] === true,
    configPath: values.config,
    concurrency,
    visibilityTimeoutSeconds,
  };
}

function flagValues(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
}

function integerFlag(
  flag: string,
  text: string | undefined,
  min: number,
  max: number,
  fallback: number,
): number | UsageProblem {
  if (text === undefined) return fallback;
  const value = /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN;
  return value >= min && value <= max ? value : new UsageProblem(`${flag} must be an integer from ${min} to ${max}`);
}

function isHttpUrl(text: string): boolean {
  try {
    const { protocol } = new URL(text);
    return protocol === "https:" || protocol === "http:";
  } catch {
    return false;
  }
}

function usageError(io: ReplayCommandIo, message: string): number {
  io.stderr(`replay: ${message}\n\n${REPLAY_USAGE}`);
  return 2;
}

/** The configuration: the `--config` file's object, else the environment. */
async function readConfig(flags: ReplayFlags, io: ReplayCommandIo): Promise<ReplayCommandConfig | UsageProblem> {
  const path = flags.configPath;
  if (path === undefined) return { from: "env", env: io.env };
  let text: string;
  try {
    text = await io.readFile(path);
  } catch (error) {
    return new UsageProblem(`--config ${path} cannot be read: ${errorMessage(error)}`);
  }
  let options: unknown;
  try {
    options = JSON.parse(text);
  } catch (error) {
    return new UsageProblem(`--config ${path} is not valid JSON: ${errorMessage(error)}`);
  }
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    return new UsageProblem(
      `--config ${path} must hold a JSON object of the handler's options, and holds ${options === null ? "null" : Array.isArray(options) ? "an array" : `a ${typeof options}`}`,
    );
  }
  return { from: "file", options: options as Record<string, unknown> };
}

/** Whether the configuration itself asks for a dry run, as the handler reads it. */
function dryRunOf(config: ReplayCommandConfig): boolean {
  return config.from === "file" ? config.options.dryRun === true : config.env.CLEANUP_DRY_RUN === "true";
}

/** `CLEANUP_LOG_LEVEL` when it is a level, else warn: a terminal wants problems, not a line per batch. */
function logLevelOf(env: Readonly<Record<string, string | undefined>>): (typeof LOG_LEVELS)[number] {
  const level = LOG_LEVELS.find((name) => name === env.CLEANUP_LOG_LEVEL);
  return level ?? "warn";
}

/** `https://sqs.<region>.amazonaws.com/<account>/<name>`, or the legacy `<region>.queue.amazonaws.com`, read. */
const AWS_QUEUE_URL = /^https:\/\/(?:sqs\.([a-z0-9-]+)|([a-z0-9-]+)\.queue)\.amazonaws\.com(\.cn)?\/(\d{12})\/([^/]+)$/;

function regionOf(queueUrl: string): string | undefined {
  const match = AWS_QUEUE_URL.exec(queueUrl);
  return match === null ? undefined : (match[1] ?? match[2]);
}

/** The queue's ARN, read from an AWS queue URL. */
function queueArnOf(queueUrl: string): string | undefined {
  const match = AWS_QUEUE_URL.exec(queueUrl);
  if (match === null) return undefined;
  const partition = match[3] === undefined ? "aws" : "aws-cn";
  return `arn:${partition}:sqs:${match[1] ?? match[2]}:${match[4]}:${match[5]}`;
}

/** What the run has done so far. */
interface Tally {
  /** Messages received. */
  received: number;
  /** Messages done and deleted from the queue. */
  deletedFromQueue: number;
  /** Messages the handler reported, or could not handle: left for redelivery. */
  left: number;
  /** Messages done in a dry run, left on the queue on purpose. */
  keptByDryRun: number;
  /** Messages done whose delete from the queue failed. */
  deleteFailures: number;
  /** Batches on which the handler threw. */
  handlerErrors: number;
  /**
   * Whether the run deletes nothing: set from the flags and the configuration before anything is
   * received, and by any summary of the handler that says so (the handler has the last word).
   */
  dryRun: boolean;
  /** The handler's summaries, added up. */
  summary: Record<(typeof SUMMARY_COUNTS)[number], number>;
}

/** A run's tally and its output on stderr: the progress line, and log lines that must not garble it. */
interface Run {
  tally: Tally;
  /** Adds one summary of the handler to the tally. */
  add: (summary: ReplayCommandSummary) => void;
  /** Shows the tally: rewrites the progress line on a terminal, else writes a line. */
  progress: () => void;
  /** Writes a log line or a problem above the progress line. */
  writeLogLine: (line: string) => void;
  /** Ends the progress line, before the summary. */
  finish: () => void;
}

function createRun(io: ReplayCommandIo, dryRun: boolean): Run {
  const tally: Tally = {
    received: 0,
    deletedFromQueue: 0,
    left: 0,
    keptByDryRun: 0,
    deleteFailures: 0,
    handlerErrors: 0,
    dryRun,
    summary: Object.fromEntries(SUMMARY_COUNTS.map((name) => [name, 0])) as Tally["summary"],
  };
  let shown = false;
  const line = () => `replay${tally.dryRun ? " (dry run)" : ""}: ${progressText(tally)}`;
  return {
    tally,
    add: (summary) => {
      if (summary.dryRun) tally.dryRun = true;
      for (const name of SUMMARY_COUNTS) tally.summary[name] += summary[name];
    },
    progress: () => {
      if (!io.stderrIsTty) io.stderr(`${line()}\n`);
      else {
        io.stderr(`\r${line()}\x1b[K`);
        shown = true;
      }
    },
    writeLogLine: (text) => {
      if (!shown) io.stderr(`${text}\n`);
      else io.stderr(`\r\x1b[K${text}\n${line()}\x1b[K`);
    },
    finish: () => {
      if (shown) io.stderr("\n");
      shown = false;
    },
  };
}

/** The progress line: messages, records, objects deleted, unreplayable ranges, failures. */
function progressText({ received, deletedFromQueue, left, keptByDryRun, deleteFailures, summary }: Tally): string {
  const done = keptByDryRun > 0 ? `${keptByDryRun} done, kept by the dry run` : `${deletedFromQueue} done`;
  return [
    `${received} messages (${done}, ${left} left${deleteFailures > 0 ? `, ${deleteFailures} not deleted` : ""})`,
    `${summary.records} records`,
    `${summary.deleted} objects deleted`,
    `${summary.unreplayableBatches} unreplayable`,
    `${summary.failed} failed`,
  ].join(", ");
}

type StopReason = "drained" | "held-elsewhere" | "interrupted" | "receive-failed";

interface DrainInput {
  flags: ReplayFlags;
  io: ReplayCommandIo;
  run: Run;
  handler: ReplayCommandHandler;
  sqs: SqsModule;
  client: SqsClientLike;
}

/** Receives and handles batches until the queue is drained, an interrupt, or a ReceiveMessage error. */
async function drain(input: DrainInput): Promise<number> {
  const { flags, io, run } = input;
  const now = io.now ?? Date.now;
  let reason: StopReason | undefined;
  // Aborts the long polls in flight: on an interrupt, or when one of them fails.
  const polls = new AbortController();
  const stop = (why: StopReason) => {
    reason ??= why;
    if (why !== "drained") polls.abort(new Error(`replay stopped: ${why}`));
  };
  let interrupts = 0;
  let exitAtOnce!: (code: number) => void;
  const secondInterrupt = new Promise<number>((resolve) => {
    exitAtOnce = resolve;
  });
  const unsubscribe = (io.onInterrupt ?? processInterrupts)(() => {
    interrupts++;
    if (interrupts === 1) {
      run.writeLogLine("replay: interrupted: finishing the batches in hand (Ctrl-C again to exit at once)");
      stop("interrupted");
    } else {
      run.writeLogLine(
        "replay: interrupted again: exiting; the messages in hand come back after their visibility timeout",
      );
      exitAtOnce(INTERRUPTED_EXIT_CODE);
    }
  });
  io.stderr(
    `replay: receiving from ${flags.queueUrl}, concurrency ${flags.concurrency}, visibility timeout ${flags.visibilityTimeoutSeconds} s${run.tally.dryRun ? ", dry run" : ""}\n`,
  );
  const loop = async () => {
    while (reason === undefined) {
      let messages: Message[];
      try {
        messages = await receive(input, polls.signal);
      } catch (error) {
        if (polls.signal.aborted) return;
        run.writeLogLine(`replay: ReceiveMessage failed: ${errorMessage(error)}`);
        stop("receive-failed");
        return;
      }
      if (messages.length === 0) {
        stop("drained");
        return;
      }
      await handleBatch(input, messages, now);
    }
  };
  try {
    const drained = Promise.all(Array.from({ length: flags.concurrency }, loop)).then(async () => {
      // Every loop ends by setting it.
      const why = reason === "drained" ? await drainedIndeed(input) : (reason as StopReason);
      run.finish();
      io.stdout(summaryText(run.tally, why, flags.visibilityTimeoutSeconds));
      return exitCodeOf(run.tally, why);
    });
    return await Promise.race([drained, secondInterrupt]);
  } finally {
    unsubscribe();
  }
}

/**
 * "held-elsewhere" when the queue, after an empty poll, still holds more messages than this run left
 * in flight: another consumer (the subscribed replay function, say) has them, so the queue is not
 * drained. "drained" when it does not, and when the queue cannot be asked (a note says so).
 */
async function drainedIndeed({ flags, run, sqs, client }: DrainInput): Promise<StopReason> {
  if (run.tally.dryRun) return "drained";
  try {
    const output = (await client.send(
      new sqs.GetQueueAttributesCommand({
        QueueUrl: flags.queueUrl,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
      { abortSignal: AbortSignal.timeout(QUEUE_CHECK_TIMEOUT_MS) },
    )) as { Attributes?: Record<string, string> } | undefined;
    const held =
      Number(output?.Attributes?.ApproximateNumberOfMessages) +
      Number(output?.Attributes?.ApproximateNumberOfMessagesNotVisible);
    if (!Number.isFinite(held)) return "drained";
    if (held <= run.tally.left) return "drained";
    run.writeLogLine(
      `replay: the queue still holds about ${held - run.tally.left} messages this run did not receive: another consumer has them in flight`,
    );
    return "held-elsewhere";
  } catch (error) {
    run.writeLogLine(`replay: could not check that the queue is empty (GetQueueAttributes: ${errorMessage(error)})`);
    return "drained";
  }
}

/** How long the check that the queue is empty may take. */
const QUEUE_CHECK_TIMEOUT_MS = 10_000;

function processInterrupts(listener: () => void): () => void {
  process.on("SIGINT", listener);
  return () => process.off("SIGINT", listener);
}

async function receive({ flags, io, sqs, client }: DrainInput, signal: AbortSignal): Promise<Message[]> {
  const command = new sqs.ReceiveMessageCommand({
    QueueUrl: flags.queueUrl,
    MaxNumberOfMessages: SQS_BATCH_SIZE,
    WaitTimeSeconds: io.waitTimeSeconds ?? WAIT_TIME_SECONDS,
    VisibilityTimeout: flags.visibilityTimeoutSeconds,
    MessageSystemAttributeNames: ["All"],
  });
  const output = (await abortable(client.send(command, sendOptions(signal)), signal)) as ReceiveMessageCommandOutput;
  return output.Messages ?? [];
}

/** Hands one batch to the handler, then deletes from the queue every message it did not report. */
async function handleBatch(input: DrainInput, messages: Message[], now: () => number): Promise<void> {
  const { flags, run, handler } = input;
  const { tally } = run;
  // The visibility timeout started when SQS answered; the handler must be done, and the messages
  // deleted, before it ends, or another receive gets them too.
  const receivedAt = now();
  const budgetMs = flags.visibilityTimeoutSeconds * 1000 - DELETE_RESERVE_MS;
  const context = { getRemainingTimeInMillis: () => Math.max(0, budgetMs - (now() - receivedAt)) };
  const records = messages.map((message) => sqsRecordOf(message, flags.queueUrl));
  tally.received += records.length;
  let reported: Set<string>;
  try {
    const response = await handler({ Records: records }, context);
    if (!Array.isArray(response?.batchItemFailures)) throw new Error("its response has no batchItemFailures list");
    reported = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
  } catch (error) {
    tally.handlerErrors++;
    tally.left += records.length;
    run.writeLogLine(
      `replay: the handler failed on a batch of ${records.length} messages, which stay on the queue: ${errorMessage(error)}`,
    );
    run.progress();
    return;
  }
  const done = records.filter((record) => !reported.has(record.messageId));
  tally.left += records.length - done.length;
  if (tally.dryRun) tally.keptByDryRun += done.length;
  else await deleteMessages(input, done);
  run.progress();
}

/** Lambda's `SQSRecord` for a received message. */
function sqsRecordOf(message: Message, queueUrl: string): ReplayCommandMessage {
  const arn = queueArnOf(queueUrl);
  const region = regionOf(queueUrl);
  return {
    messageId: message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body: message.Body ?? "",
    attributes: { ...message.Attributes },
    ...(message.MD5OfBody === undefined ? {} : { md5OfBody: message.MD5OfBody }),
    eventSource: "aws:sqs",
    ...(arn === undefined ? {} : { eventSourceARN: arn }),
    ...(region === undefined ? {} : { awsRegion: region }),
  };
}

/**
 * Deletes the messages in one request: they come from one ReceiveMessage, so there are at most 10,
 * as many as DeleteMessageBatch takes. A message whose delete fails is counted and named.
 */
async function deleteMessages(input: DrainInput, records: ReplayCommandMessage[]): Promise<void> {
  const { flags, sqs, client, run } = input;
  // SQS refuses a request without entries.
  if (records.length === 0) return;
  // Ids only need to be unique within the request; message ids are, but may be long.
  const entries = records.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle }));
  let failures: Map<string, string>;
  try {
    const output = (await client.send(
      new sqs.DeleteMessageBatchCommand({ QueueUrl: flags.queueUrl, Entries: entries }),
    )) as DeleteMessageBatchCommandOutput;
    const succeeded = new Set((output.Successful ?? []).map((entry) => entry.Id));
    const failed = new Map((output.Failed ?? []).map((entry) => [entry.Id, `${entry.Code}: ${entry.Message}`]));
    failures = new Map(
      entries
        .filter((entry) => !succeeded.has(entry.Id))
        .map((entry) => [entry.Id, failed.get(entry.Id) ?? "SQS answered neither Successful nor Failed for it"]),
    );
  } catch (error) {
    failures = new Map(entries.map((entry) => [entry.Id, `DeleteMessageBatch failed: ${errorMessage(error)}`]));
  }
  run.tally.deletedFromQueue += entries.length - failures.size;
  run.tally.deleteFailures += failures.size;
  for (const [id, why] of failures) {
    const record = records[Number(id)] as ReplayCommandMessage;
    run.writeLogLine(
      `replay: message ${record.messageId} is done but was not deleted from the queue (${why}); it comes back after the visibility timeout`,
    );
  }
}

/** 0 only when the queue was drained and nothing is left undone. */
function exitCodeOf(tally: Tally, reason: StopReason): number {
  const clean = tally.left === 0 && tally.deleteFailures === 0 && tally.handlerErrors === 0;
  return reason === "drained" && clean ? 0 : 1;
}

const OUTCOMES: Readonly<Record<StopReason, string>> = {
  drained: "the queue is drained",
  "held-elsewhere": "the queue is not drained: another consumer holds messages",
  interrupted: "stopped by an interrupt, before the queue was drained",
  "receive-failed": "stopped: ReceiveMessage failed",
};

/** The summary at the end, on stdout. */
function summaryText(tally: Tally, reason: StopReason, visibilityTimeoutSeconds: number): string {
  const { summary, dryRun } = tally;
  const rows: [string, number, string?][] = [
    ["messages received", tally.received],
    dryRun
      ? ["done (dry run: left on the queue)", tally.keptByDryRun]
      : ["done and deleted from the queue", tally.deletedFromQueue],
    ["not done, left on the queue", tally.left, `visible again after ${visibilityTimeoutSeconds} s`],
    ["done, but their delete failed", tally.deleteFailures],
    ["batches replayed", summary.batches],
    ["unreplayable batches", summary.unreplayableBatches, "their ranges can no longer be read: run reconcile"],
    ["unfinished batches", summary.unfinishedBatches],
    ["invalid messages", summary.invalidMessages],
    ["handler errors", tally.handlerErrors],
    ["records", summary.records],
    ["removals", summary.removals],
    [dryRun ? "objects deleted (dry run)" : "objects deleted", summary.deleted],
    ["objects kept: replaced", summary.keptReplaced],
    ["removals kept: re-created", summary.keptRecreated],
    ["objects failed", summary.failed],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = rows.map(
    ([label, count, note]) =>
      `  ${label.padEnd(width)}  ${count}${note !== undefined && count > 0 ? ` (${note})` : ""}`,
  );
  return `Replay ${dryRun ? "dry run " : ""}finished: ${OUTCOMES[reason]}.\n${lines.join("\n")}\n`;
}

/** What the library's two replay factories take, for {@link replayHandlerFactory}. */
export interface ReplayFactories {
  /**
   * `createReplayHandler`: given the `--config` file's options with the command's overrides over
   * them. Typed to take anything (`never`), since a file's JSON is checked by the factory at run
   * time, where a mistake is a ConfigError naming the option.
   */
  fromOptions: (options: never) => ReplayCommandHandler;
  /** `createReplayHandlerFromEnv`: given the variables, and the command's overrides. */
  fromEnv: (
    env: Readonly<Record<string, string | undefined>>,
    overrides: ReplayCommandOverrides,
  ) => ReplayCommandHandler;
}

/**
 * The handler factory of the command, made of the library's factories: the flags override the
 * `--config` file's options, or the `CLEANUP_*` variables.
 *
 * @example
 * ```ts
 * const createHandler = replayHandlerFactory({
 *   fromOptions: createReplayHandler,
 *   fromEnv: createReplayHandlerFromEnv,
 * });
 * ```
 */
export function replayHandlerFactory({ fromOptions, fromEnv }: ReplayFactories): ReplayHandlerFactory {
  return (config, overrides) =>
    config.from === "file" ? fromOptions({ ...config.options, ...overrides } as never) : fromEnv(config.env, overrides);
}
