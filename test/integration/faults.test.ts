/**
 * Fault injection (issue #9): the handler behind a proxy in front of moto that answers delete
 * requests with 503 SlowDown and 500 InternalError, drops connections (before forwarding, and after
 * moto has deleted so that the client never hears it), gives some keys per-key errors, and holds
 * some requests without ever answering them; and that answers listing requests with 503 SlowDown,
 * drops or holds them, or answers them late. The draws are seeded (test/services/s3-proxy.ts). A
 * loop delivers the stream as Lambda's event source mapping does: batches from the checkpoint, which
 * moves to the lowest reported record, or past the batch when none is reported. An invocation that
 * throws or returns after the function's timeout fails the test (Lambda would retry its whole batch).
 *
 * After every invocation moto is checked directly, not through the proxy: no record the checkpoint
 * has passed may have an object left, under its prefixes included. At the end every removed object
 * is gone and every live one is there. The only timing assertion is that each invocation returned
 * before the function's timeout: the handler's budget is `timeoutMarginMs` shorter, so the margin is
 * the slack. The S3 client keeps its default request timeout (none), so a held request is ended by
 * the handler's signal alone.
 */
import { randomUUID } from "node:crypto";
import {
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandInput,
  type ListObjectsV2CommandOutput,
  ListObjectVersionsCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type CleanupSummary, createCleanupHandler, type RemovedItem, type StreamRecord } from "../../src/index.js";
import { createRecordFactory, streamEvent } from "../../src/testing/index.js";
import { localClientConfig } from "../services/index.js";
import {
  FAULT_KINDS,
  type FaultCounts,
  type FaultSettings,
  LISTING_FAULT_KINDS,
  type ListingFaults,
  type S3Proxy,
  startS3Proxy,
} from "../services/s3-proxy.js";
import { createBucket, listKeys, putObjects, quietLogger } from "./helpers.js";

/** Records per delivery (BatchSize). */
const BATCH_SIZE = 25;
const FUNCTION_TIMEOUT_MS = 3000;
const TIMEOUT_MARGIN_MS = 1000;
/** More deliveries than this fails the test: the handler is not making progress. */
const MAX_DELIVERIES = 100;
/** Attempts of the S3 client through the proxy, for requests that throw. */
const CLIENT_MAX_ATTEMPTS = 2;

const NO_LISTING_FAULTS = { slowDown: 0, drop: 0, hang: 0, slow: 0, slowMs: 0 } as const satisfies ListingFaults;

const NO_FAULTS = {
  mode: "faults",
  slowDown: 0,
  internalError: 0,
  dropBefore: 0,
  dropAfter: 0,
  perKey: 0,
  hang: 0,
  keyErrorRate: 0,
  listing: NO_LISTING_FAULTS,
} as const satisfies Omit<FaultSettings, "seed">;

/** Per delete request: the chance of each whole-request fault, and of per-key errors. */
const FAULTS: Omit<FaultSettings, "seed"> = {
  ...NO_FAULTS,
  slowDown: 0.1,
  internalError: 0.1,
  dropBefore: 0.1,
  dropAfter: 0.15,
  perKey: 0.25,
  keyErrorRate: 0.2,
};
/** The same, and some delete requests held for good: each one costs its delivery the whole budget. */
const HANG_FAULTS: Omit<FaultSettings, "seed"> = { ...FAULTS, hang: 0.03 };
/** The runs of the delete workload: every kind of fault comes up in each. */
const DELETE_RUNS = [
  { seed: 1, faults: FAULTS, with: "delete faults" },
  { seed: 2, faults: FAULTS, with: "delete faults" },
  { seed: 6, faults: HANG_FAULTS, with: "delete faults and hangs" },
];

/**
 * Deletes pass; listing requests are refused, dropped, held or answered late. Deletes get no fault
 * here, so that every page a delivery lists must lead to deletes (the progress rule).
 */
const LISTING_FAULTS: Omit<FaultSettings, "seed"> = {
  ...NO_FAULTS,
  listing: { slowDown: 0.1, drop: 0.1, hang: 0.08, slow: 0.15, slowMs: 300 },
};
const LISTING_SEEDS = [7];
/** Small enough that the larger folders take several deliveries. */
const MAX_LISTED_OBJECTS = 100;
/**
 * In a delivery the signal cut off, a page the handler heard this close to the end of its budget may
 * have had its delete cut off, rightly: the progress rule holds for the pages heard before, and for
 * every page of a delivery that was not cut off.
 */
