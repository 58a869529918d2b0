/** Starts the local servers the integration tests and the demo need, and stops them again. */
import { startDynamoDBLocal } from "./dynamodb-local.js";
import { startMoto } from "./moto.js";
import { reapOrphans, type Service } from "./process.js";

export type { Service } from "./process.js";

/** The running servers' endpoints, and a stop that ends exactly the processes started here. */
export interface LocalServices {
  /** moto: S3 and DynamoDB Streams. */
  moto: Service;
  /** DynamoDB Local: tables, streams and real TTL expiry. */
  dynamodbLocal: Service;
  stop(): Promise<void>;
}

/** Starts moto and DynamoDB Local side by side; if either fails, stops the other and throws. */
export async function startLocalServices(): Promise<LocalServices> {
  reapOrphans();
  const [moto, dynamodbLocal] = await Promise.allSettled([startMoto(), startDynamoDBLocal()]);
  const started = [moto, dynamodbLocal].flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const stop = async () => {
    await Promise.all(started.map((service) => service.stop()));
  };
  if (moto.status === "rejected" || dynamodbLocal.status === "rejected") {
    await stop();
    const reasons = [moto, dynamodbLocal].flatMap((result) =>
      result.status === "rejected" ? [String((result.reason as Error).message ?? result.reason)] : [],
    );
    throw new Error(`Could not start the local services:\n- ${reasons.join("\n- ")}`);
  }
  return { moto: moto.value, dynamodbLocal: dynamodbLocal.value, stop };
}

/** Credentials and settings for SDK clients against the local services. */
export const localClientConfig = (endpoint: string) => ({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "local", secretAccessKey: "local" },
});
