import { describe, expect, it } from "vitest";
import {
  ConfigError,
  type FilterCriteriaOptions,
  filterCriteria,
  isConfigError,
  KINESIS_REMOVE_ONLY_FILTER_CRITERIA,
  KINESIS_TTL_REMOVE_ONLY_FILTER_CRITERIA,
  RECOMMENDED_EVENT_SOURCE_MAPPING,
  REMOVE_ONLY_FILTER_CRITERIA,
  recommendedEventSourceMapping,
  TTL_REMOVE_ONLY_FILTER_CRITERIA,
} from "../src/index.js";
import { createRecordFactory, kinesisEvent } from "../src/testing/index.js";

/**
 * A tiny matcher for the EventBridge/Lambda filter pattern subset these constants use: every key of
 * the pattern must exist in the value, and a leaf array lists the values allowed.
 */
function matches(pattern: unknown, value: unknown): boolean {
  if (Array.isArray(pattern)) return pattern.includes(value);
  if (typeof pattern !== "object" || pattern === null) return false;
  if (typeof value !== "object" || value === null) return false;
  return Object.entries(pattern).every(([key, inner]) => matches(inner, (value as Record<string, unknown>)[key]));
}

const patternOf = (criteria: { Filters: readonly [{ Pattern: string }] }) => JSON.parse(criteria.Filters[0].Pattern);

describe("filter criteria", () => {
  const { removeRecord, ttlRemoveRecord, insertRecord } = createRecordFactory();
  const user = removeRecord({ keys: { productId: "p-1" } });
  const ttl = ttlRemoveRecord({ keys: { productId: "p-2" } });
  const insert = insertRecord({ keys: { productId: "p-3" } });
  /** Lambda filters Kinesis records on `data` decoded as JSON. */
  const kinesisView = (record: typeof user) => {
    const [wrapped] = kinesisEvent([record]).Records;
    return { data: JSON.parse(Buffer.from(wrapped?.kinesis.data ?? "", "base64").toString("utf8")) };
  };

  it("lets REMOVE records of a DynamoDB stream through, and no INSERT", () => {
    const pattern = patternOf(REMOVE_ONLY_FILTER_CRITERIA);
    expect([user, ttl, insert].map((record) => matches(pattern, record))).toEqual([true, true, false]);
  });

  it("lets only TTL REMOVE records of a DynamoDB stream through", () => {
    const pattern = patternOf(TTL_REMOVE_ONLY_FILTER_CRITERIA);
    expect([user, ttl, insert].map((record) => matches(pattern, record))).toEqual([false, true, false]);
  });

  it("filters Kinesis records on their decoded data the same way", () => {
    const removals = patternOf(KINESIS_REMOVE_ONLY_FILTER_CRITERIA);
    const ttlOnly = patternOf(KINESIS_TTL_REMOVE_ONLY_FILTER_CRITERIA);
    const views = [user, ttl, insert].map(kinesisView);
    expect(views.map((view) => matches(removals, view))).toEqual([true, true, false]);
    expect(views.map((view) => matches(ttlOnly, view))).toEqual([false, true, false]);
  });
});

