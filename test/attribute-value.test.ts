import { NumberValueImpl } from "@aws-sdk/util-dynamodb";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AttributeProblem, attributeMember, toNative, toNativeMap, toNumber } from "../src/attribute-value.js";

/** Runs `read` and returns the AttributeProblem it throws; fails the test when it throws nothing else. */
function problemOf(read: () => unknown): AttributeProblem {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(AttributeProblem);
    return error as AttributeProblem;
  }
  throw new Error("expected an AttributeProblem, but nothing was thrown");
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

describe("toNative", () => {
  it.each([
    ["S", { S: "hello" }, "hello"],
    ["an empty S", { S: "" }, ""],
    ["B, as its base64 text", { B: "AAEC/w==" }, "AAEC/w=="],
    ["BOOL true", { BOOL: true }, true],
    ["BOOL false", { BOOL: false }, false],
    ["NULL", { NULL: true }, null],
    ["N", { N: "42" }, 42],
  ])("reads %s", (_name, attribute, expected) => {
    // Act
    const value = toNative(attribute);

    // Assess
    expect(value).toBe(expected);
  });

  it("reads SS and BS as Sets of strings", () => {
    // Prepare
    const tags = { SS: ["red", "blue"] };
    const blobs = { BS: ["AAE=", "AgM="] };

    // Act
    const tagSet = toNative(tags);
    const blobSet = toNative(blobs);

    // Assess
    expect(tagSet).toEqual(new Set(["red", "blue"]));
    expect(blobSet).toEqual(new Set(["AAE=", "AgM="]));
  });

  it("reads NS as a Set of exact numbers", () => {
    // Prepare
    const sizes = { NS: ["1", "0.5", "12345678901234567890", "3.14159265358979323846"] };

    // Act
    const value = toNative(sizes) as Set<unknown>;

    // Assess
    const [one, half, big, pi] = [...value];
    expect(one).toBe(1);
    expect(half).toBe(0.5);
    expect(big).toBe(12345678901234567890n);
    expect(pi).toBeInstanceOf(NumberValueImpl);
    expect((pi as NumberValueImpl).value).toBe("3.14159265358979323846");
  });

  it("reads L as an array, converting every element", () => {
    // Prepare
    const list = { L: [{ S: "a" }, { N: "2" }, { L: [{ BOOL: true }] }, { NULL: true }] };

    // Act
    const value = toNative(list);

    // Assess
    expect(value).toEqual(["a", 2, [true], null]);
  });

  it("reads M as an object, converting every attribute", () => {
    // Prepare
    const map = { M: { name: { S: "lamp" }, dimensions: { M: { width: { N: "30" } } }, tags: { SS: ["home"] } } };

    // Act
    const value = toNative(map);

    // Assess
    expect(value).toEqual({ name: "lamp", dimensions: { width: 30 }, tags: new Set(["home"]) });
  });

  it("reads an empty L and an empty M", () => {
    // Act
    const list = toNative({ L: [] });
    const map = toNative({ M: {} });

    // Assess
    expect(list).toEqual([]);
    expect(map).toEqual({});
  });

  it("reads Go-style values whose other members are null", () => {
    // Prepare
    const goString = {
      B: null,
      BOOL: null,
      BS: null,
      L: null,
      M: null,
      N: null,
      NS: null,
      NULL: null,
      S: "x",
      SS: null,
    };
    const goNull = { B: null, BOOL: null, NULL: true, S: null };
    const goNumber = { S: undefined, N: "7" };

    // Act
    const values = [toNative(goString), toNative(goNull), toNative(goNumber)];

    // Assess
    expect(values).toEqual(["x", null, 7]);
  });

  describe("malformed values", () => {
    it.each([
      ["null", null],
      ["a string", "x"],
      ["a number", 5],
      ["an array", [{ S: "x" }]],
    ])("rejects %s as not an AttributeValue", (_name, attribute) => {
      // Act
      const problem = problemOf(() => toNative(attribute));

      // Assess
      expect(problem.path).toBe("");
      expect(problem.problem).toBe("is not an AttributeValue object");
    });

    it("rejects an unknown type", () => {
      // Act
      const problem = problemOf(() => toNative({ X: "1" }));

      // Assess
      expect(problem.problem).toBe('has an unknown type "X"');
    });

    it("rejects a value with several types", () => {
      // Act
      const problem = problemOf(() => toNative({ S: "a", N: "1" }));

      // Assess
      expect(problem.problem).toBe("has several types (S, N)");
    });

    it.each([
      ["an empty object", {}],
      ["only null members", { S: null, N: null }],
    ])("rejects %s as having no value", (_name, attribute) => {
      // Act
      const problem = problemOf(() => toNative(attribute));

      // Assess
      expect(problem.problem).toBe("has no value");
    });

    it.each([
      [{ S: 5 }, "S must be a string"],
      [{ B: 1 }, "B must be a string"],
      [{ N: 5 }, "N must be a string"],
      [{ BOOL: "true" }, "BOOL must be a boolean"],
      [{ NULL: "yes" }, "NULL must be a boolean"],
      [{ SS: "a" }, "SS must be an array of strings"],
      [{ SS: ["a", 1] }, "SS must be an array of strings"],
      [{ BS: [1] }, "BS must be an array of strings"],
      [{ NS: [1, 2] }, "NS must be an array of strings"],
      [{ L: { S: "a" } }, "L must be an array"],
      [{ M: [] }, "is not an attribute map"],
      [{ M: "x" }, "is not an attribute map"],
    ])("rejects %j: %s", (attribute, expected) => {
      // Act
      const problem = problemOf(() => toNative(attribute));

      // Assess
      expect(problem.path).toBe("");
      expect(problem.problem).toBe(expected);
    });

    it.each(["", "abc", "1,5", "0x10", "NaN", "Infinity", "+1", " 1", "1e", "1.2.3", "--1"])(
      "rejects N %j as not a number",
      (text) => {
        // Act
        const problem = problemOf(() => toNative({ N: text }));

        // Assess
        expect(problem.problem).toBe("N is not a number");
      },
    );

    it("names the element of an NS that is not a number", () => {
      // Act
      const problem = problemOf(() => toNative({ NS: ["1", "2", "two"] }));

      // Assess
      expect(problem.path).toBe("[2]");
      expect(problem.problem).toBe("NS is not a number");
    });

    it("names the nested attribute in the error path", () => {
      // Prepare
      const item = { name: { S: "lamp" }, tags: { L: [{ S: "a" }, { S: "b" }, { N: "x" }] } };

      // Act
      const problem = problemOf(() => toNativeMap(item));

      // Assess
      expect(problem.path).toBe(".tags[2]");
      expect(problem.problem).toBe("N is not a number");
      expect(problem.message).toBe(".tags[2] N is not a number");
    });

    it("names a deeply nested attribute through maps and lists", () => {
      // Prepare
      const item = { meta: { M: { sizes: { L: [{ M: { width: { BOOL: "yes" } } }] } } } };

      // Act
      const problem = problemOf(() => toNativeMap(item));

      // Assess
      expect(problem.path).toBe(".meta.sizes[0].width");
      expect(problem.problem).toBe("BOOL must be a boolean");
    });

    it("lets an error that is not an AttributeProblem through unchanged", () => {
      // Prepare
      const failure = new Error("getter failed");
      const element = {
        get S(): string {
          throw failure;
        },
      };

      // Act
      const read = () => toNative({ L: [element] });

      // Assess
      expect(read).toThrow(failure);
    });
  });
});

