/**
 * The handler built from environment variables, for deployments without code: the only place where
 * the library reads the environment, and only the variables it is given.
 *
 * Each variable is parsed from its text here (integers, "true"/"false", JSON lists); the option
 * values are then checked by `resolveCleanupOptions`, as `createCleanupHandler` checks its options,
 * and its issues are renamed after the variables they came from. Every problem is reported at once, in one ConfigError.
 */
import * as z from "zod/mini";
import {
  type CleanupConfig,
  type CleanupOptions,
  type CommonCleanupOptions,
  type ResolveSettings,
  resolveCleanupOptions,
} from "./cleanup-options.js";
import { ConfigError, type ConfigIssue, describeShape, isConfigError } from "./errors.js";
import { handlerOf } from "./handler.js";
import { jsonLogger, type LogThreshold, lambdaLogLevel } from "./json-logger.js";
import { emfMetrics } from "./metrics.js";
import { REMOVAL_FILTERS } from "./parse-stream-records.js";
import type { CleanupHandler, CleanupSummary, Logger } from "./types.js";
import { LOG_LEVELS } from "./validation.js";

/**
 * Every variable {@link createCleanupHandlerFromEnv} reads. Any other variable whose name starts with
 * `CLEANUP_` is an error, so that a misspelt name does not go unnoticed. An empty value counts as unset.
 *
 * | variable | option | value |
 * | --- | --- | --- |
 * | `CLEANUP_BUCKET` | `bucket` | required |
 * | `CLEANUP_KEY` | `key` | a template, or a JSON array of templates when it starts with `[` |
 * | `CLEANUP_KEY_ATTRIBUTE` | `key: { attribute }` | an attribute name; set this or `CLEANUP_KEY` |
 * | `CLEANUP_REMOVALS` | `removals` | `any`, `ttl` or `user` |
 * | `CLEANUP_TTL_ATTRIBUTE` | `ttlAttribute` | an attribute name |
 * | `CLEANUP_TABLE_NAMES` | `tableNames` | comma-separated (each trimmed), or a JSON array when it starts with `[` |
 * | `CLEANUP_ETAG_ATTRIBUTE` | `etagAttribute` | an attribute name |
 * | `CLEANUP_ALLOWED_BUCKETS` | `allowedBuckets` | comma-separated (each trimmed), or a JSON array when it starts with `[` |
 * | `CLEANUP_ALLOWED_PREFIXES` | `allowedPrefixes` | comma-separated (each trimmed), or a JSON array when it starts with `[` |
 * | `CLEANUP_VERSIONS` | `versions` | `current` or `all` |
 * | `CLEANUP_CONCURRENCY` | `concurrency` | an integer from 1 to 64 |
 * | `CLEANUP_MAX_ATTEMPTS` | `maxAttempts` | an integer from 1 to 10 |
 * | `CLEANUP_TIMEOUT_MARGIN_MS` | `timeoutMarginMs` | an integer from 0 to 900000 |
 * | `CLEANUP_ON_INVALID_RECORD` | `onInvalidRecord` | `fail` or `skip` |
 * | `CLEANUP_DRY_RUN` | `dryRun` | `true` or `false` |
 * | `CLEANUP_CONTENT_MD5` | `contentMd5` | `true` or `false` |
 * | `CLEANUP_FALLBACK_TO_SINGLE_DELETES` | `fallbackToSingleDeletes` | `true` or `false` |
 * | `CLEANUP_VERIFY_ABSENT` | `verifyAbsent` | `true` or `false` |
 * | `CLEANUP_VERIFY_ABSENT_TABLE` | `verifyAbsent: { tableName }` | a table name; needs `CLEANUP_VERIFY_ABSENT` unset or `true` |
 * | `CLEANUP_METRICS_NAMESPACE` | `onResult: emfMetrics({ namespace })` | a CloudWatch namespace |
 * | `CLEANUP_METRICS_DIMENSIONS` | `emfMetrics({ dimensions })` | a JSON object of names to values; needs `CLEANUP_METRICS_NAMESPACE` |
 * | `CLEANUP_LOG_LEVEL` | `logger` | `debug`, `info`, `warn` or `error`: the lowest level the default logger (JSON lines on stdout) writes; when unset, `AWS_LAMBDA_LOG_LEVEL` decides, else every level is written |
 *
 * The templates and attributes of `CLEANUP_KEY` and `CLEANUP_KEY_ATTRIBUTE` put every key in
 * `CLEANUP_BUCKET`, so `CLEANUP_ALLOWED_BUCKETS` widens nothing here: it is checked like the option.
 *
 * `CLEANUP_LOG_LEVEL` wins over `AWS_LAMBDA_LOG_LEVEL` (which Lambda's advanced logging controls set
 * for the whole function), being the library's own. Either filters only the library's own lines:
 * the metrics line always goes out. (Lambda's
 * own log-level filter, `ApplicationLogLevel`, would also drop the metrics line, which has no level.)
 */
