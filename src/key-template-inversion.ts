/**
 * Key templates read backwards: from an object key such as `images/42.png` back to the item key
 * `{ productId: { N: "42" } }` the handler would have rendered it from. Reconcile uses it to ask the
 * table whether an object's item still exists. Pure; never throws for any object key.
 *
 * An object key is taken for an item's only when exactly one item key renders to it, through the
 * same rendering the handler does (S as is, N as DynamoDB's stored text). Anything else is
 * "unrelated", and reconcile never deletes unrelated objects.
 */
import { compileTemplate, type KeyTemplate, renderTemplate } from "./key-template.js";
import type { AttributeMap } from "./types.js";

/** One attribute of a table's key schema, as `DescribeTable` gives it. */
export interface KeySchemaAttribute {
  name: string;
  type: "S" | "N" | "B";
}

/** Why an object key belongs to no item of the template. */
export type UnrelatedReason =
  /** The key does not match the template's literal text. */
  | "no-match"
  /** More than one item key renders to the object key. */
  | "ambiguous"
  /** A placeholder's value is empty: no key attribute is empty, and the handler renders none. */
  | "empty-value"
  /** An N placeholder's value is not a number DynamoDB can store. */
  | "invalid-number"
  /**
   * Rendering the template from the parsed key gives another object key: an N value not written
   * the way DynamoDB stores it (`007`), or a repeated placeholder with two different values.
   */
  | "renders-differently"
  /** The key can be split in too many ways to decide within a bounded amount of work. */
  | "too-complex";

/** What an object key is, read through a template. */
export type ObjectKeyParse =
  | {
      kind: "item";
      /** One Lambda-JSON AttributeValue per key attribute: `{ S }` or `{ N }` (canonical text). */
      key: AttributeMap;
    }
  | {
      kind: "unrelated";
      reason: UnrelatedReason;
      /** Says why, naming the attribute at fault. */
      message: string;
    };

/** Reads an object key back into the item key it was rendered from. Pure; never throws. */
export type KeyInverter = (objectKey: string) => ObjectKeyParse;

/** Why a template cannot be read backwards into item keys. */
export interface KeyInversionProblem {
  kind:
    | "malformed-template"
    /** A placeholder names an attribute outside the key: reconcile needs `itemKeyOf` or `mode: "scan"`. */
    | "non-key-placeholder"
    /** A key attribute has no placeholder, so the item key cannot be built from an object key. */
    | "missing-key-attribute"
    /** A placeholder names a B key attribute, which the handler never renders into a key. */
    | "binary-placeholder";
  /** The attributes at fault (empty for a malformed template). */
  attributes: string[];
  message: string;
}

/**
 * DynamoDB's limits on a number: at most 38 significant digits, and a magnitude within
 * 1E-130 ... 9.99...E+125, i.e. a decimal exponent from -130 to 125 in scientific notation.
 */
const MAX_SIGNIFICANT_DIGITS = 38;
const MIN_EXPONENT = -130;
const MAX_EXPONENT = 125;

/**
 * The bound on the splits tried for one object key. Keys are at most 1024 bytes and templates hold
 * a few placeholders, so real keys stay far below it; it only stops a crafted key from making a
 * template with adjacent or repeated placeholders search for long.
 */
const MAX_STEPS = 200_000;

// Every group but the exponent always takes part, so no match leaves the whole or the fraction undefined.
const NUMBER_SYNTAX = /^(-?)(\d*)\.?(\d*)(?:[eE]([+-]?\d+))?$/;

/**
 * The text DynamoDB stores and returns for the number `text`, or `undefined` when DynamoDB would
 * refuse it (not its number syntax, more than 38 significant digits, or out of range).
 *
 * DynamoDB trims leading and trailing zeros and returns no exponent: `1e2` comes back as `100`,
 * `1.50` as `1.5`, `-0` as `0`. That numbers are returned in plain notation, never with an exponent,
 * is what DynamoDB does (`1E+50` is read back as fifty-one digits); its documentation only says
 * zeros are trimmed.
 */
export function canonicalNumber(text: string): string | undefined {
  const match = NUMBER_SYNTAX.exec(text);
  if (match === null) return undefined;
  const [, sign, whole, fraction, exponentText] = match as unknown as [string, string, string, string, string?];
  if (whole === "" && fraction === "") return undefined;
  let digits = whole + fraction;
  const leading = digits.length - digits.replace(/^0+/, "").length;
  digits = digits.slice(leading).replace(/0+$/, "");
  if (digits === "") return "0";
  if (digits.length > MAX_SIGNIFICANT_DIGITS) return undefined;
  // Where the decimal point falls, counted from the first significant digit.
  const point = whole.length - leading + Number(exponentText ?? 0);
  if (point - 1 < MIN_EXPONENT || point - 1 > MAX_EXPONENT) return undefined;
  let plain: string;
  if (point <= 0) plain = `0.${"0".repeat(-point)}${digits}`;
  else if (point >= digits.length) plain = digits + "0".repeat(point - digits.length);
  else plain = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return sign + plain;
}

