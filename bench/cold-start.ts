/**
 * Issue item 3, cold start: the one-line handler bundled as users bundle their Lambdas (esbuild,
 * bundle, minify, platform node, format esm, `@aws-sdk/*` external, as CDK's NodejsFunction and
 * SAM's esbuild builder do), from the built package (dist/index.js).
 *
 * - Size: the handler bundle against an empty handler bundled the same way, minified and gzip
 *   (zlib's default level); the library adds the difference.
 * - Import time: fresh node processes, every case once per round, the order rotating; each process
 *   times its steps: the `await import()` of the handler bundle (which runs createCleanupHandler),
 *   or of @aws-sdk/client-s3 alone (the baseline: the SDK any handler loads); the library adds the
 *   difference of the medians. Two more kinds of process split it, step by step after importing
 *   @aws-sdk/client-s3: import @aws-sdk/util-dynamodb (the library's other peer), import the bundle
 *   without the call (evaluation), call createCleanupHandler; and `new S3Client({})` alone (what the
 *   one-liner's default client costs). AWS_REGION is set, as in Lambda.
 * - zod's share: esbuild's metafile (minified bytes per input package), the handler bundled with
 *   zod left external (the library's own code alone), and tiny files that build the same kinds of
 *   option schemas as the handler (strictObject, optional, custom + superRefine, string/int/array
 *   checks, enum, boolean; safeParse and issue messages) with zod/mini (as now), classic zod
 *   (namespace import) and zod/mini + z.compile; each tiny file's size, and its import time with
 *   one check of the one-liner's options, against the empty handler's import time.
 *
 * The library is bundled from dist/: `npm run build` first.
 * Run: npx tsx bench/cold-start.ts   (BENCH_SMOKE=1 for a short smoke run)
 */
import { rmSync } from "node:fs";
import { loadavg } from "node:os";
import { pathToFileURL } from "node:url";
import type { Metafile } from "esbuild";
import {
  type Bundle,
  builtLibrarySpecifier,
  bundleAsUsersDo,
  main,
  median,
  ms,
  printHeader,
  rounds,
  runModule,
  SMOKE,
  scratchDirectory,
  sized,
  table,
  verdict,
} from "./lib.js";

const PROCESSES = sized(21, 2);
const TARGET_IMPORT_MS = 5;
const TARGET_MIN_KB = 25;
const TARGET_GZIP_KB = 8;
/** Sizes are in KB of 1,024 bytes. */
const KB = 1024;

const OPTIONS = `{ bucket: "product-images", key: "{productId}.png" }`;

/** The kinds of schemas the option checks use, in zod/mini. */
const MINI_SCHEMAS = `
const text = () => z.string({ error: "must be a non-empty string" }).check(z.minLength(1, { error: "must be a non-empty string" }));
const int = (max) => z.int({ error: "must be an integer" }).check(z.gte(1, { error: "must be at least 1" }), z.lte(max, { error: "must be at most " + max }));
const fn = () => z.custom((value) => typeof value === "function", { error: "must be a function" });
const schema = () => z.strictObject({
  key: z.custom().check(z.superRefine((key, context) => {
    if (typeof key !== "string" && typeof key !== "function") context.addIssue({ code: "custom", message: "must be a template", input: key });
  })),
  bucket: z.optional(text()),
  allowedPrefixes: z.optional(z.array(text()).check(z.minLength(1, { error: "must hold a prefix" }))),
  concurrency: z.optional(int(64)),
  maxAttempts: z.optional(int(10)),
  timeoutMarginMs: z.optional(z.int().check(z.gte(0, { error: "must not be negative" }))),
  now: z.optional(fn()),
  sleep: z.optional(fn()),
  versions: z.optional(z.enum(["current", "all"], { error: 'must be "current" or "all"' })),
  removals: z.optional(z.enum(["any", "ttl", "user"], { error: 'must be "any", "ttl" or "user"' })),
  dryRun: z.optional(z.boolean({ error: "must be true or false" })),
});
`;

