import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandInput,
  type BatchGetItemCommandOutput,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
} from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { isCleanupError, isPresenceCheckError } from "../src/errors.js";
import { parseStreamRecords, type RemovedItem } from "../src/parse-stream-records.js";
import {
  createPresenceCheck,
  MAX_BATCH_GET_ROUNDS,
  MAX_KEYS_PER_BATCH_GET,
  type PresenceCheckOptions,
} from "../src/recreation-guard.js";
import type { AttributeMap, StreamRecord } from "../src/types.js";
import { createRecordFactory, productKeys, streamEvent } from "./factories.js";
import { createFakeClock, heldCalls, settle } from "./fake-clock.js";
import { propertyRuns } from "./property-runs.js";

const ddb = mockClient(DynamoDBClient);

beforeEach(() => {
  ddb.reset();
});

afterAll(() => {
  ddb.restore();
});

const ORDERS_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-11-27T00:00:00.000";

/** The removals of REMOVE records with these keys, of the `products` table unless a record says otherwise. */
function removalsOf(...records: (AttributeMap | StreamRecord)[]): RemovedItem[] {
  const { removeRecord } = createRecordFactory();
  const event = streamEvent(
    ...records.map((record) =>
      "dynamodb" in record ? (record as StreamRecord) : removeRecord({ keys: record as AttributeMap }),
    ),
  );
  const batch = parseStreamRecords(event);
  expect(batch.invalid).toEqual([]);
  return batch.removals;
}

/** A REMOVE record of the `orders` table. */
function ordersRecord(keys: AttributeMap): StreamRecord {
  return { ...createRecordFactory(200000000000000000000n).removeRecord({ keys }), eventSourceARN: ORDERS_ARN };
}

/** A check on a mocked client, with a fake sleep (delays in `clock.delays`) and `random` 0.5. */
function setup(options: Partial<PresenceCheckOptions> = {}) {
  const clock = createFakeClock();
  const client = new DynamoDBClient({ region: "us-east-1" });
  const check = createPresenceCheck({
    dynamoDbClient: async () => client,
    concurrency: 4,
    sleep: clock.sleep,
    random: () => 0.5,
    ...options,
  });
  return { check, clock, client };
}

const signal = () => new AbortController().signal;

/** The requests sent, in order. */
const requests = (): BatchGetItemCommandInput[] =>
  ddb.commandCalls(BatchGetItemCommand).map((call) => call.args[0].input);

/** Product keys in the SDK's shape, for mocked answers. */
const sdkKeys = (...ids: string[]): Record<string, AttributeValue>[] => ids.map((id) => ({ productId: { S: id } }));

/** Keys asked per request: `table` + canonical JSON of the key. */
const askedKeys = (input: BatchGetItemCommandInput): string[] =>
  Object.entries(input.RequestItems ?? {}).flatMap(([table, { Keys }]) =>
    (Keys ?? []).map((key) => `${table} ${JSON.stringify(key)}`),
  );

/**
 * A fake table: answers each request with the keys in `existing` (by table and `productId`/`orderId`
 * string), as BatchGetItem does with a key-only projection.
 */
function answerFrom(existing: ReadonlySet<string>) {
  return (input: BatchGetItemCommandInput): BatchGetItemCommandOutput => {
    const responses: Record<string, Record<string, AttributeValue>[]> = {};
    for (const [table, { Keys }] of Object.entries(input.RequestItems ?? {})) {
      responses[table] = (Keys ?? []).filter((key) => existing.has(`${table} ${JSON.stringify(key)}`));
    }
    return { Responses: responses, UnprocessedKeys: {}, $metadata: {} };
  };
}

