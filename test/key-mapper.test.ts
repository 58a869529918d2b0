import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { invocationSignal } from "../src/abort.js";
import { AttributeProblem } from "../src/attribute-value.js";
import { CleanupError, ConfigError, isConfigError, isKeyMappingError, KeyMappingError } from "../src/errors.js";
import {
  buildKeyMapper,
  createKeyMapper,
  isPrefixTarget,
  type KeyFunction,
  type KeyFunctionContext,
  type KeyMapper,
  type KeyMapperOptions,
  type KeySpec,
  MAX_KEY_BYTES,
  mapRemovals,
  prefixTargetId,
} from "../src/key-mapper.js";
import { compileTemplate, type KeyTemplate, renderTemplate } from "../src/key-template.js";
import { targetId } from "../src/object-target.js";
import { parseStreamRecords, type RemovedItem } from "../src/parse-stream-records.js";
import type { AttributeMap, ObjectTarget, PrefixTarget, StreamRecord } from "../src/types.js";
import { createRecordFactory, productKeys, type RecordOptions, streamEvent } from "./factories.js";
import { type Deferred, deferred, settle } from "./fake-clock.js";

const BUCKET = "product-images";
const ARCHIVE = "archive";
const PRODUCT_IMAGE = "images/{productId}.png";

/** The RemovedItem the parser makes of one record. */
function removedItem(record: StreamRecord): RemovedItem {
  const { removals, invalid } = parseStreamRecords({ Records: [record] });
  const [item] = removals;
  if (item === undefined) throw new Error(`the record is not a valid removal: ${invalid[0]?.error.message}`);
  return item;
}

/** A user's REMOVE of one product, parsed. */
function removedProduct(options: RecordOptions = {}): RemovedItem {
  return removedItem(createRecordFactory().removeRecord({ keys: productKeys("p-1"), ...options }));
}

/** An item whose raw record is built by hand, skipping the parser's checks (as a caller of the mapper may). */
function handBuiltItem(keys: AttributeMap, oldImage?: AttributeMap): RemovedItem {
  const record: StreamRecord = {
    eventID: "event-1",
    eventName: "REMOVE",
    dynamodb: { SequenceNumber: "100000000000000000001", Keys: keys, ...(oldImage ? { OldImage: oldImage } : {}) },
  };
  return {
    index: 0,
    sequenceNumber: "100000000000000000001",
    eventId: "event-1",
    itemIdentifier: "100000000000000000001",
    keys: {},
    oldImage: oldImage ? {} : undefined,
    removedBy: "user",
    tableName: undefined,
    approximateCreationDateTime: undefined,
    streamViewType: undefined,
    record,
  };
}

/** The KeyMappingError a mapping rejects with; checks that it names the item's record. */
async function mappingErrorOf(mapping: Promise<unknown>, item: RemovedItem): Promise<KeyMappingError> {
  const error = await mapping.then(
    () => {
      throw new Error("expected a KeyMappingError, but the mapping succeeded");
    },
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(KeyMappingError);
  expect(isKeyMappingError(error)).toBe(true);
  const mappingError = error as KeyMappingError;
  expect(mappingError.record).toEqual({
    index: item.index,
    sequenceNumber: item.sequenceNumber,
    eventId: item.eventId,
    itemIdentifier: item.itemIdentifier,
  });
  expect(mappingError.message).toContain(`SequenceNumber ${item.sequenceNumber}`);
  return mappingError;
}

/** The ConfigError a factory call throws. */
function configErrorOf(create: () => unknown): ConfigError {
  try {
    create();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toBeInstanceOf(CleanupError);
    expect(isConfigError(error)).toBe(true);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError, but nothing was thrown");
}

describe("createKeyMapper with a template", () => {
  it("builds the key from a key attribute", async () => {
    // Prepare
    const mapKeys = createKeyMapper(PRODUCT_IMAGE, { bucket: BUCKET });
    const item = removedProduct({ keys: productKeys("p-42") });

    // Act
    const targets = await mapKeys(item);

    // Assess
    expect(targets).toStrictEqual([{ bucket: BUCKET, key: "images/p-42.png" }]);
  });

  it("reads a non-key attribute from the OldImage", async () => {
    // Prepare
    const mapKeys = createKeyMapper("images/{tenant}/{productId}.png", { bucket: BUCKET });
    const item = removedProduct({ oldImage: { productId: { S: "p-1" }, tenant: { S: "acme" } } });

    // Act
    const targets = await mapKeys(item);

    // Assess
    expect(targets).toStrictEqual([{ bucket: BUCKET, key: "images/acme/p-1.png" }]);
  });

  it("reads Keys before OldImage when both hold the attribute", async () => {
    // Prepare
    const mapKeys = createKeyMapper(PRODUCT_IMAGE, { bucket: BUCKET });
    const item = removedProduct({ keys: productKeys("from-keys"), oldImage: productKeys("from-image") });

    // Act
    const targets = await mapKeys(item);

    // Assess
    expect(targets).toStrictEqual([{ bucket: BUCKET, key: "images/from-keys.png" }]);
  });

  it.each([
    ["12345678901234567890", "orders/12345678901234567890.json"],
    ["1.50", "orders/1.50.json"],
    ["1E+2", "orders/1E+2.json"],
    ["-7", "orders/-7.json"],
    ["007", "orders/007.json"],
  ])("reads N attribute %s as its exact digits", async (digits, expectedKey) => {
    // Prepare
    const mapKeys = createKeyMapper("orders/{orderId}.json", { bucket: BUCKET });
    const item = removedProduct({ keys: { orderId: { N: digits } } });

    // Act
    const targets = await mapKeys(item);

    // Assess
    expect(targets).toStrictEqual([{ bucket: BUCKET, key: expectedKey }]);
  });

  it("writes {{ and }} as literal braces", async () => {
    // Prepare
    const mapKeys = createKeyMapper("{{raw}}/{productId}}}.png", { bucket: BUCKET });
    const item = removedProduct();

    // Act
    const targets = await mapKeys(item);

    // Assess
    expect(targets).toStrictEqual([{ bucket: BUCKET, key: "{raw}/p-1}.png" }]);
  });

  it("reads Go-style attribute values whose other members are null", async () => {
    // Prepare
    const mapKeys = createKeyMapper(PRODUCT_IMAGE, { bucket: BUCKET });
    const item = removedProduct({ keys: { productId: { B: null, N: null, S: "p-go" } } });

    // Act
    const targets = await mapKeys(item);

    // Assess
    expect(targets).toStrictEqual([{ bucket: BUCKET, key: "images/p-go.png" }]);
  });

  it.each([
    ["BOOL", { BOOL: true }],
    ["B", { B: "AAE=" }],
    ["NULL", { NULL: true }],
    ["SS", { SS: ["a"] }],
    ["L", { L: [{ S: "a" }] }],
    ["M", { M: { a: { S: "a" } } }],
  ])("rejects an attribute of type %s", async (type, value) => {
    // Prepare
    const mapKeys = createKeyMapper("images/{flag}.png", { bucket: BUCKET });
    const item = removedProduct({ oldImage: { productId: { S: "p-1" }, flag: value } });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.attribute).toBe("flag");
    expect(error.key).toBeUndefined();
    expect(error.message).toContain(`attribute \`flag\` is of type ${type}; a key template needs S or N`);
  });

  it("rejects an attribute with an empty value", async () => {
    // Prepare
    const mapKeys = createKeyMapper("images/{tenant}/{productId}.png", { bucket: BUCKET });
    const item = removedProduct({ oldImage: { productId: { S: "p-1" }, tenant: { S: "" } } });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.attribute).toBe("tenant");
    expect(error.message).toContain("attribute `tenant` is empty");
  });

  it("rejects a missing attribute when the record has an OldImage, without a stream type hint", async () => {
    // Prepare
    const mapKeys = createKeyMapper("images/{color}/{productId}.png", { bucket: BUCKET });
    const item = removedProduct({ oldImage: { productId: { S: "p-1" } } });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.attribute).toBe("color");
    expect(error.message).toMatch(
      /the key template needs attribute `color`, which is in neither Keys nor OldImage\. The record's attributes: `productId`\.$/,
    );
  });

  it("suggests the attribute a misspelt placeholder meant, and lists the record's attribute names without values", async () => {
    // Prepare
    const mapKeys = createKeyMapper("images/{productID}.png", { bucket: BUCKET });
    const item = removedProduct({
      oldImage: { productId: { S: "p-1" }, price: { N: "1999" }, secret: { S: "hunter2" } },
    });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.attribute).toBe("productID");
    expect(error.message).toContain(
      ": the key template needs attribute `productID`, which is in neither Keys nor OldImage. Did you mean `productId`? The record's attributes: `productId`, `price`, `secret`.",
    );
    expect(error.message.endsWith("`secret`.")).toBe(true);
    expect(error.message).not.toContain("hunter2");
    expect(error.message).not.toContain("1999");
  });

  it("suggests a name two edits away, and nothing when every name is further", async () => {
    // Prepare
    const mapKeys = createKeyMapper("{prodcut_id}/{sku}", { bucket: BUCKET });
    const near = handBuiltItem({ product_id: { S: "p-1" } });
    const far = handBuiltItem({ pk: { S: "p-1" } });

    // Act
    const nearError = await mappingErrorOf(mapKeys(near), near);
    const farError = await mappingErrorOf(mapKeys(far), far);

    // Assess
    expect(nearError.message).toContain("Did you mean `product_id`? The record's attributes: `product_id`.");
    expect(farError.message).not.toContain("Did you mean");
    expect(farError.message).toContain("The record's attributes: `pk`.");
  });

  it("lists at most 20 attribute names, Keys first, then says how many more there are", async () => {
    // Prepare
    const mapKeys = createKeyMapper("images/{color}.png", { bucket: BUCKET });
    const oldImage: AttributeMap = { productId: { S: "p-1" } };
    for (let i = 0; i < 25; i++) oldImage[`field${i}`] = { S: "x" };
    const item = removedProduct({ oldImage });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    const listed = Array.from({ length: 19 }, (_, i) => `\`field${i}\``).join(", ");
    expect(error.message).toContain(`The record's attributes: \`productId\`, ${listed} … and 6 more.`);
    expect(error.message).not.toContain("field19`");
  });

  it("says so when the record has no attributes at all", async () => {
    // Prepare
    const mapKeys = createKeyMapper("images/{color}.png", { bucket: BUCKET });
    const item = handBuiltItem({});

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.message).toContain("which is in neither Keys nor OldImage. The record has no attributes.");
  });

  it("shortens a very long attribute name in the list", async () => {
    // Prepare
    const mapKeys = createKeyMapper("images/{color}.png", { bucket: BUCKET });
    const item = handBuiltItem({ ["a".repeat(300)]: { S: "x" } });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.message).toContain(`The record's attributes: \`${"a".repeat(100)}…\`.`);
  });

  it("says that a KEYS_ONLY stream needs OLD_IMAGE or NEW_AND_OLD_IMAGES for a missing non-key attribute", async () => {
    // Prepare
    const mapKeys = createKeyMapper("images/{color}/{productId}.png", { bucket: BUCKET });
    const item = removedProduct({ streamViewType: "KEYS_ONLY" });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.attribute).toBe("color");
    expect(error.message).toContain(
      "needs attribute `color`, which is in neither Keys nor OldImage. The record's attributes: `productId`. The record has no OldImage (StreamViewType KEYS_ONLY)",
    );
    expect(error.message).toContain(
      "The record has no OldImage (StreamViewType KEYS_ONLY): non-key attributes need a stream of type OLD_IMAGE or NEW_AND_OLD_IMAGES.",
    );
  });

  it("gives the stream type hint without a StreamViewType when the record has none", async () => {
    // Prepare
    const mapKeys = createKeyMapper("images/{color}.png", { bucket: BUCKET });
    const item = handBuiltItem(productKeys("p-1"));

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.message).toContain(
      "The record has no OldImage: non-key attributes need a stream of type OLD_IMAGE or NEW_AND_OLD_IMAGES.",
    );
  });

  it("ignores attributes inherited from Object.prototype", async () => {
    // Prepare
    const mapKeys = createKeyMapper("images/{constructor}.png", { bucket: BUCKET });
    const item = removedProduct({ oldImage: productKeys("p-1") });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.attribute).toBe("constructor");
    expect(error.message).toContain("which is in neither Keys nor OldImage");
  });

  it("rejects a malformed AttributeValue in a hand-built item", async () => {
    // Prepare
    const mapKeys = createKeyMapper(PRODUCT_IMAGE, { bucket: BUCKET });
    const item = handBuiltItem({ productId: {} });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.attribute).toBe("productId");
    expect(error.message).toContain("attribute `productId` has no value");
    expect(error.cause).toBeInstanceOf(AttributeProblem);
  });

  it("reports an unexpected failure while reading an attribute", async () => {
    // Prepare
    const mapKeys = createKeyMapper(PRODUCT_IMAGE, { bucket: BUCKET });
    const failure = new Error("getter failed");
    const item = handBuiltItem({
      productId: {
        get S(): string {
          throw failure;
        },
      },
    });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.attribute).toBe("productId");
    expect(error.message).toContain("attribute `productId` Error: getter failed");
    expect(error.cause).toBe(failure);
  });
  it.each([
    ["an Error", new Error("getter failed"), "getter failed"],
    ["a string", "nope", "nope"],
  ])(
    "wraps %s thrown while looking an attribute up in a KeyMappingError that says key mapping threw",
    async (_name, failure, text) => {
      // Prepare
      const mapKeys = createKeyMapper(PRODUCT_IMAGE, { bucket: BUCKET });
      const item = handBuiltItem({
        get productId(): AttributeMap[string] {
          throw failure;
        },
      });

      // Act
      const error = await mappingErrorOf(mapKeys(item), item);

      // Assess
      expect(error.message).toBe(
        `record 0 (SequenceNumber 100000000000000000001, eventID event-1): key mapping threw: ${text}`,
      );
      expect(error.cause).toBe(failure);
      expect(error.attribute).toBeUndefined();
      expect(error.key).toBeUndefined();
    },
  );
});

