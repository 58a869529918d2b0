import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { distinctBy } from "../src/object-target.js";

describe("distinctBy", () => {
  it("keeps the first item of each id, in order", () => {
    // Prepare
    const items = [
      { id: "a", n: 1 },
      { id: "b", n: 2 },
      { id: "a", n: 3 },
      { id: "c", n: 4 },
      { id: "b", n: 5 },
    ];

    // Act
    const distinct = distinctBy(items, (item) => item.id);

    // Assess
    expect(distinct.map((item) => item.n)).toStrictEqual([1, 2, 4]);
  });

  it("gives the id function each item's position", () => {
    // Act
    const distinct = distinctBy(["x", "x", "y"], (item, index) => (item === "x" ? String(index) : item));

    // Assess
    expect(distinct).toStrictEqual(["x", "x", "y"]);
  });

  it("returns every id once, each at its first occurrence, in the input's order", () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 6 }), { maxLength: 30 }), (ids) => {
        // Act
        const positions = distinctBy(
          ids.map((id, position) => ({ id, position })),
          (item) => String(item.id),
        ).map((item) => item.position);

        // Assess
        expect(positions.map((position) => ids[position])).toStrictEqual([...new Set(ids)]);
        expect(positions.every((position) => ids.indexOf(ids[position] as number) === position)).toBe(true);
        expect(positions).toStrictEqual([...positions].sort((a, b) => a - b));
      }),
    );
  });
});
