/**
 * The benchmark scripts must not rot: each runs in BENCH_SMOKE=1 mode (tiny sizes, figures
 * meaningless) and prints its table. Nothing here depends on timing.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { run } from "../services/process.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

describe.each(["cpu", "memory", "s3", "cold-start", "throttle", "reconcile"])("bench/%s.ts", (name) => {
  it("runs to the end in smoke mode and prints a table", { timeout: 180_000 }, async () => {
    const { code, output } = await run("env", ["BENCH_SMOKE=1", "npx", "tsx", `bench/${name}.ts`], root);

    expect(output).toMatch(/PASS|MISS/);
    expect(code, output).toBe(0);
  });
});
