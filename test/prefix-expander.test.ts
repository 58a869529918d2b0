import {
  ListObjectsV2Command,
  type ListObjectsV2CommandInput,
  type ListObjectsV2CommandOutput,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandInput,
  type ListObjectVersionsCommandOutput,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { allCustomMatcher, type BaseMatcher } from "aws-sdk-client-mock-vitest";
import fc from "fast-check";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import * as z from "zod/mini";
import { ConfigError } from "../src/errors.js";
import {
  buildPrefixExpander,
  expandRemovals,
  MAX_KEYS_PER_LIST,
  type PrefixExpander,
  type PrefixExpanderOptions,
  type PrefixExpansion,
  prefixExpanderOptionFields,
} from "../src/prefix-expander.js";
import type { ObjectTarget, PrefixTarget } from "../src/types.js";
import { validateOptions } from "../src/validation.js";
import { CLOCK_START, createFakeClock, type Deferred, deferred, settle } from "./fake-clock.js";

expect.extend(allCustomMatcher);

declare module "vitest" {
  // biome-ignore lint/suspicious/noExplicitAny: the type parameter must match vitest's own declaration
  interface Matchers<T = any> extends BaseMatcher<T> {}
}

const s3 = mockClient(S3Client);

beforeEach(() => {
  s3.reset();
});

afterAll(() => {
  s3.restore();
});

const BUCKET = "product-media";

const prefixOf = (prefix: string, bucket = BUCKET): PrefixTarget => ({ bucket, prefix });
const object = (key: string, versionId?: string, bucket = BUCKET): ObjectTarget =>
  versionId === undefined ? { bucket, key } : { bucket, key, versionId };

/** An expander on a fake clock. */
function setup(options: Partial<PrefixExpanderOptions> = {}) {
  const clock = createFakeClock();
  const expand = buildPrefixExpander({ s3Client: new S3Client({ region: "us-east-1" }), now: clock.now, ...options });
  return { clock, expand };
}

/** How S3 encodes a key with `EncodingType=url`: form encoding, a space as `+`. */
const urlEncode = (key: string) => encodeURIComponent(key).replaceAll("%20", "+");

/** S3's listing order: UTF-8 binary order of the keys. */
const byKey = (a: string, b: string) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

/** The inputs of every ListObjectsV2 call, in order. */
const listInputs = (): ListObjectsV2CommandInput[] =>
  s3.commandCalls(ListObjectsV2Command).map((call) => call.args[0].input);

/** The inputs of every ListObjectVersions call, in order. */
const versionInputs = (): ListObjectVersionsCommandInput[] =>
  s3.commandCalls(ListObjectVersionsCommand).map((call) => call.args[0].input);

interface FakeListing {
  /** The most entries a page holds, whatever MaxKeys asks (S3 may return fewer). */
  pageSize?: number;
  /** Whether the store honours `EncodingType=url`. */
  encodes?: boolean;
}

/**
 * Serves ListObjectsV2 for a bucket holding `keys` (in any order), as S3 does: Prefix, MaxKeys,
 * continuation tokens and `EncodingType=url`.
 */
function serveObjects(keys: readonly string[], { pageSize = 1000, encodes = true }: FakeListing = {}) {
  const sorted = [...new Set(keys)].sort(byKey);
  s3.on(ListObjectsV2Command).callsFake((input: ListObjectsV2CommandInput): ListObjectsV2CommandOutput => {
    const matching = sorted.filter((key) => key.startsWith(input.Prefix ?? ""));
    const start = input.ContinuationToken === undefined ? 0 : Number(input.ContinuationToken.slice(1));
    const end = start + Math.min(pageSize, input.MaxKeys ?? 1000);
    const encoded = encodes && input.EncodingType === "url";
    const truncated = end < matching.length;
    return {
      $metadata: {},
      ...(encoded ? { EncodingType: "url" } : {}),
      Contents: matching.slice(start, end).map((key) => ({ Key: encoded ? urlEncode(key) : key })),
      IsTruncated: truncated,
      ...(truncated ? { NextContinuationToken: `t${end}` } : {}),
    };
  });
}

interface StoredVersion {
  key: string;
  versionId: string;
  deleteMarker: boolean;
}

/**
 * Serves ListObjectVersions for a bucket holding `versions`, as S3 does: Prefix, MaxKeys, KeyMarker
 * with VersionIdMarker (the last entry of the previous page) and `EncodingType=url`, which encodes
 * NextKeyMarker too.
 */
function serveVersions(versions: readonly StoredVersion[], { pageSize = 1000, encodes = true }: FakeListing = {}) {
  const sorted = [...versions].sort((a, b) => byKey(a.key, b.key));
  s3.on(ListObjectVersionsCommand).callsFake(
    (input: ListObjectVersionsCommandInput): ListObjectVersionsCommandOutput => {
      const matching = sorted.filter((entry) => entry.key.startsWith(input.Prefix ?? ""));
      const start =
        input.KeyMarker === undefined
          ? 0
          : matching.findIndex((entry) => entry.key === input.KeyMarker && entry.versionId === input.VersionIdMarker) +
            1;
      const end = start + Math.min(pageSize, input.MaxKeys ?? 1000);
      const page = matching.slice(start, end);
      const encoded = encodes && input.EncodingType === "url";
      const asListed = (key: string) => (encoded ? urlEncode(key) : key);
      const truncated = end < matching.length;
      const last = page.at(-1) as StoredVersion;
      return {
        $metadata: {},
        ...(encoded ? { EncodingType: "url" } : {}),
        Versions: page
          .filter((entry) => !entry.deleteMarker)
          .map((entry) => ({ Key: asListed(entry.key), VersionId: entry.versionId })),
        DeleteMarkers: page
          .filter((entry) => entry.deleteMarker)
          .map((entry) => ({ Key: asListed(entry.key), VersionId: entry.versionId })),
        IsTruncated: truncated,
        ...(truncated ? { NextKeyMarker: asListed(last.key), NextVersionIdMarker: last.versionId } : {}),
      };
    },
  );
}

/** `count` keys under `prefix`: `<prefix>0000.png`, `<prefix>0001.png`, ... */
const keysUnder = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, index) => `${prefix}${String(index).padStart(4, "0")}.png`);

