/**
 * Public types. The event and response types are declared here, structurally compatible with
 * `@types/aws-lambda`, so that users need not install it (test/types.test-d.ts proves the fit).
 */

/** A DynamoDB AttributeValue as it appears in Lambda's stream event JSON. */
export interface AttributeValue {
  S?: string | null | undefined;
  N?: string | null | undefined;
  B?: string | null | undefined;
  SS?: string[] | null | undefined;
  NS?: string[] | null | undefined;
  BS?: string[] | null | undefined;
  M?: { [name: string]: AttributeValue } | null | undefined;
  L?: AttributeValue[] | null | undefined;
  NULL?: boolean | null | undefined;
  BOOL?: boolean | null | undefined;
}

/** An attribute map: `Keys`, `OldImage` or `NewImage`. */
export type AttributeMap = { [name: string]: AttributeValue };

/** The `dynamodb` part of a stream record. Every field is optional in AWS's API model. */
export interface StreamRecordData {
  ApproximateCreationDateTime?: number | undefined;
  Keys?: AttributeMap | undefined;
  NewImage?: AttributeMap | undefined;
  OldImage?: AttributeMap | undefined;
  SequenceNumber?: string | undefined;
  SizeBytes?: number | undefined;
  StreamViewType?: string | undefined;
}

/** One record of a DynamoDB stream event, as Lambda's event source mapping delivers it. */
export interface StreamRecord {
  eventID?: string | undefined;
  eventName?: string | undefined;
  eventVersion?: string | undefined;
  eventSource?: string | undefined;
  awsRegion?: string | undefined;
  eventSourceARN?: string | undefined;
  userIdentity?: unknown;
  dynamodb?: StreamRecordData | undefined;
}

/** The event Lambda passes to a function subscribed to a DynamoDB stream. */
export interface StreamEvent {
  Records: StreamRecord[];
}

/**
 * One record of a Kinesis event. With Kinesis Data Streams for DynamoDB, `kinesis.data` is base64
 * JSON of a DynamoDB record (with `tableName`, and `userIdentity: null` for users' deletes).
 */
export interface KinesisStreamRecord {
  kinesis: {
    data: string;
    sequenceNumber: string;
    partitionKey?: string | undefined;
    kinesisSchemaVersion?: string | undefined;
    approximateArrivalTimestamp?: number | undefined;
  };
  eventSource?: string | undefined;
  eventID?: string | undefined;
  eventName?: string | undefined;
  eventVersion?: string | undefined;
  eventSourceARN?: string | undefined;
  awsRegion?: string | undefined;
  invokeIdentityArn?: string | undefined;
}

/** The event Lambda passes to a function subscribed to a Kinesis data stream. */
export interface KinesisStreamEvent {
  Records: KinesisStreamRecord[];
}

/**
 * Any event the handler takes: from a DynamoDB stream, from Kinesis Data Streams for DynamoDB, or
 * from EventBridge Pipes (a bare array of DynamoDB stream records).
 */
export type CleanupEvent = StreamEvent | KinesisStreamEvent | StreamRecord[];

/**
 * One entry of the partial batch response: the record to redeliver, by its sequence number
 * (`eventID` for EventBridge Pipes).
 */
export interface BatchItemFailure {
  itemIdentifier: string;
}

/** The partial batch response (ReportBatchItemFailures). */
export interface BatchResponse {
  batchItemFailures: BatchItemFailure[];
}

/**
 * The part of the Lambda context the handler reads. Lambda's own `Context` fits; so does `undefined`
 * (then no time budget applies).
 */
export interface CleanupContext {
  getRemainingTimeInMillis?(): number;
}

/**
 * The handler `createCleanupHandler` returns. It is assignable to `DynamoDBStreamHandler` and
 * `KinesisStreamHandler` of @types/aws-lambda, and to a handler of `DynamoDBRecord[]` (Pipes).
 */
export type CleanupHandler = (event: CleanupEvent, context?: CleanupContext) => Promise<BatchResponse>;

/** An S3 object to delete. Without `versionId`, a versioned bucket only adds a delete marker. */
export interface ObjectTarget {
  bucket: string;
  key: string;
  versionId?: string;
  /**
   * Delete only while the object's ETag is this one (a conditional delete). When the object has
   * been replaced since, S3 answers PreconditionFailed and the object is kept.
   */
  etag?: string;
}

/**
 * Every object under a prefix. Only key functions return these, and only when `allowedPrefixes`
 * is set: the prefix must lie strictly inside one of them and end with `prefixDelimiter`.
 */
export interface PrefixTarget {
  bucket: string;
  prefix: string;
}

/** What a removed item maps to: single objects, or every object under a prefix. */
export type CleanupTarget = ObjectTarget | PrefixTarget;

/**
 * Where the log lines go. `console` fits, and so does a Powertools `Logger`.
 * Each call passes a message and one object of structured attributes.
 */
export interface Logger {
  debug(message: string, attributes: Record<string, unknown>): void;
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

/** Which REMOVE records delete objects: all of them, only TTL expiries, or only users' deletes. */
export type RemovalFilter = "any" | "ttl" | "user";

/**
 * How the records arrived, detected per invocation: a DynamoDB stream through Lambda's event
 * source mapping, Kinesis Data Streams for DynamoDB, or EventBridge Pipes (a bare array of records).
 */
export type EventSourceKind = "dynamodb-streams" | "kinesis" | "pipes";

/** What one invocation did: the fields of the summary log line, also given to `onResult`. */
export interface CleanupSummary {
  /** How the records arrived. */
  source: EventSourceKind;
  /** Records in the event. */
  records: number;
  /** Selected REMOVE records that were mapped to their objects. */
  removals: number;
  /** Removals that map to no object (a missing or NULL key attribute, a key function's null). */
  withoutObjects: number;
  /** INSERT and MODIFY records, and REMOVE records the `removals` filter leaves out. */
  skipped: number;
  /** Records that could not be parsed or mapped. */
  invalid: number;
  /**
   * Distinct objects to delete, the ones listed under prefix targets included (a prefix itself is not
   * counted).
   */
  targets: number;
  /** Objects deleted (or already gone). */
  deleted: number;
  /** Objects not deleted: their records are reported for redelivery. */
  failed: number;
  /** Conditional deletes refused because the object was replaced since (PreconditionFailed): kept, not failed. */
  keptReplaced: number;
  /**
   * Removals whose item exists again in the table (`verifyAbsent`): their objects were kept, and
   * their records are done. Always 0 without `verifyAbsent`.
   */
  keptRecreated: number;
  /** `"single-deletes"` when the store refused a DeleteObjects checksum and objects went one by one. */
  fallback: "single-deletes" | "none";
  /** Records reported to Lambda for redelivery; absent when the handler throws instead of answering. */
  batchItemFailures: number | undefined;
  /**
   * True when the invocation's time budget ran out (see `timeoutMarginMs`): what it cut off was
   * reported for redelivery.
   */
  aborted: boolean;
  /** How long the invocation took, in ms. */
  durationMs: number;
  /** True when the handler ran with `dryRun`: it deleted nothing. */
  dryRun: boolean;
}

/**
 * An AWS SDK v3 client, by the one method the library calls: a `DynamoDBClient`,
 * `DynamoDBStreamsClient` or `KinesisClient` fits. Described by its shape, so that the types need
 * none of those optional packages.
 */
export interface AwsClientLike {
  /** Sends a command, and resolves to its output. */
  send(command: object, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}
