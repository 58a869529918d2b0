/**
 * The items of one Step Functions Distributed Map child batch, `{ Items: [...], BatchInput }`, read
 * into listed objects. Pure. An item is a row of an S3 Inventory report (CSV, through an inventory
 * manifest: every value a string, the key URL-encoded, the ETag unquoted) or an object of a
 * ListObjectsV2 listing (numbers, epoch seconds, the key as is, the ETag quoted). The shapes and the
 * pages that give them are in docs/reference-distributed-map.md.
 */
import { describeShape, InvalidEventError } from "./errors.js";
import { decodeListedKey } from "./object-target.js";
import type { ListedObject } from "./reconcile-types.js";

/** An item that is not an object of the bucket: its position in `Items`, and what is wrong, naming the field. */
export interface InvalidBatchItem {
  index: number;
  /** Names the item and the field, such as "`Items[3].Size` is not a whole number of bytes: …". */
  problem: string;
}

/** One child batch, read. */
export interface BatchItems {
  /** The objects of the batch, in the order of `Items`, keys decoded, ETags quoted. */
  objects: ListedObject[];
  /** The items that are not objects of the bucket; nothing is done for them. */
  invalid: InvalidBatchItem[];
  /** `BatchInput.delete` is `true`: this run may delete (when the handler's own option allows it too). */
  deleteRequested: boolean;
}

type Fields = Record<string, unknown>;

/** The result of reading one item: the object, or what is wrong with it. */
type ItemResult = { object: ListedObject } | Problem;

interface Problem {
  problem: string;
}

/**
 * Reads a Distributed Map child batch for the bucket `bucket`. Each item becomes a listed object, or
 * an invalid item named by its index and field: an inventory row of another bucket, a row of a
 * noncurrent version or delete marker, a missing or malformed field. `deleteRequested` is true only
 * when `BatchInput.delete` is `true`.
 *
 * Throws {@link InvalidEventError} when the event is not a batch at all (not an object, `Items`
 * missing or not an array) or `BatchInput` (or its `delete`) is of the wrong type: the state machine
 * is miswired, and no item can be trusted to mean what it says.
 *
 * @example
 * ```ts
 * const { objects, invalid, deleteRequested } = readBatchItems(
 *   { Items: [{ Bucket: "product-images", Key: "images/42.png", Size: "1024", LastModifiedDate: "2026-01-02T03:04:05.000Z", ETag: "9b2cf535f27731c974343645a3985328" }], BatchInput: { delete: true } },
 *   "product-images",
 * );
 * // objects: [{ key: "images/42.png", size: 1024, lastModified: 2026-01-02T03:04:05.000Z, etag: '"9b2c…"' }]
 * ```
 */
export function readBatchItems(event: unknown, bucket: string): BatchItems {
  if (!isFields(event)) {
    throw new InvalidEventError(
      `a Distributed Map batch is an object with \`Items\`; this event is ${describeShape(event)}`,
    );
  }
  const items = event.Items;
  if (!Array.isArray(items)) {
    throw new InvalidEventError(
      `\`Items\` must be the array of the batch's items (is the Map state's ItemBatcher set?); it is ${describeShape(items)}`,
    );
  }
  const deleteRequested = readDeleteRequested(event.BatchInput);
  const objects: ListedObject[] = [];
  const invalid: InvalidBatchItem[] = [];
  items.forEach((item: unknown, index) => {
    const result = readItem(item, `Items[${index}]`, bucket);
    if ("object" in result) objects.push(result.object);
    else invalid.push({ index, problem: result.problem });
  });
  return { objects, invalid, deleteRequested };
}

function readDeleteRequested(batchInput: unknown): boolean {
  if (batchInput === undefined) return false;
  if (!isFields(batchInput)) {
    throw new InvalidEventError(
      `\`BatchInput\` must be an object, such as { "delete": false }; it is ${describeShape(batchInput)}`,
    );
  }
  const requested = batchInput.delete;
  if (requested === undefined) return false;
  if (typeof requested !== "boolean") {
    // A string "true" would be a guess either way; the execution input must say what it means.
    throw new InvalidEventError(`\`BatchInput.delete\` must be true or false; it is ${describeShape(requested)}`);
  }
  return requested;
}

function readItem(item: unknown, name: string, bucket: string): ItemResult {
  if (!isFields(item)) return { problem: `\`${name}\` must be an object; it is ${describeShape(item)}` };
  // An inventory row always has its Bucket column; a ListObjectsV2 item never has one.
  if ("Bucket" in item) return readInventoryRow(item, name, bucket);
  if ("LastModified" in item || "Etag" in item) return readListedItem(item, name);
  return {
    problem: `\`${name}\` is neither an S3 Inventory row (Bucket, Key, Size, LastModifiedDate) nor a ListObjectsV2 item (Key, Size, LastModified, Etag); it is ${describeShape(item)}`,
  };
}

