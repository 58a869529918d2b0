/**
 * Map: turns a removed item into the S3 objects to delete, and checks every key against the
 * configured scope. The only module that knows the four key spec forms.
 */

import * as z from "zod/mini";
import { abortable } from "./abort.js";
import { AttributeProblem, attributeMember } from "./attribute-value.js";
import { bucketNameSchema } from "./bucket-name.js";
import { closestName } from "./closest-name.js";
import { mapInOrder } from "./concurrency.js";
import { type ConfigIssue, describeShape, isKeyMappingError, KeyMappingError, refOf } from "./errors.js";
import { compileTemplate, type KeyTemplate, renderTemplate } from "./key-template.js";
import { distinctBy, targetId } from "./object-target.js";
import type { InvalidRecord, RemovedItem } from "./parse-stream-records.js";
import type { AttributeMap, CleanupTarget, ObjectTarget, PrefixTarget } from "./types.js";
import {
  allowedPrefixesSchema,
  nonEmptyString,
  type OptionalFields,
  optionsSchema,
  validateOptions,
} from "./validation.js";

/**
 * What a key function may return: a key, an object, `{ bucket, prefix }` for every object under a
 * prefix (needs `allowedPrefixes`), or an array of those. `null` and `undefined` mean "nothing to
 * delete".
 */
export type KeyFunctionResult =
  | string
  | ObjectTarget
  | PrefixTarget
  | readonly (string | ObjectTarget | PrefixTarget)[]
  | null
  | undefined;

/** What a key function gets besides the item. */
export interface KeyFunctionContext {
  /**
   * Fires once half of the invocation's time budget is spent (see `timeoutMarginMs`), so that the
   * other half is left to delete what was mapped: pass it on to whatever the function waits for.
   * The handler stops waiting for the function then, and reports its record, and every record not
   * mapped yet, for redelivery.
   */
  signal: AbortSignal;
}

/** A key function: full control over the objects of one removed item, sync or async. */
export type KeyFunction = (
  item: RemovedItem,
  context: KeyFunctionContext,
) => KeyFunctionResult | Promise<KeyFunctionResult>;

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
  /**
   * The bucket of keys given as strings, and a bucket key functions may return targets in. Required
   * for templates and `{ attribute }`; a key function needs this or `allowedBuckets`.
   */
  bucket?: string | undefined;
  /**
   * Further buckets a key function may return `{ bucket, key }` and `{ bucket, prefix }` targets in,
   * besides `bucket`. A target in any other bucket makes its record invalid, and nothing is deleted
   * for that record. `allowedPrefixes` applies to the keys of every one of these buckets.
   * Templates and `{ attribute }` put every key in `bucket`, so for them it changes nothing.
   * @default undefined (only `bucket`)
   */
  allowedBuckets?: readonly string[] | undefined;
  /**
   * When set, every key must start with one of these prefixes; a record with a key outside them is
   * invalid and deletes nothing. Prefix targets need it, and must lie strictly inside one of them.
   */
  allowedPrefixes?: readonly string[] | undefined;
  /**
   * Where a prefix target must end: a `{ bucket, prefix }` a key function returns is refused unless
   * its prefix ends with this, so that `products/p-1/` cannot be written as `products/p-1`, which
   * would also take `products/p-10/...`. Prefix targets also need `allowedPrefixes`, and each
   * prefix must lie strictly inside one of them (start with it and be longer).
   * @default "/"
   */
  prefixDelimiter?: string | undefined;
  /**
   * Makes deletes conditional: the name of an OldImage attribute (type S) that holds the ETag of the
   * item's object, as PutObject returned it. The object is then deleted only while its ETag is still
   * that one; an object replaced since (a stale or redelivered REMOVE) is kept and reported as
   * `keptReplaced`, not as failed. Needs an OLD_IMAGE or NEW_AND_OLD_IMAGES stream, and
   * `s3:GetObject` besides `s3:DeleteObject`.
   *
   * One attribute holds one ETag, so a record may map to only one object without an `etag` of its
   * own: a key function that returns several objects gives each its own `{ bucket, key, etag }`.
   * Targets that carry an `etag` keep it; prefix targets never get one. A record whose objects need
   * the attribute and whose OldImage lacks it (or holds anything but a non-empty string) is invalid
   * and deletes nothing, rather than deleting unconditionally.
   * @default undefined (deletes are unconditional)
   */
  etagAttribute?: string | undefined;
}

