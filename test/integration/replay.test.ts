/**
 * The replay loop on real servers: DynamoDB Local's stream feeds createCleanupHandler through the
 * stream runner while a bucket policy on moto denies the deletes, so the batch is discarded to a moto
 * SQS queue in Lambda's on-failure format. The replay handler then gets that queue's messages as
 * Lambda's SQS event source mapping would deliver them, re-reads the range from DynamoDB Local (or
 * moto's Kinesis), checks the table with BatchGetItem, and deletes on moto's S3.
 */
import { randomUUID } from "node:crypto";
import { DeleteItemCommand, DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from "@aws-sdk/client-dynamodb-streams";
import {
  CreateStreamCommand,
  DescribeStreamCommand as DescribeKinesisStreamCommand,
  KinesisClient,
  PutRecordCommand,
} from "@aws-sdk/client-kinesis";
import {
  DeleteBucketPolicyCommand,
  GetObjectCommand,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { describe, expect, inject, it } from "vitest";
import {
  type BatchResponse,
  createCleanupHandler,
  createReplayHandler,
  emfMetrics,
  type ReplayEvent,
  type ReplayOptions,
  type ReplaySummary,
} from "../../src/index.js";
import { type ReplayCommandIo, replayHandlerFactory, runReplayCommand } from "../../src/replay-cli.js";
import { runStream } from "../../src/testing/index.js";
import { localClientConfig } from "../services/index.js";
import { createBucket, createProductsTable, denyDeletes, listKeys, putObjects, quietLogger } from "./helpers.js";

const KEY = "images/{productId}.png";
const imageOf = (id: string) => `images/${id}.png`;
/** An object no removed item maps to: no replay may touch it. */
const STRANGER = "notes/readme.txt";

/** Clients for every server the replay talks to, each passed explicitly. */
function clients() {
  const moto = inject("motoEndpoint");
  const ddbLocal = inject("dynamodbEndpoint");
  return {
    s3: new S3Client({ ...localClientConfig(moto), forcePathStyle: true }),
    sqs: new SQSClient(localClientConfig(moto)),
    // moto's Kinesis answers HTTP/1.1 only; the Kinesis client's default handler speaks HTTP/2.
    kinesis: new KinesisClient({ ...localClientConfig(moto), requestHandler: new NodeHttpHandler() }),
    dynamodb: new DynamoDBClient(localClientConfig(ddbLocal)),
    streams: new DynamoDBStreamsClient(localClientConfig(ddbLocal)),
  };
}

type Clients = ReturnType<typeof clients>;

/** A new moto SQS queue with a fresh name; its URL. */
async function createQueue(sqs: SQSClient, prefix: string): Promise<string> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${prefix}-${randomUUID().slice(0, 8)}` }));
  return QueueUrl as string;
}

/** An SQS message as Lambda's SQS event source mapping puts it in the event. */
interface SqsEventRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  eventSource: "aws:sqs";
}

/**
 * Receives `expected` messages from the queue (or what arrives within ten tries), as the records of
 * an SQS event. They stay in flight until deleted, as with Lambda's event source mapping.
 */
async function receive(sqs: SQSClient, queueUrl: string, expected: number): Promise<SqsEventRecord[]> {
  const records: SqsEventRecord[] = [];
  for (let tries = 0; tries < 10 && records.length < expected; tries++) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    for (const message of Messages) {
      records.push({
        messageId: message.MessageId as string,
        receiptHandle: message.ReceiptHandle as string,
        body: message.Body as string,
        eventSource: "aws:sqs",
      });
    }
  }
  expect(records).toHaveLength(expected);
  return records;
}

/**
 * What Lambda's SQS event source mapping does with `ReportBatchItemFailures` after an invocation:
 * deletes every message not named in `batchItemFailures`, and leaves the others in the queue.
 */
async function settle(sqs: SQSClient, queueUrl: string, records: SqsEventRecord[], response: BatchResponse) {
  const failed = new Set(response.batchItemFailures?.map((failure) => failure.itemIdentifier));
  for (const record of records.filter((each) => !failed.has(each.messageId))) {
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: record.receiptHandle }));
  }
}

/** Messages still in the queue, visible or in flight. */
async function messagesIn(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible);
}

const failuresOf = (response: BatchResponse) =>
  (response.batchItemFailures ?? []).map((failure) => failure.itemIdentifier).sort();

interface Discarded {
  bucket: string;
  table: string;
  streamArn: string;
  /** The queue the on-failure destination's messages arrive in. */
  queueUrl: string;
  /** The messages received from it, in flight: for an SQS destination, the one on-failure record. */
  messages: SqsEventRecord[];
  /** The message that holds the on-failure record, or (S3 destination) announces its object. */
  message: SqsEventRecord;
}

/**
 * Writes products p-1 to p-4 and their images, deletes p-1 to p-3, and runs the stream through
 * createCleanupHandler while a bucket policy denies deleting images: after one retry the batch is
 * discarded, to a new moto SQS queue (`via: "sqs"`), or to a bucket whose event notifications go to
 * that queue (`via: "s3"`). Then the policy is lifted, and the queue's messages received.
 */
async function discardedBatch(world: Clients, via: "sqs" | "s3" = "sqs"): Promise<Discarded> {
  const { s3, sqs, dynamodb, streams } = world;
  const bucket = await createBucket(s3, "replay");
  const table = `products-${randomUUID().slice(0, 8)}`;
  const streamArn = await createProductsTable(dynamodb, table, "KEYS_ONLY", "ttl");
  const queueUrl = await createQueue(sqs, "cleanup-failures");
  const ids = ["p-1", "p-2", "p-3", "p-4"];
  const removed = ids.slice(0, 3);
  await putObjects(s3, bucket, [...ids.map(imageOf), STRANGER]);
  for (const id of ids) await dynamodb.send(new PutItemCommand({ TableName: table, Item: { productId: { S: id } } }));
  for (const id of removed) {
    await dynamodb.send(new DeleteItemCommand({ TableName: table, Key: { productId: { S: id } } }));
  }
  await denyDeletes(s3, bucket, "images/");

  const { logger } = quietLogger();
  const report = await runStream({
    client: streams,
    streamArn,
    handler: createCleanupHandler({ key: KEY, bucket, s3Client: s3, logger }),
    maxRetries: 1,
    idleTimeoutMs: 1000,
    pollIntervalMs: 50,
    onFailure:
      via === "sqs" ? { queueUrl, client: sqs } : { bucket: await notifyingBucket(world, queueUrl), client: s3 },
  });

  expect(report.discarded).toHaveLength(1);
  expect(report.discarded[0]?.writeError).toBeUndefined();
  const discardedIds = report.discarded[0]?.records.flatMap((record) =>
    record.eventName === "REMOVE" ? [record.dynamodb?.Keys?.productId?.S] : [],
  );
  expect(discardedIds).toEqual(removed);
  await s3.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
  expect(await listKeys(s3, bucket)).toEqual([...ids.map(imageOf), STRANGER].sort());
  // S3 sends its test event when the notification is configured, then one per object.
  const messages = await receive(sqs, queueUrl, via === "sqs" ? 1 : 2);
  const message = messages.find((each) => !each.body.includes("s3:TestEvent")) as SqsEventRecord;
  return { bucket, table, streamArn, queueUrl, messages, message };
}

/** A bucket for an S3 on-failure destination, whose ObjectCreated notifications go to the queue. */
async function notifyingBucket(world: Clients, queueUrl: string): Promise<string> {
  const bucket = await createBucket(world.s3, "failures");
  const { Attributes = {} } = await world.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
  );
  await world.s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: {
        QueueConfigurations: [{ QueueArn: Attributes.QueueArn as string, Events: ["s3:ObjectCreated:*"] }],
      },
    }),
  );
  return bucket;
}

/** A replay handler on the local servers, with a recording logger, its summaries and its EMF lines. */
function replayer(world: Clients, bucket: string, options: Partial<ReplayOptions> = {}) {
  const { lines, logger } = quietLogger();
  const summaries: ReplaySummary[] = [];
  const emfLines: string[] = [];
  const emf = emfMetrics({ namespace: "ReplayIntegration", write: (line) => emfLines.push(line) });
  const handler = createReplayHandler({
    key: KEY,
    bucket,
    s3Client: world.s3,
    streamsClient: world.streams,
    kinesisClient: world.kinesis,
    dynamoDbClient: world.dynamodb,
    logger,
    onResult: (summary) => {
      summaries.push(summary);
      emf(summary);
    },
    ...options,
  } as ReplayOptions);
  const metrics = () => emfLines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { handler, lines, summaries, metrics };
}

const eventOf = (records: SqsEventRecord[]): ReplayEvent => ({ Records: records });

describe("replaying a batch the stream runner discarded to moto's SQS", () => {
  it("deletes exactly the discarded batch's objects once the deletes are allowed, and leaves the queue empty", async () => {
    // Prepare
    const world = clients();
    const { bucket, queueUrl, message } = await discardedBatch(world);
    const { handler, summaries } = replayer(world, bucket);

    // Act
    const response = await handler(eventOf([message]));
    await settle(world.sqs, queueUrl, [message], response);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await listKeys(world.s3, bucket)).toEqual([imageOf("p-4"), STRANGER].sort());
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({
      messages: 1,
      batches: 1,
      unreplayableBatches: 0,
      removals: 3,
      deleted: 3,
      failed: 0,
      keptRecreated: 0,
      batchItemFailures: 0,
    });
    expect(await messagesIn(world.sqs, queueUrl)).toBe(0);
  });

  it("is drained by the replay command, which exits with 0 and leaves the queue empty", async () => {
    // Prepare: the message back in the queue, as the command finds it.
    const world = clients();
    const { bucket, queueUrl, message } = await discardedBatch(world);
    await world.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: message.receiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    const stdout: string[] = [];
    const io: ReplayCommandIo = {
      env: {},
      readFile: async () => JSON.stringify({ bucket, key: KEY }),
      stdout: (text) => stdout.push(text),
      stderr: () => {},
      stderrIsTty: false,
      // The command's own factory, with the clients of the local servers added to the file's options.
      createHandler: replayHandlerFactory({
        fromOptions: (options) =>
          createReplayHandler({
            ...(options as ReplayOptions),
            s3Client: world.s3,
            streamsClient: world.streams,
            dynamoDbClient: world.dynamodb,
          }),
        fromEnv: () => {
          throw new Error("the test gives --config");
        },
      }),
      sqsClient: world.sqs,
      onInterrupt: () => () => {},
      waitTimeSeconds: 1,
    };

    // Act
    const code = await runReplayCommand(["--queue-url", queueUrl, "--config", "replay.json", "--concurrency", "1"], io);

    // Assess
    expect(code).toBe(0);
    expect(await listKeys(world.s3, bucket)).toEqual([imageOf("p-4"), STRANGER].sort());
    expect(await messagesIn(world.sqs, queueUrl)).toBe(0);
    expect(stdout.join("")).toMatch(/^ {2}objects deleted +3$/m);
  });

  it("keeps the new object of an item written again under the same key since its REMOVE", async () => {
    // Prepare
    const world = clients();
    const { bucket, table, message } = await discardedBatch(world);
    await world.dynamodb.send(new PutItemCommand({ TableName: table, Item: { productId: { S: "p-2" } } }));
    await world.s3.send(new PutObjectCommand({ Bucket: bucket, Key: imageOf("p-2"), Body: "the new p-2" }));
    const { handler, summaries } = replayer(world, bucket);

    // Act
    const response = await handler(eventOf([message]));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await listKeys(world.s3, bucket)).toEqual([imageOf("p-2"), imageOf("p-4"), STRANGER].sort());
    const { Body } = await world.s3.send(new GetObjectCommand({ Bucket: bucket, Key: imageOf("p-2") }));
    expect(await Body?.transformToString()).toBe("the new p-2");
    expect(summaries[0]).toMatchObject({ keptRecreated: 1, deleted: 2, failed: 0, batchItemFailures: 0 });
  });

  it("is harmless when the same message is replayed twice", async () => {
    // Prepare
    const world = clients();
    const { bucket, message } = await discardedBatch(world);
    const { handler, summaries } = replayer(world, bucket);
    await handler(eventOf([message]));
    const afterFirst = await listKeys(world.s3, bucket);
    await world.s3.send(new PutObjectCommand({ Bucket: bucket, Key: "images/p-9.png", Body: "unrelated" }));

    // Act
    const response = await handler(eventOf([message]));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(afterFirst).toEqual([imageOf("p-4"), STRANGER].sort());
    expect(await listKeys(world.s3, bucket)).toEqual([...afterFirst, "images/p-9.png"].sort());
    expect(summaries[1]).toMatchObject({ batches: 1, removals: 3, failed: 0, keptRecreated: 0, batchItemFailures: 0 });
  });
});

describe("ranges that cannot be read again", () => {
  /** The sequence number of the first record of the stream's only shard. */
  async function firstSequenceNumber(streams: DynamoDBStreamsClient, streamArn: string, shardId: string) {
    const { ShardIterator } = await streams.send(
      new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shardId, ShardIteratorType: "TRIM_HORIZON" }),
    );
    const { Records = [] } = await streams.send(new GetRecordsCommand({ ShardIterator, Limit: 1 }));
    return Records[0]?.dynamodb?.SequenceNumber as string;
  }

  it("reports them with an error line and the UnreplayableBatches metric, and never acknowledges them", async () => {
    // Prepare
    const world = clients();
    const { bucket, streamArn, queueUrl, message } = await discardedBatch(world);
    const record = JSON.parse(message.body) as { DDBStreamBatchInfo: Record<string, unknown> };
    const info = record.DDBStreamBatchInfo;
    const { StreamDescription } = await world.streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    const shardId = StreamDescription?.Shards?.[0]?.ShardId as string;
    const first = await firstSequenceNumber(world.streams, streamArn, shardId);
    // Passed back as the stream wrote it: 21 zero-padded digits.
    const beforeFirst = (BigInt(first) - 1n).toString().padStart(first.length, "0");
    const unknownShard = "shardId-00000000000000000000-00000000";
    for (const changed of [
      { ...info, startSequenceNumber: beforeFirst, endSequenceNumber: first },
      { ...info, shardId: unknownShard },
    ]) {
      await world.sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify({ ...record, DDBStreamBatchInfo: changed }),
        }),
      );
    }
    const records = await receive(world.sqs, queueUrl, 2);
    const [trimmed, lost] = [beforeFirst, unknownShard].map(
      (marker) => records.find((each) => each.body.includes(marker)) as SqsEventRecord,
    );
    const { handler, lines, summaries, metrics } = replayer(world, bucket);

    // Act
    const response = await handler(eventOf([message, ...records]));
    await settle(world.sqs, queueUrl, [message, ...records], response);

    // Assess
    expect(failuresOf(response)).toEqual([trimmed?.messageId, lost?.messageId].sort());
    expect(await listKeys(world.s3, bucket)).toEqual([imageOf("p-4"), STRANGER].sort());
    expect(summaries[0]).toMatchObject({ messages: 3, batches: 1, unreplayableBatches: 2, batchItemFailures: 2 });
    expect(metrics()).toEqual([expect.objectContaining({ UnreplayableBatches: 2, DeletedObjects: 3 })]);
    const errors = lines.filter((line) => line.level === "error");
    expect(errors).toHaveLength(2);
    expect(errors.every((line) => line.message.includes("reconcile"))).toBe(true);
    expect(errors.map((line) => line.attributes)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          messageId: trimmed?.messageId,
          shardId,
          startSequenceNumber: beforeFirst,
          endSequenceNumber: first,
          approximateArrivalOfFirstRecord: info.approximateArrivalOfFirstRecord,
          approximateArrivalOfLastRecord: info.approximateArrivalOfLastRecord,
          code: "ValidationException",
        }),
        expect.objectContaining({
          messageId: lost?.messageId,
          shardId: unknownShard,
          code: "ResourceNotFoundException",
        }),
      ]),
    );
    expect(await messagesIn(world.sqs, queueUrl)).toBe(2);
  });
});

/**
 * One call of SNS's query API on moto. The project has no SNS SDK client; moto takes the service
 * from the credential scope of the Authorization header and does not check the signature.
 */
async function sns(action: string, params: Record<string, string>): Promise<string> {
  const response = await fetch(inject("motoEndpoint"), {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization:
        "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0",
    },
    body: new URLSearchParams({ Action: action, Version: "2010-03-31", ...params }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`SNS ${action} answered HTTP ${response.status}: ${text}`);
  return text;
}

/** A moto SNS topic that delivers to the queue without raw message delivery: SQS gets the Notification envelope. */
async function topicInto(sqs: SQSClient, queueUrl: string): Promise<string> {
  const created = await sns("CreateTopic", { Name: `cleanup-failures-${randomUUID().slice(0, 8)}` });
  const topicArn = /<TopicArn>([^<]+)<\/TopicArn>/.exec(created)?.[1] as string;
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
  );
  await sns("Subscribe", { TopicArn: topicArn, Protocol: "sqs", Endpoint: Attributes.QueueArn as string });
  return topicArn;
}

describe("the other formats an on-failure queue receives", () => {
  it("replays a record in EventBridge Pipes' format", async () => {
    // Prepare
    const world = clients();
    const { bucket, message } = await discardedBatch(world);
    const lambdaRecord = JSON.parse(message.body) as Record<string, unknown>;
    const pipesRecord = {
      context: {
        partnerResourceArn: "arn:aws:pipes:us-east-1:000000000000:pipe/product-cleanup",
        condition: "RetryAttemptsExhausted",
        requestId: randomUUID(),
      },
      version: "1.0",
      timestamp: lambdaRecord.timestamp,
      DDBStreamBatchInfo: lambdaRecord.DDBStreamBatchInfo,
    };
    const pipesQueue = await createQueue(world.sqs, "pipe-dlq");
    await world.sqs.send(new SendMessageCommand({ QueueUrl: pipesQueue, MessageBody: JSON.stringify(pipesRecord) }));
    const records = await receive(world.sqs, pipesQueue, 1);
    const { handler, summaries } = replayer(world, bucket);

    // Act
    const response = await handler(eventOf(records));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await listKeys(world.s3, bucket)).toEqual([imageOf("p-4"), STRANGER].sort());
    expect(summaries[0]).toMatchObject({ batches: 1, deleted: 3, invalidMessages: 0 });
  });

  it("replays a record that reached the queue through an SNS topic, in its Notification envelope", async () => {
    // Prepare
    const world = clients();
    const { bucket, message } = await discardedBatch(world);
    const snsQueue = await createQueue(world.sqs, "via-sns");
    const topicArn = await topicInto(world.sqs, snsQueue);
    await sns("Publish", { TopicArn: topicArn, Message: message.body });
    const records = await receive(world.sqs, snsQueue, 1);
    const envelope = JSON.parse(records[0]?.body ?? "{}") as Record<string, unknown>;
    expect(envelope).toMatchObject({ Type: "Notification", TopicArn: topicArn, Message: message.body });
    const { handler, summaries } = replayer(world, bucket);

    // Act
    const response = await handler(eventOf(records));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await listKeys(world.s3, bucket)).toEqual([imageOf("p-4"), STRANGER].sort());
    expect(summaries[0]).toMatchObject({ batches: 1, deleted: 3, invalidMessages: 0 });
  });

  it("replays a batch an S3 destination stored, from the bucket's event notifications, S3's test event included", async () => {
    // Prepare
    const world = clients();
    const { bucket, queueUrl, messages, message } = await discardedBatch(world, "s3");
    expect(JSON.parse(message.body)).toMatchObject({
      Records: [{ eventSource: "aws:s3", eventName: "ObjectCreated:Put" }],
    });
    const { handler, summaries, lines } = replayer(world, bucket);

    // Act
    const response = await handler(eventOf(messages));
    await settle(world.sqs, queueUrl, messages, response);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await listKeys(world.s3, bucket)).toEqual([imageOf("p-4"), STRANGER].sort());
    expect(summaries[0]).toMatchObject({ messages: 2, batches: 1, removals: 3, deleted: 3, invalidMessages: 0 });
    expect(lines.filter((line) => line.level === "error" || line.level === "warn")).toEqual([]);
    expect(await messagesIn(world.sqs, queueUrl)).toBe(0);
  });

  it("reports a message that holds something else, and logs what it looks like", async () => {
    // Prepare
    const world = clients();
    const bucket = await createBucket(world.s3, "replay");
    await putObjects(world.s3, bucket, [imageOf("p-1"), STRANGER]);
    const queueUrl = await createQueue(world.sqs, "cleanup-failures");
    const streamEvent = {
      Records: [
        {
          eventID: "1",
          eventName: "REMOVE",
          eventSource: "aws:dynamodb",
          dynamodb: { Keys: { productId: { S: "p-1" } }, SequenceNumber: "100" },
        },
      ],
    };
    await world.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(streamEvent) }));
    const records = await receive(world.sqs, queueUrl, 1);
    const { handler, lines, summaries } = replayer(world, bucket);

    // Act
    const response = await handler(eventOf(records));

    // Assess
    expect(failuresOf(response)).toEqual([records[0]?.messageId]);
    expect(await listKeys(world.s3, bucket)).toEqual([imageOf("p-1"), STRANGER].sort());
    expect(summaries[0]).toMatchObject({ messages: 1, batches: 0, invalidMessages: 1, batchItemFailures: 1 });
    const errors = lines.filter((line) => line.level === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]?.attributes).toMatchObject({ messageId: records[0]?.messageId });
    expect(String(errors[0]?.attributes.error)).toContain("a DynamoDB stream event");
  });
});

describe("replaying a range of moto's Kinesis", () => {
  it("re-reads the records Kinesis Data Streams for DynamoDB wrote and deletes their objects", async () => {
    // Prepare
    const world = clients();
    const bucket = await createBucket(world.s3, "replay");
    const table = `products-${randomUUID().slice(0, 8)}`;
    await createProductsTable(world.dynamodb, table, "KEYS_ONLY", "ttl");
    // p-3 exists again in the table: the guard reads the table the Kinesis records name.
    await world.dynamodb.send(new PutItemCommand({ TableName: table, Item: { productId: { S: "p-3" } } }));
    const ids = ["p-1", "p-2", "p-3", "p-4", "p-5"];
    await putObjects(world.s3, bucket, [...ids.map(imageOf), STRANGER]);
    const StreamName = `table-changes-${randomUUID().slice(0, 8)}`;
    await world.kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
    const { StreamDescription } = await world.kinesis.send(new DescribeKinesisStreamCommand({ StreamName }));
    const streamArn = StreamDescription?.StreamARN as string;
    const written: { shardId: string; sequenceNumber: string }[] = [];
    for (const id of ids) {
      const change = {
        awsRegion: "us-east-1",
        eventID: randomUUID(),
        eventName: "REMOVE",
        userIdentity: null,
        recordFormat: "application/json",
        tableName: table,
        dynamodb: { ApproximateCreationDateTime: Date.now(), Keys: { productId: { S: id } }, SizeBytes: 20 },
        eventSource: "aws:dynamodb",
      };
      const put = await world.kinesis.send(
        new PutRecordCommand({ StreamName, PartitionKey: id, Data: new TextEncoder().encode(JSON.stringify(change)) }),
      );
      written.push({ shardId: put.ShardId as string, sequenceNumber: put.SequenceNumber as string });
    }
    const arrival = new Date().toISOString();
    const onFailureRecord = {
      requestContext: {
        requestId: randomUUID(),
        functionArn: "arn:aws:lambda:us-east-1:000000000000:function:product-cleanup",
        condition: "RetryAttemptsExhausted",
        approximateInvokeCount: 4,
      },
      responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
      version: "1.0",
      timestamp: arrival,
      KinesisBatchInfo: {
        shardId: written[1]?.shardId,
        startSequenceNumber: written[1]?.sequenceNumber,
        endSequenceNumber: written[3]?.sequenceNumber,
        approximateArrivalOfFirstRecord: arrival,
        approximateArrivalOfLastRecord: arrival,
        batchSize: 3,
        streamArn,
      },
    };
    const queueUrl = await createQueue(world.sqs, "kinesis-failures");
    await world.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(onFailureRecord) }));
    const records = await receive(world.sqs, queueUrl, 1);
    const { handler, summaries } = replayer(world, bucket);

    // Act
    const response = await handler(eventOf(records));
    await settle(world.sqs, queueUrl, records, response);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await listKeys(world.s3, bucket)).toEqual([imageOf("p-1"), imageOf("p-3"), imageOf("p-5"), STRANGER].sort());
    expect(summaries[0]).toMatchObject({
      batches: 1,
      records: 3,
      removals: 3,
      deleted: 2,
      keptRecreated: 1,
      unreplayableBatches: 0,
    });
    expect(await messagesIn(world.sqs, queueUrl)).toBe(0);
  });
});
