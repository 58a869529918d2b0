/**
 * Stores that demand Content-MD5, at the HTTP level: a real @aws-sdk/client-s3 talks to a node:http
 * server on loopback that behaves like older MinIO or Ceph. It refuses a DeleteObjects request with
 * `MissingContentMD5` unless a correct Content-MD5 comes without any `x-amz-checksum-*` header (or
 * refuses every one with 501 NotImplemented), and answers a single DeleteObject with 204.
 */
import { createHash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { S3Client } from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it } from "vitest";
import { CONTENT_MD5_MIDDLEWARE } from "../src/content-md5.js";
import { type BatchDeleterOptions, createBatchDeleter, type ObjectTarget } from "../src/index.js";
import { startFakeStore, stopFakeStores, unescapeXml, xmlError } from "./fake-s3-store.js";

const BUCKET = "legacy-store";
/** A second bucket of the same store: objects in two buckets give two DeleteObjects batches in one call. */
const OTHER_BUCKET = "legacy-archive";

/** How the store answers a DeleteObjects request. */
type Strictness = "wants-content-md5" | "not-implemented";

const MISSING_CONTENT_MD5 = xmlError("MissingContentMD5", "Missing required header for this request: Content-Md5.");
const NOT_IMPLEMENTED = xmlError(
  "NotImplemented",
  "A header you provided implies functionality that is not implemented",
);

const md5 = (body: string) => createHash("md5").update(body).digest("base64");

/** True when the request carries a Content-MD5 that matches its body and no x-amz-checksum-* header. */
function hasOnlyCorrectMd5(headers: IncomingHttpHeaders, body: string): boolean {
  const checksumHeaders = Object.keys(headers).filter((name) => name.startsWith("x-amz-checksum-"));
  return checksumHeaders.length === 0 && headers["content-md5"] === md5(body);
}

afterEach(stopFakeStores);

/** Starts the store holding `keys` (in {@link BUCKET}) or `targets`, and an S3Client pointed at it. */
async function startStore(strictness: Strictness, held: readonly string[] | readonly ObjectTarget[]) {
  const targets = held.map((each) => (typeof each === "string" ? { bucket: BUCKET, key: each } : each));
  const stored = new Set(targets.map(({ bucket, key }) => `${bucket}/${key}`));
  const { client, requests } = await startFakeStore(({ method, url, bucket, key, headers, body }, answer) => {
    if (bucket !== BUCKET && bucket !== OTHER_BUCKET) {
      return answer(404, xmlError("NoSuchBucket", "The specified bucket does not exist"));
    }
    if (method === "POST" && url.searchParams.has("delete")) {
      if (strictness === "not-implemented") return answer(501, NOT_IMPLEMENTED);
      if (!hasOnlyCorrectMd5(headers, body)) return answer(400, MISSING_CONTENT_MD5);
      for (const [, listed] of body.matchAll(/<Key>([^<]*)<\/Key>/g)) {
        stored.delete(`${bucket}/${unescapeXml(listed as string)}`);
      }
      return answer(200, '<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult></DeleteResult>');
    }
    if (method === "DELETE") {
      stored.delete(`${bucket}/${key}`);
      return answer(204);
    }
    return answer(405, xmlError("MethodNotAllowed", "The specified method is not allowed"));
  });
  const count = (method: string) => requests.filter((each) => each.method === method).length;
  return { client, stored, requests, count };
}

/** `count` keys of the store's bucket: `products/p-0.png`, ... */
const keysOf = (count: number) => Array.from({ length: count }, (_, index) => `products/p-${index}.png`);
const targetsOf = (keys: readonly string[]): ObjectTarget[] => keys.map((key) => ({ bucket: BUCKET, key }));
/**
 * Three objects in each of two buckets: two DeleteObjects batches in one call, as 1,001 keys in one
 * bucket would give, but six single deletes after a refusal instead of 1,001. (Later batches of one
 * bucket are covered against a mocked client in batch-deleter.test.ts.)
 */
const TWO_BATCHES: ObjectTarget[] = [BUCKET, OTHER_BUCKET].flatMap((bucket) =>
  ["a.png", "b.png", "c.png"].map((key) => ({ bucket, key })),
);

function deleterFor(client: S3Client, options: Partial<BatchDeleterOptions> = {}) {
  return createBatchDeleter({ s3Client: client, random: () => 0, ...options });
}

describe("a store that wants Content-MD5, without the contentMd5 option", () => {
  it("falls back to single deletes, deletes everything, and sends no body to delete", async () => {
    // Prepare
    const { client, stored, requests, count } = await startStore("wants-content-md5", TWO_BATCHES);
    const deleteObjects = deleterFor(client, { concurrency: 8 });

    // Act
    const report = await deleteObjects(TWO_BATCHES);

    // Assess
    expect(requests[0]?.method).toBe("POST");
    expect(requests[0]?.headers).toHaveProperty("x-amz-checksum-crc32");
    expect(count("DELETE")).toBe(6);
    expect(requests.filter((each) => each.method === "DELETE").map((each) => each.body)).toStrictEqual(
      Array(6).fill(""),
    );
    expect(stored.size).toBe(0);
    expect(report.deleted).toHaveLength(6);
    expect(report.failed).toStrictEqual([]);
    expect(report.fallback).toBe("single-deletes");
  });

  it("sends DeleteObjects again in the next call, and falls back again", async () => {
    // Prepare
    const { client, stored, count } = await startStore("wants-content-md5", ["a.png", "b.png"]);
    const deleteObjects = deleterFor(client);

    // Act
    const first = await deleteObjects(targetsOf(["a.png"]));
    const second = await deleteObjects(targetsOf(["b.png"]));

    // Assess
    expect(count("POST")).toBe(2);
    expect(count("DELETE")).toBe(2);
    expect(stored.size).toBe(0);
    expect([first.fallback, second.fallback]).toStrictEqual(["single-deletes", "single-deletes"]);
  });

  it("fails every key with MissingContentMD5 when fallbackToSingleDeletes is false", async () => {
    // Prepare
    const { client, stored, count } = await startStore("wants-content-md5", ["a.png", "b.png"]);
    const deleteObjects = deleterFor(client, { fallbackToSingleDeletes: false });

    // Act
    const report = await deleteObjects(targetsOf(["a.png", "b.png"]));

    // Assess
    expect(count("POST")).toBe(1);
    expect(count("DELETE")).toBe(0);
    expect(stored.size).toBe(2);
    expect(report).toStrictEqual({
      deleted: [],
      failed: targetsOf(["a.png", "b.png"]).map((target) => ({
        target,
        code: "MissingContentMD5",
        message: "Missing required header for this request: Content-Md5.",
        retryable: false,
      })),
      keptReplaced: [],
    });
  });
});

