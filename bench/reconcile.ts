/**
 * Issue 12, reconcile on moto + DynamoDB Local: objects per second against the floor of listing the
 * same bucket alone, peak RSS at 10k vs 100k objects (memory is flat), and scan mode's memory per
 * million items.
 *
 * moto (S3) and DynamoDB Local (the table) are started by the project's own scripts
 * (test/services/) on free loopback ports and stopped, by PID, in a finally.
 *
 * 1. Throughput. A bucket of 10,000 objects `images/{productId}.png` (product ids are 16 hex
 *    digits, so that the key space splits by first character as real ids do) and a table holding
 *    every other product. In one fresh node process, the built library (dist/reconcile.js, as
 *    users run it) and two floors run in turn, round after round, the order rotated every round,
 *    after one untimed warm-up of each:
 *    - floor, one paginator: ListObjectsV2 pages of 1,000 over `images/`, one after another;
 *    - floor, partitioned: the library's own split of the key space (dist/key-space-partitions.js,
 *      its one-key probe listings included) into 4 ranges, each listed by its own paginator, all
 *      at once: reconcile's listing with nothing else;
 *    - reconcile({ delete: false, minAgeMs: 0, concurrency: 4 }): list, read each key back, probe
 *      the table (BatchGetItem of 100), count. Report only, so the bucket stays the same;
 *    - the same at concurrency 1: one partition, no split, one BatchGetItem in flight.
 *    The target (reconcile at 4 >= 0.5x the floor) is checked against the one-paginator floor, the
 *    issue's floor; the other ratios are printed beside it. moto works on one request at a time
 *    (one Python process), and for every ListObjectsV2 it walks the whole bucket and sorts every
 *    key under the prefix, so parallel partitions cannot list faster there than one paginator, and
 *    each of the split's one-key probe listings costs about as much as a page of 1,000: on moto the
 *    split is overhead only, which real S3 does not charge.
 * 2. Memory. 90,000 more objects under `archive/` (so that `images/` and `archive/` hold 100,000)
 *    and an empty table: every object is an orphan, so each run lists, reads back and probes all.
 *    Each run is a fresh node process (the built library, no loader) that reconciles, report only,
 *    with templates `images/{productId}.png` and `archive/{productId}.png`: over `images/` only
 *    (10,000 objects) or over both (100,000), and prints process.resourceUsage().maxRSS at its end.
 *    A third kind of process reconciles an empty prefix: the baseline of loading the SDK and the
 *    library. Medians over several processes of each kind, run in turn. Peak RSS also holds what
 *    V8 lets the heap grow to between full collections, which grows with the run's length, so one
 *    more process per kind (--expose-gc) collects the heap in full after every page and reports
 *    the most it held: the data the run keeps, apart from the garbage collector's slack.
 * 3. Scan mode's memory. A table of 50,000 items whose template uses attributes outside the key,
 *    `files/{tenantId}/{fileName}` (ids and file names random UUIDs), and an empty one like it. A
 *    fresh node process (--expose-gc) runs reconcile({ mode: "scan" }) over the empty prefix
 *    `files/`: the scan's set of expected object keys is built and then held while the (empty)
 *    listing runs. The process reads the heap used after a full gc before the run, and again in
 *    `onProgress` (called at the end of each partition, while the set is still held); the
 *    difference, less that of the same run over the empty table, divided by the items, is the
 *    set's retained heap per item. Peak RSS less the empty table's run's, per item, is printed too:
 *    it includes the scan's transient garbage (responses, parsing).
 *
 * moto answers about 300 PutObject a second, so filling the 100,000 objects takes minutes; the
 * script prints its progress on stderr and the fill times at the end.
 *
 * The library is imported from dist/: `npm run build` first.
 * Run: npx tsx bench/reconcile.ts   (BENCH_SMOKE=1 for a short smoke run)
 */
