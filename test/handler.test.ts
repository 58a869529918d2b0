import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  type DeleteObjectsCommandInput,
  type DeleteObjectsCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandInput,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandInput,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { allCustomMatcher } from "aws-sdk-client-mock-vitest";
import type {} from "aws-sdk-client-mock-vitest/extend";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CONTENT_MD5_MIDDLEWARE } from "../src/content-md5.js";
import {
  type AttributeValue,
  type CleanupContext,
  type CleanupOptions,
  type CleanupSummary,
  type CommonCleanupOptions,
  ConfigError,
  createCleanupHandler,
  InvalidEventError,
  InvalidRecordError,
  isConfigError,
  type KeyFunction,
  type KeySpec,
  type Logger,
  type ObjectTarget,
  type StreamEvent,
  type StreamRecord,
} from "../src/index.js";
import { SEND_RATE_MIDDLEWARE } from "../src/s3-requests.js";
import { kinesisEvent, pipesEvent } from "../src/testing/index.js";
import { createRecordFactory, productKeys, recordingLogger, streamEvent, withoutSequenceNumber } from "./factories.js";
import { createFakeClock, deferred, settle } from "./fake-clock.js";

expect.extend(allCustomMatcher);

const BUCKET = "product-images";
const TEMPLATE = "images/{productId}.png";
const START = 1_800_000_000_000;

const s3 = mockClient(S3Client);

beforeEach(() => {
  s3.reset();
  s3.on(DeleteObjectsCommand).resolves({});
  // The summary's duration is read from Date.now: frozen, unless a test moves it.
  vi.useFakeTimers({ toFake: ["Date"], now: START });
});

afterEach(() => {
  vi.useRealTimers();
});

afterAll(() => {
  s3.restore();
});

/**
 * Options that override setup's defaults. Like {@link CleanupOptions}, a bucket may be left out
 * (`bucket: undefined`) only with a key function and allowedBuckets.
 */
type Overrides = CommonCleanupOptions &
  (
    | { key?: Exclude<KeySpec, KeyFunction>; bucket?: string }
    | { key: KeyFunction; bucket?: string }
    | { key: KeyFunction; bucket: undefined; allowedBuckets: readonly string[] }
  );

/** A handler with injected S3 client, logger, recorded sleep and random; options may override any. */
function setup(overrides: Overrides = {}) {
  const { lines, logger } = recordingLogger();
  const clock = createFakeClock();
  const handler = createCleanupHandler({
    bucket: BUCKET,
    key: TEMPLATE,
    s3Client: new S3Client({ region: "us-east-1" }),
    logger,
    sleep: clock.sleep,
    random: () => 0.5,
    ...overrides,
  });
  return { handler, lines, clock };
}

/** Answers every DeleteObjects call with a per-key error for the keys `codeOf` names. */
function answerDeletes(codeOf: (key: string) => string | undefined) {
  s3.on(DeleteObjectsCommand).callsFake((input: DeleteObjectsCommandInput): DeleteObjectsCommandOutput => {
    const errors = (input.Delete?.Objects ?? []).flatMap(({ Key }) => {
      const code = codeOf(Key ?? "");
      return code === undefined ? [] : [{ Key, Code: code, Message: `${code} for ${Key}` }];
    });
    return { $metadata: {}, ...(errors.length > 0 ? { Errors: errors } : {}) };
  });
}

/** Every key sent in DeleteObjects calls, in call order. */
function sentKeys(): string[] {
  return s3
    .commandCalls(DeleteObjectsCommand)
    .flatMap((call) => (call.args[0].input.Delete?.Objects ?? []).map((object) => object.Key ?? "<none>"));
}

const imageKey = (productId: string) => `images/${productId}.png`;

const seqOf = (record: StreamRecord) => record.dynamodb?.SequenceNumber as string;

const failures = (...records: StreamRecord[]) => ({
  batchItemFailures: records.map((record) => ({ itemIdentifier: seqOf(record) })),
});

const NO_FAILURES = { batchItemFailures: [] };

function configIssues(make: () => unknown) {
  try {
    make();
  } catch (error) {
    if (isConfigError(error)) return error.issues;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("options", () => {
  it("rejects wrong options at factory time, listing every problem with its option path", () => {
    // Prepare
    const options = {
      bucket: BUCKET,
      key: "{}",
      concurrency: 0,
      removals: "all",
      s3Client: new S3Client({ region: "us-east-1" }),
    } as unknown as CleanupOptions;

    // Act
    const issues = configIssues(() => createCleanupHandler(options));

    // Assess
    expect(issues).toEqual([
      { path: "key", message: "has an empty or malformed placeholder at position 0" },
      { path: "concurrency", message: "must be at least 1" },
      { path: "removals", message: 'must be "any", "ttl" or "user"' },
    ]);
    expect(() => createCleanupHandler(options)).toThrow(ConfigError);
    expect(() => createCleanupHandler(options)).toThrow(
      [
        "Invalid dynamodb-s3-cleanup options:",
        "  - `key`: has an empty or malformed placeholder at position 0",
        "  - `concurrency`: must be at least 1",
        '  - `removals`: must be "any", "ttl" or "user"',
      ].join("\n"),
    );
  });

  it("requires a bucket when key is a template", () => {
    // Prepare: the types require bucket with a template; JavaScript callers get the runtime check
    const options = { key: TEMPLATE, s3Client: new S3Client({ region: "us-east-1" }) } as unknown as CleanupOptions;

    // Act
    const issues = configIssues(() => createCleanupHandler(options));

    // Assess
    expect(issues).toEqual([{ path: "bucket", message: "is required when `key` is a template or { attribute }" }]);
  });

  it("requires a bucket when key is { attribute }", () => {
    // Prepare: the types require bucket with { attribute }; JavaScript callers get the runtime check
    const options = {
      key: { attribute: "files" },
      s3Client: new S3Client({ region: "us-east-1" }),
    } as unknown as CleanupOptions;

    // Act
    const issues = configIssues(() => createCleanupHandler(options));

    // Assess
    expect(issues).toEqual([{ path: "bucket", message: "is required when `key` is a template or { attribute }" }]);
  });

  it("rejects an unknown option by name", () => {
    // Prepare
    const options = { bucket: BUCKET, key: TEMPLATE, bukcet: "typo", s3Client: new S3Client({ region: "us-east-1" }) };

    // Act
    const issues = configIssues(() => createCleanupHandler(options as CleanupOptions));

    // Assess
    expect(issues).toEqual([{ path: "bukcet", message: "is not an option" }]);
  });

  it("rejects a logger without a warn method", () => {
    // Prepare
    const logger = { debug: () => {}, info: () => {}, error: () => {} } as unknown as Logger;

    // Act
    const issues = configIssues(() =>
      createCleanupHandler({ bucket: BUCKET, key: TEMPLATE, logger, s3Client: new S3Client({ region: "us-east-1" }) }),
    );

    // Assess
    expect(issues).toEqual([{ path: "logger.warn", message: "must be a method" }]);
  });

  it("names nested option paths and every kind of wrong value", () => {
    // Prepare
    const options = {
      bucket: BUCKET,
      key: ["images/{productId}.png", "{}"],
      allowedPrefixes: [""],
      s3Client: {},
      concurrency: 65,
      maxAttempts: 1.5,
      sleep: 3,
      timeoutMarginMs: -1,
    } as unknown as CleanupOptions;

    // Act
    const issues = configIssues(() => createCleanupHandler(options));

    // Assess
    expect(issues).toEqual([
      { path: "key[1]", message: "has an empty or malformed placeholder at position 0" },
      { path: "allowedPrefixes[0]", message: "must be a non-empty string" },
      { path: "concurrency", message: "must be at most 64" },
      { path: "maxAttempts", message: "must be an integer" },
      { path: "sleep", message: "must be a function" },
      { path: "s3Client.send", message: "must be a method" },
      { path: "timeoutMarginMs", message: "must not be negative" },
    ]);
  });

  it("names the fields of { attribute } and the other literal options", () => {
    // Prepare
    const options = {
      bucket: "",
      key: { attribute: "" },
      allowedPrefixes: [],
      dryRun: "yes",
      onInvalidRecord: "retry",
      versions: "newest",
      contentMd5: "true",
      fallbackToSingleDeletes: 1,
      s3Client: new S3Client({ region: "us-east-1" }),
    } as unknown as CleanupOptions;

    // Act
    const issues = configIssues(() => createCleanupHandler(options));

    // Assess
    expect(issues).toEqual([
      { path: "key.attribute", message: "must be a non-empty attribute name" },
      { path: "bucket", message: "must be a non-empty string" },
      { path: "allowedPrefixes", message: "must hold at least one prefix (leave it out to allow every key)" },
      { path: "versions", message: 'must be "current" or "all"' },
      { path: "contentMd5", message: "must be true or false" },
      { path: "fallbackToSingleDeletes", message: "must be true or false" },
      { path: "onInvalidRecord", message: 'must be "fail" or "skip"' },
      { path: "dryRun", message: "must be true or false" },
    ]);
  });

  it("rejects options that are not an object", () => {
    // Act
    const issues = configIssues(() => createCleanupHandler(null as unknown as CleanupOptions));

    // Assess
    expect(issues).toEqual([{ path: "(options)", message: "must be an object" }]);
  });

  it("accepts a key function with allowedBuckets and no bucket, and deletes in each bucket listed", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler } = setup({
      bucket: undefined,
      allowedBuckets: ["prod-media", "prod-thumbs"],
      key: (item) => [
        { bucket: "prod-media", key: `media/${String(item.keys.productId)}.png` },
        { bucket: "prod-thumbs", key: `thumbs/${String(item.keys.productId)}.webp` },
      ],
    });

    // Act
    const response = await handler(streamEvent(removeRecord({ keys: productKeys("p-1") })));

    // Assess
    expect(response).toEqual(NO_FAILURES);
    expect(s3).toHaveReceivedCommandWith(DeleteObjectsCommand, {
      Bucket: "prod-media",
      Delete: { Objects: [{ Key: "media/p-1.png" }], Quiet: true },
    });
    expect(s3).toHaveReceivedCommandWith(DeleteObjectsCommand, {
      Bucket: "prod-thumbs",
      Delete: { Objects: [{ Key: "thumbs/p-1.webp" }], Quiet: true },
    });
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 2);
  });

  it("refuses a target in a bucket outside bucket and allowedBuckets, reporting its record and sending nothing for it", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup({
      key: (item) =>
        item.keys.productId === "p-1"
          ? [
              { bucket: BUCKET, key: imageKey("p-1") },
              { bucket: "prod-backups", key: "images/a.png" },
            ]
          : imageKey(String(item.keys.productId)),
    });
    const escaping = removeRecord({ keys: productKeys("p-1") });
    const staying = removeRecord({ keys: productKeys("p-2") });

    // Act
    const response = await handler(streamEvent(escaping, staying));

    // Assess
    expect(response).toEqual(failures(escaping));
    expect(sentKeys()).toEqual([imageKey("p-2")]);
    expect(s3).not.toHaveReceivedCommandWith(DeleteObjectsCommand, { Bucket: "prod-backups" });
    expect(lines.find((line) => line.message.startsWith("Invalid record"))?.attributes?.error).toContain(
      'in bucket "prod-backups", outside the buckets it may delete from',
    );
  });

  it("requires bucket or allowedBuckets with a key function", () => {
    // Prepare: the types require one of them; JavaScript callers get the runtime check
    const options = { key: () => null, s3Client: new S3Client({ region: "us-east-1" }) } as unknown as CleanupOptions;

    // Act
    const issues = configIssues(() => createCleanupHandler(options));

    // Assess
    expect(issues).toEqual([
      {
        path: "bucket",
        message:
          "is required unless `allowedBuckets` is set: a key function may delete only from `bucket` and the buckets of `allowedBuckets`",
      },
    ]);
  });

  it("rejects an empty allowedBuckets or an empty bucket name in it, naming the option", () => {
    // Act
    const empty = configIssues(() => setup({ key: () => null, bucket: undefined, allowedBuckets: [] }));
    const blank = configIssues(() => setup({ allowedBuckets: ["prod-media", ""] }));

    // Assess
    expect(empty).toEqual([
      { path: "allowedBuckets", message: "must hold at least one bucket (leave it out to allow only `bucket`)" },
    ]);
    expect(blank).toEqual([{ path: "allowedBuckets[1]", message: "must be a non-empty string" }]);
  });

  it("rejects an S3 URL or a bucket ARN for a bucket at factory time, naming the option and the bare name", () => {
    // Act
    const issues = configIssues(() =>
      setup({ bucket: "s3://product-images", allowedBuckets: ["prod-media", "arn:aws:s3:::archive"] }),
    );

    // Assess
    expect(issues).toEqual([
      { path: "bucket", message: 'is an S3 URL; pass the bare bucket name: "product-images"' },
      { path: "allowedBuckets[1]", message: 'is a bucket ARN; pass the bare bucket name: "archive"' },
    ]);
  });

  it("accepts directory buckets, legacy names and access point ARNs", () => {
    // Act
    const act = () =>
      setup({
        bucket: "product-images--use1-az4--x-s3",
        allowedBuckets: ["Legacy_Bucket", "arn:aws:s3:eu-west-1:123456789012:accesspoint/images"],
      });

    // Assess
    expect(act).not.toThrow();
  });

  it("keeps the buckets it was created with when the allowedBuckets array changes later", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const allowedBuckets = ["prod-media"];
    const { handler } = setup({ key: () => ({ bucket: "prod-backups", key: "a.png" }), allowedBuckets });
    allowedBuckets.push("prod-backups");

    // Act
    const response = await handler(streamEvent(removeRecord({ keys: productKeys("p-1") })));

    // Assess
    expect(response.batchItemFailures).toHaveLength(1);
    expect(s3).not.toHaveReceivedAnyCommand();
  });

  it("keeps the options it was created with when the object changes later", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { lines, logger } = recordingLogger();
    const options: CleanupOptions = {
      bucket: BUCKET,
      key: TEMPLATE,
      logger,
      s3Client: new S3Client({ region: "us-east-1" }),
    };
    const handler = createCleanupHandler(options);
    options.bucket = "changed-bucket";
    options.key = "{}";
    options.dryRun = true;

    // Act
    const response = await handler(streamEvent(removeRecord({ keys: productKeys("p-1") })));

    // Assess
    expect(response).toEqual(NO_FAILURES);
    expect(s3).toHaveReceivedCommandExactlyOnceWith(DeleteObjectsCommand, {
      Bucket: BUCKET,
      Delete: { Objects: [{ Key: imageKey("p-1") }], Quiet: true },
    });
    expect(lines.filter((line) => line.message.startsWith("Dry run"))).toEqual([]);
  });

  it("calls a class-instance logger as a method, so it keeps its this", async () => {
    // Prepare
    class PowertoolsStyleLogger {
      readonly #lines: string[] = [];
      get lines() {
        return this.#lines;
      }
      debug(message: string) {
        this.#lines.push(`DEBUG ${message}`);
      }
      info(message: string) {
        this.#lines.push(`INFO ${message}`);
      }
      warn(message: string) {
        this.#lines.push(`WARN ${message}`);
      }
      error(message: string) {
        this.#lines.push(`ERROR ${message}`);
      }
    }
    const logger = new PowertoolsStyleLogger();
    const { removeRecord } = createRecordFactory();
    const { handler } = setup({ logger, onInvalidRecord: "skip" });
    answerDeletes((key) => (key === imageKey("p-1") ? "AccessDenied" : undefined));

    // Act
    await handler(streamEvent(removeRecord({ keys: productKeys("p-1") }), removeRecord({ keys: {} })));

    // Assess
    expect(logger.lines).toEqual([
      "WARN Invalid record, skipped",
      "WARN Object not deleted",
      "INFO dynamodb-s3-cleanup summary",
    ]);
  });

  describe("without a logger", () => {
    /** Stdout while `act` runs, one parsed JSON object per line; fails on a line that is not one. */
    async function stdoutLinesOf(act: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
      const write = vi.spyOn(process.stdout, "write").mockReturnValue(true);
      try {
        await act().catch(() => {});
        return write.mock.calls.map(([chunk]) => {
          const text = String(chunk);
          expect(text.endsWith("\n") && !text.slice(0, -1).includes("\n")).toBe(true);
          return JSON.parse(text) as Record<string, unknown>;
        });
      } finally {
        write.mockRestore();
      }
    }

    it("writes the summary as one JSON object on one line of stdout", async () => {
      // Prepare
      const { removeRecord } = createRecordFactory();
      const { handler } = setup({ logger: undefined });
      answerDeletes(() => undefined);

      // Act
      const lines = await stdoutLinesOf(() => handler(streamEvent(removeRecord({ keys: productKeys("p-1") }))));

      // Assess
      expect(lines).toEqual([
        expect.objectContaining({
          level: "INFO",
          message: "dynamodb-s3-cleanup summary",
          timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
          records: 1,
          deleted: 1,
          failed: 0,
        }),
      ]);
      expect(Object.keys(lines[0] as object).slice(0, 3)).toEqual(["level", "message", "timestamp"]);
    });

    it("writes warnings as JSON lines with level WARN", async () => {
      // Prepare
      const { removeRecord } = createRecordFactory();
      const { handler } = setup({ logger: undefined, onInvalidRecord: "skip" });
      answerDeletes(() => undefined);

      // Act
      const lines = await stdoutLinesOf(() => handler(streamEvent(removeRecord({ keys: {} }))));

      // Assess
      expect(lines.map((line) => [line.level, line.message])).toEqual([
        ["WARN", "Invalid record, skipped"],
        ["INFO", "dynamodb-s3-cleanup summary"],
      ]);
    });

    it("writes a failed object's reason under error, beside the line's own message", async () => {
      // Prepare
      const { removeRecord } = createRecordFactory();
      const { handler } = setup({ logger: undefined });
      answerDeletes(() => "AccessDenied");

      // Act
      const lines = await stdoutLinesOf(() => handler(streamEvent(removeRecord({ keys: productKeys("p-1") }))));

      // Assess
      expect(lines.find((line) => line.level === "WARN")).toMatchObject({
        message: "Object not deleted",
        code: "AccessDenied",
        error: `AccessDenied for ${imageKey("p-1")}`,
        retryable: false,
      });
    });

    it("honours AWS_LAMBDA_LOG_LEVEL as it is when the factory is called", async () => {
      // Prepare
      const { removeRecord } = createRecordFactory();
      vi.stubEnv("AWS_LAMBDA_LOG_LEVEL", "WARN");
      const { handler } = setup({ logger: undefined, onInvalidRecord: "skip" });
      vi.unstubAllEnvs();
      answerDeletes(() => undefined);

      // Act
      const lines = await stdoutLinesOf(() => handler(streamEvent(removeRecord({ keys: {} }))));

      // Assess
      expect(lines.map((line) => [line.level, line.message])).toEqual([["WARN", "Invalid record, skipped"]]);
    });
  });
});

