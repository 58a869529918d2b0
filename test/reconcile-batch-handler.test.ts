import {
  BatchGetItemCommand,
  type BatchGetItemCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
} from "@aws-sdk/client-dynamodb";
import { DeleteObjectsCommand, type DeleteObjectsCommandInput, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  isCleanupError,
  isConfigError,
  isInvalidEventError,
  isReconcileBatchError,
  isReconcileError,
  type ReconcileBatchError,
} from "../src/errors.js";
import { createReconcileBatchHandler, type ReconcileBatchHandlerOptions } from "../src/reconcile-batch-handler.js";
import { noCounts } from "../src/reconcile-objects.js";

const s3Mock = mockClient(S3Client);
const ddbMock = mockClient(DynamoDBClient);
const s3Client = new S3Client({ region: "us-east-1" });
const dynamoDbClient = new DynamoDBClient({ region: "us-east-1" });

afterAll(() => {
  s3Mock.restore();
  ddbMock.restore();
});

const NOW = Date.UTC(2026, 11, 3);
let items: Set<string>;

beforeEach(() => {
  s3Mock.reset();
  ddbMock.reset();
  items = new Set(["live"]);
  ddbMock.on(DescribeTableCommand).resolves({
    Table: {
      KeySchema: [{ AttributeName: "productId", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "productId", AttributeType: "S" }],
    },
  });
  ddbMock.on(BatchGetItemCommand).callsFake((input: BatchGetItemCommandInput) => ({
    Responses: {
      products: (input.RequestItems?.products?.Keys ?? []).filter((key) => items.has(key.productId?.S as string)),
    },
  }));
  s3Mock.on(DeleteObjectsCommand).callsFake((input: DeleteObjectsCommandInput) => ({
    Deleted: (input.Delete?.Objects ?? []).map(({ Key }) => ({ Key })),
  }));
});

afterEach(() => {
  vi.useRealTimers();
});

const logger = () => ({ debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() });

function handlerWith(overrides: Partial<ReconcileBatchHandlerOptions> = {}) {
  return createReconcileBatchHandler({
    tableName: "products",
    bucket: "product-images",
    key: "images/{productId}.png",
    s3Client,
    dynamoDbClient,
    logger: logger(),
    now: () => NOW,
    ...overrides,
  } as ReconcileBatchHandlerOptions);
}

/** An S3 Inventory row of the bucket, as the ItemReader gives it: every value a string. */
const row = (key: string, lastModified = "2026-01-02T03:04:05.000Z") => ({
  Bucket: "product-images",
  Key: encodeURIComponent(key),
  Size: "100",
  LastModifiedDate: lastModified,
  ETag: "9b2cf535f27731c974343645a3985328",
});

