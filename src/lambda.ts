/**
 * The published zero-code entry point, `dynamodb-s3-cleanup/lambda`: a Lambda handler configured
 * by `CLEANUP_*` environment variables (see `CLEANUP_ENV_VARIABLES`). Importing it validates them
 * and throws a ConfigError naming every bad variable, so a misconfigured function fails at init.
 */
import { createCleanupHandlerFromEnv } from "./from-env.js";

/** The handler, built once per cold start from `process.env` by `createCleanupHandlerFromEnv()`. */
export const handler = createCleanupHandlerFromEnv();
