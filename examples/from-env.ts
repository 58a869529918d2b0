/**
 * Deploying without code of your own: the function runs the package's entry point
 * `dynamodb-s3-cleanup/lambda`, and environment variables configure it. Set them in your template
 * (SAM `Environment.Variables`, CDK `environment`, Terraform `environment { variables }`), and point
 * the function at the entry point in one of two ways:
 *
 * - deploy `node_modules` as it is, with the handler setting
 *   `node_modules/dynamodb-s3-cleanup/dist/lambda.handler`;
 * - or bundle a one-line file: `export { handler } from "dynamodb-s3-cleanup/lambda";`
 *   (see examples/deploy/cdk).
 *
 * A wrong or misspelt variable fails the function at init, with a ConfigError naming it.
 */
import { S3Client } from "@aws-sdk/client-s3";
import { type CleanupEnvVariable, createCleanupHandlerFromEnv } from "dynamodb-s3-cleanup";

/** The function's environment. Typed against the package's list, so a misspelt name does not compile. */
export const environment = {
  CLEANUP_BUCKET: "product-images",
  CLEANUP_KEY: "images/{productId}.png",
  CLEANUP_REMOVALS: "ttl",
  CLEANUP_ALLOWED_PREFIXES: "images/",
  CLEANUP_METRICS_NAMESPACE: "ProductImages",
  CLEANUP_METRICS_DIMENSIONS: JSON.stringify({ Table: "products" }),
} satisfies Partial<Record<CleanupEnvVariable, string>>;

/** The handler setting when `node_modules` is deployed as it is. */
export const HANDLER_SETTING = "node_modules/dynamodb-s3-cleanup/dist/lambda.handler";

/**
 * With a few lines of code instead: the variables configure the handler, and the code passes what a
 * variable cannot carry, such as a client of your own.
 */
export const handler = createCleanupHandlerFromEnv(process.env, { s3Client: new S3Client({ maxAttempts: 5 }) });
