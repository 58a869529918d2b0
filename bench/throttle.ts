/**
 * Issue #9, "Throughput under throttling": how close the handler gets to S3's delete rate limit
 * (about 3,500 DELETE/s per prefix, 503 SlowDown above it) without being throttled much, and
 * whether it still returns before the function's timeout.
 *
 * Set-up: moto, started by the project's own script (test/services/moto.ts) and stopped by PID, with
 * the loopback proxy of test/services/s3-proxy.ts in front of it, in a node process of its own (also
 * stopped by PID), so that its clock and event loop are not the measured client's. The proxy limits
 * delete work to `--limit` keys per second (default 3,500, S3's figure) with a token bucket of at
 * most `--burst` keys (default 2,000: two full DeleteObjects requests, so that a sender at the limit
 * has about 0.3 s of slack for jitter) holding `START` (1,000: one full request) when a run begins,
 * and refuses what is above it in one of two modes:
 * - 503: a delete request passes whole or gets HTTP 503 SlowDown, which the SDK retries (a
 *   throttling error: its adaptive mode slows down on it);
 * - per-key: a DeleteObjects request gets as many keys deleted as there are tokens, and the others
 *   come back as per-key SlowDown errors in its 200 answer, which the SDK does not see as errors.
 * A first run with no limit ("off") shows how fast the same set-up goes unthrottled: the headroom
 * moto, the proxy and the handler on this machine have over the limit. In each mode a reference
 * runs first: no handler, DeleteObjects of 1,000 keys on a fixed schedule at 95% of the limit, no
 * retries. It shows that the targets can be met through this proxy, in the same units.
 *
 * Workload, the same for every run: `RECORDS` REMOVE records (bench/events.ts, KEYS_ONLY, key
 * "{productId}.png"), one shard, delivered as Lambda's event source mapping does: batches of
 * `BATCH_SIZE` records, one invocation at a time, each with a `FUNCTION_TIMEOUT_MS` budget
 * (`context.getRemainingTimeInMillis()`); after a partial batch response the batch is delivered again
 * from its lowest reported record (everything before it is checkpointed); an invocation that throws
 * or returns after its timeout fails its whole batch. moto's PutObject is slow (about 225 a second
 * here), so before each run only every `UPLOAD_EVERY`-th key is uploaded (directly to moto, not
 * through the proxy): deleting a missing key costs a token and a key in a request all the same, and
 * moto answers Deleted for it. Goodput counts distinct keys the proxy saw deleted; after each run the
 * uploaded objects must be gone (listed on moto directly).
 *
 * Variants, each measured against every mode with a fresh S3 client (the adaptive rate limiter's
 * state lives in the client) and the handler from dist/ with its defaults (concurrency 4,
 * maxAttempts 3, timeoutMarginMs 2,000): see VARIANTS. Another way of sending (such as a concurrency
 * controller the handler may gain as an option) is one more entry there.
 *
 * Figures per run: wall time from the first delivery to the last answer; goodput = distinct keys
 * deleted ÷ wall time, also as a share of what the bucket admits in that time (START + limit × wall
 * time, so that the tokens held at the start do not count as goodput above the limit); delete requests and
 * the share the proxy throttled (a 503, or at least one key refused); records reported (sum of
 * batchItemFailures over invocations); invocations; and the latest return relative to the
 * invocation's timeout (negative: before it). Targets (issue #9): goodput ≥ 90% of the limit with
 * ≤ 5% of requests throttled, and every invocation returning before its timeout.
 *
 * The library is imported from dist/: `npm run build` first.
 * Run: npx tsx bench/throttle.ts [--limit 3500] [--burst 2000] [--records 20000] [--variants 1,2]
 *   (BENCH_SMOKE=1 for a short smoke run)
 */
