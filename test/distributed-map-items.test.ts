import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readBatchItems } from "../src/distributed-map-items.js";
import { isInvalidEventError } from "../src/errors.js";
import { propertyRuns } from "./property-runs.js";

const BUCKET = "product-images";

/** A row of an S3 Inventory CSV report as Step Functions passes it: every value a string, the ETag unquoted. */
const inventoryRow = (fields: Record<string, unknown> = {}) => ({
  Bucket: BUCKET,
  Key: "images/42.png",
  Size: "1024",
  LastModifiedDate: "2026-01-02T03:04:05.000Z",
  ETag: "9b2cf535f27731c974343645a3985328",
  ...fields,
});

/** An object of a ListObjectsV2 listing as Step Functions passes it: epoch seconds, the ETag quoted. */
const listedItem = (fields: Record<string, unknown> = {}) => ({
  Key: "images/42.png",
  Size: 1024,
  LastModified: 1767323045,
  Etag: '"9b2cf535f27731c974343645a3985328"',
  StorageClass: "STANDARD",
  ...fields,
});

const batch = (items: unknown[], batchInput?: unknown) => ({
  Items: items,
  ...(batchInput === undefined ? {} : { BatchInput: batchInput }),
});

/** The one problem of a batch of one item. */
function problemOf(item: unknown): string {
  const { objects, invalid } = readBatchItems(batch([item]), BUCKET);
  expect(objects).toEqual([]);
  expect(invalid).toHaveLength(1);
  expect(invalid[0]?.index).toBe(0);
  return invalid[0]?.problem ?? "";
}

