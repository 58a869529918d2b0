/**
 * Tree-shaking, as users' esbuild bundles see it: the package does no work when imported, and a
 * bundle keeps only what it calls. Bundles the built package (dist/, one file per format) with
 * esbuild, the way CDK and SAM bundle Lambdas; `npm test` builds before it runs the tests.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { beforeAll, describe, expect, it } from "vitest";

const entry = fileURLToPath(new URL("../dist/index.js", import.meta.url));
const lambdaEntry = fileURLToPath(new URL("../dist/lambda.js", import.meta.url));

beforeAll(() => {
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first (npm test does)`);
});

async function bundle(contents: string): Promise<string> {
  const result = await build({
    stdin: { contents, resolveDir: process.cwd(), loader: "ts" },
    bundle: true,
    minify: true,
    write: false,
    format: "esm",
    platform: "node",
    external: ["@aws-sdk/*"],
    logLevel: "silent",
  });
  return result.outputFiles[0]?.text ?? "";
}

describe("tree-shaking", () => {
  it("leaves nothing of a bare import", async () => {
    const code = await bundle(`import ${JSON.stringify(entry)};`);

    expect(code.trim()).toBe("");
  });

  it("keeps zod and the S3 client out of a bundle that only parses records", async () => {
    const code = await bundle(
      `import { parseStreamRecords } from ${JSON.stringify(entry)}; export const parse = (event) => parseStreamRecords(event);`,
    );

    expect(code).toContain("Records");
    expect(code).not.toMatch(/zod|ZodError|\$ZodType/);
    expect(code).not.toContain("@aws-sdk/client-s3");
  });

  it("keeps the environment variables and the metrics writer out of a bundle that only creates a handler", async () => {
    const code = await bundle(
      `import { createCleanupHandler } from ${JSON.stringify(entry)}; export const handler = createCleanupHandler({ bucket: "b", key: "{id}" });`,
    );

    expect(code).toContain("DeleteObjects");
    expect(code).not.toContain("CLEANUP_");
    expect(code).not.toContain("CloudWatchMetrics");
  });

  it("keeps the environment variables out of a bundle that only writes metrics", async () => {
    const code = await bundle(
      `import { emfMetrics } from ${JSON.stringify(entry)}; export const onResult = emfMetrics({ namespace: "Cleanup" });`,
    );

    expect(code).toContain("CloudWatchMetrics");
    expect(code).not.toContain("CLEANUP_");
  });

  it("keeps the handler, the variables and the metrics writer in a bundle of the lambda entry point", async () => {
    const code = await bundle(`export { handler } from ${JSON.stringify(lambdaEntry)};`);

    expect(code).toContain("CLEANUP_BUCKET");
    expect(code).toContain("CloudWatchMetrics");
    expect(code).toContain("DeleteObjects");
  });
});

/** The names a CJS file reads from its `require` of index.cjs, by esbuild's `var x = require("./index.cjs")`. */
function namesReadFromIndex(file: string): string[] {
  const code = readFileSync(fileURLToPath(new URL(`../dist/${file}`, import.meta.url)), "utf8");
  const variables = [...code.matchAll(/var (\w+) = require\('(?:\.|\.\.)\/index\.cjs'\)/g)].map(([, name]) => name);
  return [...new Set(variables.flatMap((name) => [...code.matchAll(new RegExp(`\\b${name}\\.(\\w+)`, "g"))]))].map(
    ([, property]) => property as string,
  );
}

describe("the CJS build", () => {
  const require = createRequire(import.meta.url);
  const index: Record<string, unknown> = require("../dist/index.cjs");

  it.each(["lambda.cjs", "testing/index.cjs"])("%s requires index.cjs for the library instead of a copy", (file) => {
    const names = namesReadFromIndex(file);

    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(index, `index.cjs exports ${name}`).toHaveProperty(name);
  });

  it("keeps the library out of testing/index.cjs", () => {
    const code = readFileSync(fileURLToPath(new URL("../dist/testing/index.cjs", import.meta.url)), "utf8");

    expect(code).not.toContain("// src/errors.ts");
    expect(code).not.toContain("// src/report.ts");
  });
});
