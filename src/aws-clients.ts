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
 * its package). A package that cannot be loaded rejects with a ConfigError naming the package, and
 * is tried again on the next use.
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
            message: `needs ${packageName}, which could not be loaded: install it`,
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

/**
 * A client per region, for the streams a replay reads: each is read in the region its ARN names,
 * whatever the function's own region. A given client is used for every region.
 */
export type RegionalClientSource = (region: string | undefined) => Promise<AwsClientLike>;

function regionalClient(
  given: AwsClientLike | undefined,
  option: string,
  packageName: string,
  create: (region: string | undefined) => Promise<AwsClientLike>,
): RegionalClientSource {
  const byRegion = new Map<string | undefined, ClientSource>();
  return (region) => {
    let source = byRegion.get(region);
    if (source === undefined) {
      source = lazyClient(given, option, packageName, () => create(region));
      byRegion.set(region, source);
    }
    return source();
  };
}

/** The DynamoDB Streams clients of the replay handler. */
export const streamsClientOf = (given: AwsClientLike | undefined): RegionalClientSource =>
  regionalClient(given, "streamsClient", "@aws-sdk/client-dynamodb-streams", async (region) => {
    const { DynamoDBStreamsClient } = await import("@aws-sdk/client-dynamodb-streams");
    return new DynamoDBStreamsClient(region === undefined ? {} : { region });
  });

/** The Kinesis clients of the replay handler. */
export const kinesisClientOf = (given: AwsClientLike | undefined): RegionalClientSource =>
  regionalClient(given, "kinesisClient", "@aws-sdk/client-kinesis", async (region) => {
    const { KinesisClient } = await import("@aws-sdk/client-kinesis");
    return new KinesisClient(region === undefined ? {} : { region });
  });