import { createHash, randomUUID } from "node:crypto";
import { BatchWriteItemCommand, CreateTableCommand, DynamoDBClient, type WriteRequest } from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { localClientConfig, startLocalServices } from "../test/services/index.js";
import {
  builtLibraryUrl,
  main,
  mb,
  median,
  ms,
  printHeader,
  ROOT,
  ratio,
  rounds,
  runModule,
  SMOKE,
  sized,
  table,
  verdict,
} from "./lib.js";
import { pool } from "./moto-bucket.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/** Objects of the throughput bucket, and of the small memory run. */
const OBJECTS = sized(10_000, 200);
/** Objects of the large memory run: OBJECTS under `images/`, the rest under `archive/`. */
const LARGE = sized(100_000, 1_000);
/** Items of the scan-mode table. */
const SCAN_ITEMS = sized(50_000, 500);
const ROUNDS = sized(5, 1);
const PROCESSES = sized(5, 1);
const CONCURRENCY = 4;
/** moto serves one request at a time; more in flight does not upload faster. */
const UPLOADS_IN_FLIGHT = 8;
const WRITES_IN_FLIGHT = 4;
const TARGET_THROUGHPUT = 0.5;
const TARGET_MEMORY = 1.1;

const BUCKET = "bench-reconcile";
const PRODUCTS = "bench-products";
const EMPTY_PRODUCTS = "bench-products-empty";
const FILES = "bench-files";
const EMPTY_FILES = "bench-files-empty";
const TEMPLATE = "images/{productId}.png";
const ARCHIVE_TEMPLATE = "archive/{productId}.png";
const SCAN_TEMPLATE = "files/{tenantId}/{fileName}";

/** The product id of object `index`: 16 hex digits, spread over the key space as real ids are. */
const productId = (index: number) => createHash("sha256").update(`product-${index}`).digest("hex").slice(0, 16);

/** What the throughput child measures, one process for every round. */
interface ThroughputReport {
  /** Wall times in ms, per variant, in round order. */
  wallMs: Record<Variant, number[]>;
  /** Requests by command name, per variant, of its last run. */
  sent: Record<Variant, Record<string, number>>;
  /** The partitions of the partitioned floor. */
  partitions: number;
}

type Variant = "floor" | "partitioned" | "reconcile" | "reconcileOne";
const VARIANTS: readonly Variant[] = ["floor", "partitioned", "reconcile", "reconcileOne"];
const LABELS: Record<Variant, string> = {
  floor: "floor: ListObjectsV2 pages of 1,000, one paginator",
  partitioned: `floor, partitioned: the library's split into ${CONCURRENCY} ranges, a paginator each`,
  reconcile: `reconcile, report only, concurrency ${CONCURRENCY} (dist/)`,
  reconcileOne: "reconcile, report only, concurrency 1: one partition, no split (dist/)",
};

/**
 * The throughput child: every variant once untimed, then the rounds, the order rotated every
 * round. Each run checks what it counted, so that a variant that skipped work cannot look fast.
 */
