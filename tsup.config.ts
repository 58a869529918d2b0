import { defineConfig } from "tsup";

// ESM ships one file per module, so that a user's bundler drops whole modules it does not use,
// external imports (@aws-sdk/client-s3) included. CJS ships one bundled file.
const shared = {
  target: "node20",
  platform: "node",
  sourcemap: true,
  dts: { entry: "src/index.ts", compilerOptions: { ignoreDeprecations: "6.0" } },
} as const;

export default defineConfig([
  { ...shared, entry: ["src/**/*.ts"], format: "esm", bundle: false, clean: true },
  { ...shared, entry: ["src/index.ts"], format: "cjs", treeshake: true },
]);
