/**
 * Map: turns a removed item into the S3 objects to delete, and checks every key against the
 * configured scope. The only module that knows the four key spec forms.
 */

import * as z from "zod/mini";
import { AttributeProblem, attributeMember } from "./attribute-value.js";
import { type ConfigIssue, describeShape, isKeyMappingError, KeyMappingError, type RecordRef } from "./errors.js";
import { compileTemplate, type KeyTemplate, renderTemplate } from "./key-template.js";
import type { InvalidRecord, RemovedItem } from "./parse-stream-records.js";
import type { AttributeMap, ObjectTarget } from "./types.js";
import { allowedPrefixesSchema, nonEmptyString, validateOptions } from "./validation.js";

/** What a key function may return. `null` and `undefined` mean "nothing to delete". */
export type KeyFunctionResult = string | ObjectTarget | readonly (string | ObjectTarget)[] | null | undefined;

/** A key function: full control over the objects of one removed item, sync or async. */
export type KeyFunction = (item: RemovedItem) => KeyFunctionResult | Promise<KeyFunctionResult>;

/**
 * How to find the S3 objects of a removed item, in one of four forms:
 *
 * - a template, `"images/{productId}.png"`: `{name}` reads attribute `name` from Keys, then from
 *   OldImage (S as is, N as its exact digits); `{{` and `}}` are literal braces;
 * - an array of templates, for several objects per item;
 * - `{ attribute: "imageKeys" }`: the keys themselves, from an OldImage attribute of type S, SS or
 *   L of S (needs an OLD_IMAGE or NEW_AND_OLD_IMAGES stream);
 * - a {@link KeyFunction}.
 */
export type KeySpec = string | readonly string[] | { attribute: string } | KeyFunction;

/** Options of {@link createKeyMapper}. */
export interface KeyMapperOptions {
  /** The bucket of keys given as strings. Required for templates and `{ attribute }`. */
  bucket?: string | undefined;
  /**
   * When set, every key must start with one of these prefixes; a record with a key outside them is
   * invalid and deletes nothing.
   */
  allowedPrefixes?: readonly string[] | undefined;
}

/** Maps one removed item to its objects. Rejects with {@link KeyMappingError}. */
export type KeyMapper = (item: RemovedItem) => Promise<ObjectTarget[]>;

/** A removal and the objects it owns. */
export interface MappedRemoval {
  item: RemovedItem;
  targets: ObjectTarget[];
}

/**
 * Maps every removal, at most `concurrency` at a time (key functions may do I/O). A record whose
 * mapping fails becomes invalid, alone. Both lists keep the records' order, whatever order the
 * mappings finish in.
 */
export async function mapRemovals(
  removals: readonly RemovedItem[],
  mapKeys: KeyMapper,
  concurrency: number,
): Promise<{ mapped: MappedRemoval[]; invalid: InvalidRecord[] }> {
  // `concurrency` workers take the removals in order, so that no more than `concurrency` mappings
  // are pending at once: a task queued per removal would hold a closure and promises for each of
  // thousands of records.
  const outcomes = new Array<MappedRemoval | InvalidRecord>(removals.length);
  let next = 0;
  const work = async () => {
    while (next < removals.length) {
      const position = next++;
      const item = removals[position] as RemovedItem;
      try {
        outcomes[position] = { item, targets: await mapKeys(item) };
      } catch (error) {
        // A key mapper rejects with KeyMappingError only.
        const { index, sequenceNumber, eventId } = item;
        outcomes[position] = { index, sequenceNumber, eventId, error: error as KeyMappingError };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, removals.length) }, work));
  const mapped: MappedRemoval[] = [];
  const invalid: InvalidRecord[] = [];
  for (const outcome of outcomes) {
    if ("error" in outcome) invalid.push(outcome);
    else mapped.push(outcome);
  }
  return { mapped, invalid };
}

/** S3's limit on a key's length, in bytes of UTF-8. */
export const MAX_KEY_BYTES = 1024;

type Resolve = (item: RemovedItem) => KeyFunctionResult | Promise<KeyFunctionResult>;

/** A problem in a key spec, at a path relative to the spec. */
interface KeySpecIssue {
  at: (string | number)[];
  message: string;
}

