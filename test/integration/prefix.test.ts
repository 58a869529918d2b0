/**
 * Prefix targets on moto's S3: a key function's `{ bucket, prefix }` is listed and every object under
 * it deleted, nothing outside it; a bound smaller than the prefix leaves the rest for a second run.
 *
 * Most tests compose the steps the handler composes (parse, map, expand, delete), to look at each
 * step's result; the last one goes through createCleanupHandler itself.
 */
import { DeleteObjectCommand, PutBucketVersioningCommand, type S3Client } from "@aws-sdk/client-s3";
import { describe, expect, inject, it } from "vitest";
import { createBatchDeleter } from "../../src/batch-deleter.js";
import { createCleanupHandler } from "../../src/handler.js";
import { createKeyMapper, isPrefixTarget, mapRemovals } from "../../src/key-mapper.js";
import { parseStreamRecords } from "../../src/parse-stream-records.js";
import { buildPrefixExpander } from "../../src/prefix-expander.js";
import { createRecordFactory, streamEvent } from "../../src/testing/index.js";
import type { StreamEvent } from "../../src/types.js";
import { countingS3Client, createBucket, listKeys, putObjects, quietLogger } from "./helpers.js";

/** Keys of awkward characters: a space, `+`, `%`, a control character (XML cannot carry it), non-ASCII. */
const AWKWARD = ["a b.png", "a+b.png", "100%.png", "ctrl\u0001.png", "ü/ö.png"];

/** Removes each product's folder `products/<productId>/`, with the steps the handler will compose. */
async function cleanUp(
  s3: S3Client,
  bucket: string,
  event: StreamEvent,
  { maxPrefixObjects, versions }: { maxPrefixObjects?: number; versions?: "current" | "all" } = {},
) {
  const mapKeys = createKeyMapper((item) => ({ bucket, prefix: String(item.oldImage?.folder) }), {
    bucket,
    allowedPrefixes: ["products/"],
  });
  const { removals } = parseStreamRecords(event);
  const { mapped, invalid } = await mapRemovals(removals, mapKeys, 4);
  const prefixes = mapped.flatMap(({ targets }) => targets.filter(isPrefixTarget));
  const expansion = await buildPrefixExpander({ s3Client: s3, maxPrefixObjects, versions })(prefixes);
  const report = await createBatchDeleter({ s3Client: s3, versions })(
    expansion.expanded.flatMap(({ targets }) => targets),
  );
  return { invalid, expansion, report };
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
    const { invalid, expansion, report } = await cleanUp(s3, bucket, streamEvent(removal("products/p-1/")));
    const listings = sent.get("ListObjectsV2Command");

    // Assess
    expect(listings).toBe(1);
    expect(invalid).toStrictEqual([]);
    expect(expansion.failed).toStrictEqual([]);
    expect(expansion.expanded[0]?.targets.map(({ key }) => key).sort()).toStrictEqual([...inside].sort());
    expect(report.failed).toStrictEqual([]);
    expect(await listKeys(s3, bucket)).toStrictEqual([...outside].sort());
  });

  it("refuses a prefix without the delimiter, which would take the sibling products/p-10/ too", async () => {
    // Prepare
    const { s3 } = countingS3Client(inject("motoEndpoint"));
    const bucket = await createBucket(s3, "prefix");
    const keys = ["products/p-1/main.png", "products/p-10/main.png"];
    await putObjects(s3, bucket, keys);

    // Act
    const { invalid, expansion } = await cleanUp(s3, bucket, streamEvent(removal("products/p-1")));

    // Assess
    expect(invalid.map(({ error }) => error.message)).toStrictEqual([
      expect.stringContaining('the prefix "products/p-1" does not end with prefixDelimiter "/"'),
    ]);
    expect(expansion.expanded).toStrictEqual([]);
    expect(await listKeys(s3, bucket)).toStrictEqual(keys);
  });

  it("deletes up to the bound, reports the prefix unfinished, and finishes it on the second run", async () => {
    // Prepare
    const { s3 } = countingS3Client(inject("motoEndpoint"));
    const bucket = await createBucket(s3, "prefix");
    const inside = Array.from({ length: 15 }, (_, i) => `products/p-1/${String(i).padStart(2, "0")}.png`);
    await putObjects(s3, bucket, [...inside, "products/p-10/main.png"]);
    const event = streamEvent(removal("products/p-1/"));

    // Act
    const first = await cleanUp(s3, bucket, event, { maxPrefixObjects: 10 });
    const afterFirst = await listKeys(s3, bucket);
    const second = await cleanUp(s3, bucket, event, { maxPrefixObjects: 10 });

    // Assess
    expect(first.expansion.expanded[0]?.targets).toHaveLength(10);
    expect(first.expansion.failed.map(({ target, code, retryable }) => [target.prefix, code, retryable])).toStrictEqual(
      [["products/p-1/", "PrefixNotFinished", true]],
    );
    expect(first.report.failed).toStrictEqual([]);
    expect(afterFirst).toStrictEqual([...inside.slice(10), "products/p-10/main.png"]);
    expect(second.expansion.expanded[0]?.targets).toHaveLength(5);
    expect(second.expansion.failed).toStrictEqual([]);
    expect(second.report.failed).toStrictEqual([]);
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
    const first = await cleanUp(s3, bucket, event, { maxPrefixObjects: 10 });
    const second = await cleanUp(s3, bucket, event, { maxPrefixObjects: 10 });

    // Assess
    expect(first.expansion.failed.map(({ code }) => code)).toStrictEqual(["PrefixNotFinished"]);
    expect(second.expansion.expanded[0]?.targets).toHaveLength(5);
    expect(second.expansion.failed).toStrictEqual([]);
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
    const { expansion, report } = await cleanUp(s3, bucket, streamEvent(removal("products/p-1/")), {
      versions: "all",
    });

    // Assess
    expect(expansion.failed).toStrictEqual([]);
    expect(expansion.expanded[0]?.targets).toHaveLength(5);
    expect(expansion.expanded[0]?.targets.every(({ versionId }) => versionId !== undefined)).toBe(true);
    expect(report.failed).toStrictEqual([]);
    expect(sent.get("ListObjectVersionsCommand")).toBe(1);
    const { s3: check } = countingS3Client(inject("motoEndpoint"));
    const { expanded } = await buildPrefixExpander({ s3Client: check, versions: "all" })([
      { bucket, prefix: "products/" },
    ]);
    expect(expanded[0]?.targets.map(({ key }) => key)).toStrictEqual(["products/p-10/a.png", "products/p-10/a.png"]);
  });
});

describe("prefix targets through createCleanupHandler", () => {
  it("deletes everything under products/p-1/ and nothing outside it; a small bound reports the record and a second run finishes", async () => {
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
      maxPrefixObjects: 10,
      s3Client: s3,
      logger,
    });

    // Act
    const first = await handler(streamEvent(other, record));
    const afterFirst = await listKeys(s3, bucket);
    const second = await handler(streamEvent(record));

    // Assess: p-2's empty prefix is listed first, p-1 gets the remaining 10 of the bound
    expect(first).toEqual({ batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber }] });
    expect(afterFirst).toHaveLength(7);
    expect(lines.filter((line) => line.message === "Prefix not fully deleted")).toHaveLength(1);
    expect(second).toEqual({ batchItemFailures: [] });
    expect(await listKeys(s3, bucket)).toEqual(outside);
  });
});