describe("createKeyMapper with an array of templates", () => {
  it("builds one key per template, in order", async () => {
    // Prepare
    const mapKeys = createKeyMapper([PRODUCT_IMAGE, "thumbs/{productId}.jpg"], { bucket: BUCKET });
    const item = removedProduct({ keys: productKeys("p-7") });

    // Act
    const targets = await mapKeys(item);

    // Assess
    expect(targets).toStrictEqual([
      { bucket: BUCKET, key: "images/p-7.png" },
      { bucket: BUCKET, key: "thumbs/p-7.jpg" },
    ]);
  });

  it("rejects the item when one template cannot be rendered", async () => {
    // Prepare
    const mapKeys = createKeyMapper([PRODUCT_IMAGE, "thumbs/{thumbId}.jpg"], { bucket: BUCKET });
    const item = removedProduct({ oldImage: productKeys("p-1") });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.attribute).toBe("thumbId");
  });
});

describe("createKeyMapper with { attribute }", () => {
  const imageKeys = { attribute: "imageKeys" };

  it.each([
    ["S", { S: "images/p-1.png" }, ["images/p-1.png"]],
    ["SS", { SS: ["images/p-1.png", "thumbs/p-1.jpg"] }, ["images/p-1.png", "thumbs/p-1.jpg"]],
    ["L of S", { L: [{ S: "images/p-1.png" }, { S: "thumbs/p-1.jpg" }] }, ["images/p-1.png", "thumbs/p-1.jpg"]],
    ["an empty L", { L: [] }, []],
    ["NULL", { NULL: true }, []],
  ])("reads the keys from an attribute of type %s", async (_type, value, keys) => {
    // Prepare
    const mapKeys = createKeyMapper(imageKeys, { bucket: BUCKET });
    const item = removedProduct({ oldImage: { productId: { S: "p-1" }, imageKeys: value } });

    // Act
    const targets = await mapKeys(item);

    // Assess
    expect(targets).toStrictEqual(keys.map((key) => ({ bucket: BUCKET, key })));
  });

  it("deletes nothing when the attribute is missing", async () => {
    // Prepare
    const mapKeys = createKeyMapper(imageKeys, { bucket: BUCKET });
    const item = removedProduct({ oldImage: productKeys("p-1") });

    // Act
    const targets = await mapKeys(item);

    // Assess
    expect(targets).toEqual([]);
  });

  it("rejects an L with an element that is not S", async () => {
    // Prepare
    const mapKeys = createKeyMapper(imageKeys, { bucket: BUCKET });
    const item = removedProduct({
      oldImage: { productId: { S: "p-1" }, imageKeys: { L: [{ S: "images/p-1.png" }, { N: "2" }] } },
    });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.attribute).toBe("imageKeys");
    expect(error.message).toContain("attribute `imageKeys[1]` is of type N; keys must be S");
  });

  it("rejects an L with a malformed element in a hand-built item", async () => {
    // Prepare
    const mapKeys = createKeyMapper(imageKeys, { bucket: BUCKET });
    const item = handBuiltItem(productKeys("p-1"), { imageKeys: { L: [{ S: "a", N: "1" }] } });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.attribute).toBe("imageKeys[0]");
    expect(error.message).toContain("attribute `imageKeys[0]` has several types (S, N)");
  });

  it.each([
    ["N", { N: "1" }],
    ["B", { B: "AAE=" }],
    ["BS", { BS: ["AAE="] }],
    ["NS", { NS: ["1"] }],
    ["BOOL", { BOOL: false }],
    ["M", { M: { key: { S: "images/p-1.png" } } }],
  ])("rejects an attribute of type %s", async (type, value) => {
    // Prepare
    const mapKeys = createKeyMapper(imageKeys, { bucket: BUCKET });
    const item = removedProduct({ oldImage: { productId: { S: "p-1" }, imageKeys: value } });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.attribute).toBe("imageKeys");
    expect(error.message).toContain(`attribute \`imageKeys\` is of type ${type}; { attribute } needs S, SS or L of S`);
  });

  it("rejects a record without OldImage, naming its KEYS_ONLY stream", async () => {
    // Prepare
    const mapKeys = createKeyMapper(imageKeys, { bucket: BUCKET });
    const item = removedProduct({ streamViewType: "KEYS_ONLY" });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.attribute).toBe("imageKeys");
    expect(error.message).toContain('{ attribute: "imageKeys" } reads the OldImage, and this record has none.');
    expect(error.message).toContain("(StreamViewType KEYS_ONLY)");
    expect(error.message).toContain("OLD_IMAGE or NEW_AND_OLD_IMAGES");
  });

  it("rejects an empty S as an empty key", async () => {
    // Prepare
    const mapKeys = createKeyMapper(imageKeys, { bucket: BUCKET });
    const item = removedProduct({ oldImage: { productId: { S: "p-1" }, imageKeys: { S: "" } } });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.key).toBe("");
    expect(error.message).toContain("the object key is empty");
  });
  it("wraps an error thrown while reading the OldImage in a KeyMappingError that says key mapping threw", async () => {
    // Prepare
    const mapKeys = createKeyMapper(imageKeys, { bucket: BUCKET });
    const failure = new TypeError("getter failed");
    const item = handBuiltItem(productKeys("p-1"), {
      get imageKeys(): AttributeMap[string] {
        throw failure;
      },
    });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.message).toBe(
      "record 0 (SequenceNumber 100000000000000000001, eventID event-1): key mapping threw: getter failed",
    );
    expect(error.cause).toBe(failure);
  });
});