const LATE_PAGE_MS = 1000;

/** What one REMOVE record owns: objects, and prefixes under which nothing may be left. */
interface Owned {
  keys: string[];
  prefixes: string[];
}

/** A stream, what its REMOVE records own, every object to upload, and those that must survive. */
interface Workload {
  records: StreamRecord[];
  owned: Map<StreamRecord, Owned>;
  objects: string[];
  liveObjects: string[];
}

/** The keys of `media` items, as the handler maps them with {@link MEDIA_KEY}. */
const MEDIA_KEY = ["media/{productId}.png", "media/{productId}/thumb.png"];
const mediaOf = (id: string) => [`media/${id}.png`, `media/${id}/thumb.png`];

/**
 * REMOVE records of `p-<i>`, each owning two objects, with INSERT and MODIFY records of the live
 * items `p-<i>-v2` (for the first `liveItems`) between them, in sequence-number order. Every third
 * removed item has a backup `media/p-<i>.png.bak` that its REMOVE must not take with it (a removed
 * key is a prefix of it), and live keys share prefixes with removed ones (`media/p-1` with
 * `media/p-1-v2.png`).
 */
function mediaWorkload(removedItems: number, liveItems: number): Workload {
  const { removeRecord, insertRecord, modifyRecord } = createRecordFactory({ tableName: "products" });
  const records: StreamRecord[] = [];
  const owned = new Map<StreamRecord, Owned>();
  const liveObjects: string[] = [];
  for (let i = 0; i < removedItems; i++) {
    const live = `p-${i}-v2`;
    const hasLive = i < liveItems;
    if (hasLive) {
      records.push(insertRecord({ keys: { productId: live }, newImage: { productId: live, price: i } }));
      liveObjects.push(...mediaOf(live));
    }
    const removed = `p-${i}`;
    const remove = removeRecord({ keys: { productId: removed }, oldImage: { productId: removed, price: i } });
    records.push(remove);
    owned.set(remove, { keys: mediaOf(removed), prefixes: [] });
    if (i % 3 === 0) liveObjects.push(`media/${removed}.png.bak`);
    if (hasLive) {
      records.push(
        modifyRecord({
          keys: { productId: live },
          oldImage: { productId: live, price: i },
          newImage: { productId: live, price: i + 1 },
        }),
      );
    }
  }
  const objects = [...[...owned.values()].flatMap(({ keys }) => keys), ...liveObjects];
  return { records, owned, objects, liveObjects };
}

/** Removed items of the folder workload; every third one has a folder. */
const FOLDER_ITEMS = 24;
/** Live items of the folder workload, each with a folder of its own. */
const LIVE_FOLDER_ITEMS = 12;
/** How many objects each folder holds, in the order of the items that have one. */
const FOLDER_SIZES = [40, 250, 90, 300, 25, 180, 120, 60];

/**
 * Removed items `p-<i>`, each owning `products/p-<i>.json`, and every third one the folder
 * `products/p-<i>/` too (a prefix target, {@link FOLDER_SIZES} objects, one with awkward
 * characters); live items `p-<i>-v2` with their own `.json` and folder, INSERT and MODIFY records
 * between the removals. Live objects that lie next to the removed ones: `products/p-<i>-v2/…`
 * (which a prefix without its delimiter would take), a sibling folder `products/p-<i>0/` of each
 * removed folder, and backups `products/p-<i>.json.bak`.
 */
