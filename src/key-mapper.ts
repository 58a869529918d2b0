/**
 * Map: turns a removed item into the S3 objects to delete, and checks every key against the
 * configured scope. The only module that knows the four key spec forms.
 */

import * as z from "zod/mini";
import { AttributeProblem, attributeMember } from "./attribute-value.js";
import { createLimiter } from "./concurrency.js";
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
  const limit = createLimiter(concurrency);
  const outcomes = await Promise.all(
    removals.map((item) =>
      limit(async (): Promise<MappedRemoval | InvalidRecord> => {
        try {
          return { item, targets: await mapKeys(item) };
        } catch (error) {
          // A key mapper rejects with KeyMappingError only.
          const { index, sequenceNumber, eventId } = item;
          return { index, sequenceNumber, eventId, error: error as KeyMappingError };
        }
      }),
    ),
  );
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

type Resolve = (item: RemovedItem, ref: RecordRef) => KeyFunctionResult | Promise<KeyFunctionResult>;

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
    return (item, ref) =>
      compiled.map((template) =>
        renderTemplate(
          template,
          template.attributes.map((name) => readPlaceholder(item, ref, name)),
        ),
      );
  }
  if (typeof key === "object" && key !== null && "attribute" in key) {
    const attribute = (key as { attribute: unknown }).attribute;
    if (typeof attribute !== "string" || attribute === "") {
      return [{ at: ["attribute"], message: "must be a non-empty attribute name" }];
    }
    return (item, ref) => readKeyAttribute(item, ref, attribute);
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

/** Builds a mapper from a key spec and options already validated. */
export function buildKeyMapper(key: KeySpec, { bucket, allowedPrefixes }: KeyMapperOptions): KeyMapper {
  const resolve = compileKeySpec(key) as Resolve;
  const source = typeof key === "function" ? "the key function" : "key mapping";
  return async (item) => {
    const ref: RecordRef = { index: item.index, sequenceNumber: item.sequenceNumber, eventId: item.eventId };
    try {
      const result = await resolve(item, ref);
      return toTargets(result, ref, bucket).map((target) => checkScope(target, ref, allowedPrefixes));
    } catch (error) {
      if (isKeyMappingError(error)) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new KeyMappingError(ref, `${source} threw: ${message}`, {}, { cause: error });
    }
  };
}

function rawAttribute(map: AttributeMap | undefined, name: string): unknown {
  return map !== undefined && map !== null && Object.hasOwn(map, name) ? map[name] : undefined;
}

function keysOnlyHint(item: RemovedItem): string {
  return item.record.dynamodb?.OldImage
    ? ""
    : ` The record has no OldImage${item.streamViewType ? ` (StreamViewType ${item.streamViewType})` : ""}: non-key attributes need a stream of type OLD_IMAGE or NEW_AND_OLD_IMAGES.`;
}

function readPlaceholder(item: RemovedItem, ref: RecordRef, name: string): string {
  const data = item.record.dynamodb;
  const raw = rawAttribute(data?.Keys, name) ?? rawAttribute(data?.OldImage, name);
  if (raw === undefined) {
    throw new KeyMappingError(
      ref,
      `the key template needs attribute \`${name}\`, which is in neither Keys nor OldImage.${keysOnlyHint(item)}`,
      {
        attribute: name,
      },
    );
  }
  const [type, value] = member(raw, ref, name);
  if (type !== "S" && type !== "N") {
    throw new KeyMappingError(ref, `attribute \`${name}\` is of type ${type}; a key template needs S or N`, {
      attribute: name,
    });
  }
  if (value === "") throw new KeyMappingError(ref, `attribute \`${name}\` is empty`, { attribute: name });
  return value as string;
}

function readKeyAttribute(item: RemovedItem, ref: RecordRef, name: string): string[] {
  const image = item.record.dynamodb?.OldImage;
  if (image === undefined || image === null) {
    throw new KeyMappingError(
      ref,
      `{ attribute: "${name}" } reads the OldImage, and this record has none.${keysOnlyHint(item)}`,
      {
        attribute: name,
      },
    );
  }
  const raw = rawAttribute(image, name);
  if (raw === undefined) return [];
  const [type, value] = member(raw, ref, name);
  if (type === "NULL") return [];
  if (type === "S") return [value as string];
  if (type === "SS") return value as string[];
  if (type === "L") {
    return (value as unknown[]).map((element, i) => {
      const [elementType, elementValue] = member(element, ref, `${name}[${i}]`);
      if (elementType !== "S") {
        throw new KeyMappingError(ref, `attribute \`${name}[${i}]\` is of type ${elementType}; keys must be S`, {
          attribute: name,
        });
      }
      return elementValue as string;
    });
  }
  throw new KeyMappingError(ref, `attribute \`${name}\` is of type ${type}; { attribute } needs S, SS or L of S`, {
    attribute: name,
  });
}

function member(raw: unknown, ref: RecordRef, name: string): [string, unknown] {
  try {
    return attributeMember(raw);
  } catch (error) {
    const problem = error instanceof AttributeProblem ? error.problem : String(error);
    throw new KeyMappingError(ref, `attribute \`${name}\` ${problem}`, { attribute: name }, { cause: error });
  }
}

function toTargets(result: KeyFunctionResult, ref: RecordRef, bucket: string | undefined): ObjectTarget[] {
  if (result === null || result === undefined) return [];
  const entries: readonly unknown[] = Array.isArray(result) ? result : [result];
  return entries.map((entry) => {
    if (typeof entry === "string") {
      if (bucket === undefined) {
        throw new KeyMappingError(
          ref,
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
      ref,
      `the key function returned ${describeShape(entry)}, which is neither a key string nor { bucket, key, versionId? }`,
    );
  });
}

function shorten(key: string): string {
  return key.length > 100 ? `${key.slice(0, 100)}…` : key;
}

function checkScope(
  target: ObjectTarget,
  ref: RecordRef,
  allowedPrefixes: readonly string[] | undefined,
): ObjectTarget {
  const { key } = target;
  if (key === "") throw new KeyMappingError(ref, "the object key is empty", { key });
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes > MAX_KEY_BYTES) {
    throw new KeyMappingError(
      ref,
      `the object key "${shorten(key)}" is ${bytes} bytes of UTF-8; S3 allows ${MAX_KEY_BYTES}`,
      { key },
    );
  }
  if (allowedPrefixes !== undefined && !allowedPrefixes.some((prefix) => key.startsWith(prefix))) {
    throw new KeyMappingError(
      ref,
      `the object key "${shorten(key)}" is outside allowedPrefixes [${allowedPrefixes.join(", ")}]`,
      { key },
    );
  }
  return target;
}