describe("event", () => {
  it.each([
    ["an empty object", {}],
    ["Records: null", { Records: null }],
    ["a Records object", { Records: { 0: {} } }],
    ["null", null],
  ])("rejects %s with InvalidEventError", async (_, event) => {
    // Prepare
    const { handler, lines } = setup();

    // Act
    const result = handler(event as unknown as StreamEvent);

    // Assess
    await expect(result).rejects.toThrow(InvalidEventError);
    expect(s3).not.toHaveReceivedAnyCommand();
    expect(lines).toEqual([]);
  });

  it.each<[string, "fail" | "skip", string, Record<string, unknown>]>([
    ["{ Records }", "fail", "an SQS event", { messageId: "m-1", body: "{}", eventSource: "aws:sqs" }],
    ["{ Records }", "skip", "an SQS event", { messageId: "m-1", body: "{}", eventSource: "aws:sqs" }],
    ["{ Records }", "skip", "an S3 event notification", { eventName: "ObjectRemoved:Delete", eventSource: "aws:s3" }],
    ["a bare array", "skip", "an SNS event", { EventSource: "aws:sns", Sns: { Message: "{}" } }],
  ])(
    'throws for %s under onInvalidRecord "%s" when a record looks like %s, before any S3 call or log line',
    async (shape, onInvalidRecord, looksLike, foreign) => {
      // Prepare
      const { removeRecord } = createRecordFactory();
      const { handler, lines } = setup({ onInvalidRecord });
      const records = [removeRecord({ keys: productKeys("p-1") }), foreign];
      const event = shape === "a bare array" ? records : { Records: records };

      // Act
      const result = handler(event as unknown as StreamEvent);

      // Assess
      await expect(result).rejects.toThrow(InvalidEventError);
      await expect(result).rejects.toThrow(`looks like ${looksLike} (record 1 has `);
      expect(s3).not.toHaveReceivedAnyCommand();
      expect(lines).toEqual([]);
    },
  );

  it("returns no failures and sends nothing for an empty batch", async () => {
    // Prepare
    const { handler } = setup();

    // Act
    const response = await handler(streamEvent());

    // Assess
    expect(response).toEqual(NO_FAILURES);
    expect(s3).not.toHaveReceivedAnyCommand();
  });
});

describe("selection", () => {
  it("deletes objects for REMOVE records only, never for INSERT or MODIFY", async () => {
    // Prepare
    const { insertRecord, modifyRecord, removeRecord } = createRecordFactory();
    const { handler } = setup();
    const event = streamEvent(
      insertRecord({ keys: productKeys("p-1") }),
      modifyRecord({ keys: productKeys("p-2") }),
      removeRecord({ keys: productKeys("p-3") }),
    );

    // Act
    const response = await handler(event);

    // Assess
    expect(response).toEqual(NO_FAILURES);
    expect(s3).toHaveReceivedCommandExactlyOnceWith(DeleteObjectsCommand, {
      Bucket: BUCKET,
      Delete: { Objects: [{ Key: imageKey("p-3") }], Quiet: true },
    });
  });

  it("keeps going after a non-REMOVE record in the middle of the batch", async () => {
    // Prepare
    const { insertRecord, modifyRecord, removeRecord } = createRecordFactory();
    const { handler } = setup();
    const event = streamEvent(
      removeRecord({ keys: productKeys("p-1") }),
      insertRecord({ keys: productKeys("p-2") }),
      modifyRecord({ keys: productKeys("p-3") }),
      removeRecord({ keys: productKeys("p-4") }),
      removeRecord({ keys: productKeys("p-5") }),
    );

    // Act
    const response = await handler(event);

    // Assess
    expect(response).toEqual(NO_FAILURES);
    expect(sentKeys()).toEqual([imageKey("p-1"), imageKey("p-4"), imageKey("p-5")]);
  });

  it.each([
    ["any", ["user-1", "ttl-1", "user-2", "ttl-2"]],
    ["ttl", ["ttl-1", "ttl-2"]],
    ["user", ["user-1", "user-2"]],
  ] as const)('with removals: "%s" deletes the objects of %j', async (removals, expected) => {
    // Prepare
    const { removeRecord, ttlRemoveRecord } = createRecordFactory();
    const { handler, lines } = setup({ removals });
    const event = streamEvent(
      removeRecord({ keys: productKeys("user-1") }),
      ttlRemoveRecord({ keys: productKeys("ttl-1") }),
      removeRecord({ keys: productKeys("user-2") }),
      ttlRemoveRecord({ keys: productKeys("ttl-2") }),
    );

    // Act
    const response = await handler(event);

    // Assess
    expect(response).toEqual(NO_FAILURES);
    expect(sentKeys()).toEqual(expected.map(imageKey));
    expect(lines.at(-1)?.attributes).toMatchObject({ removals: expected.length, skipped: 4 - expected.length });
  });

  describe("tableNames", () => {
    /** The record as it comes from `table`'s stream. */
    const ofTable = (record: StreamRecord, table: string): StreamRecord => ({
      ...record,
      eventSourceARN: `arn:aws:dynamodb:us-east-1:123456789012:table/${table}/stream/2026-11-27T00:00:00.000`,
    });

    it("deletes only the objects of the tables named, and counts the other tables' records as skipped", async () => {
      // Prepare
      const { removeRecord } = createRecordFactory();
      const { handler, lines } = setup({ tableNames: ["products"] });
      const event = kinesisEvent([
        ofTable(removeRecord({ keys: productKeys("p-1") }), "products"),
        ofTable(removeRecord({ keys: productKeys("o-1") }), "orders"),
        ofTable(removeRecord({ keys: productKeys("p-2") }), "products"),
      ]);

      // Act
      const response = await handler(event);

      // Assess
      expect(response).toEqual(NO_FAILURES);
      expect(sentKeys()).toEqual([imageKey("p-1"), imageKey("p-2")]);
      expect(lines.at(-1)?.attributes).toMatchObject({ records: 3, removals: 2, skipped: 1, invalid: 0 });
    });

    it("reports a REMOVE whose table cannot be read, and deletes nothing for it", async () => {
      // Prepare
      const { removeRecord } = createRecordFactory();
      const { handler } = setup({ tableNames: ["products"] });
      const unknown = { ...removeRecord({ keys: productKeys("p-1") }), eventSourceARN: undefined };
      const known = ofTable(removeRecord({ keys: productKeys("p-2") }), "products");

      // Act
      const response = await handler(streamEvent(unknown, known));

      // Assess
      expect(response).toEqual(failures(unknown));
      expect(sentKeys()).toEqual([imageKey("p-2")]);
    });

    it("keeps the table names it was created with when the array changes later", async () => {
      // Prepare
      const { removeRecord } = createRecordFactory();
      const tableNames = ["products"];
      const { handler } = setup({ tableNames });
      tableNames[0] = "orders";

      // Act
      await handler(streamEvent(ofTable(removeRecord({ keys: productKeys("p-1") }), "products")));

      // Assess
      expect(sentKeys()).toEqual([imageKey("p-1")]);
    });

    it("rejects an empty list or an empty name at factory time, naming the option", () => {
      // Act
      const empty = configIssues(() => setup({ tableNames: [] }));
      const blank = configIssues(() => setup({ tableNames: ["products", ""] }));

      // Assess
      expect(empty).toEqual([
        { path: "tableNames", message: "must hold at least one table name (leave it out to take every table)" },
      ]);
      expect(blank).toEqual([{ path: "tableNames[1]", message: "must be a non-empty string" }]);
    });
  });
});

