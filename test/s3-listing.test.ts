import {
  type EncodingType,
  ListObjectsV2Command,
  type ListObjectsV2CommandInput,
  type ListObjectsV2CommandOutput,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandInput,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { invocationSignal, TimeBudgetExceeded } from "../src/abort.js";
import { createLimiter, type Limiter } from "../src/concurrency.js";
import type { ListedObject } from "../src/reconcile-types.js";
import {
  type ListBudget,
  type ListContext,
  ListingError,
  type ListRequest,
  listObjects,
  listPages,
  MAX_KEYS_PER_LIST,
} from "../src/s3-listing.js";
import type { ObjectTarget } from "../src/types.js";
import { settle } from "./fake-clock.js";
import { propertyRuns } from "./property-runs.js";

const s3 = mockClient(S3Client);

beforeEach(() => {
  s3.reset();
});

afterEach(() => {
  vi.useRealTimers();
});

afterAll(() => {
  s3.restore();
});

const BUCKET = "product-media";
/** The EncodingType of an answer that S3 URL-encoded. */
const URL_ENCODED: EncodingType = "url";
const s3Client = new S3Client({ region: "us-east-1" });

const object = (key: string, versionId?: string): ObjectTarget =>
  versionId === undefined ? { bucket: BUCKET, key } : { bucket: BUCKET, key, versionId };

/** A listing of `prefix` (default `p/`) in BUCKET, with the mocked client. */
function list(request: Partial<ListRequest> = {}, context: Partial<ListContext> = {}) {
  return listPages({ bucket: BUCKET, prefix: "p/", versions: "current", ...request }, { s3Client, ...context });
}

/** Reads a listing to its end: the pages it yielded, and the ListingError it stopped with, if any. */
async function collect(pages: AsyncIterable<ObjectTarget[]>) {
  const seen: ObjectTarget[][] = [];
  try {
    for await (const page of pages) seen.push(page);
    return { pages: seen, error: undefined };
  } catch (error) {
    if (!(error instanceof ListingError)) throw error;
    return { pages: seen, error };
  }
}

/** How S3 encodes a key with `EncodingType=url`: form encoding, a space as `+`. */
const urlEncode = (key: string) => encodeURIComponent(key).replaceAll("%20", "+");

/** The options a call of `send` got besides its command. */
const sendOptionsOf = (call: { args: unknown[] } | undefined) => call?.args[1];

/** The inputs of every ListObjectsV2 call, in order. */
const listInputs = (): ListObjectsV2CommandInput[] =>
  s3.commandCalls(ListObjectsV2Command).map((call) => call.args[0].input);

/** The inputs of every ListObjectVersions call, in order. */
const versionInputs = (): ListObjectVersionsCommandInput[] =>
  s3.commandCalls(ListObjectVersionsCommand).map((call) => call.args[0].input);

/** `count` keys under `prefix`: `<prefix>0000.png`, `<prefix>0001.png`, ... */
const keysUnder = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, index) => `${prefix}${String(index).padStart(4, "0")}.png`);

/**
 * Serves ListObjectsV2 for a bucket holding `keys` (in order), as S3 does: Prefix, MaxKeys (at most
 * `pageSize` a page), continuation tokens and `EncodingType=url`.
 */
function serveObjects(keys: readonly string[], { pageSize = 1000 } = {}) {
  s3.on(ListObjectsV2Command).callsFake((input: ListObjectsV2CommandInput): ListObjectsV2CommandOutput => {
    const matching = keys.filter((key) => key.startsWith(input.Prefix ?? ""));
    const start = input.ContinuationToken === undefined ? 0 : Number(input.ContinuationToken.slice(1));
    const end = start + Math.min(pageSize, input.MaxKeys ?? 1000);
    const truncated = end < matching.length;
    return {
      $metadata: {},
      EncodingType: "url",
      Contents: matching.slice(start, end).map((key) => ({ Key: urlEncode(key) })),
      IsTruncated: truncated,
      ...(truncated ? { NextContinuationToken: `t${end}` } : {}),
    };
  });
}

const s3Error = (name: string, httpStatusCode: number, message = `${name} message`) =>
  new S3ServiceException({
    name,
    $fault: httpStatusCode >= 500 ? "server" : "client",
    $metadata: { httpStatusCode },
    message,
  });