/**
 * Maps one removed item to its objects and prefixes. Rejects with {@link KeyMappingError}, or with
 * the signal's reason when the signal fires while a key function runs.
 */
export type KeyMapper = (item: RemovedItem, context?: KeyFunctionContext) => Promise<CleanupTarget[]>;

/** A removal and the objects and prefixes it owns. */
export interface MappedRemoval {
  item: RemovedItem;
  /** Objects, and prefixes (each at most once) whose objects are to be listed and deleted. */
  targets: CleanupTarget[];
}

/** The removals, mapped: those mapped, those invalid, and those the signal cut off. */
export interface MappedRemovals {
  mapped: MappedRemoval[];
  invalid: InvalidRecord[];
  /** Removals whose key function had not finished when the signal fired: to be retried. */
  cutOff: RemovedItem[];
}

/**
 * Maps every removal: with a key function at most `concurrency` at a time (it may do I/O), each
 * getting the signal and waited for only until it fires; with a template or `{ attribute }` in one
 * synchronous pass. A record whose mapping fails becomes invalid, alone. Every list keeps the
 * records' order, whatever order the mappings finish in.
 */
export async function mapRemovals(
  removals: readonly RemovedItem[],
  mapKeys: KeyMapper,
  { concurrency, signal }: { concurrency: number; signal: AbortSignal },
): Promise<MappedRemovals> {
  const sync = (mapKeys as SyncKeyMapper).sync;
  if (sync !== undefined) return { ...mapEach(removals, sync), cutOff: [] };
  const context = { signal };
  const outcomes = await mapInOrder(removals, concurrency, async (item) => {
    if (signal.aborted) return CUT_OFF;
    try {
      return { item, targets: await abortable(mapKeys(item, context), signal) };
    } catch (error) {
      // A key mapper rejects with KeyMappingError only, or the race with the signal's reason.
      return signal.aborted && !isKeyMappingError(error)
        ? CUT_OFF
        : { ...refOf(item), error: error as KeyMappingError };
    }
  });
  const result: MappedRemovals = { mapped: [], invalid: [], cutOff: [] };
  outcomes.forEach((outcome, i) => {
    if (outcome === CUT_OFF) result.cutOff.push(removals[i] as RemovedItem);
    else if ("error" in outcome) result.invalid.push(outcome);
    else result.mapped.push(outcome);
  });
  return result;
}

const CUT_OFF = Symbol("cut off");

/**
 * A mapper built from a template or `{ attribute }`, which maps without waiting: `sync` maps one
 * item or throws its KeyMappingError. mapRemovals uses it to spare a promise per record.
 */
type SyncKeyMapper = KeyMapper & { sync?: (item: RemovedItem) => CleanupTarget[] };

/** Maps every removal in one synchronous pass, in order. */
function mapEach(
  removals: readonly RemovedItem[],
  sync: (item: RemovedItem) => CleanupTarget[],
): { mapped: MappedRemoval[]; invalid: InvalidRecord[] } {
  const mapped: MappedRemoval[] = [];
  const invalid: InvalidRecord[] = [];
  for (const item of removals) {
    try {
      mapped.push({ item, targets: sync(item) });
    } catch (error) {
      invalid.push({ ...refOf(item), error: error as KeyMappingError });
    }
  }
  return { mapped, invalid };
}

/** S3's limit on a key's length, in bytes of UTF-8. */
export const MAX_KEY_BYTES = 1024;

