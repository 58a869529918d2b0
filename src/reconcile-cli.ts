/**
 * The `reconcile` command: finds the objects of a bucket whose items are gone from a table, at a
 * terminal, and with `--delete` deletes them. It turns flags into the options of `reconcile`
 * (injected, so that this module holds only the command's own logic), writes each orphan as a JSON
 * line to the `--report` file, shows progress on stderr and ends with a summary on stdout.
 */
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { parseArgs } from "node:util";
import { S3Client } from "@aws-sdk/client-s3";
import { type ConfigIssue, errorMessage, isConfigError, isReconcileError } from "./errors.js";
import { jsonLogger } from "./json-logger.js";
import type { ReconcileOptions, ReconcileProgress, ReconcileReport } from "./reconcile-run.js";
import type { Orphan } from "./reconcile-types.js";
import { INTERRUPTED_EXIT_CODE, UsageProblem } from "./replay-cli.js";
import type { AwsClientLike } from "./types.js";

/** `reconcile` as the command calls it; the library's `reconcile` fits. */
export type ReconcileFunction = (options: ReconcileOptions) => Promise<ReconcileReport>;

/** The part of @aws-sdk/client-dynamodb the command uses: the default client. */
export type DynamoDbModule = Pick<typeof import("@aws-sdk/client-dynamodb"), "DynamoDBClient">;

/** What the command reads and writes, injected so that tests need no process, bucket or terminal. */
export interface ReconcileCommandIo {
  /** The environment: only `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL` and `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` are read. */
  env: Readonly<Record<string, string | undefined>>;
  /** Writes to standard output: the usage and the summary. */
  stdout: (text: string) => void;
  /** Writes to standard error: progress, problems and log lines. */
  stderr: (text: string) => void;
  /** Whether standard error is a terminal: progress then rewrites one line. */
  stderrIsTty: boolean;
  /** Runs the reconcile. */
  reconcile: ReconcileFunction;
  /** @default a new S3Client, path-style when the S3 endpoint is a loopback address (see {@link s3ClientConfig}) */
  s3Client?: S3Client | undefined;
  /** @default a new DynamoDBClient of @aws-sdk/client-dynamodb */
  dynamoDbClient?: AwsClientLike | undefined;
  /** Loads @aws-sdk/client-dynamodb, an optional peer dependency. @default `import("@aws-sdk/client-dynamodb")` */
  importDynamoDb?: (() => Promise<DynamoDbModule>) | undefined;
  /** Opens the `--report` file for writing, replacing it; rejects when it cannot. @default a file write stream */
  openReport?: ((path: string, append: boolean) => Promise<Writable>) | undefined;
  /**
   * Calls `listener` on every interrupt (Ctrl-C), and returns what stops that. The first interrupt
   * stops the run after the pages in hand; the second makes the command return 130 at once.
   * @default SIGINT of the process
   */
  onInterrupt?: ((listener: () => void) => () => void) | undefined;
  /** Calls `listener` every `intervalMs`, and returns what stops that. @default setInterval */
  onTick?: ((intervalMs: number, listener: () => void) => () => void) | undefined;
  /** The clock of the progress line's rate and refreshes, in ms. @default Date.now */
  now?: (() => number) | undefined;
}