describe("createKeyMapper with a function", () => {
  it("passes the removed item to the function", async () => {
    // Prepare
    const seen: RemovedItem[] = [];
    const mapKeys = createKeyMapper(
      (received) => {
        seen.push(received);
        return `images/${String(received.keys.productId)}.png`;
      },
      { bucket: BUCKET },
    );
    const item = removedProduct();

    // Act
    const targets = await mapKeys(item);

    // Assess
    expect(seen).toEqual([item]);
    expect(seen[0]).toBe(item);
    expect(targets).toStrictEqual([{ bucket: BUCKET, key: "images/p-1.png" }]);
  });

  it.each([
    ["a sync function", () => "images/p-1.png"],
    ["an async function", async () => "images/p-1.png"],
  ])("puts a string key from %s in the configured bucket", async (_name, keyFunction: KeyFunction) => {
    // Prepare
    const mapKeys = createKeyMapper(keyFunction, { bucket: BUCKET });

    // Act
    const targets = await mapKeys(removedProduct());

    // Assess
    expect(targets).toStrictEqual([{ bucket: BUCKET, key: "images/p-1.png" }]);
  });

  it("keeps an ObjectTarget's bucket and versionId", async () => {
    // Prepare
    const mapKeys = createKeyMapper(async () => ({ bucket: "archive", key: "a/p-1.png", versionId: "v-3" }), {
      allowedBuckets: [ARCHIVE],
    });

    // Act
    const targets = await mapKeys(removedProduct());

    // Assess
    expect(targets).toStrictEqual([{ bucket: "archive", key: "a/p-1.png", versionId: "v-3" }]);
  });

  it("leaves versionId out when the ObjectTarget has none", async () => {
    // Prepare
    const mapKeys = createKeyMapper(() => ({ bucket: "archive", key: "a/p-1.png", extra: "ignored" }), {
      allowedBuckets: [ARCHIVE],
    });

    // Act
    const targets = await mapKeys(removedProduct());

    // Assess
    expect(targets).toStrictEqual([{ bucket: "archive", key: "a/p-1.png" }]);
    expect(Object.keys(targets[0] ?? {})).toEqual(["bucket", "key"]);
  });

  it("accepts an array of strings and ObjectTargets", async () => {
    // Prepare
    const mapKeys = createKeyMapper(() => ["images/p-1.png", { bucket: "archive", key: "a/p-1.png" }], {
      bucket: BUCKET,
      allowedBuckets: [ARCHIVE],
    });

    // Act
    const targets = await mapKeys(removedProduct());

    // Assess
    expect(targets).toStrictEqual([
      { bucket: BUCKET, key: "images/p-1.png" },
      { bucket: "archive", key: "a/p-1.png" },
    ]);
  });

  it.each([
    ["null", () => null],
    ["undefined", () => undefined],
    ["a promise of null", async () => null],
    ["a promise of undefined", async () => undefined],
    ["an empty array", () => []],
  ])("deletes nothing when the function returns %s", async (_name, keyFunction: KeyFunction) => {
    // Prepare
    const mapKeys = createKeyMapper(keyFunction, { bucket: BUCKET });

    // Act
    const targets = await mapKeys(removedProduct());

    // Assess
    expect(targets).toEqual([]);
  });

  it.each([
    ["a number", 42, "a number"],
    ["a boolean", true, "a boolean"],
    ["an object without key", { bucket: "archive" }, "an object with keys [bucket]"],
    ["an object without bucket", { key: "k" }, "an object with keys [key]"],
    ["an empty bucket", { bucket: "", key: "k" }, "an object with keys [bucket, key]"],
    ["a key that is not a string", { bucket: "archive", key: 1 }, "an object with keys [bucket, key]"],
    [
      "a versionId that is not a string",
      { bucket: "archive", key: "k", versionId: 3 },
      "an object with keys [bucket, key, versionId]",
    ],
    [
      "an empty versionId",
      { bucket: "archive", key: "k", versionId: "" },
      "an object with keys [bucket, key, versionId]",
    ],
    ["a nested array", [["images/p-1.png"]], "an array"],
    ["an array with a number", ["images/p-1.png", 5], "a number"],
    ["an array with null", ["images/p-1.png", null], "null"],
    ["a function", [() => "k"], "a function"],
  ])("rejects a result that holds %s, describing it by its shape", async (_name, result, shape) => {
    // Prepare
    const mapKeys = createKeyMapper(() => result as never, { bucket: BUCKET });
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.message).toBe(
      `record 0 (SequenceNumber ${item.sequenceNumber}, eventID ${item.eventId}): the key function returned ${shape}, which is neither a key string nor { bucket, key, versionId? }`,
    );
    expect(error.cause).toBeUndefined();
  });

  it("rejects a bigint result, describing it by its type only", async () => {
    // Prepare
    // A numeric key attribute beyond 2^53 reads as a bigint; returning it unconverted is an easy mistake.
    const mapKeys = createKeyMapper((received) => received.keys.orderId as never, { bucket: BUCKET });
    const item = removedProduct({ keys: { orderId: { N: "12345678901234567890" } } });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.message).toContain(
      "the key function returned a bigint, which is neither a key string nor { bucket, key, versionId? }",
    );
    expect(error.message).not.toContain("12345678901234567890");
  });

  it("describes a circular result by its keys without throwing", async () => {
    // Prepare
    const circular: Record<string, unknown> = { bucket: BUCKET };
    circular.self = circular;
    const mapKeys = createKeyMapper(() => circular as never, { bucket: BUCKET });
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.message).toContain("the key function returned an object with keys [bucket, self], which is neither");
  });

  it("never puts the values of a returned OldImage in the message", async () => {
    // Prepare
    // Returning the whole image instead of a key is an easy mistake, and the image may hold personal data.
    const mapKeys = createKeyMapper((received) => received.oldImage as never, { bucket: BUCKET });
    const item = removedProduct({
      oldImage: {
        productId: { S: "p-1" },
        ownerEmail: { S: "secret@example.com" },
        ownerName: { S: "Ada Lovelace" },
        bucket: { S: "private-bucket" },
        key: { N: "42" },
        versionId: { S: "v-secret" },
      },
    });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.message).toBe(
      `record 0 (SequenceNumber ${item.sequenceNumber}, eventID ${item.eventId}): the key function returned an object with keys [productId, ownerEmail, ownerName, bucket, key], which is neither a key string nor { bucket, key, versionId? }`,
    );
    for (const value of ["secret@example.com", "Ada Lovelace", "private-bucket", "42", "v-secret"]) {
      expect(error.message).not.toContain(value);
    }
    expect(error.key).toBeUndefined();
    expect(error.attribute).toBeUndefined();
  });

  it("never puts a value of a returned object in the message (property)", async () => {
    // Prepare
    const marker = "secret\u0000";
    const objects = fc.dictionary(
      fc.string({ minLength: 1, maxLength: 8 }).filter((name) => !["bucket", "key", "versionId"].includes(name)),
      fc.string().map((text) => marker + text),
      { minKeys: 1, maxKeys: 8 },
    );

    await fc.assert(
      fc.asyncProperty(objects, async (returned) => {
        const mapKeys = createKeyMapper(() => returned as never, { bucket: BUCKET });
        const item = removedProduct();

        // Act
        const error = await mappingErrorOf(mapKeys(item), item);

        // Assess
        expect(error.message).toContain(
          `the key function returned an object with keys [${Object.keys(returned).slice(0, 5).join(", ")}], which`,
        );
        expect(error.message).not.toContain(marker);
      }),
    );
  });

  it("rejects a string result when no bucket is configured", async () => {
    // Prepare
    const mapKeys = createKeyMapper(() => "images/p-1.png", { allowedBuckets: [BUCKET] });
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.key).toBe("images/p-1.png");
    expect(error.message).toContain("the key function returned a string key, but no `bucket` is configured");
  });

  it.each([
    [
      "throws an Error",
      () => {
        throw new TypeError("boom");
      },
      "boom",
    ],
    [
      "rejects with an Error",
      async () => {
        throw new TypeError("boom");
      },
      "boom",
    ],
    [
      "throws a string",
      () => {
        throw "nope";
      },
      "nope",
    ],
  ])("wraps the error when the function %s, keeping it as the cause", async (_name, keyFunction: KeyFunction, text) => {
    // Prepare
    let thrown: unknown;
    const mapKeys = createKeyMapper(
      async (received, context) => {
        try {
          return await keyFunction(received, context);
        } catch (error) {
          thrown = error;
          throw error;
        }
      },
      { bucket: BUCKET },
    );
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.message).toContain(`the key function threw: ${text}`);
    expect(error.cause).toBe(thrown);
    expect(error.attribute).toBeUndefined();
  });

  it("passes a KeyMappingError thrown by the function through unchanged", async () => {
    // Prepare
    const item = removedProduct();
    const own = new KeyMappingError(
      {
        index: item.index,
        sequenceNumber: item.sequenceNumber,
        eventId: item.eventId,
        itemIdentifier: item.itemIdentifier,
      },
      "no image",
      {
        attribute: "imageId",
      },
    );
    const mapKeys = createKeyMapper(
      () => {
        throw own;
      },
      { bucket: BUCKET },
    );

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error).toBe(own);
  });
  it.each([
    ["key", "key getter failed"],
    ["bucket", "bucket getter failed"],
    ["versionId", "versionId getter failed"],
  ])("wraps an error thrown by the %s getter of a returned object in a KeyMappingError", async (field, text) => {
    // Prepare
    const failure = new Error(text);
    const returned = Object.defineProperty({ bucket: BUCKET, key: "images/p-1.png" }, field, {
      enumerable: true,
      get() {
        throw failure;
      },
    });
    const mapKeys = createKeyMapper(() => returned, { bucket: BUCKET });
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.message).toBe(
      `record 0 (SequenceNumber ${item.sequenceNumber}, eventID ${item.eventId}): the key function threw: ${text}`,
    );
    expect(error.cause).toBe(failure);
  });

  it("wraps a string thrown while reading a returned object in a KeyMappingError", async () => {
    // Prepare
    const returned = {
      bucket: BUCKET,
      get key(): string {
        throw "no key today";
      },
    };
    const mapKeys = createKeyMapper(() => [returned], { bucket: BUCKET });
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.message).toContain("the key function threw: no key today");
    expect(error.cause).toBe("no key today");
  });
});

describe("scope checks", () => {
  it("rejects an empty key", async () => {
    // Prepare
    const mapKeys = createKeyMapper(() => ({ bucket: BUCKET, key: "" }), { bucket: BUCKET });
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.key).toBe("");
    expect(error.message).toContain("the object key is empty");
  });

  it.each([
    ["1,024 ASCII characters", "a".repeat(1024)],
    ["341 three-byte characters (1,023 bytes)", "€".repeat(341)],
  ])("accepts a key of %s", async (_name, key) => {
    // Prepare
    const mapKeys = createKeyMapper(() => key, { bucket: BUCKET });

    // Act
    const targets = await mapKeys(removedProduct());

    // Assess
    expect(targets).toStrictEqual([{ bucket: BUCKET, key }]);
  });

  it.each([
    ["1,025 ASCII characters", "a".repeat(1025), 1025],
    ["342 three-byte characters", "€".repeat(342), 1026],
  ])("rejects a key of %s, counting UTF-8 bytes", async (_name, key, bytes) => {
    // Prepare
    const mapKeys = createKeyMapper(() => key, { bucket: BUCKET });
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.key).toBe(key);
    expect(error.message).toContain(
      `the object key "${key.slice(0, 100)}…" is ${bytes} bytes of UTF-8; S3 allows 1024`,
    );
  });

  it("limits keys to S3's 1,024 bytes", () => {
    // Assess
    expect(MAX_KEY_BYTES).toBe(1024);
  });

  it.each([
    ["a space", " "],
    ["spaces", "   "],
    ["a tab", "\t"],
    ["line ends", "\r\n"],
    ["a no-break space", "\u00a0"],
    ["an ideographic space", "\u3000"],
    ["a line separator", "\u2028"],
    ["a byte order mark", "\ufeff"],
  ])("rejects a key made only of whitespace: %s", async (_name, key) => {
    // Prepare
    const mapKeys = createKeyMapper(() => key, { bucket: BUCKET });
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.key).toBe(key);
    expect(error.message).toContain(`the object key is made only of whitespace (${key.length} characters)`);
  });

  it.each([" a", "a ", "images/ .png", "\t.png", "\u200b"])(
    "accepts key %j, which is more than whitespace",
    async (key) => {
      // Prepare
      const mapKeys = createKeyMapper(() => key, { bucket: BUCKET });

      // Act
      const targets = await mapKeys(removedProduct());

      // Assess
      expect(targets).toStrictEqual([{ bucket: BUCKET, key }]);
    },
  );

  it("rejects a template whose key is only the whitespace of its attribute", async () => {
    // Prepare
    const mapKeys = createKeyMapper("{productId}", { bucket: BUCKET });
    const item = removedProduct({ keys: productKeys("  ") });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.message).toContain("the object key is made only of whitespace (2 characters)");
  });

  it.each([
    ["the first half of an emoji, as .slice() leaves it", `images/${"😀".slice(0, 1)}.png`, 7],
    ["the second half of an emoji", `images/${"😀".slice(1)}.png`, 7],
    ["two high surrogates in a row", "images/\ud83d\ud83d\ude00.png", 7],
    ["a lone surrogate at the end", `p-1${"\ud800"}`, 3],
  ])("rejects a key that is not well-formed UTF-16: %s", async (_name, key, index) => {
    // Prepare
    const mapKeys = createKeyMapper(() => ({ bucket: BUCKET, key }), { bucket: BUCKET });
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.key).toBe(key);
    expect(error.message).toContain(
      `the object key "${key.replace(/\p{Cs}/gu, "\ufffd")}" is not well-formed UTF-16: it holds a lone surrogate at index ${index}, shown here as U+FFFD, which has no UTF-8 form`,
    );
    expect(error.message).not.toMatch(/\p{Cs}/u);
  });

  it("accepts a key with whole surrogate pairs", async () => {
    // Prepare
    const key = "images/😀/𝄞.png";
    const mapKeys = createKeyMapper(() => key, { bucket: BUCKET });

    // Act
    const targets = await mapKeys(removedProduct());

    // Assess
    expect(targets).toStrictEqual([{ bucket: BUCKET, key }]);
  });

  it("rejects a lone surrogate that { attribute } reads, and describes it without printing it", async () => {
    // Prepare
    const mapKeys = createKeyMapper({ attribute: "imageKeys" }, { bucket: BUCKET });
    const item = removedProduct({
      oldImage: { productId: { S: "p-1" }, imageKeys: { SS: ["images/p-1.png", "images/\udfff.png"] } },
    });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.key).toBe("images/\udfff.png");
    expect(error.message).toContain('the object key "images/\ufffd.png" is not well-formed UTF-16');
    expect(error.message).not.toMatch(/\p{Cs}/u);
  });

  it("shows at most 100 code units of a long key, never half of a surrogate pair", async () => {
    // Prepare
    const key = `${"a".repeat(99)}😀${"b".repeat(1024)}`;
    const mapKeys = createKeyMapper(() => key, { bucket: BUCKET });
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.message).toContain(`the object key "${"a".repeat(99)}…" is 1127 bytes of UTF-8; S3 allows 1024`);
    expect(error.message).not.toMatch(/\p{Cs}/u);
  });

  describe("accepts a key exactly when S3 can take it (property)", () => {
    const LONE_SURROGATE = /\p{Cs}/u;
    /** The oracle, written apart from the mapper: TextEncoder's byte count, and Cs for lone surrogates. */
    const takes = (key: string) =>
      key !== "" && !/^\s+$/u.test(key) && !LONE_SURROGATE.test(key) && new TextEncoder().encode(key).length <= 1024;
    const unit = fc.oneof(
      { weight: 6, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
      { weight: 2, arbitrary: fc.constantFrom(" ", "\t", "\n", "\u00a0", "\u2028", "\u3000", "\ufeff") },
      { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)) },
    );
    const keyArb = fc.oneof(
      fc.string({ unit, maxLength: 40 }),
      // Long keys around 1,024 bytes, built by repetition: shrinking a long string unit by unit takes minutes.
      fc
        .tuple(
          fc.string({ unit, maxLength: 40 }),
          fc.string({ unit, minLength: 1, maxLength: 6 }),
          fc.nat({ max: 400 }),
        )
        .map(([start, piece, times]) => start + piece.repeat(times)),
      fc.string({ unit: "binary", maxLength: 20 }),
      fc.stringMatching(/^\s{1,5}$/u),
    );

    it("for object keys", async () => {
      await fc.assert(
        fc.asyncProperty(keyArb, fc.boolean(), async (key, asObject) => {
          // Prepare
          const mapKeys = createKeyMapper(() => (asObject ? { bucket: BUCKET, key } : key), { bucket: BUCKET });
          const item = removedProduct();

          // Act
          const outcome = await mapKeys(item).then(
            (targets) => ({ targets }),
            (error: unknown) => ({ error }),
          );

          // Assess
          if (takes(key)) expect(outcome).toStrictEqual({ targets: [{ bucket: BUCKET, key }] });
          else {
            expect("error" in outcome && outcome.error).toBeInstanceOf(KeyMappingError);
            expect((outcome as { error: KeyMappingError }).error.message).not.toMatch(LONE_SURROGATE);
          }
        }),
        // Short examples only: fast-check shrinks a failing example of 1,025 characters for minutes.
        {
          examples: [
            [" ", true],
            ["\ud800", false],
            ["\ud83d\ude00", true],
          ],
        },
      );
    });

    it("for keys in scope only: inside allowedPrefixes", async () => {
      await fc.assert(
        fc.asyncProperty(keyArb, fc.constantFrom("images/", ""), async (rest, start) => {
          // Prepare
          const key = `${start}${rest}`;
          const mapKeys = createKeyMapper(() => key, { bucket: BUCKET, allowedPrefixes: ["images/"] });

          // Act
          const accepted = await mapKeys(removedProduct()).then(
            () => true,
            () => false,
          );

          // Assess
          expect(accepted).toBe(takes(key) && key.startsWith("images/"));
        }),
      );
    });

    it("for prefixes of prefix targets", async () => {
      await fc.assert(
        fc.asyncProperty(keyArb, async (rest) => {
          // Prepare
          const prefix = `products/${rest}/`;
          const mapKeys = createKeyMapper(() => ({ bucket: BUCKET, prefix }), {
            bucket: BUCKET,
            allowedPrefixes: ["products/"],
          });

          // Act
          const accepted = await mapKeys(removedProduct()).then(
            () => true,
            () => false,
          );

          // Assess
          expect(accepted).toBe(takes(prefix));
        }),
      );
    });
  });

  it("accepts a key inside allowedPrefixes", async () => {
    // Prepare
    const mapKeys = createKeyMapper(["images/{productId}.png", "thumbs/{productId}.jpg"], {
      bucket: BUCKET,
      allowedPrefixes: ["images/", "thumbs/"],
    });

    // Act
    const targets = await mapKeys(removedProduct());

    // Assess
    expect(targets).toStrictEqual([
      { bucket: BUCKET, key: "images/p-1.png" },
      { bucket: BUCKET, key: "thumbs/p-1.jpg" },
    ]);
  });

  it("rejects the item when one key is outside allowedPrefixes", async () => {
    // Prepare
    const mapKeys = createKeyMapper(["images/{productId}.png", "{productId}.jpg"], {
      bucket: BUCKET,
      allowedPrefixes: ["images/", "thumbs/"],
    });
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.key).toBe("p-1.jpg");
    expect(error.message).toContain('the object key "p-1.jpg" is outside allowedPrefixes [images/, thumbs/]');
  });

  it("checks the keys an { attribute } spec reads", async () => {
    // Prepare
    const mapKeys = createKeyMapper({ attribute: "imageKeys" }, { bucket: BUCKET, allowedPrefixes: ["images/"] });
    const item = removedProduct({
      oldImage: { productId: { S: "p-1" }, imageKeys: { SS: ["images/p-1.png", "../secrets.txt"] } },
    });

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.key).toBe("../secrets.txt");
  });
});

