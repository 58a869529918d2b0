/**
 * One handler, three sources: a DynamoDB stream, Kinesis Data Streams for DynamoDB and EventBridge
 * Pipes deliver the same records in different shapes, and the handler tells them apart per
 * invocation. dynamodb-s3-cleanup/testing builds all three from the same records, so a test can run
 * them through each.
 */
import { createCleanupHandler } from "dynamodb-s3-cleanup";
import { createRecordFactory, kinesisEvent, pipesEvent, streamEvent } from "dynamodb-s3-cleanup/testing";

const handler = createCleanupHandler({ bucket: "product-images", key: "{productId}.png" });

/** The number of batchItemFailures each source's event gets for the same removal: none. */
export async function failuresPerSource(): Promise<number[]> {
  const { removeRecord } = createRecordFactory({ tableName: "products" });
  const records = [removeRecord({ keys: { productId: "p-1" } })];
  const failures: number[] = [];
  for (const event of [streamEvent(...records), kinesisEvent(records), pipesEvent(records)]) {
    const { batchItemFailures } = await handler(event);
    // Identifiers: dynamodb.SequenceNumber, kinesis.sequenceNumber, eventID.
    failures.push(batchItemFailures.length);
  }
  return failures;
}
