/**
 * dynamodb-s3-cleanup: delete the S3 objects of DynamoDB items removed by TTL or DeleteItem.
 *
 * Deliberately private: the AttributeValue reader, the limiter, the template compiler, the
 * Content-MD5 middleware and the option schemas. They may change in any release.
 */

export type { NativeValue } from "./attribute-value.js";
export type {
  BatchDeleter,
  BatchDeleterOptions,
  DeleteCallOptions,
  DeleteReport,
  FailedTarget,
} from "./batch-deleter.js";
export { createBatchDeleter, MAX_KEYS_PER_REQUEST } from "./batch-deleter.js";
export type { ConfigIssue, RecordRef } from "./errors.js";
export {
  CleanupError,
  ConfigError,
  InvalidEventError,
  InvalidRecordError,
  isCleanupError,
  isConfigError,
  isInvalidEventError,
  isInvalidRecordError,
  isKeyMappingError,
  KeyMappingError,
} from "./errors.js";
export type { CleanupOptions, CommonCleanupOptions } from "./handler.js";
export { createCleanupHandler } from "./handler.js";
export type { KeyFunction, KeyFunctionResult, KeyMapper, KeyMapperOptions, KeySpec } from "./key-mapper.js";
export { createKeyMapper, MAX_KEY_BYTES } from "./key-mapper.js";
export type {
  InvalidRecord,
  NativeMap,
  ParsedBatch,
  ParseOptions,
  RemovedItem,
  SkippedRecord,
} from "./parse-stream-records.js";
export { isTtlRemoval, parseStreamRecords } from "./parse-stream-records.js";
export { compareSequenceNumbers } from "./report.js";
export type {
  AttributeMap,
  AttributeValue,
  BatchItemFailure,
  BatchResponse,
  CleanupContext,
  CleanupHandler,
  Logger,
  ObjectTarget,
  RemovalFilter,
  StreamEvent,
  StreamRecord,
  StreamRecordData,
} from "./types.js";
