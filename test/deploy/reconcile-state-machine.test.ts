/**
 * Reconcile on Step Functions Distributed Map, offline: the ASL definition that SAM, Terraform and
 * the CDK share is a well-formed state machine with the settings docs/reference-distributed-map.md
 * argues for, and the CDK construct deploys exactly that definition, its placeholders filled in, with
 * two roles that hold exactly what the batch function and the state machine use. The batch function's
 * bundle, built as `cdk synth` builds it, starts with the deployment's variables and answers batches.
 *
 * CloudFormation references read `<LogicalId>` (Ref) and `<LogicalId.Attribute>` (Fn::GetAtt), the
 * CDK's hash left off; pseudo parameters read `<AWS::Region>`.
 */
import { readFileSync } from "node:fs";
import { App, Duration, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import type { ProductImagesCleanupStackProps } from "../../examples/deploy/cdk/lib/product-images-cleanup-stack.js";
import {
  type Bucket,
  MAX_BATCH_CONCURRENCY,
  RECONCILE_DEFINITION_FILE,
  RECONCILE_ENV,
  RECONCILE_PLACEHOLDERS,
  ReconcileStateMachine,
  type ReconcileStateMachineProps,
} from "../../examples/deploy/cdk/lib/reconcile-state-machine.js";
import { createReconcileBatchHandler } from "../../src/reconcile-batch-handler.js";
import { noCounts } from "../../src/reconcile-objects.js";
import { at, baseId, bundleFile, type CfnResource, cacheDirectory, list, record, runBundle } from "./helpers.js";

const EXAMPLES = new URL("../../examples/deploy/", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, EXAMPLES), "utf8");

type Json = Record<string, unknown>;

/** A `${name}` placeholder, as SAM's DefinitionSubstitutions, the CDK's definitionSubstitutions and Terraform's templatefile fill in. */
const placeholder = (name: string) => `\${${name}}`;

const ASL_TEXT = read("reconcile/state-machine.asl.json");
const ASL = JSON.parse(ASL_TEXT) as Json;
const MAP = at(ASL, "States", "ReconcileBatches") as Json;
const TASK = at(MAP, "ItemProcessor", "States", "ReconcileBatch") as Json;

// ---------------------------------------------------------------------------------------------------
// The ASL definition
// ---------------------------------------------------------------------------------------------------

/** The fields each state type takes (JSONPath), per the Amazon States Language. */
const STATE_FIELDS: Readonly<Record<string, readonly string[]>> = {
  Pass: ["Type", "Comment", "Result", "ResultPath", "Parameters", "InputPath", "OutputPath", "Next", "End"],
  Choice: ["Type", "Comment", "Choices", "Default", "InputPath", "OutputPath"],
  Fail: ["Type", "Comment", "Error", "Cause"],
  Task: ["Type", "Comment", "Resource", "Parameters", "OutputPath", "Retry", "Catch", "Next", "End"],
  Map: [
    "Type",
    "Comment",
    "ItemReader",
    "ItemBatcher",
    "MaxConcurrencyPath",
    "ToleratedFailurePercentage",
    "ItemProcessor",
    "ResultWriter",
    "Next",
    "End",
  ],
};

