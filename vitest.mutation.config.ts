/**
 * The unit tests alone, for mutation testing (`npm run mutation`): Stryker runs them once per
 * mutant, so nothing here may need the local servers the integration project starts.
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      // Property tests make a tenth of their runs: each mutant repeats the tests that cover it.
      PROPERTY_RUNS_SCALE: "0.1",
    },
    setupFiles: ["test/mutation-setup.ts"],
    include: ["test/**/*.test.ts"],
    // Each mutant runs the tests again on a busy machine: give the slow ones room.
    testTimeout: 60_000,
    // Integration tests need moto and DynamoDB Local; the bundle, lambda-entry, package-consumers and docs snippet tests read dist/.
    exclude: [
      "test/integration/**",
      "test/bundle.test.ts",
      "test/lambda-entry.test.ts",
      "test/deploy/**",
      "test/docs-snippets.test.ts",
      "test/package-consumers.test.ts",
    ],
  },
});
