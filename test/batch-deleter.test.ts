import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  type DeleteObjectsCommandInput,
  type DeleteObjectsCommandOutput,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandInput,
  type ListObjectVersionsCommandOutput,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { allCustomMatcher, type BaseMatcher } from "aws-sdk-client-mock-vitest";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { deleterConfig, deleteTargets, MAX_SPLIT_REQUESTS, openDeletion } from "../src/batch-deleter.js";
import { CONTENT_MD5_MIDDLEWARE } from "../src/content-md5.js";
import {
  type BatchDeleterOptions,
  ConfigError,
  createBatchDeleter,
  type DeleteReport,
  isConfigError,
  MAX_KEYS_PER_REQUEST,
  type ObjectTarget,
} from "../src/index.js";
import { SEND_RATE_MIDDLEWARE } from "../src/s3-requests.js";
import { createFakeClock, heldCalls, randomSequence, settle } from "./fake-clock.js";

expect.extend(allCustomMatcher);

declare module "vitest" {
  // biome-ignore lint/suspicious/noExplicitAny: the type parameter must match vitest's own declaration
  interface Matchers<T = any> extends BaseMatcher<T> {}
}

const s3 = mockClient(S3Client);

beforeEach(() => {
  s3.reset();
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

afterAll(() => {
  s3.restore();
});

const BUCKET = "product-images";
const OTHER_BUCKET = "product-thumbnails";

const target = (key: string, versionId?: string, bucket = BUCKET): ObjectTarget =>
  versionId === undefined ? { bucket, key } : { bucket, key, versionId };

/** `count` distinct keys of one bucket: `products/p-0.png`, `products/p-1.png`, ... */
const manyTargets = (count: number, bucket = BUCKET): ObjectTarget[] =>
  Array.from({ length: count }, (_, index) => target(`products/p-${index}.png`, undefined, bucket));

/** A deleter whose backoff waits are recorded in `clock.delays` and end at once; `random` returns 0.5 unless given. */
function setup(options: Partial<BatchDeleterOptions> = {}) {
  const clock = createFakeClock();
  const deleteObjects = createBatchDeleter({
    s3Client: new S3Client({ region: "us-east-1" }),
    sleep: clock.sleep,
    random: () => 0.5,
    ...options,
  });
  return { clock, deleteObjects };
}

/**
 * A deleter on vitest's fake timers, for tests where time passes during I/O: its backoff is the
 * default sleep (a setTimeout the signal cuts short), `random` returns 0.5 unless given. Mocks
 * answer after a fake delay with {@link after}; the test drives the clock.
 */
function timedSetup(options: Partial<BatchDeleterOptions> = {}) {
  vi.useFakeTimers();
  const start = Date.now();
  const deleteObjects = createBatchDeleter({
    s3Client: new S3Client({ region: "us-east-1" }),
    random: () => 0.5,
    ...options,
  });
  return { deleteObjects, elapsed: () => Date.now() - start };
}

/** Resolves to `value` (or rejects with it, when `fail`) after `ms` of (fake) time: a slow S3 answer. */
const answerAfter = <T>(ms: number, value: T, fail = false): Promise<T> =>
  new Promise((resolve, reject) => setTimeout(() => (fail ? reject(value) : resolve(value)), ms));

/** A signal that fires after `ms` of (fake) time with the reason the handler gives. */
function abortAfter(ms: number): AbortSignal {
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error("the invocation's time budget ran out")), ms);
  return controller.signal;
}

/** The options `send` was called with: its second argument. */
const sendOptionsOf = (args: readonly unknown[]) => args[1] as { abortSignal?: AbortSignal };

/** An S3 error as the SDK throws it. */
const s3Error = (name: string, status: number, message = `${name} from S3`) =>
  new S3ServiceException({
    name,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status },
    message,
  });

/** How a target cut off by the signal of {@link abortAfter} fails. */
const cutOff = (each: ObjectTarget) => ({
  target: each,
  code: "Aborted",
  message: "cut off: the invocation's time budget ran out",
  retryable: true,
});

/** The inputs of every DeleteObjects call, in order. */
const batchInputs = (): DeleteObjectsCommandInput[] =>
  s3.commandCalls(DeleteObjectsCommand).map((call) => call.args[0].input);

/** The keys of one DeleteObjects input. */
const keysOf = (input: DeleteObjectsCommandInput | undefined): (string | undefined)[] =>
  input?.Delete?.Objects?.map((object) => object.Key) ?? [];

const idOf = ({ bucket, key, versionId }: ObjectTarget) => `${bucket}/${key}#${versionId ?? ""}`;
const sortTargets = (targets: readonly ObjectTarget[]) =>
  [...targets].sort((a, b) => (idOf(a) < idOf(b) ? -1 : idOf(a) > idOf(b) ? 1 : 0));
const sortFailures = (failed: DeleteReport["failed"]) =>
  [...failed].sort((a, b) => (idOf(a.target) < idOf(b.target) ? -1 : idOf(a.target) > idOf(b.target) ? 1 : 0));

const slowDown = (key: string, versionId?: string) =>
  versionId === undefined
    ? { Key: key, Code: "SlowDown", Message: "Please reduce your request rate." }
    : { Key: key, VersionId: versionId, Code: "SlowDown", Message: "Please reduce your request rate." };

describe("deduplication", () => {
  it("sends a target listed several times once", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup();
    const image = target("products/p-1.png");

    // Act
    const report = await deleteObjects([image, { ...image }, image]);

    // Assess
    expect(batchInputs()).toStrictEqual([
      { Bucket: BUCKET, Delete: { Objects: [{ Key: "products/p-1.png" }], Quiet: true } },
    ]);
    expect(report).toStrictEqual({ deleted: [image], failed: [], keptReplaced: [] });
  });

  it("treats one key with two versionIds as two targets", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup();
    const v1 = target("products/p-1.png", "v1");
    const v2 = target("products/p-1.png", "v2");

    // Act
    const report = await deleteObjects([v1, v2, { ...v1 }]);

    // Assess
    expect(keysOf(batchInputs()[0])).toStrictEqual(["products/p-1.png", "products/p-1.png"]);
    expect(batchInputs()[0]?.Delete?.Objects).toStrictEqual([
      { Key: "products/p-1.png", VersionId: "v1" },
      { Key: "products/p-1.png", VersionId: "v2" },
    ]);
    expect(report).toStrictEqual({ deleted: [v1, v2], failed: [], keptReplaced: [] });
  });

  it("treats a key without versionId and the same key with one as two targets", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup();
    const latest = target("products/p-1.png");
    const version = target("products/p-1.png", "v1");

    // Act
    const report = await deleteObjects([latest, version, latest]);

    // Assess
    expect(batchInputs()[0]?.Delete?.Objects).toStrictEqual([
      { Key: "products/p-1.png" },
      { Key: "products/p-1.png", VersionId: "v1" },
    ]);
    expect(report.deleted).toStrictEqual([latest, version]);
  });

  it("treats one key in two buckets as two targets", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup();
    const image = target("products/p-1.png");
    const thumbnail = target("products/p-1.png", undefined, OTHER_BUCKET);

    // Act
    const report = await deleteObjects([image, thumbnail, image, thumbnail]);

    // Assess
    expect(batchInputs()).toStrictEqual([
      { Bucket: BUCKET, Delete: { Objects: [{ Key: "products/p-1.png" }], Quiet: true } },
      { Bucket: OTHER_BUCKET, Delete: { Objects: [{ Key: "products/p-1.png" }], Quiet: true } },
    ]);
    expect(report).toStrictEqual({ deleted: [image, thumbnail], failed: [], keptReplaced: [] });
  });

  it("keeps apart targets whose bucket, versionId and key run together alike", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup();
    const targets = [target("c", "b", "a"), target("bc", undefined, "a"), target("c", undefined, "ab")];

    // Act
    const report = await deleteObjects(targets);

    // Assess
    expect(sortTargets(report.deleted)).toStrictEqual(sortTargets(targets));
  });

  it("sends nothing for an empty list", async () => {
    // Prepare
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([]);

    // Assess
    expect(s3).not.toHaveReceivedAnyCommand();
    expect(report).toStrictEqual({ deleted: [], failed: [], keptReplaced: [] });
  });
});

describe("batching", () => {
  it("splits 2,500 keys of one bucket into DeleteObjects calls of 1,000, 1,000 and 500 keys", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup();
    const targets = manyTargets(2500);

    // Act
    const report = await deleteObjects(targets);

    // Assess
    expect(MAX_KEYS_PER_REQUEST).toBe(1000);
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 3);
    const inputs = batchInputs();
    expect(inputs.map((input) => keysOf(input).length)).toStrictEqual([1000, 1000, 500]);
    expect(inputs.flatMap(keysOf)).toStrictEqual(targets.map((each) => each.key));
    expect(inputs.map((input) => input.Bucket)).toStrictEqual([BUCKET, BUCKET, BUCKET]);
    expect(report.deleted).toHaveLength(2500);
    expect(report.failed).toStrictEqual([]);
  });

  it("sends 1,000 keys in one call and 1,001 keys in two", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup();

    // Act
    await deleteObjects(manyTargets(1000));
    const afterThousand = batchInputs().length;
    await deleteObjects(manyTargets(1001));

    // Assess
    expect(afterThousand).toBe(1);
    expect(batchInputs().map((input) => keysOf(input).length)).toStrictEqual([1000, 1000, 1]);
  });

  it("groups keys by bucket, one call per bucket", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup();
    const targets = [
      target("a.png"),
      target("x.png", undefined, OTHER_BUCKET),
      target("b.png"),
      target("y.png", undefined, OTHER_BUCKET),
    ];

    // Act
    await deleteObjects(targets);

    // Assess
    expect(batchInputs()).toStrictEqual([
      { Bucket: BUCKET, Delete: { Objects: [{ Key: "a.png" }, { Key: "b.png" }], Quiet: true } },
      { Bucket: OTHER_BUCKET, Delete: { Objects: [{ Key: "x.png" }, { Key: "y.png" }], Quiet: true } },
    ]);
  });

  it("sends Quiet: true and VersionId only for targets that have one", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup();

    // Act
    await deleteObjects([target("a.png"), target("b.png", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")]);

    // Assess
    expect(s3).toHaveReceivedCommandExactlyOnceWith(DeleteObjectsCommand, {
      Bucket: BUCKET,
      Delete: {
        Objects: [{ Key: "a.png" }, { Key: "b.png", VersionId: "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY" }],
        Quiet: true,
      },
    });
    expect(batchInputs()[0]?.Delete?.Objects?.[0]).not.toHaveProperty("VersionId");
  });

  it("sends keys exactly as given, never URL-decoded", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup();
    const keys = ["a+b%20c.png", "  spaced  ", "ünï/cødé 😀.png"];

    // Act
    await deleteObjects(keys.map((key) => target(key)));

    // Assess
    expect(keysOf(batchInputs()[0])).toStrictEqual(keys);
  });
});

describe("requests in flight", () => {
  /** A DeleteObjects mock whose responses the test releases by hand. */
  function deferredResponses() {
    const held = heldCalls<Partial<DeleteObjectsCommandOutput>>({});
    s3.on(DeleteObjectsCommand).callsFake(held.call);
    return held;
  }

  it("keeps at most `concurrency` requests in flight", async () => {
    // Prepare
    const { state, answerNext } = deferredResponses();
    const { deleteObjects } = setup({ concurrency: 2 });

    // Act
    const done = deleteObjects(manyTargets(4500));
    await settle();
    const startedAtFirst = state.started;
    await answerNext();
    const startedAfterOneAnswer = state.started;
    const inFlightAfterOneAnswer = state.inFlight;
    for (let answered = 1; answered < 5; answered++) await answerNext();
    const report = await done;

    // Assess
    expect(startedAtFirst).toBe(2);
    expect(startedAfterOneAnswer).toBe(3);
    expect(inFlightAfterOneAnswer).toBe(2);
    expect(state.maxInFlight).toBe(2);
    expect(state.started).toBe(5);
    expect(report.deleted).toHaveLength(4500);
  });

  it("keeps at most 4 requests in flight by default", async () => {
    // Prepare
    const { state, answerNext } = deferredResponses();
    const { deleteObjects } = setup();

    // Act
    const done = deleteObjects(manyTargets(6000));
    await settle();
    const startedAtFirst = state.started;
    for (let answered = 0; answered < 6; answered++) await answerNext();
    await done;

    // Assess
    expect(startedAtFirst).toBe(4);
    expect(state.maxInFlight).toBe(4);
    expect(state.started).toBe(6);
  });

  it("counts single DeleteObject calls against the same bound", async () => {
    // Prepare
    const held = heldCalls<object>({});
    s3.on(DeleteObjectCommand).callsFake(held.call);
    const { deleteObjects } = setup({ concurrency: 3 });

    // Act
    const done = deleteObjects(Array.from({ length: 7 }, (_, index) => target(`bad\u0001${index}`)));
    await settle();
    const startedAtFirst = held.state.started;
    for (let answered = 0; answered < 7; answered++) await held.answerNext();
    const report = await done;

    // Assess
    expect(startedAtFirst).toBe(3);
    expect(held.state.maxInFlight).toBe(3);
    expect(report.deleted).toHaveLength(7);
  });
});

