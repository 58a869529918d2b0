/**
 * Tree-shaking, as users' esbuild bundles see it: the package does no work when imported, and a
 * bundle keeps only what it calls. Bundles the built package (dist/, one file per format) with
 * esbuild, the way CDK and SAM bundle Lambdas; `npm test` builds before it runs the tests.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { beforeAll, describe, expect, it } from "vitest";

const entry = fileURLToPath(new URL("../dist/index.js", import.meta.url));

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
});
