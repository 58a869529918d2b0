/**
 * `npm run demo`: the story this library exists for, on local servers it starts and stops itself.
 *
 * A products table with TTL and a KEYS_ONLY stream, and a bucket with `{productId}.png` for each
 * product. Some products have expired; DynamoDB Local's TTL sweeper removes them, the stream runner
 * feeds the stream to a one-line handler, and the expired products' images disappear while the
 * live ones stay. Exits non-zero when that is not what happened.
 */

import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { createCleanupHandler } from "dynamodb-s3-cleanup";
import { runStream } from "dynamodb-s3-cleanup/testing";
import { createProductsTable, listKeys, waitForItemCount } from "../test/integration/helpers.js";
import { type LocalServices, localClientConfig, startLocalServices } from "../test/services/index.js";

const bucket = "product-images";
const table = "products";
const expired = ["p-101", "p-102", "p-103", "p-104", "p-105"];
const live = ["p-201", "p-202", "p-203", "p-204"];

const say = (line = "") => process.stdout.write(`${line}\n`);
const bucketListing = (keys: readonly string[]) => (keys.length === 0 ? "(empty)" : keys.join("  "));

async function main(): Promise<boolean> {
  const started = Date.now();
  // The SDK warns that releases after January 2027 need Node 22; the demo runs on Node 20 too.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  say("dynamodb-s3-cleanup demo: TTL-expired products take their images with them\n");
  say("Starting moto (S3) and DynamoDB Local (tables, streams, TTL) on 127.0.0.1 ...");
  let services: LocalServices;
  try {
    services = await startLocalServices();
  } catch (error) {
    say(`\nCannot start the demo: ${(error as Error).message}`);
    return false;
  }
  const stop = () => {
    void services.stop().finally(() => process.exit(130));
  };
  process.once("SIGINT", stop);
  try {
    say(`  moto ${services.moto.endpoint}, DynamoDB Local ${services.dynamodbLocal.endpoint}\n`);
    const s3Client = new S3Client({ ...localClientConfig(services.moto.endpoint), forcePathStyle: true });
    const dynamodb = new DynamoDBClient(localClientConfig(services.dynamodbLocal.endpoint));
    const streams = new DynamoDBStreamsClient(localClientConfig(services.dynamodbLocal.endpoint));

    // The app's side: a table with TTL and a KEYS_ONLY stream, a bucket, items and their images.
    const streamArn = await createProductsTable(dynamodb, table, "KEYS_ONLY", "expiresAt");
    await s3Client.send(new CreateBucketCommand({ Bucket: bucket }));
    const now = Math.floor(Date.now() / 1000);
    for (const productId of [...expired, ...live]) {
      const expiresAt = expired.includes(productId) ? now - 3600 : now + 86_400;
      await dynamodb.send(
        new PutItemCommand({
          TableName: table,
          Item: { productId: { S: productId }, expiresAt: { N: String(expiresAt) }, price: { N: "9.99" } },
        }),
      );
      await s3Client.send(new PutObjectCommand({ Bucket: bucket, Key: `${productId}.png`, Body: "png" }));
    }
    // A live product changes price: a MODIFY record, which must delete nothing.
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { productId: { S: live[0] as string } },
        UpdateExpression: "SET price = :price",
        ExpressionAttributeValues: { ":price": { N: "7.49" } },
      }),
    );
    say(`Table "${table}": ${expired.length} products past their TTL, ${live.length} live (stream: KEYS_ONLY)`);
    say(`Bucket "${bucket}" before: ${bucketListing(await listKeys(s3Client, bucket))}\n`);

    say("Waiting for DynamoDB Local's TTL sweeper to remove the expired products ...");
    const sweptMs = await waitForItemCount(dynamodb, table, live.length, 40_000);
    say(`  removed after ${(sweptMs / 1000).toFixed(1)} s\n`);

    // The library's side: the one-line handler, fed by a local event source mapping.
    const handler = createCleanupHandler({ bucket, key: "{productId}.png", s3Client, logger: summaryOnly() });
    say('Feeding the stream to createCleanupHandler({ bucket, key: "{productId}.png" }):');
    const report = await runStream({
      client: streams,
      streamArn,
      handler,
      batchSize: 100,
      idleTimeoutMs: 1500,
      onBatch: (batch) => {
        const failures = batch.response?.batchItemFailures.length ?? "error";
        say(`  batch of ${batch.records} records (shard ${batch.shardId.slice(-8)}): batchItemFailures ${failures}`);
      },
    });
    say(`  ${report.batches} batch(es), ${report.records} records, ${report.retries} retries\n`);

    const after = await listKeys(s3Client, bucket);
    say(`Bucket "${bucket}" after: ${bucketListing(after)}\n`);
    const expiredLeft = expired.filter((id) => after.includes(`${id}.png`));
    const liveGone = live.filter((id) => !after.includes(`${id}.png`));
    const ok = expiredLeft.length === 0 && liveGone.length === 0;
    say(
      ok
        ? `PASS: all ${expired.length} expired products' images were deleted; all ${live.length} live ones are kept.`
        : `FAIL: expired images left: [${expiredLeft.join(", ")}]; live images deleted: [${liveGone.join(", ")}]`,
    );
    say(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return ok;
  } finally {
    process.off("SIGINT", stop);
    await services.stop();
  }
}

/** Prints the handler's one summary line per invocation; keeps the rest quiet. */
function summaryOnly() {
  const ignore = () => {};
  return {
    debug: ignore,
    info: (message: string, attributes: Record<string, unknown>) => {
      if (message === "dynamodb-s3-cleanup summary") {
        const { removals, skipped, targets, deleted, failed } = attributes;
        say(
          `    handler: ${removals} removals, ${skipped} skipped (INSERT/MODIFY), ${targets} objects, ${deleted} deleted, ${failed} failed`,
        );
      }
    },
    warn: (message: string, attributes: Record<string, unknown>) =>
      say(`    warn: ${message} ${JSON.stringify(attributes)}`),
    error: (message: string, attributes: Record<string, unknown>) =>
      say(`    error: ${message} ${JSON.stringify(attributes)}`),
  };
}

main().then(
  (ok) => {
    process.exitCode = ok ? 0 : 1;
  },
  (error: unknown) => {
    say(`\nThe demo failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