describe('listPages with versions: "current" (ListObjectsV2)', () => {
  it("asks for the first page with Bucket, Prefix, EncodingType url and 1,000 keys, and yields its objects", async () => {
    // Prepare
    s3.on(ListObjectsV2Command).resolves({
      EncodingType: "url",
      Contents: [{ Key: "products%2Fp-1%2Fa.png" }, { Key: "products/p-1/b/c.png" }],
    });

    // Act
    const { pages, error } = await collect(list({ prefix: "products/p-1/" }));

    // Assess
    expect(listInputs()).toStrictEqual([
      { Bucket: BUCKET, Prefix: "products/p-1/", EncodingType: "url", MaxKeys: 1000 },
    ]);
    expect(s3.commandCalls(ListObjectVersionsCommand)).toHaveLength(0);
    expect(pages).toStrictEqual([[object("products/p-1/a.png"), object("products/p-1/b/c.png")]]);
    expect(error).toBeUndefined();
    expect(MAX_KEYS_PER_LIST).toBe(1000);
  });

  it("yields each page as it arrives, and asks for the next only when the consumer asks for it", async () => {
    // Prepare
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ IsTruncated: true, NextContinuationToken: "one", Contents: [{ Key: "p/a" }] })
      .resolvesOnce({ Contents: [{ Key: "p/b" }] });
    const pages = list();

    // Act
    await settle();
    const requestsBeforeAsked = s3.calls().length;
    const first = await pages.next();
    await settle();
    const requestsAfterFirst = s3.calls().length;
    const second = await pages.next();
    const end = await pages.next();

    // Assess
    expect(requestsBeforeAsked).toBe(0);
    expect(first).toStrictEqual({ done: false, value: [object("p/a")] });
    expect(requestsAfterFirst).toBe(1);
    expect(second).toStrictEqual({ done: false, value: [object("p/b")] });
    expect(end).toStrictEqual({ done: true, value: undefined });
    expect(listInputs().map((input) => input.ContinuationToken)).toStrictEqual([undefined, "one"]);
  });

  it("sends no further request once the consumer stops", async () => {
    // Prepare
    s3.on(ListObjectsV2Command).resolves({ IsTruncated: true, NextContinuationToken: "more", Contents: [] });

    // Act
    for await (const _page of list()) break;

    // Assess
    expect(s3.calls()).toHaveLength(1);
  });

  it("pages with each continuation token as given, past short and empty pages, and yields the empty ones", async () => {
    // Prepare
    s3.on(ListObjectsV2Command)
      .resolvesOnce({
        EncodingType: "url",
        IsTruncated: true,
        NextContinuationToken: "a%2B+b",
        Contents: [{ Key: "p/a" }],
      })
      .resolvesOnce({ EncodingType: "url", IsTruncated: true, NextContinuationToken: "two" })
      .resolvesOnce({ EncodingType: "url", IsTruncated: false, Contents: [{ Key: "p/b" }] });

    // Act
    const { pages, error } = await collect(list());

    // Assess: the token is opaque, never decoded
    expect(listInputs().map((input) => input.ContinuationToken)).toStrictEqual([undefined, "a%2B+b", "two"]);
    expect(listInputs().every((input) => input.MaxKeys === 1000 && input.EncodingType === "url")).toBe(true);
    expect(pages).toStrictEqual([[object("p/a")], [], [object("p/b")]]);
    expect(error).toBeUndefined();
  });

  it("lists 2,500 keys in pages of 1,000", async () => {
    // Prepare
    const keys = keysUnder("p/", 2500);
    serveObjects(keys);

    // Act
    const { pages } = await collect(list());

    // Assess
    expect(listInputs().map((input) => [input.ContinuationToken, input.MaxKeys])).toStrictEqual([
      [undefined, 1000],
      ["t1000", 1000],
      ["t2000", 1000],
    ]);
    expect(pages.map((page) => page.length)).toStrictEqual([1000, 1000, 500]);
    expect(pages.flat()).toStrictEqual(keys.map((key) => object(key)));
  });

  it("skips entries without a Key, and ends on an answer without Contents or IsTruncated", async () => {
    // Prepare
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ IsTruncated: true, NextContinuationToken: "next", Contents: [{ Size: 3 }, { Key: "p/a" }] })
      .resolvesOnce({});

    // Act
    const { pages, error } = await collect(list());

    // Assess
    expect(pages).toStrictEqual([[object("p/a")], []]);
    expect(error).toBeUndefined();
  });

  it("ignores VersionIds in a ListObjectsV2 answer: its objects carry none", async () => {
    // Prepare
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: "p/a", VersionId: "v1" } as { Key: string }] });

    // Act
    const { pages } = await collect(list());

    // Assess
    expect(pages).toStrictEqual([[object("p/a")]]);
  });
});

describe('listPages with versions: "all" (ListObjectVersions)', () => {
  it("asks with Bucket, Prefix, EncodingType url and MaxKeys, and yields versions, then delete markers", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand).resolves({
      EncodingType: "url",
      Versions: [{ Key: "p/a.png", VersionId: "v2" }, { Key: "p/a.png", VersionId: "v1" }, { Key: "p/b+c.png" }],
      DeleteMarkers: [{ Key: "p/d%25.png", VersionId: "d1" }, { VersionId: "keyless" }, { Key: "p/e.png" }],
    });

    // Act
    const { pages, error } = await collect(list({ versions: "all" }));

    // Assess
    expect(versionInputs()).toStrictEqual([{ Bucket: BUCKET, Prefix: "p/", EncodingType: "url", MaxKeys: 1000 }]);
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(0);
    expect(pages).toStrictEqual([
      [
        object("p/a.png", "v2"),
        object("p/a.png", "v1"),
        object("p/b c.png", "null"),
        object("p/d%.png", "d1"),
        object("p/e.png", "null"),
      ],
    ]);
    expect(error).toBeUndefined();
  });

  it("yields a page that holds only delete markers, and one that holds nothing", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand)
      .resolvesOnce({
        IsTruncated: true,
        NextKeyMarker: "p/a.png",
        NextVersionIdMarker: "d1",
        DeleteMarkers: [{ Key: "p/a.png", VersionId: "d1" }],
      })
      .resolvesOnce({});

    // Act
    const { pages } = await collect(list({ versions: "all" }));

    // Assess
    expect(pages).toStrictEqual([[object("p/a.png", "d1")], []]);
  });

  it.each([
    ["decodes NextKeyMarker when the answer is URL-encoded", URL_ENCODED, "p%2Fa+b%2Bc%C3%BC.png", "p/a b+cü.png"],
    ["passes NextKeyMarker verbatim when the answer is not encoded", undefined, "p/a+b%20.png", "p/a+b%20.png"],
  ])("pages with KeyMarker and VersionIdMarker: %s", async (_name, EncodingType, listedMarker, marker) => {
    // Prepare
    s3.on(ListObjectVersionsCommand)
      .resolvesOnce({
        EncodingType,
        IsTruncated: true,
        NextKeyMarker: listedMarker,
        NextVersionIdMarker: "v%2B1",
        Versions: [{ Key: "p/a", VersionId: "1" }],
      })
      .resolvesOnce({ EncodingType, Versions: [{ Key: "p/b", VersionId: "2" }] });

    // Act
    const { pages, error } = await collect(list({ versions: "all" }));

    // Assess: the version id marker is opaque, never decoded
    expect(versionInputs()).toStrictEqual([
      { Bucket: BUCKET, Prefix: "p/", EncodingType: "url", MaxKeys: 1000 },
      { Bucket: BUCKET, Prefix: "p/", EncodingType: "url", MaxKeys: 1000, KeyMarker: marker, VersionIdMarker: "v%2B1" },
    ]);
    expect(pages).toStrictEqual([[object("p/a", "1")], [object("p/b", "2")]]);
    expect(error).toBeUndefined();
  });
});

