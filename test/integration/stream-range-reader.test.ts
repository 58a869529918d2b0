/**
 * Re-reading a range on real servers: DynamoDB Local's Streams API, and moto's Kinesis, with the
 * SDK's own clients. The range lies between two sequence numbers the servers wrote, as an on-failure
 * record would name them.
 */
import { randomUUID } from "node:crypto";
import { DeleteItemCommand, DynamoDBClient, PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
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
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { describe, expect, inject, it } from "vitest";
import type { DiscardedRange } from "../../src/failure-destination-records.js";
import { parseStreamRecords } from "../../src/index.js";
import { createRangeReader, type RangeRead } from "../../src/stream-range-reader.js";
import { localClientConfig } from "../services/index.js";
import { createProductsTable } from "./helpers.js";

const within = () => AbortSignal.timeout(30_000);

function reader(options: { maxEmptyPages?: number } = {}) {
  const streams = new DynamoDBStreamsClient(localClientConfig(inject("dynamodbEndpoint")));
  const sent: string[] = [];
  streams.middlewareStack.add(
    (next, context) => (args) => {
      sent.push(context.commandName ?? "unknown");
      return next(args);
    },
    { step: "initialize", name: "recordCommands" },
  );
  // moto's Kinesis answers HTTP/1.1 only; the Kinesis client's default handler speaks HTTP/2.
  const kinesis = new KinesisClient({
    ...localClientConfig(inject("motoEndpoint")),
    requestHandler: new NodeHttpHandler(),
  });
  return {
    streams,
    kinesis,
    /** The names of the commands the streams client sent, in order. */
    sent,
    read: createRangeReader({ streamsClient: async () => streams, kinesisClient: async () => kinesis, ...options }),
  };
}

const keysOf = (read: RangeRead) =>
  read.outcome === "read" ? parseStreamRecords(read.event).removals.map((removal) => removal.keys.productId) : read;

function batchOn(
  source: DiscardedRange["source"],
  streamArn: string,
  shardId: string,
  start: string,
  end: string,
  batchSize: number,
): DiscardedRange {
  return {
    source,
    discardedBy: "event-source-mapping",
    streamArn,
    shardId,
    startSequenceNumber: start,
    endSequenceNumber: end,
    batchSize,
    approximateArrivalOfFirstRecord: "2026-12-02T09:30:00Z",
    approximateArrivalOfLastRecord: "2026-12-02T09:30:00Z",
  };
}

describe.concurrent("re-reading a range from DynamoDB Local's stream", () => {
  /**
   * Writes six products, deletes p-2 and p-3, renames p-4, deletes p-5, and returns the stream's
   * shard with every record's event name, key and sequence number, in stream order.
   */
  async function table() {
    const { streams, read, sent } = reader({ maxEmptyPages: 3 });
    const dynamodb = new DynamoDBClient(localClientConfig(inject("dynamodbEndpoint")));
    const name = `products-${randomUUID().slice(0, 8)}`;
    const streamArn = await createProductsTable(dynamodb, name, "KEYS_ONLY", "ttl");
    const key = (id: string) => ({ productId: { S: id } });
    for (const id of ["p-1", "p-2", "p-3", "p-4", "p-5", "p-6"]) {
      await dynamodb.send(new PutItemCommand({ TableName: name, Item: { ...key(id), title: { S: id } } }));
    }
    await dynamodb.send(new DeleteItemCommand({ TableName: name, Key: key("p-2") }));
    await dynamodb.send(new DeleteItemCommand({ TableName: name, Key: key("p-3") }));
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: name,
        Key: key("p-4"),
        UpdateExpression: "SET title = :title",
        ExpressionAttributeValues: { ":title": { S: "renamed" } },
      }),
    );
    await dynamodb.send(new DeleteItemCommand({ TableName: name, Key: key("p-5") }));

    const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    const shardId = StreamDescription?.Shards?.[0]?.ShardId as string;
    const { ShardIterator } = await streams.send(
      new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shardId, ShardIteratorType: "TRIM_HORIZON" }),
    );
    const { Records = [] } = await streams.send(new GetRecordsCommand({ ShardIterator }));
    const written = Records.map((record) => ({
      event: `${record.eventName} ${record.dynamodb?.Keys?.productId?.S}`,
      sequenceNumber: record.dynamodb?.SequenceNumber as string,
    }));
    sent.length = 0;
    return { read, sent, streamArn, shardId, written };
  }

  it("reads the records between two sequence numbers, unchanged, as Lambda delivers them", async () => {
    const { read, streamArn, shardId, written } = await table();
    const first = written.find((record) => record.event === "REMOVE p-2");
    const last = written.find((record) => record.event === "REMOVE p-5");
    expect(written.map((record) => record.event).slice(-4)).toEqual([
      "REMOVE p-2",
      "REMOVE p-3",
      "MODIFY p-4",
      "REMOVE p-5",
    ]);

    const result = await read(
      batchOn("dynamodb-streams", streamArn, shardId, first?.sequenceNumber ?? "", last?.sequenceNumber ?? "", 4),
      within(),
    );

    expect(result).toMatchObject({ outcome: "read", records: 4, endedBy: "range-end" });
    const event = result.outcome === "read" ? result.event : { Records: [] };
    expect(event.Records.map((record) => ("dynamodb" in record ? record.dynamodb?.SequenceNumber : undefined))).toEqual(
      written.slice(-4).map((record) => record.sequenceNumber),
    );
    expect(event.Records.every((record) => record.eventSourceARN === streamArn)).toBe(true);
    expect(keysOf(result)).toEqual(["p-2", "p-3", "p-5"]);
    expect(parseStreamRecords(event).removals[0]?.tableName).toBe(streamArn.split("/")[1]);
  });

  it("reads a range wider than its batchSize in one full page", async () => {
    const { read, sent, streamArn, shardId, written } = await table();
    const start = written[1]?.sequenceNumber ?? "";
    const end = written.at(-2)?.sequenceNumber ?? "";

    // The range may hold records a filter dropped: batchSize (1 here) does not limit the pages.
    const result = await read(batchOn("dynamodb-streams", streamArn, shardId, start, end, 1), within());

    expect(result).toMatchObject({ outcome: "read", records: written.length - 2 });
    expect(keysOf(result)).toEqual(["p-2", "p-3"]);
    expect(sent.filter((name) => name === "GetRecordsCommand")).toHaveLength(1);
  });

  it("gives up on a range whose end lies beyond the newest record", async () => {
    const { read, streamArn, shardId, written } = await table();
    const start = written.at(-1)?.sequenceNumber ?? "";
    const beyond = (BigInt(start) + 1_000_000n).toString().padStart(start.length, "0");

    const result = await read(batchOn("dynamodb-streams", streamArn, shardId, start, beyond, 5), within());

    expect(result).toMatchObject({ outcome: "unfinished", code: "RangeEndNotReached" });
  });

  it("reports a range before the shard's first record as unreplayable", async () => {
    const { read, streamArn, shardId, written } = await table();
    const before = "1".padStart(written[0]?.sequenceNumber.length ?? 21, "0");

    const result = await read(
      batchOn("dynamodb-streams", streamArn, shardId, before, written[0]?.sequenceNumber ?? "", 1),
      within(),
    );

    expect(result).toMatchObject({ outcome: "unreplayable", code: "ValidationException" });
  });

  it("reports a range of an unknown shard as unreplayable", async () => {
    const { read, streamArn, written } = await table();
    const { sequenceNumber } = written[0] ?? { sequenceNumber: "" };

    const result = await read(
      batchOn(
        "dynamodb-streams",
        streamArn,
        "shardId-00000000000000000000-00000000",
        sequenceNumber,
        sequenceNumber,
        1,
      ),
      within(),
    );

    expect(result).toMatchObject({ outcome: "unreplayable", code: "ResourceNotFoundException" });
  });
});

