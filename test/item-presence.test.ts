/**
 * The item probe's own API: answers in the order of the lookups, one question per distinct
 * (table, key), and the lookups it cannot ask about. Its requests, retries and the reading of answers
 * are tested through the re-creation guard, which asks through it (test/recreation-guard.test.ts).
 */
import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandInput,
  type BatchGetItemCommandOutput,
  DynamoDBClient,
} from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createItemProbe, type ItemLookup, type ItemProbeOptions } from "../src/item-presence.js";
import { createFakeClock } from "./fake-clock.js";

const ddb = mockClient(DynamoDBClient);

beforeEach(() => {
  ddb.reset();
});

afterAll(() => {
  ddb.restore();
});

/** A probe on a mocked client, with a fake sleep; `created` counts the times the client was asked for. */
function setup(options: Partial<ItemProbeOptions> = {}) {
  const client = new DynamoDBClient({ region: "us-east-1" });
  const dynamoDbClient = vi.fn(async () => client);
  const probe = createItemProbe({
    dynamoDbClient,
    concurrency: 2,
    sleep: createFakeClock().sleep,
    random: () => 0.5,
    ...options,
  });
  return { probe, dynamoDbClient };
}

const signal = () => new AbortController().signal;

const product = (id: string): ItemLookup => ({ table: "products", key: { productId: { S: id } } });
const order = (id: string): ItemLookup => ({ table: "orders", key: { orderId: { N: id } } });

/** The keys asked per request, as `table JSON(key)`. */
const asked = (): string[][] =>
  ddb
    .commandCalls(BatchGetItemCommand)
    .map((call) =>
      Object.entries(call.args[0].input.RequestItems ?? {}).flatMap(([table, { Keys }]) =>
        (Keys ?? []).map((key) => `${table} ${JSON.stringify(key)}`),
      ),
    );

/** A fake table holding the items `existing` (`table JSON(key)` in the SDK's shape), key-only projection. */
function answerFrom(existing: readonly string[]) {
  return (input: BatchGetItemCommandInput): BatchGetItemCommandOutput => {
    const responses: Record<string, Record<string, AttributeValue>[]> = {};
    for (const [table, { Keys }] of Object.entries(input.RequestItems ?? {})) {
      responses[table] = (Keys ?? []).filter((key) => existing.includes(`${table} ${JSON.stringify(key)}`));
    }
    return { Responses: responses, UnprocessedKeys: {}, $metadata: {} };
  };
}