function folderWorkload(): Workload {
  const { removeRecord, insertRecord, modifyRecord } = createRecordFactory({ tableName: "products" });
  const records: StreamRecord[] = [];
  const owned = new Map<StreamRecord, Owned>();
  const objects: string[] = [];
  const liveObjects: string[] = [];
  const folder = (id: string, size: number) =>
    Array.from({ length: size }, (_, n) => `products/${id}/${n === 0 ? "sub dir/ü+%.png" : `${n}.png`}`);
  for (let i = 0; i < FOLDER_ITEMS; i++) {
    const live = `p-${i}-v2`;
    const hasLive = i < LIVE_FOLDER_ITEMS;
    if (hasLive) {
      records.push(insertRecord({ keys: { productId: live }, newImage: { productId: live } }));
      liveObjects.push(`products/${live}.json`, ...folder(live, 3));
    }
    const removed = `p-${i}`;
    const size = i % 3 === 0 ? FOLDER_SIZES[i / 3] : undefined;
    const remove = removeRecord({
      keys: { productId: removed },
      oldImage: { productId: removed, hasFolder: size !== undefined },
    });
    records.push(remove);
    const own = { keys: [`products/${removed}.json`], prefixes: size === undefined ? [] : [`products/${removed}/`] };
    owned.set(remove, own);
    objects.push(...own.keys, ...(size === undefined ? [] : folder(removed, size)));
    if (size !== undefined) liveObjects.push(...folder(`${removed}0`, 2));
    if (i % 4 === 1) liveObjects.push(`products/${removed}.json.bak`);
    if (hasLive) {
      records.push(
        modifyRecord({ keys: { productId: live }, oldImage: { productId: live }, newImage: { productId: live } }),
      );
    }
  }
  objects.push(...liveObjects);
  return { records, owned, objects, liveObjects };
}

/** The key function of the folder workload: the item's `.json`, and its folder when it has one. */
function folderKey(bucket: string) {
  return (item: RemovedItem) => {
    const id = String(item.keys.productId);
    const json = `products/${id}.json`;
    return item.oldImage?.hasFolder === true ? [json, { bucket, prefix: `products/${id}/` }] : json;
  };
}

/** The keys under `prefix` in `bucket`. */
async function keysUnder(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ""));
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return keys;
}

/**
 * What is left in `bucket` of what `records` own: their objects that exist (asked with HeadObject,
 * a few at a time, cheaper than listing the bucket), and every object under their prefixes.
 */
async function leftOf(
  s3: S3Client,
  bucket: string,
  records: readonly StreamRecord[],
  owned: Map<StreamRecord, Owned>,
): Promise<string[]> {
  const own = records.map((record) => owned.get(record) ?? { keys: [], prefixes: [] });
  const keys = own.flatMap(({ keys }) => keys);
  const found: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < keys.length) {
        const key = keys[next++] as string;
        try {
          await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
          found.push(key);
        } catch (error) {
          if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 404) throw error;
        }
      }
    }),
  );
  for (const prefix of own.flatMap(({ prefixes }) => prefixes)) found.push(...(await keysUnder(s3, bucket, prefix)));
  return found.sort();
}

/** One delivery, for the check that follows it. */
interface Delivery {
  /** Its number, from 1. */
  delivery: number;
  /** The checkpoint before it, and after: it passed `records.slice(from, to)`. */
  from: number;
  to: number;
  /** When the handler's signal was due (`performance.now()`), `timeoutMarginMs` before the timeout. */
  deadline: number;
}

/** What the delivery loop saw. */
interface Deliveries {
  deliveries: number;
  recordsReported: number;
  /** The longest invocation, in ms. */
  slowestMs: number;
}

/**
 * Delivers `records` to `handler` as Lambda's event source mapping does for one shard, until every
 * record is checkpointed; throws after {@link MAX_DELIVERIES}. After each invocation it calls
 * `check` with what the delivery did.
 */