describe("re-reading a range from moto's Kinesis", () => {
  it("reads the records between two sequence numbers and decodes them back into REMOVEs", async () => {
    const { kinesis, read } = reader();
    const StreamName = `table-changes-${randomUUID().slice(0, 8)}`;
    await kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
    const { StreamDescription } = await kinesis.send(new DescribeKinesisStreamCommand({ StreamName }));
    const streamArn = StreamDescription?.StreamARN as string;
    const sequenceNumbers: string[] = [];
    let shardId = "";
    for (const id of ["p-1", "p-2", "p-3", "p-4", "p-5"]) {
      const record = {
        awsRegion: "us-east-1",
        eventID: randomUUID(),
        eventName: "REMOVE",
        userIdentity: null,
        recordFormat: "application/json",
        tableName: "products",
        dynamodb: { ApproximateCreationDateTime: Date.now(), Keys: { productId: { S: id } }, SizeBytes: 20 },
        eventSource: "aws:dynamodb",
      };
      const put = await kinesis.send(
        new PutRecordCommand({
          StreamName,
          PartitionKey: id,
          Data: new TextEncoder().encode(JSON.stringify(record)),
        }),
      );
      sequenceNumbers.push(put.SequenceNumber as string);
      shardId = put.ShardId as string;
    }

    const result = await read(
      batchOn("kinesis", streamArn, shardId, sequenceNumbers[1] ?? "", sequenceNumbers[3] ?? "", 3),
      within(),
    );

    expect(result).toMatchObject({ outcome: "read", records: 3, endedBy: "range-end" });
    expect(keysOf(result)).toEqual(["p-2", "p-3", "p-4"]);
    const first = result.outcome === "read" ? result.event.Records[0] : undefined;
    expect(first).toMatchObject({
      eventSource: "aws:kinesis",
      eventID: `${shardId}:${sequenceNumbers[1]}`,
      eventSourceARN: streamArn,
      kinesis: { sequenceNumber: sequenceNumbers[1], partitionKey: "p-2" },
    });
  });
});
