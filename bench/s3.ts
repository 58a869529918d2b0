/**
 * Issue item 2, S3 round trips and wall time on moto: 10,000 removals in one bucket, three ways.
 *
 * - (a) createCleanupHandler (from dist/, what users run) on a 10,000-record KEYS_ONLY event built
 *   with the library's record factories (bench/events.ts), key template `{productId}.png`;
 * - (b) the hand-written pattern the library replaces: for each REMOVE record, unmarshall its Keys
 *   and send one DeleteObject, sequentially;
 * - (c) the floor: the same keys, already computed, in DeleteObjects calls of 1,000 (Quiet), 4 in
 *   flight (the handler's default concurrency), with no parsing or mapping.
 *
 * moto is started by the project's own script (test/services/moto.ts) on a free loopback port and
 * stopped, by PID, in a finally. Before every timed run the bucket is filled with the 10,000 objects
 * by a separate, uncounted client, so that each variant deletes real objects; after it the bucket
 * must list empty. The client each variant uses counts its commands by name (the middleware of
 * test/integration/helpers.ts), the most in flight at once, and when the first request started and
 * the last one ended, which splits a run's wall time into: before the first request (parse, map,
 * plan), the S3 phase, and after the last response (report). Untimed warm-up runs of (a) and (c)
 * come first; (a) and (c) then alternate their order round by round; (b) runs once, last.
 *
 * moto answers about 300 requests a second whatever the concurrency (one Python process), so the
 * uploads (10,000 PutObject before each run) take most of the run time; the script prints how much.
 *
 * The library is imported from dist/: `npm run build` first.
 * Run: npx tsx bench/s3.ts   (BENCH_SMOKE=1 for a short smoke run)
 */

import { loadavg } from "node:os";
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { StreamEvent } from "../src/index.js";
import { countingS3Client, quietLogger } from "../test/integration/helpers.js";
import { localClientConfig } from "../test/services/index.js";
import { startMoto } from "../test/services/moto.js";
import { BUCKET, eventText, KEY_TEMPLATE } from "./events.js";
import { loadLibrary, main, median, ms, printHeader, ratio, SMOKE, sized, table, verdict } from "./lib.js";
import { countObjects, pool } from "./moto-bucket.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const REMOVALS = sized(10_000, 1_001);
const ROUNDS_AC = sized(3, 1);
const ROUNDS_B = 1;
const CONCURRENCY = 4;
/** moto serves PutObject one at a time; more in flight does not upload faster. */
const UPLOADS_IN_FLIGHT = 8;
const BATCH = 1000;
const TARGET_AC = 1.15;
const TARGET_BA = 20;

type Variant = "a" | "b" | "c";

const LABELS: Record<Variant, string> = {
  a: "(a) createCleanupHandler",
  b: "(b) one DeleteObject per record, sequential",
  c: `(c) floor: DeleteObjects of ${BATCH.toLocaleString("en")}, ${CONCURRENCY} in flight`,
};

/** One timed run. */
interface Run {
  wallMs: number;
  /** From the run's start to the first request's start. */
  beforeMs: number;
  /** From the first request's start to the last request's end. */
  s3Ms: number;
  /** From the last request's end to the run's end. */
  afterMs: number;
  sent: Map<string, number>;
  peak: number;
}

/** What the instrumented client saw since the last `take()`. */
interface Traffic {
  sent: Map<string, number>;
  peak: number;
  firstStart: number;
  lastEnd: number;
}

/**
 * A client on moto that counts its commands by name (test/integration/helpers.ts), the most in
 * flight at once, and the first start and last end of a request (performance.now()).
 */
function instrumentedClient(endpoint: string): { s3: S3Client; take: () => Traffic } {
  const { s3, sent } = countingS3Client(endpoint);
  let inFlight = 0;
  let peak = 0;
  let firstStart = Number.NaN;
  let lastEnd = Number.NaN;
  s3.middlewareStack.add(
    (next) => async (args) => {
      if (inFlight === 0 && Number.isNaN(firstStart)) firstStart = performance.now();
      inFlight++;
      peak = Math.max(peak, inFlight);
      try {
        return await next(args);
      } finally {
        inFlight--;
        lastEnd = performance.now();
      }
    },
    { step: "initialize", name: "traceRequests" },
  );
  const take = (): Traffic => {
    const traffic = { sent: new Map(sent), peak, firstStart, lastEnd };
    sent.clear();
    peak = 0;
    firstStart = Number.NaN;
    lastEnd = Number.NaN;
    return traffic;
  };
  return { s3, take };
}

