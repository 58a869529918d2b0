/**
 * The runner's on-failure destinations on real servers: DynamoDB Local's stream feeds a handler that
 * always fails one record, and after the retries the batch's record lands in a moto SQS queue or S3
 * bucket, in the format the replay side reads.
 */
import { randomUUID } from "node:crypto";
import { DeleteItemCommand, DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, inject, it } from "vitest";
import { failureMessagesOf, failureObjectOf } from "../../src/failure-destination-records.js";
import type { BatchResponse, StreamEvent } from "../../src/index.js";
import { type OnFailureDestination, runStream } from "../../src/testing/index.js";
import { localClientConfig } from "../services/index.js";
import { createBucket, createProductsTable } from "./helpers.js";

/**
 * Writes three products and deletes them, then runs the stream through a handler that fails the
 * REMOVE of p-2 every time: after one retry, the records from there to the end of its batch are
 * discarded to `destination`.
 */
async function discardOneBatch(destination: OnFailureDestination) {
  const dynamodb = new DynamoDBClient(localClientConfig(inject("dynamodbEndpoint")));
  const streams = new DynamoDBStreamsClient(localClientConfig(inject("dynamodbEndpoint")));
  const table = `products-${randomUUID().slice(0, 8)}`;
  const streamArn = await createProductsTable(dynamodb, table, "KEYS_ONLY", "ttl");
  const ids = ["p-1", "p-2", "p-3"];
  for (const id of ids) await dynamodb.send(new PutItemCommand({ TableName: table, Item: { productId: { S: id } } }));
  for (const id of ids) await dynamodb.send(new DeleteItemCommand({ TableName: table, Key: { productId: { S: id } } }));
  const isFailing = (record: StreamEvent["Records"][number]) =>
    record.eventName === "REMOVE" && record.dynamodb?.Keys?.productId?.S === "p-2";

  const report = await runStream({
    client: streams,
    streamArn,
    maxRetries: 1,
    idleTimeoutMs: 1000,
    pollIntervalMs: 50,
    handler: (event): BatchResponse => ({
      batchItemFailures: event.Records.filter(isFailing).map((record) => ({
        itemIdentifier: record.dynamodb?.SequenceNumber as string,
      })),
    }),
    onFailure: destination,
  });

  expect(report.discarded).toHaveLength(1);
  const [discarded] = report.discarded;
  expect(discarded?.writeError).toBeUndefined();
  expect(discarded?.records[0] && isFailing(discarded.records[0])).toBe(true);
  return { streamArn, discarded: discarded as NonNullable<typeof discarded> };
}

describe("runStream's onFailure on real servers", () => {
  it("sends the discarded batch's record to a moto SQS queue, and failureMessagesOf reads its shard and range", async () => {
    // Prepare
    const sqs = new SQSClient(localClientConfig(inject("motoEndpoint")));
    const { QueueUrl: queueUrl } = await sqs.send(
      new CreateQueueCommand({ QueueName: `cleanup-failures-${randomUUID().slice(0, 8)}` }),
    );

    // Act
    const { streamArn, discarded } = await discardOneBatch({ queueUrl: queueUrl as string, client: sqs });

    // Assess
    const { Messages: messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(messages.map((message) => message.MessageId)).toEqual([
      discarded.writtenTo && "messageId" in discarded.writtenTo ? discarded.writtenTo.messageId : "none",
    ]);
    const [read] = failureMessagesOf({
      Records: messages.map((message) => ({
        messageId: message.MessageId,
        eventSource: "aws:sqs",
        body: message.Body,
      })),
    });
    expect(read).toMatchObject({
      batch: {
        source: "dynamodb-streams",
        discardedBy: "event-source-mapping",
        streamArn,
        shardId: discarded.shardId,
        startSequenceNumber: discarded.firstSequenceNumber,
        endSequenceNumber: discarded.lastSequenceNumber,
        batchSize: discarded.records.length,
        condition: "RetryAttemptsExhausted",
      },
    });
  });

  it("puts the discarded batch's record, records included, in a moto S3 bucket under Lambda's key layout", async () => {
    // Prepare
    const s3 = new S3Client({ ...localClientConfig(inject("motoEndpoint")), forcePathStyle: true });
    const bucket = await createBucket(s3, "failures");
    const mappingUuid = randomUUID();

    // Act
    const { streamArn, discarded } = await discardOneBatch({ bucket, client: s3, mappingUuid });

    // Assess
    const { Contents: objects = [] } = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    const keys = objects.map((object) => object.Key ?? "");
    expect(keys).toEqual([discarded.writtenTo && "key" in discarded.writtenTo ? discarded.writtenTo.key : "none"]);
    const key = keys[0] as string;
    expect(key.startsWith(`aws/lambda/${mappingUuid}/${discarded.shardId}/`)).toBe(true);
    const { Body: body } = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const object = failureObjectOf(key, (await body?.transformToString()) ?? "");
    expect(object.batch).toMatchObject({
      streamArn,
      shardId: discarded.shardId,
      startSequenceNumber: discarded.firstSequenceNumber,
      endSequenceNumber: discarded.lastSequenceNumber,
      batchSize: discarded.records.length,
    });
    expect(object.event.Records).toEqual(discarded.records);
  });
});
