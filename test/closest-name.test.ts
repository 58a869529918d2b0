import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { closestName, editDistance, MAX_SUGGESTION_DISTANCE } from "../src/closest-name.js";

const name = fc.string({ unit: fc.constantFrom("a", "b", "c", "I", "d", "_"), maxLength: 12 });

describe("editDistance", () => {
  it.each([
    ["productId", "productId", 0],
    ["productID", "productId", 1],
    ["prodcutId", "productId", 1],
    ["productd", "productId", 1],
    ["productIdx", "productId", 1],
    ["", "abc", 3],
    ["ca", "abc", 3],
    ["kitten", "sitting", 3],
  ])("between %j and %j is %i", (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
  });

  it("is symmetric, zero only between equal strings, and between the length gap and the longer length", () => {
    fc.assert(
      fc.property(name, name, (a, b) => {
        const distance = editDistance(a, b);
        expect(editDistance(b, a)).toBe(distance);
        expect(distance === 0).toBe(a === b);
        expect(distance).toBeGreaterThanOrEqual(Math.abs(a.length - b.length));
        expect(distance).toBeLessThanOrEqual(Math.max(a.length, b.length));
      }),
    );
  });

  it("counts one swap of adjacent characters as one edit", () => {
    fc.assert(
      fc.property(name, fc.nat(), (text, at) => {
        fc.pre(text.length >= 2);
        const i = at % (text.length - 1);
        const swapped = text.slice(0, i) + text[i + 1] + text[i] + text.slice(i + 2);
        expect(editDistance(text, swapped)).toBe(text[i] === text[i + 1] ? 0 : 1);
      }),
    );
  });
});

describe("closestName", () => {
  it("suggests the name that differs only in letter case, before any closer spelling", () => {
    expect(closestName("productID", ["productIx", "productId"])).toBe("productId");
  });

  it("suggests the nearest name within two edits", () => {
    expect(closestName("prodcutId", ["sku", "productId", "price"])).toBe("productId");
    expect(closestName("imageKey", ["imageKeys", "imageKeysOld"])).toBe("imageKeys");
  });

  it("suggests the first of the names at the smallest distance", () => {
    expect(closestName("color", ["colour", "colors"])).toBe("colour");
  });

  it("suggests nothing when every name is three edits away or more", () => {
    expect(closestName("productId", ["pk", "sk", "imageKeys"])).toBeUndefined();
  });

  it("suggests nothing for a short name whose edits change half of it or more", () => {
    expect(closestName("id", ["pk"])).toBeUndefined();
    expect(closestName("pk", ["pkx"])).toBeUndefined();
    expect(closestName("sku", ["ska"])).toBe("ska");
  });

  it("suggests nothing from no names, and never the name itself", () => {
    expect(closestName("productId", [])).toBeUndefined();
    expect(closestName("productId", ["productId"])).toBeUndefined();
  });

  it("suggests only one of the names, never the name itself, within the distance limits", () => {
    fc.assert(
      fc.property(name, fc.array(name, { maxLength: 8 }), (wanted, names) => {
        const suggested = closestName(wanted, names);
        if (suggested === undefined) return;
        expect(names).toContain(suggested);
        expect(suggested).not.toBe(wanted);
        const distance = editDistance(wanted.toLowerCase(), suggested.toLowerCase());
        expect(distance).toBeLessThanOrEqual(MAX_SUGGESTION_DISTANCE);
        expect(distance).toBeLessThan(wanted.length / 2);
      }),
    );
  });

  it("always suggests a name that differs from the wanted one only in letter case", () => {
    fc.assert(
      fc.property(name, fc.array(name, { maxLength: 5 }), (wanted, others) => {
        const variant = wanted.toUpperCase();
        fc.pre(variant !== wanted);
        expect(
          closestName(wanted, [...others.filter((other) => other.toLowerCase() !== wanted.toLowerCase()), variant]),
        ).toBe(variant);
      }),
    );
  });

  it("suggests a name one insertion away once the name has three characters", () => {
    fc.assert(
      fc.property(name, fc.nat(), fc.constantFrom("x", "y"), (wanted, at, extra) => {
        fc.pre(wanted.length >= 3);
        const i = at % (wanted.length + 1);
        const longer = wanted.slice(0, i) + extra + wanted.slice(i);
        expect(closestName(wanted, [longer])).toBe(longer);
      }),
    );
  });
});
