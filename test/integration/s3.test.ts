/**
 * The handler against moto's S3: scale, real per-key failures from a bucket policy, and awkward keys.
 * The events come from the record factories; the whole stream path is in stream.test.ts.
 */
import { describe, expect, inject, it } from "vitest";
import { createCleanupHandler } from "../../src/index.js";
import { createRecordFactory, streamEvent } from "../../src/testing/index.js";
import { countingS3Client, createBucket, denyDeletes, listKeys, putObjects, quietLogger } from "./helpers.js";

describe("scale", () => {
  it("deletes 2,600 objects with ⌈n/1000⌉ DeleteObjects calls and leaves the bucket empty", async () => {
    // Prepare
    const { s3, sent } = countingS3Client(inject("motoEndpoint"));
    const bucket = await createBucket(s3, "scale");
    const ids = Array.from({ length: 2600 }, (_, i) => `p-${i}`);
    await putObjects(
      s3,
      bucket,
      ids.map((id) => `${id}.png`),
    );
    sent.clear();
    const { removeRecord } = createRecordFactory();
    const event = streamEvent(...ids.map((id) => removeRecord({ keys: { productId: id } })));
    const handler = createCleanupHandler({
      bucket,
      key: "{productId}.png",
      s3Client: s3,
      logger: quietLogger().logger,
    });

    // Act
    const response = await handler(event);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(Object.fromEntries(sent)).toEqual({ DeleteObjectsCommand: 3 });
    expect(await listKeys(s3, bucket)).toEqual([]);
  });
});

describe("real per-key failures", () => {
  it("reports only the records whose keys a bucket policy protects, and deletes the rest", async () => {
    // Prepare
    const { s3 } = countingS3Client(inject("motoEndpoint"));
    const bucket = await createBucket(s3, "policy");
    const { removeRecord } = createRecordFactory({ firstSequenceNumber: 500000000000000000000n });
    const names = ["open/a", "denied/b", "open/c", "denied/d", "open/e"];
    await putObjects(
      s3,
      bucket,
      names.map((name) => `${name}.png`),
    );
    await denyDeletes(s3, bucket, "denied/");
    const records = names.map((name) => removeRecord({ keys: { path: name } }));
    const { lines, logger } = quietLogger();
    const handler = createCleanupHandler({ bucket, key: "{path}.png", s3Client: s3, logger });

    // Act
    const response = await handler(streamEvent(...records));

    // Assess
    const sequenceOf = (i: number) => records[i]?.dynamodb?.SequenceNumber as string;
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: sequenceOf(1) }, { itemIdentifier: sequenceOf(3) }]);
    expect(await listKeys(s3, bucket)).toEqual(["denied/b.png", "denied/d.png"]);
    const warned = lines.filter((line) => line.message === "Object not deleted").map((line) => line.attributes);
    expect(warned.map((line) => [line.key, line.code])).toEqual([
      ["denied/b.png", "AccessDenied"],
      ["denied/d.png", "AccessDenied"],
    ]);
  });
});

describe("awkward keys", () => {
  const awkward = [
    "with space.png",
    "plus+sign.png",
    "per%20cent.png",
    "question?.png",
    "hash#.png",
    "xml&<>\"'.png",
    "ünïcödé/日本語.png",
    "emoji 🧹.png",
    "double//slash.png",
    "dots/../up.png",
    "tab\there.png",
  ];

  it("deletes every awkward key verbatim in one DeleteObjects call", async () => {
    // Prepare
    const { s3, sent } = countingS3Client(inject("motoEndpoint"));
    const bucket = await createBucket(s3, "awkward");
    await putObjects(s3, bucket, [...awkward, "keep me.png"]);
    sent.clear();
    const { removeRecord } = createRecordFactory();
    const event = streamEvent(...awkward.map((key) => removeRecord({ keys: { key } })));
    const handler = createCleanupHandler({ bucket, key: "{key}", s3Client: s3, logger: quietLogger().logger });

    // Act
    const response = await handler(event);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(Object.fromEntries(sent)).toEqual({ DeleteObjectsCommand: 1 });
    expect(await listKeys(s3, bucket)).toEqual(["keep me.png"]);
  });

  it("sends a key with a character XML cannot carry as a single DeleteObject", async () => {
    // Prepare
    const { s3, sent } = countingS3Client(inject("motoEndpoint"));
    const bucket = await createBucket(s3, "xml");
    const control = "control\u0001char.png";
    await putObjects(s3, bucket, [control, "plain.png"]);
    sent.clear();
    const { removeRecord } = createRecordFactory();
    const event = streamEvent(removeRecord({ keys: { key: control } }), removeRecord({ keys: { key: "plain.png" } }));
    const handler = createCleanupHandler({ bucket, key: "{key}", s3Client: s3, logger: quietLogger().logger });

    // Act
    const response = await handler(event);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(Object.fromEntries(sent)).toEqual({ DeleteObjectsCommand: 1, DeleteObjectCommand: 1 });
    expect(await listKeys(s3, bucket)).toEqual([]);
  });
});