describe("filterCriteria", () => {
  const TTL = '"userIdentity":{"type":["Service"],"principalId":["dynamodb.amazonaws.com"]}';

  it.each<[string, FilterCriteriaOptions, string]>([
    ["DynamoDB Streams, every REMOVE", { source: "dynamodb-streams" }, '{"eventName":["REMOVE"]}'],
    ["DynamoDB Streams, removals any", { source: "dynamodb-streams", removals: "any" }, '{"eventName":["REMOVE"]}'],
    [
      "DynamoDB Streams, TTL removals",
      { source: "dynamodb-streams", removals: "ttl" },
      `{"eventName":["REMOVE"],${TTL}}`,
    ],
    ["Kinesis, every REMOVE", { source: "kinesis" }, '{"data":{"eventName":["REMOVE"]}}'],
    ["Kinesis, TTL removals", { source: "kinesis", removals: "ttl" }, `{"data":{"eventName":["REMOVE"],${TTL}}}`],
    [
      "Kinesis, one table",
      { source: "kinesis", tableNames: ["products"] },
      '{"data":{"eventName":["REMOVE"],"tableName":["products"]}}',
    ],
    [
      "Kinesis, TTL removals of two tables",
      { source: "kinesis", removals: "ttl", tableNames: ["products", "orders"] },
      `{"data":{"eventName":["REMOVE"],${TTL},"tableName":["products","orders"]}}`,
    ],
  ])("builds the pattern for %s", (_name, options, pattern) => {
    // Act
    const built = filterCriteria(options);

    // Assess
    expect(built).toStrictEqual({ Filters: [{ Pattern: pattern }] });
  });

  it.each<[FilterCriteriaOptions, unknown]>([
    [{ source: "dynamodb-streams" }, REMOVE_ONLY_FILTER_CRITERIA],
    [{ source: "dynamodb-streams", removals: "ttl" }, TTL_REMOVE_ONLY_FILTER_CRITERIA],
    [{ source: "kinesis" }, KINESIS_REMOVE_ONLY_FILTER_CRITERIA],
    [{ source: "kinesis", removals: "ttl" }, KINESIS_TTL_REMOVE_ONLY_FILTER_CRITERIA],
  ])("equals the constant for %j", (options, constant) => {
    // Assess
    expect(filterCriteria(options)).toStrictEqual(constant);
  });

  it("lets through exactly the Kinesis REMOVE records of the tables named", () => {
    // Prepare
    const { removeRecord, ttlRemoveRecord, insertRecord } = createRecordFactory({ tableName: "products" });
    const orders = createRecordFactory({ tableName: "orders" });
    const archive = createRecordFactory({ tableName: "archive" });
    const records = [
      removeRecord({ keys: { productId: "p-1" } }),
      ttlRemoveRecord({ keys: { productId: "p-2" } }),
      insertRecord({ keys: { productId: "p-3" } }),
      orders.ttlRemoveRecord({ keys: { orderId: "o-1" } }),
      archive.ttlRemoveRecord({ keys: { productId: "a-1" } }),
    ];
    const views = kinesisEvent(records).Records.map((record) => ({
      data: JSON.parse(Buffer.from(record.kinesis.data, "base64").toString("utf8")),
    }));

    // Act
    const any = patternOf(filterCriteria({ source: "kinesis", tableNames: ["products", "orders"] }));
    const ttl = patternOf(filterCriteria({ source: "kinesis", removals: "ttl", tableNames: ["products", "orders"] }));

    // Assess
    expect(views.map((view) => matches(any, view))).toEqual([true, true, false, true, false]);
    expect(views.map((view) => matches(ttl, view))).toEqual([false, true, false, true, false]);
  });

  it("copies the table names, so that changing the array later changes no pattern", () => {
    // Prepare
    const tableNames = ["products"];
    const built = filterCriteria({ source: "kinesis", tableNames });

    // Act
    tableNames.push("orders");

    // Assess
    expect(built.Filters[0].Pattern).toBe('{"data":{"eventName":["REMOVE"],"tableName":["products"]}}');
  });

  it.each<[string, unknown, { path: string; message: string }[]]>([
    [
      "tableNames for a DynamoDB stream",
      { source: "dynamodb-streams", tableNames: ["products"] },
      [
        {
          path: "tableNames",
          message:
            'cannot be used with source "dynamodb-streams": a DynamoDB stream holds the records of its own table only',
        },
      ],
    ],
    [
      "an unknown source",
      { source: "pipes" },
      [{ path: "source", message: 'must be "dynamodb-streams" or "kinesis"' }],
    ],
    [
      "removals: user",
      { source: "kinesis", removals: "user" },
      [
        {
          path: "removals",
          message:
            'must be "any" or "ttl" (users\' removals cannot be told by a filter: use removals: "user" in the handler)',
        },
      ],
    ],
    [
      "an empty list of tables",
      { source: "kinesis", tableNames: [] },
      [{ path: "tableNames", message: "must hold at least one table name (leave it out to take every table)" }],
    ],
    [
      "an empty table name",
      { source: "kinesis", tableNames: ["products", ""] },
      [{ path: "tableNames[1]", message: "must be a non-empty string" }],
    ],
    ["an unknown option", { source: "kinesis", table: "products" }, [{ path: "table", message: "is not an option" }]],
    ["no options", undefined, [{ path: "(options)", message: "must be an object" }]],
  ])("throws ConfigError naming the option for %s", (_name, options, issues) => {
    // Act
    let thrown: unknown;
    try {
      filterCriteria(options as FilterCriteriaOptions);
    } catch (error) {
      thrown = error;
    }

    // Assess
    expect(thrown).toBeInstanceOf(ConfigError);
    expect(isConfigError(thrown) && thrown.issues).toEqual(issues);
  });
});

describe("event source mapping settings", () => {
  it("asks for partial batch responses, bisection and bounded retries and record age", () => {
    expect(RECOMMENDED_EVENT_SOURCE_MAPPING).toMatchObject({
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      BisectBatchOnFunctionError: true,
    });
    expect(RECOMMENDED_EVENT_SOURCE_MAPPING.MaximumRetryAttempts).toBeGreaterThan(0);
    expect(RECOMMENDED_EVENT_SOURCE_MAPPING.MaximumRecordAgeInSeconds).toBeGreaterThanOrEqual(60);
    expect(RECOMMENDED_EVENT_SOURCE_MAPPING.MaximumRecordAgeInSeconds).toBeLessThan(86_400);
    expect(RECOMMENDED_EVENT_SOURCE_MAPPING.BatchSize).toBeLessThanOrEqual(10_000);
  });

  it("adds the on-failure destination in the Lambda API's spelling", () => {
    const arn = "arn:aws:sqs:eu-west-1:123456789012:cleanup-dlq";
    expect(recommendedEventSourceMapping(arn)).toEqual({
      ...RECOMMENDED_EVENT_SOURCE_MAPPING,
      DestinationConfig: { OnFailure: { Destination: arn } },
    });
  });
});
