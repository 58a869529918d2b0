/**
 * Type tests: checked by `tsc --noEmit` (tsconfig includes test/), never run by vitest.
 * Each `@ts-expect-error` line must be an error, or tsc fails on the unused directive.
 */
import { Logger as PowertoolsLogger } from "@aws-lambda-powertools/logger";
import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import middy from "@middy/core";
import type {
  KinesisStreamEvent as AwsKinesisStreamEvent,
  Context,
  DynamoDBBatchResponse,
  DynamoDBRecord,
  DynamoDBStreamEvent,
  DynamoDBStreamHandler,
  Handler,
  KinesisStreamBatchResponse,
  KinesisStreamHandler,
} from "aws-lambda";
import { expectTypeOf } from "vitest";
import * as api from "../src/index.js";
import {
  type BatchResponse,
  type CleanupEvent,
  type CleanupHandler,
  type CleanupOptions,
  type CleanupSummary,
  type CommonCleanupOptions,
  createCleanupHandler,
  createKeyMapper,
  type DeleteReport,
  type EventSourceKind,
  type KeyFunction,
  type KeySpec,
  type KinesisStreamEvent,
  type ObjectTarget,
  type RemovedItem,
  type StreamEvent,
  type StreamRecord,
} from "../src/index.js";
import {
  type DynamoDBStreamsClientLike,
  kinesisEvent,
  pipesEvent,
  type RunStreamOptions,
  runStream,
  type StreamRunReport,
} from "../src/testing/index.js";

declare const event: DynamoDBStreamEvent;
declare const context: Context;

const handler = createCleanupHandler({ bucket: "product-images", key: "images/{productId}.png" });

// The project compiles with exactOptionalPropertyTypes, the strictest setting a consumer can have:
// every line below also holds without it.

// The handler is a DynamoDBStreamHandler and takes Lambda's event and context.
expectTypeOf(handler).toEqualTypeOf<CleanupHandler>();
expectTypeOf(handler).toExtend<DynamoDBStreamHandler>();
expectTypeOf(handler).toBeCallableWith(event, context);
expectTypeOf(handler).toBeCallableWith(event);
export const asStreamHandler: DynamoDBStreamHandler = handler;
expectTypeOf<DynamoDBRecord>().toExtend<StreamRecord>();

// Its result is a DynamoDBBatchResponse.
expectTypeOf(handler).returns.resolves.toEqualTypeOf<BatchResponse>();
expectTypeOf(handler).returns.resolves.toExtend<DynamoDBBatchResponse>();
expectTypeOf<BatchResponse>().toEqualTypeOf<DynamoDBBatchResponse>();
export const response: Promise<DynamoDBBatchResponse> = handler(event, context);

// The same handler is a KinesisStreamHandler (Kinesis Data Streams for DynamoDB) and takes Lambda's
// Kinesis event.
declare const kinesis: AwsKinesisStreamEvent;
expectTypeOf(handler).toExtend<KinesisStreamHandler>();
export const asKinesisHandler: KinesisStreamHandler = handler;
expectTypeOf(handler).toBeCallableWith(kinesis, context);
expectTypeOf<AwsKinesisStreamEvent>().toExtend<KinesisStreamEvent>();
expectTypeOf(handler).returns.resolves.toExtend<KinesisStreamBatchResponse>();

// And a handler of EventBridge Pipes, which passes a bare array of DynamoDB records.
declare const pipesRecords: DynamoDBRecord[];
expectTypeOf(handler).toExtend<Handler<DynamoDBRecord[], DynamoDBBatchResponse>>();
export const asPipesHandler: Handler<DynamoDBRecord[], DynamoDBBatchResponse> = handler;
expectTypeOf(handler).toBeCallableWith(pipesRecords, context);

// CleanupEvent is exactly the three shapes; each of @types/aws-lambda's events fits it.
expectTypeOf<CleanupEvent>().toEqualTypeOf<StreamEvent | KinesisStreamEvent | StreamRecord[]>();
expectTypeOf<DynamoDBStreamEvent>().toExtend<CleanupEvent>();
expectTypeOf<AwsKinesisStreamEvent>().toExtend<CleanupEvent>();
expectTypeOf<DynamoDBRecord[]>().toExtend<CleanupEvent>();
// @ts-expect-error an SQS-style event of bodies is none of the three
expectTypeOf(handler).toBeCallableWith({ Records: [{ body: "{}" }] });

// The testing helpers build events the handler takes.
expectTypeOf(handler).toBeCallableWith(kinesisEvent([]));
expectTypeOf(handler).toBeCallableWith(pipesEvent([]));
expectTypeOf(kinesisEvent([])).toExtend<CleanupEvent>();