describe("per-key errors", () => {
  describe.each([
    "InternalError",
    "SlowDown",
    "ServiceUnavailable",
    "RequestTimeout",
    "OperationAborted",
    "Throttling",
    "ThrottlingException",
    "ConditionalRequestConflict",
  ])("retryable code %s", (code) => {
    it("is retried in a later request holding only the failed keys", async () => {
      // Prepare
      s3.on(DeleteObjectsCommand)
        .resolvesOnce({
          Errors: [
            { Key: "b.png", Code: code, Message: "try again" },
            { Key: "d.png", Code: code, Message: "try again" },
          ],
        })
        .resolves({});
      const { deleteObjects } = setup();
      const targets = ["a.png", "b.png", "c.png", "d.png"].map((key) => target(key));

      // Act
      const report = await deleteObjects(targets);

      // Assess
      expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 2);
      expect(batchInputs()[1]).toStrictEqual({
        Bucket: BUCKET,
        Delete: { Objects: [{ Key: "b.png" }, { Key: "d.png" }], Quiet: true },
      });
      expect(sortTargets(report.deleted)).toStrictEqual(targets);
      expect(report.failed).toStrictEqual([]);
    });

    it("fails as retryable once maxAttempts attempts are used up", async () => {
      // Prepare
      s3.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: "b.png", Code: code, Message: "try again" }] });
      const { deleteObjects } = setup({ maxAttempts: 2 });

      // Act
      const report = await deleteObjects([target("a.png"), target("b.png")]);

      // Assess
      expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 2);
      expect(report).toStrictEqual({
        deleted: [target("a.png")],
        failed: [{ target: target("b.png"), code, message: "try again", retryable: true }],
        keptReplaced: [],
      });
    });
  });

  it("makes 3 attempts by default", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({ Errors: [slowDown("a.png")] });
    // Only the backoff waits: no pace (see "adaptive rate").
    const { clock, deleteObjects } = setup({ adaptiveRate: false });

    // Act
    const report = await deleteObjects([target("a.png")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 3);
    expect(clock.delays).toStrictEqual([50, 100]);
    expect(report.failed).toStrictEqual([
      { target: target("a.png"), code: "SlowDown", message: "Please reduce your request rate.", retryable: true },
    ]);
  });

  it("sends one request when maxAttempts is 1", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({ Errors: [slowDown("a.png")] });
    const { clock, deleteObjects } = setup({ maxAttempts: 1 });

    // Act
    const report = await deleteObjects([target("a.png")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
    expect(clock.delays).toStrictEqual([]);
    expect(report.failed.map((failure) => failure.retryable)).toStrictEqual([true]);
  });

  it("waits random() * min(maxDelayMs, baseDelayMs * 2^(attempt-1)) before each retry", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({ Errors: [slowDown("a.png")] });
    const { clock, deleteObjects } = setup({
      maxAttempts: 5,
      baseDelayMs: 100,
      maxDelayMs: 300,
      random: randomSequence(0.5, 0.25, 0.75, 0.125),
      adaptiveRate: false,
    });

    // Act
    await deleteObjects([target("a.png")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 5);
    expect(clock.delays).toStrictEqual([0.5 * 100, 0.25 * 200, 0.75 * 300, 0.125 * 300]);
  });

  it("caps the backoff at 2,000 ms by default", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({ Errors: [slowDown("a.png")] });
    const { clock, deleteObjects } = setup({ maxAttempts: 7, random: () => 0.5, adaptiveRate: false });

    // Act
    await deleteObjects([target("a.png")]);

    // Assess
    expect(clock.delays).toStrictEqual([50, 100, 200, 400, 800, 1000]);
  });

  it("retries at once when random() returns 0", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand)
      .resolvesOnce({ Errors: [slowDown("a.png")] })
      .resolves({});
    const { clock, deleteObjects } = setup({ random: () => 0 });

    // Act
    const report = await deleteObjects([target("a.png")]);

    // Assess
    expect(clock.delays).toStrictEqual([0]);
    expect(report.deleted).toStrictEqual([target("a.png")]);
  });

  it.each([
    "AccessDenied",
    "AccountProblem",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "NoSuchBucket",
    "KeyTooLongError",
    "InvalidArgument",
    "PreconditionFailed",
    "SomeCodeS3AddsNextYear",
  ])("fails %s at once, as permanent, without retry", async (code) => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: "b.png", Code: code, Message: `${code} happened` }] });
    const { clock, deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png"), target("b.png")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
    expect(clock.delays).toStrictEqual([]);
    expect(report).toStrictEqual({
      deleted: [target("a.png")],
      failed: [{ target: target("b.png"), code, message: `${code} happened`, retryable: false }],
      keptReplaced: [],
    });
  });

  it("counts NoSuchKey as deleted", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({
      Errors: [{ Key: "a.png", Code: "NoSuchKey", Message: "The specified key does not exist." }],
    });
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
    expect(report).toStrictEqual({ deleted: [target("a.png")], failed: [], keptReplaced: [] });
  });

  it("fails an entry without Code as permanent UnknownError", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: "a.png" }] });
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png")]);

    // Assess
    expect(report.failed).toStrictEqual([
      { target: target("a.png"), code: "UnknownError", message: "UnknownError", retryable: false },
    ]);
  });

  it("uses the code as message when the entry has no Message", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: "a.png", Code: "AccessDenied" }] });
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png")]);

    // Assess
    expect(report.failed).toStrictEqual([
      { target: target("a.png"), code: "AccessDenied", message: "AccessDenied", retryable: false },
    ]);
  });

  it("reports the code of the last attempt when a retried key later fails for good", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand)
      .resolvesOnce({ Errors: [slowDown("a.png")] })
      .resolves({ Errors: [{ Key: "a.png", Code: "AccessDenied", Message: "Access Denied" }] });
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 2);
    expect(report.failed).toStrictEqual([
      { target: target("a.png"), code: "AccessDenied", message: "Access Denied", retryable: false },
    ]);
  });

  it("treats an empty Errors list as success", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({ Errors: [], Deleted: [] });
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png")]);

    // Assess
    expect(report).toStrictEqual({ deleted: [target("a.png")], failed: [], keptReplaced: [] });
  });
});

describe("error entries matched to targets", () => {
  it("matches an entry by Key and VersionId", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({
      Errors: [{ Key: "a.png", VersionId: "v2", Code: "AccessDenied", Message: "Access Denied" }],
    });
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png", "v1"), target("a.png", "v2")]);

    // Assess
    expect(report).toStrictEqual({
      deleted: [target("a.png", "v1")],
      failed: [{ target: target("a.png", "v2"), code: "AccessDenied", message: "Access Denied", retryable: false }],
      keptReplaced: [],
    });
  });

  it("fails every version of a key when the entry has no VersionId", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({
      Errors: [{ Key: "a.png", Code: "AccessDenied", Message: "Access Denied" }],
    });
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png", "v1"), target("a.png", "v2"), target("b.png", "v1")]);

    // Assess
    expect(report.deleted).toStrictEqual([target("b.png", "v1")]);
    expect(sortTargets(report.failed.map((failure) => failure.target))).toStrictEqual([
      target("a.png", "v1"),
      target("a.png", "v2"),
    ]);
  });

  it("fails every target of a key, versioned or not, when the entry has no VersionId", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({
      Errors: [{ Key: "a.png", Code: "AccessDenied", Message: "Access Denied" }],
    });
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png"), target("a.png", "v1")]);

    // Assess
    expect(report.deleted).toStrictEqual([]);
    expect(sortTargets(report.failed.map((failure) => failure.target))).toStrictEqual([
      target("a.png"),
      target("a.png", "v1"),
    ]);
  });

  it.each([
    ["before", true],
    ["after", false],
  ])("lets a version's own entry win over an entry without VersionId listed %s it", async (_, ownFirst) => {
    // Prepare
    const own = { Key: "a.png", VersionId: "v1", Code: "NoSuchKey", Message: "The specified key does not exist." };
    const keyOnly = { Key: "a.png", Code: "AccessDenied", Message: "Access Denied" };
    s3.on(DeleteObjectsCommand).resolves({ Errors: ownFirst ? [own, keyOnly] : [keyOnly, own] });
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png"), target("a.png", "v1")]);

    // Assess
    expect(report).toStrictEqual({
      deleted: [target("a.png", "v1")],
      failed: [{ target: target("a.png"), code: "AccessDenied", message: "Access Denied", retryable: false }],
      keptReplaced: [],
    });
  });

  it("fails every target of a key when the entry's VersionId matches none", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({
      Errors: [{ Key: "a.png", VersionId: "v9", Code: "AccessDenied", Message: "Access Denied" }],
    });
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png", "v1")]);

    // Assess
    expect(report.failed.map((failure) => failure.target)).toStrictEqual([target("a.png", "v1")]);
  });

  it("fails every target of the request when an entry names no Key", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({ Errors: [{ Code: "AccessDenied", Message: "Access Denied" }] });
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png"), target("b.png")]);

    // Assess
    expect(report.deleted).toStrictEqual([]);
    expect(report.failed.map((failure) => [failure.target.key, failure.code])).toStrictEqual([
      ["a.png", "AccessDenied"],
      ["b.png", "AccessDenied"],
    ]);
  });

  it("retries only the version whose entry is retryable", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand)
      .resolvesOnce({ Errors: [slowDown("a.png", "v2")] })
      .resolves({});
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png", "v1"), target("a.png", "v2")]);

    // Assess
    expect(batchInputs()[1]?.Delete?.Objects).toStrictEqual([{ Key: "a.png", VersionId: "v2" }]);
    expect(report.failed).toStrictEqual([]);
  });

  it("fails every target without an entry of its own when an entry names a key it did not send", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({
      Errors: [
        { Key: "other.png", Code: "AccessDenied", Message: "Access Denied" },
        { Key: "b.png", Code: "NoSuchKey", Message: "The specified key does not exist." },
      ],
    });
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png"), target("b.png"), target("c.png", "v1")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
    expect(report).toStrictEqual({
      deleted: [target("b.png")],
      failed: [
        { target: target("a.png"), code: "AccessDenied", message: "Access Denied", retryable: false },
        { target: target("c.png", "v1"), code: "AccessDenied", message: "Access Denied", retryable: false },
      ],
      keptReplaced: [],
    });
  });

  it.each([
    ["before", true],
    ["after", false],
  ])("lets a target's own entry win over an entry without Key listed %s it", async (_, keylessFirst) => {
    // Prepare
    const keyless = { Code: "AccessDenied", Message: "Access Denied" };
    const own = { Key: "b.png", Code: "InvalidArgument", Message: "Invalid argument" };
    s3.on(DeleteObjectsCommand).resolves({ Errors: keylessFirst ? [keyless, own] : [own, keyless] });
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png"), target("b.png")]);

    // Assess
    expect(report).toStrictEqual({
      deleted: [],
      failed: [
        { target: target("a.png"), code: "AccessDenied", message: "Access Denied", retryable: false },
        { target: target("b.png"), code: "InvalidArgument", message: "Invalid argument", retryable: false },
      ],
      keptReplaced: [],
    });
  });

  it("fails the other targets with the first of several entries that name no key sent", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({
      Errors: [
        { Key: "stray-1.png", Code: "AccessDenied", Message: "first" },
        { Code: "InternalError", Message: "second" },
        { Key: "stray-2.png", Code: "SlowDown", Message: "third" },
      ],
    });
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
    expect(report).toStrictEqual({
      deleted: [],
      failed: [{ target: target("a.png"), code: "AccessDenied", message: "first", retryable: false }],
      keptReplaced: [],
    });
  });

  it("retries every target without an entry of its own when an entry for a key it did not send is retryable", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand)
      .resolvesOnce({
        Errors: [slowDown("other.png"), { Key: "b.png", Code: "AccessDenied", Message: "Access Denied" }],
      })
      .resolves({});
    const { clock, deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png"), target("b.png"), target("c.png")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 2);
    expect(keysOf(batchInputs()[1])).toStrictEqual(["a.png", "c.png"]);
    expect(clock.delays).toStrictEqual([50]);
    expect(report).toStrictEqual({
      deleted: [target("a.png"), target("c.png")],
      failed: [{ target: target("b.png"), code: "AccessDenied", message: "Access Denied", retryable: false }],
      keptReplaced: [],
    });
  });

  it("lets a version-less entry fail the key's other versions before an entry for a key it did not send", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({
      Errors: [
        { Key: "other.png", Code: "AccessDenied", Message: "Access Denied" },
        { Key: "a.png", Code: "InvalidArgument", Message: "Invalid argument" },
      ],
    });
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png"), target("a.png", "v1"), target("b.png")]);

    // Assess
    expect(report).toStrictEqual({
      deleted: [],
      failed: [
        { target: target("a.png"), code: "InvalidArgument", message: "Invalid argument", retryable: false },
        { target: target("a.png", "v1"), code: "InvalidArgument", message: "Invalid argument", retryable: false },
        { target: target("b.png"), code: "AccessDenied", message: "Access Denied", retryable: false },
      ],
      keptReplaced: [],
    });
  });

  it("attributes an entry only to the request that sent the key", async () => {
    // Prepare
    const targets = manyTargets(1001);
    s3.on(DeleteObjectsCommand).callsFake((input: DeleteObjectsCommandInput) =>
      keysOf(input).length === 1
        ? { Errors: [{ Key: "products/p-1000.png", Code: "AccessDenied", Message: "Access Denied" }] }
        : {},
    );
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects(targets);

    // Assess
    expect(report.deleted).toHaveLength(1000);
    expect(report.failed.map((failure) => failure.target)).toStrictEqual([target("products/p-1000.png")]);
  });
});

