/**
 * Parse and select: turns an event from any of the three sources (see event-sources.ts) into the
 * removals to act on, the records skipped on purpose, and the records that are invalid. Pure; never
 * throws for one bad record.
 */
import * as z from "zod/mini";
import {
  AttributeProblem,
  attributeMember,
  isNumberText,
  type NativeValue,
  readAttributeMap,
} from "./attribute-value.js";
import {
  ConfigError,
  type ConfigIssue,
  describeShape,
  InvalidRecordError,
  type KeyMappingError,
  type RecordRef,
} from "./errors.js";
import {
  detectEventSource,
  type EventSource,
  isSequenceNumber,
  type OpenedRecord,
  refOfOpened,
} from "./event-sources.js";
import type { EventSourceKind, RemovalFilter, StreamRecord } from "./types.js";
import { nonEmptyString } from "./validation.js";

/** An item's attributes, read from an attribute map (see {@link NativeValue}). */
export type NativeMap = { [name: string]: NativeValue };

/** A REMOVE record selected for cleanup. */
export interface RemovedItem {
  /** Position of the record in `event.Records` (in the event itself, for EventBridge Pipes). */
  index: number;
  /**
   * The record's sequence number in its stream, a digit string: `dynamodb.SequenceNumber`, or
   * `kinesis.sequenceNumber` for Kinesis.
   */
  sequenceNumber: string;
  /** `eventID` of the DynamoDB record. */
  eventId: string | undefined;
  /**
   * What `batchItemFailures` reports for this record: the sequence number, or `eventID` for
   * EventBridge Pipes.
   */
  itemIdentifier: string;
  /** The item's key attributes, from `dynamodb.Keys`. */
  keys: NativeMap;
  /** The item as it was before removal; only on OLD_IMAGE and NEW_AND_OLD_IMAGES streams. */
  oldImage?: NativeMap | undefined;
  /**
   * `"ttl"` when DynamoDB's TTL sweeper removed the item (its userIdentity says so, or with
   * `ttlAttribute`, its expiry time had passed when it was removed), `"user"` otherwise.
   */
  removedBy: "ttl" | "user";
  /**
   * The table's name, read from `eventSourceARN` (from `tableName` for Kinesis). With `tableNames`,
   * always one of them.
   */
  tableName?: string | undefined;
  /** `dynamodb.ApproximateCreationDateTime` as a Date (Kinesis sends ms or µs, the others seconds). */
  approximateCreationDateTime?: Date | undefined;
  /** `dynamodb.StreamViewType`, such as `KEYS_ONLY` or `OLD_IMAGE`. */
  streamViewType?: string | undefined;
  /** The DynamoDB record as received (decoded from `kinesis.data` for Kinesis). */
  record: StreamRecord;
}

/**
 * A record that deletes nothing by design: an INSERT or a MODIFY, a REMOVE the filter leaves out, or
 * (with `tableNames`) a record of another table. `reason` tells which.
 */
export type SkippedRecord = RecordRef &
  (
    | {
        eventName: "INSERT" | "MODIFY";
        /** An INSERT or a MODIFY: it removes nothing, whatever its table. */
        reason: "not-a-removal";
      }
    | {
        eventName: "REMOVE";
        /** A REMOVE the `removals` filter leaves out. */
        reason: "removal-not-selected";
      }
    | {
        /** The record's eventName when it is a string: REMOVE, or anything but INSERT and MODIFY. */
        eventName: string | undefined;
        /** A record of a table outside `tableNames`. It is skipped before anything else about it is checked. */
        reason: "other-table";
        /** The record's table. */
        tableName: string;
      }
  );

/** A record that cannot be parsed or mapped. Nothing is deleted for it. */
export interface InvalidRecord extends RecordRef {
  /** Why: an InvalidRecordError from parsing, or a KeyMappingError from mapping its keys. */
  error: InvalidRecordError | KeyMappingError;
}

