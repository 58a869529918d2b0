import { BatchGetItemCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import { KinesisClient } from "@aws-sdk/client-kinesis";
import { DeleteObjectsCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { dynamoDbClientOf, kinesisClientOf, lazyClient, streamsClientOf } from "../src/aws-clients.js";
import { type CleanupOptions, type CleanupSummary, createCleanupHandler, isConfigError } from "../src/index.js";
import { kinesisEvent } from "../src/testing/index.js";
import { createRecordFactory, productKeys, recordingLogger, streamEvent } from "./factories.js";
import { createFakeClock } from "./fake-clock.js";

const s3 = mockClient(S3Client);
const dynamodb = mockClient(DynamoDBClient);

beforeEach(() => {
  s3.reset();
  dynamodb.reset();
  s3.on(DeleteObjectsCommand).callsFake((input: { Delete: { Objects: { Key: string }[] } }) => ({
    Deleted: input.Delete.Objects.map(({ Key }) => ({ Key })),
  }));
  dynamodb.on(BatchGetItemCommand).resolves({ Responses: {} });
});

afterAll(() => {
  s3.restore();
  dynamodb.restore();
});

function setup(options: Partial<CleanupOptions> = {}) {
  const { lines, logger } = recordingLogger();
  const summaries: CleanupSummary[] = [];
  const handler = createCleanupHandler({
    bucket: "product-images",
    key: "{productId}.png",
    s3Client: new S3Client({}),
    dynamoDbClient: new DynamoDBClient({}),
    sleep: createFakeClock().sleep,
    logger,
    onResult: (summary) => {
      summaries.push(summary);
    },
    ...options,
  } as CleanupOptions);
  return { handler, lines, summaries };
}

const deletedKeys = () =>
  s3.commandCalls(DeleteObjectsCommand).flatMap((call) => call.args[0].input.Delete?.Objects?.map(({ Key }) => Key));

const tablesRead = () =>
  dynamodb.commandCalls(BatchGetItemCommand).flatMap((call) => Object.keys(call.args[0].input.RequestItems ?? {}));

describe("verifyAbsent in the cleanup handler", () => {
  it("is off by default: a live stream's REMOVE deletes without reading the table", async () => {
    const records = createRecordFactory();
    const { handler } = setup();

    await handler(streamEvent(records.removeRecord({ keys: productKeys("p-1") })));

    expect(dynamodb.commandCalls(BatchGetItemCommand)).toEqual([]);
    expect(deletedKeys()).toEqual(["p-1.png"]);
  });

  it("keeps the objects of an item written again, counts it, and does not report it", async () => {
    // Prepare
    const records = createRecordFactory();
    dynamodb.on(BatchGetItemCommand).resolves({ Responses: { products: [{ productId: { S: "p-2" } }] } });
    const { handler, summaries } = setup({ verifyAbsent: true });

    // Act
    const response = await handler(
      streamEvent(
        records.removeRecord({ keys: productKeys("p-1") }),
        records.removeRecord({ keys: productKeys("p-2") }),
      ),
    );

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(dynamodb.commandCalls(BatchGetItemCommand)[0]?.args[0].input).toMatchObject({
      RequestItems: {
        products: {
          ConsistentRead: true,
          Keys: [{ productId: { S: "p-1" } }, { productId: { S: "p-2" } }],
        },
      },
    });
    expect(deletedKeys()).toEqual(["p-1.png"]);
    expect(summaries[0]).toMatchObject({ removals: 2, deleted: 1, keptRecreated: 1, failed: 0 });
  });

  it("reads the table it is given instead of the record's", async () => {
    const records = createRecordFactory();
    const { handler } = setup({ verifyAbsent: { tableName: "products-v2" } });

    await handler(streamEvent(records.removeRecord({ keys: productKeys("p-1") })));

    expect(tablesRead()).toEqual(["products-v2"]);
  });

  it("reads the table a Kinesis record names", async () => {
    const records = createRecordFactory();
    const { handler } = setup({ verifyAbsent: true });

    await handler(kinesisEvent([records.removeRecord({ keys: productKeys("p-1") })]));

    expect(tablesRead()).toEqual(["products"]);
    expect(deletedKeys()).toEqual(["p-1.png"]);
  });

  it("reports a record whose table could not be read, deleting nothing for it", async () => {
    // Prepare
    const records = createRecordFactory();
    const first = records.removeRecord({ keys: productKeys("p-1") });
    dynamodb.on(BatchGetItemCommand).rejects(Object.assign(new Error("no access"), { name: "AccessDeniedException" }));
    const { handler, lines } = setup({ verifyAbsent: true });

    // Act
    const response = await handler(streamEvent(first));

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: first.dynamodb?.SequenceNumber }] });
    expect(s3.commandCalls(DeleteObjectsCommand)).toEqual([]);
    const warning = lines.find((line) => line.level === "warn");
    expect(warning?.message).toMatch(/not checked for re-creation/);
    expect(warning?.attributes?.error).toMatch(/no access/);
  });

  it("reads nothing for removals without objects", async () => {
    const records = createRecordFactory();
    const { handler, summaries } = setup({ verifyAbsent: true, key: { attribute: "image" } });

    await handler(streamEvent(records.removeRecord({ keys: productKeys("p-1"), oldImage: productKeys("p-1") })));

    expect(dynamodb.commandCalls(BatchGetItemCommand)).toEqual([]);
    expect(summaries[0]).toMatchObject({ removals: 1, withoutObjects: 1 });
  });

  it.each([
    [{ verifyAbsent: "yes" }, "`verifyAbsent`: must be true, false or { tableName }"],
    [{ verifyAbsent: { table: "products" } }, "`verifyAbsent.table`: is not an option"],
    [{ verifyAbsent: { tableName: "" } }, "`verifyAbsent.tableName`: must be a non-empty string"],
    [{ dynamoDbClient: {} }, "`dynamoDbClient.send`: must be a method"],
    [{ dynamoDbClient: 3 }, "`dynamoDbClient`: must be a DynamoDBClient (an object with a send method)"],
  ])("names a wrong option: %j", (options, message) => {
    let error: unknown;
    try {
      setup(options as Partial<CleanupOptions>);
    } catch (thrown) {
      error = thrown;
    }
    expect(isConfigError(error)).toBe(true);
    expect((error as Error).message).toContain(message);
  });
});