describe("requests that throw", () => {
  // The SDK's retry strategy has already retried a request that throws: the deleter never sends it
  // again, whatever the error; its class only decides `retryable`.
  const programErrors = [
    ["a TypeError", new TypeError("Cannot read properties of undefined (reading 'length')")],
    ["a URIError (what the SDK throws for a lone surrogate in a URL)", new URIError("URI malformed")],
    ["a RangeError", new RangeError("Invalid string length")],
    ["a SyntaxError", new SyntaxError("Unexpected token")],
  ] as const;
  const rows: [string, Error, { code: string; retryable: boolean }][] = [
    ["a 403 AccessDenied", s3Error("AccessDenied", 403, "Access Denied"), { code: "AccessDenied", retryable: false }],
    ["a 404 NoSuchBucket", s3Error("NoSuchBucket", 404), { code: "NoSuchBucket", retryable: false }],
    ["a 400 InvalidArgument", s3Error("InvalidArgument", 400), { code: "InvalidArgument", retryable: false }],
    ["a 503 ServiceUnavailable", s3Error("ServiceUnavailable", 503), { code: "ServiceUnavailable", retryable: true }],
    ["a 500 with an unknown code", s3Error("SlowDownish", 500), { code: "SlowDownish", retryable: true }],
    ["a 429 with an unknown code", s3Error("TooMany", 429), { code: "TooMany", retryable: true }],
    [
      "a 400 the SDK marks $retryable",
      Object.assign(s3Error("BadDigest", 400), { $retryable: { throttling: false } }),
      { code: "BadDigest", retryable: true },
    ],
    [
      "a TimeoutError without an HTTP answer",
      Object.assign(new Error("Connection timed out"), { name: "TimeoutError" }),
      { code: "TimeoutError", retryable: true },
    ],
    [
      "an ECONNRESET without an HTTP answer",
      Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }),
      { code: "Error", retryable: true },
    ],
    [
      "fetch's TypeError caused by a network error",
      new TypeError("fetch failed", { cause: { code: "ECONNRESET" } }),
      { code: "TypeError", retryable: true },
    ],
    [
      "a TypeError with an HTTP answer",
      Object.assign(new TypeError("odd"), { $metadata: { httpStatusCode: 503 } }),
      { code: "TypeError", retryable: true },
    ],
    ...programErrors.map(([what, error]): [string, Error, { code: string; retryable: boolean }] => [
      `${what}, a program error`,
      error,
      { code: error.name, retryable: false },
    ]),
  ];
  const cases = rows.map(
    ([what, error, { code, retryable }]) => [what, error, { code, message: error.message, retryable }] as const,
  );

  describe.each([
    ["DeleteObjects", "a.png", DeleteObjectsCommand],
    ["DeleteObject (a key XML cannot carry)", "odd\u0001.png", DeleteObjectCommand],
  ])("%s", (_, key, command) => {
    const mock = () => s3.on(command as typeof DeleteObjectsCommand);

    it.each(cases)("fails the key after one request when it throws %s", async (_, error, expected) => {
      // Prepare
      mock().rejectsOnce(error).resolves({});
      const { clock, deleteObjects } = setup({ maxAttempts: 5 });

      // Act
      const report = await deleteObjects([target(key)]);

      // Assess
      expect(s3.commandCalls(command as typeof DeleteObjectsCommand)).toHaveLength(1);
      expect(clock.delays).toStrictEqual([]);
      expect(report).toStrictEqual({ deleted: [], failed: [{ target: target(key), ...expected }], keptReplaced: [] });
    });

    it("counts the key as deleted when the request throws NoSuchKey", async () => {
      // Prepare
      mock().rejects(s3Error("NoSuchKey", 404));
      const { deleteObjects } = setup();

      // Act
      const report = await deleteObjects([target(key)]);

      // Assess
      expect(report).toStrictEqual({ deleted: [target(key)], failed: [], keptReplaced: [] });
    });

    it("fails the key as Aborted, retryable, when a client that honours the signal rejects with an AbortError", async () => {
      // Prepare
      const controller = new AbortController();
      mock().callsFake(() => {
        controller.abort(new Error("the invocation's time budget ran out"));
        throw new DOMException("This operation was aborted", "AbortError");
      });
      const { deleteObjects } = setup();

      // Act
      const report = await deleteObjects([target(key)], { signal: controller.signal });

      // Assess
      expect(report).toStrictEqual({ deleted: [], failed: [cutOff(target(key))], keptReplaced: [] });
    });
  });

  it("fails a retried key at once when its retry throws", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand)
      .resolvesOnce({ Errors: [slowDown("b.png")] })
      .rejectsOnce(s3Error("InternalError", 500, "We encountered an internal error."))
      .resolves({});
    const { clock, deleteObjects } = setup({ maxAttempts: 5 });

    // Act
    const report = await deleteObjects([target("a.png"), target("b.png")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 2);
    expect(keysOf(batchInputs()[1])).toStrictEqual(["b.png"]);
    expect(clock.delays).toStrictEqual([50]);
    expect(report).toStrictEqual({
      deleted: [target("a.png")],
      failed: [
        {
          target: target("b.png"),
          code: "InternalError",
          message: "We encountered an internal error.",
          retryable: true,
        },
      ],
      keptReplaced: [],
    });
  });

  it("fails every key of a request refused for its bucket or permissions, in one request", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand)
      .resolves({})
      .on(DeleteObjectsCommand, { Bucket: OTHER_BUCKET })
      .rejects(s3Error("NoSuchBucket", 404, "The specified bucket does not exist"));
    const { deleteObjects } = setup();
    const elsewhere = [target("b.png", undefined, OTHER_BUCKET), target("c.png", undefined, OTHER_BUCKET)];

    // Act
    const report = await deleteObjects([target("a.png"), ...elsewhere]);

    // Assess
    expect(batchInputs().map((input) => input.Bucket)).toStrictEqual([BUCKET, OTHER_BUCKET]);
    expect(report).toStrictEqual({
      deleted: [target("a.png")],
      failed: elsewhere.map((each) => ({
        target: each,
        code: "NoSuchBucket",
        message: "The specified bucket does not exist",
        retryable: false,
      })),
      keptReplaced: [],
    });
  });
});

describe("keys that cannot go in a DeleteObjects body", () => {
  it.each([
    ["U+0001", "\u0001"],
    ["U+000B", "\u000B"],
    ["U+000C", "\u000C"],
    ["U+001F", "\u001F"],
    ["U+FFFE", "\uFFFE"],
    ["U+FFFF", "\uFFFF"],
    ["a lone high surrogate", "\uD800"],
    ["a lone low surrogate", "\uDC00"],
  ])("deletes a key holding %s with a single DeleteObject call", async (_, character) => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({});
    s3.on(DeleteObjectCommand).resolves({});
    const { deleteObjects } = setup();
    const odd = target(`uploads/odd${character}name.png`);

    // Act
    const report = await deleteObjects([target("a.png"), odd, target("b.png")]);

    // Assess
    expect(s3).toHaveReceivedCommandExactlyOnceWith(DeleteObjectCommand, {
      Bucket: BUCKET,
      Key: `uploads/odd${character}name.png`,
    });
    expect(batchInputs()).toStrictEqual([
      { Bucket: BUCKET, Delete: { Objects: [{ Key: "a.png" }, { Key: "b.png" }], Quiet: true } },
    ]);
    expect(sortTargets(report.deleted)).toStrictEqual(sortTargets([target("a.png"), odd, target("b.png")]));
  });

  it("passes the VersionId to the single DeleteObject call", async () => {
    // Prepare
    s3.on(DeleteObjectCommand).resolves({});
    const { deleteObjects } = setup();

    // Act
    await deleteObjects([target("odd\u0001.png", "v1"), target("odd\u0001.png")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectCommand, 2);
    expect(s3.commandCalls(DeleteObjectCommand).map((call) => call.args[0].input)).toStrictEqual([
      { Bucket: BUCKET, Key: "odd\u0001.png", VersionId: "v1" },
      { Bucket: BUCKET, Key: "odd\u0001.png" },
    ]);
    expect(s3).not.toHaveReceivedCommand(DeleteObjectsCommand);
  });

  it("keeps tab, emoji, private-use and U+FFFD keys in DeleteObjects", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup();
    const keys = ["tab\there", "emoji 😀 🦄.png", "private\uE000use", "\uFFFD", "astral\u{10FFFF}"];

    // Act
    const report = await deleteObjects(keys.map((key) => target(key)));

    // Assess
    expect(s3).not.toHaveReceivedCommand(DeleteObjectCommand);
    expect(keysOf(batchInputs()[0])).toStrictEqual(keys);
    expect(report.deleted).toStrictEqual(keys.map((key) => target(key)));
  });

  it.each([
    ["a line feed", "new\nline.png"],
    ["a carriage return", "carriage\rreturn.png"],
    ["CR LF", "windows\r\nline.png"],
    ["a trailing line feed", "trailing.png\n"],
  ])(
    "deletes a key holding %s with a single DeleteObject call, since XML parsers rewrite line ends",
    async (_, key) => {
      // Prepare
      s3.on(DeleteObjectsCommand).resolves({});
      s3.on(DeleteObjectCommand).resolves({});
      const { deleteObjects } = setup();

      // Act
      const report = await deleteObjects([target("a.png"), target(key), target(key, "v1")]);

      // Assess
      expect(s3.commandCalls(DeleteObjectCommand).map((call) => call.args[0].input)).toStrictEqual([
        { Bucket: BUCKET, Key: key },
        { Bucket: BUCKET, Key: key, VersionId: "v1" },
      ]);
      expect(batchInputs()).toStrictEqual([{ Bucket: BUCKET, Delete: { Objects: [{ Key: "a.png" }], Quiet: true } }]);
      expect(sortTargets(report.deleted)).toStrictEqual(sortTargets([target("a.png"), target(key), target(key, "v1")]));
    },
  );
});

describe("signal", () => {
  it.each([
    ["an Error", new Error("the invocation's time budget ran out"), "cut off: the invocation's time budget ran out"],
    ["no reason (an AbortError)", undefined, "cut off: This operation was aborted"],
    ["a reason that is no Error", "budget", "cut off: the signal fired"],
  ])(
    "sends nothing and fails every target as Aborted, retryable, when it fired before the call with %s",
    async (_, reason, message) => {
      // Prepare
      s3.on(DeleteObjectsCommand).resolves({});
      s3.on(DeleteObjectCommand).resolves({});
      const { deleteObjects } = setup();
      const targets = [target("a.png"), target("odd\u0001.png"), target("b.png", undefined, OTHER_BUCKET)];
      const controller = new AbortController();
      controller.abort(reason);

      // Act
      const report = await deleteObjects(targets, { signal: controller.signal });

      // Assess
      expect(s3).not.toHaveReceivedAnyCommand();
      expect(report).toStrictEqual({
        deleted: [],
        failed: targets.map((each) => ({ target: each, code: "Aborted", message, retryable: true })),
        keptReplaced: [],
      });
    },
  );

  it("is followed by the abortSignal passed to every request: one signal of the call's own, which fires with it", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand).resolves({ Versions: [{ Key: "a.png", VersionId: "v1" }] });
    s3.on(DeleteObjectsCommand).resolves({});
    s3.on(DeleteObjectCommand).resolves({});
    const { deleteObjects } = setup({ versions: "all" });
    const controller = new AbortController();

    // Act
    await deleteObjects([target("a.png"), target("odd\u0001.png", "v1")], { signal: controller.signal });
    const signals = [ListObjectVersionsCommand, DeleteObjectsCommand, DeleteObjectCommand].flatMap((command) =>
      s3.commandCalls(command as typeof DeleteObjectsCommand).map((call) => sendOptionsOf(call.args).abortSignal),
    );
    const aborted = signals.map((signal) => signal?.aborted);
    controller.abort(new Error("after the call"));

    // Assess: one signal for every request, not the caller's; it no longer follows once the call is done
    expect(signals).toHaveLength(3);
    expect(new Set(signals).size).toBe(1);
    expect(signals[0]).toBeInstanceOf(AbortSignal);
    expect(signals[0]).not.toBe(controller.signal);
    expect(aborted).toStrictEqual([false, false, false]);
    expect(signals[0]?.aborted).toBe(false);
  });

  it("fires the requests' abortSignal with the caller's signal, and its reason", async () => {
    // Prepare
    const controller = new AbortController();
    const reason = new Error("stop");
    s3.on(DeleteObjectsCommand).callsFake(() => {
      controller.abort(reason);
      return {};
    });
    const { deleteObjects } = setup();

    // Act
    await deleteObjects([target("a.png")], { signal: controller.signal });

    // Assess
    const [signal] = s3.commandCalls(DeleteObjectsCommand).map((call) => sendOptionsOf(call.args).abortSignal);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe(reason);
  });

  it("passes an abortSignal that never fires when the call has no signal", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup();

    // Act
    await deleteObjects([target("a.png")]);

    // Assess
    const [signal] = s3.commandCalls(DeleteObjectsCommand).map((call) => sendOptionsOf(call.args).abortSignal);
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(signal?.aborted).toBe(false);
  });

  it("abandons a request in flight when it fires, though the client ignores it: the call resolves at once and the request's keys fail as Aborted", async () => {
    // Prepare
    const { deleteObjects, elapsed } = timedSetup();
    s3.on(DeleteObjectsCommand).callsFake(() => answerAfter(10_000, {}));
    s3.on(DeleteObjectCommand).callsFake(() => answerAfter(10_000, {}));
    const targets = [target("a.png"), target("b.png"), target("odd\u0001.png")];

    // Act
    const done = deleteObjects(targets, { signal: abortAfter(1000) });
    let resolvedAt: number | undefined;
    void done.then(() => {
      resolvedAt = elapsed();
    });
    await vi.advanceTimersByTimeAsync(1000);
    const report = await done;
    await vi.runAllTimersAsync();

    // Assess
    expect(resolvedAt).toBe(1000);
    expect(report).toStrictEqual({ deleted: [], failed: targets.map(cutOff), keptReplaced: [] });
  });

  it("keeps what was deleted before it fired, and fails the objects of the request it cut off", async () => {
    // Prepare: one request at a time, 300 ms each
    const { deleteObjects, elapsed } = timedSetup({ concurrency: 1 });
    s3.on(DeleteObjectsCommand).callsFake(() => answerAfter(300, {}));
    const targets = manyTargets(2500);

    // Act
    const done = deleteObjects(targets, { signal: abortAfter(700) });
    await vi.advanceTimersByTimeAsync(700);
    const report = await done;

    // Assess
    expect(elapsed()).toBe(700);
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 3);
    expect(report).toStrictEqual({
      deleted: targets.slice(0, 2000),
      failed: targets.slice(2000).map(cutOff),
      keptReplaced: [],
    });
  });

  it("never sends the requests still waiting for a slot when it fires", async () => {
    // Prepare
    const { deleteObjects } = timedSetup({ concurrency: 1 });
    s3.on(DeleteObjectsCommand).callsFake(() => answerAfter(1000, {}));
    const targets = manyTargets(3000);

    // Act
    const done = deleteObjects(targets, { signal: abortAfter(500) });
    await vi.advanceTimersByTimeAsync(500);
    const report = await done;
    await vi.runAllTimersAsync();

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
    expect(report).toStrictEqual({ deleted: [], failed: targets.map(cutOff), keptReplaced: [] });
  });

  it("never sends a retry still waiting for a slot when it fires", async () => {
    // Prepare: a.png's retry waits behind the other bucket's slow request
    const { deleteObjects } = timedSetup({ concurrency: 1 });
    s3.on(DeleteObjectsCommand)
      .callsFake(() => answerAfter(100, { Errors: [slowDown("a.png")] }))
      .on(DeleteObjectsCommand, { Bucket: OTHER_BUCKET })
      .callsFake(() => answerAfter(1000, {}));
    const targets = [target("a.png"), target("b.png", undefined, OTHER_BUCKET)];

    // Act
    const done = deleteObjects(targets, { signal: abortAfter(500) });
    await vi.advanceTimersByTimeAsync(500);
    const report = await done;
    await vi.runAllTimersAsync();

    // Assess
    expect(batchInputs().map((input) => input.Bucket)).toStrictEqual([BUCKET, OTHER_BUCKET]);
    expect(report).toStrictEqual({ deleted: [], failed: targets.map(cutOff), keptReplaced: [] });
  });

  it("cuts a backoff wait short and fails the keys waiting to retry with their last error, retryable", async () => {
    // Prepare: the answer comes at 100 ms, the retry would start at 100 + 0.5 * 1000 ms
    const { deleteObjects, elapsed } = timedSetup({ baseDelayMs: 1000 });
    s3.on(DeleteObjectsCommand)
      .callsFakeOnce(() => answerAfter(100, { Errors: [slowDown("b.png")] }))
      .callsFake(() => answerAfter(100, {}));

    // Act
    const done = deleteObjects([target("a.png"), target("b.png")], { signal: abortAfter(300) });
    await vi.advanceTimersByTimeAsync(300);
    const report = await done;

    // Assess
    expect(elapsed()).toBe(300);
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
    expect(report).toStrictEqual({
      deleted: [target("a.png")],
      failed: [
        {
          target: target("b.png"),
          code: "SlowDown",
          message: "no time left to retry after SlowDown: Please reduce your request rate.",
          retryable: true,
        },
      ],
      keptReplaced: [],
    });
  });

  it("keeps the code and message of the last attempt's error when it cuts a later backoff short", async () => {
    // Prepare: answers at 100 ms and 250 ms; the second backoff would end at 350 ms
    const { deleteObjects } = timedSetup({ baseDelayMs: 100 });
    s3.on(DeleteObjectsCommand)
      .callsFakeOnce(() => answerAfter(100, { Errors: [slowDown("a.png")] }))
      .callsFakeOnce(() =>
        answerAfter(100, {
          Errors: [{ Key: "a.png", Code: "InternalError", Message: "We encountered an internal error." }],
        }),
      )
      .callsFake(() => answerAfter(100, {}));

    // Act
    const done = deleteObjects([target("a.png")], { signal: abortAfter(300) });
    await vi.advanceTimersByTimeAsync(300);
    const report = await done;

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 2);
    expect(report.failed).toStrictEqual([
      {
        target: target("a.png"),
        code: "InternalError",
        message: "no time left to retry after InternalError: We encountered an internal error.",
        retryable: true,
      },
    ]);
  });

  it("lets a retry run when the backoff ends before it fires", async () => {
    // Prepare
    const { deleteObjects, elapsed } = timedSetup({ baseDelayMs: 1000 });
    s3.on(DeleteObjectsCommand)
      .callsFakeOnce(() => answerAfter(100, { Errors: [slowDown("b.png")] }))
      .callsFake(() => answerAfter(100, {}));

    // Act
    const done = deleteObjects([target("a.png"), target("b.png")], { signal: abortAfter(701) });
    await vi.advanceTimersByTimeAsync(700);
    const report = await done;

    // Assess
    expect(elapsed()).toBe(700);
    expect(keysOf(batchInputs()[1])).toStrictEqual(["b.png"]);
    expect(report).toStrictEqual({ deleted: [target("a.png"), target("b.png")], failed: [], keptReplaced: [] });
  });
});