/** Every problem of one level of states: unknown fields, dangling or missing transitions, unreachable states. */
function graphProblems(machine: unknown, where: string): string[] {
  const states = at(machine, "States") as Record<string, Json>;
  const names = Object.keys(states);
  const problems: string[] = [];
  const targets = (state: Json): string[] =>
    [
      state.Next,
      state.Default,
      ...list(state.Choices).map((choice) => at(choice, "Next")),
      ...list(state.Catch).map((catcher) => at(catcher, "Next")),
    ].filter((target): target is string => typeof target === "string");
  for (const [name, state] of Object.entries(states)) {
    const fields = STATE_FIELDS[String(state.Type)];
    if (fields === undefined) problems.push(`${where}.${name}: unknown Type ${String(state.Type)}`);
    for (const field of Object.keys(state)) {
      if (!fields?.includes(field)) problems.push(`${where}.${name}: field ${field} is not one a ${state.Type} takes`);
    }
    for (const target of targets(state)) {
      if (!names.includes(target)) problems.push(`${where}.${name}: goes to ${target}, which is not a state here`);
    }
    const terminal = state.Type === "Fail" || state.Type === "Choice" || state.Type === "Succeed";
    if (!terminal && (state.End === true) === (state.Next !== undefined)) {
      problems.push(`${where}.${name}: needs exactly one of Next and End: true`);
    }
    if (state.Type === "Choice" && state.Default === undefined)
      problems.push(`${where}.${name}: a Choice without Default`);
  }
  const reached = new Set<string>();
  const visit = (name: string) => {
    if (reached.has(name) || states[name] === undefined) return;
    reached.add(name);
    for (const target of targets(states[name])) visit(target);
  };
  const start = at(machine, "StartAt");
  if (typeof start !== "string" || states[start] === undefined) problems.push(`${where}: StartAt is not a state`);
  else visit(start);
  for (const name of names) if (!reached.has(name)) problems.push(`${where}.${name}: is never reached`);
  return problems;
}