function readInventoryRow(row: Fields, name: string, bucket: string): ItemResult {
  if (row.Bucket !== bucket) {
    const actual = typeof row.Bucket === "string" ? `"${row.Bucket}"` : describeShape(row.Bucket);
    return { problem: `\`${name}.Bucket\` must be "${bucket}", the bucket this function cleans up; it is ${actual}` };
  }
  // An inventory of every version lists old versions and delete markers too; a delete by key would
  // touch the current version instead, so such rows are refused rather than misread.
  if (row.IsDeleteMarker === "true") {
    return { problem: `\`${name}.IsDeleteMarker\` is "true": use an inventory of current versions only` };
  }
  if (row.IsLatest === "false") {
    return { problem: `\`${name}.IsLatest\` is "false": use an inventory of current versions only` };
  }
  const key = inventoryKey(row.Key, `${name}.Key`);
  if (typeof key !== "string") return key;
  const size = inventorySize(row.Size, `${name}.Size`);
  if (typeof size !== "number") return size;
  const lastModified = isoDate(row.LastModifiedDate, `${name}.LastModifiedDate`, "LastModifiedDate");
  if (!(lastModified instanceof Date)) return lastModified;
  const etag = quotedEtag(row.ETag, `${name}.ETag`);
  if (typeof etag === "object") return etag;
  return { object: { key, size, lastModified, etag } };
}

function readListedItem(item: Fields, name: string): ItemResult {
  const key = item.Key;
  if (typeof key !== "string" || key === "") {
    return { problem: `\`${name}.Key\` must be the object's key, a non-empty string; it is ${describeShape(key)}` };
  }
  const size = item.Size;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    return { problem: `\`${name}.Size\` must be a whole number of bytes; it is ${describeShape(size)}` };
  }
  const lastModified = listingDate(item.LastModified, `${name}.LastModified`);
  if (!(lastModified instanceof Date)) return lastModified;
  const etag = quotedEtag(item.Etag, `${name}.Etag`);
  if (typeof etag === "object") return etag;
  return { object: { key, size, lastModified, etag } };
}

function inventoryKey(value: unknown, field: string): string | Problem {
  if (typeof value !== "string" || value === "") {
    return {
      problem: `\`${field}\` must be the object's URL-encoded key, a non-empty string; it is ${describeShape(value)}`,
    };
  }
  try {
    return decodeListedKey(value);
  } catch {
    // The key itself stays out of the message: it may be personal data, and the reason says enough.
    return {
      problem: `\`${field}\` is not URL-encoded as S3 Inventory writes keys (a % without two hex digits, or not UTF-8)`,
    };
  }
}

function inventorySize(value: unknown, field: string): number | Problem {
  if (value === undefined) return { problem: `\`${field}\` is missing: add Size to the inventory's optional fields` };
  // A CSV value: digits only, so that "1e3", " 12" or "-0" are not read as sizes.
  if (typeof value !== "string" || !/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    return { problem: `\`${field}\` must be a whole number of bytes, in digits; it is ${describeShape(value)}` };
  }
  return Number(value);
}

// An ISO 8601 instant in UTC, as S3 Inventory writes LastModifiedDate: 2022-11-16T00:29:32.000Z.
const UTC_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

function isoDate(value: unknown, field: string, optionalField?: string): Date | Problem {
  if (value === undefined) {
    const hint = optionalField === undefined ? "" : `: add ${optionalField} to the inventory's optional fields`;
    return { problem: `\`${field}\` is missing${hint}` };
  }
  const date = typeof value === "string" && UTC_INSTANT.test(value) ? new Date(value) : undefined;
  if (date === undefined || Number.isNaN(date.getTime())) {
    return {
      problem: `\`${field}\` must be a UTC time such as 2022-11-16T00:29:32.000Z; it is ${describeShape(value)}`,
    };
  }
  return date;
}

function listingDate(value: unknown, field: string): Date | Problem {
  // Step Functions gives ListObjectsV2's LastModified in epoch seconds; a UTC instant is taken too.
  if (typeof value !== "number") return isoDate(value, field);
  if (!Number.isFinite(value) || value < 0) {
    return { problem: `\`${field}\` must be a time in epoch seconds; it is ${value}` };
  }
  return new Date(value * 1000);
}

/**
 * The ETag quoted, as S3 gives it in a listing and DeleteObjects takes it as a condition; undefined
 * when the item has none. S3 Inventory writes it without the quotes.
 */
function quotedEtag(value: unknown, field: string): string | undefined | Problem {
  if (value === undefined) return undefined;
  if (typeof value === "string" && /^"[^"]+"$/.test(value)) return value;
  if (typeof value === "string" && /^[^"]+$/.test(value)) return `"${value}"`;
  return {
    problem: `\`${field}\` must be the object's ETag, such as 9b2cf535f27731c974343645a3985328, quoted or not; it is ${describeShape(value)}`,
  };
}

function isFields(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