describe("report", () => {
  it("puts every distinct target in exactly one of deleted and failed", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand)
      .resolvesOnce({
        Errors: [
          slowDown("retried.png"),
          { Key: "denied.png", Code: "AccessDenied", Message: "Access Denied" },
          { Key: "gone.png", Code: "NoSuchKey", Message: "The specified key does not exist." },
          slowDown("busy.png"),
        ],
      })
      .resolves({ Errors: [slowDown("busy.png")] });
    s3.on(DeleteObjectsCommand, { Bucket: OTHER_BUCKET }).rejects(
      new S3ServiceException({ name: "NoSuchBucket", $fault: "client", $metadata: { httpStatusCode: 404 } }),
    );
    const { deleteObjects } = setup({ maxAttempts: 2 });
    const names = ["ok.png", "retried.png", "denied.png", "gone.png", "busy.png"];
    const targets = [...names, ...names].map((key) => target(key));
    const elsewhere = target("ok.png", undefined, OTHER_BUCKET);

    // Act
    const report = await deleteObjects([...targets, elsewhere, elsewhere]);

    // Assess
    expect(sortTargets(report.deleted)).toStrictEqual(
      sortTargets(["ok.png", "retried.png", "gone.png"].map((key) => target(key))),
    );
    expect(sortFailures(report.failed).map((failure) => [failure.target, failure.code])).toStrictEqual([
      [target("busy.png"), "SlowDown"],
      [target("denied.png"), "AccessDenied"],
      [elsewhere, "NoSuchBucket"],
    ]);
  });
});

