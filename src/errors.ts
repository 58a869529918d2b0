/**
 * Errors. One base class and subclasses that carry what a caller needs. The type guards check
 * `name`, so they work across realms and duplicate installs, where `instanceof` does not.
 */
import type { ReconcileBatchResult } from "./reconcile-types.js";

/** Where a record sits in its batch, for messages and for callers. */
export interface RecordRef {
  /** Position of the record in `event.Records` (in the event itself, for EventBridge Pipes). */
  index: number;
  /** `dynamodb.SequenceNumber`, when the record has one. */
  sequenceNumber?: string | undefined;
  /** `eventID`, when the record has one. */
  eventId?: string | undefined;
  /**
   * What `batchItemFailures` reports for this record, when it has one: `dynamodb.SequenceNumber`,
   * `kinesis.sequenceNumber` (Kinesis) or `eventID` (EventBridge Pipes).
   */
  itemIdentifier?: string | undefined;
}

/** The identifying fields of a record and nothing else, for an error or a report. */
export function refOf({ index, sequenceNumber, eventId, itemIdentifier }: RecordRef): RecordRef {
  return { index, sequenceNumber, eventId, itemIdentifier };
}

/** The base class of every error this library throws or reports. */
export class CleanupError extends Error {
  override name = "CleanupError";
}

/** One problem found in the options given to a factory. */
export interface ConfigIssue {
  /** The option's path, such as `concurrency` or `key[1]`. */
  path: string;
  message: string;
}