describe("listObjects", () => {
  const listed = new Date("2026-11-30T08:00:00.000Z");

  /** Reads a listing of objects to its end, as {@link collect} does. */
  async function collectObjects(pages: AsyncIterable<ListedObject[]>) {
    const seen: ListedObject[][] = [];
    try {
      for await (const page of pages) seen.push(page);
      return { pages: seen, error: undefined };
    } catch (error) {
      if (!(error instanceof ListingError)) throw error;
      return { pages: seen, error };
    }
  }

  const objects = (request: { prefix?: string; startAfter?: string } = {}, context: Partial<ListContext> = {}) =>
    listObjects({ bucket: BUCKET, prefix: "p/", ...request }, { s3Client, ...context });

  it("yields each object's decoded key, size, last-modified time and ETag, as listed", async () => {
    // Prepare
    s3.on(ListObjectsV2Command).resolves({
      EncodingType: "url",
      Contents: [
        { Key: "p%2Fa+b.png", Size: 1234, LastModified: listed, ETag: '"9b2cf535f27731c974343645a3985328"' },
        { Key: "p/%F0%9F%98%80", Size: 0, LastModified: listed, ETag: '"d41d8cd98f00b204e9800998ecf8427e-2"' },
      ],
    });

    // Act
    const { pages, error } = await collectObjects(objects());

    // Assess
    expect(pages).toStrictEqual([
      [
        { key: "p/a b.png", size: 1234, lastModified: listed, etag: '"9b2cf535f27731c974343645a3985328"' },
        { key: "p/😀", size: 0, lastModified: listed, etag: '"d41d8cd98f00b204e9800998ecf8427e-2"' },
      ],
    ]);
    expect(error).toBeUndefined();
    expect(listInputs()).toStrictEqual([{ Bucket: BUCKET, Prefix: "p/", EncodingType: "url", MaxKeys: 1000 }]);
  });

  it("takes an object listed without a size as empty, and one without a time as of an invalid date, and gives no ETag it lacks", async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: "p/a" }] });

    const { pages } = await collectObjects(objects());

    const [object] = pages.flat();
    expect(object).toStrictEqual({ key: "p/a", size: 0, lastModified: expect.any(Date) });
    expect(Number.isNaN(object?.lastModified.getTime())).toBe(true);
    expect(object !== undefined && "etag" in object).toBe(false);
  });

  it("asks for the keys after startAfter, as given (not encoded), and goes on with continuation tokens alone", async () => {
    // Prepare
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ IsTruncated: true, NextContinuationToken: "next", Contents: [{ Key: "p/n" }] })
      .resolvesOnce({ Contents: [{ Key: "p/o" }] });

    // Act
    const { pages } = await collectObjects(objects({ startAfter: "p/m 😀+%" }));

    // Assess
    expect(listInputs()).toStrictEqual([
      { Bucket: BUCKET, Prefix: "p/", EncodingType: "url", MaxKeys: 1000, StartAfter: "p/m 😀+%" },
      { Bucket: BUCKET, Prefix: "p/", EncodingType: "url", MaxKeys: 1000, ContinuationToken: "next" },
    ]);
    expect(pages.flat().map((object) => object.key)).toStrictEqual(["p/n", "p/o"]);
  });

  it("lists the objects of a prefix after startAfter, across pages", async () => {
    // Prepare: a store that honours StartAfter on the first request.
    const keys = keysUnder("p/", 30);
    s3.on(ListObjectsV2Command).callsFake((input: ListObjectsV2CommandInput): ListObjectsV2CommandOutput => {
      const start =
        input.ContinuationToken === undefined
          ? keys.findIndex((key) => input.StartAfter === undefined || key > input.StartAfter)
          : Number(input.ContinuationToken);
      const end = start + 8;
      return {
        $metadata: {},
        Contents: keys.slice(start, end).map((key) => ({ Key: key, Size: 1 })),
        IsTruncated: end < keys.length,
        ...(end < keys.length ? { NextContinuationToken: String(end) } : {}),
      };
    });

    // Act
    const { pages } = await collectObjects(objects({ startAfter: keys[11] as string }));

    // Assess
    expect(pages.map((page) => page.length)).toStrictEqual([8, 8, 2]);
    expect(pages.flat().map((object) => object.key)).toStrictEqual(keys.slice(12));
  });

  it("stops with listPages' errors: a request that fails", async () => {
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ IsTruncated: true, NextContinuationToken: "next", Contents: [{ Key: "p/a", Size: 1 }] })
      .rejectsOnce(s3Error("AccessDenied", 403, "Access Denied"));

    const { pages, error } = await collectObjects(objects({ startAfter: "p/" }));

    expect(pages.flat().map((object) => object.key)).toStrictEqual(["p/a"]);
    expect(error?.failure).toStrictEqual({ code: "AccessDenied", message: "Access Denied", retryable: false });
  });

  it("stops with listPages' errors: a key outside the prefix, whose page is not yielded", async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: "p/a" }, { Key: "q/b" }] });

    const { pages, error } = await collectObjects(objects());

    expect(pages).toStrictEqual([]);
    expect(error?.failure.code).toBe("UnexpectedListing");
  });

  it("stops with listPages' errors: the budget running out", async () => {
    s3.on(ListObjectsV2Command).resolves({
      IsTruncated: true,
      NextContinuationToken: "next",
      Contents: [{ Key: "p/a" }, { Key: "p/b" }],
    });
    const budget: ListBudget = { remaining: 2, max: 2 };

    const { pages, error } = await collectObjects(objects({}, { budget }));

    expect(listInputs().map((input) => input.MaxKeys)).toStrictEqual([2]);
    expect(pages.flat()).toHaveLength(2);
    expect(error?.failure.code).toBe("ListingNotFinished");
  });
});

