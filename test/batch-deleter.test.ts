import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  type DeleteObjectsCommandInput,
  type DeleteObjectsCommandOutput,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandInput,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { allCustomMatcher, type BaseMatcher } from "aws-sdk-client-mock-vitest";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { buildBatchDeleter, canBatch, isXmlSafe } from "../src/batch-deleter.js";
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
import { CLOCK_START, createFakeClock, deferred, heldCalls, randomSequence, settle } from "./fake-clock.js";

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

/** A deleter on a fake clock; `random` returns 0.5 unless given. */
function setup(options: Partial<BatchDeleterOptions> = {}) {
  const clock = createFakeClock();
  const deleteObjects = createBatchDeleter({
    s3Client: new S3Client({ region: "us-east-1" }),
    now: clock.now,
    sleep: clock.sleep,
    random: () => 0.5,
    ...options,
  });
  return { clock, deleteObjects };
}

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
  describe.each(["InternalError", "SlowDown", "ServiceUnavailable", "RequestTimeout", "OperationAborted"])(
    "retryable code %s",
    (code) => {
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
    },
  );

  it("also retries Throttling and ThrottlingException", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand)
      .resolvesOnce({
        Errors: [
          { Key: "a.png", Code: "Throttling", Message: "Rate exceeded" },
          { Key: "b.png", Code: "ThrottlingException", Message: "Rate exceeded" },
        ],
      })
      .resolves({});
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png"), target("b.png")]);

    // Assess
    expect(keysOf(batchInputs()[1])).toStrictEqual(["a.png", "b.png"]);
    expect(report.failed).toStrictEqual([]);
  });

  it("makes 3 attempts by default", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({ Errors: [slowDown("a.png")] });
    const { clock, deleteObjects } = setup();

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
    const { clock, deleteObjects } = setup({ maxAttempts: 7, random: () => 0.5 });

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
  it("fails every key of the request at once with a 403 AccessDenied", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).rejects(
      new S3ServiceException({
        name: "AccessDenied",
        $fault: "client",
        $metadata: { httpStatusCode: 403 },
        message: "Access Denied",
      }),
    );
    const { clock, deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png"), target("b.png")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
    expect(clock.delays).toStrictEqual([]);
    expect(report).toStrictEqual({
      deleted: [],
      failed: [
        { target: target("a.png"), code: "AccessDenied", message: "Access Denied", retryable: false },
        { target: target("b.png"), code: "AccessDenied", message: "Access Denied", retryable: false },
      ],
      keptReplaced: [],
    });
  });

  it.each([
    ["status 503", { httpStatusCode: 503 }, undefined],
    ["status 500", { httpStatusCode: 500 }, undefined],
    ["status 429", { httpStatusCode: 429 }, undefined],
    ["$retryable", { httpStatusCode: 400 }, { throttling: true }],
  ])(
    "sends a request that throws with %s once and fails its keys at once, as retryable",
    async (_, $metadata, $retryable) => {
      // Prepare
      // The SDK's retry strategy has already retried a request that throws; retrying it again would multiply the attempts.
      const error = new S3ServiceException({ name: "SlowDownish", $fault: "server", $metadata, message: "later" });
      if ($retryable !== undefined) error.$retryable = $retryable;
      s3.on(DeleteObjectsCommand).rejectsOnce(error).resolves({});
      const { clock, deleteObjects } = setup({ maxAttempts: 5 });

      // Act
      const report = await deleteObjects([target("a.png"), target("b.png")]);

      // Assess
      expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
      expect(clock.delays).toStrictEqual([]);
      expect(report).toStrictEqual({
        deleted: [],
        failed: [
          { target: target("a.png"), code: "SlowDownish", message: "later", retryable: true },
          { target: target("b.png"), code: "SlowDownish", message: "later", retryable: true },
        ],
        keptReplaced: [],
      });
    },
  );

  it("fails the keys with a retryable code as retryable after one request that throws", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand)
      .rejectsOnce(
        new S3ServiceException({
          name: "ServiceUnavailable",
          $fault: "server",
          $metadata: { httpStatusCode: 503 },
          message: "Service Unavailable",
        }),
      )
      .resolves({});
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
    expect(report).toStrictEqual({
      deleted: [],
      failed: [
        { target: target("a.png"), code: "ServiceUnavailable", message: "Service Unavailable", retryable: true },
      ],
      keptReplaced: [],
    });
  });

  it.each([
    ["a plain Error", new TypeError("fetch failed"), "TypeError"],
    ["a TimeoutError", Object.assign(new Error("Connection timed out"), { name: "TimeoutError" }), "TimeoutError"],
    ["an ECONNRESET", Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }), "Error"],
  ])("fails the keys at once, as retryable, when %s without an HTTP answer is thrown", async (_, error, code) => {
    // Prepare
    s3.on(DeleteObjectsCommand).rejectsOnce(error).resolves({});
    const { clock, deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
    expect(clock.delays).toStrictEqual([]);
    expect(report).toStrictEqual({
      deleted: [],
      failed: [{ target: target("a.png"), code, message: error.message, retryable: true }],
      keptReplaced: [],
    });
  });

  it("fails a retried key at once when its retry throws", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand)
      .resolvesOnce({ Errors: [slowDown("b.png")] })
      .rejectsOnce(
        new S3ServiceException({
          name: "InternalError",
          $fault: "server",
          $metadata: { httpStatusCode: 500 },
          message: "We encountered an internal error.",
        }),
      )
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

  it("counts the keys of a request that throws NoSuchKey as deleted", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).rejects(
      new S3ServiceException({ name: "NoSuchKey", $fault: "client", $metadata: { httpStatusCode: 404 } }),
    );
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png"), target("b.png")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
    expect(report).toStrictEqual({ deleted: [target("a.png"), target("b.png")], failed: [], keptReplaced: [] });
  });

  it("fails only the keys of the request that threw", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand)
      .resolves({})
      .on(DeleteObjectsCommand, { Bucket: OTHER_BUCKET })
      .rejects(new S3ServiceException({ name: "NoSuchBucket", $fault: "client", $metadata: { httpStatusCode: 404 } }));
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png"), target("b.png", undefined, OTHER_BUCKET)]);

    // Assess
    expect(report.deleted).toStrictEqual([target("a.png")]);
    expect(report.failed).toStrictEqual([
      {
        target: target("b.png", undefined, OTHER_BUCKET),
        code: "NoSuchBucket",
        message: "NoSuchBucket",
        retryable: false,
      },
    ]);
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

  it("fails a single delete that throws 503 at once as retryable, and one that throws 403 as permanent", async () => {
    // Prepare
    s3.on(DeleteObjectCommand, { Key: "busy\u0001" })
      .rejectsOnce(
        new S3ServiceException({
          name: "ServiceUnavailable",
          $fault: "server",
          $metadata: { httpStatusCode: 503 },
          message: "Service Unavailable",
        }),
      )
      .resolves({});
    s3.on(DeleteObjectCommand, { Key: "locked\u0001" }).rejects(
      new S3ServiceException({
        name: "AccessDenied",
        $fault: "client",
        $metadata: { httpStatusCode: 403 },
        message: "Access Denied",
      }),
    );
    const { clock, deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("busy\u0001"), target("locked\u0001")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectCommand, 2);
    expect(clock.delays).toStrictEqual([]);
    expect(sortFailures(report.failed)).toStrictEqual([
      { target: target("busy\u0001"), code: "ServiceUnavailable", message: "Service Unavailable", retryable: true },
      { target: target("locked\u0001"), code: "AccessDenied", message: "Access Denied", retryable: false },
    ]);
    expect(report.deleted).toStrictEqual([]);
  });

  it("fails a single delete at once, as retryable, when a network error is thrown", async () => {
    // Prepare
    s3.on(DeleteObjectCommand)
      .rejectsOnce(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }))
      .resolves({});
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("line\nend.png")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectCommand, 1);
    expect(report).toStrictEqual({
      deleted: [],
      failed: [{ target: target("line\nend.png"), code: "Error", message: "socket hang up", retryable: true }],
      keptReplaced: [],
    });
  });

  it("counts a single delete that throws NoSuchKey as deleted", async () => {
    // Prepare
    s3.on(DeleteObjectCommand).rejects(
      new S3ServiceException({ name: "NoSuchKey", $fault: "client", $metadata: { httpStatusCode: 404 } }),
    );
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("gone\u0001")]);

    // Assess
    expect(report).toStrictEqual({ deleted: [target("gone\u0001")], failed: [], keptReplaced: [] });
  });
});

