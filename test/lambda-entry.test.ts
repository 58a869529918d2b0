/**
 * The published zero-code entry point, `dynamodb-s3-cleanup/lambda`, loaded from the built package
 * in a child process, as Lambda loads it: configured by the environment, failing at import when the
 * environment is wrong. `npm test` builds before it runs the tests.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { isConfigError } from "../src/errors.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const built = ["lambda", "replay"].flatMap((entry) =>
  [".js", ".cjs", ".d.ts", ".d.cts"].map((extension) => `dist/${entry}${extension}`),
);

beforeAll(() => {
  for (const file of built) {
    if (!existsSync(`${root}${file}`))
      throw new Error(`${file} is missing: run \`npm run build\` first (npm test does)`);
  }
});

const GOOD_ENV = {
  CLEANUP_BUCKET: "product-images",
  CLEANUP_KEY: "images/{productId}.png",
  // The summary line would go to stdout: keep stdout for the result.
  CLEANUP_LOG_LEVEL: "warn",
};

/** An INSERT only: the handler deletes nothing, so it needs no S3. */
const EVENT = {
  Records: [
    {
      eventID: "1",
      eventName: "INSERT",
      eventSource: "aws:dynamodb",
      dynamodb: {
        Keys: { productId: { S: "p-1" } },
        SequenceNumber: "100000000000000000001",
        StreamViewType: "KEYS_ONLY",
      },
    },
  ],
};

/** Runs node with `args` in the package root, with `env` as the only CLEANUP_ variables. */
function runNode(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("CLEANUP_")));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      {
        cwd: root,
        env: {
          ...inherited,
          AWS_REGION: "us-east-1",
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
          ...env,
        },
        timeout: 30_000,
      },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
    );
  });
}

/** One SQS message that is no on-failure record: the replay handler reports it, and needs no AWS. */
const SQS_EVENT = { Records: [{ messageId: "m-1", body: '{"hello":"world"}', eventSource: "aws:sqs" }] };

/** Loads the entry with `load` (an expression giving the module) and answers `event` with its handler. */
const invoke = (load: string, event: object = EVENT) =>
  `const { handler } = ${load}; ` +
  `Promise.resolve(handler(${JSON.stringify(event)}, { getRemainingTimeInMillis: () => 60000 }))` +
  `.then((response) => console.log("RESPONSE " + typeof handler + " " + JSON.stringify(response)));`;

describe("dynamodb-s3-cleanup/replay", () => {
  it.each([
    ["import", ["--input-type=module", "-e", invoke("await import('dynamodb-s3-cleanup/replay')", SQS_EVENT)]],
    ["require", ["-e", invoke("require('dynamodb-s3-cleanup/replay')", SQS_EVENT)]],
  ])("loads with %s and answers an SQS event, configured by the environment", async (_, args) => {
    // Act
    const result = await runNode(args, { ...GOOD_ENV, CLEANUP_LOG_LEVEL: "error" });

    // Assess: the message is reported, and its error line names what it holds.
    expect(result.stdout.trim().split("\n").at(-1)).toBe(
      'RESPONSE function {"batchItemFailures":[{"itemIdentifier":"m-1"}]}',
    );
    expect(result.stdout).toContain("message m-1: the body is not an on-failure record");
    expect(result.code).toBe(0);
  });

  it("fails at import, naming the variables, when they are wrong", async () => {
    const result = await runNode(["--input-type=module", "-e", "await import('dynamodb-s3-cleanup/replay')"], {
      CLEANUP_KEY: "{id}",
    });

    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("`CLEANUP_BUCKET`: is required");
  });
});

