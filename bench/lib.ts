/**
 * Shared helpers of the benchmark scripts. Generic: nothing here knows what is measured.
 *
 * API:
 * - `SMOKE: boolean`: true when BENCH_SMOKE=1. Scripts then use tiny sizes and few rounds, so that a
 *   CI test can run them in seconds; their figures mean nothing in that mode.
 * - `sized(full, smoke)`: `smoke` in SMOKE mode, `full` otherwise.
 * - `median(values)`: the median of a non-empty list (mean of the middle two for an even length).
 * - `rounds(count, run)`: runs `await run(round)` for round = 0 … count-1, one after another, and
 *   returns the results in order.
 * - `timeMs(run)`: runs `await run()` once and returns the elapsed wall time in ms (hrtime).
 * - `runNode(args, options)`: runs a fresh `node` process (same binary) with `args`, and returns the
 *   JSON value printed on its last stdout line. Rejects with its stderr when it exits non-zero.
 *   Options: `cwd`, `env` (added to this process's), `nodeFlags` (such as `--expose-gc`).
 *   `runModule(code, args, options)` does the same for ES module source text (`node --input-type=module -e`),
 *   a child with no loader (tsx) in it: what users run.
 * - `table(headers, rows)`: a plain-text table with aligned columns, as a string.
 * - `ratio(x)` "0.52x", `ms(x)` "12.3 ms", `us(x)` "1.23 µs", `mb(bytes)` "61.2 MB".
 * - `verdict(value, target, "<=" | ">=")`: "PASS" or "MISS".
 * - `printHeader(title, command)`: prints the title, the command, the machine (CPU model, cores,
 *   memory, Node version, OS) and whether SMOKE mode is on.
 * - `main(run)`: runs the script's `run`; exits 0 when it resolves (benchmarks report, they never
 *   fail on a figure) and 1 with the error when it throws.
 * - `builtLibraryUrl()`: the file URL of dist/index.js, the built package users run; throws "run npm
 *   run build first" when it is missing. `loadLibrary()` imports it, typed as src/index.ts.
 *   BENCH_DIST=<directory> measures <directory>/index.js instead (another build, such as an older
 *   commit's, for a before/after comparison); `printHeader` then says so.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { arch, cpus, platform, release, totalmem } from "node:os";
import { join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { build, type Metafile } from "esbuild";

/** Tiny sizes and few rounds (BENCH_SMOKE=1): checks that the scripts run, not how fast. */
export const SMOKE = process.env.BENCH_SMOKE === "1";

/** The built library to measure: ./dist/index.js, or BENCH_DIST/index.js. */
const DIST_ENTRY =
  process.env.BENCH_DIST === undefined
    ? fileURLToPath(new URL("../dist/index.js", import.meta.url))
    : resolve(process.env.BENCH_DIST, "index.js");

/** `smoke` in SMOKE mode, `full` otherwise. */
export function sized<T>(full: T, smoke: T): T {
  return SMOKE ? smoke : full;
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of an empty list");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Runs `run` `count` times, one after another; returns the results in order. */
export async function rounds<T>(count: number, run: (round: number) => T | Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let round = 0; round < count; round++) results.push(await run(round));
  return results;
}

/** Runs `run` once; returns the elapsed wall time in ms. */
export async function timeMs(run: () => unknown): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Options of {@link runNode}. */
export interface RunNodeOptions {
  /** The child's working directory. @default process.cwd() */
  cwd?: string;
  /** Variables added to the child's environment. */
  env?: Record<string, string>;
  /** Flags for node itself, before the script, such as `--expose-gc`. */
  nodeFlags?: readonly string[];
}

/** Runs a fresh node process; resolves to the JSON value on its last stdout line. */
export function runNode<T>(args: readonly string[], options: RunNodeOptions = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeFlags ?? []), ...args], {
      cwd: options.cwd ?? process.cwd(),
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) {
        reject(new Error(`node child exited with ${code}:\n${stderr || stdout}`));
        return;
      }
      const last = stdout.trim().split("\n").at(-1) ?? "";
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`node child printed no JSON on its last line:\n${stdout}${stderr}`));
      }
    });
  });
}

/** Runs ES module source text in a fresh node process; see {@link runNode}. */
export function runModule<T>(code: string, args: readonly string[] = [], options: RunNodeOptions = {}): Promise<T> {
  return runNode<T>(["--input-type=module", "-e", code, ...args], options);
}

