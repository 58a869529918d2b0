/**
 * createReconcileBatchHandler on the real servers: DynamoDB Local for the table, moto for the
 * bucket, and events in exactly the child-batch shapes docs/reference-distributed-map.md gives,
 * built from the objects moto holds. An S3 Inventory row is all strings, its key URL-encoded and its
 * ETag unquoted; a ListObjectsV2 item has `Etag` quoted and `LastModified` in epoch seconds. Exactly
 * the orphans are deleted, and only when both the function and the run say so.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { describe, expect, inject, it } from "vitest";
import {
  createReconcileBatchHandler,
  isReconcileBatchError,
  type ReconcileBatchEvent,
  type ReconcileBatchHandlerOptions,
} from "../../src/reconcile.js";
import { localClientConfig } from "../services/index.js";
import {
  createBucket,
  createItemsTable,
  listKeys,
  putObjects,
  putProduct,
  quietLogger,
  seedOldAndYoung,
} from "./helpers.js";

const s3 = new S3Client({ ...localClientConfig(inject("motoEndpoint")), forcePathStyle: true });
const dynamodb = new DynamoDBClient(localClientConfig(inject("dynamodbEndpoint")));

const KEY = "images/{productId}.png";

/** A key as S3 Inventory writes it in CSV: URL-encoded, a space as `+`. */
const inventoryKey = (key: string) => encodeURIComponent(key).replaceAll("%20", "+");

/** The S3 Inventory row (current versions, with Size, LastModifiedDate and ETag) of the object under `key`, as it is now. */
async function inventoryRow(bucket: string, key: string): Promise<Record<string, string>> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return {
    Bucket: bucket,
    Key: inventoryKey(key),
    Size: String(head.ContentLength),
    LastModifiedDate: (head.LastModified as Date).toISOString(),
    ETag: String(head.ETag).replaceAll('"', ""),
  };
}

/** The items a ListObjectsV2 ItemReader makes of the bucket's objects, as they are now. */
async function listingItems(bucket: string): Promise<Record<string, unknown>[]> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  expect(page.IsTruncated).toBe(false);
  return (page.Contents ?? []).map((object) => ({
    Etag: object.ETag,
    Key: object.Key,
    LastModified: (object.LastModified as Date).getTime() / 1000,
    Size: object.Size,
    StorageClass: object.StorageClass,
  }));
}

function batchHandler(options: Omit<ReconcileBatchHandlerOptions, "s3Client" | "dynamoDbClient" | "logger">) {
  const { lines, logger } = quietLogger();
  return {
    lines,
    handler: createReconcileBatchHandler({ ...options, s3Client: s3, dynamoDbClient: dynamodb, logger }),
  };
}

/** A batch of `items` for a run whose input has `delete` (no BatchInput at all when undefined). */
const batch = (items: unknown[], deleteRequested?: boolean): ReconcileBatchEvent =>
  deleteRequested === undefined ? { Items: items } : { Items: items, BatchInput: { delete: deleteRequested } };

const ZERO = {
  unrelated: 0,
  live: 0,
  young: 0,
  orphans: 0,
  unchecked: 0,
  deleted: 0,
  failed: 0,
  keptReplaced: 0,
  keptRecreated: 0,
  invalidItems: 0,
};

/** A bucket and a table with string keys, some keys with a space, `+`, or a character beyond ASCII. */
async function stringKeyed() {
  const table = await createItemsTable(dynamodb, "S", ["live-1", "live ü+2"]);
  const bucket = await createBucket(s3, "rcb");
  const old = [
    "images/live-1.png",
    "images/live ü+2.png",
    "images/gone 1.png",
    "images/gône-2.png",
    "images/readme.txt",
    "other/x.png",
  ];
  const clock = await seedOldAndYoung(s3, bucket, old, ["images/young-1.png"]);
  const keys = [...old, "images/young-1.png"];
  return { table, bucket, clock, keys };
}

