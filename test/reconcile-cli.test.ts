import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ConfigError, ReconcileError } from "../src/errors.js";
import { fileCheckpointStore } from "../src/reconcile-checkpoint.js";
import {
  flagOfOption,
  humanBytes,
  humanDuration,
  orphanLine,
  PLAIN_PROGRESS_INTERVAL_MS,
  parseAge,
  RECONCILE_USAGE,
  type ReconcileCommandIo,
  type ReconcileFunction,
  runReconcileCommand,
  s3ClientConfig,
  TTY_REDRAW_MS,
  TTY_TICK_MS,
} from "../src/reconcile-cli.js";
import { type ReconcileOptions, type ReconcileReport, reconcile } from "../src/reconcile-run.js";
import type { Orphan } from "../src/reconcile-types.js";
import { INTERRUPTED_EXIT_CODE } from "../src/replay-cli.js";
import { deferred, settle } from "./fake-clock.js";

const dynamodb = mockClient(DynamoDBClient);

beforeEach(() => {
  dynamodb.reset();
});

afterAll(() => {
  dynamodb.restore();
});

const REQUIRED = ["--table", "products", "--bucket", "product-images", "--key", "images/{productId}.png"];

/** A report of a complete, clean run over one partition, with `fields` over it. */
function reportOf(fields: Partial<ReconcileReport> = {}): ReconcileReport {
  return {
    listed: 10,
    unrelated: 1,
    live: 5,
    young: 1,
    orphans: 3,
    unchecked: 0,
    deleted: 0,
    failed: 0,
    keptReplaced: 0,
    keptRecreated: 0,
    bytes: 3 * 1536,
    partitions: [
      { prefix: "images/", endAt: "images/m", listed: 6, done: true },
      { prefix: "images/", startAfter: "images/m", listed: 4, done: true },
    ],
    durationMs: 65_000,
    complete: true,
    ...fields,
  };
}

function orphanOf(n: number, fields: Partial<Orphan> = {}): Orphan {
  return {
    key: `images/gone-${n}.png`,
    bucket: "product-images",
    size: 1536,
    lastModified: new Date(Date.UTC(2026, 0, n, 12)),
    etag: `"etag-${n}"`,
    itemKey: { productId: { S: `gone-${n}` } },
    status: "found",
    ...fields,
  };
}

interface Harness {
  io: ReconcileCommandIo;
  stdout: () => string;
  stderr: () => string;
  stderrWrites: string[];
  /** The options of every call of reconcile. */
  calls: ReconcileOptions[];
  /** The only call's options. */
  options: () => ReconcileOptions;
  interrupt: () => void;
  listening: () => boolean;
  /** Runs the progress timer once. */
  tick: () => void;
  /** The timer's interval, while it runs. */
  tickingEvery: () => number | undefined;
  clock: { now: number };
}

function harness(run: ReconcileFunction = async () => reportOf(), io: Partial<ReconcileCommandIo> = {}): Harness {
  const out: string[] = [];
  const err: string[] = [];
  const calls: ReconcileOptions[] = [];
  const clock = { now: 1_764_667_800_000 };
  let interruptListener: (() => void) | undefined;
  let tick: { ms: number; listener: () => void } | undefined;
  return {
    io: {
      env: {},
      stdout: (text) => out.push(text),
      stderr: (text) => err.push(text),
      stderrIsTty: false,
      reconcile: (options) => {
        calls.push(options);
        return run(options);
      },
      s3Client: new S3Client({ region: "us-east-1" }),
      dynamoDbClient: new DynamoDBClient({ region: "us-east-1" }),
      onInterrupt: (listener) => {
        interruptListener = listener;
        return () => {
          interruptListener = undefined;
        };
      },
      onTick: (ms, listener) => {
        tick = { ms, listener };
        return () => {
          tick = undefined;
        };
      },
      now: () => clock.now,
      ...io,
    },
    stdout: () => out.join(""),
    stderr: () => err.join(""),
    stderrWrites: err,
    calls,
    options: () => {
      expect(calls).toHaveLength(1);
      return calls[0] as ReconcileOptions;
    },
    interrupt: () => interruptListener?.(),
    listening: () => interruptListener !== undefined,
    tick: () => tick?.listener(),
    tickingEvery: () => tick?.ms,
    clock,
  };
}

function temporaryDirectory(): string {
  return mkdtempSync(join(tmpdir(), "reconcile-cli-"));
}

