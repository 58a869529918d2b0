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

/** One entry of the partial batch response: the `SequenceNumber` of a record to redeliver. */
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

/** The handler `createCleanupHandler` returns. It is assignable to `DynamoDBStreamHandler`. */
export type CleanupHandler = (event: StreamEvent, context?: CleanupContext) => Promise<BatchResponse>;

/** An S3 object to delete. Without `versionId`, a versioned bucket only adds a delete marker. */
export interface ObjectTarget {
  bucket: string;
  key: string;
  versionId?: string;
}

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