describe("invalid records", () => {
  const valid = ["p-1", "p-3"];
  const kinds: [string, (factory: ReturnType<typeof createRecordFactory>) => StreamRecord, string][] = [
    [
      "a malformed AttributeValue",
      ({ removeRecord }) => removeRecord({ keys: { productId: { S: 42 as unknown as string } } }),
      "`dynamodb.Keys.productId` S must be a string",
    ],
    [
      "a missing template attribute",
      ({ removeRecord }) => removeRecord({ keys: { sku: { S: "p-2" } } }),
      "the key template needs attribute `productId`, which is in neither Keys nor OldImage. The record's attributes: `sku`.",
    ],
    [
      "a key outside allowedPrefixes",
      ({ removeRecord }) => removeRecord({ keys: productKeys("../secrets") }),
      'the object key "images/../secrets.png" is outside allowedPrefixes [images/p-]',
    ],
    [
      "a key over 1,024 bytes of UTF-8",
      ({ removeRecord }) => removeRecord({ keys: productKeys(`p-${"é".repeat(510)}`) }),
      "is 1033 bytes of UTF-8; S3 allows 1024",
    ],
    [
      "an unknown eventName",
      ({ removeRecord }) => ({ ...removeRecord({ keys: productKeys("p-2") }), eventName: "UPSERT" }),
      '`eventName` must be INSERT, MODIFY or REMOVE (got "UPSERT")',
    ],
  ];

  describe.each(kinds)("with %s", (_, makeInvalid, problem) => {
    function prepare(onInvalidRecord: "fail" | "skip") {
      const factory = createRecordFactory();
      const first = factory.removeRecord({ keys: productKeys("p-1") });
      const invalid = makeInvalid(factory);
      const last = factory.removeRecord({ keys: productKeys("p-3") });
      return { ...setup({ onInvalidRecord, allowedPrefixes: ["images/p-"] }), first, invalid, last };
    }

    it('reports the record under onInvalidRecord "fail" and deletes the others', async () => {
      // Prepare
      const { handler, lines, first, invalid, last } = prepare("fail");

      // Act
      const response = await handler(streamEvent(first, invalid, last));

      // Assess
      expect(response).toEqual(failures(invalid));
      expect(sentKeys()).toEqual(valid.map(imageKey));
      const warnings = lines.filter((line) => line.level === "warn");
      expect(warnings).toEqual([
        {
          level: "warn",
          message: "Invalid record, reported as failed",
          attributes: {
            index: 1,
            sequenceNumber: seqOf(invalid),
            eventId: invalid.eventID,
            itemIdentifier: seqOf(invalid),
            error: expect.stringContaining(problem),
          },
        },
      ]);
      expect(lines.at(-1)?.attributes).toMatchObject({ invalid: 1, targets: 2, deleted: 2, failed: 0 });
    });

    it('only logs the record under onInvalidRecord "skip" and deletes the others', async () => {
      // Prepare
      const { handler, lines, first, invalid, last } = prepare("skip");

      // Act
      const response = await handler(streamEvent(first, invalid, last));

      // Assess
      expect(response).toEqual(NO_FAILURES);
      expect(sentKeys()).toEqual(valid.map(imageKey));
      expect(lines.filter((line) => line.level === "warn")).toEqual([
        {
          level: "warn",
          message: "Invalid record, skipped",
          attributes: {
            index: 1,
            sequenceNumber: seqOf(invalid),
            eventId: invalid.eventID,
            itemIdentifier: seqOf(invalid),
            error: expect.stringContaining(problem),
          },
        },
      ]);
    });
  });

  it("reports a record whose key function throws, alone", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup({
      key: (item) => {
        if (item.keys.productId === "p-2") throw new Error("no such product");
        return `images/${String(item.keys.productId)}.png`;
      },
    });
    const broken = removeRecord({ keys: productKeys("p-2") });
    const event = streamEvent(removeRecord({ keys: productKeys("p-1") }), broken);

    // Act
    const response = await handler(event);

    // Assess
    expect(response).toEqual(failures(broken));
    expect(sentKeys()).toEqual([imageKey("p-1")]);
    expect(lines[0]?.attributes?.error).toContain("the key function threw: no such product");
  });

  it("deletes nothing for a record whose keys are partly outside allowedPrefixes", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler } = setup({ key: ["images/{productId}.png", "../{productId}"], allowedPrefixes: ["images/"] });
    const record = removeRecord({ keys: productKeys("p-1") });

    // Act
    const response = await handler(streamEvent(record));

    // Assess
    expect(response).toEqual(failures(record));
    expect(s3).not.toHaveReceivedAnyCommand();
  });
});

describe("batch item failures", () => {
  it("reports the sequence number of each record with an object not deleted", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler } = setup();
    answerDeletes((key) => (key === imageKey("p-2") ? "AccessDenied" : undefined));
    const denied = removeRecord({ keys: productKeys("p-2") });
    const event = streamEvent(
      removeRecord({ keys: productKeys("p-1") }),
      denied,
      removeRecord({ keys: productKeys("p-3") }),
    );

    // Act
    const response = await handler(event);

    // Assess
    expect(response).toEqual(failures(denied));
    expect(sentKeys()).toEqual(["p-1", "p-2", "p-3"].map(imageKey));
  });

  it("sorts identifiers by numeric value, not as strings", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler } = setup();
    answerDeletes(() => "AccessDenied");
    const sequenceNumbers = [
      "100",
      "9999999999999999999999999999999999999999",
      "99",
      "1000000000000000000000000000000000000000",
      "100000000000000000000",
      "99999999999999999999",
    ];
    const records = sequenceNumbers.map((sequenceNumber, i) =>
      removeRecord({ keys: productKeys(`p-${i}`), sequenceNumber }),
    );

    // Act
    const response = await handler(streamEvent(...records));

    // Assess
    expect(response.batchItemFailures.map((failure) => failure.itemIdentifier)).toEqual([
      "99",
      "100",
      "99999999999999999999",
      "100000000000000000000",
      "1000000000000000000000000000000000000000",
      "9999999999999999999999999999999999999999",
    ]);
  });

  it("reports a record once when several of its objects fail", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler } = setup({ key: ["images/{productId}.png", "thumbs/{productId}.png"] });
    answerDeletes(() => "AccessDenied");
    const record = removeRecord({ keys: productKeys("p-1") });

    // Act
    const response = await handler(streamEvent(record));

    // Assess
    expect(response).toEqual(failures(record));
    expect(sentKeys()).toEqual(["images/p-1.png", "thumbs/p-1.png"]);
  });

  it("sends an object a record lists twice once, and reports the record once", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup({ key: [TEMPLATE, TEMPLATE] });
    answerDeletes(() => "AccessDenied");
    const record = removeRecord({ keys: productKeys("p-1") });

    // Act
    const response = await handler(streamEvent(record));

    // Assess
    expect(response).toEqual(failures(record));
    expect(sentKeys()).toEqual([imageKey("p-1")]);
    expect(lines.find((line) => line.message === "Object not deleted")?.attributes?.itemIdentifiers).toEqual([
      seqOf(record),
    ]);
  });

  it("fails every record that shares a key when that key fails", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup();
    answerDeletes((key) => (key === imageKey("shared") ? "AccessDenied" : undefined));
    const a = removeRecord({ keys: productKeys("shared") });
    const b = removeRecord({ keys: productKeys("p-2") });
    const c = removeRecord({ keys: productKeys("shared") });
    const d = removeRecord({ keys: productKeys("shared") });

    // Act
    const response = await handler(streamEvent(a, b, c, d));

    // Assess
    expect(response).toEqual(failures(a, c, d));
    expect(sentKeys()).toEqual([imageKey("shared"), imageKey("p-2")]);
    expect(lines.filter((line) => line.level === "warn")).toEqual([
      {
        level: "warn",
        message: "Object not deleted",
        attributes: {
          bucket: BUCKET,
          key: imageKey("shared"),
          versionId: undefined,
          code: "AccessDenied",
          error: `AccessDenied for ${imageKey("shared")}`,
          retryable: false,
          itemIdentifiers: [seqOf(a), seqOf(c), seqOf(d)],
        },
      },
    ]);
  });
});

describe("records that cannot be reported", () => {
  it.each([
    ["no SequenceNumber", withoutSequenceNumber],
    [
      "an empty SequenceNumber",
      (record: StreamRecord) => ({ ...record, dynamodb: { ...record.dynamodb, SequenceNumber: "" } }),
    ],
    [
      "a SequenceNumber that is not digits",
      (record: StreamRecord) => ({ ...record, dynamodb: { ...record.dynamodb, SequenceNumber: "12a" } }),
    ],
  ])('rejects under "fail" when an invalid REMOVE has %s, before sending any delete', async (_, spoil) => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup({ onInvalidRecord: "fail" });
    const spoilt = spoil(removeRecord({ keys: productKeys("p-2") }));
    const event = streamEvent(removeRecord({ keys: productKeys("p-1") }), spoilt);

    // Act
    const error = await handler(event).then(
      () => expect.unreachable("the handler must reject"),
      (reason: unknown) => reason,
    );

    // Assess
    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error).toMatchObject({ field: "dynamodb.SequenceNumber", record: { index: 1 } });
    expect((error as Error).message).toMatch(
      /^record 1 \(.*eventID event-\d+\): `dynamodb\.SequenceNumber` is needed to report this record as failed, and it has no usable one: failing the whole invocation so that the batch is retried$/,
    );
    expect(s3).not.toHaveReceivedAnyCommand();
    expect(lines).toEqual([
      {
        level: "warn",
        message: "Invalid record, reported as failed",
        attributes: {
          index: 1,
          sequenceNumber: spoilt.dynamodb?.SequenceNumber,
          eventId: spoilt.eventID,
          itemIdentifier: spoilt.dynamodb?.SequenceNumber,
          error: expect.stringContaining("`dynamodb.SequenceNumber` must be a string of digits"),
        },
      },
      {
        level: "error",
        message: "dynamodb-s3-cleanup summary: failing the whole batch",
        attributes: {
          source: "dynamodb-streams",
          records: 2,
          removals: 0,
          withoutObjects: 0,
          skipped: 0,
          invalid: 1,
          targets: 0,
          deleted: 0,
          failed: 0,
          keptReplaced: 0,
          keptRecreated: 0,
          fallback: "none",
          batchItemFailures: undefined,
          aborted: false,
          durationMs: 0,
          dryRun: false,
          error: (error as Error).message,
        },
      },
    ]);
  });

  it("logs the error line with the summary counts in order, then the error", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup();
    const event = streamEvent(removeRecord({ keys: productKeys("p-1") }), withoutSequenceNumber(removeRecord()));

    // Act
    await handler(event).catch(() => undefined);

    // Assess
    expect(Object.keys(lines.find((line) => line.level === "error")?.attributes ?? {})).toEqual([
      "source",
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
      "fallback",
      "batchItemFailures",
      "aborted",
      "durationMs",
      "dryRun",
      "error",
    ]);
  });

  it('rejects under "fail" when a record is not an object, before sending any delete', async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup({ onInvalidRecord: "fail" });
    const event = { Records: [removeRecord({ keys: productKeys("p-1") }), null] } as unknown as StreamEvent;

    // Act
    const result = handler(event);

    // Assess
    await expect(result).rejects.toThrow(InvalidRecordError);
    await expect(result).rejects.toMatchObject({
      message:
        "record 1: `dynamodb.SequenceNumber` is needed to report this record as failed, and it has no usable one: failing the whole invocation so that the batch is retried",
      field: "dynamodb.SequenceNumber",
      record: { index: 1 },
    });
    expect(s3).not.toHaveReceivedAnyCommand();
    expect(lines.map((line) => `${line.level} ${line.message}`)).toEqual([
      "warn Invalid record, reported as failed",
      "error dynamodb-s3-cleanup summary: failing the whole batch",
    ]);
  });

  it("rejects in a dry run too, before logging the planned deletes", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup({ dryRun: true });
    const event = streamEvent(removeRecord({ keys: productKeys("p-1") }), withoutSequenceNumber(removeRecord()));

    // Act
    const result = handler(event);

    // Assess
    await expect(result).rejects.toThrow(InvalidRecordError);
    expect(s3).not.toHaveReceivedAnyCommand();
    expect(lines.map((line) => `${line.level} ${line.message}`)).toEqual([
      "warn Invalid record, reported as failed",
      "error dynamodb-s3-cleanup summary: failing the whole batch",
    ]);
    expect(lines.at(-1)?.attributes).toMatchObject({ targets: 0, dryRun: true });
  });

  it('returns normally under "skip", deleting the valid records', async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup({ onInvalidRecord: "skip" });
    const event = {
      Records: [removeRecord({ keys: productKeys("p-1") }), withoutSequenceNumber(removeRecord()), null],
    } as unknown as StreamEvent;

    // Act
    const response = await handler(event);

    // Assess
    expect(response).toEqual(NO_FAILURES);
    expect(sentKeys()).toEqual([imageKey("p-1")]);
    expect(lines.filter((line) => line.message === "Invalid record, skipped")).toHaveLength(2);
  });
});

