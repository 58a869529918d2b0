/**
 * An existing stream Lambda that already does other work per record, and uses the library's parts
 * for the S3 cleanup: parse, map keys, delete in batches, and report partial failures itself.
 */
import { S3Client } from "@aws-sdk/client-s3";
import type { DynamoDBBatchResponse, DynamoDBStreamHandler } from "aws-lambda";
import {
  compareSequenceNumbers,
  createBatchDeleter,
  createKeyMapper,
  type ObjectTarget,
  parseStreamRecords,
} from "dynamodb-s3-cleanup";

const s3Client = new S3Client({});
const mapKeys = createKeyMapper(["images/{productId}.png", "thumbnails/{productId}.webp"], { bucket: "product-media" });
const deleteObjects = createBatchDeleter({ s3Client, concurrency: 8 });

export const handler: DynamoDBStreamHandler = async (event, context): Promise<DynamoDBBatchResponse> => {
  const { removals, invalid } = parseStreamRecords(event, { removals: "ttl" });
  const failed = new Set<string>();
  for (const record of invalid) {
    // Without a sequence number the record cannot be reported: fail the whole batch instead.
    if (record.sequenceNumber === undefined) throw record.error;
    failed.add(record.sequenceNumber);
  }

  // Remember which records own which object, so that a failed delete fails all of them.
  const owners = new Map<string, string[]>();
  const targets: ObjectTarget[] = [];
  for (const item of removals) {
    try {
      for (const target of await mapKeys(item)) {
        const id = `${target.bucket}/${target.key}`;
        owners.set(id, [...(owners.get(id) ?? []), item.sequenceNumber]);
        targets.push(target);
      }
    } catch {
      failed.add(item.sequenceNumber);
    }
  }

  // Stop 2 s before the function's timeout: what is cut off comes back failed, and is retried.
  const report = await deleteObjects(targets, {
    signal: AbortSignal.timeout(context.getRemainingTimeInMillis() - 2000),
  });
  for (const { target } of report.failed) {
    for (const owner of owners.get(`${target.bucket}/${target.key}`) ?? []) failed.add(owner);
  }

  return {
    batchItemFailures: [...failed].sort(compareSequenceNumbers).map((itemIdentifier) => ({ itemIdentifier })),
  };
};
