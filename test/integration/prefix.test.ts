/**
 * Prefix targets on moto's S3: a key function's `{ bucket, prefix }` is listed and every object under
 * it deleted, nothing outside it; a bound smaller than the prefix leaves the rest for the next
 * delivery, and every delivery deletes what it listed.
 *
 * Most tests compose the steps the handler composes (parse, map, plan, execute), to look at each
 * step's result; the last ones go through createCleanupHandler itself.
 */
import { DeleteObjectCommand, PutBucketVersioningCommand, type S3Client } from "@aws-sdk/client-s3";
import { describe, expect, inject, it } from "vitest";
import { deleterConfig } from "../../src/batch-deleter.js";
import { executePlan, planCleanup } from "../../src/cleanup-plan.js";
import { createCleanupHandler } from "../../src/handler.js";
import { createKeyMapper, mapRemovals } from "../../src/key-mapper.js";
import { parseStreamRecords } from "../../src/parse-stream-records.js";
import { listPages } from "../../src/s3-listing.js";
import { createRecordFactory, streamEvent } from "../../src/testing/index.js";
import type { CleanupHandler, StreamEvent, StreamRecord } from "../../src/types.js";
import { countingS3Client, createBucket, listKeys, putObjects, quietLogger } from "./helpers.js";

/** Keys of awkward characters: a space, `+`, `%`, a control character (XML cannot carry it), non-ASCII. */
const AWKWARD = ["a b.png", "a+b.png", "100%.png", "ctrl\u0001.png", "ü/ö.png"];

/** Removes each product's folder `products/<productId>/`, with the steps the handler composes. */
async function cleanUp(
  s3: S3Client,
  bucket: string,
  event: StreamEvent,
  { maxListedObjects, versions }: { maxListedObjects?: number; versions?: "current" | "all" } = {},
) {
  const mapKeys = createKeyMapper((item) => ({ bucket, prefix: String(item.oldImage?.folder) }), {
    bucket,
    allowedPrefixes: ["products/"],
  });
  const { removals } = parseStreamRecords(event);
  const { signal } = new AbortController();
  const { mapped, invalid } = await mapRemovals(removals, mapKeys, { concurrency: 4, signal });
  const plan = planCleanup(mapped);
  const outcome = await executePlan(plan, deleterConfig({ s3Client: s3, versions, maxListedObjects }), signal);
  return { invalid, plan, outcome };
}

/** Every version and delete marker under `prefix`, as `key` strings in listing order. */
async function listVersionKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of listPages({ bucket, prefix, versions: "all" }, { s3Client: s3 })) {
    keys.push(...page.map(({ key }) => key));
  }
  return keys;
}

/**
 * Delivers `records` to the handler as Lambda's event source mapping does: after a partial batch
 * response, everything before the lowest reported record is checkpointed and the rest delivered
 * again. Calls `afterEach` after each delivery; stops when a delivery reports nothing, or after
 * `maxDeliveries`.
 */
async function deliverUntilDone(
  handler: CleanupHandler,
  records: readonly StreamRecord[],
  afterEach: () => Promise<void>,
  maxDeliveries = 20,
): Promise<{ records: number; reported: number }[]> {
  const deliveries: { records: number; reported: number }[] = [];
  let batch = [...records];
  while (batch.length > 0 && deliveries.length < maxDeliveries) {
    const { batchItemFailures } = await handler(streamEvent(...batch));
    await afterEach();
    deliveries.push({ records: batch.length, reported: batchItemFailures.length });
    const reported = new Set(batchItemFailures.map(({ itemIdentifier }) => itemIdentifier));
    // The factory's sequence numbers grow in batch order: the first reported record is the lowest.
    const from = batch.findIndex((record) => reported.has(record.dynamodb?.SequenceNumber as string));
    batch = from === -1 ? [] : batch.slice(from);
  }
  return deliveries;
}

/** A REMOVE of a product whose OldImage names its folder. */
function removal(folder: string) {
  return createRecordFactory().removeRecord({ keys: { productId: folder }, oldImage: { productId: folder, folder } });
}