/** The same schemas in classic zod. */
const CLASSIC_SCHEMAS = `
const text = () => z.string({ error: "must be a non-empty string" }).min(1, { error: "must be a non-empty string" });
const int = (max) => z.int({ error: "must be an integer" }).gte(1, { error: "must be at least 1" }).lte(max, { error: "must be at most " + max });
const fn = () => z.custom((value) => typeof value === "function", { error: "must be a function" });
const schema = () => z.strictObject({
  key: z.custom().superRefine((key, context) => {
    if (typeof key !== "string" && typeof key !== "function") context.addIssue({ code: "custom", message: "must be a template", input: key });
  }),
  bucket: text().optional(),
  allowedPrefixes: z.array(text()).min(1, { error: "must hold a prefix" }).optional(),
  concurrency: int(64).optional(),
  maxAttempts: int(10).optional(),
  timeoutMarginMs: z.int().gte(0, { error: "must not be negative" }).optional(),
  now: fn().optional(),
  sleep: fn().optional(),
  versions: z.enum(["current", "all"], { error: 'must be "current" or "all"' }).optional(),
  removals: z.enum(["any", "ttl", "user"], { error: 'must be "any", "ttl" or "user"' }).optional(),
  dryRun: z.boolean({ error: "must be true or false" }).optional(),
});
`;

/** What a tiny file exports: a check that parses options and turns issues into messages. */
const check = (parse: string) => `
export function check(options) {
  const result = ${parse};
  if (result.success) return result.data;
  throw new Error(result.error.issues.map((issue) => issue.path.join(".") + " " + issue.message).join("; "));
}
`;

/** Minified bytes in the output by input: a package of node_modules, this library (dist/), the entry. */
function bytesByPackage(metafile: Metafile): Map<string, number> {
  const totals = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const parts = input.split("/");
      const at = parts.lastIndexOf("node_modules");
      const scoped = parts[at + 1]?.startsWith("@") === true;
      const name =
        at >= 0
          ? scoped
            ? `${parts[at + 1]}/${parts[at + 2]}`
            : (parts[at + 1] as string)
          : input.startsWith("dist/")
            ? "dynamodb-s3-cleanup (dist/)"
            : "the entry file";
      totals.set(name, (totals.get(name) ?? 0) + bytesInOutput);
    }
  }
  return totals;
}

/**
 * A child that runs steps one after another and prints how long each took, in ms: `import` a
 * specifier, then with the last module: construct an S3Client (`new-client`), call its `check` or
 * its `createCleanupHandler` with the one-liner's options (`check`, `create`), or make sure that it
 * exports a handler (`handler`, untimed in effect).
 */
const STEPS_CHILD = `
const steps = JSON.parse(process.argv[1]);
const durations = [];
let module;
for (const step of steps) {
  const start = process.hrtime.bigint();
  if (step.import !== undefined) module = await import(step.import);
  else if (step.run === "new-client") new module.S3Client({});
  else if (step.run === "check") module.check(${OPTIONS});
  else if (step.run === "create") module = { handler: module.createCleanupHandler(${OPTIONS}) };
  durations.push(Number(process.hrtime.bigint() - start) / 1e6);
  if (step.run === "handler" && typeof module.handler !== "function") throw new Error("the bundle exports no handler");
}
console.log(JSON.stringify(durations));
`;

type Step = { import: string } | { run: "new-client" | "check" | "create" | "handler" };

/** A kind of fresh process: its steps, each timed. */
interface ImportCase {
  name: string;
  steps: Step[];
}

const kb = (bytes: number) => `${(bytes / KB).toFixed(1)} KB`;
const share = (part: number, whole: number) => `${((part / whole) * 100).toFixed(0)}%`;
const passesSize = (bytes: number, gzip: number) =>
  verdict(bytes / KB, TARGET_MIN_KB, "<=") === "PASS" && verdict(gzip / KB, TARGET_GZIP_KB, "<=") === "PASS"
    ? "PASS"
    : "MISS";

