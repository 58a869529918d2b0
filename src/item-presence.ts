/**
 * Item presence: whether items exist in their tables now. Each distinct (table, key) is asked once,
 * with strongly consistent BatchGetItem requests of at most 100 keys that project the key attributes
 * only, `UnprocessedKeys` asked again with backoff. A key whose answer cannot be had is never called
 * absent. The re-creation guard (replay) and reconcile both decide with it.
 */
import type {
  BatchGetItemCommandOutput,
  AttributeValue as DynamoDbValue,
  KeysAndAttributes,
} from "@aws-sdk/client-dynamodb";
import { abortable, backoffDelay, sendOptions, sleep as sleepWithSignal } from "./abort.js";
import { mapInOrder } from "./concurrency.js";
import { type SdkAttributeValue, toLambdaMap, toSdkMap } from "./lambda-shape.js";
import type { AttributeMap, AwsClientLike } from "./types.js";

/** The most keys one BatchGetItem request may ask for, across its tables (DynamoDB's limit). */
export const MAX_KEYS_PER_BATCH_GET = 100;

/** The backoff before asking for `UnprocessedKeys` again the nth time is a random wait in [0, min(2000, 50 · 2^(n−1))) ms. */
export const UNPROCESSED_BASE_DELAY_MS = 50;

/** The cap on one backoff wait for `UnprocessedKeys`, in ms. */
export const UNPROCESSED_MAX_DELAY_MS = 2000;

/**
 * The most requests one chunk of keys is sent in, the first included. A handler's signal bounds the
 * retries anyway; this bounds them for a caller whose signal never fires, so that a table throttled
 * for good cannot hold a call forever. Keys still unprocessed after it are unknown.
 */
export const MAX_BATCH_GET_ROUNDS = 20;

/** Options of {@link createItemProbe}, validated by the caller. */
export interface ItemProbeOptions {
  /** Resolves to the DynamoDB client to read with (the caller creates one lazily, the first time). */
  dynamoDbClient: () => Promise<AwsClientLike>;
  /** How many BatchGetItem requests may be in flight at once. */
  concurrency: number;
  /**
   * Waits `ms` milliseconds before asking for `UnprocessedKeys` again, or rejects when `signal` fires first.
   * @default a setTimeout promise that the signal cuts short
   */
  sleep?: ((ms: number, signal: AbortSignal | undefined) => Promise<void>) | undefined;
  /** A number in [0, 1), for jitter. @default Math.random */
  random?: (() => number) | undefined;
}

/** One item to ask for: its table, and its key in DynamoDB JSON (every key attribute, nothing else). */
export interface ItemLookup {
  table: string;
  key: AttributeMap;
  /** What messages call the key, such as `` `dynamodb.Keys` ``. @default "the key" */
  name?: string | undefined;
}

/** Why an item's presence is unknown, and the error behind it. */
export interface Unknown {
  problem: string;
  cause?: unknown;
}

/** Whether an item exists: `"present"`, `"absent"`, or unknown (with why). */
export type ItemPresence = "present" | "absent" | Unknown;

/**
 * Tells, for each lookup, whether its item exists, in the order given. Never rejects: a key whose
 * table cannot be read in time, or at all, or that cannot be sent, is unknown.
 */
export type ItemProbe = (lookups: readonly ItemLookup[], signal: AbortSignal) => Promise<ItemPresence[]>;

/**
 * Creates a probe. The DynamoDB client and the SDK module are only loaded when a call has a key to
 * ask for. Needs `dynamodb:BatchGetItem` on every table it reads.
 *
 * @example
 * ```ts
 * const probe = createItemProbe({ dynamoDbClient: async () => new DynamoDBClient({}), concurrency: 4 });
 * const [presence] = await probe([{ table: "products", key: { productId: { S: "p-1" } } }], signal);
 * ```
 */
export function createItemProbe(options: ItemProbeOptions): ItemProbe {
  const sleep = options.sleep ?? sleepWithSignal;
  const random = options.random ?? Math.random;
  return async (lookups, signal) => {
    const distinct = new Map<string, Lookup>();
    const found = lookups.map(({ table, key, name = "the key" }): Lookup | Unknown => {
      const lookup = lookupOf(table, key, name);
      if ("problem" in lookup) return lookup;
      const shared = distinct.get(lookup.id);
      if (shared !== undefined) return shared;
      distinct.set(lookup.id, lookup);
      return lookup;
    });
    if (distinct.size > 0) await askAll([...distinct.values()], options, { signal, sleep, random });
    return found.map((lookup) =>
      // askAll settles every lookup it is given.
      "problem" in lookup ? lookup : (lookup.verdict as ItemPresence),
    );
  };
}