describe("bucket scope", () => {
  it("refuses an object in a bucket other than bucket, naming the record and the bucket", async () => {
    // Prepare
    const mapKeys = createKeyMapper(() => ({ bucket: "prod-backups", key: "images/a.png" }), {
      bucket: BUCKET,
      allowedPrefixes: ["images/"],
    });
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.bucket).toBe("prod-backups");
    expect(error.key).toBe("images/a.png");
    expect(error.message).toBe(
      `record 0 (SequenceNumber ${item.sequenceNumber}, eventID ${item.eventId}): the key function returned an object in bucket "prod-backups", outside the buckets it may delete from (\`bucket\` and \`allowedBuckets\`: ${BUCKET})`,
    );
  });

  it("takes objects in bucket and in every bucket of allowedBuckets", async () => {
    // Prepare
    const mapKeys = createKeyMapper(
      () => [
        { bucket: "prod-media", key: "media/p-1.png" },
        { bucket: "prod-thumbs", key: "thumbs/p-1.webp" },
        "originals/p-1.tiff",
      ],
      { bucket: "prod-originals", allowedBuckets: ["prod-media", "prod-thumbs"] },
    );

    // Act
    const targets = await mapKeys(removedProduct());

    // Assess
    expect(targets).toStrictEqual([
      { bucket: "prod-media", key: "media/p-1.png" },
      { bucket: "prod-thumbs", key: "thumbs/p-1.webp" },
      { bucket: "prod-originals", key: "originals/p-1.tiff" },
    ]);
  });

  it("refuses the whole record when one of its objects is in another bucket, listing the buckets allowed", async () => {
    // Prepare
    const mapKeys = createKeyMapper(
      () => [
        { bucket: "prod-media", key: "media/p-1.png" },
        { bucket: "Prod-Media", key: "media/p-1.png" },
      ],
      { allowedBuckets: ["prod-media", "prod-thumbs"] },
    );
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.bucket).toBe("Prod-Media");
    expect(error.message).toContain(
      'the key function returned an object in bucket "Prod-Media", outside the buckets it may delete from (`bucket` and `allowedBuckets`: prod-media, prod-thumbs)',
    );
  });

  it("refuses a prefix target in another bucket", async () => {
    // Prepare
    const mapKeys = createKeyMapper(() => ({ bucket: "prod-backups", prefix: "products/p-1/" }), {
      bucket: BUCKET,
      allowedPrefixes: ["products/"],
    });
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error).toMatchObject({ bucket: "prod-backups", key: "products/p-1/" });
    expect(error.message).toContain(
      `the key function returned a prefix target in bucket "prod-backups", outside the buckets it may delete from (\`bucket\` and \`allowedBuckets\`: ${BUCKET})`,
    );
  });

  it("takes a prefix target in a bucket of allowedBuckets", async () => {
    // Prepare
    const mapKeys = createKeyMapper(() => ({ bucket: ARCHIVE, prefix: "products/p-1/" }), {
      allowedBuckets: [ARCHIVE],
      allowedPrefixes: ["products/"],
    });

    // Act
    const targets = await mapKeys(removedProduct());

    // Assess
    expect(targets).toStrictEqual([{ bucket: ARCHIVE, prefix: "products/p-1/" }]);
  });

  it("applies allowedPrefixes to the keys of every allowed bucket", async () => {
    // Prepare
    const options = { bucket: BUCKET, allowedBuckets: [ARCHIVE], allowedPrefixes: ["images/"] };
    const inside = createKeyMapper(() => ({ bucket: ARCHIVE, key: "images/p-1.png" }), options);
    const outside = createKeyMapper(() => ({ bucket: ARCHIVE, key: "secrets/p-1.png" }), options);
    const item = removedProduct();

    // Act
    const targets = await inside(item);
    const error = await mappingErrorOf(outside(item), item);

    // Assess
    expect(targets).toStrictEqual([{ bucket: ARCHIVE, key: "images/p-1.png" }]);
    expect(error.message).toContain('the object key "secrets/p-1.png" is outside allowedPrefixes [images/]');
  });

  it("shows at most 100 characters of a long bucket name", async () => {
    // Prepare
    const bucket = `b${"x".repeat(150)}`;
    const mapKeys = createKeyMapper(() => ({ bucket, key: "k" }), { bucket: BUCKET });
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.bucket).toBe(bucket);
    expect(error.message).toContain(`in bucket "${bucket.slice(0, 100)}…", outside`);
    expect(error.message).not.toContain(bucket);
  });

  it("keeps the buckets it was created with when the allowedBuckets array changes later", async () => {
    // Prepare
    const allowedBuckets = [ARCHIVE];
    const mapKeys = createKeyMapper(() => ({ bucket: "prod-backups", key: "k" }), { allowedBuckets });
    allowedBuckets.push("prod-backups");
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.bucket).toBe("prod-backups");
  });
});

