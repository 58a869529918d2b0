/**
 * Record factories: realistic DynamoDB stream records, Lambda-shaped, built from plain items, for
 * users' own tests of their stream handlers. REMOVE records never carry a NewImage, INSERT records
 * never an OldImage; TTL removals carry the TTL service's userIdentity, users' removals none. The
 * eventID is derived from the sequence number, and SizeBytes is the JSON size of the keys and
 * images (an estimate of what DynamoDB reports).
 */
import { createHash } from "node:crypto";
import { marshall, type marshallOptions, type NativeAttributeValue } from "@aws-sdk/util-dynamodb";
import { ConfigError } from "../errors.js";
import { toLambdaMap, withoutUndefined } from "../lambda-shape.js";
import type { AttributeMap, StreamEvent, StreamRecord, StreamRecordData } from "../types.js";

/** An item or its keys as plain JavaScript values, as `marshall` from @aws-sdk/util-dynamodb takes them. */
export type Item = Record<string, NativeAttributeValue>;

/** What a stream writes about each change; fixed when the stream is created. */
export type StreamViewType = "KEYS_ONLY" | "NEW_IMAGE" | "OLD_IMAGE" | "NEW_AND_OLD_IMAGES";

/** Raw record fields that replace the built ones; see {@link RecordOptions.overrides}. */
export type RecordOverrides = Omit<StreamRecord, "dynamodb"> & { dynamodb?: StreamRecordData | undefined };

/** Where records come from: the same for every record of one stream. */
export interface StreamSourceOptions {
  /**
   * The table's name, in `eventSourceARN`.
   * @default "table"
   */
  tableName?: string;
  /**
   * The table's Region: `awsRegion`, and the Region in `eventSourceARN`.
   * @default "us-east-1"
   */
  region?: string;
}

/** Options every record factory takes. */
export interface RecordOptions extends StreamSourceOptions {
  /** The item's key attributes, as plain values: `{ productId: "p-1" }`. They become `dynamodb.Keys`. */
  keys: Item;
  /**
   * `dynamodb.SequenceNumber`: a string of digits, or a bigint (written with at least 21 digits).
   * @default the next number of the factory; for the top-level functions, one derived from the clock
   */
  sequenceNumber?: string | bigint;
  /**
   * The stream's view type. It decides which of the images you pass the record carries: `NewImage`
   * with NEW_IMAGE and NEW_AND_OLD_IMAGES, `OldImage` with OLD_IMAGE and NEW_AND_OLD_IMAGES.
   * @default "NEW_AND_OLD_IMAGES" when a new image is given, else "OLD_IMAGE" when an old image is
   * given, else "KEYS_ONLY"
   */
  streamViewType?: StreamViewType;
  /**
   * `dynamodb.ApproximateCreationDateTime`: a Date, or epoch seconds. Lambda sends whole seconds.
   * @default now, rounded down to the second
   */
  approximateCreationDateTime?: Date | number;
  /**
   * Options for `marshall`, such as `{ removeUndefinedValues: true }` or
   * `{ convertClassInstanceToMap: true }`.
   * @default {}
   */
  marshallOptions?: marshallOptions;
  /**
   * Escape hatch: raw fields that replace the built ones, for records no option describes (a wrong
   * eventVersion, a raw AttributeValue, a missing field). Top-level fields are replaced, `dynamodb`
   * is merged field by field, and a field set to `undefined` is removed.
   * @example `{ eventVersion: "1.0", dynamodb: { SizeBytes: undefined } }`
   */
  overrides?: RecordOverrides;
}

/** Options of `removeRecord` and `ttlRemoveRecord`. A REMOVE never carries a new image. */
export interface RemoveRecordOptions extends RecordOptions {
  /** The item as it was before removal; on OLD_IMAGE and NEW_AND_OLD_IMAGES streams only. */
  oldImage?: Item;
}

/** Options of `insertRecord`. An INSERT never carries an old image. */
export interface InsertRecordOptions extends RecordOptions {
  /** The item as written; on NEW_IMAGE and NEW_AND_OLD_IMAGES streams only. */
  newImage?: Item;
}

/** Options of `modifyRecord`. */
export interface ModifyRecordOptions extends RecordOptions {
  /** The item before the change; on OLD_IMAGE and NEW_AND_OLD_IMAGES streams only. */
  oldImage?: Item;
  /** The item after the change; on NEW_IMAGE and NEW_AND_OLD_IMAGES streams only. */
  newImage?: Item;
}

/** Options of {@link createRecordFactory}. */
export interface RecordFactoryOptions extends StreamSourceOptions {
  /**
   * The sequence number of the factory's first record. Each later record gets the number 1,000
   * higher, which leaves room for records placed in between with an explicit `sequenceNumber`.
   * @default "100000000000000000000"
   */
  firstSequenceNumber?: string | bigint;
}

