import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import type { BatchDeleter, DeleteReport } from "../src/batch-deleter.js";
import { templateKeyReader } from "../src/item-key-reader.js";
import type { ItemLookup, ItemPresence, ItemProbe } from "../src/item-presence.js";
import {
  addCounts,
  createObjectReconciler,
  noCounts,
  type ObjectReconcilerConfig,
  type PresenceOf,
  tablePresence,
} from "../src/reconcile-objects.js";
import type { ListedObject, Orphan } from "../src/reconcile-types.js";
import type { ObjectTarget } from "../src/types.js";
import { propertyRuns } from "./property-runs.js";

const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.UTC(2026, 11, 3);
const OLD = new Date(NOW - 2 * DAY);
const YOUNG = new Date(NOW - 1000);

const reader = templateKeyReader(["images/{productId}.png"], [{ name: "productId", type: "S" }]);
if (typeof reader !== "function") throw new Error(reader.message);

function object(key: string, lastModified = OLD, size = 10, etag: string | undefined = `"${key}"`): ListedObject {
  return etag === undefined ? { key, size, lastModified } : { key, size, lastModified, etag };
}

/** A probe over a set of existing product ids, which records what it was asked; `answer` overrides. */
function fakeProbe(
  existing: Iterable<string>,
  answer?: (lookup: ItemLookup, call: number) => ItemPresence | undefined,
) {
  const present = new Set(existing);
  const calls: ItemLookup[][] = [];
  const probe: ItemProbe = async (lookups) => {
    calls.push([...lookups]);
    return lookups.map(
      (lookup) =>
        answer?.(lookup, calls.length) ?? (present.has(lookup.key.productId?.S as string) ? "present" : "absent"),
    );
  };
  return { probe, calls, present };
}

/** A deleter that deletes everything unless `outcome` says otherwise, and records its calls. */
function fakeDeleter(outcome: (target: ObjectTarget) => "deleted" | "failed" | "replaced" = () => "deleted") {
  const calls: ObjectTarget[][] = [];
  const deleter: BatchDeleter = async (targets) => {
    calls.push([...targets]);
    const report: DeleteReport = { deleted: [], failed: [], keptReplaced: [] };
    for (const target of targets) {
      const result = outcome(target);
      if (result === "deleted") report.deleted.push(target);
      else if (result === "replaced") report.keptReplaced.push(target);
      else report.failed.push({ target, code: "AccessDenied", message: "Access Denied", retryable: false });
    }
    return report;
  };
  return { deleter, calls };
}

function setup(overrides: Partial<ObjectReconcilerConfig> = {}) {
  const orphans: Orphan[] = [];
  const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
  const config: ObjectReconcilerConfig = {
    bucket: "product-images",
    tableName: "products",
    readItemKey: reader as Exclude<typeof reader, { kind: string }>,
    presence: tablePresence(fakeProbe([]).probe, "products"),
    deleter: undefined,
    minAgeMs: DAY,
    now: () => NOW,
    allowedPrefixes: undefined,
    onOrphan: (orphan) => {
      orphans.push(orphan);
    },
    logger,
    ...overrides,
  };
  return { reconcileObjects: createObjectReconciler(config), orphans, logger };
}

const signal = new AbortController().signal;

