import {
  DeleteMessageBatchCommand,
  type DeleteMessageBatchCommandInput,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { allCustomMatcher, type BaseMatcher } from "aws-sdk-client-mock-vitest";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../src/errors.js";
import {
  DELETE_RESERVE_MS,
  INTERRUPTED_EXIT_CODE,
  REPLAY_USAGE,
  type ReplayCommandConfig,
  type ReplayCommandContext,
  type ReplayCommandHandler,
  type ReplayCommandIo,
  type ReplayCommandMessage,
  type ReplayCommandOverrides,
  type ReplayCommandSummary,
  replayHandlerFactory,
  runReplayCommand,
} from "../src/replay-cli.js";
import { type Deferred, deferred, settle } from "./fake-clock.js";

expect.extend(allCustomMatcher);

declare module "vitest" {
  // biome-ignore lint/suspicious/noExplicitAny: the type parameter must match vitest's own declaration
  interface Matchers<T = any> extends BaseMatcher<T> {}
}

const sqs = mockClient(SQSClient);

beforeEach(() => {
  sqs.reset();
});

afterAll(() => {
  sqs.restore();
});

const QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/111122223333/documents-cleanup-failures";
const QUEUE_ARN = "arn:aws:sqs:eu-west-1:111122223333:documents-cleanup-failures";
const LOCAL_QUEUE_URL = "http://127.0.0.1:4566/000000000000/documents-cleanup-failures";

/** An on-failure message as SQS returns it: message `n` of the queue. */
function message(n: number): Message {
  return {
    MessageId: `5fea7756-0ea4-451a-a703-${String(n).padStart(12, "0")}`,
    ReceiptHandle: `AQEB-receipt-${n}`,
    Body: JSON.stringify({ version: "1.0", DDBStreamBatchInfo: { shardId: `shardId-${n}` } }),
    MD5OfBody: `md5-${n}`,
    Attributes: { ApproximateReceiveCount: "1", SentTimestamp: "1764667801000" },
  };
}

const idOf = (n: number) => message(n).MessageId as string;
const receiptOf = (n: number) => message(n).ReceiptHandle as string;

/** A summary of a call that replayed every message of `event` as one batch of two records. */
function summaryOf(event: { Records: ReplayCommandMessage[] }, fields: Partial<ReplayCommandSummary> = {}) {
  const count = event.Records.length;
  return {
    dryRun: false,
    batches: count,
    unreplayableBatches: 0,
    unfinishedBatches: 0,
    invalidMessages: 0,
    records: 2 * count,
    removals: count,
    deleted: count,
    failed: 0,
    keptReplaced: 0,
    keptRecreated: 0,
    ...fields,
  } satisfies ReplayCommandSummary;
}

type FakeHandler = (
  event: { Records: ReplayCommandMessage[] },
  context: ReplayCommandContext,
  overrides: ReplayCommandOverrides,
) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;

/** A handler that reports the messages `report` names, with a summary of one record pair per message. */
function reporting(report: (messageId: string) => boolean = () => false): FakeHandler {
  return async (event, _context, overrides) => {
    const reported = event.Records.filter((record) => report(record.messageId));
    overrides.onResult(summaryOf(event, { failed: reported.length, deleted: event.Records.length - reported.length }));
    return { batchItemFailures: reported.map((record) => ({ itemIdentifier: record.messageId })) };
  };
}

interface Harness {
  io: ReplayCommandIo;
  stdout: () => string;
  stderr: () => string;
  /** The stderr writes, one entry each. */
  stderrWrites: string[];
  /** What the handler factory was called with. */
  created: { config: ReplayCommandConfig; overrides: ReplayCommandOverrides }[];
  /** Every event the handler was called with, and its context. */
  calls: { event: { Records: ReplayCommandMessage[] }; context: ReplayCommandContext }[];
  /** Sends Ctrl-C. */
  interrupt: () => void;
  /** Whether the command still listens to interrupts. */
  listening: () => boolean;
  clock: { now: number };
}

function harness(handler: FakeHandler = reporting(), io: Partial<ReplayCommandIo> = {}): Harness {
  const out: string[] = [];
  const err: string[] = [];
  const created: Harness["created"] = [];
  const calls: Harness["calls"] = [];
  const clock = { now: 1_764_667_800_000 };
  let listener: (() => void) | undefined;
  return {
    io: {
      env: {},
      readFile: async (path) => {
        throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: "ENOENT" });
      },
      stdout: (text) => out.push(text),
      stderr: (text) => err.push(text),
      stderrIsTty: false,
      sqsClient: new SQSClient({}),
      createHandler: (config, overrides) => {
        created.push({ config, overrides });
        return (event, context) => {
          calls.push({ event, context });
          return handler(event, context, overrides);
        };
      },
      onInterrupt: (listen) => {
        listener = listen;
        return () => {
          listener = undefined;
        };
      },
      now: () => clock.now,
      ...io,
    },
    stdout: () => out.join(""),
    stderr: () => err.join(""),
    stderrWrites: err,
    created,
    calls,
    interrupt: () => listener?.(),
    listening: () => listener !== undefined,
    clock,
  };
}

