import {
  BatchGetItemCommand,
  type BatchGetItemCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  ScanCommand,
} from "@aws-sdk/client-dynamodb";
import {
  DeleteObjectsCommand,
  type DeleteObjectsCommandInput,
  ListObjectsV2Command,
  type ListObjectsV2CommandInput,
  S3Client,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { isConfigError, isReconcileError } from "../src/errors.js";
import { compareKeys } from "../src/key-space-partitions.js";
import type { CheckpointStore, ReconcileCheckpoint, RunIdentity } from "../src/reconcile-checkpoint.js";
import { noCounts } from "../src/reconcile-objects.js";
import { type ReconcileOptions, type ReconcileProgress, reconcile } from "../src/reconcile-run.js";
import type { Orphan } from "../src/reconcile-types.js";

const s3Mock = mockClient(S3Client);
const ddbMock = mockClient(DynamoDBClient);
const s3Client = new S3Client({ region: "us-east-1" });
const dynamoDbClient = new DynamoDBClient({ region: "us-east-1" });

afterAll(() => {
  s3Mock.restore();
  ddbMock.restore();
});

const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.UTC(2026, 11, 3);
const OLD = new Date(NOW - 2 * DAY);

/** The bucket's keys, listed by a fake ListObjectsV2 in S3's order, with Prefix, StartAfter, MaxKeys and tokens. */
let bucketKeys: string[];
/** The product ids the table holds. */
let items: Set<string>;

function quietLogger() {
  return { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
}

beforeEach(() => {
  s3Mock.reset();
  ddbMock.reset();
  bucketKeys = [];
  items = new Set();
  ddbMock.on(DescribeTableCommand).resolves({
    Table: {
      KeySchema: [{ AttributeName: "productId", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "productId", AttributeType: "S" }],
    },
  });
  ddbMock.on(BatchGetItemCommand).callsFake((input: BatchGetItemCommandInput) => {
    const keys = input.RequestItems?.products?.Keys ?? [];
    return {
      Responses: { products: keys.filter((key) => items.has(key.productId?.S as string)) },
      UnprocessedKeys: {},
    };
  });
  s3Mock.on(ListObjectsV2Command).callsFake((input: ListObjectsV2CommandInput) => {
    const prefix = input.Prefix ?? "";
    const after = input.ContinuationToken ?? input.StartAfter;
    const matching = [...bucketKeys]
      .sort(compareKeys)
      .filter((key) => key.startsWith(prefix) && (after === undefined || compareKeys(key, after) > 0));
    const page = matching.slice(0, input.MaxKeys ?? 1000);
    const truncated = matching.length > page.length;
    return {
      Contents: page.map((key) => ({ Key: key, Size: 1, LastModified: OLD, ETag: `"${key}"` })),
      IsTruncated: truncated,
      NextContinuationToken: truncated ? page[page.length - 1] : undefined,
    };
  });
  s3Mock.on(DeleteObjectsCommand).callsFake((input: DeleteObjectsCommandInput) => {
    const deleted = input.Delete?.Objects ?? [];
    bucketKeys = bucketKeys.filter((key) => !deleted.some((object) => object.Key === key));
    return { Deleted: deleted.map(({ Key }) => ({ Key })) };
  });
});

function options(overrides: Partial<ReconcileOptions> = {}): ReconcileOptions {
  return {
    tableName: "products",
    bucket: "product-images",
    key: "images/{productId}.png",
    s3Client,
    dynamoDbClient,
    logger: quietLogger(),
    now: () => NOW,
    ...overrides,
  } as ReconcileOptions;
}

async function configError(run: Promise<unknown>) {
  const error = await run.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(isConfigError(error)).toBe(true);
  return error as { issues: { path: string; message: string }[] };
}

describe("reconcile", () => {
  it("lists the template's prefix, and reports the orphans without deleting them", async () => {
    bucketKeys = ["images/a.png", "images/b.png", "images/readme.txt", "other/c.png"];
    items = new Set(["a"]);
    const orphans: Orphan[] = [];
    const report = await reconcile(options({ onOrphan: (orphan) => void orphans.push(orphan) }));
    expect(report).toMatchObject({ complete: true, listed: 3, live: 1, orphans: 1, unrelated: 1, deleted: 0 });
    expect(orphans.map(({ key, status }) => [key, status])).toEqual([["images/b.png", "found"]]);
    expect(s3Mock.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
    for (const call of s3Mock.commandCalls(ListObjectsV2Command)) expect(call.args[0].input.Prefix).toBe("images/");
    expect(bucketKeys).toHaveLength(4);
  });

  it("deletes the orphans with `delete: true`", async () => {
    bucketKeys = ["images/a.png", "images/b.png"];
    items = new Set(["a"]);
    const report = await reconcile(options({ delete: true }));
    expect(report).toMatchObject({ deleted: 1, orphans: 1 });
    expect(bucketKeys).toEqual(["images/a.png"]);
  });

  it("lists `prefix` when given, instead of the template's", async () => {
    bucketKeys = ["images/a.png", "images/b.png", "images/ab.png"];
    const report = await reconcile(options({ prefix: "images/a", concurrency: 1 }));
    expect(report.listed).toBe(2);
  });

  it("lists each template's prefix once, leaving out those under another", async () => {
    bucketKeys = ["images/a.png", "images/thumbs/a.png", "thumbs/a.webp", "x/a.png"];
    const report = await reconcile(
      options({
        key: ["images/{productId}.png", "images/thumbs/{productId}.png", "thumbs/{productId}.webp"],
        concurrency: 2,
      }),
    );
    expect(report.partitions.map(({ prefix }) => prefix)).toEqual(["images/", "thumbs/"]);
    expect(report).toMatchObject({ listed: 3, orphans: 2, unrelated: 1 });
  });

  it("splits a prefix into partitions up to `concurrency`, which together list every key once", async () => {
    bucketKeys = Array.from({ length: 2600 }, (_, i) => `images/${i.toString(16)}.png`);
    const report = await reconcile(options({ concurrency: 4 }));
    expect(report.partitions).toHaveLength(4);
    expect(report.partitions.map(({ listed }) => listed).reduce((a, b) => a + b)).toBe(2600);
    expect(report).toMatchObject({ listed: 2600, orphans: 2600, complete: true });
  });

  it("lists each partition only to its end, and says each one's range in the report", async () => {
    bucketKeys = Array.from({ length: 2600 }, (_, i) => `images/${i.toString(16)}.png`);
    const logger = quietLogger();
    const report = await reconcile(options({ concurrency: 4, logger }));
    const pages = s3Mock.commandCalls(ListObjectsV2Command).filter((call) => call.args[0].input.MaxKeys !== 1);
    // A partition stops at the page that passes its end: no page beyond it is listed.
    expect(pages).toHaveLength(
      report.partitions.reduce((count, { listed }) => count + Math.floor(listed / 1000) + 1, 0),
    );
    const [first, second, third, last] = report.partitions;
    expect(first).toEqual({
      prefix: "images/",
      endAt: second?.startAfter,
      after: first?.after,
      listed: first?.listed,
      done: true,
    });
    expect(second?.startAfter).toBeDefined();
    expect(third?.endAt).toBe(last?.startAfter);
    expect(Object.keys(last ?? {}).sort()).toEqual(["after", "done", "listed", "prefix", "startAfter"]);
    expect(report.durationMs).toBeGreaterThanOrEqual(0);
    expect(report.durationMs).toBeLessThan(600_000);
    expect(logger.info).toHaveBeenCalledWith(
      "dynamodb-s3-cleanup reconcile summary",
      expect.objectContaining({
        table: "products",
        bucket: "product-images",
        listed: 2600,
        partitions: 4,
        complete: true,
      }),
    );
  });

  it("lets a listed prefix lie within any of allowedPrefixes", async () => {
    bucketKeys = ["images/2026/a.png"];
    const report = await reconcile(options({ prefix: "images/2026/", allowedPrefixes: ["media/", "images/"] }));
    expect(report.listed).toBe(1);
  });

  it("measures age from `now`", async () => {
    bucketKeys = ["images/a.png"];
    const report = await reconcile(options({ now: () => OLD.getTime() + 1000 }));
    expect(report).toMatchObject({ young: 1, orphans: 0 });
  });

  it("reads item keys with `itemKeyOf`, listing the whole bucket by default", async () => {
    bucketKeys = ["a/1", "b/2", "c"];
    items = new Set(["1"]);
    const itemKeyOf = vi.fn((key: string) =>
      key.includes("/") ? { productId: key.split("/")[1] as string } : undefined,
    );
    const report = await reconcile(options({ key: undefined, itemKeyOf, concurrency: 1 }));
    expect(report).toMatchObject({ listed: 3, live: 1, orphans: 1, unrelated: 1 });
    expect(s3Mock.commandCalls(ListObjectsV2Command)[0]?.args[0].input.Prefix).toBe("");
  });

  it("reports the items scanned through onProgress in scan mode, then decides by the scanned keys", async () => {
    bucketKeys = ["images/a.png", "images/b.png"];
    ddbMock.on(ScanCommand).resolves({ Items: [{ productId: { S: "a" } }] });
    const progress: ReconcileProgress[] = [];
    const report = await reconcile(
      options({ mode: "scan", concurrency: 1, onProgress: (p) => void progress.push(structuredClone(p)) }),
    );
    expect(progress[0]).toMatchObject({ scannedItems: 1, listed: 0, partitions: [] });
    expect(report).toMatchObject({ live: 1, orphans: 1 });
    expect(ddbMock.commandCalls(BatchGetItemCommand)).toHaveLength(0);
  });

  it("counts the objects of a page reconciled, and calls onProgress after each page", async () => {
    bucketKeys = Array.from({ length: 1500 }, (_, i) => `images/p${String(i).padStart(4, "0")}.png`);
    const progress: ReconcileProgress[] = [];
    await reconcile(options({ concurrency: 1, onProgress: (p) => void progress.push(structuredClone(p)) }));
    expect(progress.map(({ listed }) => listed)).toEqual([1000, 1500, 1500]);
    expect(progress.at(-1)?.partitions).toEqual([
      { prefix: "images/", listed: 1500, done: true, after: "images/p1499.png" },
    ]);
  });

  describe("options", () => {
    it.each([
      ["prefix", 1, "must be a string"],
      ["signal", {}, "must be an AbortSignal"],
      ["mode", "fast", 'must be "keys" or "scan"'],
      ["checkpoint", 5, "must be a file path or an object with load and save methods"],
      ["key", 5, "must be a template or an array of templates"],
      ["allowedBuckets", "b", "must be an array of bucket names"],
    ])("names `%s` when it is wrong", async (path, value, message) => {
      const error = await configError(reconcile({ ...options(), [path]: value } as ReconcileOptions));
      expect(error.issues).toContainEqual({ path, message });
    });

    it("refuses neither or both of `key` and `itemKeyOf`", async () => {
      const neither = await configError(reconcile(options({ key: undefined })));
      expect(neither.issues).toContainEqual({
        path: "key",
        message: "give `key` (the templates) or `itemKeyOf`, exactly one of them",
      });
      const both = await configError(reconcile(options({ itemKeyOf: () => undefined })));
      expect(both.issues.map(({ path }) => path)).toContain("key");
    });

    it("names a malformed template, an empty array, and bad option types", async () => {
      const error = await configError(reconcile(options({ key: ["images/{id.png"], concurrency: 0 })));
      expect(error.issues).toContainEqual({ path: "key[0]", message: 'is not a key template: "images/{id.png"' });
      expect(error.issues.map(({ path }) => path)).toContain("concurrency");
      const single = await configError(reconcile(options({ key: "{" })));
      expect(single.issues.map(({ path }) => path)).toEqual(["key"]);
      const empty = await configError(reconcile(options({ key: [] })));
      expect(empty.issues).toContainEqual({ path: "key", message: "must hold at least one template" });
      const unknown = await configError(reconcile({ ...options(), extra: 1 } as ReconcileOptions));
      expect(unknown.issues).toContainEqual({ path: "extra", message: "is not an option" });
    });

    it("refuses scan mode with itemKeyOf, which it cannot render", async () => {
      const error = await configError(reconcile(options({ key: undefined, itemKeyOf: () => undefined, mode: "scan" })));
      expect(error.issues).toEqual([
        { path: "mode", message: 'is "scan", which renders the templates of `key`: give `key`, not `itemKeyOf`' },
      ]);
    });

    it("creates an S3 client of its own when given none", async () => {
      bucketKeys = ["images/a.png"];
      await expect(reconcile(options({ s3Client: undefined, concurrency: 1 }))).resolves.toMatchObject({ listed: 1 });
    });

    it("refuses a bucket outside allowedBuckets", async () => {
      const error = await configError(reconcile(options({ allowedBuckets: ["prod-media"] })));
      expect(error.issues).toContainEqual({ path: "bucket", message: "is not one of `allowedBuckets` (prod-media)" });
      await expect(reconcile(options({ allowedBuckets: ["product-images"] }))).resolves.toMatchObject({
        complete: true,
      });
    });

    it("refuses to list outside allowedPrefixes, naming `key` or `prefix`", async () => {
      const byKey = await configError(reconcile(options({ allowedPrefixes: ["media/"] })));
      expect(byKey.issues).toEqual([{ path: "key", message: "lists `images/`, which is outside `allowedPrefixes`" }]);
      const byPrefix = await configError(reconcile(options({ prefix: "", allowedPrefixes: ["images/"] })));
      expect(byPrefix.issues).toEqual([{ path: "prefix", message: "lists ``, which is outside `allowedPrefixes`" }]);
      await expect(reconcile(options({ allowedPrefixes: ["images/"] }))).resolves.toMatchObject({ complete: true });
    });

    it("refuses a template that cannot be read backwards, with the reason, before listing", async () => {
      const error = await configError(reconcile(options({ key: "{tenantId}/{productId}.png" })));
      expect(error.issues[0]?.path).toBe("key");
      expect(error.issues[0]?.message).toContain("`tenantId`");
      expect(s3Mock.commandCalls(ListObjectsV2Command)).toHaveLength(0);
    });

    it("rejects with a ReconcileError naming the table when it cannot be described", async () => {
      ddbMock.on(DescribeTableCommand).rejects(new Error("Requested resource not found"));
      const error = await reconcile(options()).catch((thrown: unknown) => thrown);
      expect(isReconcileError(error)).toBe(true);
      expect((error as Error).message).toBe('DescribeTable on table "products" failed: Requested resource not found');
    });
  });

  describe("stopping", () => {
    it("reports a partition whose listing fails, and the run incomplete", async () => {
      bucketKeys = ["images/a.png"];
      s3Mock.on(ListObjectsV2Command).rejects(Object.assign(new Error("Access Denied"), { name: "AccessDenied" }));
      const logger = quietLogger();
      const report = await reconcile(options({ concurrency: 1, logger }));
      expect(report.complete).toBe(false);
      expect(report.partitions[0]).toMatchObject({ done: false, error: { code: "AccessDenied" } });
      expect(logger.error).toHaveBeenCalledWith(
        "reconcile: a partition's listing failed; the run is not complete",
        expect.objectContaining({ bucket: "product-images", prefix: "images/" }),
      );
    });

    it("reports the run incomplete when one partition's listing fails and the others finish", async () => {
      bucketKeys = ["images/a.png", "thumbs/a.png"];
      s3Mock
        .on(ListObjectsV2Command, { Prefix: "thumbs/" })
        .rejects(Object.assign(new Error("denied"), { name: "AccessDenied" }));
      const report = await reconcile(
        options({ key: ["images/{productId}.png", "thumbs/{productId}.png"], concurrency: 2 }),
      );
      expect(report.complete).toBe(false);
      expect(report.partitions.map(({ done }) => done)).toEqual([true, false]);
    });

    it("lists nothing after the signal fires, and reports the run incomplete without an error line", async () => {
      bucketKeys = ["images/a.png"];
      const logger = quietLogger();
      const stop = new AbortController();
      s3Mock.on(ListObjectsV2Command).callsFake(() => {
        stop.abort(new Error("stopped"));
        return { Contents: [{ Key: "images/a.png", Size: 1, LastModified: OLD }], IsTruncated: false };
      });
      const report = await reconcile(options({ concurrency: 1, signal: stop.signal, logger }));
      expect(report).toMatchObject({ complete: false, listed: 0 });
      expect(logger.error).not.toHaveBeenCalled();
    });

    it("resolves incomplete, with nothing listed, when the signal fires while the table is described", async () => {
      const stop = new AbortController();
      ddbMock.on(DescribeTableCommand).callsFake(() => {
        stop.abort(new Error("stopped"));
        return new Promise(() => {});
      });
      const report = await reconcile(options({ signal: stop.signal }));
      expect(report).toMatchObject({ complete: false, listed: 0, partitions: [] });
      expect(s3Mock.commandCalls(ListObjectsV2Command)).toHaveLength(0);
    });

    it("reconciles the page in hand to its end when the signal fires, and lists no more", async () => {
      bucketKeys = Array.from({ length: 1500 }, (_, i) => `images/p${String(i).padStart(4, "0")}.png`);
      const stop = new AbortController();
      ddbMock.on(BatchGetItemCommand).callsFake((input: BatchGetItemCommandInput) => {
        stop.abort(new Error("stopped"));
        return {
          Responses: { products: [] },
          UnprocessedKeys: {},
          ConsumedCapacity: input.ReturnConsumedCapacity ? [] : undefined,
        };
      });
      const report = await reconcile(options({ concurrency: 1, delete: true, signal: stop.signal }));
      expect(report).toMatchObject({ complete: false, listed: 1000, orphans: 1000, deleted: 1000, unchecked: 0 });
    });

    it("refuses a store that ignores StartAfter, rather than take its first keys for the end of the range", async () => {
      bucketKeys = ["images/a.png", "images/b.png", "images/c.png"];
      s3Mock.on(ListObjectsV2Command).resolves({
        Contents: bucketKeys.map((key) => ({ Key: key, Size: 1, LastModified: OLD, ETag: '"e"' })),
        IsTruncated: false,
      });
      const report = await reconcile(
        options({
          checkpoint: {
            load: async () => ({
              version: 1,
              run: {
                tableName: "products",
                bucket: "product-images",
                keys: ["images/{productId}.png"],
                prefixes: ["images/"],
                delete: false,
                mode: "keys",
                minAgeMs: 86_400_000,
                allowedPrefixes: null,
              },
              partitions: [{ prefix: "images/", after: "images/a.png", done: false, counts: noCounts() }],
            }),
            save: async () => {},
          },
        }),
      );
      expect(report.complete).toBe(false);
      expect(report.partitions[0]?.error?.code).toBe("UnexpectedListing");
      expect(report.listed).toBe(0);
    });

    it("stops every partition and rejects when onOrphan throws", async () => {
      bucketKeys = Array.from({ length: 3000 }, (_, i) => `images/${i}.png`);
      const onOrphan = vi.fn(() => {
        throw new Error("disk full");
      });
      await expect(reconcile(options({ concurrency: 2, onOrphan }))).rejects.toThrow("disk full");
      // At most the first orphan of each of the two partitions: no page is reconciled after the throw.
      expect(onOrphan.mock.calls.length).toBeLessThanOrEqual(2);
      const pages = s3Mock.commandCalls(ListObjectsV2Command).filter((call) => call.args[0].input.MaxKeys !== 1);
      // The first page of each partition, and the next one each listed while reconciling it.
      expect(pages.length).toBeLessThanOrEqual(4);
    });
  });

  it("stops at once when onOrphan throws while the next page is being listed", async () => {
    bucketKeys = Array.from({ length: 1000 }, (_, i) => `images/p${String(i).padStart(4, "0")}.png`);
    let calls = 0;
    s3Mock.on(ListObjectsV2Command).callsFake(() => {
      calls++;
      // The next page never comes: only the run's own stop can end its wait.
      if (calls > 1) return new Promise(() => {});
      return {
        Contents: bucketKeys.map((key) => ({ Key: key, Size: 1, LastModified: OLD, ETag: '"e"' })),
        IsTruncated: true,
        NextContinuationToken: "next",
      };
    });
    const onOrphan = () => {
      throw new Error("disk full");
    };
    await expect(reconcile(options({ concurrency: 1, onOrphan }))).rejects.toThrow("disk full");
  });

  describe("checkpoint", () => {
    function memoryStore(initial?: ReconcileCheckpoint) {
      const saved: ReconcileCheckpoint[] = [];
      let current = initial;
      const store: CheckpointStore = {
        load: async () => current,
        save: async (checkpoint) => {
          current = structuredClone(checkpoint);
          saved.push(current);
        },
      };
      return { store, saved, current: () => current };
    }

    const run: RunIdentity = {
      tableName: "products",
      bucket: "product-images",
      keys: ["images/{productId}.png"],
      prefixes: ["images/"],
      delete: false,
      mode: "keys",
      minAgeMs: 86_400_000,
      allowedPrefixes: null,
    };

    it("saves each partition's place after each page, and marks it done at its end", async () => {
      bucketKeys = Array.from({ length: 1200 }, (_, i) => `images/p${String(i).padStart(4, "0")}.png`);
      const { store, saved } = memoryStore();
      await reconcile(options({ concurrency: 1, checkpoint: store }));
      expect(saved[0]).toMatchObject({
        version: 1,
        run,
        partitions: [{ prefix: "images/", after: "images/p0999.png", done: false }],
      });
      expect(saved.at(-1)).toMatchObject({
        partitions: [{ after: "images/p1199.png", done: true, counts: { listed: 1200, orphans: 1200 } }],
      });
    });

    it("goes on after the last key a stopped run completed, with its counts", async () => {
      bucketKeys = ["images/a.png", "images/b.png", "images/c.png"];
      const { store } = memoryStore({
        version: 1,
        run,
        partitions: [
          { prefix: "images/", after: "images/b.png", done: false, counts: { ...noCounts(), listed: 2, orphans: 2 } },
        ],
      });
      const report = await reconcile(options({ checkpoint: store }));
      expect(report).toMatchObject({ listed: 3, orphans: 3, complete: true });
      expect(s3Mock.commandCalls(ListObjectsV2Command)[0]?.args[0].input.StartAfter).toBe("images/b.png");
    });

    it("lists no partition a stopped run finished, and says it goes on from the checkpoint", async () => {
      bucketKeys = ["images/a.png", "images/n.png", "images/z.png"];
      const logger = quietLogger();
      const { store } = memoryStore({
        version: 1,
        run,
        partitions: [
          {
            prefix: "images/",
            endAt: "images/m",
            after: "images/a.png",
            done: true,
            counts: { ...noCounts(), listed: 1, orphans: 1 },
          },
          { prefix: "images/", startAfter: "images/m", done: false, counts: noCounts() },
        ],
      });
      const report = await reconcile(options({ checkpoint: store, logger }));
      expect(report).toMatchObject({ listed: 3, orphans: 3, complete: true });
      const listed = s3Mock.commandCalls(ListObjectsV2Command).map((call) => call.args[0].input.StartAfter);
      expect(listed).toEqual(["images/m"]);
      expect(logger.info).toHaveBeenCalledWith("reconcile: going on from the checkpoint", {
        table: "products",
        bucket: "product-images",
        partitions: 2,
      });
    });

    it("keeps itemKeyOf runs apart from template runs", async () => {
      bucketKeys = ["a"];
      const { store, current } = memoryStore();
      await reconcile(options({ key: undefined, itemKeyOf: () => undefined, checkpoint: store }));
      expect(current()?.run.keys).toBe("itemKeyOf");
    });

    it("starts over from a finished run's checkpoint", async () => {
      bucketKeys = ["images/a.png"];
      const { store } = memoryStore({
        version: 1,
        run,
        partitions: [{ prefix: "images/", after: "images/a.png", done: true, counts: { ...noCounts(), listed: 1 } }],
      });
      const report = await reconcile(options({ checkpoint: store }));
      expect(report.listed).toBe(1);
    });

    it("refuses a report-only run's checkpoint to a deleting run, which would skip its first pages", async () => {
      const { store } = memoryStore({
        version: 1,
        run,
        partitions: [{ prefix: "images/", done: false, counts: noCounts() }],
      });
      const error = await configError(reconcile(options({ checkpoint: store, delete: true })));
      expect(error.issues[0]?.path).toBe("checkpoint");
    });

    it("refuses another run's checkpoint", async () => {
      const { store } = memoryStore({
        version: 1,
        run: { ...run, bucket: "other" },
        partitions: [{ prefix: "", done: false, counts: noCounts() }],
      });
      const error = await configError(reconcile(options({ checkpoint: store })));
      expect(error.issues[0]?.path).toBe("checkpoint");
    });

    it("keeps a partition's place before an orphan whose delete failed", async () => {
      bucketKeys = Array.from({ length: 1200 }, (_, i) => `images/p${String(i).padStart(4, "0")}.png`);
      s3Mock.on(DeleteObjectsCommand).callsFake((input: DeleteObjectsCommandInput) => {
        const objects = input.Delete?.Objects ?? [];
        return {
          Deleted: objects.slice(1).map(({ Key }) => ({ Key })),
          Errors: [{ Key: objects[0]?.Key, Code: "AccessDenied", Message: "Access Denied" }],
        };
      });
      const { store, current } = memoryStore();
      const report = await reconcile(options({ concurrency: 1, delete: true, checkpoint: store }));
      expect(report).toMatchObject({ complete: true, failed: 2, deleted: 1198 });
      expect(current()?.partitions[0]?.done).toBe(false);
      expect(current()?.partitions[0]?.after).toBeUndefined();
    });
  });
});