// ttlAttribute names an attribute; onResult gets the summary and may be async.
createCleanupHandler({ bucket: "b", key: "{id}", removals: "ttl", ttlAttribute: "expiresAt" });
// @ts-expect-error ttlAttribute is an attribute name
createCleanupHandler({ bucket: "b", key: "{id}", ttlAttribute: 1 });
createCleanupHandler({ bucket: "b", key: "{id}", onResult: (summary) => console.log(summary.deleted) });
createCleanupHandler({ bucket: "b", key: "{id}", onResult: async (summary) => void summary.source });
// @ts-expect-error onResult is a function
createCleanupHandler({ bucket: "b", key: "{id}", onResult: true });
expectTypeOf<CommonCleanupOptions["onResult"]>().toEqualTypeOf<
  ((summary: CleanupSummary) => void | Promise<void>) | undefined
>();
expectTypeOf<CleanupSummary["source"]>().toEqualTypeOf<EventSourceKind>();
expectTypeOf<EventSourceKind>().toEqualTypeOf<"dynamodb-streams" | "kinesis" | "pipes">();
expectTypeOf<CleanupSummary["batchItemFailures"]>().toEqualTypeOf<number | undefined>();
expectTypeOf<RemovedItem["itemIdentifier"]>().toEqualTypeOf<string>();

// Middy can wrap it.
export const wrapped = middy(handler);
expectTypeOf(wrapped).toBeCallableWith(event, context);
export const wrappedTyped = middy<DynamoDBStreamEvent, DynamoDBBatchResponse>().handler(handler);

// A Powertools Logger is a logger.
createCleanupHandler({
  bucket: "product-images",
  key: "images/{productId}.png",
  logger: new PowertoolsLogger({ serviceName: "cleanup" }),
});
createCleanupHandler({ bucket: "product-images", key: "images/{productId}.png", logger: console });
// @ts-expect-error a logger needs warn (and debug, info, error)
createCleanupHandler({ bucket: "b", key: "{id}", logger: { debug() {}, info() {}, error() {} } });

// Key functions: exact parameter and result types.
expectTypeOf<KeyFunction>().parameter(0).toEqualTypeOf<RemovedItem>();
createCleanupHandler({ key: (item) => `images/${String(item.keys.productId)}.png`, bucket: "b" });
createCleanupHandler({
  key: async (item): Promise<ObjectTarget[]> => [{ bucket: "b", key: item.sequenceNumber }],
  bucket: "b",
});
createCleanupHandler({ key: () => null, bucket: "b" });
createCleanupHandler({ key: () => undefined, bucket: "b" });
createCleanupHandler({ key: () => ["a", { bucket: "b", key: "c", versionId: "v" }], bucket: "b" });
createCleanupHandler({ key: { attribute: "imageKeys" }, bucket: "b" });
createCleanupHandler({ key: ["images/{productId}.png", "thumbs/{productId}.png"], bucket: "b" });
// @ts-expect-error a key function returns keys, not a number
createCleanupHandler({ key: () => 42, bucket: "b" });
// @ts-expect-error a key function's promise resolves to keys, not numbers
createCleanupHandler({ key: async () => [42], bucket: "b" });
// @ts-expect-error a key function takes a RemovedItem, not a string
createCleanupHandler({ key: (item: string) => item, bucket: "b" });
// @ts-expect-error a target needs a key
createCleanupHandler({ key: () => ({ bucket: "b" }), bucket: "b" });
// @ts-expect-error { attribute } takes an attribute name
createCleanupHandler({ key: { attribute: 1 }, bucket: "b" });

// CleanupOptions: no unknown names, only the documented literals.
// @ts-expect-error bukcet is not an option
createCleanupHandler({ bucket: "b", key: "{id}", bukcet: "b" });
// @ts-expect-error key is required
createCleanupHandler({ bucket: "b" });
// @ts-expect-error removals is "any", "ttl" or "user"
createCleanupHandler({ bucket: "b", key: "{id}", removals: "all" });
// @ts-expect-error onInvalidRecord is "fail" or "skip"
createCleanupHandler({ bucket: "b", key: "{id}", onInvalidRecord: "retry" });
// @ts-expect-error dryRun is a boolean
createCleanupHandler({ bucket: "b", key: "{id}", dryRun: "yes" });
// @ts-expect-error versions is "current" or "all"
createCleanupHandler({ bucket: "b", key: "{id}", versions: "latest" });
// @ts-expect-error contentMd5 is a boolean
createCleanupHandler({ bucket: "b", key: "{id}", contentMd5: "yes" });
// @ts-expect-error fallbackToSingleDeletes is a boolean
createCleanupHandler({ bucket: "b", key: "{id}", fallbackToSingleDeletes: 1 });
createCleanupHandler({ bucket: "b", key: "{id}", versions: "all", contentMd5: true, fallbackToSingleDeletes: false });
expectTypeOf<CleanupOptions["versions"]>().toEqualTypeOf<"current" | "all" | undefined>();
expectTypeOf<DeleteReport["fallback"]>().toEqualTypeOf<"single-deletes" | undefined>();
expectTypeOf<CleanupOptions["removals"]>().toEqualTypeOf<"any" | "ttl" | "user" | undefined>();
expectTypeOf<CleanupOptions["onInvalidRecord"]>().toEqualTypeOf<"fail" | "skip" | undefined>();

