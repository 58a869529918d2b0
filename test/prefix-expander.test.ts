import {
  ListObjectsV2Command,
  type ListObjectsV2CommandInput,
  ListObjectVersionsCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { createLimiter } from "../src/concurrency.js";
import { expandPrefix, type PageOutcome, type PrefixOutcome } from "../src/prefix-expander.js";
import type { Failure } from "../src/s3-errors.js";
import type { ListBudget, ListContext } from "../src/s3-listing.js";
import type { ObjectTarget, PrefixTarget } from "../src/types.js";

const s3 = mockClient(S3Client);

beforeEach(() => {
  s3.reset();
});

afterAll(() => {
  s3.restore();
});

const BUCKET = "product-media";
const s3Client = new S3Client({ region: "us-east-1" });
const P: PrefixTarget = { bucket: BUCKET, prefix: "p/" };

const object = (key: string, versionId?: string): ObjectTarget =>
  versionId === undefined ? { bucket: BUCKET, key } : { bucket: BUCKET, key, versionId };

const retryable = (code: string): Failure => ({ code, message: `${code} message`, retryable: true });
const permanent = (code: string): Failure => ({ code, message: `${code} message`, retryable: false });

/** A page's outcome: nothing failed, or `failed` objects with `failure`. */
const outcome = (failed = 0, failure?: Failure, last?: boolean): PageOutcome =>
  last === undefined ? { failed, failure } : { failed, failure, last };

/** ListObjectsV2 answers: one page per entry, each holding `p/<page>-<n>` keys, truncated but the last. */
function servePages(...sizes: number[]) {
  const mock = s3.on(ListObjectsV2Command);
  sizes.forEach((size, page) => {
    mock.resolvesOnce({
      IsTruncated: page < sizes.length - 1,
      ...(page < sizes.length - 1 ? { NextContinuationToken: `t${page + 1}` } : {}),
      Contents: Array.from({ length: size }, (_, n) => ({ Key: `p/${page}-${n}` })),
    });
  });
  return mock;
}

/** Expands P, answering each page with the next of `outcomes` (nothing failed once they run out). */
async function expand(outcomes: PageOutcome[] = [], context: Partial<ListContext> = {}) {
  const pages: ObjectTarget[][] = [];
  const result = await expandPrefix(P, "current", { s3Client, ...context }, async (page) => {
    pages.push(page);
    return outcomes[pages.length - 1] ?? outcome();
  });
  return { pages, result };
}

const s3Error = (name: string, httpStatusCode: number) =>
  new S3ServiceException({
    name,
    $fault: httpStatusCode >= 500 ? "server" : "client",
    $metadata: { httpStatusCode },
    message: `${name} message`,
  });

describe("expandPrefix", () => {
  it("hands each page on before it lists the next, and counts what it listed", async () => {
    // Prepare
    servePages(2, 0, 3);
    const requestsAtPage: number[] = [];

    // Act
    const result = await expandPrefix(P, "current", { s3Client }, async () => {
      requestsAtPage.push(s3.calls().length);
      return outcome();
    });

    // Assess
    expect(requestsAtPage).toStrictEqual([1, 2, 3]);
    expect(result).toStrictEqual<PrefixOutcome>({ listed: 5, failed: 0, failure: undefined });
  });

  it("lists the target's bucket and prefix, and hands on the objects under it", async () => {
    // Prepare
    s3.on(ListObjectsV2Command).callsFake((input: ListObjectsV2CommandInput) => ({
      Contents: [{ Key: `${input.Prefix}from-${input.Bucket}` }],
    }));

    // Act
    const { pages, result } = await expand();

    // Assess
    expect(pages).toStrictEqual([[object("p/from-product-media")]]);
    expect(result).toStrictEqual({ listed: 1, failed: 0, failure: undefined });
  });

  it('lists every version and delete marker with versions: "all"', async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand).resolves({
      Versions: [{ Key: "p/a", VersionId: "1" }],
      DeleteMarkers: [{ Key: "p/a", VersionId: "2" }],
    });

    // Act
    const pages: ObjectTarget[][] = [];
    const result = await expandPrefix(P, "all", { s3Client }, async (page) => {
      pages.push(page);
      return outcome();
    });

    // Assess
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(0);
    expect(pages).toStrictEqual([[object("p/a", "1"), object("p/a", "2")]]);
    expect(result).toStrictEqual({ listed: 2, failed: 0, failure: undefined });
  });

  it("hands on an empty page for a prefix with no objects, and reports nothing", async () => {
    // Prepare
    s3.on(ListObjectsV2Command).resolves({ KeyCount: 0 });

    // Act
    const { pages, result } = await expand();

    // Assess
    expect(pages).toStrictEqual([[]]);
    expect(result).toStrictEqual({ listed: 0, failed: 0, failure: undefined });
  });

  it("adds up the objects each page failed", async () => {
    // Prepare
    servePages(3, 3, 3);

    // Act
    const { result } = await expand([outcome(1, retryable("SlowDown")), outcome(0), outcome(2, retryable("SlowDown"))]);

    // Assess
    expect(result).toStrictEqual({ listed: 9, failed: 3, failure: retryable("SlowDown") });
  });

  it.each([
    ["the first of retryable failures", [retryable("A"), retryable("B")], retryable("A")],
    ["a permanent failure over an earlier retryable one", [retryable("A"), permanent("B")], permanent("B")],
    ["the first of permanent failures", [permanent("A"), permanent("B")], permanent("A")],
    ["a permanent failure over a later retryable one", [permanent("A"), retryable("B")], permanent("A")],
    ["a failure after pages without one", [undefined, retryable("B")], retryable("B")],
    ["a failure before pages without one", [retryable("A"), undefined], retryable("A")],
    [
      "the first permanent failure among many",
      [retryable("A"), undefined, permanent("B"), permanent("C"), retryable("D")],
      permanent("B"),
    ],
  ])("reports %s of its pages", async (_name, failures, gravest) => {
    // Prepare
    servePages(...failures.map(() => 1));

    // Act
    const { result } = await expand(failures.map((failure) => outcome(failure === undefined ? 0 : 1, failure)));

    // Assess
    expect(result.failure).toStrictEqual(gravest);
  });

  it.each([
    [
      "a permanent listing failure over a retryable page failure",
      retryable("SlowDown"),
      "AccessDenied",
      403,
      "AccessDenied",
    ],
    [
      "a permanent page failure over a retryable listing failure",
      permanent("AccessDenied"),
      "SlowDown",
      503,
      "AccessDenied",
    ],
    ["the page's retryable failure before the listing's", retryable("SlowDown"), "InternalError", 500, "SlowDown"],
    [
      "the page's permanent failure before the listing's",
      permanent("AccessDenied"),
      "NoSuchBucket",
      404,
      "AccessDenied",
    ],
    ["the listing's failure after pages without one", undefined, "InternalError", 500, "InternalError"],
  ])("reports %s, keeping what the pages before it did", async (_name, pageFailure, listingCode, status, code) => {
    // Prepare
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ IsTruncated: true, NextContinuationToken: "t1", Contents: [{ Key: "p/a" }, { Key: "p/b" }] })
      .rejectsOnce(s3Error(listingCode, status));

    // Act
    const { pages, result } = await expand([outcome(pageFailure === undefined ? 0 : 1, pageFailure)]);

    // Assess
    expect(pages).toHaveLength(1);
    expect(result.listed).toBe(2);
    expect(result.failed).toBe(pageFailure === undefined ? 0 : 1);
    expect(result.failure?.code).toBe(code);
  });

  it("stops listing when a page says it was the last", async () => {
    // Prepare
    servePages(2, 2, 2);

    // Act
    const { pages, result } = await expand([outcome(0, undefined, false), outcome(1, retryable("SlowDown"), true)]);

    // Assess
    expect(s3.calls()).toHaveLength(2);
    expect(pages).toHaveLength(2);
    expect(result).toStrictEqual({ listed: 4, failed: 1, failure: retryable("SlowDown") });
  });

  it("reports ListingNotFinished, retryable, when the budget runs out with more to list", async () => {
    // Prepare
    servePages(2, 2, 2);
    const budget: ListBudget = { remaining: 4, max: 4 };

    // Act
    const { pages, result } = await expand([], { budget });

    // Assess
    expect(pages).toHaveLength(2);
    expect(result).toStrictEqual({
      listed: 4,
      failed: 0,
      failure: {
        code: "ListingNotFinished",
        message: "not finished: this call reached maxListedObjects (4); the next one goes on from what is left",
        retryable: true,
      },
    });
  });

  it("reports Aborted, retryable, when the signal fires while a page is handed on", async () => {
    // Prepare
    servePages(1, 1);
    const controller = new AbortController();

    // Act
    const context = { s3Client, signal: controller.signal, limit: createLimiter(4, controller.signal) };
    const result = await expandPrefix(P, "current", context, async () => {
      controller.abort(new Error("time is up"));
      return outcome();
    });

    // Assess
    expect(s3.calls()).toHaveLength(1);
    expect(result).toStrictEqual({
      listed: 1,
      failed: 0,
      failure: { code: "Aborted", message: "cut off: time is up", retryable: true },
    });
  });

  it("reports an untrusted listing, having handed on none of the bad page", async () => {
    // Prepare
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ IsTruncated: true, NextContinuationToken: "t1", Contents: [{ Key: "p/a" }] })
      .resolvesOnce({ Contents: [{ Key: "p/b" }, { Key: "q/c" }] });

    // Act
    const { pages, result } = await expand();

    // Assess
    expect(pages).toStrictEqual([[object("p/a")]]);
    expect(result.listed).toBe(1);
    expect([result.failure?.code, result.failure?.retryable]).toStrictEqual(["UnexpectedListing", false]);
  });

  it("rejects with what handing a page on throws, listing no further", async () => {
    // Prepare
    servePages(1, 1);
    const failure = new Error("the deleter broke");

    // Act
    const expanding = expandPrefix(P, "current", { s3Client }, async () => {
      throw failure;
    });

    // Assess
    await expect(expanding).rejects.toBe(failure);
    expect(s3.calls()).toHaveLength(1);
  });
});