describe("decoding listed keys", () => {
  it.each([
    ["a + as a space", URL_ENCODED, "p/a+b.png", "p/a b.png"],
    ["%xx escapes, UTF-8 and control characters included", URL_ENCODED, "p/%C3%BC%25%01%2B.png", "p/ü%\u0001+.png"],
    ["an encoded slash, before comparing with the prefix", URL_ENCODED, "p%2Fa", "p/a"],
    ["nothing when the answer has no EncodingType", undefined, "p/a+b%20c%ZZ.png", "p/a+b%20c%ZZ.png"],
    ["nothing when the answer names another EncodingType", "other" as EncodingType, "p/a+b.png", "p/a+b.png"],
  ])("decodes %s", async (_name, EncodingType, Key, key) => {
    // Prepare
    s3.on(ListObjectsV2Command).resolves({ EncodingType, Contents: [{ Key }] });
    s3.on(ListObjectVersionsCommand).resolves({ EncodingType, Versions: [{ Key, VersionId: "1" }] });

    // Act
    const current = await collect(list());
    const all = await collect(list({ versions: "all" }));

    // Assess
    expect(current).toStrictEqual({ pages: [[object(key)]], error: undefined });
    expect(all).toStrictEqual({ pages: [[object(key, "1")]], error: undefined });
  });

  it("lists a prefix that itself needs encoding, as given, and compares the decoded keys with it", async () => {
    // Prepare
    const prefix = "p q/ä\u0002+%/";
    serveObjects([`${prefix}1.png`, `${prefix}2 .png`, "p q/other.png"]);

    // Act
    const { pages, error } = await collect(list({ prefix }));

    // Assess
    expect(listInputs()[0]?.Prefix).toBe(prefix);
    expect(pages).toStrictEqual([[object(`${prefix}1.png`), object(`${prefix}2 .png`)]]);
    expect(error).toBeUndefined();
  });
});

describe("listings that cannot be trusted", () => {
  const outside = "the store listed a key outside the prefix asked for";
  const badEncoding = "the store listed a key that is not valid URL encoding";

  it.each([
    ["a key of a sibling prefix", undefined, "products/p-10/a.png", outside],
    ["a key that decodes to a sibling prefix", URL_ENCODED, "products%2Fp-10%2Fa.png", outside],
    ["a truncated escape", URL_ENCODED, "products/p-1/%E0%A4%A", badEncoding],
    ["a lone %", URL_ENCODED, "products/p-1/100%", badEncoding],
    ["an escape that is not UTF-8", URL_ENCODED, "products/p-1/%FF.png", badEncoding],
  ])(
    "stops with UnexpectedListing, without yielding the page, when a page holds %s",
    async (_name, EncodingType, Key, problem) => {
      // Prepare
      s3.on(ListObjectsV2Command)
        .resolvesOnce({
          EncodingType,
          IsTruncated: true,
          NextContinuationToken: "next",
          Contents: [{ Key: "products/p-1/a.png" }],
        })
        .resolvesOnce({ EncodingType, IsTruncated: true, NextContinuationToken: "more", Contents: [{ Key }] });
      const budget: ListBudget = { remaining: 100, max: 100 };

      // Act
      const { pages, error } = await collect(list({ prefix: "products/p-1/" }, { budget }));

      // Assess
      expect(s3.calls()).toHaveLength(2);
      expect(pages).toStrictEqual([[object("products/p-1/a.png")]]);
      expect(error?.failure).toStrictEqual({
        code: "UnexpectedListing",
        message: `${problem}, so nothing on that page is deleted`,
        retryable: false,
      });
      expect(budget.remaining).toBe(99);
    },
  );

  it("compares the decoded key, not the listed one, with the prefix", async () => {
    // Prepare
    s3.on(ListObjectsV2Command)
      .resolvesOnce({
        EncodingType: "url",
        IsTruncated: true,
        NextContinuationToken: "n",
        Contents: [{ Key: "a%2Bb%2Fx" }],
      })
      .resolvesOnce({ EncodingType: "url", Contents: [{ Key: "a+b/y" }] });

    // Act
    const { pages, error } = await collect(list({ prefix: "a+b/" }));

    // Assess: "a+b/y" is listed under the prefix, but names "a b/y"
    expect(pages).toStrictEqual([[object("a+b/x")]]);
    expect(error?.failure.code).toBe("UnexpectedListing");
  });

  it("stops with UnexpectedListing for a delete marker outside the prefix, without yielding its page", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand).resolves({
      Versions: [{ Key: "p/a.png", VersionId: "1" }],
      DeleteMarkers: [{ Key: "q/a.png", VersionId: "2" }],
    });

    // Act
    const { pages, error } = await collect(list({ versions: "all" }));

    // Assess
    expect(pages).toStrictEqual([]);
    expect(error?.failure.code).toBe("UnexpectedListing");
  });

  it("stops with UnexpectedListing when a truncated page's NextKeyMarker is not valid URL encoding", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand).resolves({
      EncodingType: "url",
      IsTruncated: true,
      NextKeyMarker: "p/%ZZ",
      NextVersionIdMarker: "1",
      Versions: [{ Key: "p/a.png", VersionId: "1" }],
    });

    // Act
    const { pages, error } = await collect(list({ versions: "all" }));

    // Assess: the page's keys are fine, so it is yielded; only going on from it is refused
    expect(s3.calls()).toHaveLength(1);
    expect(pages).toStrictEqual([[object("p/a.png", "1")]]);
    expect([error?.failure.code, error?.failure.retryable]).toStrictEqual(["UnexpectedListing", false]);
  });

  it("does not say that nothing on the page is deleted when only its NextKeyMarker is bad", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand).resolves({
      EncodingType: "url",
      IsTruncated: true,
      NextKeyMarker: "p/%ZZ",
      NextVersionIdMarker: "1",
      Versions: [{ Key: "p/a.png", VersionId: "1" }],
    });

    // Act
    const { pages, error } = await collect(list({ versions: "all" }));

    // Assess
    expect(pages).toHaveLength(1);
    expect(error?.message).not.toContain("nothing on that page is deleted");
  });

  it("is a ListingError: an Error named ListingError whose message is its failure's", async () => {
    // Prepare
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: "q/a" }] });

    // Act
    const { error } = await collect(list());

    // Assess
    expect(error).toBeInstanceOf(Error);
    expect(error?.name).toBe("ListingError");
    expect(error?.message).toBe(error?.failure.message);
  });
});