const s3Error = (name: string, httpStatusCode: number, message = `${name} message`) =>
  new S3ServiceException({
    name,
    $fault: httpStatusCode >= 500 ? "server" : "client",
    $metadata: { httpStatusCode },
    message,
  });

describe('buildPrefixExpander with versions: "current"', () => {
  it("lists the prefix with ListObjectsV2, URL-encoded, and returns every key under it as a target", async () => {
    // Prepare
    serveObjects(["products/p-1/a.png", "products/p-1/b/c.png", "products/p-10/a.png", "products/p-2/a.png"]);
    const { expand } = setup();
    const target = prefixOf("products/p-1/");

    // Act
    const expansion = await expand([target]);

    // Assess
    expect(listInputs()).toStrictEqual([
      { Bucket: BUCKET, Prefix: "products/p-1/", EncodingType: "url", MaxKeys: 1000 },
    ]);
    expect(expansion).toStrictEqual({
      expanded: [{ prefix: target, targets: [object("products/p-1/a.png"), object("products/p-1/b/c.png")] }],
      failed: [],
    });
    expect(expansion.expanded[0]?.prefix).toBe(target);
  });

  it("pages with continuation tokens, up to 1,000 keys a page", async () => {
    // Prepare
    const keys = keysUnder("products/p-1/", 2500);
    serveObjects(keys);
    const { expand } = setup();

    // Act
    const expansion = await expand([prefixOf("products/p-1/")]);

    // Assess
    expect(listInputs().map((input) => [input.ContinuationToken, input.MaxKeys])).toStrictEqual([
      [undefined, 1000],
      ["t1000", 1000],
      ["t2000", 1000],
    ]);
    expect(expansion.expanded[0]?.targets).toStrictEqual(keys.map((key) => object(key)));
    expect(expansion.failed).toStrictEqual([]);
    expect(MAX_KEYS_PER_LIST).toBe(1000);
  });

  it("goes on past pages shorter than asked for, and past empty pages", async () => {
    // Prepare
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ IsTruncated: true, NextContinuationToken: "one", Contents: [{ Key: "p/a" }] })
      .resolvesOnce({ IsTruncated: true, NextContinuationToken: "two" })
      .resolvesOnce({ IsTruncated: false, Contents: [{ Key: "p/b" }] });
    const { expand } = setup();

    // Act
    const expansion = await expand([prefixOf("p/")]);

    // Assess
    expect(listInputs().map((input) => input.ContinuationToken)).toStrictEqual([undefined, "one", "two"]);
    expect(expansion.expanded[0]?.targets).toStrictEqual([object("p/a"), object("p/b")]);
    expect(expansion.failed).toStrictEqual([]);
  });

  it("expands a prefix with no objects to no targets, and reports nothing", async () => {
    // Prepare
    s3.on(ListObjectsV2Command).resolves({ IsTruncated: false, KeyCount: 0 });
    const { expand } = setup();

    // Act
    const expansion = await expand([prefixOf("products/gone/")]);

    // Assess
    expect(expansion).toStrictEqual({ expanded: [{ prefix: prefixOf("products/gone/"), targets: [] }], failed: [] });
  });

  it("skips listed entries that have no Key", async () => {
    // Prepare
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Size: 3 }, { Key: "p/a" }] });
    const { expand } = setup();

    // Act
    const expansion = await expand([prefixOf("p/")]);

    // Assess
    expect(expansion.expanded[0]?.targets).toStrictEqual([object("p/a")]);
  });

  it("keeps the bucket of each prefix", async () => {
    // Prepare
    s3.on(ListObjectsV2Command).callsFake((input: ListObjectsV2CommandInput) => ({
      Contents: [{ Key: `${input.Prefix}from-${input.Bucket}` }],
    }));
    const { expand } = setup();

    // Act
    const expansion = await expand([prefixOf("p/", "left"), prefixOf("p/", "right")]);

    // Assess
    expect(expansion.expanded.map(({ targets }) => targets)).toStrictEqual([
      [object("p/from-left", undefined, "left")],
      [object("p/from-right", undefined, "right")],
    ]);
  });

  it("lists a prefix passed in twice once, and returns it once, as first passed in", async () => {
    // Prepare
    serveObjects(["p/a", "q/a"]);
    const { expand } = setup();
    const first = prefixOf("p/");

    // Act
    const expansion = await expand([first, prefixOf("q/"), prefixOf("p/")]);

    // Assess
    expect(listInputs().map((input) => input.Prefix)).toStrictEqual(["p/", "q/"]);
    expect(expansion.expanded.map(({ prefix }) => prefix)).toStrictEqual([first, prefixOf("q/")]);
    expect(expansion.expanded[0]?.prefix).toBe(first);
  });

  it("sends nothing for no prefixes", async () => {
    // Prepare
    const { expand } = setup();

    // Act
    const expansion = await expand([]);

    // Assess
    expect(expansion).toStrictEqual({ expanded: [], failed: [] });
    expect(s3.calls()).toHaveLength(0);
  });
});