describe('versions: "all"', () => {
  /** One entry of a ListObjectVersions page: a version or a delete marker of `key`. */
  const entry = (key: string, versionId?: string) =>
    versionId === undefined ? { Key: key } : { Key: key, VersionId: versionId };

  /** The inputs of every ListObjectVersions call, in order. */
  const listInputs = (): ListObjectVersionsCommandInput[] =>
    s3.commandCalls(ListObjectVersionsCommand).map((call) => call.args[0].input);

  /** A ListObjectVersions input: always URL-encoded, at most 1,000 entries a page unless said. */
  const listInput = (prefix: string, markers: object = {}, maxKeys = 1000) => ({
    Bucket: BUCKET,
    Prefix: prefix,
    EncodingType: "url",
    MaxKeys: maxKeys,
    ...markers,
  });

  /** The objects of every DeleteObjects call, in order. */
  const sentObjects = () => batchInputs().flatMap((input) => input.Delete?.Objects ?? []);

  it("deletes every version and delete marker of the key by VersionId and reports the target as passed in", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand).resolves({
      Versions: [entry("a.png", "v3"), entry("a.png", "v2")],
      DeleteMarkers: [entry("a.png", "d1")],
    });
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup({ versions: "all" });
    const image = target("a.png");

    // Act
    const report = await deleteObjects([image]);

    // Assess
    expect(listInputs()).toStrictEqual([listInput("a.png")]);
    expect(batchInputs()).toStrictEqual([
      {
        Bucket: BUCKET,
        Delete: {
          Objects: [
            { Key: "a.png", VersionId: "v3" },
            { Key: "a.png", VersionId: "v2" },
            { Key: "a.png", VersionId: "d1" },
          ],
          Quiet: true,
        },
      },
    ]);
    expect(report).toStrictEqual({ deleted: [image], failed: [], keptReplaced: [] });
    expect(report.deleted[0]).toBe(image);
  });

  it("keeps only entries whose key is exactly the target's, since the prefix matches longer keys too", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand).resolves({
      Versions: [entry("a.png", "v1"), entry("a.png.bak", "b1"), { VersionId: "keyless" }],
      DeleteMarkers: [entry("a.png/thumb", "m1")],
    });
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup({ versions: "all" });

    // Act
    const report = await deleteObjects([target("a.png")]);

    // Assess
    expect(sentObjects()).toStrictEqual([{ Key: "a.png", VersionId: "v1" }]);
    expect(report.deleted).toStrictEqual([target("a.png")]);
  });

  it("pages with KeyMarker and VersionIdMarker while the pages hold only the key's versions", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand)
      .resolvesOnce({
        IsTruncated: true,
        NextKeyMarker: "a.png",
        NextVersionIdMarker: "v2",
        Versions: [entry("a.png", "v3"), entry("a.png", "v2")],
      })
      .resolvesOnce({
        IsTruncated: true,
        NextKeyMarker: "a.png",
        NextVersionIdMarker: "d1",
        DeleteMarkers: [entry("a.png", "d1")],
      })
      .resolvesOnce({ IsTruncated: false, Versions: [entry("a.png", "v1")] });
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup({ versions: "all" });

    // Act
    const report = await deleteObjects([target("a.png")]);

    // Assess
    expect(listInputs()).toStrictEqual([
      listInput("a.png"),
      listInput("a.png", { KeyMarker: "a.png", VersionIdMarker: "v2" }),
      listInput("a.png", { KeyMarker: "a.png", VersionIdMarker: "d1" }),
    ]);
    expect(sentObjects().map((object) => object.VersionId)).toStrictEqual(["v3", "v2", "d1", "v1"]);
    expect(report.deleted).toStrictEqual([target("a.png")]);
  });

  it("stops paging once a page lists another key: every version of the key came before it", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand)
      .resolvesOnce({
        IsTruncated: true,
        NextKeyMarker: "a.png.bak",
        NextVersionIdMarker: "b1",
        Versions: [entry("a.png", "v1"), entry("a.png.bak", "b1")],
      })
      .resolves({ Versions: [entry("a.png.bak", "b0")] });
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup({ versions: "all" });

    // Act
    const report = await deleteObjects([target("a.png")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(ListObjectVersionsCommand, 1);
    expect(sentObjects()).toStrictEqual([{ Key: "a.png", VersionId: "v1" }]);
    expect(report.deleted).toStrictEqual([target("a.png")]);
  });

  it("deletes 2,500 versions of one key in DeleteObjects batches of 1,000, 1,000 and 500", async () => {
    // Prepare
    const versionIds = Array.from({ length: 2500 }, (_, index) => `v${index}`);
    s3.on(ListObjectVersionsCommand).callsFake((input: ListObjectVersionsCommandInput) => {
      const start = input.VersionIdMarker === undefined ? 0 : versionIds.indexOf(input.VersionIdMarker) + 1;
      const page = versionIds.slice(start, start + 1000);
      const truncated = start + 1000 < versionIds.length;
      return {
        IsTruncated: truncated,
        ...(truncated ? { NextKeyMarker: "a.png", NextVersionIdMarker: page.at(-1) } : {}),
        Versions: page.map((versionId) => entry("a.png", versionId)),
      };
    });
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup({ versions: "all" });

    // Act
    const report = await deleteObjects([target("a.png")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(ListObjectVersionsCommand, 3);
    expect(batchInputs().map((input) => input.Delete?.Objects?.length)).toStrictEqual([1000, 1000, 500]);
    expect(sentObjects().map((object) => object.VersionId)).toStrictEqual(versionIds);
    expect(batchInputs().every((input) => input.Delete?.Quiet === true)).toBe(true);
    expect(report).toStrictEqual({ deleted: [target("a.png")], failed: [], keptReplaced: [] });
  });

  it("deletes the versions of each key in requests of their own, page by page", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand).callsFake((input: ListObjectVersionsCommandInput) => ({
      Versions: Array.from({ length: 600 }, (_, index) => entry(input.Prefix as string, `v${index}`)),
    }));
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup({ versions: "all" });

    // Act
    const report = await deleteObjects([target("a.png"), target("b.png")]);

    // Assess
    expect(batchInputs().map((input) => [keysOf(input)[0], keysOf(input).length])).toStrictEqual([
      ["a.png", 600],
      ["b.png", 600],
    ]);
    expect(report.deleted).toStrictEqual([target("a.png"), target("b.png")]);
  });

  it("counts a key with no versions as deleted and sends no delete", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand).resolves({ IsTruncated: false });
    const { deleteObjects } = setup({ versions: "all" });

    // Act
    const report = await deleteObjects([target("gone.png")]);

    // Assess
    expect(s3).not.toHaveReceivedCommand(DeleteObjectsCommand);
    expect(s3).not.toHaveReceivedCommand(DeleteObjectCommand);
    expect(report).toStrictEqual({ deleted: [target("gone.png")], failed: [], keptReplaced: [] });
  });

  it("deletes a target that has a versionId as given, without listing", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup({ versions: "all" });

    // Act
    const report = await deleteObjects([target("a.png", "v9")]);

    // Assess
    expect(s3).not.toHaveReceivedCommand(ListObjectVersionsCommand);
    expect(sentObjects()).toStrictEqual([{ Key: "a.png", VersionId: "v9" }]);
    expect(report.deleted).toStrictEqual([target("a.png", "v9")]);
  });

  it("deletes a version both listed for a key and passed in with its versionId apart, and reports both targets", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand).resolves({ Versions: [entry("a.png", "v2"), entry("a.png", "v1")] });
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup({ versions: "all" });

    // Act
    const report = await deleteObjects([target("a.png", "v1"), target("a.png")]);

    // Assess
    // The purge deletes what it lists as it lists it, apart from the targets passed in with a
    // versionId: v1 goes twice, and whichever delete comes second finds it gone.
    expect(batchInputs().map((input) => input.Delete?.Objects)).toStrictEqual([
      [{ Key: "a.png", VersionId: "v1" }],
      [
        { Key: "a.png", VersionId: "v2" },
        { Key: "a.png", VersionId: "v1" },
      ],
    ]);
    expect(report.deleted).toStrictEqual([target("a.png", "v1"), target("a.png")]);
  });

  it('lists nothing and deletes the key as given with versions: "current", the default', async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup();
    const explicit = setup({ versions: "current" }).deleteObjects;

    // Act
    await deleteObjects([target("a.png")]);
    await explicit([target("b.png")]);

    // Assess
    expect(s3).not.toHaveReceivedCommand(ListObjectVersionsCommand);
    expect(sentObjects()).toStrictEqual([{ Key: "a.png" }, { Key: "b.png" }]);
  });

  it("deletes an entry without VersionId as version null, the id S3 gives objects stored while versioning was off", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand).resolves({ Versions: [entry("a.png")] });
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup({ versions: "all" });

    // Act
    await deleteObjects([target("a.png")]);

    // Assess
    expect(sentObjects()).toStrictEqual([{ Key: "a.png", VersionId: "null" }]);
  });

  it("decodes listed keys when the store says it URL-encoded them, + being a space", async () => {
    // Prepare
    const key = "odd\u0001 +ü%.png";
    s3.on(ListObjectVersionsCommand).resolves({
      EncodingType: "url",
      Versions: [entry("odd%01+%2B%C3%BC%25.png", "v1"), entry("odd%01+%2B%C3%BC%25.png.bak", "b1")],
    });
    s3.on(DeleteObjectCommand).resolves({});
    const { deleteObjects } = setup({ versions: "all" });

    // Act
    const report = await deleteObjects([target(key)]);

    // Assess
    expect(listInputs()).toStrictEqual([listInput(key)]);
    expect(s3.commandCalls(DeleteObjectCommand).map((call) => call.args[0].input)).toStrictEqual([
      { Bucket: BUCKET, Key: key, VersionId: "v1" },
    ]);
    expect(report.deleted).toStrictEqual([target(key)]);
  });

  it("compares keys verbatim when the store did not URL-encode them", async () => {
    // Prepare
    const key = "a+b%20c.png";
    s3.on(ListObjectVersionsCommand).resolves({
      Versions: [entry("a+b%20c.png", "v1"), entry("a+b%20c.png.bak", "other")],
    });
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup({ versions: "all" });

    // Act
    await deleteObjects([target(key)]);

    // Assess
    expect(listInputs()).toStrictEqual([listInput(key)]);
    expect(sentObjects()).toStrictEqual([{ Key: key, VersionId: "v1" }]);
  });

  it("fails the target, deleting nothing, when the listing holds keys outside the prefix", async () => {
    // Prepare: a store that encodes keys without saying so
    const key = "a b.png";
    s3.on(ListObjectVersionsCommand).resolves({ Versions: [entry("a%20b.png", "v1")] });
    const { deleteObjects } = setup({ versions: "all" });

    // Act
    const report = await deleteObjects([target(key)]);

    // Assess
    expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
    expect(report.deleted).toStrictEqual([]);
    expect(report.failed.map((failure) => [failure.code, failure.retryable])).toStrictEqual([
      ["UnexpectedListing", false],
    ]);
  });

  it("deletes the versions of a key that cannot go in an XML body with single DeleteObject calls", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand).resolves({ Versions: [entry("line\nend", "v2"), entry("line\nend", "v1")] });
    s3.on(DeleteObjectCommand).resolves({});
    const { deleteObjects } = setup({ versions: "all" });

    // Act
    const report = await deleteObjects([target("line\nend")]);

    // Assess
    expect(s3).not.toHaveReceivedCommand(DeleteObjectsCommand);
    expect(s3.commandCalls(DeleteObjectCommand).map((call) => call.args[0].input)).toStrictEqual([
      { Bucket: BUCKET, Key: "line\nend", VersionId: "v2" },
      { Bucket: BUCKET, Key: "line\nend", VersionId: "v1" },
    ]);
    expect(report.deleted).toStrictEqual([target("line\nend")]);
  });

  describe("failures", () => {
    it("fails the original target with the error of a version that was not deleted, and reports the other keys deleted", async () => {
      // Prepare
      s3.on(ListObjectVersionsCommand).callsFake((input: ListObjectVersionsCommandInput) => ({
        Versions: [entry(input.Prefix as string, "v2"), entry(input.Prefix as string, "v1")],
      }));
      s3.on(DeleteObjectsCommand).callsFake((input: DeleteObjectsCommandInput) =>
        keysOf(input).includes("a.png")
          ? { Errors: [{ Key: "a.png", VersionId: "v1", Code: "AccessDenied", Message: "Access Denied" }] }
          : {},
      );
      const { deleteObjects } = setup({ versions: "all" });
      const image = target("a.png");

      // Act
      const report = await deleteObjects([image, target("b.png")]);

      // Assess
      expect(report).toStrictEqual({
        deleted: [target("b.png")],
        failed: [{ target: image, code: "AccessDenied", message: "Access Denied", retryable: false }],
        keptReplaced: [],
      });
      expect(report.failed[0]?.target).toBe(image);
      expect(report.failed[0]?.target).not.toHaveProperty("versionId");
    });

    it("retries a version with a transient error in a request holding only it", async () => {
      // Prepare
      s3.on(ListObjectVersionsCommand).resolves({ Versions: [entry("a.png", "v2"), entry("a.png", "v1")] });
      s3.on(DeleteObjectsCommand)
        .resolvesOnce({ Errors: [slowDown("a.png", "v2")] })
        .resolves({});
      const { deleteObjects } = setup({ versions: "all" });

      // Act
      const report = await deleteObjects([target("a.png")]);

      // Assess
      expect(batchInputs()[1]?.Delete?.Objects).toStrictEqual([{ Key: "a.png", VersionId: "v2" }]);
      expect(report).toStrictEqual({ deleted: [target("a.png")], failed: [], keptReplaced: [] });
    });

    it.each([
      [
        "the first failed version, in listing order, when all failures are retryable",
        ["SlowDown", "InternalError"],
        "SlowDown",
      ],
      ["a permanent failure over a retryable one listed before it", ["SlowDown", "AccessDenied"], "AccessDenied"],
      ["the first permanent failure when there are several", ["InvalidArgument", "AccessDenied"], "InvalidArgument"],
    ])("reports %s", async (_, codes, expected) => {
      // Prepare
      s3.on(ListObjectVersionsCommand).resolves({
        Versions: [entry("a.png", "v3")],
        DeleteMarkers: [entry("a.png", "d2"), entry("a.png", "d1")],
      });
      s3.on(DeleteObjectsCommand).resolves({
        Errors: [
          { Key: "a.png", VersionId: "d2", Code: codes[0], Message: `${codes[0]} for d2` },
          { Key: "a.png", VersionId: "d1", Code: codes[1], Message: `${codes[1]} for d1` },
        ],
      });
      const { deleteObjects } = setup({ versions: "all", maxAttempts: 1 });

      // Act
      const report = await deleteObjects([target("a.png")]);

      // Assess
      expect(report.failed).toStrictEqual([
        {
          target: target("a.png"),
          code: expected,
          message: `${expected} for ${expected === codes[0] ? "d2" : "d1"}`,
          retryable: expected === "SlowDown",
        },
      ]);
    });

    it("fails both the listed key and the version passed in when that shared version is not deleted", async () => {
      // Prepare
      s3.on(ListObjectVersionsCommand).resolves({ Versions: [entry("a.png", "v2"), entry("a.png", "v1")] });
      s3.on(DeleteObjectsCommand).resolves({
        Errors: [{ Key: "a.png", VersionId: "v1", Code: "AccessDenied", Message: "Access Denied" }],
      });
      const { deleteObjects } = setup({ versions: "all" });

      // Act
      const report = await deleteObjects([target("a.png"), target("a.png", "v1")]);

      // Assess
      expect(report.deleted).toStrictEqual([]);
      expect(report.failed.map((failure) => [failure.target, failure.code])).toStrictEqual([
        [target("a.png"), "AccessDenied"],
        [target("a.png", "v1"), "AccessDenied"],
      ]);
    });

    it.each([
      ["a 403 AccessDenied, as permanent", "AccessDenied", 403, false],
      ["a 503 ServiceUnavailable, as retryable", "ServiceUnavailable", 503, true],
      ["a 404 NoSuchBucket, as permanent", "NoSuchBucket", 404, false],
    ])(
      "fails the target when ListObjectVersions throws %s, and deletes none of its versions",
      async (_, name, status, retryable) => {
        // Prepare
        s3.on(ListObjectVersionsCommand, { Prefix: "a.png" }).rejects(
          new S3ServiceException({
            name,
            $fault: status >= 500 ? "server" : "client",
            $metadata: { httpStatusCode: status },
            message: `${name} for the listing`,
          }),
        );
        s3.on(ListObjectVersionsCommand, { Prefix: "b.png" }).resolves({ Versions: [entry("b.png", "v1")] });
        s3.on(DeleteObjectsCommand).resolves({});
        const { clock, deleteObjects } = setup({ versions: "all" });

        // Act
        const report = await deleteObjects([target("a.png"), target("b.png")]);

        // Assess
        expect(s3).toHaveReceivedCommandTimes(ListObjectVersionsCommand, 2);
        expect(clock.delays).toStrictEqual([]);
        expect(sentObjects()).toStrictEqual([{ Key: "b.png", VersionId: "v1" }]);
        expect(report).toStrictEqual({
          deleted: [target("b.png")],
          failed: [{ target: target("a.png"), code: name, message: `${name} for the listing`, retryable }],
          keptReplaced: [],
        });
      },
    );

    it.each([
      [
        "a network error, as retryable",
        Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }),
        "Error",
        true,
      ],
      ["a 403 AccessDenied, as permanent", s3Error("AccessDenied", 403, "read ECONNRESET"), "AccessDenied", false],
    ])(
      "keeps the versions of the first page deleted when a later page throws %s, and fails the target with the listing's error",
      async (_, error, code, retryable) => {
        // Prepare
        s3.on(ListObjectVersionsCommand)
          .resolvesOnce({
            IsTruncated: true,
            NextKeyMarker: "a.png",
            NextVersionIdMarker: "v2",
            Versions: [entry("a.png", "v3"), entry("a.png", "v2")],
          })
          .rejectsOnce(error);
        s3.on(DeleteObjectsCommand).resolves({});
        const { deleteObjects } = setup({ versions: "all" });

        // Act
        const report = await deleteObjects([target("a.png")]);

        // Assess
        expect(s3).toHaveReceivedCommandTimes(ListObjectVersionsCommand, 2);
        expect(sentObjects()).toStrictEqual([
          { Key: "a.png", VersionId: "v3" },
          { Key: "a.png", VersionId: "v2" },
        ]);
        expect(report).toStrictEqual({
          deleted: [],
          failed: [{ target: target("a.png"), code, message: "read ECONNRESET", retryable }],
          keptReplaced: [],
        });
      },
    );

    it.each([
      ["a permanent delete error over a retryable listing error", "AccessDenied", 503, "AccessDenied", false],
      ["a permanent listing error over a retryable delete error", "SlowDown", 403, "ListingDenied", false],
      ["the delete error that came first when both are retryable", "SlowDown", 503, "SlowDown", true],
    ])("reports %s", async (_, deleteCode, listingStatus, code, retryable) => {
      // Prepare
      s3.on(ListObjectVersionsCommand)
        .resolvesOnce({
          IsTruncated: true,
          NextKeyMarker: "a.png",
          NextVersionIdMarker: "v2",
          Versions: [entry("a.png", "v2")],
        })
        .rejects(s3Error("ListingDenied", listingStatus));
      s3.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: "a.png", Code: deleteCode, Message: deleteCode }] });
      const { deleteObjects } = setup({ versions: "all", maxAttempts: 1 });

      // Act
      const report = await deleteObjects([target("a.png")]);

      // Assess
      expect(sentObjects()).toStrictEqual([{ Key: "a.png", VersionId: "v2" }]);
      expect(report.failed.map((failure) => [failure.code, failure.retryable])).toStrictEqual([[code, retryable]]);
    });

    it.each([
      ["gives no NextVersionIdMarker", [{ IsTruncated: true, Versions: [entry("a.png", "v2")] }], 1],
      [
        "gives the marker it started after again",
        [
          { IsTruncated: true, NextKeyMarker: "a.png", NextVersionIdMarker: "v2", Versions: [entry("a.png", "v2")] },
          { IsTruncated: true, NextKeyMarker: "a.png", NextVersionIdMarker: "v2", Versions: [] },
        ],
        2,
      ],
    ])(
      "fails the target when a page says it is truncated but %s, rather than loop, keeping what it listed deleted",
      async (_, pages, calls) => {
        // Prepare
        const mock = s3.on(ListObjectVersionsCommand);
        for (const page of pages) mock.resolvesOnce(page);
        mock.rejects(new Error("listed once too often"));
        s3.on(DeleteObjectsCommand).resolves({});
        const { deleteObjects } = setup({ versions: "all" });

        // Act
        const report = await deleteObjects([target("a.png")]);

        // Assess
        expect(s3).toHaveReceivedCommandTimes(ListObjectVersionsCommand, calls);
        expect(sentObjects()).toStrictEqual([{ Key: "a.png", VersionId: "v2" }]);
        expect(report.failed).toStrictEqual([
          {
            target: target("a.png"),
            code: "IncompleteListing",
            message: "a listing page said more objects follow but gave no new place to go on from",
            retryable: false,
          },
        ]);
      },
    );
  });

  describe("deletes as it lists", () => {
    /**
     * ListObjectVersions answers for a key with `total` versions `v0`, `v1`, ..., listed in pages of
     * at most `perPage` (and at most the request's MaxKeys).
     */
    const pagedVersions =
      (total: number, perPage: number) =>
      (input: ListObjectVersionsCommandInput): Partial<ListObjectVersionsCommandOutput> => {
        const start = input.VersionIdMarker === undefined ? 0 : Number(input.VersionIdMarker.slice(1)) + 1;
        const end = Math.min(total, start + Math.min(perPage, input.MaxKeys ?? 1000));
        const versionIds = Array.from({ length: end - start }, (_, n) => `v${start + n}`);
        const truncated = end < total;
        return {
          IsTruncated: truncated,
          ...(truncated ? { NextKeyMarker: input.Prefix, NextVersionIdMarker: versionIds.at(-1) } : {}),
          Versions: versionIds.map((versionId) => entry(input.Prefix as string, versionId)),
        };
      };

    it("sends the DeleteObjects of each page before it lists the next page", async () => {
      // Prepare
      const sends: string[] = [];
      const versions = pagedVersions(6, 2);
      s3.on(ListObjectVersionsCommand).callsFake((input: ListObjectVersionsCommandInput) => {
        sends.push(`list after ${input.VersionIdMarker ?? "nothing"}`);
        return versions(input);
      });
      s3.on(DeleteObjectsCommand).callsFake((input: DeleteObjectsCommandInput) => {
        sends.push(`delete ${input.Delete?.Objects?.map((object) => object.VersionId).join(" ")}`);
        return {};
      });
      const { deleteObjects } = setup({ versions: "all" });

      // Act
      const report = await deleteObjects([target("a.png")]);

      // Assess
      expect(sends).toStrictEqual([
        "list after nothing",
        "delete v0 v1",
        "list after v1",
        "delete v2 v3",
        "list after v3",
        "delete v4 v5",
      ]);
      expect(report).toStrictEqual({ deleted: [target("a.png")], failed: [], keptReplaced: [] });
    });

    it("lists at most maxListedObjects versions in one call, deletes them, and fails the purge as ListingNotFinished, retryable", async () => {
      // Prepare: 10 versions, listed 2 a page
      s3.on(ListObjectVersionsCommand).callsFake(pagedVersions(10, 2));
      s3.on(DeleteObjectsCommand).resolves({});
      const { deleteObjects } = setup({ versions: "all", maxListedObjects: 5 });

      // Act
      const report = await deleteObjects([target("a.png")]);

      // Assess
      expect(listInputs().map((input) => input.MaxKeys)).toStrictEqual([5, 3, 1]);
      expect(sentObjects().map((object) => object.VersionId)).toStrictEqual(["v0", "v1", "v2", "v3", "v4"]);
      expect(report).toStrictEqual({
        deleted: [],
        failed: [
          {
            target: target("a.png"),
            code: "ListingNotFinished",
            message: "not finished: this call reached maxListedObjects (5); the next one goes on from what is left",
            retryable: true,
          },
        ],
        keptReplaced: [],
      });
    });

    it("shares maxListedObjects between the purges of one call, and starts afresh in the next call", async () => {
      // Prepare
      s3.on(ListObjectVersionsCommand).callsFake(pagedVersions(2, 2));
      s3.on(DeleteObjectsCommand).resolves({});
      const { deleteObjects } = setup({ versions: "all", maxListedObjects: 3, concurrency: 1 });

      // Act
      const first = await deleteObjects([target("a.png"), target("b.png")]);
      const second = await deleteObjects([target("b.png")]);

      // Assess
      expect(listInputs().map((input) => [input.Prefix, input.MaxKeys])).toStrictEqual([
        ["a.png", 3],
        ["b.png", 1],
        ["b.png", 3],
      ]);
      expect(sentObjects()).toStrictEqual([
        { Key: "a.png", VersionId: "v0" },
        { Key: "a.png", VersionId: "v1" },
        { Key: "b.png", VersionId: "v0" },
        { Key: "b.png", VersionId: "v0" },
        { Key: "b.png", VersionId: "v1" },
      ]);
      expect(first.deleted).toStrictEqual([target("a.png")]);
      expect(first.failed.map((failure) => [failure.target, failure.code])).toStrictEqual([
        [target("b.png"), "ListingNotFinished"],
      ]);
      expect(second.deleted).toStrictEqual([target("b.png")]);
    });

    it("counts listing requests against `concurrency`", async () => {
      // Prepare
      const held = heldCalls<object>({});
      s3.on(ListObjectVersionsCommand).callsFake(held.call);
      const { deleteObjects } = setup({ versions: "all", concurrency: 2 });

      // Act
      const done = deleteObjects(manyTargets(5));
      await settle();
      const startedAtFirst = held.state.started;
      for (let answered = 0; answered < 5; answered++) await held.answerNext();
      const report = await done;

      // Assess
      expect(startedAtFirst).toBe(2);
      expect(held.state.maxInFlight).toBe(2);
      expect(report.deleted).toHaveLength(5);
    });

    it("sends no listing when the signal fired before the call, and fails the target as Aborted", async () => {
      // Prepare
      const { deleteObjects } = setup({ versions: "all" });
      const controller = new AbortController();
      controller.abort(new Error("the invocation's time budget ran out"));

      // Act
      const report = await deleteObjects([target("a.png")], { signal: controller.signal });

      // Assess
      expect(s3).not.toHaveReceivedAnyCommand();
      expect(report).toStrictEqual({ deleted: [], failed: [cutOff(target("a.png"))], keptReplaced: [] });
    });

    it("deletes the pages listed before the signal fired, abandons the listing in flight, and fails the target as Aborted", async () => {
      // Prepare: a listing page takes 300 ms, a delete 100 ms; page 2's listing is in flight at 500 ms
      const { deleteObjects, elapsed } = timedSetup({ versions: "all" });
      const versions = pagedVersions(10, 2);
      s3.on(ListObjectVersionsCommand).callsFake((input: ListObjectVersionsCommandInput) =>
        answerAfter(300, versions(input)),
      );
      s3.on(DeleteObjectsCommand).callsFake(() => answerAfter(100, {}));

      // Act
      const done = deleteObjects([target("a.png")], { signal: abortAfter(500) });
      await vi.advanceTimersByTimeAsync(500);
      const report = await done;

      // Assess
      expect(elapsed()).toBe(500);
      expect(s3).toHaveReceivedCommandTimes(ListObjectVersionsCommand, 2);
      expect(sentObjects().map((object) => object.VersionId)).toStrictEqual(["v0", "v1"]);
      expect(report).toStrictEqual({ deleted: [], failed: [cutOff(target("a.png"))], keptReplaced: [] });
    });

    it("fails the target as Aborted when the signal cuts off the delete of a listed page", async () => {
      // Prepare
      const { deleteObjects } = timedSetup({ versions: "all" });
      s3.on(ListObjectVersionsCommand).callsFake(() => answerAfter(100, { Versions: [entry("a.png", "v1")] }));
      s3.on(DeleteObjectsCommand).callsFake(() => answerAfter(300, {}));

      // Act
      const done = deleteObjects([target("a.png")], { signal: abortAfter(200) });
      await vi.advanceTimersByTimeAsync(200);
      const report = await done;

      // Assess
      expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
      expect(report).toStrictEqual({ deleted: [], failed: [cutOff(target("a.png"))], keptReplaced: [] });
    });
  });
});