/** One distinct (table, key) to ask for; every lookup with that key shares its verdict. */
interface Lookup {
  table: string;
  /** The key's identity within its table: see {@link identityOf}. */
  id: string;
  /** The key in the SDK's shape, as sent. */
  key: Record<string, SdkAttributeValue>;
  /** The key's attribute names, sorted. */
  names: readonly string[];
  verdict?: ItemPresence;
}

/** What a call needs to send requests. */
interface Asking {
  client: AwsClientLike;
  sdk: typeof import("@aws-sdk/client-dynamodb");
  signal: AbortSignal;
  sleep: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
  random: () => number;
}

/** The lookup of one key, or why there can be none. */
function lookupOf(table: string, keys: AttributeMap, name: string): Lookup | Unknown {
  if (Object.keys(keys).length === 0)
    return { problem: `${name} is empty, so whether its item exists cannot be checked` };
  try {
    const key = toSdkMap(keys);
    const names = Object.keys(key).sort();
    return { table, id: JSON.stringify([table, identityOf(key, names)]), key, names };
  } catch (error) {
    return { problem: `${name} cannot be read as DynamoDB attribute values`, cause: error };
  }
}

/**
 * A key's identity: JSON of its `names` attributes (sorted) in Lambda's shape. Keys are compared
 * after the same round trip through the SDK's shape as the answers, so that base64 written two ways
 * is one key. Numbers are compared as written: a number DynamoDB normalises ("007" asked, "7"
 * returned) does not match, and the check then reports its keys unchecked rather than guess.
 */
function identityOf(map: Record<string, SdkAttributeValue | DynamoDbValue>, names: readonly string[]): string {
  const picked = Object.fromEntries(names.map((name) => [name, map[name] as SdkAttributeValue]));
  return JSON.stringify(toLambdaMap(picked));
}

/** Asks for every lookup, in requests of at most 100 keys, `concurrency` at once; sets each verdict. */
async function askAll(
  lookups: readonly Lookup[],
  options: ItemProbeOptions,
  call: Omit<Asking, "client" | "sdk">,
): Promise<void> {
  let asking: Asking;
  try {
    const [sdk, client] = await abortable(
      Promise.all([import("@aws-sdk/client-dynamodb"), options.dynamoDbClient()]),
      call.signal,
    );
    asking = { ...call, sdk, client };
  } catch (error) {
    const problem = call.signal.aborted
      ? `no time was left to read the table: ${messageOf(call.signal.reason)}`
      : `the DynamoDB client could not be loaded or created: ${messageOf(error)}`;
    for (const lookup of lookups) lookup.verdict = { problem, cause: error };
    return;
  }
  const chunks: Lookup[][] = [];
  for (let start = 0; start < lookups.length; start += MAX_KEYS_PER_BATCH_GET) {
    chunks.push(lookups.slice(start, start + MAX_KEYS_PER_BATCH_GET));
  }
  await mapInOrder(chunks, options.concurrency, (chunk) => askChunk(asking, chunk));
}

/**
 * Sends one chunk, and asks for its `UnprocessedKeys` again with backoff until none is left, the
 * signal fires, or {@link MAX_BATCH_GET_ROUNDS} requests were sent. Never rejects.
 */