describe("runReconcileCommand: usage", () => {
  it.each([["--help"], ["-h"]])("prints the usage on stdout for %s and exits with 0", async (flag) => {
    const h = harness();
    expect(await runReconcileCommand([flag], h.io)).toBe(0);
    expect(h.stdout()).toBe(RECONCILE_USAGE);
    expect(h.stderr()).toBe("");
    expect(h.calls).toHaveLength(0);
  });

  it.each([
    [["--bucket", "b", "--key", "{id}"], "--table is required"],
    [["--table", "t", "--key", "{id}"], "--bucket is required"],
    [["--table", "t", "--bucket", "b"], "--key is required"],
    [[...REQUIRED, "--tabel", "t"], "Unknown option '--tabel'"],
    [["--table"], "Option '--table <value>' argument missing"],
    [[...REQUIRED, "extra"], "Unexpected argument 'extra'"],
    [
      [...REQUIRED, "--min-age", "1w"],
      '--min-age must be a duration such as 90s, 30m, 24h or 7d, or a number of milliseconds, not "1w"',
    ],
    [[...REQUIRED, "--min-age", "24 h"], "--min-age must be a duration"],
    [[...REQUIRED, "--min-age=-5"], "--min-age must be a duration"],
    [[...REQUIRED, "--min-age", "1.5h"], "--min-age must be a duration"],
    [[...REQUIRED, "--min-age", ""], "--min-age must be a duration"],
    [[...REQUIRED, "--min-age", "9999999999999999d"], "--min-age must be a duration"],
    [[...REQUIRED, "--concurrency", "0"], "--concurrency must be an integer from 1 to 64"],
    [[...REQUIRED, "--concurrency", "65"], "--concurrency must be an integer from 1 to 64"],
    [[...REQUIRED, "--concurrency", "2.5"], "--concurrency must be an integer from 1 to 64"],
    [[...REQUIRED, "--concurrency", "four"], "--concurrency must be an integer from 1 to 64"],
    [[...REQUIRED, "--concurrency", ""], "--concurrency must be an integer from 1 to 64"],
  ])("exits with 2 for %j, naming the flag, before any run", async (argv, message) => {
    const h = harness();
    expect(await runReconcileCommand(argv, h.io)).toBe(2);
    expect(h.stderr()).toMatch(new RegExp(`^reconcile: ${message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    expect(h.stderr()).toContain(`\n\n${RECONCILE_USAGE}`);
    expect(h.stdout()).toBe("");
    expect(h.calls).toHaveLength(0);
  });
});

describe("parseAge", () => {
  it.each([
    ["90s", 90_000],
    ["30m", 1_800_000],
    ["24h", 86_400_000],
    ["7d", 604_800_000],
    ["0", 0],
    ["0d", 0],
    ["1500", 1_500],
    ["9007199254740991", Number.MAX_SAFE_INTEGER],
  ])("reads %s as %i ms", (text, ms) => {
    expect(parseAge(text)).toBe(ms);
  });

  it.each([["1w"], ["h"], ["24H"], ["+5"], ["1e3"], ["1_000"], [" 5"], ["9007199254740992"], ["99999999999999999"]])(
    "refuses %j",
    (text) => {
      expect(parseAge(text)).toBeNull();
    },
  );
});

describe("runReconcileCommand: the options of reconcile", () => {
  it("passes the required flags, and leaves every other option to reconcile's default", async () => {
    const h = harness();
    expect(await runReconcileCommand(REQUIRED, h.io)).toBe(0);
    const options = h.options();
    expect(options).toEqual({
      tableName: "products",
      bucket: "product-images",
      key: "images/{productId}.png",
      delete: false,
      signal: expect.any(AbortSignal),
      onProgress: expect.any(Function),
      s3Client: h.io.s3Client,
      dynamoDbClient: h.io.dynamoDbClient,
      logger: expect.any(Object),
    });
    expect(options.signal?.aborted).toBe(false);
  });

  it("passes every flag", async () => {
    const h = harness();
    const directory = temporaryDirectory();
    const argv = [
      ...REQUIRED,
      "--key",
      "thumbs/{productId}.jpg",
      "--prefix",
      "images/2026/",
      "--min-age",
      "7d",
      "--delete",
      "--report",
      join(directory, "orphans.jsonl"),
      "--checkpoint",
      join(directory, "checkpoint.json"),
      "--concurrency",
      "16",
      "--allowed-prefix",
      "images/",
      "--allowed-prefix",
      "thumbs/",
      "--scan",
    ];
    expect(await runReconcileCommand(argv, h.io)).toBe(0);
    expect(h.options()).toMatchObject({
      key: ["images/{productId}.png", "thumbs/{productId}.jpg"],
      prefix: "images/2026/",
      minAgeMs: 7 * 86_400_000,
      delete: true,
      checkpoint: join(directory, "checkpoint.json"),
      concurrency: 16,
      allowedPrefixes: ["images/", "thumbs/"],
      mode: "scan",
      onOrphan: expect.any(Function),
    });
  });

  it("asks for the key mode unless --scan is given", async () => {
    const h = harness();
    await runReconcileCommand(REQUIRED, h.io);
    expect(h.options().mode).toBeUndefined();
  });

  it("passes --min-age 0 and an empty --prefix as given", async () => {
    const h = harness();
    await runReconcileCommand([...REQUIRED, "--min-age", "0", "--prefix", ""], h.io);
    expect(h.options()).toMatchObject({ minAgeMs: 0, prefix: "" });
  });

  it("writes JSON lines to stderr at warn and above, and at info with --verbose", async () => {
    const logging: ReconcileFunction = async (options) => {
      options.logger?.info("reconcile: an info line", {});
      options.logger?.warn("reconcile: a warning", { bucket: "product-images" });
      return reportOf();
    };
    const quiet = harness(logging);
    await runReconcileCommand(REQUIRED, quiet.io);
    expect(quiet.stderr()).not.toContain("an info line");
    const warning = quiet.stderrWrites.find((line) => line.includes("a warning")) as string;
    expect(JSON.parse(warning)).toMatchObject({
      level: "WARN",
      message: "reconcile: a warning",
      bucket: "product-images",
    });
    const verbose = harness(logging);
    await runReconcileCommand([...REQUIRED, "--verbose"], verbose.io);
    expect(JSON.parse(verbose.stderrWrites.find((line) => line.includes("an info line")) as string)).toMatchObject({
      level: "INFO",
    });
  });

  it("says what it is about to do on stderr", async () => {
    const h = harness();
    await runReconcileCommand([...REQUIRED, "--prefix", "images/a"], h.io);
    expect(h.stderrWrites[0]).toBe(
      'reconcile: bucket product-images, prefix "images/a", table products, key images/{productId}.png, minimum age 24h, report only (no --delete)\n',
    );
    const deleting = harness();
    await runReconcileCommand([...REQUIRED, "--key", "b/{productId}", "--delete", "--min-age", "2d"], deleting.io);
    expect(deleting.stderrWrites[0]).toBe(
      "reconcile: bucket product-images, table products, keys images/{productId}.png, b/{productId}, minimum age 2d, deleting the orphans\n",
    );
  });

  it("warns when it deletes with a minimum age below an hour, and only then", async () => {
    const warning = "--min-age is below an hour";
    const deleting = harness();
    await runReconcileCommand([...REQUIRED, "--delete", "--min-age", "59m"], deleting.io);
    expect(deleting.stderr()).toContain(warning);
    for (const argv of [
      [...REQUIRED, "--min-age", "0"],
      [...REQUIRED, "--delete", "--min-age", "1h"],
      [...REQUIRED, "--delete"],
    ]) {
      const h = harness();
      await runReconcileCommand(argv, h.io);
      expect(h.stderr()).not.toContain(warning);
    }
  });
});

describe("runReconcileCommand: the clients", () => {
  it.each([
    [{}, {}],
    [{ AWS_ENDPOINT_URL_S3: "http://127.0.0.1:4566" }, { forcePathStyle: true }],
    [{ AWS_ENDPOINT_URL_S3: "http://127.10.0.3:9000/" }, { forcePathStyle: true }],
    [{ AWS_ENDPOINT_URL_S3: "http://localhost:4566" }, { forcePathStyle: true }],
    [{ AWS_ENDPOINT_URL_S3: "http://minio.localhost:9000" }, { forcePathStyle: true }],
    [{ AWS_ENDPOINT_URL_S3: "http://[::1]:4566" }, { forcePathStyle: true }],
    [{ AWS_ENDPOINT_URL: "http://127.0.0.1:4566" }, { forcePathStyle: true }],
    [{ AWS_ENDPOINT_URL_S3: "", AWS_ENDPOINT_URL: "http://localhost:4566" }, { forcePathStyle: true }],
    [{ AWS_ENDPOINT_URL_S3: "https://s3.eu-west-1.amazonaws.com", AWS_ENDPOINT_URL: "http://127.0.0.1:4566" }, {}],
    [{ AWS_ENDPOINT_URL_S3: "http://128.0.0.1:4566" }, {}],
    [{ AWS_ENDPOINT_URL_S3: "http://localhost.example.com" }, {}],
    [{ AWS_ENDPOINT_URL_S3: "not a url" }, {}],
    [{ AWS_ENDPOINT_URL_DYNAMODB: "http://127.0.0.1:8000" }, {}],
    [{ AWS_ENDPOINT_URL_S3: "http://127.0.0.1:4566", AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: "TRUE" }, {}],
  ])("s3ClientConfig(%j) is %j", (env, config) => {
    expect(s3ClientConfig(env)).toEqual(config);
  });

  it("creates both clients when io gives none, path-style for a loopback S3 endpoint, and destroys them after", async () => {
    const destroyS3 = vi.spyOn(S3Client.prototype, "destroy");
    const destroyDynamoDb = vi.spyOn(DynamoDBClient.prototype, "destroy");
    try {
      const h = harness(undefined, {
        env: { AWS_ENDPOINT_URL_S3: "http://127.0.0.1:4566" },
        s3Client: undefined,
        dynamoDbClient: undefined,
      });
      expect(await runReconcileCommand(REQUIRED, h.io)).toBe(0);
      const { s3Client, dynamoDbClient } = h.options();
      expect(s3Client).toBeInstanceOf(S3Client);
      expect(s3Client?.config.forcePathStyle).toBe(true);
      expect(dynamoDbClient).toBeInstanceOf(DynamoDBClient);
      expect(destroyS3.mock.contexts).toEqual([s3Client]);
      expect(destroyDynamoDb.mock.contexts).toEqual([dynamoDbClient]);
    } finally {
      destroyS3.mockRestore();
      destroyDynamoDb.mockRestore();
    }
  });

  it("leaves the clients io gives alone", async () => {
    const h = harness();
    const destroyS3 = vi.spyOn(h.io.s3Client as S3Client, "destroy");
    await runReconcileCommand(REQUIRED, h.io);
    expect(destroyS3).not.toHaveBeenCalled();
  });

  it("exits with 2 and says what to install when @aws-sdk/client-dynamodb cannot be loaded", async () => {
    const h = harness(undefined, {
      dynamoDbClient: undefined,
      importDynamoDb: () => Promise.reject(new Error("Cannot find package '@aws-sdk/client-dynamodb'")),
    });
    expect(await runReconcileCommand(REQUIRED, h.io)).toBe(2);
    expect(h.stderr()).toBe(
      "reconcile: the reconcile command needs @aws-sdk/client-dynamodb (npm install @aws-sdk/client-dynamodb): Cannot find package '@aws-sdk/client-dynamodb'\n",
    );
    expect(h.calls).toHaveLength(0);
  });
});

describe("runReconcileCommand: configuration errors", () => {
  it.each([
    ["tableName", "--table"],
    ["bucket", "--bucket"],
    ["key", "--key"],
    ["key[0]", "--key #1"],
    ["key[1]", "--key #2"],
    ["prefix", "--prefix"],
    ["minAgeMs", "--min-age"],
    ["delete", "--delete"],
    ["checkpoint", "--checkpoint"],
    ["concurrency", "--concurrency"],
    ["allowedPrefixes", "--allowed-prefix"],
    ["allowedPrefixes[2]", "--allowed-prefix #3"],
    ["s3Client", "`s3Client`"],
    ["[0]", "`[0]`"],
  ])("names option %s as %s", (path, flag) => {
    expect(flagOfOption(path)).toBe(flag);
  });

  it("shows each issue of a ConfigError with its flag, and exits with 2", async () => {
    const h = harness(async () => {
      throw new ConfigError([
        { path: "tableName", message: "must not be empty" },
        { path: "key[1]", message: 'is not a key template: "x{"' },
      ]);
    });
    expect(await runReconcileCommand([...REQUIRED, "--key", "x{"], h.io)).toBe(2);
    expect(h.stderr()).toMatch(
      /\nreconcile: --table: must not be empty\nreconcile: --key #2: is not a key template: "x\{"\n$/,
    );
    expect(h.stdout()).toBe("");
  });

  it("names --key for a template reconcile itself refuses", async () => {
    const h = harness(reconcile);
    expect(await runReconcileCommand(["--table", "t", "--bucket", "b", "--key", "images/{productId"], h.io)).toBe(2);
    expect(h.stderr()).toMatch(/\nreconcile: --key: is not a key template: "images\/\{productId"\n$/);
  });

  it("names --key when the templates' prefix lies outside --allowed-prefix", async () => {
    const h = harness(reconcile);
    expect(await runReconcileCommand([...REQUIRED, "--allowed-prefix", "thumbs/"], h.io)).toBe(2);
    expect(h.stderr()).toMatch(/\nreconcile: --key: lists `images\/`, which is outside `allowedPrefixes`\n$/);
  });

  it("names --table when the table is missing, and exits with 2", async () => {
    dynamodb
      .on(DescribeTableCommand)
      .rejects(new ResourceNotFoundException({ message: "Requested resource not found", $metadata: {} }));
    const h = harness(reconcile);
    expect(await runReconcileCommand(REQUIRED, h.io)).toBe(2);
    expect(h.stderr()).toMatch(
      /\nreconcile: --table products: DescribeTable on table "products" failed: Requested resource not found\n$/,
    );
  });

  it("names --checkpoint when the checkpoint file cannot be read", async () => {
    dynamodb.on(DescribeTableCommand).resolves({
      Table: {
        KeySchema: [{ AttributeName: "productId", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "productId", AttributeType: "S" }],
      },
    });
    const directory = temporaryDirectory();
    const h = harness(reconcile);
    expect(await runReconcileCommand([...REQUIRED, "--checkpoint", directory], h.io)).toBe(2);
    expect(h.stderr()).toMatch(
      new RegExp(`\\nreconcile: --checkpoint: the checkpoint file ${directory} cannot be read: EISDIR.*\\n$`),
    );
  });

  it("names --checkpoint when the checkpoint belongs to another run", async () => {
    const checkpoint = join(temporaryDirectory(), "checkpoint.json");
    writeFileSync(
      checkpoint,
      JSON.stringify({
        version: 1,
        run: { tableName: "other", bucket: "product-images", keys: ["images/{productId}.png"], prefixes: ["images/"] },
        partitions: [{ prefix: "images/", done: false, counts: {} }],
      }),
    );
    const h = harness(async (options) => {
      // As reconcile reads it, so that the message is the library's own.
      const { resumedProgress } = await import("../src/reconcile-checkpoint.js");
      resumedProgress(await fileCheckpointStore(options.checkpoint as string).load(), {
        tableName: options.tableName,
        bucket: options.bucket,
        keys: [options.key as string],
        prefixes: ["images/"],
        delete: false,
        mode: "keys",
        minAgeMs: 86_400_000,
        allowedPrefixes: null,
      });
      return reportOf();
    });
    expect(await runReconcileCommand([...REQUIRED, "--checkpoint", checkpoint], h.io)).toBe(2);
    expect(h.stderr()).toMatch(/\nreconcile: --checkpoint: belongs to another run \(/);
  });

  it("names --table for a ReconcileError without a checkpoint", async () => {
    const h = harness(async () => {
      throw new ReconcileError(
        'DescribeTable on table "products" answered without a partition (HASH) key in its KeySchema',
        "tableName",
      );
    });
    expect(await runReconcileCommand(REQUIRED, h.io)).toBe(2);
    expect(h.stderr()).toMatch(/\nreconcile: --table products: DescribeTable on table "products" answered without/);
  });

  it("exits with 1, not 2, for a ReconcileError that may pass, such as throttling", async () => {
    const h = harness(async () => {
      throw new ReconcileError('DescribeTable on table "products" failed: Rate exceeded', "tableName", {
        retryable: true,
      });
    });
    expect(await runReconcileCommand(REQUIRED, h.io)).toBe(1);
    expect(h.stderr()).toContain('reconcile: stopped: DescribeTable on table "products" failed: Rate exceeded');
  });

  it("exits with 1 and names the error when the run rejects otherwise", async () => {
    const h = harness(async () => {
      throw new TypeError("something broke");
    });
    expect(await runReconcileCommand(REQUIRED, h.io)).toBe(1);
    expect(h.stderr()).toMatch(/\nreconcile: stopped: something broke\n$/);
    expect(h.stdout()).toBe("");
  });
});

describe("runReconcileCommand: exit code and summary", () => {
  it("exits with 0 for a complete run with no failure and nothing unchecked", async () => {
    const h = harness(async () => reportOf({ deleted: 3 }));
    expect(await runReconcileCommand([...REQUIRED, "--delete"], h.io)).toBe(0);
  });

  it.each([
    ["a delete failed", { deleted: 2, failed: 1 }],
    ["an object was unchecked", { unchecked: 1 }],
    ["the run is not complete", { complete: false }],
  ])("exits with 1 when %s", async (_, fields) => {
    const h = harness(async () => reportOf(fields));
    expect(await runReconcileCommand([...REQUIRED, "--delete"], h.io)).toBe(1);
  });

  it("ends with a table of every count of the report", async () => {
    const h = harness(async () =>
      reportOf({
        listed: 1_234,
        unrelated: 2,
        live: 1_000,
        young: 30,
        unchecked: 0,
        orphans: 202,
        deleted: 198,
        failed: 1,
        keptReplaced: 2,
        keptRecreated: 1,
        bytes: 5_000_000,
        durationMs: 245_000,
      }),
    );
    await runReconcileCommand([...REQUIRED, "--delete"], h.io);
    expect(h.stdout()).toBe(
      [
        "Reconcile finished: every object was listed.",
        "  objects listed               1234",
        "  unrelated (never deleted)    2",
        "  live                         1000",
        "  young (never deleted)        30",
        "  unchecked (never deleted)    0",
        "  orphans                      202",
        "  orphans deleted              198",
        "  deletes failed               1",
        "  kept: replaced since listed  2",
        "  kept: item re-created        1",
        "  bytes of orphans             5000000 (4.8 MiB)",
        "  partitions done              2/2",
        "  duration                     4 min 5 s",
        "  complete                     yes",
        "",
      ].join("\n"),
    );
  });

  it("says that the orphans were only reported without --delete", async () => {
    const h = harness();
    await runReconcileCommand(REQUIRED, h.io);
    expect(h.stdout()).toMatch(/^ {2}orphans +3 \(report only: run with --delete to delete them\)$/m);
    const none = harness(async () => reportOf({ orphans: 0, bytes: 0 }));
    await runReconcileCommand(REQUIRED, none.io);
    expect(none.stdout()).toMatch(/^ {2}orphans +0$/m);
  });

  it("says a listing failed, and how to go on with the checkpoint", async () => {
    const h = harness(async () =>
      reportOf({
        complete: false,
        partitions: [
          { prefix: "images/", listed: 6, done: true },
          { prefix: "images/", listed: 4, done: false, error: { code: "AccessDenied", message: "denied" } },
        ],
      }),
    );
    expect(await runReconcileCommand([...REQUIRED, "--checkpoint", "/tmp/cp.json"], h.io)).toBe(1);
    expect(h.stdout()).toMatch(/^Reconcile finished: not complete: a listing failed \(see the log above\)\.\n/);
    expect(h.stdout()).toMatch(/^ {2}partitions done +1\/2$/m);
    expect(h.stdout()).toMatch(/^ {2}complete +no$/m);
    expect(h.stdout()).toMatch(/\nRun it again with --checkpoint \/tmp\/cp\.json to go on where it stopped\.\n$/);
  });

  it("gives no checkpoint advice without --checkpoint, nor for a complete run", async () => {
    const incomplete = harness(async () => reportOf({ complete: false }));
    await runReconcileCommand(REQUIRED, incomplete.io);
    expect(incomplete.stdout()).not.toContain("Run it again");
    const complete = harness();
    await runReconcileCommand([...REQUIRED, "--checkpoint", "/tmp/cp.json"], complete.io);
    expect(complete.stdout()).not.toContain("Run it again");
  });
});

describe("humanBytes and humanDuration", () => {
  it.each([
    [0, "0 B"],
    [1023, "1023 B"],
    [1024, "1.0 KiB"],
    [1536, "1.5 KiB"],
    [10 * 1024, "10 KiB"],
    [5_000_000, "4.8 MiB"],
    [3 * 1024 ** 3, "3.0 GiB"],
    [2 * 1024 ** 4, "2.0 TiB"],
    [2048 * 1024 ** 5, "2048 PiB"],
  ])("writes %i bytes as %s", (bytes, text) => {
    expect(humanBytes(bytes)).toBe(text);
  });

  it.each([
    [0, "0 ms"],
    [850, "850 ms"],
    [12_345, "12.3 s"],
    [60_000, "1 min 0 s"],
    [245_000, "4 min 5 s"],
    [3_600_000, "1 h 0 min"],
    [7_380_000, "2 h 3 min"],
    [86_400_000 + 4 * 3_600_000, "1 d 4 h"],
  ])("writes %i ms as %s", (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});

describe("runReconcileCommand: --report", () => {
  it("writes one JSON line per orphan, complete and closed when the command returns", async () => {
    const path = join(temporaryDirectory(), "orphans.jsonl");
    writeFileSync(path, "an older report\n");
    const orphans = [
      orphanOf(1, { status: "deleted" }),
      orphanOf(2, { status: "failed", error: { code: "AccessDenied", message: "Access Denied" }, etag: undefined }),
      orphanOf(3, { status: "kept-replaced", itemKey: { productId: { N: "3" } } }),
    ];
    const h = harness(async (options) => {
      for (const orphan of orphans) await options.onOrphan?.(orphan);
      return reportOf({ failed: 1 });
    });
    expect(await runReconcileCommand([...REQUIRED, "--delete", "--report", path], h.io)).toBe(1);
    const lines = readFileSync(path, "utf8").split("\n");
    expect(lines.pop()).toBe("");
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      {
        key: "images/gone-1.png",
        bucket: "product-images",
        size: 1536,
        lastModified: "2026-01-01T12:00:00.000Z",
        etag: '"etag-1"',
        itemKey: { productId: { S: "gone-1" } },
        status: "deleted",
      },
      {
        key: "images/gone-2.png",
        bucket: "product-images",
        size: 1536,
        lastModified: "2026-01-02T12:00:00.000Z",
        itemKey: { productId: { S: "gone-2" } },
        status: "failed",
        error: { code: "AccessDenied", message: "Access Denied" },
      },
      {
        key: "images/gone-3.png",
        bucket: "product-images",
        size: 1536,
        lastModified: "2026-01-03T12:00:00.000Z",
        etag: '"etag-3"',
        itemKey: { productId: { N: "3" } },
        status: "kept-replaced",
      },
    ]);
  });

  it("appends to the report with --checkpoint, so that a resumed run's report keeps the earlier orphans", async () => {
    const directory = temporaryDirectory();
    const path = join(directory, "orphans.jsonl");
    writeFileSync(path, "an earlier run's line\n");
    const h = harness(async (options) => {
      await options.onOrphan?.(orphanOf(1));
      return reportOf();
    });
    const argv = [...REQUIRED, "--report", path, "--checkpoint", join(directory, "checkpoint.json")];
    expect(await runReconcileCommand(argv, h.io)).toBe(0);
    expect(readFileSync(path, "utf8")).toBe(`an earlier run's line\n${orphanLine(orphanOf(1))}\n`);
  });

  it("writes an empty report when there is no orphan", async () => {
    const path = join(temporaryDirectory(), "orphans.jsonl");
    const h = harness();
    expect(await runReconcileCommand([...REQUIRED, "--report", path], h.io)).toBe(0);
    expect(readFileSync(path, "utf8")).toBe("");
  });

  it("writes the fields in a fixed order", () => {
    expect(orphanLine(orphanOf(4, { status: "found" }))).toBe(
      '{"key":"images/gone-4.png","bucket":"product-images","size":1536,"lastModified":"2026-01-04T12:00:00.000Z","etag":"\\"etag-4\\"","itemKey":{"productId":{"S":"gone-4"}},"status":"found"}',
    );
  });

  it("exits with 2, naming --report, when the file cannot be opened, before any run", async () => {
    const path = join(temporaryDirectory(), "missing-directory", "orphans.jsonl");
    const h = harness();
    expect(await runReconcileCommand([...REQUIRED, "--report", path], h.io)).toBe(2);
    expect(h.stderr()).toMatch(new RegExp(`^reconcile: --report ${path} cannot be written: ENOENT`));
    expect(h.calls).toHaveLength(0);
  });

  it("makes onOrphan wait while the stream's buffer is full", async () => {
    const callbacks: (() => void)[] = [];
    const written: string[] = [];
    const stream = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _encoding, callback) {
        written.push(chunk.toString());
        callbacks.push(() => callback());
      },
    });
    const entered = deferred<void>();
    const release = deferred<void>();
    let resolved = false;
    const h = harness(
      async (options) => {
        const first = Promise.resolve(options.onOrphan?.(orphanOf(1))).then(() => {
          resolved = true;
        });
        entered.resolve();
        await release.promise;
        await first;
        return reportOf();
      },
      { openReport: async () => stream },
    );
    const code = runReconcileCommand([...REQUIRED, "--report", "orphans.jsonl"], h.io);
    await entered.promise;
    await settle();
    expect(written).toEqual([`${orphanLine(orphanOf(1))}\n`]);
    expect(resolved).toBe(false);
    callbacks.shift()?.();
    await settle();
    expect(resolved).toBe(true);
    release.resolve();
    expect(await code).toBe(0);
  });

  it("exits with 1, naming --report, when a line cannot be written", async () => {
    const stream = new Writable({
      write(_chunk, _encoding, callback) {
        callback(new Error("ENOSPC: no space left on device"));
      },
    });
    const attempts: unknown[] = [];
    const h = harness(
      async (options) => {
        for (const n of [1, 2]) {
          try {
            await options.onOrphan?.(orphanOf(n));
          } catch (error) {
            attempts.push(error);
          }
          await settle();
        }
        // reconcile rejects with onOrphan's error.
        throw attempts[0];
      },
      { openReport: async () => stream },
    );
    expect(await runReconcileCommand([...REQUIRED, "--report", "orphans.jsonl"], h.io)).toBe(1);
    expect(attempts.map((error) => (error as Error).message)).toEqual([
      "ENOSPC: no space left on device",
      "ENOSPC: no space left on device",
    ]);
    expect(h.stderr()).toMatch(
      /\nreconcile: --report orphans\.jsonl could not be written: ENOSPC: no space left on device\n$/,
    );
    expect(h.stdout()).toBe("");
  });

  it("exits with 1 when the report fails though the run completes", async () => {
    const stream = new Writable({
      write(_chunk, _encoding, callback) {
        callback();
      },
      final(callback) {
        callback(new Error("EIO: i/o error, close"));
      },
    });
    const h = harness(undefined, { openReport: async () => stream });
    expect(await runReconcileCommand([...REQUIRED, "--report", "orphans.jsonl"], h.io)).toBe(1);
    expect(h.stderr()).toContain("reconcile: --report orphans.jsonl could not be written: EIO: i/o error, close\n");
    expect(h.stdout()).toMatch(/^Reconcile finished: every object was listed\./);
  });
});

