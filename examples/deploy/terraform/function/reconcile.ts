// The whole reconcile batch function: one Distributed Map child batch, configured by the RECONCILE_* variables the deployment sets.
import { createReconcileBatchHandler } from "dynamodb-s3-cleanup/reconcile";

/**
 * The whole number in the variable `name` (its `value`), or undefined when it is not set. Anything
 * else stops the function at init, naming the variable: a typo must not quietly become the default.
 */
function wholeNumber(name: string, value: string | undefined, min = 0, max = Number.MAX_SAFE_INTEGER) {
  if (value === undefined) return undefined;
  const number = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(number >= min && number <= max)) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new Error(`${name} must be a whole number ${range}, in digits; it is ${JSON.stringify(value)}`);
  }
  return number;
}

export const handler = createReconcileBatchHandler({
  tableName: process.env.RECONCILE_TABLE ?? "",
  bucket: process.env.RECONCILE_BUCKET ?? "",
  key: JSON.parse(process.env.RECONCILE_KEYS ?? "[]") as string[],
  allowedPrefixes: JSON.parse(process.env.RECONCILE_ALLOWED_PREFIXES ?? "[]") as string[],
  delete: process.env.RECONCILE_DELETE === "true",
  minAgeMs: wholeNumber("RECONCILE_MIN_AGE_MS", process.env.RECONCILE_MIN_AGE_MS),
  concurrency: wholeNumber("RECONCILE_CONCURRENCY", process.env.RECONCILE_CONCURRENCY, 1, 64),
});
