/**
 * Parse and select: turns a stream event into the removals to act on, the records skipped on
 * purpose, and the records that are invalid. Pure; never throws for one bad record.
 */
import { AttributeProblem, type NativeValue, readAttributeMap } from "./attribute-value.js";
import {
  ConfigError,
  describeShape,
  InvalidEventError,
  InvalidRecordError,
  type KeyMappingError,
  type RecordRef,
} from "./errors.js";
import type { RemovalFilter, StreamRecord } from "./types.js";

/** An item's attributes, read from an attribute map (see {@link NativeValue}). */
export type NativeMap = { [name: string]: NativeValue };

/** A REMOVE record selected for cleanup. */
export interface RemovedItem {
  /** Position of the record in `event.Records`. */
  index: number;
  /** `dynamodb.SequenceNumber`: a digit string, the identifier Lambda checkpoints on. */
  sequenceNumber: string;
  /** `eventID`. */
  eventId: string | undefined;
  /** The item's key attributes, from `dynamodb.Keys`. */
  keys: NativeMap;
  /** The item as it was before removal; only on OLD_IMAGE and NEW_AND_OLD_IMAGES streams. */
  oldImage?: NativeMap | undefined;
  /** `"ttl"` when DynamoDB's TTL sweeper removed the item, `"user"` otherwise. */
  removedBy: "ttl" | "user";
  /** The table's name, read from `eventSourceARN`. */
  tableName?: string | undefined;
  /** `dynamodb.ApproximateCreationDateTime` as a Date. */
  approximateCreationDateTime?: Date | undefined;
  /** `dynamodb.StreamViewType`, such as `KEYS_ONLY` or `OLD_IMAGE`. */
  streamViewType?: string | undefined;
  /** The record as received. */
  record: StreamRecord;
}

/** A record that deletes nothing by design: an INSERT, a MODIFY, or a REMOVE the filter leaves out. */
export interface SkippedRecord extends RecordRef {
  eventName: "INSERT" | "MODIFY" | "REMOVE";
  /** `"not-a-removal"` for INSERT and MODIFY; `"removal-not-selected"` for a REMOVE the filter leaves out. */
  reason: "not-a-removal" | "removal-not-selected";
}

/** A record that cannot be parsed or mapped. Nothing is deleted for it. */
export interface InvalidRecord extends RecordRef {
  /** Why: an InvalidRecordError from parsing, or a KeyMappingError from mapping its keys. */
  error: InvalidRecordError | KeyMappingError;
}

/** The records of one event, sorted into three lists; each record is in exactly one. */
export interface ParsedBatch {
  /** Selected REMOVE records, parsed: the ones whose objects to delete. */
  removals: RemovedItem[];
  /** Records that delete nothing by design. */
  skipped: SkippedRecord[];
  /** Records that cannot be parsed. */
  invalid: InvalidRecord[];
}

/** Options of {@link parseStreamRecords}. */
export interface ParseOptions {
  /**
   * Which REMOVE records to select: all, only those made by TTL, or only users' deletes.
   * @default "any"
   */
  removals?: RemovalFilter;
}

/** The values of the `removals` option. */
export const REMOVAL_FILTERS: readonly RemovalFilter[] = ["any", "ttl", "user"];

const SEQUENCE_NUMBER = /^\d+$/;

/** True when `value` is a usable sequence number: a non-empty string of digits. */
export function isSequenceNumber(value: unknown): value is string {
  return typeof value === "string" && SEQUENCE_NUMBER.test(value);
}

/**
 * True when a REMOVE was made by DynamoDB's TTL sweeper. The Lambda event spells the identity
 * `{ type, principalId }`, the DynamoDB Streams API `{ Type, PrincipalId }`; both are accepted.
 */
export function isTtlRemoval(record: StreamRecord): boolean {
  const identity = record.userIdentity;
  if (typeof identity !== "object" || identity === null) return false;
  const { type, Type, principalId, PrincipalId } = identity as Record<string, unknown>;
  return (type ?? Type) === "Service" && (principalId ?? PrincipalId) === "dynamodb.amazonaws.com";
}

const TABLE_NAME = /:table\/([^/]+)/;

/** The table's name in an eventSourceARN. Records of a batch share one ARN: `last` keeps the last answer. */
function tableNameOf(arn: unknown, last: { arn: string; tableName: string | undefined }): string | undefined {
  if (typeof arn !== "string") return undefined;
  if (arn !== last.arn) {
    last.arn = arn;
    last.tableName = TABLE_NAME.exec(arn)?.[1];
  }
  return last.tableName;
}

function selects(filter: RemovalFilter, removedBy: "ttl" | "user"): boolean {
  return filter === "any" || filter === removedBy;
}