describe("createPresenceCheck", () => {
  it("asks with ConsistentRead, projecting only the key attributes through placeholders", async () => {
    const { check } = setup();
    ddb.on(BatchGetItemCommand).resolves({ Responses: { products: [] } });
    const removals = removalsOf({ name: { S: "p-1" }, date: { N: "20261127" } });

    await check(removals, signal());

    expect(requests()).toStrictEqual([
      {
        RequestItems: {
          products: {
            Keys: [{ name: { S: "p-1" }, date: { N: "20261127" } }],
            ConsistentRead: true,
            ProjectionExpression: "#k0, #k1",
            ExpressionAttributeNames: { "#k0": "date", "#k1": "name" },
          },
        },
      },
    ]);
  });

  it("sorts keys returned into recreated and the others into absent, in the order given", async () => {
    const { check } = setup();
    ddb.on(BatchGetItemCommand).resolves({ Responses: { products: [{ productId: { S: "p-2" } }] } });
    const removals = removalsOf(productKeys("p-1"), productKeys("p-2"), productKeys("p-3"));

    const presence = await check(removals, signal());

    expect(presence).toStrictEqual({
      absent: [removals[0], removals[2]],
      recreated: [removals[1]],
      unchecked: [],
    });
  });

  it("asks for a key shared by several removals once, and gives them all its verdict", async () => {
    const { check } = setup();
    ddb.on(BatchGetItemCommand).resolves({ Responses: { products: [{ productId: { S: "p-1" } }] } });
    const removals = removalsOf(productKeys("p-1"), productKeys("p-2"), productKeys("p-1"));

    const presence = await check(removals, signal());

    expect(requests()[0]?.RequestItems?.products?.Keys).toStrictEqual([productKeys("p-1"), productKeys("p-2")]);
    expect(presence.recreated).toStrictEqual([removals[0], removals[2]]);
    expect(presence.absent).toStrictEqual([removals[1]]);
  });

  it("treats keys with the same attributes in another order as one key", async () => {
    const { check } = setup();
    ddb.on(BatchGetItemCommand).resolves({ Responses: { products: [] } });
    const removals = removalsOf({ pk: { S: "a" }, sk: { N: "1" } }, { sk: { N: "1" }, pk: { S: "a" } });

    const presence = await check(removals, signal());

    expect(requests()[0]?.RequestItems?.products?.Keys).toHaveLength(1);
    expect(presence.absent).toStrictEqual(removals);
  });

  it("sends binary keys as bytes and matches the bytes returned", async () => {
    const { check } = setup();
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    ddb.on(BatchGetItemCommand).resolves({ Responses: { products: [{ productId: { B: bytes } }] } });
    const base64 = Buffer.from(bytes).toString("base64");
    const removals = removalsOf({ productId: { B: base64 } }, { productId: { B: "AAAA" } });

    const presence = await check(removals, signal());

    expect(requests()[0]?.RequestItems?.products?.Keys).toStrictEqual([
      { productId: { B: bytes } },
      { productId: { B: new Uint8Array([0, 0, 0]) } },
    ]);
    expect(presence.recreated).toStrictEqual([removals[0]]);
    expect(presence.absent).toStrictEqual([removals[1]]);
  });

  it("asks two tables in one request, each with its own projection", async () => {
    const { check } = setup();
    ddb.on(BatchGetItemCommand).resolves({
      Responses: { products: [], orders: [{ orderId: { S: "o-1" }, line: { N: "2" } }] },
    });
    const removals = removalsOf(productKeys("o-1"), ordersRecord({ orderId: { S: "o-1" }, line: { N: "2" } }));

    const presence = await check(removals, signal());

    expect(requests()).toHaveLength(1);
    expect(requests()[0]?.RequestItems).toStrictEqual({
      products: {
        Keys: [productKeys("o-1")],
        ConsistentRead: true,
        ProjectionExpression: "#k0",
        ExpressionAttributeNames: { "#k0": "productId" },
      },
      orders: {
        Keys: [{ orderId: { S: "o-1" }, line: { N: "2" } }],
        ConsistentRead: true,
        ProjectionExpression: "#k0, #k1",
        ExpressionAttributeNames: { "#k0": "line", "#k1": "orderId" },
      },
    });
    expect(presence).toStrictEqual({ absent: [removals[0]], recreated: [removals[1]], unchecked: [] });
  });

  it("does not take an item of another table for the key of this one", async () => {
    const { check } = setup();
    ddb.on(BatchGetItemCommand).resolves({ Responses: { orders: [{ productId: { S: "p-1" } }] } });
    const removals = removalsOf(productKeys("p-1"));

    const presence = await check(removals, signal());

    expect(presence.absent).toStrictEqual(removals);
  });

  it("looks every removal up in the `tableName` option's table, whatever its record says", async () => {
    const { check } = setup({ tableName: "products-v2" });
    ddb.on(BatchGetItemCommand).resolves({ Responses: { "products-v2": [{ orderId: { S: "o-1" } }] } });
    const removals = removalsOf(productKeys("p-1"), ordersRecord({ orderId: { S: "o-1" } }));

    const presence = await check(removals, signal());

    expect(Object.keys(requests()[0]?.RequestItems ?? {})).toStrictEqual(["products-v2"]);
    expect(requests()[0]?.RequestItems?.["products-v2"]?.ExpressionAttributeNames).toStrictEqual({
      "#k0": "orderId",
      "#k1": "productId",
    });
    expect(presence).toStrictEqual({ absent: [removals[0]], recreated: [removals[1]], unchecked: [] });
  });

  it("reports a removal without a table unchecked, asking for `verifyAbsent: { tableName }`, and sends nothing for it", async () => {
    const { check } = setup();
    ddb.on(BatchGetItemCommand).resolves({ Responses: { products: [] } });
    const [known, other] = removalsOf(productKeys("p-1"), productKeys("p-2"));
    const unknown = { ...(other as RemovedItem), tableName: undefined };

    const presence = await check([known as RemovedItem, unknown], signal());

    expect(askedKeys(requests()[0] ?? { RequestItems: {} })).toStrictEqual([
      `products ${JSON.stringify(productKeys("p-1"))}`,
    ]);
    expect(presence.absent).toStrictEqual([known]);
    expect(presence.unchecked).toHaveLength(1);
    const [{ item, error }] = presence.unchecked as [(typeof presence.unchecked)[0]];
    expect(item).toBe(unknown);
    expect(isPresenceCheckError(error)).toBe(true);
    expect(isCleanupError(error)).toBe(true);
    expect(isPresenceCheckError(new Error("other"))).toBe(false);
    expect(error.tableName).toBeUndefined();
    expect(error.record).toStrictEqual({
      index: 1,
      sequenceNumber: unknown.sequenceNumber,
      eventId: unknown.eventId,
      itemIdentifier: unknown.itemIdentifier,
    });
    expect(error.message).toContain("its table is unknown");
    expect(error.message).toContain("`verifyAbsent: { tableName }`");
  });

  it.each([
    ["missing", undefined],
    ["empty", {}],
  ])("reports a removal whose `dynamodb.Keys` is %s unchecked, and sends no request", async (_, keys) => {
    const { check } = setup();
    const [removal] = removalsOf(productKeys("p-1"));
    const blind = { ...(removal as RemovedItem), record: { ...removal?.record, dynamodb: { Keys: keys } } };

    const presence = await check([blind], signal());

    expect(requests()).toStrictEqual([]);
    expect(presence.unchecked.map(({ item }) => item)).toStrictEqual([blind]);
    expect(presence.unchecked[0]?.error.message).toContain("`dynamodb.Keys` is missing or empty");
    expect(presence.unchecked[0]?.error.tableName).toBe("products");
  });

  it("reports a removal whose keys cannot be converted unchecked, with the conversion's error as cause", async () => {
    const { check } = setup();
    const [removal] = removalsOf(productKeys("p-1"));
    const bad = {
      ...(removal as RemovedItem),
      record: { dynamodb: { Keys: { productId: null } } } as unknown as StreamRecord,
    };

    const presence = await check([bad], signal());

    expect(requests()).toStrictEqual([]);
    expect(presence.unchecked[0]?.error.message).toContain("cannot be read as DynamoDB attribute values");
    expect(presence.unchecked[0]?.error.cause).toBeInstanceOf(TypeError);
  });

  it("creates no client and loads nothing when there is no key to ask for", async () => {
    let created = 0;
    const { check } = setup({
      dynamoDbClient: async () => {
        created++;
        return new DynamoDBClient({ region: "us-east-1" });
      },
    });

    expect(await check([], signal())).toStrictEqual({ absent: [], recreated: [], unchecked: [] });
    expect(created).toBe(0);
  });

  it("reports every removal unchecked when the client cannot be created", async () => {
    const { check } = setup({
      dynamoDbClient: async () => {
        throw new Error("no region");
      },
    });
    const removals = removalsOf(productKeys("p-1"));

    const presence = await check(removals, signal());

    expect(presence.unchecked[0]?.error.message).toContain(
      "the DynamoDB client could not be loaded or created: Error: no region",
    );
  });

  it("returns when the signal fires while the client is being created, with every key unchecked", async () => {
    const { check } = setup({ dynamoDbClient: () => new Promise(() => {}) });
    const controller = new AbortController();
    const removals = removalsOf(productKeys("p-1"));

    const checking = check(removals, controller.signal);
    await settle();
    controller.abort(new Error("time budget ran out"));
    const presence = await checking;

    expect(presence.unchecked[0]?.error.message).toContain("no time was left to read the table");
    expect(presence.unchecked[0]?.error.message).toContain("time budget ran out");
  });

  it("splits keys into requests of at most 100, across tables", async () => {
    const { check } = setup();
    ddb.on(BatchGetItemCommand).resolves({});
    const keys = Array.from({ length: 230 }, (_, index) =>
      index % 2 === 0 ? productKeys(`p-${index}`) : ordersRecord({ orderId: { S: `o-${index}` } }),
    );
    const removals = removalsOf(...keys);

    const presence = await check(removals, signal());

    expect(requests().map((input) => askedKeys(input).length)).toStrictEqual([100, 100, 30]);
    expect(Object.keys(requests()[0]?.RequestItems ?? {}).sort()).toStrictEqual(["orders", "products"]);
    expect(presence.absent).toHaveLength(230);
  });

  it("passes the signal to each send", async () => {
    const { check } = setup();
    ddb.on(BatchGetItemCommand).resolves({});
    const controller = new AbortController();

    await check(removalsOf(productKeys("p-1")), controller.signal);

    expect((ddb.call(0).args as unknown[])[1]).toStrictEqual({ abortSignal: controller.signal });
  });

  it("keeps at most `concurrency` requests in flight", async () => {
    const { check } = setup({ concurrency: 2 });
    const held = heldCalls<BatchGetItemCommandOutput>({ $metadata: {} });
    ddb.on(BatchGetItemCommand).callsFake(held.call);
    const removals = removalsOf(...Array.from({ length: 450 }, (_, index) => productKeys(`p-${index}`)));

    const checking = check(removals, signal());
    await settle();
    expect(held.state.inFlight).toBe(2);
    for (let answered = 0; answered < 5; answered++) await held.answerNext();
    const presence = await checking;

    expect(held.state).toMatchObject({ started: 5, maxInFlight: 2 });
    expect(presence.absent).toHaveLength(450);
  });

  describe("UnprocessedKeys", () => {
    it("asks for them again with exponential backoff and jitter, then takes the answer", async () => {
      const { check, clock } = setup();
      const unprocessed = (...ids: string[]) => ({ products: { Keys: sdkKeys(...ids) } });
      ddb
        .on(BatchGetItemCommand)
        .resolvesOnce({
          Responses: { products: [{ productId: { S: "p-1" } }] },
          UnprocessedKeys: unprocessed("p-2", "p-3"),
        })
        .resolvesOnce({ Responses: { products: [] }, UnprocessedKeys: unprocessed("p-3") })
        .resolvesOnce({ Responses: { products: [] }, UnprocessedKeys: unprocessed("p-3") })
        .resolvesOnce({ Responses: { products: [{ productId: { S: "p-3" } }] } });
      const removals = removalsOf(productKeys("p-1"), productKeys("p-2"), productKeys("p-3"));

      const presence = await check(removals, signal());

      expect(requests().map((input) => input.RequestItems?.products?.Keys)).toStrictEqual([
        [productKeys("p-1"), productKeys("p-2"), productKeys("p-3")],
        [productKeys("p-2"), productKeys("p-3")],
        [productKeys("p-3")],
        [productKeys("p-3")],
      ]);
      expect(requests()[1]?.RequestItems?.products).toMatchObject({
        ConsistentRead: true,
        ProjectionExpression: "#k0",
      });
      expect(clock.delays).toStrictEqual([25, 50, 100]);
      expect(presence).toStrictEqual({
        absent: [removals[1]],
        recreated: [removals[0], removals[2]],
        unchecked: [],
      });
    });

    it("caps each wait at 2 s", async () => {
      const { check, clock } = setup({ random: () => 0.999 });
      ddb.on(BatchGetItemCommand).resolves({ UnprocessedKeys: { products: { Keys: sdkKeys("p-1") } } });

      await check(removalsOf(productKeys("p-1")), signal());

      expect(clock.delays.slice(4, 8).map(Math.round)).toStrictEqual([799, 1598, 1998, 1998]);
    });

    it("reports keys unprocessed in every one of the rounds unchecked", async () => {
      const { check, clock } = setup();
      ddb.on(BatchGetItemCommand).resolves({ UnprocessedKeys: { products: { Keys: sdkKeys("p-1") } } });

      const presence = await check(removalsOf(productKeys("p-1")), signal());

      expect(requests()).toHaveLength(MAX_BATCH_GET_ROUNDS);
      expect(clock.delays).toHaveLength(MAX_BATCH_GET_ROUNDS - 1);
      expect(presence.unchecked[0]?.error.message).toContain(
        `left the key unprocessed in ${MAX_BATCH_GET_ROUNDS} BatchGetItem requests`,
      );
    });

    it("reports the keys still unprocessed when the signal fires unchecked: the table could not be read in time", async () => {
      const controller = new AbortController();
      const delays: number[] = [];
      const { check } = setup({
        sleep: async (ms) => {
          delays.push(ms);
          if (delays.length === 2) controller.abort(new Error("time budget ran out"));
        },
      });
      ddb
        .on(BatchGetItemCommand)
        .resolvesOnce({
          Responses: { products: [{ productId: { S: "p-1" } }] },
          UnprocessedKeys: { products: { Keys: sdkKeys("p-2") } },
        })
        .resolves({ UnprocessedKeys: { products: { Keys: sdkKeys("p-2") } } });
      const removals = removalsOf(productKeys("p-1"), productKeys("p-2"));

      const presence = await check(removals, controller.signal);

      expect(requests()).toHaveLength(2);
      expect(presence.recreated).toStrictEqual([removals[0]]);
      expect(presence.unchecked.map(({ item }) => item)).toStrictEqual([removals[1]]);
      const { error } = presence.unchecked[0] as (typeof presence.unchecked)[0];
      expect(error.message).toContain('table "products" could not be read in time');
      expect(error.message).toContain("time budget ran out");
      expect(error.cause).toBe(controller.signal.reason);
      expect(error.tableName).toBe("products");
    });

    it("calls no key absent when an unprocessed key matches none asked", async () => {
      const { check } = setup();
      ddb.on(BatchGetItemCommand).resolves({ UnprocessedKeys: { products: { Keys: [{ productId: { N: "7" } }] } } });

      const presence = await check(removalsOf({ productId: { N: "007" } }), signal());

      expect(presence.absent).toStrictEqual([]);
      expect(presence.unchecked[0]?.error.message).toContain("answered with a key that matches none asked");
    });
  });

  it("calls no key absent when the table returns an item that matches none asked", async () => {
    const { check } = setup();
    // DynamoDB normalises numbers: "007" finds the item whose key is 7.
    ddb.on(BatchGetItemCommand).resolves({ Responses: { products: [{ productId: { N: "7" } }] } });
    const removals = removalsOf({ productId: { N: "007" } }, { productId: { N: "8" } });

    const presence = await check(removals, signal());

    expect(presence.absent).toStrictEqual([]);
    expect(presence.unchecked.map(({ item }) => item)).toStrictEqual(removals);
  });

  it("reports the keys of a request that throws unchecked, naming the table and the error, without retrying it", async () => {
    const { check } = setup();
    const throttled = new ProvisionedThroughputExceededException({ message: "Rate exceeded", $metadata: {} });
    ddb
      .on(BatchGetItemCommand)
      .rejectsOnce(throttled)
      .resolves({ Responses: { products: [] } });
    const removals = removalsOf(
      ...Array.from({ length: 100 }, (_, index) => productKeys(`p-${index}`)),
      ordersRecord({ orderId: { S: "o-1" } }),
    );

    const presence = await check(removals, signal());

    expect(requests()).toHaveLength(2);
    expect(presence.absent).toStrictEqual([removals[100]]);
    expect(presence.unchecked).toHaveLength(100);
    const { error } = presence.unchecked[0] as (typeof presence.unchecked)[0];
    expect(error.message).toContain(
      'BatchGetItem on table "products" failed, so whether the item exists is unknown: ProvisionedThroughputExceededException: Rate exceeded',
    );
    expect(error.cause).toBe(throttled);
  });

  it("returns when the signal fires while a client hangs, with its keys unchecked", async () => {
    const { check } = setup();
    ddb.on(BatchGetItemCommand).callsFake(() => new Promise(() => {}));
    const controller = new AbortController();
    const removals = removalsOf(productKeys("p-1"));

    const checking = check(removals, controller.signal);
    await settle();
    controller.abort(new Error("time budget ran out"));
    const presence = await checking;

    expect(presence.unchecked.map(({ item }) => item)).toStrictEqual(removals);
    expect(presence.unchecked[0]?.error.message).toContain('table "products" could not be read in time');
  });

  it("sends nothing once the signal has fired", async () => {
    const { check } = setup();
    ddb.on(BatchGetItemCommand).resolves({});
    const controller = new AbortController();
    controller.abort(new Error("time budget ran out"));

    const presence = await check(removalsOf(productKeys("p-1")), controller.signal);

    expect(requests()).toStrictEqual([]);
    expect(presence.unchecked[0]?.error.message).toContain("no time was left to read the table");
  });

  it("sends no later request after the signal fires", async () => {
    const { check } = setup({ concurrency: 1 });
    const controller = new AbortController();
    ddb.on(BatchGetItemCommand).callsFake(async () => {
      controller.abort(new Error("time budget ran out"));
      return { Responses: {} };
    });
    const removals = removalsOf(...Array.from({ length: 150 }, (_, index) => productKeys(`p-${index}`)));

    const presence = await check(removals, controller.signal);

    expect(requests()).toHaveLength(1);
    expect(presence.unchecked).toHaveLength(150);
  });

  it("asks every distinct key once, in requests of at most 100, and sorts every removal into exactly one list", async () => {
    const tables = ["products", "orders", "select"];
    const scenario = fc.record({
      removals: fc.array(fc.record({ table: fc.integer({ min: 0, max: 3 }), id: fc.integer({ min: 0, max: 300 }) }), {
        maxLength: 400,
      }),
      existing: fc.uniqueArray(
        fc.record({ table: fc.integer({ min: 0, max: 2 }), id: fc.integer({ min: 0, max: 300 }) }),
      ),
      concurrency: fc.integer({ min: 1, max: 8 }),
      throwing: fc.option(fc.nat(), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(scenario, async ({ removals: wanted, existing, concurrency, throwing }) => {
        ddb.reset();
        const { check } = setup({ concurrency });
        const store = new Set(
          existing.map(({ table, id }) => `${tables[table]} ${JSON.stringify({ productId: { S: `p-${id}` } })}`),
        );
        const answer = answerFrom(store);
        let calls = 0;
        ddb.on(BatchGetItemCommand).callsFake(async (input: BatchGetItemCommandInput) => {
          if (calls++ === throwing) throw new Error("InternalServerError");
          return answer(input);
        });
        const parsed = removalsOf(...wanted.map(({ id }) => productKeys(`p-${id}`)));
        // Table 3 stands for a record without a table.
        const subjects = parsed.map((removal, index) => ({ ...removal, tableName: tables[wanted[index]?.table ?? 0] }));

        const presence = await check(subjects, signal());

        const asked = requests().flatMap(askedKeys);
        const distinct = new Set(
          subjects
            .filter((s) => s.tableName !== undefined)
            .map((s) => `${s.tableName} ${JSON.stringify(s.record.dynamodb?.Keys)}`),
        );
        expect(asked.sort()).toStrictEqual([...distinct].sort());
        for (const input of requests()) expect(askedKeys(input).length).toBeLessThanOrEqual(MAX_KEYS_PER_BATCH_GET);
        const sorted = [...presence.absent, ...presence.recreated, ...presence.unchecked.map(({ item }) => item)];
        expect(sorted).toHaveLength(subjects.length);
        expect(new Set(sorted).size).toBe(subjects.length);
        const keyOf = (s: (typeof subjects)[0]) => `${s.tableName} ${JSON.stringify(s.record.dynamodb?.Keys)}`;
        for (const s of presence.recreated) expect(store.has(keyOf(s))).toBe(true);
        for (const s of presence.absent) expect(store.has(keyOf(s))).toBe(false);
        for (const { item } of presence.unchecked) {
          expect(item.tableName === undefined || throwing !== undefined).toBe(true);
        }
      }),
      { numRuns: propertyRuns(60) },
    );
  });
});
