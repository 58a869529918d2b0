/**
 * Reconcile on AWS Step Functions Distributed Map: a state machine that reads an S3 Inventory report
 * of the bucket, hands its objects 1,000 at a time to a batch function (the package's
 * `createReconcileBatchHandler`), and writes every batch's counts to S3. The batch function probes
 * the table for each object's item and, when the run asks for it, deletes the orphans.
 *
 * The state machine is the one in examples/deploy/reconcile/state-machine.asl.json, the same file
 * SAM and Terraform users deploy; only its placeholders and its default concurrency are filled in
 * here. Both roles hold exactly what the two need, each on its narrowest resource.
 *
 * Start a run with `{ "manifest": { "bucket": "…", "key": "…/manifest.json" } }`: it reports only.
 * Add `"delete": true` to delete the orphans it finds, and `"maxConcurrency": n` to change how many
 * batches run at once.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Arn, ArnFormat, Duration, Stack } from "aws-cdk-lib";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";

/** The state machine's definition, with `${…}` placeholders, shared with the SAM and Terraform users. */
export const RECONCILE_DEFINITION_FILE = fileURLToPath(
  new URL("../../reconcile/state-machine.asl.json", import.meta.url),
);

/** The definition's placeholders, each filled in from the construct's resources. */
export const RECONCILE_PLACEHOLDERS = ["ReconcileFunctionArn", "ResultsBucket", "ResultsPrefix"] as const;

/** Batches that run at once when a run's input does not say (`maxConcurrency`). */
export const DEFAULT_MAX_CONCURRENCY = 50;

/** Distributed Map's highest MaxConcurrency: child workflow executions at once. */
export const MAX_CONCURRENCY_LIMIT = 10_000;

/** What the batch function reads its configuration from; examples/deploy/cdk/function/reconcile.ts reads them. */
export const RECONCILE_ENV = {
  table: "RECONCILE_TABLE",
  bucket: "RECONCILE_BUCKET",
  /** A JSON array of key templates. */
  keys: "RECONCILE_KEYS",
  /** A JSON array of prefixes. */
  allowedPrefixes: "RECONCILE_ALLOWED_PREFIXES",
  /** `"true"` lets a run delete when its input asks for it; anything else: no run deletes. */
  delete: "RECONCILE_DELETE",
  /** The function's `minAgeMs`, in digits; unset, the package's default (24 h). */
  minAgeMs: "RECONCILE_MIN_AGE_MS",
  /** The function's `concurrency`, in digits; unset, the package's default (4). */
  concurrency: "RECONCILE_CONCURRENCY",
} as const;

/** The highest `concurrency` the package's batch handler takes. */
export const MAX_BATCH_CONCURRENCY = 64;

/**
 * What the construct uses of a table: an `ITable` (a `Table`, or `Table.fromTableArn`) fits. Only
 * these members, as exactOptionalPropertyTypes tells the CDK's own classes apart from its interfaces.
 */
export type Table = Pick<dynamodb.ITable, "tableArn" | "tableName">;

/** What the construct uses of a bucket: an `IBucket` (a `Bucket`, or `Bucket.fromBucketName`) fits. */
export type Bucket = Pick<s3.IBucket, "bucketName" | "arnForObjects">;

/** The resources and settings of a {@link ReconcileStateMachine}. */
export interface ReconcileStateMachineProps {
  /** The table whose items the objects belong to. The function reads its key schema and probes it. */
  readonly table: Table;
  /** The bucket the objects live in: the inventory's source bucket. */
  readonly bucket: Bucket;
  /** The key template(s) of the objects, as the cleanup function's `key`, such as `images/{productId}.png`. */
  readonly key: string | readonly string[];
  /**
   * The only prefixes the function may delete under, option and IAM alike. At least one, none empty:
   * an empty prefix would hand it the whole bucket.
   */
  readonly allowedPrefixes: readonly string[];
  /** The bucket S3 Inventory delivers the bucket's reports to. The state machine reads their manifests and data files. */
  readonly inventoryBucket: Bucket;
  /**
   * Where in {@link inventoryBucket} the reports are (the inventory's destination prefix): the state
   * machine may read nothing else there.
   *
   * @default "" (the whole bucket)
   */
  readonly inventoryPrefix?: string;
  /** The bucket the Distributed Map writes each run's results to (ResultWriter). */
  readonly resultsBucket: Bucket;
  /**
   * Where in {@link resultsBucket} the results go: `<prefix>/<map run id>/manifest.json` and the
   * `SUCCEEDED_n.json` / `FAILED_n.json` files.
   *
   * @default "reconcile-results"
   */
  readonly resultsPrefix?: string;
  /**
   * Batches (of up to 1,000 objects) that run at once when a run's input has no `maxConcurrency`:
   * an integer from 1 to 10,000.
   *
   * @default 50
   */
  readonly maxConcurrency?: number;
  /**
   * Whether a run may delete. With `false` the function gets no s3:DeleteObject and reports only,
   * whatever a run's input says.
   *
   * @default true (a run still deletes only when its input says `"delete": true`)
   */
  readonly allowDelete?: boolean;
  /**
   * An object younger than this is never an orphan (its item may not be written yet): the batch
   * function's `minAgeMs`, in whole milliseconds.
   *
   * @default undefined: the package's default, 24 hours
   */
  readonly minAge?: Duration;
  /**
   * How many BatchGetItem and DeleteObjects requests one batch has in flight at once (the batch
   * function's `concurrency`): an integer from 1 to 64. Each running batch adds this much to the
   * table's and the bucket's load.
   *
   * @default undefined: the package's default, 4
   */
  readonly concurrency?: number;
  /**
   * The batch function's timeout: one batch is 10 BatchGetItem requests, up to one DeleteObjects
   * request and the second probe before it, with retries.
   *
   * @default Duration.minutes(2)
   */
  readonly timeout?: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  /**
   * The state machine's name. It is fixed, not generated, because the state machine's role must
   * name the state machine itself (Distributed Map starts its children with the role), and a
   * generated name would make the role depend on the state machine that depends on it.
   *
   * @default `${stackName}-${id}`
   */
  readonly stateMachineName?: string;
}

