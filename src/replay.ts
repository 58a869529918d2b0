/**
 * The published zero-code entry point of the replay function, `dynamodb-s3-cleanup/replay`: a Lambda
 * handler for the SQS queue of on-failure records, configured by the same `CLEANUP_*` environment
 * variables as `dynamodb-s3-cleanup/lambda`. Importing it validates them and throws a ConfigError
 * naming every bad variable, so a misconfigured function fails at init.
 */
import { createReplayHandlerFromEnv } from "./replay-handler.js";

/** The handler, built once per cold start from `process.env` by `createReplayHandlerFromEnv()`. */
export const handler = createReplayHandlerFromEnv();
