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

/** A problem in one attribute; `path` grows as the error unwinds out of nested values. */
export class AttributeProblem extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path} ${problem}`);
  }
}

const TYPES = /* @__PURE__ */ new Set<string>(["S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"]);

/**
 * The one member an AttributeValue carries, as `[type, value]`. Members set to null are ignored, as
 * some producers write every member and null all but one.
 */
export function attributeMember(value: unknown): [AttributeType, unknown] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new AttributeProblem("", "is not an AttributeValue object");
  }
  let found: [AttributeType, unknown] | undefined;
  for (const type in value) {
    const member = (value as Record<string, unknown>)[type];
    if (member === null || member === undefined) continue;
    if (!TYPES.has(type)) throw new AttributeProblem("", `has an unknown type "${type}"`);
    if (found !== undefined) throw new AttributeProblem("", `has several types (${found[0]}, ${type})`);
    found = [type as AttributeType, member];
  }
  if (found === undefined) throw new AttributeProblem("", "has no value");
  return found;
}

const NUMBER = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^-?\d+$/;

function significantDigits(text: string): number {
  const exponent = text.search(/[eE]/);
  const mantissa = (exponent === -1 ? text : text.slice(0, exponent)).replace(/[-.]/g, "");
  return mantissa.replace(/^0+/, "").replace(/0+$/, "").length;
}

/** Converts N text to the most exact JavaScript value (see {@link NativeValue}). */
export function toNumber(text: string): number | bigint | NumberValue {
  if (INTEGER.test(text)) {
    const value = Number(text);
    return Number.isSafeInteger(value) ? value : BigInt(text);
  }
  return significantDigits(text) <= 15 ? Number(text) : NumberValueImpl.from(text);
}

function expectString(value: unknown, type: string): string {
  if (typeof value !== "string") throw new AttributeProblem("", `${type} must be a string`);
  return value;
}

function expectStrings(value: unknown, type: string): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    throw new AttributeProblem("", `${type} must be an array of strings`);
  }
  return value;
}

function expectNumberText(value: unknown, type: string): string {
  const text = expectString(value, type);
  if (!NUMBER.test(text)) throw new AttributeProblem("", `${type} is not a number`);
  return text;
}

/** Runs `read`, prefixing `segment` to the path of an {@link AttributeProblem} it throws. */
export function within<T>(segment: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof AttributeProblem) throw new AttributeProblem(segment + error.path, error.problem);
    throw error;
  }
}

/** Converts one AttributeValue, validating it all the way down. Throws {@link AttributeProblem}. */
export function toNative(value: unknown): NativeValue {
  const [type, member] = attributeMember(value);
  switch (type) {
    case "S":
    case "B":
      return expectString(member, type);
    case "N":
      return toNumber(expectNumberText(member, type));
    case "BOOL":
    case "NULL":
      if (typeof member !== "boolean") throw new AttributeProblem("", `${type} must be a boolean`);
      return type === "BOOL" ? member : null;
    case "SS":
    case "BS":
      return new Set(expectStrings(member, type));
    case "NS":
      return new Set(
        expectStrings(member, type).map((text, i) => within(`[${i}]`, () => toNumber(expectNumberText(text, type)))),
      );
    case "L":
      if (!Array.isArray(member)) throw new AttributeProblem("", "L must be an array");
      return member.map((item, i) => within(`[${i}]`, () => toNative(item)));
    case "M":
      return toNativeMap(member);
  }
}

/** Converts an attribute map (`Keys`, `OldImage`, or an `M`). Throws {@link AttributeProblem}. */
export function toNativeMap(map: unknown): { [name: string]: NativeValue } {
  if (typeof map !== "object" || map === null || Array.isArray(map)) {
    throw new AttributeProblem("", "is not an attribute map");
  }
  const result: { [name: string]: NativeValue } = {};
  for (const name in map) {
    const value = within(`.${name}`, () => toNative((map as AttributeMap)[name]));
    // DynamoDB allows any attribute name; "__proto__" must stay an own property, not set the prototype.
    if (name === "__proto__")
      Object.defineProperty(result, name, { value, enumerable: true, writable: true, configurable: true });
    else result[name] = value;
  }
  return result;
}
