/**
 * Issue item 3, cold start: the one-line handler bundled as users bundle their Lambdas (esbuild,
 * bundle, minify, platform node, format esm, `@aws-sdk/*` external, as CDK's NodejsFunction and
 * SAM's esbuild builder do), from the built package (dist/index.js).
 *
 * - Size: the handler bundle against an empty handler bundled the same way: minified and gzip
 *   (zlib's default level) bytes; the library adds the difference.
 * - Import time: fresh node processes, interleaved, each timing one `await import()` of the handler
 *   bundle, or of @aws-sdk/client-s3 alone (the SDK the handler needs anyway), or of @aws-sdk/client-s3
 *   plus `new S3Client({})` (what the one-liner's default client costs, for reference); medians.
 *   AWS_REGION is set, as in Lambda.
 * - zod's share: esbuild's metafile (minified bytes per input package), the handler bundled with zod
 *   left external, and tiny files that build the same kinds of option schemas (strictObject,
 *   optional, custom + superRefine, string/int/array checks, enum, boolean, safeParse) with zod/mini,
 *   with classic zod (namespace import) and with zod/mini plus z.compile.
 *
 * The library is bundled from dist/: `npm run build` first.
 * Run: npx tsx bench/cold-start.ts   (BENCH_SMOKE=1 for a short smoke run)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { build, type Metafile } from "esbuild";
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
  verdict,
} from "./lib.js";

const PROCESSES = sized(21, 2);
const TARGET_IMPORT_MS = 5;
const TARGET_MIN_KB = 25;
const TARGET_GZIP_KB = 8;
/** Sizes are given in KB of 1,024 bytes. */
const KB = 1024;

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The schema kinds the option checks use, written once per zod dialect (see the tiny bundles). */
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

/** What the tiny files export: a check that parses options and turns issues into messages. */
const CHECK = (parse: string) => `
export function check(options) {
  const result = ${parse};
  if (result.success) return result.data;
  throw new Error(result.error.issues.map((issue) => issue.path.join(".") + " " + issue.message).join("; "));
}
`;

interface Bundle {
  file: string;
  bytes: number;
  gzip: number;
  metafile: Metafile;
}

/** Bundles `contents` as a user's Lambda: esbuild, bundle, minify, node, esm, @aws-sdk/* external. */
async function bundle(directory: string, name: string, contents: string, external: string[] = []): Promise<Bundle> {
  const file = join(directory, `${name}.mjs`);
  const result = await build({
    stdin: { contents, resolveDir: ROOT, loader: "js", sourcefile: `${name}.js` },
    bundle: true,
    minify: true,
    platform: "node",
    format: "esm",
    external: ["@aws-sdk/*", ...external],
    metafile: true,
    write: false,
    logLevel: "silent",
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error(`esbuild produced no output for ${name}`);
  writeFileSync(file, output.contents);
  return {
    file,
    bytes: output.contents.byteLength,
    gzip: gzipSync(output.contents).byteLength,
    metafile: result.metafile,
  };
}

/** Minified bytes in the output by input package: zod, this library (dist/), the entry file. */
function bytesByPackage(metafile: Metafile): Map<string, number> {
  const totals = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const parts = input.split(/[/\\]/);
      const at = parts.lastIndexOf("node_modules");
      const name =
        at >= 0
          ? parts[at + 1]?.startsWith("@")
            ? `${parts[at + 1]}/${parts[at + 2]}`
            : (parts[at + 1] as string)
          : input.startsWith(`dist${sep}`) || input.startsWith("dist/")
            ? "dynamodb-s3-cleanup (dist/)"
            : `entry (${input})`;
      totals.set(name, (totals.get(name) ?? 0) + bytesInOutput);
    }
  }
  return totals;
}

/** A child that times one dynamic import, and runs `after` (timed too) once it is loaded. */
const IMPORT_CHILD = `
const [specifier, after] = process.argv.slice(1);
const start = process.hrtime.bigint();
const module = await import(specifier);
if (after === "new-client") new module.S3Client({});
const importMs = Number(process.hrtime.bigint() - start) / 1e6;
if (after === "handler" && typeof module.handler !== "function") throw new Error("no handler export");
console.log(JSON.stringify({ importMs }));
`;