export const CLEANUP_ENV_VARIABLES = [
  "CLEANUP_BUCKET",
  "CLEANUP_KEY",
  "CLEANUP_KEY_ATTRIBUTE",
  "CLEANUP_REMOVALS",
  "CLEANUP_TTL_ATTRIBUTE",
  "CLEANUP_TABLE_NAMES",
  "CLEANUP_ETAG_ATTRIBUTE",
  "CLEANUP_ALLOWED_BUCKETS",
  "CLEANUP_ALLOWED_PREFIXES",
  "CLEANUP_VERSIONS",
  "CLEANUP_CONCURRENCY",
  "CLEANUP_MAX_ATTEMPTS",
  "CLEANUP_TIMEOUT_MARGIN_MS",
  "CLEANUP_ON_INVALID_RECORD",
  "CLEANUP_DRY_RUN",
  "CLEANUP_CONTENT_MD5",
  "CLEANUP_FALLBACK_TO_SINGLE_DELETES",
  "CLEANUP_VERIFY_ABSENT",
  "CLEANUP_VERIFY_ABSENT_TABLE",
  "CLEANUP_METRICS_NAMESPACE",
  "CLEANUP_METRICS_DIMENSIONS",
  "CLEANUP_LOG_LEVEL",
] as const;

/** The name of a variable {@link createCleanupHandlerFromEnv} reads. */
export type CleanupEnvVariable = (typeof CLEANUP_ENV_VARIABLES)[number];

/** The variable each option comes from; `key` also from `CLEANUP_KEY_ATTRIBUTE`. */
const OPTION_VARIABLES: Readonly<Record<string, CleanupEnvVariable>> = {
  bucket: "CLEANUP_BUCKET",
  key: "CLEANUP_KEY",
  removals: "CLEANUP_REMOVALS",
  ttlAttribute: "CLEANUP_TTL_ATTRIBUTE",
  tableNames: "CLEANUP_TABLE_NAMES",
  etagAttribute: "CLEANUP_ETAG_ATTRIBUTE",
  allowedBuckets: "CLEANUP_ALLOWED_BUCKETS",
  allowedPrefixes: "CLEANUP_ALLOWED_PREFIXES",
  versions: "CLEANUP_VERSIONS",
  concurrency: "CLEANUP_CONCURRENCY",
  maxAttempts: "CLEANUP_MAX_ATTEMPTS",
  timeoutMarginMs: "CLEANUP_TIMEOUT_MARGIN_MS",
  onInvalidRecord: "CLEANUP_ON_INVALID_RECORD",
  dryRun: "CLEANUP_DRY_RUN",
  contentMd5: "CLEANUP_CONTENT_MD5",
  fallbackToSingleDeletes: "CLEANUP_FALLBACK_TO_SINGLE_DELETES",
  verifyAbsent: "CLEANUP_VERIFY_ABSENT",
  onResult: "CLEANUP_METRICS_NAMESPACE",
  logger: "CLEANUP_LOG_LEVEL",
};

/** Why a variable's text is wrong; the message never quotes the text. */
class Problem {
  constructor(readonly message: string) {}
}

/** A schema that turns a variable's text into a value, or into an issue. */
const parsed = <T>(parse: (text: string) => T | Problem) =>
  z.pipe(
    z.string({ error: "must be a string" }),
    z.transform((text: string, context) => {
      const result = parse(text);
      if (!(result instanceof Problem)) return result;
      context.issues.push({ code: "custom", message: result.message, input: text });
      return z.NEVER;
    }),
  );

const text = () => parsed((value) => value);

const oneOf = <const T extends readonly string[]>(values: T) => {
  const quoted = values.map((value) => `"${value}"`);
  const problem = new Problem(`must be ${quoted.slice(0, -1).join(", ")} or ${quoted.at(-1)}`);
  return parsed((value) => ((values as readonly string[]).includes(value) ? (value as T[number]) : problem));
};