describe("deadline", () => {
  it.each([
    ["before now", -1],
    ["equal to now", 0],
  ])("sends nothing and fails every target as DeadlineExceeded when the deadline is %s", async (_, offset) => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({});
    s3.on(DeleteObjectCommand).resolves({});
    const { deleteObjects } = setup();
    const targets = [target("a.png"), target("odd\u0001.png"), target("b.png", undefined, OTHER_BUCKET)];

    // Act
    const report = await deleteObjects(targets, { deadline: CLOCK_START + offset });

    // Assess
    expect(s3).not.toHaveReceivedAnyCommand();
    expect(report.deleted).toStrictEqual([]);
    expect(sortFailures(report.failed)).toStrictEqual(
      sortTargets(targets).map((each) => ({
        target: each,
        code: "DeadlineExceeded",
        message: "not attempted: the invocation's time budget (timeoutMarginMs) ran out",
        retryable: true,
      })),
    );
  });

  it("sends requests when the deadline is still ahead", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup();

    // Act
    const report = await deleteObjects([target("a.png")], { deadline: CLOCK_START + 1 });

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
    expect(report.deleted).toStrictEqual([target("a.png")]);
  });

  it("starts no request at or after the deadline", async () => {
    // Prepare
    const { clock, deleteObjects } = setup({ concurrency: 1 });
    const startedAt: number[] = [];
    s3.on(DeleteObjectsCommand).callsFake(() => {
      startedAt.push(clock.now());
      clock.advance(100);
      return {};
    });
    const targets = manyTargets(2500);

    // Act
    const report = await deleteObjects(targets, { deadline: CLOCK_START + 200 });

    // Assess
    expect(startedAt).toStrictEqual([CLOCK_START, CLOCK_START + 100]);
    expect(report.deleted).toStrictEqual(targets.slice(0, 2000));
    expect(report.failed).toStrictEqual(
      targets.slice(2000).map((each) => ({
        target: each,
        code: "DeadlineExceeded",
        message: "not attempted: the invocation's time budget (timeoutMarginMs) ran out",
        retryable: true,
      })),
    );
  });

  it("stops retrying when the backoff would reach the deadline and fails the keys as retryable", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand)
      .resolvesOnce({ Errors: [slowDown("b.png")] })
      .resolves({});
    const { clock, deleteObjects } = setup({ baseDelayMs: 1000 });

    // Act
    const report = await deleteObjects([target("a.png"), target("b.png")], { deadline: CLOCK_START + 500 });

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
    expect(clock.delays).toStrictEqual([]);
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

  it("keeps the code and message of the last attempt's error when the deadline cuts a later retry short", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand)
      .resolvesOnce({ Errors: [slowDown("a.png")] })
      .resolvesOnce({ Errors: [{ Key: "a.png", Code: "InternalError", Message: "We encountered an internal error." }] })
      .resolves({});
    const { clock, deleteObjects } = setup({ baseDelayMs: 100 });

    // Act
    const report = await deleteObjects([target("a.png")], { deadline: CLOCK_START + 120 });

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 2);
    expect(clock.delays).toStrictEqual([50]);
    expect(report).toStrictEqual({
      deleted: [],
      failed: [
        {
          target: target("a.png"),
          code: "InternalError",
          message: "no time left to retry after InternalError: We encountered an internal error.",
          retryable: true,
        },
      ],
      keptReplaced: [],
    });
  });

  it("retries when the backoff ends before the deadline", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand)
      .resolvesOnce({ Errors: [slowDown("b.png")] })
      .resolves({});
    const { clock, deleteObjects } = setup({ baseDelayMs: 1000 });

    // Act
    const report = await deleteObjects([target("a.png"), target("b.png")], { deadline: CLOCK_START + 501 });

    // Assess
    expect(clock.delays).toStrictEqual([500]);
    expect(keysOf(batchInputs()[1])).toStrictEqual(["b.png"]);
    expect(report).toStrictEqual({ deleted: [target("a.png"), target("b.png")], failed: [], keptReplaced: [] });
  });

  it("fails a retry as DeadlineExceeded when the deadline passes while it waits for a slot", async () => {
    // Prepare
    const { clock, deleteObjects } = setup({ concurrency: 1, baseDelayMs: 100 });
    const slowRequest = deferred<object>();
    s3.on(DeleteObjectsCommand).callsFake((input: DeleteObjectsCommandInput) => {
      if (input.Bucket === OTHER_BUCKET) return slowRequest.promise;
      clock.advance(100);
      return { Errors: [slowDown("a.png")] };
    });

    // Act
    const done = deleteObjects([target("a.png"), target("b.png", undefined, OTHER_BUCKET)], {
      deadline: CLOCK_START + 200,
    });
    await settle();
    const timeWhenRetryQueued = clock.now();
    clock.advance(150);
    slowRequest.resolve({});
    const report = await done;

    // Assess
    expect(timeWhenRetryQueued).toBe(CLOCK_START + 150);
    expect(clock.delays).toStrictEqual([50]);
    expect(batchInputs().map((input) => input.Bucket)).toStrictEqual([BUCKET, OTHER_BUCKET]);
    expect(report).toStrictEqual({
      deleted: [target("b.png", undefined, OTHER_BUCKET)],
      failed: [
        {
          target: target("a.png"),
          code: "DeadlineExceeded",
          message: "not attempted: the invocation's time budget (timeoutMarginMs) ran out",
          retryable: true,
        },
      ],
      keptReplaced: [],
    });
  });

  it("reads the time from Date.now by default", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({});
    const deleteObjects = createBatchDeleter({ s3Client: new S3Client({ region: "us-east-1" }) });

    // Act
    const report = await deleteObjects([target("a.png")], { deadline: Date.now() - 60_000 });

    // Assess
    expect(s3).not.toHaveReceivedAnyCommand();
    expect(report.failed.map((failure) => failure.code)).toStrictEqual(["DeadlineExceeded"]);
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
    expect(listInputs()).toStrictEqual([{ Bucket: BUCKET, Prefix: "a.png" }]);
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
      { Bucket: BUCKET, Prefix: "a.png" },
      { Bucket: BUCKET, Prefix: "a.png", KeyMarker: "a.png", VersionIdMarker: "v2" },
      { Bucket: BUCKET, Prefix: "a.png", KeyMarker: "a.png", VersionIdMarker: "d1" },
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

  it("puts the versions of several keys together in full batches", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand).callsFake((input: ListObjectVersionsCommandInput) => ({
      Versions: Array.from({ length: 600 }, (_, index) => entry(input.Prefix as string, `v${index}`)),
    }));
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup({ versions: "all" });

    // Act
    const report = await deleteObjects([target("a.png"), target("b.png")]);

    // Assess
    expect(batchInputs().map((input) => input.Delete?.Objects?.length)).toStrictEqual([1000, 200]);
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

  it("deletes a version once when it is both listed for a key and passed in with its versionId", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand).resolves({ Versions: [entry("a.png", "v2"), entry("a.png", "v1")] });
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup({ versions: "all" });

    // Act
    const report = await deleteObjects([target("a.png", "v1"), target("a.png")]);

    // Assess
    expect(sentObjects()).toStrictEqual([
      { Key: "a.png", VersionId: "v1" },
      { Key: "a.png", VersionId: "v2" },
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
    expect(listInputs()).toStrictEqual([{ Bucket: BUCKET, Prefix: key, EncodingType: "url" }]);
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
    expect(listInputs()).toStrictEqual([{ Bucket: BUCKET, Prefix: key }]);
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
      ["UnexpectedVersionListing", false],
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
      s3.on(DeleteObjectsCommand).resolves({
        Errors: [{ Key: "a.png", VersionId: "v1", Code: "AccessDenied", Message: "Access Denied" }],
      });
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

    it("fails the target when a later page of its listing throws, deleting none of the versions listed before", async () => {
      // Prepare
      s3.on(ListObjectVersionsCommand)
        .resolvesOnce({
          IsTruncated: true,
          NextKeyMarker: "a.png",
          NextVersionIdMarker: "v2",
          Versions: [entry("a.png", "v2")],
        })
        .rejectsOnce(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }));
      const { deleteObjects } = setup({ versions: "all" });

      // Act
      const report = await deleteObjects([target("a.png")]);

      // Assess
      expect(s3).toHaveReceivedCommandTimes(ListObjectVersionsCommand, 2);
      expect(s3).not.toHaveReceivedCommand(DeleteObjectsCommand);
      expect(report.failed).toStrictEqual([
        { target: target("a.png"), code: "Error", message: "read ECONNRESET", retryable: true },
      ]);
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
    ])("fails the target when a page says it is truncated but %s, rather than loop", async (_, pages, calls) => {
      // Prepare
      const mock = s3.on(ListObjectVersionsCommand);
      for (const page of pages) mock.resolvesOnce(page);
      mock.rejects(new Error("listed once too often"));
      const { deleteObjects } = setup({ versions: "all" });

      // Act
      const report = await deleteObjects([target("a.png")]);

      // Assess
      expect(s3).toHaveReceivedCommandTimes(ListObjectVersionsCommand, calls);
      expect(s3).not.toHaveReceivedCommand(DeleteObjectsCommand);
      expect(report.failed).toStrictEqual([
        {
          target: target("a.png"),
          code: "IncompleteVersionListing",
          message:
            "ListObjectVersions answered IsTruncated without a new NextVersionIdMarker: not every version can be listed",
          retryable: false,
        },
      ]);
    });
  });

  describe("limits", () => {
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

    it("sends no listing once the deadline has passed, and fails the target as DeadlineExceeded", async () => {
      // Prepare
      const { deleteObjects } = setup({ versions: "all" });

      // Act
      const report = await deleteObjects([target("a.png")], { deadline: CLOCK_START });

      // Assess
      expect(s3).not.toHaveReceivedAnyCommand();
      expect(report.failed).toStrictEqual([
        {
          target: target("a.png"),
          code: "DeadlineExceeded",
          message: "not attempted: the invocation's time budget (timeoutMarginMs) ran out",
          retryable: true,
        },
      ]);
    });

    it("requests no further page after the deadline, and deletes none of the versions listed", async () => {
      // Prepare
      const { clock, deleteObjects } = setup({ versions: "all" });
      s3.on(ListObjectVersionsCommand).callsFake(() => {
        clock.advance(100);
        return {
          IsTruncated: true,
          NextKeyMarker: "a.png",
          NextVersionIdMarker: "v2",
          Versions: [entry("a.png", "v2")],
        };
      });

      // Act
      const report = await deleteObjects([target("a.png")], { deadline: CLOCK_START + 100 });

      // Assess
      expect(s3).toHaveReceivedCommandTimes(ListObjectVersionsCommand, 1);
      expect(s3).not.toHaveReceivedCommand(DeleteObjectsCommand);
      expect(report.failed.map((failure) => failure.code)).toStrictEqual(["DeadlineExceeded"]);
    });

    it("fails the target as DeadlineExceeded when the deadline passes between listing and deleting", async () => {
      // Prepare
      const { clock, deleteObjects } = setup({ versions: "all" });
      s3.on(ListObjectVersionsCommand).callsFake(() => {
        clock.advance(100);
        return { Versions: [entry("a.png", "v2"), entry("a.png", "v1")] };
      });

      // Act
      const report = await deleteObjects([target("a.png")], { deadline: CLOCK_START + 100 });

      // Assess
      expect(s3).not.toHaveReceivedCommand(DeleteObjectsCommand);
      expect(report).toStrictEqual({
        deleted: [],
        failed: [
          {
            target: target("a.png"),
            code: "DeadlineExceeded",
            message: "not attempted: the invocation's time budget (timeoutMarginMs) ran out",
            retryable: true,
          },
        ],
        keptReplaced: [],
      });
    });
  });
});