describe("prefix targets", () => {
  const PRODUCTS = ["products/"] as const;
  const prefixMapper = (result: ReturnType<KeyFunction>, options: Omit<KeyMapperOptions, "bucket"> = {}) =>
    createKeyMapper(() => result, { bucket: BUCKET, allowedPrefixes: PRODUCTS, ...options });

  it("maps { bucket, prefix } to a prefix target", async () => {
    // Prepare
    const mapKeys = prefixMapper({ bucket: BUCKET, prefix: "products/p-1/" });

    // Act
    const targets = await mapKeys(removedProduct());

    // Assess
    expect(targets).toStrictEqual([{ bucket: BUCKET, prefix: "products/p-1/" }]);
    expect(targets.every(isPrefixTarget)).toBe(true);
  });

  it("keeps prefixes among keys and objects, in order", async () => {
    // Prepare
    const mapKeys = createKeyMapper(
      () => [
        "products/p-1.json",
        { bucket: BUCKET, prefix: "products/p-1/" },
        { bucket: "archive", key: "products/p-1.zip", versionId: "v1" },
      ],
      { bucket: BUCKET, allowedBuckets: [ARCHIVE], allowedPrefixes: PRODUCTS },
    );

    // Act
    const targets = await mapKeys(removedProduct());

    // Assess
    expect(targets).toStrictEqual([
      { bucket: BUCKET, key: "products/p-1.json" },
      { bucket: BUCKET, prefix: "products/p-1/" },
      { bucket: "archive", key: "products/p-1.zip", versionId: "v1" },
    ]);
    expect(targets.map(isPrefixTarget)).toStrictEqual([false, true, false]);
  });

  it("keeps each prefix of a record once, at its first place", async () => {
    // Prepare
    const mapKeys = prefixMapper(
      [
        { bucket: BUCKET, prefix: "products/p-1/" },
        { bucket: BUCKET, key: "products/p-1.json" },
        { bucket: "archive", prefix: "products/p-1/" },
        { bucket: BUCKET, prefix: "products/p-1/" },
        { bucket: BUCKET, key: "products/p-1.json" },
        { bucket: BUCKET, prefix: "products/p-1/thumbs/" },
      ],
      { allowedBuckets: [ARCHIVE] },
    );

    // Act
    const targets = await mapKeys(removedProduct());

    // Assess
    expect(targets).toStrictEqual([
      { bucket: BUCKET, prefix: "products/p-1/" },
      { bucket: BUCKET, key: "products/p-1.json" },
      { bucket: "archive", prefix: "products/p-1/" },
      { bucket: BUCKET, key: "products/p-1.json" },
      { bucket: BUCKET, prefix: "products/p-1/thumbs/" },
    ]);
  });

  it("reads only bucket and prefix of the returned object", async () => {
    // Prepare
    const mapKeys = prefixMapper({ bucket: BUCKET, prefix: "products/p-1/", note: "extra" } as PrefixTarget);

    // Act
    const targets = await mapKeys(removedProduct());

    // Assess
    expect(targets).toStrictEqual([{ bucket: BUCKET, prefix: "products/p-1/" }]);
  });

  it("reads an object whose prefix is undefined as an object target", async () => {
    // Prepare
    const mapKeys = prefixMapper({ bucket: BUCKET, key: "products/p-1.json", prefix: undefined } as ObjectTarget);

    // Act
    const targets = await mapKeys(removedProduct());

    // Assess
    expect(targets).toStrictEqual([{ bucket: BUCKET, key: "products/p-1.json" }]);
  });

  it("ends prefixes at the prefixDelimiter given", async () => {
    // Prepare
    const mapKeys = prefixMapper(
      { bucket: BUCKET, prefix: "tenant:42:" },
      {
        allowedPrefixes: ["tenant:"],
        prefixDelimiter: ":",
      },
    );

    // Act
    const targets = await mapKeys(removedProduct());

    // Assess
    expect(targets).toStrictEqual([{ bucket: BUCKET, prefix: "tenant:42:" }]);
  });

  it.each([
    ["a template", "products/{productId}/", {}],
    [
      "{ attribute }",
      { attribute: "folder" },
      { oldImage: { productId: { S: "p-1" }, folder: { S: "products/p-1/" } } },
    ],
  ])("reads what %s produces as object keys, never as prefixes", async (_name, key: KeySpec, record: RecordOptions) => {
    // Prepare
    const mapKeys = createKeyMapper(key, { bucket: BUCKET, allowedPrefixes: PRODUCTS });

    // Act
    const targets = await mapKeys(removedProduct(record));

    // Assess
    expect(targets).toStrictEqual([{ bucket: BUCKET, key: "products/p-1/" }]);
  });

  it("refuses a prefix target when allowedPrefixes is not set, saying that it is needed", async () => {
    // Prepare
    const mapKeys = createKeyMapper(() => ({ bucket: BUCKET, prefix: "products/p-1/" }), { bucket: BUCKET });
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.key).toBe("products/p-1/");
    expect(error.message).toContain("prefix targets need `allowedPrefixes` to be set");
  });

  it("refuses an empty prefix", async () => {
    // Prepare
    const mapKeys = prefixMapper({ bucket: BUCKET, prefix: "" });
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.key).toBe("");
    expect(error.message).toContain("the prefix of a prefix target is empty: it would take every object of the bucket");
  });

  it.each([
    ["equals an allowed prefix", "products/"],
    ["lies outside every allowed prefix", "images/p-1/"],
    ["is a part of an allowed prefix", "prod/"],
  ])("refuses a prefix that %s: it must lie strictly inside one", async (_name, prefix) => {
    // Prepare
    const mapKeys = prefixMapper({ bucket: BUCKET, prefix }, { allowedPrefixes: ["products/", "thumbs/"] });
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.key).toBe(prefix);
    expect(error.message).toContain(
      `the prefix "${prefix}" is not strictly inside allowedPrefixes [products/, thumbs/]: it must start with one of them and be longer`,
    );
  });

  it.each([
    ["/", "products/p-1", {}],
    [":", "tenant:42/", { allowedPrefixes: ["tenant:"], prefixDelimiter: ":" }],
  ])('refuses a prefix that does not end with prefixDelimiter "%s"', async (delimiter, prefix, options) => {
    // Prepare
    const mapKeys = prefixMapper({ bucket: BUCKET, prefix }, options);
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.key).toBe(prefix);
    expect(error.message).toContain(`the prefix "${prefix}" does not end with prefixDelimiter "${delimiter}"`);
  });

  it("refuses a prefix over 1,024 bytes of UTF-8", async () => {
    // Prepare
    const prefix = `products/${"€".repeat(338)}a/`;
    const mapKeys = prefixMapper({ bucket: BUCKET, prefix });
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(Buffer.byteLength(prefix)).toBe(1024 + 1);
    expect(error.message).toContain(`the prefix "${prefix.slice(0, 100)}…" is 1025 bytes of UTF-8; S3 allows 1024`);
  });

  it.each([
    ["made only of whitespace", "   ", "is made only of whitespace (3 characters)"],
    [
      "holding a lone surrogate",
      "products/\ud83d/",
      "is not well-formed UTF-16: it holds a lone surrogate at index 9, shown here as U+FFFD, which has no UTF-8 form",
    ],
  ])("refuses a prefix %s", async (_name, prefix, problem) => {
    // Prepare
    const mapKeys = prefixMapper(
      { bucket: BUCKET, prefix },
      { allowedPrefixes: [" ", "products/"], prefixDelimiter: prefix.at(-1) as string },
    );
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.key).toBe(prefix);
    expect(error.message).toContain(
      `the prefix ${problem.startsWith("is made") ? "" : `"${prefix.replace(/\p{Cs}/gu, "\ufffd")}" `}${problem}`,
    );
    expect(error.message).not.toMatch(/\p{Cs}/u);
  });

  it("accepts a prefix of exactly 1,024 bytes", async () => {
    // Prepare
    const prefix = `products/${"a".repeat(1014)}/`;
    const mapKeys = prefixMapper({ bucket: BUCKET, prefix });

    // Act
    const targets = await mapKeys(removedProduct());

    // Assess
    expect(targets).toStrictEqual([{ bucket: BUCKET, prefix }]);
  });

  it.each([
    ["no bucket", { prefix: "products/p-1/" }, "an object with keys [prefix]"],
    ["an empty bucket", { bucket: "", prefix: "products/p-1/" }, "an object with keys [bucket, prefix]"],
    ["a bucket that is not a string", { bucket: 7, prefix: "products/p-1/" }, "an object with keys [bucket, prefix]"],
    [
      "a prefix that is not a string",
      { bucket: BUCKET, prefix: ["products/"] },
      "an object with keys [bucket, prefix]",
    ],
    [
      "both key and prefix",
      { bucket: BUCKET, key: "a.png", prefix: "products/p-1/" },
      "an object with keys [bucket, key, prefix]",
    ],
  ])("refuses a prefix target with %s, describing it by shape only", async (_name, entry, shape) => {
    // Prepare
    const mapKeys = prefixMapper(entry as unknown as PrefixTarget);
    const item = removedProduct();

    // Act
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.message).toContain(
      `the key function returned ${shape}; a prefix target is { bucket, prefix }, with a non-empty bucket, a string prefix and no key`,
    );
    expect(error.message).not.toContain("products/p-1/");
  });

  it("makes the whole record invalid when one prefix is refused, whatever else it maps to", async () => {
    // Prepare
    const mapKeys = prefixMapper([
      { bucket: BUCKET, key: "products/p-1.json" },
      { bucket: BUCKET, prefix: "products/p-1/" },
      { bucket: BUCKET, prefix: "products/p-1" },
    ]);
    const item = removedProduct();

    // Act
    const { mapped, invalid } = await mapRemovals([item], mapKeys, {
      concurrency: 1,
      signal: new AbortController().signal,
    });

    // Assess
    expect(mapped).toStrictEqual([]);
    expect(invalid.map(({ error }) => (isKeyMappingError(error) ? error.key : error.message))).toStrictEqual([
      "products/p-1",
    ]);
  });

  it("refuses a prefixDelimiter that is not a non-empty string, naming the option", () => {
    // Act
    const errors = ["", 5].map((prefixDelimiter) =>
      configErrorOf(() => createKeyMapper(() => null, { bucket: BUCKET, prefixDelimiter } as never)),
    );

    // Assess
    for (const error of errors) {
      expect(error.issues).toStrictEqual([{ path: "prefixDelimiter", message: "must be a non-empty string" }]);
    }
  });

  it("gives equal ids exactly to equal prefix targets, never equal to an object's targetId", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.string(), (bucketA, prefixA, bucketB, prefixB) => {
        const a = { bucket: bucketA, prefix: prefixA };
        const b = { bucket: bucketB, prefix: prefixB };
        expect(prefixTargetId(a) === prefixTargetId(b)).toBe(bucketA === bucketB && prefixA === prefixB);
        expect(prefixTargetId(a)).not.toBe(targetId({ bucket: bucketA, key: prefixA }));
      }),
    );
  });
});

describe("createKeyMapper configuration", () => {
  it.each([
    ["images/{productId}.png}", 'has an unmatched "}" at position 22 (write "}}" for a literal brace)'],
    ["images/{productId", 'has an unclosed "{" at position 7 (write "{{" for a literal brace)'],
    ["images/{}.png", "has an empty or malformed placeholder at position 7"],
    ["images/{a{b}.png", "has an empty or malformed placeholder at position 7"],
    ["images/static.png", "has no {attribute} placeholder, so every record would delete the same object"],
  ])("rejects template %j", (template, message) => {
    // Act
    const error = configErrorOf(() => createKeyMapper(template, { bucket: BUCKET }));

    // Assess
    expect(error.issues).toEqual([{ path: "key", message }]);
    expect(error.message).toContain(`\`key\`: ${message}`);
  });

  it("names each malformed template of an array by its index", () => {
    // Act
    const error = configErrorOf(() => createKeyMapper(["bad}", PRODUCT_IMAGE, "{}", 5 as never], { bucket: BUCKET }));

    // Assess
    expect(error.issues).toEqual([
      { path: "key[0]", message: 'has an unmatched "}" at position 3 (write "}}" for a literal brace)' },
      { path: "key[2]", message: "has an empty or malformed placeholder at position 0" },
      { path: "key[3]", message: "must be a string template" },
    ]);
  });

  it("names the template of an array by its index in the message", () => {
    // Act
    const error = configErrorOf(() => createKeyMapper([PRODUCT_IMAGE, "thumbs/{productId"], { bucket: BUCKET }));

    // Assess
    expect(error.message).toContain('`key[1]`: has an unclosed "{" at position 7');
  });

  it.each([
    ["an empty array", [], "key", "must hold at least one template"],
    ["an empty attribute name", { attribute: "" }, "key.attribute", "must be a non-empty attribute name"],
    ["an attribute name that is not a string", { attribute: 5 }, "key.attribute", "must be a non-empty attribute name"],
    ["a number", 42, "key", "must be a template string, an array of templates, { attribute } or a function"],
    ["null", null, "key", "must be a template string, an array of templates, { attribute } or a function"],
    [
      "an object without attribute",
      { template: PRODUCT_IMAGE },
      "key",
      "must be a template string, an array of templates, { attribute } or a function",
    ],
  ])("rejects %s as key", (_name, key, path, message) => {
    // Act
    const error = configErrorOf(() => createKeyMapper(key as KeySpec, { bucket: BUCKET }));

    // Assess
    expect(error.issues).toEqual([{ path, message }]);
  });

  it.each([
    ["a template", PRODUCT_IMAGE],
    ["an array of templates", [PRODUCT_IMAGE]],
    ["{ attribute }", { attribute: "imageKeys" }],
  ])("requires a bucket for %s", (_name, key: KeySpec) => {
    // Act
    const error = configErrorOf(() => createKeyMapper(key, {} as never));

    // Assess
    expect(error.issues).toEqual([
      { path: "bucket", message: "is required when `key` is a template or { attribute }" },
    ]);
  });

  it.each<[string, KeyMapperOptions]>([
    ["bucket", { bucket: BUCKET }],
    ["allowedBuckets", { allowedBuckets: [BUCKET, ARCHIVE] }],
    ["both", { bucket: BUCKET, allowedBuckets: [ARCHIVE] }],
  ])("takes a function with %s", (_name, options) => {
    // Act
    const mapKeys = createKeyMapper(() => null, options as never);

    // Assess
    expect(mapKeys).toBeTypeOf("function");
  });

  it.each([
    ["no options", undefined],
    ["neither bucket nor allowedBuckets", { allowedPrefixes: ["images/"] }],
    ["both undefined", { bucket: undefined, allowedBuckets: undefined }],
  ])("requires bucket or allowedBuckets for a function, given %s", (_name, options) => {
    // Act
    const error = configErrorOf(() => createKeyMapper(() => null, options as never));

    // Assess
    expect(error.issues).toEqual([
      {
        path: "bucket",
        message:
          "is required unless `allowedBuckets` is set: a key function may delete only from `bucket` and the buckets of `allowedBuckets`",
      },
    ]);
  });

  it.each([
    ["empty", [], "allowedBuckets", "must hold at least one bucket (leave it out to allow only `bucket`)"],
    ["a string", "archive", "allowedBuckets", "must be an array of bucket names"],
    ["holding an empty name", [ARCHIVE, ""], "allowedBuckets[1]", "must be a non-empty string"],
    ["holding a number", [7], "allowedBuckets[0]", "must be a non-empty string"],
    [
      "holding an S3 URL",
      [ARCHIVE, "s3://media"],
      "allowedBuckets[1]",
      'is an S3 URL; pass the bare bucket name: "media"',
    ],
    [
      "holding a bucket ARN",
      ["arn:aws:s3:::media"],
      "allowedBuckets[0]",
      'is a bucket ARN; pass the bare bucket name: "media"',
    ],
  ])("refuses allowedBuckets %s, naming the option", (_name, allowedBuckets, path, message) => {
    // Act
    const error = configErrorOf(() => createKeyMapper(() => null, { allowedBuckets } as never));

    // Assess
    expect(error.issues).toEqual([{ path, message }]);
  });

  it.each([
    ["an empty bucket", { bucket: "" }, "bucket", "must be a non-empty string"],
    ["a bucket that is not a string", { bucket: 5 }, "bucket", "must be a non-empty string"],
    [
      "an S3 URL as the bucket",
      { bucket: "s3://product-images" },
      "bucket",
      'is an S3 URL; pass the bare bucket name: "product-images"',
    ],
    [
      "a bucket with a path",
      { bucket: "product-images/images" },
      "bucket",
      'holds "/", which no bucket name has: the path belongs in the key (or `allowedPrefixes`)',
    ],
    [
      "empty allowedPrefixes",
      { bucket: BUCKET, allowedPrefixes: [] },
      "allowedPrefixes",
      "must hold at least one prefix (leave it out to allow every key)",
    ],
    [
      "an empty prefix",
      { bucket: BUCKET, allowedPrefixes: ["images/", ""] },
      "allowedPrefixes[1]",
      "must be a non-empty string",
    ],
    [
      "allowedPrefixes that is a string",
      { bucket: BUCKET, allowedPrefixes: "images/" },
      "allowedPrefixes",
      "must be an array of prefixes",
    ],
    ["an unknown option", { bucket: BUCKET, bukket: BUCKET }, "bukket", "is not an option"],
  ])("rejects %s", (_name, options, path, message) => {
    // Act
    const error = configErrorOf(() => createKeyMapper(PRODUCT_IMAGE, options as never));

    // Assess
    expect(error.issues).toEqual([{ path, message }]);
    expect(error.message).toContain(`\`${path}\`: ${message}`);
  });

  it("lists every problem in one error", () => {
    // Act
    const error = configErrorOf(() =>
      createKeyMapper(["images/{productId", "static.png"], { allowedPrefixes: [], colour: "blue" } as never),
    );

    // Assess
    expect(error.issues.map((issue) => issue.path)).toEqual([
      "key[0]",
      "key[1]",
      "allowedPrefixes",
      "colour",
      "bucket",
    ]);
    expect(error.message.split("\n")).toHaveLength(6);
  });
});

