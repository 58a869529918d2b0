/**
 * A versioned bucket: purge every version and delete marker of each removed product's image, so that
 * nothing of it stays behind. The function needs s3:ListBucketVersions on the bucket and
 * s3:DeleteObjectVersion on the objects.
 */
import { createCleanupHandler } from "dynamodb-s3-cleanup";

export const handler = createCleanupHandler({ bucket: "product-images", key: "{productId}.png", versions: "all" });
