/**
 * A key function that waits for I/O: the objects of a removed product are listed in another table.
 * The function gets the invocation's signal as its second argument and passes it on, so that a slow
 * lookup stops when its share of the time budget is spent; the handler then reports the records it
 * could not map, and Lambda delivers them again.
 */
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { createCleanupHandler } from "dynamodb-s3-cleanup";

const dynamodb = new DynamoDBClient({});

export const handler = createCleanupHandler({
  bucket: "product-media",
  allowedPrefixes: ["media/"],
  key: async (item, { signal }) => {
    const { Item } = await dynamodb.send(
      new GetItemCommand({
        TableName: "product-media-index",
        Key: { productId: { S: String(item.keys.productId) } },
        ProjectionExpression: "mediaKeys",
      }),
      { abortSignal: signal },
    );
    return Item?.mediaKeys?.SS ?? null;
  },
});
