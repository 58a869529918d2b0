/**
 * An AWS CDK stack that deletes a product's image from S3 when DynamoDB's TTL removes the product:
 * the table and its stream, the bucket, the function (the package's zero-code entry point, configured
 * by CLEANUP_* variables), the event source mapping, a dead-letter queue and a least-privilege role.
 * A second function, the replay (the package's `dynamodb-s3-cleanup/replay` entry, with the same
 * variables), consumes that queue: it re-reads the ranges the mapping gave up on and cleans them up.
 * What it cannot replay ends in its own dead-letter queue.
 *
 * The mapping settings and filters are read from the package, not retyped, so they stay what the
 * library was built and tested for.
 */
import { fileURLToPath } from "node:url";
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import {
  RECOMMENDED_EVENT_SOURCE_MAPPING,
  REMOVE_ONLY_FILTER_CRITERIA,
  TTL_REMOVE_ONLY_FILTER_CRITERIA,
} from "dynamodb-s3-cleanup";
import { ReconcileStateMachine, type ReconcileStateMachineProps } from "./reconcile-state-machine.js";

/** The prefix of every image key. The function may delete nothing outside it (option and IAM alike). */
export const IMAGE_PREFIX = "images/";

/** The key of a product's image, built from the table's partition key. */
export const IMAGE_KEY = `${IMAGE_PREFIX}{productId}.png`;

/** The table's TTL attribute: epoch seconds after which DynamoDB removes the product. */
export const TTL_ATTRIBUTE = "expiresAt";

/** The CloudWatch namespace of the function's metrics (deleted, failed, invalid, kept). */
export const METRICS_NAMESPACE = "ProductImagesCleanup";

/** The replay function's timeout: a few discarded batches, each re-read from the stream with backoff. */
export const REPLAY_TIMEOUT = Duration.minutes(2);

/** Messages per replay invocation. Each names up to a whole discarded batch (1,000 records). */
export const REPLAY_BATCH_SIZE = 5;

/** Deliveries of an on-failure message before it moves to the replay's dead-letter queue. */
export const REPLAY_MAX_RECEIVE_COUNT = 5;

/** What the cleanup does beyond the default; each option also changes the IAM it needs. */
export interface ProductImagesCleanupStackProps extends StackProps {
  /**
   * `"all"` purges every version and delete marker of an image instead of adding a delete marker.
   * The bucket is then versioned, and the function also gets s3:DeleteObjectVersion and
   * s3:ListBucketVersions.
   *
   * @default "current"
   */
  readonly versions?: "current" | "all";

  /**
   * The product attribute that holds its image's ETag (stored from PutObject's answer). Deletes become
   * conditional: an image replaced since the product was written is kept. The stream then carries
   * OLD_IMAGE, and the function also gets s3:GetObject. Not with `versions: "all"`.
   *
   * @default undefined: unconditional deletes
   */
  readonly etagAttribute?: string;

  /**
   * Set when the table is a global table; deploy this stack in one of its Regions only, or every
   * Region deletes the same images. A TTL delete replicated into this Region carries no userIdentity,
   * so the mapping takes every REMOVE and the function recognises TTL removals by `expiresAt`
   * instead. That needs the OldImage: the stream carries NEW_AND_OLD_IMAGES, as global tables want.
   * Adding the replicas is not part of this example.
   *
   * @default false
   */
  readonly globalTable?: boolean;

  /**
   * Adds reconcile on Step Functions Distributed Map (see reconcile-state-machine.ts): a daily S3
   * Inventory of the images into a bucket of its own, and a state machine that runs the batch
   * function over a report, 1,000 images a batch, `maxConcurrency` batches at once unless a run says
   * otherwise. With `allowDelete: false` no run can delete; `minAge` and `concurrency` set the batch
   * function's `minAgeMs` and `concurrency`.
   *
   * @default undefined: no reconcile
   */
  readonly reconcile?: Pick<ReconcileStateMachineProps, "maxConcurrency" | "allowDelete" | "minAge" | "concurrency">;
}

/** Where in the reconcile reports bucket S3 Inventory delivers the images' reports. */
export const INVENTORY_PREFIX = "inventory";

/** Where in the reconcile reports bucket the state machine writes each run's results. */
export const RESULTS_PREFIX = "reconcile-results";

/** The products table, its images bucket and the function that deletes a removed product's image. */
export class ProductImagesCleanupStack extends Stack {
  /** The table whose removals are cleaned up. */
  readonly table: dynamodb.Table;
  /** The bucket the images live in. */
  readonly bucket: s3.Bucket;
  /** Receives the shard and sequence range of records that ran out of retries; the replay consumes it. */
  readonly failures: sqs.Queue;
  /** Receives the on-failure messages the replay could not finish in {@link REPLAY_MAX_RECEIVE_COUNT} tries. */
  readonly replayDeadLetters: sqs.Queue;
  /** The cleanup function. */
  readonly cleanup: NodejsFunction;
  /** The replay function: cleans up the ranges named in {@link failures}. */
  readonly replay: NodejsFunction;
  /** Reconcile on Distributed Map, with the `reconcile` option. */
  readonly reconcile: ReconcileStateMachine | undefined;

