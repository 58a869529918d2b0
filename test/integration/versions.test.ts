/**
 * Versioned buckets on moto's S3: `versions: "all"` purges every version and delete marker of exactly
 * the removed items' keys, and `versions: "current"` only adds a delete marker.
 */
import {
  DeleteObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { describe, expect, inject, it } from "vitest";
import { createCleanupHandler } from "../../src/index.js";
import { createRecordFactory, streamEvent } from "../../src/testing/index.js";
import { countingS3Client, createBucket, quietLogger } from "./helpers.js";

/** How many versions and delete markers each key of a bucket has, as "versions/markers", by key. */
async function versionCounts(s3: S3Client, bucket: string): Promise<Record<string, string>> {
  const counts = new Map<string, { versions: number; markers: number }>();
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (;;) {
    const page = await s3.send(
      new ListObjectVersionsCommand({ Bucket: bucket, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }),
    );
    const add = (key: string | undefined, field: "versions" | "markers") => {
      const entry = counts.get(key ?? "") ?? { versions: 0, markers: 0 };
      entry[field]++;
      counts.set(key ?? "", entry);
    };
    for (const version of page.Versions ?? []) add(version.Key, "versions");
    for (const marker of page.DeleteMarkers ?? []) add(marker.Key, "markers");
    if (page.IsTruncated !== true) break;
    keyMarker = page.NextKeyMarker;
    versionIdMarker = page.NextVersionIdMarker;
  }
  return Object.fromEntries(
    [...counts]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, { versions, markers }]) => [key, `${versions}/${markers}`]),
  );
}

/** A versioned bucket holding a few versions and delete markers of awkward keys, and a neighbour to keep. */
async function versionedBucket(s3: S3Client) {
  const bucket = await createBucket(s3, "versions");
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }));
  const put = (key: string) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
  for (const key of ["a.png", "a.png", "b c+d%20.png", "control\u0001.png", "control\u0001.png", "a.png.bak"]) {
    await put(key);
  }
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "a.png" }));
  await put("a.png");
  return bucket;
}

describe("versioned buckets", () => {
  it('purges every version and delete marker of the keys with versions: "all", and nothing else', async () => {
    // Prepare
    const { s3, sent } = countingS3Client(inject("motoEndpoint"));
    const bucket = await versionedBucket(s3);
    expect(await versionCounts(s3, bucket)).toEqual({
      "a.png": "3/1",
      "a.png.bak": "1/0",
      "b c+d%20.png": "1/0",
      "control\u0001.png": "2/0",
    });
    sent.clear();
    const { removeRecord } = createRecordFactory();
    const keys = ["a.png", "b c+d%20.png", "control\u0001.png", "never-stored.png"];
    const handler = createCleanupHandler({
      bucket,
      key: "{key}",
      s3Client: s3,
      logger: quietLogger().logger,
      versions: "all",
    });

    // Act
    const response = await handler(streamEvent(...keys.map((key) => removeRecord({ keys: { key } }))));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    // One listing per key; each key's versions deleted as soon as they are listed: a.png's 4 and
    // b's 1 in a DeleteObjects each, control's 2 one by one (XML cannot carry the key).
    expect(Object.fromEntries(sent)).toEqual({
      ListObjectVersionsCommand: 4,
      DeleteObjectsCommand: 2,
      DeleteObjectCommand: 2,
    });
    expect(await versionCounts(s3, bucket)).toEqual({ "a.png.bak": "1/0" });
  });

  it('only adds a delete marker with versions: "current"', async () => {
    // Prepare
    const { s3 } = countingS3Client(inject("motoEndpoint"));
    const bucket = await versionedBucket(s3);
    const { removeRecord } = createRecordFactory();
    const handler = createCleanupHandler({ bucket, key: "{key}", s3Client: s3, logger: quietLogger().logger });

    // Act
    const response = await handler(streamEvent(removeRecord({ keys: { key: "b c+d%20.png" } })));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect((await versionCounts(s3, bucket))["b c+d%20.png"]).toBe("1/1");
  });

  it("deletes exactly the version a key function names, and adds no delete marker", async () => {
    // Prepare
    const { s3 } = countingS3Client(inject("motoEndpoint"));
    const bucket = await versionedBucket(s3);
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: "a.png.bak" }));
    const version = listed.Versions?.[0]?.VersionId as string;
    const { removeRecord } = createRecordFactory();
    const handler = createCleanupHandler({
      bucket,
      key: (item) => ({ bucket, key: String(item.keys.key), versionId: String(item.oldImage?.version) }),
      s3Client: s3,
      logger: quietLogger().logger,
    });

    // Act
    const response = await handler(
      streamEvent(removeRecord({ keys: { key: "a.png.bak" }, oldImage: { key: "a.png.bak", version } })),
    );

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    const counts = await versionCounts(s3, bucket);
    expect(counts["a.png.bak"]).toBeUndefined();
    expect(counts["a.png"]).toBe("3/1");
  });
});
