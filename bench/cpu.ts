/**
 * Issue item 1, CPU per record: parseStreamRecords plus the template key mapper over 10,000 REMOVE
 * records, against JSON.parse of the same event's text (what Lambda's runtime pays before our code
 * runs), measured side by side.
 *
 * - warm: a few fresh node processes per stream view (a Lambda function sees one view type); in each,
 *   warm-up rounds, then measured rounds that each time JSON.parse of the text and then our code on
 *   the event JSON.parse returned, with a full GC before each timed section (one parsed event stays
 *   alive, so that these GCs do not make V8 drop its optimised code every round). The ratio is the
 *   median of the per-round ratios: both sides of a round share the machine's load at that moment.
 * - first pass: one fresh node process per measurement times its first JSON.parse and then its first
 *   parse + map of the same event (cold JIT); medians over the processes.
 *
 * Every measuring process is plain node with the library imported from dist/ (what users run):
 * `npm run build` first. Run: npx tsx bench/cpu.ts   (BENCH_SMOKE=1 for a seconds-long smoke run)
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BenchViewType, BUCKET, eventText, KEY_TEMPLATE } from "./events.js";
import {
  builtLibraryUrl,
  main,
  median,
  ms,
  printHeader,
  ratio,
  rounds,
  runModule,
  SMOKE,
  sized,
  table,
  us,
  verdict,
} from "./lib.js";

const RECORDS = sized(10_000, 50);
const WARM_PROCESSES = sized(3, 1);
const WARMUP_ROUNDS = sized(5, 1);
const MEASURED_ROUNDS = sized(21, 3);
const FIRST_PASS_PROCESSES = sized(7, 1);
const VIEWS: readonly BenchViewType[] = ["KEYS_ONLY", "OLD_IMAGE"];
const TARGETS: Record<BenchViewType, number> = { KEYS_ONLY: 1.0, OLD_IMAGE: 0.5 };

/** What both children print: times in ms, and what the mapping produced, to check it did the work. */
interface Sample {
  jsonMs: number;
  parseMs: number;
  mapMs: number;
  removals: number;
  firstKey: string | undefined;
}

/** Shared by both children: one round, JSON.parse then ours, each after a full GC when warm. */
const ROUND = `
import { readFileSync } from "node:fs";
const [libraryUrl, eventPath, template, bucket, warmup, measured] = process.argv.slice(1);
const text = readFileSync(eventPath, "utf8");
const lib = await import(libraryUrl);
const mapKeys = lib.createKeyMapper(template, { bucket });
const since = (start) => Number(process.hrtime.bigint() - start) / 1e6;
async function round(collect) {
  if (collect) globalThis.gc();
  let start = process.hrtime.bigint();
  const event = JSON.parse(text);
  const jsonMs = since(start);
  if (collect) globalThis.gc();
  start = process.hrtime.bigint();
  const batch = lib.parseStreamRecords(event);
  const parseMs = since(start);
  start = process.hrtime.bigint();
  const targets = await Promise.all(batch.removals.map((item) => mapKeys(item)));
  const mapMs = since(start);
  return { jsonMs, parseMs, mapMs, removals: targets.length, firstKey: targets[0]?.[0]?.key };
}
`;

/**
 * Warm: warm-up rounds, then measured rounds; prints the measured samples. One event and its parse
 * result stay alive throughout: otherwise each round's full GC would collect the hidden classes of
 * the records' shapes, and V8 would throw away the optimised code built on them (deopts for "weak
 * objects") every round, which a warm Lambda, with no forced GC, does not go through.
 */
const WARM_CHILD = `${ROUND}
const shapes = lib.parseStreamRecords(JSON.parse(text));
const samples = [];
for (let i = 0; i < Number(warmup) + Number(measured); i++) {
  const sample = await round(true);
  if (i >= Number(warmup)) samples.push(sample);
}
if (shapes.removals.length === 0) throw new Error("no removals");
console.log(JSON.stringify(samples));
`;

/** First pass: the process's first JSON.parse and first parse + map, no GC forced. */
const FIRST_PASS_CHILD = `${ROUND}
console.log(JSON.stringify([await round(false)]));
`;

function childArgs(libraryUrl: string, eventPath: string): string[] {
  return [libraryUrl, eventPath, KEY_TEMPLATE, BUCKET, String(WARMUP_ROUNDS), String(MEASURED_ROUNDS)];
}