describe("requests refused for their content (poison isolation)", () => {
  /** Answers a DeleteObjects that holds any of `poison` with `refusal()`, and any other with success. */
  function refuseRequestsHolding(poison: readonly string[], refusal: () => unknown = invalidArgument) {
    const poisoned = new Set(poison);
    s3.on(DeleteObjectsCommand).callsFake((input: DeleteObjectsCommandInput) => {
      if (keysOf(input).some((key) => poisoned.has(key as string))) throw refusal();
      return {};
    });
  }
  const invalidArgument = () => s3Error("InvalidArgument", 400, "Invalid argument");
  const refusedAs = (each: ObjectTarget) => ({
    target: each,
    code: "InvalidArgument",
    message: "Invalid argument",
    retryable: false,
  });

  it.each([
    ["400 InvalidArgument", () => s3Error("InvalidArgument", 400), "InvalidArgument"],
    ["400 InvalidRequest", () => s3Error("InvalidRequest", 400), "InvalidRequest"],
    ["400 MalformedXML", () => s3Error("MalformedXML", 400), "MalformedXML"],
    ["400 with a code S3 adds next year", () => s3Error("SomeCodeS3AddsNextYear", 400), "SomeCodeS3AddsNextYear"],
    ["422 with an unknown code", () => s3Error("Unprocessable", 422), "Unprocessable"],
    ["a program error (TypeError)", () => new TypeError("Cannot read properties of undefined"), "TypeError"],
  ])(
    "isolates the one key among 1,000 whose request is refused with %s: only its target fails, in at most 2·⌈log2 1000⌉ + 1 requests",
    async (_, refusal, code) => {
      // Prepare
      const targets = manyTargets(1000);
      const poison = targets[617] as ObjectTarget;
      refuseRequestsHolding([poison.key], refusal);
      const { deleteObjects } = setup();

      // Act
      const report = await deleteObjects(targets);

      // Assess
      const requests = batchInputs();
      expect(requests.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(1000)) + 1);
      expect(keysOf(requests.at(-1))).toStrictEqual([poison.key]);
      expect(report.deleted).toStrictEqual(targets.filter((each) => each !== poison));
      expect(report.failed).toStrictEqual([
        { target: poison, code, message: (refusal() as Error).message, retryable: false },
      ]);
    },
  );

  it("halves a refused request at each step, sending each half once", async () => {
    // Prepare
    const targets = manyTargets(1000);
    refuseRequestsHolding([targets[0]?.key as string]);
    const { deleteObjects } = setup();

    // Act
    await deleteObjects(targets);

    // Assess
    const sizes = batchInputs()
      .map((input) => keysOf(input).length)
      .sort((a, b) => b - a);
    expect(sizes).toStrictEqual([1000, 500, 500, 250, 250, 125, 125, 63, 62, 32, 31, 16, 16, 8, 8, 4, 4, 2, 2, 1, 1]);
  });

  it("isolates several refused keys, each alone", async () => {
    // Prepare
    const targets = manyTargets(1000);
    const poison = [targets[5], targets[500], targets[999]] as ObjectTarget[];
    refuseRequestsHolding(poison.map((each) => each.key));
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects(targets);

    // Assess
    expect(batchInputs().length).toBeLessThanOrEqual(1 + 3 * 2 * Math.ceil(Math.log2(1000)));
    expect(report.deleted).toStrictEqual(targets.filter((each) => !poison.includes(each)));
    expect(report.failed).toStrictEqual(poison.map(refusedAs));
  });

  it("isolates a key whose retry is refused, after a per-key SlowDown", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand)
      .resolvesOnce({ Errors: [slowDown("a.png"), slowDown("poison.png")] })
      .callsFake((input: DeleteObjectsCommandInput) => {
        if (keysOf(input).includes("poison.png")) throw invalidArgument();
        return {};
      });
    const { deleteObjects } = setup();
    const targets = [target("a.png"), target("b.png"), target("poison.png")];

    // Act
    const report = await deleteObjects(targets);

    // Assess
    expect(batchInputs().map(keysOf)).toStrictEqual([
      ["a.png", "b.png", "poison.png"],
      ["a.png", "poison.png"],
      ["a.png"],
      ["poison.png"],
    ]);
    expect(report).toStrictEqual({
      deleted: [target("a.png"), target("b.png")],
      failed: [refusedAs(target("poison.png"))],
      keptReplaced: [],
    });
  });

  it(`spends at most MAX_SPLIT_REQUESTS (${MAX_SPLIT_REQUESTS}) extra requests a call, and fails what it could not isolate with the refusal`, async () => {
    // Prepare: every key is refused, in two batches
    const targets = manyTargets(2000);
    refuseRequestsHolding(targets.map((each) => each.key));
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects(targets);
    const requestsOfFirstCall = batchInputs().length;
    await deleteObjects(targets.slice(0, 2));

    // Assess
    expect(MAX_SPLIT_REQUESTS).toBe(100);
    expect(requestsOfFirstCall).toBe(2 + MAX_SPLIT_REQUESTS);
    // A new call has its own budget: its two keys are split apart.
    expect(batchInputs().slice(requestsOfFirstCall).map(keysOf)).toStrictEqual([
      [targets[0]?.key, targets[1]?.key],
      [targets[0]?.key],
      [targets[1]?.key],
    ]);
    expect(report).toStrictEqual({ deleted: [], failed: targets.map(refusedAs), keptReplaced: [] });
  });

  it("deletes the keys it isolated before the bound, and fails the others with the refusal", async () => {
    // Prepare: every 83rd key is refused: isolating 13 keys takes more than the bound
    const targets = manyTargets(1000);
    const poison = targets.filter((_, index) => index % 83 === 0);
    refuseRequestsHolding(poison.map((each) => each.key));
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects(targets);

    // Assess
    expect(batchInputs()).toHaveLength(1 + MAX_SPLIT_REQUESTS);
    expect(report.deleted.length).toBeGreaterThan(0);
    expect(report.deleted.some((each) => poison.includes(each))).toBe(false);
    expect(report.failed.length).toBeGreaterThan(poison.length);
    expect(report.failed).toStrictEqual(targets.filter((each) => !report.deleted.includes(each)).map(refusedAs));
  });

  it.each([
    ["403 AccessDenied", s3Error("AccessDenied", 403), false],
    ["404 NoSuchBucket", s3Error("NoSuchBucket", 404), false],
    ["401 with an unknown code", s3Error("Unauthorized", 401), false],
    ["400 ExpiredToken", s3Error("ExpiredToken", 400), false],
    ["400 InvalidBucketName", s3Error("InvalidBucketName", 400), false],
    ["400 AuthorizationHeaderMalformed", s3Error("AuthorizationHeaderMalformed", 400), false],
    ["408 RequestTimeout", s3Error("RequestTimeout", 408), true],
    ["409 OperationAborted", s3Error("OperationAborted", 409), true],
    ["409 with an unknown code", s3Error("Conflict", 409), false],
    ["429 SlowDown", s3Error("SlowDown", 429), true],
    ["400 SlowDown", s3Error("SlowDown", 400), true],
    ["503 ServiceUnavailable", s3Error("ServiceUnavailable", 503), true],
    ["a network error", Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }), true],
  ])(
    "does not split a request refused with %s, which every key of it would meet: each key fails with it",
    async (_, error, retryable) => {
      // Prepare
      s3.on(DeleteObjectsCommand).rejects(error);
      const { deleteObjects } = setup();
      const targets = manyTargets(10);

      // Act
      const report = await deleteObjects(targets);

      // Assess
      expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
      expect(report.deleted).toStrictEqual([]);
      expect(report.failed).toStrictEqual(
        targets.map((each) => ({ target: each, code: error.name, message: error.message, retryable })),
      );
    },
  );

  it("stops splitting when the signal fires: the halves not sent fail as Aborted", async () => {
    // Prepare: each request takes 100 ms; the signal fires while the first halves are in flight
    const { deleteObjects } = timedSetup({ concurrency: 1 });
    s3.on(DeleteObjectsCommand).callsFake((input: DeleteObjectsCommandInput) =>
      keysOf(input).includes("products/p-0.png") ? answerAfter(100, invalidArgument(), true) : answerAfter(100, {}),
    );
    const targets = manyTargets(4);

    // Act
    const done = deleteObjects(targets, { signal: abortAfter(150) });
    await vi.advanceTimersByTimeAsync(150);
    const report = await done;

    // Assess
    expect(batchInputs().map(keysOf)).toStrictEqual([
      ["products/p-0.png", "products/p-1.png", "products/p-2.png", "products/p-3.png"],
      ["products/p-0.png", "products/p-1.png"],
    ]);
    expect(report).toStrictEqual({ deleted: [], failed: targets.map(cutOff), keptReplaced: [] });
  });
});

describe("stores that refuse a DeleteObjects checksum", () => {
  const refusal = (name: string, status: number, extra: object = {}) =>
    Object.assign(s3Error(name, status, `${name} from the store`), extra);

  it.each([
    ["MissingContentMD5 (400)", refusal("MissingContentMD5", 400)],
    ["NotImplemented (501)", refusal("NotImplemented", 501)],
    ["a Code of MissingContentMD5 under another name", refusal("Unknown", 400, { Code: "MissingContentMD5" })],
    ["any HTTP 501", refusal("Unknown", 501)],
  ])("deletes the keys of a request refused with %s one by one, and says so in the report", async (_, error) => {
    // Prepare
    s3.on(DeleteObjectsCommand).rejects(error);
    s3.on(DeleteObjectCommand).resolves({});
    const { deleteObjects } = setup();
    const targets = [target("a.png"), target("b.png", "v1")];

    // Act
    const report = await deleteObjects(targets);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
    expect(s3.commandCalls(DeleteObjectCommand).map((call) => call.args[0].input)).toStrictEqual([
      { Bucket: BUCKET, Key: "a.png" },
      { Bucket: BUCKET, Key: "b.png", VersionId: "v1" },
    ]);
    expect(report).toStrictEqual({ deleted: targets, failed: [], keptReplaced: [], fallback: "single-deletes" });
  });

  it("sends every later batch of the call straight as single deletes", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).rejects(refusal("MissingContentMD5", 400));
    s3.on(DeleteObjectCommand).resolves({});
    const { deleteObjects } = setup({ concurrency: 1 });

    // Act
    const report = await deleteObjects(manyTargets(2001));

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectCommand, 2001);
    expect(report.deleted).toHaveLength(2001);
    expect(report.fallback).toBe("single-deletes");
  });

  it("sends the keys of a refused retry as single deletes", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand)
      .resolvesOnce({ Errors: [slowDown("b.png")] })
      .rejects(refusal("NotImplemented", 501));
    s3.on(DeleteObjectCommand).resolves({});
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png"), target("b.png")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 2);
    expect(s3).toHaveReceivedCommandExactlyOnceWith(DeleteObjectCommand, { Bucket: BUCKET, Key: "b.png" });
    expect(report).toStrictEqual({
      deleted: [target("a.png"), target("b.png")],
      failed: [],
      keptReplaced: [],
      fallback: "single-deletes",
    });
  });

  it("counts the single deletes against `concurrency`", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).rejects(refusal("MissingContentMD5", 400));
    const held = heldCalls<object>({});
    s3.on(DeleteObjectCommand).callsFake(held.call);
    const { deleteObjects } = setup({ concurrency: 3 });

    // Act
    const done = deleteObjects(manyTargets(7));
    await settle();
    const startedAtFirst = held.state.started;
    for (let answered = 0; answered < 7; answered++) await held.answerNext();
    const report = await done;

    // Assess
    expect(startedAtFirst).toBe(3);
    expect(held.state.maxInFlight).toBe(3);
    expect(report.deleted).toHaveLength(7);
  });

  it("falls back to nothing when the signal fired during the refused request: its keys fail as Aborted", async () => {
    // Prepare
    const controller = new AbortController();
    s3.on(DeleteObjectsCommand).callsFake(() => {
      controller.abort(new Error("the invocation's time budget ran out"));
      throw refusal("MissingContentMD5", 400);
    });
    s3.on(DeleteObjectCommand).resolves({});
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png"), target("b.png")], { signal: controller.signal });

    // Assess
    expect(s3).not.toHaveReceivedCommand(DeleteObjectCommand);
    expect(report).toStrictEqual({
      deleted: [],
      failed: [cutOff(target("a.png")), cutOff(target("b.png"))],
      keptReplaced: [],
    });
  });

  it("reports the error of a single delete that fails after the fallback", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).rejects(refusal("MissingContentMD5", 400));
    s3.on(DeleteObjectCommand, { Key: "b.png" }).rejects(refusal("AccessDenied", 403));
    s3.on(DeleteObjectCommand, { Key: "a.png" }).resolves({});
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png"), target("b.png")]);

    // Assess
    expect(report).toStrictEqual({
      deleted: [target("a.png")],
      failed: [
        { target: target("b.png"), code: "AccessDenied", message: "AccessDenied from the store", retryable: false },
      ],
      keptReplaced: [],
      fallback: "single-deletes",
    });
  });

  it('purges the versions of a key one by one under versions: "all"', async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand).resolves({
      Versions: [{ Key: "a.png", VersionId: "v1" }],
      DeleteMarkers: [{ Key: "a.png", VersionId: "d1" }],
    });
    s3.on(DeleteObjectsCommand).rejects(refusal("MissingContentMD5", 400));
    s3.on(DeleteObjectCommand).resolves({});
    const { deleteObjects } = setup({ versions: "all" });

    // Act
    const report = await deleteObjects([target("a.png")]);

    // Assess
    expect(s3.commandCalls(DeleteObjectCommand).map((call) => call.args[0].input)).toStrictEqual([
      { Bucket: BUCKET, Key: "a.png", VersionId: "v1" },
      { Bucket: BUCKET, Key: "a.png", VersionId: "d1" },
    ]);
    expect(report).toStrictEqual({
      deleted: [target("a.png")],
      failed: [],
      keptReplaced: [],
      fallback: "single-deletes",
    });
  });

  it('sends the later pages of a purge straight as single deletes under versions: "all"', async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand)
      .resolvesOnce({
        IsTruncated: true,
        NextKeyMarker: "a.png",
        NextVersionIdMarker: "v2",
        Versions: [
          { Key: "a.png", VersionId: "v3" },
          { Key: "a.png", VersionId: "v2" },
        ],
      })
      .resolves({ Versions: [{ Key: "a.png", VersionId: "v1" }] });
    s3.on(DeleteObjectsCommand).rejects(refusal("MissingContentMD5", 400));
    s3.on(DeleteObjectCommand).resolves({});
    const { deleteObjects } = setup({ versions: "all" });

    // Act
    const report = await deleteObjects([target("a.png")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
    expect(s3.commandCalls(DeleteObjectCommand).map((call) => call.args[0].input.VersionId)).toStrictEqual([
      "v3",
      "v2",
      "v1",
    ]);
    expect(report).toStrictEqual({
      deleted: [target("a.png")],
      failed: [],
      keptReplaced: [],
      fallback: "single-deletes",
    });
  });

  it.each([
    ["MissingContentMD5", 400, false],
    ["NotImplemented", 501, true],
  ])(
    "fails the keys with %s when fallbackToSingleDeletes is false, without splitting the request",
    async (name, status, retryable) => {
      // Prepare
      s3.on(DeleteObjectsCommand).rejects(refusal(name, status));
      const { deleteObjects } = setup({ fallbackToSingleDeletes: false });
      const targets = [target("a.png"), target("b.png")];

      // Act
      const report = await deleteObjects(targets);

      // Assess
      expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
      expect(s3).not.toHaveReceivedCommand(DeleteObjectCommand);
      expect(report).toStrictEqual({
        deleted: [],
        failed: targets.map((each) => ({ target: each, code: name, message: `${name} from the store`, retryable })),
        keptReplaced: [],
      });
    },
  );
});

