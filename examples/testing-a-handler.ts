/**
 * dynamodb-s3-cleanup/testing in a user's own tests: realistic stream records built from plain
 * items, and a local event source mapping that feeds a real stream (here DynamoDB Local) to the handler.
 */
import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import { createCleanupHandler } from "dynamodb-s3-cleanup";
import { createRecordFactory, runStream, streamEvent } from "dynamodb-s3-cleanup/testing";

const handler = createCleanupHandler({ bucket: "product-images", key: "{productId}.png" });

// Records: one factory per test gives the same sequence numbers (and eventIDs) on every run.
const { removeRecord, ttlRemoveRecord, modifyRecord } = createRecordFactory({ tableName: "products" });

export async function cleansUpOnlyRemovedProducts() {
  const event = streamEvent(
    ttlRemoveRecord({ keys: { productId: "p-1" }, oldImage: { productId: "p-1", expiresAt: 1_700_000_000 } }),
    removeRecord({ keys: { productId: "p-2" } }),
    modifyRecord({ keys: { productId: "p-3" }, newImage: { productId: "p-3", price: 7.49 } }),
  );
  const response = await handler(event);
  // Expect DeleteObjects for p-1.png and p-2.png only, and no batchItemFailures.
  return response.batchItemFailures.length === 0;
}

// A real stream: what Lambda's event source mapping would deliver, batch by batch.
export async function drainStream(streamArn: string) {
  const report = await runStream({
    client: new DynamoDBStreamsClient({ endpoint: "http://127.0.0.1:8000", region: "us-east-1" }),
    streamArn,
    handler,
    maxRetries: 2,
    onBatch: ({ shardId, records, attempt, failedSequenceNumber }) =>
      console.log(`${shardId}: ${records} records, attempt ${attempt}, failed from ${failedSequenceNumber ?? "-"}`),
  });
  return report.discarded.length === 0 && report.unfinished.length === 0;
}