describe('buildPrefixExpander with versions: "all"', () => {
  it("lists every version and delete marker under the prefix with ListObjectVersions, as VersionId targets", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand).resolves({
      EncodingType: "url",
      Versions: [{ Key: "p/a.png", VersionId: "v2" }, { Key: "p/a.png", VersionId: "v1" }, { Key: "p/b.png" }],
      DeleteMarkers: [{ Key: "p/c.png", VersionId: "d1" }, { VersionId: "keyless" }],
    });
    const { expand } = setup({ versions: "all" });

    // Act
    const expansion = await expand([prefixOf("p/")]);

    // Assess
    expect(versionInputs()).toStrictEqual([{ Bucket: BUCKET, Prefix: "p/", EncodingType: "url", MaxKeys: 1000 }]);
    expect(s3).not.toHaveReceivedCommand(ListObjectsV2Command);
    expect(expansion).toStrictEqual({
      expanded: [
        {
          prefix: prefixOf("p/"),
          targets: [
            object("p/a.png", "v2"),
            object("p/a.png", "v1"),
            object("p/b.png", "null"),
            object("p/c.png", "d1"),
          ],
        },
      ],
      failed: [],
    });
  });

  it("pages with KeyMarker and VersionIdMarker, decoding the URL-encoded NextKeyMarker", async () => {
    // Prepare
    const versions = ["p/a b+c.png", "p/ü\u0001.png"].flatMap((key) =>
      Array.from({ length: 3 }, (_, index) => ({
        key,
        versionId: `${key.length}-${index}`,
        deleteMarker: index === 0,
      })),
    );
    serveVersions(versions, { pageSize: 2 });
    const { expand } = setup({ versions: "all" });

    // Act
    const expansion = await expand([prefixOf("p/")]);

    // Assess
    expect(versionInputs().map((input) => [input.KeyMarker, input.VersionIdMarker])).toStrictEqual([
      [undefined, undefined],
      ["p/a b+c.png", "11-1"],
      ["p/ü\u0001.png", "8-0"],
    ]);
    expect(expansion.expanded[0]?.targets.map(({ key, versionId }) => `${key}#${versionId}`).sort()).toStrictEqual(
      versions.map(({ key, versionId }) => `${key}#${versionId}`).sort(),
    );
    expect(expansion.failed).toStrictEqual([]);
  });

  it("lists a prefix that holds only delete markers", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand).resolves({ DeleteMarkers: [{ Key: "p/a.png", VersionId: "d1" }] });
    const { expand } = setup({ versions: "all" });

    // Act
    const expansion = await expand([prefixOf("p/")]);

    // Assess
    expect(expansion.expanded[0]?.targets).toStrictEqual([object("p/a.png", "d1")]);
    expect(expansion.failed).toStrictEqual([]);
  });

  it("passes NextKeyMarker verbatim when the store did not URL-encode", async () => {
    // Prepare
    serveVersions(
      [
        { key: "p/a%20.png", versionId: "1", deleteMarker: false },
        { key: "p/b+.png", versionId: "2", deleteMarker: false },
      ],
      { pageSize: 1, encodes: false },
    );
    const { expand } = setup({ versions: "all" });

    // Act
    const expansion = await expand([prefixOf("p/")]);

    // Assess
    expect(versionInputs()[1]).toMatchObject({ KeyMarker: "p/a%20.png", VersionIdMarker: "1" });
    expect(expansion.expanded[0]?.targets).toStrictEqual([object("p/a%20.png", "1"), object("p/b+.png", "2")]);
  });

  it("counts versions and delete markers against the bound", async () => {
    // Prepare
    serveVersions(
      Array.from({ length: 6 }, (_, index) => ({
        key: "p/a.png",
        versionId: `v${index}`,
        deleteMarker: index % 2 === 0,
      })),
    );
    const { expand } = setup({ versions: "all", maxPrefixObjects: 4 });

    // Act
    const expansion = await expand([prefixOf("p/")]);

    // Assess
    expect(versionInputs()[0]?.MaxKeys).toBe(4);
    expect(expansion.expanded[0]?.targets).toHaveLength(4);
    expect(expansion.failed.map(({ code }) => code)).toStrictEqual(["PrefixNotFinished"]);
  });
});

