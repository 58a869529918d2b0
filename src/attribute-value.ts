/**
 * Reading DynamoDB AttributeValues from stream JSON: validated, with exact numbers, and with errors
 * that name the attribute's path. Pure functions.
 */
import { type NumberValue, NumberValueImpl } from "@aws-sdk/util-dynamodb";
import type { AttributeMap, AttributeValue } from "./types.js";

/**
 * A plain JavaScript value read from an AttributeValue.
 *
 * - `S` and `B` become strings (`B` stays base64, as Lambda sends it); `BOOL` a boolean; `NULL` null.
 * - `N` becomes a `number` when that number holds it exactly: integers within ±(2^53−1), and other
 *   numbers with at most 15 significant digits. Larger integers become `bigint`; other numbers with
 *   more digits become a `NumberValue` (from `@aws-sdk/util-dynamodb`) holding the exact text.
 * - `SS`, `NS` and `BS` become Sets; `L` an array; `M` an object.
 */
export type NativeValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | NumberValue
  | Set<string>
  | Set<number | bigint | NumberValue>
  | NativeValue[]
  | { [name: string]: NativeValue };

/** The type names an AttributeValue can carry. */
export type AttributeType = keyof AttributeValue;

/** A problem in one attribute, at `path` relative to the value read (`.tags[2]`; empty for the value itself). */
export class AttributeProblem extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path} ${problem}`);
  }
}

/**
 * A problem found while converting, returned rather than thrown: the conversion of every attribute
 * of every record stays a plain loop, with no try/catch and no closure per attribute. Its path
 * grows as it is returned out of nested values; it becomes an {@link AttributeProblem} at the top.
 */
class Failure {
  constructor(
    public path: string,
    readonly problem: string,
  ) {}

  /** Prefixes `segment` to the path, on the way out of a nested value. */
  within(segment: string): Failure {
    this.path = segment + this.path;
    return this;
  }
}

const TYPES = /* @__PURE__ */ new Set<string>(["S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"]);

/**
 * The type of the one member an AttributeValue carries. Members set to null are ignored, as some
 * producers write every member and null all but one.
 */
function typeOf(value: unknown): AttributeType | Failure {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return new Failure("", "is not an AttributeValue object");
  }
  let found: string | undefined;
  for (const type in value) {
    const member = (value as Record<string, unknown>)[type];
    if (member === null || member === undefined) continue;
    if (!TYPES.has(type)) return new Failure("", `has an unknown type "${type}"`);
    if (found !== undefined) return new Failure("", `has several types (${found}, ${type})`);
    found = type;
  }
  return found === undefined ? new Failure("", "has no value") : (found as AttributeType);
}

function orThrow<T>(result: T | Failure): T {
  if (result instanceof Failure) throw new AttributeProblem(result.path, result.problem);
  return result;
}

/**
 * The one member an AttributeValue carries, as `[type, value]`. Members set to null are ignored, as
 * some producers write every member and null all but one. Throws {@link AttributeProblem}.
 */
export function attributeMember(value: unknown): [AttributeType, unknown] {
  const type = orThrow(typeOf(value));
  return [type, (value as Record<string, unknown>)[type]];
}

const NOT_A_NUMBER = -1;
const AN_INTEGER = 0;

/**
 * Reads N text in one pass against DynamoDB's number syntax, `-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?`.
 * Returns NOT_A_NUMBER, AN_INTEGER (`-?\d+`), or for any other number its significant digits: from
 * the first to the last non-zero digit of the mantissa (a zero counts one).
 */
function scanNumber(text: string): number {
  const length = text.length;
  let i = text.charCodeAt(0) === 0x2d ? 1 : 0; // "-"
  let digits = 0;
  let first = -1;
  let last = -1;
  let integer = true;
  for (; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x2e && integer) {
      integer = false; // the one "."
      continue;
    }
    if (code < 0x30 || code > 0x39) break;
    if (code !== 0x30) {
      if (first === -1) first = digits;
      last = digits;
    }
    digits++;
  }
  if (digits === 0) return NOT_A_NUMBER;
  if (i < length) {
    const code = text.charCodeAt(i);
    if (code !== 0x65 && code !== 0x45) return NOT_A_NUMBER; // only "e" or "E" may follow the mantissa
    integer = false;
    i++;
    const sign = text.charCodeAt(i);
    if (sign === 0x2b || sign === 0x2d) i++;
    const start = i;
    while (i < length && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
    if (i === start || i < length) return NOT_A_NUMBER;
  }
  return integer ? AN_INTEGER : last - first + 1;
}

/** The most exact JavaScript value of N text, given what {@link scanNumber} found. */
function exactNumber(text: string, scanned: number): number | bigint | NumberValue {
  if (scanned === AN_INTEGER) {
    const value = Number(text);
    return Number.isSafeInteger(value) ? value : BigInt(text);
  }
  return scanned <= 15 ? Number(text) : NumberValueImpl.from(text);
}

/** True when `text` is N text as DynamoDB writes it: `-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?`. */
export function isNumberText(text: string): boolean {
  return scanNumber(text) !== NOT_A_NUMBER;
}

/** Converts N text to the most exact JavaScript value (see {@link NativeValue}). */
export function toNumber(text: string): number | bigint | NumberValue {
  return exactNumber(text, scanNumber(text));
}

function numberOf(text: string, type: string): number | bigint | NumberValue | Failure {
  const scanned = scanNumber(text);
  return scanned === NOT_A_NUMBER ? new Failure("", `${type} is not a number`) : exactNumber(text, scanned);
}

function isStringArray(value: unknown): value is string[] {
  if (!Array.isArray(value)) return false;
  for (const item of value) if (typeof item !== "string") return false;
  return true;
}

function convert(value: unknown): NativeValue | Failure {
  const type = typeOf(value);
  if (type instanceof Failure) return type;
  const member = (value as Record<string, unknown>)[type];
  switch (type) {
    case "S":
    case "B":
      return typeof member === "string" ? member : new Failure("", `${type} must be a string`);
    case "N":
      return typeof member === "string" ? numberOf(member, type) : new Failure("", `${type} must be a string`);
    case "BOOL":
    case "NULL":
      if (typeof member !== "boolean") return new Failure("", `${type} must be a boolean`);
      return type === "BOOL" ? member : null;
    case "SS":
    case "BS":
      return isStringArray(member) ? new Set(member) : new Failure("", `${type} must be an array of strings`);
    case "NS": {
      if (!isStringArray(member)) return new Failure("", `${type} must be an array of strings`);
      const numbers = new Set<number | bigint | NumberValue>();
      for (let i = 0; i < member.length; i++) {
        const number = numberOf(member[i] as string, type);
        if (number instanceof Failure) return number.within(`[${i}]`);
        numbers.add(number);
      }
      return numbers;
    }
    case "L": {
      if (!Array.isArray(member)) return new Failure("", "L must be an array");
      const list = new Array<NativeValue>(member.length);
      for (let i = 0; i < member.length; i++) {
        const item = convert(member[i]);
        if (item instanceof Failure) return item.within(`[${i}]`);
        list[i] = item;
      }
      return list;
    }
    case "M":
      return convertMap(member);
  }
}

function convertMap(map: unknown): { [name: string]: NativeValue } | Failure {
  if (typeof map !== "object" || map === null || Array.isArray(map)) {
    return new Failure("", "is not an attribute map");
  }
  const result: { [name: string]: NativeValue } = {};
  for (const name in map) {
    const value = convert((map as AttributeMap)[name]);
    if (value instanceof Failure) return value.within(`.${name}`);
    // DynamoDB allows any attribute name; "__proto__" must stay an own property, not set the prototype.
    if (name === "__proto__")
      Object.defineProperty(result, name, { value, enumerable: true, writable: true, configurable: true });
    else result[name] = value;
  }
  return result;
}

/** Converts one AttributeValue, validating it all the way down. Throws {@link AttributeProblem}. */
export function toNative(value: unknown): NativeValue {
  return orThrow(convert(value));
}

/** Converts an attribute map (`Keys`, `OldImage`, or an `M`). Throws {@link AttributeProblem}. */
export function toNativeMap(map: unknown): { [name: string]: NativeValue } {
  return orThrow(convertMap(map));
}

/**
 * Converts an attribute map as {@link toNativeMap} does, but returns the problem instead of throwing
 * it, with `field` prefixed to its path (`dynamodb.OldImage.tags[2]`): for reading many maps fast.
 */
export function readAttributeMap(map: unknown, field: string): { [name: string]: NativeValue } | AttributeProblem {
  const result = convertMap(map);
  return result instanceof Failure ? new AttributeProblem(field + result.path, result.problem) : result;
}
