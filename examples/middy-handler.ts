/**
 * The handler inside middy, next to other middlewares: here Powertools' `injectLambdaContext`, which
 * adds the request id and cold start to every line the cleanup logs through the same Logger.
 * The handler is a plain async function, so any middy middleware that suits a stream handler fits.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import { createCleanupHandler } from "dynamodb-s3-cleanup";

const logger = new Logger({ serviceName: "product-images-cleanup" });

export const handler = middy<DynamoDBStreamEvent, DynamoDBBatchResponse>()
  .use(injectLambdaContext(logger))
  .handler(createCleanupHandler({ bucket: "product-images", key: "images/{productId}.png", removals: "ttl", logger }));
