/**
 * Issue item 4, memory: the peak RSS of one fresh process handling a ~6 MB event (Lambda's payload
 * limit) of OLD_IMAGE REMOVE records with createCleanupHandler, against a fresh process that only
 * JSON.parses the same event. Peak RSS is `process.resourceUsage().maxRSS`, read by each child at
 * its end; medians over several processes of each kind, run in turn.
 *
 * No network: the handler gets a real S3Client whose `send` is replaced by a stub that answers every
 * DeleteObjects with `{}` (all deleted) at once, so request serialisation, signing, Content-MD5 and
 * HTTP never run.
 *
 * The handler runs twice over: imported from dist/ as installed (zod and the library loaded file by
 * file from node_modules), and as users deploy it, bundled by esbuild (minified, @aws-sdk/* external,
 * as bench/cold-start.ts builds it). Processes that load the code and parse the event without
 * handling it show where the memory goes: @aws-sdk/client-s3 (which any handler that deletes objects
 * loads), the library, and the handling itself.
 *
 * Three more rows run the bundled case with V8's young generation capped (`--max-semi-space-size=2`,
 * in MB): V8 grows that space, up to 16 MB a semi-space, while many new objects survive, and
 * handling a batch keeps thousands of them. The capped rows show how much of the peak is that
 * growth rather than data the handler holds.
 *
 * Every measured process is plain node: `npm run build` first.
 * Run: npx tsx bench/memory.ts   (BENCH_SMOKE=1 for a seconds-long smoke run)
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUCKET, eventTextUpTo, KEY_TEMPLATE, LAMBDA_PAYLOAD_LIMIT } from "./events.js";
import {
  builtLibrarySpecifier,
  builtLibraryUrl,
  bundleAsUsersDo,
  main,
  mb,
  median,
  printHeader,
  ROOT,
  ratio,
  rounds,
  runModule,
  SMOKE,
  scratchDirectory,
  sized,
  table,
  verdict,
} from "./lib.js";

const EVENT_BYTES = sized(LAMBDA_PAYLOAD_LIMIT, 64 * 1024);
const PROCESSES = sized(7, 1);
const TARGET = 1.5;

/** What a child does: parse only; load client-s3; also load the library; also handle the event. */
type Step = "parse" | "sdk" | "code" | "handle";

interface Row {
  label: string;
  step: Step;
  library?: "dist" | "bundle";
  /** Node flags of the child. */
  nodeFlags?: readonly string[];
}

const CAPPED = ["--max-semi-space-size=2"];

const ROWS: readonly Row[] = [
  { label: "JSON.parse only (baseline)", step: "parse" },
  { label: "client-s3 loaded + JSON.parse", step: "sdk" },
  { label: "dist/: client-s3 + library loaded, handler created + JSON.parse", step: "code", library: "dist" },
  { label: "dist/: createCleanupHandler handles the event", step: "handle", library: "dist" },
  { label: "bundle: client-s3 + bundle loaded, handler created + JSON.parse", step: "code", library: "bundle" },
  { label: "bundle: createCleanupHandler handles the event", step: "handle", library: "bundle" },
  { label: "young generation capped: JSON.parse only", step: "parse", nodeFlags: CAPPED },
  {
    label: "young generation capped: bundle loaded, handler created + JSON.parse",
    step: "code",
    library: "bundle",
    nodeFlags: CAPPED,
  },
  { label: "young generation capped: bundle handles the event", step: "handle", library: "bundle", nodeFlags: CAPPED },
];

/** What every child prints: its peak RSS, and what it did, to check it did the work. */
interface Report {
  maxRssKb: number;
  records: number;
  requests?: number;
  keys?: number;
  failures?: number;
}

/**
 * One child. Code is loaded before the event is read, as in a Lambda (init, then invoke); the event
 * is read as text and parsed, as the runtime does.
 */
const CHILD = `
import { readFileSync } from "node:fs";
const [step, libraryUrl, eventPath, bucket, key] = process.argv.slice(1);
let handler;
let requests = 0;
let keys = 0;
if (step !== "parse") {
  const { S3Client } = await import("@aws-sdk/client-s3");
  const s3Client = new S3Client({ region: "us-east-1", credentials: { accessKeyId: "bench", secretAccessKey: "bench" } });
  // The stub: no network, every DeleteObjects answered at once with {} (every key deleted).
  s3Client.send = async (command) => {
    requests++;
    keys += command.input.Delete?.Objects?.length ?? 0;
    return {};
  };
  if (step !== "sdk") {
    const { createCleanupHandler } = await import(libraryUrl);
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    handler = createCleanupHandler({ bucket, key, s3Client, logger: quiet });
  }
}
const event = JSON.parse(readFileSync(eventPath, "utf8"));
const report = { records: event.Records.length };
if (step === "handle") {
  const response = await handler(event, { getRemainingTimeInMillis: () => 900_000 });
  Object.assign(report, { requests, keys, failures: response.batchItemFailures.length });
}
report.maxRssKb = process.resourceUsage().maxRSS;
console.log(JSON.stringify(report));
`;