/** Makes ReceiveMessage return these batches in turn, then nothing. */
function queueHolds(...batches: number[][]): void {
  let mock = sqs.on(ReceiveMessageCommand);
  for (const batch of batches) mock = mock.resolvesOnce({ Messages: batch.map(message) });
  mock.resolves({});
}

/** Makes DeleteMessageBatch delete every entry. */
function deletesSucceed(): void {
  sqs.on(DeleteMessageBatchCommand).callsFake((input: DeleteMessageBatchCommandInput) => ({
    Successful: (input.Entries ?? []).map((entry) => ({ Id: entry.Id })),
    Failed: [],
  }));
}

/** The receipt handles of every DeleteMessageBatch call, one list per call. */
function deletedReceipts(): string[][] {
  return sqs
    .commandCalls(DeleteMessageBatchCommand)
    .map((call) => (call.args[0].input.Entries ?? []).map((entry) => entry.ReceiptHandle as string));
}

describe("runReplayCommand: usage", () => {
  it.each([
    [[], "--queue-url is required"],
    [["--queue-url"], "Option '--queue-url <value>' argument missing"],
    [["--queue-url", "documents-cleanup-failures"], "--queue-url must be the URL of an SQS queue"],
    [["--queue-url", "ftp://example.com/q"], "--queue-url must be the URL of an SQS queue"],
    [["--queue-url", QUEUE_URL, "--concurrency", "0"], "--concurrency must be an integer from 1 to 10"],
    [["--queue-url", QUEUE_URL, "--concurrency", "11"], "--concurrency must be an integer from 1 to 10"],
    [["--queue-url", QUEUE_URL, "--concurrency", "1.5"], "--concurrency must be an integer from 1 to 10"],
    [
      ["--queue-url", QUEUE_URL, "--visibility-timeout", "9"],
      "--visibility-timeout must be an integer from 10 to 43200",
    ],
    [
      ["--queue-url", QUEUE_URL, "--visibility-timeout", "43201"],
      "--visibility-timeout must be an integer from 10 to 43200",
    ],
    [
      ["--queue-url", QUEUE_URL, "--visibility-timeout", ""],
      "--visibility-timeout must be an integer from 10 to 43200",
    ],
    [["--queue-url", QUEUE_URL, "--queue-name", "q"], "Unknown option '--queue-name'"],
    [["--queue-url", QUEUE_URL, "drain"], "Unexpected argument 'drain'"],
    [["--queue-url", QUEUE_URL, "--dry-run=yes"], "Option '--dry-run' does not take an argument"],
  ])("rejects %j with a message naming the flag, the usage and exit code 2", async (argv, problem) => {
    const run = harness();
    expect(await runReplayCommand(argv, run.io)).toBe(2);
    expect(run.stderr().startsWith(`replay: ${problem}`)).toBe(true);
    expect(run.stderr()).toContain(REPLAY_USAGE);
    expect(run.created).toEqual([]);
    expect(sqs.calls()).toEqual([]);
  });

  it.each([["--help"], ["-h"], ["--queue-url", QUEUE_URL, "--help"]])(
    "prints the usage on stdout for %j and exits with 0",
    async (...argv) => {
      const run = harness();
      expect(await runReplayCommand(argv, run.io)).toBe(0);
      expect(run.stdout()).toBe(REPLAY_USAGE);
      expect(run.stderr()).toBe("");
      expect(sqs.calls()).toEqual([]);
    },
  );
});