describe("buildKeyMapper", () => {
  it("maps an item as createKeyMapper does", async () => {
    // Prepare
    const mapKeys = buildKeyMapper([PRODUCT_IMAGE, "thumbs/{productId}.jpg"], { bucket: BUCKET });
    const item = removedProduct({ keys: productKeys("p-9") });

    // Act
    const targets = await mapKeys(item);

    // Assess
    expect(targets).toStrictEqual([
      { bucket: BUCKET, key: "images/p-9.png" },
      { bucket: BUCKET, key: "thumbs/p-9.jpg" },
    ]);
  });

  it("does not validate: it builds a mapper from options that createKeyMapper refuses", async () => {
    // Prepare
    const options = { bucket: BUCKET, allowedPrefixes: [] };
    const item = removedProduct();

    // Act
    const mapKeys = buildKeyMapper(PRODUCT_IMAGE, options);
    const error = await mappingErrorOf(mapKeys(item), item);

    // Assess
    expect(error.message).toContain('the object key "images/p-1.png" is outside allowedPrefixes []');
    expect(configErrorOf(() => createKeyMapper(PRODUCT_IMAGE, options)).issues).toEqual([
      { path: "allowedPrefixes", message: "must hold at least one prefix (leave it out to allow every key)" },
    ]);
  });
});

/** Parsed REMOVE records of the products `ids`, one record each, in order. */
function removedProducts(...ids: string[]): RemovedItem[] {
  const factory = createRecordFactory();
  const { removals } = parseStreamRecords(
    streamEvent(...ids.map((id) => factory.removeRecord({ keys: productKeys(id) }))),
  );
  expect(removals).toHaveLength(ids.length);
  return removals;
}

/** A key function whose calls the test finishes by hand, counting how many run at once. */
function gatedKeyFunction() {
  const state = { running: 0, maxRunning: 0, started: [] as string[] };
  const gates = new Map<string, Deferred<string>>();
  const keyFunction: KeyFunction = async (item) => {
    const id = String(item.keys.productId);
    const gate = deferred<string>();
    gates.set(id, gate);
    state.started.push(id);
    state.running++;
    state.maxRunning = Math.max(state.maxRunning, state.running);
    try {
      return await gate.promise;
    } finally {
      state.running--;
    }
  };
  const finish = async (id: string) => {
    gates.get(id)?.resolve(`images/${id}.png`);
    await settle();
  };
  const fail = async (id: string, reason: unknown) => {
    gates.get(id)?.reject(reason);
    await settle();
  };
  return { state, keyFunction, finish, fail };
}

describe("mapRemovals", () => {
  it("puts every removal in exactly one list: mapped with its targets, or invalid with its KeyMappingError", async () => {
    // Prepare
    const removals = removedProducts("p-0", "p-1", "p-2", "p-3", "p-4");
    const inner = createKeyMapper(
      (item) => {
        const id = String(item.keys.productId);
        if (id === "p-1") throw new Error("lookup failed");
        if (id === "p-3") return 42 as never;
        return [`images/${id}.png`, `thumbs/${id}.jpg`];
      },
      { bucket: BUCKET },
    );
    const rejections = new Map<number, unknown>();
    const mapKeys: KeyMapper = async (item) => {
      try {
        return await inner(item);
      } catch (error) {
        rejections.set(item.index, error);
        throw error;
      }
    };

    // Act
    const { mapped, invalid } = await mapRemovals(removals, mapKeys, {
      concurrency: 2,
      signal: new AbortController().signal,
    });

    // Assess
    const byIndex = <T extends { index: number }>(list: T[]) => [...list].sort((a, b) => a.index - b.index);
    const mappedInOrder = [...mapped].sort((a, b) => a.item.index - b.item.index);
    expect(mappedInOrder.map((entry) => removals.indexOf(entry.item))).toStrictEqual([0, 2, 4]);
    expect(mappedInOrder.map((entry) => entry.targets)).toStrictEqual(
      ["p-0", "p-2", "p-4"].map((id) => [
        { bucket: BUCKET, key: `images/${id}.png` },
        { bucket: BUCKET, key: `thumbs/${id}.jpg` },
      ]),
    );
    const invalidInOrder = byIndex(invalid);
    expect(invalidInOrder.map(({ error: _error, ...ref }) => ref)).toStrictEqual(
      [1, 3].map((index) => ({
        index,
        sequenceNumber: removals[index]?.sequenceNumber,
        eventId: removals[index]?.eventId,
        itemIdentifier: removals[index]?.itemIdentifier,
      })),
    );
    expect(invalidInOrder[0]?.error).toBe(rejections.get(1));
    expect(invalidInOrder[0]?.error).toBeInstanceOf(KeyMappingError);
    expect(invalidInOrder[0]?.error.message).toContain("the key function threw: lookup failed");
    expect(invalidInOrder[1]?.error).toBe(rejections.get(3));
    expect(invalidInOrder[1]?.error.message).toContain("the key function returned a number");
  });

  it("returns three empty lists for no removals, without calling the mapper", async () => {
    // Prepare
    let calls = 0;
    const mapKeys: KeyMapper = async () => {
      calls++;
      return [];
    };

    // Act
    const result = await mapRemovals([], mapKeys, { concurrency: 4, signal: new AbortController().signal });

    // Assess
    expect(result).toStrictEqual({ mapped: [], invalid: [], cutOff: [] });
    expect(calls).toBe(0);
  });

  it("keeps a removal whose mapping yields no objects as mapped, with no targets", async () => {
    // Prepare
    const removals = removedProducts("p-0");
    const mapKeys = createKeyMapper(() => null, { bucket: BUCKET });

    // Act
    const result = await mapRemovals(removals, mapKeys, { concurrency: 1, signal: new AbortController().signal });

    // Assess
    expect(result).toStrictEqual({ mapped: [{ item: removals[0], targets: [] }], invalid: [], cutOff: [] });
  });

  it.each([1, 2, 3])("runs at most %i mappings at once, starting the next as one finishes", async (concurrency) => {
    // Prepare
    const ids = ["p-0", "p-1", "p-2", "p-3", "p-4"];
    const removals = removedProducts(...ids);
    const { state, keyFunction, finish } = gatedKeyFunction();
    const mapKeys = createKeyMapper(keyFunction, { bucket: BUCKET });

    // Act
    const done = mapRemovals(removals, mapKeys, { concurrency, signal: new AbortController().signal });
    await settle();
    const startedAtFirst = [...state.started];
    await finish("p-0");
    const startedAfterOne = [...state.started];
    for (const id of ids.slice(1)) await finish(id);
    const { mapped, invalid } = await done;

    // Assess
    expect(startedAtFirst).toStrictEqual(ids.slice(0, concurrency));
    expect(startedAfterOne).toStrictEqual(ids.slice(0, concurrency + 1));
    expect(state.started).toStrictEqual(ids);
    expect(state.maxRunning).toBe(concurrency);
    expect(state.running).toBe(0);
    expect(mapped).toHaveLength(5);
    expect(invalid).toStrictEqual([]);
  });

  it("frees the slot of a mapping that fails, so that the next one starts", async () => {
    // Prepare
    const removals = removedProducts("p-0", "p-1", "p-2");
    const { state, keyFunction, finish, fail } = gatedKeyFunction();
    const mapKeys = createKeyMapper(keyFunction, { bucket: BUCKET });
    const failure = new Error("lookup failed");

    // Act
    const done = mapRemovals(removals, mapKeys, { concurrency: 1, signal: new AbortController().signal });
    await settle();
    const startedAtFirst = [...state.started];
    await fail("p-0", failure);
    const startedAfterFailure = [...state.started];
    await finish("p-1");
    await finish("p-2");
    const { mapped, invalid } = await done;

    // Assess
    expect(startedAtFirst).toStrictEqual(["p-0"]);
    expect(startedAfterFailure).toStrictEqual(["p-0", "p-1"]);
    expect(state.maxRunning).toBe(1);
    expect(mapped.map((entry) => entry.item.index)).toStrictEqual([1, 2]);
    expect(invalid).toHaveLength(1);
    expect(invalid[0]?.index).toBe(0);
    expect(invalid[0]?.error.cause).toBe(failure);
  });
});

