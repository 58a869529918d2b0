/**
 * The re-creation guard (`verifyAbsent`): finds which removed items exist again in their table. A
 * replay runs hours after the REMOVE, and the item may have been written again under the same key
 * since; its objects then belong to the new item and must stay. The table is asked through the item
 * probe (item-presence.ts). A removal whose answer cannot be had is never called absent.
 */
import { PresenceCheckError, type RecordRef, refOf } from "./errors.js";
import {
  createItemProbe,
  type ItemLookup,
  type ItemPresence,
  type ItemProbeOptions,
  type Unknown,
} from "./item-presence.js";
import type { RemovedItem } from "./parse-stream-records.js";
import type { AttributeMap } from "./types.js";

export { MAX_BATCH_GET_ROUNDS, MAX_KEYS_PER_BATCH_GET } from "./item-presence.js";

/** Options of {@link createPresenceCheck}, validated by the caller. */
export interface PresenceCheckOptions extends ItemProbeOptions {
  /**
   * The table to look every removal up in, whatever its record says (`verifyAbsent: { tableName }`).
   * @default undefined (the removal's `tableName`)
   */
  tableName?: string | undefined;
}

/** What the guard needs of a removal: where its record sits, its table, and its record's `dynamodb.Keys`. */
export type PresenceSubject = RecordRef & Pick<RemovedItem, "tableName" | "record">;

/** The removals of one check, sorted into three lists; each removal is in exactly one, in the order given. */
export interface Presence<R> {
  /** No item with the removal's key exists in its table now: its objects may be deleted. */
  absent: R[];
  /** An item with the removal's key exists again: its objects belong to it and are kept. */
  recreated: R[];
  /** Whether the item exists again could not be told: nothing is deleted, and the record is reported. */
  unchecked: { item: R; error: PresenceCheckError }[];
}

/**
 * Sorts removals by whether their items exist again. Never rejects: a removal whose table cannot be
 * read in time, or at all, is unchecked.
 */
export type PresenceCheck = <R extends PresenceSubject>(
  removals: readonly R[],
  signal: AbortSignal,
) => Promise<Presence<R>>;

/**
 * Creates the re-creation guard's check. The DynamoDB client and the SDK module are only loaded when
 * a call has a key to ask for. Needs `dynamodb:BatchGetItem` on every table it reads.
 *
 * @example
 * ```ts
 * const check = createPresenceCheck({ dynamoDbClient: async () => new DynamoDBClient({}), concurrency: 4 });
 * const { absent, recreated, unchecked } = await check(batch.removals, signal);
 * ```
 */
export function createPresenceCheck(options: PresenceCheckOptions): PresenceCheck {
  const probe = createItemProbe(options);
  return async <R extends PresenceSubject>(removals: readonly R[], signal: AbortSignal): Promise<Presence<R>> => {
    const found = removals.map((removal) =>
      lookupOf(options.tableName ?? removal.tableName, removal.record.dynamodb?.Keys),
    );
    const lookups = found.filter((lookup): lookup is ItemLookup => !("problem" in lookup));
    const answers = lookups.length === 0 ? [] : await probe(lookups, signal);
    const presence: Presence<R> = { absent: [], recreated: [], unchecked: [] };
    let answered = 0;
    removals.forEach((removal, index) => {
      const lookup = found[index] as ItemLookup | Unknown;
      // The probe answers every lookup, in order.
      const verdict = "problem" in lookup ? lookup : (answers[answered++] as ItemPresence);
      if (verdict === "absent") presence.absent.push(removal);
      else if (verdict === "present") presence.recreated.push(removal);
      else {
        const { problem, cause } = verdict;
        const table = options.tableName ?? removal.tableName;
        const error = new PresenceCheckError(refOf(removal), table, problem, cause === undefined ? {} : { cause });
        presence.unchecked.push({ item: removal, error });
      }
    });
    return presence;
  };
}

/** The lookup of one removal, or why there can be none. */
function lookupOf(table: string | undefined, keys: unknown): ItemLookup | Unknown {
  if (table === undefined) {
    return {
      problem:
        "its table is unknown (the record names none), so whether its item exists again cannot be checked: set `verifyAbsent: { tableName }`",
    };
  }
  if (typeof keys !== "object" || keys === null || Array.isArray(keys) || Object.keys(keys).length === 0) {
    return { problem: "`dynamodb.Keys` is missing or empty, so whether its item exists again cannot be checked" };
  }
  return { table, key: keys as AttributeMap, name: "`dynamodb.Keys`" };
}
