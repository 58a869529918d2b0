/**
 * The whole path on real servers: DynamoDB Local expires items by TTL, the stream runner reads the
 * REMOVE records from its stream and feeds them, Lambda-shaped, to createCleanupHandler, which
 * deletes the objects on moto's S3.
 */
import { randomUUID } from "node:crypto";
import {
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  type StreamViewType,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, inject, it } from "vitest";
import { type BatchResponse, type CleanupOptions, createCleanupHandler, type StreamEvent } from "../../src/index.js";
import { runStream } from "../../src/testing/index.js";
import { localClientConfig } from "../services/index.js";
import {
  countingS3Client,
  createBucket,
  createProductsTable,
  listKeys,
  quietLogger,
  waitForItemCount,
} from "./helpers.js";

interface Product {
  id: string;
  /** expired: TTL in the past; live: TTL tomorrow; deleted: removed by a user's DeleteItem. */
  fate: "expired" | "live" | "deleted";
  images: string[];
}

/**
 * Writes the products and their images, modifies one live product, deletes the "deleted" ones,
 * waits until DynamoDB Local has expired the "expired" ones, then runs the stream through the handler.
 */
async function scenario(
  view: StreamViewType,
  products: Product[],
  options: Omit<CleanupOptions, "bucket" | "s3Client">,
) {
  const { s3, sent } = countingS3Client(inject("motoEndpoint"));
  const dynamodb = new DynamoDBClient(localClientConfig(inject("dynamodbEndpoint")));
  const streams = new DynamoDBStreamsClient(localClientConfig(inject("dynamodbEndpoint")));
  const bucket = await createBucket(s3, "stream");
  const table = `products-${randomUUID().slice(0, 8)}`;
  const streamArn = await createProductsTable(dynamodb, table, view, "ttl");
  const now = Math.floor(Date.now() / 1000);

  for (const product of products) {
    await dynamodb.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          productId: { S: product.id },
          ttl: { N: String(product.fate === "expired" ? now - 60 : now + 86_400) },
          imageKeys: { L: product.images.map((key) => ({ S: key })) },
          email: { S: "owner@example.com" },
        },
      }),
    );
    for (const key of product.images) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
  }
  const live = products.find((product) => product.fate === "live");
  if (live !== undefined) {
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { productId: { S: live.id } },
        UpdateExpression: "SET email = :email",
        ExpressionAttributeValues: { ":email": { S: "new-owner@example.com" } },
      }),
    );
  }
  for (const product of products.filter((p) => p.fate === "deleted")) {
    await dynamodb.send(new DeleteItemCommand({ TableName: table, Key: { productId: { S: product.id } } }));
  }

  const remaining = products.filter((product) => product.fate === "live").length;
  await waitForItemCount(dynamodb, table, remaining);

  sent.clear();
  const { lines, logger } = quietLogger();
  const handler = createCleanupHandler({ ...options, bucket, s3Client: s3, logger } as CleanupOptions);
  const report = await runStream({ client: streams, streamArn, handler, idleTimeoutMs: 1000 });
  return { report, sent, lines, left: await listKeys(s3, bucket) };
}

const imagesOf = (products: Product[], fates: Product["fate"][]) =>
  products.filter((product) => fates.includes(product.fate)).flatMap((product) => product.images);

describe.concurrent("the whole path: TTL expiry → stream → handler → S3", () => {
  it("deletes expired items' objects from a KEYS_ONLY stream with a template", async () => {
    // Prepare
    const products: Product[] = [
      ...["a", "b", "c"].map((id): Product => ({ id, fate: "expired", images: [`${id}.png`] })),
      ...["d", "e"].map((id): Product => ({ id, fate: "live", images: [`${id}.png`] })),
    ];

    // Act
    const { left, lines, sent, report } = await scenario("KEYS_ONLY", products, { key: "{productId}.png" });

    // Assess
    expect(left).toEqual(imagesOf(products, ["live"]).sort());
    // One DeleteObjects per batch that held removals: DynamoDB Local may page the stream.
    expect(sent.get("DeleteObjectsCommand")).toBeGreaterThan(0);
    expect(sent.get("DeleteObjectsCommand")).toBeLessThanOrEqual(report.batches);
    expect(lines.filter((line) => line.level === "warn")).toEqual([]);
  });

  it("deletes every key an OLD_IMAGE attribute lists, with { attribute }", async () => {
    // Prepare
    const products: Product[] = [
      { id: "a", fate: "expired", images: ["a/front.png", "a/back.png"] },
      { id: "b", fate: "expired", images: ["b/front.png"] },
      { id: "c", fate: "expired", images: [] },
      { id: "d", fate: "live", images: ["d/front.png", "d/back.png"] },
    ];

    // Act
    const { left, lines } = await scenario("OLD_IMAGE", products, { key: { attribute: "imageKeys" } });

    // Assess
    expect(left).toEqual(imagesOf(products, ["live"]).sort());
    const summaries = lines.filter((line) => line.message === "dynamodb-s3-cleanup summary");
    expect(summaries.reduce((sum, line) => sum + Number(line.attributes.withoutObjects), 0)).toBe(1);
    expect(JSON.stringify(lines)).not.toContain("owner@example.com");
  });

  it('with removals: "ttl", deletes only what TTL removed, not what users deleted', async () => {
    // Prepare
    const products: Product[] = [
      { id: "a", fate: "expired", images: ["a.png"] },
      { id: "b", fate: "deleted", images: ["b.png"] },
      { id: "c", fate: "expired", images: ["c.png"] },
      { id: "d", fate: "deleted", images: ["d.png"] },
      { id: "e", fate: "live", images: ["e.png"] },
    ];

    // Act
    const { left } = await scenario("KEYS_ONLY", products, { key: "{productId}.png", removals: "ttl" });

    // Assess
    expect(left).toEqual(imagesOf(products, ["live", "deleted"]).sort());
  });
});

describe("the stream runner on DynamoDB Local", () => {
  it("redelivers from a record that fails twice, and never the records before it", async () => {
    // Prepare
    const dynamodb = new DynamoDBClient(localClientConfig(inject("dynamodbEndpoint")));
    const streams = new DynamoDBStreamsClient(localClientConfig(inject("dynamodbEndpoint")));
    const table = `runner-${randomUUID().slice(0, 8)}`;
    const streamArn = await createProductsTable(dynamodb, table, "KEYS_ONLY", "ttl");
    const ids = ["a", "b", "c", "d", "e"];
    for (const id of ids) {
      await dynamodb.send(new PutItemCommand({ TableName: table, Item: { productId: { S: id } } }));
    }
    const deliveries: string[][] = [];
    let failuresLeft = 2;
    const handler = async (event: StreamEvent): Promise<BatchResponse> => {
      const delivered = event.Records.map((record) => record.dynamodb?.Keys?.productId?.S ?? "?");
      deliveries.push(delivered);
      const third = event.Records.find((record) => record.dynamodb?.Keys?.productId?.S === "c");
      if (third !== undefined && failuresLeft > 0) {
        failuresLeft--;
        return { batchItemFailures: [{ itemIdentifier: third.dynamodb?.SequenceNumber as string }] };
      }
      return { batchItemFailures: [] };
    };

    // Act
    const report = await runStream({ client: streams, streamArn, handler, idleTimeoutMs: 1000 });

    // Assess
    expect(deliveries).toEqual([ids, ["c", "d", "e"], ["c", "d", "e"]]);
    expect(report).toMatchObject({ batches: 3, retries: 2, discarded: [] });
  });
});
