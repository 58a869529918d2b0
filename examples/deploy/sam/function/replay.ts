// The whole replay function: the published entry point, configured by the same CLEANUP_* variables.
export { handler } from "dynamodb-s3-cleanup/replay";
