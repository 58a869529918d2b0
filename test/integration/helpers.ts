/** Shared set-up for integration tests against the local servers. */
import { randomUUID } from "node:crypto";
import {
  CreateTableCommand,
  type DynamoDBClient,
  PutItemCommand,
  type ScalarAttributeType,
  ScanCommand,
  type StreamViewType,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import {
  CreateBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketPolicyCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { localClientConfig } from "../services/index.js";

/** An S3 client on moto at `endpoint` that counts the commands it sends, by name. */
export function countingS3Client(endpoint: string): { s3: S3Client; sent: Map<string, number> } {
  const s3 = new S3Client({ ...localClientConfig(endpoint), forcePathStyle: true });
  const sent = new Map<string, number>();
  s3.middlewareStack.add(
    (next, context) => (args) => {
      const name = context.commandName ?? "unknown";
      sent.set(name, (sent.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: "initialize", name: "countCommands" },
  );
  return { s3, sent };
}

/**
 * Creates a products table (partition key `productId`) with a stream and TTL on `ttlAttribute`, and
 * returns its stream ARN.
 */
export async function createProductsTable(
  dynamodb: DynamoDBClient,
  table: string,
  view: StreamViewType,
  ttlAttribute: string,
): Promise<string> {
  const { TableDescription } = await dynamodb.send(
    new CreateTableCommand({
      TableName: table,
      KeySchema: [{ AttributeName: "productId", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "productId", AttributeType: "S" }],
      BillingMode: "PAY_PER_REQUEST",
      StreamSpecification: { StreamEnabled: true, StreamViewType: view },
    }),
  );
  await dynamodb.send(
    new UpdateTimeToLiveCommand({
      TableName: table,
      TimeToLiveSpecification: { Enabled: true, AttributeName: ttlAttribute },
    }),
  );
  return TableDescription?.LatestStreamArn as string;
}

/**
 * Creates a products table without a stream, its partition key `productId` of `type`, with an item
 * for each of `ids`, and returns its name.
 */
export async function createItemsTable(
  dynamodb: DynamoDBClient,
  type: ScalarAttributeType,
  ids: readonly string[],
): Promise<string> {
  const table = `products-${type}-${Math.random().toString(36).slice(2, 10)}`;
  await dynamodb.send(
    new CreateTableCommand({
      TableName: table,
      KeySchema: [{ AttributeName: "productId", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "productId", AttributeType: type }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  for (const id of ids) await putProduct(dynamodb, table, type, id);
  return table;
}

/** Writes the item `{ productId: id }` (a string or a number, by `type`). */
export function putProduct(dynamodb: DynamoDBClient, table: string, type: ScalarAttributeType, id: string) {
  return dynamodb.send(new PutItemCommand({ TableName: table, Item: { productId: { [type]: id } as never } }));
}

/**
 * Waits until DynamoDB Local's TTL sweeper has left `count` items in the table (it removes expired
 * items 1.5 to 12 s after their time), and returns how long that took in ms.
 */
export async function waitForItemCount(
  dynamodb: DynamoDBClient,
  table: string,
  count: number,
  timeoutMs = 45_000,
): Promise<number> {
  const started = Date.now();
  while ((await dynamodb.send(new ScanCommand({ TableName: table, Select: "COUNT" }))).Count !== count) {
    if (Date.now() - started > timeoutMs) {
      throw new Error(`DynamoDB Local's TTL sweeper did not leave ${count} items in ${table} within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return Date.now() - started;
}

/** Creates a bucket with a fresh name. */
export async function createBucket(s3: S3Client, prefix = "it"): Promise<string> {
  const bucket = `${prefix}-${randomUUID().slice(0, 8)}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

/** Uploads a small object under each key, a few at a time. */
export async function putObjects(s3: S3Client, bucket: string, keys: readonly string[]): Promise<void> {
  for (let start = 0; start < keys.length; start += 50) {
    await Promise.all(
      keys
        .slice(start, start + 50)
        .map((key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }))),
    );
  }
}

async function lastModified(s3: S3Client, bucket: string, key: string): Promise<number> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return (head.LastModified as Date).getTime();
}

/**
 * Uploads `old` keys, then (in a later second, as S3 times objects to the second) the `young` ones,
 * and returns the clock and `minAgeMs` that make the old ones old enough and the young ones not.
 */
export async function seedOldAndYoung(s3: S3Client, bucket: string, old: readonly string[], young: readonly string[]) {
  await putObjects(s3, bucket, old);
  const oldTime = Math.max(...(await Promise.all(old.map((key) => lastModified(s3, bucket, key)))));
  while (Math.floor(Date.now() / 1000) <= Math.floor(oldTime / 1000)) await new Promise((r) => setTimeout(r, 50));
  await putObjects(s3, bucket, young);
  const youngTime = Math.min(...(await Promise.all(young.map((key) => lastModified(s3, bucket, key)))));
  // "Now" is the young objects' time; the old ones are older than minAgeMs, the young ones are not.
  return { now: () => youngTime, minAgeMs: youngTime - oldTime };
}

/** Every key in a bucket. */
export async function listKeys(s3: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ""));
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return keys.sort();
}

/** Denies s3:DeleteObject on one prefix of a bucket, for everyone. */
export async function denyDeletes(s3: S3Client, bucket: string, prefix: string): Promise<void> {
  const policy = {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Deny",
        Principal: "*",
        Action: "s3:DeleteObject",
        Resource: `arn:aws:s3:::${bucket}/${prefix}*`,
      },
    ],
  };
  await s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }));
}

/** A logger that keeps quiet and keeps its lines. */
export function quietLogger() {
  const lines: { level: string; message: string; attributes: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, attributes: Record<string, unknown>) => {
    lines.push({ level, message, attributes });
  };
  return { lines, logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") } };
}