describe("createObjectReconciler", () => {
  it("sorts objects into unrelated, live, young and orphans, and counts the orphans' bytes", async () => {
    const { probe, calls } = fakeProbe(["live"]);
    const { reconcileObjects, orphans } = setup({ presence: tablePresence(probe, "products") });
    const counts = await reconcileObjects(
      [
        object("images/live.png"),
        object("images/gone.png", OLD, 100),
        object("images/new.png", YOUNG),
        object("images/readme.txt"),
        object("images/other.png", OLD, 23),
      ],
      signal,
    );
    expect(counts).toEqual({
      ...noCounts(),
      listed: 5,
      unrelated: 1,
      live: 1,
      young: 1,
      orphans: 2,
      bytes: 123,
    });
    expect(calls).toEqual([
      [
        { table: "products", key: { productId: { S: "live" } } },
        { table: "products", key: { productId: { S: "gone" } } },
        { table: "products", key: { productId: { S: "new" } } },
        { table: "products", key: { productId: { S: "other" } } },
      ],
    ]);
    expect(orphans).toEqual([
      {
        bucket: "product-images",
        key: "images/gone.png",
        size: 100,
        lastModified: OLD,
        etag: '"images/gone.png"',
        itemKey: { productId: { S: "gone" } },
        status: "found",
      },
      {
        bucket: "product-images",
        key: "images/other.png",
        size: 23,
        lastModified: OLD,
        etag: '"images/other.png"',
        itemKey: { productId: { S: "other" } },
        status: "found",
      },
    ]);
  });

  it("takes an object exactly minAgeMs old for an orphan, and one a millisecond younger for young", async () => {
    const { reconcileObjects } = setup();
    const counts = await reconcileObjects(
      [object("images/a.png", new Date(NOW - DAY)), object("images/b.png", new Date(NOW - DAY + 1))],
      signal,
    );
    expect(counts).toMatchObject({ orphans: 1, young: 1 });
  });

  it("takes an object of unknown age for young, never an orphan", async () => {
    const { reconcileObjects } = setup({ minAgeMs: 0 });
    const counts = await reconcileObjects([object("images/a.png", new Date(Number.NaN))], signal);
    expect(counts).toMatchObject({ young: 1, orphans: 0 });
  });

  it("counts an object outside allowedPrefixes unrelated, and never asks the table about it", async () => {
    const { probe, calls } = fakeProbe([]);
    const { reconcileObjects } = setup({ presence: tablePresence(probe, "products"), allowedPrefixes: ["images/a"] });
    const counts = await reconcileObjects([object("images/a1.png"), object("images/b1.png")], signal);
    expect(counts).toMatchObject({ listed: 2, unrelated: 1, orphans: 1 });
    expect(calls).toEqual([[{ table: "products", key: { productId: { S: "a1" } } }]]);
  });

  it("counts objects whose item cannot be told unchecked, deletes nothing for them, and warns once", async () => {
    const { probe } = fakeProbe([], (lookup) =>
      lookup.key.productId?.S === "x" ? { problem: "throttled" } : undefined,
    );
    const { deleter, calls } = fakeDeleter();
    const { reconcileObjects, logger } = setup({ presence: tablePresence(probe, "products"), deleter });
    const counts = await reconcileObjects([object("images/x.png"), object("images/y.png")], signal);
    expect(counts).toMatchObject({ unchecked: 1, orphans: 1, deleted: 1 });
    expect(calls).toEqual([[{ bucket: "product-images", key: "images/y.png", etag: '"images/y.png"' }]]);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn).toHaveBeenCalledWith("reconcile: objects unchecked, nothing deleted for them", {
      table: "products",
      bucket: "product-images",
      unchecked: 1,
      first: "`images/x.png`: throttled",
    });
  });

  it("counts an object whose key reader says unchecked, with its message", async () => {
    const { reconcileObjects, logger } = setup({
      readItemKey: () => ({ kind: "unchecked", message: "`itemKeyOf` threw" }),
    });
    const counts = await reconcileObjects([object("a")], signal);
    expect(counts).toMatchObject({ unchecked: 1 });
    expect(logger.warn).toHaveBeenCalledWith(
      expect.any(String),
      expect.objectContaining({ first: "`itemKeyOf` threw" }),
    );
  });

  it("does not warn when nothing is unchecked", async () => {
    const { reconcileObjects, logger } = setup();
    await reconcileObjects([object("images/a.png")], signal);
    expect(logger.warn).not.toHaveBeenCalled();
  });

  describe("deleting", () => {
    it("asks for the orphans' items again, then deletes those still missing on their ETag", async () => {
      const { probe, calls } = fakeProbe(["live"]);
      const { deleter, calls: deletes } = fakeDeleter();
      const { reconcileObjects, orphans } = setup({ presence: tablePresence(probe, "products"), deleter });
      const counts = await reconcileObjects(
        [object("images/live.png"), object("images/a.png"), object("images/b.png")],
        signal,
      );
      expect(calls[1]).toEqual([
        { table: "products", key: { productId: { S: "a" } } },
        { table: "products", key: { productId: { S: "b" } } },
      ]);
      expect(deletes).toEqual([
        [
          { bucket: "product-images", key: "images/a.png", etag: '"images/a.png"' },
          { bucket: "product-images", key: "images/b.png", etag: '"images/b.png"' },
        ],
      ]);
      expect(counts).toMatchObject({ live: 1, orphans: 2, deleted: 2, failed: 0 });
      expect(orphans.map(({ key, status, error }) => ({ key, status, error }))).toEqual([
        { key: "images/a.png", status: "deleted", error: undefined },
        { key: "images/b.png", status: "deleted", error: undefined },
      ]);
    });

    it("never deletes an orphan listed without an ETag: that delete would be unconditional", async () => {
      const { deleter, calls } = fakeDeleter();
      const { reconcileObjects, orphans } = setup({ deleter });
      const counts = await reconcileObjects(
        [object("images/a.png"), { key: "images/b.png", size: 5, lastModified: OLD }],
        signal,
      );
      expect(calls).toEqual([[{ bucket: "product-images", key: "images/a.png", etag: '"images/a.png"' }]]);
      expect(counts).toMatchObject({ orphans: 2, deleted: 1, failed: 1 });
      expect(orphans[1]).toMatchObject({
        key: "images/b.png",
        status: "failed",
        error: {
          code: "EtagMissing",
          message:
            "the listing gave no ETag, so the object is not deleted: a delete without one would be unconditional",
        },
      });
      const { reconcileObjects: reporting, orphans: found } = setup();
      await reporting([{ key: "images/b.png", size: 5, lastModified: OLD }], signal);
      expect(found[0]?.status).toBe("found");
    });

    it("asks nothing again before deleting when the presence cannot change (a scan)", async () => {
      const presence = vi.fn<PresenceOf>(async (candidates) => candidates.map(() => "absent"));
      const { deleter, calls } = fakeDeleter();
      const { reconcileObjects } = setup({ presence, secondProbe: false, deleter });
      await reconcileObjects([object("images/a.png")], signal);
      expect(presence).toHaveBeenCalledTimes(1);
      expect(calls).toHaveLength(1);
    });

    it("keeps an orphan whose item was written since the first probe", async () => {
      const { probe } = fakeProbe([], (lookup, call) =>
        call === 2 && lookup.key.productId?.S === "a" ? "present" : undefined,
      );
      const { deleter, calls } = fakeDeleter();
      const { reconcileObjects, orphans } = setup({ presence: tablePresence(probe, "products"), deleter });
      const counts = await reconcileObjects([object("images/a.png"), object("images/b.png")], signal);
      expect(counts).toMatchObject({ orphans: 2, keptRecreated: 1, deleted: 1 });
      expect(calls).toEqual([[{ bucket: "product-images", key: "images/b.png", etag: '"images/b.png"' }]]);
      expect(orphans.map(({ status }) => status)).toEqual(["kept-recreated", "deleted"]);
    });

    it("fails, without deleting, an orphan whose item cannot be told at the second probe", async () => {
      const { probe } = fakeProbe([], (_, call) =>
        call === 2 ? { problem: "the table could not be read in time" } : undefined,
      );
      const { deleter, calls } = fakeDeleter();
      const { reconcileObjects, orphans } = setup({ presence: tablePresence(probe, "products"), deleter });
      const counts = await reconcileObjects([object("images/a.png")], signal);
      expect(calls).toEqual([]);
      expect(counts).toMatchObject({ orphans: 1, failed: 1, deleted: 0 });
      expect(orphans[0]).toMatchObject({
        status: "failed",
        error: { code: "ItemPresenceUnknown", message: "the table could not be read in time" },
      });
    });

    it("reports what the deleter says of each orphan: deleted, failed with its error, or kept as replaced", async () => {
      const { deleter } = fakeDeleter((target) =>
        target.key === "images/a.png" ? "failed" : target.key === "images/b.png" ? "replaced" : "deleted",
      );
      const { reconcileObjects, orphans } = setup({ deleter });
      const counts = await reconcileObjects(
        [object("images/a.png"), object("images/b.png"), object("images/c.png")],
        signal,
      );
      expect(counts).toMatchObject({ orphans: 3, failed: 1, keptReplaced: 1, deleted: 1 });
      expect(orphans.map(({ key, status, error }) => ({ key, status, error }))).toEqual([
        { key: "images/a.png", status: "failed", error: { code: "AccessDenied", message: "Access Denied" } },
        { key: "images/b.png", status: "kept-replaced", error: undefined },
        { key: "images/c.png", status: "deleted", error: undefined },
      ]);
    });

    it("fails an orphan the deleter does not report, rather than call it deleted", async () => {
      const deleter: BatchDeleter = async () => ({ deleted: [], failed: [], keptReplaced: [] });
      const { reconcileObjects, orphans } = setup({ deleter });
      const counts = await reconcileObjects([object("images/a.png")], signal);
      expect(counts).toMatchObject({ failed: 1, deleted: 0 });
      expect(orphans[0]?.error).toEqual({ code: "NotReported", message: "not deleted: the deleter did not report it" });
    });

    it("sends nothing when there is no orphan, and passes the signal to the deleter", async () => {
      const deleter = vi.fn<BatchDeleter>(async () => ({ deleted: [], failed: [], keptReplaced: [] }));
      const { probe, calls } = fakeProbe(["a"]);
      const { reconcileObjects } = setup({ presence: tablePresence(probe, "products"), deleter });
      await reconcileObjects([object("images/a.png")], signal);
      expect(deleter).not.toHaveBeenCalled();
      expect(calls).toHaveLength(1);
      const { reconcileObjects: withOrphan } = setup({ deleter });
      await withOrphan([object("images/b.png")], signal);
      expect(deleter).toHaveBeenCalledWith(expect.any(Array), { signal });
    });
  });

  it("waits for onOrphan, and rejects with its error", async () => {
    const { reconcileObjects } = setup({
      onOrphan: async () => {
        throw new Error("disk full");
      },
    });
    await expect(reconcileObjects([object("images/a.png")], signal)).rejects.toThrow("disk full");
  });

  it("runs without onOrphan", async () => {
    const { reconcileObjects } = setup({ onOrphan: undefined, deleter: fakeDeleter().deleter });
    await expect(reconcileObjects([object("images/a.png")], signal)).resolves.toMatchObject({ deleted: 1 });
  });

  it("puts every object in exactly one class, and deletes only orphans", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(
          fc.record({
            id: fc.constantFrom<string>("a", "b", "c", "d", ""),
            suffix: fc.constantFrom(".png", ".txt"),
            ageMs: fc.integer({ min: -DAY, max: 3 * DAY }),
            exists: fc.boolean(),
            answer: fc.constantFrom<ItemPresence | undefined>(undefined, undefined, "present", { problem: "x" }),
          }),
          { maxLength: 30, selector: (spec) => spec.id + spec.suffix },
        ),
        async (specs) => {
          const existing = new Set(specs.filter((spec) => spec.exists).map((spec) => spec.id));
          const answers = new Map(specs.map((spec) => [spec.id, spec.answer]));
          const { probe } = fakeProbe(existing, (lookup, call) =>
            call === 2 ? answers.get(lookup.key.productId?.S as string) : undefined,
          );
          const { deleter, calls } = fakeDeleter();
          const { reconcileObjects } = setup({ presence: tablePresence(probe, "products"), deleter });
          const objects = specs.map((spec, index) =>
            object(`images/${spec.id}${spec.suffix}`, new Date(NOW - spec.ageMs), index),
          );
          const counts = await reconcileObjects(objects, signal);
          expect(counts.unrelated + counts.live + counts.young + counts.orphans + counts.unchecked).toBe(
            objects.length,
          );
          expect(counts.deleted + counts.failed + counts.keptRecreated + counts.keptReplaced).toBe(counts.orphans);
          for (const target of calls.flat()) {
            const id = target.key.slice("images/".length, -".png".length);
            const listed = objects.find((candidate) => candidate.key === target.key) as ListedObject;
            expect(target.key.endsWith(".png") && id !== "").toBe(true);
            expect(existing.has(id)).toBe(false);
            expect(NOW - listed.lastModified.getTime()).toBeGreaterThanOrEqual(DAY);
            expect(answers.get(id)).toBeUndefined();
          }
        },
      ),
      { numRuns: propertyRuns(200) },
    );
  });
});

describe("addCounts", () => {
  it("adds every field", () => {
    const into = { ...noCounts(), listed: 1, bytes: 5 };
    addCounts(into, { ...noCounts(), listed: 2, bytes: 7, keptRecreated: 1 });
    expect(into).toEqual({ ...noCounts(), listed: 3, bytes: 12, keptRecreated: 1 });
  });
});