describe("truncated pages that give no new place to go on from", () => {
  const incomplete = {
    code: "IncompleteListing",
    message: "a listing page said more objects follow but gave no new place to go on from",
    retryable: false,
  };

  it.each([
    ["without a NextContinuationToken", ["A"], [undefined]],
    ["with the token it was asked with (A → A)", ["A"], ["A"]],
    ["with a token seen two pages before (A → B → A)", ["A", "B"], ["A"]],
    ["with the first of several tokens (A → B → C → A)", ["A", "B", "C"], ["A"]],
  ])("stops with IncompleteListing after yielding a truncated page %s", async (_name, tokens, last) => {
    // Prepare
    const answers = [...tokens, ...last].map((token, index) => ({
      IsTruncated: true,
      ...(token === undefined ? {} : { NextContinuationToken: token }),
      Contents: [{ Key: `p/${index}` }],
    }));
    const mock = s3.on(ListObjectsV2Command);
    for (const answer of answers) mock.resolvesOnce(answer);

    // Act
    const { pages, error } = await collect(list());

    // Assess
    expect(listInputs().map((input) => input.ContinuationToken)).toStrictEqual([undefined, ...tokens]);
    expect(pages).toStrictEqual(answers.map((_answer, index) => [object(`p/${index}`)]));
    expect(error?.failure).toStrictEqual(incomplete);
  });

  it.each([
    ["without a NextVersionIdMarker", { NextKeyMarker: "p/b" }],
    ["without a NextKeyMarker", { NextVersionIdMarker: "2" }],
    ["with the markers it was asked with", { NextKeyMarker: "p/a", NextVersionIdMarker: "1" }],
    ["with the same markers, encoded differently", { NextKeyMarker: "p%2Fa", NextVersionIdMarker: "1" }],
  ])("stops with IncompleteListing after a truncated version page %s", async (_name, second) => {
    // Prepare
    s3.on(ListObjectVersionsCommand)
      .resolvesOnce({
        IsTruncated: true,
        NextKeyMarker: "p/a",
        NextVersionIdMarker: "1",
        Versions: [{ Key: "p/a", VersionId: "1" }],
      })
      .resolvesOnce({ EncodingType: "url", IsTruncated: true, ...second, Versions: [{ Key: "p/a", VersionId: "2" }] })
      .resolves({ Versions: [{ Key: "p/z", VersionId: "9" }] });

    // Act
    const { pages, error } = await collect(list({ versions: "all" }));

    // Assess
    expect(s3.calls()).toHaveLength(2);
    expect(pages).toStrictEqual([[object("p/a", "1")], [object("p/a", "2")]]);
    expect(error?.failure).toStrictEqual(incomplete);
  });

  it("goes on when the key marker repeats with a new VersionIdMarker", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand)
      .resolvesOnce({ IsTruncated: true, NextKeyMarker: "p/a", NextVersionIdMarker: "1", Versions: [] })
      .resolvesOnce({ IsTruncated: true, NextKeyMarker: "p/a", NextVersionIdMarker: "2", Versions: [] })
      .resolvesOnce({ Versions: [{ Key: "p/a", VersionId: "3" }] });

    // Act
    const { pages, error } = await collect(list({ versions: "all" }));

    // Assess
    expect(versionInputs().map((input) => input.VersionIdMarker)).toStrictEqual([undefined, "1", "2"]);
    expect(pages).toStrictEqual([[], [], [object("p/a", "3")]]);
    expect(error).toBeUndefined();
  });
});