/** A progress report of `listed` objects, `done` of the two partitions done. */
function progressOf(listed: number, done = 0, fields: Partial<ReconcileReport> = {}) {
  return {
    ...reportOf({ listed, orphans: 5, bytes: 5 * 1536, deleted: 4, ...fields }),
    partitions: [
      { prefix: "images/", endAt: "images/m", listed, done: done > 0 },
      { prefix: "images/", startAfter: "images/m", listed: 0, done: done > 1 },
    ],
  };
}

describe("runReconcileCommand: progress", () => {
  it("writes a plain line every PLAIN_PROGRESS_INTERVAL_MS when stderr is not a terminal", async () => {
    const step = deferred<void>();
    const h = harness(async (options) => {
      h.tick();
      h.clock.now += 5_000;
      options.onProgress?.(progressOf(500));
      h.tick();
      h.clock.now += 15_000;
      options.onProgress?.(progressOf(2_500, 1, { failed: 1, unchecked: 2 }));
      h.tick();
      await step.promise;
      return reportOf();
    });
    const code = runReconcileCommand(REQUIRED, h.io);
    await settle();
    expect(h.tickingEvery()).toBe(PLAIN_PROGRESS_INTERVAL_MS);
    expect(h.stderrWrites.slice(1)).toEqual([
      "reconcile: 0 listed, 0 orphans (0 B), 0 deleted\n",
      "reconcile: 500 listed (100/s), 5 orphans (7.5 KiB), 4 deleted, partitions 0/2\n",
      // The rate over the last ten seconds and more: from the sample at 5 s.
      "reconcile: 2500 listed (133/s), 5 orphans (7.5 KiB), 4 deleted, 1 failed, 2 unchecked, partitions 1/2\n",
    ]);
    step.resolve();
    expect(await code).toBe(0);
    expect(h.tickingEvery()).toBeUndefined();
  });

  it("shows the items scanned while a scan runs, before anything is listed", async () => {
    const h = harness(async (options) => {
      options.onProgress?.({ ...progressOf(0), scannedItems: 4_200, partitions: [] });
      h.tick();
      return reportOf();
    });
    await runReconcileCommand([...REQUIRED, "--scan"], h.io);
    expect(h.stderrWrites).toContain("reconcile: scanning the table: 4200 items\n");
  });

  it("shows no rate until it has two samples when a checkpoint may hold earlier counts", async () => {
    const h = harness(async (options) => {
      h.clock.now += 1_000;
      options.onProgress?.(progressOf(9_000));
      h.tick();
      h.clock.now += 2_000;
      options.onProgress?.(progressOf(9_400));
      h.tick();
      return reportOf();
    });
    await runReconcileCommand([...REQUIRED, "--checkpoint", join(temporaryDirectory(), "cp.json")], h.io);
    expect(h.stderrWrites.filter((line) => line.includes(" listed"))).toEqual([
      "reconcile: 9000 listed, 5 orphans (7.5 KiB), 4 deleted, partitions 0/2\n",
      "reconcile: 9400 listed (200/s), 5 orphans (7.5 KiB), 4 deleted, partitions 0/2\n",
    ]);
  });

  it("rewrites one line on a terminal, at most every TTY_REDRAW_MS, and ends it before the summary", async () => {
    const h = harness(
      async (options) => {
        h.clock.now += 1_000;
        options.onProgress?.(progressOf(100));
        h.clock.now += TTY_REDRAW_MS - 1;
        options.onProgress?.(progressOf(150));
        h.clock.now += 1;
        options.onProgress?.(progressOf(200));
        h.tick();
        options.logger?.error("reconcile: a partition's listing failed", {});
        return reportOf();
      },
      { stderrIsTty: true },
    );
    expect(await runReconcileCommand(REQUIRED, h.io)).toBe(0);
    expect(h.tickingEvery()).toBeUndefined();
    const [, ...writes] = h.stderrWrites;
    const line200 = "reconcile: 200 listed (182/s), 5 orphans (7.5 KiB), 4 deleted, partitions 0/2";
    expect(writes.slice(0, 3)).toEqual([
      "\rreconcile: 100 listed (100/s), 5 orphans (7.5 KiB), 4 deleted, partitions 0/2\x1b[K",
      `\r${line200}\x1b[K`,
      `\r${line200}\x1b[K`,
    ]);
    // The log line above the progress line, which is drawn again below it.
    expect(writes[3]?.startsWith('\r\x1b[K{"level":"ERROR","message":"reconcile: a partition\'s listing failed"')).toBe(
      true,
    );
    expect(writes[3]?.endsWith(`}\n${line200}\x1b[K`)).toBe(true);
    expect(writes[4]).toBe("\n");
    expect(writes).toHaveLength(5);
    expect(h.stdout()).toMatch(/^Reconcile finished/);
  });

  it("ticks every TTY_TICK_MS on a terminal, and writes log lines plainly before the first draw", async () => {
    const h = harness(
      async (options) => {
        options.logger?.warn("reconcile: early", {});
        return reportOf();
      },
      { stderrIsTty: true },
    );
    const code = runReconcileCommand(REQUIRED, h.io);
    expect(h.tickingEvery()).toBe(TTY_TICK_MS);
    expect(await code).toBe(0);
    expect(h.stderrWrites[1]).toMatch(/^\{"level":"WARN","message":"reconcile: early".*\}\n$/);
    expect(h.stderrWrites).toHaveLength(2);
  });
});

