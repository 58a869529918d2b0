/**
 * CloudWatch metrics from the invocation summary, in Embedded Metric Format (EMF): one JSON line per
 * invocation on stdout, which CloudWatch Logs turns into metrics. No SDK call, no extra permission.
 *
 * The line goes straight to `process.stdout`, never through `console.log`: in Lambda, console lines
 * get a timestamp and request id in front, and CloudWatch only extracts EMF from lines that are
 * pure JSON.
 */
import * as z from "zod/mini";
import type { ConfigIssue } from "./errors.js";
import type { CleanupSummary } from "./types.js";
import { fn, validateOptions } from "./validation.js";

/**
 * The metrics {@link emfMetrics} writes (unit Count), and the summary field each one counts.
 * UnreplayableBatches, UnfinishedBatches and InvalidMessages are written for the replay handler's
 * summaries only.
 */
export const EMF_METRICS = {
  DeletedObjects: "deleted",
  FailedObjects: "failed",
  InvalidRecords: "invalid",
  KeptReplaced: "keptReplaced",
  KeptRecreated: "keptRecreated",
  UnreplayableBatches: "unreplayableBatches",
  UnfinishedBatches: "unfinishedBatches",
  InvalidMessages: "invalidMessages",
} as const satisfies Record<string, keyof MetricsSummary>;

const REPLAY_METRICS: readonly string[] = ["UnreplayableBatches", "UnfinishedBatches", "InvalidMessages"];

/**
 * The counts the metrics come from: a `CleanupSummary`, or a `ReplaySummary`, which adds
 * `unreplayableBatches`, `unfinishedBatches` and `invalidMessages`.
 */
export type MetricsSummary = Pick<
  CleanupSummary,
  "deleted" | "failed" | "invalid" | "keptReplaced" | "keptRecreated"
> & {
  unreplayableBatches?: number | undefined;
  unfinishedBatches?: number | undefined;
  invalidMessages?: number | undefined;
};

/** CloudWatch's limit on dimensions per metric. */
export const MAX_EMF_DIMENSIONS = 30;

/** Options of {@link emfMetrics}. */
export interface EmfMetricsOptions {
  /**
   * The CloudWatch namespace of the metrics: 1 to 255 printable ASCII characters, not starting with
   * `:` or `AWS/` (reserved for AWS services).
   */
  namespace: string;
  /**
   * Dimensions of every metric, name to value, such as `{ Table: "products" }`. At most 30. Names
   * are 1 to 255 printable ASCII characters, not starting with `:`, and not one of the metric names;
   * values are 1 to 1,024 printable ASCII characters. Each must hold a non-space character.
   * @default {} (the metrics have no dimensions)
   */
  dimensions?: Readonly<Record<string, string>> | undefined;
  /**
   * Writes one EMF line (without its line end).
   * @default `(line) => process.stdout.write(line + "\n")`
   */
  write?: ((line: string) => void) | undefined;
  /** The clock for the EMF `Timestamp`, in ms since the epoch. @default Date.now */
  now?: (() => number) | undefined;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;
const ASCII_TEXT = "a non-empty string of printable ASCII characters";

/**
 * 1 to `max` printable ASCII characters with at least one that is not a space, and none of the
 * `prefixes`: one issue at most, the first problem found.
 */
const asciiText = (max: number, prefixes: readonly string[] = []) =>
  z.string({ error: `must be ${ASCII_TEXT}` }).check(
    z.superRefine((text, context) => {
      const problem =
        !PRINTABLE_ASCII.test(text) || text.trim() === ""
          ? `must be ${ASCII_TEXT}`
          : text.length > max
            ? `must be at most ${max} characters`
            : prefixes
                .filter((prefix) => text.startsWith(prefix))
                .map((prefix) => `must not start with "${prefix}"`)[0];
      if (problem !== undefined) context.addIssue({ code: "custom", message: problem, input: text });
    }),
  );

const emfOptionsSchema = () =>
  z.strictObject({
    // "AWS/" namespaces are reserved for AWS services.
    namespace: asciiText(255, [":", "AWS/"]),
    dimensions: z.optional(
      z.record(z.string(), asciiText(1024), { error: "must be an object of dimension names to values" }),
    ),
    write: z.optional(fn<(line: string) => void>()),
    now: z.optional(fn<() => number>()),
  });

/** Dimension names: checked apart from the schema, so that each issue names its dimension. */
function checkDimensionNames(options: Record<string, unknown>): ConfigIssue[] {
  const dimensions = options.dimensions;
  if (typeof dimensions !== "object" || dimensions === null || Array.isArray(dimensions)) return [];
  const names = Object.keys(dimensions);
  const issues: ConfigIssue[] = names.flatMap((name) => {
    const problem =
      name.length > 255 || !PRINTABLE_ASCII.test(name) || name.trim() === "" || name.startsWith(":")
        ? 'must be 1 to 255 printable ASCII characters, with a non-space one, not starting with ":"'
        : name === "_aws" || Object.hasOwn(EMF_METRICS, name)
          ? "is a name the EMF line already uses (_aws or a metric name)"
          : undefined;
    return problem === undefined ? [] : [{ path: `dimensions.${name}`, message: `name ${problem}` }];
  });
  if (names.length > MAX_EMF_DIMENSIONS) {
    issues.push({ path: "dimensions", message: `must hold at most ${MAX_EMF_DIMENSIONS} dimensions` });
  }
  return issues;
}

const writeToStdout = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/**
 * Makes an `onResult` callback that writes one CloudWatch Embedded Metric Format line per
 * invocation, with the metrics DeletedObjects, FailedObjects, InvalidRecords, KeptReplaced and
 * KeptRecreated (unit Count) from the summary, and for the replay handler's UnreplayableBatches,
 * UnfinishedBatches and InvalidMessages too. The
 * options are validated here, once; a mistake throws a {@link ConfigError} naming the option. A `write` that throws makes the callback throw: the
 * handler logs that and answers as usual.
 *
 * @example
 * ```ts
 * export const handler = createCleanupHandler({
 *   bucket: "product-images",
 *   key: "{productId}.png",
 *   onResult: emfMetrics({ namespace: "ProductImages", dimensions: { Table: "products" } }),
 * });
 * ```
 */
export function emfMetrics(options: EmfMetricsOptions): (summary: MetricsSummary) => void {
  validateOptions(emfOptionsSchema(), options, checkDimensionNames);
  const { namespace, dimensions = {}, write = writeToStdout, now = Date.now } = options;
  const all = Object.keys(EMF_METRICS) as (keyof typeof EMF_METRICS)[];
  const directiveOf = (names: readonly string[]) => ({
    Namespace: namespace,
    Dimensions: [Object.keys(dimensions)],
    Metrics: names.map((name) => ({ Name: name, Unit: "Count" })),
  });
  const cleanupNames = all.filter((name) => !REPLAY_METRICS.includes(name));
  const directives = { cleanup: directiveOf(cleanupNames), replay: directiveOf(all) };
  const dimensionEntries = Object.entries(dimensions);
  return (summary) => {
    const replay = typeof summary.unreplayableBatches === "number";
    const names = replay ? all : cleanupNames;
    // fromEntries defines properties, so that even a dimension named "__proto__" is written.
    const document = Object.fromEntries([
      ["_aws", { Timestamp: now(), CloudWatchMetrics: [replay ? directives.replay : directives.cleanup] }],
      ...dimensionEntries,
      ...names.map((name) => [name, summary[EMF_METRICS[name]]]),
    ]);
    write(JSON.stringify(document));
  };
}