/** Runs `count` children of `code`, one after another; checks every sample mapped every record. */
async function samplesOf(code: string, count: number, args: string[]): Promise<Sample[]> {
  const runs = await rounds(count, () => runModule<Sample[]>(code, args, { nodeFlags: ["--expose-gc"] }));
  const samples = runs.flat();
  for (const sample of samples) {
    if (sample.removals !== RECORDS || sample.firstKey !== "p-0000000.png") {
      throw new Error(
        `expected ${RECORDS} keys starting with p-0000000.png, got ${sample.removals}, ${sample.firstKey}`,
      );
    }
  }
  return samples;
}

interface Summary {
  jsonMs: number;
  parseMs: number;
  mapMs: number;
  oursMs: number;
  /** The median of the per-sample ratios ours / JSON.parse, and their 25th and 75th percentiles. */
  ratio: number;
  p25: number;
  p75: number;
}

function summarise(samples: readonly Sample[]): Summary {
  const ratios = samples.map((sample) => (sample.parseMs + sample.mapMs) / sample.jsonMs).sort((a, b) => a - b);
  const at = (share: number) => ratios[Math.min(ratios.length - 1, Math.floor(share * ratios.length))] as number;
  return {
    jsonMs: median(samples.map((sample) => sample.jsonMs)),
    parseMs: median(samples.map((sample) => sample.parseMs)),
    mapMs: median(samples.map((sample) => sample.mapMs)),
    oursMs: median(samples.map((sample) => sample.parseMs + sample.mapMs)),
    ratio: median(ratios),
    p25: at(0.25),
    p75: at(0.75),
  };
}

main(async () => {
  printHeader("Benchmark: CPU per record (issue item 1)", `${SMOKE ? "BENCH_SMOKE=1 " : ""}npx tsx bench/cpu.ts`);
  const libraryUrl = builtLibraryUrl();
  const directory = mkdtempSync(join(tmpdir(), "bench-cpu-"));
  const warmRows: (string | number)[][] = [];
  const firstRows: (string | number)[][] = [];
  try {
    for (const view of VIEWS) {
      const text = eventText(view, RECORDS);
      const eventPath = join(directory, `${view}.json`);
      writeFileSync(eventPath, text);
      const size = `${(Buffer.byteLength(text) / 1024 / 1024).toFixed(2)} MB`;
      const args = childArgs(libraryUrl, eventPath);

      const warm = summarise(await samplesOf(WARM_CHILD, WARM_PROCESSES, args));
      warmRows.push([
        view,
        RECORDS,
        size,
        ms(warm.jsonMs),
        ms(warm.parseMs),
        ms(warm.mapMs),
        ms(warm.oursMs),
        us((warm.oursMs * 1000) / RECORDS),
        ratio(warm.ratio),
        `${ratio(warm.p25)}-${ratio(warm.p75)}`,
        `<= ${ratio(TARGETS[view])}`,
        verdict(warm.ratio, TARGETS[view], "<="),
      ]);

      const first = summarise(await samplesOf(FIRST_PASS_CHILD, FIRST_PASS_PROCESSES, args));
      firstRows.push([
        view,
        RECORDS,
        ms(first.jsonMs),
        ms(first.parseMs),
        ms(first.mapMs),
        ms(first.oursMs),
        us((first.oursMs * 1000) / RECORDS),
        ratio(first.ratio),
        "none (report only)",
      ]);
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }

  console.log(
    `ours = parseStreamRecords(event) + await Promise.all(removals.map(mapKeys)), with ` +
      `mapKeys = createKeyMapper("${KEY_TEMPLATE}", { bucket }) made beforehand; REMOVE records of TTL expiries.`,
  );
  console.log(
    `Warm: ${WARM_PROCESSES} fresh node processes per view x (${WARMUP_ROUNDS} warm-up + ${MEASURED_ROUNDS} measured rounds); ` +
      "each round times JSON.parse(text), then ours on the event it returned, after a full GC each; " +
      "one parsed event and its parse result stay alive, so the GCs do not collect the records' hidden classes.",
  );
  console.log(
    "Times are medians over all measured rounds; ours/JSON.parse is the median of the per-round ratios " +
      "(p25-p75: their spread).",
  );
  console.log();
  console.log(
    table(
      [
        "stream view",
        "records",
        "event",
        "JSON.parse",
        "parse",
        "map",
        "ours",
        "ours/record",
        "ours/JSON.parse",
        "p25-p75",
        "target",
        "result",
      ],
      warmRows,
    ),
  );
  console.log();
  console.log(
    `First pass (cold JIT): ${FIRST_PASS_PROCESSES} fresh node processes per view; each imports dist/, makes the ` +
      "mapper, then times its first JSON.parse of the event and its first parse + map of it. Medians.",
  );
  console.log();
  console.log(
    table(
      ["stream view", "records", "JSON.parse", "parse", "map", "ours", "ours/record", "ours/JSON.parse", "target"],
      firstRows,
    ),
  );
});