type Resolve = (item: RemovedItem, context: KeyFunctionContext) => KeyFunctionResult | Promise<KeyFunctionResult>;

/** A problem in a key spec, at a path relative to the spec. */
interface KeySpecIssue {
  at: (string | number)[];
  message: string;
}

function compileKeySpec(key: unknown): Resolve | KeySpecIssue[] {
  if (typeof key === "function") {
    const fn = key as KeyFunction;
    return (item, context) => fn(item, context);
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

/** The optional options a key mapper needs (besides `key`); the handler shares these fields. */
export const keyMapperFields: OptionalFields = {
  bucket: () => bucketNameSchema(),
  allowedBuckets: () => allowedBucketsSchema(),
  allowedPrefixes: allowedPrefixesSchema,
  prefixDelimiter: nonEmptyString,
  etagAttribute: nonEmptyString,
};

/** The rule of the `allowedBuckets` option: a non-empty array of bucket names. */
export const allowedBucketsSchema = () =>
  z
    .array(bucketNameSchema(), { error: "must be an array of bucket names" })
    .check(z.minLength(1, { error: "must hold at least one bucket (leave it out to allow only `bucket`)" }));

/**
 * Templates and `{ attribute }` produce bare keys, which need a bucket; a key function may delete
 * only from `bucket` and `allowedBuckets`, so it needs one of them.
 */
export function requireBucket(options: Record<string, unknown>): ConfigIssue[] {
  if (options.bucket !== undefined) return [];
  if (typeof options.key !== "function") {
    return [{ path: "bucket", message: "is required when `key` is a template or { attribute }" }];
  }
  return options.allowedBuckets === undefined
    ? [
        {
          path: "bucket",
          message:
            "is required unless `allowedBuckets` is set: a key function may delete only from `bucket` and the buckets of `allowedBuckets`",
        },
      ]
    : [];
}

/**
 * Builds the mapper for a key spec. Throws {@link ConfigError} when the spec or options are wrong.
 *
 * Templates and `{ attribute }` need `bucket`; a key function needs `bucket`, `allowedBuckets` or
 * both, and its targets must lie in one of them.
 *
 * @example
 * ```ts
 * const mapKeys = createKeyMapper("images/{productId}.png", { bucket: "product-images" });
 * const targets = await mapKeys(removedItem); // [{ bucket: "product-images", key: "images/42.png" }]
 * ```
 */
export function createKeyMapper(
  key: Exclude<KeySpec, KeyFunction>,
  options: KeyMapperOptions & { bucket: string },
): (item: RemovedItem) => Promise<ObjectTarget[]>;
export function createKeyMapper(
  key: KeyFunction,
  options: KeyMapperOptions & ({ bucket: string } | { allowedBuckets: readonly string[] }),
): KeyMapper;
export function createKeyMapper(key: KeySpec, options: KeyMapperOptions & { bucket: string }): KeyMapper;
export function createKeyMapper(key: KeySpec, options: KeyMapperOptions = {}): KeyMapper {
  const input = { ...options, key };
  validateOptions(optionsSchema({ key: keySpecSchema() }, keyMapperFields, input), input, requireBucket);
  return buildKeyMapper(key, options);
}

/**
 * Builds a mapper from a key spec and options already validated. Templates and `{ attribute }` map
 * synchronously, so their mapper is a plain function returning a settled promise; only a key
 * function gets an async one.
 */
export function buildKeyMapper(
  key: KeySpec,
  { bucket, allowedBuckets, allowedPrefixes, prefixDelimiter = "/", etagAttribute }: KeyMapperOptions,
): KeyMapper {
  const resolve = compileKeySpec(key) as Resolve;
  const buckets = new Set(allowedBuckets);
  if (bucket !== undefined) buckets.add(bucket);
  const scope: Scope = { buckets, allowedPrefixes, delimiter: prefixDelimiter };
  const targetsOf = (item: RemovedItem, result: KeyFunctionResult) => {
    const targets = toTargets(result, item, bucket, scope);
    // Prefix targets were checked when they were read.
    for (const target of targets) if (!isPrefixTarget(target)) checkScope(target, item, scope);
    return etagAttribute === undefined ? targets : withEtag(targets, item, etagAttribute);
  };
  if (typeof key === "function") {
    return async (item, context = { signal: NEVER }) => {
      try {
        return targetsOf(item, await resolve(item, context));
      } catch (error) {
        throw mappingError(item, error, "the key function");
      }
    };
  }
  const sync = (item: RemovedItem): CleanupTarget[] => {
    try {
      return targetsOf(item, resolve(item, { signal: NEVER }) as KeyFunctionResult);
    } catch (error) {
      throw mappingError(item, error, "key mapping");
    }
  };
  const mapper: KeyMapper = (item) => {
    try {
      return Promise.resolve(sync(item));
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return Object.assign(mapper, { sync });
}

/** The signal of a mapping outside an invocation: it never fires. */
const NEVER = /* @__PURE__ */ new AbortController().signal;

/** The error a mapping rejects with: a KeyMappingError as it is, anything else wrapped in one. */
function mappingError(item: RemovedItem, error: unknown, source: string): KeyMappingError {
  if (isKeyMappingError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new KeyMappingError(refOf(item), `${source} threw: ${message}`, {}, { cause: error });
}

function rawAttribute(map: AttributeMap | undefined, name: string): unknown {
  return map !== undefined && map !== null && Object.hasOwn(map, name) ? map[name] : undefined;
}

function keysOnlyHint(item: RemovedItem): string {
  return item.record.dynamodb?.OldImage
    ? ""
    : ` The record has no OldImage${item.streamViewType ? ` (StreamViewType ${item.streamViewType})` : ""}: non-key attributes need a stream of type OLD_IMAGE or NEW_AND_OLD_IMAGES.`;
}

/** How many attribute names a message lists at most. */
const LISTED_NAMES = 20;

/**
 * For a message about a missing attribute: the closest name the record has, when one is close
 * enough to be a typo ({@link closestName}), and the names of its Keys and OldImage (never their
 * values), at most {@link LISTED_NAMES}.
 */
function attributeNamesHint(item: RemovedItem, name: string): string {
  const data = item.record.dynamodb;
  const names = [...new Set([...ownNames(data?.Keys), ...ownNames(data?.OldImage)])];
  if (names.length === 0) return " The record has no attributes.";
  const closest = closestName(name, names);
  const listed = names.slice(0, LISTED_NAMES).map((known) => `\`${shown(known)}\``);
  const more = names.length > LISTED_NAMES ? ` … and ${names.length - LISTED_NAMES} more` : "";
  return `${closest === undefined ? "" : ` Did you mean \`${shown(closest)}\`?`} The record's attributes: ${listed.join(", ")}${more}.`;
}

/** The attribute names of a Keys or OldImage map, none when it is missing. */
function ownNames(map: AttributeMap | undefined | null): string[] {
  return map === undefined || map === null ? [] : Object.keys(map);
}

function readPlaceholder(item: RemovedItem, name: string): string {
  const data = item.record.dynamodb;
  const raw = rawAttribute(data?.Keys, name) ?? rawAttribute(data?.OldImage, name);
  if (raw === undefined) {
    throw new KeyMappingError(
      refOf(item),
      `the key template needs attribute \`${name}\`, which is in neither Keys nor OldImage.${attributeNamesHint(item, name)}${keysOnlyHint(item)}`,
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

function toTargets(
  result: KeyFunctionResult,
  item: RemovedItem,
  bucket: string | undefined,
  scope: Scope,
): CleanupTarget[] {
  if (result === null || result === undefined) return [];
  const entries: readonly unknown[] = Array.isArray(result) ? result : [result];
  const targets = new Array<CleanupTarget>(entries.length);
  let prefixes = 0;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    if (isPrefixEntry(entry)) {
      targets[i] = toPrefixTarget(entry, item, scope);
      prefixes++;
    } else targets[i] = toTarget(entry, item, bucket);
  }
  return prefixes > 1 ? withoutRepeatedPrefixes(targets) : targets;
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
    const { bucket: targetBucket, key, versionId, etag } = entry as Partial<Record<keyof ObjectTarget, unknown>>;
    if (
      typeof targetBucket === "string" &&
      targetBucket !== "" &&
      typeof key === "string" &&
      (versionId === undefined || (typeof versionId === "string" && versionId !== ""))
    ) {
      const target: ObjectTarget =
        versionId === undefined ? { bucket: targetBucket, key } : { bucket: targetBucket, key, versionId };
      if (etag === undefined) return target;
      if (typeof etag === "string" && etag !== "") {
        target.etag = etag;
        return target;
      }
      throw new KeyMappingError(
        refOf(item),
        `the key function returned an object whose \`etag\` is ${etag === "" ? "an empty string" : describeShape(etag)}; \`etag\` must be a non-empty string, the object's ETag`,
        { key },
      );
    }
  }
  throw new KeyMappingError(
    refOf(item),
    `the key function returned ${describeShape(entry)}, which is neither a key string nor { bucket, key, versionId? }`,
  );
}

/**
 * `String.prototype.isWellFormed` and `toWellFormed` (Node 20), which the ES2022 lib the project
 * compiles against does not declare.
 */
type WellFormedString = string & { isWellFormed(): boolean; toWellFormed(): string };

/**
 * Text of a key, a prefix or a bucket for a message: at most 100 UTF-16 code units and never half a
 * surrogate pair, with every lone surrogate shown as U+FFFD, so that the message is well-formed.
 */
function shown(text: string): string {
  const whole = (text as WellFormedString).toWellFormed();
  if (whole.length <= 100) return whole;
  // Cut before a high surrogate at the edge, which would lose its low half.
  const end = (whole.charCodeAt(99) & 0xfc00) === 0xd800 ? 99 : 100;
  return `${whole.slice(0, end)}…`;
}

/** A lone surrogate: in unicode mode a paired one is part of a code point, never Cs on its own. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * What makes a non-empty key or prefix one S3 cannot take, as the end of a sentence about it: made
 * only of whitespace, not well-formed UTF-16 (a lone surrogate, as `.slice()` can leave of an emoji,
 * has no UTF-8 form), or over {@link MAX_KEY_BYTES} bytes of UTF-8. Undefined for a good one.
 */
function keyProblem(text: string): string | undefined {
  // trim() removes exactly what `\s` matches, and unlike a unicode-mode regex costs nothing per key.
  if (text.trim() === "") return `is made only of whitespace (${text.length} characters)`;
  if (!(text as WellFormedString).isWellFormed()) {
    const at = LONE_SURROGATE.exec(text)?.index;
    return `"${shown(text)}" is not well-formed UTF-16: it holds a lone surrogate at index ${at}, shown here as U+FFFD, which has no UTF-8 form`;
  }
  const bytes = bytesOverLimit(text);
  return bytes === undefined ? undefined : `"${shown(text)}" is ${bytes} bytes of UTF-8; S3 allows ${MAX_KEY_BYTES}`;
}

/**
 * Throws a KeyMappingError, naming the record and the bucket, for a target in a bucket outside
 * `bucket` and `allowedBuckets`.
 */
function checkBucket(bucket: string, what: string, item: RemovedItem, buckets: ReadonlySet<string>, key: string) {
  if (buckets.has(bucket)) return;
  throw new KeyMappingError(
    refOf(item),
    `the key function returned ${what} in bucket "${shown(bucket)}", outside the buckets it may delete from (\`bucket\` and \`allowedBuckets\`: ${[...buckets].join(", ")})`,
    { bucket, key },
  );
}

/**
 * Throws a KeyMappingError for a target outside the buckets, or a key that is empty, made only of
 * whitespace, not well-formed UTF-16, over 1,024 bytes of UTF-8, or outside `allowedPrefixes`.
 */
function checkScope(target: ObjectTarget, item: RemovedItem, { buckets, allowedPrefixes }: Scope): void {
  const { key } = target;
  checkBucket(target.bucket, "an object", item, buckets, key);
  if (key === "") throw new KeyMappingError(refOf(item), "the object key is empty", { key });
  const problem = keyProblem(key);
  if (problem !== undefined) throw new KeyMappingError(refOf(item), `the object key ${problem}`, { key });
  if (allowedPrefixes !== undefined && !allowedPrefixes.some((prefix) => key.startsWith(prefix))) {
    throw new KeyMappingError(
      refOf(item),
      `the object key "${shown(key)}" is outside allowedPrefixes [${allowedPrefixes.join(", ")}]`,
      { key },
    );
  }
}

/** The length of `key` in bytes of UTF-8 when it is over {@link MAX_KEY_BYTES}, else undefined. */
function bytesOverLimit(key: string): number | undefined {
  // A UTF-16 code unit is at most 3 bytes of UTF-8: only a longer key needs counting.
  if (key.length * 3 <= MAX_KEY_BYTES) return undefined;
  const bytes = Buffer.byteLength(key, "utf8");
  return bytes > MAX_KEY_BYTES ? bytes : undefined;
}

/**
 * Where targets may lie: in one of `buckets`, with keys inside `allowedPrefixes`; a prefix target
 * strictly inside one of them, ending with the delimiter.
 */
interface Scope {
  /** `bucket` and the buckets of `allowedBuckets`. */
  buckets: ReadonlySet<string>;
  allowedPrefixes: readonly string[] | undefined;
  delimiter: string;
}

/** True for a prefix target, false for an object target. */
export function isPrefixTarget(target: CleanupTarget): target is PrefixTarget {
  return "prefix" in target;
}

/**
 * A string that is equal for two prefix targets exactly when bucket and prefix are both equal. It
 * starts with `p`, so it never equals a `targetId` of an object (which starts with a digit).
 */
export function prefixTargetId(target: PrefixTarget): string {
  return `p${target.bucket.length}:${target.bucket}${target.prefix}`;
}

/** An entry of a key function's result meant as a prefix target: an object with a `prefix`. */
function isPrefixEntry(entry: unknown): entry is Partial<Record<"bucket" | "prefix" | "key", unknown>> {
  return typeof entry === "object" && entry !== null && (entry as { prefix?: unknown }).prefix !== undefined;
}

/**
 * A `{ bucket, prefix }` entry as a prefix target. Throws a KeyMappingError, so that nothing at all
 * is deleted for the record, unless `allowedPrefixes` is set and the prefix lies strictly inside one
 * of them (a record may never take a whole allowed prefix), ends with the delimiter, and is a key
 * S3 can take (not only whitespace, well-formed, at most 1,024 bytes of UTF-8).
 */
function toPrefixTarget(
  entry: Partial<Record<"bucket" | "prefix" | "key", unknown>>,
  item: RemovedItem,
  { buckets, allowedPrefixes, delimiter }: Scope,
): PrefixTarget {
  const { bucket, prefix, key } = entry;
  if (typeof bucket !== "string" || bucket === "" || typeof prefix !== "string" || key !== undefined) {
    throw new KeyMappingError(
      refOf(item),
      `the key function returned ${describeShape(entry)}; a prefix target is { bucket, prefix }, with a non-empty bucket, a string prefix and no key`,
    );
  }
  checkBucket(bucket, "a prefix target", item, buckets, prefix);
  const refuse = (problem: string) => new KeyMappingError(refOf(item), problem, { key: prefix });
  if (allowedPrefixes === undefined) {
    throw refuse(
      "the key function returned a prefix target { bucket, prefix }, and prefix targets need `allowedPrefixes` to be set: each prefix must lie strictly inside one of them",
    );
  }
  if (prefix === "") throw refuse("the prefix of a prefix target is empty: it would take every object of the bucket");
  const problem = keyProblem(prefix);
  if (problem !== undefined) throw refuse(`the prefix ${problem}`);
  if (!allowedPrefixes.some((allowed) => prefix.length > allowed.length && prefix.startsWith(allowed))) {
    throw refuse(
      `the prefix "${shown(prefix)}" is not strictly inside allowedPrefixes [${allowedPrefixes.join(", ")}]: it must start with one of them and be longer`,
    );
  }
  if (!prefix.endsWith(delimiter)) {
    throw refuse(
      `the prefix "${shown(prefix)}" does not end with prefixDelimiter "${delimiter}", so it could also take the objects of other items (as "p-1" takes "p-10/...")`,
    );
  }
  return { bucket, prefix };
}

/**
 * The targets with each prefix target kept at its first occurrence only. Object targets all stay:
 * their id is their position, which never equals a prefix's id (that starts with `p`).
 */
function withoutRepeatedPrefixes(targets: CleanupTarget[]): CleanupTarget[] {
  return distinctBy(targets, (target, index) => (isPrefixTarget(target) ? prefixTargetId(target) : String(index)));
}

/**
 * Conditional deletes (`etagAttribute`): gives a record's object target the ETag its OldImage holds
 * in `etagAttribute`. Targets with an `etag` of their own keep it and prefix targets never get one;
 * the attribute is read only when an object target lacks an etag. It holds one ETag, so the
 * targets without one must all be the same object. Throws a KeyMappingError otherwise, and when the
 * ETag cannot be read: a record is never deleted unconditionally for want of its ETag.
 */
function withEtag<T extends CleanupTarget>(targets: T[], item: RemovedItem, etagAttribute: string): T[] {
  let needing: ObjectTarget | undefined;
  for (const target of targets) {
    if (isPrefixTarget(target) || target.etag !== undefined) continue;
    if (needing !== undefined && targetId(needing) !== targetId(target)) {
      throw new KeyMappingError(
        refOf(item),
        `the record maps to several objects without an etag, and etagAttribute \`${etagAttribute}\` holds the ETag of one object: return { bucket, key, etag } from a key function for each object`,
        { attribute: etagAttribute },
      );
    }
    needing = target;
  }
  if (needing === undefined) return targets;
  const etag = readEtag(item, etagAttribute);
  // The targets were made for this record alone (toTargets builds new objects): set it in place.
  for (const target of targets) if (!isPrefixTarget(target) && target.etag === undefined) target.etag = etag;
  return targets;
}

/** The ETag in the record's OldImage under `name`: a non-empty S. Throws a KeyMappingError otherwise. */
function readEtag(item: RemovedItem, name: string): string {
  const image = item.record.dynamodb?.OldImage;
  if (image === undefined || image === null) {
    throw new KeyMappingError(
      refOf(item),
      `\`dynamodb.OldImage\` is missing, and etagAttribute \`${name}\` reads the object's ETag from it: the stream must be of type OLD_IMAGE or NEW_AND_OLD_IMAGES${item.streamViewType ? ` (this record's StreamViewType is ${item.streamViewType})` : ""}`,
      { attribute: name },
    );
  }
  const raw = rawAttribute(image, name);
  if (raw === undefined) {
    throw new KeyMappingError(
      refOf(item),
      `the OldImage has no attribute \`${name}\` (etagAttribute), so the object cannot be deleted conditionally: store the ETag PutObject returns with the item`,
      { attribute: name },
    );
  }
  const [type, value] = member(raw, item, name);
  if (type !== "S") {
    throw new KeyMappingError(
      refOf(item),
      `attribute \`${name}\` (etagAttribute) is of type ${type}; the ETag must be a string (S)`,
      { attribute: name },
    );
  }
  if (value === "") {
    throw new KeyMappingError(refOf(item), `attribute \`${name}\` (etagAttribute) is empty`, { attribute: name });
  }
  return value as string;
}
