/**
 * The AWS SDK clients beyond S3, which only replay and `verifyAbsent` need: each comes from an
 * optional peer package, loaded and created the first time it is used, so that the cleanup
 * handler of a stream that needs none of them never loads them.
 */
import { ConfigError } from "./errors.js";
import type { AwsClientLike } from "./types.js";

/** A client as the factories hold it: resolved once, then the same client every time. */
export type ClientSource = () => Promise<AwsClientLike>;

/**
 * The given client, or one created with default settings on first use by `create` (which imports
 * its package). A package that cannot be loaded rejects with a ConfigError naming the package and
 * the option, and is tried again on the next use.
 */
export function lazyClient(
  given: AwsClientLike | undefined,
  option: string,
  packageName: string,
  create: () => Promise<AwsClientLike>,
): ClientSource {
  if (given !== undefined) return () => Promise.resolve(given);
  let client: Promise<AwsClientLike> | undefined;
  return () => {
    client ??= create().catch((error: unknown) => {
      client = undefined;
      throw new ConfigError(
        [
          {
            path: option,
            message: `is needed, and ${packageName} could not be loaded to create one: install it, or pass ${option}`,
          },
        ],
        { cause: error },
      );
    });
    return client;
  };
}

/** The DynamoDB client of `verifyAbsent`. */
export const dynamoDbClientOf = (given: AwsClientLike | undefined): ClientSource =>
  lazyClient(given, "dynamoDbClient", "@aws-sdk/client-dynamodb", async () => {
    const { DynamoDBClient } = await import("@aws-sdk/client-dynamodb");
    return new DynamoDBClient({});
  });

/** The DynamoDB Streams client of the replay handler. */
export const streamsClientOf = (given: AwsClientLike | undefined): ClientSource =>
  lazyClient(given, "streamsClient", "@aws-sdk/client-dynamodb-streams", async () => {
    const { DynamoDBStreamsClient } = await import("@aws-sdk/client-dynamodb-streams");
    return new DynamoDBStreamsClient({});
  });

/** The Kinesis client of the replay handler. */
export const kinesisClientOf = (given: AwsClientLike | undefined): ClientSource =>
  lazyClient(given, "kinesisClient", "@aws-sdk/client-kinesis", async () => {
    const { KinesisClient } = await import("@aws-sdk/client-kinesis");
    return new KinesisClient({});
  });
