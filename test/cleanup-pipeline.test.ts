import { BatchGetItemCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteObjectsCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { createCleanupHandler } from "../src/index.js";
import { createRecordFactory, productKeys, recordingLogger, streamEvent } from "./factories.js";
import { createFakeClock } from "./fake-clock.js";

const s3 = mockClient(S3Client);
const dynamodb = mockClient(DynamoDBClient);

beforeEach(() => {
  s3.reset();
  dynamodb.reset();
  s3.on(DeleteObjectsCommand).resolves({});
});

afterAll(() => {
  s3.restore();
  dynamodb.restore();
});

describe("the cleanup pipeline", () => {
  it("logs invalid records in batch order, whether parsing or key mapping found them", async () => {
    // Prepare: record 0 lacks the template's attribute (found by mapping), record 1 has no Keys (found by parsing).
    const records = createRecordFactory();
    const { logger, lines } = recordingLogger();
    const handler = createCleanupHandler({ bucket: "b", key: "{productId}.png", logger });
    const withoutKeys = records.removeRecord();
    delete withoutKeys.dynamodb?.Keys;

    // Act
    await handler(streamEvent(records.removeRecord({ keys: { sku: { S: "s-1" } } }), withoutKeys));

    // Assess
    const invalid = lines.filter((line) => line.message === "Invalid record, reported as failed");
    expect(invalid.map((line) => line.attributes?.index)).toEqual([0, 1]);
  });

  it("logs each item found re-created, with its record", async () => {
    // Prepare
    const records = createRecordFactory();
    const removal = records.removeRecord({ keys: productKeys("p-1") });
    dynamodb.on(BatchGetItemCommand).resolves({ Responses: { products: [{ productId: { S: "p-1" } }] } });
    const { logger, lines } = recordingLogger();
    const handler = createCleanupHandler({
      bucket: "b",
      key: "{productId}.png",
      logger,
      verifyAbsent: true,
      dynamoDbClient: new DynamoDBClient({}),
      sleep: createFakeClock().sleep,
    });

    // Act
    await handler(streamEvent(removal));

    // Assess
    expect(lines.find((line) => line.message === "Item re-created since its removal: its objects are kept")).toEqual({
      level: "info",
      message: "Item re-created since its removal: its objects are kept",
      attributes: expect.objectContaining({ index: 0, sequenceNumber: removal.dynamodb?.SequenceNumber }),
    });
    expect(s3.commandCalls(DeleteObjectsCommand)).toEqual([]);
  });
});