describe("URL-encoded listings", () => {
  it("decodes keys the store URL-encoded, + being a space", async () => {
    // Prepare
    s3.on(ListObjectsV2Command).resolves({
      EncodingType: "url",
      Contents: [{ Key: "p/odd%01+%2B%C3%BC%25.png" }, { Key: "p/plain.png" }],
    });
    const { expand } = setup();

    // Act
    const expansion = await expand([prefixOf("p/")]);

    // Assess
    expect(expansion.expanded[0]?.targets).toStrictEqual([object("p/odd\u0001 +ü%.png"), object("p/plain.png")]);
  });

  it("takes keys verbatim when the store did not URL-encode them", async () => {
    // Prepare
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: "p/a+b%20c.png" }] });
    const { expand } = setup();

    // Act
    const expansion = await expand([prefixOf("p/")]);

    // Assess
    expect(expansion.expanded[0]?.targets).toStrictEqual([object("p/a+b%20c.png")]);
  });

  it("decodes a prefix that itself needs encoding before comparing", async () => {
    // Prepare
    serveObjects(["p q/ä\u0002/1.png", "p q/ä\u0002/2.png", "p q/other.png"]);
    const { expand } = setup();

    // Act
    const expansion = await expand([prefixOf("p q/ä\u0002/")]);

    // Assess
    expect(listInputs()[0]?.Prefix).toBe("p q/ä\u0002/");
    expect(expansion.expanded[0]?.targets).toStrictEqual([object("p q/ä\u0002/1.png"), object("p q/ä\u0002/2.png")]);
    expect(expansion.failed).toStrictEqual([]);
  });
});

describe("listings that cannot be trusted", () => {
  it.each([
    [
      "lists a key outside the prefix",
      "the store listed a key outside the prefix asked for",
      [{ Key: "products/p-10/a.png" }],
    ],
    [
      "lists a key that decodes outside the prefix",
      "the store listed a key outside the prefix asked for",
      [{ Key: "products%2Fp-10%2Fa.png" }],
    ],
    [
      "lists a key that is not valid URL encoding",
      "the store listed a key that is not valid URL encoding",
      [{ Key: "products/p-1/%E0%A4%A" }],
    ],
  ])(
    "fails the prefix and keeps none of it when the store %s, even from earlier pages",
    async (_name, problem, contents) => {
      // Prepare
      s3.on(ListObjectsV2Command)
        .resolvesOnce({
          EncodingType: "url",
          IsTruncated: true,
          NextContinuationToken: "next",
          Contents: [{ Key: "products/p-1/a.png" }],
        })
        .resolvesOnce({ EncodingType: "url", Contents: [{ Key: "products/p-1/b.png" }, ...contents] });
      const { expand } = setup();
      const target = prefixOf("products/p-1/");

      // Act
      const expansion = await expand([target]);

      // Assess
      expect(s3).toHaveReceivedCommandTimes(ListObjectsV2Command, 2);
      expect(expansion.expanded).toStrictEqual([{ prefix: target, targets: [] }]);
      expect(expansion.failed).toStrictEqual([
        {
          target,
          code: "UnexpectedPrefixListing",
          message: `${problem}, so none of its listing is trusted and nothing under it is deleted`,
          retryable: false,
        },
      ]);
    },
  );

  it('fails the prefix when a version listing holds a key outside it (versions: "all")', async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand).resolves({
      Versions: [{ Key: "p/a.png", VersionId: "1" }],
      DeleteMarkers: [{ Key: "q/a.png", VersionId: "2" }],
    });
    const { expand } = setup({ versions: "all" });

    // Act
    const expansion = await expand([prefixOf("p/")]);

    // Assess
    expect(expansion.expanded[0]?.targets).toStrictEqual([]);
    expect(expansion.failed.map(({ code, retryable }) => [code, retryable])).toStrictEqual([
      ["UnexpectedPrefixListing", false],
    ]);
  });

  it("fails the prefix when a version listing's NextKeyMarker is not valid URL encoding", async () => {
    // Prepare
    s3.on(ListObjectVersionsCommand).resolves({
      EncodingType: "url",
      IsTruncated: true,
      NextKeyMarker: "p/%ZZ",
      NextVersionIdMarker: "1",
      Versions: [{ Key: "p/a.png", VersionId: "1" }],
    });
    const { expand } = setup({ versions: "all" });

    // Act
    const expansion = await expand([prefixOf("p/")]);

    // Assess
    expect(expansion.failed.map(({ code }) => code)).toStrictEqual(["UnexpectedPrefixListing"]);
    expect(s3).toHaveReceivedCommandTimes(ListObjectVersionsCommand, 1);
  });

  it.each([
    ["without a NextContinuationToken", { IsTruncated: true }],
    ["with the token it was asked with", { IsTruncated: true, NextContinuationToken: "same" }],
  ])("fails the prefix, keeping what it listed, when a truncated page comes %s", async (_name, second) => {
    // Prepare
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ IsTruncated: true, NextContinuationToken: "same", Contents: [{ Key: "p/a" }] })
      .resolvesOnce({ ...second, Contents: [{ Key: "p/b" }] });
    const { expand } = setup();

    // Act
    const expansion = await expand([prefixOf("p/")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(ListObjectsV2Command, 2);
    expect(expansion.expanded[0]?.targets).toStrictEqual([object("p/a")]);
    expect(expansion.failed).toStrictEqual([
      {
        target: prefixOf("p/"),
        code: "IncompletePrefixListing",
        message: "a listing page said more objects follow but gave no new place to go on from, after 2 of its objects",
        retryable: false,
      },
    ]);
  });

  it.each([
    ["without a NextVersionIdMarker", { NextKeyMarker: "p/a" }],
    ["without a NextKeyMarker", { NextVersionIdMarker: "2" }],
    ["with the markers it was asked with", { NextKeyMarker: "p/a", NextVersionIdMarker: "1" }],
  ])("fails the prefix when a truncated version page comes %s", async (_name, second) => {
    // Prepare
    s3.on(ListObjectVersionsCommand)
      .resolvesOnce({
        IsTruncated: true,
        NextKeyMarker: "p/a",
        NextVersionIdMarker: "1",
        Versions: [{ Key: "p/a", VersionId: "1" }],
      })
      .resolvesOnce({ IsTruncated: true, ...second, Versions: [{ Key: "p/a", VersionId: "2" }] });
    const { expand } = setup({ versions: "all" });

    // Act
    const expansion = await expand([prefixOf("p/")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(ListObjectVersionsCommand, 2);
    expect(expansion.expanded[0]?.targets).toStrictEqual([object("p/a", "1")]);
    expect(expansion.failed.map(({ code }) => code)).toStrictEqual(["IncompletePrefixListing"]);
  });
});