  constructor(scope: Construct, id: string, props: ProductImagesCleanupStackProps = {}) {
    super(scope, id, props);
    const { versions = "current", etagAttribute, globalTable = false } = props;
    if (versions === "all" && etagAttribute !== undefined) {
      throw new Error(
        `${id}: \`etagAttribute\` cannot be combined with \`versions: "all"\`: a purge of every version cannot be conditional`,
      );
    }

    this.table = new dynamodb.Table(this, "Products", {
      partitionKey: { name: "productId", type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: TTL_ATTRIBUTE,
      // The key template needs only the keys; the smallest stream records make the cheapest reads.
      // The ETag and the TTL fallback read the OldImage, so those options need it in the stream.
      stream: globalTable
        ? dynamodb.StreamViewType.NEW_AND_OLD_IMAGES
        : etagAttribute !== undefined
          ? dynamodb.StreamViewType.OLD_IMAGE
          : dynamodb.StreamViewType.KEYS_ONLY,
    });
    // Set: the table is created with a stream just above.
    const streamArn = this.table.tableStreamArn as string;

    this.bucket = new s3.Bucket(this, "ProductImages", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: versions === "all",
    });

    // What the replay gave up on: ranges already trimmed from the stream (run reconcile for them),
    // or objects it still could not delete. The longest retention: SQS keeps a message's first
    // enqueue time when it moves it here, so a shorter one would expire it early.
    this.replayDeadLetters = new sqs.Queue(this, "ReplayDeadLetters", {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });

    this.failures = new sqs.Queue(this, "CleanupFailures", {
      // The message only names the shard and sequence range; keep it long enough to be noticed.
      retentionPeriod: Duration.days(14),
      // SSE-SQS: encrypted at rest without a KMS key, so the role needs no kms:* actions.
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // AWS's advice for a Lambda event source: at least six times the function's timeout, so that
      // a message is not delivered again while an invocation (or its retries) still works on it.
      visibilityTimeout: Duration.seconds(6 * REPLAY_TIMEOUT.toSeconds()),
      // A message the replay reports this many times goes to its dead-letter queue, not round forever.
      deadLetterQueue: { queue: this.replayDeadLetters, maxReceiveCount: REPLAY_MAX_RECEIVE_COUNT },
    });

    // The function logs to this group only; creating it here means the role needs no logs:CreateLogGroup.
    const logGroup = new logs.LogGroup(this, "CleanupLogs", { retention: logs.RetentionDays.ONE_MONTH });

    const s3Access = {
      bucketArn: this.bucket.bucketArn,
      imagesArn: this.bucket.arnForObjects(`${IMAGE_PREFIX}*`),
      versions,
      conditional: etagAttribute !== undefined,
    };
    const role = new iam.Role(this, "CleanupRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "Deletes the images of removed products, and nothing else",
      // Inline, so the policy exists before the function and the mapping that need it.
      inlinePolicies: {
        cleanup: new iam.PolicyDocument({
          statements: cleanupStatements({
            ...s3Access,
            logGroupArn: logGroup.logGroupArn,
            streamArn,
            queueArn: this.failures.queueArn,
          }),
        }),
      },
    });

    const environment: Record<string, string> = {
      CLEANUP_BUCKET: this.bucket.bucketName,
      CLEANUP_KEY: IMAGE_KEY,
      // Defence in depth with the IAM resource below: a key outside the prefix fails its record.
      CLEANUP_ALLOWED_PREFIXES: IMAGE_PREFIX,
      // The filter already passes only TTL removals; the handler checks again, as filters are a cost saving.
      CLEANUP_REMOVALS: "ttl",
      CLEANUP_METRICS_NAMESPACE: METRICS_NAMESPACE,
    };
    if (versions === "all") environment.CLEANUP_VERSIONS = "all";
    if (etagAttribute !== undefined) environment.CLEANUP_ETAG_ATTRIBUTE = etagAttribute;
    if (globalTable) environment.CLEANUP_TTL_ATTRIBUTE = TTL_ATTRIBUTE;