describe("full failure", () => {
  it("returns every removal when every object is denied", async () => {
    // Prepare
    const { removeRecord, ttlRemoveRecord } = createRecordFactory();
    const { handler } = setup();
    answerDeletes(() => "AccessDenied");
    const records = [removeRecord({ keys: productKeys("p-1") }), ttlRemoveRecord({ keys: productKeys("p-2") })];

    // Act
    const response = await handler(streamEvent(...records));

    // Assess
    expect(response).toEqual(failures(...records));
  });
});

describe("time budget", () => {
  const MARGIN = 2000;

  beforeEach(() => {
    // Every timer is fake: the invocation's signal, backoff waits and slow answers run on one clock
    // that a test moves with vi.runAllTimersAsync(), never on wall-clock time.
    vi.useFakeTimers({ now: START });
  });

  /** A Lambda context whose function times out `timeoutMs` after now. */
  function lambdaContext(timeoutMs: number): CleanupContext {
    const deadline = Date.now() + timeoutMs;
    return { getRemainingTimeInMillis: () => deadline - Date.now() };
  }

  /** Runs the handler to its end on the fake clock; resolves to its response and when it came (ms after START). */
  async function invoke(handler: ReturnType<typeof createCleanupHandler>, event: StreamEvent, timeoutMs: number) {
    let returnedAt: number | undefined;
    const done = handler(event, lambdaContext(timeoutMs)).then((response) => {
      returnedAt = Date.now() - START;
      return response;
    });
    await vi.runAllTimersAsync();
    return { response: await done, returnedAt };
  }

  /** Waits `ms` on the fake clock. */
  const answerAfter = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

  const summaryOf = (lines: ReturnType<typeof setup>["lines"]) =>
    lines.find((line) => line.message === "dynamodb-s3-cleanup summary")?.attributes;

  it("sends nothing and reports every removal when no more than timeoutMarginMs remains", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup();
    const records = [removeRecord({ keys: productKeys("p-1") }), removeRecord({ keys: productKeys("p-2") })];

    // Act
    const { response } = await invoke(handler, streamEvent(...records), MARGIN);

    // Assess
    expect(response).toEqual(failures(...records));
    expect(s3).not.toHaveReceivedAnyCommand();
    expect(lines.filter((line) => line.message === "Object not deleted").map((line) => line.attributes)).toEqual(
      ["p-1", "p-2"].map((id) => expect.objectContaining({ key: imageKey(id), code: "Aborted", retryable: true })),
    );
    expect(summaryOf(lines)).toMatchObject({ aborted: true, failed: 2, batchItemFailures: 2 });
  });

  it("passes the invocation's signal to every request, and it fires timeoutMarginMs before the timeout", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler } = setup();
    const send = vi.spyOn(S3Client.prototype, "send");

    // Act
    const { response } = await invoke(handler, streamEvent(removeRecord({ keys: productKeys("p-1") })), 5000);

    // Assess
    expect(response).toEqual(NO_FAILURES);
    const signal = (send.mock.calls[0]?.[1] as { abortSignal?: AbortSignal } | undefined)?.abortSignal;
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(signal?.aborted).toBe(false);
    send.mockRestore();
  });

  it("returns at the budget when a DeleteObjects request hangs and the client ignores the signal, reporting its records", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup();
    s3.on(DeleteObjectsCommand).callsFake(() => answerAfter(60_000).then(() => ({})));
    const records = [removeRecord({ keys: productKeys("p-1") }), removeRecord({ keys: productKeys("p-2") })];

    // Act
    const { response, returnedAt } = await invoke(handler, streamEvent(...records), 5000);

    // Assess
    expect(response).toEqual(failures(...records));
    expect(returnedAt).toBe(5000 - MARGIN);
    expect(summaryOf(lines)).toMatchObject({ aborted: true, deleted: 0, failed: 2 });
    expect(lines.find((line) => line.message === "Object not deleted")?.attributes).toMatchObject({
      code: "Aborted",
      error: expect.stringContaining("timeoutMarginMs"),
      retryable: true,
    });
  });

  it("cuts off a key function that hangs at half the budget, reporting the records not mapped and deleting the others' objects", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    let seen: AbortSignal | undefined;
    const { handler, lines } = setup({
      key: async (item, { signal }) => {
        seen = signal;
        if (item.keys.productId === "slow") await new Promise(() => {});
        return imageKey(String(item.keys.productId));
      },
      concurrency: 1,
    });
    const fast = removeRecord({ keys: productKeys("p-1") });
    const slow = removeRecord({ keys: productKeys("slow") });
    const never = removeRecord({ keys: productKeys("p-3") });

    // Act
    const { response, returnedAt } = await invoke(handler, streamEvent(fast, slow, never), 5000);

    // Assess
    expect(response).toEqual(failures(slow, never));
    expect(returnedAt).toBe((5000 - MARGIN) / 2);
    expect(seen?.aborted).toBe(true);
    expect(sentKeys()).toEqual([imageKey("p-1")]);
    expect(
      lines.find((line) => line.message === "Records not mapped: the time budget ran out first")?.attributes,
    ).toEqual({
      itemIdentifiers: [seqOf(slow), seqOf(never)],
    });
  });

  it("cuts a backoff short at the budget and reports the record with its last error", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup({ sleep: undefined, baseDelayMs: 10_000, maxDelayMs: 10_000, random: () => 0.9 });
    answerDeletes(() => "SlowDown");
    const record = removeRecord({ keys: productKeys("p-1") });

    // Act
    const { response, returnedAt } = await invoke(handler, streamEvent(record), 5000);

    // Assess
    expect(response).toEqual(failures(record));
    expect(returnedAt).toBe(5000 - MARGIN);
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
    expect(lines.find((line) => line.message === "Object not deleted")?.attributes).toMatchObject({
      code: "SlowDown",
      error: `no time left to retry after SlowDown: SlowDown for ${imageKey("p-1")}`,
      retryable: true,
    });
  });

  it.each([
    ["no context", undefined],
    ["a context without getRemainingTimeInMillis", {}],
    ["a context with an infinite budget", { getRemainingTimeInMillis: () => Number.POSITIVE_INFINITY }],
  ])("applies no time budget with %s", async (_, context) => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup({ timeoutMarginMs: 10_000_000 });

    // Act
    const done = handler(streamEvent(removeRecord({ keys: productKeys("p-1") })), context);
    await vi.runAllTimersAsync();

    // Assess
    expect(await done).toEqual(NO_FAILURES);
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
    expect(summaryOf(lines)).toMatchObject({ aborted: false });
  });
});

describe("dry run", () => {
  it("logs 2,500 planned deletes in lines of at most 1,000 objects and sends nothing", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const keys = Array.from({ length: 2500 }, (_, i) => `files/${i}`);
    const { handler, lines } = setup({ dryRun: true, key: () => keys });
    const target = (key: string) => ({ bucket: BUCKET, key });

    // Act
    const response = await handler(streamEvent(removeRecord({ keys: productKeys("p-1") })));

    // Assess
    expect(response).toEqual(NO_FAILURES);
    expect(s3).not.toHaveReceivedAnyCommand();
    const planned = lines.filter((line) => line.message === "Dry run: these objects would be deleted");
    expect(planned).toEqual([
      {
        level: "info",
        message: "Dry run: these objects would be deleted",
        attributes: { targets: keys.slice(0, 1000).map(target) },
      },
      {
        level: "info",
        message: "Dry run: these objects would be deleted",
        attributes: { targets: keys.slice(1000, 2000).map(target) },
      },
      {
        level: "info",
        message: "Dry run: these objects would be deleted",
        attributes: { targets: keys.slice(2000).map(target) },
      },
    ]);
    expect(lines.at(-1)?.attributes).toMatchObject({ targets: 2500, deleted: 0, failed: 0, dryRun: true });
  });

  it("logs exactly 1,000 planned deletes in one line", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const keys = Array.from({ length: 1000 }, (_, i) => `files/${i}`);
    const { handler, lines } = setup({ dryRun: true, key: () => keys });

    // Act
    await handler(streamEvent(removeRecord({ keys: productKeys("p-1") })));

    // Assess
    const planned = lines.filter((line) => line.message === "Dry run: these objects would be deleted");
    expect(planned.map((line) => line.attributes)).toEqual([{ targets: keys.map((key) => ({ bucket: BUCKET, key })) }]);
  });

  it("logs no planned-deletes line when there is nothing to delete", async () => {
    // Prepare
    const { insertRecord } = createRecordFactory();
    const { handler, lines } = setup({ dryRun: true });

    // Act
    await handler(streamEvent(insertRecord({ keys: productKeys("p-1") })));

    // Assess
    expect(lines.map((line) => line.message)).toEqual(["dynamodb-s3-cleanup summary"]);
  });

  it("logs the planned deletes and sends nothing, still reporting invalid records", async () => {
    // Prepare
    const { removeRecord, insertRecord } = createRecordFactory();
    const { handler, lines } = setup({ dryRun: true });
    const invalid = removeRecord({ keys: { sku: { S: "x" } } });
    const event = streamEvent(
      removeRecord({ keys: productKeys("p-1") }),
      insertRecord({ keys: productKeys("p-2") }),
      invalid,
      removeRecord({ keys: productKeys("p-3") }),
    );

    // Act
    const response = await handler(event);

    // Assess
    expect(response).toEqual(failures(invalid));
    expect(s3).not.toHaveReceivedAnyCommand();
    expect(lines.filter((line) => line.level === "info")).toEqual([
      {
        level: "info",
        message: "Dry run: these objects would be deleted",
        attributes: {
          targets: [
            { bucket: BUCKET, key: imageKey("p-1") },
            { bucket: BUCKET, key: imageKey("p-3") },
          ],
        },
      },
      {
        level: "info",
        message: "dynamodb-s3-cleanup summary",
        attributes: expect.objectContaining({ targets: 2, deleted: 0, failed: 0, dryRun: true }),
      },
    ]);
  });
});