function compileKeySpec(key: unknown): Resolve | KeySpecIssue[] {
  if (typeof key === "function") {
    const fn = key as KeyFunction;
    return (item) => fn(item);
  }
  if (typeof key === "string" || Array.isArray(key)) {
    const templates: unknown[] = typeof key === "string" ? [key] : key;
    if (templates.length === 0) return [{ at: [], message: "must hold at least one template" }];
    const issues: KeySpecIssue[] = [];
    const compiled: KeyTemplate[] = [];
    templates.forEach((template, i) => {
      const at = typeof key === "string" ? [] : [i];
      const result = typeof template === "string" ? compileTemplate(template) : "must be a string template";
      if (typeof result === "string") issues.push({ at, message: result });
      else compiled.push(result);
    });
    if (issues.length > 0) return issues;
    // Loops into arrays of the exact size: this runs for every record of every batch.
    return (item) => {
      const keys = new Array<string>(compiled.length);
      for (let t = 0; t < compiled.length; t++) {
        const template = compiled[t] as KeyTemplate;
        const values = new Array<string>(template.attributes.length);
        for (let a = 0; a < values.length; a++) values[a] = readPlaceholder(item, template.attributes[a] as string);
        keys[t] = renderTemplate(template, values);
      }
      return keys;
    };
  }
  if (typeof key === "object" && key !== null && "attribute" in key) {
    const attribute = (key as { attribute: unknown }).attribute;
    if (typeof attribute !== "string" || attribute === "") {
      return [{ at: ["attribute"], message: "must be a non-empty attribute name" }];
    }
    return (item) => readKeyAttribute(item, attribute);
  }
  return [{ at: [], message: "must be a template string, an array of templates, { attribute } or a function" }];
}

/** Validates a key spec: every problem becomes an issue at its path under the option. */
export const keySpecSchema = () =>
  z.custom<KeySpec>().check(
    z.superRefine((key, context) => {
      const compiled = compileKeySpec(key);
      if (!Array.isArray(compiled)) return;
      for (const issue of compiled)
        context.addIssue({ code: "custom", message: issue.message, path: issue.at, input: key });
    }),
  );

/** The options a key mapper needs; the handler shares these fields. */
export const keyMapperFields = () => ({
  key: keySpecSchema(),
  bucket: z.optional(nonEmptyString()),
  allowedPrefixes: z.optional(allowedPrefixesSchema()),
});

/** Templates and `{ attribute }` produce bare keys, which need a bucket. */
export function requireBucket(options: Record<string, unknown>): ConfigIssue[] {
  return options.bucket === undefined && typeof options.key !== "function"
    ? [{ path: "bucket", message: "is required when `key` is a template or { attribute }" }]
    : [];
}

/**
 * Builds the mapper for a key spec. Throws {@link ConfigError} when the spec or options are wrong.
 *
 * @example
 * ```ts
 * const mapKeys = createKeyMapper("images/{productId}.png", { bucket: "product-images" });
 * const targets = await mapKeys(removedItem); // [{ bucket: "product-images", key: "images/42.png" }]
 * ```
 */
export function createKeyMapper(key: KeySpec, options: KeyMapperOptions = {}): KeyMapper {
  validateOptions(z.strictObject(keyMapperFields()), { ...options, key }, requireBucket);
  return buildKeyMapper(key, options);
}

/**
 * Builds a mapper from a key spec and options already validated. Templates and `{ attribute }` map
 * synchronously, so their mapper is a plain function returning a settled promise; only a key
 * function gets an async one.
 */
export function buildKeyMapper(key: KeySpec, { bucket, allowedPrefixes }: KeyMapperOptions): KeyMapper {
  const resolve = compileKeySpec(key) as Resolve;
  const targetsOf = (item: RemovedItem, result: KeyFunctionResult) => {
    const targets = toTargets(result, item, bucket);
    for (const target of targets) checkScope(target, item, allowedPrefixes);
    return targets;
  };
  if (typeof key === "function") {
    return async (item) => {
      try {
        return targetsOf(item, await resolve(item));
      } catch (error) {
        throw mappingError(item, error, "the key function");
      }
    };
  }
  return (item) => {
    try {
      return Promise.resolve(targetsOf(item, resolve(item) as KeyFunctionResult));
    } catch (error) {
      return Promise.reject(mappingError(item, error, "key mapping"));
    }
  };
}