// The ranges are the handler's own (see batch-deleter.ts); test/from-env.test.ts checks they agree.
const integer = (min: number, max: number) =>
  parsed((value) => {
    const number = /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
    return number >= min && number <= max ? number : new Problem(`must be an integer from ${min} to ${max}`);
  });

const boolean = () => {
  const problem = new Problem('must be "true" or "false"');
  return parsed((value) => (value === "true" || value === "false" ? value === "true" : problem));
};

/** Parses JSON; a syntax error is reported without the parser's message, which quotes the text. */
function json(value: string, what: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return new Problem(`must be ${what}, and is not valid JSON`);
  }
}

/** The items of a comma-separated list, each trimmed. */
const commaSeparated = (value: string) => value.split(",").map((item) => item.trim());

/** A list: a JSON array of strings when the text starts with `[`, else `split(text)`. */
const list = (what: string, split: (value: string) => string | string[]) =>
  parsed((value) => {
    if (!value.startsWith("[")) return split(value);
    const items = json(value, `a JSON array of ${what} when it starts with "["`);
    if (items instanceof Problem) return items;
    // Valid JSON that starts with "[" is an array.
    return (items as unknown[]).every((item) => typeof item === "string")
      ? (items as string[])
      : new Problem(`must be a JSON array of ${what}, with strings only`);
  });

const dimensionsObject = () =>
  parsed((value) => {
    const what = "a JSON object of dimension names to values";
    const dimensions = json(value, what);
    if (dimensions instanceof Problem) return dimensions;
    return typeof dimensions === "object" && dimensions !== null && !Array.isArray(dimensions)
      ? (dimensions as Record<string, string>)
      : new Problem(`must be ${what}, not ${describeShape(dimensions)}`);
  });

/** How each variable's text becomes a value. */
const variableSchemas = () => ({
  CLEANUP_BUCKET: text(),
  CLEANUP_KEY: list("templates", (value) => value),
  CLEANUP_KEY_ATTRIBUTE: text(),
  CLEANUP_REMOVALS: oneOf(REMOVAL_FILTERS),
  CLEANUP_TTL_ATTRIBUTE: text(),
  CLEANUP_TABLE_NAMES: list("table names", commaSeparated),
  CLEANUP_ETAG_ATTRIBUTE: text(),
  CLEANUP_ALLOWED_BUCKETS: list("bucket names", commaSeparated),
  CLEANUP_ALLOWED_PREFIXES: list("prefixes", commaSeparated),
  CLEANUP_VERSIONS: oneOf(["current", "all"]),
  CLEANUP_CONCURRENCY: integer(1, 64),
  CLEANUP_MAX_ATTEMPTS: integer(1, 10),
  CLEANUP_TIMEOUT_MARGIN_MS: integer(0, 900_000),
  CLEANUP_ON_INVALID_RECORD: oneOf(["fail", "skip"]),
  CLEANUP_DRY_RUN: boolean(),
  CLEANUP_CONTENT_MD5: boolean(),
  CLEANUP_FALLBACK_TO_SINGLE_DELETES: boolean(),
  CLEANUP_VERIFY_ABSENT: boolean(),
  CLEANUP_VERIFY_ABSENT_TABLE: text(),
  CLEANUP_METRICS_NAMESPACE: text(),
  CLEANUP_METRICS_DIMENSIONS: dimensionsObject(),
  CLEANUP_LOG_LEVEL: oneOf(LOG_LEVELS),
});

type Schemas = ReturnType<typeof variableSchemas>;
/** The variables that were set and parse, as values. */
type Values = { -readonly [Name in CleanupEnvVariable]?: z.output<Schemas[Name]> };

/**
 * Creates the cleanup handler from environment variables (see {@link CLEANUP_ENV_VARIABLES}), for a
 * function deployed without code of its own: `dynamodb-s3-cleanup/lambda` exports
 * `handler = createCleanupHandlerFromEnv()`.
 *
 * It throws one {@link ConfigError} listing every problem, each with the variable's name as its
 * `path` (`CLEANUP_CONCURRENCY`, `CLEANUP_KEY[1]`, `CLEANUP_METRICS_DIMENSIONS.Stage`); a problem in
 * an override is named `overrides.<option>`. Messages never quote a variable's value; only a bucket
 * given as an S3 URL or ARN gets the bare bucket name to pass instead.
 *
 * @param env - The variables; `process.env` when left out.
 * @param overrides - Options that replace what the variables set, for what a variable cannot carry:
 * an `s3Client`, a `logger` (which replaces the one `CLEANUP_LOG_LEVEL` sets), an `onResult` (which
 * replaces the one `CLEANUP_METRICS_NAMESPACE` sets), a clock. None when left out. An override set
 * to `undefined` replaces nothing: `{ allowedPrefixes: undefined }` keeps `CLEANUP_ALLOWED_PREFIXES`.
 *
 * @example
 * ```ts
 * // CLEANUP_BUCKET=product-images CLEANUP_KEY={productId}.png CLEANUP_REMOVALS=ttl
 * export const handler = createCleanupHandlerFromEnv();
 * ```
 */