import { randomUUID } from "node:crypto";
import { loadavg } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import type { CleanupHandler, CommonCleanupOptions, Logger, StreamRecord } from "../src/index.js";
import { localClientConfig } from "../test/services/index.js";
import { startMoto } from "../test/services/moto.js";
import {
  type ProxyStats,
  type S3Proxy,
  startS3Proxy,
  type ThrottleMode,
  type ThrottleSettings,
} from "../test/services/s3-proxy.js";
import { BUCKET, KEY_TEMPLATE, removeRecords } from "./events.js";
import { loadLibrary, main, printHeader, SMOKE, sized, table, verdict } from "./lib.js";
import { countObjects, pool } from "./moto-bucket.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const { values: args } = parseArgs({
  options: {
    limit: { type: "string" },
    burst: { type: "string" },
    records: { type: "string" },
    variants: { type: "string" },
  },
  strict: true,
});
const LIMIT = positiveNumber(args.limit ?? "3500", "--limit");
const BURST = positiveNumber(args.burst ?? "2000", "--burst");
/** The tokens in the bucket at the start of a run: one full DeleteObjects request. */
const START = 1000;
if (BURST < START) throw new Error(`--burst must be at least ${START}: a full DeleteObjects request must fit`);

/** `--records`: a longer run shows the steady state, where the first second's burst weighs less. */
const RECORDS = args.records === undefined ? sized(20_000, 2_000) : positiveNumber(args.records, "--records");
const BATCH_SIZE = sized(5_000, 1_000);
const FUNCTION_TIMEOUT_MS = 5_000;
const UPLOAD_EVERY = sized(20, 50);
const UPLOADS_IN_FLIGHT = 8;
/** Bounds on one run, so that a variant that makes no progress cannot hold the benchmark up. */
const MAX_INVOCATIONS = sized(Math.max(60, (3 * RECORDS) / 1000), 20);
const MAX_RUN_MS = sized(Math.max(45_000, (3 * RECORDS * 1000) / LIMIT), 20_000);
const THROTTLED_MODES: readonly ThrottleMode[] = ["503", "per-key"];
/** The paced reference sends at this share of the limit. */
const PACED_SHARE = 0.95;
const PACED_LABEL = `(ref) paced DeleteObjects at ${PACED_SHARE * 100}% of the limit, no handler`;
const TARGET_GOODPUT = 0.9;
const TARGET_THROTTLED = 0.05;

/** One way of sending the deletes: an S3 client configuration and handler options. */
interface Variant {
  label: string;
  /** Added to the client's configuration (endpoint, region, credentials, forcePathStyle). */
  client: Partial<S3ClientConfig>;
  /** Added to the handler's options (bucket, key, s3Client, logger). */
  handler?: CommonCleanupOptions;
}

/**
 * The variants, in the order they run and print. A later way of sending, such as a concurrency
 * controller (AIMD) the handler may gain, is one more entry: for example
 * `{ label: "(3) AIMD concurrency", client: {}, handler: { <its option> } }`.
 */
const VARIANTS: readonly Variant[] = [
  { label: "(1) handler, adaptiveRate (AIMD pace, the default)", client: {} },
  { label: "(2) handler, adaptiveRate: false", client: {}, handler: { adaptiveRate: false } },
  {
    label: '(3) handler, adaptiveRate: false, S3Client retryMode "adaptive"',
    client: { retryMode: "adaptive" },
    handler: { adaptiveRate: false },
  },
];
/** `--variants 1,3`: only those variants (by their number in the list), the references still run. */
const CHOSEN =
  args.variants === undefined ? VARIANTS : VARIANTS.filter((_, i) => args.variants?.split(",").includes(String(i + 1)));

/** What the Lambda-like delivery loop saw. */
interface Deliveries {
  invocations: number;
  recordsReported: number;
  /** The most any invocation returned after its timeout, in ms (negative: all returned before). */
  latestVsTimeoutMs: number;
  /** Invocations that threw or returned after their timeout: their whole batch was delivered again. */
  wholeBatchFailures: number;
  /** Records checkpointed: all of them unless a bound on the run stopped it. */
  checkpointed: number;
}

/** One measured run: a variant (or the paced reference) in one mode. */
interface Run {
  label: string;
  mode: ThrottleMode;
  wallMs: number;
  proxy: ProxyStats;
  /**
   * The 99th percentile and the most this process's event loop (the handler's and the SDK's) was
   * late during the run, in ms: a late loop delays requests and stretches backoffs and timeouts.
   */
  loopDelayMs: { p99: number; max: number };
  /** The delivery loop's figures; absent for the paced reference, which calls no handler. */
  deliveries?: Deliveries;
  /** Uploaded objects still in the bucket after the run; absent for the paced reference. */
  left?: number;
}

/** The proxy's settings for a run in `mode`. */
const settings = (mode: ThrottleMode): ThrottleSettings => ({
  mode,
  keysPerSecond: LIMIT,
  burstKeys: BURST,
  startKeys: START,
});