const kb = (bytes: number) => `${(bytes / KB).toFixed(1)} KB`;
const signedKb = (bytes: number) => `${bytes < 0 ? "-" : "+"}${kb(Math.abs(bytes))}`;

main(async () => {
  printHeader(
    "Benchmark: cold start, bundle size and zod's share (issue item 3)",
    `${SMOKE ? "BENCH_SMOKE=1 " : ""}npx tsx bench/cold-start.ts`,
  );
  const entry = fileURLToPath(builtLibraryUrl());
  const cacheDir = join(ROOT, ".cache");
  mkdirSync(cacheDir, { recursive: true });
  // Inside the repository, so that the bundles' @aws-sdk/* imports resolve from its node_modules.
  const directory = mkdtempSync(join(cacheDir, "bench-cold-start-"));
  try {
    const library = JSON.stringify(`./${relative(ROOT, entry).split(sep).join("/")}`);
    const oneLine = `import { createCleanupHandler } from ${library};
export const handler = createCleanupHandler({ bucket: "product-images", key: "{productId}.png" });`;
    const handler = await bundle(directory, "one-line-handler", oneLine);
    const empty = await bundle(
      directory,
      "empty-handler",
      "export const handler = async () => ({ batchItemFailures: [] });",
    );
    const zodExternal = await bundle(directory, "one-line-handler-zod-external", oneLine, ["zod", "zod/*"]);
    const mini = await bundle(
      directory,
      "zod-mini",
      `import * as z from "zod/mini";${MINI_SCHEMAS}${CHECK("z.safeParse(schema(), options)")}`,
    );
    const classic = await bundle(
      directory,
      "zod-classic",
      `import * as z from "zod";${CLASSIC_SCHEMAS}${CHECK("schema().safeParse(options)")}`,
    );
    const compiled = await bundle(
      directory,
      "zod-mini-compiled",
      `import * as z from "zod/mini";${MINI_SCHEMAS}${CHECK("z.safeParse(z.compile(schema()), options)")}`,
    );

    // Import time, fresh processes, the three interleaved (the order rotates every round).
    const env = { AWS_REGION: "us-east-1", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };
    const cases = [
      { name: "@aws-sdk/client-s3 alone", args: ["@aws-sdk/client-s3", "none"] },
      { name: "@aws-sdk/client-s3 + new S3Client({})", args: ["@aws-sdk/client-s3", "new-client"] },
      { name: "one-line handler bundle", args: [pathToFileURL(handler.file).href, "handler"] },
    ];
    const times: number[][] = cases.map(() => []);
    await rounds(PROCESSES + 1, async (round) => {
      for (let i = 0; i < cases.length; i++) {
        const which = (i + round) % cases.length;
        const { importMs } = await runModule<{ importMs: number }>(
          IMPORT_CHILD,
          (cases[which] as (typeof cases)[number]).args,
          {
            cwd: directory,
            env,
          },
        );
        // Round 0 only warms the file system cache.
        if (round > 0) (times[which] as number[]).push(importMs);
      }
    });
    const medians = times.map((list) => median(list));
    const [sdkMs, clientMs, handlerMs] = medians as [number, number, number];
    const paired = (times[2] as number[]).map((value, i) => value - ((times[0] as number[])[i] as number));

    const addedBytes = handler.bytes - empty.bytes;
    const addedGzip = handler.gzip - empty.gzip;
    const addedMs = handlerMs - sdkMs;

    console.log(
      "Bundles: esbuild bundle, minify, platform node, format esm, external @aws-sdk/*; gzip = zlib default level; KB = 1,024 bytes.",
    );
    console.log(
      `Import time: ${PROCESSES} fresh node processes per row (plus one untimed round), interleaved; each times one await import(); medians.`,
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
            kb(addedBytes),
            `<= ${TARGET_MIN_KB} KB`,
            verdict(addedBytes / KB, TARGET_MIN_KB, "<="),
          ],
          [
            "bundle, gzip",
            kb(handler.gzip),
            `${kb(empty.gzip)} (empty handler)`,
            kb(addedGzip),
            `<= ${TARGET_GZIP_KB} KB`,
            verdict(addedGzip / KB, TARGET_GZIP_KB, "<="),
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
      `Import times (median of ${PROCESSES}): ${cases.map((c, i) => `${c.name} ${ms(medians[i] as number)}`).join("; ")}. ` +
        `Median of the paired differences (handler - client-s3, same round): ${ms(median(paired))}. ` +
        `Of the library's ${ms(addedMs)}, new S3Client({}) (the one-liner's default client, which any handler pays) accounts for ${ms(clientMs - sdkMs)}.`,
    );
    console.log();

    const byPackage = bytesByPackage(handler.metafile);
    const zodBytes = byPackage.get("zod") ?? 0;
    const withoutZod = { bytes: zodExternal.bytes - empty.bytes, gzip: zodExternal.gzip - empty.gzip };
    const zodShare = { bytes: handler.bytes - zodExternal.bytes, gzip: handler.gzip - zodExternal.gzip };
    console.log(
      `One-line handler bundle by input package (esbuild metafile, minified bytes): ${[...byPackage]
        .sort((a, b) => b[1] - a[1])
        .map(([name, bytes]) => `${name} ${kb(bytes)} (${((bytes / handler.bytes) * 100).toFixed(0)}%)`)
        .join(", ")}.`,
    );
    console.log();
    // An alternative's estimated addition: today's addition with zod/mini's part swapped for it.
    const estimate = (alternative: Bundle) => ({
      bytes: addedBytes - mini.bytes + alternative.bytes,
      gzip: addedGzip - mini.gzip + alternative.gzip,
    });
    const row = (
      name: string,
      own: { bytes: number; gzip: number } | undefined,
      added: { bytes: number; gzip: number },
    ) => [
      name,
      own === undefined ? "-" : kb(own.bytes),
      own === undefined ? "-" : kb(own.gzip),
      kb(added.bytes),
      kb(added.gzip),
      verdict(added.bytes / KB, TARGET_MIN_KB, "<=") === "PASS" &&
      verdict(added.gzip / KB, TARGET_GZIP_KB, "<=") === "PASS"
        ? "PASS"
        : "MISS",
    ];
    console.log(
      `zod's share: the handler bundled with zod external is ${kb(zodExternal.bytes)} (${kb(zodExternal.gzip)} gzip), so zod is ` +
        `${kb(zodShare.bytes)} minified (${((zodShare.bytes / addedBytes) * 100).toFixed(0)}% of the library's addition; metafile: ${kb(zodBytes)}) ` +
        `and ${kb(zodShare.gzip)} gzip (${((zodShare.gzip / addedGzip) * 100).toFixed(0)}%). Tiny files build the same kinds of option schemas ` +
        "in each dialect; an alternative's addition = today's addition - the zod/mini tiny file + its own tiny file.",
    );
    console.log();
    console.log(
      table(
        [
          "validation",
          "tiny file min",
          "tiny file gzip",
          "library adds, min",
          "library adds, gzip",
          `<= ${TARGET_MIN_KB} KB / ${TARGET_GZIP_KB} KB`,
        ],
        [
          row("zod/mini, options only (as now; records are parsed without zod)", mini, {
            bytes: addedBytes,
            gzip: addedGzip,
          }),
          row('classic zod, import * as z from "zod"', classic, estimate(classic)),
          row("zod/mini + z.compile (zod 4.6)", compiled, estimate(compiled)),
          row("no zod (zod left external: the library's own code only)", undefined, withoutZod),
        ],
      ),
    );
    console.log();
    console.log(
      `zod's share of the addition vs the rest: zod ${signedKb(zodShare.bytes)} / ${signedKb(zodShare.gzip)} gzip; ` +
        `library code ${signedKb(withoutZod.bytes)} / ${signedKb(withoutZod.gzip)} gzip. ` +
        `Import-time ratio handler/client-s3: ${ratio(handlerMs / sdkMs)}.`,
    );
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