export function createCleanupHandlerFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
  overrides: Partial<CommonCleanupOptions> = {},
): CleanupHandler {
  return handlerOf(configFromEnv(env, overrides));
}

/**
 * The handler's configuration from the variables and overrides, or one ConfigError naming each
 * problem. The replay handler's factory reads the same variables through it.
 */
export function configFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  overrides: Readonly<Record<string, unknown>>,
  settings?: ResolveSettings,
): CleanupConfig {
  const { values, issues } = readVariables(env);
  const keyVariable: CleanupEnvVariable =
    values.CLEANUP_KEY === undefined && values.CLEANUP_KEY_ATTRIBUTE !== undefined
      ? "CLEANUP_KEY_ATTRIBUTE"
      : "CLEANUP_KEY";
  const options = optionsOf(values, issues, lambdaLogLevel(env.AWS_LAMBDA_LOG_LEVEL));
  // Only overrides with a value: an undefined one must not lift what a variable set, such as a scope.
  const given = defined(overrides);
  Object.assign(options, given);

  // Variables already reported are missing from the options; the handler's complaints about them
  // would only repeat the problem.
  const reported = new Set(issues.map((issue) => variableOf(issue.path)));
  let config: CleanupConfig;
  try {
    config = resolveCleanupOptions(options as unknown as CleanupOptions, settings);
  } catch (error) {
    if (!isConfigError(error)) throw error;
    for (const issue of error.issues) {
      const path = envPath(issue.path, Object.keys(given), keyVariable);
      if (!reported.has(variableOf(path))) issues.push({ path, message: issue.message });
    }
    throw new ConfigError(issues, { cause: error });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return config;
}

/** Parses every `CLEANUP_` variable that is set (not empty), in the order of CLEANUP_ENV_VARIABLES. */
function readVariables(env: Readonly<Record<string, string | undefined>>): { values: Values; issues: ConfigIssue[] } {
  const schemas: Record<string, z.ZodMiniType> = variableSchemas();
  const values: Record<string, unknown> = {};
  const issues: ConfigIssue[] = [];
  const set = (name: string) => env[name] !== undefined && env[name] !== "";
  for (const name of CLEANUP_ENV_VARIABLES) {
    if (!set(name)) continue;
    const result = z.safeParse(schemas[name] as z.ZodMiniType, env[name]);
    if (result.success) values[name] = result.data;
    else issues.push(...result.error.issues.map((issue) => ({ path: name, message: issue.message })));
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith("CLEANUP_") && set(name) && !Object.hasOwn(schemas, name)) {
      issues.push({ path: name, message: "is not a known variable" });
    }
  }
  if (!set("CLEANUP_BUCKET")) issues.push({ path: "CLEANUP_BUCKET", message: "is required" });
  if (set("CLEANUP_KEY") && set("CLEANUP_KEY_ATTRIBUTE")) {
    issues.push({ path: "CLEANUP_KEY_ATTRIBUTE", message: "must not be set together with CLEANUP_KEY" });
  } else if (!set("CLEANUP_KEY") && !set("CLEANUP_KEY_ATTRIBUTE")) {
    issues.push({ path: "CLEANUP_KEY", message: "is required (or CLEANUP_KEY_ATTRIBUTE)" });
  }
  if (set("CLEANUP_VERIFY_ABSENT_TABLE") && env.CLEANUP_VERIFY_ABSENT === "false") {
    issues.push({ path: "CLEANUP_VERIFY_ABSENT_TABLE", message: "needs CLEANUP_VERIFY_ABSENT unset or true" });
  }
  if (set("CLEANUP_METRICS_DIMENSIONS") && !set("CLEANUP_METRICS_NAMESPACE")) {
    issues.push({ path: "CLEANUP_METRICS_DIMENSIONS", message: "needs CLEANUP_METRICS_NAMESPACE" });
  }
  return { values: values as Values, issues };
}