main(async () => {
  printHeader("Benchmark: memory (issue item 4)", `${SMOKE ? "BENCH_SMOKE=1 " : ""}npx tsx bench/memory.ts`);
  const distUrl = builtLibraryUrl();
  const { text, records } = eventTextUpTo("OLD_IMAGE", EVENT_BYTES);
  const expectedRequests = Math.ceil(records / 1000);
  const directory = scratchDirectory("bench-memory");
  const peaks: number[][] = ROWS.map(() => []);
  try {
    const eventPath = join(directory, "event.json");
    writeFileSync(eventPath, text);
    const bundled = await bundleAsUsersDo(
      directory,
      "library",
      `export { createCleanupHandler } from ${builtLibrarySpecifier()};`,
    );
    const urls = { dist: distUrl, bundle: bundled.url };

    await rounds(PROCESSES, async (round) => {
      // Rotate the order every round, so that no row always runs right after another.
      for (let i = 0; i < ROWS.length; i++) {
        const at = (i + round) % ROWS.length;
        const row = ROWS[at] as Row;
        const libraryUrl = row.library === undefined ? "" : urls[row.library];
        const report = await runModule<Report>(CHILD, [row.step, libraryUrl, eventPath, BUCKET, KEY_TEMPLATE], {
          cwd: ROOT,
          env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
          nodeFlags: row.nodeFlags ?? [],
        });
        if (report.records !== records) throw new Error(`${row.label}: ${report.records} records, not ${records}`);
        if (
          row.step === "handle" &&
          (report.requests !== expectedRequests || report.keys !== records || report.failures !== 0)
        ) {
          throw new Error(
            `${row.label}: expected ${expectedRequests} requests for ${records} keys and no failures, got ${JSON.stringify(report)}`,
          );
        }
        peaks[at]?.push(report.maxRssKb * 1024);
      }
    });
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }

  const peak = peaks.map((values) => median(values));
  const [
    baseline = 0,
    sdk = 0,
    distCode = 0,
    distHandled = 0,
    bundleCode = 0,
    bundleHandled = 0,
    cappedBaseline = 0,
    cappedCode = 0,
    cappedHandled = 0,
  ] = peak;
  console.log(
    `Event: ${records.toLocaleString("en")} OLD_IMAGE REMOVE records (10 attributes each), ` +
      `${mb(Buffer.byteLength(text))} of JSON (limit ${mb(LAMBDA_PAYLOAD_LIMIT)}); ` +
      `key "${KEY_TEMPLATE}": ${records.toLocaleString("en")} keys in ${expectedRequests} DeleteObjects calls.`,
  );
  console.log(
    "S3: a real S3Client whose send() is a stub answering {} at once: no network, no serialisation, no signing.",
  );
  console.log(
    `Peak RSS: process.resourceUsage().maxRSS at the end of each fresh node process; medians of ${PROCESSES} processes per row.`,
  );
  console.log();
  console.log(
    table(
      ["process", "peak RSS", "vs JSON.parse only", "vs client-s3 + JSON.parse", "target", "result"],
      ROWS.map((row, at) => {
        const value = peak[at] ?? 0;
        const handled = row.step === "handle" && row.nodeFlags === undefined;
        return [
          row.label,
          mb(value),
          ratio(value / baseline),
          ratio(value / sdk),
          handled ? `<= ${ratio(TARGET)} vs JSON.parse only` : "",
          handled ? verdict(value / baseline, TARGET, "<=") : "",
        ];
      }),
    ),
  );
  console.log();
  for (const [name, code, handled] of [
    ["dist/", distCode, distHandled],
    ["bundle", bundleCode, bundleHandled],
  ] as const) {
    console.log(
      `${name}: the handler's ${mb(handled - baseline)} over the baseline = loading client-s3 ${mb(sdk - baseline)}` +
        ` + loading the library ${mb(code - sdk)} + handling the event ${mb(handled - code)}.`,
    );
  }
  console.log(
    `With the young generation capped at 2 MB a semi-space, handling the event adds ${mb(cappedHandled - cappedCode)}` +
      ` (bundle) instead of ${mb(bundleHandled - bundleCode)}: the difference is V8 growing its young generation while` +
      ` the batch's objects survive, not data the handler keeps. Capped, the handler's peak is` +
      ` ${ratio(cappedHandled / cappedBaseline)} of JSON.parse only, capped the same way.`,
  );
});