describe("dynamodb-s3-cleanup/lambda", () => {
  it("loads with import and answers an event, configured by the environment", async () => {
    // Act
    const result = await runNode(
      ["--input-type=module", "-e", invoke("await import('dynamodb-s3-cleanup/lambda')")],
      GOOD_ENV,
    );

    // Assess
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe('RESPONSE function {"batchItemFailures":[]}');
    expect(result.code).toBe(0);
  });

  it("loads with require and answers an event", async () => {
    // Act
    const result = await runNode(["-e", invoke("require('dynamodb-s3-cleanup/lambda')")], GOOD_ENV);

    // Assess
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe('RESPONSE function {"batchItemFailures":[]}');
  });

  it("loads as Lambda's runtime loads the handler setting dist/lambda.handler: dist/lambda.js, as an ES module", async () => {
    // Prepare: the runtime imports <module>.js as ESM when the nearest package.json says "type": "module".
    const packageJson = JSON.parse(readFileSync(`${root}package.json`, "utf8"));
    const moduleUrl = new URL("../dist/lambda.js", import.meta.url).href;

    // Act
    const result = await runNode(
      ["--input-type=module", "-e", invoke(`await import(${JSON.stringify(moduleUrl)})`)],
      GOOD_ENV,
    );

    // Assess
    expect(packageJson.type).toBe("module");
    expect(existsSync(`${root}dist/package.json`)).toBe(false);
    expect(result.stdout.trim()).toBe('RESPONSE function {"batchItemFailures":[]}');
  });

  it("throws at import when a variable is wrong, naming every bad variable and quoting no value", async () => {
    // Act
    const result = await runNode(["--input-type=module", "-e", "await import('dynamodb-s3-cleanup/lambda')"], {
      ...GOOD_ENV,
      CLEANUP_CONCURRENCY: "lots-SECRET",
      CLEANUP_BUCKETS: "SECRET-bucket",
      CLEANUP_KEY: "images/{productId",
    });

    // Assess
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("ConfigError: Invalid dynamodb-s3-cleanup options:");
    expect(result.stderr).toContain("`CLEANUP_CONCURRENCY`: must be an integer from 1 to 64");
    expect(result.stderr).toContain("`CLEANUP_BUCKETS`: is not a known variable");
    expect(result.stderr).toContain("`CLEANUP_KEY`: has an unclosed");
    expect(result.stderr).not.toContain("SECRET");
  });

  it("throws at require when the variables are missing", async () => {
    // Act
    const result = await runNode(["-e", "require('dynamodb-s3-cleanup/lambda')"], {});

    // Assess
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("`CLEANUP_BUCKET`: is required");
    expect(result.stderr).toContain("`CLEANUP_KEY`: is required (or CLEANUP_KEY_ATTRIBUTE)");
  });
});

describe("src/lambda.ts, in process", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it("exports the handler built from process.env at import", async () => {
    // Prepare
    vi.stubEnv("CLEANUP_BUCKET", "product-images");
    vi.stubEnv("CLEANUP_KEY", "images/{productId}.png");
    vi.stubEnv("CLEANUP_LOG_LEVEL", "warn");

    // Act
    const { handler } = await import("../src/lambda.js");

    // Assess
    await expect(handler(EVENT)).resolves.toEqual({ batchItemFailures: [] });
  });

  it("throws at import when process.env is wrong", async () => {
    // Prepare
    vi.stubEnv("CLEANUP_BUCKET", "product-images");
    vi.stubEnv("CLEANUP_KEY", "images/{productId}.png");
    vi.stubEnv("CLEANUP_VERSIONS", "some");

    // Act
    const error = await import("../src/lambda.js").then(
      () => undefined,
      (thrown: unknown) => thrown,
    );

    // Assess
    expect(isConfigError(error) && error.issues).toEqual([
      { path: "CLEANUP_VERSIONS", message: 'must be "current" or "all"' },
    ]);
  });
});

describe("src/replay.ts, in process", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it("exports the replay handler built from process.env at import", async () => {
    // Prepare
    vi.stubEnv("CLEANUP_BUCKET", "product-images");
    vi.stubEnv("CLEANUP_KEY", "images/{productId}.png");
    vi.stubEnv("CLEANUP_LOG_LEVEL", "warn");
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);

    // Act
    const { handler } = await import("../src/replay.js");

    // Assess
    await expect(handler(SQS_EVENT)).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: "m-1" }] });
    expect(stdout).toHaveBeenCalledWith(expect.stringContaining("message m-1: the body is not an on-failure record"));
  });
});
