/**
 * What the deployment tests share: reading untyped templates, the CDK's logical ids, where CDK
 * assets are staged, and running a bundled function the way Lambda would.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, expect } from "vitest";

/** The value at `path` (object keys and array indexes), or undefined. */
export function at(value: unknown, ...path: (string | number)[]): unknown {
  let current = value;
  for (const step of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string | number, unknown>)[step];
  }
  return current;
}

/** `value` as an object, or an error naming `what`. */
export function record(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error(`${what} is not an object`);
  return value as Record<string, unknown>;
}

/** A CloudFormation value that may be one item or a list, as a list. */
export const list = (value: unknown): unknown[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** A resource of a CloudFormation template. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

/** A logical id without the hash the CDK appends to it. */
export const baseId = (id: string) => id.replace(/[0-9A-F]{8}$/, "");

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * A fresh directory for a CDK app's output (staged assets, bundles), removed after the file's tests.
 * It is under node_modules/ so that a bundle run from it finds @aws-sdk/*, which it leaves to the
 * runtime.
 */
export function cacheDirectory(prefix: string): string {
  mkdirSync(join(ROOT, "node_modules/.cache"), { recursive: true });
  const directory = mkdtempSync(join(ROOT, `node_modules/.cache/${prefix}-`));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

/**
 * The staged bundle of a CDK function (its resource's `properties`) synthesized into `outdir`: its
 * code's S3 key is the asset's hash.
 */
export function bundleFile(outdir: string, properties: CfnResource["Properties"]): string {
  const hash = /^([0-9a-f]{64})\.zip$/.exec(String(at(properties, "Code", "S3Key")))?.[1];
  expect(hash).toBeDefined();
  return join(outdir, `asset.${hash}`, "index.js");
}

/** What a bundled function did with one event: its answer, or the error it threw, and its output. */
export interface BundleRun {
  /** The handler's answer, when it resolved. */
  result?: unknown;
  /** The handler's error, when it rejected: its name and message. */
  error?: { name: string; message: string };
  stdout: string;
}

/**
 * Runs a bundled function as Lambda would: loads it with exactly `variables` set (none of the test
 * process's own CLEANUP_, RECONCILE_ or AWS_ variables), answers `event`. Rejects with the bundle's
 * stderr when it cannot load (a bad variable fails at init). Any AWS call would go to a closed port
 * on loopback and fail, never to AWS.
 */
export function runBundle(file: string, variables: unknown, event: unknown): Promise<BundleRun> {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(CLEANUP|RECONCILE|AWS)_/.test(name)),
  );
  const env = record(variables, "the function's variables");
  // Loaded outside the try: an error at init is the process's failure, not the handler's.
  const script = `const module = await import(${JSON.stringify(pathToFileURL(file).href)});
const handler = module.handler ?? module.default?.handler;
try {
  console.log("RESULT " + JSON.stringify(await handler(${JSON.stringify(event)}, {})));
} catch (error) {
  console.log("ERROR " + JSON.stringify({ name: error.name, message: error.message }));
}`;
  const offline = {
    AWS_REGION: "eu-west-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_ENDPOINT_URL: "http://127.0.0.1:9",
    AWS_EC2_METADATA_DISABLED: "true",
  };
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--input-type=module", "-e", script],
      { env: { ...inherited, ...offline, ...env } as NodeJS.ProcessEnv },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`the bundle failed: ${stderr}`));
        const line = (tag: string) => {
          const text = stdout.split("\n").find((candidate) => candidate.startsWith(`${tag} `));
          return text === undefined ? undefined : JSON.parse(text.slice(tag.length + 1));
        };
        const [result, thrown] = [line("RESULT"), line("ERROR")];
        resolve({
          ...(result === undefined ? {} : { result }),
          ...(thrown === undefined ? {} : { error: thrown }),
          stdout,
        });
      },
    );
  });
}