/** The batch function, its role and logs, and the Distributed Map state machine that invokes it. */
export class ReconcileStateMachine extends Construct {
  /** The batch function. */
  readonly function: NodejsFunction;
  /** The state machine: start a run with the inventory's manifest. */
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: ReconcileStateMachineProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const {
      table,
      bucket,
      key,
      allowedPrefixes,
      inventoryBucket,
      inventoryPrefix = "",
      resultsBucket,
      resultsPrefix = "reconcile-results",
      maxConcurrency = DEFAULT_MAX_CONCURRENCY,
      minAge,
      concurrency,
      allowDelete = true,
      timeout = Duration.minutes(2),
      memorySize = 256,
      stateMachineName = `${stack.stackName}-${id}`,
    } = props;
    const problems = [
      ...(allowedPrefixes.length === 0 ? ["`allowedPrefixes` must name at least one prefix"] : []),
      ...(allowedPrefixes.some((prefix) => prefix === "")
        ? ["`allowedPrefixes` must not hold an empty prefix: it would let the function delete the whole bucket"]
        : []),
      ...(Number.isInteger(maxConcurrency) && maxConcurrency >= 1 && maxConcurrency <= MAX_CONCURRENCY_LIMIT
        ? []
        : [`\`maxConcurrency\` must be an integer from 1 to ${MAX_CONCURRENCY_LIMIT}; it is ${maxConcurrency}`]),
      ...(resultsPrefix === "" ? ["`resultsPrefix` must not be empty: results go under a prefix of their own"] : []),
      ...(concurrency === undefined ||
      (Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= MAX_BATCH_CONCURRENCY)
        ? []
        : [`\`concurrency\` must be an integer from 1 to ${MAX_BATCH_CONCURRENCY}; it is ${concurrency}`]),
      ...(minAge === undefined || Number.isInteger(minAge.toMilliseconds({ integral: false }))
        ? []
        : [`\`minAge\` must be whole milliseconds; it is ${minAge.toHumanString()}`]),
    ];
    if (problems.length > 0) throw new Error(`${id}: ${problems.join("; ")}`);

