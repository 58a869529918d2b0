/**
 * Fault injection (issue #9): the handler behind a proxy in front of moto that answers delete
 * requests with 503 SlowDown and 500 InternalError, drops connections (before forwarding, and after
 * moto has deleted so that the client never hears it), and gives some keys per-key errors, with
 * seeded randomness (test/services/s3-proxy.ts). A loop delivers the stream as Lambda's event source
 * mapping does: batches from the checkpoint, which moves to the lowest reported record, or past the
 * batch when none is reported. An invocation that throws or returns after the function's timeout
 * fails the test (Lambda would retry its whole batch).
 *
 * After every invocation moto is checked directly, not through the proxy: no record the checkpoint
 * has passed may have an object left. At the end every removed object is gone and every live one is
 * there. The only timing assertion is that each invocation returned before the function's timeout:
 * the handler's budget is `timeoutMarginMs` shorter, so the margin is the slack.
 */
import { randomUUID } from "node:crypto";
import { DeleteObjectsCommand, HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createCleanupHandler, type StreamRecord } from "../../src/index.js";
import { createRecordFactory, streamEvent } from "../../src/testing/index.js";
import { localClientConfig } from "../services/index.js";
import { type FaultSettings, type S3Proxy, startS3Proxy } from "../services/s3-proxy.js";
import { createBucket, listKeys, putObjects, quietLogger } from "./helpers.js";

/** REMOVE records; each item owns two objects, so twice as many objects to delete. */
const REMOVED_ITEMS = 300;
/** Live items, each with an INSERT and a MODIFY record in the stream and two objects to keep. */
const LIVE_ITEMS = 100;
/** Records per delivery (BatchSize). */
const BATCH_SIZE = 25;
const FUNCTION_TIMEOUT_MS = 4000;
const TIMEOUT_MARGIN_MS = 1000;
/** More deliveries than this fails the test: the handler is not making progress. */
const MAX_DELIVERIES = 100;
const KEY = ["media/{productId}.png", "media/{productId}/thumb.png"];
const SEEDS = [1, 2, 3];

/** Per delete request: the chance of each whole-request fault, and of per-key errors. */
const FAULTS: Omit<FaultSettings, "seed"> = {
  mode: "faults",
  slowDown: 0.1,
  internalError: 0.1,
  dropBefore: 0.1,
  dropAfter: 0.15,
  perKey: 0.25,
  keyErrorRate: 0.2,
};

const NO_FAULTS = {
  mode: "faults",
  slowDown: 0,
  internalError: 0,
  dropBefore: 0,
  dropAfter: 0,
  perKey: 0,
  keyErrorRate: 0,
} as const satisfies Omit<FaultSettings, "seed">;

/** The objects of an item, as the handler maps them. */
const objectsOf = (id: string) => [`media/${id}.png`, `media/${id}/thumb.png`];

/**
 * The stream: REMOVE records of `p-<i>`, with INSERT and MODIFY records of the live items
 * `p-<i>-v2` between them, in sequence-number order. Every third removed item has a backup
 * `media/p-<i>.png.bak` that its REMOVE must not take with it (a removed key is a prefix of it), and
 * live keys share prefixes with removed ones (`media/p-1` with `media/p-1-v2.png`).
 */
function workload() {
  const { removeRecord, insertRecord, modifyRecord } = createRecordFactory({ tableName: "products" });
  const records: StreamRecord[] = [];
  const removedObjects = new Map<StreamRecord, string[]>();
  const liveObjects: string[] = [];
  for (let i = 0; i < REMOVED_ITEMS; i++) {
    const live = `p-${i}-v2`;
    const hasLive = i < LIVE_ITEMS;
    if (hasLive) {
      records.push(insertRecord({ keys: { productId: live }, newImage: { productId: live, price: i } }));
      liveObjects.push(...objectsOf(live));
    }
    const removed = `p-${i}`;
    const remove = removeRecord({ keys: { productId: removed }, oldImage: { productId: removed, price: i } });
    records.push(remove);
    removedObjects.set(remove, objectsOf(removed));
    if (i % 3 === 0) liveObjects.push(`media/${removed}.png.bak`);
    if (hasLive) {
      records.push(
        modifyRecord({
          keys: { productId: live },
          oldImage: { productId: live, price: i },
          newImage: { productId: live, price: i + 1 },
        }),
      );
    }
  }
  return { records, removedObjects, liveObjects };
}