describe("the bound: maxPrefixObjects", () => {
  it("returns exactly maxPrefixObjects objects and reports the prefix unfinished, retryable", async () => {
    // Prepare
    const keys = keysUnder("p/", 8);
    serveObjects(keys, { pageSize: 3 });
    const { expand } = setup({ maxPrefixObjects: 5 });

    // Act
    const expansion = await expand([prefixOf("p/")]);

    // Assess
    expect(listInputs().map((input) => input.MaxKeys)).toStrictEqual([5, 2]);
    expect(expansion.expanded[0]?.targets).toStrictEqual(keys.slice(0, 5).map((key) => object(key)));
    expect(expansion.failed).toStrictEqual([
      {
        target: prefixOf("p/"),
        code: "PrefixNotFinished",
        message:
          "not finished: 5 of its objects were listed when this invocation reached maxPrefixObjects (5); the redelivery goes on",
        retryable: true,
      },
    ]);
  });

  it("reports nothing when the prefix holds exactly maxPrefixObjects objects", async () => {
    // Prepare
    serveObjects(keysUnder("p/", 5));
    const { expand } = setup({ maxPrefixObjects: 5 });

    // Act
    const expansion = await expand([prefixOf("p/")]);

    // Assess
    expect(expansion.expanded[0]?.targets).toHaveLength(5);
    expect(expansion.failed).toStrictEqual([]);
  });

  it("shares the bound across prefixes: later ones are reported without a request once it is used up", async () => {
    // Prepare
    serveObjects([...keysUnder("a/", 3), ...keysUnder("b/", 3), ...keysUnder("c/", 3)]);
    const { expand } = setup({ maxPrefixObjects: 4, concurrency: 1 });

    // Act
    const expansion = await expand([prefixOf("a/"), prefixOf("b/"), prefixOf("c/")]);

    // Assess
    expect(listInputs().map((input) => [input.Prefix, input.MaxKeys])).toStrictEqual([
      ["a/", 4],
      ["b/", 1],
    ]);
    expect(expansion.expanded.map(({ targets }) => targets.length)).toStrictEqual([3, 1, 0]);
    expect(expansion.failed.map(({ target, code, retryable }) => [target.prefix, code, retryable])).toStrictEqual([
      ["b/", "PrefixNotFinished", true],
      ["c/", "PrefixNotFinished", true],
    ]);
    expect(expansion.failed[1]?.message).toContain("not finished: 0 of its objects were listed");
  });

  it("takes only what is left of the bound from pages that were in flight together", async () => {
    // Prepare
    serveObjects([...keysUnder("a/", 1000), ...keysUnder("b/", 1000)]);
    const { expand } = setup({ maxPrefixObjects: 1500, concurrency: 2 });

    // Act
    const expansion = await expand([prefixOf("a/"), prefixOf("b/")]);

    // Assess
    expect(listInputs().map((input) => input.MaxKeys)).toStrictEqual([1000, 1000]);
    expect(expansion.expanded.map(({ targets }) => targets.length)).toStrictEqual([1000, 500]);
    expect(expansion.expanded[1]?.targets).toStrictEqual(keysUnder("b/", 500).map((key) => object(key)));
    expect(expansion.failed.map(({ target, code }) => [target.prefix, code])).toStrictEqual([
      ["b/", "PrefixNotFinished"],
    ]);
  });

  it("defaults to 10,000 objects per call", async () => {
    // Prepare
    serveObjects(keysUnder("p/", 10_001));
    const { expand } = setup();

    // Act
    const expansion = await expand([prefixOf("p/")]);

    // Assess
    expect(s3).toHaveReceivedCommandTimes(ListObjectsV2Command, 10);
    expect(expansion.expanded[0]?.targets).toHaveLength(10_000);
    expect(expansion.failed[0]?.message).toContain("maxPrefixObjects (10000)");
  });

  it("starts afresh on every call", async () => {
    // Prepare
    serveObjects(keysUnder("p/", 3));
    const { expand } = setup({ maxPrefixObjects: 3 });

    // Act
    const first = await expand([prefixOf("p/")]);
    const second = await expand([prefixOf("p/")]);

    // Assess
    expect(first.failed).toStrictEqual([]);
    expect(second).toStrictEqual(first);
  });
});