describe("list requests that throw", () => {
  it.each([
    ["AccessDenied (403)", s3Error("AccessDenied", 403, "Access Denied"), "AccessDenied", "Access Denied", false],
    ["NoSuchBucket (404)", s3Error("NoSuchBucket", 404, "no bucket"), "NoSuchBucket", "no bucket", false],
    ["SlowDown (503)", s3Error("SlowDown", 503, "Please reduce"), "SlowDown", "Please reduce", true],
    ["InternalError (500)", s3Error("InternalError", 500, "oops"), "InternalError", "oops", true],
    [
      "a network error without an answer",
      Object.assign(new Error("socket hang up"), { name: "TimeoutError" }),
      "TimeoutError",
      "socket hang up",
      true,
    ],
    ["a TypeError (a program error)", new TypeError("bad input"), "TypeError", "bad input", false],
  ])("stops with the failure of %s", async (_name, thrown, code, message, retryable) => {
    // Prepare
    s3.on(ListObjectsV2Command).rejects(thrown);
    s3.on(ListObjectVersionsCommand).rejects(thrown);

    // Act
    const current = await collect(list());
    const all = await collect(list({ versions: "all" }));

    // Assess
    for (const { pages, error } of [current, all]) {
      expect(pages).toStrictEqual([]);
      expect(error?.failure).toStrictEqual({ code, message, retryable });
    }
  });

  it("yields the pages listed before a request throws", async () => {
    // Prepare
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ IsTruncated: true, NextContinuationToken: "next", Contents: [{ Key: "p/a" }, { Key: "p/b" }] })
      .rejectsOnce(s3Error("AccessDenied", 403));

    // Act
    const { pages, error } = await collect(list());

    // Assess
    expect(pages).toStrictEqual([[object("p/a"), object("p/b")]]);
    expect(error?.failure.code).toBe("AccessDenied");
  });
});

describe("the signal", () => {
  const reason = () => new TimeBudgetExceeded("the invocation's time budget ran out");
  const aborted = {
    code: "Aborted",
    message: "cut off: the invocation's time budget ran out",
    retryable: true,
  };

  it("passes the signal to each send as abortSignal, and no options without one", async () => {
    // Prepare
    s3.on(ListObjectsV2Command).resolvesOnce({ IsTruncated: true, NextContinuationToken: "next" }).resolvesOnce({});
    s3.on(ListObjectVersionsCommand).resolves({});
    const { signal } = new AbortController();

    // Act
    await collect(list({}, { signal }));
    await collect(list({ versions: "all" }, { signal }));
    await collect(list());

    // Assess
    expect(s3.calls().map((call) => sendOptionsOf(call))).toStrictEqual([
      { abortSignal: signal },
      { abortSignal: signal },
      { abortSignal: signal },
      {},
    ]);
  });

  it.each([
    ["ListObjectsV2", "current" as const],
    ["ListObjectVersions", "all" as const],
  ])("stops with Aborted when the signal fired before the listing started (%s)", async (_name, versions) => {
    // Prepare
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: "p/a" }] });
    s3.on(ListObjectVersionsCommand).resolves({ Versions: [{ Key: "p/a" }] });
    const controller = new AbortController();
    controller.abort(reason());

    // Act
    const { pages, error } = await collect(list({ versions }, { signal: controller.signal }));

    // Assess
    expect(pages).toStrictEqual([]);
    expect(error?.failure).toStrictEqual(aborted);
  });

  it("sends nothing when the signal fired before the listing started, with the limiter of that signal", async () => {
    // Prepare
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: "p/a" }] });
    const controller = new AbortController();
    controller.abort(reason());

    // Act
    const { error } = await collect(
      list({}, { signal: controller.signal, limit: createLimiter(4, controller.signal) }),
    );

    // Assess
    expect(s3.calls()).toHaveLength(0);
    expect(error?.failure).toStrictEqual(aborted);
  });

  it("sends nothing when the signal fired before the listing started, without a limiter", async () => {
    // Prepare
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: "p/a" }] });
    const controller = new AbortController();
    controller.abort(reason());

    // Act
    await collect(list({}, { signal: controller.signal }));

    // Assess
    expect(s3.calls()).toHaveLength(0);
  });

  it("stops with Aborted, retryable, as soon as the signal fires while a request that ignores it is in flight", async () => {
    // Prepare
    vi.useFakeTimers();
    s3.on(ListObjectsV2Command).callsFake(
      () =>
        new Promise((resolve) => {
          setTimeout(() => resolve({ Contents: [{ Key: "p/late" }] }), 10_000);
        }),
    );
    const { signal, dispose } = invocationSignal({ getRemainingTimeInMillis: () => 3000 }, 500);
    let settled = false;
    const listing = collect(list({}, { signal })).finally(() => {
      settled = true;
    });

    // Act
    await vi.advanceTimersByTimeAsync(2499);
    const settledBeforeSignal = settled;
    await vi.advanceTimersByTimeAsync(1);
    const settledAtSignal = settled;
    const { pages, error } = await listing;
    await vi.advanceTimersByTimeAsync(10_000);
    dispose();

    // Assess
    expect(settledBeforeSignal).toBe(false);
    expect(settledAtSignal).toBe(true);
    expect(pages).toStrictEqual([]);
    expect(error?.failure).toStrictEqual({
      code: "Aborted",
      message: "cut off: the invocation's time budget ran out: 500 ms (timeoutMarginMs) before the function's timeout",
      retryable: true,
    });
    expect(s3.calls()).toHaveLength(1);
    expect(sendOptionsOf(s3.calls()[0])).toStrictEqual({ abortSignal: signal });
  });

  it("stops with Aborted, not the client's error, when a client that honours the signal rejects", async () => {
    // Prepare
    const controller = new AbortController();
    s3.on(ListObjectVersionsCommand).callsFake(async () => {
      controller.abort(reason());
      throw Object.assign(new Error("Request aborted"), { name: "AbortError" });
    });

    // Act
    const { error } = await collect(list({ versions: "all" }, { signal: controller.signal }));

    // Assess
    expect(error?.failure).toStrictEqual(aborted);
  });

  it("stops with Aborted before the next page when the signal fires while the consumer holds a page", async () => {
    // Prepare
    s3.on(ListObjectsV2Command).resolves({ IsTruncated: true, NextContinuationToken: "next", Contents: [] });
    const controller = new AbortController();
    const pages = list({}, { signal: controller.signal, limit: createLimiter(1, controller.signal) });

    // Act
    const first = await pages.next();
    controller.abort(reason());
    const next = await pages.next().catch((error: unknown) => error);

    // Assess
    expect(first).toStrictEqual({ done: false, value: [] });
    expect(s3.calls()).toHaveLength(1);
    expect(next).toBeInstanceOf(ListingError);
    expect((next as ListingError).failure).toStrictEqual(aborted);
  });
});

