/**
 * The benchmark events, as the JSON text Lambda's runtime receives: REMOVE records of a products
 * table made by the library's own record factories (TTL expiries: userIdentity set, sequence
 * numbers growing, eventID and SizeBytes filled in), so they have every field a real record has.
 *
 * - KEYS_ONLY: `Keys` = { productId }.
 * - OLD_IMAGE: `Keys` and a 10-attribute `OldImage` (6 S, 4 N), about 0.9 KB a record.
 *
 * The same arguments always give the same text.
 */
import { createRecordFactory, type Item, streamEvent } from "../src/testing/index.js";
import type { StreamRecord } from "../src/types.js";

/** The stream view types the benchmarks use. */
export type BenchViewType = "KEYS_ONLY" | "OLD_IMAGE";

/** Lambda's limit on an invocation's payload, which bounds a stream batch: 6 MB. */
export const LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024;

/** The template the benchmarks map keys with: it reads the key attribute. */
export const KEY_TEMPLATE = "{productId}.png";

/** The bucket the benchmarks' keys go to. */
export const BUCKET = "product-images";

const WORDS = ["steel", "bamboo", "ceramic", "linen", "walnut", "copper", "glass", "wool", "oak", "slate"];

/** A product item of 10 attributes, 6 strings and 4 numbers, sized like a real catalogue row. */
function product(i: number): Item {
  const productId = `p-${String(i).padStart(7, "0")}`;
  const word = (n: number) => WORDS[(i + n) % WORDS.length] as string;
  return {
    productId,
    name: `${word(0)} ${word(3)} water bottle, ${500 + (i % 5) * 250} ml`,
    description:
      `A ${word(1)} and ${word(2)} bottle that keeps drinks cold for 24 hours and hot for 12. ` +
      `Leak-proof lid, fits most cup holders, dishwasher safe. Batch ${i % 997}.`,
    category: `kitchen/drinkware/${word(4)}`,
    imageKey: `images/${productId}.png`,
    updatedAt: new Date(Date.UTC(2026, 0, 1) + i * 61_000).toISOString(),
    price: (1999 + (i % 5000)) / 100,
    stock: (i * 37) % 1000,
    rating: (i % 50) / 10,
    expiresAt: 1_795_000_000 + i,
  };
}

/** `count` TTL REMOVE records of the given view type. */
export function removeRecords(view: BenchViewType, count: number): StreamRecord[] {
  const factory = createRecordFactory({ tableName: "products", region: "eu-west-1" });
  const records: StreamRecord[] = [];
  for (let i = 0; i < count; i++) records.push(removeRecord(factory, view, i));
  return records;
}

function removeRecord(factory: ReturnType<typeof createRecordFactory>, view: BenchViewType, i: number): StreamRecord {
  const item = product(i);
  return factory.ttlRemoveRecord({
    keys: { productId: item.productId },
    ...(view === "OLD_IMAGE" ? { oldImage: item } : {}),
    streamViewType: view,
    approximateCreationDateTime: 1_795_000_000 + Math.floor(i / 100),
  });
}

/** The JSON text of an event of `count` REMOVE records. */
export function eventText(view: BenchViewType, count: number): string {
  return JSON.stringify(streamEvent(...removeRecords(view, count)));
}

/** The JSON text of the largest event of REMOVE records that fits in `maxBytes`, and its record count. */
export function eventTextUpTo(view: BenchViewType, maxBytes: number): { text: string; records: number } {
  const factory = createRecordFactory({ tableName: "products", region: "eu-west-1" });
  const parts: string[] = [];
  let bytes = '{"Records":[]}'.length;
  for (let i = 0; ; i++) {
    const part = JSON.stringify(removeRecord(factory, view, i));
    const added = Buffer.byteLength(part) + (i === 0 ? 0 : 1);
    if (bytes + added > maxBytes) break;
    parts.push(part);
    bytes += added;
  }
  return { text: `{"Records":[${parts.join(",")}]}`, records: parts.length };
}