describe("conditional deletes (targets with an etag)", () => {
  const E1 = '"6805f2cfc46c0f04559748bb039d69a1"';
  const E2 = '"9b2cf535f27731c974343645a3985328"';
  const conditional = (key: string, etag: string, versionId?: string, bucket = BUCKET): ObjectTarget => ({
    ...target(key, versionId, bucket),
    etag,
  });
  const preconditionFailed = (key: string, versionId?: string) => ({
    Key: key,
    ...(versionId === undefined ? {} : { VersionId: versionId }),
    Code: "PreconditionFailed",
    Message: "At least one of the pre-conditions you specified did not hold",
  });
  const singleInputs = () => s3.commandCalls(DeleteObjectCommand).map((call) => call.args[0].input);

  describe("in DeleteObjects", () => {
    it("sends a target's etag as the ETag of its entry, and no ETag for a target without one", async () => {
      // Prepare
      s3.on(DeleteObjectsCommand).resolves({});
      const { deleteObjects } = setup();
      const targets = [conditional("a.png", E1), target("b.png"), conditional("c.png", E2, "v1")];

      // Act
      const report = await deleteObjects(targets);

      // Assess
      expect(batchInputs()).toStrictEqual([
        {
          Bucket: BUCKET,
          Delete: {
            Objects: [{ Key: "a.png", ETag: E1 }, { Key: "b.png" }, { Key: "c.png", VersionId: "v1", ETag: E2 }],
            Quiet: true,
          },
        },
      ]);
      expect(report).toStrictEqual({ deleted: targets, failed: [], keptReplaced: [] });
    });

    it("keeps a target whose entry is PreconditionFailed, as keptReplaced, and never retries it", async () => {
      // Prepare
      s3.on(DeleteObjectsCommand)
        .resolvesOnce({ Errors: [preconditionFailed("a.png"), slowDown("b.png")] })
        .resolves({});
      const { deleteObjects } = setup();
      const replaced = conditional("a.png", E1);
      const busy = conditional("b.png", E2);

      // Act
      const report = await deleteObjects([replaced, busy]);

      // Assess
      expect(batchInputs().map((input) => input.Delete?.Objects)).toStrictEqual([
        [
          { Key: "a.png", ETag: E1 },
          { Key: "b.png", ETag: E2 },
        ],
        [{ Key: "b.png", ETag: E2 }],
      ]);
      expect(report).toStrictEqual({ deleted: [busy], failed: [], keptReplaced: [replaced] });
    });

    it("keeps a target whose retry, sent with its ETag again, is PreconditionFailed", async () => {
      // Prepare
      s3.on(DeleteObjectsCommand)
        .resolvesOnce({ Errors: [slowDown("a.png")] })
        .resolves({ Errors: [preconditionFailed("a.png")] });
      const { deleteObjects } = setup();
      const replaced = conditional("a.png", E1);

      // Act
      const report = await deleteObjects([replaced]);

      // Assess
      expect(batchInputs().map((input) => input.Delete?.Objects)).toStrictEqual([
        [{ Key: "a.png", ETag: E1 }],
        [{ Key: "a.png", ETag: E1 }],
      ]);
      expect(report).toStrictEqual({ deleted: [], failed: [], keptReplaced: [replaced] });
    });

    it("fails a target without etag whose entry is PreconditionFailed permanently, as before, next to a kept one", async () => {
      // Prepare
      s3.on(DeleteObjectsCommand).resolves({ Errors: [preconditionFailed("a.png"), preconditionFailed("b.png")] });
      const { deleteObjects } = setup();
      const replaced = conditional("a.png", E1);

      // Act
      const report = await deleteObjects([replaced, target("b.png")]);

      // Assess
      expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
      expect(report).toStrictEqual({
        deleted: [],
        failed: [
          {
            target: target("b.png"),
            code: "PreconditionFailed",
            message: "At least one of the pre-conditions you specified did not hold",
            retryable: false,
          },
        ],
        keptReplaced: [replaced],
      });
    });

    it("counts a conditional target whose entry is NoSuchKey as deleted", async () => {
      // Prepare
      s3.on(DeleteObjectsCommand).resolves({
        Errors: [{ Key: "a.png", Code: "NoSuchKey", Message: "The specified key does not exist." }],
      });
      const { deleteObjects } = setup();
      const gone = conditional("a.png", E1);

      // Act
      const report = await deleteObjects([gone]);

      // Assess
      expect(report).toStrictEqual({ deleted: [gone], failed: [], keptReplaced: [] });
    });

    it("keeps a version sent with an etag when its own entry is PreconditionFailed", async () => {
      // Prepare
      s3.on(DeleteObjectsCommand).resolves({ Errors: [preconditionFailed("a.png", "v1")] });
      const { deleteObjects } = setup();
      const version = conditional("a.png", E1, "v1");

      // Act
      const report = await deleteObjects([version, conditional("a.png", E1, "v2")]);

      // Assess
      expect(report).toStrictEqual({
        deleted: [conditional("a.png", E1, "v2")],
        failed: [],
        keptReplaced: [version],
      });
    });

    it.each([
      ["names no key", { Code: "PreconditionFailed", Message: "no key" }],
      ["names a key not sent", { Key: "other.png", Code: "PreconditionFailed", Message: "no key" }],
      ["names the key but no VersionId for a version", { Key: "a.png", Code: "PreconditionFailed", Message: "no key" }],
    ])("fails, and does not keep, a conditional target when the PreconditionFailed entry %s", async (_, entry) => {
      // Prepare
      s3.on(DeleteObjectsCommand).resolves({ Errors: [entry] });
      const { deleteObjects } = setup();
      const version = conditional("a.png", E1, "v1");

      // Act
      const report = await deleteObjects([version]);

      // Assess
      expect(report).toStrictEqual({
        deleted: [],
        failed: [{ target: version, code: "PreconditionFailed", message: "no key", retryable: false }],
        keptReplaced: [],
      });
    });

    it("fails, and does not keep, the conditional targets of a DeleteObjects request that throws PreconditionFailed", async () => {
      // Prepare
      s3.on(DeleteObjectsCommand).rejects(s3Error("PreconditionFailed", 412));
      const { deleteObjects } = setup();
      const first = conditional("a.png", E1);

      // Act
      const report = await deleteObjects([first]);

      // Assess
      expect(report).toStrictEqual({
        deleted: [],
        failed: [
          { target: first, code: "PreconditionFailed", message: "PreconditionFailed from S3", retryable: false },
        ],
        keptReplaced: [],
      });
    });

    it("retries a conditional target whose entry is ConditionalRequestConflict (a racing write)", async () => {
      // Prepare
      s3.on(DeleteObjectsCommand)
        .resolvesOnce({ Errors: [{ Key: "a.png", Code: "ConditionalRequestConflict", Message: "conflict" }] })
        .resolves({});
      const { deleteObjects } = setup();
      const contended = conditional("a.png", E1);

      // Act
      const report = await deleteObjects([contended]);

      // Assess
      expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 2);
      expect(report).toStrictEqual({ deleted: [contended], failed: [], keptReplaced: [] });
    });

    it("fails a conditional target the signal cut off as Aborted, not kept", async () => {
      // Prepare
      const { deleteObjects } = setup();
      const late = conditional("a.png", E1);
      const controller = new AbortController();
      controller.abort(new Error("the invocation's time budget ran out"));

      // Act
      const report = await deleteObjects([late], { signal: controller.signal });

      // Assess
      expect(s3).not.toHaveReceivedAnyCommand();
      expect(report).toStrictEqual({ deleted: [], failed: [cutOff(late)], keptReplaced: [] });
    });
  });

  describe("identity", () => {
    it("sends one key and etag listed twice once", async () => {
      // Prepare
      s3.on(DeleteObjectsCommand).resolves({});
      const { deleteObjects } = setup();
      const image = conditional("a.png", E1);

      // Act
      const report = await deleteObjects([image, { ...image }]);

      // Assess
      expect(batchInputs().map((input) => input.Delete?.Objects)).toStrictEqual([[{ Key: "a.png", ETag: E1 }]]);
      expect(s3).not.toHaveReceivedCommand(DeleteObjectCommand);
      expect(report).toStrictEqual({ deleted: [image], failed: [], keptReplaced: [] });
    });

    it("sends one key with two etags as two deletes, the second as a single DeleteObject: the stale one is kept, the current one deleted", async () => {
      // Prepare
      s3.on(DeleteObjectsCommand).resolves({ Errors: [preconditionFailed("a.png")] });
      s3.on(DeleteObjectCommand).resolves({});
      const { deleteObjects } = setup();
      const stale = conditional("a.png", E1);
      const current = conditional("a.png", E2);

      // Act
      const report = await deleteObjects([stale, current]);

      // Assess
      expect(batchInputs().map((input) => input.Delete?.Objects)).toStrictEqual([[{ Key: "a.png", ETag: E1 }]]);
      expect(singleInputs()).toStrictEqual([{ Bucket: BUCKET, Key: "a.png", IfMatch: E2 }]);
      expect(report).toStrictEqual({ deleted: [current], failed: [], keptReplaced: [stale] });
    });

    it("counts the second of two etags of one key as deleted when the first delete took the object (NoSuchKey)", async () => {
      // Prepare
      s3.on(DeleteObjectsCommand).resolves({});
      s3.on(DeleteObjectCommand).rejects(s3Error("NoSuchKey", 404));
      const { deleteObjects } = setup();
      const current = conditional("a.png", E1);
      const duplicate = conditional("a.png", E2);

      // Act
      const report = await deleteObjects([current, duplicate]);

      // Assess
      expect(report).toStrictEqual({ deleted: [current, duplicate], failed: [], keptReplaced: [] });
    });

    it("sends a key without etag in the batch and the same key with an etag alone, each on its own terms", async () => {
      // Prepare
      s3.on(DeleteObjectsCommand).resolves({});
      s3.on(DeleteObjectCommand).rejects(s3Error("NoSuchKey", 404));
      const { deleteObjects } = setup();
      const unconditional = target("a.png");
      const guarded = conditional("a.png", E1);

      // Act
      const report = await deleteObjects([guarded, unconditional, target("b.png")]);

      // Assess
      expect(batchInputs().map((input) => input.Delete?.Objects)).toStrictEqual([
        [{ Key: "a.png", ETag: E1 }, { Key: "b.png" }],
      ]);
      expect(singleInputs()).toStrictEqual([{ Bucket: BUCKET, Key: "a.png" }]);
      expect(report.deleted).toStrictEqual([guarded, unconditional, target("b.png")]);
    });

    it("batches one key with two etags in two buckets together: they are different objects", async () => {
      // Prepare
      s3.on(DeleteObjectsCommand).resolves({});
      const { deleteObjects } = setup();
      const image = conditional("a.png", E1);
      const copy = conditional("a.png", E2, undefined, OTHER_BUCKET);

      // Act
      const report = await deleteObjects([image, copy]);

      // Assess
      expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 2);
      expect(s3).not.toHaveReceivedCommand(DeleteObjectCommand);
      expect(report.deleted).toStrictEqual([image, copy]);
    });

    it("batches two versions of one key with etags together: each entry names its version", async () => {
      // Prepare
      s3.on(DeleteObjectsCommand).resolves({});
      const { deleteObjects } = setup();
      const targets = [conditional("a.png", E1, "v1"), conditional("a.png", E2, "v2")];

      // Act
      await deleteObjects(targets);

      // Assess
      expect(batchInputs().map((input) => input.Delete?.Objects)).toStrictEqual([
        [
          { Key: "a.png", VersionId: "v1", ETag: E1 },
          { Key: "a.png", VersionId: "v2", ETag: E2 },
        ],
      ]);
    });

    it("lists keptReplaced in the order the targets came, whichever request answered first", async () => {
      // Prepare
      s3.on(DeleteObjectsCommand).resolves({ Errors: [preconditionFailed("b.png"), preconditionFailed("d.png")] });
      s3.on(DeleteObjectCommand).rejects(s3Error("PreconditionFailed", 412));
      const { deleteObjects } = setup();
      const targets = [
        conditional("a\u0001.png", E1),
        conditional("b.png", E1),
        target("c.png"),
        conditional("d.png", E2),
        conditional("e\u0001.png", E2),
      ];

      // Act
      const report = await deleteObjects(targets);

      // Assess
      expect(report.keptReplaced).toStrictEqual([targets[0], targets[1], targets[3], targets[4]]);
      expect(report.deleted).toStrictEqual([target("c.png")]);
    });
  });

  describe("in a single DeleteObject", () => {
    it("sends the etag as IfMatch, with the VersionId when there is one", async () => {
      // Prepare
      s3.on(DeleteObjectCommand).resolves({});
      const { deleteObjects } = setup();
      const targets = [conditional("odd\u0001.png", E1), conditional("odd\u0001.png", E2, "v1")];

      // Act
      const report = await deleteObjects(targets);

      // Assess
      expect(singleInputs()).toStrictEqual([
        { Bucket: BUCKET, Key: "odd\u0001.png", IfMatch: E1 },
        { Bucket: BUCKET, Key: "odd\u0001.png", VersionId: "v1", IfMatch: E2 },
      ]);
      expect(report).toStrictEqual({ deleted: targets, failed: [], keptReplaced: [] });
    });

    it.each([
      ["412 PreconditionFailed", s3Error("PreconditionFailed", 412)],
      ["a 412 under another name", s3Error("UnknownError", 412)],
      [
        "a PreconditionFailed Code under another name",
        Object.assign(s3Error("Unknown", 400), { Code: "PreconditionFailed" }),
      ],
    ])("keeps a conditional target whose DeleteObject throws %s, without retrying it", async (_, error) => {
      // Prepare
      s3.on(DeleteObjectCommand).rejects(error);
      const { clock, deleteObjects } = setup();
      const replaced = conditional("line\nend.png", E1);

      // Act
      const report = await deleteObjects([replaced]);

      // Assess
      expect(s3).toHaveReceivedCommandTimes(DeleteObjectCommand, 1);
      expect(clock.delays).toStrictEqual([]);
      expect(report).toStrictEqual({ deleted: [], failed: [], keptReplaced: [replaced] });
    });

    it("counts a conditional target whose DeleteObject throws 404 NoSuchKey as deleted", async () => {
      // Prepare
      s3.on(DeleteObjectCommand).rejects(s3Error("NoSuchKey", 404));
      const { deleteObjects } = setup();
      const gone = conditional("line\nend.png", E1);

      // Act
      const report = await deleteObjects([gone]);

      // Assess
      expect(report).toStrictEqual({ deleted: [gone], failed: [], keptReplaced: [] });
    });

    it("fails a target without etag whose DeleteObject throws 412 PreconditionFailed, permanently, as before", async () => {
      // Prepare
      s3.on(DeleteObjectCommand).rejects(s3Error("PreconditionFailed", 412));
      const { deleteObjects } = setup();

      // Act
      const report = await deleteObjects([target("line\nend.png")]);

      // Assess
      expect(report).toStrictEqual({
        deleted: [],
        failed: [
          {
            target: target("line\nend.png"),
            code: "PreconditionFailed",
            message: "PreconditionFailed from S3",
            retryable: false,
          },
        ],
        keptReplaced: [],
      });
    });

    it("fails a conditional target whose DeleteObject throws anything else, as any target would", async () => {
      // Prepare
      s3.on(DeleteObjectCommand, { Key: "denied\u0001" }).rejects(s3Error("AccessDenied", 403, "Access Denied"));
      s3.on(DeleteObjectCommand, { Key: "busy\u0001" }).rejects(s3Error("ServiceUnavailable", 503, "busy"));
      const { deleteObjects } = setup();
      const denied = conditional("denied\u0001", E1);
      const busy = conditional("busy\u0001", E2);

      // Act
      const report = await deleteObjects([denied, busy]);

      // Assess
      expect(report).toStrictEqual({
        deleted: [],
        failed: [
          { target: denied, code: "AccessDenied", message: "Access Denied", retryable: false },
          { target: busy, code: "ServiceUnavailable", message: "busy", retryable: true },
        ],
        keptReplaced: [],
      });
    });

    it("sends IfMatch on the fallback to single deletes, and keeps the targets that were replaced", async () => {
      // Prepare
      s3.on(DeleteObjectsCommand).rejects(s3Error("MissingContentMD5", 400));
      s3.on(DeleteObjectCommand, { Key: "a.png" }).rejects(s3Error("PreconditionFailed", 412));
      s3.on(DeleteObjectCommand, { Key: "b.png" }).resolves({});
      s3.on(DeleteObjectCommand, { Key: "c.png" }).rejects(s3Error("NoSuchKey", 404));
      const { deleteObjects } = setup();
      const replaced = conditional("a.png", E1);
      const unchanged = conditional("b.png", E2);
      const gone = conditional("c.png", E1, "v1");

      // Act
      const report = await deleteObjects([replaced, unchanged, gone]);

      // Assess
      expect(singleInputs()).toStrictEqual([
        { Bucket: BUCKET, Key: "a.png", IfMatch: E1 },
        { Bucket: BUCKET, Key: "b.png", IfMatch: E2 },
        { Bucket: BUCKET, Key: "c.png", VersionId: "v1", IfMatch: E1 },
      ]);
      expect(report).toStrictEqual({
        deleted: [unchanged, gone],
        failed: [],
        keptReplaced: [replaced],
        fallback: "single-deletes",
      });
    });
  });

  describe('with versions: "all"', () => {
    it("fails a target with an etag and no versionId permanently as ConditionalPurgeUnsupported, listing and deleting nothing of it", async () => {
      // Prepare
      s3.on(ListObjectVersionsCommand).resolves({ Versions: [{ Key: "b.png", VersionId: "v1" }] });
      s3.on(DeleteObjectsCommand).resolves({});
      const { deleteObjects } = setup({ versions: "all" });
      const guarded = conditional("a.png", E1);

      // Act
      const report = await deleteObjects([guarded, target("b.png")]);

      // Assess
      expect(s3.commandCalls(ListObjectVersionsCommand).map((call) => call.args[0].input.Prefix)).toStrictEqual([
        "b.png",
      ]);
      expect(batchInputs().map((input) => input.Delete?.Objects)).toStrictEqual([[{ Key: "b.png", VersionId: "v1" }]]);
      expect(report).toStrictEqual({
        deleted: [target("b.png")],
        failed: [
          {
            target: guarded,
            code: "ConditionalPurgeUnsupported",
            message:
              'versions: "all" cannot purge a target that carries an etag: S3 checks an ETag against the current version only, and the versions are not deleted unconditionally instead',
            retryable: false,
          },
        ],
        keptReplaced: [],
      });
    });

    it("deletes a target with an etag and a versionId as given, and keeps it when it is PreconditionFailed", async () => {
      // Prepare
      s3.on(DeleteObjectsCommand).resolves({ Errors: [preconditionFailed("a.png", "v1")] });
      const { deleteObjects } = setup({ versions: "all" });
      const version = conditional("a.png", E1, "v1");

      // Act
      const report = await deleteObjects([version]);

      // Assess
      expect(s3).not.toHaveReceivedCommand(ListObjectVersionsCommand);
      expect(batchInputs().map((input) => input.Delete?.Objects)).toStrictEqual([
        [{ Key: "a.png", VersionId: "v1", ETag: E1 }],
      ]);
      expect(report).toStrictEqual({ deleted: [], failed: [], keptReplaced: [version] });
    });

    it("deletes a version once unconditionally for the listed key and once conditionally for the target that names it", async () => {
      // Prepare
      s3.on(ListObjectVersionsCommand).resolves({ Versions: [{ Key: "a.png", VersionId: "v1" }] });
      s3.on(DeleteObjectsCommand).resolves({});
      const { deleteObjects } = setup({ versions: "all" });
      const version = conditional("a.png", E1, "v1");

      // Act
      const report = await deleteObjects([target("a.png"), version]);

      // Assess
      expect(batchInputs().map((input) => input.Delete?.Objects)).toStrictEqual([
        [{ Key: "a.png", VersionId: "v1", ETag: E1 }],
        [{ Key: "a.png", VersionId: "v1" }],
      ]);
      expect(s3).not.toHaveReceivedCommand(DeleteObjectCommand);
      expect(report).toStrictEqual({ deleted: [target("a.png"), version], failed: [], keptReplaced: [] });
    });
  });
});

