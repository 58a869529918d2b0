/**
 * Setup of the mutation run only (vitest.mutation.config.ts): property tests that give no numRuns
 * make 10 runs instead of fast-check's 100, as those that do are scaled by `PROPERTY_RUNS_SCALE`.
 */
import fc from "fast-check";

fc.configureGlobal({ numRuns: 10 });