/** The error a mapping rejects with: a KeyMappingError as it is, anything else wrapped in one. */
function mappingError(item: RemovedItem, error: unknown, source: string): KeyMappingError {
  if (isKeyMappingError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new KeyMappingError(refOf(item), `${source} threw: ${message}`, {}, { cause: error });
}

/** The record an item came from, for errors. */
function refOf(item: RemovedItem): RecordRef {
  return { index: item.index, sequenceNumber: item.sequenceNumber, eventId: item.eventId };
}

function rawAttribute(map: AttributeMap | undefined, name: string): unknown {
  return map !== undefined && map !== null && Object.hasOwn(map, name) ? map[name] : undefined;
}

function keysOnlyHint(item: RemovedItem): string {
  return item.record.dynamodb?.OldImage
    ? ""
    : ` The record has no OldImage${item.streamViewType ? ` (StreamViewType ${item.streamViewType})` : ""}: non-key attributes need a stream of type OLD_IMAGE or NEW_AND_OLD_IMAGES.`;
}

function readPlaceholder(item: RemovedItem, name: string): string {
  const data = item.record.dynamodb;
  const raw = rawAttribute(data?.Keys, name) ?? rawAttribute(data?.OldImage, name);
  if (raw === undefined) {
    throw new KeyMappingError(
      refOf(item),
      `the key template needs attribute \`${name}\`, which is in neither Keys nor OldImage.${keysOnlyHint(item)}`,
      {
        attribute: name,
      },
    );
  }
  const [type, value] = member(raw, item, name);
  if (type !== "S" && type !== "N") {
    throw new KeyMappingError(refOf(item), `attribute \`${name}\` is of type ${type}; a key template needs S or N`, {
      attribute: name,
    });
  }
  if (value === "") throw new KeyMappingError(refOf(item), `attribute \`${name}\` is empty`, { attribute: name });
  return value as string;
}

function readKeyAttribute(item: RemovedItem, name: string): string[] {
  const image = item.record.dynamodb?.OldImage;
  if (image === undefined || image === null) {
    throw new KeyMappingError(
      refOf(item),
      `{ attribute: "${name}" } reads the OldImage, and this record has none.${keysOnlyHint(item)}`,
      {
        attribute: name,
      },
    );
  }
  const raw = rawAttribute(image, name);
  if (raw === undefined) return [];
  const [type, value] = member(raw, item, name);
  if (type === "NULL") return [];
  if (type === "S") return [value as string];
  if (type === "SS") return value as string[];
  if (type === "L") {
    return (value as unknown[]).map((element, i) => {
      const [elementType, elementValue] = member(element, item, `${name}[${i}]`);
      if (elementType !== "S") {
        throw new KeyMappingError(
          refOf(item),
          `attribute \`${name}[${i}]\` is of type ${elementType}; keys must be S`,
          {
            attribute: name,
          },
        );
      }
      return elementValue as string;
    });
  }
  throw new KeyMappingError(
    refOf(item),
    `attribute \`${name}\` is of type ${type}; { attribute } needs S, SS or L of S`,
    {
      attribute: name,
    },
  );
}

function member(raw: unknown, item: RemovedItem, name: string): [string, unknown] {
  try {
    return attributeMember(raw);
  } catch (error) {
    const problem = error instanceof AttributeProblem ? error.problem : String(error);
    throw new KeyMappingError(refOf(item), `attribute \`${name}\` ${problem}`, { attribute: name }, { cause: error });
  }
}

function toTargets(result: KeyFunctionResult, item: RemovedItem, bucket: string | undefined): ObjectTarget[] {
  if (result === null || result === undefined) return [];
  const entries: readonly unknown[] = Array.isArray(result) ? result : [result];
  const targets = new Array<ObjectTarget>(entries.length);
  for (let i = 0; i < entries.length; i++) targets[i] = toTarget(entries[i], item, bucket);
  return targets;
}

/** One entry of a key function's result as a target; throws a KeyMappingError for anything else. */
function toTarget(entry: unknown, item: RemovedItem, bucket: string | undefined): ObjectTarget {
  if (typeof entry === "string") {
    if (bucket === undefined) {
      throw new KeyMappingError(
        refOf(item),
        "the key function returned a string key, but no `bucket` is configured: return { bucket, key }",
        { key: entry },
      );
    }
    return { bucket, key: entry };
  }
  if (typeof entry === "object" && entry !== null) {
    const { bucket: targetBucket, key, versionId } = entry as Partial<Record<keyof ObjectTarget, unknown>>;
    if (
      typeof targetBucket === "string" &&
      targetBucket !== "" &&
      typeof key === "string" &&
      (versionId === undefined || (typeof versionId === "string" && versionId !== ""))
    ) {
      return versionId === undefined ? { bucket: targetBucket, key } : { bucket: targetBucket, key, versionId };
    }
  }
  throw new KeyMappingError(
    refOf(item),
    `the key function returned ${describeShape(entry)}, which is neither a key string nor { bucket, key, versionId? }`,
  );
}

function shorten(key: string): string {
  return key.length > 100 ? `${key.slice(0, 100)}…` : key;
}

/** Throws a KeyMappingError for a key that is empty, too long, or outside `allowedPrefixes`. */
function checkScope(target: ObjectTarget, item: RemovedItem, allowedPrefixes: readonly string[] | undefined): void {
  const { key } = target;
  if (key === "") throw new KeyMappingError(refOf(item), "the object key is empty", { key });
  // A UTF-16 code unit is at most 3 bytes of UTF-8: only a longer key needs counting.
  if (key.length * 3 > MAX_KEY_BYTES) {
    const bytes = Buffer.byteLength(key, "utf8");
    if (bytes > MAX_KEY_BYTES) {
      throw new KeyMappingError(
        refOf(item),
        `the object key "${shorten(key)}" is ${bytes} bytes of UTF-8; S3 allows ${MAX_KEY_BYTES}`,
        { key },
      );
    }
  }
  if (allowedPrefixes !== undefined && !allowedPrefixes.some((prefix) => key.startsWith(prefix))) {
    throw new KeyMappingError(
      refOf(item),
      `the object key "${shorten(key)}" is outside allowedPrefixes [${allowedPrefixes.join(", ")}]`,
      { key },
    );
  }
}