/**
 * Every end `e` such that `key.slice(pos, e)` is a number exactly as DynamoDB stores it, in one
 * pass: `-?(0|[1-9]\d*)(\.\d*[1-9])?`, not `-0`, within DynamoDB's precision and range.
 */
function numberEnds(key: string, pos: number): number[] {
  const ends: number[] = [];
  let i = pos;
  const negative = key.charCodeAt(i) === 0x2d;
  if (negative) i++;
  const start = i;
  const first = key.charCodeAt(i);
  if (!isDigit(first)) return ends;
  if (first === 0x30) {
    i++;
    if (!negative) ends.push(i);
  } else {
    // The first digit is not 0; past the key's end charCodeAt is NaN, no digit.
    let lastNonZero = start;
    while (isDigit(key.charCodeAt(i))) {
      if (key.charCodeAt(i) !== 0x30) lastNonZero = i;
      i++;
      // More digits than the largest number DynamoDB stores: no longer value, and no fraction.
      if (i - start - 1 > MAX_EXPONENT) return ends;
      if (lastNonZero - start + 1 <= MAX_SIGNIFICANT_DIGITS) ends.push(i);
    }
  }
  if (key.charCodeAt(i) !== 0x2e) return ends;
  const zeroWhole = first === 0x30;
  const wholeDigits = zeroWhole ? 0 : i - start;
  let firstSignificant = -1;
  for (let j = i + 1; isDigit(key.charCodeAt(j)); j++) {
    const code = key.charCodeAt(j);
    if (code === 0x30) continue;
    if (zeroWhole && firstSignificant === -1) {
      firstSignificant = j;
      if (-(j - i) < MIN_EXPONENT) break;
    }
    const significant = zeroWhole ? j - firstSignificant + 1 : wholeDigits + (j - i);
    if (significant > MAX_SIGNIFICANT_DIGITS) break;
    ends.push(j + 1);
  }
  return ends;
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/**
 * The literal start of a template, the text before its first placeholder: the prefix to list by
 * default. `undefined` when the template is malformed ({@link createKeyInverter} says why).
 */
export function templatePrefix(template: string): string | undefined {
  const compiled = compileTemplate(template);
  return typeof compiled === "string" ? undefined : compiled.literals[0];
}

/**
 * Builds the reader of object keys for a template and the table's key schema, or returns why the
 * template cannot be read backwards: every key attribute needs a placeholder, every placeholder
 * must be a key attribute, and only S and N attributes are rendered by the handler.
 *
 * Adjacent placeholders (`{a}{b}`) and repeated ones (`{id}/{id}.png`) are allowed: an object key is
 * an item's when exactly one item key renders to it, so `{a}{b}` reads `xy` (only `x`+`y` renders
 * it) but not `xyz` (ambiguous).
 *
 * @example
 * ```ts
 * const invert = createKeyInverter("images/{productId}.png", [{ name: "productId", type: "N" }]);
 * if (typeof invert === "function") invert("images/42.png"); // { kind: "item", key: { productId: { N: "42" } } }
 * ```
 */
export function createKeyInverter(
  template: string,
  keySchema: readonly KeySchemaAttribute[],
): KeyInverter | KeyInversionProblem {
  const compiled = compileTemplate(template);
  if (typeof compiled === "string") {
    return { kind: "malformed-template", attributes: [], message: `The key template ${compiled}` };
  }
  const types = new Map(keySchema.map((attribute) => [attribute.name, attribute.type]));
  const named = [...new Set(compiled.attributes)];
  const nonKey = named.filter((name) => !types.has(name));
  if (nonKey.length > 0) {
    return {
      kind: "non-key-placeholder",
      attributes: nonKey,
      message: `The key template uses ${list(nonKey)}, which ${nonKey.length === 1 ? "is not a key attribute" : "are not key attributes"} (the key is ${list([...types.keys()])}): an object key does not give the item key, so reconcile needs \`itemKeyOf\` or \`mode: "scan"\` (the command's --scan)`,
    };
  }
  const missing = [...types.keys()].filter((name) => !named.includes(name));
  if (missing.length > 0) {
    return {
      kind: "missing-key-attribute",
      attributes: missing,
      message: `The key template has no placeholder for key attribute ${list(missing)}: an object key does not give the whole item key, so reconcile needs \`itemKeyOf\` or \`mode: "scan"\` (the command's --scan)`,
    };
  }
  const binary = named.filter((name) => types.get(name) === "B");
  if (binary.length > 0) {
    return {
      kind: "binary-placeholder",
      attributes: binary,
      message: `The key template uses ${list(binary)}, of type B: a key template renders only S and N attributes, so no object key comes from it`,
    };
  }
  const placeholderTypes = compiled.attributes.map((name) => types.get(name) as "S" | "N");
  return (objectKey) => invert(compiled, placeholderTypes, objectKey);
}

function list(names: readonly string[]): string {
  return names.map((name) => `\`${name}\``).join(", ");
}

/** The state of one search for the splits of an object key. */
interface Search {
  key: string;
  template: KeyTemplate;
  types: readonly ("S" | "N")[];
  /** Splits counted (0, 1 or 2) from a placeholder and position on; only when no attribute repeats. */
  memo: Map<string, number> | undefined;
  /** The value of each attribute bound so far, for its repeated placeholders. */
  bound: Map<string, string>;
  found: number;
  first: readonly string[] | undefined;
  steps: number;
}

function invert(template: KeyTemplate, types: readonly ("S" | "N")[], key: string): ObjectKeyParse {
  const { literals, attributes } = template;
  const prefix = literals[0] as string;
  const suffix = literals[literals.length - 1] as string;
  // A key shorter than the two together, where they overlap, finds no split below.
  if (!key.startsWith(prefix) || !key.endsWith(suffix)) return noMatch(key);
  // S3 and DynamoDB both hold UTF-8, which has no lone surrogate: no item's key renders to this.
  if (LONE_SURROGATE.test(key)) {
    return { kind: "unrelated", reason: "no-match", message: `\`${key}\` is not well-formed Unicode` };
  }
  const repeats = new Set(attributes).size < attributes.length;
  const search: Search = {
    key,
    template,
    types,
    memo: repeats ? undefined : new Map(),
    bound: new Map(),
    found: 0,
    first: undefined,
    steps: 0,
  };
  visit(search, 0, prefix.length, []);
  if (search.steps > MAX_STEPS) return tooComplex(key);
  if (search.found >= 2) {
    return {
      kind: "unrelated",
      reason: "ambiguous",
      message: `\`${key}\` parses more than one way (one is ${describe(attributes, search.first as readonly string[])}), so it cannot be told whose object it is`,
    };
  }
  if (search.found === 0) return explain(template, types, key);
  // A split is the key cut between its literals: the template renders it back to the key.
  const values = search.first as readonly string[];
  // fromEntries keeps an attribute named "__proto__" an own property instead of setting the prototype.
  const itemKey: AttributeMap = Object.fromEntries(
    attributes.map((name, i) => [name, types[i] === "N" ? { N: values[i] as string } : { S: values[i] as string }]),
  );
  return { kind: "item", key: itemKey };
}

/**
 * Counts (up to 2) the splits of `key` from `pos` into placeholders `i` on and the literals after
 * them, recording the first complete split; `values` are those of the placeholders before `i`.
 */
function visit(search: Search, i: number, pos: number, values: readonly string[]): number {
  const { key, template, memo } = search;
  const { attributes, literals } = template;
  if (i === attributes.length) {
    if (pos !== key.length) return 0;
    search.found++;
    search.first ??= values;
    return 1;
  }
  const state = `${i} ${pos}`;
  const known = memo?.get(state);
  if (known !== undefined) {
    search.found += known;
    return known;
  }
  if (++search.steps > MAX_STEPS) return 0;
  const name = attributes[i] as string;
  const literal = literals[i + 1] as string;
  const last = i === attributes.length - 1;
  let count = 0;
  const bound = search.bound.get(name);
  if (bound !== undefined) {
    if (key.startsWith(bound, pos) && key.startsWith(literal, pos + bound.length)) {
      count = visit(search, i + 1, pos + bound.length + literal.length, [...values, bound]);
    }
  } else {
    for (const end of candidateEnds(search, i, pos, last ? key.length - literal.length : -1)) {
      if (!key.startsWith(literal, end)) continue;
      const value = key.slice(pos, end);
      search.bound.set(name, value);
      count += visit(search, i + 1, end + literal.length, [...values, value]);
      search.bound.delete(name);
      if (search.found >= 2 || search.steps > MAX_STEPS) break;
    }
  }
  const capped = Math.min(count, 2);
  memo?.set(state, capped);
  return capped;
}

/** The ends a non-empty value of placeholder `i` may have from `pos`; `only` fixes it when >= 0. */
function candidateEnds(search: Search, i: number, pos: number, only: number): Iterable<number> {
  const { key } = search;
  if (search.types[i] === "N") {
    const ends = numberEnds(key, pos);
    return only >= 0 ? ends.filter((end) => end === only) : ends;
  }
  if (only >= 0) return only > pos ? [only] : [];
  const literal = search.template.literals[i + 1] as string;
  return stringEnds(key, pos, literal);
}

const LONE_SURROGATE = /\p{Cs}/u;

/** The ends of a non-empty S value from `pos` that the literal may follow, never inside a surrogate pair. */
function* stringEnds(key: string, pos: number, literal: string): Generator<number> {
  for (const end of literalEnds(key, pos + 1, literal)) if (!splitsPair(key, end)) yield end;
}

/**
 * True when `end` falls between the two halves of a character written as a surrogate pair. The key
 * has no lone surrogate (checked first), so a low surrogate at `end` always has its high one before.
 */
function splitsPair(key: string, end: number): boolean {
  const after = key.charCodeAt(end);
  return after >= 0xdc00 && after <= 0xdfff;
}

/**
 * Says why no item key renders to `key`: the first split that fits the literals alone, with empty
 * and non-canonical values allowed, and its first faulty value.
 */
function explain(template: KeyTemplate, types: readonly ("S" | "N")[], key: string): ObjectKeyParse {
  const { attributes } = template;
  const split = firstLiteralSplit(template, key);
  if (split === undefined) return noMatch(key);
  const seen = new Map<string, string>();
  for (const [i, name] of attributes.entries()) {
    const value = split[i] as string;
    if (value === "") {
      return {
        kind: "unrelated",
        reason: "empty-value",
        message: `\`${key}\` leaves \`${name}\` empty, and no item key is empty`,
      };
    }
    if (types[i] === "N") {
      const canonical = canonicalNumber(value);
      if (canonical === undefined) {
        return {
          kind: "unrelated",
          reason: "invalid-number",
          message: `\`${key}\` gives \`${name}\` (N) the value \`${value}\`, which is not a number DynamoDB can store`,
        };
      }
      if (canonical !== value) {
        const rendered = renderTemplate(
          template,
          split.map((other, j) => (j === i ? canonical : other)),
        );
        return {
          kind: "unrelated",
          reason: "renders-differently",
          message: `\`${key}\` gives \`${name}\` (N) the value \`${value}\`, which DynamoDB stores as \`${canonical}\`: that item's object would be \`${rendered}\``,
        };
      }
    }
    const earlier = seen.get(name);
    if (earlier !== undefined && earlier !== value) {
      return {
        kind: "unrelated",
        reason: "renders-differently",
        message: `\`${key}\` gives \`${name}\` two values, \`${earlier}\` and \`${value}\``,
      };
    }
    seen.set(name, value);
  }
  return noMatch(key);
}

/**
 * The first split of `key` (shortest non-empty values first) that fits the template's literals,
 * values possibly empty. Repeats are ignored, so each placeholder and position is tried once.
 */
function firstLiteralSplit(template: KeyTemplate, key: string): readonly string[] | undefined {
  const { literals, attributes } = template;
  const dead = new Set<string>();
  const walk = (i: number, pos: number, values: readonly string[]): readonly string[] | undefined => {
    if (i === attributes.length) return pos === key.length ? values : undefined;
    const state = `${i} ${pos}`;
    if (dead.has(state)) return undefined;
    const literal = literals[i + 1] as string;
    // Empty values last: a split with one tells less about why the key is not an item's.
    for (const end of [...literalEnds(key, pos + 1, literal), pos]) {
      if (!key.startsWith(literal, end)) continue;
      const split = walk(i + 1, end + literal.length, [...values, key.slice(pos, end)]);
      if (split !== undefined) return split;
    }
    dead.add(state);
    return undefined;
  };
  return walk(0, (literals[0] as string).length, []);
}

/** Every position from `from` on where `literal` starts, in order (every position for an empty literal). */
function* literalEnds(key: string, from: number, literal: string): Generator<number> {
  for (let pos = from; pos <= key.length; ) {
    const end = key.indexOf(literal, pos);
    if (end === -1) return;
    yield end;
    pos = end + 1;
  }
}

function tooComplex(key: string): ObjectKeyParse {
  return {
    kind: "unrelated",
    reason: "too-complex",
    message: `\`${key}\` splits into the template's placeholders in too many ways to decide`,
  };
}

function noMatch(key: string): ObjectKeyParse {
  return { kind: "unrelated", reason: "no-match", message: `\`${key}\` does not match the template's literal text` };
}

function describe(attributes: readonly string[], values: readonly string[]): string {
  return attributes.map((name, i) => `${name}=\`${values[i]}\``).join(", ");
}