describe("logging", () => {
  it("logs exactly one summary line per invocation, with every count", async () => {
    // Prepare
    const { removeRecord, ttlRemoveRecord, insertRecord, modifyRecord } = createRecordFactory();
    const { handler, lines } = setup({ removals: "ttl", key: [TEMPLATE, "thumbs/{productId}.png"] });
    // Each key takes 40 ms of the clock the summary's duration is read from.
    answerDeletes((key) => {
      vi.setSystemTime(Date.now() + 40);
      return key === "thumbs/p-2.png" ? "AccessDenied" : undefined;
    });
    const event = streamEvent(
      insertRecord({ keys: productKeys("p-0") }),
      ttlRemoveRecord({ keys: productKeys("p-1") }),
      ttlRemoveRecord({ keys: productKeys("p-2") }),
      removeRecord({ keys: productKeys("p-3") }),
      modifyRecord({ keys: productKeys("p-4") }),
      ttlRemoveRecord({ keys: { productId: { S: 42 as unknown as string } } }),
    );

    // Act
    await handler(event);

    // Assess
    const summaries = lines.filter((line) => line.level === "info");
    expect(summaries).toEqual([
      {
        level: "info",
        message: "dynamodb-s3-cleanup summary",
        attributes: {
          source: "dynamodb-streams",
          records: 6,
          removals: 2,
          withoutObjects: 0,
          skipped: 3,
          invalid: 1,
          targets: 4,
          deleted: 3,
          failed: 1,
          keptReplaced: 0,
          keptRecreated: 0,
          fallback: "none",
          batchItemFailures: 2,
          aborted: false,
          durationMs: 160,
          dryRun: false,
        },
      },
    ]);
    expect(Object.keys(summaries[0]?.attributes ?? {})).toEqual([
      "source",
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
      "fallback",
      "batchItemFailures",
      "aborted",
      "durationMs",
      "dryRun",
    ]);
  });

  it("counts removals whose { attribute } is missing or NULL as withoutObjects, and mapping failures as invalid", async () => {
    // Prepare
    const { removeRecord, insertRecord } = createRecordFactory();
    const { handler, lines } = setup({ key: { attribute: "files" } });
    const image = (files?: AttributeValue): Record<string, AttributeValue> => ({
      productId: { S: "p" },
      ...(files === undefined ? {} : { files }),
    });
    const unmappable = removeRecord({ keys: productKeys("p-4"), oldImage: image({ N: "4" }) });
    const event = streamEvent(
      removeRecord({ keys: productKeys("p-1"), oldImage: image({ SS: ["files/a", "files/b"] }) }),
      removeRecord({ keys: productKeys("p-2"), oldImage: image() }),
      removeRecord({ keys: productKeys("p-3"), oldImage: image({ NULL: true }) }),
      unmappable,
      insertRecord({ keys: productKeys("p-5") }),
    );

    // Act
    const response = await handler(event);

    // Assess
    expect(response).toEqual(failures(unmappable));
    expect(sentKeys()).toEqual(["files/a", "files/b"]);
    expect(lines.filter((line) => line.level === "info")).toEqual([
      {
        level: "info",
        message: "dynamodb-s3-cleanup summary",
        attributes: {
          source: "dynamodb-streams",
          records: 5,
          removals: 3,
          withoutObjects: 2,
          skipped: 1,
          invalid: 1,
          targets: 2,
          deleted: 2,
          failed: 0,
          keptReplaced: 0,
          keptRecreated: 0,
          fallback: "none",
          batchItemFailures: 1,
          aborted: false,
          durationMs: 0,
          dryRun: false,
        },
      },
    ]);
  });

  it("counts removals whose key function returns null, undefined or [] as withoutObjects", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const results: Record<string, ReturnType<KeyFunction>> = { "p-1": null, "p-2": undefined, "p-3": [], "p-4": "x" };
    const { handler, lines } = setup({ key: (item) => results[String(item.keys.productId)] });
    const event = streamEvent(...["p-1", "p-2", "p-3", "p-4"].map((id) => removeRecord({ keys: productKeys(id) })));

    // Act
    const response = await handler(event);

    // Assess
    expect(response).toEqual(NO_FAILURES);
    expect(sentKeys()).toEqual(["x"]);
    expect(lines.at(-1)?.attributes).toMatchObject({
      records: 4,
      removals: 4,
      withoutObjects: 3,
      targets: 1,
      deleted: 1,
    });
  });

  it("counts each record once: records = removals + skipped + invalid", async () => {
    // Prepare
    const { removeRecord, insertRecord } = createRecordFactory();
    const { handler, lines } = setup();
    const event = streamEvent(
      removeRecord({ keys: productKeys("p-1") }),
      insertRecord({ keys: productKeys("p-2") }),
      removeRecord({ keys: { productId: { S: 42 as unknown as string } } }),
      removeRecord({ keys: { sku: { S: "p-4" } } }),
    );

    // Act
    await handler(event);

    // Assess
    expect(lines.at(-1)?.attributes).toMatchObject({ records: 4, removals: 1, skipped: 1, invalid: 2 });
  });

  it("logs each failed object at warn with its key, code and sequence numbers", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup();
    answerDeletes((key) =>
      key === imageKey("p-2") ? "AccessDenied" : key === imageKey("p-3") ? "InvalidArgument" : undefined,
    );
    const records = ["p-1", "p-2", "p-3"].map((id) => removeRecord({ keys: productKeys(id) }));

    // Act
    await handler(streamEvent(...records));

    // Assess
    expect(lines.filter((line) => line.level === "warn").map((line) => line.attributes)).toEqual([
      {
        bucket: BUCKET,
        key: imageKey("p-2"),
        versionId: undefined,
        code: "AccessDenied",
        error: `AccessDenied for ${imageKey("p-2")}`,
        retryable: false,
        itemIdentifiers: [seqOf(records[1] as StreamRecord)],
      },
      {
        bucket: BUCKET,
        key: imageKey("p-3"),
        versionId: undefined,
        code: "InvalidArgument",
        error: `InvalidArgument for ${imageKey("p-3")}`,
        retryable: false,
        itemIdentifiers: [seqOf(records[2] as StreamRecord)],
      },
    ]);
  });

  describe.each([
    ["fail", false],
    ["skip", false],
    ["fail", true],
  ] as const)('with onInvalidRecord "%s" and dryRun %s', (onInvalidRecord, dryRun) => {
    it("keeps OldImage values out of every log line", async () => {
      // Prepare
      const secret = "secret-email@example.com";
      const { removeRecord, ttlRemoveRecord } = createRecordFactory();
      const { handler, lines } = setup({ onInvalidRecord, dryRun, allowedPrefixes: ["images/"] });
      answerDeletes(() => "AccessDenied");
      const oldImage = (id: string) => ({ productId: { S: id }, email: { S: secret }, tags: { SS: [secret] } });
      const event = streamEvent(
        removeRecord({ keys: productKeys("p-1"), oldImage: oldImage("p-1") }),
        ttlRemoveRecord({ keys: productKeys("p-2"), oldImage: oldImage("p-2") }),
        removeRecord({ keys: { sku: { S: "p-3" } }, oldImage: { sku: { S: "p-3" }, email: { S: secret } } }),
        removeRecord({
          keys: { productId: { S: "p-4" } },
          oldImage: { email: { S: secret }, bad: { X: "y" } as AttributeValue },
        }),
      );

      // Act
      await handler(event);

      // Assess
      expect(lines.length).toBeGreaterThanOrEqual(3);
      for (const line of lines) expect(JSON.stringify(line)).not.toContain(secret);
    });
  });

  it("keeps the OldImage out of the log when a key function returns it", async () => {
    // Prepare
    const secret = "secret-email@example.com";
    const { removeRecord } = createRecordFactory();
    // A JavaScript key function returning the wrong thing: the item's OldImage instead of its keys
    const { handler, lines } = setup({ key: (item) => item.oldImage as unknown as ObjectTarget });
    const record = removeRecord({
      keys: productKeys("p-1"),
      oldImage: { productId: { S: "p-1" }, email: { S: secret }, aliases: { SS: [secret] } },
    });

    // Act
    const response = await handler(streamEvent(record));

    // Assess
    expect(response).toEqual(failures(record));
    expect(s3).not.toHaveReceivedAnyCommand();
    expect(lines.find((line) => line.level === "warn")?.attributes?.error).toBe(
      `record 0 (SequenceNumber ${seqOf(record)}, eventID ${record.eventID}): the key function returned an object with keys [productId, email, aliases], which is neither a key string nor { bucket, key, versionId? }`,
    );
    expect(lines.map((line) => line.message)).toEqual([
      "Invalid record, reported as failed",
      "dynamodb-s3-cleanup summary",
    ]);
    for (const line of lines) expect(JSON.stringify(line)).not.toContain(secret);
  });

  it("keeps an OldImage value out of the log when a key function returns it in an array", async () => {
    // Prepare
    const secret = "secret-email@example.com";
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup({
      key: (item) => ["images/ok.png", item.oldImage?.tags as unknown as string],
      onInvalidRecord: "skip",
    });
    const record = removeRecord({
      keys: productKeys("p-1"),
      oldImage: { productId: { S: "p-1" }, tags: { L: [{ S: secret }] } },
    });

    // Act
    const response = await handler(streamEvent(record));

    // Assess
    expect(response).toEqual(NO_FAILURES);
    expect(lines.find((line) => line.level === "warn")?.attributes?.error).toContain(
      "the key function returned an array, which is neither a key string nor { bucket, key, versionId? }",
    );
    for (const line of lines) expect(JSON.stringify(line)).not.toContain(secret);
  });

  it("keeps a malformed OldImage value out of the log", async () => {
    // Prepare
    const secret = "secret-email@example.com";
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup();
    const record = removeRecord({
      keys: productKeys("p-1"),
      oldImage: { productId: { S: "p-1" }, email: { N: secret } },
    });

    // Act
    const response = await handler(streamEvent(record));

    // Assess
    expect(response).toEqual(failures(record));
    expect(lines.map((line) => line.message)).toEqual([
      "Invalid record, reported as failed",
      "dynamodb-s3-cleanup summary",
    ]);
    for (const line of lines) expect(JSON.stringify(line)).not.toContain(secret);
  });
});

describe("key mapping concurrency", () => {
  it.each([1, 3])("runs at most %i key functions at once, starting the next as one finishes", async (concurrency) => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const ids = ["p-0", "p-1", "p-2", "p-3", "p-4"];
    const gates = new Map(ids.map((id) => [id, deferred<void>()]));
    const started: string[] = [];
    let running = 0;
    let mostRunning = 0;
    const { handler } = setup({
      concurrency,
      key: async (item) => {
        const id = String(item.keys.productId);
        started.push(id);
        running++;
        mostRunning = Math.max(mostRunning, running);
        await gates.get(id)?.promise;
        running--;
        return imageKey(id);
      },
    });

    // Act
    const pending = handler(streamEvent(...ids.map((id) => removeRecord({ keys: productKeys(id) }))));
    await settle();
    const startedAtFirst = [...started];
    const startedAfterEach: string[][] = [];
    for (const id of ids) {
      gates.get(id)?.resolve();
      await settle();
      startedAfterEach.push([...started]);
    }
    const response = await pending;

    // Assess
    expect(startedAtFirst).toEqual(ids.slice(0, concurrency));
    expect(startedAfterEach).toEqual(ids.map((_, i) => ids.slice(0, Math.min(ids.length, concurrency + i + 1))));
    expect(mostRunning).toBe(concurrency);
    expect(response).toEqual(NO_FAILURES);
    expect(sentKeys()).toEqual(ids.map(imageKey));
  });

  it("sends no delete until every key function has finished", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const gate = deferred<string>();
    const { handler } = setup({
      concurrency: 2,
      key: (item) => (item.keys.productId === "p-slow" ? gate.promise : imageKey(String(item.keys.productId))),
    });

    // Act
    const pending = handler(
      streamEvent(removeRecord({ keys: productKeys("p-1") }), removeRecord({ keys: productKeys("p-slow") })),
    );
    await settle();
    const sentBefore = s3.commandCalls(DeleteObjectsCommand).length;
    gate.resolve("images/slow.png");
    const response = await pending;

    // Assess
    expect(sentBefore).toBe(0);
    expect(response).toEqual(NO_FAILURES);
    expect(new Set(sentKeys())).toEqual(new Set([imageKey("p-1"), "images/slow.png"]));
  });
});