describe("createItemProbe", () => {
  it("answers in the order of the lookups, whatever order the table answers in", async () => {
    // Prepare
    const { probe } = setup();
    ddb.on(BatchGetItemCommand).resolves({
      // Found items in another order than asked, and across two tables.
      Responses: {
        orders: [{ orderId: { N: "7" } }],
        products: [{ productId: { S: "c" } }, { productId: { S: "a" } }],
      },
    });

    // Act
    const answers = await probe([product("a"), order("7"), product("b"), product("c"), order("8")], signal());

    // Assess
    expect(answers).toStrictEqual(["present", "present", "absent", "present", "absent"]);
  });

  it("asks once for a key looked up several times, and gives each lookup its answer", async () => {
    // Prepare
    const { probe } = setup();
    ddb.on(BatchGetItemCommand).callsFake(answerFrom([`products ${JSON.stringify({ productId: { S: "a" } })}`]));

    // Act
    const answers = await probe([product("a"), product("b"), product("a"), product("b"), product("a")], signal());

    // Assess
    expect(asked()).toStrictEqual([
      [
        `products ${JSON.stringify({ productId: { S: "a" } })}`,
        `products ${JSON.stringify({ productId: { S: "b" } })}`,
      ],
    ]);
    expect(answers).toStrictEqual(["present", "absent", "present", "absent", "present"]);
  });

  it("takes one key written as base64 two ways for one key", async () => {
    // Prepare
    const { probe } = setup();
    ddb.on(BatchGetItemCommand).resolves({ Responses: { files: [{ hash: { B: new Uint8Array([0xfb, 0xff]) } }] } });

    // Act: base64 and base64url of the same two bytes.
    const answers = await probe(
      [
        { table: "files", key: { hash: { B: "+/8=" } } },
        { table: "files", key: { hash: { B: "-_8" } } },
      ],
      signal(),
    );

    // Assess
    expect(ddb.commandCalls(BatchGetItemCommand)[0]?.args[0].input.RequestItems?.files?.Keys).toHaveLength(1);
    expect(answers).toStrictEqual(["present", "present"]);
  });

  it("asks for the same key in two tables as two keys", async () => {
    // Prepare
    const { probe } = setup();
    const key = { id: { S: "x" } };
    ddb.on(BatchGetItemCommand).resolves({ Responses: { first: [{ id: { S: "x" } }], second: [] } });

    // Act
    const answers = await probe(
      [
        { table: "first", key },
        { table: "second", key },
      ],
      signal(),
    );

    // Assess
    expect(asked()).toStrictEqual([[`first ${JSON.stringify(key)}`, `second ${JSON.stringify(key)}`]]);
    expect(answers).toStrictEqual(["present", "absent"]);
  });

  it("calls an empty key unknown, named as the lookup names it", async () => {
    // Prepare
    const { probe } = setup();
    ddb.on(BatchGetItemCommand).resolves({ Responses: { products: [] } });

    // Act
    const answers = await probe(
      [{ table: "products", key: {}, name: "`dynamodb.Keys`" }, product("a"), { table: "products", key: {} }],
      signal(),
    );

    // Assess
    expect(answers).toStrictEqual([
      { problem: "`dynamodb.Keys` is empty, so whether its item exists cannot be checked" },
      "absent",
      { problem: "the key is empty, so whether its item exists cannot be checked" },
    ]);
    expect(asked()).toStrictEqual([[`products ${JSON.stringify({ productId: { S: "a" } })}`]]);
  });

  it("calls a key that cannot be converted for the SDK unknown, with the error as its cause", async () => {
    // Prepare
    const { probe } = setup();
    ddb.on(BatchGetItemCommand).resolves({ Responses: { products: [] } });
    // A value that is no AttributeValue at all, as a caller's JSON might hold.
    const broken = {
      table: "products",
      key: { productId: null },
      name: "the object's item key",
    } as unknown as ItemLookup;

    // Act
    const answers = await probe([broken, product("a"), { ...broken, name: undefined }], signal());

    // Assess
    expect(answers).toStrictEqual([
      {
        problem: "the object's item key cannot be read as DynamoDB attribute values",
        cause: expect.any(TypeError),
      },
      "absent",
      { problem: "the key cannot be read as DynamoDB attribute values", cause: expect.any(TypeError) },
    ]);
    expect(asked()).toHaveLength(1);
  });

  it("neither loads the client nor sends a request when no lookup can be asked about", async () => {
    // Prepare
    const { probe, dynamoDbClient } = setup();

    // Act
    const answers = await probe([{ table: "products", key: {} }], signal());

    // Assess
    expect(answers).toHaveLength(1);
    expect(dynamoDbClient).not.toHaveBeenCalled();
    expect(ddb.calls()).toHaveLength(0);
  });

  it("says what a client that failed to load threw, when it threw something other than an Error", async () => {
    const { probe } = setup({ dynamoDbClient: () => Promise.reject("no credentials") });

    await expect(probe([product("a")], signal())).resolves.toStrictEqual([
      { problem: "the DynamoDB client could not be loaded or created: no credentials", cause: "no credentials" },
    ]);
  });

  it("waits with a timer and Math.random by default before asking for unprocessed keys again", async () => {
    // Prepare
    vi.useFakeTimers();
    const random = vi.spyOn(Math, "random").mockReturnValue(0.5);
    try {
      const { probe } = setup({ sleep: undefined, random: undefined });
      ddb
        .on(BatchGetItemCommand)
        .resolvesOnce({ UnprocessedKeys: { products: { Keys: [{ productId: { S: "a" } }] } } })
        .resolves({ Responses: { products: [{ productId: { S: "a" } }] } });

      // Act
      const answers = probe([product("a")], signal());
      await vi.advanceTimersByTimeAsync(24);
      const sentBeforeTheWait = ddb.commandCalls(BatchGetItemCommand).length;
      await vi.advanceTimersByTimeAsync(1);

      // Assess: the first backoff is 0.5 · 50 ms.
      expect(sentBeforeTheWait).toBe(1);
      await expect(answers).resolves.toStrictEqual(["present"]);
      expect(ddb.commandCalls(BatchGetItemCommand)).toHaveLength(2);
      expect(random).toHaveBeenCalled();
    } finally {
      random.mockRestore();
      vi.useRealTimers();
    }
  });

  it.each([
    ["an item that is null", { Responses: { products: [null] } }],
    ["an attribute value that is null", { Responses: { products: [{ productId: null }] } }],
    ["an unprocessed key that is null", { UnprocessedKeys: { products: { Keys: [null] } } }],
  ])("calls the keys of a request unknown when a client answers with %s, and never rejects", async (_case, answer) => {
    // Prepare: a caller's client need not be the SDK's, whose answers never hold null.
    const { probe } = setup();
    ddb.on(BatchGetItemCommand).resolves(answer as never);

    // Act
    const answers = await probe([product("a"), product("b")], signal());

    // Assess
    const unknown = {
      problem: expect.stringMatching(
        /^table "products" answered BatchGetItem with something that is not an item, so whether the item exists is unknown: TypeError: /,
      ),
      cause: expect.any(TypeError),
    };
    expect(answers).toStrictEqual([unknown, unknown]);
  });

  it("answers an empty list with an empty list, without loading the client", async () => {
    const { probe, dynamoDbClient } = setup();

    await expect(probe([], signal())).resolves.toStrictEqual([]);
    expect(dynamoDbClient).not.toHaveBeenCalled();
  });
});
