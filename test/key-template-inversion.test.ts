import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createKeyMapper } from "../src/key-mapper.js";
import { compileTemplate, type KeyTemplate, renderTemplate } from "../src/key-template.js";
import {
  canonicalNumber,
  createKeyInverter,
  type KeyInverter,
  type KeySchemaAttribute,
  type ObjectKeyParse,
  templatePrefix,
} from "../src/key-template-inversion.js";
import { parseStreamRecords } from "../src/parse-stream-records.js";
import type { AttributeMap } from "../src/types.js";
import { createRecordFactory } from "./factories.js";
import { propertyRuns } from "./property-runs.js";

const S = (name: string): KeySchemaAttribute => ({ name, type: "S" });
const N = (name: string): KeySchemaAttribute => ({ name, type: "N" });
const B = (name: string): KeySchemaAttribute => ({ name, type: "B" });

function inverter(template: string, keySchema: readonly KeySchemaAttribute[]): KeyInverter {
  const result = createKeyInverter(template, keySchema);
  if (typeof result !== "function") throw new Error(`not invertible: ${result.message}`);
  return result;
}

function reasonOf(parse: ObjectKeyParse): string {
  return parse.kind === "item" ? "item" : parse.reason;
}

/** The object key the handler renders for an item with these keys, through the real mapper. */
async function handlerKey(template: string, keys: AttributeMap): Promise<string> {
  const record = createRecordFactory().removeRecord({ keys });
  const [item] = parseStreamRecords({ Records: [record] }).removals;
  if (item === undefined) throw new Error("the record is not a valid removal");
  const [target] = await createKeyMapper(template, { bucket: "product-images" })(item);
  return (target as { key: string }).key;
}

describe("createKeyInverter", () => {
  it("returns an inverter for a template over exactly the key attributes", () => {
    expect(typeof createKeyInverter("images/{productId}.png", [S("productId")])).toBe("function");
  });

  it("names a placeholder that is not a key attribute", () => {
    expect(createKeyInverter("{tenantId}/{fileName}", [S("tenantId")])).toEqual({
      kind: "non-key-placeholder",
      attributes: ["fileName"],
      message: expect.stringMatching(/`fileName`, which is not a key attribute \(the key is `tenantId`\).*itemKeyOf/),
    });
  });

  it("names every placeholder outside the key, and every key attribute, in its message", () => {
    expect(createKeyInverter("{tenantId}/{fileName}.{ext}", [S("tenantId"), S("uploadId")])).toEqual({
      kind: "non-key-placeholder",
      attributes: ["fileName", "ext"],
      message:
        'The key template uses `fileName`, `ext`, which are not key attributes (the key is `tenantId`, `uploadId`): an object key does not give the item key, so reconcile needs `itemKeyOf` or `mode: "scan"` (the command\'s --scan)',
    });
  });

  it("names a key attribute the template lacks", () => {
    expect(createKeyInverter("{userId}.jpg", [S("userId"), S("photoId")])).toEqual({
      kind: "missing-key-attribute",
      attributes: ["photoId"],
      message: expect.stringContaining("`photoId`"),
    });
  });

  it("refuses a B placeholder, which the handler never renders", () => {
    expect(createKeyInverter("blobs/{hash}", [B("hash")])).toEqual({
      kind: "binary-placeholder",
      attributes: ["hash"],
      message: expect.stringContaining("`hash`, of type B"),
    });
  });

  it("passes on a malformed template's problem", () => {
    expect(createKeyInverter("images/{productId.png", [S("productId")])).toEqual({
      kind: "malformed-template",
      attributes: [],
      message: expect.stringContaining('unclosed "{"'),
    });
  });
});

describe("templatePrefix", () => {
  it("returns the text before the first placeholder", () => {
    expect(templatePrefix("images/{productId}.png")).toBe("images/");
  });

  it("returns an empty prefix for a template that starts with a placeholder", () => {
    expect(templatePrefix("{userId}/{photoId}.jpg")).toBe("");
  });

  it("unescapes literal braces", () => {
    expect(templatePrefix("{{raw}}/{id}")).toBe("{raw}/");
  });

  it("returns undefined for a malformed template", () => {
    expect(templatePrefix("images/{")).toBeUndefined();
  });
});

