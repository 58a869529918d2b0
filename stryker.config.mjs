// Mutation testing of src/ with the unit tests: `npm run mutation` (outside `npm test`: it takes a
// while). Stryker 9.6.1 is the last line that runs on Node 20.
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts" },
  // The bin runs only as a child process: no unit test covers it.
  mutate: ["src/**/*.ts", "!src/cli.ts"],
  coverageAnalysis: "perTest",
  ignoreStatic: true,
  concurrency: 2,
  timeoutMS: 20_000,
  reporters: ["clear-text", "progress", "html"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  thresholds: { high: 95, low: 90, break: 95 },
  tempDirName: ".stryker-tmp",
};