/** Record factories that share a sequence: each record's number is higher than the one before. */
export interface RecordFactory {
  /** A user's DeleteItem: a REMOVE without userIdentity. */
  removeRecord(options: RemoveRecordOptions): StreamRecord;
  /** A TTL expiry: a REMOVE with the userIdentity of DynamoDB's TTL service. */
  ttlRemoveRecord(options: RemoveRecordOptions): StreamRecord;
  /** A PutItem of a new item: an INSERT. */
  insertRecord(options: InsertRecordOptions): StreamRecord;
  /** An update of an existing item: a MODIFY. */
  modifyRecord(options: ModifyRecordOptions): StreamRecord;
  /** Takes the factory's next sequence number, for records built by hand. */
  nextSequenceNumber(): string;
}

type EventName = "INSERT" | "MODIFY" | "REMOVE";
type AnyRecordOptions = RecordOptions & { oldImage?: Item; newImage?: Item };

const TTL_IDENTITY = { type: "Service", principalId: "dynamodb.amazonaws.com" } as const;
const ACCOUNT = "123456789012";
const STREAM_LABEL = "2026-01-01T00:00:00.000";
const SEQUENCE_DIGITS = 21;
const SEQUENCE_STEP = 1000n;
const FIRST_SEQUENCE_NUMBER = 10n ** 20n;
const DIGITS = /^\d+$/;
const WITH_NEW_IMAGE: readonly StreamViewType[] = ["NEW_IMAGE", "NEW_AND_OLD_IMAGES"];
const WITH_OLD_IMAGE: readonly StreamViewType[] = ["OLD_IMAGE", "NEW_AND_OLD_IMAGES"];

function formatSequenceNumber(value: bigint): string {
  return value.toString().padStart(SEQUENCE_DIGITS, "0");
}

/** A sequence number option as a bigint; throws a ConfigError naming the option when it is not one. */
function sequenceValue(value: string | bigint, path: string): bigint {
  if (typeof value === "bigint" ? value < 0n : !DIGITS.test(value)) {
    throw new ConfigError([{ path, message: "must be a string of digits or a bigint of at least 0" }]);
  }
  return BigInt(value);
}

/**
 * A sequence number from the process's monotonic clock: 10^20 plus `process.hrtime.bigint()`, 21
 * digits. Two calls never read the same nanosecond in practice, so each number is higher than the
 * one before in the same process. No state is kept.
 */
function clockSequenceNumber(): string {
  return formatSequenceNumber(FIRST_SEQUENCE_NUMBER + process.hrtime.bigint());
}

/** The `sequenceNumber` option as the record's SequenceNumber: a string as given, a bigint padded. */
function sequenceNumberOf(option: string | bigint | undefined, nextSequenceNumber: () => string): string {
  if (option === undefined) return nextSequenceNumber();
  const value = sequenceValue(option, "sequenceNumber");
  return typeof option === "string" ? option : formatSequenceNumber(value);
}

function epochSeconds(time: Date | number | undefined): number {
  if (typeof time === "number") return time;
  return Math.floor((time ?? new Date()).getTime() / 1000);
}

/** The view type that carries the images given: the default of `streamViewType`. */
function defaultViewType(options: AnyRecordOptions): StreamViewType {
  if (options.newImage !== undefined) return "NEW_AND_OLD_IMAGES";
  return options.oldImage !== undefined ? "OLD_IMAGE" : "KEYS_ONLY";
}

function buildRecord(
  eventName: EventName,
  options: AnyRecordOptions,
  nextSequenceNumber: () => string,
  userIdentity?: object,
): StreamRecord {
  const sequenceNumber = sequenceNumberOf(options.sequenceNumber, nextSequenceNumber);
  const region = options.region ?? "us-east-1";
  const tableName = options.tableName ?? "table";
  const viewType = options.streamViewType ?? defaultViewType(options);
  const image = (item: Item | undefined, carried: boolean): AttributeMap | undefined =>
    item !== undefined && carried ? toAttributeMap(item, options.marshallOptions) : undefined;
  const images = {
    Keys: toAttributeMap(options.keys, options.marshallOptions),
    NewImage: image(options.newImage, eventName !== "REMOVE" && WITH_NEW_IMAGE.includes(viewType)),
    OldImage: image(options.oldImage, eventName !== "INSERT" && WITH_OLD_IMAGE.includes(viewType)),
  };
  const record = {
    eventID: createHash("sha256").update(sequenceNumber).digest("hex").slice(0, 32),
    eventName,
    eventVersion: "1.1",
    eventSource: "aws:dynamodb",
    awsRegion: region,
    dynamodb: withoutUndefined({
      ApproximateCreationDateTime: epochSeconds(options.approximateCreationDateTime),
      ...images,
      SequenceNumber: sequenceNumber,
      SizeBytes: Buffer.byteLength(JSON.stringify(images)),
      StreamViewType: viewType,
    }),
    userIdentity,
    eventSourceARN: `arn:aws:dynamodb:${region}:${ACCOUNT}:table/${tableName}/stream/${STREAM_LABEL}`,
  };
  return applyOverrides(withoutUndefined(record), options.overrides);
}