describe("the limiter", () => {
  it("takes a slot of the limiter for each page request, and sends only inside it", async () => {
    // Prepare
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ IsTruncated: true, NextContinuationToken: "1" })
      .resolvesOnce({ IsTruncated: true, NextContinuationToken: "2" })
      .resolvesOnce({});
    const held: (() => void)[] = [];
    const limit: Limiter = <T>(task: () => Promise<T>) =>
      new Promise<T>((resolve, reject) => {
        held.push(() => {
          task().then(resolve, reject);
        });
      });
    const listing = collect(list({}, { limit }));
    const sentWhileHeld: number[] = [];

    // Act
    for (let page = 0; page < 3; page++) {
      await settle();
      sentWhileHeld.push(s3.calls().length);
      held[page]?.();
    }
    const { pages, error } = await listing;

    // Assess
    expect(held).toHaveLength(3);
    expect(sentWhileHeld).toStrictEqual([0, 1, 2]);
    expect(pages).toHaveLength(3);
    expect(error).toBeUndefined();
  });

  it("stops with the limiter's rejection, classified like a request's", async () => {
    // Prepare
    const limit: Limiter = async () => {
      throw s3Error("SlowDown", 503, "slow down");
    };

    // Act
    const { error } = await collect(list({}, { limit }));

    // Assess
    expect(s3.calls()).toHaveLength(0);
    expect(error?.failure).toStrictEqual({ code: "SlowDown", message: "slow down", retryable: true });
  });
});

describe("the budget", () => {
  const notFinished = (max: number) => ({
    code: "ListingNotFinished",
    message: `not finished: this call reached maxListedObjects (${max}); the next one goes on from what is left`,
    retryable: true,
  });

  it.each([
    // [name, keys stored, S3's page size, budget, MaxKeys asked, page lengths, finished]
    ["asks for at most 1,000 a page, then what is left", 3000, 1000, 2500, [1000, 1000, 500], [1000, 1000, 500], false],
    ["asks for what is left after shorter pages than asked for", 8, 2, 5, [5, 3, 1], [2, 2, 1], false],
    ["finishes when the prefix holds exactly the budget", 5, 1000, 5, [5], [5], true],
    ["finishes when the prefix holds less than the budget", 3, 1000, 5, [5], [3], true],
    ["finishes when the last page uses the budget up", 4, 2, 4, [4, 2], [2, 2], true],
    ["stops before the first request when nothing is left", 3, 1000, 0, [], [], false],
  ])("%s", async (_name, stored, pageSize, remaining, maxKeys, lengths, finished) => {
    // Prepare
    serveObjects(keysUnder("p/", stored), { pageSize });
    const budget: ListBudget = { remaining, max: remaining === 0 ? 7 : remaining };

    // Act
    const { pages, error } = await collect(list({}, { budget }));

    // Assess
    expect(listInputs().map((input) => input.MaxKeys)).toStrictEqual(maxKeys);
    expect(pages.map((page) => page.length)).toStrictEqual(lengths);
    expect(budget.remaining).toBe(remaining - lengths.reduce((sum, length) => sum + length, 0));
    expect(error?.failure).toStrictEqual(finished ? undefined : notFinished(budget.max));
  });

  it("counts versions and delete markers against it", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand).resolves({
      IsTruncated: true,
      NextKeyMarker: "p/a",
      NextVersionIdMarker: "3",
      Versions: [
        { Key: "p/a", VersionId: "1" },
        { Key: "p/a", VersionId: "2" },
      ],
      DeleteMarkers: [{ Key: "p/a", VersionId: "3" }],
    });
    const budget: ListBudget = { remaining: 3, max: 3 };

    // Act
    const { pages, error } = await collect(list({ versions: "all" }, { budget }));

    // Assess
    expect(versionInputs().map((input) => input.MaxKeys)).toStrictEqual([3]);
    expect(pages.map((page) => page.length)).toStrictEqual([3]);
    expect(budget.remaining).toBe(0);
    expect(error?.failure).toStrictEqual(notFinished(3));
  });

  it("is shared: a second listing starts from what the first left", async () => {
    // Prepare
    serveObjects([...keysUnder("a/", 3), ...keysUnder("b/", 3)]);
    const budget: ListBudget = { remaining: 4, max: 4 };

    // Act
    const first = await collect(list({ prefix: "a/" }, { budget }));
    const second = await collect(list({ prefix: "b/" }, { budget }));

    // Assess
    expect(listInputs().map((input) => [input.Prefix, input.MaxKeys])).toStrictEqual([
      ["a/", 4],
      ["b/", 1],
    ]);
    expect(first.error).toBeUndefined();
    expect(second.pages.flat()).toStrictEqual([object("b/0000.png")]);
    expect(second.error?.failure).toStrictEqual(notFinished(4));
  });

  it("is used up by a page larger than asked for", async () => {
    // Prepare
    s3.on(ListObjectsV2Command).resolves({
      IsTruncated: true,
      NextContinuationToken: "next",
      Contents: keysUnder("p/", 3).map((Key) => ({ Key })),
    });
    const budget: ListBudget = { remaining: 2, max: 2 };

    // Act
    const { pages, error } = await collect(list({}, { budget }));

    // Assess
    expect(pages.map((page) => page.length)).toStrictEqual([3]);
    expect(budget.remaining).toBe(-1);
    expect(s3.calls()).toHaveLength(1);
    expect(error?.failure.code).toBe("ListingNotFinished");
  });
});