const THROUGHPUT_CHILD = `
const [reconcileUrl, partitionsUrl, configText] = process.argv.slice(1);
const config = JSON.parse(configText);
const { S3Client, paginateListObjectsV2 } = await import("@aws-sdk/client-s3");
const { DynamoDBClient } = await import("@aws-sdk/client-dynamodb");
const { reconcile } = await import(reconcileUrl);
const { splitKeySpace } = await import(partitionsUrl);
const local = (endpoint) => ({ endpoint, region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" } });
let sent = {};
const counting = (client) => {
  client.middlewareStack.add((next, context) => (args) => {
    sent[context.commandName] = (sent[context.commandName] ?? 0) + 1;
    return next(args);
  }, { step: "initialize", name: "benchCount" });
  return client;
};
const s3 = counting(new S3Client({ ...local(config.s3Endpoint), forcePathStyle: true }));
const dynamodb = counting(new DynamoDBClient(local(config.dynamodbEndpoint)));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const listRange = async ({ prefix, startAfter, endAt }) => {
  let listed = 0;
  const input = { Bucket: config.bucket, Prefix: prefix, ...(startAfter === undefined ? {} : { StartAfter: startAfter }) };
  for await (const page of paginateListObjectsV2({ client: s3, pageSize: 1000 }, input)) {
    for (const object of page.Contents ?? []) {
      // Hex keys: JavaScript's order is S3's order here.
      if (endAt !== undefined && object.Key > endAt) return listed;
      listed++;
    }
  }
  return listed;
};
let partitions = 0;
const variants = {
  floor: () => listRange({ prefix: config.prefix }),
  partitioned: async () => {
    const ranges = await splitKeySpace(s3, config.bucket, [config.prefix], config.concurrency);
    partitions = ranges.length;
    const counts = await Promise.all(ranges.map(listRange));
    return counts.reduce((sum, count) => sum + count, 0);
  },
  reconcile: () => reconcileAt(config.concurrency),
  reconcileOne: () => reconcileAt(1),
};
async function reconcileAt(concurrency) {
    const report = await reconcile({
      tableName: config.tableName, bucket: config.bucket, key: config.key,
      delete: false, minAgeMs: 0, concurrency,
      s3Client: s3, dynamoDbClient: dynamodb, logger: quiet,
    });
    const expected = { complete: true, listed: config.objects, live: config.live, orphans: config.objects - config.live, young: 0, unrelated: 0, unchecked: 0 };
    for (const [name, value] of Object.entries(expected)) {
      if (report[name] !== value) throw new Error("reconcile counted " + name + " = " + report[name] + ", expected " + value);
    }
    return report.listed;
}
const names = Object.keys(variants);
const wallMs = Object.fromEntries(names.map((name) => [name, []]));
const lastSent = {};
const run = async (name) => {
  sent = {};
  const start = performance.now();
  const listed = await variants[name]();
  const elapsed = performance.now() - start;
  if (listed !== config.objects) throw new Error(name + " listed " + listed + " objects, expected " + config.objects);
  lastSent[name] = sent;
  return elapsed;
};
for (const name of names) await run(name);
for (let round = 0; round < config.rounds; round++) {
  for (let i = 0; i < names.length; i++) {
    const name = names[(i + round) % names.length];
    wallMs[name].push(await run(name));
  }
}
console.log(JSON.stringify({ wallMs, sent: lastSent, partitions }));
`;

/** What a memory child prints. */
interface MemoryReport {
  maxRssKb: number;
  listed: number;
  orphans: number;
  complete: boolean;
  /** Heap used after a full gc before the run (scan children only). */
  heapBefore?: number;
  /** The most heap used after a full gc in onProgress, while the run holds its state (scan children only). */
  heapHeld?: number;
}

/**
 * A memory child: one reconcile, report only, from the built library with no loader in the
 * process; with `measureHeap`, full gcs before the run and in onProgress (needs --expose-gc).
 */
const MEMORY_CHILD = `
const [reconcileUrl, configText] = process.argv.slice(1);
const config = JSON.parse(configText);
const { S3Client } = await import("@aws-sdk/client-s3");
const { DynamoDBClient } = await import("@aws-sdk/client-dynamodb");
const { reconcile } = await import(reconcileUrl);
const local = (endpoint) => ({ endpoint, region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" } });
const s3 = new S3Client({ ...local(config.s3Endpoint), forcePathStyle: true });
const dynamodb = new DynamoDBClient(local(config.dynamodbEndpoint));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const heapAfterGc = () => {
  globalThis.gc();
  return process.memoryUsage().heapUsed;
};
const heapBefore = config.measureHeap ? heapAfterGc() : undefined;
let heapHeld;
const report = await reconcile({
  ...config.options,
  delete: false, minAgeMs: 0, concurrency: config.concurrency,
  s3Client: s3, dynamoDbClient: dynamodb, logger: quiet,
  ...(config.measureHeap ? { onProgress: () => { heapHeld = Math.max(heapHeld ?? 0, heapAfterGc()); } } : {}),
});
console.log(JSON.stringify({
  maxRssKb: process.resourceUsage().maxRSS,
  listed: report.listed, orphans: report.orphans, complete: report.complete,
  heapBefore, heapHeld,
}));
`;