describe("canonicalNumber", () => {
  it.each([
    ["42", "42"],
    ["007", "7"],
    ["1.50", "1.5"],
    ["-0", "0"],
    ["0.000", "0"],
    ["-0.50", "-0.5"],
    [".5", "0.5"],
    ["5.", "5"],
    ["1e2", "100"],
    ["1E+2", "100"],
    ["1.5e-3", "0.0015"],
    ["12.5e1", "125"],
    ["1E+125", `1${"0".repeat(125)}`],
    ["1E-130", `0.${"0".repeat(129)}1`],
    ["1E+50", `1${"0".repeat(50)}`],
  ])("writes %s as DynamoDB stores it, %s", (text, canonical) => {
    expect(canonicalNumber(text)).toBe(canonical);
  });

  it.each([
    ["", "empty"],
    ["-", "a sign alone"],
    [".", "a point alone"],
    ["+5", "a plus sign"],
    ["1e", "an exponent without digits"],
    ["0x10", "hexadecimal"],
    [" 1", "a space"],
    ["1E+126", "above DynamoDB's range"],
    ["1E-131", "below DynamoDB's range"],
    ["1e99999999999", "an exponent beyond any range"],
    ["1".repeat(39), "39 significant digits"],
  ])("refuses %j (%s)", (text) => {
    expect(canonicalNumber(text)).toBeUndefined();
  });

  it("keeps every canonical text as it is, and the value of the number", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (number) => {
        const canonical = canonicalNumber(String(number));
        if (canonical === undefined) return;
        expect(canonicalNumber(canonical)).toBe(canonical);
        expect(Number(canonical)).toBe(number === 0 ? 0 : number);
      }),
      { numRuns: propertyRuns(500) },
    );
  });

  it("accepts 38 significant digits, and zero with any exponent", () => {
    expect(canonicalNumber("1".repeat(38))).toBe("1".repeat(38));
    expect(canonicalNumber("0e99999999999")).toBe("0");
  });
});