/** The command's usage text. */
export const RECONCILE_USAGE = `Usage: dynamodb-s3-cleanup reconcile --table T --bucket B --key TEMPLATE [options]

Finds the objects of a bucket whose items are gone from a table (orphans no stream will ever
report), and with --delete deletes them. Without --delete it only reports.

Options:
  --table NAME             the table whose items the objects belong to (required)
  --bucket NAME            the bucket to reconcile (required)
  --key TEMPLATE           the handler's key template, such as "images/{productId}.png": each
                           placeholder a key attribute of the table (required; repeat for more)
  --prefix P               the prefix to list (default: the text before each template's first
                           placeholder)
  --min-age AGE            objects younger than this are never orphans: 90s, 30m, 24h, 7d, or
                           milliseconds (default 24h)
  --delete                 delete the orphans (each on its listed ETag, after a second probe)
  --report FILE.jsonl      write each orphan as a JSON line to FILE (replaced; appended to with
                           --checkpoint, so that a resumed run's report holds the earlier orphans)
  --checkpoint FILE        keep the run's progress in FILE; a stopped run given it goes on
  --concurrency N          key-space partitions listed at once, 1 to 64 (default 4)
  --allowed-prefix P       only delete objects under P; the listed prefixes must lie within it
                           (repeat for more)
  --scan                   scan the table into the object keys its items render to, for templates
                           with attributes outside the key (holds those keys in memory)
  --verbose                log at info level, not only warnings and errors
  -h, --help               show this help

AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL_DYNAMODB are honoured; a loopback
S3 endpoint is addressed path-style.

Exit code: 0 when every object was listed and no delete failed and no object was left unchecked,
1 when not (a failed delete, an unchecked object, a failed listing, an interrupt), 2 for bad usage
or configuration, 130 at a second Ctrl-C.
`;

/** How often the progress line is redrawn on a terminal while nothing else redraws it. */
export const TTY_TICK_MS = 1_000;
/** The least time between two redraws of the progress line on a terminal. */
export const TTY_REDRAW_MS = 100;
/** How often a progress line is written when stderr is not a terminal. */
export const PLAIN_PROGRESS_INTERVAL_MS = 10_000;
/** The span the listing rate is measured over. */
export const RATE_WINDOW_MS = 10_000;