describe("mapRemovals and the signal", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("passes the signal to the key function as its second argument", async () => {
    // Prepare
    const removals = removedProducts("p-0", "p-1");
    const contexts: KeyFunctionContext[] = [];
    const mapKeys = createKeyMapper(
      (item, context) => {
        contexts.push(context);
        return `images/${String(item.keys.productId)}.png`;
      },
      { bucket: BUCKET },
    );
    const { signal } = new AbortController();

    // Act
    const { mapped } = await mapRemovals(removals, mapKeys, { concurrency: 1, signal });

    // Assess
    expect(mapped).toHaveLength(2);
    expect(contexts).toStrictEqual([{ signal }, { signal }]);
    expect(contexts[0]?.signal).toBe(signal);
  });

  it("cuts off a key function that ignores the signal as soon as it fires, and starts no later record", async () => {
    // Prepare
    vi.useFakeTimers();
    const removals = removedProducts("p-0", "p-1", "p-2", "p-3");
    const started: string[] = [];
    const mapKeys = createKeyMapper(
      (item) => {
        const id = String(item.keys.productId);
        started.push(id);
        return id === "p-0" ? `images/${id}.png` : new Promise<never>(() => {});
      },
      { bucket: BUCKET },
    );
    // The mapping signal of a 2,500 ms budget with a 500 ms margin fires after 1,000 ms.
    const { mappingSignal, dispose } = invocationSignal({ getRemainingTimeInMillis: () => 2500 }, 500);
    let settled = false;
    const done = mapRemovals(removals, mapKeys, { concurrency: 2, signal: mappingSignal }).finally(() => {
      settled = true;
    });

    // Act
    await vi.advanceTimersByTimeAsync(999);
    const settledBefore = settled;
    await vi.advanceTimersByTimeAsync(1);
    const settledAtSignal = settled;
    const { mapped, invalid, cutOff } = await done;
    dispose();

    // Assess
    expect(settledBefore).toBe(false);
    expect(settledAtSignal).toBe(true);
    expect(mapped).toStrictEqual([{ item: removals[0], targets: [{ bucket: BUCKET, key: "images/p-0.png" }] }]);
    expect(invalid).toStrictEqual([]);
    expect(cutOff).toStrictEqual(removals.slice(1));
    expect(started).toStrictEqual(["p-0", "p-1", "p-2"]);
  });

  it("cuts off, not invalid, a key function that rejects because the signal fired", async () => {
    // Prepare
    const removals = removedProducts("p-0");
    const mapKeys = createKeyMapper(
      (_item, { signal }) =>
        new Promise<string>((_resolve, reject) => {
          signal.addEventListener("abort", () => reject(Object.assign(new Error("aborted"), { name: "AbortError" })));
        }),
      { bucket: BUCKET },
    );
    const controller = new AbortController();
    const done = mapRemovals(removals, mapKeys, { concurrency: 1, signal: controller.signal });
    await settle();

    // Act
    controller.abort(new Error("time is up"));
    const result = await done;

    // Assess
    expect(result).toStrictEqual({ mapped: [], invalid: [], cutOff: removals });
  });

  it("calls no key function when the signal has already fired, and cuts off every record", async () => {
    // Prepare
    const removals = removedProducts("p-0", "p-1");
    let calls = 0;
    const mapKeys = createKeyMapper(
      () => {
        calls++;
        return "a.png";
      },
      { bucket: BUCKET },
    );
    const controller = new AbortController();
    controller.abort(new Error("time was up before"));

    // Act
    const result = await mapRemovals(removals, mapKeys, { concurrency: 2, signal: controller.signal });

    // Assess
    expect(result).toStrictEqual({ mapped: [], invalid: [], cutOff: removals });
    expect(calls).toBe(0);
  });

  it("keeps a record invalid when its KeyMappingError came before the signal fired, however close", async () => {
    const outcomes: string[] = [];
    for (let turns = 0; turns < 12; turns++) {
      // Prepare: the key function fails, then the signal fires 0, 1, 2, ... microtask turns later
      const removals = removedProducts("p-0");
      const answer = deferred<string>();
      const inner = createKeyMapper(() => answer.promise, { bucket: BUCKET });
      let failed = false;
      const mapKeys: KeyMapper = (item, context) => {
        const mapping = inner(item, context);
        mapping.catch(() => {
          failed = true;
        });
        return mapping;
      };
      const controller = new AbortController();
      const done = mapRemovals(removals, mapKeys, { concurrency: 1, signal: controller.signal });
      await settle();

      // Act
      answer.reject(new Error("lookup failed"));
      for (let turn = 0; turn < turns; turn++) await Promise.resolve();
      const failedBeforeSignal = failed;
      controller.abort(new Error("time is up"));
      const { mapped, invalid, cutOff } = await done;

      // Assess: invalid exactly when its KeyMappingError came first, cut off otherwise
      expect(mapped).toStrictEqual([]);
      if (failedBeforeSignal) {
        expect(cutOff).toStrictEqual([]);
        expect(invalid).toHaveLength(1);
        expect(invalid[0]?.error).toBeInstanceOf(KeyMappingError);
        expect(invalid[0]?.error.message).toContain("the key function threw: lookup failed");
      } else {
        expect(cutOff).toStrictEqual(removals);
        expect(invalid).toStrictEqual([]);
      }
      outcomes.push(failedBeforeSignal ? "invalid" : "cut off");
    }

    // Assess: both orders were tried
    expect(outcomes).toContain("cut off");
    expect(outcomes).toContain("invalid");
  });

  it("maps templates in one synchronous pass whatever the signal: nothing is cut off", async () => {
    // Prepare
    const factory = createRecordFactory();
    const { removals } = parseStreamRecords(
      streamEvent(
        factory.removeRecord({ keys: productKeys("p-1") }),
        factory.removeRecord({ keys: { sku: { S: "no-product-id" } } }),
      ),
    );
    const mapKeys = createKeyMapper(PRODUCT_IMAGE, { bucket: BUCKET });
    const controller = new AbortController();
    controller.abort(new Error("time was up before"));

    // Act
    const { mapped, invalid, cutOff } = await mapRemovals(removals, mapKeys, {
      concurrency: 1,
      signal: controller.signal,
    });

    // Assess
    expect(mapped).toStrictEqual([{ item: removals[0], targets: [{ bucket: BUCKET, key: "images/p-1.png" }] }]);
    expect(invalid.map(({ index, error }) => [index, isKeyMappingError(error)])).toStrictEqual([[1, true]]);
    expect(cutOff).toStrictEqual([]);
  });
});

describe("compileTemplate", () => {
  it.each([
    ["images/{productId}.png", { literals: ["images/", ".png"], attributes: ["productId"] }],
    ["{tenant}{productId}", { literals: ["", "", ""], attributes: ["tenant", "productId"] }],
    ["{{raw}}/{productId}", { literals: ["{raw}/", ""], attributes: ["productId"] }],
    ["{{{productId}}}", { literals: ["{", "}"], attributes: ["productId"] }],
    ["a/{product id}/€", { literals: ["a/", "/€"], attributes: ["product id"] }],
  ])("compiles %j into literals and attributes", (template, expected: KeyTemplate) => {
    // Act
    const compiled = compileTemplate(template);

    // Assess
    expect(compiled).toEqual(expected);
  });

  it.each([
    ["a}b{c}", 'has an unmatched "}" at position 1 (write "}}" for a literal brace)'],
    ["{a}}", 'has an unmatched "}" at position 3 (write "}}" for a literal brace)'],
    ["{a}/{b", 'has an unclosed "{" at position 4 (write "{{" for a literal brace)'],
    ["x{}", "has an empty or malformed placeholder at position 1"],
    ["{a{b}", "has an empty or malformed placeholder at position 0"],
    ["plain", "has no {attribute} placeholder, so every record would delete the same object"],
    ["{{a}}", "has no {attribute} placeholder, so every record would delete the same object"],
    ["", "has no {attribute} placeholder, so every record would delete the same object"],
  ])("describes the problem of %j", (template, problem) => {
    // Act
    const compiled = compileTemplate(template);

    // Assess
    expect(compiled).toBe(problem);
  });
});

describe("renderTemplate", () => {
  it("puts each value between its literals", () => {
    // Prepare
    const template: KeyTemplate = { literals: ["t/", "/p/", ".png"], attributes: ["tenant", "productId"] };

    // Act
    const key = renderTemplate(template, ["acme", "p-1"]);

    // Assess
    expect(key).toBe("t/acme/p/p-1.png");
  });

  it("renders the literal text of any escaped template exactly (property)", () => {
    const text = fc.oneof(fc.string(), fc.string({ unit: fc.constantFrom("{", "}", "a", "/", "€") }));
    const attributeName = fc.string({ minLength: 1 }).filter((name) => !name.includes("{") && !name.includes("}"));
    const escapeBraces = (literal: string) => literal.replaceAll("{", "{{").replaceAll("}", "}}");
    // A head literal, then one or more (attribute name, following literal, value) triples.
    const parts = fc.tuple(text, fc.array(fc.tuple(attributeName, text, text), { minLength: 1, maxLength: 5 }));

    fc.assert(
      fc.property(parts, ([head, placeholders]) => {
        // Prepare
        const template =
          escapeBraces(head) + placeholders.map(([name, literal]) => `{${name}}${escapeBraces(literal)}`).join("");
        const values = placeholders.map(([, , value]) => value);

        // Act
        const compiled = compileTemplate(template);

        // Assess
        if (typeof compiled === "string") throw new Error(`${JSON.stringify(template)} ${compiled}`);
        expect(compiled.attributes).toEqual(placeholders.map(([name]) => name));
        expect(compiled.literals).toEqual([head, ...placeholders.map(([, literal]) => literal)]);
        expect(renderTemplate(compiled, values)).toBe(
          head + placeholders.map(([, literal, value]) => value + literal).join(""),
        );
      }),
    );
  });
});