describe('versions: "all"', () => {
  /** Answers ListObjectVersions with versions v2 and v1 and a delete marker d1 of the prefix key. */
  function answerListings() {
    s3.on(ListObjectVersionsCommand).callsFake((input: ListObjectVersionsCommandInput) => ({
      Versions: [
        { Key: input.Prefix, VersionId: "v2" },
        { Key: input.Prefix, VersionId: "v1" },
        { Key: `${input.Prefix}.bak`, VersionId: "b1" },
      ],
      DeleteMarkers: [{ Key: input.Prefix, VersionId: "d1" }],
    }));
  }

  it("purges every version of each object, and reports exactly the records whose objects kept a version", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup({ versions: "all" });
    answerListings();
    s3.on(DeleteObjectsCommand).callsFake((input: DeleteObjectsCommandInput) => ({
      Errors: (input.Delete?.Objects ?? [])
        .filter(({ Key, VersionId }) => Key === imageKey("shared") && VersionId === "v1")
        .map(({ Key, VersionId }) => ({ Key, VersionId, Code: "AccessDenied", Message: "Access Denied" })),
    }));
    const a = removeRecord({ keys: productKeys("shared") });
    const b = removeRecord({ keys: productKeys("p-2") });
    const c = removeRecord({ keys: productKeys("shared") });

    // Act
    const response = await handler(streamEvent(a, b, c));

    // Assess
    expect(response).toEqual(failures(a, c));
    expect(s3.commandCalls(ListObjectVersionsCommand).map((call) => call.args[0].input.Prefix)).toEqual([
      imageKey("shared"),
      imageKey("p-2"),
    ]);
    // Each key's versions are deleted as soon as they are listed.
    expect(s3.commandCalls(DeleteObjectsCommand).map((call) => call.args[0].input.Delete?.Objects)).toEqual(
      ["shared", "p-2"].map((id) => ["v2", "v1", "d1"].map((VersionId) => ({ Key: imageKey(id), VersionId }))),
    );
    expect(lines.filter((line) => line.level === "warn")).toEqual([
      {
        level: "warn",
        message: "Object not deleted",
        attributes: {
          bucket: BUCKET,
          key: imageKey("shared"),
          versionId: undefined,
          code: "AccessDenied",
          error: "Access Denied",
          retryable: false,
          itemIdentifiers: [seqOf(a), seqOf(c)],
        },
      },
    ]);
    expect(lines.find((line) => line.message === "dynamodb-s3-cleanup summary")?.attributes).toMatchObject({
      targets: 2,
      deleted: 1,
      failed: 1,
      fallback: "none",
      batchItemFailures: 2,
    });
  });

  it("reports the record whose listing throws, and deletes the others' versions", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler } = setup({ versions: "all" });
    answerListings();
    s3.on(ListObjectVersionsCommand, { Prefix: imageKey("p-1") }).rejects(
      new S3ServiceException({ name: "AccessDenied", $fault: "client", $metadata: { httpStatusCode: 403 } }),
    );
    const denied = removeRecord({ keys: productKeys("p-1") });

    // Act
    const response = await handler(streamEvent(denied, removeRecord({ keys: productKeys("p-2") })));

    // Assess
    expect(response).toEqual(failures(denied));
    expect(sentKeys()).toEqual([imageKey("p-2"), imageKey("p-2"), imageKey("p-2")]);
  });

  it("lists nothing in a dry run", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler } = setup({ versions: "all", dryRun: true });

    // Act
    const response = await handler(streamEvent(removeRecord({ keys: productKeys("p-1") })));

    // Assess
    expect(response).toEqual(NO_FAILURES);
    expect(s3).not.toHaveReceivedAnyCommand();
  });

  it('deletes the keys as given with versions: "current", the default', async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler } = setup();

    // Act
    await handler(streamEvent(removeRecord({ keys: productKeys("p-1") })));

    // Assess
    expect(s3).not.toHaveReceivedCommand(ListObjectVersionsCommand);
    expect(s3.commandCalls(DeleteObjectsCommand)[0]?.args[0].input.Delete?.Objects).toEqual([{ Key: imageKey("p-1") }]);
  });
});

describe("stores that refuse a DeleteObjects checksum", () => {
  const missingContentMd5 = () =>
    new S3ServiceException({
      name: "MissingContentMD5",
      $fault: "client",
      $metadata: { httpStatusCode: 400 },
      message: "Missing required header for this request: Content-Md5.",
    });

  it("deletes the objects one by one and says so in the summary, after failed and keptReplaced", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup();
    s3.on(DeleteObjectsCommand).rejects(missingContentMd5());
    s3.on(DeleteObjectCommand).resolves({});

    // Act
    const response = await handler(
      streamEvent(removeRecord({ keys: productKeys("p-1") }), removeRecord({ keys: productKeys("p-2") })),
    );

    // Assess
    expect(response).toEqual(NO_FAILURES);
    expect(s3.commandCalls(DeleteObjectCommand).map((call) => call.args[0].input.Key)).toEqual([
      imageKey("p-1"),
      imageKey("p-2"),
    ]);
    const summary = lines.find((line) => line.message === "dynamodb-s3-cleanup summary")?.attributes ?? {};
    expect(summary).toMatchObject({ targets: 2, deleted: 2, failed: 0, fallback: "single-deletes" });
    const keys = Object.keys(summary);
    expect(keys.indexOf("keptReplaced")).toBe(keys.indexOf("failed") + 1);
    expect(keys.indexOf("fallback")).toBe(keys.indexOf("failed") + 3);
  });

  it("reports the records when fallbackToSingleDeletes is false", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup({ fallbackToSingleDeletes: false });
    s3.on(DeleteObjectsCommand).rejects(missingContentMd5());
    const record = removeRecord({ keys: productKeys("p-1") });

    // Act
    const response = await handler(streamEvent(record));

    // Assess
    expect(response).toEqual(failures(record));
    expect(s3).not.toHaveReceivedCommand(DeleteObjectCommand);
    expect(lines.find((line) => line.message === "Object not deleted")?.attributes?.code).toBe("MissingContentMD5");
  });

  it("adds the Content-MD5 middleware to its DeleteObjects commands with contentMd5: true, and only then", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const withMd5 = setup({ contentMd5: true }).handler;
    const without = setup().handler;

    // Act
    await withMd5(streamEvent(removeRecord({ keys: productKeys("p-1") })));
    await without(streamEvent(removeRecord({ keys: productKeys("p-2") })));

    // Assess
    const stacks = s3.commandCalls(DeleteObjectsCommand).map((call) => call.args[0].middlewareStack.identify());
    expect(stacks).toEqual([
      [`${CONTENT_MD5_MIDDLEWARE} - build`, `${SEND_RATE_MIDDLEWARE} - finalizeRequest`],
      [`${SEND_RATE_MIDDLEWARE} - finalizeRequest`],
    ]);
  });
});

describe("isolation", () => {
  it("keeps two handlers with different outcomes apart", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const denied = setup({ bucket: "denied-bucket" });
    const allowed = setup({ bucket: "allowed-bucket" });
    s3.on(DeleteObjectsCommand).callsFake((input: DeleteObjectsCommandInput) => ({
      Errors:
        input.Bucket === "denied-bucket"
          ? (input.Delete?.Objects ?? []).map(({ Key }) => ({ Key, Code: "AccessDenied", Message: "Access Denied" }))
          : [],
    }));
    const a = removeRecord({ keys: productKeys("p-1") });
    const b = removeRecord({ keys: productKeys("p-2") });

    // Act
    const [deniedResponse, allowedResponse] = await Promise.all([
      denied.handler(streamEvent(a, b)),
      allowed.handler(streamEvent(a, b)),
    ]);

    // Assess
    expect(deniedResponse).toEqual(failures(a, b));
    expect(allowedResponse).toEqual(NO_FAILURES);
    expect(denied.lines.at(-1)?.attributes).toMatchObject({ deleted: 0, failed: 2 });
    expect(allowed.lines.at(-1)?.attributes).toMatchObject({ deleted: 2, failed: 0 });
  });

  it("keeps two concurrent invocations of one handler apart", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup({ concurrency: 1 });
    let arrived = 0;
    let releaseAll = () => {};
    const bothInFlight = new Promise<void>((resolve) => {
      releaseAll = resolve;
    });
    s3.on(DeleteObjectsCommand).callsFake(async (input: DeleteObjectsCommandInput) => {
      arrived++;
      if (arrived === 2) releaseAll();
      await bothInFlight;
      const objects = input.Delete?.Objects ?? [];
      return {
        Errors: objects
          .filter(({ Key }) => Key?.startsWith("images/denied-"))
          .map(({ Key }) => ({ Key, Code: "AccessDenied", Message: "Access Denied" })),
      };
    });
    const first = [removeRecord({ keys: productKeys("denied-1") }), removeRecord({ keys: productKeys("denied-2") })];
    const second = [removeRecord({ keys: productKeys("ok-1") }), removeRecord({ keys: productKeys("ok-2") })];

    // Act
    const [firstResponse, secondResponse] = await Promise.all([
      handler(streamEvent(...first)),
      handler(streamEvent(...second)),
    ]);

    // Assess
    expect(firstResponse).toEqual(failures(...first));
    expect(secondResponse).toEqual(NO_FAILURES);
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 2);
    const summaries = lines.filter((line) => line.level === "info").map((line) => line.attributes);
    expect(summaries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ removals: 2, deleted: 0, failed: 2, batchItemFailures: 2 }),
        expect.objectContaining({ removals: 2, deleted: 2, failed: 0, batchItemFailures: 0 }),
      ]),
    );
  });
});

describe("default S3 client", () => {
  it("creates one client at factory time and uses it for every invocation", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { logger } = recordingLogger();
    const clients: unknown[] = [];
    s3.on(DeleteObjectsCommand).callsFake((_input: DeleteObjectsCommandInput, getClient: () => unknown) => {
      clients.push(getClient());
      return {};
    });
    const first = createCleanupHandler({ bucket: BUCKET, key: TEMPLATE, logger });
    const second = createCleanupHandler({ bucket: BUCKET, key: TEMPLATE, logger });

    // Act
    const responses = [
      await first(streamEvent(removeRecord({ keys: productKeys("p-1") }))),
      await first(streamEvent(removeRecord({ keys: productKeys("p-2") }))),
      await second(streamEvent(removeRecord({ keys: productKeys("p-3") }))),
    ];

    // Assess
    expect(responses).toEqual([NO_FAILURES, NO_FAILURES, NO_FAILURES]);
    expect(clients).toHaveLength(3);
    expect(clients[0]).toBeInstanceOf(S3Client);
    expect(clients[1]).toBe(clients[0]);
    expect(clients[2]).not.toBe(clients[0]);
    expect(s3).not.toHaveReceivedCommand(DeleteObjectCommand);
  });
});

