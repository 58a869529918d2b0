import {
  DescribeTableCommand,
  type DescribeTableCommandOutput,
  DynamoDBClient,
  ResourceNotFoundException,
} from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { dynamoDbClientOf } from "../src/aws-clients.js";
import { ConfigError, isReconcileError, ReconcileError } from "../src/errors.js";
import { describeTableKey } from "../src/table-key-schema.js";
import { deferred, settle } from "./fake-clock.js";

const ddb = mockClient(DynamoDBClient);

beforeEach(() => {
  ddb.reset();
});

afterAll(() => {
  ddb.restore();
});

const client = new DynamoDBClient({ region: "us-east-1" });
const source = async () => client;

type Table = NonNullable<DescribeTableCommandOutput["Table"]>;

/** DescribeTable answers with `table`. */
const describing = (table: Table | undefined) => ddb.on(DescribeTableCommand).resolves({ Table: table });

/** How describeTableKey rejected (failing the test when it resolved). */
async function rejection(promise: Promise<unknown>): Promise<ReconcileError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof ReconcileError)) throw new Error(`expected a ReconcileError, got ${String(outcome)}`);
  return outcome;
}

describe("describeTableKey", () => {
  it("reads a partition key and its type, and the item count", async () => {
    // Prepare
    describing({
      TableName: "products",
      KeySchema: [{ AttributeName: "productId", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "productId", AttributeType: "N" }],
      ItemCount: 1234,
    });

    // Act
    const description = await describeTableKey(source, "products");

    // Assess
    expect(description).toStrictEqual({ keySchema: [{ name: "productId", type: "N" }], itemCount: 1234 });
    expect(ddb.commandCalls(DescribeTableCommand).map((call) => call.args[0].input)).toStrictEqual([
      { TableName: "products" },
    ]);
  });

  it("puts the partition key first and the sort key second, whatever order the description gives", async () => {
    describing({
      KeySchema: [
        { AttributeName: "photoId", KeyType: "RANGE" },
        { AttributeName: "userId", KeyType: "HASH" },
      ],
      AttributeDefinitions: [
        { AttributeName: "photoId", AttributeType: "B" },
        { AttributeName: "other", AttributeType: "N" },
        { AttributeName: "userId", AttributeType: "S" },
      ],
    });

    await expect(describeTableKey(source, "photos")).resolves.toStrictEqual({
      keySchema: [
        { name: "userId", type: "S" },
        { name: "photoId", type: "B" },
      ],
      itemCount: undefined,
    });
  });

  it.each([
    ["no table", undefined],
    ["no KeySchema", { AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }] }],
    ["a sort key only", { KeySchema: [{ AttributeName: "id", KeyType: "RANGE" }] }],
    ["a partition key without a name", { KeySchema: [{ KeyType: "HASH" }] }],
  ])("rejects a description with %s, naming the table and the partition key", async (_case, table) => {
    describing(table as Table | undefined);

    const error = await rejection(describeTableKey(source, "products"));

    expect(error.message).toBe(
      'DescribeTable on table "products" answered without a partition (HASH) key in its KeySchema',
    );
  });

  it.each([
    ["no AttributeDefinitions", "productId", undefined],
    ["no definition of the sort key", "sku", [{ AttributeName: "productId", AttributeType: "S" }]],
    ["a type no key can have", "productId", [{ AttributeName: "productId", AttributeType: "BOOL" }]],
  ])("rejects a description with %s, naming the attribute", async (_case, attribute, definitions) => {
    describing({
      KeySchema: [
        { AttributeName: "productId", KeyType: "HASH" },
        { AttributeName: "sku", KeyType: "RANGE" },
      ],
      ...(definitions === undefined ? {} : { AttributeDefinitions: definitions as Table["AttributeDefinitions"] }),
    });

    const error = await rejection(describeTableKey(source, "products"));

    expect(error.message).toBe(
      `DescribeTable on table "products" answered without the type (S, N or B) of key attribute "${attribute}"`,
    );
  });

  it("rejects when DescribeTable fails, naming the table and keeping the error as the cause", async () => {
    // Prepare
    const missing = new ResourceNotFoundException({ message: "Requested resource not found", $metadata: {} });
    ddb.on(DescribeTableCommand).rejects(missing);

    // Act
    const error = await rejection(describeTableKey(source, "products"));

    // Assess
    expect(error.message).toBe('DescribeTable on table "products" failed: Requested resource not found');
    expect(error.cause).toBe(missing);
    expect(isReconcileError(error)).toBe(true);
    expect(error).toMatchObject({ option: "tableName", retryable: false });
  });

  it("says a failure that may pass is retryable, and one that needs a change is not", async () => {
    ddb.on(DescribeTableCommand).rejects(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }));
    expect(await rejection(describeTableKey(source, "products"))).toMatchObject({ retryable: true });
    ddb.on(DescribeTableCommand).rejects(Object.assign(new Error("denied"), { name: "AccessDeniedException" }));
    expect(await rejection(describeTableKey(source, "products"))).toMatchObject({ retryable: false });
  });

  it("rejects when the client cannot be had, keeping why as the cause", async () => {
    const why = new ConfigError([{ path: "dynamoDbClient", message: "needs @aws-sdk/client-dynamodb" }]);

    const error = await rejection(describeTableKey(() => Promise.reject(why), "products"));

    expect(error.message).toMatch(/^DescribeTable on table "products" failed: Invalid dynamodb-s3-cleanup options/);
    expect(error.cause).toBe(why);
    expect(error).toMatchObject({ retryable: false });
    expect(ddb.calls()).toHaveLength(0);
  });

  it("rejects without asking when the signal has fired already", async () => {
    // Prepare
    const controller = new AbortController();
    const reason = new Error("stopped by the caller");
    controller.abort(reason);

    // Act
    const error = await rejection(describeTableKey(source, "products", controller.signal));

    // Assess
    expect(error.message).toBe('DescribeTable on table "products" failed: stopped by the caller');
    expect(error.cause).toBe(reason);
    expect(ddb.calls()).toHaveLength(0);
  });

  it("rejects as soon as the signal fires while DescribeTable is in flight, and passes the signal to the request", async () => {
    // Prepare: a request that never answers unless told to.
    const controller = new AbortController();
    const reason = new Error("stopped by the caller");
    const held = deferred<DescribeTableCommandOutput>();
    ddb.on(DescribeTableCommand).callsFake(() => held.promise);
    const described = describeTableKey(source, "products", controller.signal);
    await settle();
    expect(ddb.commandCalls(DescribeTableCommand)).toHaveLength(1);

    // Act
    controller.abort(reason);
    const error = await rejection(described);

    // Assess
    expect(error.cause).toBe(reason);
    expect((ddb.commandCalls(DescribeTableCommand)[0]?.args as unknown[] | undefined)?.[1]).toStrictEqual({
      abortSignal: controller.signal,
    });
  });

  it("asks for the client only when called, and asks the one it gets", async () => {
    // Prepare
    describing({
      KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
    });
    const clientSource = vi.fn(source);
    const description = () => describeTableKey(clientSource, "products");
    expect(clientSource).not.toHaveBeenCalled();

    // Act
    await description();

    // Assess
    expect(clientSource).toHaveBeenCalledTimes(1);
    expect(ddb.commandCalls(DescribeTableCommand)[0]?.thisValue).toBe(client);
  });

  it("describes through the client the library creates when none is given", async () => {
    describing({
      KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
    });

    await expect(describeTableKey(dynamoDbClientOf(undefined), "products")).resolves.toStrictEqual({
      keySchema: [{ name: "id", type: "S" }],
      itemCount: undefined,
    });
    expect(ddb.commandCalls(DescribeTableCommand)[0]?.thisValue).toBeInstanceOf(DynamoDBClient);
  });
});