describe("listPages yields every listed key, in order (property)", () => {
  // Few characters, some of which need URL encoding, and `+`, which encodes as %2B.
  const name = fc.string({ unit: fc.constantFrom("a", "/", " ", "+", "%", "ü", "\u0001"), maxLength: 5 });
  const entry = fc.record({ name, marker: fc.boolean(), versioned: fc.boolean() });
  const page = fc.record({ entries: fc.array(entry, { maxLength: 4 }), encoded: fc.boolean() });
  type Entry = { name: string; marker: boolean; versioned: boolean };
  const prefix = "p/";

  /** One answer of a fake store: the page's entries, truncated with the cursor of page `cursorOf`, if any. */
  function answer(
    versions: "current" | "all",
    { entries, encoded }: { entries: Entry[]; encoded: boolean },
    index: number,
    truncated: boolean,
    cursorOf: number | undefined,
  ) {
    const asListed = (text: string) => (encoded ? urlEncode(`${prefix}${text}`) : `${prefix}${text}`);
    const common = { ...(encoded ? { EncodingType: URL_ENCODED } : {}), IsTruncated: truncated };
    if (versions === "current") {
      return {
        ...common,
        Contents: entries.map((entry) => ({ Key: asListed(entry.name) })),
        ...(cursorOf === undefined ? {} : { NextContinuationToken: `token ${cursorOf}` }),
      };
    }
    const listed = (entry: Entry, at: number) => ({
      Key: asListed(entry.name),
      ...(entry.versioned ? { VersionId: `${index}.${at}` } : {}),
    });
    return {
      ...common,
      Versions: entries.filter((entry) => !entry.marker).map(listed),
      DeleteMarkers: entries.filter((entry) => entry.marker).map(listed),
      ...(cursorOf === undefined
        ? {}
        : { NextKeyMarker: asListed(`m${cursorOf}`), NextVersionIdMarker: `v${cursorOf}` }),
    };
  }

  /** The objects a page of `entries` stands for: with versions, the versions first, then the delete markers. */
  function objectsOf(versions: "current" | "all", entries: Entry[], index: number): ObjectTarget[] {
    if (versions === "current") return entries.map((entry) => object(`${prefix}${entry.name}`));
    const of = (entry: Entry, at: number) =>
      object(`${prefix}${entry.name}`, entry.versioned ? `${index}.${at}` : "null");
    return [...entries.filter((entry) => !entry.marker).map(of), ...entries.filter((entry) => entry.marker).map(of)];
  }

  it("yields the concatenation of the listed keys, decoded, and never asks with a cursor twice", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(page, { minLength: 1, maxLength: 6 }),
        fc.constantFrom("end", "no-cursor", "repeat"),
        fc.constantFrom("current" as const, "all" as const),
        fc.nat(),
        async (listed, ending, versions, pick) => {
          // Prepare
          s3.reset();
          const last = listed.length - 1;
          // The earlier page whose cursor the last page repeats, when it repeats one.
          const repeated = ending === "repeat" && last > 0 ? pick % last : undefined;
          const complete = ending === "end" || (ending === "repeat" && last === 0);
          const mock = versions === "current" ? s3.on(ListObjectsV2Command) : s3.on(ListObjectVersionsCommand);
          listed.forEach((listedPage, index) => {
            const more = index < last || !complete;
            // `never`: the answer fits the one of the two commands that `versions` picks.
            mock.resolvesOnce(answer(versions, listedPage, index, more, index < last ? index : repeated) as never);
          });
          mock.rejects(new Error("asked for a page after the last"));

          // Act
          const { pages, error } = await collect(list({ prefix, versions }));

          // Assess
          expect(pages).toStrictEqual(listed.map(({ entries }, index) => objectsOf(versions, entries, index)));
          expect(error?.failure.code).toBe(complete ? undefined : "IncompleteListing");
          const cursors = s3.calls().map((call) => {
            const input = call.args[0].input as ListObjectVersionsCommandInput & ListObjectsV2CommandInput;
            return JSON.stringify([input.ContinuationToken, input.KeyMarker, input.VersionIdMarker]);
          });
          expect(new Set(cursors).size).toBe(cursors.length);
          expect(cursors).toStrictEqual(
            listed.map((_page, index) => {
              if (index === 0) return JSON.stringify([undefined, undefined, undefined]);
              return versions === "current"
                ? JSON.stringify([`token ${index - 1}`, undefined, undefined])
                : JSON.stringify([undefined, `${prefix}m${index - 1}`, `v${index - 1}`]);
            }),
          );
        },
      ),
      { numRuns: propertyRuns(200) },
    );
  });
});