function toAttributeMap(item: Item, options: marshallOptions | undefined): AttributeMap {
  return toLambdaMap(marshall(item, { ...options, convertTopLevelContainer: false }));
}

function applyOverrides(record: Record<string, unknown>, overrides: RecordOverrides | undefined): StreamRecord {
  if (overrides === undefined) return record as StreamRecord;
  const { dynamodb, ...fields } = overrides;
  const merged: Record<string, unknown> = { ...record, ...fields };
  if ("dynamodb" in overrides) {
    merged.dynamodb =
      typeof dynamodb === "object" && dynamodb !== null
        ? withoutUndefined({ ...(record.dynamodb as object), ...dynamodb })
        : dynamodb;
  }
  return withoutUndefined(merged) as StreamRecord;
}

/**
 * A user's DeleteItem: a REMOVE record without userIdentity. Its sequence number comes from the
 * process's monotonic clock, so each call's is higher than the last; use {@link createRecordFactory}
 * for numbers that are the same on every run.
 *
 * @example
 * ```ts
 * const record = removeRecord({ keys: { productId: "p-1" }, oldImage: { productId: "p-1", images: ["a.png"] } });
 * ```
 */
export function removeRecord(options: RemoveRecordOptions): StreamRecord {
  return buildRecord("REMOVE", options, clockSequenceNumber);
}

/**
 * A TTL expiry: a REMOVE record with `userIdentity: { type: "Service", principalId: "dynamodb.amazonaws.com" }`.
 * Sequence numbers as in {@link removeRecord}.
 *
 * @example
 * ```ts
 * const record = ttlRemoveRecord({ keys: { productId: "p-1" } });
 * ```
 */
export function ttlRemoveRecord(options: RemoveRecordOptions): StreamRecord {
  return buildRecord("REMOVE", options, clockSequenceNumber, { ...TTL_IDENTITY });
}

/**
 * An INSERT record. Sequence numbers as in {@link removeRecord}.
 *
 * @example
 * ```ts
 * const record = insertRecord({ keys: { productId: "p-1" }, newImage: { productId: "p-1", price: 9.99 } });
 * ```
 */
export function insertRecord(options: InsertRecordOptions): StreamRecord {
  return buildRecord("INSERT", options, clockSequenceNumber);
}

/**
 * A MODIFY record. Sequence numbers as in {@link removeRecord}.
 *
 * @example
 * ```ts
 * const record = modifyRecord({
 *   keys: { productId: "p-1" },
 *   oldImage: { productId: "p-1", price: 9.99 },
 *   newImage: { productId: "p-1", price: 7.49 },
 * });
 * ```
 */
export function modifyRecord(options: ModifyRecordOptions): StreamRecord {
  return buildRecord("MODIFY", options, clockSequenceNumber);
}

/**
 * Record factories with their own sequence: the first record gets `firstSequenceNumber`, each later
 * one a number 1,000 higher, so the records (and their eventIDs) are the same on every run. A
 * record given an explicit `sequenceNumber` does not use up a number. The factory's `tableName` and
 * `region` apply to every record unless a record's own options say otherwise. Build one event from
 * one factory, or from the top-level functions: their numbers are not meant to interleave.
 *
 * @example
 * ```ts
 * const { removeRecord, ttlRemoveRecord } = createRecordFactory({ tableName: "products" });
 * const event = streamEvent(removeRecord({ keys: { productId: "p-1" } }), ttlRemoveRecord({ keys: { productId: "p-2" } }));
 * ```
 */
export function createRecordFactory(options: RecordFactoryOptions = {}): RecordFactory {
  const { firstSequenceNumber = FIRST_SEQUENCE_NUMBER, ...source } = options;
  let next = sequenceValue(firstSequenceNumber, "firstSequenceNumber");
  const nextSequenceNumber = () => {
    const value = next;
    next += SEQUENCE_STEP;
    return formatSequenceNumber(value);
  };
  const build = (eventName: EventName, recordOptions: AnyRecordOptions, userIdentity?: object) =>
    buildRecord(eventName, { ...source, ...recordOptions }, nextSequenceNumber, userIdentity);
  return {
    removeRecord: (recordOptions) => build("REMOVE", recordOptions),
    ttlRemoveRecord: (recordOptions) => build("REMOVE", recordOptions, { ...TTL_IDENTITY }),
    insertRecord: (recordOptions) => build("INSERT", recordOptions),
    modifyRecord: (recordOptions) => build("MODIFY", recordOptions),
    nextSequenceNumber,
  };
}

/**
 * Wraps records in the event Lambda passes to a function subscribed to a DynamoDB stream.
 *
 * @example
 * ```ts
 * const response = await handler(streamEvent(removeRecord({ keys: { productId: "p-1" } })));
 * ```
 */
export function streamEvent(...records: StreamRecord[]): StreamEvent {
  return { Records: records };
}