describe("the deadline", () => {
  it("sends no request at or after the deadline and reports the prefix unfinished, retryable", async () => {
    // Prepare
    serveObjects(["p/a"]);
    const { expand } = setup();

    // Act
    const expansion = await expand([prefixOf("p/")], { deadline: CLOCK_START });

    // Assess
    expect(s3).not.toHaveReceivedCommand(ListObjectsV2Command);
    expect(expansion).toStrictEqual({
      expanded: [{ prefix: prefixOf("p/"), targets: [] }],
      failed: [
        {
          target: prefixOf("p/"),
          code: "DeadlineExceeded",
          message:
            "not finished: 0 of its objects were listed when the invocation's time budget (timeoutMarginMs) ran out",
          retryable: true,
        },
      ],
    });
  });

  it("keeps the pages listed before the deadline passed", async () => {
    // Prepare
    const { clock, expand } = setup();
    s3.on(ListObjectsV2Command).callsFake((input: ListObjectsV2CommandInput) => {
      clock.advance(1000);
      return input.ContinuationToken === undefined
        ? { IsTruncated: true, NextContinuationToken: "next", Contents: [{ Key: "p/a" }] }
        : { Contents: [{ Key: "p/b" }] };
    });

    // Act
    const expansion = await expand([prefixOf("p/")], { deadline: CLOCK_START + 1000 });
    const later = await expand([prefixOf("p/")], { deadline: CLOCK_START + 3000 });

    // Assess
    expect(expansion.expanded[0]?.targets).toStrictEqual([object("p/a")]);
    expect(expansion.failed.map(({ code }) => code)).toStrictEqual(["DeadlineExceeded"]);
    expect(expansion.failed[0]?.message).toContain("1 of its objects were listed");
    expect(later.failed).toStrictEqual([]);
  });

  it("reads Date.now by default", async () => {
    // Prepare
    const expand = buildPrefixExpander({ s3Client: new S3Client({ region: "us-east-1" }) });

    // Act
    const past = await expand([prefixOf("p/")], { deadline: Date.now() - 1 });

    // Assess
    expect(past.failed.map(({ code }) => code)).toStrictEqual(["DeadlineExceeded"]);
    expect(s3).not.toHaveReceivedCommand(ListObjectsV2Command);
  });
});

describe("list requests that throw", () => {
  it("fails the prefix with the error's code, permanent for a 403, keeping the pages listed before", async () => {
    // Prepare
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ IsTruncated: true, NextContinuationToken: "next", Contents: [{ Key: "p/a" }, { Key: "p/b" }] })
      .rejectsOnce(s3Error("AccessDenied", 403, "Access Denied"));
    const { expand } = setup();

    // Act
    const expansion = await expand([prefixOf("p/")]);

    // Assess
    expect(expansion.expanded[0]?.targets).toStrictEqual([object("p/a"), object("p/b")]);
    expect(expansion.failed).toStrictEqual([
      {
        target: prefixOf("p/"),
        code: "AccessDenied",
        message: "listing the prefix failed after 2 of its objects: Access Denied",
        retryable: false,
      },
    ]);
  });

  it.each([
    ["SlowDown", 503],
    ["InternalError", 500],
    ["TimeoutError", undefined],
  ])("reports %s as retryable", async (name, status) => {
    // Prepare
    const error =
      status === undefined
        ? Object.assign(new Error("socket hang up"), { name })
        : s3Error(name, status, `${name} from S3`);
    s3.on(ListObjectVersionsCommand).rejects(error);
    const { expand } = setup({ versions: "all" });

    // Act
    const expansion = await expand([prefixOf("p/")]);

    // Assess
    expect(expansion.failed.map(({ code, retryable }) => [code, retryable])).toStrictEqual([[name, true]]);
  });

  it("reports NoSuchBucket as permanent and goes on with the other prefixes", async () => {
    // Prepare
    s3.on(ListObjectsV2Command).rejects(s3Error("NoSuchBucket", 404));
    s3.on(ListObjectsV2Command, { Bucket: BUCKET }).resolves({ Contents: [{ Key: "p/a" }] });
    const { expand } = setup();

    // Act
    const expansion = await expand([prefixOf("p/", "missing"), prefixOf("p/")]);

    // Assess
    expect(expansion.expanded.map(({ targets }) => targets)).toStrictEqual([[], [object("p/a")]]);
    expect(expansion.failed.map(({ target, code, retryable }) => [target.bucket, code, retryable])).toStrictEqual([
      ["missing", "NoSuchBucket", false],
    ]);
  });
});

