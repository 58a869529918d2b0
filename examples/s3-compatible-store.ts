/**
 * An S3-compatible store that wants Content-MD5 on DeleteObjects (older MinIO, Ceph, ...): send it
 * from the start instead of falling back to one DeleteObject call per object.
 */
import { S3Client } from "@aws-sdk/client-s3";
import { createCleanupHandler } from "dynamodb-s3-cleanup";

const s3Client = new S3Client({ endpoint: "https://minio.internal.example:9000", forcePathStyle: true });

export const handler = createCleanupHandler({
  bucket: "product-images",
  key: "{productId}.png",
  s3Client,
  contentMd5: true,
});