const SILENT: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

function positiveNumber(text: string, name: string): number {
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value)) throw new Error(`${name} must be a number above 0, not ${text}`);
  return value;
}

/**
 * Delivers `records` to `handler` as Lambda's event source mapping does for one shard, until every
 * record is checkpointed or a bound on the run is reached.
 */
async function deliver(handler: CleanupHandler, records: readonly StreamRecord[]): Promise<Deliveries> {
  const result: Deliveries = {
    invocations: 0,
    recordsReported: 0,
    latestVsTimeoutMs: Number.NEGATIVE_INFINITY,
    wholeBatchFailures: 0,
    checkpointed: 0,
  };
  const started = performance.now();
  let retry: StreamRecord[] | undefined;
  while (
    result.checkpointed < records.length &&
    result.invocations < MAX_INVOCATIONS &&
    performance.now() - started < MAX_RUN_MS
  ) {
    const batch = retry ?? records.slice(result.checkpointed, result.checkpointed + BATCH_SIZE);
    // Each invocation gets its own copy, as Lambda sends each its own JSON.
    const event = { Records: structuredClone(batch) };
    const timeout = performance.now() + FUNCTION_TIMEOUT_MS;
    const context = {
      awsRequestId: randomUUID(),
      getRemainingTimeInMillis: () => Math.max(0, Math.floor(timeout - performance.now())),
    };
    let failedIndex: number | undefined;
    let threw = false;
    try {
      const response = await handler(event, context);
      const failures = response?.batchItemFailures ?? [];
      result.recordsReported += failures.length;
      failedIndex = lowestReported(batch, failures);
    } catch {
      threw = true;
    }
    const returnedVsTimeout = performance.now() - timeout;
    result.invocations++;
    result.latestVsTimeoutMs = Math.max(result.latestVsTimeoutMs, returnedVsTimeout);
    // Lambda does not see the answer of an invocation that threw or ran past its timeout.
    if (threw || returnedVsTimeout > 0) {
      result.wholeBatchFailures++;
      failedIndex = 0;
    }
    if (failedIndex === undefined) {
      result.checkpointed += batch.length;
      retry = undefined;
    } else {
      result.checkpointed += failedIndex;
      retry = batch.slice(failedIndex);
    }
  }
  return result;
}

/**
 * The index in `batch` of the lowest reported record, or undefined when none is reported. An
 * identifier that is not a SequenceNumber of the batch fails the whole batch, as in Lambda.
 */
function lowestReported(batch: readonly StreamRecord[], failures: readonly { itemIdentifier: string }[]) {
  if (failures.length === 0) return undefined;
  let lowest = Number.POSITIVE_INFINITY;
  for (const { itemIdentifier } of failures) {
    const index = batch.findIndex((record) => record.dynamodb?.SequenceNumber === itemIdentifier);
    if (index < 0) return 0;
    lowest = Math.min(lowest, index);
  }
  return lowest;
}

/**
 * Checks that the proxy speaks S3 as the SDK reads it: per-key SlowDown entries (split requests,
 * escaped keys), 503 SlowDown for DeleteObjects and DeleteObject, and pass-through when off.
 * Deleting keys that do not exist is fine: S3 and moto answer Deleted.
 */