/** The options given to a factory are wrong. Thrown once, at factory time, listing every problem. */
export class ConfigError extends CleanupError {
  override name = "ConfigError";
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options?: ErrorOptions) {
    super(
      `Invalid dynamodb-s3-cleanup options:\n${issues.map((issue) => `  - \`${issue.path}\`: ${issue.message}`).join("\n")}`,
      options,
    );
    this.issues = issues;
  }
}

/**
 * The event as a whole is none of the shapes the handler takes (a `Records` array of DynamoDB stream
 * or Kinesis records, or an EventBridge Pipes array of DynamoDB stream records), it mixes them, or a
 * record comes from another service (SQS, SNS, S3 notifications, any `eventSource` but
 * `aws:dynamodb` and `aws:kinesis`): the trigger is miswired.
 */
export class InvalidEventError extends CleanupError {
  override name = "InvalidEventError";
}

/** One record cannot be parsed. Only that record is affected. */
export class InvalidRecordError extends CleanupError {
  override name = "InvalidRecordError";
  readonly record: RecordRef;
  /** The field at fault, such as `dynamodb.Keys` or `dynamodb.OldImage.tags[2]`. */
  readonly field: string | undefined;

  constructor(record: RecordRef, field: string | undefined, problem: string, options?: ErrorOptions) {
    super(`${describeRecord(record)}: ${field === undefined ? "" : `\`${field}\` `}${problem}`, options);
    this.record = record;
    this.field = field;
  }
}

/** The object keys of one record cannot be built, or fall outside the allowed scope. */
export class KeyMappingError extends CleanupError {
  override name = "KeyMappingError";
  readonly record: RecordRef;
  /** The attribute the key spec reads, when the problem is about one. */
  readonly attribute: string | undefined;
  /** The offending object key, when the problem is about one. */
  readonly key: string | undefined;
  /** The offending bucket, when the target lies outside `bucket` and `allowedBuckets`. */
  readonly bucket: string | undefined;

  constructor(
    record: RecordRef,
    problem: string,
    details: { attribute?: string; key?: string; bucket?: string } = {},
    options?: ErrorOptions,
  ) {
    super(`${describeRecord(record)}: ${problem}`, options);
    this.record = record;
    this.attribute = details.attribute;
    this.key = details.key;
    this.bucket = details.bucket;
  }
}

/**
 * Whether a removed item exists again in its table could not be told: its table is unknown, its
 * record has no keys, or the table could not be read (a request failed, or the signal fired first).
 * Nothing is deleted for the record, and it is reported unfinished.
 */
export class PresenceCheckError extends CleanupError {
  override name = "PresenceCheckError";
  readonly record: RecordRef;
  /** The table that was to be read, when it is known. */
  readonly tableName: string | undefined;

  constructor(record: RecordRef, tableName: string | undefined, problem: string, options?: ErrorOptions) {
    super(`${describeRecord(record)}: ${problem}`, options);
    this.record = record;
    this.tableName = tableName;
  }
}

/**
 * A reconcile could not start, or could not decide: the table could not be described or scanned, or
 * the checkpoint could not be read. Nothing was deleted after it.
 */
export class ReconcileError extends CleanupError {
  override name = "ReconcileError";
  /** The option at fault: `tableName` (the table cannot be described or scanned) or `checkpoint`. */
  readonly option: "tableName" | "checkpoint";
  /**
   * The cause may pass (throttling, a network error, a server error): the same run may succeed
   * later. False for what needs a change first (no such table, no permission, a bad checkpoint).
   */
  readonly retryable: boolean;

  constructor(
    message: string,
    option: "tableName" | "checkpoint",
    options?: ErrorOptions & { retryable?: boolean | undefined },
  ) {
    super(message, options);
    this.option = option;
    this.retryable = options?.retryable ?? false;
  }
}

/**
 * A batch did not finish: some delete failed, some object's item could not be told, some item was
 * not an object of the bucket, or the time ran out. Thrown after everything else in the batch was
 * done, so that the state machine retries the batch (doing it again is harmless) and, with
 * `ToleratedFailurePercentage` 0, fails the run rather than report it done.
 */
export class ReconcileBatchError extends CleanupError {
  override name = "ReconcileBatchError";
  readonly result: ReconcileBatchResult;

  constructor(result: ReconcileBatchResult) {
    super(
      `the batch is not finished: ${result.failed} deletes failed, ${result.unchecked} objects unchecked, ${result.invalidItems} invalid items (of ${result.listed + result.invalidItems})`,
    );
    this.result = result;
  }
}

/** Names a record for a message: "record 3 (SequenceNumber 4000..., eventID abc)". */
export function describeRecord(record: RecordRef): string {
  const ids = [
    record.sequenceNumber === undefined ? undefined : `SequenceNumber ${record.sequenceNumber}`,
    record.eventId === undefined ? undefined : `eventID ${record.eventId}`,
  ].filter((id) => id !== undefined);
  return `record ${record.index}${ids.length > 0 ? ` (${ids.join(", ")})` : ""}`;
}

/**
 * Describes a value by its shape only, never its content (which may be personal data): "null",
 * "an array", "an object with keys [id, email]", "a string", "a bigint".
 */
export function describeShape(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return `an object with keys [${Object.keys(value).slice(0, 5).join(", ")}]`;
  return typeof value === "undefined" ? "undefined" : `a ${typeof value}`;
}

const names = /* @__PURE__ */ new Set([
  "CleanupError",
  "ConfigError",
  "InvalidEventError",
  "InvalidRecordError",
  "KeyMappingError",
  "PresenceCheckError",
  "ReconcileError",
  "ReconcileBatchError",
]);

function nameOf(error: unknown): unknown {
  return typeof error === "object" && error !== null ? (error as { name?: unknown }).name : undefined;
}

function hasName(error: unknown, name: string): boolean {
  return nameOf(error) === name;
}

/** True for any error of this library. */
export function isCleanupError(error: unknown): error is CleanupError {
  return names.has(nameOf(error) as string);
}

/** True for a {@link ConfigError}. */
export function isConfigError(error: unknown): error is ConfigError {
  return hasName(error, "ConfigError");
}

/** True for an {@link InvalidEventError}. */
export function isInvalidEventError(error: unknown): error is InvalidEventError {
  return hasName(error, "InvalidEventError");
}

/** True for an {@link InvalidRecordError}. */
export function isInvalidRecordError(error: unknown): error is InvalidRecordError {
  return hasName(error, "InvalidRecordError");
}

/** True for a {@link KeyMappingError}. */
export function isKeyMappingError(error: unknown): error is KeyMappingError {
  return hasName(error, "KeyMappingError");
}

/** True for a {@link PresenceCheckError}. */
export function isPresenceCheckError(error: unknown): error is PresenceCheckError {
  return hasName(error, "PresenceCheckError");
}

/**
 * Whether an AWS error is about the request's configuration, which retrying does not change: a
 * missing resource, a permission, credentials, a malformed request, or a missing package.
 */
export function isConfigurationFault(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return (
    typeof name === "string" &&
    [
      "ResourceNotFoundException",
      "AccessDeniedException",
      "UnrecognizedClientException",
      "InvalidSignatureException",
      "ValidationException",
      "ConfigError",
    ].includes(name)
  );
}

/** True for a {@link ReconcileError}. */
export function isReconcileError(error: unknown): error is ReconcileError {
  return hasName(error, "ReconcileError");
}

/** True for a {@link ReconcileBatchError}. */
export function isReconcileBatchError(error: unknown): error is ReconcileBatchError {
  return hasName(error, "ReconcileBatchError");
}

/** A thrown value's message for a log line: an Error's message, or the shape of anything else. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : describeShape(error);
}
