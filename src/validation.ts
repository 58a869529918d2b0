/**
 * Option validation shared by the factories: small zod schemas with messages that read well, and
 * one function that turns zod's issues into a {@link ConfigError} naming each option.
 *
 * Schemas are built by functions, when a factory runs, never at module load: a bundle that does not
 * call a factory drops them, and importing the package does no work.
 */
import * as z from "zod/mini";
import { ConfigError, type ConfigIssue } from "./errors.js";

/** Formats a path as an option path: `key[1]`, `logger.info`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (text, segment) =>
      typeof segment === "number"
        ? `${text}[${segment}]`
        : text === ""
          ? String(segment)
          : `${text}.${String(segment)}`,
    "",
  );
}

/**
 * Parses `input` with `schema`, or throws one ConfigError listing every problem: the schema's and
 * those `crossCheck` finds between options (it runs even when the schema fails).
 */
export function validateOptions<T extends z.ZodMiniType>(
  schema: T,
  input: unknown,
  crossCheck: (input: Record<string, unknown>) => ConfigIssue[] = () => [],
): z.output<T> {
  if (typeof input !== "object" || input === null) {
    throw new ConfigError([{ path: "(options)", message: "must be an object" }]);
  }
  const result = z.safeParse(schema, input);
  const issues: ConfigIssue[] = result.success
    ? []
    : result.error.issues.flatMap((issue) =>
        issue.code === "unrecognized_keys"
          ? issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: "is not an option" }))
          : [{ path: formatPath(issue.path), message: issue.message }],
      );
  issues.push(...crossCheck(input as Record<string, unknown>));
  if (result.success && issues.length === 0) return result.data;
  throw new ConfigError(issues);
}

/** Optional options by name, each with a function that builds its schema (without `z.optional`). */
export type OptionalFields = Readonly<Record<string, () => z.ZodMiniType>>;

/**
 * The strict object schema of a factory's options: the `required` schemas, and the `optional` ones
 * of the options that `input` holds (in `optional`'s order). Only the options given are built, so
 * the one-line handler does not build two dozen schemas it does not use; an option `optional` does
 * not name is still "not an option".
 */
export function optionsSchema(required: Record<string, z.ZodMiniType>, optional: OptionalFields, input: unknown) {
  const given = typeof input === "object" && input !== null ? input : {};
  const shape: Record<string, z.ZodMiniType> = { ...required };
  for (const [name, schema] of Object.entries(optional)) {
    if (name in given) shape[name] = z.optional(schema());
  }
  return z.strictObject(shape);
}

export const nonEmptyString = () =>
  z.string({ error: "must be a non-empty string" }).check(z.minLength(1, { error: "must be a non-empty string" }));

export const positiveInt = (max: number) =>
  z
    .int({ error: "must be an integer" })
    .check(z.gte(1, { error: "must be at least 1" }), z.lte(max, { error: `must be at most ${max}` }));

export const nonNegativeInt = () =>
  z.int({ error: "must be an integer" }).check(z.gte(0, { error: "must not be negative" }));

export const trueOrFalse = () => z.boolean({ error: "must be true or false" });

export const fn = <T>(what = "must be a function") =>
  z.custom<T>((value) => typeof value === "function", { error: what });

export const allowedPrefixesSchema = () =>
  z
    .array(nonEmptyString(), { error: "must be an array of prefixes" })
    .check(z.minLength(1, { error: "must hold at least one prefix (leave it out to allow every key)" }));

/** The methods a logger must have, one per level, lowest level first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/**
 * A logger: an object with a method per level. Only the options as given are used afterwards, never
 * zod's copy, so a class instance keeps its `this`.
 */
export const loggerSchema = () =>
  z.looseObject(
    {
      debug: fn("must be a method"),
      info: fn("must be a method"),
      warn: fn("must be a method"),
      error: fn("must be a method"),
    },
    { error: "must be an object with debug, info, warn and error methods" },
  );

/** An AWS SDK client such as `an S3Client`, or anything with its `send`. */
export const clientSchema = (name: string) => () =>
  z.looseObject({ send: fn("must be a method") }, { error: `must be ${name} (an object with a send method)` });

export const s3ClientSchema = clientSchema("an S3Client");
