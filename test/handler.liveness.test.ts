/**
 * Liveness and safety under slow I/O, as Lambda runs the handler: the same batch is delivered again
 * from the lowest reported record until nothing is reported. S3 is an in-memory store whose every
 * answer takes a random time on a fake clock, and which ignores the abort signal, as a client might.
 */
import {
  DeleteObjectsCommand,
  type DeleteObjectsCommandInput,
  ListObjectsV2Command,
  type ListObjectsV2CommandInput,
  S3Client,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type BatchResponse, compareSequenceNumbers, createCleanupHandler, type StreamRecord } from "../src/index.js";
import { createRecordFactory, productKeys, recordingLogger, streamEvent } from "./factories.js";
import { seededRandom } from "./fake-clock.js";
import { propertyRuns } from "./property-runs.js";

const BUCKET = "product-media";
const MARGIN = 500;
const s3 = mockClient(S3Client);

beforeEach(() => {
  s3.reset();
  vi.useFakeTimers({ now: 0 });
});

afterEach(() => {
  vi.useRealTimers();
});

afterAll(() => {
  s3.restore();
});

/** What each record owns: one object, or a prefix with some objects under it. */
type Spec = { kind: "object" } | { kind: "prefix"; objects: number };

const scenarios = fc.record({
  specs: fc.array(
    fc.oneof(
      fc.constant<Spec>({ kind: "object" }),
      fc.integer({ min: 0, max: 1500 }).map((objects): Spec => ({ kind: "prefix", objects })),
    ),
    { minLength: 1, maxLength: 12 },
  ),
  /** The slowest answer S3 gives, in ms; each answer takes a random time up to it. */
  maxLatencyMs: fc.integer({ min: 1, max: 400 }),
  /** How much longer than the margin plus two of the slowest requests (a listing and its delete) the function may run. */
  slackMs: fc.integer({ min: 0, max: 2000 }),
  concurrency: fc.integer({ min: 1, max: 4 }),
  maxListedObjects: fc.integer({ min: 200, max: 3000 }),
  seed: fc.integer(),
});

/** An S3 bucket in memory: keys sorted, each answer after a random delay on the fake clock. */
function fakeStore(keys: string[], latency: () => number) {
  const stored = new Set(keys);
  const wait = () => new Promise<void>((resolve) => setTimeout(resolve, latency()));
  s3.on(ListObjectsV2Command).callsFake(async (input: ListObjectsV2CommandInput) => {
    await wait();
    const after = input.ContinuationToken ?? "";
    const listed = [...stored]
      .filter((key) => key.startsWith(input.Prefix ?? "") && key > after)
      .sort()
      .slice(0, (input.MaxKeys ?? 1000) + 1);
    const page = listed.slice(0, input.MaxKeys ?? 1000);
    const truncated = listed.length > page.length;
    return {
      Contents: page.map((Key) => ({ Key })),
      IsTruncated: truncated,
      ...(truncated ? { NextContinuationToken: page.at(-1) } : {}),
    };
  });
  s3.on(DeleteObjectsCommand).callsFake(async (input: DeleteObjectsCommandInput) => {
    await wait();
    for (const { Key } of input.Delete?.Objects ?? []) stored.delete(Key as string);
    return {};
  });
  return stored;
}

describe("repeated deliveries of one batch, with slow S3 answers and a client that ignores the signal", () => {
  it("finish in a bounded number of deliveries, each returning before its timeout, never checkpointing past an object that exists", async () => {
    await fc.assert(
      fc.asyncProperty(scenarios, async (scenario) => {
        // Prepare
        s3.reset();
        const random = seededRandom(scenario.seed);
        const { removeRecord } = createRecordFactory();
        const records = scenario.specs.map((_, i) => removeRecord({ keys: productKeys(`p-${i}`) }));
        const objectsOf = (i: number): string[] => {
          const spec = scenario.specs[i] as Spec;
          return spec.kind === "object"
            ? [`images/p-${i}.png`]
            : Array.from({ length: spec.objects }, (_, n) => `products/p-${i}/${String(n).padStart(4, "0")}`);
        };
        const stored = fakeStore(
          scenario.specs.flatMap((_, i) => objectsOf(i)),
          () => Math.floor(random() * (scenario.maxLatencyMs + 1)),
        );
        const { logger } = recordingLogger();
        const handler = createCleanupHandler({
          key: (item) => {
            const i = Number(String(item.keys.productId).slice(2));
            return scenario.specs[i]?.kind === "object"
              ? `images/p-${i}.png`
              : { bucket: BUCKET, prefix: `products/p-${i}/` };
          },
          bucket: BUCKET,
          allowedPrefixes: ["images/", "products/"],
          concurrency: scenario.concurrency,
          maxListedObjects: scenario.maxListedObjects,
          timeoutMarginMs: MARGIN,
          s3Client: new S3Client({ region: "us-east-1" }),
          logger,
        });
        const timeoutMs = MARGIN + 2 * scenario.maxLatencyMs + scenario.slackMs + 1;
        // Every delivery deletes at least one page or one request's objects, so it can take no more
        // deliveries than there are pages and requests, plus the one that finds nothing left.
        const requestsNeeded = scenario.specs.reduce(
          (sum, spec) =>
            sum +
            (spec.kind === "object"
              ? 1
              : Math.max(1, Math.ceil(spec.objects / Math.min(1000, scenario.maxListedObjects)))),
          0,
        );

        // Act: Lambda's loop, from the checkpoint
        let from = 0;
        let deliveries = 0;
        while (from < records.length) {
          deliveries++;
          expect(deliveries, "deliveries needed").toBeLessThanOrEqual(requestsNeeded + 1);
          const delivered = records.slice(from);
          const started = Date.now();
          let returnedAt = Number.POSITIVE_INFINITY;
          const done = handler(streamEvent(...delivered), {
            getRemainingTimeInMillis: () => started + timeoutMs - Date.now(),
          }).then((response) => {
            returnedAt = Date.now();
            return response;
          });
          await vi.runAllTimersAsync();
          const response: BatchResponse = await done;

          // Assess: before the timeout, and no checkpoint past a record whose objects still exist
          expect(returnedAt - started, "returned before the function's timeout").toBeLessThanOrEqual(
            timeoutMs - MARGIN,
          );
          const reported = response.batchItemFailures.map((failure) => failure.itemIdentifier);
          const lowest = reported.sort(compareSequenceNumbers)[0];
          const next = lowest === undefined ? records.length : records.findIndex((record) => seqOf(record) === lowest);
          expect(next).toBeGreaterThanOrEqual(from);
          for (let i = from; i < next; i++) {
            expect(
              objectsOf(i).filter((key) => stored.has(key)),
              `record ${i} is checkpointed past with objects left`,
            ).toEqual([]);
          }
          from = next;
        }
        expect(stored.size).toBe(0);
      }),
      { numRuns: propertyRuns(40) },
    );
  }, 180_000);
});

const seqOf = (record: StreamRecord) => record.dynamodb?.SequenceNumber as string;