describe("runReplayCommand: configuration", () => {
  it("takes the CLEANUP_* variables without --config", async () => {
    queueHolds();
    const env = { CLEANUP_BUCKET: "documents", CLEANUP_KEY: "{documentId}.pdf" };
    const run = harness(reporting(), { env });
    expect(await runReplayCommand(["--queue-url", QUEUE_URL], run.io)).toBe(0);
    expect(run.created).toHaveLength(1);
    expect(run.created[0]?.config).toEqual({ from: "env", env });
    expect(run.created[0]?.overrides).not.toHaveProperty("dryRun");
  });

  it("takes the --config file's object, and ignores the variables then, saying so", async () => {
    queueHolds();
    const files: Record<string, string> = {
      "replay.json": JSON.stringify({ bucket: "documents", key: "{documentId}.pdf", allowedPrefixes: ["docs/"] }),
    };
    const run = harness(reporting(), {
      env: { CLEANUP_BUCKET: "other", PATH: "/usr/bin" },
      readFile: async (path) => files[path] as string,
    });
    expect(await runReplayCommand(["--queue-url", QUEUE_URL, "--config", "replay.json"], run.io)).toBe(0);
    expect(run.created[0]?.config).toEqual({
      from: "file",
      options: { bucket: "documents", key: "{documentId}.pdf", allowedPrefixes: ["docs/"] },
    });
    expect(run.stderr()).toContain("replay: the CLEANUP_* variables are ignored: --config is given\n");
  });

  it("says nothing of the variables when none is set", async () => {
    queueHolds();
    const run = harness(reporting(), { env: { PATH: "/usr/bin" }, readFile: async () => "{}" });
    await runReplayCommand(["--queue-url", QUEUE_URL, "--config", "replay.json"], run.io);
    expect(run.stderr()).not.toContain("ignored");
  });

  it("sets dryRun over the configuration with --dry-run", async () => {
    queueHolds();
    const run = harness();
    await runReplayCommand(["--queue-url", QUEUE_URL, "--dry-run"], run.io);
    expect(run.created[0]?.overrides.dryRun).toBe(true);
  });

  it.each([
    ["cannot be read", undefined, "--config replay.json cannot be read: ENOENT: no such file or directory"],
    ["is not JSON", "{ bucket: documents }", "--config replay.json is not valid JSON: "],
    [
      "holds an array",
      '["documents"]',
      "--config replay.json must hold a JSON object of the handler's options, and holds an array",
    ],
    ["holds null", "null", "and holds null"],
    ["holds a string", '"documents"', "and holds a string"],
  ])("exits with 2 when the --config file %s", async (_, text, problem) => {
    const run = harness(reporting(), text === undefined ? {} : { readFile: async () => text });
    expect(await runReplayCommand(["--queue-url", QUEUE_URL, "--config", "replay.json"], run.io)).toBe(2);
    expect(run.stderr()).toContain(problem);
    expect(run.stderr()).toContain(REPLAY_USAGE);
    expect(run.created).toEqual([]);
    expect(sqs.calls()).toEqual([]);
  });

  it("shows a ConfigError of the factory and exits with 2, before any receive", async () => {
    const run = harness(reporting(), {
      createHandler: () => {
        throw new ConfigError([{ path: "CLEANUP_BUCKET", message: "is required" }]);
      },
    });
    expect(await runReplayCommand(["--queue-url", QUEUE_URL], run.io)).toBe(2);
    expect(run.stderr()).toBe("replay: Invalid dynamodb-s3-cleanup options:\n  - `CLEANUP_BUCKET`: is required\n");
    expect(sqs.calls()).toEqual([]);
  });

  it("lets any other error of the factory through", async () => {
    const failure = new TypeError("a bug");
    const run = harness(reporting(), {
      createHandler: () => {
        throw failure;
      },
    });
    await expect(runReplayCommand(["--queue-url", QUEUE_URL], run.io)).rejects.toBe(failure);
  });

  it("exits with 2 and says what to install when @aws-sdk/client-sqs cannot be loaded", async () => {
    const run = harness(reporting(), {
      importSqs: () => Promise.reject(new Error("Cannot find package '@aws-sdk/client-sqs'")),
    });
    expect(await runReplayCommand(["--queue-url", QUEUE_URL], run.io)).toBe(2);
    expect(run.stderr()).toBe(
      "replay: the replay command needs @aws-sdk/client-sqs (npm install @aws-sdk/client-sqs): Cannot find package '@aws-sdk/client-sqs'\n",
    );
  });
});

describe("replayHandlerFactory", () => {
  const handler: ReplayCommandHandler = async () => ({ batchItemFailures: [] });
  const logger = { debug() {}, info() {}, warn() {}, error() {} };
  const onResult = () => {};

  it("puts the flags over the --config file's options", () => {
    const given: Record<string, unknown>[] = [];
    const factory = replayHandlerFactory({
      fromOptions: (options: Record<string, unknown>) => {
        given.push(options);
        return handler;
      },
      fromEnv: () => {
        throw new Error("not from the environment");
      },
    });
    const options = { bucket: "documents", dryRun: false, logger: "ignored" };
    expect(factory({ from: "file", options }, { dryRun: true, logger, onResult })).toBe(handler);
    expect(factory({ from: "file", options }, { logger, onResult })).toBe(handler);
    expect(given).toEqual([
      { bucket: "documents", dryRun: true, logger, onResult },
      { bucket: "documents", dryRun: false, logger, onResult },
    ]);
  });

  it("hands the variables and the flags to the environment's factory, which puts the flags over them", () => {
    const given: unknown[] = [];
    const factory = replayHandlerFactory({
      fromOptions: () => {
        throw new Error("not from a file");
      },
      fromEnv: (env, overrides) => {
        given.push(env, overrides);
        return handler;
      },
    });
    const env = { CLEANUP_DRY_RUN: "false" };
    expect(factory({ from: "env", env }, { dryRun: true, logger, onResult })).toBe(handler);
    expect(given).toEqual([env, { dryRun: true, logger, onResult }]);
  });
});

