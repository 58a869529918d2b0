/**
 * How many runs a property test makes: `runs` in `npm test`, scaled by `PROPERTY_RUNS_SCALE` (a
 * fraction) in the mutation run, which repeats the tests that cover a line once per mutant of it.
 * Never fewer than 5.
 */
export function propertyRuns(runs: number): number {
  const scale = Number(process.env.PROPERTY_RUNS_SCALE ?? "1");
  return Math.max(5, Math.ceil(runs * scale));
}