async function checkProxy(proxy: S3Proxy): Promise<string> {
  const s3 = new S3Client({ ...localClientConfig(proxy.endpoint), forcePathStyle: true, maxAttempts: 1 });
  const keys = (count: number, prefix: string) =>
    Array.from({ length: count }, (_, i) => ({ Key: `self-check/${prefix}-${i}` }));
  const deleteObjects = (objects: { Key: string }[]) =>
    s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: objects, Quiet: false } }));
  const fail = (what: string) => {
    throw new Error(`throttle proxy self-check: ${what}`);
  };
  try {
    // Per-key: a bucket of 1,000 tokens barely refilling; 1,500 keys split 1,000 / 500.
    await proxy.configure({ mode: "per-key", keysPerSecond: 0.001, burstKeys: 1000, startKeys: 1000 });
    const split = keys(1500, "split");
    const first = await deleteObjects(split);
    const refused = (first.Errors ?? []).map((error) => `${error.Key}:${error.Code}`);
    const expected = split.slice(1000).map((object) => `${object.Key}:SlowDown`);
    if ((first.Deleted ?? []).length !== 1000 || refused.join() !== expected.join()) {
      fail(`1,500 keys with 1,000 tokens gave ${first.Deleted?.length} deleted, ${refused.length} refused`);
    }
    const odd = [{ Key: "self-check/a&b <c>.png" }, { Key: "self-check/ü+%?.png" }];
    const none = await deleteObjects(odd);
    if ((none.Errors ?? []).map((error) => error.Key).join() !== odd.map((object) => object.Key).join()) {
      fail(`keys with no token left came back as ${JSON.stringify(none.Errors)}`);
    }
    // 503: the first request takes the bucket, the next ones are refused whole.
    await proxy.configure({ mode: "503", keysPerSecond: 0.001, burstKeys: 1000, startKeys: 1000 });
    await deleteObjects(keys(1000, "whole"));
    for (const send of [
      () => deleteObjects(keys(2, "refused")),
      () => s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "self-check/single" })),
    ]) {
      const error = await send().then(
        () => undefined,
        (thrown: unknown) => thrown as { name?: string; $metadata?: { httpStatusCode?: number } },
      );
      if (error?.name !== "SlowDown" || error.$metadata?.httpStatusCode !== 503) {
        fail(`expected a 503 SlowDown, got ${error === undefined ? "success" : `${error.name}`}`);
      }
    }
    await proxy.configure({ mode: "off", keysPerSecond: 0.001, burstKeys: 1000, startKeys: 1000 });
    const passed = await deleteObjects(keys(1000, "off"));
    if ((passed.Errors ?? []).length > 0) fail("mode off refused keys");
    const stats = await proxy.stats();
    if (stats.distinctKeysDeleted !== 1000 || stats.throttledRequests !== 0) fail("mode off miscounted");
    return "per-key split 1,000/500 with escaped keys, 503 for DeleteObjects and DeleteObject, pass-through when off";
  } finally {
    s3.destroy();
  }
}

const thousands = (value: number) => Math.round(value).toLocaleString("en");
const percent = (value: number) => `${(value * 100).toFixed(value < 0.1 && value > 0 ? 1 : 0)}%`;
const signedMs = (value: number) => `${value > 0 ? "+" : ""}${thousands(value)} ms`;
const seconds = (value: number) => `${(value / 1000).toFixed(1)} s`;
const kilo = (value: number) => (value >= 1000 ? `${(value / 1000).toFixed(1)}k` : String(value));