describe("createReconcileBatchHandler", () => {
  it("answers a batch of inventory rows with its counts, reporting only without BatchInput.delete", async () => {
    const handler = handlerWith({ delete: true });
    const result = await handler({ Items: [row("images/live.png"), row("images/gone.png"), row("images/readme.txt")] });
    expect(result).toEqual({
      ...noCounts(),
      listed: 3,
      live: 1,
      orphans: 1,
      unrelated: 1,
      bytes: 100,
      invalidItems: 0,
    });
    expect(s3Mock.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
  });

  it("deletes the orphans when both the option and BatchInput.delete say so, on the listed ETag", async () => {
    const handler = handlerWith({ delete: true });
    const result = await handler({
      Items: [row("images/live.png"), row("images/gone.png")],
      BatchInput: { delete: true },
    });
    expect(result).toMatchObject({ orphans: 1, deleted: 1 });
    expect(s3Mock.commandCalls(DeleteObjectsCommand)[0]?.args[0].input.Delete?.Objects).toEqual([
      { Key: "images/gone.png", ETag: '"9b2cf535f27731c974343645a3985328"' },
    ]);
  });

  it("never deletes when its own option is off, whatever BatchInput says", async () => {
    const handler = handlerWith();
    const result = await handler({ Items: [row("images/gone.png")], BatchInput: { delete: true } });
    expect(result).toMatchObject({ orphans: 1, deleted: 0 });
    expect(s3Mock.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
  });

  it("describes the table once per instance, and again after a failure", async () => {
    ddbMock
      .on(DescribeTableCommand)
      .rejectsOnce(new Error("throttled"))
      .resolves({
        Table: {
          KeySchema: [{ AttributeName: "productId", KeyType: "HASH" }],
          AttributeDefinitions: [{ AttributeName: "productId", AttributeType: "S" }],
        },
      });
    const handler = handlerWith();
    const error = await handler({ Items: [row("images/a.png")] }).catch((thrown: unknown) => thrown);
    expect(isReconcileError(error)).toBe(true);
    await handler({ Items: [row("images/a.png")] });
    await handler({ Items: [row("images/b.png")] });
    expect(ddbMock.commandCalls(DescribeTableCommand)).toHaveLength(2);
  });

  it("throws a ReconcileBatchError with the counts after doing the rest, when an item is invalid", async () => {
    const log = logger();
    const handler = handlerWith({ logger: log });
    const error = (await handler({ Items: [row("images/gone.png"), { ...row("x"), Bucket: "other" }] }).catch(
      (thrown: unknown) => thrown,
    )) as ReconcileBatchError;
    expect(isReconcileBatchError(error)).toBe(true);
    expect(isCleanupError(error)).toBe(true);
    expect(error.result).toMatchObject({ listed: 1, orphans: 1, invalidItems: 1 });
    expect(error.message).toBe(
      "the batch is not finished: 0 deletes failed, 0 objects unchecked, 1 invalid items (of 2)",
    );
    expect(log.warn).toHaveBeenCalledWith("reconcile batch: an item is not an object of the bucket", {
      index: 1,
      problem: expect.stringContaining("`Items[1].Bucket`"),
    });
  });

  it("throws when a delete fails, and when an item cannot be told", async () => {
    s3Mock
      .on(DeleteObjectsCommand)
      .resolves({ Errors: [{ Key: "images/gone.png", Code: "AccessDenied", Message: "denied" }] });
    const handler = handlerWith({ delete: true });
    const failed = await handler({ Items: [row("images/gone.png")], BatchInput: { delete: true } }).catch(
      (thrown: unknown) => thrown,
    );
    expect((failed as ReconcileBatchError).result).toMatchObject({ failed: 1 });
    ddbMock.on(BatchGetItemCommand).rejects(new Error("throttled"));
    const unchecked = await handlerWith()({ Items: [row("images/a.png")] }).catch((thrown: unknown) => thrown);
    expect((unchecked as ReconcileBatchError).result).toMatchObject({ unchecked: 1 });
  });

  it("logs its summary, and clears its time budget's timers when it returns", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const log = logger();
    await handlerWith({ logger: log, s3Client: undefined })(
      { Items: [row("images/live.png")] },
      { getRemainingTimeInMillis: () => 60_000 },
    );
    expect(log.info).toHaveBeenCalledWith("dynamodb-s3-cleanup reconcile batch summary", {
      bucket: "product-images",
      ...noCounts(),
      listed: 1,
      live: 1,
      invalidItems: 0,
    });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("needs no table for a batch without objects", async () => {
    const handler = handlerWith();
    await expect(handler({ Items: [] })).resolves.toEqual({ ...noCounts(), invalidItems: 0 });
    expect(ddbMock.commandCalls(DescribeTableCommand)).toHaveLength(0);
  });

  it("refuses an event that is no child batch", async () => {
    const error = await handlerWith()({ Records: [] } as never).catch((thrown: unknown) => thrown);
    expect(isInvalidEventError(error)).toBe(true);
  });

  it("stops waiting timeoutMarginMs before the function's timeout", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    ddbMock.on(BatchGetItemCommand).callsFake(() => new Promise(() => {}));
    const handler = handlerWith({ timeoutMarginMs: 1000 });
    const answer = handler({ Items: [row("images/a.png")] }, { getRemainingTimeInMillis: () => 5000 }).catch(
      (thrown: unknown) => thrown,
    );
    await vi.advanceTimersByTimeAsync(4000);
    expect(((await answer) as ReconcileBatchError).result).toMatchObject({ unchecked: 1 });
  });

  it("refuses bad options when created, naming them", () => {
    const error = (() => {
      try {
        handlerWith({ timeoutMarginMs: -1, key: undefined });
      } catch (thrown) {
        return thrown as { issues: { path: string }[] };
      }
    })();
    expect(isConfigError(error)).toBe(true);
    expect(error?.issues.map(({ path }) => path).sort()).toEqual(["key", "timeoutMarginMs"]);
  });
});