/** The keys that exist in `bucket`, asked with HeadObject, a few at a time. */
async function existing(s3: S3Client, bucket: string, keys: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < keys.length) {
        const key = keys[next++] as string;
        try {
          await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
          found.push(key);
        } catch (error) {
          if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 404) throw error;
        }
      }
    }),
  );
  return found.sort();
}

/** What the delivery loop saw. */
interface Deliveries {
  deliveries: number;
  recordsReported: number;
  /** The longest invocation, in ms. */
  slowestMs: number;
}

/**
 * Delivers `records` to `handler` as Lambda's event source mapping does for one shard, until every
 * record is checkpointed; throws after {@link MAX_DELIVERIES}. After each invocation it calls
 * `check` with the records the checkpoint has just passed, `records.slice(from, to)`.
 */
async function deliver(
  handler: ReturnType<typeof createCleanupHandler>,
  records: readonly StreamRecord[],
  check: (from: number, to: number, delivery: number) => Promise<void>,
): Promise<Deliveries> {
  const result: Deliveries = { deliveries: 0, recordsReported: 0, slowestMs: 0 };
  let checkpoint = 0;
  while (checkpoint < records.length) {
    if (result.deliveries >= MAX_DELIVERIES) {
      throw new Error(`${MAX_DELIVERIES} deliveries checkpointed only ${checkpoint} of ${records.length} records`);
    }
    const batch = records.slice(checkpoint, checkpoint + BATCH_SIZE);
    const timeout = performance.now() + FUNCTION_TIMEOUT_MS;
    const context = {
      awsRequestId: randomUUID(),
      getRemainingTimeInMillis: () => Math.max(0, Math.floor(timeout - performance.now())),
    };
    const started = performance.now();
    // Each invocation gets its own copy, as Lambda sends each its own JSON.
    const response = await handler(structuredClone(streamEvent(...batch)), context);
    const elapsedMs = performance.now() - started;
    result.deliveries++;
    result.slowestMs = Math.max(result.slowestMs, elapsedMs);
    expect(elapsedMs, `delivery ${result.deliveries} returned after the function's timeout`).toBeLessThan(
      FUNCTION_TIMEOUT_MS,
    );
    const reported = response.batchItemFailures.map(({ itemIdentifier }) => {
      const index = batch.findIndex((record) => record.dynamodb?.SequenceNumber === itemIdentifier);
      expect(
        index,
        `delivery ${result.deliveries} reported ${itemIdentifier}, not in its batch`,
      ).toBeGreaterThanOrEqual(0);
      return index;
    });
    result.recordsReported += reported.length;
    const done = checkpoint;
    checkpoint += reported.length === 0 ? batch.length : Math.min(...reported);
    await check(done, checkpoint, result.deliveries);
  }
  return result;
}