main(async () => {
  printHeader(
    "Benchmark: cold start, bundle size and zod's share (issue item 3)",
    `${SMOKE ? "BENCH_SMOKE=1 " : ""}npx tsx bench/cold-start.ts`,
  );
  const loadAtStart = loadavg()[0] ?? 0;
  const directory = scratchDirectory("bench-cold-start");
  try {
    const library = builtLibrarySpecifier();
    const oneLine = `import { createCleanupHandler } from ${library};\nexport const handler = createCleanupHandler(${OPTIONS});\n`;
    const handler = await bundleAsUsersDo(directory, "one-line-handler", oneLine);
    // The same code without the call: its import is the bundle's evaluation alone.
    const factory = await bundleAsUsersDo(directory, "factory", `export { createCleanupHandler } from ${library};\n`);
    const empty = await bundleAsUsersDo(
      directory,
      "empty-handler",
      "export const handler = async () => ({ batchItemFailures: [] });",
    );
    const zodExternal = await bundleAsUsersDo(directory, "one-line-handler-zod-external", oneLine, ["zod", "zod/*"]);
    const tiny = {
      mini: await bundleAsUsersDo(
        directory,
        "zod-mini",
        `import * as z from "zod/mini";${MINI_SCHEMAS}${check("z.safeParse(schema(), options)")}`,
      ),
      classic: await bundleAsUsersDo(
        directory,
        "zod-classic",
        `import * as z from "zod";${CLASSIC_SCHEMAS}${check("schema().safeParse(options)")}`,
      ),
      compiled: await bundleAsUsersDo(
        directory,
        "zod-mini-compiled",
        `import * as z from "zod/mini";${MINI_SCHEMAS}${check("z.safeParse(z.compile(schema()), options)")}`,
      ),
    };

    const url = (file: string) => pathToFileURL(file).href;
    const importOf = (specifier: string): Step => ({ import: specifier });
    const cases: ImportCase[] = [
      { name: "client-s3", steps: [importOf("@aws-sdk/client-s3")] },
      { name: "handler", steps: [importOf(url(handler.file)), { run: "handler" }] },
      { name: "split: new client", steps: [importOf("@aws-sdk/client-s3"), { run: "new-client" }] },
      {
        name: "split: handler",
        steps: [
          importOf("@aws-sdk/client-s3"),
          importOf("@aws-sdk/util-dynamodb"),
          importOf(url(factory.file)),
          { run: "create" },
          { run: "handler" },
        ],
      },
      { name: "empty", steps: [importOf(url(empty.file))] },
      { name: "zod/mini", steps: [importOf(url(tiny.mini.file)), { run: "check" }] },
      { name: "classic zod", steps: [importOf(url(tiny.classic.file)), { run: "check" }] },
      { name: "zod/mini + compile", steps: [importOf(url(tiny.compiled.file)), { run: "check" }] },
    ];
    const env = { AWS_REGION: "us-east-1", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };
    const samples: number[][][] = cases.map(() => []);
    // Round 0 only warms the file system cache; the order rotates every round.
    await rounds(PROCESSES + 1, async (round) => {
      for (let i = 0; i < cases.length; i++) {
        const which = (i + round) % cases.length;
        const durations = await runModule<number[]>(STEPS_CHILD, [JSON.stringify((cases[which] as ImportCase).steps)], {
          cwd: directory,
          env,
        });
        if (round > 0) (samples[which] as number[][]).push(durations);
      }
    });
    const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);
    /** The median of a case's total time, or of one of its steps. */
    const timeOf = (name: string, step?: number) => {
      const list = samples[cases.findIndex((c) => c.name === name)] as number[][];
      return median(list.map((durations) => (step === undefined ? sum(durations) : (durations[step] as number))));
    };
    const sdkMs = timeOf("client-s3");
    const handlerMs = timeOf("handler");
    const emptyMs = timeOf("empty");
    const miniMs = timeOf("zod/mini");
    const classicMs = timeOf("classic zod");
    const compiledMs = timeOf("zod/mini + compile");
    const pairedAdded = median(
      (samples[1] as number[][]).map((durations, i) => sum(durations) - sum((samples[0] as number[][])[i] as number[])),
    );
    const split = {
      newClient: timeOf("split: new client", 1),
      utilDynamodb: timeOf("split: handler", 1),
      evaluation: timeOf("split: handler", 2),
      create: timeOf("split: handler", 3),
    };

    const added = { bytes: handler.bytes - empty.bytes, gzip: handler.gzip - empty.gzip };
    const addedMs = handlerMs - sdkMs;

    console.log(
      "Bundles: esbuild bundle, minify, platform node, format esm, external @aws-sdk/*; gzip = zlib default level; KB = 1,024 bytes.",
    );
    console.log(
      `Import time: ${PROCESSES} fresh node processes per case (after one untimed round), every case once per round, ` +
        "order rotating; each times its imports and what follows them (see the list below); medians.",
    );
    console.log();
    console.log(
      table(
        ["measure", "one-line handler", "baseline", "library adds", "target", "result"],
        [
          [
            "bundle, minified",
            kb(handler.bytes),
            `${kb(empty.bytes)} (empty handler)`,
            kb(added.bytes),
            `<= ${TARGET_MIN_KB} KB`,
            verdict(added.bytes / KB, TARGET_MIN_KB, "<="),
          ],
          [
            "bundle, gzip",
            kb(handler.gzip),
            `${kb(empty.gzip)} (empty handler)`,
            kb(added.gzip),
            `<= ${TARGET_GZIP_KB} KB`,
            verdict(added.gzip / KB, TARGET_GZIP_KB, "<="),
          ],
          [
            "import time",
            ms(handlerMs),
            `${ms(sdkMs)} (@aws-sdk/client-s3 alone)`,
            ms(addedMs),
            `<= ${TARGET_IMPORT_MS} ms`,
            verdict(addedMs, TARGET_IMPORT_MS, "<="),
          ],
        ],
      ),
    );
    console.log();
    console.log(
      `Library adds ${ms(addedMs)}: the difference of the medians of fresh processes that import the handler bundle ` +
        `or @aws-sdk/client-s3 alone (the median of the per-round differences: ${ms(pairedAdded)}). ` +
        "The same in one process, step by step, after @aws-sdk/client-s3 has loaded (medians):",
    );
    console.log();
    console.log(
      table(
        ["step, after importing @aws-sdk/client-s3", "median"],
        [
          [
            "import @aws-sdk/util-dynamodb (the library's other peer: it reads numbers with NumberValue)",
            ms(split.utilDynamodb),
          ],
          ["import the bundle without the call (evaluation: our modules and zod/mini's)", ms(split.evaluation)],
          [
            "createCleanupHandler(options): schemas of the options given built and parsed, template, deleter, S3Client",
            ms(split.create),
          ],
          ["  of which new S3Client({}), the default client (a process that constructs only it)", ms(split.newClient)],
          ["sum of the three steps", ms(split.utilDynamodb + split.evaluation + split.create)],
        ],
      ),
    );
    console.log();
    console.log(
      `Load average (1 min) at the start and the end: ${loadAtStart.toFixed(2)}, ${loadavg()[0]?.toFixed(2)}.`,
    );
    console.log();

    const byPackage = [...bytesByPackage(handler.metafile)].sort((a, b) => b[1] - a[1]);
    const zod = { bytes: handler.bytes - zodExternal.bytes, gzip: handler.gzip - zodExternal.gzip };
    const ownCode = { bytes: zodExternal.bytes - empty.bytes, gzip: zodExternal.gzip - empty.gzip };
    console.log(
      `The one-line handler bundle by input (esbuild metafile, minified bytes): ${byPackage
        .map(([name, bytes]) => `${name} ${kb(bytes)} (${share(bytes, handler.bytes)})`)
        .join(", ")}. ` +
        `Bundled with zod external it is ${kb(zodExternal.bytes)} (${kb(zodExternal.gzip)} gzip): zod is ` +
        `${kb(zod.bytes)} (${share(zod.bytes, added.bytes)}) of the ${kb(added.bytes)} added, and ` +
        `${kb(zod.gzip)} (${share(zod.gzip, added.gzip)}) of the ${kb(added.gzip)} gzip.`,
    );
    console.log(
      "Alternatives: a tiny file builds the handler's kinds of option schemas in each dialect; its import time " +
        "includes one check of the one-liner's options, less the empty handler's import. The library's addition " +
        "with an alternative = today's addition - the zod/mini file + the alternative's file (same for import time).",
    );
    console.log();
    const estimate = (alternative: Bundle, alternativeMs: number) => ({
      bytes: added.bytes - tiny.mini.bytes + alternative.bytes,
      gzip: added.gzip - tiny.mini.gzip + alternative.gzip,
      ms: addedMs - miniMs + alternativeMs,
    });
    const row = (
      name: string,
      own: { bundle: Bundle; ms: number } | undefined,
      total: { bytes: number; gzip: number; ms: number | undefined },
    ) => [
      name,
      own === undefined ? "-" : kb(own.bundle.bytes),
      own === undefined ? "-" : kb(own.bundle.gzip),
      own === undefined ? "-" : ms(own.ms - emptyMs),
      kb(total.bytes),
      kb(total.gzip),
      total.ms === undefined ? "-" : ms(total.ms),
      passesSize(total.bytes, total.gzip),
    ];
    console.log(
      table(
        [
          "option validation",
          "tiny file",
          "gzip",
          "import + check",
          "library adds",
          "gzip",
          "import time",
          `size <= ${TARGET_MIN_KB} KB / ${TARGET_GZIP_KB} KB gzip`,
        ],
        [
          row(
            "zod/mini, options only (as now: records are checked without zod)",
            { bundle: tiny.mini, ms: miniMs },
            { ...added, ms: addedMs },
          ),
          row(
            'classic zod, import * as z from "zod"',
            { bundle: tiny.classic, ms: classicMs },
            estimate(tiny.classic, classicMs),
          ),
          row(
            "zod/mini + z.compile (zod 4.6)",
            { bundle: tiny.compiled, ms: compiledMs },
            estimate(tiny.compiled, compiledMs),
          ),
          row("no zod (bundled with zod external: our code alone)", undefined, { ...ownCode, ms: undefined }),
        ],
      ),
    );
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