    this.cleanup = new NodejsFunction(this, "Cleanup", {
      entry: fileURLToPath(new URL("../function/index.ts", import.meta.url)),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      // A full batch is one DeleteObjects request; the rest is room for retries with backoff. The
      // handler starts nothing new in the last 2 s (CLEANUP_TIMEOUT_MARGIN_MS) and reports the rest.
      timeout: Duration.seconds(60),
      role,
      logGroup,
      environment,
      // esbuild bundles the entry; @aws-sdk/* stays out (the default), as the runtime provides it.
      bundling: { minify: true },
    });

    const settings = RECOMMENDED_EVENT_SOURCE_MAPPING;
    const filter = globalTable ? REMOVE_ONLY_FILTER_CRITERIA : TTL_REMOVE_ONLY_FILTER_CRITERIA;
    new lambda.CfnEventSourceMapping(this, "ProductsStreamMapping", {
      functionName: this.cleanup.functionName,
      eventSourceArn: streamArn,
      // Without it Lambda ignores batchItemFailures and retries whole batches for one failed image.
      functionResponseTypes: [...settings.FunctionResponseTypes],
      // A batch that throws is halved until the bad record is alone, instead of blocking the shard.
      bisectBatchOnFunctionError: settings.BisectBatchOnFunctionError,
      // The defaults (-1) retry a failing record until it leaves the stream, a day later.
      maximumRetryAttempts: settings.MaximumRetryAttempts,
      maximumRecordAgeInSeconds: settings.MaximumRecordAgeInSeconds,
      // Up to one full DeleteObjects request per invocation; cleanup is not in a hurry.
      batchSize: settings.BatchSize,
      maximumBatchingWindowInSeconds: settings.MaximumBatchingWindowInSeconds,
      // Removals already in the stream when the mapping is created are cleaned up too.
      startingPosition: settings.StartingPosition,
      // Records that ran out of retries are named here instead of silently skipped.
      destinationConfig: { onFailure: { destination: this.failures.queueArn } },
      // Only TTL removals invoke the function: INSERT, MODIFY and users' deletes cost nothing. A global
      // table passes every REMOVE, as replicated TTL deletes look like users' there.
      filterCriteria: { filters: filter.Filters.map(({ Pattern }) => ({ pattern: Pattern })) },
    });

