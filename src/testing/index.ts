/**
 * dynamodb-s3-cleanup/testing: aids for users' own tests and demos, not for production (there,
 * Lambda's event source mapping reads the stream).
 *
 * - Record factories build realistic, Lambda-shaped stream records from plain items.
 * - `runStream` feeds a real DynamoDB stream (DynamoDB Local, moto, AWS) to a handler the way an
 *   event source mapping does. It needs the optional peer @aws-sdk/client-dynamodb-streams, which
 *   it loads only when called. With `onFailure` it writes Lambda's on-failure record of each
 *   discarded batch to an SQS queue or S3 bucket (loading @aws-sdk/client-sqs or client-s3).
 * - `failureRecordOf` builds that record by itself, for tests of a replay.
 */

export type {
  DynamoDBStreamBatchInfo,
  FailureRecord,
  FailureRecordInput,
} from "./failure-records.js";
export { failureObjectKeyOf, failureRecordOf } from "./failure-records.js";
export type {
  InsertRecordOptions,
  Item,
  ModifyRecordOptions,
  RecordFactory,
  RecordFactoryOptions,
  RecordOptions,
  RecordOverrides,
  RemoveRecordOptions,
  StreamSourceOptions,
  StreamViewType,
} from "./records.js";
export {
  createRecordFactory,
  insertRecord,
  modifyRecord,
  removeRecord,
  streamEvent,
  ttlRemoveRecord,
} from "./records.js";
export type { KinesisEventOptions } from "./sources.js";
export { kinesisEvent, pipesEvent } from "./sources.js";
export type {
  DiscardedBatch,
  DynamoDBStreamsClientLike,
  FailureRecordLocation,
  OnFailureDestination,
  RunStreamOptions,
  S3ClientLike,
  SqsClientLike,
  StreamBatch,
  StreamHandler,
  StreamRunnerContext,
  StreamRunReport,
} from "./stream-runner.js";
export { runStream } from "./stream-runner.js";