main(async () => {
  printHeader(
    "Benchmark: throughput under throttling, through a rate-limiting proxy in front of moto (issue #9)",
    `${SMOKE ? "BENCH_SMOKE=1 " : ""}npx tsx bench/throttle.ts --limit ${LIMIT} --burst ${BURST} --records ${RECORDS}` +
      (args.variants === undefined ? "" : ` --variants ${args.variants}`),
  );
  if (KEY_TEMPLATE !== "{productId}.png") throw new Error("bench/throttle.ts computes keys as {productId}.png");
  const lib = await loadLibrary();
  const records = removeRecords("KEYS_ONLY", RECORDS);
  const keys = records.map((record) => `${record.dynamodb?.Keys?.productId?.S}.png`);
  const uploaded = keys.filter((_, i) => i % UPLOAD_EVERY === 0);

  const loadAtStart = loadavg()[0] ?? 0;
  const started = performance.now();
  let uploadMs = 0;
  const moto = await startMoto();
  let proxy: S3Proxy | undefined;
  try {
    const direct = new S3Client({ ...localClientConfig(moto.endpoint), forcePathStyle: true });
    await direct.send(new CreateBucketCommand({ Bucket: BUCKET }));
    proxy = await startS3Proxy(moto.endpoint, settings("off"));
    const throttle = proxy;
    const selfCheck = await checkProxy(throttle);

    /** Configures the proxy, runs `work` with the event loop watched, and returns the proxy's counts. */
    const timed = async (mode: ThrottleMode, work: () => Promise<void>) => {
      const loop = monitorEventLoopDelay({ resolution: 10 });
      await throttle.configure(settings(mode));
      loop.enable();
      const start = performance.now();
      await work();
      const wallMs = performance.now() - start;
      loop.disable();
      const proxy = await throttle.stats();
      return { wallMs, proxy, loopDelayMs: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 } };
    };

    const measure = async (variant: Variant, mode: ThrottleMode): Promise<Run> => {
      const uploadStart = performance.now();
      await pool(uploaded, UPLOADS_IN_FLIGHT, async (key) => {
        await direct.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
      });
      uploadMs += performance.now() - uploadStart;
      const s3 = new S3Client({ ...localClientConfig(throttle.endpoint), forcePathStyle: true, ...variant.client });
      const handler = lib.createCleanupHandler({
        bucket: BUCKET,
        key: KEY_TEMPLATE,
        s3Client: s3,
        logger: SILENT,
        ...variant.handler,
      });
      let deliveries: Deliveries | undefined;
      const measured = await timed(mode, async () => {
        deliveries = await deliver(handler, records);
      });
      s3.destroy();
      const left = await countObjects(direct);
      const done = deliveries as Deliveries;
      if (done.checkpointed === records.length && left > 0) {
        throw new Error(`${variant.label}, ${mode}: every record checkpointed, yet ${left} objects are left`);
      }
      return { label: variant.label, mode, ...measured, deliveries: done, left };
    };

    /**
     * The reference: no handler, no retries; DeleteObjects of 1,000 keys sent on a fixed schedule at
     * PACED_SHARE of the limit, the first at once. It shows what the proxy lets a client that keeps
     * to the limit do, in the same units.
     */
    const paced = async (mode: ThrottleMode): Promise<Run> => {
      const s3 = new S3Client({ ...localClientConfig(throttle.endpoint), forcePathStyle: true, maxAttempts: 1 });
      const batches: string[][] = [];
      for (let start = 0; start < keys.length; start += 1000) batches.push(keys.slice(start, start + 1000));
      const measured = await timed(mode, async () => {
        const start = performance.now();
        let due = 0;
        await Promise.all(
          batches.map(async (batch) => {
            const at = due;
            due += (batch.length / (LIMIT * PACED_SHARE)) * 1000;
            await sleep(Math.max(0, start + at - performance.now()));
            await s3
              .send(
                new DeleteObjectsCommand({
                  Bucket: BUCKET,
                  Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
                }),
              )
              .catch(() => undefined); // Counted by the proxy; the reference does not retry.
          }),
        );
      });
      s3.destroy();
      return { label: PACED_LABEL, mode, ...measured };
    };

    // Warm-up, untimed: connections, the handler's JIT, moto's DeleteObjects path.
    {
      const s3 = new S3Client({ ...localClientConfig(throttle.endpoint), forcePathStyle: true });
      const handler = lib.createCleanupHandler({ bucket: BUCKET, key: KEY_TEMPLATE, s3Client: s3, logger: SILENT });
      await throttle.configure(settings("off"));
      await handler({ Records: structuredClone(records.slice(0, Math.min(BATCH_SIZE, 4000))) });
      s3.destroy();
    }

    const runs: Run[] = [await measure(VARIANTS[0] as Variant, "off")];
    for (const mode of THROTTLED_MODES) {
      runs.push(await paced(mode));
      for (const variant of CHOSEN) runs.push(await measure(variant, mode));
    }

    console.log(
      `${RECORDS.toLocaleString("en")} REMOVE records (KEYS_ONLY, key "${KEY_TEMPLATE}"), one shard: batches of ` +
        `${BATCH_SIZE.toLocaleString("en")}, one invocation at a time, ${FUNCTION_TIMEOUT_MS.toLocaleString("en")} ms ` +
        "function timeout; a partial batch response is redelivered from its lowest reported record.",
    );
    console.log(
      `Limit: ${LIMIT.toLocaleString("en")} keys/s, token bucket of at most ${BURST.toLocaleString("en")} keys, ` +
        `holding ${START.toLocaleString("en")} at the start of each run. A DeleteObjects request costs one token per ` +
        "key, a DeleteObject one. The proxy runs in a process of its own.",
    );
    console.log(
      `Handler from dist/ with its defaults (concurrency 4, maxAttempts 3, timeoutMarginMs 2,000); ` +
        `1 in ${UPLOAD_EVERY} keys uploaded before each run (${uploaded.length.toLocaleString("en")} objects). ` +
        `Proxy self-check: ${selfCheck}.`,
    );
    console.log();

    const modeLabel = (mode: ThrottleMode) => (mode === "off" ? "off (no limit)" : mode);
    const capacity = (run: Run) => START + (LIMIT * run.wallMs) / 1000;
    const rows = runs.map((run) => {
      const { deliveries: d, proxy: p } = run;
      const goodput = p.distinctKeysDeleted / (run.wallMs / 1000);
      const share = p.distinctKeysDeleted / capacity(run);
      const throttled = p.deleteRequests === 0 ? 0 : p.throttledRequests / p.deleteRequests;
      const onTime = d === undefined ? undefined : d.latestVsTimeoutMs < 0;
      const limited = run.mode !== "off";
      return [
        run.label,
        modeLabel(run.mode),
        seconds(run.wallMs),
        thousands(goodput),
        percent(share),
        limited ? verdict(share, TARGET_GOODPUT, ">=") : "-",
        thousands(p.deleteRequests),
        percent(throttled),
        limited ? verdict(throttled, TARGET_THROTTLED, "<=") : "-",
        d === undefined ? "-" : thousands(d.recordsReported),
        d === undefined ? "-" : `${d.invocations}${d.checkpointed === records.length ? "" : " (stopped)"}`,
        d === undefined ? "-" : signedMs(d.latestVsTimeoutMs),
        onTime === undefined ? "-" : onTime ? "PASS" : "MISS",
      ];
    });
    console.log(
      table(
        [
          "variant",
          "mode",
          "wall",
          "goodput keys/s",
          "of limit",
          `>= ${percent(TARGET_GOODPUT)}`,
          "delete requests",
          "throttled",
          `<= ${percent(TARGET_THROTTLED)}`,
          "records reported",
          "invocations",
          "latest return vs timeout",
          "before timeout",
        ],
        rows,
      ),
    );
    console.log();
    console.log(
      "goodput = distinct keys deleted / wall; of limit = distinct keys deleted / (start + limit x wall), what the " +
        "bucket admits in that time. throttled = delete requests answered 503 or with at least one key refused. " +
        "records reported = sum of batchItemFailures. (stopped) = a bound on the run (invocations or time) stopped " +
        "it before every record was checkpointed.",
    );
    console.log();
    console.log(
      table(
        [
          "variant",
          "mode",
          "keys deleted incl. repeats",
          "bucket used",
          "keys refused",
          "whole-batch failures",
          "uploaded objects left",
          "event-loop delay p99 / max",
        ],
        runs.map((run) => [
          run.label,
          modeLabel(run.mode),
          thousands(run.proxy.keysDeleted),
          run.mode === "off" ? "-" : percent(run.proxy.keysDeleted / capacity(run)),
          thousands(run.proxy.keysRefused),
          run.deliveries === undefined ? "-" : thousands(run.deliveries.wholeBatchFailures),
          run.left === undefined ? "-" : thousands(run.left),
          `${run.loopDelayMs.p99.toFixed(0)} / ${run.loopDelayMs.max.toFixed(0)} ms`,
        ]),
      ),
    );
    console.log();
    console.log(
      "keys deleted incl. repeats: a redelivered record deletes its key again. bucket used = keys deleted incl. " +
        "repeats / (start + limit x wall). whole-batch failures = invocations that threw or returned after their " +
        "timeout (Lambda would retry their whole batch). Event-loop delay: of the benchmark's process, which runs " +
        "the handler and the SDK (the proxy has a process of its own).",
    );
    console.log();
    const calibration = runs[0] as Run;
    const ceiling = calibration.proxy.distinctKeysDeleted / (calibration.wallMs / 1000);
    console.log(
      `Headroom: unthrottled, the same set-up deleted ${thousands(ceiling)} keys/s, ${(ceiling / LIMIT).toFixed(1)}x the limit.`,
    );
    console.log("Over time, per second of each run (keys deleted incl. repeats / delete requests throttled):");
    for (const run of runs) {
      const timeline = run.proxy.timeline.map((bin) => `${kilo(bin.keysDeleted)}/${bin.throttledRequests}`);
      console.log(`  ${run.label}, ${modeLabel(run.mode)}: ${timeline.join(" ")}`);
    }
    const totalMs = performance.now() - started;
    console.log(
      `Load average (1 min) at the start and the end: ${loadAtStart.toFixed(2)}, ${loadavg()[0]?.toFixed(2)}. ` +
        `Run time ${seconds(totalMs)} with moto up, uploads ${seconds(uploadMs)} of it.`,
    );
  } finally {
    await proxy?.stop();
    await moto.stop();
  }
});
