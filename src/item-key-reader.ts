/**
 * Object key → item key, for reconcile: through the key templates read backwards (one or several),
 * or through the caller's `itemKeyOf`, its answer checked against the table's key schema. Pure;
 * never throws for any object key.
 */
import { errorMessage } from "./errors.js";
import {
  canonicalNumber,
  createKeyInverter,
  type KeyInversionProblem,
  type KeyInverter,
  type KeySchemaAttribute,
  type ObjectKeyParse,
} from "./key-template-inversion.js";
import type { AttributeMap } from "./types.js";

/** One value of an item key as `itemKeyOf` gives it: a string (S), a number or bigint (N), bytes (B). */
export type ItemKeyValue = string | number | bigint | Uint8Array;

/** A function that reads an object key into its item key, or `undefined` for an object of no item. */
export type ItemKeyOf = (objectKey: string) => Readonly<Record<string, ItemKeyValue>> | undefined;

/**
 * What an object key is: an item's (with the key in DynamoDB JSON), unrelated to any item, or
 * `unchecked` when `itemKeyOf` threw or gave a key the table cannot have.
 */
export type ItemKeyRead = ObjectKeyParse | { kind: "unchecked"; message: string };

/** Reads object keys; never throws. */
export type ItemKeyReader = (objectKey: string) => ItemKeyRead;

/**
 * A reader through several templates: an object key is an item's when the templates that read it
 * agree on one item key. Two templates that read it as two different items make it ambiguous, so
 * unrelated. Returns why when a template cannot be read backwards.
 *
 * @example
 * ```ts
 * const read = templateKeyReader(["images/{id}.png", "thumbs/{id}.webp"], [{ name: "id", type: "S" }]);
 * ```
 */
export function templateKeyReader(
  templates: readonly string[],
  keySchema: readonly KeySchemaAttribute[],
): ItemKeyReader | KeyInversionProblem {
  const inverters: KeyInverter[] = [];
  for (const template of templates) {
    const inverter = createKeyInverter(template, keySchema);
    if (typeof inverter !== "function") return inverter;
    inverters.push(inverter);
  }
  return (objectKey) => {
    let item: Extract<ObjectKeyParse, { kind: "item" }> | undefined;
    let unrelated: Extract<ObjectKeyParse, { kind: "unrelated" }> | undefined;
    for (const inverter of inverters) {
      const read = inverter(objectKey);
      if (read.kind === "unrelated") {
        if (unrelated === undefined || unrelated.reason === "no-match") unrelated = read;
      } else if (item === undefined) item = read;
      else if (identityOf(item.key) !== identityOf(read.key)) {
        return {
          kind: "unrelated",
          reason: "ambiguous",
          message: `\`${objectKey}\` reads as two different item keys through two templates`,
        };
      }
    }
    return item ?? (unrelated as ObjectKeyParse);
  };
}

/** An item key's identity: its attributes by name, whatever order a template placed them in. */
function identityOf(key: AttributeMap): string {
  // Names are unique in an object, so no two compare equal.
  return JSON.stringify(Object.entries(key).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * A reader through `itemKeyOf`: its answer must hold every attribute of the key schema and no
 * other, each of the schema's type (S: a non-empty string; N: a finite number, a bigint, or a
 * string DynamoDB can store as a number; B: non-empty bytes). Anything else, or a throw, makes the
 * object unchecked, with a message that names the object key and the attribute.
 */
export function functionKeyReader(itemKeyOf: ItemKeyOf, keySchema: readonly KeySchemaAttribute[]): ItemKeyReader {
  return (objectKey) => {
    try {
      return readAnswer(objectKey, itemKeyOf(objectKey), keySchema);
    } catch (error) {
      // Thrown by itemKeyOf, or by its answer as it was read (a getter, a proxy).
      return { kind: "unchecked", message: `\`itemKeyOf\` threw for \`${objectKey}\`: ${errorMessage(error)}` };
    }
  };
}

/** What `itemKeyOf` answered for `objectKey`, checked against the key schema. */
function readAnswer(objectKey: string, given: unknown, keySchema: readonly KeySchemaAttribute[]): ItemKeyRead {
  if (given === undefined || given === null) {
    return { kind: "unrelated", reason: "no-match", message: `\`itemKeyOf\` gave no item key for \`${objectKey}\`` };
  }
  const problem = (text: string): ItemKeyRead => ({
    kind: "unchecked",
    message: `\`itemKeyOf\` gave \`${objectKey}\` ${text}`,
  });
  if (typeof given !== "object" || Array.isArray(given)) return problem("something other than an object");
  const extra = Object.keys(given).filter((name) => !keySchema.some((attribute) => attribute.name === name));
  if (extra.length > 0) return problem(`attribute \`${extra[0]}\`, which is not in the table's key`);
  const entries: [string, AttributeMap[string]][] = [];
  for (const { name, type } of keySchema) {
    const value = (given as Record<string, unknown>)[name];
    if (value === undefined) return problem(`no \`${name}\`, which is in the table's key`);
    const converted = convert(value, type);
    if (converted === undefined) return problem(`a \`${name}\` that is not ${TYPE_NAMES[type]}`);
    entries.push([name, converted]);
  }
  // fromEntries keeps an attribute named "__proto__" an own property instead of setting the prototype.
  return { kind: "item", key: Object.fromEntries(entries) };
}

const TYPE_NAMES = {
  S: "a non-empty string (the key's type is S)",
  N: "a number DynamoDB can store (the key's type is N)",
  B: "non-empty bytes, a Uint8Array (the key's type is B)",
} as const;

function convert(value: unknown, type: KeySchemaAttribute["type"]): AttributeMap[string] | undefined {
  if (type === "S") return typeof value === "string" && value !== "" ? { S: value } : undefined;
  if (type === "B") {
    return value instanceof Uint8Array && value.length > 0 ? { B: Buffer.from(value).toString("base64") } : undefined;
  }
  const text =
    typeof value === "bigint" || (typeof value === "number" && Number.isFinite(value))
      ? String(value)
      : typeof value === "string"
        ? value
        : undefined;
  const canonical = text === undefined ? undefined : canonicalNumber(text);
  return canonical === undefined ? undefined : { N: canonical };
}