describe("the ASL definition", () => {
  it("is a well-formed state machine at both levels: known fields, every transition to a state, every state reached", () => {
    expect(graphProblems(ASL, "States")).toEqual([]);
    expect(graphProblems(MAP.ItemProcessor, "ReconcileBatches.ItemProcessor")).toEqual([]);
    expect(Object.keys(ASL).sort()).toEqual(["Comment", "StartAt", "States"]);
  });

  it("finds its own mistakes: an unknown field, a dangling Next, an unreached state, a missing End", () => {
    const broken = {
      StartAt: "A",
      States: {
        A: { Type: "Pass", Next: "Nowhere", Colour: "blue" },
        B: { Type: "Task", Resource: "arn:aws:states:::lambda:invoke" },
        C: { Type: "Choice", Choices: [] },
      },
    };
    expect(graphProblems(broken, "States")).toEqual([
      "States.A: field Colour is not one a Pass takes",
      "States.A: goes to Nowhere, which is not a state here",
      "States.B: needs exactly one of Next and End: true",
      "States.C: a Choice without Default",
      "States.B: is never reached",
      "States.C: is never reached",
    ]);
    expect(graphProblems({ StartAt: "X", States: {} }, "States")).toEqual(["States: StartAt is not a state"]);
  });

  it("reports only unless the run's input says delete: true, and runs 50 batches at once unless it says otherwise", () => {
    expect(at(ASL, "States", "Defaults")).toMatchObject({
      Type: "Pass",
      Result: { delete: false, maxConcurrency: 50 },
      ResultPath: "$.defaults",
      Next: "ApplyDefaults",
    });
    expect(at(ASL, "States", "ApplyDefaults", "Parameters")).toEqual({
      // The run's own input wins over the defaults.
      "input.$": "States.JsonMerge($.defaults, $$.Execution.Input, false)",
    });
  });

  it("fails a run whose delete is no boolean or whose maxConcurrency is no number from 1 to 10,000, before reading anything", () => {
    expect(at(ASL, "States", "CheckInput")).toEqual({
      Type: "Choice",
      Choices: [
        {
          And: [
            { Variable: "$.delete", IsBoolean: true },
            { Variable: "$.maxConcurrency", IsNumeric: true },
            { Variable: "$.maxConcurrency", NumericGreaterThanEquals: 1 },
            { Variable: "$.maxConcurrency", NumericLessThanEquals: 10000 },
          ],
          Next: "ReconcileBatches",
        },
      ],
      Default: "InvalidInput",
    });
    expect(at(ASL, "States", "InvalidInput")).toMatchObject({ Type: "Fail", Error: "InvalidExecutionInput" });
  });

  it("reads the S3 Inventory manifest the run's input names", () => {
    expect(MAP.ItemReader).toEqual({
      Resource: "arn:aws:states:::s3:getObject",
      ReaderConfig: { InputType: "MANIFEST" },
      Parameters: { "Bucket.$": "$.manifest.bucket", "Key.$": "$.manifest.key" },
    });
  });

  it("batches up to 1,000 objects, under Step Functions' 256 KiB, and passes each batch the run's delete", () => {
    expect(MAP.ItemBatcher).toEqual({
      MaxItemsPerBatch: 1000,
      MaxInputBytesPerBatch: 240 * 1024,
      BatchInput: { "delete.$": "$.delete" },
    });
    expect(at(MAP, "ItemBatcher", "MaxInputBytesPerBatch")).toBeLessThanOrEqual(256 * 1024);
  });

  it("takes MaxConcurrency from the run, and fails the run on the first batch that fails for good", () => {
    expect(MAP.MaxConcurrencyPath).toBe("$.maxConcurrency");
    expect(MAP.ToleratedFailurePercentage).toBe(0);
    expect(MAP).not.toHaveProperty("ToleratedFailureCount");
    expect(MAP).not.toHaveProperty("MaxConcurrency");
  });

  it("runs each batch as a STANDARD child workflow of one Task that invokes the batch function with the batch", () => {
    expect(at(MAP, "ItemProcessor", "ProcessorConfig")).toEqual({ Mode: "DISTRIBUTED", ExecutionType: "STANDARD" });
    expect(at(MAP, "ItemProcessor", "StartAt")).toBe("ReconcileBatch");
    expect(TASK).toMatchObject({
      Type: "Task",
      Resource: "arn:aws:states:::lambda:invoke",
      Parameters: { FunctionName: placeholder("ReconcileFunctionArn"), "Payload.$": "$" },
      OutputPath: "$.Payload",
      End: true,
    });
  });

  it("retries Lambda's service errors, then the function's own failures, each with backoff and jitter", () => {
    expect(TASK.Retry).toEqual([
      {
        ErrorEquals: [
          "Lambda.ServiceException",
          "Lambda.AWSLambdaException",
          "Lambda.SdkClientException",
          "Lambda.TooManyRequestsException",
        ],
        IntervalSeconds: 2,
        MaxAttempts: 6,
        BackoffRate: 2,
        MaxDelaySeconds: 60,
        JitterStrategy: "FULL",
      },
      {
        ErrorEquals: ["States.TaskFailed"],
        IntervalSeconds: 10,
        MaxAttempts: 3,
        BackoffRate: 3,
        JitterStrategy: "FULL",
      },
    ]);
    // A batch that throws is retried, then fails its child, and ToleratedFailurePercentage 0 the run.
    expect(TASK).not.toHaveProperty("Catch");
  });

  it("writes the batches' results to S3", () => {
    expect(MAP.ResultWriter).toEqual({
      Resource: "arn:aws:states:::s3:putObject",
      Parameters: { Bucket: placeholder("ResultsBucket"), Prefix: placeholder("ResultsPrefix") },
    });
  });

  it("has exactly the placeholders the deployments fill in, and no other placeholder", () => {
    const placeholders = [...ASL_TEXT.matchAll(/\$\{([^}]*)\}/g)].map((match) => match[1]);
    expect([...new Set(placeholders)].sort()).toEqual([...RECONCILE_PLACEHOLDERS].sort());
  });
});

// ---------------------------------------------------------------------------------------------------
// The CDK construct, synthesized without bundling but where a test runs the bundle
// ---------------------------------------------------------------------------------------------------

const outdir = cacheDirectory("reconcile-deploy-test");

const CDK_CONTEXT = at(JSON.parse(read("cdk/cdk.json")), "context") as Json;
/** `cdk synth`'s context; without `bundle`, bundling no stack: assets are not built, everything else is. */
const context = (bundle: boolean) => (bundle ? CDK_CONTEXT : { ...CDK_CONTEXT, "aws:cdk:bundling-stacks": [] });