const OPTIONS = {
  table: { type: "string" },
  bucket: { type: "string" },
  key: { type: "string", multiple: true },
  prefix: { type: "string" },
  "min-age": { type: "string" },
  delete: { type: "boolean" },
  report: { type: "string" },
  checkpoint: { type: "string" },
  concurrency: { type: "string" },
  "allowed-prefix": { type: "string", multiple: true },
  scan: { type: "boolean" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** The command's flags, checked. */
interface ReconcileFlags {
  table: string;
  bucket: string;
  keys: string[];
  prefix: string | undefined;
  /** The `--min-age` text as given, for the start line. */
  minAge: string | undefined;
  minAgeMs: number | undefined;
  delete: boolean;
  reportPath: string | undefined;
  checkpoint: string | undefined;
  concurrency: number | undefined;
  allowedPrefixes: string[] | undefined;
  scan: boolean;
  verbose: boolean;
}

/**
 * Runs `dynamodb-s3-cleanup reconcile` with `argv` (the arguments after `reconcile`) and resolves
 * to its exit code: 0 when the run is complete, no delete failed and no object was left unchecked;
 * 1 when not (also when the run stopped on an error, or the report could not be written); 2 for bad
 * usage or configuration (a ConfigError or ReconcileError of `reconcile`, such as a missing table),
 * with a message naming the flag; 130 at a second interrupt, without waiting for the run.
 *
 * @example
 * ```ts
 * const code = await runReconcileCommand(["--table", "products", "--bucket", "images", "--key", "{productId}.png"], io);
 * ```
 */
export async function runReconcileCommand(argv: string[], io: ReconcileCommandIo): Promise<number> {
  const flags = parseFlags(argv);
  if (flags === "help") {
    io.stdout(RECONCILE_USAGE);
    return 0;
  }
  if (flags instanceof UsageProblem) {
    io.stderr(`reconcile: ${flags.message}\n\n${RECONCILE_USAGE}`);
    return 2;
  }
  let dynamoDbClient = io.dynamoDbClient;
  if (dynamoDbClient === undefined) {
    try {
      const { DynamoDBClient } = await (io.importDynamoDb ?? (() => import("@aws-sdk/client-dynamodb")))();
      dynamoDbClient = new DynamoDBClient({});
    } catch (error) {
      io.stderr(
        `reconcile: the reconcile command needs @aws-sdk/client-dynamodb (npm install @aws-sdk/client-dynamodb): ${errorMessage(error)}\n`,
      );
      return 2;
    }
  }
  const s3Client = io.s3Client ?? new S3Client(s3ClientConfig(io.env));
  try {
    let report: JsonLinesFile | undefined;
    if (flags.reportPath !== undefined) {
      try {
        report = jsonLinesFile(await (io.openReport ?? openFile)(flags.reportPath, flags.checkpoint !== undefined));
      } catch (error) {
        io.stderr(`reconcile: --report ${flags.reportPath} cannot be written: ${errorMessage(error)}\n`);
        return 2;
      }
    }
    return await run({ flags, io, report, s3Client, dynamoDbClient });
  } finally {
    if (io.s3Client === undefined) s3Client.destroy();
    if (io.dynamoDbClient === undefined) (dynamoDbClient as { destroy?: () => void }).destroy?.();
  }
}

/** The flags of `argv`, `"help"`, or what is wrong with them. */
function parseFlags(argv: string[]): ReconcileFlags | "help" | UsageProblem {
  let values: ReturnType<typeof flagValues>;
  try {
    values = flagValues(argv);
  } catch (error) {
    // Node's messages name the flag ("Unknown option '--tabel'"); the lines after the first are advice about dashes.
    return new UsageProblem(errorMessage(error).split("\n")[0] as string);
  }
  if (values.help === true) return "help";
  for (const flag of ["table", "bucket", "key"] as const) {
    if (values[flag] === undefined) return new UsageProblem(`--${flag} is required`);
  }
  const minAge = values["min-age"];
  const minAgeMs = minAge === undefined ? undefined : parseAge(minAge);
  if (minAgeMs === null) {
    return new UsageProblem(
      `--min-age must be a duration such as 90s, 30m, 24h or 7d, or a number of milliseconds, not ${JSON.stringify(minAge)}`,
    );
  }
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
  if (
    concurrency !== undefined &&
    !(/^\d{1,2}$/.test(values.concurrency as string) && concurrency >= 1 && concurrency <= 64)
  ) {
    return new UsageProblem("--concurrency must be an integer from 1 to 64");
  }
  return {
    table: values.table as string,
    bucket: values.bucket as string,
    keys: values.key as string[],
    prefix: values.prefix,
    minAge,
    minAgeMs,
    delete: values.delete === true,
    reportPath: values.report,
    checkpoint: values.checkpoint,
    concurrency,
    allowedPrefixes: values["allowed-prefix"],
    scan: values.scan === true,
    verbose: values.verbose === true,
  };
}

function flagValues(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
}

const HOUR_MS = 3_600_000;
const AGE_UNITS_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: HOUR_MS, d: 24 * HOUR_MS };

/**
 * An age in milliseconds: `90s`, `30m`, `24h`, `7d`, or a plain number of milliseconds (`0`
 * included); null for anything else, and for an age beyond what a number holds exactly.
 *
 * @example
 * ```ts
 * parseAge("24h"); // 86400000
 * ```
 */
export function parseAge(text: string): number | null {
  const match = /^(\d{1,16})([smhd]?)$/.exec(text);
  if (match === null) return null;
  const ms = Number(match[1]) * (AGE_UNITS_MS[match[2] as string] ?? 1);
  return Number.isSafeInteger(ms) ? ms : null;
}

/**
 * The S3 client's settings for the command: path-style addressing when the S3 endpoint the SDK
 * reads from the environment (`AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`) is a loopback address,
 * where bucket names as host names do not resolve (moto, MinIO on the machine); nothing otherwise,
 * since the SDK reads the region, profile and endpoint itself.
 *
 * @example
 * ```ts
 * new S3Client(s3ClientConfig(process.env));
 * ```
 */
export function s3ClientConfig(env: Readonly<Record<string, string | undefined>>): { forcePathStyle?: true } {
  if (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === "true") return {};
  // As the SDK reads them: the service's own variable when it is set and not empty.
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL;
  return endpoint !== undefined && isLoopbackUrl(endpoint) ? { forcePathStyle: true } : {};
}

/** Whether `url` names this machine: localhost, ::1, or an address of 127.0.0.0/8. */
function isLoopbackUrl(url: string): boolean {
  let hostname: string;
  try {
    hostname = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return (
    hostname === "localhost" ||
    hostname.endsWith(".localhost") ||
    hostname === "[::1]" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  );
}

async function openFile(path: string, append: boolean): Promise<Writable> {
  const stream = createWriteStream(path, { flags: append ? "a" : "w" });
  await once(stream, "open");
  return stream;
}

/** A file of JSON lines, written through a stream that is waited on when its buffer is full. */
interface JsonLinesFile {
  /** Writes one line; resolves when the stream takes more, rejects when the stream failed. */
  write: (line: string) => Promise<void>;
  /** Ends the stream and resolves when the file is complete and closed. */
  close: () => Promise<void>;
  /** The error that stopped the stream, when one did. */
  failure: () => unknown;
}

function jsonLinesFile(stream: Writable): JsonLinesFile {
  let failure: { error: unknown } | undefined;
  stream.on("error", (error: unknown) => {
    failure ??= { error };
  });
  let closing: Promise<void> | undefined;
  return {
    write: async (line) => {
      if (failure !== undefined) throw failure.error;
      if (closing !== undefined) throw new Error("the report file is closed");
      if (!stream.write(`${line}\n`)) await once(stream, "drain");
    },
    close: () => {
      closing ??= (async () => {
        stream.end();
        await finished(stream);
      })();
      return closing;
    },
    failure: () => failure?.error,
  };
}

/**
 * An orphan as one line of the `--report` file: `key`, `bucket`, `size`, `lastModified` (ISO 8601),
 * `etag`, `itemKey` (DynamoDB JSON), `status`, and `error` when its delete failed.
 *
 * @example
 * ```ts
 * orphanLine(orphan); // {"key":"images/7.png","bucket":"images","size":512,...,"status":"deleted"}
 * ```
 */
export function orphanLine(orphan: Orphan): string {
  return JSON.stringify({
    key: orphan.key,
    bucket: orphan.bucket,
    size: orphan.size,
    lastModified: orphan.lastModified.toISOString(),
    etag: orphan.etag,
    itemKey: orphan.itemKey,
    status: orphan.status,
    error: orphan.error,
  });
}

/** The flag of an option of `reconcile`, for messages. */
const FLAG_OF_OPTION: Readonly<Record<string, string>> = {
  tableName: "--table",
  bucket: "--bucket",
  key: "--key",
  prefix: "--prefix",
  minAgeMs: "--min-age",
  delete: "--delete",
  checkpoint: "--checkpoint",
  concurrency: "--concurrency",
  allowedPrefixes: "--allowed-prefix",
};

/**
 * The flag an issue's option path stands for: `tableName` → `--table`, `key[1]` → `--key #2`, and
 * an option no flag sets as itself in backticks.
 */
export function flagOfOption(path: string): string {
  const match = /^(\w+)(?:\[(\d+)\])?/.exec(path);
  const flag = match === null ? undefined : FLAG_OF_OPTION[match[1] as string];
  if (match === null || flag === undefined) return `\`${path}\``;
  return match[2] === undefined ? flag : `${flag} #${Number(match[2]) + 1}`;
}

/** The message of a configuration error, naming the flag at fault. */
function configurationMessage(error: unknown, flags: ReconcileFlags): string | undefined {
  if (isConfigError(error)) {
    return error.issues
      .map((issue: ConfigIssue) => `${flagOfOption(issue.path)}: ${issue.message}`)
      .join("\nreconcile: ");
  }
  // A ReconcileError that may pass (throttling, the network) is no configuration problem.
  if (!isReconcileError(error) || error.retryable) return undefined;
  if (error.option === "checkpoint") return `--checkpoint: ${error.message}`;
  return `--table ${flags.table}: ${error.message}`;
}

interface RunInput {
  flags: ReconcileFlags;
  io: ReconcileCommandIo;
  report: JsonLinesFile | undefined;
  s3Client: S3Client;
  dynamoDbClient: AwsClientLike;
}

/** Runs the reconcile with its progress, interrupts and report file, and resolves to the exit code. */
async function run({ flags, io, report, s3Client, dynamoDbClient }: RunInput): Promise<number> {
  const now = io.now ?? Date.now;
  const progress = createProgressView(io, now, flags.checkpoint === undefined);
  const stop = new AbortController();
  let interrupted = false;
  // After a second interrupt the command has returned: the run's late output goes nowhere.
  let returned = false;
  let exitAtOnce!: (code: number) => void;
  const secondInterrupt = new Promise<number>((resolve) => {
    exitAtOnce = resolve;
  });
  const unsubscribe = (io.onInterrupt ?? processInterrupts)(() => {
    if (!interrupted) {
      interrupted = true;
      progress.writeLogLine(
        `reconcile: interrupted: stopping after the pages in hand${flags.checkpoint === undefined ? "" : `, then saving ${flags.checkpoint}`} (Ctrl-C again to exit at once)`,
      );
      stop.abort(new Error("reconcile interrupted"));
      return;
    }
    progress.writeLogLine("reconcile: interrupted again: exiting");
    returned = true;
    // Only whole lines are in the report: closing it keeps the ones written.
    void (report?.close() ?? Promise.resolve()).catch(() => undefined).then(() => exitAtOnce(INTERRUPTED_EXIT_CODE));
  });
  const stopTicking = (io.onTick ?? everyInterval)(
    io.stderrIsTty ? TTY_TICK_MS : PLAIN_PROGRESS_INTERVAL_MS,
    progress.tick,
  );
  io.stderr(startLine(flags));
  if (flags.delete && flags.minAgeMs !== undefined && flags.minAgeMs < HOUR_MS) {
    io.stderr(
      "reconcile: --min-age is below an hour: an object uploaded just before its item is written may be taken for an orphan\n",
    );
  }
  const finishedRun = (async (): Promise<number> => {
    let result: ReconcileReport | { error: unknown };
    try {
      result = await io.reconcile(optionsOf(flags, { s3Client, dynamoDbClient, stop, progress, report }));
    } catch (error) {
      result = { error };
    }
    stopTicking();
    let reportError: unknown;
    try {
      await report?.close();
    } catch (error) {
      reportError = error;
    }
    reportError = report?.failure() ?? reportError;
    if (returned) return INTERRUPTED_EXIT_CODE;
    progress.finish();
    if (reportError !== undefined) {
      io.stderr(`reconcile: --report ${flags.reportPath} could not be written: ${errorMessage(reportError)}\n`);
    }
    if ("error" in result) {
      const message = configurationMessage(result.error, flags);
      if (message !== undefined) {
        io.stderr(`reconcile: ${message}\n`);
        return 2;
      }
      if (reportError === undefined) io.stderr(`reconcile: stopped: ${errorMessage(result.error)}\n`);
      return 1;
    }
    io.stdout(summaryText(result, flags, interrupted));
    const clean = result.complete && result.failed === 0 && result.unchecked === 0 && reportError === undefined;
    return clean ? 0 : 1;
  })();
  try {
    return await Promise.race([finishedRun, secondInterrupt]);
  } finally {
    unsubscribe();
    stopTicking();
  }
}

interface RunParts {
  s3Client: S3Client;
  dynamoDbClient: AwsClientLike;
  stop: AbortController;
  progress: ProgressView;
  report: JsonLinesFile | undefined;
}

/** The options of `reconcile`: only the flags given, so that its defaults stand for the rest. */
function optionsOf(flags: ReconcileFlags, parts: RunParts): ReconcileOptions {
  const { report, progress } = parts;
  const options: ReconcileOptions = {
    tableName: flags.table,
    bucket: flags.bucket,
    // One template as a string, so that a problem with it is reported as `key`, not `key[0]`.
    key: flags.keys.length === 1 ? flags.keys[0] : flags.keys,
    delete: flags.delete,
    signal: parts.stop.signal,
    onProgress: progress.update,
    s3Client: parts.s3Client,
    dynamoDbClient: parts.dynamoDbClient,
    logger: jsonLogger({ level: flags.verbose ? "info" : "warn", write: progress.writeLogLine }),
  };
  if (flags.prefix !== undefined) options.prefix = flags.prefix;
  if (flags.minAgeMs !== undefined) options.minAgeMs = flags.minAgeMs;
  if (flags.concurrency !== undefined) options.concurrency = flags.concurrency;
  if (flags.checkpoint !== undefined) options.checkpoint = flags.checkpoint;
  if (flags.allowedPrefixes !== undefined) options.allowedPrefixes = flags.allowedPrefixes;
  if (flags.scan) options.mode = "scan";
  if (report !== undefined) options.onOrphan = (orphan) => report.write(orphanLine(orphan));
  return options;
}

function startLine(flags: ReconcileFlags): string {
  return `reconcile: bucket ${flags.bucket}${flags.prefix === undefined ? "" : `, prefix ${JSON.stringify(flags.prefix)}`}, table ${flags.table}, ${flags.keys.length === 1 ? "key" : "keys"} ${flags.keys.join(", ")}, minimum age ${flags.minAge ?? "24h"}, ${flags.delete ? "deleting the orphans" : "report only (no --delete)"}\n`;
}

function processInterrupts(listener: () => void): () => void {
  process.on("SIGINT", listener);
  return () => process.off("SIGINT", listener);
}

function everyInterval(intervalMs: number, listener: () => void): () => void {
  const timer = setInterval(listener, intervalMs);
  return () => clearInterval(timer);
}

/** The progress output on stderr: the line, and log lines that must not garble it. */
interface ProgressView {
  /** Takes the counts of `onProgress`; on a terminal, redraws the line (at most every {@link TTY_REDRAW_MS}). */
  update: (progress: ReconcileProgress) => void;
  /** Shows the counts: redraws the line on a terminal, else writes a line. */
  tick: () => void;
  /** Writes a log line or a problem above the progress line. */
  writeLogLine: (line: string) => void;
  /** Ends the progress line, before the summary. */
  finish: () => void;
}

/**
 * The progress view. The rate is measured over the last {@link RATE_WINDOW_MS}; `fromZero` says the
 * run starts at 0 objects (no checkpoint to go on from), so that the first line has a rate too.
 */
function createProgressView(io: ReconcileCommandIo, now: () => number, fromZero: boolean): ProgressView {
  let latest: ReconcileProgress | undefined;
  const samples: { at: number; listed: number }[] = fromZero ? [{ at: now(), listed: 0 }] : [];
  let shown = "";
  let drawnAt = Number.NEGATIVE_INFINITY;
  const line = () => {
    const at = now();
    const listed = latest?.listed ?? 0;
    samples.push({ at, listed });
    // Keep one sample at or before the window's start, so that the rate spans the whole window.
    while (samples.length > 2 && (samples[1] as { at: number }).at <= at - RATE_WINDOW_MS) samples.shift();
    const first = samples[0] as { at: number; listed: number };
    const rate = at > first.at ? ((listed - first.listed) * 1000) / (at - first.at) : undefined;
    return `reconcile: ${progressText(latest, rate)}`;
  };
  const draw = () => {
    drawnAt = now();
    shown = line();
    io.stderr(`\r${shown}\x1b[K`);
  };
  return {
    update: (progress) => {
      latest = progress;
      if (io.stderrIsTty && now() - drawnAt >= TTY_REDRAW_MS) draw();
    },
    tick: () => {
      if (io.stderrIsTty) draw();
      else io.stderr(`${line()}\n`);
    },
    writeLogLine: (text) => {
      if (shown === "") io.stderr(`${text}\n`);
      else io.stderr(`\r\x1b[K${text}\n${shown}\x1b[K`);
    },
    finish: () => {
      if (shown !== "") io.stderr("\n");
      shown = "";
    },
  };
}

/** The progress line: objects listed and their rate, orphans and their bytes, deletes, partitions. */
function progressText(progress: ReconcileProgress | undefined, rate: number | undefined): string {
  if (progress?.scannedItems !== undefined) return `scanning the table: ${progress.scannedItems} items`;
  const counts = progress ?? { listed: 0, orphans: 0, bytes: 0, deleted: 0, failed: 0, unchecked: 0 };
  const parts = [
    `${counts.listed} listed${rate === undefined ? "" : ` (${Math.round(rate)}/s)`}`,
    `${counts.orphans} orphans (${humanBytes(counts.bytes)})`,
    `${counts.deleted} deleted`,
  ];
  if (counts.failed > 0) parts.push(`${counts.failed} failed`);
  if (counts.unchecked > 0) parts.push(`${counts.unchecked} unchecked`);
  if (progress !== undefined) {
    const done = progress.partitions.filter((partition) => partition.done).length;
    parts.push(`partitions ${done}/${progress.partitions.length}`);
  }
  return parts.join(", ");
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/**
 * A byte count in binary units: `512 B`, `1.5 KiB`, `23 MiB` (one decimal below 10).
 *
 * @example
 * ```ts
 * humanBytes(1536); // "1.5 KiB"
 * ```
 */
export function humanBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${bytes} B`;
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${BYTE_UNITS[unit]}`;
}

/**
 * A duration for people: `850 ms`, `12.3 s`, `4 min 5 s`, `2 h 3 min`, `1 d 4 h`.
 *
 * @example
 * ```ts
 * humanDuration(245_000); // "4 min 5 s"
 * ```
 */
export function humanDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  const seconds = Math.floor(ms / 1_000);
  if (seconds < 3_600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 1_440) return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  const hours = Math.floor(minutes / 60);
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** The summary at the end, on stdout: every count of the report. */
function summaryText(report: ReconcileReport, flags: ReconcileFlags, interrupted: boolean): string {
  const outcome = report.complete
    ? "every object was listed"
    : interrupted
      ? "stopped by an interrupt before the end"
      : "not complete: a listing failed (see the log above)";
  const done = report.partitions.filter((partition) => partition.done).length;
  const rows: [string, string, (string | undefined)?][] = [
    ["objects listed", String(report.listed)],
    ["unrelated (never deleted)", String(report.unrelated)],
    ["live", String(report.live)],
    ["young (never deleted)", String(report.young)],
    ["unchecked (never deleted)", String(report.unchecked)],
    [
      "orphans",
      String(report.orphans),
      flags.delete || report.orphans === 0 ? undefined : "report only: run with --delete to delete them",
    ],
    ["orphans deleted", String(report.deleted)],
    ["deletes failed", String(report.failed)],
    ["kept: replaced since listed", String(report.keptReplaced)],
    ["kept: item re-created", String(report.keptRecreated)],
    ["bytes of orphans", `${report.bytes} (${humanBytes(report.bytes)})`],
    ["partitions done", `${done}/${report.partitions.length}`],
    ["duration", humanDuration(report.durationMs)],
    ["complete", report.complete ? "yes" : "no"],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = rows.map(
    ([label, value, note]) => `  ${label.padEnd(width)}  ${value}${note === undefined ? "" : ` (${note})`}`,
  );
  const resume =
    !report.complete && flags.checkpoint !== undefined
      ? `Run it again with --checkpoint ${flags.checkpoint} to go on where it stopped.\n`
      : "";
  return `Reconcile finished: ${outcome}.\n${lines.join("\n")}\n${resume}`;
}