describe("runReplayCommand: draining the queue", () => {
  it("hands each received batch to the handler as an SQS event, until a long poll returns nothing", async () => {
    queueHolds([1, 2], [3]);
    deletesSucceed();
    const run = harness();
    expect(await runReplayCommand(["--queue-url", QUEUE_URL, "--concurrency", "1"], run.io)).toBe(0);
    expect(run.calls.map((call) => call.event.Records.map((record) => record.messageId))).toEqual([
      [idOf(1), idOf(2)],
      [idOf(3)],
    ]);
    expect(run.calls[0]?.event.Records[0]).toEqual({
      messageId: idOf(1),
      receiptHandle: receiptOf(1),
      body: message(1).Body,
      attributes: { ApproximateReceiveCount: "1", SentTimestamp: "1764667801000" },
      md5OfBody: "md5-1",
      eventSource: "aws:sqs",
      eventSourceARN: QUEUE_ARN,
      awsRegion: "eu-west-1",
    });
    expect(sqs).toHaveReceivedCommandTimes(ReceiveMessageCommand, 3);
    expect(sqs).toHaveReceivedNthCommandWith(ReceiveMessageCommand, 1, {
      QueueUrl: QUEUE_URL,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 20,
      VisibilityTimeout: 300,
      MessageSystemAttributeNames: ["All"],
    });
    expect(deletedReceipts()).toEqual([[receiptOf(1), receiptOf(2)], [receiptOf(3)]]);
    expect(sqs).toHaveReceivedCommandWith(DeleteMessageBatchCommand, { QueueUrl: QUEUE_URL });
  });

  it("leaves the messages the handler reports, and exits with 1", async () => {
    queueHolds([1, 2, 3], [4]);
    deletesSucceed();
    const run = harness(reporting((id) => id === idOf(2) || id === idOf(4)));
    expect(await runReplayCommand(["--queue-url", QUEUE_URL, "--concurrency", "1"], run.io)).toBe(1);
    expect(deletedReceipts()).toEqual([[receiptOf(1), receiptOf(3)]]);
    expect(run.stdout()).toMatch(/not done, left on the queue +2 \(visible again after 300 s\)/);
  });

  it("waits as long as io.waitTimeSeconds says in each long poll", async () => {
    queueHolds();
    const run = harness(reporting(), { waitTimeSeconds: 1 });
    await runReplayCommand(["--queue-url", QUEUE_URL], run.io);
    expect(sqs).toHaveReceivedCommandWith(ReceiveMessageCommand, { WaitTimeSeconds: 1 });
  });

  it("passes --visibility-timeout to ReceiveMessage", async () => {
    queueHolds();
    const run = harness();
    await runReplayCommand(["--queue-url", QUEUE_URL, "--visibility-timeout", "900"], run.io);
    expect(sqs).toHaveReceivedCommandWith(ReceiveMessageCommand, { VisibilityTimeout: 900 });
  });

  it("counts the handler's time down from the visibility timeout, less the time to delete", async () => {
    queueHolds([1]);
    deletesSucceed();
    const remaining: number[] = [];
    const run = harness(async (event, context, overrides) => {
      remaining.push(context.getRemainingTimeInMillis());
      run.clock.now += 40_000;
      remaining.push(context.getRemainingTimeInMillis());
      run.clock.now += 20_000;
      remaining.push(context.getRemainingTimeInMillis());
      return reporting()(event, context, overrides);
    });
    await runReplayCommand(["--queue-url", QUEUE_URL, "--visibility-timeout", "60"], run.io);
    expect(remaining).toEqual([60_000 - DELETE_RESERVE_MS, 20_000 - DELETE_RESERVE_MS, 0]);
  });

  it("counts the time down on the system clock by default", async () => {
    queueHolds([1]);
    deletesSucceed();
    const remaining: number[] = [];
    const run = harness(
      async (event, context, overrides) => {
        remaining.push(context.getRemainingTimeInMillis());
        return reporting()(event, context, overrides);
      },
      { now: undefined },
    );
    await runReplayCommand(["--queue-url", QUEUE_URL, "--visibility-timeout", "60"], run.io);
    // Only an upper bound and a generous lower one: the system clock moves while the test runs.
    expect(remaining[0]).toBeLessThanOrEqual(60_000 - DELETE_RESERVE_MS);
    expect(remaining[0]).toBeGreaterThan(0);
  });

  it("gives no queue ARN or Region for a queue URL that is not AWS's", async () => {
    queueHolds([1]);
    deletesSucceed();
    const run = harness();
    await runReplayCommand(["--queue-url", LOCAL_QUEUE_URL], run.io);
    const record = run.calls[0]?.event.Records[0];
    expect(record).not.toHaveProperty("eventSourceARN");
    expect(record).not.toHaveProperty("awsRegion");
  });

  it.each([
    ["https://eu-west-1.queue.amazonaws.com/111122223333/failures", "arn:aws:sqs:eu-west-1:111122223333:failures"],
    [
      "https://sqs.cn-north-1.amazonaws.com.cn/111122223333/failures",
      "arn:aws-cn:sqs:cn-north-1:111122223333:failures",
    ],
  ])("reads the queue ARN from %s", async (queueUrl, arn) => {
    queueHolds([1]);
    deletesSucceed();
    const run = harness();
    await runReplayCommand(["--queue-url", queueUrl], run.io);
    expect(run.calls[0]?.event.Records[0]?.eventSourceARN).toBe(arn);
  });

  it("fills what a message lacks with empty strings and no md5OfBody", async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [{}] })
      .resolves({});
    deletesSucceed();
    const run = harness();
    await runReplayCommand(["--queue-url", QUEUE_URL], run.io);
    expect(run.calls[0]?.event.Records[0]).toEqual({
      messageId: "",
      receiptHandle: "",
      body: "",
      attributes: {},
      eventSource: "aws:sqs",
      eventSourceARN: QUEUE_ARN,
      awsRegion: "eu-west-1",
    });
  });

  it("creates an SQS client in the queue URL's Region when none is given, and destroys it at the end", async () => {
    queueHolds();
    const run = harness(reporting(), { sqsClient: undefined });
    expect(await runReplayCommand(["--queue-url", QUEUE_URL], run.io)).toBe(0);
    const client = sqs.call(0).thisValue as SQSClient;
    expect(await client.config.region()).toBe("eu-west-1");
  });

  it("creates an SQS client in the default Region for a queue URL that names none", async () => {
    queueHolds();
    const run = harness(reporting(), { sqsClient: undefined });
    await runReplayCommand(["--queue-url", LOCAL_QUEUE_URL], run.io);
    const client = sqs.call(0).thisValue as SQSClient;
    expect(await client.config.region()).toBe(process.env.AWS_REGION);
  });

  it("deletes nothing from the queue in a dry run set by --dry-run, the --config file or CLEANUP_DRY_RUN", async () => {
    for (const [argv, io] of [
      [["--dry-run"], {}],
      [["--config", "replay.json"], { readFile: async () => '{ "dryRun": true }' }],
      [[], { env: { CLEANUP_DRY_RUN: "true" } }],
    ] as const) {
      sqs.reset();
      queueHolds([1, 2]);
      deletesSucceed();
      const run = harness(reporting(), io);
      expect(await runReplayCommand(["--queue-url", QUEUE_URL, ...argv], run.io)).toBe(0);
      expect(run.calls).toHaveLength(1);
      expect(sqs).not.toHaveReceivedCommand(DeleteMessageBatchCommand);
      expect(run.stdout()).toMatch(/^Replay dry run finished: the queue is drained\.\n/);
      expect(run.stdout()).toMatch(/done \(dry run: left on the queue\) +2\n/);
    }
  });

  it("deletes no message once a summary of the handler says it ran dry", async () => {
    queueHolds([1], [2]);
    deletesSucceed();
    const run = harness(async (event, _context, overrides) => {
      overrides.onResult(summaryOf(event, { dryRun: true }));
      return { batchItemFailures: [] };
    });
    expect(await runReplayCommand(["--queue-url", QUEUE_URL, "--concurrency", "1"], run.io)).toBe(0);
    expect(run.calls).toHaveLength(2);
    expect(sqs).not.toHaveReceivedCommand(DeleteMessageBatchCommand);
    expect(run.stdout()).toMatch(/done \(dry run: left on the queue\) +2\n/);
  });

  it("still deletes with dryRun false in the configuration", async () => {
    queueHolds([1]);
    deletesSucceed();
    const run = harness(reporting(), { env: { CLEANUP_DRY_RUN: "false" } });
    await runReplayCommand(["--queue-url", QUEUE_URL], run.io);
    expect(deletedReceipts()).toEqual([[receiptOf(1)]]);
  });
});

