/**
 * dynamodb-s3-cleanup: delete the S3 objects of DynamoDB items removed by TTL or DeleteItem.
 *
 * Deliberately private: the AttributeValue reader, the limiter, the template compiler, the
 * Content-MD5 middleware, the option schemas, the event-source adapters and the prefix expander.
 * They may change in any release.
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
export type { FilterCriteria, FilterCriteriaOptions } from "./deployment.js";
export {
  filterCriteria,
  KINESIS_REMOVE_ONLY_FILTER_CRITERIA,
  KINESIS_TTL_REMOVE_ONLY_FILTER_CRITERIA,
  RECOMMENDED_EVENT_SOURCE_MAPPING,
  REMOVE_ONLY_FILTER_CRITERIA,
  REMOVE_ONLY_PATTERN,
  recommendedEventSourceMapping,
  TTL_REMOVE_ONLY_FILTER_CRITERIA,
  TTL_REMOVE_ONLY_PATTERN,
} from "./deployment.js";
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
  isPresenceCheckError,
  KeyMappingError,
  PresenceCheckError,
} from "./errors.js";
export type {
  DiscardedRange,
  FailureMessage,
  FailureObject,
  FailureObjectRef,
} from "./failure-destination-records.js";
export { batchOfFailureRecord, failureMessagesOf, failureObjectOf } from "./failure-destination-records.js";
export type { CleanupEnvVariable } from "./from-env.js";
export { CLEANUP_ENV_VARIABLES, createCleanupHandlerFromEnv } from "./from-env.js";
export type { CleanupOptions, CommonCleanupOptions } from "./handler.js";
export { createCleanupHandler } from "./handler.js";
export type { KeyFunction, KeyFunctionResult, KeyMapper, KeyMapperOptions, KeySpec } from "./key-mapper.js";
export { createKeyMapper, MAX_KEY_BYTES } from "./key-mapper.js";
export type { EmfMetricsOptions, MetricsSummary } from "./metrics.js";
export { EMF_METRICS, emfMetrics } from "./metrics.js";
export type {
  InvalidRecord,
  NativeMap,
  ParsedBatch,
  ParseOptions,
  RemovedItem,
  SkippedRecord,
} from "./parse-stream-records.js";
export { isTtlRemoval, parseStreamRecords } from "./parse-stream-records.js";
export type {
  ReplayEvent,
  ReplayHandler,
  ReplayMessage,
  ReplayOnlyOptions,
  ReplayOptions,
  ReplaySummary,
} from "./replay-handler.js";
export { createReplayHandler, createReplayHandlerFromEnv } from "./replay-handler.js";
export { compareSequenceNumbers } from "./report.js";
export type {
  AttributeMap,
  AttributeValue,
  AwsClientLike,
  BatchItemFailure,
  BatchResponse,
  CleanupContext,
  CleanupEvent,
  CleanupHandler,
  CleanupSummary,
  CleanupTarget,
  EventSourceKind,
  KinesisStreamEvent,
  KinesisStreamRecord,
  Logger,
  ObjectTarget,
  PrefixTarget,
  RemovalFilter,
  StreamEvent,
  StreamRecord,
  StreamRecordData,
} from "./types.js";