/**
 * Sorts a stream event's records into removals, skipped records and invalid records.
 *
 * It never throws for a bad record: that record lands in `invalid` with an error naming it and its
 * field. It throws {@link InvalidEventError} when the event has no `Records` array, and
 * {@link ConfigError} when `options.removals` is not one of "any", "ttl", "user".
 *
 * @example
 * ```ts
 * const { removals, skipped, invalid } = parseStreamRecords(event, { removals: "ttl" });
 * ```
 */
export function parseStreamRecords(event: unknown, options: ParseOptions = {}): ParsedBatch {
  const filter = options.removals ?? "any";
  if (!REMOVAL_FILTERS.includes(filter)) {
    throw new ConfigError([{ path: "removals", message: 'must be "any", "ttl" or "user"' }]);
  }
  const records = (event as { Records?: unknown } | null | undefined)?.Records;
  if (!Array.isArray(records)) {
    throw new InvalidEventError(
      `The event has no Records array (got ${describeShape(event)}): is the function subscribed to a DynamoDB stream?`,
    );
  }

  const batch: ParsedBatch = { removals: [], skipped: [], invalid: [] };
  const table = { arn: "", tableName: undefined };
  for (let index = 0; index < records.length; index++) {
    const result = parseRecord(records[index], index, filter, table);
    if ("error" in result) batch.invalid.push(result);
    else if ("reason" in result) batch.skipped.push(result);
    else batch.removals.push(result);
  }
  return batch;
}

/** The record's position and identifiers, for errors and skipped records. */
function refOf(record: StreamRecord, index: number): RecordRef {
  const sequenceNumber = record.dynamodb?.SequenceNumber;
  return {
    index,
    sequenceNumber: typeof sequenceNumber === "string" ? sequenceNumber : undefined,
    eventId: typeof record.eventID === "string" ? record.eventID : undefined,
  };
}

function invalidRecord(
  record: StreamRecord,
  index: number,
  field: string,
  problem: string,
  cause?: unknown,
): InvalidRecord {
  const ref = refOf(record, index);
  return {
    ...ref,
    error: new InvalidRecordError(ref, field, problem, cause === undefined ? undefined : { cause }),
  };
}

/** Parses one record. Builds nothing but the result on the way of a valid removal. */
function parseRecord(
  value: unknown,
  index: number,
  filter: RemovalFilter,
  table: { arn: string; tableName: string | undefined },
): RemovedItem | SkippedRecord | InvalidRecord {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const ref = { index };
    return {
      ...ref,
      error: new InvalidRecordError(ref, undefined, `is not a record object (got ${describeShape(value)})`),
    };
  }
  const record = value as StreamRecord;
  const eventName = record.eventName;
  if (eventName === "INSERT" || eventName === "MODIFY") {
    return { ...refOf(record, index), eventName, reason: "not-a-removal" };
  }
  if (eventName !== "REMOVE") {
    return invalidRecord(
      record,
      index,
      "eventName",
      `must be INSERT, MODIFY or REMOVE (got ${typeof eventName === "string" ? JSON.stringify(eventName) : describeShape(eventName)})`,
    );
  }
  const removedBy = isTtlRemoval(record) ? "ttl" : "user";
  if (!selects(filter, removedBy)) return { ...refOf(record, index), eventName, reason: "removal-not-selected" };

  const data = record.dynamodb;
  if (typeof data !== "object" || data === null) return invalidRecord(record, index, "dynamodb", "is missing");
  const sequenceNumber = data.SequenceNumber;
  if (!isSequenceNumber(sequenceNumber)) {
    return invalidRecord(
      record,
      index,
      "dynamodb.SequenceNumber",
      `must be a string of digits (got ${describeShape(sequenceNumber)})`,
    );
  }
  if (data.Keys === undefined || data.Keys === null) return invalidRecord(record, index, "dynamodb.Keys", "is missing");

  const keys = readAttributeMap(data.Keys, "dynamodb.Keys");
  if (keys instanceof AttributeProblem) return invalidRecord(record, index, keys.path, keys.problem, keys);
  if (isEmpty(keys)) return invalidRecord(record, index, "dynamodb.Keys", "is empty");
  const oldImage =
    data.OldImage === undefined || data.OldImage === null
      ? undefined
      : readAttributeMap(data.OldImage, "dynamodb.OldImage");
  if (oldImage instanceof AttributeProblem) {
    return invalidRecord(record, index, oldImage.path, oldImage.problem, oldImage);
  }

  const created = data.ApproximateCreationDateTime;
  return {
    index,
    sequenceNumber,
    eventId: typeof record.eventID === "string" ? record.eventID : undefined,
    keys,
    oldImage,
    removedBy,
    tableName: tableNameOf(record.eventSourceARN, table),
    approximateCreationDateTime:
      typeof created === "number" && Number.isFinite(created) ? new Date(created * 1000) : undefined,
    streamViewType: typeof data.StreamViewType === "string" ? data.StreamViewType : undefined,
    record,
  };
}

function isEmpty(map: NativeMap): boolean {
  for (const _name in map) return false;
  return true;
}