describe("stores that refuse a DeleteObjects checksum", () => {
  const refusal = (name: string, status: number, extra: object = {}) =>
    Object.assign(
      new S3ServiceException({
        name,
        $fault: status >= 500 ? "server" : "client",
        $metadata: { httpStatusCode: status },
        message: `${name} from the store`,
      }),
      extra,
    );

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

  it("starts no single delete after the deadline, failing those keys as DeadlineExceeded", async () => {
    // Prepare
    const { clock, deleteObjects } = setup({ concurrency: 1 });
    s3.on(DeleteObjectsCommand).callsFake(() => {
      clock.advance(100);
      throw refusal("MissingContentMD5", 400);
    });
    s3.on(DeleteObjectCommand).resolves({});

    // Act
    const report = await deleteObjects([target("a.png")], { deadline: CLOCK_START + 100 });

    // Assess
    expect(s3).not.toHaveReceivedCommand(DeleteObjectCommand);
    expect(report).toStrictEqual({
      deleted: [],
      failed: [
        {
          target: target("a.png"),
          code: "DeadlineExceeded",
          message: "not attempted: the invocation's time budget (timeoutMarginMs) ran out",
          retryable: true,
        },
      ],
      keptReplaced: [],
      fallback: "single-deletes",
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

  it.each([
    ["MissingContentMD5", 400, false],
    ["NotImplemented", 501, true],
  ])("fails the keys with %s when fallbackToSingleDeletes is false", async (name, status, retryable) => {
    // Prepare
    s3.on(DeleteObjectsCommand).rejects(refusal(name, status));
    const { deleteObjects } = setup({ fallbackToSingleDeletes: false });

    // Act
    const report = await deleteObjects([target("a.png")]);

    // Assess
    expect(s3).not.toHaveReceivedCommand(DeleteObjectCommand);
    expect(report).toStrictEqual({
      deleted: [],
      failed: [{ target: target("a.png"), code: name, message: `${name} from the store`, retryable }],
      keptReplaced: [],
    });
  });
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
  const thrown = (name: string, status: number, message = `${name} from S3`) =>
    new S3ServiceException({
      name,
      $fault: status >= 500 ? "server" : "client",
      $metadata: { httpStatusCode: status },
      message,
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
      s3.on(DeleteObjectsCommand).rejects(thrown("PreconditionFailed", 412));
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

    it("fails a conditional target that was not attempted before the deadline as DeadlineExceeded, not kept", async () => {
      // Prepare
      const { deleteObjects } = setup();
      const late = conditional("a.png", E1);

      // Act
      const report = await deleteObjects([late], { deadline: CLOCK_START });

      // Assess
      expect(s3).not.toHaveReceivedAnyCommand();
      expect(report.keptReplaced).toStrictEqual([]);
      expect(report.failed.map(({ target: failed, code }) => [failed, code])).toStrictEqual([
        [late, "DeadlineExceeded"],
      ]);
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
      s3.on(DeleteObjectCommand).rejects(thrown("NoSuchKey", 404));
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
      s3.on(DeleteObjectCommand).rejects(thrown("NoSuchKey", 404));
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
      s3.on(DeleteObjectCommand).rejects(thrown("PreconditionFailed", 412));
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
      ["412 PreconditionFailed", thrown("PreconditionFailed", 412)],
      ["a 412 under another name", thrown("UnknownError", 412)],
      [
        "a PreconditionFailed Code under another name",
        Object.assign(thrown("Unknown", 400), { Code: "PreconditionFailed" }),
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
      s3.on(DeleteObjectCommand).rejects(thrown("NoSuchKey", 404));
      const { deleteObjects } = setup();
      const gone = conditional("line\nend.png", E1);

      // Act
      const report = await deleteObjects([gone]);

      // Assess
      expect(report).toStrictEqual({ deleted: [gone], failed: [], keptReplaced: [] });
    });

    it("fails a target without etag whose DeleteObject throws 412 PreconditionFailed, permanently, as before", async () => {
      // Prepare
      s3.on(DeleteObjectCommand).rejects(thrown("PreconditionFailed", 412));
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
      s3.on(DeleteObjectCommand, { Key: "denied\u0001" }).rejects(thrown("AccessDenied", 403, "Access Denied"));
      s3.on(DeleteObjectCommand, { Key: "busy\u0001" }).rejects(thrown("ServiceUnavailable", 503, "busy"));
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
      s3.on(DeleteObjectsCommand).rejects(thrown("MissingContentMD5", 400));
      s3.on(DeleteObjectCommand, { Key: "a.png" }).rejects(thrown("PreconditionFailed", 412));
      s3.on(DeleteObjectCommand, { Key: "b.png" }).resolves({});
      s3.on(DeleteObjectCommand, { Key: "c.png" }).rejects(thrown("NoSuchKey", 404));
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
      s3.on(DeleteObjectCommand).rejects(thrown("NoSuchKey", 404));
      const { deleteObjects } = setup({ versions: "all" });
      const version = conditional("a.png", E1, "v1");

      // Act
      const report = await deleteObjects([target("a.png"), version]);

      // Assess
      expect(batchInputs().map((input) => input.Delete?.Objects)).toStrictEqual([[{ Key: "a.png", VersionId: "v1" }]]);
      expect(singleInputs()).toStrictEqual([{ Bucket: BUCKET, Key: "a.png", VersionId: "v1", IfMatch: E1 }]);
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
    expect(middlewareOf(0)).toStrictEqual([`${CONTENT_MD5_MIDDLEWARE} - build`]);
    expect(middlewareOf(1)).toStrictEqual([`${CONTENT_MD5_MIDDLEWARE} - build`]);
  });

  it("adds nothing to the commands by default", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({});
    const { deleteObjects } = setup();

    // Act
    await deleteObjects([target("a.png")]);

    // Assess
    expect(middlewareOf(0)).toStrictEqual([]);
  });
});

describe("canBatch and isXmlSafe", () => {
  it.each([
    ["a plain key", true, true, "images/p-1.png"],
    ["an empty key", true, true, ""],
    ["a tab", true, true, "a\tb"],
    ["an emoji", true, true, "😀"],
    ["U+FFFD", true, true, "\uFFFD"],
    ["U+10FFFF", true, true, "\u{10FFFF}"],
    ["a line feed", true, false, "a\nb"],
    ["a carriage return", true, false, "a\rb"],
    ["CR LF", true, false, "a\r\nb"],
    ["U+0000", false, false, "a\u0000b"],
    ["U+0008", false, false, "\u0008"],
    ["U+000B", false, false, "\u000B"],
    ["U+001F", false, false, "\u001F"],
    ["U+FFFE", false, false, "\uFFFE"],
    ["a lone high surrogate", false, false, "a\uD83D"],
    ["a lone low surrogate", false, false, "\uDE00a"],
  ])("tells whether a key with %s is XML-safe (%s) and can go in DeleteObjects (%s)", (_, xmlSafe, batchable, key) => {
    // Act
    const safe = isXmlSafe(key);
    const batched = canBatch(key);

    // Assess
    expect(safe).toBe(xmlSafe);
    expect(batched).toBe(batchable);
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
    ["now", 0, "must be a function"],
    ["sleep", null, "must be a function"],
    ["random", 0.5, "must be a function"],
    ["s3Client", {}, "must be an S3Client (an object with a send method)"],
    ["versions", "latest", 'must be "current" or "all"'],
    ["versions", true, 'must be "current" or "all"'],
    ["contentMd5", "yes", "must be true or false"],
    ["fallbackToSingleDeletes", 0, "must be true or false"],
  ])("rejects %s: %j", (option, value, message) => {
    // Prepare
    const options = { s3Client, [option]: value } as unknown as BatchDeleterOptions;

    // Act
    const act = () => createBatchDeleter(options);

    // Assess
    expect(act).toThrow(expect.objectContaining({ name: "ConfigError", issues: [{ path: option, message }] }));
  });

  it("builds a deleter without validating, through buildBatchDeleter", async () => {
    // Prepare
    s3.on(DeleteObjectsCommand).resolves({ Errors: [slowDown("a.png")] });
    const clock = createFakeClock();
    const options = { s3Client, maxAttempts: 11, now: clock.now, sleep: clock.sleep, random: () => 0 };

    // Act
    const deleteObjects = buildBatchDeleter(options);
    const report = await deleteObjects([target("a.png")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 11);
    expect(report.failed.map((failure) => failure.code)).toStrictEqual(["SlowDown"]);
    expect(() => createBatchDeleter(options)).toThrow(
      expect.objectContaining({
        name: "ConfigError",
        issues: [{ path: "maxAttempts", message: "must be at most 10" }],
      }),
    );
  });

  it("rejects options that are not an object", () => {
    // Act
    const act = () => createBatchDeleter(undefined as unknown as BatchDeleterOptions);

    // Assess
    expect(act).toThrow(
      expect.objectContaining({ name: "ConfigError", issues: [{ path: "(options)", message: "must be an object" }] }),
    );
  });

  it("accepts every option at its bounds", () => {
    // Act
    const act = () =>
      createBatchDeleter({
        s3Client,
        concurrency: 64,
        maxAttempts: 10,
        baseDelayMs: 0,
        maxDelayMs: 0,
        now: () => 0,
        sleep: async () => {},
        random: () => 0,
        versions: "all",
        contentMd5: true,
        fallbackToSingleDeletes: false,
      });

    // Assess
    expect(act).not.toThrow();
  });

  it("accepts undefined for every optional option", () => {
    // Act
    const act = () =>
      createBatchDeleter({
        s3Client,
        concurrency: undefined,
        maxAttempts: undefined,
        baseDelayMs: undefined,
        maxDelayMs: undefined,
        now: undefined,
        sleep: undefined,
        random: undefined,
        versions: undefined,
        contentMd5: undefined,
        fallbackToSingleDeletes: undefined,
      });

    // Assess
    expect(act).not.toThrow();
  });
});
