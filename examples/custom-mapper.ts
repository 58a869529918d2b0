/**
 * A key function: full control over which objects belong to a removed item. Here an order keeps its
 * invoice in one bucket and, when it had one, a photo in another, which `allowedBuckets` must name:
 * a target in any other bucket makes its record invalid. Only TTL expiries clean up.
 */
import { createCleanupHandler, type KeyFunction } from "dynamodb-s3-cleanup";

const orderObjects: KeyFunction = (item) => {
  const orderId = String(item.keys.orderId);
  const photo = item.oldImage?.photoKey;
  return [`invoices/${orderId}.pdf`, ...(typeof photo === "string" ? [{ bucket: "order-photos", key: photo }] : [])];
};

export const handler = createCleanupHandler({
  bucket: "order-documents",
  allowedBuckets: ["order-photos"],
  key: orderObjects,
  removals: "ttl",
  allowedPrefixes: ["invoices/", "photos/"],
});