describe("contentMd5", () => {
  const middlewareOf = (index: number) =>
    s3.commandCalls(DeleteObjectsCommand)[index]?.args[0].middlewareStack.identify() ?? [];

  it("adds the Content-MD5 middleware to each DeleteObjects command, at the build step", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup({ contentMd5: true });

    // Act
    await deleteObjects(manyTargets(1001));

    // Assess
    expect(middlewareOf(0)).toContain(`${CONTENT_MD5_MIDDLEWARE} - build`);
    expect(middlewareOf(1)).toContain(`${CONTENT_MD5_MIDDLEWARE} - build`);
  });

  it("adds only the pace to the commands by default, and nothing with adaptiveRate: false", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({});

    // Act
    await setup().deleteObjects([target("a.png")]);
    await setup({ adaptiveRate: false }).deleteObjects([target("b.png")]);

    // Assess
    expect(middlewareOf(0)).toStrictEqual([`${SEND_RATE_MIDDLEWARE} - finalizeRequest`]);
    expect(middlewareOf(1)).toStrictEqual([]);
  });
});

describe("default timing", () => {
  it("waits with setTimeout and Math.random when no sleep or random is given", async () => {
    // Prepare
    vi.useFakeTimers();
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    s3.on(DeleteObjectsCommand)
      .resolvesOnce({ Errors: [slowDown("a.png")] })
      .resolves({});
    const deleteObjects = createBatchDeleter({ s3Client: new S3Client({ region: "us-east-1" }) });

    // Act
    const done = deleteObjects([target("a.png")]);
    await vi.advanceTimersByTimeAsync(49);
    const callsBeforeBackoffEnds = s3.commandCalls(DeleteObjectsCommand).length;
    await vi.advanceTimersByTimeAsync(1);
    const report = await done;

    // Assess
    expect(callsBeforeBackoffEnds).toBe(1);
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 2);
    expect(report).toStrictEqual({ deleted: [target("a.png")], failed: [], keptReplaced: [] });
  });
});

describe("a call opened by the handler (openDeletion)", () => {
  const config = () => deleterConfig({ s3Client: new S3Client({ region: "us-east-1" }), sleep: async () => {} });

  it("rejects, rather than report a failure, when its limiter throws though the signal has not fired", async () => {
    // Prepare
    const bug = new Error("a bug in the limiter");
    const deletion = { ...openDeletion(config(), new AbortController().signal), limit: () => Promise.reject(bug) };

    // Act
    const done = deleteTargets(deletion, [target("a.png")]);

    // Assess
    await expect(done).rejects.toBe(bug);
    expect(s3).not.toHaveReceivedAnyCommand();
  });
});

describe("options", () => {
  const s3Client = new S3Client({ region: "us-east-1" });

  it("throws one ConfigError naming every bad option", () => {
    // Prepare
    const options = { concurrency: 0, maxAttempts: 1.5, retries: 3 } as unknown as BatchDeleterOptions;

    // Act
    const act = () => createBatchDeleter(options);

    // Assess
    expect(act).toThrow(ConfigError);
    let issues: unknown;
    try {
      act();
    } catch (error) {
      expect(isConfigError(error)).toBe(true);
      issues = (error as ConfigError).issues;
    }
    expect(issues).toStrictEqual([
      { path: "s3Client", message: "must be an S3Client (an object with a send method)" },
      { path: "concurrency", message: "must be at least 1" },
      { path: "maxAttempts", message: "must be an integer" },
      { path: "retries", message: "is not an option" },
    ]);
  });

  it("names each unknown option", () => {
    // Prepare
    const options = { s3Client, retries: 3, timeout: 1000 } as unknown as BatchDeleterOptions;

    // Act
    const act = () => createBatchDeleter(options);

    // Assess
    expect(act).toThrow(
      expect.objectContaining({
        name: "ConfigError",
        issues: [
          { path: "retries", message: "is not an option" },
          { path: "timeout", message: "is not an option" },
        ],
      }),
    );
  });

  it("names each option in backticks in the message", () => {
    // Act
    const act = () => createBatchDeleter({ s3Client, concurrency: 0, maxAttempts: 1.5 });

    // Assess
    expect(act).toThrow(
      "Invalid dynamodb-s3-cleanup options:\n  - `concurrency`: must be at least 1\n  - `maxAttempts`: must be an integer",
    );
  });

  it.each([
    ["concurrency", 0, "must be at least 1"],
    ["concurrency", 65, "must be at most 64"],
    ["concurrency", 2.5, "must be an integer"],
    ["maxAttempts", 0, "must be at least 1"],
    ["maxAttempts", 11, "must be at most 10"],
    ["baseDelayMs", -1, "must not be negative"],
    ["maxDelayMs", "2000", "must be an integer"],
    ["sleep", null, "must be a function"],
    ["random", 0.5, "must be a function"],
    ["s3Client", null, "must be an S3Client (an object with a send method)"],
    ["versions", "latest", 'must be "current" or "all"'],
    ["versions", true, 'must be "current" or "all"'],
    ["contentMd5", "yes", "must be true or false"],
    ["fallbackToSingleDeletes", 0, "must be true or false"],
    ["maxListedObjects", 0, "must be at least 1"],
    ["maxListedObjects", 1_000_001, "must be at most 1000000"],
    ["now", () => 0, "is not an option"],
  ])("rejects %s: %j", (option, value, message) => {
    // Prepare
    const options = { s3Client, [option]: value } as unknown as BatchDeleterOptions;

    // Act
    const act = () => createBatchDeleter(options);

    // Assess
    expect(act).toThrow(expect.objectContaining({ name: "ConfigError", issues: [{ path: option, message }] }));
  });

  it("names the missing send of an s3Client", () => {
    // Act
    const act = () => createBatchDeleter({ s3Client: {} } as unknown as BatchDeleterOptions);

    // Assess
    expect(act).toThrow(expect.objectContaining({ issues: [{ path: "s3Client.send", message: "must be a method" }] }));
  });

  it("rejects options that are not an object", () => {
    // Act
    const act = () => createBatchDeleter(undefined as unknown as BatchDeleterOptions);

    // Assess
    expect(act).toThrow(
      expect.objectContaining({ name: "ConfigError", issues: [{ path: "(options)", message: "must be an object" }] }),
    );
  });
});