describe("runReplayCommand: failures", () => {
  it("reports a message whose delete SQS refused, and exits with 1", async () => {
    queueHolds([1, 2, 3]);
    sqs.on(DeleteMessageBatchCommand).resolves({
      Successful: [{ Id: "0" }, { Id: "2" }],
      Failed: [
        { Id: "1", Code: "ReceiptHandleIsInvalid", SenderFault: true, Message: "The receipt handle has expired" },
      ],
    });
    const run = harness();
    expect(await runReplayCommand(["--queue-url", QUEUE_URL], run.io)).toBe(1);
    expect(run.stderr()).toContain(
      `replay: message ${idOf(2)} is done but was not deleted from the queue (ReceiptHandleIsInvalid: The receipt handle has expired); it comes back after the visibility timeout\n`,
    );
    expect(run.stdout()).toMatch(/done and deleted from the queue +2\n/);
    expect(run.stdout()).toMatch(/done, but their delete failed +1\n/);
  });

  it("counts an entry that SQS answers neither way as not deleted", async () => {
    queueHolds([1, 2]);
    sqs.on(DeleteMessageBatchCommand).resolves({ Successful: [{ Id: "0" }] });
    const run = harness();
    expect(await runReplayCommand(["--queue-url", QUEUE_URL], run.io)).toBe(1);
    expect(run.stderr()).toContain(
      `message ${idOf(2)} is done but was not deleted from the queue (SQS answered neither`,
    );
  });

  it("counts every message of a DeleteMessageBatch that fails as not deleted", async () => {
    queueHolds([1, 2]);
    sqs.on(DeleteMessageBatchCommand).rejects(new Error("socket hang up"));
    const run = harness();
    expect(await runReplayCommand(["--queue-url", QUEUE_URL], run.io)).toBe(1);
    for (const n of [1, 2]) {
      expect(run.stderr()).toContain(
        `message ${idOf(n)} is done but was not deleted from the queue (DeleteMessageBatch failed: socket hang up)`,
      );
    }
    expect(run.stdout()).toMatch(/done, but their delete failed +2\n/);
  });

  it("leaves a batch on which the handler throws, goes on, and exits with 1", async () => {
    queueHolds([1], [2]);
    deletesSucceed();
    let calls = 0;
    const run = harness(async (event, context, overrides) => {
      if (calls++ === 0) throw new Error("stream client exploded");
      return reporting()(event, context, overrides);
    });
    expect(await runReplayCommand(["--queue-url", QUEUE_URL, "--concurrency", "1"], run.io)).toBe(1);
    expect(run.stderr()).toContain(
      "replay: the handler failed on a batch of 1 messages, which stay on the queue: stream client exploded\n",
    );
    expect(deletedReceipts()).toEqual([[receiptOf(2)]]);
    expect(run.stdout()).toMatch(/handler errors +1\n/);
  });

  it("is not drained while another consumer holds messages: exit 1, and says so", async () => {
    queueHolds([1]);
    deletesSucceed();
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: "0", ApproximateNumberOfMessagesNotVisible: "3" },
    });
    const run = harness();

    expect(await runReplayCommand(["--queue-url", QUEUE_URL], run.io)).toBe(1);

    expect(run.stderr()).toContain("the queue still holds about 3 messages this run did not receive");
    expect(run.stdout()).toMatch(/^Replay finished: the queue is not drained: another consumer holds messages\./);
  });

  it("counts the messages it left itself as its own when it checks the queue", async () => {
    queueHolds([1]);
    deletesSucceed();
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: "0", ApproximateNumberOfMessagesNotVisible: "1" },
    });
    const run = harness(reporting(() => true));

    expect(await runReplayCommand(["--queue-url", QUEUE_URL], run.io)).toBe(1);

    expect(run.stdout()).toMatch(/^Replay finished: the queue is drained\./);
  });

  it("says so, and stays drained, when it cannot check the queue", async () => {
    queueHolds([1]);
    deletesSucceed();
    sqs.on(GetQueueAttributesCommand).rejects(new Error("Access denied"));
    const run = harness();

    expect(await runReplayCommand(["--queue-url", QUEUE_URL], run.io)).toBe(0);

    expect(run.stderr()).toContain("could not check that the queue is empty (GetQueueAttributes: Access denied)");
  });

  it("names what the handler throws when it is no Error", async () => {
    queueHolds([1]);
    const run = harness(() => Promise.reject("stream gone"));
    expect(await runReplayCommand(["--queue-url", QUEUE_URL], run.io)).toBe(1);
    expect(run.stderr()).toContain("which stay on the queue: a string\n");
  });

  it("treats a response without batchItemFailures as a handler failure", async () => {
    queueHolds([1]);
    const run = harness(async () => ({}) as { batchItemFailures: [] });
    expect(await runReplayCommand(["--queue-url", QUEUE_URL], run.io)).toBe(1);
    expect(run.stderr()).toContain("its response has no batchItemFailures list");
    expect(sqs).not.toHaveReceivedCommand(DeleteMessageBatchCommand);
  });

  it("stops when ReceiveMessage fails, and exits with 1", async () => {
    sqs.on(ReceiveMessageCommand).rejects(new Error("The specified queue does not exist."));
    const run = harness();
    expect(await runReplayCommand(["--queue-url", QUEUE_URL], run.io)).toBe(1);
    expect(run.stderr()).toContain("replay: ReceiveMessage failed: The specified queue does not exist.\n");
    expect(run.stdout()).toMatch(/^Replay finished: stopped: ReceiveMessage failed\.\n/);
    expect(run.calls).toEqual([]);
  });

  it("exits with 1 when the queue drained but a batch could not be replayed", async () => {
    queueHolds([1]);
    deletesSucceed();
    const run = harness(async (event, _context, overrides) => {
      overrides.onResult(summaryOf(event, { batches: 0, unreplayableBatches: 1, deleted: 0 }));
      return { batchItemFailures: [{ itemIdentifier: idOf(1) }] };
    });
    expect(await runReplayCommand(["--queue-url", QUEUE_URL], run.io)).toBe(1);
    expect(run.stdout()).toMatch(/unreplayable batches +1 \(their ranges can no longer be read: run reconcile\)\n/);
  });
});

