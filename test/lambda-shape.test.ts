import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toLambdaMap, toSdkMap, toSdkValue } from "../src/lambda-shape.js";
import type { AttributeMap, AttributeValue } from "../src/types.js";
import { propertyRuns } from "./property-runs.js";

const base64 = (...bytes: number[]) => Buffer.from(bytes).toString("base64");

describe("toSdkValue", () => {
  it("turns base64 B and BS into bytes, at any depth of M and L", () => {
    const value: AttributeValue = {
      M: { blob: { B: base64(1, 2) }, list: { L: [{ BS: [base64(3), base64(255, 0)] }, { S: "text" }] } },
    };

    expect(toSdkValue(value)).toStrictEqual({
      M: {
        blob: { B: new Uint8Array([1, 2]) },
        list: { L: [{ BS: [new Uint8Array([3]), new Uint8Array([255, 0])] }, { S: "text" }] },
      },
    });
  });

  it("copies every other member as it is", () => {
    expect(toSdkValue({ N: "007" })).toStrictEqual({ N: "007" });
    expect(toSdkValue({ NULL: true })).toStrictEqual({ NULL: true });
  });
});

describe("toSdkMap", () => {
  it("keeps `__proto__` as an attribute name", () => {
    const map: AttributeMap = JSON.parse('{"__proto__": {"B": "AQ=="}}');

    const converted = toSdkMap(map);

    expect(Object.hasOwn(converted, "__proto__")).toBe(true);
    expect(Object.getOwnPropertyDescriptor(converted, "__proto__")?.value).toStrictEqual({ B: new Uint8Array([1]) });
  });

  it("is undone by toLambdaMap for every map of canonical base64", () => {
    const leaf = fc.oneof(
      fc.record({ S: fc.string() }),
      fc.record({ N: fc.integer().map(String) }),
      fc.record({ B: fc.uint8Array().map((bytes) => Buffer.from(bytes).toString("base64")) }),
      fc.record({
        BS: fc.array(fc.uint8Array({ minLength: 1 }).map((bytes) => Buffer.from(bytes).toString("base64"))),
      }),
    );
    const { value } = fc.letrec<{ value: AttributeValue }>((tie) => ({
      value: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        leaf,
        fc.record({ M: fc.dictionary(fc.string(), tie("value")) }),
        fc.record({ L: fc.array(tie("value"), { maxLength: 3 }) }),
      ),
    }));
    fc.assert(
      fc.property(fc.dictionary(fc.string(), value), (map) => {
        // toEqual: fast-check's dictionaries have no prototype, the converted maps have Object's.
        expect(toLambdaMap(toSdkMap(map))).toEqual(map);
      }),
      { numRuns: propertyRuns(100) },
    );
  });
});