async function askChunk(asking: Asking, chunk: readonly Lookup[]): Promise<void> {
  const { signal, sleep, random } = asking;
  let pending = chunk;
  for (let round = 1; ; round++) {
    let output: BatchGetItemCommandOutput;
    try {
      if (signal.aborted) throw signal.reason;
      const command = new asking.sdk.BatchGetItemCommand({ RequestItems: requestItems(pending) });
      // A client that ignores the abort signal must not hold the call past it.
      output = (await abortable(asking.client.send(command, sendOptions(signal)), signal)) as BatchGetItemCommandOutput;
    } catch (error) {
      for (const lookup of pending) {
        lookup.verdict = signal.aborted
          ? outOfTime(lookup, error)
          : {
              problem: `BatchGetItem on table "${lookup.table}" failed, so whether the item exists is unknown: ${messageOf(error)}`,
              cause: error,
            };
      }
      return;
    }
    let unprocessed: Lookup[];
    try {
      unprocessed = settle(pending, output);
    } catch (error) {
      // A client of the caller's may answer in a shape the SDK never gives (an item that is null).
      for (const lookup of pending) {
        lookup.verdict = {
          problem: `table "${lookup.table}" answered BatchGetItem with something that is not an item, so whether the item exists is unknown: ${messageOf(error)}`,
          cause: error,
        };
      }
      return;
    }
    if (unprocessed.length === 0) return;
    if (round >= MAX_BATCH_GET_ROUNDS) {
      for (const lookup of unprocessed) {
        lookup.verdict = {
          problem: `table "${lookup.table}" left the key unprocessed in ${MAX_BATCH_GET_ROUNDS} BatchGetItem requests (throttled), so whether the item exists is unknown`,
        };
      }
      return;
    }
    const wait = backoffDelay(round, UNPROCESSED_BASE_DELAY_MS, UNPROCESSED_MAX_DELAY_MS, random);
    try {
      await abortable(sleep(wait, signal), signal);
    } catch (error) {
      for (const lookup of unprocessed) lookup.verdict = outOfTime(lookup, error);
      return;
    }
    pending = unprocessed;
  }
}

function outOfTime(lookup: Lookup, error: unknown): Unknown {
  return {
    problem: `table "${lookup.table}" could not be read in time (the key was still unanswered when the signal fired), so whether the item exists is unknown: ${messageOf(error)}`,
    cause: error,
  };
}

/**
 * The request for `lookups`: per table, its keys, strongly consistent, projecting the key attributes
 * only. The names go through placeholders, since a key attribute may be named like a reserved word.
 */
function requestItems(lookups: readonly Lookup[]): Record<string, KeysAndAttributes> {
  const byTable = groupByTable(lookups);
  return Object.fromEntries(
    [...byTable].map(([table, group]) => {
      const names = [...new Set(group.flatMap((lookup) => lookup.names))].sort();
      const placeholders = names.map((_, index) => `#k${index}`);
      return [
        table,
        {
          Keys: group.map((lookup) => lookup.key as Record<string, DynamoDbValue>),
          ConsistentRead: true,
          ProjectionExpression: placeholders.join(", "),
          ExpressionAttributeNames: Object.fromEntries(names.map((name, index) => [placeholders[index], name])),
        },
      ];
    }),
  );
}

/**
 * Sets the verdict of every pending lookup that `output` answers, and returns those left
 * unprocessed. An answer (an item, or an unprocessed key) that matches no key asked means keys are
 * compared differently than DynamoDB compares them: the table's keys that were not found are then
 * unchecked, not absent.
 */
function settle(pending: readonly Lookup[], output: BatchGetItemCommandOutput): Lookup[] {
  const unprocessed: Lookup[] = [];
  for (const [table, group] of groupByTable(pending)) {
    const asked = new Map(group.map((lookup) => [lookup.id, lookup]));
    const shapes = new Map(group.map((lookup) => [lookup.names.join("\u0000"), lookup.names]));
    const find = (item: Record<string, DynamoDbValue>): Lookup | undefined => {
      for (const names of shapes.values()) {
        if (!names.every((name) => Object.hasOwn(item, name))) continue;
        const found = asked.get(JSON.stringify([table, identityOf(item, names)]));
        if (found !== undefined) return found;
      }
      return undefined;
    };
    const found = new Set<Lookup>();
    const left = new Set<Lookup>();
    let stray = false;
    for (const item of output.Responses?.[table] ?? []) {
      const lookup = find(item);
      if (lookup === undefined) stray = true;
      else found.add(lookup);
    }
    for (const key of output.UnprocessedKeys?.[table]?.Keys ?? []) {
      const lookup = find(key);
      if (lookup === undefined) stray = true;
      else left.add(lookup);
    }
    for (const lookup of group) {
      if (found.has(lookup)) lookup.verdict = "present";
      else if (left.has(lookup)) unprocessed.push(lookup);
      else if (stray) {
        lookup.verdict = {
          problem: `table "${table}" answered with a key that matches none asked (a number written differently, say), so whether the item exists is unknown`,
        };
      } else lookup.verdict = "absent";
    }
  }
  return unprocessed;
}

function groupByTable(lookups: readonly Lookup[]): Map<string, Lookup[]> {
  const groups = new Map<string, Lookup[]>();
  for (const lookup of lookups) {
    const group = groups.get(lookup.table);
    if (group === undefined) groups.set(lookup.table, [lookup]);
    else group.push(lookup);
  }
  return groups;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