    // The function logs to this group only; creating it here means the role needs no logs:CreateLogGroup.
    const logGroup = new logs.LogGroup(this, "BatchLogs", { retention: logs.RetentionDays.ONE_MONTH });
    const role = new iam.Role(this, "BatchRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "Probes the table for the objects of one reconcile batch and deletes the orphans, and nothing else",
      inlinePolicies: {
        reconcile: new iam.PolicyDocument({
          statements: batchStatements({
            logGroupArn: logGroup.logGroupArn,
            tableArn: table.tableArn,
            objectArns: allowedPrefixes.map((prefix) => bucket.arnForObjects(`${prefix}*`)),
            allowDelete,
          }),
        }),
      },
    });

    this.function = new NodejsFunction(this, "BatchFunction", {
      entry: fileURLToPath(new URL("../function/reconcile.ts", import.meta.url)),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize,
      timeout,
      role,
      logGroup,
      environment: {
        [RECONCILE_ENV.table]: table.tableName,
        [RECONCILE_ENV.bucket]: bucket.bucketName,
        [RECONCILE_ENV.keys]: JSON.stringify(typeof key === "string" ? [key] : [...key]),
        [RECONCILE_ENV.allowedPrefixes]: JSON.stringify([...allowedPrefixes]),
        [RECONCILE_ENV.delete]: String(allowDelete),
        // Unset, the function keeps the package's defaults rather than copies of them.
        ...(minAge === undefined ? {} : { [RECONCILE_ENV.minAgeMs]: String(minAge.toMilliseconds()) }),
        ...(concurrency === undefined ? {} : { [RECONCILE_ENV.concurrency]: String(concurrency) }),
      },
      bundling: { minify: true },
    });

    const stateMachineArn = Arn.format(
      {
        service: "states",
        resource: "stateMachine",
        resourceName: stateMachineName,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      },
      stack,
    );
    const stateMachineRole = new iam.Role(this, "StateMachineRole", {
      assumedBy: new iam.ServicePrincipal("states.amazonaws.com"),
      description: "Reads the inventory, runs the reconcile batches and writes their results, and nothing else",
      inlinePolicies: {
        reconcile: new iam.PolicyDocument({
          statements: stateMachineStatements({
            stateMachineArn,
            childExecutionsArn: Arn.format(
              {
                service: "states",
                resource: "execution",
                resourceName: `${stateMachineName}/*`,
                arnFormat: ArnFormat.COLON_RESOURCE_NAME,
              },
              stack,
            ),
            functionArn: this.function.functionArn,
            inventoryArn: inventoryBucket.arnForObjects(`${inventoryPrefix}*`),
            resultsArn: resultsBucket.arnForObjects(`${resultsPrefix}/*`),
          }),
        }),
      },
    });

    this.stateMachine = new sfn.StateMachine(this, "StateMachine", {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(reconcileDefinition(maxConcurrency)),
      definitionSubstitutions: {
        ReconcileFunctionArn: this.function.functionArn,
        ResultsBucket: resultsBucket.bucketName,
        ResultsPrefix: resultsPrefix,
      } satisfies Record<(typeof RECONCILE_PLACEHOLDERS)[number], string>,
      role: stateMachineRole,
    });
  }
}

/**
 * The definition of examples/deploy/reconcile/state-machine.asl.json, with `maxConcurrency` as the
 * default of a run whose input has none. The placeholders stay for `definitionSubstitutions`.
 */
export function reconcileDefinition(maxConcurrency: number): string {
  const definition = JSON.parse(readFileSync(RECONCILE_DEFINITION_FILE, "utf8"));
  definition.States.Defaults.Result.maxConcurrency = maxConcurrency;
  return JSON.stringify(definition);
}

interface BatchPolicyInput {
  readonly logGroupArn: string;
  readonly tableArn: string;
  /** The ARNs of the objects under each allowed prefix. */
  readonly objectArns: readonly string[];
  readonly allowDelete: boolean;
}

/** Exactly the actions the batch function uses, each on the narrowest resource. */
function batchStatements(input: BatchPolicyInput): iam.PolicyStatement[] {
  return [
    new iam.PolicyStatement({
      actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
      resources: [input.logGroupArn],
    }),
    // The key schema's attribute types (an N key is probed as a number), then the probes themselves.
    new iam.PolicyStatement({
      actions: ["dynamodb:BatchGetItem", "dynamodb:DescribeTable"],
      resources: [input.tableArn],
    }),
    ...(input.allowDelete
      ? [
          new iam.PolicyStatement({
            // Every delete is conditional on the listed ETag, and S3 needs read access to compare it.
            actions: ["s3:DeleteObject", "s3:GetObject"],
            resources: [...input.objectArns],
          }),
        ]
      : []),
  ];
}

interface StateMachinePolicyInput {
  readonly stateMachineArn: string;
  readonly childExecutionsArn: string;
  readonly functionArn: string;
  readonly inventoryArn: string;
  readonly resultsArn: string;
}

/** Exactly the actions Distributed Map, its ItemReader and ResultWriter, and the batch Task use. */
function stateMachineStatements(input: StateMachinePolicyInput): iam.PolicyStatement[] {
  return [
    // A Distributed Map starts its child workflow executions as executions of its own state machine.
    new iam.PolicyStatement({ actions: ["states:StartExecution"], resources: [input.stateMachineArn] }),
    new iam.PolicyStatement({
      actions: ["states:DescribeExecution", "states:StopExecution"],
      resources: [input.childExecutionsArn],
    }),
    new iam.PolicyStatement({ actions: ["lambda:InvokeFunction"], resources: [input.functionArn] }),
    // ItemReader: the inventory's manifest.json and the data files it lists.
    new iam.PolicyStatement({ actions: ["s3:GetObject"], resources: [input.inventoryArn] }),
    // ResultWriter writes each status's file with a multipart upload.
    new iam.PolicyStatement({
      actions: ["s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"],
      resources: [input.resultsArn],
    }),
  ];
}