describe("event sources", () => {
  /** The Kinesis record of `record`, as a duplicate Kinesis delivered with its own sequence number. */
  const redelivered = (record: StreamRecord, sequenceNumber: string): StreamRecord => ({
    ...record,
    dynamodb: { ...record.dynamodb, SequenceNumber: sequenceNumber },
  });
  const withEventId = (record: StreamRecord, eventID: string | undefined): StreamRecord => {
    const { eventID: _, ...rest } = record;
    return eventID === undefined ? rest : { ...rest, eventID };
  };
  const identifiers = (response: { batchItemFailures: { itemIdentifier: string }[] }) =>
    response.batchItemFailures.map((failure) => failure.itemIdentifier);

  describe("Kinesis Data Streams for DynamoDB", () => {
    it("deletes the objects of the removals and says so in the summary", async () => {
      // Prepare
      const { removeRecord, insertRecord, ttlRemoveRecord } = createRecordFactory();
      const { handler, lines } = setup();
      const event = kinesisEvent([
        removeRecord({ keys: productKeys("p-1") }),
        insertRecord({ keys: productKeys("p-2") }),
        ttlRemoveRecord({ keys: productKeys("p-3") }),
      ]);

      // Act
      const response = await handler(event);

      // Assess
      expect(response).toEqual(NO_FAILURES);
      expect(sentKeys()).toEqual([imageKey("p-1"), imageKey("p-3")]);
      expect(lines.at(-1)?.attributes).toMatchObject({ source: "kinesis", records: 3, removals: 2, skipped: 1 });
    });

    it("reports kinesis.sequenceNumber, sorted by numeric value", async () => {
      // Prepare
      const { removeRecord } = createRecordFactory();
      const { handler } = setup();
      answerDeletes(() => "AccessDenied");
      const sequenceNumbers = [
        "49654321000000000000000000000000000000000000000000000002",
        "900",
        "149654321000000000000000000000000000000000000000000000001",
        "1000",
      ];
      const records = sequenceNumbers.map((sequenceNumber, i) =>
        removeRecord({ keys: productKeys(`p-${i}`), sequenceNumber }),
      );

      // Act
      const response = await handler(kinesisEvent(records));

      // Assess
      expect(identifiers(response)).toEqual([
        "900",
        "1000",
        "49654321000000000000000000000000000000000000000000000002",
        "149654321000000000000000000000000000000000000000000000001",
      ]);
    });

    it("deletes the objects of a duplicated record once, and counts both copies as removals", async () => {
      // Prepare
      const { removeRecord } = createRecordFactory();
      const { handler, lines } = setup();
      const record = removeRecord({ keys: productKeys("p-1") });
      const event = kinesisEvent([
        record,
        removeRecord({ keys: productKeys("p-2") }),
        redelivered(record, "900000000000000000000"),
      ]);

      // Act
      const response = await handler(event);

      // Assess
      expect(response).toEqual(NO_FAILURES);
      expect(sentKeys()).toEqual([imageKey("p-1"), imageKey("p-2")]);
      expect(lines.at(-1)?.attributes).toMatchObject({ records: 3, removals: 3, targets: 2, deleted: 2 });
    });

    it("reports every copy of a duplicated record when its object is not deleted", async () => {
      // Prepare
      const { removeRecord } = createRecordFactory();
      const { handler, lines } = setup();
      answerDeletes((key) => (key === imageKey("p-1") ? "AccessDenied" : undefined));
      const record = removeRecord({ keys: productKeys("p-1") });
      const copy = redelivered(record, "900000000000000000000");
      const event = kinesisEvent([copy, removeRecord({ keys: productKeys("p-2") }), record]);

      // Act
      const response = await handler(event);

      // Assess
      expect(identifiers(response)).toEqual([seqOf(record), seqOf(copy)]);
      expect(sentKeys()).toEqual([imageKey("p-1"), imageKey("p-2")]);
      expect(lines.find((line) => line.message === "Object not deleted")?.attributes?.itemIdentifiers).toEqual([
        seqOf(copy),
        seqOf(record),
      ]);
    });

    it("reports a record whose kinesis.data cannot be read by its kinesis.sequenceNumber, and deletes the others", async () => {
      // Prepare
      const { removeRecord } = createRecordFactory();
      const { handler, lines } = setup();
      const event = kinesisEvent([
        removeRecord({ keys: productKeys("p-1") }),
        removeRecord({ keys: productKeys("p-2") }),
      ]);
      const [, broken] = event.Records;
      if (broken === undefined) throw new Error("no record");
      broken.kinesis.data = Buffer.from("not JSON").toString("base64");

      // Act
      const response = await handler(event);

      // Assess
      expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: broken.kinesis.sequenceNumber }] });
      expect(sentKeys()).toEqual([imageKey("p-1")]);
      expect(lines[0]).toEqual({
        level: "warn",
        message: "Invalid record, reported as failed",
        attributes: {
          index: 1,
          sequenceNumber: broken.kinesis.sequenceNumber,
          eventId: undefined,
          itemIdentifier: broken.kinesis.sequenceNumber,
          error: `record 1 (SequenceNumber ${broken.kinesis.sequenceNumber}): \`kinesis.data\` is not base64 of a JSON document`,
        },
      });
    });

    it("fails the whole batch when a record to report has no kinesis.sequenceNumber, before deleting", async () => {
      // Prepare
      const { removeRecord } = createRecordFactory();
      const { handler, lines } = setup();
      const event = kinesisEvent([removeRecord({ keys: productKeys("p-1") }), withoutSequenceNumber(removeRecord())]);

      // Act
      const result = handler(event);

      // Assess
      await expect(result).rejects.toThrow(InvalidRecordError);
      await expect(result).rejects.toMatchObject({ field: "kinesis.sequenceNumber", record: { index: 1 } });
      expect(s3).not.toHaveReceivedAnyCommand();
      expect(lines.at(-1)).toMatchObject({
        level: "error",
        attributes: { source: "kinesis", invalid: 1, batchItemFailures: undefined },
      });
    });
  });

  describe("EventBridge Pipes", () => {
    it("deletes the objects of the removals and says so in the summary", async () => {
      // Prepare
      const { removeRecord, modifyRecord } = createRecordFactory();
      const { handler, lines } = setup();
      const event = pipesEvent([
        removeRecord({ keys: productKeys("p-1") }),
        modifyRecord({ keys: productKeys("p-2") }),
      ]);

      // Act
      const response = await handler(event);

      // Assess
      expect(response).toEqual(NO_FAILURES);
      expect(sentKeys()).toEqual([imageKey("p-1")]);
      expect(lines.at(-1)?.attributes).toMatchObject({ source: "pipes", records: 2, removals: 1, skipped: 1 });
    });

    it("reports eventIDs in batch order, even when they do not sort", async () => {
      // Prepare
      const { removeRecord } = createRecordFactory();
      const { handler } = setup();
      answerDeletes((key) => (key === imageKey("ok") ? undefined : "AccessDenied"));
      const event = pipesEvent([
        withEventId(removeRecord({ keys: productKeys("p-1") }), "zeta"),
        withEventId(removeRecord({ keys: productKeys("ok") }), "beta"),
        withEventId(removeRecord({ keys: productKeys("p-3") }), "alpha"),
        withEventId(removeRecord({ keys: productKeys("p-4") }), "mid"),
      ]);

      // Act
      const response = await handler(event);

      // Assess
      expect(identifiers(response)).toEqual(["zeta", "alpha", "mid"]);
    });

    it("reports a removal with an eventID but no SequenceNumber by its eventID, and deletes the others", async () => {
      // Prepare
      const { removeRecord } = createRecordFactory();
      const { handler, lines } = setup();
      const spoilt = withoutSequenceNumber(removeRecord({ keys: productKeys("p-2") }));
      const event = pipesEvent([removeRecord({ keys: productKeys("p-1") }), spoilt]);

      // Act
      const response = await handler(event);

      // Assess
      expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: spoilt.eventID as string }] });
      expect(sentKeys()).toEqual([imageKey("p-1")]);
      expect(lines[0]?.attributes).toMatchObject({
        index: 1,
        sequenceNumber: undefined,
        itemIdentifier: spoilt.eventID,
      });
    });

    it("fails the whole batch when a removal has no eventID, before deleting", async () => {
      // Prepare
      const { removeRecord } = createRecordFactory();
      const { handler } = setup();
      const event = pipesEvent([removeRecord({ keys: productKeys("p-1") }), withEventId(removeRecord(), undefined)]);

      // Act
      const result = handler(event);

      // Assess
      await expect(result).rejects.toThrow(InvalidRecordError);
      await expect(result).rejects.toMatchObject({
        field: "eventID",
        message: expect.stringContaining("`eventID` is needed to report this record as failed"),
      });
      expect(s3).not.toHaveReceivedAnyCommand();
    });

    it('deletes the others when a removal has no eventID under onInvalidRecord "skip"', async () => {
      // Prepare
      const { removeRecord } = createRecordFactory();
      const { handler } = setup({ onInvalidRecord: "skip" });
      const event = pipesEvent([removeRecord({ keys: productKeys("p-1") }), withEventId(removeRecord(), undefined)]);

      // Act
      const response = await handler(event);

      // Assess
      expect(response).toEqual(NO_FAILURES);
      expect(sentKeys()).toEqual([imageKey("p-1")]);
    });
  });

  it.each([
    [
      "Records mixing Kinesis and DynamoDB records",
      () => {
        const { removeRecord } = createRecordFactory();
        return { Records: [removeRecord(), ...kinesisEvent([removeRecord()]).Records] };
      },
    ],
    [
      "an array holding a Kinesis record",
      () => {
        const { removeRecord } = createRecordFactory();
        return [removeRecord(), ...kinesisEvent([removeRecord()]).Records];
      },
    ],
  ])("rejects %s with InvalidEventError, deleting and logging nothing", async (_, makeEvent) => {
    // Prepare
    const onResult = vi.fn();
    const { handler, lines } = setup({ onResult });

    // Act
    const result = handler(makeEvent() as unknown as StreamEvent);

    // Assess
    await expect(result).rejects.toThrow(InvalidEventError);
    expect(s3).not.toHaveReceivedAnyCommand();
    expect(lines).toEqual([]);
    expect(onResult).not.toHaveBeenCalled();
  });
});

describe("ttlAttribute", () => {
  const CREATED = 1_795_000_000;
  const image = (id: string, expiresAt: number): Record<string, AttributeValue> => ({
    productId: { S: id },
    expiresAt: { N: String(expiresAt) },
  });

  it("rejects an empty attribute name at factory time", () => {
    // Act
    const issues = configIssues(() => setup({ ttlAttribute: "" }));

    // Assess
    expect(issues).toEqual([{ path: "ttlAttribute", message: "must be a non-empty string" }]);
  });

  describe.each([
    ["a DynamoDB stream", (records: StreamRecord[]) => streamEvent(...records)],
    ["Kinesis in milliseconds", (records: StreamRecord[]) => kinesisEvent(records)],
    ["Kinesis in microseconds", (records: StreamRecord[]) => kinesisEvent(records, { precision: "MICROSECOND" })],
    ["EventBridge Pipes", (records: StreamRecord[]) => pipesEvent(records)],
  ])("from %s", (_source, eventOf) => {
    it('deletes for expired items without userIdentity under removals: "ttl", and not for live ones', async () => {
      // Prepare
      const { removeRecord, ttlRemoveRecord } = createRecordFactory();
      const { handler, lines } = setup({ removals: "ttl", ttlAttribute: "expiresAt" });
      const at = { approximateCreationDateTime: CREATED };
      const event = eventOf([
        removeRecord({ keys: productKeys("expired"), oldImage: image("expired", CREATED - 3600), ...at }),
        removeRecord({ keys: productKeys("now"), oldImage: image("now", CREATED), ...at }),
        removeRecord({ keys: productKeys("live"), oldImage: image("live", CREATED + 1), ...at }),
        ttlRemoveRecord({ keys: productKeys("by-ttl"), ...at }),
      ]);

      // Act
      const response = await handler(event);

      // Assess
      expect(response).toEqual(NO_FAILURES);
      expect(sentKeys()).toEqual([imageKey("expired"), imageKey("now"), imageKey("by-ttl")]);
      expect(lines.at(-1)?.attributes).toMatchObject({ removals: 3, skipped: 1 });
    });

    it('reports a KEYS_ONLY removal without userIdentity under removals: "ttl": it cannot be told', async () => {
      // Prepare
      const { removeRecord } = createRecordFactory();
      const { handler, lines } = setup({ removals: "ttl", ttlAttribute: "expiresAt" });
      const event = eventOf([removeRecord({ keys: productKeys("p-1") })]);

      // Act
      const response = await handler(event);

      // Assess
      expect(response.batchItemFailures).toHaveLength(1);
      expect(s3).not.toHaveReceivedAnyCommand();
      expect(lines[0]?.attributes?.error).toContain("`dynamodb.OldImage` is missing: ttlAttribute needs an OLD_IMAGE");
    });
  });
});