const seconds = (value: number) => `${(value / 1000).toFixed(1)} s`;
const count = (value: number) => value.toLocaleString("en");
const perSecond = (objects: number, wallMs: number) => (objects / wallMs) * 1000;

/** Runs `fill` over `items` at most `width` at a time, printing progress on stderr every 5 s; resolves to the elapsed ms. */
async function withProgress<T>(
  label: string,
  items: readonly T[],
  width: number,
  fill: (item: T) => Promise<void>,
): Promise<number> {
  const start = performance.now();
  let done = 0;
  const timer = setInterval(() => {
    const elapsed = performance.now() - start;
    process.stderr.write(
      `  ${label}: ${count(done)} / ${count(items.length)}, ${perSecond(done, elapsed).toFixed(0)}/s, ${seconds(elapsed)}\n`,
    );
  }, 5000);
  try {
    await pool(items, width, async (item) => {
      await fill(item);
      done++;
    });
  } finally {
    clearInterval(timer);
  }
  return performance.now() - start;
}

/** Writes `items` with BatchWriteItem, 25 a call, resending what comes back unprocessed. */
async function writeItems(
  dynamodb: DynamoDBClient,
  tableName: string,
  items: readonly WriteRequest[],
  label: string,
): Promise<number> {
  const chunks: WriteRequest[][] = [];
  for (let start = 0; start < items.length; start += 25) chunks.push(items.slice(start, start + 25));
  return withProgress(label, chunks, WRITES_IN_FLIGHT, async (chunk) => {
    let requests: WriteRequest[] = chunk;
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt >= 10) throw new Error(`${tableName}: ${requests.length} items still unprocessed after 10 attempts`);
      const output = await dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: requests } }));
      requests = output.UnprocessedItems?.[tableName] ?? [];
    }
  });
}

