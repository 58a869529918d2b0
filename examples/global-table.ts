/**
 * A global table: run the cleanup in one Region only. TTL fires in one Region, and the other
 * replicas' streams get the removal without userIdentity, like a user's DeleteItem. `ttlAttribute`
 * recognises those by the item's expiry time, read from the OldImage (the stream must carry it;
 * global tables use NEW_AND_OLD_IMAGES). Filter the mapping with REMOVE_ONLY_FILTER_CRITERIA, not
 * with the TTL filter, which would drop the replicated expiries.
 */
import { createCleanupHandler } from "dynamodb-s3-cleanup";

export const handler = createCleanupHandler({
  bucket: "product-images",
  key: "{productId}.png",
  removals: "ttl",
  ttlAttribute: "expiresAt",
});