describe("lazyClient", () => {
  const client = { send: async () => ({}) };

  it("gives the client it was given, creating none", async () => {
    let created = 0;
    const source = lazyClient(client, "dynamoDbClient", "@aws-sdk/client-dynamodb", async () => {
      created++;
      return client;
    });

    expect(await source()).toBe(client);
    expect(created).toBe(0);
  });

  it("creates one client, the first time, for every caller", async () => {
    let created = 0;
    const source = lazyClient(undefined, "dynamoDbClient", "@aws-sdk/client-dynamodb", async () => {
      created++;
      return { send: async () => ({}) };
    });

    const [first, second] = await Promise.all([source(), source()]);

    expect(first).toBe(second);
    expect(await source()).toBe(first);
    expect(created).toBe(1);
  });

  it("names the package and the option when the package cannot be loaded, and tries again next time", async () => {
    const cause = new Error("Cannot find module '@aws-sdk/client-kinesis'");
    let attempts = 0;
    const source = lazyClient(undefined, "kinesisClient", "@aws-sdk/client-kinesis", async () => {
      attempts++;
      if (attempts === 1) throw cause;
      return client;
    });

    const error = await source().catch((thrown: unknown) => thrown);

    expect(isConfigError(error)).toBe(true);
    expect((error as Error).message).toContain(
      "`kinesisClient`: needs @aws-sdk/client-kinesis, which could not be loaded: install it",
    );
    expect((error as Error).cause).toBe(cause);
    expect(await source()).toBe(client);
  });
});

describe("the clients created on first use", () => {
  it("is a DynamoDB client with the defaults", async () => {
    expect(await dynamoDbClientOf(undefined)()).toBeInstanceOf(DynamoDBClient);
  });

  it.each([
    ["DynamoDB Streams", streamsClientOf, DynamoDBStreamsClient],
    ["Kinesis", kinesisClientOf, KinesisClient],
  ] as const)("is a %s client in the stream's region, one per region", async (_, clientOf, Client) => {
    const source = clientOf(undefined);

    const [ireland, again, virginia] = await Promise.all([
      source("eu-west-1"),
      source("eu-west-1"),
      source("us-east-1"),
    ]);

    expect(ireland).toBeInstanceOf(Client);
    expect(again).toBe(ireland);
    expect(virginia).not.toBe(ireland);
    expect(await (ireland as InstanceType<typeof Client>).config.region()).toBe("eu-west-1");
    expect(await (virginia as InstanceType<typeof Client>).config.region()).toBe("us-east-1");
  });

  it("uses a given client for every region", async () => {
    const given = { send: async () => ({}) };
    const source = streamsClientOf(given);

    expect(await source("eu-west-1")).toBe(given);
    expect(await source(undefined)).toBe(given);
  });
});

describe("a missing optional package", () => {
  afterEach(() => {
    vi.doUnmock("@aws-sdk/client-dynamodb");
    vi.doUnmock("@aws-sdk/client-dynamodb-streams");
    vi.doUnmock("@aws-sdk/client-kinesis");
    vi.resetModules();
  });

  it.each([
    ["dynamoDbClient", "@aws-sdk/client-dynamodb", "dynamoDbClientOf"],
    ["streamsClient", "@aws-sdk/client-dynamodb-streams", "streamsClientOf"],
    ["kinesisClient", "@aws-sdk/client-kinesis", "kinesisClientOf"],
  ] as const)("makes %s fail with a ConfigError naming %s", async (option, packageName, factory) => {
    // Prepare: the package cannot be loaded, as when it is not installed.
    vi.doMock(packageName, () => {
      throw new Error(`Cannot find package '${packageName}'`);
    });
    const clients = await import("../src/aws-clients.js");

    // Act
    const error = await clients[factory](undefined)("eu-west-1").catch((thrown: unknown) => thrown);

    // Assess
    expect(isConfigError(error) && error.issues).toEqual([
      { path: option, message: `needs ${packageName}, which could not be loaded: install it` },
    ]);
  });
});
