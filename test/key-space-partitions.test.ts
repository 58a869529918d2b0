import {
  ListObjectsV2Command,
  type ListObjectsV2CommandInput,
  type ListObjectsV2CommandOutput,
  S3Client,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import {
  compareKeys,
  distinctPrefixes,
  inPartition,
  MAX_SPLIT_PROBES,
  type Partition,
  splitKeySpace,
} from "../src/key-space-partitions.js";
import { listObjects } from "../src/s3-listing.js";
import { deferred, settle } from "./fake-clock.js";
import { propertyRuns } from "./property-runs.js";

const s3 = mockClient(S3Client);

beforeEach(() => {
  s3.reset();
});

afterAll(() => {
  s3.restore();
});

const BUCKET = "product-media";
const s3Client = new S3Client({ region: "us-east-1" });

/** S3's listing order: UTF-8 bytes. */
const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

/** How S3 encodes a key with `EncodingType=url`: form encoding, a space as `+`. */
const urlEncode = (key: string) => encodeURIComponent(key).replaceAll("%20", "+");

/**
 * Serves ListObjectsV2 for a bucket holding `keys`, as S3 does: in UTF-8 order, under `Prefix`, after
 * `StartAfter`, at most `MaxKeys` (and `pageSize`) a page, with continuation tokens, URL-encoded when
 * asked (unless `encode` is false, as a store that ignores EncodingType).
 */
function serveBucket(keys: readonly string[], { pageSize = 1000, encode = true } = {}) {
  const sorted = [...new Set(keys)].sort(utf8Order);
  s3.on(ListObjectsV2Command).callsFake((input: ListObjectsV2CommandInput): ListObjectsV2CommandOutput => {
    const after = input.ContinuationToken ?? input.StartAfter;
    const matching = sorted.filter(
      (key) => key.startsWith(input.Prefix ?? "") && (after === undefined || utf8Order(key, after) > 0),
    );
    const page = matching.slice(0, Math.min(pageSize, input.MaxKeys ?? 1000));
    const truncated = page.length < matching.length;
    const encoded = encode && input.EncodingType === "url";
    return {
      $metadata: {},
      ...(encoded ? { EncodingType: "url" } : {}),
      Contents: page.map((key) => ({ Key: encoded ? urlEncode(key) : key })),
      KeyCount: page.length,
      IsTruncated: truncated,
      // The last key listed: the next page goes on after it.
      ...(truncated ? { NextContinuationToken: page[page.length - 1] } : {}),
    };
  });
}

/** The inputs of every ListObjectsV2 call, in order. */
const listInputs = (): ListObjectsV2CommandInput[] =>
  s3.commandCalls(ListObjectsV2Command).map((call) => call.args[0].input);

/** A probe as splitKeySpace sends it. */
const probe = (prefix: string, startAfter?: string): ListObjectsV2CommandInput => ({
  Bucket: BUCKET,
  Prefix: prefix,
  MaxKeys: 1,
  EncodingType: "url",
  ...(startAfter === undefined ? {} : { StartAfter: startAfter }),
});

/** After every key that starts with `prefix` + `character`. */
const past = (prefix: string, character: string) => `${prefix}${character}\u{10FFFF}`;

/** Lists `partition` as a run does: after its start, page by page, until a key falls past its end. */
async function listPartition(partition: Partition): Promise<string[]> {
  const keys: string[] = [];
  const pages = listObjects(
    { bucket: BUCKET, prefix: partition.prefix, startAfter: partition.startAfter },
    { s3Client },
  );
  for await (const page of pages) {
    const inRange = page.filter((object) => inPartition(partition, object.key));
    keys.push(...inRange.map((object) => object.key));
    if (inRange.length < page.length) break;
  }
  return keys;
}

describe("compareKeys", () => {
  it.each([
    ["a", "b", -1],
    ["b", "a", 1],
    ["a", "a", 0],
    ["", "a", -1],
    ["images/1", "images/10", -1],
    ["Z", "a", -1],
    // JavaScript's `<` puts the astral character first (its high surrogate is below U+FFFF); UTF-8 does not.
    ["\uFFFF", "😀", -1],
    ["\uFF61", "𐀀", -1],
    ["😀", "😁", -1],
    ["😀a", "😀b", -1],
    ["a😀", "a", 1],
  ])("orders %j before or after %j as UTF-8 bytes do", (a, b, sign) => {
    expect(Math.sign(compareKeys(a, b))).toBe(sign);
  });

  it("agrees with UTF-8 byte order on any two well-formed strings, astral characters included", () => {
    const text = fc.string({ unit: "binary", maxLength: 6 });
    // Often one string starts with the other, or both share a start.
    const pair = fc.oneof(
      fc.tuple(text, text),
      fc.tuple(text, text, text).map(([common, a, b]) => [common + a, common + b] as const),
    );
    fc.assert(
      fc.property(pair, ([a, b]) => {
        expect(Math.sign(compareKeys(a, b))).toBe(Math.sign(utf8Order(a, b)));
      }),
      { numRuns: propertyRuns(1000) },
    );
  });
});

describe("distinctPrefixes", () => {
  it("drops repeated prefixes and those under another, and sorts the rest in S3's order", () => {
    expect(distinctPrefixes(["thumbs/", "images/thumbs/", "images/", "thumbs/", "😀/", "\uFFFF/"])).toStrictEqual([
      "images/",
      "thumbs/",
      "\uFFFF/",
      "😀/",
    ]);
  });

  it("keeps only the empty prefix, which holds every key", () => {
    expect(distinctPrefixes(["images/", "", "thumbs/"])).toStrictEqual([""]);
  });

  it("keeps prefixes that share a start but do not lie under one another", () => {
    expect(distinctPrefixes(["images/a", "images/b"])).toStrictEqual(["images/a", "images/b"]);
  });

  it("returns none for none", () => {
    expect(distinctPrefixes([])).toStrictEqual([]);
  });

  it("returns given prefixes, none under another, in order, holding exactly the keys the given ones hold", () => {
    const text = fc.string({ unit: fc.constantFrom("a", "b", "/", "😀"), maxLength: 3 });
    fc.assert(
      fc.property(fc.array(text, { maxLength: 5 }), fc.array(text, { maxLength: 10 }), (prefixes, keys) => {
        const distinct = distinctPrefixes(prefixes);

        for (const prefix of distinct) expect(prefixes).toContain(prefix);
        expect([...distinct].sort(compareKeys)).toStrictEqual(distinct);
        for (const key of [...keys, ...prefixes]) {
          const holders = distinct.filter((prefix) => key.startsWith(prefix)).length;
          expect(holders).toBe(prefixes.some((prefix) => key.startsWith(prefix)) ? 1 : 0);
        }
      }),
      { numRuns: propertyRuns(300) },
    );
  });
});

describe("inPartition", () => {
  it("holds every key under the prefix when the partition has no bounds", () => {
    const partition = { prefix: "images/" };

    expect(inPartition(partition, "images/")).toBe(true);
    expect(inPartition(partition, "images/a.png")).toBe(true);
    expect(inPartition(partition, "thumbs/a.png")).toBe(false);
    expect(inPartition(partition, "image")).toBe(false);
  });

  it("holds the keys after startAfter, not startAfter itself", () => {
    const partition = { prefix: "images/", startAfter: "images/b" };

    expect(inPartition(partition, "images/a")).toBe(false);
    expect(inPartition(partition, "images/b")).toBe(false);
    expect(inPartition(partition, "images/b0")).toBe(true);
    expect(inPartition(partition, "images/z")).toBe(true);
  });

  it("holds the keys up to and including endAt", () => {
    const partition = { prefix: "images/", endAt: "images/m" };

    expect(inPartition(partition, "images/a")).toBe(true);
    expect(inPartition(partition, "images/m")).toBe(true);
    expect(inPartition(partition, "images/m0")).toBe(false);
  });

  it("compares bounds in UTF-8 order, not JavaScript's", () => {
    const partition = { prefix: "", startAfter: "\uFFFF", endAt: "😀" };

    expect(inPartition(partition, "😀")).toBe(true);
    expect(inPartition(partition, "\uFFFF")).toBe(false);
    expect(inPartition(partition, "😁")).toBe(false);
  });

  it("holds no key under a prefix whose range lies elsewhere", () => {
    expect(inPartition({ prefix: "images/", startAfter: "thumbs/" }, "images/a")).toBe(false);
  });
});

describe("splitKeySpace", () => {
  const hex = "0123456789abcdef";

  it("lists each distinct prefix whole, without a probe, when there are as many as concurrency", async () => {
    const partitions = await splitKeySpace(s3Client, BUCKET, ["thumbs/", "images/", "images/thumbs/"], 2);

    expect(partitions).toStrictEqual([{ prefix: "images/" }, { prefix: "thumbs/" }]);
    expect(s3.calls()).toHaveLength(0);
  });

  it("lists each distinct prefix whole, without a probe, when there are more than concurrency", async () => {
    const partitions = await splitKeySpace(s3Client, BUCKET, ["a/", "b/", "c/"], 1);

    expect(partitions).toStrictEqual([{ prefix: "a/" }, { prefix: "b/" }, { prefix: "c/" }]);
    expect(s3.calls()).toHaveLength(0);
  });

  it("splits hex keys at evenly spaced first characters, found with one-key listings", async () => {
    // Prepare
    serveBucket([...hex].flatMap((character) => [`h/${character}00`, `h/${character}ff`]));

    // Act
    const partitions = await splitKeySpace(s3Client, BUCKET, ["h/"], 4);

    // Assess
    expect(listInputs()).toStrictEqual([
      probe("h/"),
      ...[...hex].map((character) => probe("h/", past("h/", character))),
    ]);
    expect(partitions).toStrictEqual([
      { prefix: "h/", endAt: "h/400" },
      { prefix: "h/", startAfter: "h/400", endAt: "h/800" },
      { prefix: "h/", startAfter: "h/800", endAt: "h/c00" },
      { prefix: "h/", startAfter: "h/c00" },
    ]);
  });

  it("splits digit keys into as many ranges as concurrency, rounding where the ranges begin", async () => {
    serveBucket(Array.from({ length: 30 }, (_, index) => `d/${index % 10}-${index}`));

    const partitions = await splitKeySpace(s3Client, BUCKET, ["d/"], 3);

    // Ten first characters in three ranges: the 2nd begins at character 3 (10/3 rounded), the 3rd at 7.
    expect(partitions).toStrictEqual([
      { prefix: "d/", endAt: "d/3-13" },
      { prefix: "d/", startAfter: "d/3-13", endAt: "d/7-17" },
      { prefix: "d/", startAfter: "d/7-17" },
    ]);
  });

  it("makes one range per first character when there are fewer characters than concurrency allows", async () => {
    serveBucket(["p/a1", "p/a2", "p/b1", "p/c1"]);

    const partitions = await splitKeySpace(s3Client, BUCKET, ["p/"], 10);

    expect(partitions).toStrictEqual([
      { prefix: "p/", endAt: "p/b1" },
      { prefix: "p/", startAfter: "p/b1", endAt: "p/c1" },
      { prefix: "p/", startAfter: "p/c1" },
    ]);
  });

  it("lists a prefix whole when all its keys start with one character", async () => {
    serveBucket(["images/p-1.png", "images/p-2.png", "thumbs/p-1.png"]);

    const partitions = await splitKeySpace(s3Client, BUCKET, ["images/"], 8);

    expect(partitions).toStrictEqual([{ prefix: "images/" }]);
    expect(listInputs()).toStrictEqual([probe("images/"), probe("images/", past("images/", "p"))]);
  });

  it("lists a prefix whole when it holds no key", async () => {
    serveBucket(["thumbs/p-1.png"]);

    await expect(splitKeySpace(s3Client, BUCKET, ["images/"], 8)).resolves.toStrictEqual([{ prefix: "images/" }]);
    expect(listInputs()).toHaveLength(1);
  });

  it("steps over a key equal to the prefix, which has no character after it", async () => {
    // Prepare
    serveBucket(["p/", "p/a", "p/b"]);

    // Act
    const partitions = await splitKeySpace(s3Client, BUCKET, ["p/"], 2);

    // Assess
    expect(listInputs()).toStrictEqual([
      probe("p/"),
      probe("p/", "p/"),
      probe("p/", past("p/", "a")),
      probe("p/", past("p/", "b")),
    ]);
    expect(partitions).toStrictEqual([
      { prefix: "p/", endAt: "p/b" },
      { prefix: "p/", startAfter: "p/b" },
    ]);
    expect(inPartition(partitions[0] as Partition, "p/")).toBe(true);
  });

  it("reads URL-encoded keys decoded, and splits at characters that encoding changes", async () => {
    // Prepare: in UTF-8 order, " " (0x20) < "%" (0x25) < "+" (0x2b) < "ü" (0xc3 0xbc) < "😀".
    serveBucket(["u/+b", "u/ a", "u/ü", "u/%c", "u/😀"]);

    // Act
    const partitions = await splitKeySpace(s3Client, BUCKET, ["u/"], 5);

    // Assess
    expect(listInputs().map((input) => input.StartAfter)).toStrictEqual([
      undefined,
      past("u/", " "),
      past("u/", "%"),
      past("u/", "+"),
      past("u/", "ü"),
      past("u/", "😀"),
    ]);
    expect(partitions).toStrictEqual([
      { prefix: "u/", endAt: "u/%c" },
      { prefix: "u/", startAfter: "u/%c", endAt: "u/+b" },
      { prefix: "u/", startAfter: "u/+b", endAt: "u/ü" },
      { prefix: "u/", startAfter: "u/ü", endAt: "u/😀" },
      { prefix: "u/", startAfter: "u/😀" },
    ]);
  });

  it("takes keys as they are from a store that does not URL-encode them", async () => {
    serveBucket(["u/%41", "u/b"], { encode: false });

    const partitions = await splitKeySpace(s3Client, BUCKET, ["u/"], 2);

    expect(partitions).toStrictEqual([
      { prefix: "u/", endAt: "u/b" },
      { prefix: "u/", startAfter: "u/b" },
    ]);
    expect(listInputs()[1]?.StartAfter).toBe(past("u/", "%"));
  });

  it("stops probing when a key after a character's last still starts with it", async () => {
    // U+10FFFF after "a" sorts after the probe's StartAfter, yet starts with "a": no later character is found.
    serveBucket(["p/a", "p/a\u{10FFFF}z", "p/b"]);

    const partitions = await splitKeySpace(s3Client, BUCKET, ["p/"], 4);

    expect(listInputs()).toHaveLength(2);
    expect(partitions).toStrictEqual([{ prefix: "p/" }]);
  });

  it("stops probing when the store lists a key outside the prefix", async () => {
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ Contents: [{ Key: "p/a" }] })
      .resolvesOnce({ Contents: [{ Key: "q/b" }] })
      .resolves({ Contents: [{ Key: "p/c" }] });

    const partitions = await splitKeySpace(s3Client, BUCKET, ["p/"], 4);

    expect(listInputs()).toHaveLength(2);
    expect(partitions).toStrictEqual([{ prefix: "p/" }]);
  });

  it("stops probing at an entry without a key", async () => {
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ Contents: [{ Key: "p/a" }] })
      .resolvesOnce({ Contents: [{ Key: "p/b" }] })
      .resolvesOnce({ Contents: [{}] })
      .resolves({ Contents: [{ Key: "p/c" }] });

    const partitions = await splitKeySpace(s3Client, BUCKET, ["p/"], 4);

    expect(listInputs()).toHaveLength(3);
    expect(partitions).toStrictEqual([
      { prefix: "p/", endAt: "p/b" },
      { prefix: "p/", startAfter: "p/b" },
    ]);
  });

  it.each([
    [
      "a request fails",
      () =>
        s3
          .on(ListObjectsV2Command)
          .resolvesOnce({ Contents: [{ Key: "a/x" }] })
          .rejects(new Error("SlowDown")),
    ],
    [
      "a key does not decode",
      () => s3.on(ListObjectsV2Command).resolves({ EncodingType: "url", Contents: [{ Key: "a/%E0%A4%A" }] }),
    ],
  ])("lists a prefix whole when %s, and gives its spare partitions to the next prefix", async (_case, fail) => {
    // Prepare: the first prefix's probes fail; the second's are answered.
    fail();
    s3.on(ListObjectsV2Command, { Prefix: "b/" }).callsFake((input: ListObjectsV2CommandInput) => {
      const keys = ["b/1", "b/2", "b/3"].filter((key) => input.StartAfter === undefined || key > input.StartAfter);
      return { Contents: keys.slice(0, 1).map((Key) => ({ Key })) };
    });

    // Act
    const partitions = await splitKeySpace(s3Client, BUCKET, ["a/", "b/"], 4);

    // Assess
    expect(partitions).toStrictEqual([
      { prefix: "a/" },
      { prefix: "b/", endAt: "b/2" },
      { prefix: "b/", startAfter: "b/2", endAt: "b/3" },
      { prefix: "b/", startAfter: "b/3" },
    ]);
  });

  it("gives the spare partitions to the prefixes in turn, and probes none once they are spent", async () => {
    serveBucket(["a/1", "a/2", "a/3", "b/1", "b/2", "c/1", "c/2"]);

    const partitions = await splitKeySpace(s3Client, BUCKET, ["c/", "a/", "b/"], 5);

    expect(partitions).toStrictEqual([
      { prefix: "a/", endAt: "a/2" },
      { prefix: "a/", startAfter: "a/2", endAt: "a/3" },
      { prefix: "a/", startAfter: "a/3" },
      { prefix: "b/" },
      { prefix: "c/" },
    ]);
    expect(new Set(listInputs().map((input) => input.Prefix))).toStrictEqual(new Set(["a/"]));
  });

  it(`sends at most ${MAX_SPLIT_PROBES} probes per prefix, the last range taking the characters beyond`, async () => {
    // Prepare: 100 first characters.
    const characters = Array.from({ length: 100 }, (_, index) => String.fromCodePoint(0x100 + index));
    serveBucket(characters.map((character) => `p/${character}`));

    // Act
    const partitions = await splitKeySpace(s3Client, BUCKET, ["p/"], 1000);

    // Assess
    expect(listInputs()).toHaveLength(MAX_SPLIT_PROBES);
    expect(partitions).toHaveLength(MAX_SPLIT_PROBES);
    expect(partitions[partitions.length - 1]).toStrictEqual({
      prefix: "p/",
      startAfter: `p/${characters[MAX_SPLIT_PROBES - 1]}`,
    });
  });

  it("passes the signal to its probes", async () => {
    serveBucket(["p/a", "p/b"]);
    const { signal } = new AbortController();

    await splitKeySpace(s3Client, BUCKET, ["p/"], 2, signal);

    const options = s3.commandCalls(ListObjectsV2Command).map((call) => (call.args as unknown[])[1]);
    expect(options).toStrictEqual([{ abortSignal: signal }, { abortSignal: signal }, { abortSignal: signal }]);
  });

  it("lists every prefix whole, without a probe answered, when the signal has fired already", async () => {
    serveBucket(["a/1", "a/2", "b/1", "b/2"]);
    const controller = new AbortController();
    controller.abort(new Error("stopped"));

    const partitions = await splitKeySpace(s3Client, BUCKET, ["a/", "b/"], 8, controller.signal);

    expect(partitions).toStrictEqual([{ prefix: "a/" }, { prefix: "b/" }]);
  });

  it("resolves as soon as the signal fires while a probe is in flight, listing the prefix whole", async () => {
    // Prepare: a probe that never answers unless told to.
    const controller = new AbortController();
    const held = deferred<ListObjectsV2CommandOutput>();
    s3.on(ListObjectsV2Command).callsFake(() => held.promise);
    const split = splitKeySpace(s3Client, BUCKET, ["p/"], 4, controller.signal);
    await settle();

    // Act
    controller.abort(new Error("stopped"));

    // Assess
    await expect(split).resolves.toStrictEqual([{ prefix: "p/" }]);
    expect(listInputs()).toHaveLength(1);
  });

  it("covers every key under the prefixes exactly once, for any keys and any concurrency", async () => {
    // Characters whose UTF-16 and UTF-8 orders differ, that URL encoding changes, and U+10FFFF.
    const unit = fc.constantFrom("a", "b", "/", " ", "+", "%", "é", "\uFFFF", "😀", "\u{10FFFF}");
    const text = (maxLength: number) => fc.string({ unit, maxLength });
    const bucket = fc.array(text(2), { minLength: 1, maxLength: 3 }).chain((prefixes) =>
      fc.record({
        prefixes: fc.constant(prefixes),
        keys: fc
          .uniqueArray(
            fc.tuple(fc.constantFrom(...prefixes, ""), text(4)).map(([prefix, rest]) => prefix + rest),
            { maxLength: 25 },
          )
          // S3 has no empty key.
          .map((listed) => listed.filter((key) => key !== "")),
        concurrency: fc.integer({ min: 1, max: 12 }),
        pageSize: fc.integer({ min: 1, max: 4 }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(bucket, async ({ prefixes, keys, concurrency, pageSize }) => {
        // Prepare
        s3.reset();
        serveBucket(keys, { pageSize });

        // Act
        const partitions = await splitKeySpace(s3Client, BUCKET, prefixes, concurrency);

        // Assess
        const distinct = distinctPrefixes(prefixes);
        expect(partitions.length).toBeGreaterThanOrEqual(distinct.length);
        expect(partitions.length).toBeLessThanOrEqual(Math.max(concurrency, distinct.length));
        const expected = keys.filter((key) => prefixes.some((prefix) => key.startsWith(prefix))).sort(utf8Order);
        for (const key of keys) {
          const holders = partitions.filter((partition) => inPartition(partition, key)).length;
          expect(holders).toBe(expected.includes(key) ? 1 : 0);
        }
        const listed: string[] = [];
        for (const partition of partitions) listed.push(...(await listPartition(partition)));
        expect(listed.sort(utf8Order)).toStrictEqual(expected);
      }),
      { numRuns: propertyRuns(300) },
    );
  });
});