describe("prefix targets", () => {
  it("deletes every object under the prefix, awkward keys too, and nothing outside it", async () => {
    // Prepare
    const { s3, sent } = countingS3Client(inject("motoEndpoint"));
    const bucket = await createBucket(s3, "prefix");
    const inside = ["products/p-1/", "products/p-1/main.png", ...AWKWARD.map((name) => `products/p-1/${name}`)];
    const outside = ["products/p-1.json", "products/p-10/main.png", "products/p-2/main.png", "products/p-1"];
    await putObjects(s3, bucket, [...inside, ...outside]);
    sent.clear();

    // Act
    const { invalid, plan, outcome } = await cleanUp(s3, bucket, streamEvent(removal("products/p-1/")));

    // Assess
    expect(sent.get("ListObjectsV2Command")).toBe(1);
    expect(invalid).toStrictEqual([]);
    expect(plan.prefixes.map(({ target }) => target)).toStrictEqual([{ bucket, prefix: "products/p-1/" }]);
    expect(outcome.prefixes).toStrictEqual([{ listed: inside.length, failed: 0, failure: undefined }]);
    expect(outcome.objects).toStrictEqual({ deleted: [], failed: [], keptReplaced: [] });
    expect(await listKeys(s3, bucket)).toStrictEqual([...outside].sort());
  });

  it("refuses a prefix without the delimiter, which would take the sibling products/p-10/ too", async () => {
    // Prepare
    const { s3, sent } = countingS3Client(inject("motoEndpoint"));
    const bucket = await createBucket(s3, "prefix");
    const keys = ["products/p-1/main.png", "products/p-10/main.png"];
    await putObjects(s3, bucket, keys);
    sent.clear();

    // Act
    const { invalid, plan, outcome } = await cleanUp(s3, bucket, streamEvent(removal("products/p-1")));

    // Assess
    expect(invalid.map(({ error }) => error.message)).toStrictEqual([
      expect.stringContaining('the prefix "products/p-1" does not end with prefixDelimiter "/"'),
    ]);
    expect(plan.prefixes).toStrictEqual([]);
    expect(outcome.prefixes).toStrictEqual([]);
    expect(sent.get("ListObjectsV2Command")).toBeUndefined();
    expect(await listKeys(s3, bucket)).toStrictEqual(keys);
  });

  it("deletes what it listed up to maxListedObjects, reports the prefix unfinished, and finishes it on the second run", async () => {
    // Prepare
    const { s3 } = countingS3Client(inject("motoEndpoint"));
    const bucket = await createBucket(s3, "prefix");
    const inside = Array.from({ length: 15 }, (_, i) => `products/p-1/${String(i).padStart(2, "0")}.png`);
    await putObjects(s3, bucket, [...inside, "products/p-10/main.png"]);
    const event = streamEvent(removal("products/p-1/"));

    // Act
    const first = await cleanUp(s3, bucket, event, { maxListedObjects: 10 });
    const afterFirst = await listKeys(s3, bucket);
    const second = await cleanUp(s3, bucket, event, { maxListedObjects: 10 });

    // Assess
    expect(first.outcome.prefixes).toStrictEqual([
      {
        listed: 10,
        failed: 0,
        failure: {
          code: "ListingNotFinished",
          message: "not finished: this call reached maxListedObjects (10); the next one goes on from what is left",
          retryable: true,
        },
      },
    ]);
    expect(afterFirst).toStrictEqual([...inside.slice(10), "products/p-10/main.png"]);
    expect(second.outcome.prefixes).toStrictEqual([{ listed: 5, failed: 0, failure: undefined }]);
    expect(await listKeys(s3, bucket)).toStrictEqual(["products/p-10/main.png"]);
  });

  it('makes progress on a versioned bucket with versions: "current": delete markers are not listed again', async () => {
    // Prepare
    const { s3 } = countingS3Client(inject("motoEndpoint"));
    const bucket = await createBucket(s3, "prefix");
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }));
    await putObjects(
      s3,
      bucket,
      Array.from({ length: 15 }, (_, i) => `products/p-1/${i}.png`),
    );
    const event = streamEvent(removal("products/p-1/"));

    // Act
    const first = await cleanUp(s3, bucket, event, { maxListedObjects: 10 });
    const second = await cleanUp(s3, bucket, event, { maxListedObjects: 10 });

    // Assess
    expect(first.outcome.prefixes.map(({ listed, failure }) => [listed, failure?.code])).toStrictEqual([
      [10, "ListingNotFinished"],
    ]);
    expect(second.outcome.prefixes).toStrictEqual([{ listed: 5, failed: 0, failure: undefined }]);
    expect(await listKeys(s3, bucket)).toStrictEqual([]);
  });

  it('purges every version and delete marker under the prefix with versions: "all", and keeps the sibling', async () => {
    // Prepare
    const { s3, sent } = countingS3Client(inject("motoEndpoint"));
    const bucket = await createBucket(s3, "prefix");
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }));
    const keys = ["products/p-1/a.png", "products/p-1/b c.png", "products/p-10/a.png"];
    await putObjects(s3, bucket, keys);
    await putObjects(s3, bucket, keys);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "products/p-1/a.png" }));
    sent.clear();

    // Act
    const { outcome } = await cleanUp(s3, bucket, streamEvent(removal("products/p-1/")), { versions: "all" });

    // Assess: two versions of each key under the prefix, and a.png's delete marker
    expect(outcome.prefixes).toStrictEqual([{ listed: 5, failed: 0, failure: undefined }]);
    expect(outcome.objects.failed).toStrictEqual([]);
    expect(sent.get("ListObjectVersionsCommand")).toBe(1);
    expect(await listVersionKeys(s3, bucket, "products/")).toStrictEqual([
      "products/p-10/a.png",
      "products/p-10/a.png",
    ]);
  });
});

