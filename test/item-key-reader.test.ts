import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  functionKeyReader,
  type ItemKeyOf,
  type ItemKeyRead,
  type ItemKeyReader,
  templateKeyReader,
} from "../src/item-key-reader.js";
import { canonicalNumber, type KeySchemaAttribute } from "../src/key-template-inversion.js";
import { propertyRuns } from "./property-runs.js";

const S = (name: string): KeySchemaAttribute => ({ name, type: "S" });
const N = (name: string): KeySchemaAttribute => ({ name, type: "N" });
const B = (name: string): KeySchemaAttribute => ({ name, type: "B" });

/** A template reader, failing the test when the templates cannot be read backwards. */
function reader(templates: readonly string[], keySchema: readonly KeySchemaAttribute[]): ItemKeyReader {
  const result = templateKeyReader(templates, keySchema);
  if (typeof result !== "function") throw new Error(`not invertible: ${result.message}`);
  return result;
}

/** What `itemKeyOf` answers, given whole (the reader's checks are about answers its type forbids). */
const answering =
  (answer: unknown): ItemKeyOf =>
  () =>
    answer as ReturnType<ItemKeyOf>;

const reasonOf = (read: ItemKeyRead): string => (read.kind === "unrelated" ? read.reason : read.kind);

describe("templateKeyReader", () => {
  it("reads an object key through one template", () => {
    const read = reader(["images/{productId}.png"], [N("productId")]);

    expect(read("images/42.png")).toStrictEqual({ kind: "item", key: { productId: { N: "42" } } });
  });

  it("returns why the first template that cannot be read backwards cannot be", () => {
    const result = templateKeyReader(["images/{productId}.png", "{tenant}/{productId}", "{broken"], [S("productId")]);

    expect(result).toMatchObject({ kind: "non-key-placeholder", attributes: ["tenant"] });
  });

  it("returns a malformed template's problem", () => {
    expect(templateKeyReader(["images/{productId}.png", "{broken"], [S("productId")])).toMatchObject({
      kind: "malformed-template",
    });
  });

  it("reads an object key through the one template of several that matches it", () => {
    const read = reader(["images/{productId}.png", "thumbs/{productId}.webp"], [S("productId")]);

    expect(read("images/p-1.png")).toStrictEqual({ kind: "item", key: { productId: { S: "p-1" } } });
    expect(read("thumbs/p-2.webp")).toStrictEqual({ kind: "item", key: { productId: { S: "p-2" } } });
  });

  it("reads an object key when every template that reads it gives the same item key", () => {
    const read = reader(["{a}/{b}.png", "{a}/{b}.{b}"], [S("a"), S("b")]);

    expect(read("p/png.png")).toStrictEqual({ kind: "item", key: { a: { S: "p" }, b: { S: "png" } } });
  });

  it("takes two templates that give the same item key with its attributes in another order for one item", () => {
    const read = reader(["x/{a}/{b}", "x/{b}/{a}"], [S("a"), S("b")]);

    expect(read("x/1/1")).toMatchObject({ kind: "item", key: { a: { S: "1" }, b: { S: "1" } } });
    expect(reasonOf(read("x/1/2"))).toBe("ambiguous");
  });

  it("calls an object key that two templates read as two different items unrelated (ambiguous)", () => {
    const read = reader(["files/{id}.png", "files/{id}"], [S("id")]);

    expect(read("files/x.png")).toStrictEqual({
      kind: "unrelated",
      reason: "ambiguous",
      message: "`files/x.png` reads as two different item keys through two templates",
    });
    expect(read("files/x.gif")).toStrictEqual({ kind: "item", key: { id: { S: "x.gif" } } });
  });

  it("reads an object key through the template that reads it when another calls it unrelated", () => {
    const read = reader(["files/{id}", "files/{id}.bin"], [N("id")]);

    expect(read("files/42.bin")).toStrictEqual({ kind: "item", key: { id: { N: "42" } } });
  });

  it("keeps the first reason other than no-match when no template reads the object key", () => {
    const read = reader(["other/{id}.png", "images/{id}.png", "images/{id}"], [N("id")]);

    // The first template does not match at all; the second renders 7, the third is no number.
    expect(read("images/007.png")).toStrictEqual({
      kind: "unrelated",
      reason: "renders-differently",
      message: expect.stringContaining("which DynamoDB stores as `7`"),
    });
  });

  it("keeps no-match when no template matches the object key's literal text", () => {
    const read = reader(["images/{id}.png", "thumbs/{id}.png"], [S("id")]);

    expect(read("other/x.png")).toStrictEqual({
      kind: "unrelated",
      reason: "no-match",
      message: "`other/x.png` does not match the template's literal text",
    });
  });
});