describe("runReplayCommand: concurrency", () => {
  /** A queue of `count` messages, one a receive, and a handler that waits until the test releases it. */
  async function heldBatches(concurrency: string, count: number) {
    let next = 0;
    sqs.on(ReceiveMessageCommand).callsFake(async () => {
      next++;
      return next <= count ? { Messages: [message(next)] } : {};
    });
    deletesSucceed();
    const held: Deferred<void>[] = [];
    const state = { inFlight: 0, maxInFlight: 0 };
    const run = harness(async (event, context, overrides) => {
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      const release = deferred<void>();
      held.push(release);
      await release.promise;
      state.inFlight--;
      return reporting()(event, context, overrides);
    });
    const code = runReplayCommand(["--queue-url", QUEUE_URL, "--concurrency", concurrency], run.io);
    await settle();
    return { run, held, state, code };
  }

  it.each([
    ["1", 1],
    ["2", 2],
    ["3", 3],
  ])("never runs more than --concurrency %s handler calls at once", async (concurrency, max) => {
    const { held, state, code, run } = await heldBatches(concurrency, 7);
    expect(state.inFlight).toBe(max);
    for (let released = 0; released < held.length; released++) {
      held[released]?.resolve();
      await settle();
      expect(state.inFlight).toBeLessThanOrEqual(max);
    }
    expect(await code).toBe(0);
    expect(state.maxInFlight).toBe(max);
    expect(run.calls).toHaveLength(7);
    expect(deletedReceipts().flat().sort()).toEqual([1, 2, 3, 4, 5, 6, 7].map(receiptOf).sort());
  });

  it("runs 2 at once by default", async () => {
    const { held, state, code } = await heldBatches("2", 3);
    expect(state.inFlight).toBe(2);
    for (let released = 0; released < held.length; released++) {
      held[released]?.resolve();
      await settle();
    }
    await code;
    expect(state.maxInFlight).toBe(2);
  });

  it("stops receiving once a long poll returns nothing, and finishes the batches in hand", async () => {
    const { held, state, code, run } = await heldBatches("3", 2);
    // Two loops hold a batch; the third found the queue empty.
    expect(state.inFlight).toBe(2);
    const receives = sqs.commandCalls(ReceiveMessageCommand).length;
    held[0]?.resolve();
    held[1]?.resolve();
    expect(await code).toBe(0);
    expect(sqs.commandCalls(ReceiveMessageCommand)).toHaveLength(receives);
    expect(run.stdout()).toMatch(/^Replay finished: the queue is drained\./);
  });
});

