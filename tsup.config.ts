import { defineConfig } from "tsup";

// ESM ships one file per module, so that a user's bundler drops whole modules it does not use,
// external imports (@aws-sdk/client-s3) included. CJS ships one bundled file per entry point.
const shared = {
  target: "node20",
  platform: "node",
  sourcemap: true,
} as const;
const dts = { compilerOptions: { ignoreDeprecations: "6.0" } };
// The published entry points (package.json "exports"). `lambda` is the zero-code Lambda handler.
const entries = { index: "src/index.ts", "testing/index": "src/testing/index.ts", lambda: "src/lambda.ts" };

export default defineConfig([
  {
    ...shared,
    entry: ["src/**/*.ts"],
    format: "esm",
    bundle: false,
    clean: true,
    dts: { ...dts, entry: entries },
  },
  {
    ...shared,
    entry: entries,
    format: "cjs",
    treeshake: true,
    dts: { ...dts, entry: entries },
  },
]);
