/**
 * The default logger: one JSON object per line on stdout, `{ level, message, timestamp, ...fields }`,
 * which CloudWatch Logs Insights reads field by field.
 *
 * Lines go straight to `process.stdout`, as the EMF metrics line does (see metrics.ts) and as
 * Powertools' Logger does: through `console`, Lambda's text log format would put a timestamp, the
 * request id and the level in front of each line, and the line would no longer be pure JSON.
 */
import type { Logger } from "./types.js";
import { LOG_LEVELS } from "./validation.js";

/** A level of the {@link Logger} methods. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The lowest level a logger writes, or `"off"` for none. */
export type LogThreshold = LogLevel | "off";

/** Options of {@link jsonLogger}. */
export interface JsonLoggerOptions {
  /** The lowest level written. @default "debug" (every level) */
  level?: LogThreshold | undefined;
  /** Writes one line, without its line end. @default `(line) => process.stdout.write(line + "\n")` */
  write?: ((line: string) => void) | undefined;
  /** The clock of `timestamp`, in ms since the epoch. @default Date.now */
  now?: (() => number) | undefined;
}

/** The `level` written for each method. */
const LEVEL_NAMES: Readonly<Record<LogLevel, string>> = { debug: "DEBUG", info: "INFO", warn: "WARN", error: "ERROR" };

/** The keys every line starts with; a field of the same name is left out. */
const OWN_KEYS = ["level", "message", "timestamp"];

/** How deep fields are written; anything deeper is written as `"[Object]"` or `"[Array]"`. */
const MAX_DEPTH = 10;

const writeToStdout = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/**
 * A logger that writes one JSON object per line: `level` (`"DEBUG"`, `"INFO"`, `"WARN"`, `"ERROR"`),
 * `message`, `timestamp` (ISO 8601), then the fields. Fields are written safely: an Error as
 * `{ name, message, code?, stack, cause? }`, a bigint as its digits, a circular reference as
 * `"[Circular]"`; a field that still cannot be written (a getter that throws) makes the line say
 * so in `logError` instead of throwing.
 */
export function jsonLogger({ level = "debug", write = writeToStdout, now = Date.now }: JsonLoggerOptions = {}): Logger {
  const lowest = level === "off" ? LOG_LEVELS.length : LOG_LEVELS.indexOf(level);
  const at = (method: LogLevel) =>
    LOG_LEVELS.indexOf(method) < lowest
      ? () => {}
      : (message: string, fields: Record<string, unknown>) =>
          write(jsonLine(LEVEL_NAMES[method], message, fields, now));
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** One log line as JSON: never throws, and never holds a line end. */
export function jsonLine(level: string, message: string, fields: unknown, now: () => number = Date.now): string {
  const head = { level, message: String(message), timestamp: new Date(now()).toISOString() };
  try {
    const entry: Record<string, unknown> = Object.assign(Object.create(null), head);
    const written = toJsonValue(fields);
    if (typeof written === "object" && written !== null && !Array.isArray(written)) {
      for (const [key, value] of Object.entries(written)) if (!OWN_KEYS.includes(key)) entry[key] = value;
    } else if (written !== undefined) {
      entry.fields = written;
    }
    return JSON.stringify(entry);
  } catch (error) {
    return JSON.stringify({ ...head, logError: `the fields could not be written: ${errorText(error)}` });
  }
}

/**
 * `value` as plain data that JSON.stringify writes without throwing: Errors as objects, bigints and
 * symbols as strings, functions left out (as JSON.stringify does), Maps as objects, Sets as arrays,
 * `toJSON` honoured, circular references as `"[Circular]"` and levels beyond {@link MAX_DEPTH} cut.
 * May still throw when reading the value does (a getter, a proxy).
 */
export function toJsonValue(value: unknown, ancestors: object[] = []): unknown {
  if (typeof value === "bigint" || typeof value === "symbol") return value.toString();
  if (typeof value === "function") return undefined;
  if (typeof value !== "object" || value === null) return value;
  if (ancestors.includes(value)) return "[Circular]";
  if (ancestors.length >= MAX_DEPTH) return Array.isArray(value) ? "[Array]" : "[Object]";
  ancestors.push(value);
  try {
    if (value instanceof Error) return errorJson(value, ancestors);
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") return toJsonValue(toJSON.call(value), ancestors);
    if (Array.isArray(value) || value instanceof Set) {
      return Array.from(value as Iterable<unknown>, (element) => toJsonValue(element, ancestors) ?? null);
    }
    const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
    const plain: Record<string, unknown> = Object.create(null);
    for (const [key, element] of entries) {
      const written = toJsonValue(element, ancestors);
      if (written !== undefined) plain[String(key)] = written;
    }
    return plain;
  } finally {
    ancestors.pop();
  }
}

/** An Error as `{ name, message, code?, stack, cause? }`. */
function errorJson(error: Error, ancestors: object[]): Record<string, unknown> {
  const { code } = error as { code?: unknown };
  return {
    name: error.name,
    message: error.message,
    ...(typeof code === "string" || typeof code === "number" ? { code } : {}),
    ...(error.stack === undefined ? {} : { stack: error.stack }),
    ...(error.cause === undefined ? {} : { cause: toJsonValue(error.cause, ancestors) }),
  };
}

function errorText(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return "unknown error";
  }
}

/**
 * The threshold that Lambda's `AWS_LAMBDA_LOG_LEVEL` (set by the function's advanced logging
 * controls: TRACE, DEBUG, INFO, WARN, ERROR or FATAL, any case) stands for; undefined for anything
 * else. TRACE writes every level like DEBUG; FATAL writes none, as the library logs nothing fatal.
 */
export function lambdaLogLevel(value: string | undefined): LogThreshold | undefined {
  switch (value?.toUpperCase()) {
    case "TRACE":
    case "DEBUG":
      return "debug";
    case "INFO":
      return "info";
    case "WARN":
      return "warn";
    case "ERROR":
      return "error";
    case "FATAL":
      return "off";
    default:
      return undefined;
  }
}

/**
 * The logger of a handler given none: {@link jsonLogger} at the level of `AWS_LAMBDA_LOG_LEVEL`,
 * read from `env` when this is called (at factory time), else at every level.
 */
export function defaultLogger(env: Readonly<Record<string, string | undefined>> = process.env): Logger {
  return jsonLogger({ level: lambdaLogLevel(env.AWS_LAMBDA_LOG_LEVEL) });
}