async function deliver(
  handler: ReturnType<typeof createCleanupHandler>,
  records: readonly StreamRecord[],
  check: (delivery: Delivery) => Promise<void>,
): Promise<Deliveries> {
  const result: Deliveries = { deliveries: 0, recordsReported: 0, slowestMs: 0 };
  let checkpoint = 0;
  while (checkpoint < records.length) {
    if (result.deliveries >= MAX_DELIVERIES) {
      throw new Error(`${MAX_DELIVERIES} deliveries checkpointed only ${checkpoint} of ${records.length} records`);
    }
    const batch = records.slice(checkpoint, checkpoint + BATCH_SIZE);
    const timeout = performance.now() + FUNCTION_TIMEOUT_MS;
    const context = {
      awsRequestId: randomUUID(),
      getRemainingTimeInMillis: () => Math.max(0, Math.floor(timeout - performance.now())),
    };
    const started = performance.now();
    // Each invocation gets its own copy, as Lambda sends each its own JSON.
    const response = await handler(structuredClone(streamEvent(...batch)), context);
    const elapsedMs = performance.now() - started;
    result.deliveries++;
    result.slowestMs = Math.max(result.slowestMs, elapsedMs);
    expect(elapsedMs, `delivery ${result.deliveries} returned after the function's timeout`).toBeLessThan(
      FUNCTION_TIMEOUT_MS,
    );
    const reported = response.batchItemFailures.map(({ itemIdentifier }) => {
      const index = batch.findIndex((record) => record.dynamodb?.SequenceNumber === itemIdentifier);
      expect(
        index,
        `delivery ${result.deliveries} reported ${itemIdentifier}, not in its batch`,
      ).toBeGreaterThanOrEqual(0);
      return index;
    });
    result.recordsReported += reported.length;
    const from = checkpoint;
    checkpoint += reported.length === 0 ? batch.length : Math.min(...reported);
    await check({ delivery: result.deliveries, from, to: checkpoint, deadline: timeout - TIMEOUT_MARGIN_MS });
  }
  return result;
}

/** The fault kinds `settings` gives a chance that `faults` never counted: each should come up. */
function kindsNeverDrawn(settings: Omit<FaultSettings, "seed">, faults: FaultCounts): string[] {
  const whole = FAULT_KINDS.filter((kind) => settings[kind] > 0 && faults[kind] === 0);
  const listing = LISTING_FAULT_KINDS.filter((kind) => settings.listing[kind] > 0 && faults.listing[kind] === 0);
  return [...whole, ...listing.map((kind) => `listing.${kind}`)];
}