describe("prefix targets through createCleanupHandler", () => {
  it("deletes everything under products/p-1/ and nothing outside it; a small maxListedObjects reports the record and a second run finishes", async () => {
    // Prepare
    const { s3 } = countingS3Client(inject("motoEndpoint"));
    const bucket = await createBucket(s3, "prefix-handler");
    const inside = Array.from({ length: 15 }, (_, i) => `products/p-1/${String(i).padStart(2, "0")} +%.png`);
    const outside = ["products/p-1.json", "products/p-10/main.png"];
    await putObjects(s3, bucket, [...inside, ...outside]);
    const { removeRecord } = createRecordFactory();
    const other = removeRecord({ keys: { productId: "p-2" } });
    const record = removeRecord({ keys: { productId: "p-1" } });
    const { lines, logger } = quietLogger();
    const handler = createCleanupHandler({
      bucket,
      key: (item) => ({ bucket, prefix: `products/${String(item.keys.productId)}/` }),
      allowedPrefixes: ["products/"],
      maxListedObjects: 10,
      s3Client: s3,
      logger,
    });

    // Act
    const first = await handler(streamEvent(other, record));
    const afterFirst = await listKeys(s3, bucket);
    const second = await handler(streamEvent(record));

    // Assess: p-2's prefix is empty, so p-1 gets all 10 of the bound
    expect(first).toEqual({ batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber }] });
    expect(afterFirst).toHaveLength(7);
    expect(lines.filter((line) => line.message === "Prefix not fully deleted")).toHaveLength(1);
    expect(second).toEqual({ batchItemFailures: [] });
    expect(await listKeys(s3, bucket)).toEqual(outside);
  });

  it.each([
    [23, 5],
    [20, 5],
    [7, 10],
  ])(
    "deletes what each delivery lists, so that %i objects under maxListedObjects %i take ⌈n / max⌉ deliveries",
    async (count, maxListedObjects) => {
      // Prepare
      const { s3, sent } = countingS3Client(inject("motoEndpoint"));
      const bucket = await createBucket(s3, "prefix-deliveries");
      const inside = Array.from(
        { length: count },
        (_, i) => `products/p-1/${String(i).padStart(2, "0")} ${AWKWARD[i % 5]}`,
      );
      const outside = ["products/p-1.json", "products/p-10/main.png"];
      await putObjects(s3, bucket, [...inside, ...outside]);
      const { removeRecord } = createRecordFactory();
      const records = [
        removeRecord({ keys: { productId: "p-2" } }),
        removeRecord({ keys: { productId: "p-1" } }),
        removeRecord({ keys: { productId: "p-3" } }),
      ];
      const handler = createCleanupHandler({
        bucket,
        key: (item) => ({ bucket, prefix: `products/${String(item.keys.productId)}/` }),
        allowedPrefixes: ["products/"],
        maxListedObjects,
        s3Client: s3,
        logger: quietLogger().logger,
      });
      const left: number[] = [];
      const listRequests: number[] = [];
      sent.clear();

      // Act
      const deliveries = await deliverUntilDone(handler, records, async () => {
        listRequests.push(sent.get("ListObjectsV2Command") ?? 0);
        left.push((await listKeys(s3, bucket)).filter((key) => key.startsWith("products/p-1/")).length);
        sent.clear();
      });

      // Assess: every delivery deletes what it listed; the records from p-1 on are delivered again
      const expected = Math.ceil(count / maxListedObjects);
      expect(deliveries).toHaveLength(expected);
      expect(left).toStrictEqual(
        Array.from({ length: expected }, (_, i) => Math.max(0, count - (i + 1) * maxListedObjects)),
      );
      expect(deliveries.map(({ records: delivered }) => delivered)).toStrictEqual(
        Array.from({ length: expected }, (_, i) => (i === 0 ? 3 : 2)),
      );
      expect(deliveries.at(-1)?.reported).toBe(0);
      expect(deliveries.slice(0, -1).every(({ reported }) => reported === 1)).toBe(true);
      expect(listRequests).toStrictEqual(Array.from({ length: expected }, (_, i) => (i === 0 ? 3 : 2)));
      expect(await listKeys(s3, bucket)).toStrictEqual([...outside].sort());
    },
  );
});