/** The records of one event, sorted into three lists; each record is in exactly one. */
export interface ParsedBatch {
  /** How the records arrived. */
  source: EventSourceKind;
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
  /**
   * The table's TTL attribute (epoch seconds). When set, a REMOVE without userIdentity also counts
   * as a TTL removal when `OldImage[ttlAttribute] <= ApproximateCreationDateTime`: in a global
   * table's replica Regions, replicated TTL deletes carry no userIdentity. Needs an OLD_IMAGE or
   * NEW_AND_OLD_IMAGES stream to select by `removals: "ttl"` or `"user"`. Such a REMOVE whose
   * attribute is malformed (an N that is no number, say) is invalid, whatever the filter.
   */
  ttlAttribute?: string | undefined;
  /**
   * The tables whose records to act on. A record of any other table is skipped (reason
   * `"other-table"`): counted with the skipped records, never invalid, never deleted. For a Kinesis
   * stream that several tables write to, or a function that serves several streams.
   *
   * The table is read from the record's `tableName` (Kinesis) or from its `eventSourceARN`
   * (`arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>`: DynamoDB Streams and
   * EventBridge Pipes). A record whose table cannot be read there is invalid, with an
   * InvalidRecordError naming that field: it cannot be shown to belong to these tables, and must not
   * be dropped unseen. INSERT and MODIFY records are skipped as always, whatever their table; any
   * other record of another table is skipped before anything else about it is checked.
   * @default undefined (records of every table)
   */
  tableNames?: readonly string[] | undefined;
}

const TABLE_NAMES_PROBLEMS = {
  array: "must be an array of table names",
  empty: "must hold at least one table name (leave it out to take every table)",
  name: "must be a non-empty string",
} as const;

/** The rule of the `tableNames` option, for the handler's options: a non-empty array of non-empty strings. */
export const tableNamesSchema = () =>
  z
    .array(nonEmptyString(), { error: TABLE_NAMES_PROBLEMS.array })
    .check(z.minLength(1, { error: TABLE_NAMES_PROBLEMS.empty }));

/**
 * The same rule as {@link tableNamesSchema}, without zod: parseStreamRecords checks its options by
 * hand, so that a bundle that only parses records carries no validator.
 */
export function tableNamesIssues(tableNames: unknown): ConfigIssue[] {
  if (!Array.isArray(tableNames)) return [{ path: "tableNames", message: TABLE_NAMES_PROBLEMS.array }];
  const issues: ConfigIssue[] = [];
  tableNames.forEach((name, index) => {
    if (typeof name !== "string" || name === "") {
      issues.push({ path: `tableNames[${index}]`, message: TABLE_NAMES_PROBLEMS.name });
    }
  });
  if (tableNames.length === 0) issues.push({ path: "tableNames", message: TABLE_NAMES_PROBLEMS.empty });
  return issues;
}

/** The values of the `removals` option. */
export const REMOVAL_FILTERS: readonly RemovalFilter[] = ["any", "ttl", "user"];

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

/** A DynamoDB table's or stream's ARN, in any partition: `arn:aws:dynamodb:<region>:<account>:table/<name>[/stream/<label>]`. */
const TABLE_NAME = /^arn:[^:]+:dynamodb:[^:]*:[^:]*:table\/([^/]+)(?:\/|$)/;

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
 * Sorts an event's records into removals, skipped records and invalid records. The event may come
 * from a DynamoDB stream, Kinesis Data Streams for DynamoDB, or EventBridge Pipes (a bare array):
 * its shape tells which.
 *
 * It never throws for a bad record: that record lands in `invalid` with an error naming it and its
 * field. It throws {@link InvalidEventError} when the event is none of those shapes or mixes them,
 * or when a record comes from another service (an SQS, SNS or S3 event, say), and
 * {@link ConfigError} when an option is wrong.
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
  const { ttlAttribute } = options;
  if (ttlAttribute !== undefined && (typeof ttlAttribute !== "string" || ttlAttribute === "")) {
    throw new ConfigError([{ path: "ttlAttribute", message: "must be a non-empty attribute name" }]);
  }
  const tables = options.tableNames === undefined ? undefined : tableSet(options.tableNames);
  const { source, records } = detectEventSource(event);

  const batch: ParsedBatch = { source: source.kind, removals: [], skipped: [], invalid: [] };
  const table = { arn: "", tableName: undefined };
  for (let index = 0; index < records.length; index++) {
    const opened = source.open(records[index], index);
    const result =
      "error" in opened
        ? { ...opened.ref, error: opened.error }
        : parseRecord(opened, source, { filter, ttlAttribute, tables }, table);
    if ("error" in result) batch.invalid.push(result);
    else if ("reason" in result) batch.skipped.push(result);
    else batch.removals.push(result);
  }
  return batch;
}