async function createTable(dynamodb: DynamoDBClient, tableName: string, keyName: string): Promise<void> {
  await dynamodb.send(
    new CreateTableCommand({
      TableName: tableName,
      KeySchema: [{ AttributeName: keyName, KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: keyName, AttributeType: "S" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
}

main(async () => {
  printHeader(
    "Benchmark: reconcile on moto + DynamoDB Local (issue 12)",
    `${SMOKE ? "BENCH_SMOKE=1 " : ""}npx tsx bench/reconcile.ts`,
  );
  const reconcileUrl = new URL("reconcile.js", builtLibraryUrl()).href;
  const partitionsUrl = new URL("key-space-partitions.js", builtLibraryUrl()).href;
  const childEnv = { cwd: ROOT, env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" } };
  const started = performance.now();
  const services = await startLocalServices();
  try {
    const endpoints = { s3Endpoint: services.moto.endpoint, dynamodbEndpoint: services.dynamodbLocal.endpoint };
    const s3 = new S3Client({ ...localClientConfig(endpoints.s3Endpoint), forcePathStyle: true });
    const dynamodb = new DynamoDBClient(localClientConfig(endpoints.dynamodbEndpoint));
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    for (const name of [PRODUCTS, EMPTY_PRODUCTS]) await createTable(dynamodb, name, "productId");
    for (const name of [FILES, EMPTY_FILES]) await createTable(dynamodb, name, "id");
    const put = (key: string) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key })).then(() => {});
    const indexes = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

    // 1. Throughput.
    const fillSmallMs = await withProgress("images/", indexes(0, OBJECTS), UPLOADS_IN_FLIGHT, (index) =>
      put(`images/${productId(index)}.png`),
    );
    const live = indexes(0, OBJECTS).filter((index) => index % 2 === 0);
    const fillItemsMs = await writeItems(
      dynamodb,
      PRODUCTS,
      live.map((index) => ({ PutRequest: { Item: { productId: { S: productId(index) } } } })),
      PRODUCTS,
    );
    const throughput = await runModule<ThroughputReport>(
      THROUGHPUT_CHILD,
      [
        reconcileUrl,
        partitionsUrl,
        JSON.stringify({
          ...endpoints,
          bucket: BUCKET,
          prefix: "images/",
          tableName: PRODUCTS,
          key: TEMPLATE,
          objects: OBJECTS,
          live: live.length,
          concurrency: CONCURRENCY,
          rounds: ROUNDS,
        }),
      ],
      childEnv,
    );

    // 2. Memory at OBJECTS and LARGE objects, all orphans.
    const fillLargeMs = await withProgress("archive/", indexes(OBJECTS, LARGE), UPLOADS_IN_FLIGHT, (index) =>
      put(`archive/${productId(index)}.png`),
    );
    const memoryRuns = [
      { label: "empty prefix (baseline: SDK + library loaded, one empty run)", prefix: "empty/", objects: 0 },
      { label: `${count(OBJECTS)} objects (images/)`, prefix: "images/", objects: OBJECTS },
      { label: `${count(LARGE)} objects (images/ + archive/)`, prefix: undefined, objects: LARGE },
    ] as const;
    type MemoryRun = (typeof memoryRuns)[number];
    const reconcileIn = async (run: MemoryRun, measureHeap: boolean): Promise<MemoryReport> => {
      const report = await runModule<MemoryReport>(
        MEMORY_CHILD,
        [
          reconcileUrl,
          JSON.stringify({
            ...endpoints,
            concurrency: CONCURRENCY,
            measureHeap,
            options: {
              tableName: EMPTY_PRODUCTS,
              bucket: BUCKET,
              key: [TEMPLATE, ARCHIVE_TEMPLATE],
              ...(run.prefix === undefined ? {} : { prefix: run.prefix }),
            },
          }),
        ],
        { ...childEnv, nodeFlags: measureHeap ? ["--expose-gc"] : [] },
      );
      if (!report.complete || report.listed !== run.objects || report.orphans !== run.objects) {
        throw new Error(`${run.label}: expected ${run.objects} objects, all orphans, got ${JSON.stringify(report)}`);
      }
      return report;
    };
    const peaks: number[][] = memoryRuns.map(() => []);
    await rounds(PROCESSES, async (round) => {
      for (let i = 0; i < memoryRuns.length; i++) {
        const at = (i + round) % memoryRuns.length;
        const report = await reconcileIn(memoryRuns[at] as MemoryRun, false);
        peaks[at]?.push(report.maxRssKb * 1024);
      }
    });
    // One more process per row, its heap collected in full after every page: what the run holds,
    // apart from how far V8 lets the heap grow between full collections, which peak RSS includes.
    const retained: number[] = [];
    for (const run of memoryRuns) {
      const report = await reconcileIn(run, true);
      retained.push((report.heapHeld as number) - (report.heapBefore as number));
    }

    // 3. Scan mode's memory per item.
    const tenants = 100;
    const fileItems = Array.from({ length: SCAN_ITEMS }, (_, index) => ({
      PutRequest: {
        Item: {
          id: { S: randomUUID() },
          tenantId: { S: `tenant-${String(index % tenants).padStart(4, "0")}` },
          fileName: { S: `${randomUUID()}.jpg` },
        },
      },
    }));
    const fillScanMs = await writeItems(dynamodb, FILES, fileItems, FILES);
    const keyLength =
      fileItems.reduce(
        (sum, { PutRequest }) => sum + `files/${PutRequest.Item.tenantId.S}/${PutRequest.Item.fileName.S}`.length,
        0,
      ) / SCAN_ITEMS;
    const scanRuns = [
      { label: "empty table", tableName: EMPTY_FILES, items: 0 },
      { label: `${count(SCAN_ITEMS)} items`, tableName: FILES, items: SCAN_ITEMS },
    ] as const;
    const scanReports: MemoryReport[][] = scanRuns.map(() => []);
    await rounds(PROCESSES, async (round) => {
      for (let i = 0; i < scanRuns.length; i++) {
        const at = (i + round) % scanRuns.length;
        const run = scanRuns[at] as (typeof scanRuns)[number];
        const report = await runModule<MemoryReport>(
          MEMORY_CHILD,
          [
            reconcileUrl,
            JSON.stringify({
              ...endpoints,
              concurrency: CONCURRENCY,
              measureHeap: true,
              options: { tableName: run.tableName, bucket: BUCKET, key: SCAN_TEMPLATE, prefix: "files/", mode: "scan" },
            }),
          ],
          { ...childEnv, nodeFlags: ["--expose-gc"] },
        );
        if (!report.complete || report.listed !== 0 || report.heapHeld === undefined) {
          throw new Error(`scan over ${run.label}: expected an empty, complete listing, got ${JSON.stringify(report)}`);
        }
        scanReports[at]?.push(report);
      }
    });

    // The tables.
    const objectsPerSecond = (variant: Variant) => throughput.wallMs[variant].map((wall) => perSecond(OBJECTS, wall));
    const medianRate = (variant: Variant) => median(objectsPerSecond(variant));
    const describeSent = (variant: Variant) =>
      Object.entries(throughput.sent[variant])
        .map(([name, sent]) => `${count(sent)} ${name.replace(/Command$/, "")}`)
        .join(", ");
    console.log(
      `Throughput: ${count(OBJECTS)} objects "${TEMPLATE}" (16-hex-digit ids), a table "productId" (S) holding every ` +
        `other one (${count(live.length)} items). One fresh node process runs all variants: one untimed warm-up each, ` +
        `then ${ROUNDS} rounds, the order rotated every round; medians over the rounds.`,
    );
    console.log();
    console.log(
      table(
        ["variant", "requests per run", "wall (median)", "objects/s (median)", "objects/s per round"],
        VARIANTS.map((variant) => [
          variant === "partitioned"
            ? LABELS[variant].replace(`${CONCURRENCY} ranges`, `${throughput.partitions} ranges`)
            : LABELS[variant],
          describeSent(variant),
          ms(median(throughput.wallMs[variant])),
          medianRate(variant).toFixed(0),
          objectsPerSecond(variant)
            .map((rate) => rate.toFixed(0))
            .join(" / "),
        ]),
      ),
    );
    console.log();

    const toFloor = medianRate("reconcile") / medianRate("floor");
    const toPartitioned = medianRate("reconcile") / medianRate("partitioned");
    const peak = peaks.map((values) => median(values));
    const [baseline = 0, small = 0, large = 0] = peak;
    const flat = large / small;
    console.log(
      `Memory: ${count(LARGE)} objects (${count(OBJECTS)} under images/, ${count(LARGE - OBJECTS)} under archive/), ` +
        "an empty table, so every object is an orphan; report only. Peak RSS is process.resourceUsage().maxRSS at the " +
        `end of each fresh node process; medians of ${PROCESSES} processes per row, run in turn. Retained heap: in ` +
        "one more process per row (--expose-gc), the most heap used after a full gc in onProgress (after every page), " +
        "less the same before the run: the data the run holds, without V8's heap growth between full collections.",
    );
    console.log();
    console.log(
      table(
        ["process", "peak RSS", "over the baseline", "per process", "retained heap, most after a full gc"],
        memoryRuns.map((run, at) => [
          run.label,
          mb(peak[at] ?? 0),
          at === 0 ? "" : mb((peak[at] ?? 0) - baseline),
          (peaks[at] ?? []).map(mb).join(" / "),
          mb(retained[at] ?? 0),
        ]),
      ),
    );
    console.log();
    console.log(
      table(
        ["check", "measured", "target", "result"],
        [
          [
            "reconcile / floor (one paginator), objects/s",
            ratio(toFloor),
            `>= ${ratio(TARGET_THROUGHPUT)}`,
            verdict(toFloor, TARGET_THROUGHPUT, ">="),
          ],
          [
            `reconcile / partitioned floor (${throughput.partitions} paginators), objects/s`,
            ratio(toPartitioned),
            "(for information)",
            "",
          ],
          [
            "reconcile at concurrency 1 / floor (one paginator), objects/s",
            ratio(medianRate("reconcileOne") / medianRate("floor")),
            "(for information)",
            "",
          ],
          [
            `peak RSS, ${count(LARGE)} / ${count(OBJECTS)} objects`,
            ratio(flat),
            `<= ${ratio(TARGET_MEMORY)}`,
            verdict(flat, TARGET_MEMORY, "<="),
          ],
          [
            `retained heap, ${count(LARGE)} / ${count(OBJECTS)} objects`,
            ratio((retained[2] ?? 0) / (retained[1] ?? 1)),
            "(for information)",
            "",
          ],
        ],
      ),
    );
    console.log();

    const held = (report: MemoryReport) => (report.heapHeld as number) - (report.heapBefore as number);
    const [emptyScan = [], fullScan = []] = scanReports;
    const heldEmpty = median(emptyScan.map(held));
    const heldFull = median(fullScan.map(held));
    const rssEmpty = median(emptyScan.map((report) => report.maxRssKb * 1024));
    const rssFull = median(fullScan.map((report) => report.maxRssKb * 1024));
    const perMillion = (bytes: number) => (bytes / SCAN_ITEMS) * 1_000_000;
    console.log(
      `Scan mode: a table of ${count(SCAN_ITEMS)} items rendered through "${SCAN_TEMPLATE}" (${tenants} tenants, ` +
        `file names random UUIDs + ".jpg": object keys of ${keyLength.toFixed(1)} characters on average), ` +
        `reconciled over the empty prefix files/, concurrency ${CONCURRENCY} (scan segments). Retained heap: heap ` +
        "used after a full gc in onProgress (the set of expected keys held) less the same before the run. " +
        `Medians of ${PROCESSES} fresh processes (--expose-gc) per row, run in turn.`,
    );
    console.log();
    console.log(
      table(
        ["table", "retained heap", "peak RSS"],
        scanRuns.map((run, at) => [
          run.label,
          mb(median((scanReports[at] ?? []).map(held))),
          mb(median((scanReports[at] ?? []).map((report) => report.maxRssKb * 1024))),
        ]),
      ),
    );
    console.log();
    console.log(
      `Scan mode, estimated memory per million items: ${mb(perMillion(heldFull - heldEmpty))} of retained heap ` +
        `(the set of expected keys), measured at ${count(SCAN_ITEMS)} items and scaled linearly. Peak RSS was ` +
        `${mb(rssFull - rssEmpty)} over the empty table's run: the scan's garbage and V8's heap growth, which do not ` +
        "scale with the items as the set does.",
    );
    console.log();
    const totalMs = performance.now() - started;
    console.log(
      `Run time: ${seconds(totalMs)} with the services up. Fills: ${count(OBJECTS)} PutObject ${seconds(fillSmallMs)}, ` +
        `${count(LARGE - OBJECTS)} PutObject ${seconds(fillLargeMs)} (${UPLOADS_IN_FLIGHT} in flight), ` +
        `${count(live.length + SCAN_ITEMS)} items by BatchWriteItem ${seconds(fillItemsMs + fillScanMs)} ` +
        `(${WRITES_IN_FLIGHT} in flight).`,
    );
  } finally {
    await services.stop();
  }
});