describe("contentMd5: true", () => {
  it("sends one DeleteObjects per 1,000 keys with a correct Content-MD5 and no checksum header, which the store accepts", async () => {
    // Prepare
    const keys = keysOf(2500);
    const { client, stored, requests, count } = await startStore("wants-content-md5", keys);
    const deleteObjects = deleterFor(client, { contentMd5: true });

    // Act
    const report = await deleteObjects(targetsOf(keys));

    // Assess
    expect(count("POST")).toBe(3);
    expect(count("DELETE")).toBe(0);
    for (const { headers, body } of requests) {
      expect(headers["content-md5"]).toBe(md5(body));
      expect(Object.keys(headers).filter((name) => name.includes("checksum"))).toStrictEqual([]);
    }
    expect(requests.map(({ body }) => body.match(/<Key>/g)?.length).sort()).toStrictEqual([1000, 1000, 500]);
    expect(stored.size).toBe(0);
    expect(report).toStrictEqual({ deleted: targetsOf(keys), failed: [], keptReplaced: [] });
  });

  it("signs the request after the headers are changed, and sends keys that need XML escaping", async () => {
    // Prepare
    const keys = ["a&b<c>.png", `quote"'.png`, "ünï/cødé 😀.png"];
    const { client, stored, requests } = await startStore("wants-content-md5", keys);
    const deleteObjects = deleterFor(client, { contentMd5: true });

    // Act
    const report = await deleteObjects(targetsOf(keys));

    // Assess
    const signed = /SignedHeaders=([^,]+)/.exec(String(requests[0]?.headers.authorization))?.[1]?.split(";") ?? [];
    expect(signed).toContain("content-md5");
    expect(signed.filter((name) => name.includes("checksum"))).toStrictEqual([]);
    expect(stored.size).toBe(0);
    expect(report.deleted).toStrictEqual(targetsOf(keys));
  });

  it("leaves the user's client alone: its middleware stack is unchanged and its own DeleteObjects keep the SDK's checksum", async () => {
    // Prepare
    const { client, requests } = await startStore("wants-content-md5", ["a.png"]);
    const before = client.middlewareStack.identify();
    const deleteObjects = deleterFor(client, { contentMd5: true });

    // Act
    await deleteObjects(targetsOf(["a.png"]));
    const after = client.middlewareStack.identify();
    const refused = await deleterFor(client)(targetsOf(["b.png"]));

    // Assess
    expect(after).toStrictEqual(before);
    expect(after.join()).not.toContain(CONTENT_MD5_MIDDLEWARE);
    expect(requests[1]?.headers).toHaveProperty("x-amz-checksum-crc32");
    expect(refused.fallback).toBe("single-deletes");
  });
});

describe("a store that answers NotImplemented (501) to DeleteObjects", () => {
  it("falls back to single deletes and deletes everything", async () => {
    // Prepare
    const { client, stored, count } = await startStore("not-implemented", TWO_BATCHES);
    const deleteObjects = deleterFor(client, { concurrency: 8 });

    // Act
    const report = await deleteObjects(TWO_BATCHES);

    // Assess
    expect(count("DELETE")).toBe(6);
    expect(stored.size).toBe(0);
    expect(report.failed).toStrictEqual([]);
    expect(report.fallback).toBe("single-deletes");
  });

  it("falls back with contentMd5: true too", async () => {
    // Prepare
    const { client, stored, count } = await startStore("not-implemented", ["a.png", "b.png"]);
    const deleteObjects = deleterFor(client, { contentMd5: true });

    // Act
    const report = await deleteObjects(targetsOf(["a.png", "b.png"]));

    // Assess
    expect(count("POST")).toBe(1);
    expect(count("DELETE")).toBe(2);
    expect(stored.size).toBe(0);
    expect(report).toStrictEqual({
      deleted: targetsOf(["a.png", "b.png"]),
      failed: [],
      keptReplaced: [],
      fallback: "single-deletes",
    });
  });
});

describe.each(["wants-content-md5", "not-implemented"] as const)("a store that %s", (strictness) => {
  it("gets no second DeleteObjects in a call once it refused one: the next batch goes straight as single deletes", async () => {
    // Prepare
    const { client, stored, count } = await startStore(strictness, TWO_BATCHES);
    // One request at a time: the second batch starts only after the store refused the first.
    const deleteObjects = deleterFor(client, { concurrency: 1 });

    // Act
    await deleteObjects(TWO_BATCHES);

    // Assess
    expect(count("POST")).toBe(1);
    expect(count("DELETE")).toBe(6);
    expect(stored.size).toBe(0);
  });
});
