/**
 * reconcile() on the real servers: DynamoDB Local for the table (DescribeTable, BatchGetItem), moto
 * for the bucket. Exactly the orphans are deleted; live, young and unrelated objects stay; an object
 * re-uploaded after its listing is kept by its ETag, an item re-created after the first probe by the
 * second one; a stopped run goes on from its checkpoint to the same end.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { describe, expect, inject, it } from "vitest";
import { reconcile } from "../../src/reconcile.js";
import type { Orphan } from "../../src/reconcile-types.js";
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

describe("reconcile on DynamoDB Local and moto", () => {
  it("deletes exactly the orphans of a table with string keys", async () => {
    const table = await createItemsTable(dynamodb, "S", ["live-1", "live-2"]);
    const bucket = await createBucket(s3, "rc");
    const clock = await seedOldAndYoung(
      s3,
      bucket,
      [
        "images/live-1.png",
        "images/live-2.png",
        "images/gone-1.png",
        "images/gone-2.png",
        "images/readme.txt",
        "other/x.png",
      ],
      ["images/young-1.png"],
    );
    const orphans: Orphan[] = [];
    const { logger } = quietLogger();
    const report = await reconcile({
      tableName: table,
      bucket,
      key: "images/{productId}.png",
      delete: true,
      s3Client: s3,
      dynamoDbClient: dynamodb,
      logger,
      onOrphan: (orphan) => {
        orphans.push(orphan);
      },
      ...clock,
    });
    expect(report).toMatchObject({
      complete: true,
      listed: 6,
      unrelated: 1,
      live: 2,
      young: 1,
      orphans: 2,
      deleted: 2,
      failed: 0,
      unchecked: 0,
    });
    expect(
      orphans.map(({ key, status, itemKey }) => ({ key, status, itemKey })).sort((a, b) => a.key.localeCompare(b.key)),
    ).toEqual([
      { key: "images/gone-1.png", status: "deleted", itemKey: { productId: { S: "gone-1" } } },
      { key: "images/gone-2.png", status: "deleted", itemKey: { productId: { S: "gone-2" } } },
    ]);
    expect(await listKeys(s3, bucket)).toEqual([
      "images/live-1.png",
      "images/live-2.png",
      "images/readme.txt",
      "images/young-1.png",
      "other/x.png",
    ]);
  });

  it("reads N keys as the numbers DynamoDB stores, and leaves `007` alone", async () => {
    const table = await createItemsTable(dynamodb, "N", ["7", "42"]);
    const bucket = await createBucket(s3, "rc");
    const clock = await seedOldAndYoung(
      s3,
      bucket,
      ["images/7.png", "images/42.png", "images/8.png", "images/007.png", "images/1.50.png"],
      ["images/9.png"],
    );
    const report = await reconcile({
      tableName: table,
      bucket,
      key: "images/{productId}.png",
      delete: true,
      s3Client: s3,
      dynamoDbClient: dynamodb,
      logger: quietLogger().logger,
      ...clock,
    });
    expect(report).toMatchObject({ listed: 6, live: 2, orphans: 1, deleted: 1, young: 1, unrelated: 2 });
    expect(await listKeys(s3, bucket)).toEqual([
      "images/007.png",
      "images/1.50.png",
      "images/42.png",
      "images/7.png",
      "images/9.png",
    ]);
  });

  it("reports without deleting by default, and takes nothing for an orphan within the default day", async () => {
    const table = await createItemsTable(dynamodb, "S", []);
    const bucket = await createBucket(s3, "rc");
    await putObjects(s3, bucket, ["images/a.png", "images/b.png"]);
    const young = await reconcile({
      tableName: table,
      bucket,
      key: "images/{productId}.png",
      s3Client: s3,
      dynamoDbClient: dynamodb,
      logger: quietLogger().logger,
    });
    expect(young).toMatchObject({ listed: 2, young: 2, orphans: 0 });
    const found = await reconcile({
      tableName: table,
      bucket,
      key: "images/{productId}.png",
      minAgeMs: 0,
      s3Client: s3,
      dynamoDbClient: dynamodb,
      logger: quietLogger().logger,
    });
    expect(found).toMatchObject({ listed: 2, orphans: 2, deleted: 0, bytes: "images/a.png".length * 2 });
    expect(await listKeys(s3, bucket)).toEqual(["images/a.png", "images/b.png"]);
  });

  // moto ignores the per-object ETag of a DeleteObjects body but honours If-Match on DeleteObject
  // (see etag.test.ts): the replaced object's key holds a character XML cannot carry, which the
  // deleter sends as a single DeleteObject. The DeleteObjects path is proven in batch-deleter.etag-wire.test.ts.
  it("keeps an object re-uploaded after its listing, and an item re-created after the first probe", async () => {
    const table = await createItemsTable(dynamodb, "S", []);
    const bucket = await createBucket(s3, "rc");
    const replaced = "images/replaced\u0001.png";
    await putObjects(s3, bucket, ["images/gone.png", replaced, "images/recreated.png"]);
    // Between the listing and the delete: a new object under one key, and the item of another.
    const racing = new DynamoDBClient(localClientConfig(inject("dynamodbEndpoint")));
    let probes = 0;
    racing.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === "BatchGetItemCommand" && ++probes === 1) {
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: replaced, Body: "new content" }));
          await putProduct(dynamodb, table, "S", "recreated");
        }
        return result;
      },
      { step: "initialize", name: "race" },
    );
    const orphans: Orphan[] = [];
    const report = await reconcile({
      tableName: table,
      bucket,
      key: "images/{productId}.png",
      minAgeMs: 0,
      delete: true,
      // One partition, so that the first probe is this page's and the race comes between its two probes.
      concurrency: 1,
      s3Client: s3,
      dynamoDbClient: racing,
      logger: quietLogger().logger,
      onOrphan: (orphan) => {
        orphans.push(orphan);
      },
    });
    expect(report).toMatchObject({ orphans: 3, deleted: 1, keptReplaced: 1, keptRecreated: 1, failed: 0 });
    expect(Object.fromEntries(orphans.map(({ key, status }) => [key, status]))).toEqual({
      "images/gone.png": "deleted",
      [replaced]: "kept-replaced",
      "images/recreated.png": "kept-recreated",
    });
    expect(await listKeys(s3, bucket)).toEqual(["images/recreated.png", replaced]);
  });

  it("goes on from its checkpoint after a stop, to the same end", async () => {
    const table = await createItemsTable(
      dynamodb,
      "S",
      Array.from({ length: 30 }, (_, i) => `live-${i}`),
    );
    const bucket = await createBucket(s3, "rc");
    const keys = [
      ...Array.from({ length: 30 }, (_, i) => `images/live-${i}.png`),
      ...Array.from({ length: 2500 }, (_, i) => `images/gone-${String(i).padStart(4, "0")}.png`),
    ];
    await putObjects(s3, bucket, keys);
    const checkpoint = join(mkdtempSync(join(tmpdir(), "reconcile-")), "checkpoint.json");
    const options = {
      tableName: table,
      bucket,
      key: "images/{productId}.png",
      minAgeMs: 0,
      delete: true,
      concurrency: 2,
      checkpoint,
      s3Client: s3,
      dynamoDbClient: dynamodb,
      logger: quietLogger().logger,
    };
    const stop = new AbortController();
    const first = await reconcile({
      ...options,
      signal: stop.signal,
      onProgress: (progress) => {
        if (progress.deleted > 0) stop.abort(new Error("stopped"));
      },
    });
    expect(first.complete).toBe(false);
    const second = await reconcile(options);
    expect(second).toMatchObject({ complete: true, live: 30, failed: 0 });
    expect(second.deleted).toBeGreaterThan(0);
    expect(first.deleted + second.deleted).toBeGreaterThanOrEqual(2500);
    expect(await listKeys(s3, bucket)).toEqual(keys.slice(0, 30).sort());
  });

  it("finds orphans by scanning the table when the template uses attributes outside the key", async () => {
    const table = `files-${Math.random().toString(36).slice(2, 10)}`;
    await dynamodb.send(
      new CreateTableCommand({
        TableName: table,
        KeySchema: [
          { AttributeName: "tenantId", KeyType: "HASH" },
          { AttributeName: "fileId", KeyType: "RANGE" },
        ],
        AttributeDefinitions: [
          { AttributeName: "tenantId", AttributeType: "S" },
          { AttributeName: "fileId", AttributeType: "N" },
        ],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
    const files = [
      { tenantId: "t1", fileId: "1", fileName: "a.png" },
      { tenantId: "t1", fileId: "2", fileName: "b.png" },
      { tenantId: "t2", fileId: "1", fileName: "a.png" },
      { tenantId: "t2", fileId: "3" },
    ];
    for (const { tenantId, fileId, fileName } of files) {
      await dynamodb.send(
        new PutItemCommand({
          TableName: table,
          Item: {
            tenantId: { S: tenantId },
            fileId: { N: fileId },
            ...(fileName === undefined ? {} : { fileName: { S: fileName } }),
          },
        }),
      );
    }
    const bucket = await createBucket(s3, "rc");
    const clock = await seedOldAndYoung(
      s3,
      bucket,
      ["t1/a.png", "t1/b.png", "t2/a.png", "t2/gone.png", "t3/x.png", "readme"],
      ["t1/new.png"],
    );
    const orphans: Orphan[] = [];
    const report = await reconcile({
      tableName: table,
      bucket,
      key: "{tenantId}/{fileName}",
      mode: "scan",
      delete: true,
      s3Client: s3,
      dynamoDbClient: dynamodb,
      logger: quietLogger().logger,
      onOrphan: (orphan) => {
        orphans.push(orphan);
      },
      ...clock,
    });
    expect(report).toMatchObject({
      complete: true,
      listed: 7,
      live: 3,
      young: 1,
      orphans: 2,
      deleted: 2,
      unrelated: 1,
    });
    expect(orphans.map(({ key, itemKey }) => ({ key, itemKey })).sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      { key: "t2/gone.png", itemKey: { tenantId: { S: "t2" }, fileName: { S: "gone.png" } } },
      { key: "t3/x.png", itemKey: { tenantId: { S: "t3" }, fileName: { S: "x.png" } } },
    ]);
    expect(await listKeys(s3, bucket)).toEqual(["readme", "t1/a.png", "t1/b.png", "t1/new.png", "t2/a.png"]);
  });
});
