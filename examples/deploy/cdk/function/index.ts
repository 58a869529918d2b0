// The whole function: the published entry point, configured by the CLEANUP_* variables the stack sets.
export { handler } from "dynamodb-s3-cleanup/lambda";
