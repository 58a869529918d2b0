/**
 * Prefix targets: each product keeps any number of media files under `products/{productId}/`, and
 * the cleanup deletes everything under that prefix. The key function returns `{ bucket, prefix }`;
 * `allowedPrefixes` is required, and each prefix must lie strictly inside one of them and end with
 * `prefixDelimiter` ("/" by default).
 *
 * The function needs s3:ListBucket on the bucket besides s3:DeleteObject on the objects.
 */
import { createCleanupHandler } from "dynamodb-s3-cleanup";

export const handler = createCleanupHandler({
  bucket: "product-media",
  key: (item) => ({ bucket: "product-media", prefix: `products/${String(item.keys.productId)}/` }),
  allowedPrefixes: ["products/"],
  // At most this many objects are listed per invocation; a larger prefix is finished by redelivery.
  maxListedObjects: 10_000,
});