// bucket: required with a template, templates or { attribute }; a key function needs bucket,
// allowedBuckets or both.
// @ts-expect-error a template needs a bucket
createCleanupHandler({ key: "{id}" });
// @ts-expect-error an array of templates needs a bucket
createCleanupHandler({ key: ["{id}.png", "{id}.webp"] });
// @ts-expect-error { attribute } needs a bucket
createCleanupHandler({ key: { attribute: "a" } });
// @ts-expect-error an explicit undefined bucket is no bucket either
createCleanupHandler({ key: "{id}", bucket: undefined });
// @ts-expect-error allowedBuckets does not stand in for the bucket of a template's keys
createCleanupHandler({ key: "{id}", allowedBuckets: ["b"] });
createCleanupHandler({ key: "{id}", bucket: "b", allowedBuckets: ["c"] });
// @ts-expect-error a key function needs bucket or allowedBuckets
createCleanupHandler({ key: () => null });
// @ts-expect-error an explicit undefined bucket is no bucket for a key function either
createCleanupHandler({ key: () => ({ bucket: "b", key: "k" }), bucket: undefined });
// @ts-expect-error nor is an undefined allowedBuckets
createCleanupHandler({ key: () => ({ bucket: "b", key: "k" }), allowedBuckets: undefined });
createCleanupHandler({ key: async () => "k", bucket: "b" });
createCleanupHandler({
  allowedBuckets: ["prod-media", "prod-thumbs"],
  key: () => [{ bucket: "prod-media", key: "k" }],
});
createCleanupHandler({ key: () => ({ bucket: "b", key: "k" }), bucket: undefined, allowedBuckets: ["b"] });
createCleanupHandler({ key: () => "k", bucket: "b", allowedBuckets: ["c", "d"] });
declare const buckets: string[];
createCleanupHandler({ key: () => null, allowedBuckets: buckets });
// @ts-expect-error allowedBuckets lists bucket names
createCleanupHandler({ key: () => null, allowedBuckets: "b" });
expectTypeOf<CommonCleanupOptions["allowedBuckets"]>().toEqualTypeOf<readonly string[] | undefined>();
expectTypeOf<CommonCleanupOptions["tableNames"]>().toEqualTypeOf<readonly string[] | undefined>();

// createKeyMapper: the same rule.
createKeyMapper("{id}", { bucket: "b" });
// @ts-expect-error a template needs a bucket
createKeyMapper("{id}", { allowedBuckets: ["b"] });
// @ts-expect-error a mapper without options has nowhere to delete
createKeyMapper(() => null);
// @ts-expect-error nor with options that name no bucket
createKeyMapper(() => null, { allowedPrefixes: ["a/"] });
createKeyMapper(() => null, { allowedBuckets: ["b"] });
createKeyMapper(() => null, { bucket: "b" });
declare const anySpec: KeySpec;
createKeyMapper(anySpec, { bucket: "b" });
// @ts-expect-error a spec that may be a template needs a bucket
createKeyMapper(anySpec, { allowedBuckets: ["b"] });
expectTypeOf(createKeyMapper("{id}", { bucket: "b" })).returns.resolves.toEqualTypeOf<ObjectTarget[]>();
declare const spec: string | { attribute: string };
createCleanupHandler({ key: spec, bucket: "b" });
// @ts-expect-error a spec that may be a template needs a bucket
createCleanupHandler({ key: spec });

// CommonCleanupOptions: every option but key and bucket, for helpers that add those.
expectTypeOf<CommonCleanupOptions>().not.toHaveProperty("key");
expectTypeOf<CommonCleanupOptions>().not.toHaveProperty("bucket");
expectTypeOf<CleanupOptions>().toExtend<CommonCleanupOptions>();
expectTypeOf<CommonCleanupOptions["dryRun"]>().toEqualTypeOf<boolean | undefined>();
export const withTemplate = (common: CommonCleanupOptions) =>
  createCleanupHandler({ ...common, bucket: "b", key: "{id}" });
// @ts-expect-error a helper that adds a template must add a bucket too
export const withoutBucket = (common: CommonCleanupOptions) => createCleanupHandler({ ...common, key: "{id}" });

// The XML check of the deleter and the Content-MD5 middleware are private.
expectTypeOf(api).not.toHaveProperty("isXmlSafe");
expectTypeOf(api).not.toHaveProperty("withContentMd5");
expectTypeOf(api).toHaveProperty("createCleanupHandler");

// runStream's client is typed by its shape, so that the testing entry's types do not need the
// optional peer; a real DynamoDBStreamsClient fits it.
expectTypeOf<DynamoDBStreamsClient>().toExtend<DynamoDBStreamsClientLike>();
expectTypeOf<RunStreamOptions["client"]>().toEqualTypeOf<DynamoDBStreamsClientLike>();
expectTypeOf(
  runStream({ client: new DynamoDBStreamsClient({}), streamArn: "arn", handler }),
).resolves.toEqualTypeOf<StreamRunReport>();
// @ts-expect-error a client needs send
runStream({ client: {}, streamArn: "arn", handler });
// @ts-expect-error whose commands resolve
runStream({ client: { send: (_command: object) => 1 }, streamArn: "arn", handler });