describe("functionKeyReader", () => {
  const product = [S("productId")];

  it("converts the answer into an item key in DynamoDB JSON", () => {
    const read = functionKeyReader(
      (key) => ({ userId: key.split("/")[0] as string, photoId: 7 }),
      [S("userId"), N("photoId")],
    );

    expect(read("u-1/7.jpg")).toStrictEqual({ kind: "item", key: { userId: { S: "u-1" }, photoId: { N: "7" } } });
  });

  it("passes the object key to itemKeyOf", () => {
    const keys: string[] = [];
    const read = functionKeyReader((key) => {
      keys.push(key);
      return { productId: "p" };
    }, product);

    read("images/p.png");

    expect(keys).toStrictEqual(["images/p.png"]);
  });

  it.each([
    ["undefined", undefined],
    ["null", null],
  ])("calls an object key unrelated (no-match) when itemKeyOf answers %s", (_case, answer) => {
    expect(functionKeyReader(answering(answer), product)("images/readme.txt")).toStrictEqual({
      kind: "unrelated",
      reason: "no-match",
      message: "`itemKeyOf` gave no item key for `images/readme.txt`",
    });
  });

  it("calls an object key unchecked when itemKeyOf throws, naming the object key and the error", () => {
    const read = functionKeyReader(() => {
      throw new RangeError("no product in this key");
    }, product);

    expect(read("images/x.png")).toStrictEqual({
      kind: "unchecked",
      message: "`itemKeyOf` threw for `images/x.png`: no product in this key",
    });
  });

  it.each([
    [
      "a getter that throws",
      {
        get productId(): string {
          throw new Error("parsed lazily, and failed");
        },
      },
      "parsed lazily, and failed",
    ],
    [
      "a revoked proxy",
      (() => {
        const { proxy, revoke } = Proxy.revocable({ productId: "p-1" }, {});
        revoke();
        return proxy;
      })(),
      "revoked",
    ],
  ])("calls an object key unchecked when itemKeyOf's answer throws as it is read (%s)", (_case, answer, text) => {
    expect(functionKeyReader(answering(answer), product)("images/x.png")).toStrictEqual({
      kind: "unchecked",
      message: expect.stringMatching(new RegExp(`^\`itemKeyOf\` threw for \`images/x.png\`: .*${text}`)),
    });
  });

  it("says what itemKeyOf threw when it threw something other than an Error", () => {
    const read = functionKeyReader(() => {
      throw "a string";
    }, product);

    expect(read("images/x.png")).toMatchObject({ kind: "unchecked", message: expect.stringContaining("a string") });
  });

  it.each([
    ["a string", "p-1"],
    ["a number", 42],
    ["an array", ["p-1"]],
  ])("calls an object key unchecked when itemKeyOf answers %s", (_case, answer) => {
    expect(functionKeyReader(answering(answer), product)("images/p-1.png")).toStrictEqual({
      kind: "unchecked",
      message: "`itemKeyOf` gave `images/p-1.png` something other than an object",
    });
  });

  it("calls an object key unchecked when the answer holds an attribute outside the table's key", () => {
    const read = functionKeyReader(answering({ productId: "p-1", size: "large" }), product);

    expect(read("images/p-1.png")).toStrictEqual({
      kind: "unchecked",
      message: "`itemKeyOf` gave `images/p-1.png` attribute `size`, which is not in the table's key",
    });
  });

  it("calls an object key unchecked when the answer lacks an attribute of the table's key", () => {
    const read = functionKeyReader(answering({ userId: "u-1" }), [S("userId"), N("photoId")]);

    expect(read("u-1/7.jpg")).toStrictEqual({
      kind: "unchecked",
      message: "`itemKeyOf` gave `u-1/7.jpg` no `photoId`, which is in the table's key",
    });
  });

  it("calls an attribute given as undefined missing", () => {
    const read = functionKeyReader(answering({ productId: undefined }), product);

    expect(read("k")).toMatchObject({ kind: "unchecked", message: expect.stringContaining("no `productId`") });
  });

  it("keeps a key attribute named __proto__ an own property of the item key", () => {
    const answer = JSON.parse('{"__proto__": "p-1"}') as Record<string, string>;
    const read = functionKeyReader(answering(answer), [S("__proto__")]);

    const result = read("k");

    expect(result.kind === "item" && Object.keys(result.key)).toStrictEqual(["__proto__"]);
    expect(result.kind === "item" && Object.getOwnPropertyDescriptor(result.key, "__proto__")?.value).toStrictEqual({
      S: "p-1",
    });
    expect(result.kind === "item" && Object.getPrototypeOf(result.key)).toBe(Object.prototype);
  });

  describe("an S attribute", () => {
    it("takes a non-empty string as it is", () => {
      expect(functionKeyReader(answering({ productId: " 007 " }), product)("k")).toStrictEqual({
        kind: "item",
        key: { productId: { S: " 007 " } },
      });
    });

    it.each([
      ["an empty string", ""],
      ["a number", 7],
      ["a bigint", 7n],
      ["bytes", new Uint8Array([1])],
      ["null", null],
    ])("is unchecked when given %s", (_case, value) => {
      expect(functionKeyReader(answering({ productId: value }), product)("images/k.png")).toStrictEqual({
        kind: "unchecked",
        message: "`itemKeyOf` gave `images/k.png` a `productId` that is not a non-empty string (the key's type is S)",
      });
    });
  });

  describe("an N attribute", () => {
    const numbered = [N("id")];
    const read = (value: unknown) => functionKeyReader(answering({ id: value }), numbered)("k");

    it.each([
      ["a number", 42, "42"],
      ["a negative fraction", -12.5, "-12.5"],
      ["negative zero", -0, "0"],
      ["1e21, which JavaScript writes with an exponent", 1e21, "1000000000000000000000"],
      ["a small number JavaScript writes with an exponent", 1.5e-7, "0.00000015"],
      ["a bigint", 12345678901234567890123456789n, "12345678901234567890123456789"],
      ["a negative bigint", -5n, "-5"],
      ["a string in DynamoDB's number syntax", "1.50", "1.5"],
      ["a string with leading zeros", "007", "7"],
      ["a string with an exponent", "1e2", "100"],
    ])("takes %s, as DynamoDB stores it", (_case, value, stored) => {
      expect(read(value)).toStrictEqual({ kind: "item", key: { id: { N: stored } } });
    });

    it.each([
      ["NaN", Number.NaN],
      ["Infinity", Number.POSITIVE_INFINITY],
      ["-Infinity", Number.NEGATIVE_INFINITY],
      ["a bigint of 39 significant digits", 10n ** 39n - 1n],
      ["a string that is no number", "seven"],
      ["an empty string", ""],
      ["a number beyond DynamoDB's range", "1e126"],
      ["a boolean", true],
      ["bytes", new Uint8Array([7])],
    ])("is unchecked when given %s", (_case, value) => {
      expect(read(value)).toStrictEqual({
        kind: "unchecked",
        message: "`itemKeyOf` gave `k` a `id` that is not a number DynamoDB can store (the key's type is N)",
      });
    });
  });

  describe("a B attribute", () => {
    const hashed = [B("hash")];
    const read = (value: unknown) => functionKeyReader(answering({ hash: value }), hashed)("k");

    it("takes bytes, as base64", () => {
      expect(read(new Uint8Array([0xfb, 0xff, 0x00]))).toStrictEqual({ kind: "item", key: { hash: { B: "+/8A" } } });
    });

    it("takes only the bytes a Uint8Array views of its buffer", () => {
      const view = new Uint8Array(new Uint8Array([9, 1, 2, 9]).buffer, 1, 2);

      expect(read(view)).toStrictEqual({ kind: "item", key: { hash: { B: "AQI=" } } });
    });

    it("takes a Buffer, which is a Uint8Array", () => {
      expect(read(Buffer.from("hi"))).toStrictEqual({ kind: "item", key: { hash: { B: "aGk=" } } });
    });

    it.each([
      ["empty bytes", new Uint8Array()],
      ["a base64 string", "aGk="],
      ["an array of numbers", [104, 105]],
    ])("is unchecked when given %s", (_case, value) => {
      expect(read(value)).toStrictEqual({
        kind: "unchecked",
        message: "`itemKeyOf` gave `k` a `hash` that is not non-empty bytes, a Uint8Array (the key's type is B)",
      });
    });
  });

  it("returns for any answer without throwing, and an item key holds exactly the schema's attributes, each of its type", () => {
    const names = ["id", "sort", "size", "__proto__", "constructor"];
    const schema = fc
      .uniqueArray(fc.record({ name: fc.constantFrom(...names), type: fc.constantFrom("S", "N", "B") }), {
        selector: (attribute) => attribute.name,
        minLength: 1,
        maxLength: 2,
      })
      .map((attributes) => attributes as KeySchemaAttribute[]);
    const value = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 4 }),
      fc.constantFrom("007", "1e2", "-0", "1.50", "", " 1", "1e200"),
      fc.double(),
      fc.integer(),
      fc.bigInt(),
      fc.uint8Array({ maxLength: 3 }),
      fc.constantFrom(undefined, null, true, [], {}),
    );
    // Mostly the schema's own attributes, so that many answers are items; fromEntries, so that
    // `__proto__` is an own property, as JSON.parse makes it.
    const answerFor = (keySchema: readonly KeySchemaAttribute[]) =>
      fc.oneof(
        {
          weight: 4,
          arbitrary: fc
            .uniqueArray(
              fc.tuple(
                fc.oneof(
                  { weight: 4, arbitrary: fc.constantFrom(...keySchema.map((attribute) => attribute.name)) },
                  fc.constantFrom(...names),
                ),
                value,
              ),
              { selector: ([name]) => name, maxLength: 3 },
            )
            .map((entries) => Object.fromEntries(entries)),
        },
        value,
        fc.constant("throw" as const),
      );
    fc.assert(
      fc.property(
        schema.chain((keySchema) => fc.tuple(fc.constant(keySchema), answerFor(keySchema))),
        ([keySchema, given]) => {
          const read = functionKeyReader(() => {
            if (given === "throw") throw new Error("cannot read it");
            return given as ReturnType<ItemKeyOf>;
          }, keySchema);

          const result = read("some/object key");

          if (result.kind !== "item") {
            expect(result.message).toContain("`some/object key`");
            return;
          }
          expect(Object.keys(result.key).sort()).toStrictEqual(keySchema.map((attribute) => attribute.name).sort());
          expect(Object.getPrototypeOf(result.key)).toBe(Object.prototype);
          for (const { name, type } of keySchema) {
            const stored = Object.getOwnPropertyDescriptor(result.key, name)?.value as Record<string, string>;
            const original = Object.getOwnPropertyDescriptor(given, name)?.value as unknown;
            expect(Object.keys(stored)).toStrictEqual([type]);
            const text = stored[type] as string;
            expect(text).not.toBe("");
            if (type === "S") expect(text).toBe(original);
            if (type === "N") expect(text).toBe(canonicalNumber(String(original)));
            if (type === "B") expect(Buffer.from(text, "base64")).toStrictEqual(Buffer.from(original as Uint8Array));
          }
        },
      ),
      { numRuns: propertyRuns(500) },
    );
  });
});
