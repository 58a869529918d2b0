/** `npm run demo` must keep working: it starts its own servers and exits 0 only on a PASS verdict. */
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { run } from "../services/process.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

it("plays the demo to a PASS verdict", { timeout: 120_000 }, async () => {
  const { code, output } = await run("npx", ["tsx", "examples/demo.ts"], root);

  expect(output).toContain("PASS: all 5 expired products' images were deleted; all 4 live ones are kept.");
  expect(output).toMatch(/Bucket "product-images" after: p-201\.png {2}p-202\.png {2}p-203\.png {2}p-204\.png\n/);
  expect(code).toBe(0);
});