describe("a key inverter", () => {
  const product = inverter("images/{productId}.png", [S("productId")]);
  const numbered = inverter("images/{productId}.png", [N("productId")]);

  it("reads an S key", () => {
    expect(product("images/p-1.png")).toEqual({ kind: "item", key: { productId: { S: "p-1" } } });
  });

  it("keeps an S value that contains the next literal, when only one split renders the key", () => {
    expect(product("images/a.png.png")).toEqual({ kind: "item", key: { productId: { S: "a.png" } } });
  });

  it("reads an N key", () => {
    expect(numbered("images/-12.5.png")).toEqual({ kind: "item", key: { productId: { N: "-12.5" } } });
  });

  it("reads hash and range keys", () => {
    const photos = inverter("{userId}/{photoId}.jpg", [S("userId"), N("photoId")]);
    expect(photos("u-1/7.jpg")).toEqual({ kind: "item", key: { userId: { S: "u-1" }, photoId: { N: "7" } } });
  });

  it("keeps a key attribute named __proto__ an own property", () => {
    const parse = inverter("{__proto__}.png", [S("__proto__")])("a.png");
    expect(parse.kind === "item" && Object.keys(parse.key)).toEqual(["__proto__"]);
    expect(parse.kind === "item" && Object.getPrototypeOf(parse.key)).toBe(Object.prototype);
  });

  it("matches literal braces", () => {
    const braced = inverter("{{x}}/{id}", [S("id")]);
    expect(braced("{x}/a")).toEqual({ kind: "item", key: { id: { S: "a" } } });
    expect(reasonOf(braced("{{x}}/a"))).toBe("no-match");
  });

  it.each([
    ["a prefix that differs", "other/p-1.png"],
    ["a suffix that differs", "images/readme.txt"],
    ["a key shorter than its literals", "images.png"],
  ])("calls a key with %s unrelated (no-match)", (_, key) => {
    expect(product(key)).toEqual({ kind: "unrelated", reason: "no-match", message: expect.stringContaining(key) });
  });

  it("calls a key with an empty value unrelated (empty-value)", () => {
    expect(product("images/.png")).toEqual({
      kind: "unrelated",
      reason: "empty-value",
      message: expect.stringContaining("`productId` empty"),
    });
  });

  it("calls a key that parses more than one way unrelated (ambiguous)", () => {
    const dashed = inverter("{a}-{b}", [S("a"), S("b")]);
    expect(dashed("x-y-z")).toEqual({
      kind: "unrelated",
      reason: "ambiguous",
      message: expect.stringContaining("a=`x`, b=`y-z`"),
    });
  });

  it("reads a key with a separator inside it when the types leave one split", () => {
    const dashed = inverter("{a}-{b}", [N("a"), S("b")]);
    expect(dashed("-1-y-z")).toEqual({ kind: "item", key: { a: { N: "-1" }, b: { S: "y-z" } } });
  });

  it.each(["images/abc.png", "images/1e2x.png", "images/1.2.3.png", "images/--1.png"])(
    "calls %s unrelated for an N key (invalid-number)",
    (key) => {
      expect(numbered(key)).toEqual({
        kind: "unrelated",
        reason: "invalid-number",
        message: expect.stringContaining("`productId` (N)"),
      });
    },
  );

  it("calls a number DynamoDB cannot store unrelated (invalid-number)", () => {
    expect(reasonOf(numbered(`images/${"1".repeat(39)}.png`))).toBe("invalid-number");
  });

  it.each([
    ["images/007.png", "7"],
    ["images/1.50.png", "1.5"],
    ["images/-0.png", "0"],
    ["images/1e2.png", "100"],
  ])("calls %s unrelated for an N key, which DynamoDB stores as %s (renders-differently)", (key, canonical) => {
    expect(numbered(key)).toEqual({
      kind: "unrelated",
      reason: "renders-differently",
      message: expect.stringContaining(
        `stores as \`${canonical}\`: that item's object would be \`images/${canonical}.png\``,
      ),
    });
  });

  it.each([
    [`1${"0".repeat(125)}`, "item"],
    [`1${"0".repeat(126)}`, "invalid-number"],
    [`1${"0".repeat(126)}.5`, "invalid-number"],
    [`0.${"0".repeat(129)}1`, "item"],
    [`0.${"0".repeat(130)}1`, "invalid-number"],
    [`1.${"2".repeat(37)}`, "item"],
    [`1.${"2".repeat(38)}`, "invalid-number"],
    [`0.${"0".repeat(9)}${"3".repeat(38)}`, "item"],
    [`0.${"0".repeat(9)}${"3".repeat(39)}`, "invalid-number"],
    [`-${"9".repeat(38)}${"0".repeat(80)}`, "item"],
    [`${"9".repeat(39)}`, "invalid-number"],
  ])("reads N text at DynamoDB's limits as canonicalNumber does (%#: %s)", (text, reason) => {
    expect(reasonOf(numbered(`images/${text}.png`))).toBe(reason);
    expect(canonicalNumber(text) === text).toBe(reason === "item");
  });

  it("reads a repeated placeholder whose values agree", () => {
    const twice = inverter("{id}/{id}.png", [S("id")]);
    expect(twice("a/b/a/b.png")).toEqual({ kind: "item", key: { id: { S: "a/b" } } });
  });

  it("calls a repeated placeholder whose values differ unrelated (renders-differently)", () => {
    const twice = inverter("{id}/{id}.png", [S("id")]);
    expect(twice("a/b.png")).toEqual({
      kind: "unrelated",
      reason: "renders-differently",
      message: expect.stringContaining("two values, `a` and `b`"),
    });
  });

  describe("with adjacent placeholders", () => {
    const adjacent = inverter("{a}{b}", [S("a"), S("b")]);

    it("reads a key only one split renders", () => {
      expect(adjacent("xy")).toEqual({ kind: "item", key: { a: { S: "x" }, b: { S: "y" } } });
    });

    it("calls a key several splits render ambiguous", () => {
      expect(reasonOf(adjacent("xyz"))).toBe("ambiguous");
    });

    it("reads a key whose types leave one split", () => {
      const typed = inverter("{a}{b}", [S("a"), N("b")]);
      expect(typed("x0")).toEqual({ kind: "item", key: { a: { S: "x" }, b: { N: "0" } } });
      expect(reasonOf(typed("x10"))).toBe("ambiguous");
    });

    it("decides a long key of digits for five adjacent N placeholders", () => {
      const many = inverter("{a}{b}{c}{d}{e}x", [N("a"), N("b"), N("c"), N("d"), N("e")]);
      expect(reasonOf(many(`${"1".repeat(900)}y`))).toBe("no-match");
      expect(reasonOf(many(`${"1".repeat(900)}x`))).toBe("invalid-number");
    });

    it("gives up on a key with too many splits to decide (too-complex)", () => {
      const repeated = inverter("{a}{b}{c}{a}z", [S("a"), S("b"), S("c")]);
      expect(repeated(`${"x".repeat(1000)}wz`)).toEqual({
        kind: "unrelated",
        reason: "too-complex",
        message: expect.stringContaining("too many ways"),
      });
    });
  });

  it("gives up on no key that one split makes ambiguous early, however many splits it has", () => {
    const around = inverter("{a}{b}{a}", [S("a"), S("b")]);
    expect(reasonOf(around("x".repeat(1000)))).toBe("ambiguous");
  });

  it("never splits a character written as a surrogate pair", () => {
    const adjacent = inverter("{a}{b}", [S("a"), S("b")]);
    expect(adjacent("x\u{1F600}")).toEqual({ kind: "item", key: { a: { S: "x" }, b: { S: "\u{1F600}" } } });
    expect(reasonOf(adjacent("\u{1F600}\u{1F600}"))).toBe("item");
  });

  it.each([
    ["U+10000, whose halves are the lowest surrogates", "\u{10000}"],
    ["U+10FFFF, whose halves are the highest surrogates", "\u{10FFFF}"],
  ])("never gives half of %s to each of two placeholders", (_, character) => {
    const adjacent = inverter("{a}{b}", [S("a"), S("b")]);
    expect(adjacent(character)).toEqual({
      kind: "unrelated",
      reason: "no-match",
      message: `\`${character}\` does not match the template's literal text`,
    });
    expect(adjacent(`${character}${character}`)).toEqual({
      kind: "item",
      key: { a: { S: character }, b: { S: character } },
    });
  });

  it("splits before a character above the surrogates", () => {
    const adjacent = inverter("{a}{b}", [S("a"), S("b")]);
    expect(adjacent("a\uFF01")).toEqual({ kind: "item", key: { a: { S: "a" }, b: { S: "\uFF01" } } });
  });

  it("calls a key whose literals overlap, shorter than both together, unrelated (no-match)", () => {
    for (const type of [S, N]) {
      expect(inverter("ab{x}ba", [type("x")])("aba")).toEqual({
        kind: "unrelated",
        reason: "no-match",
        message: "`aba` does not match the template's literal text",
      });
    }
    expect(inverter("1{x}1", [N("x")])("1")).toMatchObject({ reason: "no-match" });
  });

  it("names the object key a non-canonical N value would have, the other values kept", () => {
    const photos = inverter("{userId}/{photoId}.png", [S("userId"), N("photoId")]);
    expect(photos("u-1/007.png")).toEqual({
      kind: "unrelated",
      reason: "renders-differently",
      message:
        "`u-1/007.png` gives `photoId` (N) the value `007`, which DynamoDB stores as `7`: that item's object would be `u-1/7.png`",
    });
  });

  it("does not read a repeated last placeholder that leaves text after it", () => {
    const twice = inverter("{id}/{id}", [S("id")]);
    expect(twice("a/ab")).toEqual({
      kind: "unrelated",
      reason: "renders-differently",
      message: "`a/ab` gives `id` two values, `a` and `ab`",
    });
  });

  it("calls a key with a lone surrogate unrelated (no-match)", () => {
    expect(product("images/\uD800.png")).toEqual({
      kind: "unrelated",
      reason: "no-match",
      message: expect.stringContaining("not well-formed Unicode"),
    });
  });

  it("returns for any key without throwing, including lone surrogates and empty strings", () => {
    for (const key of ["", "\uD800", "images/\uDC00.png", "{", "}}"]) {
      expect(["item", "no-match", "empty-value"]).toContain(reasonOf(product(key)));
    }
  });
});