describe("concurrency", () => {
  /** ListObjectsV2 answers that the test releases by hand, counting the requests in flight. */
  function gatedListing() {
    const state = { inFlight: 0, maxInFlight: 0, started: [] as string[] };
    const gates: Deferred<void>[] = [];
    s3.on(ListObjectsV2Command).callsFake(async (input: ListObjectsV2CommandInput) => {
      state.started.push(`${input.Prefix}${input.ContinuationToken ?? ""}`);
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      const gate = deferred<void>();
      gates.push(gate);
      await gate.promise;
      state.inFlight--;
      return input.ContinuationToken === undefined
        ? { IsTruncated: true, NextContinuationToken: "+2", Contents: [{ Key: `${input.Prefix}1` }] }
        : { Contents: [{ Key: `${input.Prefix}2` }] };
    });
    /** Releases every request in flight, then lets the next ones start. */
    const releaseAll = async () => {
      for (const gate of gates.splice(0)) gate.resolve();
      await settle();
    };
    return { state, releaseAll };
  }

  it.each([
    [1, "as set"],
    [2, "as set"],
    [3, "as set"],
    [4, "by default"],
  ])(
    "has at most %i list requests in flight (%s), listing each prefix to its end before the next",
    async (concurrency, how) => {
      // Prepare
      const { state, releaseAll } = gatedListing();
      const { expand } = setup(how === "by default" ? {} : { concurrency });
      const prefixes = ["a/", "b/", "c/", "d/", "e/", "f/"].map((prefix) => prefixOf(prefix));

      // Act
      const expanding = expand(prefixes);
      await settle();
      const firstWave = [...state.started];
      while (state.inFlight > 0) await releaseAll();
      const expansion = await expanding;

      // Assess
      expect(firstWave).toStrictEqual(["a/", "b/", "c/", "d/"].slice(0, concurrency));
      expect(state.maxInFlight).toBe(concurrency);
      expect(state.started.filter((request) => request.endsWith("+2"))).toHaveLength(6);
      expect(state.started.indexOf("a/+2")).toBeLessThan(state.started.indexOf(`${"abcdef"[concurrency]}/`));
      expect(expansion.expanded.map(({ targets }) => targets.length)).toStrictEqual([2, 2, 2, 2, 2, 2]);
      expect(expansion.failed).toStrictEqual([]);
    },
  );
});

describe("expandRemovals", () => {
  const P = prefixOf("products/p-1/");
  const Q = prefixOf("products/p-2/");
  const x = object("products/x.png");
  const y = object("products/y.png");
  const listedUnderP = [object("products/p-1/a.png"), object("products/p-1/b.png")];

  it("hands removals without prefix targets back as they are, listing nothing", async () => {
    // Prepare
    const expand = vi.fn<PrefixExpander>();
    const mapped = [
      { item: "A", targets: [x] },
      { item: "B", targets: [] },
    ];

    // Act
    const result = await expandRemovals(mapped, expand);

    // Assess
    expect(expand).not.toHaveBeenCalled();
    expect(result).toStrictEqual({ owned: mapped, unfinished: [] });
    expect(result.owned[0]?.targets).toBe(mapped[0]?.targets);
  });

  it("lists each prefix once and makes every record owning it own its objects; an unfinished prefix names its records", async () => {
    // Prepare
    const failure = { target: Q, code: "SlowDown", message: "later", retryable: true };
    const expand = vi.fn<PrefixExpander>(async () => ({
      expanded: [
        { prefix: P, targets: listedUnderP },
        { prefix: Q, targets: [] },
      ],
      failed: [failure],
    }));
    const mapped = [
      { item: "A", targets: [x, P] },
      { item: "B", targets: [P] },
      { item: "C", targets: [Q, prefixOf("products/p-2/")] },
      { item: "D", targets: [y] },
    ];

    // Act
    const result = await expandRemovals(mapped, expand, { deadline: 42 });

    // Assess
    expect(expand.mock.calls).toStrictEqual([[[P, Q], { deadline: 42 }]]);
    expect(result.owned).toStrictEqual([
      { item: "A", targets: [x] },
      { item: "B", targets: [] },
      { item: "C", targets: [] },
      { item: "D", targets: [y] },
      { item: "A", targets: listedUnderP },
      { item: "B", targets: listedUnderP },
    ]);
    expect(result.unfinished).toStrictEqual([{ failure, records: ["C"] }]);
  });

  it("keeps the objects listed under an unfinished prefix owned, so that they are deleted now", async () => {
    // Prepare
    const failure = { target: P, code: "PrefixNotFinished", message: "bound", retryable: true };
    const expand: PrefixExpander = async () => ({
      expanded: [{ prefix: P, targets: listedUnderP }],
      failed: [failure],
    });

    // Act
    const result = await expandRemovals(
      [
        { item: "A", targets: [P] },
        { item: "B", targets: [prefixOf("products/p-1/")] },
      ],
      expand,
    );

    // Assess
    expect(result.owned.filter(({ targets }) => targets.length > 0)).toStrictEqual([
      { item: "A", targets: listedUnderP },
      { item: "B", targets: listedUnderP },
    ]);
    expect(result.unfinished).toStrictEqual([{ failure, records: ["A", "B"] }]);
  });

  it("works with the expander it is built for", async () => {
    // Prepare
    serveObjects(["products/p-1/a.png", "products/p-1/b.png", "products/p-10/a.png"]);
    const { expand } = setup();

    // Act
    const result = await expandRemovals([{ item: "A", targets: [x, P] }], expand);

    // Assess
    expect(result).toStrictEqual({
      owned: [
        { item: "A", targets: [x] },
        { item: "A", targets: listedUnderP },
      ],
      unfinished: [],
    });
  });
});