/** What `read` throws; fails the test when it returns. */
function thrownBy(read: () => unknown): unknown {
  try {
    read();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

/**
 * URL-encodes a key as a form encoder does (Java's URLEncoder, which S3 Inventory's CSV keys follow):
 * letters, digits and `.-*_` as they are, a space as `+`, every other UTF-8 byte as `%XX`. With
 * `keepSlash`, `/` stays as it is, as in the examples of AWS's pages.
 */
function inventoryEncode(key: string, keepSlash = false): string {
  return [...new TextEncoder().encode(key)]
    .map((byte) => {
      const char = String.fromCharCode(byte);
      if (/[A-Za-z0-9.*_-]/.test(char) || (keepSlash && char === "/")) return char;
      if (char === " ") return "+";
      return `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    })
    .join("");
}

describe("readBatchItems", () => {
  describe("S3 Inventory rows", () => {
    it("reads the key, size, last modified time and ETag of a row", () => {
      expect(readBatchItems(batch([inventoryRow()]), BUCKET)).toEqual({
        objects: [
          {
            key: "images/42.png",
            size: 1024,
            lastModified: new Date("2026-01-02T03:04:05.000Z"),
            etag: '"9b2cf535f27731c974343645a3985328"',
          },
        ],
        invalid: [],
        deleteRequested: false,
      });
    });

    it.each([
      ["images%2F42.png", "images/42.png"],
      ["images/my+photo.png", "images/my photo.png"],
      ["images/a%2Bb.png", "images/a+b.png"],
      ["images/%C3%BC%F0%9F%98%80.png", "images/ü😀.png"],
      ["images/100%25.png", "images/100%.png"],
      ["images/a%20b.png", "images/a b.png"],
    ])("decodes the URL-encoded key %s to %s", (encoded, key) => {
      expect(readBatchItems(batch([inventoryRow({ Key: encoded })]), BUCKET).objects[0]?.key).toBe(key);
    });

    it("keeps an ETag that is already quoted as it is, and a multipart ETag whole", () => {
      const read = (etag: string) => readBatchItems(batch([inventoryRow({ ETag: etag })]), BUCKET).objects[0]?.etag;
      expect(read('"9b2cf535f27731c974343645a3985328"')).toBe('"9b2cf535f27731c974343645a3985328"');
      expect(read("d41d8cd98f00b204e9800998ecf8427e-12")).toBe('"d41d8cd98f00b204e9800998ecf8427e-12"');
    });

    it("reads a row without ETag (the inventory does not list it) as an object without one", () => {
      const { ETag: _, ...row } = inventoryRow();
      expect(readBatchItems(batch([row]), BUCKET).objects).toEqual([
        { key: "images/42.png", size: 1024, lastModified: new Date("2026-01-02T03:04:05.000Z"), etag: undefined },
      ]);
    });

    it("reads a time without milliseconds, and a size of 0", () => {
      const [object] = readBatchItems(
        batch([inventoryRow({ LastModifiedDate: "2022-11-16T00:29:32Z", Size: "0" })]),
        BUCKET,
      ).objects;
      expect(object).toMatchObject({ size: 0, lastModified: new Date("2022-11-16T00:29:32.000Z") });
    });

    it("reads a current version of a versioned inventory", () => {
      const row = inventoryRow({
        IsLatest: "true",
        IsDeleteMarker: "false",
        VersionId: "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd",
      });
      expect(readBatchItems(batch([row]), BUCKET).objects).toHaveLength(1);
    });

    it("refuses a row of another bucket, naming the field and both buckets", () => {
      expect(problemOf(inventoryRow({ Bucket: "other-bucket" }))).toBe(
        '`Items[0].Bucket` must be "product-images", the bucket this function cleans up; it is "other-bucket"',
      );
      expect(problemOf(inventoryRow({ Bucket: null }))).toBe(
        '`Items[0].Bucket` must be "product-images", the bucket this function cleans up; it is null',
      );
    });

    it("refuses delete markers and noncurrent versions: a delete by key would touch the current version", () => {
      expect(problemOf(inventoryRow({ IsDeleteMarker: "true" }))).toBe(
        '`Items[0].IsDeleteMarker` is "true": use an inventory of current versions only',
      );
      expect(problemOf(inventoryRow({ IsLatest: "false" }))).toBe(
        '`Items[0].IsLatest` is "false": use an inventory of current versions only',
      );
    });

    it.each([
      [{ Key: undefined }, "`Items[0].Key` must be the object's URL-encoded key, a non-empty string; it is undefined"],
      [{ Key: "" }, "`Items[0].Key` must be the object's URL-encoded key, a non-empty string; it is a string"],
      [{ Key: 42 }, "`Items[0].Key` must be the object's URL-encoded key, a non-empty string; it is a number"],
      [
        { Key: "images/100%.png" },
        "`Items[0].Key` is not URL-encoded as S3 Inventory writes keys (a % without two hex digits, or not UTF-8)",
      ],
      [
        { Key: "images/%C3.png" },
        "`Items[0].Key` is not URL-encoded as S3 Inventory writes keys (a % without two hex digits, or not UTF-8)",
      ],
      [{ Size: undefined }, "`Items[0].Size` is missing: add Size to the inventory's optional fields"],
      [{ Size: "1e3" }, "`Items[0].Size` must be a whole number of bytes, in digits; it is a string"],
      [{ Size: "-1" }, "`Items[0].Size` must be a whole number of bytes, in digits; it is a string"],
      [{ Size: " 12" }, "`Items[0].Size` must be a whole number of bytes, in digits; it is a string"],
      [{ Size: "99999999999999999999" }, "`Items[0].Size` must be a whole number of bytes, in digits; it is a string"],
      [{ Size: 1024 }, "`Items[0].Size` must be a whole number of bytes, in digits; it is a number"],
      [
        { LastModifiedDate: undefined },
        "`Items[0].LastModifiedDate` is missing: add LastModifiedDate to the inventory's optional fields",
      ],
      [
        { LastModifiedDate: "2022-11-16 00:29:32" },
        "`Items[0].LastModifiedDate` must be a UTC time such as 2022-11-16T00:29:32.000Z; it is a string",
      ],
      [
        { LastModifiedDate: "2022-11-16T00:29:32+02:00" },
        "`Items[0].LastModifiedDate` must be a UTC time such as 2022-11-16T00:29:32.000Z; it is a string",
      ],
      [
        { LastModifiedDate: "2022-13-45T00:29:32.000Z" },
        "`Items[0].LastModifiedDate` must be a UTC time such as 2022-11-16T00:29:32.000Z; it is a string",
      ],
      [
        { ETag: "" },
        "`Items[0].ETag` must be the object's ETag, such as 9b2cf535f27731c974343645a3985328, quoted or not; it is a string",
      ],
      [
        { ETag: '"abc' },
        "`Items[0].ETag` must be the object's ETag, such as 9b2cf535f27731c974343645a3985328, quoted or not; it is a string",
      ],
      [
        { ETag: '""' },
        "`Items[0].ETag` must be the object's ETag, such as 9b2cf535f27731c974343645a3985328, quoted or not; it is a string",
      ],
    ])("refuses a row with %j, naming the field", (fields, problem) => {
      expect(problemOf(inventoryRow(fields))).toBe(problem);
    });

    it("never puts a key in a message: it may be personal data", () => {
      expect(problemOf(inventoryRow({ Key: "users/jane.doe@example.com/%zz.png" }))).not.toContain("jane");
    });

    it("round-trips any key through S3 Inventory's URL encoding, with or without / encoded", () => {
      const unit = fc.oneof(
        fc.constantFrom(" ", "+", "%", "/", "*", "~", "&", "\t", "é", "😀", "%2B"),
        fc.string({ unit: "binary", maxLength: 3 }),
      );
      fc.assert(
        fc.property(fc.array(unit, { minLength: 1, maxLength: 20 }), fc.boolean(), (parts, keepSlash) => {
          const key = parts.join("");
          fc.pre(key !== "");
          const { objects, invalid } = readBatchItems(
            batch([inventoryRow({ Key: inventoryEncode(key, keepSlash) })]),
            BUCKET,
          );
          expect(invalid).toEqual([]);
          expect(objects[0]?.key).toBe(key);
        }),
        { numRuns: propertyRuns(300) },
      );
    });
  });

  describe("ListObjectsV2 items", () => {
    it("reads the key as it is, the size, the epoch seconds and the quoted ETag", () => {
      expect(readBatchItems(batch([listedItem({ Key: "images/a+b%2B.png" })]), BUCKET).objects).toEqual([
        {
          key: "images/a+b%2B.png",
          size: 1024,
          lastModified: new Date(1767323045 * 1000),
          etag: '"9b2cf535f27731c974343645a3985328"',
        },
      ]);
    });

    it("quotes an unquoted ETag, reads a UTC time string, and an item without ETag", () => {
      const read = (fields: Record<string, unknown>) => readBatchItems(batch([listedItem(fields)]), BUCKET).objects[0];
      expect(read({ Etag: "9b2cf535f27731c974343645a3985328" })?.etag).toBe('"9b2cf535f27731c974343645a3985328"');
      expect(read({ LastModified: "2026-01-02T03:04:05.000Z" })?.lastModified).toEqual(
        new Date("2026-01-02T03:04:05.000Z"),
      );
      const { Etag: _, ...withoutEtag } = listedItem();
      expect(readBatchItems(batch([withoutEtag]), BUCKET).objects[0]?.etag).toBeUndefined();
    });

    it("takes an item with an ETag but no time as a listing item, and names the missing time", () => {
      const { LastModified: _, ...item } = listedItem();
      expect(problemOf(item)).toBe("`Items[0].LastModified` is missing");
    });

    it.each([
      [{ Key: "" }, "`Items[0].Key` must be the object's key, a non-empty string; it is a string"],
      [{ Key: null }, "`Items[0].Key` must be the object's key, a non-empty string; it is null"],
      [{ Size: "1024" }, "`Items[0].Size` must be a whole number of bytes; it is a string"],
      [{ Size: 1.5 }, "`Items[0].Size` must be a whole number of bytes; it is a number"],
      [{ Size: -1 }, "`Items[0].Size` must be a whole number of bytes; it is a number"],
      [{ LastModified: -1 }, "`Items[0].LastModified` must be a time in epoch seconds; it is -1"],
      [{ LastModified: Number.NaN }, "`Items[0].LastModified` must be a time in epoch seconds; it is NaN"],
      [
        { LastModified: "yesterday" },
        "`Items[0].LastModified` must be a UTC time such as 2022-11-16T00:29:32.000Z; it is a string",
      ],
      [
        { Etag: 42 },
        "`Items[0].Etag` must be the object's ETag, such as 9b2cf535f27731c974343645a3985328, quoted or not; it is a number",
      ],
    ])("refuses an item with %j, naming the field", (fields, problem) => {
      expect(problemOf(listedItem(fields))).toBe(problem);
    });
  });

  describe("the batch", () => {
    it("keeps the order of Items and names each invalid item by its index", () => {
      const { objects, invalid } = readBatchItems(
        batch([inventoryRow({ Key: "images/1.png" }), "images/2.png", listedItem({ Key: "images/3.png" }), {}]),
        BUCKET,
      );
      expect(objects.map(({ key }) => key)).toEqual(["images/1.png", "images/3.png"]);
      expect(invalid).toEqual([
        { index: 1, problem: "`Items[1]` must be an object; it is a string" },
        {
          index: 3,
          problem:
            "`Items[3]` is neither an S3 Inventory row (Bucket, Key, Size, LastModifiedDate) nor a ListObjectsV2 item (Key, Size, LastModified, Etag); it is an object with keys []",
        },
      ]);
    });

    it("reads an empty batch", () => {
      expect(readBatchItems({ Items: [] }, BUCKET)).toEqual({ objects: [], invalid: [], deleteRequested: false });
    });

    it.each([
      [undefined, false],
      [{}, false],
      [{ delete: false }, false],
      [{ delete: true }, true],
      [{ delete: true, other: "ignored" }, true],
    ])("reads BatchInput %j as deleteRequested %s", (batchInput, deleteRequested) => {
      expect(readBatchItems(batch([], batchInput), BUCKET).deleteRequested).toBe(deleteRequested);
    });

    it.each([
      [null, /^`BatchInput` must be an object, such as \{ "delete": false \}; it is null$/],
      ["true", /^`BatchInput` must be an object.*; it is a string$/],
      [[true], /^`BatchInput` must be an object.*; it is an array$/],
      [{ delete: "true" }, /^`BatchInput.delete` must be true or false; it is a string$/],
      [{ delete: 1 }, /^`BatchInput.delete` must be true or false; it is a number$/],
      [{ delete: null }, /^`BatchInput.delete` must be true or false; it is null$/],
    ])("throws an InvalidEventError for BatchInput %j, naming it", (batchInput, message) => {
      const thrown = thrownBy(() => readBatchItems({ Items: [inventoryRow()], BatchInput: batchInput }, BUCKET));
      expect(isInvalidEventError(thrown)).toBe(true);
      expect((thrown as Error).message).toMatch(message);
    });

    it.each([
      [null, /^a Distributed Map batch is an object with `Items`; this event is null$/],
      [[inventoryRow()], /^a Distributed Map batch is an object with `Items`; this event is an array$/],
      ["{}", /^a Distributed Map batch is an object with `Items`; this event is a string$/],
      [
        {},
        /^`Items` must be the array of the batch's items \(is the Map state's ItemBatcher set\?\); it is undefined$/,
      ],
      [{ Items: "x" }, /^`Items` must be the array .*; it is a string$/],
      [inventoryRow(), /^`Items` must be the array .*; it is undefined$/],
    ])("throws an InvalidEventError naming Items for the event %j", (event, message) => {
      const thrown = thrownBy(() => readBatchItems(event, BUCKET));
      expect(isInvalidEventError(thrown)).toBe(true);
      expect((thrown as Error).message).toMatch(message);
    });

    it("puts every item in exactly one of objects and invalid, and never throws for an item", () => {
      const item = fc.oneof(
        fc.anything(),
        fc.record({
          Bucket: fc.constantFrom(BUCKET, "other"),
          Key: fc.string(),
          Size: fc.string(),
          LastModifiedDate: fc.string(),
        }),
        fc.record({ Key: fc.string(), Size: fc.anything(), LastModified: fc.anything(), Etag: fc.anything() }),
      );
      fc.assert(
        fc.property(fc.array(item, { maxLength: 20 }), (items) => {
          const { objects, invalid } = readBatchItems({ Items: items }, BUCKET);
          expect(objects.length + invalid.length).toBe(items.length);
          expect(new Set(invalid.map(({ index }) => index)).size).toBe(invalid.length);
          for (const { index, problem } of invalid) expect(problem.startsWith(`\`Items[${index}]`)).toBe(true);
        }),
        { numRuns: propertyRuns(200) },
      );
    });
  });
});