/** The set of `tableNames`, checked: throws ConfigError naming the option when it is wrong. */
function tableSet(tableNames: readonly string[]): ReadonlySet<string> {
  const issues = tableNamesIssues(tableNames);
  if (issues.length > 0) throw new ConfigError(issues);
  return new Set(tableNames);
}

function invalidRecord(ref: RecordRef, field: string, problem: string, cause?: unknown): InvalidRecord {
  return { ...ref, error: new InvalidRecordError(ref, field, problem, cause === undefined ? undefined : { cause }) };
}

/**
 * Who removed the item. With `ttlAttribute`, a REMOVE without userIdentity counts as TTL when the
 * item's expiry time had passed when it was removed. Returns the problem when that cannot be told
 * and the filter depends on it, or when the TTL attribute cannot be read.
 */
function removedByOf(
  record: StreamRecord,
  createdMs: number | undefined,
  filter: RemovalFilter,
  ttlAttribute: string | undefined,
): "ttl" | "user" | { field: string; problem: string } {
  if (isTtlRemoval(record)) return "ttl";
  const identity = record.userIdentity;
  if (ttlAttribute === undefined || (identity !== undefined && identity !== null)) return "user";
  const oldImage = record.dynamodb?.OldImage;
  if (oldImage === undefined || oldImage === null) {
    return filter === "any"
      ? "user"
      : {
          field: "dynamodb.OldImage",
          problem:
            "is missing: ttlAttribute needs an OLD_IMAGE or NEW_AND_OLD_IMAGES stream to tell TTL removals without userIdentity",
        };
  }
  const expiry = expiryOf(oldImage, ttlAttribute);
  // An item without a numeric TTL attribute is never removed by TTL.
  if (expiry === undefined) return "user";
  if (typeof expiry === "object") return expiry;
  if (createdMs === undefined) {
    return filter === "any"
      ? "user"
      : {
          field: "dynamodb.ApproximateCreationDateTime",
          problem: "must be a number: ttlAttribute compares it with the item's expiry time",
        };
  }
  return Number(expiry) * 1000 <= createdMs ? "ttl" : "user";
}

/**
 * The N text of the TTL attribute in an OldImage, or undefined when the item has no numeric attribute
 * of that name (TTL never removes it). A malformed image or attribute is a problem, whatever the
 * filter: selection must not rest on a value that cannot be read, and a selected record would be
 * invalid for it anyway.
 */
function expiryOf(oldImage: unknown, name: string): string | undefined | { field: string; problem: string } {
  if (typeof oldImage !== "object" || oldImage === null || Array.isArray(oldImage)) {
    return { field: "dynamodb.OldImage", problem: "is not an attribute map" };
  }
  if (!Object.hasOwn(oldImage, name)) return undefined;
  const field = `dynamodb.OldImage.${name}`;
  try {
    const [type, text] = attributeMember((oldImage as Record<string, unknown>)[name]);
    if (type !== "N") return undefined;
    if (typeof text !== "string") return { field, problem: "N must be a string" };
    return isNumberText(text) ? text : { field, problem: "N is not a number" };
  } catch (error) {
    return { field, problem: (error as AttributeProblem).problem };
  }
}

/** What selects a record, besides its eventName. */
interface Selection {
  filter: RemovalFilter;
  ttlAttribute: string | undefined;
  /** `tableNames` as a set; undefined for every table. */
  tables: ReadonlySet<string> | undefined;
}