describe("runReplayCommand: progress and summary", () => {
  it("writes one progress line per handled batch on stderr when it is no terminal", async () => {
    queueHolds([1, 2], [3]);
    deletesSucceed();
    const run = harness(reporting((id) => id === idOf(3)));
    await runReplayCommand(["--queue-url", QUEUE_URL, "--concurrency", "1"], run.io);
    expect(run.stderr()).toBe(
      [
        `replay: receiving from ${QUEUE_URL}, concurrency 1, visibility timeout 300 s`,
        "replay: 2 messages (2 done, 0 left), 4 records, 2 objects deleted, 0 unreplayable, 0 failed",
        "replay: 3 messages (2 done, 1 left), 6 records, 2 objects deleted, 0 unreplayable, 1 failed",
        "",
      ].join("\n"),
    );
  });

  it("names the messages not deleted and the dry run in the progress line", async () => {
    queueHolds([1]);
    sqs.on(DeleteMessageBatchCommand).resolves({ Failed: [{ Id: "0", Code: "InternalError", SenderFault: false }] });
    const run = harness();
    await runReplayCommand(["--queue-url", QUEUE_URL], run.io);
    expect(run.stderr()).toContain("replay: 1 messages (0 done, 0 left, 1 not deleted), 2 records");
    sqs.reset();
    queueHolds([1]);
    const dry = harness();
    await runReplayCommand(["--queue-url", QUEUE_URL, "--dry-run"], dry.io);
    expect(dry.stderr()).toContain(", dry run\n");
    expect(dry.stderr()).toContain("replay (dry run): 1 messages (1 done, kept by the dry run, 0 left), 2 records");
  });

  it("rewrites one progress line on a terminal, and ends it before the summary", async () => {
    queueHolds([1], [2]);
    deletesSucceed();
    const run = harness(reporting(), { stderrIsTty: true });
    await runReplayCommand(["--queue-url", QUEUE_URL, "--concurrency", "1"], run.io);
    expect(run.stderrWrites.slice(1)).toEqual([
      "\rreplay: 1 messages (1 done, 0 left), 2 records, 1 objects deleted, 0 unreplayable, 0 failed\x1b[K",
      "\rreplay: 2 messages (2 done, 0 left), 4 records, 2 objects deleted, 0 unreplayable, 0 failed\x1b[K",
      "\n",
    ]);
  });

  it("writes log lines as JSON on stderr above the progress line, at warn unless CLEANUP_LOG_LEVEL says", async () => {
    queueHolds([1], [2]);
    deletesSucceed();
    const run = harness(
      async (event, context, overrides) => {
        overrides.logger.info("replayed a batch", { messages: event.Records.length });
        overrides.logger.error("range trimmed", { shardId: "shardId-1" });
        return reporting()(event, context, overrides);
      },
      { stderrIsTty: true },
    );
    await runReplayCommand(["--queue-url", QUEUE_URL, "--concurrency", "1"], run.io);
    const [first, , second] = run.stderrWrites.slice(1);
    expect(first).toMatch(/^\{"level":"ERROR","message":"range trimmed",.*"shardId":"shardId-1"\}\n$/);
    // The line written while the second batch is in hand: the progress line is cleared, then redrawn.
    expect(second?.startsWith('\r\x1b[K{"level":"ERROR","message":"range trimmed"')).toBe(true);
    expect(
      second?.endsWith(
        '"}\nreplay: 2 messages (1 done, 0 left), 2 records, 1 objects deleted, 0 unreplayable, 0 failed\x1b[K',
      ),
    ).toBe(true);
    expect(run.stderr()).not.toContain("replayed a batch");

    sqs.reset();
    queueHolds([1]);
    deletesSucceed();
    const verbose = harness(
      async (event, context, overrides) => {
        overrides.logger.debug("read a page", {});
        return reporting()(event, context, overrides);
      },
      { env: { CLEANUP_LOG_LEVEL: "debug" } },
    );
    await runReplayCommand(["--queue-url", QUEUE_URL], verbose.io);
    expect(verbose.stderr()).toContain('"level":"DEBUG","message":"read a page"');
  });

  it("adds up the handler's summaries in the summary on stdout", async () => {
    queueHolds([1, 2], [3]);
    deletesSucceed();
    let calls = 0;
    const run = harness(async (event, _context, overrides) => {
      overrides.onResult(
        calls++ === 0
          ? summaryOf(event, { keptReplaced: 1, keptRecreated: 2, invalidMessages: 1, unfinishedBatches: 1 })
          : summaryOf(event, { records: 5, removals: 4, deleted: 3 }),
      );
      return { batchItemFailures: [] };
    });
    expect(await runReplayCommand(["--queue-url", QUEUE_URL, "--concurrency", "1"], run.io)).toBe(0);
    expect(run.stdout()).toBe(
      [
        "Replay finished: the queue is drained.",
        "  messages received                3",
        "  done and deleted from the queue  3",
        "  not done, left on the queue      0",
        "  done, but their delete failed    0",
        "  batches replayed                 3",
        "  unreplayable batches             0",
        "  unfinished batches               1",
        "  invalid messages                 1",
        "  handler errors                   0",
        "  records                          9",
        "  removals                         6",
        "  objects deleted                  5",
        "  objects kept: replaced           1",
        "  removals kept: re-created        2",
        "  objects failed                   0",
        "",
      ].join("\n"),
    );
  });

  it("says the objects were not deleted in a dry run", async () => {
    queueHolds([1]);
    const run = harness();
    await runReplayCommand(["--queue-url", QUEUE_URL, "--dry-run"], run.io);
    expect(run.stdout()).toMatch(/objects deleted \(dry run\) +1\n/);
  });
});