    // The replay: the same variables, so that it deletes exactly what the cleanup would have.
    const replayLogGroup = new logs.LogGroup(this, "ReplayLogs", { retention: logs.RetentionDays.ONE_MONTH });
    const replayRole = new iam.Role(this, "ReplayRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "Replays the removals the cleanup gave up on, and nothing else",
      inlinePolicies: {
        replay: new iam.PolicyDocument({
          statements: replayStatements({
            ...s3Access,
            logGroupArn: replayLogGroup.logGroupArn,
            streamArn,
            tableArn: this.table.tableArn,
            queueArn: this.failures.queueArn,
          }),
        }),
      },
    });
    this.replay = new NodejsFunction(this, "Replay", {
      entry: fileURLToPath(new URL("../function/replay.ts", import.meta.url)),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      // Each message is re-read from the stream and cleaned up in turn; the handler starts nothing
      // new in the last 2 s and reports the messages it did not finish.
      timeout: REPLAY_TIMEOUT,
      role: replayRole,
      logGroup: replayLogGroup,
      environment,
      bundling: { minify: true },
    });
    new lambda.CfnEventSourceMapping(this, "CleanupFailuresMapping", {
      functionName: this.replay.functionName,
      eventSourceArn: this.failures.queueArn,
      // Without it one unfinished message would fail, and redeliver, every message of its batch.
      functionResponseTypes: ["ReportBatchItemFailures"],
      batchSize: REPLAY_BATCH_SIZE,
      // The fewest concurrent replays SQS allows: each is a stream reader too, next to the cleanup's
      // mapping, and DynamoDB Streams serves about 2 readers per shard.
      scalingConfig: { maximumConcurrency: 2 },
    });

    this.reconcile = props.reconcile === undefined ? undefined : this.addReconcile(props.reconcile);

    new CfnOutput(this, "TableName", { value: this.table.tableName });
    new CfnOutput(this, "BucketName", { value: this.bucket.bucketName });
    new CfnOutput(this, "FailureQueueUrl", {
      description: "Records that ran out of retries; the replay function consumes it",
      value: this.failures.queueUrl,
    });
    new CfnOutput(this, "ReplayDeadLetterQueueUrl", {
      description: "Poll this for ranges the replay could not clean up; run reconcile for them",
      value: this.replayDeadLetters.queueUrl,
    });
  }

  /** The reports bucket, the images' inventory into it, and the state machine that reads it. */
  private addReconcile(options: NonNullable<ProductImagesCleanupStackProps["reconcile"]>): ReconcileStateMachine {
    // Inventory reports and run results: rebuilt daily and per run, so kept a month, then gone.
    const reports = new s3.Bucket(this, "ReconcileReports", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      lifecycleRules: [{ expiration: Duration.days(30) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // CSV: the format Distributed Map reads through a manifest. Current versions only, and the three
    // fields a batch needs: the size for the report, the time for minAgeMs, the ETag for the condition.
    this.bucket.addInventory({
      inventoryId: "reconcile",
      // The CDK's own Bucket as its IBucket, which exactOptionalPropertyTypes alone tells apart.
      destination: { bucket: reports as s3.IBucket, prefix: INVENTORY_PREFIX, bucketOwner: this.account },
      objectsPrefix: IMAGE_PREFIX,
      format: s3.InventoryFormat.CSV,
      frequency: s3.InventoryFrequency.DAILY,
      includeObjectVersions: s3.InventoryObjectVersion.CURRENT,
      optionalFields: ["Size", "LastModifiedDate", "ETag"],
    });
    const reconcile = new ReconcileStateMachine(this, "Reconcile", {
      table: this.table,
      bucket: this.bucket,
      key: IMAGE_KEY,
      allowedPrefixes: [IMAGE_PREFIX],
      inventoryBucket: reports,
      inventoryPrefix: `${INVENTORY_PREFIX}/`,
      resultsBucket: reports,
      resultsPrefix: RESULTS_PREFIX,
      ...options,
    });
    new CfnOutput(this, "ReconcileStateMachineArn", {
      description:
        'Start a run with { "manifest": { "bucket": <ReconcileReportsBucketName>, "key": <a manifest.json under inventory/> } }',
      value: reconcile.stateMachine.stateMachineArn,
    });
    new CfnOutput(this, "ReconcileReportsBucketName", { value: reports.bucketName });
    return reconcile;
  }
}

interface S3AccessInput {
  readonly bucketArn: string;
  /** The ARN of the objects under the images prefix. */
  readonly imagesArn: string;
  readonly versions: "current" | "all";
  readonly conditional: boolean;
}

interface CleanupPolicyInput extends S3AccessInput {
  readonly logGroupArn: string;
  readonly streamArn: string;
  readonly queueArn: string;
}

interface ReplayPolicyInput extends S3AccessInput {
  readonly logGroupArn: string;
  readonly streamArn: string;
  readonly tableArn: string;
  readonly queueArn: string;
}

/** Exactly the actions the function uses with these options, each on the narrowest resource. */
function cleanupStatements(input: CleanupPolicyInput): iam.PolicyStatement[] {
  return [
    new iam.PolicyStatement({
      actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
      resources: [input.logGroupArn],
    }),
    // The event source mapping reads the stream with the function's role.
    new iam.PolicyStatement({
      actions: ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
      resources: [input.streamArn],
    }),
    ...s3Statements(input),
    // The mapping sends its on-failure message with the function's role too.
    new iam.PolicyStatement({ actions: ["sqs:SendMessage"], resources: [input.queueArn] }),
  ];
}

/** Exactly the actions the replay function and its queue's mapping use, each on the narrowest resource. */
function replayStatements(input: ReplayPolicyInput): iam.PolicyStatement[] {
  return [
    new iam.PolicyStatement({
      actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
      resources: [input.logGroupArn],
    }),
    // The replay re-reads a discarded range itself: an iterator at its first record, then the records.
    // It names the shard from the message, so it needs no DescribeStream.
    new iam.PolicyStatement({
      actions: ["dynamodb:GetRecords", "dynamodb:GetShardIterator"],
      resources: [input.streamArn],
    }),
    // verifyAbsent (on for the replay): an item written again since its removal keeps its image.
    new iam.PolicyStatement({ actions: ["dynamodb:BatchGetItem"], resources: [input.tableArn] }),
    ...s3Statements(input),
    // The SQS mapping receives and deletes the on-failure messages with the function's role.
    new iam.PolicyStatement({
      actions: ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
      resources: [input.queueArn],
    }),
  ];
}

/** The deletes under the images prefix, as the options need them; the same for both functions. */
function s3Statements(input: S3AccessInput): iam.PolicyStatement[] {
  const statements = [
    new iam.PolicyStatement({
      actions: [
        "s3:DeleteObject",
        ...(input.versions === "all" ? ["s3:DeleteObjectVersion"] : []),
        // A conditional delete (If-Match) needs read access to the object it compares.
        ...(input.conditional ? ["s3:GetObject"] : []),
      ],
      resources: [input.imagesArn],
    }),
  ];
  if (input.versions === "all") {
    // Purging a key lists its versions, and only under the images prefix.
    statements.push(
      new iam.PolicyStatement({
        actions: ["s3:ListBucketVersions"],
        resources: [input.bucketArn],
        conditions: { StringLike: { "s3:prefix": `${IMAGE_PREFIX}*` } },
      }),
    );
  }
  return statements;
}