const NAMES = ["a", "b", "c"] as const;

/** A template over one to three key attributes, with literals that may be empty, repeat, or hold braces. */
const templates = fc
  .record({
    types: fc.array(fc.constantFrom<"S" | "N">("S", "N"), { minLength: 1, maxLength: 3 }),
    literals: fc.array(fc.constantFrom("", "/", "-", ".", "x", "{{", "}}", ".png", "1"), {
      minLength: 4,
      maxLength: 4,
    }),
    repeat: fc.boolean(),
  })
  .map(({ types, literals, repeat }) => {
    const schema = types.map((type, i) => ({ name: NAMES[i] as string, type }));
    const placeholders = schema.map(({ name }) => name);
    if (repeat) placeholders.push(NAMES[0]);
    const template = placeholders.map((name, i) => `${literals[i]}{${name}}`).join("") + literals[3];
    return { template, schema };
  });

/** Canonical N text: what a stream record holds for a number key. */
const canonicalNumbers = fc
  .oneof(
    fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }).map(String),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
  )
  .map((text) => canonicalNumber(text))
  .filter((text): text is string => text !== undefined);

const stringValues = fc.string({ unit: fc.constantFrom("a", "1", "-", ".", "/", "x", "{", "}", "é"), minLength: 1 });

describe("properties", () => {
  it("reads back the key of every item rendered the way the handler renders it, unless ambiguous", async () => {
    const outcomes = { item: 0, ambiguous: 0 };
    const runs = propertyRuns(150);
    await fc.assert(
      fc.asyncProperty(
        templates.chain(({ template, schema }) =>
          fc.record({
            template: fc.constant(template),
            schema: fc.constant(schema),
            values: fc.tuple(...schema.map(({ type }) => (type === "N" ? canonicalNumbers : stringValues))),
          }),
        ),
        async ({ template, schema, values }) => {
          const keys: AttributeMap = {};
          schema.forEach(({ name, type }, i) => {
            keys[name] = type === "N" ? { N: values[i] as string } : { S: values[i] as string };
          });
          const objectKey = await handlerKey(template, keys);
          const parse = inverter(template, schema)(objectKey);
          if (parse.kind === "unrelated") expect(parse.reason).toBe("ambiguous");
          else expect(parse.key).toEqual(keys);
          outcomes[parse.kind === "item" ? "item" : "ambiguous"]++;
        },
      ),
      { numRuns: runs },
    );
    // Were every key ambiguous, the property would check nothing.
    if (runs >= 100) expect(outcomes.item).toBeGreaterThan(outcomes.ambiguous);
  });

  it("takes a key for an item only when that item's key renders back to exactly it", () => {
    const text = (maxLength: number) =>
      fc.string({
        unit: fc.constantFrom("a", "0", "1", "7", "-", ".", "e", "/", "x", "{", "}", "p", "\u{1F600}", "\uD83D"),
        maxLength,
      });
    // Raw strings rarely fit a template's literals: most keys are rendered from any text, canonical or not.
    const cases = templates.chain(({ template, schema }) => {
      const compiled = compileTemplate(template) as KeyTemplate;
      return fc.record({
        template: fc.constant(template),
        schema: fc.constant(schema),
        objectKey: fc.oneof(
          text(14),
          fc
            .array(text(6), { minLength: compiled.attributes.length, maxLength: compiled.attributes.length })
            .map((values) => renderTemplate(compiled, values)),
        ),
      });
    });
    const seen = { item: 0, unrelated: 0 };
    const runs = propertyRuns(1000);
    fc.assert(
      fc.property(cases, ({ template, schema, objectKey }) => {
        const parse = inverter(template, schema)(objectKey);
        seen[parse.kind]++;
        if (parse.kind === "item") {
          const compiled = compileTemplate(template) as KeyTemplate;
          const values = compiled.attributes.map((name) => {
            const value = parse.key[name];
            return (value?.S ?? value?.N) as string;
          });
          expect(renderTemplate(compiled, values)).toBe(objectKey);
          for (const { name, type } of schema) {
            const value = parse.key[name];
            if (type === "N") expect(canonicalNumber(value?.N as string)).toBe(value?.N);
            else expect(value?.S).toMatch(/^[^\p{Cs}]+$/u);
          }
        }
      }),
      { numRuns: runs },
    );
    // Were no key taken for an item, the property would check nothing (a few runs may find none).
    if (runs >= 100) expect(seen.item).toBeGreaterThan(0);
  });

  it("parses every short key as a brute-force search over all its splits does, reason and message included", () => {
    const text = fc.string({
      unit: fc.constantFrom("a", "0", "1", "-", ".", "/", "x", "{", "}", "\u{1F600}", "\uD83D", "\uDE00"),
      maxLength: 10,
    });
    const cases = templates.chain(({ template, schema }) => {
      const compiled = compileTemplate(template) as KeyTemplate;
      return fc.record({
        template: fc.constant(template),
        schema: fc.constant(schema),
        objectKey: fc.oneof(
          text,
          fc
            .array(text, { minLength: compiled.attributes.length, maxLength: compiled.attributes.length })
            .map((values) => renderTemplate(compiled, values)),
        ),
      });
    });
    const seen = new Set<string>();
    const runs = propertyRuns(2000);
    fc.assert(
      fc.property(cases, ({ template, schema, objectKey }) => {
        const expected = bruteForceParse(template, schema, objectKey);
        expect(inverter(template, schema)(objectKey)).toEqual(expected);
        seen.add(reasonOf(expected));
      }),
      { numRuns: runs },
    );
    // Every outcome but too-complex must come up, or the comparison leaves a branch unchecked.
    if (runs >= 1000) {
      expect([...seen].sort()).toEqual(
        ["ambiguous", "empty-value", "invalid-number", "item", "no-match", "renders-differently"].sort(),
      );
    }
  });

  it.each([
    // Splits that meet again at one placeholder and position: counted once each way.
    ["{a}{b}1{c}}}", [S("a"), S("b"), S("c")], "aaa1a}"],
    ["x{a}{b}1{c}}}", [S("a"), S("b"), S("c")], "xaaa1a}"],
    ["{a}{b}/{c}", [S("a"), S("b"), N("c")], "aaa/0"],
    ["{a}{b}-{c}", [N("a"), N("b"), S("c")], "-710-a"],
    ["{a}{b}{c}", [S("a"), S("b"), S("c")], "xyz"],
    ["{a}{b}{c}", [S("a"), S("b"), N("c")], "xy10"],
    // A repeated attribute whose values agree, in a key that only splitting a character would read.
    ["{b}{c}-{a}-{a}", [S("a"), S("b"), S("c")], "\u{1F600}-y-y"],
    ["{a}{a}", [S("a")], "aaa"],
    // The explanation's first split leaves a value empty after a longer one failed further on.
    ["{a}{a}{{", [N("a")], "{"],
    // No empty value where the literal after it is missing.
    ["{a}-{b}", [S("a"), S("b")], "x"],
    ["{n}", [N("n")], "abc"],
    ["{n}.png", [N("n")], "x.png.png"],
  ])("parses %j over %j as the brute-force search does: %j", (template, schema, objectKey) => {
    expect(inverter(template, schema)(objectKey)).toEqual(bruteForceParse(template, schema, objectKey));
  });

  it("finds in one pass exactly the numbers canonicalNumber keeps as they are", () => {
    const numberInv = inverter("{n}", [N("n")]);
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom("0", "1", "9", "-", ".", "e"), maxLength: 12 }), (text) => {
        const canonical = canonicalNumber(text);
        expect(reasonOf(numberInv(text)) === "item").toBe(canonical === text && text !== "");
      }),
      { numRuns: propertyRuns(1000) },
    );
  });
});

