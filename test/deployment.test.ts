import { describe, expect, it } from "vitest";
import {
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
