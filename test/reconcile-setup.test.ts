import { DescribeTableCommand, DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { DeleteObjectsCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createReconcilerFor, reconcilerCrossCheck, templatesOf } from "../src/reconcile-setup.js";

const ddb = mockClient(DynamoDBClient);
const s3 = mockClient(S3Client);
const dynamoDbClient = new DynamoDBClient({ region: "us-east-1" });
const s3Client = new S3Client({ region: "us-east-1" });

beforeEach(() => {
  ddb.reset();
  s3.reset();
  ddb.on(DescribeTableCommand).resolves({
    Table: {
      KeySchema: [{ AttributeName: "productId", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "productId", AttributeType: "S" }],
      ItemCount: 2,
    },
  });
});

afterAll(() => {
  ddb.restore();
  s3.restore();
});

describe("reconcilerCrossCheck", () => {
  it("finds nothing wrong with one template, or several", () => {
    expect(reconcilerCrossCheck({ key: "images/{productId}.png", bucket: "b" })).toEqual([]);
    expect(reconcilerCrossCheck({ key: ["a/{id}", "b/{id}"], bucket: "b" })).toEqual([]);
  });

  it("leaves a template of the wrong type to the schema", () => {
    expect(reconcilerCrossCheck({ key: [5], bucket: "b" })).toEqual([]);
  });

  it("leaves a bucket of the wrong type to the schema, whatever allowedBuckets says", () => {
    expect(reconcilerCrossCheck({ key: "{id}", bucket: 5, allowedBuckets: ["a"] })).toEqual([]);
  });

  it("names every allowed bucket when the bucket is not one of them", () => {
    expect(reconcilerCrossCheck({ key: "{id}", bucket: "b", allowedBuckets: ["x", "y"] })).toEqual([
      { path: "bucket", message: "is not one of `allowedBuckets` (x, y)" },
    ]);
  });
});

describe("templatesOf", () => {
  it("gives one template as an array, an array as a copy, and nothing for itemKeyOf", () => {
    const key = ["a/{id}"];
    expect(templatesOf("a/{id}")).toEqual(["a/{id}"]);
    expect(templatesOf(key)).not.toBe(key);
    expect(templatesOf(undefined)).toBeUndefined();
  });
});

describe("createReconcilerFor, scan mode", () => {
  it("logs the scan's start and end, and deletes without asking the set again", async () => {
    ddb.on(ScanCommand).resolves({ Items: [{ productId: { S: "a" } }] });
    s3.on(DeleteObjectsCommand).resolves({ Deleted: [{ Key: "images/b.png" }] });
    const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const scanned = vi.fn();
    const reconcileObjects = await createReconcilerFor(
      {
        tableName: "products",
        bucket: "product-images",
        key: "images/{productId}.png",
        delete: true,
        minAgeMs: 0,
        concurrency: 1,
      },
      { s3Client, dynamoDbClient: async () => dynamoDbClient, logger },
      undefined,
      { scan: true, onScanned: scanned },
    );
    expect(logger.info).toHaveBeenCalledWith("reconcile: scanning the table", { table: "products", itemCount: 2 });
    expect(logger.info).toHaveBeenCalledWith("reconcile: table scanned", {
      table: "products",
      items: 1,
      objectKeys: 1,
    });
    expect(scanned).toHaveBeenCalledWith(1);
    const lastModified = new Date(0);
    const counts = await reconcileObjects(
      [
        { key: "images/a.png", size: 1, lastModified, etag: '"a"' },
        { key: "images/b.png", size: 1, lastModified, etag: '"b"' },
      ],
      new AbortController().signal,
    );
    expect(counts).toMatchObject({ live: 1, orphans: 1, deleted: 1, keptRecreated: 0 });
    expect(ddb.commandCalls(ScanCommand)).toHaveLength(1);
  });
});
