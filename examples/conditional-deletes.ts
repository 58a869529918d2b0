/**
 * Conditional deletes: each product stores its image's ETag, and the cleanup deletes the image only
 * while it is still that one. A product deleted and created again under the same id keeps its new
 * image, even when a stale or redelivered REMOVE of the old product arrives afterwards.
 *
 * The stream must carry the OldImage (OLD_IMAGE or NEW_AND_OLD_IMAGES), and the function needs
 * s3:GetObject on the images besides s3:DeleteObject.
 */
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { createCleanupHandler } from "dynamodb-s3-cleanup";

const s3 = new S3Client({});
const dynamodb = new DynamoDBClient({});

/** The app's side: write the image, then the item with the ETag S3 returned (quotes included). */
export async function saveProduct(id: string, image: Uint8Array): Promise<void> {
  const { ETag } = await s3.send(new PutObjectCommand({ Bucket: "product-images", Key: `${id}.png`, Body: image }));
  if (ETag === undefined) throw new Error("S3 returned no ETag");
  await dynamodb.send(
    new PutItemCommand({ TableName: "products", Item: { productId: { S: id }, imageEtag: { S: ETag } } }),
  );
}

/** The cleanup's side: an image replaced since its item was written is kept, and counted as keptReplaced. */
export const handler = createCleanupHandler({
  bucket: "product-images",
  key: "{productId}.png",
  etagAttribute: "imageEtag",
});