describe("runReplayCommand: interrupts", () => {
  it("finishes the batches in hand at the first interrupt, receives no more, and exits with 1", async () => {
    sqs.on(ReceiveMessageCommand).resolves({ Messages: [message(1)] });
    deletesSucceed();
    const release = deferred<void>();
    const run = harness(async (event, context, overrides) => {
      await release.promise;
      return reporting()(event, context, overrides);
    });
    const code = runReplayCommand(["--queue-url", QUEUE_URL, "--concurrency", "1"], run.io);
    await settle();
    run.interrupt();
    expect(run.stderr()).toContain(
      "replay: interrupted: finishing the batches in hand (Ctrl-C again to exit at once)\n",
    );
    release.resolve();
    expect(await code).toBe(1);
    expect(sqs).toHaveReceivedCommandTimes(ReceiveMessageCommand, 1);
    expect(deletedReceipts()).toEqual([[receiptOf(1)]]);
    expect(run.stdout()).toMatch(/^Replay finished: stopped by an interrupt, before the queue was drained\.\n/);
    expect(run.listening()).toBe(false);
  });

  it("abandons the long polls in flight at the first interrupt", async () => {
    sqs.on(ReceiveMessageCommand).callsFake(() => new Promise(() => {}));
    const run = harness();
    const code = runReplayCommand(["--queue-url", QUEUE_URL, "--concurrency", "2"], run.io);
    await settle();
    expect(sqs).toHaveReceivedCommandTimes(ReceiveMessageCommand, 2);
    const signals = sqs
      .calls()
      .map((call) => ((call.args as unknown[])[1] as { abortSignal?: AbortSignal }).abortSignal);
    run.interrupt();
    expect(await code).toBe(1);
    expect(signals.map((signal) => signal?.aborted)).toEqual([true, true]);
    expect(run.calls).toEqual([]);
    expect(run.stderr()).not.toContain("ReceiveMessage failed");
  });

  it("returns 130 at once at the second interrupt, without waiting for the batches in hand", async () => {
    sqs.on(ReceiveMessageCommand).resolves({ Messages: [message(1)] });
    deletesSucceed();
    const run = harness(() => new Promise(() => {}));
    const code = runReplayCommand(["--queue-url", QUEUE_URL], run.io);
    await settle();
    run.interrupt();
    run.interrupt();
    expect(await code).toBe(INTERRUPTED_EXIT_CODE);
    expect(run.stderr()).toContain(
      "replay: interrupted again: exiting; the messages in hand come back after their visibility timeout\n",
    );
    expect(sqs).not.toHaveReceivedCommand(DeleteMessageBatchCommand);
    expect(run.listening()).toBe(false);
  });

  it("listens to SIGINT of the process by default, and stops listening at the end", async () => {
    queueHolds([1]);
    deletesSucceed();
    const release = deferred<void>();
    const before = process.listenerCount("SIGINT");
    const run = harness(
      async (event, context, overrides) => {
        await release.promise;
        return reporting()(event, context, overrides);
      },
      { onInterrupt: undefined },
    );
    const code = runReplayCommand(["--queue-url", QUEUE_URL], run.io);
    await settle();
    expect(process.listenerCount("SIGINT")).toBe(before + 1);
    release.resolve();
    expect(await code).toBe(0);
    expect(process.listenerCount("SIGINT")).toBe(before);
  });
});