describe("onResult", () => {
  it("rejects a hook that is not a function at factory time", () => {
    // Act
    const issues = configIssues(() => setup({ onResult: "metrics" as unknown as () => void }));

    // Assess
    expect(issues).toEqual([{ path: "onResult", message: "must be a function" }]);
  });

  it.each([
    ["a DynamoDB stream", "dynamodb-streams", (records: StreamRecord[]) => streamEvent(...records)],
    ["Kinesis", "kinesis", (records: StreamRecord[]) => kinesisEvent(records)],
    ["EventBridge Pipes", "pipes", (records: StreamRecord[]) => pipesEvent(records)],
  ])(
    "is called once, after the summary line, with the summary of an invocation from %s",
    async (_, source, eventOf) => {
      // Prepare
      const { removeRecord, insertRecord } = createRecordFactory();
      const calls: { summary: CleanupSummary; linesBefore: number }[] = [];
      const { handler, lines } = setup({
        onResult: (summary) => {
          calls.push({ summary, linesBefore: lines.length });
        },
      });
      answerDeletes((key) => (key === imageKey("p-2") ? "AccessDenied" : undefined));
      const event = eventOf([
        removeRecord({ keys: productKeys("p-1") }),
        removeRecord({ keys: productKeys("p-2") }),
        insertRecord({ keys: productKeys("p-3") }),
      ]);

      // Act
      await handler(event);

      // Assess
      expect(calls).toHaveLength(1);
      expect(calls[0]?.summary).toStrictEqual({
        source,
        records: 3,
        removals: 2,
        withoutObjects: 0,
        skipped: 1,
        invalid: 0,
        targets: 2,
        deleted: 1,
        failed: 1,
        keptReplaced: 0,
        keptRecreated: 0,
        fallback: "none",
        batchItemFailures: 1,
        aborted: false,
        durationMs: 0,
        dryRun: false,
      });
      expect(calls[0]?.summary).toStrictEqual(lines.at(-1)?.attributes);
      expect(calls[0]?.linesBefore).toBe(lines.length);
    },
  );

  it("is awaited: the handler answers only once the hook's promise settles", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const gate = deferred<void>();
    const { handler } = setup({ onResult: () => gate.promise });
    let answered = false;

    // Act
    const pending = handler(streamEvent(removeRecord({ keys: productKeys("p-1") }))).then((response) => {
      answered = true;
      return response;
    });
    await settle();
    const answeredBefore = answered;
    gate.resolve();
    const response = await pending;

    // Assess
    expect(answeredBefore).toBe(false);
    expect(response).toEqual(NO_FAILURES);
  });

  it.each([
    [
      "throws an Error",
      () => {
        throw new Error("metrics endpoint down");
      },
      "metrics endpoint down",
    ],
    ["rejects with an Error", () => Promise.reject(new Error("flush failed")), "flush failed"],
    [
      "throws a value that is not an Error",
      () => {
        throw { email: "secret@example.com" };
      },
      "an object with keys [email]",
    ],
  ])("logs a hook that %s at warn and answers as without it", async (_, onResult, error) => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup({ onResult });
    answerDeletes((key) => (key === imageKey("p-2") ? "AccessDenied" : undefined));
    const denied = removeRecord({ keys: productKeys("p-2") });

    // Act
    const response = await handler(streamEvent(removeRecord({ keys: productKeys("p-1") }), denied));

    // Assess
    expect(response).toEqual(failures(denied));
    expect(lines.slice(-2)).toEqual([
      { level: "info", message: "dynamodb-s3-cleanup summary", attributes: expect.objectContaining({ failed: 1 }) },
      { level: "warn", message: "onResult failed; the cleanup's response is unaffected", attributes: { error } },
    ]);
    for (const line of lines) expect(JSON.stringify(line)).not.toContain("secret@example.com");
  });

  it("is called, and awaited, before the handler fails the whole batch, with batchItemFailures undefined", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const gate = deferred<void>();
    const onResult = vi.fn((_summary: CleanupSummary) => gate.promise);
    const { handler, lines } = setup({ onResult });
    const event = streamEvent(removeRecord({ keys: productKeys("p-1") }), withoutSequenceNumber(removeRecord()));
    let settled = false;

    // Act
    const pending = handler(event).finally(() => {
      settled = true;
    });
    await settle();
    const settledBefore = settled;
    gate.resolve();
    const error = await pending.then(
      () => expect.unreachable("the handler must reject"),
      (reason: unknown) => reason,
    );

    // Assess
    expect(settledBefore).toBe(false);
    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(onResult).toHaveBeenCalledTimes(1);
    const { error: _message, ...logged } = lines.at(-1)?.attributes ?? {};
    expect(onResult.mock.calls[0]?.[0]).toStrictEqual(logged);
    expect(onResult.mock.calls[0]?.[0]).toMatchObject({ source: "dynamodb-streams", batchItemFailures: undefined });
  });

  it("lets the handler fail the whole batch with its own error when the hook throws too", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup({
      onResult: () => {
        throw new Error("metrics endpoint down");
      },
    });
    const event = streamEvent(withoutSequenceNumber(removeRecord({ keys: productKeys("p-1") })));

    // Act
    const result = handler(event);

    // Assess
    await expect(result).rejects.toThrow(InvalidRecordError);
    expect(lines.map((line) => `${line.level} ${line.message}`)).toEqual([
      "warn Invalid record, reported as failed",
      "error dynamodb-s3-cleanup summary: failing the whole batch",
      "warn onResult failed; the cleanup's response is unaffected",
    ]);
  });

  it("is not called for an event of no known shape: there is no batch to sum up", async () => {
    // Prepare
    const onResult = vi.fn();
    const { handler } = setup({ onResult });

    // Act
    const result = handler({} as StreamEvent);

    // Assess
    await expect(result).rejects.toThrow(InvalidEventError);
    expect(onResult).not.toHaveBeenCalled();
  });

  it("is called once per invocation", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const onResult = vi.fn();
    const { handler } = setup({ onResult });

    // Act
    await handler(streamEvent(removeRecord({ keys: productKeys("p-1") })));
    await handler(streamEvent());

    // Assess
    expect(onResult.mock.calls.map(([summary]) => summary.records)).toEqual([1, 0]);
  });
});

describe("prefix targets", () => {
  const prefixOf = (item: { keys: Record<string, unknown> }) => ({
    bucket: BUCKET,
    prefix: `products/${String(item.keys.productId)}/`,
  });

  /** Answers ListObjectsV2 with `count` objects under the prefix asked for, in pages of MaxKeys. */
  function answerListings(count: number) {
    s3.on(ListObjectsV2Command).callsFake((input: ListObjectsV2CommandInput) => {
      const start = Number(input.ContinuationToken ?? 0);
      const end = Math.min(count, start + (input.MaxKeys ?? 1000));
      return {
        Contents: Array.from({ length: end - start }, (_, i) => ({ Key: `${input.Prefix}${start + i}.png` })),
        IsTruncated: end < count,
        ...(end < count ? { NextContinuationToken: String(end) } : {}),
      };
    });
  }

  it("lists the prefix and deletes every object under it in DeleteObjects requests", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup({ key: prefixOf, allowedPrefixes: ["products/"] });
    answerListings(3);
    const record = removeRecord({ keys: productKeys("p-1") });

    // Act
    const response = await handler(streamEvent(record));

    // Assess
    expect(response).toEqual(NO_FAILURES);
    expect(s3.commandCalls(ListObjectsV2Command).map((call) => call.args[0].input.Prefix)).toEqual(["products/p-1/"]);
    expect(s3.commandCalls(DeleteObjectsCommand)[0]?.args[0].input.Delete?.Objects).toEqual(
      [0, 1, 2].map((i) => ({ Key: `products/p-1/${i}.png` })),
    );
    expect(lines.find((line) => line.message === "dynamodb-s3-cleanup summary")?.attributes).toMatchObject({
      targets: 3,
      deleted: 3,
      failed: 0,
      batchItemFailures: 0,
    });
  });

  it("deletes what it listed within maxListedObjects and reports the record, with a warn line", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup({ key: prefixOf, allowedPrefixes: ["products/"], maxListedObjects: 2 });
    answerListings(5);
    const record = removeRecord({ keys: productKeys("p-1") });

    // Act
    const response = await handler(streamEvent(record));

    // Assess
    expect(response).toEqual(failures(record));
    expect(s3.commandCalls(DeleteObjectsCommand)[0]?.args[0].input.Delete?.Objects).toHaveLength(2);
    expect(lines.filter((line) => line.message === "Prefix not fully deleted")).toEqual([
      {
        level: "warn",
        message: "Prefix not fully deleted",
        attributes: expect.objectContaining({
          bucket: BUCKET,
          prefix: "products/p-1/",
          retryable: true,
          itemIdentifiers: [seqOf(record)],
        }),
      },
    ]);
  });

  it("in a dry run, logs a prefix not fully listed without reporting its record: a redelivery would list the same objects", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup({
      key: prefixOf,
      allowedPrefixes: ["products/"],
      maxListedObjects: 2,
      dryRun: true,
    });
    answerListings(5);
    const record = removeRecord({ keys: productKeys("p-1") });

    // Act
    const first = await handler(streamEvent(record));
    const again = await handler(streamEvent(record));

    // Assess
    expect(first).toEqual(NO_FAILURES);
    expect(again).toEqual(NO_FAILURES);
    expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
    expect(lines.filter((line) => line.message === "Dry run: these objects would be deleted")).toEqual([
      expect.objectContaining({
        attributes: { targets: [0, 1].map((i) => ({ bucket: BUCKET, key: `products/p-1/${i}.png` })) },
      }),
      expect.objectContaining({
        attributes: { targets: [0, 1].map((i) => ({ bucket: BUCKET, key: `products/p-1/${i}.png` })) },
      }),
    ]);
    expect(lines.filter((line) => line.level === "warn")).toEqual([
      {
        level: "warn",
        message: "Dry run: prefix not fully listed",
        attributes: expect.objectContaining({ prefix: "products/p-1/", code: "ListingNotFinished" }),
      },
      {
        level: "warn",
        message: "Dry run: prefix not fully listed",
        attributes: expect.objectContaining({ prefix: "products/p-1/", code: "ListingNotFinished" }),
      },
    ]);
  });

  it("in a dry run, still reports a record whose prefix is invalid, as onInvalidRecord says", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler } = setup({ key: prefixOf, allowedPrefixes: ["images/"], dryRun: true });
    const record = removeRecord({ keys: productKeys("p-1") });

    // Act
    const response = await handler(streamEvent(record));

    // Assess
    expect(response).toEqual(failures(record));
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(0);
  });

  it("refuses a prefix outside allowedPrefixes as an invalid record, listing and deleting nothing", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler } = setup({ key: prefixOf, allowedPrefixes: ["images/"] });
    answerListings(3);
    const record = removeRecord({ keys: productKeys("p-1") });

    // Act
    const response = await handler(streamEvent(record));

    // Assess
    expect(response).toEqual(failures(record));
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(0);
    expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
  });

  it("rejects bad prefixDelimiter and maxListedObjects options by name", () => {
    // Act
    const error = (() => {
      try {
        setup({ key: prefixOf, allowedPrefixes: ["products/"], prefixDelimiter: "", maxListedObjects: 0 });
      } catch (thrown) {
        return thrown;
      }
      return undefined;
    })();

    // Assess
    expect(isConfigError(error)).toBe(true);
    expect((error as ConfigError).issues.map((issue) => issue.path).sort()).toEqual([
      "maxListedObjects",
      "prefixDelimiter",
    ]);
  });
});

describe("etagAttribute", () => {
  const withEtag = (productId: string, etag: string): Record<string, AttributeValue> => ({
    productId: { S: productId },
    imageEtag: { S: etag },
  });

  it("sends the ETag from the OldImage, and keeps an object replaced since without reporting it", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler, lines } = setup({ etagAttribute: "imageEtag" });
    s3.on(DeleteObjectsCommand).resolves({
      Errors: [
        {
          Key: imageKey("p-2"),
          Code: "PreconditionFailed",
          Message: "At least one of the pre-conditions you specified did not hold",
        },
      ],
    });
    const kept = removeRecord({ keys: productKeys("p-2"), oldImage: withEtag("p-2", '"old"') });
    const deleted = removeRecord({ keys: productKeys("p-1"), oldImage: withEtag("p-1", '"abc"') });

    // Act
    const response = await handler(streamEvent(deleted, kept));

    // Assess
    expect(response).toEqual(NO_FAILURES);
    expect(s3.commandCalls(DeleteObjectsCommand)[0]?.args[0].input.Delete?.Objects).toEqual([
      { Key: imageKey("p-1"), ETag: '"abc"' },
      { Key: imageKey("p-2"), ETag: '"old"' },
    ]);
    expect(lines.filter((line) => line.level === "debug")).toEqual([
      {
        level: "debug",
        message: "Object kept: replaced since its item was written",
        attributes: { bucket: BUCKET, key: imageKey("p-2"), versionId: undefined },
      },
    ]);
    expect(lines.find((line) => line.message === "dynamodb-s3-cleanup summary")?.attributes).toMatchObject({
      deleted: 1,
      failed: 0,
      keptReplaced: 1,
      batchItemFailures: 0,
    });
  });

  it("reports a record whose OldImage has no ETag, deleting nothing for it", async () => {
    // Prepare
    const { removeRecord } = createRecordFactory();
    const { handler } = setup({ etagAttribute: "imageEtag" });
    const record = removeRecord({ keys: productKeys("p-1") });

    // Act
    const response = await handler(streamEvent(record));

    // Assess
    expect(response).toEqual(failures(record));
    expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
  });

  it('rejects etagAttribute with versions: "all" at factory time', () => {
    // Act
    const act = () => setup({ etagAttribute: "imageEtag", versions: "all" });

    // Assess
    expect(act).toThrow(ConfigError);
    expect(act).toThrow(/`etagAttribute`: cannot be used with versions: "all"/);
  });
});