/** Parses one opened record. Builds nothing but the result on the way of a valid removal. */
function parseRecord(
  opened: OpenedRecord,
  source: EventSource,
  { filter, ttlAttribute, tables }: Selection,
  table: { arn: string; tableName: string | undefined },
): RemovedItem | SkippedRecord | InvalidRecord {
  const { record } = opened;
  const eventName = record.eventName;
  if (eventName === "INSERT" || eventName === "MODIFY") {
    return { ...refOfOpened(opened), eventName, reason: "not-a-removal" };
  }
  // Kinesis carries the name in the payload; the others only in the stream's ARN.
  const tableName = source.kind === "kinesis" ? opened.tableName : tableNameOf(record.eventSourceARN, table);
  if (tables !== undefined) {
    if (tableName === undefined || tableName === "") {
      const field = source.tableField;
      const got = describeShape((record as Record<string, unknown>)[field]);
      const rule =
        field === "tableName"
          ? "must be a non-empty string"
          : "must be a DynamoDB stream ARN, arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>";
      return invalidRecord(
        refOfOpened(opened),
        field,
        `${rule}, to tell the record's table for tableNames (got ${got})`,
      );
    }
    if (!tables.has(tableName)) {
      return {
        ...refOfOpened(opened),
        eventName: typeof eventName === "string" ? eventName : undefined,
        reason: "other-table",
        tableName,
      };
    }
  }
  if (eventName !== "REMOVE") {
    return invalidRecord(
      refOfOpened(opened),
      "eventName",
      `must be INSERT, MODIFY or REMOVE (got ${typeof eventName === "string" ? JSON.stringify(eventName) : describeShape(eventName)})`,
    );
  }
  const data = record.dynamodb;
  const created = data?.ApproximateCreationDateTime;
  const createdMs =
    typeof created === "number" && Number.isFinite(created) ? source.creationTimeMs(created) : undefined;
  const removedBy = removedByOf(record, createdMs, filter, ttlAttribute);
  // Skipped and invalid records are rare: their ref is built only for them.
  const invalid = (field: string, problem: string, cause?: unknown) =>
    invalidRecord(refOfOpened(opened), field, problem, cause);
  if (typeof removedBy === "object") return invalid(removedBy.field, removedBy.problem);
  if (!selects(filter, removedBy)) return { ...refOfOpened(opened), eventName, reason: "removal-not-selected" };

  if (typeof data !== "object" || data === null) return invalid("dynamodb", "is missing");
  const { sequenceNumber, itemIdentifier } = opened;
  if (!isSequenceNumber(sequenceNumber)) {
    return invalid(source.sequenceField, `must be a string of digits (got ${describeShape(sequenceNumber)})`);
  }
  if (!source.isIdentifier(itemIdentifier)) {
    return invalid(source.identifierField, `must be a non-empty string (got ${describeShape(itemIdentifier)})`);
  }
  if (data.Keys === undefined || data.Keys === null) return invalid("dynamodb.Keys", "is missing");

  const keys = readAttributeMap(data.Keys, "dynamodb.Keys");
  if (keys instanceof AttributeProblem) return invalid(keys.path, keys.problem, keys);
  if (isEmpty(keys)) return invalid("dynamodb.Keys", "is empty");
  const oldImage =
    data.OldImage === undefined || data.OldImage === null
      ? undefined
      : readAttributeMap(data.OldImage, "dynamodb.OldImage");
  if (oldImage instanceof AttributeProblem) return invalid(oldImage.path, oldImage.problem, oldImage);

  return {
    index: opened.index,
    sequenceNumber,
    eventId: typeof record.eventID === "string" ? record.eventID : undefined,
    itemIdentifier,
    keys,
    oldImage,
    removedBy,
    tableName,
    approximateCreationDateTime: createdMs === undefined ? undefined : new Date(createdMs),
    streamViewType: typeof data.StreamViewType === "string" ? data.StreamViewType : undefined,
    record,
  };
}

function isEmpty(map: NativeMap): boolean {
  for (const _name in map) return false;
  return true;
}
