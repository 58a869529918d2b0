/**
 * The request layer on its own: which keys can travel in a DeleteObjects body, what a request that
 * throws hands back, and what the real @aws-sdk/client-s3 throws for a key it cannot put in a URL.
 * What the deleter sends and how it reads answers is tested in batch-deleter.test.ts.
 */
import { type S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createBatchDeleter, type ObjectTarget } from "../src/index.js";
import { canBatch, isXmlSafe, type RequestContext, sendDeleteObject, sendDeleteObjects } from "../src/s3-requests.js";
import { startFakeStore, stopFakeStores } from "./fake-s3-store.js";

const BUCKET = "product-images";

const object = (key: string): ObjectTarget => ({ bucket: BUCKET, key });

afterEach(stopFakeStores);

describe("canBatch and isXmlSafe", () => {
  it.each([
    ["a plain key", true, true, "images/p-1.png"],
    ["an empty key", true, true, ""],
    ["a tab", true, true, "a\tb"],
    ["an emoji", true, true, "😀"],
    ["U+FFFD", true, true, "\uFFFD"],
    ["U+10FFFF", true, true, "\u{10FFFF}"],
    ["a line feed", true, false, "a\nb"],
    ["a carriage return", true, false, "a\rb"],
    ["CR LF", true, false, "a\r\nb"],
    ["U+0000", false, false, "a\u0000b"],
    ["U+0008", false, false, "\u0008"],
    ["U+000B", false, false, "\u000B"],
    ["U+001F", false, false, "\u001F"],
    ["U+FFFE", false, false, "\uFFFE"],
    ["a lone high surrogate", false, false, "a\uD83D"],
    ["a lone low surrogate", false, false, "\uDE00a"],
  ])("tells whether a key with %s is XML-safe (%s) and can go in DeleteObjects (%s)", (_, xmlSafe, batchable, key) => {
    // Act
    const safe = isXmlSafe(key);
    const batched = canBatch(key);

    // Assess
    expect(safe).toBe(xmlSafe);
    expect(batched).toBe(batchable);
  });
});

/** Code points XML 1.0 allows: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]. */
const xmlCodePoint = fc.oneof(
  fc.constantFrom(0x9, 0xa, 0xd),
  fc.integer({ min: 0x20, max: 0xd7ff }),
  fc.integer({ min: 0xe000, max: 0xfffd }),
  fc.integer({ min: 0x10000, max: 0x10ffff }),
);

/** Code units XML 1.0 forbids, lone surrogates included. */
const nonXmlCodeUnit = fc.oneof(
  fc.integer({ min: 0x0, max: 0x8 }),
  fc.constantFrom(0xb, 0xc, 0xfffe, 0xffff),
  fc.integer({ min: 0xe, max: 0x1f }),
  fc.integer({ min: 0xd800, max: 0xdfff }),
);

/** Code points XML 1.0 allows, but for the line ends CR and LF. */
const batchableCodePoint = xmlCodePoint.filter((codePoint) => codePoint !== 0xa && codePoint !== 0xd);

/** Puts `inserted` into the string of `codePoints` before the code point at `position` (modulo its length + 1). */
const insertAt = (codePoints: readonly number[], inserted: string, position: number) => {
  const at = position % (codePoints.length + 1);
  return String.fromCodePoint(...codePoints.slice(0, at)) + inserted + String.fromCodePoint(...codePoints.slice(at));
};

describe("isXmlSafe, for any string", () => {
  it("accepts every string built only from code points XML 1.0 allows", () => {
    fc.assert(
      fc.property(fc.array(xmlCodePoint, { maxLength: 40 }), (codePoints) => {
        // Act
        const safe = isXmlSafe(String.fromCodePoint(...codePoints));

        // Assess
        expect(safe).toBe(true);
      }),
    );
  });

  it("rejects every such string once a forbidden code unit or lone surrogate is put between its characters", () => {
    fc.assert(
      fc.property(
        fc.array(xmlCodePoint, { maxLength: 40 }),
        nonXmlCodeUnit,
        fc.nat(),
        (codePoints, forbidden, position) => {
          // Act
          const safe = isXmlSafe(insertAt(codePoints, String.fromCharCode(forbidden), position));

          // Assess
          expect(safe).toBe(false);
        },
      ),
    );
  });
});

describe("canBatch, for any string", () => {
  it("accepts every string built only from code points XML 1.0 allows other than CR and LF", () => {
    fc.assert(
      fc.property(fc.array(batchableCodePoint, { maxLength: 40 }), (codePoints) => {
        // Act
        const batchable = canBatch(String.fromCodePoint(...codePoints));

        // Assess
        expect(batchable).toBe(true);
      }),
    );
  });

  it("rejects every such string once a CR, an LF or CR LF is put between its characters, though it stays XML-safe", () => {
    fc.assert(
      fc.property(
        fc.array(batchableCodePoint, { maxLength: 40 }),
        fc.constantFrom("\r", "\n", "\r\n"),
        fc.nat(),
        (codePoints, lineEnd, position) => {
          // Prepare
          const key = insertAt(codePoints, lineEnd, position);

          // Act
          const batchable = canBatch(key);

          // Assess
          expect(batchable).toBe(false);
          expect(isXmlSafe(key)).toBe(true);
        },
      ),
    );
  });

  it("accepts any string exactly when it is XML-safe and holds neither CR nor LF", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), (key) => {
        // Act
        const batchable = canBatch(key);

        // Assess
        expect(batchable).toBe(isXmlSafe(key) && !key.includes("\r") && !key.includes("\n"));
      }),
    );
  });
});

describe("a request that throws", () => {
  it("gives every object the same error and hands the thrown error back, for the deleter to split or fall back", async () => {
    // Prepare
    const refusal = new S3ServiceException({
      name: "InvalidArgument",
      $fault: "client",
      $metadata: { httpStatusCode: 400 },
      message: "Invalid argument",
    });
    const s3Client = { send: vi.fn().mockRejectedValue(refusal) } as unknown as S3Client;
    const context: RequestContext = { s3Client, signal: undefined, contentMd5: false, sendRate: undefined };
    const objects = [object("a.png"), object("b.png")];
    const single = object("odd\u0001.png");

    // Act
    const batch = await sendDeleteObjects(context, BUCKET, objects);
    const alone = await sendDeleteObject(context, single);

    // Assess
    const error = { code: "InvalidArgument", message: "Invalid argument", class: "permanent", thrown: true };
    expect(batch).toStrictEqual({ errors: new Map(objects.map((each) => [each, error])), thrown: refusal });
    expect(alone).toStrictEqual({ errors: new Map([[single, error]]), thrown: refusal });
  });
});

describe("with the real SDK", () => {
  it("fails a key with a lone surrogate for good: the SDK throws URIError building its URL, and nothing reaches the store", async () => {
    // Prepare: what `.slice()` can make of an emoji
    const key = "thumbs/😀".slice(0, -1);
    const { client, requests } = await startFakeStore((_, answer) => answer(204));
    const deleteObjects = createBatchDeleter({ s3Client: client });

    // Act
    const report = await deleteObjects([object(key), object("thumbs/ok.png")]);

    // Assess
    expect(requests.map(({ method }) => method)).toStrictEqual(["POST"]);
    expect(report).toStrictEqual({
      deleted: [object("thumbs/ok.png")],
      failed: [{ target: object(key), code: "URIError", message: "URI malformed", retryable: false }],
      keptReplaced: [],
    });
  });
});