/** The variable a path names: `CLEANUP_KEY[1]` → `CLEANUP_KEY`. */
const variableOf = (path: string) => /^[^.[]*/.exec(path)?.[0];

/**
 * The options the parsed variables stand for, without the unset ones (so that the handler's
 * defaults apply). emfMetrics' issues join `issues`.
 */
function optionsOf(
  values: Values,
  issues: ConfigIssue[],
  lambdaLevel: LogThreshold | undefined,
): Record<string, unknown> {
  const attribute = values.CLEANUP_KEY_ATTRIBUTE;
  const options: Record<string, unknown> = {
    bucket: values.CLEANUP_BUCKET,
    key: values.CLEANUP_KEY ?? (attribute === undefined ? undefined : { attribute }),
    removals: values.CLEANUP_REMOVALS,
    ttlAttribute: values.CLEANUP_TTL_ATTRIBUTE,
    tableNames: values.CLEANUP_TABLE_NAMES,
    etagAttribute: values.CLEANUP_ETAG_ATTRIBUTE,
    allowedBuckets: values.CLEANUP_ALLOWED_BUCKETS,
    allowedPrefixes: values.CLEANUP_ALLOWED_PREFIXES,
    versions: values.CLEANUP_VERSIONS,
    concurrency: values.CLEANUP_CONCURRENCY,
    maxAttempts: values.CLEANUP_MAX_ATTEMPTS,
    timeoutMarginMs: values.CLEANUP_TIMEOUT_MARGIN_MS,
    onInvalidRecord: values.CLEANUP_ON_INVALID_RECORD,
    dryRun: values.CLEANUP_DRY_RUN,
    contentMd5: values.CLEANUP_CONTENT_MD5,
    fallbackToSingleDeletes: values.CLEANUP_FALLBACK_TO_SINGLE_DELETES,
    verifyAbsent:
      values.CLEANUP_VERIFY_ABSENT_TABLE === undefined
        ? values.CLEANUP_VERIFY_ABSENT
        : { tableName: values.CLEANUP_VERIFY_ABSENT_TABLE },
    onResult: metricsOf(values, issues),
    logger: leveledLogger(values.CLEANUP_LOG_LEVEL ?? lambdaLevel),
  };
  return defined(options);
}

/** The entries of `options` that have a value: an undefined one would replace a default, or a variable. */
function defined(options: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}

/** The EMF writer CLEANUP_METRICS_NAMESPACE asks for, with its issues renamed after the variables. */
function metricsOf(values: Values, issues: ConfigIssue[]): ((summary: CleanupSummary) => void) | undefined {
  if (values.CLEANUP_METRICS_NAMESPACE === undefined) return undefined;
  try {
    return emfMetrics({ namespace: values.CLEANUP_METRICS_NAMESPACE, dimensions: values.CLEANUP_METRICS_DIMENSIONS });
  } catch (error) {
    for (const issue of (error as ConfigError).issues) {
      const path =
        issue.path === "namespace"
          ? "CLEANUP_METRICS_NAMESPACE"
          : issue.path.replace(/^dimensions/, "CLEANUP_METRICS_DIMENSIONS");
      issues.push({ path, message: issue.message });
    }
    return undefined;
  }
}

/**
 * Renames an option path from the handler's ConfigError after where the option came from:
 * `overrides.<path>` for an override, else the variable (`key[1]` → `CLEANUP_KEY[1]`,
 * `key.attribute` → `CLEANUP_KEY_ATTRIBUTE`). A path of no known option stays as it is.
 */
export function envPath(path: string, overridden: readonly string[], keyVariable: CleanupEnvVariable): string {
  const option = /^[^.[]*/.exec(path)?.[0] as string;
  if (overridden.includes(option)) return `overrides.${path}`;
  if (option === "key" && keyVariable === "CLEANUP_KEY_ATTRIBUTE") return keyVariable;
  const variable = option === "key" ? keyVariable : OPTION_VARIABLES[option];
  return variable === undefined ? path : `${variable}${path.slice(option.length)}`;
}

/**
 * The default logger at `level` (from CLEANUP_LOG_LEVEL, else AWS_LAMBDA_LOG_LEVEL); none without a
 * level, so that the handler's default applies.
 */
function leveledLogger(level: LogThreshold | undefined): Logger | undefined {
  return level === undefined ? undefined : jsonLogger({ level });
}