describe("prefixExpanderOptionFields", () => {
  const check = (options: Record<string, unknown>) =>
    validateOptions(z.strictObject(prefixExpanderOptionFields()), options);

  it.each([1, 10_000, 1_000_000])("accepts maxPrefixObjects %i", (maxPrefixObjects) => {
    // Act
    const options = check({ maxPrefixObjects });

    // Assess
    expect(options).toStrictEqual({ maxPrefixObjects });
  });

  it.each([
    [0, "must be at least 1"],
    [1_000_001, "must be at most 1000000"],
    [2.5, "must be an integer"],
    ["100", "must be an integer"],
  ])("refuses maxPrefixObjects %j, naming the option", (maxPrefixObjects, message) => {
    // Act
    const act = () => check({ maxPrefixObjects });

    // Assess
    expect(act).toThrow(ConfigError);
    expect(act).toThrow(`\`maxPrefixObjects\`: ${message}`);
  });
});

describe("expansion covers every object (property)", () => {
  // Few characters, so that keys share prefixes often: "/" separates, the others need URL encoding.
  const segment = fc.string({ unit: fc.constantFrom("a", "b", "/", " ", "+", "%", "ü", "\u0001"), maxLength: 4 });
  const prefixes = fc.uniqueArray(
    segment.map((text) => `${text}/`),
    { minLength: 1, maxLength: 4 },
  );

  it("returns only keys under their prefix, every key of a prefix not reported, and no more than the bound", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(segment, { maxLength: 40 }),
        prefixes,
        fc.record({
          maxPrefixObjects: fc.integer({ min: 1, max: 30 }),
          concurrency: fc.integer({ min: 1, max: 4 }),
          pageSize: fc.integer({ min: 1, max: 5 }),
          encodes: fc.boolean(),
          versions: fc.constantFrom("current" as const, "all" as const),
          versionsPerKey: fc.integer({ min: 1, max: 3 }),
        }),
        async (keys, wanted, { maxPrefixObjects, concurrency, pageSize, encodes, versions, versionsPerKey }) => {
          // Prepare
          s3.reset();
          const stored =
            versions === "current"
              ? keys.map((key) => ({ key, versionId: undefined }))
              : keys.flatMap((key) =>
                  Array.from({ length: versionsPerKey }, (_, index) => ({
                    key,
                    versionId: `v${index}`,
                    deleteMarker: index === 1,
                  })),
                );
          if (versions === "current") serveObjects(keys, { pageSize, encodes });
          else serveVersions(stored as StoredVersion[], { pageSize, encodes });
          const { expand } = setup({ maxPrefixObjects, concurrency, versions });
          const idOf = ({ key, versionId }: { key: string; versionId?: string | undefined }) => `${key}#${versionId}`;

          // Act
          const expansion: PrefixExpansion = await expand(wanted.map((prefix) => prefixOf(prefix)));

          // Assess
          const failed = new Set(expansion.failed.map(({ target }) => target.prefix));
          expect(expansion.expanded.map(({ prefix }) => prefix.prefix)).toStrictEqual(wanted);
          let total = 0;
          for (const { prefix, targets } of expansion.expanded) {
            const under = stored.filter(({ key }) => key.startsWith(prefix.prefix)).map(idOf);
            const got = targets.map(idOf);
            total += got.length;
            expect(targets.every(({ key, bucket }) => key.startsWith(prefix.prefix) && bucket === BUCKET)).toBe(true);
            expect(new Set(got).size).toBe(got.length);
            expect(got.every((id) => under.includes(id))).toBe(true);
            // Nothing silently dropped: a prefix not reported was listed whole.
            if (!failed.has(prefix.prefix)) expect([...got].sort()).toStrictEqual([...under].sort());
          }
          expect(total).toBeLessThanOrEqual(maxPrefixObjects);
          const needed = wanted.reduce(
            (sum, prefix) => sum + stored.filter(({ key }) => key.startsWith(prefix)).length,
            0,
          );
          // A prefix is left unfinished only once the bound is used up.
          if (needed < maxPrefixObjects) expect(expansion.failed).toStrictEqual([]);
          if (expansion.failed.length > 0) expect(total).toBe(maxPrefixObjects);
          for (const failure of expansion.failed) {
            expect([failure.code, failure.retryable]).toStrictEqual(["PrefixNotFinished", true]);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