/** Resolves Ref, Fn::GetAtt and Fn::Join to `<id>` / `<id.Attribute>` text; any other function throws. */
function resolver(resources: Readonly<Record<string, CfnResource>>) {
  const reference = (id: string, attribute?: string) => {
    if (!id.startsWith("AWS::") && resources[id] === undefined)
      throw new Error(`a reference to ${id}, which is not in the template`);
    const name = id.startsWith("AWS::") ? id : baseId(id);
    return attribute === undefined ? `<${name}>` : `<${name}.${attribute}>`;
  };
  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== "object") return value;
    const entries = Object.entries(value);
    const [intrinsic, argument] = entries.length === 1 && entries[0] !== undefined ? entries[0] : [];
    if (intrinsic === "Ref") return reference(String(argument));
    if (intrinsic === "Fn::GetAtt" && Array.isArray(argument))
      return reference(String(argument[0]), String(argument[1]));
    if (intrinsic === "Fn::Join" && Array.isArray(argument)) {
      const [separator, parts] = argument;
      return list(parts)
        .map((part) => String(resolve(part)))
        .join(String(separator));
    }
    if (intrinsic?.startsWith("Fn::")) throw new Error(`${intrinsic} is not evaluated by these tests`);
    return Object.fromEntries(entries.map(([key, item]) => [key, resolve(item)]));
  };
  return resolve;
}

async function synthesize(props: ProductImagesCleanupStackProps = { reconcile: {} }, { bundle = false } = {}) {
  const { ProductImagesCleanupStack } = await import("../../examples/deploy/cdk/lib/product-images-cleanup-stack.js");
  const app = new App({ outdir, context: context(bundle) });
  const stack = new ProductImagesCleanupStack(app, "ProductImagesCleanup", props);
  const resources = Template.fromStack(stack).toJSON().Resources as Record<string, CfnResource>;
  const resolve = resolver(resources);
  /** The one resource whose id, without its hash, is `id`. */
  const named = (id: string): Json => {
    const found = Object.entries(resources).filter(([logicalId]) => baseId(logicalId) === id);
    if (found.length !== 1 || found[0] === undefined) throw new Error(`${found.length} resources named ${id}`);
    return found[0][1].Properties ?? {};
  };
  /** Every permission of a role as "action on resource", sorted; throws on anything but plain Allow statements. */
  const permissions = (roleId: string): string[] => {
    const role = named(roleId);
    const attached = Object.values(resources).filter(
      (resource) =>
        resource.Type.startsWith("AWS::IAM::") &&
        resource.Type !== "AWS::IAM::Role" &&
        list(resource.Properties?.Roles).some((item) => baseId(String(at(item, "Ref"))) === roleId),
    );
    expect(attached).toEqual([]);
    expect(role.ManagedPolicyArns).toBeUndefined();
    return list(role.Policies)
      .flatMap((policy) => list(at(policy, "PolicyDocument", "Statement")))
      .flatMap((statement) => {
        expect(Object.keys(statement as Json).sort()).toEqual(["Action", "Effect", "Resource"]);
        expect(at(statement, "Effect")).toBe("Allow");
        const resourcesOf = list(resolve(at(statement, "Resource")));
        return list(at(statement, "Action")).flatMap((action) =>
          resourcesOf.map((resource) => `${action} on ${resource}`),
        );
      })
      .sort();
  };
  const assumedBy = (roleId: string) =>
    list(at(named(roleId), "AssumeRolePolicyDocument", "Statement")).flatMap((statement) =>
      list(at(statement, "Principal", "Service")),
    );
  return { resources, resolve, named, permissions, assumedBy };
}

type Synthesized = Awaited<ReturnType<typeof synthesize>>;
let synthesized: Promise<Synthesized> | undefined;
const withReconcile = () => {
  synthesized ??= synthesize();
  return synthesized;
};

const STATE_MACHINE_NAME = "ProductImagesCleanup-Reconcile";
const ARN_START = "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>";