describe("toNativeMap", () => {
  it("reads every attribute of a map", () => {
    // Prepare
    const image = { productId: { S: "p-1" }, price: { N: "19.99" }, inStock: { BOOL: true } };

    // Act
    const value = toNativeMap(image);

    // Assess
    expect(value).toEqual({ productId: "p-1", price: 19.99, inStock: true });
  });

  it.each([
    ["null", null],
    ["undefined", undefined],
    ["an array", []],
    ["a string", "x"],
  ])("rejects %s as not an attribute map", (_name, map) => {
    // Act
    const problem = problemOf(() => toNativeMap(map));

    // Assess
    expect(problem.path).toBe("");
    expect(problem.problem).toBe("is not an attribute map");
  });

  it("keeps an attribute named __proto__ as an own attribute", () => {
    // Prepare
    // DynamoDB allows any attribute name, and JSON.parse makes "__proto__" an ordinary own property.
    const image = JSON.parse('{"__proto__": {"M": {"isAdmin": {"BOOL": true}}}, "productId": {"S": "p-1"}}') as unknown;

    // Act
    const value = toNativeMap(image);

    // Assess
    expect(Object.keys(value)).toEqual(["__proto__", "productId"]);
    expect(Object.getOwnPropertyDescriptor(value, "__proto__")?.value).toEqual({ isAdmin: true });
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  });
});