/** A plain-text table: columns padded to their widest cell, numbers right-aligned. */
export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [headers, ...rows].map((row) => row.map(String));
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? "").length)));
  const numeric = headers.map((_, column) =>
    rows.every((row) => typeof row[column] === "number" || /^[-\d.,]+\s*[a-zµ%]*$/i.test(String(row[column]))),
  );
  const line = (row: readonly string[]) =>
    row
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        return numeric[column] ? cell.padStart(width) : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd();
  const [head = [], ...body] = cells;
  return [line(head), widths.map((width) => "-".repeat(width)).join("  "), ...body.map(line)].join("\n");
}

/** "0.52x" */
export const ratio = (value: number): string => `${value.toFixed(2)}x`;
/** "12.3 ms" */
export const ms = (value: number): string => `${value.toFixed(value < 10 ? 2 : 1)} ms`;
/** "1.23 µs" */
export const us = (value: number): string => `${value.toFixed(2)} µs`;
/** "61.2 MB" (MiB) */
export const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** "PASS" when `value` meets `target` in the direction given, else "MISS". */
export function verdict(value: number, target: number, direction: "<=" | ">="): "PASS" | "MISS" {
  return (direction === "<=" ? value <= target : value >= target) ? "PASS" : "MISS";
}

/** Prints the title, the command that reproduces the run, and the machine. */
export function printHeader(title: string, command: string): void {
  const processors = cpus();
  const model = processors[0]?.model.trim() ?? "unknown CPU";
  console.log(title);
  console.log(`command: ${command}${SMOKE ? "   [BENCH_SMOKE=1: tiny sizes, figures meaningless]" : ""}`);
  console.log(
    `machine: ${model}, ${processors.length} cores, ${(totalmem() / 1024 ** 3).toFixed(1)} GB RAM, ` +
      `Node ${process.version}, ${platform()} ${release()} ${arch()}`,
  );
  console.log(`date:    ${new Date().toISOString()}`);
  if (process.env.BENCH_DIST !== undefined) console.log(`library: ${DIST_ENTRY} (BENCH_DIST), not ./dist`);
  console.log();
}

/** Runs a benchmark script: exit 0 when it completes, whatever the figures; exit 1 on an error. */
export function main(run: () => Promise<void>): void {
  run().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

/** The file URL of the built library (dist/index.js); throws when it has not been built. */
export function builtLibraryUrl(): string {
  if (!existsSync(DIST_ENTRY)) throw new Error(`${DIST_ENTRY} is missing: run npm run build first`);
  return pathToFileURL(DIST_ENTRY).href;
}

/** Imports the built library, typed as its source. */
export async function loadLibrary(): Promise<typeof import("../src/index.js")> {
  return (await import(builtLibraryUrl())) as typeof import("../src/index.js");
}

/** The repository's root. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * A fresh directory in the repository's git-ignored .cache, so that bundles written there resolve
 * @aws-sdk/* from its node_modules. The caller removes it.
 */
export function scratchDirectory(name: string): string {
  mkdirSync(join(ROOT, ".cache"), { recursive: true });
  return mkdtempSync(join(ROOT, ".cache", `${name}-`));
}

/** The built library (dist/index.js) as a specifier for code bundled from ROOT: `"./dist/index.js"`. */
export function builtLibrarySpecifier(): string {
  return JSON.stringify(`./${relative(ROOT, fileURLToPath(builtLibraryUrl())).split(sep).join("/")}`);
}

/** A bundle written to disk, its sizes and esbuild's metafile. */
export interface Bundle {
  file: string;
  url: string;
  bytes: number;
  gzip: number;
  metafile: Metafile;
}

/**
 * Bundles `contents` as users bundle their Lambdas (esbuild, bundle, minify, platform node, format
 * esm, @aws-sdk/* external, as CDK's NodejsFunction and SAM's esbuild builder do) into
 * `directory/name.mjs`. `external` leaves more packages out.
 */
export async function bundleAsUsersDo(
  directory: string,
  name: string,
  contents: string,
  external: readonly string[] = [],
): Promise<Bundle> {
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
    url: pathToFileURL(file).href,
    bytes: output.contents.byteLength,
    gzip: gzipSync(output.contents).byteLength,
    metafile: result.metafile,
  };
}