/**
 * The parse of `objectKey` by brute force, the reference the inverter must agree with: list every
 * split of the key into the template's literals and values, keep those an item renders (values
 * non-empty and whole characters, N values canonical, a repeated attribute's values equal), and
 * explain a key none renders by the first split in the inverter's order (shortest values first,
 * empty ones last).
 */
function bruteForceParse(template: string, schema: readonly KeySchemaAttribute[], objectKey: string): ObjectKeyParse {
  const compiled = compileTemplate(template) as KeyTemplate;
  const { literals, attributes } = compiled;
  const typeOf = (name: string) => schema.find((attribute) => attribute.name === name)?.type;
  const describeSplit = (values: readonly string[]) =>
    attributes.map((name, i) => `${name}=\`${values[i]}\``).join(", ");
  const noMatch: ObjectKeyParse = {
    kind: "unrelated",
    reason: "no-match",
    message: `\`${objectKey}\` does not match the template's literal text`,
  };
  const splits: string[][] = [];
  const walk = (i: number, pos: number, values: string[]): void => {
    if (i === attributes.length) {
      if (pos === objectKey.length) splits.push(values);
      return;
    }
    const literal = literals[i + 1] as string;
    for (let end = pos; end + literal.length <= objectKey.length; end++) {
      if (objectKey.startsWith(literal, end)) walk(i + 1, end + literal.length, [...values, objectKey.slice(pos, end)]);
    }
  };
  const prefix = literals[0] as string;
  const suffix = literals.at(-1) as string;
  const framed =
    objectKey.startsWith(prefix) && objectKey.endsWith(suffix) && objectKey.length >= prefix.length + suffix.length;
  if (!framed) return noMatch;
  // Only the literals around the placeholders are checked before the characters.
  if (/\p{Cs}/u.test(objectKey)) {
    return { kind: "unrelated", reason: "no-match", message: `\`${objectKey}\` is not well-formed Unicode` };
  }
  walk(0, prefix.length, []);
  if (splits.length === 0) return noMatch;
  const rank = (value: string) => (value === "" ? Number.POSITIVE_INFINITY : value.length);
  splits.sort((x, y) => {
    for (let i = 0; i < x.length; i++) {
      const order = rank(x[i] as string) - rank(y[i] as string);
      if (order !== 0) return order;
    }
    return 0;
  });
  const rendered = splits.filter((values) =>
    values.every(
      (value, i) =>
        value !== "" &&
        !/\p{Cs}/u.test(value) &&
        (typeOf(attributes[i] as string) === "S" || canonicalNumber(value) === value) &&
        values[attributes.indexOf(attributes[i] as string)] === value,
    ),
  );
  const [only, other] = rendered;
  if (only !== undefined && other !== undefined) {
    return {
      kind: "unrelated",
      reason: "ambiguous",
      message: `\`${objectKey}\` parses more than one way (one is ${describeSplit(only)}), so it cannot be told whose object it is`,
    };
  }
  if (only !== undefined) {
    const key: AttributeMap = {};
    attributes.forEach((name, i) => {
      key[name] = typeOf(name) === "N" ? { N: only[i] as string } : { S: only[i] as string };
    });
    return { kind: "item", key };
  }
  const first = splits[0] as string[];
  for (let i = 0; i < first.length; i++) {
    const name = attributes[i] as string;
    const value = first[i] as string;
    if (value === "") {
      return {
        kind: "unrelated",
        reason: "empty-value",
        message: `\`${objectKey}\` leaves \`${name}\` empty, and no item key is empty`,
      };
    }
    if (typeOf(name) === "N") {
      const canonical = canonicalNumber(value);
      if (canonical === undefined) {
        return {
          kind: "unrelated",
          reason: "invalid-number",
          message: `\`${objectKey}\` gives \`${name}\` (N) the value \`${value}\`, which is not a number DynamoDB can store`,
        };
      }
      if (canonical !== value) {
        const fixed = renderTemplate(
          compiled,
          first.map((v, j) => (j === i ? canonical : v)),
        );
        return {
          kind: "unrelated",
          reason: "renders-differently",
          message: `\`${objectKey}\` gives \`${name}\` (N) the value \`${value}\`, which DynamoDB stores as \`${canonical}\`: that item's object would be \`${fixed}\``,
        };
      }
    }
    const earlier = first[attributes.indexOf(name)] as string;
    if (earlier !== value) {
      return {
        kind: "unrelated",
        reason: "renders-differently",
        message: `\`${objectKey}\` gives \`${name}\` two values, \`${earlier}\` and \`${value}\``,
      };
    }
  }
  return noMatch;
}