const BATCH_PERMISSIONS = [
  "dynamodb:BatchGetItem on <Products.Arn>",
  "dynamodb:DescribeTable on <Products.Arn>",
  "logs:CreateLogStream on <ReconcileBatchLogs.Arn>",
  "logs:PutLogEvents on <ReconcileBatchLogs.Arn>",
  "s3:DeleteObject on <ProductImages.Arn>/images/*",
  "s3:GetObject on <ProductImages.Arn>/images/*",
];

const STATE_MACHINE_PERMISSIONS = [
  "lambda:InvokeFunction on <ReconcileBatchFunction.Arn>",
  "s3:AbortMultipartUpload on <ReconcileReports.Arn>/reconcile-results/*",
  "s3:GetObject on <ReconcileReports.Arn>/inventory/*",
  "s3:GetObject on <ReconcileReports.Arn>/reconcile-results/*",
  "s3:ListMultipartUploadParts on <ReconcileReports.Arn>/reconcile-results/*",
  "s3:PutObject on <ReconcileReports.Arn>/reconcile-results/*",
  `states:DescribeExecution on ${ARN_START}:execution:${STATE_MACHINE_NAME}/*`,
  `states:StartExecution on ${ARN_START}:stateMachine:${STATE_MACHINE_NAME}`,
  `states:StopExecution on ${ARN_START}:execution:${STATE_MACHINE_NAME}/*`,
];

/** The ASL file's definition with a run's default concurrency set to `maxConcurrency`. */
function aslWith(maxConcurrency: number): Json {
  const definition = JSON.parse(readFileSync(RECONCILE_DEFINITION_FILE, "utf8")) as Json;
  (at(definition, "States", "Defaults", "Result") as Json).maxConcurrency = maxConcurrency;
  return definition;
}