describe("etagAttribute (conditional deletes)", () => {
  const ETAG = '"6805f2cfc46c0f04559748bb039d69a1"';
  const OTHER_ETAG = '"9b2cf535f27731c974343645a3985328"';
  /** A removed product whose OldImage stores its image's ETag in `imageEtag`. */
  const productWithEtag = (etag: AttributeMap[string] = { S: ETAG }, extra: AttributeMap = {}) =>
    removedProduct({ oldImage: { productId: { S: "p-1" }, imageEtag: etag, ...extra } });

  /** The KeyMappingError a mapping rejects with; checks that it names the item's record. */
  async function etagErrorOf(mapping: Promise<unknown>, item: RemovedItem): Promise<KeyMappingError> {
    const error = await mapping.then(
      () => {
        throw new Error("expected a KeyMappingError, but the mapping succeeded");
      },
      (reason: unknown) => reason,
    );
    expect(isKeyMappingError(error)).toBe(true);
    const mappingError = error as KeyMappingError;
    expect(mappingError.record.index).toBe(item.index);
    expect(mappingError.record.sequenceNumber).toBe(item.sequenceNumber);
    expect(mappingError.message).toContain(`SequenceNumber ${item.sequenceNumber}`);
    return mappingError;
  }

  describe("with a template", () => {
    it("gives the object the ETag the OldImage holds, exactly as stored, quotes included", async () => {
      // Prepare
      const mapKeys = createKeyMapper(PRODUCT_IMAGE, { bucket: BUCKET, etagAttribute: "imageEtag" });

      // Act
      const targets = await mapKeys(productWithEtag());

      // Assess
      expect(targets).toStrictEqual([{ bucket: BUCKET, key: "images/p-1.png", etag: ETAG }]);
    });

    it("reads the ETag from a NEW_AND_OLD_IMAGES record too", async () => {
      // Prepare
      const mapKeys = createKeyMapper(PRODUCT_IMAGE, { bucket: BUCKET, etagAttribute: "imageEtag" });
      const item = removedProduct({
        oldImage: { productId: { S: "p-1" }, imageEtag: { S: ETAG } },
        streamViewType: "NEW_AND_OLD_IMAGES",
      });

      // Act
      const targets = await mapKeys(item);

      // Assess
      expect(targets).toStrictEqual([{ bucket: BUCKET, key: "images/p-1.png", etag: ETAG }]);
    });

    it("gives the ETag to both copies when an array of templates renders one key twice: they are one object", async () => {
      // Prepare
      const mapKeys = createKeyMapper([PRODUCT_IMAGE, PRODUCT_IMAGE], { bucket: BUCKET, etagAttribute: "imageEtag" });

      // Act
      const targets = await mapKeys(productWithEtag());

      // Assess
      expect(targets).toStrictEqual([
        { bucket: BUCKET, key: "images/p-1.png", etag: ETAG },
        { bucket: BUCKET, key: "images/p-1.png", etag: ETAG },
      ]);
    });

    it("rejects a record that maps to several objects, naming the attribute: one attribute holds one ETag", async () => {
      // Prepare
      const mapKeys = createKeyMapper([PRODUCT_IMAGE, "thumbs/{productId}.webp"], {
        bucket: BUCKET,
        etagAttribute: "imageEtag",
      });
      const item = productWithEtag();

      // Act
      const error = await etagErrorOf(mapKeys(item), item);

      // Assess
      expect(error.attribute).toBe("imageEtag");
      expect(error.message).toContain("several objects without an etag");
      expect(error.message).toContain("etagAttribute `imageEtag`");
      expect(error.message).toContain("{ bucket, key, etag }");
      expect(error.message).not.toContain(ETAG);
    });

    it("maps as before, without etags, when etagAttribute is not set", async () => {
      // Prepare
      const mapKeys = createKeyMapper(PRODUCT_IMAGE, { bucket: BUCKET });

      // Act
      const targets = await mapKeys(productWithEtag());

      // Assess
      expect(targets).toStrictEqual([{ bucket: BUCKET, key: "images/p-1.png" }]);
    });
  });

  describe("with { attribute }", () => {
    it("gives the one key read from the attribute the ETag", async () => {
      // Prepare
      const mapKeys = createKeyMapper({ attribute: "imageKey" }, { bucket: BUCKET, etagAttribute: "imageEtag" });

      // Act
      const targets = await mapKeys(productWithEtag({ S: ETAG }, { imageKey: { S: "uploads/a.png" } }));

      // Assess
      expect(targets).toStrictEqual([{ bucket: BUCKET, key: "uploads/a.png", etag: ETAG }]);
    });

    it("rejects two keys read from an SS", async () => {
      // Prepare
      const mapKeys = createKeyMapper({ attribute: "imageKeys" }, { bucket: BUCKET, etagAttribute: "imageEtag" });
      const item = productWithEtag({ S: ETAG }, { imageKeys: { SS: ["uploads/a.png", "uploads/b.png"] } });

      // Act
      const error = await etagErrorOf(mapKeys(item), item);

      // Assess
      expect(error.attribute).toBe("imageEtag");
      expect(error.message).not.toContain("uploads/");
    });

    it("maps an item without keys to nothing, reading no ETag", async () => {
      // Prepare
      const mapKeys = createKeyMapper({ attribute: "imageKey" }, { bucket: BUCKET, etagAttribute: "imageEtag" });

      // Act
      const targets = await mapKeys(removedProduct({ oldImage: { productId: { S: "p-1" } } }));

      // Assess
      expect(targets).toStrictEqual([]);
    });
  });

  describe("a record whose ETag cannot be read is invalid, never deleted unconditionally", () => {
    it.each(["KEYS_ONLY", "NEW_IMAGE"] as const)(
      "rejects a REMOVE of a %s stream, which has no OldImage, naming dynamodb.OldImage and the stream types it needs",
      async (view) => {
        // Prepare
        const mapKeys = createKeyMapper(PRODUCT_IMAGE, { bucket: BUCKET, etagAttribute: "imageEtag" });
        const item = removedProduct({ streamViewType: view });

        // Act
        const error = await etagErrorOf(mapKeys(item), item);

        // Assess
        expect(error.attribute).toBe("imageEtag");
        expect(error.message).toContain("`dynamodb.OldImage` is missing");
        expect(error.message).toContain("etagAttribute `imageEtag`");
        expect(error.message).toContain("OLD_IMAGE or NEW_AND_OLD_IMAGES");
        expect(error.message).toContain(`(this record's StreamViewType is ${view})`);
      },
    );

    it("leaves the stream type out of the message when the record names none", async () => {
      // Prepare
      const mapKeys = createKeyMapper(PRODUCT_IMAGE, { bucket: BUCKET, etagAttribute: "imageEtag" });
      const record = createRecordFactory().removeRecord({ keys: productKeys("p-1") });
      delete (record.dynamodb as { StreamViewType?: string }).StreamViewType;
      const item = removedItem(record);

      // Act
      const error = await etagErrorOf(mapKeys(item), item);

      // Assess
      expect(error.message).toContain("the stream must be of type OLD_IMAGE or NEW_AND_OLD_IMAGES");
      expect(error.message).not.toContain("StreamViewType");
    });

    it("rejects an OldImage without the attribute, naming it", async () => {
      // Prepare
      const mapKeys = createKeyMapper(PRODUCT_IMAGE, { bucket: BUCKET, etagAttribute: "imageEtag" });
      const item = removedProduct({ oldImage: { productId: { S: "p-1" }, etag: { S: ETAG } } });

      // Act
      const error = await etagErrorOf(mapKeys(item), item);

      // Assess
      expect(error.attribute).toBe("imageEtag");
      expect(error.message).toContain("the OldImage has no attribute `imageEtag` (etagAttribute)");
      expect(error.message).toContain("store the ETag PutObject returns with the item");
    });

    it.each<[string, AttributeMap[string]]>([
      ["NULL", { NULL: true }],
      ["N", { N: "1234567890" }],
      ["B", { B: "MTIzNDU2Nzg5MA==" }],
      ["SS", { SS: ["1234567890"] }],
      ["L", { L: [{ S: "1234567890" }] }],
      ["M", { M: { etag: { S: "1234567890" } } }],
      ["BOOL", { BOOL: true }],
    ])("rejects an attribute of type %s, by its type only", async (type, value) => {
      // Prepare
      const mapKeys = createKeyMapper(PRODUCT_IMAGE, { bucket: BUCKET, etagAttribute: "imageEtag" });
      const item = productWithEtag(value);

      // Act
      const error = await etagErrorOf(mapKeys(item), item);

      // Assess
      expect(error.attribute).toBe("imageEtag");
      expect(error.message).toContain(
        `attribute \`imageEtag\` (etagAttribute) is of type ${type}; the ETag must be a string (S)`,
      );
      expect(error.message).not.toContain("1234567890");
      expect(error.message).not.toContain("MTIzNDU2Nzg5MA");
    });

    it("rejects an empty S", async () => {
      // Prepare
      const mapKeys = createKeyMapper(PRODUCT_IMAGE, { bucket: BUCKET, etagAttribute: "imageEtag" });
      const item = productWithEtag({ S: "" });

      // Act
      const error = await etagErrorOf(mapKeys(item), item);

      // Assess
      expect(error.attribute).toBe("imageEtag");
      expect(error.message).toContain("attribute `imageEtag` (etagAttribute) is empty");
    });

    it("rejects a malformed AttributeValue in a hand-built item, naming the attribute", async () => {
      // Prepare
      const mapKeys = buildKeyMapper(PRODUCT_IMAGE, { bucket: BUCKET, etagAttribute: "imageEtag" });
      const item = handBuiltItem(productKeys("p-1"), { imageEtag: { S: ETAG, N: "1" } as AttributeMap[string] });

      // Act
      const error = await etagErrorOf(mapKeys(item), item);

      // Assess
      expect(error.attribute).toBe("imageEtag");
      expect(error.message).toContain("attribute `imageEtag` ");
      expect(error.cause).toBeInstanceOf(AttributeProblem);
    });

    it("never puts the stored value in the message, whatever its type (property)", async () => {
      const secret = fc.string({ minLength: 1, maxLength: 20 }).map((text) => `secret-${text}`);
      const wrongTyped = fc.oneof(
        secret.map((text) => ({ N: text })),
        secret.map((text) => ({ B: text })),
        secret.map((text) => ({ SS: [text] })),
        secret.map((text) => ({ L: [{ S: text }] })),
        secret.map((text) => ({ M: { [text]: { S: text } } })),
      );
      const mapKeys = buildKeyMapper(PRODUCT_IMAGE, { bucket: BUCKET, etagAttribute: "imageEtag" });

      await fc.assert(
        fc.asyncProperty(wrongTyped, async (value) => {
          // Prepare
          const item = handBuiltItem(productKeys("p-1"), { imageEtag: value as AttributeMap[string] });

          // Act
          const error = await mapKeys(item).then(
            () => undefined,
            (reason: unknown) => reason as KeyMappingError,
          );

          // Assess
          expect(isKeyMappingError(error)).toBe(true);
          expect(error?.message).not.toContain("secret-");
        }),
      );
    });
  });

  describe("with a key function", () => {
    it("keeps an etag the function returns, for any number of objects, without reading the attribute", async () => {
      // Prepare
      const returned: ObjectTarget[] = [
        { bucket: BUCKET, key: "images/p-1.png", etag: ETAG },
        { bucket: "archive", key: "images/p-1.zip", versionId: "v1", etag: OTHER_ETAG },
      ];
      const mapKeys = createKeyMapper(() => returned.map((target) => ({ ...target })), {
        bucket: BUCKET,
        allowedBuckets: [ARCHIVE],
        etagAttribute: "imageEtag",
      });

      // Act
      const targets = await mapKeys(removedProduct());

      // Assess
      expect(targets).toStrictEqual(returned);
    });

    it("gives the attribute's ETag to the one object without an etag of its own", async () => {
      // Prepare
      const mapKeys = createKeyMapper(
        () => [{ bucket: BUCKET, key: "thumbs/p-1.webp", etag: OTHER_ETAG }, "images/p-1.png"],
        { bucket: BUCKET, etagAttribute: "imageEtag" },
      );

      // Act
      const targets = await mapKeys(productWithEtag());

      // Assess
      expect(targets).toStrictEqual([
        { bucket: BUCKET, key: "thumbs/p-1.webp", etag: OTHER_ETAG },
        { bucket: BUCKET, key: "images/p-1.png", etag: ETAG },
      ]);
    });

    it("rejects two objects without an etag of their own, even next to one that has one", async () => {
      // Prepare
      const mapKeys = createKeyMapper(
        () => [{ bucket: BUCKET, key: "thumbs/p-1.webp", etag: OTHER_ETAG }, "images/p-1.png", "images/p-1.jpg"],
        { bucket: BUCKET, etagAttribute: "imageEtag" },
      );
      const item = productWithEtag();

      // Act
      const error = await etagErrorOf(mapKeys(item), item);

      // Assess
      expect(error.attribute).toBe("imageEtag");
      expect(error.message).toContain("several objects without an etag");
    });

    it("treats one key in two buckets, or with two versionIds, as two objects", async () => {
      // Prepare
      const twoBuckets = createKeyMapper(
        () => [
          { bucket: BUCKET, key: "images/p-1.png" },
          { bucket: "archive", key: "images/p-1.png" },
        ],
        { bucket: BUCKET, allowedBuckets: [ARCHIVE], etagAttribute: "imageEtag" },
      );
      const twoVersions = createKeyMapper(
        () => [
          { bucket: BUCKET, key: "images/p-1.png", versionId: "v1" },
          { bucket: BUCKET, key: "images/p-1.png", versionId: "v2" },
        ],
        { bucket: BUCKET, etagAttribute: "imageEtag" },
      );
      const item = productWithEtag();

      // Act
      const errors = [await etagErrorOf(twoBuckets(item), item), await etagErrorOf(twoVersions(item), item)];

      // Assess
      for (const error of errors) expect(error.message).toContain("several objects without an etag");
    });

    it("never gives a prefix target an etag, and reads no ETag when the record maps only to prefixes", async () => {
      // Prepare
      const options = { bucket: BUCKET, allowedPrefixes: ["products/"], etagAttribute: "imageEtag" };
      const mixed = createKeyMapper(() => [{ bucket: BUCKET, prefix: "products/p-1/" }, "products/p-1.json"], options);
      const prefixesOnly = createKeyMapper(() => ({ bucket: BUCKET, prefix: "products/p-1/" }), options);

      // Act
      const mixedTargets = await mixed(productWithEtag());
      const prefixTargets = await prefixesOnly(removedProduct());

      // Assess
      expect(mixedTargets).toStrictEqual([
        { bucket: BUCKET, prefix: "products/p-1/" },
        { bucket: BUCKET, key: "products/p-1.json", etag: ETAG },
      ]);
      expect(prefixTargets).toStrictEqual([{ bucket: BUCKET, prefix: "products/p-1/" }]);
    });

    it("reads no ETag when the function returns nothing, even on a KEYS_ONLY stream", async () => {
      // Prepare
      const mapKeys = createKeyMapper(() => null, { bucket: BUCKET, etagAttribute: "imageEtag" });

      // Act
      const targets = await mapKeys(removedProduct());

      // Assess
      expect(targets).toStrictEqual([]);
    });

    it.each([
      ["an empty string", "", "an empty string"],
      ["a number", 42, "a number"],
      ["null", null, "null"],
      ["an object", { value: "secret-etag" }, "an object with keys [value]"],
    ])("rejects an etag that is %s, with or without etagAttribute, by its shape only", async (_, etag, shape) => {
      // Prepare
      const returned = () => ({ bucket: BUCKET, key: "images/p-1.png", etag }) as unknown as ObjectTarget;
      const mappers = [
        createKeyMapper(returned, { bucket: BUCKET }),
        createKeyMapper(returned, { bucket: BUCKET, etagAttribute: "imageEtag" }),
      ];
      const item = productWithEtag();

      for (const mapKeys of mappers) {
        // Act
        const error = await etagErrorOf(mapKeys(item), item);

        // Assess
        expect(error.key).toBe("images/p-1.png");
        expect(error.message).toContain(
          `the key function returned an object whose \`etag\` is ${shape}; \`etag\` must be a non-empty string, the object's ETag`,
        );
        expect(error.message).not.toContain("secret-etag");
      }
    });
  });

  describe("configuration", () => {
    it.each([
      ["an empty string", ""],
      ["a number", 42],
      ["null", null],
    ])("refuses etagAttribute as %s, naming the option", (_, etagAttribute) => {
      // Act
      const error = configErrorOf(() => createKeyMapper(PRODUCT_IMAGE, { bucket: BUCKET, etagAttribute } as never));

      // Assess
      expect(error.issues).toStrictEqual([{ path: "etagAttribute", message: "must be a non-empty string" }]);
      expect(error.message).toContain("`etagAttribute`: must be a non-empty string");
    });

    it("accepts etagAttribute left out or undefined", () => {
      // Act
      const mappers = [
        createKeyMapper(PRODUCT_IMAGE, { bucket: BUCKET }),
        createKeyMapper(PRODUCT_IMAGE, { bucket: BUCKET, etagAttribute: undefined }),
      ];

      // Assess
      for (const mapKeys of mappers) expect(typeof mapKeys).toBe("function");
    });
  });
});
