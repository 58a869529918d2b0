/**
 * The key space of a reconcile, split for parallel listing. Each prefix to list is one partition; a
 * run with fewer prefixes than `concurrency` splits them further at the first keys of their
 * first-character ranges, found with one-key listings. Partitions cover every key under the
 * prefixes exactly once, however well the split guesses: a partition is the keys after `startAfter`
 * up to and including `endAt`, in S3's order.
 */
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { abortable, sendOptions } from "./abort.js";
import { decodeListedKey } from "./object-target.js";

/** A range of keys under one prefix: after `startAfter` (or from the prefix's first key) up to and including `endAt` (or its last). */
export interface Partition {
  prefix: string;
  startAfter?: string | undefined;
  endAt?: string | undefined;
}

/**
 * The most one-key listings a split sends per prefix to find first characters. Keys drawn from hex
 * or base-62 alphabets need at most 16 or 62; beyond this the last range takes the rest.
 */
export const MAX_SPLIT_PROBES = 64;

/**
 * Compares two keys in S3's listing order, which is UTF-8 byte order, the same as code point order
 * (not JavaScript's UTF-16 order, which differs for characters beyond U+FFFF).
 */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    // At the low half of a pair the halves before were equal, so the low halves decide alike.
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x - y;
  }
  return a.length - b.length;
}

/**
 * The prefixes to list: each given one, less those that lie under another (listing `images/`
 * already lists `images/thumbs/`), in S3's order.
 */
export function distinctPrefixes(prefixes: readonly string[]): string[] {
  const sorted = [...new Set(prefixes)].sort(compareKeys);
  return sorted.filter((prefix) => !sorted.some((other) => other !== prefix && prefix.startsWith(other)));
}

/** Whether `key` lies in `partition`. */
export function inPartition(partition: Partition, key: string): boolean {
  if (!key.startsWith(partition.prefix)) return false;
  if (partition.startAfter !== undefined && compareKeys(key, partition.startAfter) <= 0) return false;
  return partition.endAt === undefined || compareKeys(key, partition.endAt) <= 0;
}

/**
 * Splits `prefixes` into at most `concurrency` partitions (never fewer than the prefixes): while
 * there are fewer prefixes than `concurrency`, each prefix is split into ranges by the first
 * character after it, found with one-key listings ({@link MAX_SPLIT_PROBES} at most per prefix).
 * Never rejects: a prefix whose split listings fail is one partition.
 */
export async function splitKeySpace(
  s3Client: S3Client,
  bucket: string,
  prefixes: readonly string[],
  concurrency: number,
  signal?: AbortSignal | undefined,
): Promise<Partition[]> {
  const distinct = distinctPrefixes(prefixes);
  const partitions: Partition[] = [];
  let spare = Math.max(concurrency - distinct.length, 0);
  for (const prefix of distinct) {
    // The spare partitions go to the prefixes in turn, as long as each has first characters to split at.
    // A split is only a guess at balance: when its listings fail, the prefix is listed whole.
    const firstKeys = spare > 0 ? await firstKeysByCharacter(s3Client, bucket, prefix, signal).catch(() => []) : [];
    const ranges = Math.min(firstKeys.length, spare + 1);
    spare -= Math.max(ranges - 1, 0);
    // The first keys where ranges 2..n begin: evenly spaced among the characters found.
    const starts = Array.from(
      { length: Math.max(ranges - 1, 0) },
      (_, index) => firstKeys[Math.round(((index + 1) * firstKeys.length) / ranges)] as string,
    );
    let startAfter: string | undefined;
    for (const start of starts) {
      partitions.push(withBounds(prefix, startAfter, start));
      startAfter = start;
    }
    partitions.push(withBounds(prefix, startAfter, undefined));
  }
  return partitions;
}

/**
 * A partition whose range ends just before `nextStart`: the partitions are (startAfter, endAt] and
 * the next one must hold `nextStart`, so this one ends at it and the next starts after it; the key
 * `nextStart` itself goes to this one.
 */
function withBounds(prefix: string, startAfter: string | undefined, nextStart: string | undefined): Partition {
  const partition: Partition = { prefix };
  if (startAfter !== undefined) partition.startAfter = startAfter;
  if (nextStart !== undefined) partition.endAt = nextStart;
  return partition;
}

/** The first key under `prefix` of each distinct character that follows it, in order. */
async function firstKeysByCharacter(
  s3Client: S3Client,
  bucket: string,
  prefix: string,
  signal: AbortSignal | undefined,
): Promise<string[]> {
  const keys: string[] = [];
  let startAfter: string | undefined;
  while (keys.length < MAX_SPLIT_PROBES) {
    const output = await abortable(
      s3Client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          MaxKeys: 1,
          EncodingType: "url",
          ...(startAfter === undefined ? {} : { StartAfter: startAfter }),
        }),
        sendOptions(signal),
      ),
      signal,
    );
    const listed = output.Contents?.[0]?.Key;
    if (listed === undefined) break;
    const key = output.EncodingType === "url" ? decodeListedKey(listed) : listed;
    if (!key.startsWith(prefix)) break;
    if (key === prefix) {
      startAfter = key;
      continue;
    }
    const character = String.fromCodePoint(key.codePointAt(prefix.length) as number);
    if (keys.length > 0 && (keys[keys.length - 1] as string).startsWith(prefix + character)) break;
    keys.push(key);
    // After every key that starts with this character (up to the highest code point after it).
    startAfter = `${prefix}${character}\u{10FFFF}`;
  }
  return keys;
}