describe("attributeMember", () => {
  it.each([
    ["S", "x"],
    ["N", "1"],
    ["B", "AA=="],
    ["SS", ["a"]],
    ["NS", ["1"]],
    ["BS", ["AA=="]],
    ["M", { a: { S: "x" } }],
    ["L", [{ S: "x" }]],
    ["NULL", true],
    ["BOOL", false],
  ])("returns the %s member as [type, value]", (type, member) => {
    // Act
    const result = attributeMember({ [type]: member });

    // Assess
    expect(result).toEqual([type, member]);
  });

  it("returns the one member that is not null", () => {
    // Act
    const result = attributeMember({ B: null, S: "x", N: undefined });

    // Assess
    expect(result).toEqual(["S", "x"]);
  });

  it("does not validate the member's own type", () => {
    // Act
    const result = attributeMember({ N: 5 });

    // Assess
    expect(result).toEqual(["N", 5]);
  });
});

describe("toNumber", () => {
  it.each([
    ["0", 0],
    ["42", 42],
    ["-17", -17],
    ["00042", 42],
    [String(MAX_SAFE), MAX_SAFE],
    [String(-MAX_SAFE), -MAX_SAFE],
  ])("reads integer %s within ±(2^53−1) as a number", (text, expected) => {
    // Act
    const value = toNumber(text);

    // Assess
    expect(value).toBe(expected);
  });

  it.each([
    ["9007199254740992", 9007199254740992n],
    ["-9007199254740992", -9007199254740992n],
    ["9007199254740993", 9007199254740993n],
    ["12345678901234567890", 12345678901234567890n],
    ["-99999999999999999999999999999999999999", -99999999999999999999999999999999999999n],
  ])("reads integer %s beyond ±(2^53−1) as an exact bigint", (text, expected) => {
    // Act
    const value = toNumber(text);

    // Assess
    expect(value).toBe(expected);
  });

  it.each([
    ["1.5", 1.5],
    ["1.50", 1.5],
    ["-3.25", -3.25],
    ["0.000123", 0.000123],
    [".5", 0.5],
    ["1E+2", 100],
    ["2.5e-3", 0.0025],
    ["12345678901234.5", 12345678901234.5],
    ["0.123456789012345", 0.123456789012345],
  ])("reads non-integer %s with at most 15 significant digits as a number", (text, expected) => {
    // Act
    const value = toNumber(text);

    // Assess
    expect(value).toBe(expected);
  });

  it.each(["123456789012345.6", "3.14159265358979323846", "-0.1234567890123456", "1.2345678901234567E+30"])(
    "keeps non-integer %s with more than 15 significant digits as a NumberValue of the exact text",
    (text) => {
      // Act
      const value = toNumber(text);

      // Assess
      expect(value).toBeInstanceOf(NumberValueImpl);
      expect((value as NumberValueImpl).value).toBe(text);
    },
  );

  it("returns the same number for every safe integer (property)", () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (n) => {
        // String(-0) is "0", so -0 comes back as 0.
        expect(toNumber(String(n))).toBe(n === 0 ? 0 : n);
      }),
    );
  });

  it("returns the exact bigint for every integer beyond the safe range (property)", () => {
    const limit = 10n ** 38n;
    const unsafe = fc.oneof(
      fc.bigInt({ min: BigInt(MAX_SAFE) + 1n, max: limit }),
      fc.bigInt({ min: -limit, max: -BigInt(MAX_SAFE) - 1n }),
    );
    fc.assert(
      fc.property(unsafe, (n) => {
        expect(toNumber(n.toString())).toBe(n);
      }),
    );
  });
});