describe("the CDK construct", () => {
  it("deploys the ASL file's definition as it is, a STANDARD state machine with the fixed name its role names", async () => {
    const { named } = await withReconcile();
    const machine = named("ReconcileStateMachine");
    expect(JSON.parse(String(machine.DefinitionString))).toEqual(ASL);
    expect(machine.StateMachineType).toBe("STANDARD");
    expect(machine.StateMachineName).toBe(STATE_MACHINE_NAME);
  });

  it("fills in every placeholder with the construct's own resources", async () => {
    const { named, resolve } = await withReconcile();
    const machine = named("ReconcileStateMachine");
    expect(resolve(machine.DefinitionSubstitutions)).toEqual({
      ReconcileFunctionArn: "<ReconcileBatchFunction.Arn>",
      ResultsBucket: "<ReconcileReports>",
      ResultsPrefix: "reconcile-results",
    });
    expect(resolve(machine.RoleArn)).toBe("<ReconcileStateMachineRole.Arn>");
  });

  it("sets a run's default concurrency from maxConcurrency, and changes nothing else of the definition", async () => {
    const { named } = await synthesize({ reconcile: { maxConcurrency: 400 } });
    const definition = JSON.parse(String(named("ReconcileStateMachine").DefinitionString));
    expect(definition).toEqual(aslWith(400));
    expect(definition).not.toEqual(ASL);
  });

  it("grants the state machine exactly StartExecution on itself, its children, the function, the inventory and the results", async () => {
    const { permissions, assumedBy } = await withReconcile();
    expect(permissions("ReconcileStateMachineRole")).toEqual(STATE_MACHINE_PERMISSIONS);
    expect(assumedBy("ReconcileStateMachineRole")).toEqual(["states.amazonaws.com"]);
  });

  it("grants the batch function exactly its logs, the table's probes and key schema, and deletes under the images prefix", async () => {
    const { permissions, assumedBy } = await withReconcile();
    expect(permissions("ReconcileBatchRole")).toEqual(BATCH_PERMISSIONS);
    expect(assumedBy("ReconcileBatchRole")).toEqual(["lambda.amazonaws.com"]);
  });

  it("has no wildcard but at the end of a prefix, in any action or resource of either role", async () => {
    const { permissions } = await withReconcile();
    for (const permission of [...permissions("ReconcileBatchRole"), ...permissions("ReconcileStateMachineRole")]) {
      const [action = "", resource = ""] = permission.split(" on ");
      expect(action).not.toContain("*");
      expect(resource.indexOf("*")).toBeOneOf([-1, resource.length - 1]);
      if (resource.endsWith("*"))
        expect(resource).toMatch(/(\/(images|inventory|reconcile-results)|:execution:[\w-]+-Reconcile)\/\*$/);
    }
  });

  it("gives the batch function no delete with allowDelete: false, and tells it so", async () => {
    const { permissions, named } = await synthesize({ reconcile: { allowDelete: false } });
    expect(permissions("ReconcileBatchRole")).toEqual(BATCH_PERMISSIONS.filter((text) => !text.startsWith("s3:")));
    expect(at(named("ReconcileBatchFunction"), "Environment", "Variables", RECONCILE_ENV.delete)).toBe("false");
  });

  it("runs the batch function on Node.js 22, with its table, bucket, key templates and prefixes in RECONCILE_ variables", async () => {
    const { named, resolve } = await withReconcile();
    const fn = named("ReconcileBatchFunction");
    expect(fn).toMatchObject({ Runtime: "nodejs22.x", Handler: "index.handler", Timeout: 120, MemorySize: 256 });
    expect(fn.Architectures).toEqual(["arm64"]);
    expect(resolve(fn.Role)).toBe("<ReconcileBatchRole.Arn>");
    expect(resolve(at(fn, "Environment", "Variables"))).toEqual({
      RECONCILE_TABLE: "<Products>",
      RECONCILE_BUCKET: "<ProductImages>",
      RECONCILE_KEYS: '["images/{productId}.png"]',
      RECONCILE_ALLOWED_PREFIXES: '["images/"]',
      RECONCILE_DELETE: "true",
    });
    expect(resolve(fn.LoggingConfig)).toEqual({ LogGroup: "<ReconcileBatchLogs>" });
  });

  it("inventories the images daily, in CSV, current versions only, with the size, time and ETag a batch reads", async () => {
    const { named, resolve } = await withReconcile();
    expect(resolve(named("ProductImages").InventoryConfigurations)).toEqual([
      {
        Id: "reconcile",
        Enabled: true,
        Destination: {
          BucketArn: "<ReconcileReports.Arn>",
          Format: "CSV",
          Prefix: "inventory",
          BucketAccountId: "<AWS::AccountId>",
        },
        IncludedObjectVersions: "Current",
        OptionalFields: ["Size", "LastModifiedDate", "ETag"],
        Prefix: "images/",
        ScheduleFrequency: "Daily",
      },
    ]);
  });

  it("lets S3 deliver the inventory into the reports bucket, which keeps reports and results a month", async () => {
    const { resources, named, resolve } = await withReconcile();
    const policy = Object.values(resources).find(
      (resource) =>
        resource.Type === "AWS::S3::BucketPolicy" && resolve(resource.Properties?.Bucket) === "<ReconcileReports>",
    );
    const statements = list(at(policy, "Properties", "PolicyDocument", "Statement"));
    expect(
      statements.some(
        (statement) =>
          at(statement, "Effect") === "Allow" &&
          at(statement, "Principal", "Service") === "s3.amazonaws.com" &&
          list(at(statement, "Action")).includes("s3:PutObject"),
      ),
    ).toBe(true);
    expect(at(named("ReconcileReports"), "LifecycleConfiguration", "Rules", 0, "ExpirationInDays")).toBe(30);
  });

  it("adds nothing of reconcile without the option", async () => {
    const { resources } = await synthesize({});
    const types = Object.values(resources).map((resource) => resource.Type);
    expect(types).not.toContain("AWS::StepFunctions::StateMachine");
    expect(types.filter((type) => type === "AWS::S3::Bucket")).toHaveLength(1);
  });

  it.each([
    [{ maxConcurrency: 0 }, "`maxConcurrency` must be an integer from 1 to 10000; it is 0"],
    [{ maxConcurrency: 10_001 }, "`maxConcurrency` must be an integer from 1 to 10000; it is 10001"],
    [{ maxConcurrency: 2.5 }, "`maxConcurrency` must be an integer from 1 to 10000; it is 2.5"],
    [{ allowedPrefixes: [] }, "`allowedPrefixes` must name at least one prefix"],
    [
      { allowedPrefixes: ["images/", ""] },
      "`allowedPrefixes` must not hold an empty prefix: it would let the function delete the whole bucket",
    ],
    [{ resultsPrefix: "" }, "`resultsPrefix` must not be empty: results go under a prefix of their own"],
    [{ concurrency: 0 }, "`concurrency` must be an integer from 1 to 64; it is 0"],
    [{ concurrency: 65 }, "`concurrency` must be an integer from 1 to 64; it is 65"],
    [{ concurrency: 2.5 }, "`concurrency` must be an integer from 1 to 64; it is 2.5"],
    [{ minAge: Duration.millis(1.5) }, "`minAge` must be whole milliseconds; it is 1.5 millis"],
  ])("refuses %j, naming the prop", (change, message) => {
    const bucket = (name: string): Bucket => ({
      bucketName: name,
      arnForObjects: (pattern: string) => `arn:aws:s3:::${name}/${pattern}`,
    });
    const props: ReconcileStateMachineProps = {
      table: { tableArn: "arn:aws:dynamodb:eu-west-1:123456789012:table/products", tableName: "products" },
      bucket: bucket("product-images"),
      key: "images/{productId}.png",
      allowedPrefixes: ["images/"],
      inventoryBucket: bucket("inventory"),
      resultsBucket: bucket("results"),
      ...change,
    };
    const stack = new Stack(new App({ outdir, context: context(false) }), "Bare");
    expect(() => new ReconcileStateMachine(stack, "Reconcile", props)).toThrow(`Reconcile: ${message}`);
  });

  it("sets the batch function's minAgeMs and concurrency from minAge and concurrency", async () => {
    const { named } = await synthesize({ reconcile: { minAge: Duration.hours(6), concurrency: 8 } });
    expect(at(named("ReconcileBatchFunction"), "Environment", "Variables")).toMatchObject({
      [RECONCILE_ENV.minAgeMs]: "21600000",
      [RECONCILE_ENV.concurrency]: "8",
    });
  });

  it("allows the same highest concurrency as the package's batch handler", () => {
    const options = { tableName: "products", bucket: "product-images", key: "images/{productId}.png" };
    expect(() => createReconcileBatchHandler({ ...options, concurrency: MAX_BATCH_CONCURRENCY })).not.toThrow();
    expect(() => createReconcileBatchHandler({ ...options, concurrency: MAX_BATCH_CONCURRENCY + 1 })).toThrow(
      `\`concurrency\`: must be at most ${MAX_BATCH_CONCURRENCY}`,
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// The batch function, bundled as `cdk synth` bundles it, and run as Lambda would run it
// ---------------------------------------------------------------------------------------------------

/** What the bundled deployment sets beyond the defaults, so that a run shows the function takes it. */
const BUNDLED_OPTIONS = { minAge: Duration.hours(6), concurrency: 8 };

let bundled: Promise<{ file: string; variables: Record<string, unknown> }> | undefined;
/** The batch function's bundle, and its variables with real names for the table and bucket references. */
const bundledFunction = () => {
  bundled ??= synthesize({ reconcile: BUNDLED_OPTIONS }, { bundle: true }).then(({ named, resolve }) => {
    const fn = named("ReconcileBatchFunction");
    const variables = record(resolve(at(fn, "Environment", "Variables")), "the function's variables");
    return {
      file: bundleFile(outdir, fn),
      variables: { ...variables, RECONCILE_TABLE: "products", RECONCILE_BUCKET: "product-images" },
    };
  });
  return bundled;
};

/** One row of an S3 Inventory CSV report, as the ItemReader hands it over: every value a string. */
const inventoryRow = (bucket: string) => ({
  Bucket: bucket,
  Key: "images/42.png",
  Size: "1024",
  LastModifiedDate: "2026-01-02T03:04:05.000Z",
  ETag: "9b2cf535f27731c974343645a3985328",
});

describe("the batch function's bundle", () => {
  it("bundles function/reconcile.ts with esbuild under 200 KB, the AWS SDK left to the runtime", async () => {
    const bundle = readFileSync((await bundledFunction()).file, "utf8");
    const loaded = [...bundle.matchAll(/\b(?:require|import)\("([^"]+)"\)/g)].map((match) => match[1] ?? "");
    expect(loaded).toContain("@aws-sdk/client-s3");
    // Loaded when first needed: a batch without objects never loads it.
    expect(bundle).toMatch(/import\("@aws-sdk\/client-dynamodb"\)/);
    expect(loaded.filter((name) => !name.startsWith("@aws-sdk/") && !name.startsWith("node:"))).toEqual([]);
    expect(bundle.length).toBeLessThan(200_000);
  });

  it("starts with the deployment's variables and answers an empty batch with all-zero counts, calling nothing", async () => {
    const { file, variables } = await bundledFunction();
    expect(variables).toMatchObject({ [RECONCILE_ENV.minAgeMs]: "21600000", [RECONCILE_ENV.concurrency]: "8" });
    // Any AWS call would go to a closed port and fail the batch.
    const run = await runBundle(file, variables, { Items: [] });
    expect(run.error).toBeUndefined();
    expect(run.result).toEqual({ ...noCounts(), invalidItems: 0 });
  });

  it("reads RECONCILE_BUCKET: a row of another bucket is an invalid item, and the batch rejects naming it", async () => {
    const { file, variables } = await bundledFunction();
    const run = await runBundle(file, variables, { Items: [inventoryRow("another-bucket")], BatchInput: {} });
    expect(run.error?.name).toBe("ReconcileBatchError");
    expect(run.error?.message).toMatch(/0 deletes failed, 0 objects unchecked, 1 invalid items \(of 1\)$/);
    expect(run.stdout).toContain('`Items[0].Bucket` must be \\"product-images\\"');
  });

  it.each([
    [RECONCILE_ENV.minAgeMs, "1e3", "of at least 0"],
    [RECONCILE_ENV.minAgeMs, "-1", "of at least 0"],
    [RECONCILE_ENV.minAgeMs, "", "of at least 0"],
    [RECONCILE_ENV.concurrency, "0", "from 1 to 64"],
    [RECONCILE_ENV.concurrency, "65", "from 1 to 64"],
    [RECONCILE_ENV.concurrency, "eight", "from 1 to 64"],
  ])("fails at init on %s=%j, naming the variable", async (name, value, range) => {
    const { file, variables } = await bundledFunction();
    await expect(runBundle(file, { ...variables, [name]: value }, { Items: [] })).rejects.toThrow(
      `${name} must be a whole number ${range}, in digits; it is ${JSON.stringify(value)}`,
    );
  });
});

describe("the reconcile function entries", () => {
  it("are the same file in the CDK, SAM and Terraform examples", () => {
    const entry = read("cdk/function/reconcile.ts");
    expect(read("sam/function/reconcile.ts")).toBe(entry);
    expect(read("terraform/function/reconcile.ts")).toBe(entry);
  });

  it("build the handler with createReconcileBatchHandler from exactly the RECONCILE_ variables the construct sets", () => {
    const entry = read("cdk/function/reconcile.ts");
    expect(entry).toMatch(/^import \{ createReconcileBatchHandler \} from "dynamodb-s3-cleanup\/reconcile";$/m);
    expect(entry).toMatch(/^export const handler = createReconcileBatchHandler\(\{$/m);
    const read_ = [...entry.matchAll(/process\.env\.(\w+)/g)].map((match) => match[1]);
    expect([...new Set(read_)].sort()).toEqual(Object.values(RECONCILE_ENV).sort());
  });
});