describe("runReconcileCommand: interrupts", () => {
  /** A run that goes on until its signal fires, then reports what it did, incomplete. */
  function runUntilStopped(onStart: () => void = () => {}): ReconcileFunction {
    return async (options) => {
      await options.onOrphan?.(orphanOf(1));
      const stopped = new Promise((resolve) => options.signal?.addEventListener("abort", resolve, { once: true }));
      onStart();
      await stopped;
      return reportOf({ complete: false });
    };
  }

  it("stops the run at the first Ctrl-C, and exits with 1 after its summary", async () => {
    const started = deferred<void>();
    const h = harness(runUntilStopped(started.resolve));
    const path = join(temporaryDirectory(), "orphans.jsonl");
    const code = runReconcileCommand([...REQUIRED, "--report", path, "--checkpoint", "/tmp/cp.json"], h.io);
    await started.promise;
    expect(h.options().signal?.aborted).toBe(false);
    h.interrupt();
    expect(h.options().signal?.aborted).toBe(true);
    expect(await code).toBe(1);
    expect(h.stderr()).toContain(
      "reconcile: interrupted: stopping after the pages in hand, then saving /tmp/cp.json (Ctrl-C again to exit at once)\n",
    );
    expect(h.stdout()).toMatch(/^Reconcile finished: stopped by an interrupt before the end\.\n/);
    expect(readFileSync(path, "utf8")).toBe(`${orphanLine(orphanOf(1))}\n`);
    expect(h.listening()).toBe(false);
  });

  it("says nothing of a checkpoint it does not have", async () => {
    const started = deferred<void>();
    const h = harness(runUntilStopped(started.resolve));
    const code = runReconcileCommand(REQUIRED, h.io);
    await started.promise;
    h.interrupt();
    await code;
    expect(h.stderr()).toContain(
      "reconcile: interrupted: stopping after the pages in hand (Ctrl-C again to exit at once)\n",
    );
  });

  it("exits with 130 at the second Ctrl-C without waiting for the run, with the report closed", async () => {
    const started = deferred<void>();
    const never = deferred<ReconcileReport>();
    const stopped = deferred<void>();
    const h = harness(async (options) => {
      await options.onOrphan?.(orphanOf(1));
      options.signal?.addEventListener("abort", () => stopped.resolve(), { once: true });
      started.resolve();
      await never.promise;
      // Written after the command returned: it must go nowhere.
      await options.onOrphan?.(orphanOf(2));
      return reportOf();
    });
    const path = join(temporaryDirectory(), "orphans.jsonl");
    const code = runReconcileCommand([...REQUIRED, "--report", path], h.io);
    await started.promise;
    h.interrupt();
    await stopped.promise;
    h.interrupt();
    expect(await code).toBe(INTERRUPTED_EXIT_CODE);
    expect(h.stderr()).toContain("reconcile: interrupted again: exiting\n");
    expect(readFileSync(path, "utf8")).toBe(`${orphanLine(orphanOf(1))}\n`);
    expect(h.listening()).toBe(false);
    expect(h.tickingEvery()).toBeUndefined();
    const written = h.stderrWrites.length;
    never.resolve(reportOf());
    await settle();
    await settle();
    expect(h.stderrWrites).toHaveLength(written);
    expect(h.stdout()).toBe("");
    expect(readFileSync(path, "utf8")).toBe(`${orphanLine(orphanOf(1))}\n`);
  });

  it("listens to the process's SIGINT and ticks with setInterval when io gives neither", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    try {
      const listeners = process.listenerCount("SIGINT");
      const during: number[] = [];
      const h = harness(
        async () => {
          during.push(process.listenerCount("SIGINT"));
          vi.advanceTimersByTime(PLAIN_PROGRESS_INTERVAL_MS);
          return reportOf();
        },
        { onInterrupt: undefined, onTick: undefined },
      );
      expect(await runReconcileCommand(REQUIRED, h.io)).toBe(0);
      expect(during).toEqual([listeners + 1]);
      expect(process.listenerCount("SIGINT")).toBe(listeners);
      expect(h.stderrWrites.filter((line) => line.startsWith("reconcile: 0 listed"))).toHaveLength(1);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("stops listening to interrupts when the run ends", async () => {
    const h = harness();
    await runReconcileCommand(REQUIRED, h.io);
    expect(h.listening()).toBe(false);
  });
});
