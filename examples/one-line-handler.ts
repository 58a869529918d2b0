/**
 * The whole Lambda: delete `{productId}.png` from the `product-images` bucket whenever a product item
 * is removed from the table (by TTL or by DeleteItem).
 */
import { createCleanupHandler } from "dynamodb-s3-cleanup";

export const handler = createCleanupHandler({ bucket: "product-images", key: "{productId}.png" });
