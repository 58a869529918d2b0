/**
 * Conditional deletes (`etagAttribute`) against moto's S3, from stream records to the objects left in
 * the bucket: the key mapper reads each removed item's ETag from its OldImage and the deleter sends
 * it as the delete's condition.
 *
 * moto 5 checks `If-Match` on DeleteObject (412 PreconditionFailed on a mismatch, 404 NoSuchKey for a
 * missing key) but ignores the per-object `<ETag>` of a DeleteObjects body and deletes regardless;
 * the last test here shows it. So these tests use keys with a character XML cannot carry, which the
 * deleter sends as single DeleteObject calls, and the DeleteObjects path is proven against a store
 * that checks the body in test/batch-deleter.etag-wire.test.ts.
 */
import { DeleteObjectsCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { describe, expect, inject, it } from "vitest";
import { createBatchDeleter, createKeyMapper, parseStreamRecords } from "../../src/index.js";
import { createRecordFactory, streamEvent } from "../../src/testing/index.js";
import { countingS3Client, createBucket, listKeys } from "./helpers.js";

/** Puts `body` under `key` and returns the ETag S3 gave it, as an app would store it in its item. */
async function put(s3: S3Client, bucket: string, key: string, body: string): Promise<string> {
  const { ETag } = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return ETag as string;
}

/** The body of the object under `key`. */
async function read(s3: S3Client, bucket: string, key: string): Promise<string> {
  const { Body } = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await Body?.transformToString()) ?? "";
}

/** Maps the REMOVE records of products (`productId`, `imageEtag`) and deletes their images conditionally. */
async function cleanUp(s3: S3Client, bucket: string, removed: { productId: string; imageEtag: string }[]) {
  const { removeRecord } = createRecordFactory();
  const event = streamEvent(
    ...removed.map((item) => removeRecord({ keys: { productId: item.productId }, oldImage: item })),
  );
  const mapKeys = createKeyMapper("images/{productId}\u0001.png", { bucket, etagAttribute: "imageEtag" });
  const { removals } = parseStreamRecords(event);
  const targets = (await Promise.all(removals.map(mapKeys))).flat();
  return createBatchDeleter({ s3Client: s3 })(targets.flatMap((target) => ("key" in target ? [target] : [])));
}

const keyOf = (productId: string) => `images/${productId}\u0001.png`;

describe("conditional deletes on moto (single DeleteObject with If-Match)", () => {
  it("keeps an object replaced after the item was written, when a stale REMOVE arrives with the old ETag", async () => {
    // Prepare
    const { s3, sent } = countingS3Client(inject("motoEndpoint"));
    const bucket = await createBucket(s3, "etag-stale");
    const oldEtag = await put(s3, bucket, keyOf("p-1"), "old image");
    const newEtag = await put(s3, bucket, keyOf("p-1"), "new image, same key");
    sent.clear();

    // Act
    const report = await cleanUp(s3, bucket, [{ productId: "p-1", imageEtag: oldEtag }]);

    // Assess
    expect(newEtag).not.toBe(oldEtag);
    expect(Object.fromEntries(sent)).toEqual({ DeleteObjectCommand: 1 });
    expect(report).toStrictEqual({
      deleted: [],
      failed: [],
      keptReplaced: [{ bucket, key: keyOf("p-1"), etag: oldEtag }],
    });
    expect(await read(s3, bucket, keyOf("p-1"))).toBe("new image, same key");
  });

  it("deletes the object when the REMOVE carries its current ETag, and counts a missing object as deleted", async () => {
    // Prepare
    const { s3 } = countingS3Client(inject("motoEndpoint"));
    const bucket = await createBucket(s3, "etag-match");
    const etag = await put(s3, bucket, keyOf("p-1"), "image");
    await put(s3, bucket, "keep.png", "another product's image");

    // Act
    const report = await cleanUp(s3, bucket, [
      { productId: "p-1", imageEtag: etag },
      { productId: "p-never-uploaded", imageEtag: etag },
    ]);

    // Assess
    expect(report).toStrictEqual({
      deleted: [
        { bucket, key: keyOf("p-1"), etag },
        { bucket, key: keyOf("p-never-uploaded"), etag },
      ],
      failed: [],
      keptReplaced: [],
    });
    expect(await listKeys(s3, bucket)).toEqual(["keep.png"]);
  });

  it("deletes the object once when a redelivered REMOVE and the original come in one batch", async () => {
    // Prepare
    const { s3 } = countingS3Client(inject("motoEndpoint"));
    const bucket = await createBucket(s3, "etag-redelivered");
    const etag = await put(s3, bucket, keyOf("p-1"), "image");

    // Act
    const report = await cleanUp(s3, bucket, [
      { productId: "p-1", imageEtag: etag },
      { productId: "p-1", imageEtag: etag },
    ]);

    // Assess
    expect(report.deleted).toStrictEqual([{ bucket, key: keyOf("p-1"), etag }]);
    expect(await listKeys(s3, bucket)).toEqual([]);
  });
});

describe("what moto does not check", () => {
  it("deletes an object despite a mismatched ETag in a DeleteObjects body (the wire test covers that path)", async () => {
    // Prepare
    const { s3 } = countingS3Client(inject("motoEndpoint"));
    const bucket = await createBucket(s3, "etag-moto");
    await put(s3, bucket, "a.png", "image");

    // Act
    const output = await s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: [{ Key: "a.png", ETag: '"00000000000000000000000000000000"' }], Quiet: true },
      }),
    );

    // Assess
    expect(output.Errors ?? []).toEqual([]);
    expect(await listKeys(s3, bucket)).toEqual([]);
  });
});