/** Polls `condition` every 20 ms until it holds; throws after 10 s. */
async function until(what: string, condition: () => Promise<boolean>): Promise<void> {
  const giveUp = performance.now() + 10_000;
  while (!(await condition())) {
    if (performance.now() > giveUp) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The requests the proxy still holds, once the client had a moment to close the connections it
 * gave up on: the handler passes its signal on to every request, and the client closes a request's
 * connection when the signal fires.
 */
async function stillHeld(proxy: S3Proxy): Promise<number> {
  await until("the client has closed every held connection", async () => (await proxy.stats()).held === 0).catch(
    () => undefined,
  );
  return (await proxy.stats()).held;
}

/** How a client call ended: answered, or the name and HTTP status of its error ("no answer" without one). */
function outcomeOf<T>(call: Promise<T>, answered: (output: T) => string): Promise<string> {
  return call.then(answered, (error: { name: string; $metadata?: { httpStatusCode?: number } }) => {
    const status = error.$metadata?.httpStatusCode;
    if (error.name === "AbortError") return "gave up";
    return status === undefined ? "no answer" : `${error.name} (HTTP ${status})`;
  });
}

/** Runs the delivery loop, then counts the requests the proxy still holds; the client is destroyed either way. */
async function deliverAll(
  handler: Parameters<typeof deliver>[0],
  records: Parameters<typeof deliver>[1],
  check: Parameters<typeof deliver>[2],
  s3: S3Client,
  proxy: S3Proxy,
): Promise<{ deliveries: Deliveries; held: number }> {
  try {
    const deliveries = await deliver(handler, records, check);
    return { deliveries, held: await stillHeld(proxy) };
  } finally {
    s3.destroy();
  }
}

describe("fault injection: 503s, 500s, dropped and held connections, per-key errors, slow listings", () => {
  let started: S3Proxy | undefined;
  const proxy = () => started as S3Proxy;
  const direct = new S3Client({ ...localClientConfig(inject("motoEndpoint")), forcePathStyle: true });
  const throughProxy = (maxAttempts: number) =>
    new S3Client({ ...localClientConfig(proxy().endpoint), forcePathStyle: true, maxAttempts });

  beforeAll(async () => {
    started = await startS3Proxy(inject("motoEndpoint"), { ...NO_FAULTS, seed: 0 });
  });

  // Also when a test or beforeAll fails; the proxy stops by itself too when this process is gone.
  afterAll(async () => {
    direct.destroy();
    await started?.stop();
  });

  describe("the proxy", () => {
    const keys = ["a.png", "a.png.bak"];
    const deleteKeys = (s3: S3Client, bucket: string, abortSignal?: AbortSignal) =>
      s3.send(
        new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }),
        abortSignal === undefined ? {} : { abortSignal },
      );
    const listV2 = (s3: S3Client, bucket: string, abortSignal?: AbortSignal) =>
      s3
        .send(new ListObjectsV2Command({ Bucket: bucket }), abortSignal === undefined ? {} : { abortSignal })
        .then(({ Contents = [] }) => Contents.map(({ Key }) => Key).join());

    it.each([
      { fault: { slowDown: 1 }, heard: "SlowDown (HTTP 503)", deleted: false },
      { fault: { internalError: 1 }, heard: "InternalError (HTTP 500)", deleted: false },
      { fault: { dropBefore: 1 }, heard: "no answer", deleted: false },
      { fault: { dropAfter: 1 }, heard: "no answer", deleted: true },
      { fault: { perKey: 1, keyErrorRate: 1 }, heard: "InternalError or SlowDown for every key", deleted: false },
    ])("with $fault the client hears $heard, and moto deleted: $deleted", async ({ fault, heard, deleted }) => {
      // Prepare
      const bucket = await createBucket(direct, "fault-kinds");
      await putObjects(direct, bucket, keys);
      await proxy().configure({ ...NO_FAULTS, seed: 1, ...fault });
      const s3 = throughProxy(1);

      // Act
      const answer = await outcomeOf(deleteKeys(s3, bucket), ({ Errors = [] }) =>
        Errors.length === keys.length && Errors.every(({ Code }) => Code === "InternalError" || Code === "SlowDown")
          ? "InternalError or SlowDown for every key"
          : `per-key errors ${JSON.stringify(Errors)}`,
      ).finally(() => s3.destroy());

      // Assess
      expect(answer).toBe(heard);
      expect(await listKeys(direct, bucket)).toEqual(deleted ? [] : keys);
    });

    it.each(
      ["ListObjectsV2", "ListObjectVersions"].flatMap(
        (request) =>
          [
            { request, kind: "slowDown", slowMs: 0, heard: "SlowDown (HTTP 503)" },
            { request, kind: "drop", slowMs: 0, heard: "no answer" },
            { request, kind: "slow", slowMs: 200, heard: keys.join() },
          ] as const,
      ),
    )("with listing fault $kind a $request client hears $heard", async ({ request, kind, slowMs, heard }) => {
      // Prepare
      const bucket = await createBucket(direct, "listing-faults");
      await putObjects(direct, bucket, keys);
      await proxy().configure({ ...NO_FAULTS, seed: 1, listing: { ...NO_LISTING_FAULTS, [kind]: 1, slowMs } });
      const s3 = throughProxy(1);
      const list =
        request === "ListObjectsV2"
          ? listV2(s3, bucket)
          : s3
              .send(new ListObjectVersionsCommand({ Bucket: bucket }))
              .then(({ Versions = [] }) => Versions.map(({ Key }) => Key).join());
      const started = performance.now();

      // Act
      const answer = await outcomeOf(list, (keys: string) => keys).finally(() => s3.destroy());
      const elapsedMs = performance.now() - started;
      const stats = await proxy().stats();

      // Assess: a lower bound only, which the proxy's wait guarantees
      expect(answer).toBe(heard);
      expect(stats.listRequests).toBe(1);
      expect(stats.faults.listing).toEqual({ slowDown: 0, drop: 0, hang: 0, slow: 0, [kind]: 1 });
      expect(elapsedMs).toBeGreaterThanOrEqual(slowMs - 5);
      expect(stats.deleteRequests).toBe(0);
    });

    it.each([
      { request: "DeleteObjects", fault: { hang: 1 } },
      { request: "ListObjectsV2", fault: { listing: { ...NO_LISTING_FAULTS, hang: 1 } } },
    ])(
      "holds a $request request that hangs until the client gives up, and closes held connections on configure",
      async ({ request, fault }) => {
        // Prepare
        const bucket = await createBucket(direct, "hang");
        await putObjects(direct, bucket, keys);
        await proxy().configure({ ...NO_FAULTS, seed: 1, ...fault });
        const s3 = throughProxy(1);
        const send = (abortSignal?: AbortSignal) =>
          outcomeOf(
            request === "DeleteObjects"
              ? deleteKeys(s3, bucket, abortSignal).then(String)
              : listV2(s3, bucket, abortSignal),
            () => "answered",
          );
        const held = async (count: number) => (await proxy().stats()).held === count;

        // Act: one request the client gives up on, one the proxy's configure closes
        const giveUp = new AbortController();
        const givenUp = send(giveUp.signal);
        await until("the proxy holds the request", () => held(1));
        giveUp.abort();
        const heardWhenGivingUp = await givenUp;
        await until("the client's closed connection is let go", () => held(0));
        const closed = send();
        await until("the proxy holds the second request", () => held(1));
        const { faults } = await proxy().stats();
        await proxy().configure({ ...NO_FAULTS, seed: 1 });
        const heardOnConfigure = await closed.finally(() => s3.destroy());

        // Assess
        expect(heardWhenGivingUp).toBe("gave up");
        expect(heardOnConfigure).toBe("no answer");
        expect((await proxy().stats()).held).toBe(0);
        expect(request === "DeleteObjects" ? faults.hang : faults.listing.hang).toBe(2);
        expect(await listKeys(direct, bucket)).toEqual(keys);
      },
    );
  });

  describe.each(DELETE_RUNS)("seed $seed, $with", ({ seed, faults: settings }) => {
    it("returns before the timeout, never checkpoints past a record whose objects exist, and ends with every removed object gone and every live one kept", async ({
      annotate,
    }) => {
      // Prepare
      const { records, owned, objects, liveObjects } = mediaWorkload(300, 100);
      const bucket = await createBucket(direct, `faults-${seed}`);
      await putObjects(direct, bucket, objects);
      const s3 = throughProxy(CLIENT_MAX_ATTEMPTS);
      const summaries: CleanupSummary[] = [];
      const handler = createCleanupHandler({
        bucket,
        key: MEDIA_KEY,
        s3Client: s3,
        logger: quietLogger().logger,
        timeoutMarginMs: TIMEOUT_MARGIN_MS,
        onResult: (summary) => {
          summaries.push(summary);
        },
      });
      await proxy().configure({ ...settings, seed });

      /**
       * On moto directly: nothing left of the records the checkpoint has just passed. Earlier ones were
       * checked before, and nothing writes their objects again. A live object deleted at any time
       * stays deleted, so the final listing catches it.
       */
      const check = async ({ from, to, delivery }: Delivery) => {
        const left = await leftOf(direct, bucket, records.slice(from, to), owned);
        expect(left, `delivery ${delivery} moved the checkpoint from ${from} to ${to}, objects left`).toEqual([]);
      };

      // Act
      const { deliveries, held } = await deliverAll(handler, records, check, s3, proxy());
      const { faults, deleteRequests } = await proxy().stats();
      const cutOff = summaries.filter((summary) => summary.aborted).length;
      await annotate(
        `${deliveries.deliveries} deliveries (${cutOff} cut off by the signal), ${deliveries.recordsReported} ` +
          `records reported, slowest ${Math.round(deliveries.slowestMs)} ms; ${deleteRequests} delete requests, ` +
          `faults ${JSON.stringify(faults)}`,
      );

      // Assess
      expect(await listKeys(direct, bucket)).toEqual([...liveObjects].sort());
      // The same seed and requests draw the same faults: every kind comes up with these seeds.
      expect(kindsNeverDrawn(settings, faults)).toEqual([]);
      // Only the signal ends a held request: a delivery that met one was cut off, and returned in time.
      expect(cutOff).toBeGreaterThanOrEqual(Math.min(1, faults.hang));
      expect(held).toBe(0);
    });
  });

  describe.each(LISTING_SEEDS)("seed %i, prefix targets with listing faults", (seed) => {
    it("deletes something under every prefix it listed a page of, never checkpoints past a record with objects left under its prefix, and keeps the siblings", async ({
      annotate,
    }) => {
      // Prepare
      const { records, owned, objects, liveObjects } = folderWorkload();
      const bucket = await createBucket(direct, `listing-${seed}`);
      await putObjects(direct, bucket, objects);
      const s3 = throughProxy(CLIENT_MAX_ATTEMPTS);
      // The pages the handler heard: each with the delivery its request started in.
      const heard: { delivery: number; prefix: string; at: number }[] = [];
      let current = 1;
      s3.middlewareStack.add(
        (next, context) => async (args) => {
          const delivery = current;
          const result = await next(args);
          if (context.commandName === "ListObjectsV2Command") {
            const { Prefix = "" } = args.input as ListObjectsV2CommandInput;
            const { Contents = [] } = result.output as ListObjectsV2CommandOutput;
            if (Contents.length > 0) heard.push({ delivery, prefix: Prefix, at: performance.now() });
          }
          return result;
        },
        { step: "initialize", name: "watchListings" },
      );
      const summaries: CleanupSummary[] = [];
      const handler = createCleanupHandler({
        bucket,
        key: folderKey(bucket),
        allowedPrefixes: ["products/"],
        maxListedObjects: MAX_LISTED_OBJECTS,
        s3Client: s3,
        logger: quietLogger().logger,
        timeoutMarginMs: TIMEOUT_MARGIN_MS,
        onResult: (summary) => {
          summaries.push(summary);
        },
      });
      await proxy().configure({ ...LISTING_FAULTS, seed });
      const prefixes = [...owned.values()].flatMap((own) => own.prefixes);
      /** How many objects each removed prefix held after the last delivery. */
      let before = new Map(prefixes.map((prefix) => [prefix, objects.filter((key) => key.startsWith(prefix)).length]));
      let pagesChecked = 0;
      let deliveriesWithPages = 0;

      /** Safety as above, and progress: every prefix the handler heard a page of holds fewer objects now. */
      const check = async ({ from, to, delivery, deadline }: Delivery) => {
        const left = await leftOf(direct, bucket, records.slice(from, to), owned);
        expect(left, `delivery ${delivery} moved the checkpoint from ${from} to ${to}, objects left`).toEqual([]);
        const after = new Map(
          await Promise.all(
            prefixes.map(async (prefix) => [prefix, (await keysUnder(direct, bucket, prefix)).length] as const),
          ),
        );
        const cut = summaries[delivery - 1]?.aborted !== false;
        const pages = heard.filter(
          (page) => page.delivery === delivery && (!cut || page.at <= deadline - LATE_PAGE_MS),
        );
        pagesChecked += pages.length;
        if (pages.length > 0) deliveriesWithPages++;
        for (const prefix of new Set(pages.map((page) => page.prefix))) {
          expect(
            after.get(prefix),
            `delivery ${delivery} listed a page under ${prefix} and deleted nothing there`,
          ).toBeLessThan(before.get(prefix) as number);
        }
        before = after;
        current = delivery + 1;
      };

      // Act
      const { deliveries, held } = await deliverAll(handler, records, check, s3, proxy());
      const { faults, listRequests } = await proxy().stats();
      const cutOff = summaries.filter((summary) => summary.aborted).length;
      await annotate(
        `${deliveries.deliveries} deliveries (${cutOff} cut off by the signal, ${deliveriesWithPages} with pages ` +
          `checked), ${deliveries.recordsReported} records reported, slowest ` +
          `${Math.round(deliveries.slowestMs)} ms; ${listRequests} listing requests, ${heard.length} pages heard, ` +
          `${pagesChecked} checked; faults ${JSON.stringify(faults.listing)}`,
      );

      // Assess
      expect(await listKeys(direct, bucket)).toEqual([...liveObjects].sort());
      expect(kindsNeverDrawn(LISTING_FAULTS, faults)).toEqual([]);
      expect(cutOff).toBeGreaterThanOrEqual(Math.min(1, faults.listing.hang));
      expect(held).toBe(0);
      // The larger folders need several deliveries of MAX_LISTED_OBJECTS each.
      expect(deliveriesWithPages).toBeGreaterThanOrEqual(Math.max(...FOLDER_SIZES) / MAX_LISTED_OBJECTS);
    });
  });
});