describe("createReconcileBatchHandler on DynamoDB Local and moto", () => {
  it("deletes exactly the orphans of a batch of S3 Inventory rows, URL-encoded keys read back", async () => {
    const { table, bucket, clock, keys } = await stringKeyed();
    const rows = await Promise.all(keys.map((key) => inventoryRow(bucket, key)));
    expect(rows.map((row) => row.Key)).toContain("images%2Flive+%C3%BC%2B2.png");
    const { handler } = batchHandler({ tableName: table, bucket, key: KEY, delete: true, ...clock });

    const result = await handler(batch(rows, true));

    expect(result).toEqual({
      ...ZERO,
      listed: 7,
      unrelated: 2,
      live: 2,
      young: 1,
      orphans: 2,
      deleted: 2,
      bytes: "images/gone 1.png".length + Buffer.byteLength("images/gône-2.png"),
    });
    expect(await listKeys(s3, bucket)).toEqual(
      keys.filter((key) => key !== "images/gone 1.png" && key !== "images/gône-2.png").sort(),
    );
  });

  it("deletes exactly the orphans of a batch of ListObjectsV2 items, N keys read as numbers and `007` left alone", async () => {
    const table = await createItemsTable(dynamodb, "N", ["7", "42"]);
    const bucket = await createBucket(s3, "rcb");
    const clock = await seedOldAndYoung(
      s3,
      bucket,
      ["images/7.png", "images/42.png", "images/8.png", "images/007.png", "images/1.50.png"],
      ["images/9.png"],
    );
    const items = await listingItems(bucket);
    expect(items[0]).toEqual({
      Etag: expect.stringMatching(/^"[0-9a-f]{32}"$/),
      Key: expect.any(String),
      LastModified: expect.any(Number),
      Size: expect.any(Number),
      StorageClass: "STANDARD",
    });
    const { handler } = batchHandler({ tableName: table, bucket, key: KEY, delete: true, ...clock });

    const result = await handler(batch(items, true));

    expect(result).toMatchObject({ listed: 6, live: 2, young: 1, unrelated: 2, orphans: 1, deleted: 1, failed: 0 });
    expect(await listKeys(s3, bucket)).toEqual([
      "images/007.png",
      "images/1.50.png",
      "images/42.png",
      "images/7.png",
      "images/9.png",
    ]);
  });

  it.each([
    ["the run asks for no delete", true, false],
    ["the run's input has no BatchInput", true, undefined],
    ["the function may not delete, though the run asks", false, true],
  ])("only reports the orphans when %s", async (_, functionDeletes, runDeletes) => {
    const { table, bucket, clock, keys } = await stringKeyed();
    const rows = await Promise.all(keys.map((key) => inventoryRow(bucket, key)));
    const { handler } = batchHandler({ tableName: table, bucket, key: KEY, delete: functionDeletes, ...clock });

    const result = await handler(batch(rows, runDeletes));

    expect(result).toMatchObject({ listed: 7, live: 2, young: 1, unrelated: 2, orphans: 2, deleted: 0 });
    expect(await listKeys(s3, bucket)).toEqual([...keys].sort());
  });

  // moto ignores the per-object ETag of a DeleteObjects body but honours If-Match on DeleteObject
  // (see etag.test.ts): the replaced object's key holds a character XML cannot carry, which the
  // deleter sends as a single DeleteObject.
  it.each([
    ["an S3 Inventory row", (bucket: string, key: string) => inventoryRow(bucket, key)],
    [
      "a ListObjectsV2 item",
      async (bucket: string, key: string) => (await listingItems(bucket)).find((item) => item.Key === key),
    ],
  ])("keeps an object re-uploaded after %s of it was taken, by its ETag", async (_, itemOf) => {
    const table = await createItemsTable(dynamodb, "S", []);
    const bucket = await createBucket(s3, "rcb");
    const replaced = "images/replaced\u0001.png";
    const gone = "images/gone\u0001.png";
    await putObjects(s3, bucket, [replaced, gone]);
    const items = [await itemOf(bucket, replaced), await itemOf(bucket, gone)];
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: replaced, Body: "new content" }));
    const { handler } = batchHandler({ tableName: table, bucket, key: KEY, delete: true, minAgeMs: 0 });

    const result = await handler(batch(items, true));

    expect(result).toMatchObject({ listed: 2, orphans: 2, deleted: 1, keptReplaced: 1, failed: 0 });
    expect(await listKeys(s3, bucket)).toEqual([replaced]);
  });

  it("keeps an object whose item is written after the inventory was taken", async () => {
    const table = await createItemsTable(dynamodb, "S", []);
    const bucket = await createBucket(s3, "rcb");
    await putObjects(s3, bucket, ["images/late.png", "images/gone.png"]);
    const rows = [await inventoryRow(bucket, "images/late.png"), await inventoryRow(bucket, "images/gone.png")];
    await putProduct(dynamodb, table, "S", "late");
    const { handler } = batchHandler({ tableName: table, bucket, key: KEY, delete: true, minAgeMs: 0 });

    expect(await handler(batch(rows, true))).toMatchObject({ listed: 2, live: 1, orphans: 1, deleted: 1 });
    expect(await listKeys(s3, bucket)).toEqual(["images/late.png"]);
  });

  it("deletes the orphans of the valid rows, then rejects naming the one invalid row, whose object stays", async () => {
    const table = await createItemsTable(dynamodb, "S", ["live-1"]);
    const bucket = await createBucket(s3, "rcb");
    const keys = ["images/live-1.png", "images/gone-1.png", "images/gone-2.png", "images/gone-3.png"];
    await putObjects(s3, bucket, keys);
    const rows = await Promise.all(keys.map((key) => inventoryRow(bucket, key)));
    rows[2] = { ...(rows[2] as Record<string, string>), Size: "1e3" };
    const { handler, lines } = batchHandler({ tableName: table, bucket, key: KEY, delete: true, minAgeMs: 0 });

    const error = await handler(batch(rows, true)).catch((thrown: unknown) => thrown);

    expect(isReconcileBatchError(error)).toBe(true);
    expect(error).toMatchObject({
      message: expect.stringMatching(/0 deletes failed, 0 objects unchecked, 1 invalid items \(of 4\)$/),
      result: { listed: 3, live: 1, orphans: 2, deleted: 2, failed: 0, invalidItems: 1 },
    });
    expect(lines.filter((line) => line.level === "warn").map((line) => line.attributes)).toEqual([
      { index: 2, problem: expect.stringMatching(/^`Items\[2\]\.Size` must be a whole number of bytes/) },
    ]);
    expect(await listKeys(s3, bucket)).toEqual(["images/gone-2.png", "images/live-1.png"]);
  });
});