const seconds = (value: number) => `${(value / 1000).toFixed(1)} s`;

main(async () => {
  printHeader(
    "Benchmark: S3 round trips and wall time on moto (issue item 2)",
    `${SMOKE ? "BENCH_SMOKE=1 " : ""}npx tsx bench/s3.ts`,
  );
  if (KEY_TEMPLATE !== "{productId}.png") throw new Error("bench/s3.ts computes keys as {productId}.png");
  const lib = await loadLibrary();
  const text = eventText("KEYS_ONLY", REMOVALS);
  const keys = (JSON.parse(text) as StreamEvent).Records.map((record) => `${record.dynamodb?.Keys?.productId?.S}.png`);

  const loadAtStart = loadavg()[0] ?? 0;
  const started = performance.now();
  let uploadMs = 0;
  let warmupMs = 0;
  const moto = await startMoto();
  try {
    const setup = new S3Client({ ...localClientConfig(moto.endpoint), forcePathStyle: true });
    const { s3, take } = instrumentedClient(moto.endpoint);
    await setup.send(new CreateBucketCommand({ Bucket: BUCKET }));

    const { logger } = quietLogger();
    const handler = lib.createCleanupHandler({ bucket: BUCKET, key: KEY_TEMPLATE, s3Client: s3, logger });

    const variants: Record<Variant, (event: StreamEvent) => Promise<void>> = {
      a: async (event) => {
        const response = await handler(event);
        if (response.batchItemFailures.length > 0) {
          throw new Error(`(a) reported ${response.batchItemFailures.length} failed records`);
        }
      },
      b: async (event) => {
        for (const record of event.Records) {
          if (record.eventName !== "REMOVE" || record.dynamodb?.Keys === undefined) continue;
          const item = unmarshall(record.dynamodb.Keys as Parameters<typeof unmarshall>[0]);
          await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${item.productId}.png` }));
        }
      },
      c: async () => {
        const batches: string[][] = [];
        for (let start = 0; start < keys.length; start += BATCH) batches.push(keys.slice(start, start + BATCH));
        await pool(batches, CONCURRENCY, async (batch) => {
          const output = await s3.send(
            new DeleteObjectsCommand({
              Bucket: BUCKET,
              Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
            }),
          );
          if ((output.Errors ?? []).length > 0) throw new Error(`(c) got ${output.Errors?.length} per-key errors`);
        });
      },
    };

    const upload = async () => {
      const start = performance.now();
      await pool(keys, UPLOADS_IN_FLIGHT, async (key) => {
        await setup.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
      });
      uploadMs += performance.now() - start;
    };

    const timed = async (variant: Variant): Promise<Run> => {
      await upload();
      const event = JSON.parse(text) as StreamEvent;
      take();
      const start = performance.now();
      await variants[variant](event);
      const end = performance.now();
      const { sent, peak, firstStart, lastEnd } = take();
      const left = await countObjects(setup);
      if (left !== 0) throw new Error(`${LABELS[variant]} left ${left} of ${keys.length} objects`);
      return {
        wallMs: end - start,
        beforeMs: firstStart - start,
        s3Ms: lastEnd - firstStart,
        afterMs: end - lastEnd,
        sent,
        peak,
      };
    };

    // Warm-up, untimed: the client's connections, moto's DeleteObjects path and the handler's JIT.
    // Objects need not exist for it: deleting a missing key succeeds.
    const warmupStart = performance.now();
    for (let i = 0; i < 2; i++) {
      await variants.a(JSON.parse(text) as StreamEvent);
      await variants.c(JSON.parse(text) as StreamEvent);
    }
    take();
    warmupMs = performance.now() - warmupStart;

    const runs: Record<Variant, Run[]> = { a: [], b: [], c: [] };
    const pairedAc: number[] = [];
    for (let round = 0; round < ROUNDS_AC; round++) {
      const order: Variant[] = round % 2 === 0 ? ["a", "c"] : ["c", "a"];
      for (const variant of order) runs[variant].push(await timed(variant));
      pairedAc.push((runs.a.at(-1) as Run).wallMs / (runs.c.at(-1) as Run).wallMs);
    }
    for (let round = 0; round < ROUNDS_B; round++) runs.b.push(await timed("b"));

    const med = (variant: Variant, field: "wallMs" | "beforeMs" | "s3Ms" | "afterMs") =>
      median(runs[variant].map((run) => run[field]));
    const requests = (run: Run) => [...run.sent.values()].reduce((sum, count) => sum + count, 0);
    const describeSent = (run: Run) =>
      [...run.sent].map(([name, count]) => `${count.toLocaleString("en")} ${name.replace(/Command$/, "")}`).join(", ");
    for (const variant of ["a", "b", "c"] as const) {
      const seen = new Set(runs[variant].map(describeSent));
      if (seen.size !== 1) throw new Error(`${LABELS[variant]} sent different requests across rounds: ${[...seen]}`);
    }
    const first = (variant: Variant) => runs[variant][0] as Run;
    const rounds = (variant: Variant) => (variant === "b" ? ROUNDS_B : ROUNDS_AC);

    console.log(
      `${REMOVALS.toLocaleString("en")} REMOVE records (KEYS_ONLY, key "${KEY_TEMPLATE}") -> ` +
        `${keys.length.toLocaleString("en")} objects in one bucket, uploaded before every run. ` +
        `Rounds: (a) and (c) ${ROUNDS_AC} each, alternating order; (b) ${ROUNDS_B}. Medians over the rounds.`,
    );
    console.log(
      "before 1st request = parse, map and plan; S3 phase = first request's start to last response; after = report.",
    );
    console.log();
    console.log(
      table(
        [
          "variant",
          "rounds",
          "requests",
          "sent",
          "most in flight",
          "wall",
          "before 1st request",
          "S3 phase",
          "after",
          "wall per round",
          "S3 phase per round",
        ],
        (["a", "b", "c"] as const).map((variant) => [
          LABELS[variant],
          rounds(variant),
          requests(first(variant)).toLocaleString("en"),
          describeSent(first(variant)),
          Math.max(...runs[variant].map((run) => run.peak)),
          ms(med(variant, "wallMs")),
          ms(med(variant, "beforeMs")),
          ms(med(variant, "s3Ms")),
          ms(med(variant, "afterMs")),
          runs[variant].map((run) => run.wallMs.toFixed(0)).join(" / "),
          runs[variant].map((run) => run.s3Ms.toFixed(0)).join(" / "),
        ]),
      ),
    );
    console.log();

    const expectedRequests = Math.ceil(REMOVALS / BATCH);
    const requestsA = requests(first("a"));
    const ac = med("a", "wallMs") / med("c", "wallMs");
    const ba = med("b", "wallMs") / med("a", "wallMs");
    console.log(
      table(
        ["check", "measured", "target", "result"],
        [
          [
            "(a) requests",
            requestsA.toLocaleString("en"),
            `= ceil(n/1000) = ${expectedRequests}`,
            requestsA === expectedRequests ? "PASS" : "MISS",
          ],
          ["(a)/(c) wall time, ratio of medians", ratio(ac), `<= ${ratio(TARGET_AC)}`, verdict(ac, TARGET_AC, "<=")],
          ["(b)/(a) wall time, ratio of medians", ratio(ba), `>= ${ratio(TARGET_BA)}`, verdict(ba, TARGET_BA, ">=")],
        ],
      ),
    );
    console.log();
    const ownMs = med("a", "beforeMs") + med("a", "afterMs");
    console.log(
      `(a)/(c) per round (a and c run back to back): ${pairedAc.map(ratio).join(", ")}; median ${ratio(median(pairedAc))}. ` +
        `(a)'s own time outside S3 (before + after): ${ms(ownMs)}, ${((ownMs / med("c", "wallMs")) * 100).toFixed(1)}% of (c)'s wall time; ` +
        `S3 phase (a)/(c): ${ratio(med("a", "s3Ms") / med("c", "s3Ms"))}.`,
    );
    console.log(
      `Load average (1 min) at the start and the end: ${loadAtStart.toFixed(2)}, ${loadavg()[0]?.toFixed(2)}.`,
    );
    const totalMs = performance.now() - started;
    const uploads = (ROUNDS_AC * 2 + ROUNDS_B) * keys.length;
    console.log(
      `Run time: ${seconds(totalMs)} with moto up; uploads ${seconds(uploadMs)} of it ` +
        `(${((uploadMs / totalMs) * 100).toFixed(0)}%: ${uploads.toLocaleString("en")} PutObject, ` +
        `${(uploadMs / uploads).toFixed(2)} ms each with ${UPLOADS_IN_FLIGHT} in flight); warm-up ${seconds(warmupMs)}.`,
    );
  } finally {
    await moto.stop();
  }
});