describe("fault injection: 503s, 500s, dropped connections and per-key errors", () => {
  let started: S3Proxy | undefined;
  const proxy = () => started as S3Proxy;
  const direct = new S3Client({ ...localClientConfig(inject("motoEndpoint")), forcePathStyle: true });

  beforeAll(async () => {
    started = await startS3Proxy(inject("motoEndpoint"), { ...NO_FAULTS, seed: 0 });
  });

  // Also when a test or beforeAll fails; the proxy stops by itself too when this process is gone.
  afterAll(async () => {
    direct.destroy();
    await started?.stop();
  });

  describe("the proxy", () => {
    const keys = ["a.png", "a.png.bak"];

    it.each([
      { fault: { slowDown: 1 }, heard: "SlowDown (HTTP 503)", deleted: false },
      { fault: { internalError: 1 }, heard: "InternalError (HTTP 500)", deleted: false },
      { fault: { dropBefore: 1 }, heard: "no answer", deleted: false },
      { fault: { dropAfter: 1 }, heard: "no answer", deleted: true },
      { fault: { perKey: 1, keyErrorRate: 1 }, heard: "InternalError or SlowDown for every key", deleted: false },
    ])("with $fault the client hears $heard, and moto deleted: $deleted", async ({ fault, heard, deleted }) => {
      // Prepare
      const bucket = await createBucket(direct, "fault-kinds");
      await putObjects(direct, bucket, keys);
      await proxy().configure({ ...NO_FAULTS, seed: 1, ...fault });
      const s3 = new S3Client({ ...localClientConfig(proxy().endpoint), forcePathStyle: true, maxAttempts: 1 });

      // Act
      const answer = await s3
        .send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }))
        .then(
          ({ Errors = [] }) =>
            Errors.length === keys.length && Errors.every(({ Code }) => Code === "InternalError" || Code === "SlowDown")
              ? "InternalError or SlowDown for every key"
              : `per-key errors ${JSON.stringify(Errors)}`,
          (error: { name: string; $metadata?: { httpStatusCode?: number } }) => {
            const status = error.$metadata?.httpStatusCode;
            return status === undefined ? "no answer" : `${error.name} (HTTP ${status})`;
          },
        )
        .finally(() => s3.destroy());

      // Assess
      expect(answer).toBe(heard);
      expect(await listKeys(direct, bucket)).toEqual(deleted ? [] : keys);
    });
  });

  describe.each(SEEDS)("seed %i", (seed) => {
    it("never checkpoints past a record whose objects exist, and ends with every removed object gone and every live one kept", async ({
      annotate,
    }) => {
      // Prepare
      const { records, removedObjects, liveObjects } = workload();
      const bucket = await createBucket(direct, `faults-${seed}`);
      await putObjects(direct, bucket, [...[...removedObjects.values()].flat(), ...liveObjects]);
      const s3 = new S3Client({
        ...localClientConfig(proxy().endpoint),
        forcePathStyle: true,
        maxAttempts: 2,
      });
      const handler = createCleanupHandler({
        bucket,
        key: KEY,
        s3Client: s3,
        logger: quietLogger().logger,
        timeoutMarginMs: TIMEOUT_MARGIN_MS,
      });
      await proxy().configure({ ...FAULTS, seed });

      /**
       * On moto directly: nothing left of the records the checkpoint has just passed. Earlier ones were
       * checked before, and nothing writes their objects again. A live object deleted at any time
       * stays deleted, so the final listing catches it.
       */
      const check = async (from: number, to: number, delivery: number) => {
        const keys = records.slice(from, to).flatMap((record) => removedObjects.get(record) ?? []);
        const left = await existing(direct, bucket, keys);
        expect(left, `delivery ${delivery} moved the checkpoint from ${from} to ${to}, objects left`).toEqual([]);
      };

      // Act
      let deliveries: Deliveries;
      try {
        deliveries = await deliver(handler, records, check);
      } finally {
        s3.destroy();
      }
      const { faults, deleteRequests } = await proxy().stats();
      await annotate(
        `${deliveries.deliveries} deliveries, ${deliveries.recordsReported} records reported, slowest ` +
          `${Math.round(deliveries.slowestMs)} ms; ${deleteRequests} delete requests, faults ${JSON.stringify(faults)}`,
      );

      // Assess
      expect(await listKeys(direct, bucket)).toEqual([...liveObjects].sort());
      // The same seed and requests draw the same faults: every kind comes up with these seeds.
      expect(Object.entries(faults).filter(([, count]) => count === 0)).toEqual([]);
    });
  });
});
