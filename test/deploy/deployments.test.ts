/**
 * The deployments in examples/deploy/ are real and say the same thing: the CDK app synthesizes, the
 * SAM template and the Terraform module parse, and each has the package's recommended mapping
 * settings and TTL filter, a dead-letter queue, CLEANUP_* variables the entry point accepts, and a
 * role with exactly the actions its options need. Each also has the replay function on that queue:
 * an SQS mapping with partial batch responses, the queue's own dead-letter queue, the same
 * variables, and a role of its own with exactly what the replay does.
 *
 * Each format is reduced to one shape, a Deployment, in which references to the deployment's own
 * resources read `<name.attribute>` (`<bucket.arn>`, `<table.streamArn>`, `<replayFunction.name>`),
 * the names given by each resource's id. One set of assertions then checks all three, so a setting
 * that drifts in any of them fails.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseHcl } from "@cdktf/hcl2json";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { parse as parseYaml, type Tags } from "yaml";
import type { ProductImagesCleanupStackProps } from "../../examples/deploy/cdk/lib/product-images-cleanup-stack.js";
import {
  type FilterCriteria,
  RECOMMENDED_EVENT_SOURCE_MAPPING,
  REMOVE_ONLY_FILTER_CRITERIA,
  TTL_REMOVE_ONLY_FILTER_CRITERIA,
} from "../../src/deployment.js";
import { CLEANUP_ENV_VARIABLES, createCleanupHandlerFromEnv } from "../../src/from-env.js";
import { createReplayHandlerFromEnv } from "../../src/replay-handler.js";
import { at, baseId, bundleFile, type CfnResource, cacheDirectory, list, record, runBundle } from "./helpers.js";

const EXAMPLES = new URL("../../examples/deploy/", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, EXAMPLES), "utf8");

// ---------------------------------------------------------------------------------------------------
// The shape every deployment is reduced to, and what it must be
// ---------------------------------------------------------------------------------------------------

/** One function of a deployment, with the event source mapping that invokes it and its role. */
interface FunctionDeployment {
  /** The event source mapping's properties; filter patterns parsed, as Lambda compares them as JSON. */
  readonly mapping: Readonly<Record<string, unknown>>;
  readonly function: { Runtime: unknown; Handler: unknown; Timeout: unknown; Variables: unknown };
  /** Every permission of the function's role as "action on resource" (+ " if {condition}"), sorted. */
  readonly permissions: readonly string[];
  /** Managed policies attached to the function's role. */
  readonly managedPolicies: readonly unknown[];
  /** The services that may assume the function's role. */
  readonly assumedBy: readonly unknown[];
}

/** A queue's settings that the replay depends on, with CloudFormation's names; RedrivePolicy parsed. */
interface QueueSettings {
  readonly MessageRetentionPeriod: unknown;
  readonly SqsManagedSseEnabled: unknown;
  readonly VisibilityTimeout: unknown;
  readonly RedrivePolicy: unknown;
}

/**
 * A deployment as the tests compare it: CloudFormation's property names, references as
 * `<name.attribute>`. The cleanup function's parts are at the top, as they were before the replay.
 */
interface Deployment extends FunctionDeployment {
  readonly table: { BillingMode: unknown; TimeToLiveSpecification: unknown; StreamViewType: unknown };
  /** The replay function, invoked by the on-failure queue. */
  readonly replay: FunctionDeployment;
  /** The on-failure queue (`queue`) and the replay's dead-letter queue. */
  readonly queues: { readonly queue: QueueSettings; readonly replayDeadLetters: QueueSettings };
}

/**
 * The name references to each resource read as, by its logical id (CloudFormation; the CDK's without
 * its hash) or its `type.name` (Terraform). A resource of a kind the tests know must be here.
 */
const REFERENCE_NAMES: Readonly<Record<string, string>> = {
  Products: "table",
  ProductImages: "bucket",
  CleanupFailures: "queue",
  ReplayDeadLetters: "replayDeadLetters",
  CleanupLogs: "logGroup",
  ReplayLogs: "replayLogGroup",
  Cleanup: "function",
  Replay: "replayFunction",
  CleanupRole: "role",
  ReplayRole: "replayRole",
  "aws_dynamodb_table.products": "table",
  "aws_s3_bucket.images": "bucket",
  "aws_sqs_queue.failures": "queue",
  "aws_sqs_queue.replay_dead_letters": "replayDeadLetters",
  "aws_cloudwatch_log_group.cleanup": "logGroup",
  "aws_cloudwatch_log_group.replay": "replayLogGroup",
  "aws_lambda_function.cleanup": "function",
  "aws_lambda_function.replay": "replayFunction",
  "aws_iam_role.cleanup": "role",
  "aws_iam_role.replay": "replayRole",
};

/** The reference name of the resource with this id, or an error naming the id. */
function referenceName(id: string): string {
  const name = REFERENCE_NAMES[id];
  if (name === undefined) throw new Error(`${id} is not a resource the tests know`);
  return name;
}

const DEFAULT_VARIABLES = {
  CLEANUP_BUCKET: "<bucket.name>",
  CLEANUP_KEY: "images/{productId}.png",
  CLEANUP_ALLOWED_PREFIXES: "images/",
  CLEANUP_REMOVALS: "ttl",
  CLEANUP_METRICS_NAMESPACE: "ProductImagesCleanup",
};

const STREAM_READ = ["DescribeStream", "GetRecords", "GetShardIterator", "ListStreams"].map(
  (action) => `dynamodb:${action} on <table.streamArn>`,
);

const DEFAULT_PERMISSIONS = [
  ...STREAM_READ,
  "logs:CreateLogStream on <logGroup.arn>:*",
  "logs:PutLogEvents on <logGroup.arn>:*",
  "s3:DeleteObject on <bucket.arn>/images/*",
  "sqs:SendMessage on <queue.arn>",
].sort();

/** The replay's own: the stream range it re-reads, the table verifyAbsent reads, its queue's mapping. */
const REPLAY_PERMISSIONS = [
  "dynamodb:BatchGetItem on <table.arn>",
  "dynamodb:GetRecords on <table.streamArn>",
  "dynamodb:GetShardIterator on <table.streamArn>",
  "logs:CreateLogStream on <replayLogGroup.arn>:*",
  "logs:PutLogEvents on <replayLogGroup.arn>:*",
  "s3:DeleteObject on <bucket.arn>/images/*",
  "sqs:DeleteMessage on <queue.arn>",
  "sqs:GetQueueAttributes on <queue.arn>",
  "sqs:ReceiveMessage on <queue.arn>",
].sort();

const REPLAY_MAPPING = {
  EventSourceArn: "<queue.arn>",
  FunctionName: "<replayFunction.name>",
  FunctionResponseTypes: ["ReportBatchItemFailures"],
  BatchSize: 5,
  ScalingConfig: { MaximumConcurrency: 2 },
};

/** Seconds; the on-failure queue's visibility timeout is 6 times this. */
const REPLAY_TIMEOUT = 120;

const QUEUES = {
  queue: {
    MessageRetentionPeriod: 1209600,
    SqsManagedSseEnabled: true,
    VisibilityTimeout: 6 * REPLAY_TIMEOUT,
    RedrivePolicy: { deadLetterTargetArn: "<replayDeadLetters.arn>", maxReceiveCount: 5 },
  },
  replayDeadLetters: { MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true },
};

const DEFAULT_TABLE = {
  BillingMode: "PAY_PER_REQUEST",
  TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
  StreamViewType: "KEYS_ONLY",
};

function expectedMapping(filter: FilterCriteria) {
  return {
    ...RECOMMENDED_EVENT_SOURCE_MAPPING,
    EventSourceArn: "<table.streamArn>",
    FunctionName: "<function.name>",
    DestinationConfig: { OnFailure: { Destination: "<queue.arn>" } },
    FilterCriteria: { Filters: filter.Filters.map(({ Pattern }) => ({ Pattern: JSON.parse(Pattern) })) },
  };
}

const expectMapping = (deployment: Deployment, filter: FilterCriteria = TTL_REMOVE_ONLY_FILTER_CRITERIA) =>
  expect(deployment.mapping).toEqual(expectedMapping(filter));
const expectTable = (deployment: Deployment) => expect(deployment.table).toEqual(DEFAULT_TABLE);
const expectVariables = (deployment: Deployment) => expect(deployment.function.Variables).toEqual(DEFAULT_VARIABLES);
const expectPermissions = (deployment: FunctionDeployment, permissions: readonly string[] = DEFAULT_PERMISSIONS) => {
  expect(deployment.permissions).toEqual(permissions);
  expect(deployment.managedPolicies).toEqual([]);
  expect(deployment.assumedBy).toEqual(["lambda.amazonaws.com"]);
};
/** The replay as the default deployment has it: its mapping, queues, timeout, variables and role. */
const expectReplay = (deployment: Deployment, permissions: readonly string[] = REPLAY_PERMISSIONS) => {
  expect(deployment.replay.mapping).toEqual(REPLAY_MAPPING);
  expect(deployment.queues).toEqual(QUEUES);
  expect(deployment.replay.function).toMatchObject({ Runtime: "nodejs22.x", Timeout: REPLAY_TIMEOUT });
  expect(deployment.replay.function.Variables).toEqual(deployment.function.Variables);
  expectPermissions(deployment.replay, permissions);
};

/** Builds the handler the entry point would build from these variables, with a real bucket name. */
function handlerFromVariables(variables: unknown) {
  const env = record(variables, "the function's variables");
  for (const name of Object.keys(env)) expect(CLEANUP_ENV_VARIABLES).toContain(name);
  return createCleanupHandlerFromEnv({ ...env, CLEANUP_BUCKET: "product-images" } as Record<string, string>);
}

/** The same for the replay entry point, `dynamodb-s3-cleanup/replay`. */
function replayHandlerFromVariables(variables: unknown) {
  const env = record(variables, "the replay function's variables");
  for (const name of Object.keys(env)) expect(CLEANUP_ENV_VARIABLES).toContain(name);
  return createReplayHandlerFromEnv({ ...env, CLEANUP_BUCKET: "product-images" } as Record<string, string>);
}

// ---------------------------------------------------------------------------------------------------
// Reading untyped documents
// ---------------------------------------------------------------------------------------------------

interface Statement {
  readonly effect: unknown;
  readonly actions: unknown;
  readonly resources: unknown;
  /** `{ operator: { key: values[] } }`, values always a list. */
  readonly condition?: unknown;
}

function permissionsOf(statements: readonly Statement[]): string[] {
  return statements
    .flatMap(({ effect, actions, resources, condition }) => {
      if (effect !== "Allow") throw new Error(`a statement with effect ${String(effect)}: only Allow is expected`);
      const when = condition === undefined ? "" : ` if ${JSON.stringify(condition)}`;
      return list(actions).flatMap((action) => list(resources).map((resource) => `${action} on ${resource}${when}`));
    })
    .sort();
}

// ---------------------------------------------------------------------------------------------------
// CloudFormation (the CDK app's template, and the SAM template after its one transform we need)
// ---------------------------------------------------------------------------------------------------

const CFN_KINDS: Readonly<Record<string, string>> = {
  "AWS::DynamoDB::Table": "table",
  "AWS::S3::Bucket": "bucket",
  "AWS::SQS::Queue": "queue",
  "AWS::Logs::LogGroup": "logGroup",
  "AWS::Lambda::Function": "function",
  "AWS::IAM::Role": "role",
};

/** Resolves Ref, Fn::GetAtt, Fn::Join and Fn::Sub to `<name.attribute>` text; any other function throws. */
function cloudFormationResolver(resources: Readonly<Record<string, CfnResource>>) {
  const reference = (id: string, attribute?: string): string => {
    if (id.startsWith("AWS::")) return `<${id}>`;
    const type = resources[id]?.Type;
    const kind = type === undefined ? undefined : CFN_KINDS[type];
    if (kind === undefined) throw new Error(`a reference to ${id}, which is not a resource the tests know`);
    const name = referenceName(baseId(id));
    const count = Object.keys(resources).filter((other) => REFERENCE_NAMES[baseId(other)] === name).length;
    if (count !== 1) throw new Error(`${count} resources named ${name}: a reference to one is ambiguous`);
    if (attribute === undefined) return `<${name}.${kind === "queue" ? "url" : "name"}>`;
    // A log group's Arn attribute already ends in ":*" (all its streams); Terraform's arn does not.
    if (kind === "logGroup" && attribute === "Arn") return `<${name}.arn>:*`;
    return `<${name}.${attribute.charAt(0).toLowerCase()}${attribute.slice(1)}>`;
  };
  const referenceTo = (name: string) => {
    const dot = name.indexOf(".");
    return dot < 0 ? reference(name) : reference(name.slice(0, dot), name.slice(dot + 1));
  };
  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== "object") return value;
    const entries = Object.entries(value);
    const [intrinsic, argument] = entries.length === 1 && entries[0] !== undefined ? entries[0] : [];
    if (intrinsic === "Ref") return reference(String(argument));
    if (intrinsic === "Fn::GetAtt") {
      return Array.isArray(argument)
        ? reference(String(argument[0]), String(argument[1]))
        : referenceTo(String(argument));
    }
    if (intrinsic === "Fn::Join" && Array.isArray(argument)) {
      const [separator, parts] = argument;
      return list(parts)
        .map((part) => String(resolve(part)))
        .join(String(separator));
    }
    if (intrinsic === "Fn::Sub" && typeof argument === "string") {
      return argument.replace(/\$\{([^}]+)\}/g, (_, name: string) => referenceTo(name));
    }
    if (intrinsic?.startsWith("Fn::")) throw new Error(`${intrinsic} is not evaluated by these tests`);
    return Object.fromEntries(entries.map(([key, item]) => [key, resolve(item)]));
  };
  return resolve;
}

function fromCloudFormation(resources: Readonly<Record<string, CfnResource>>): Deployment {
  const resolve = cloudFormationResolver(resources);
  /** The resource with this reference name: its logical id and properties. */
  const named = (name: string) => {
    const found = Object.entries(resources).filter(([id]) => REFERENCE_NAMES[baseId(id)] === name);
    if (found.length !== 1 || found[0] === undefined) throw new Error(`${found.length} resources named ${name}`);
    const [id, resource] = found[0];
    return [id, resource.Properties ?? {}] as const;
  };
  const [, table] = named("table");
  const queue = (name: string): QueueSettings => {
    const [, properties] = named(name);
    return {
      MessageRetentionPeriod: properties.MessageRetentionPeriod,
      SqsManagedSseEnabled: properties.SqsManagedSseEnabled,
      VisibilityTimeout: properties.VisibilityTimeout,
      RedrivePolicy: resolve(properties.RedrivePolicy),
    };
  };

  const functionDeployment = (name: string): FunctionDeployment => {
    const [, fn] = named(name);
    const mappings = Object.values(resources).filter(
      (resource) =>
        resource.Type === "AWS::Lambda::EventSourceMapping" &&
        resolve(resource.Properties?.FunctionName) === `<${name}.name>`,
    );
    if (mappings.length !== 1 || mappings[0] === undefined) throw new Error(`${mappings.length} mappings of ${name}`);
    const mapping = mappings[0].Properties ?? {};

    // The role must be the template's own: `!GetAtt Role.Arn` (or its JSON form).
    const roleArn = at(fn, "Role", "Fn::GetAtt");
    const roleId = Array.isArray(roleArn) ? roleArn[0] : String(roleArn).split(".")[0];
    const role = typeof roleId === "string" ? resources[roleId] : undefined;
    if (role?.Type !== "AWS::IAM::Role" || resolve(fn.Role) !== `<${REFERENCE_NAMES[baseId(String(roleId))]}.arn>`)
      throw new Error("the function's Role is not the template's role");
    const roleProperties = role.Properties ?? {};
    const attachedToRole = Object.values(resources).filter(
      (resource) =>
        (resource.Type === "AWS::IAM::Policy" || resource.Type === "AWS::IAM::ManagedPolicy") &&
        list(resource.Properties?.Roles).some((item) => at(item, "Ref") === roleId),
    );
    const documents = [
      ...list(roleProperties.Policies).map((policy) => at(policy, "PolicyDocument")),
      ...attachedToRole
        .filter((resource) => resource.Type === "AWS::IAM::Policy")
        .map((policy) => policy.Properties?.PolicyDocument),
    ];
    const statements = documents.flatMap((document) =>
      list(at(document, "Statement")).map((statement): Statement => {
        if (at(statement, "NotAction") !== undefined || at(statement, "NotResource") !== undefined) {
          throw new Error("NotAction and NotResource are not expected");
        }
        const condition = at(statement, "Condition");
        return {
          effect: at(statement, "Effect"),
          actions: at(statement, "Action"),
          resources: list(resolve(at(statement, "Resource"))),
          ...(condition === undefined ? {} : { condition: cloudFormationCondition(condition) }),
        };
      }),
    );

    const resolvedMapping = record(resolve(mapping), "the mapping");
    return {
      mapping: { ...resolvedMapping, FilterCriteria: parsedPatterns(resolvedMapping.FilterCriteria) },
      function: {
        Runtime: fn.Runtime,
        Handler: fn.Handler,
        Timeout: fn.Timeout,
        Variables: resolve(at(fn, "Environment", "Variables")),
      },
      permissions: permissionsOf(statements),
      managedPolicies: [
        ...list(roleProperties.ManagedPolicyArns),
        ...attachedToRole.filter((resource) => resource.Type === "AWS::IAM::ManagedPolicy"),
      ],
      assumedBy: list(at(roleProperties, "AssumeRolePolicyDocument", "Statement")).flatMap((statement) =>
        list(at(statement, "Principal", "Service")),
      ),
    };
  };

  return {
    table: {
      BillingMode: table.BillingMode,
      TimeToLiveSpecification: table.TimeToLiveSpecification,
      StreamViewType: at(table, "StreamSpecification", "StreamViewType"),
    },
    ...functionDeployment("function"),
    replay: functionDeployment("replayFunction"),
    queues: { queue: queue("queue"), replayDeadLetters: queue("replayDeadLetters") },
  };
}

/** `{ operator: { key: value } }` with every value as a list, as Terraform writes it. */
function cloudFormationCondition(condition: unknown) {
  return Object.fromEntries(
    Object.entries(record(condition, "a Condition")).map(([operator, keys]) => [
      operator,
      Object.fromEntries(Object.entries(record(keys, operator)).map(([key, value]) => [key, list(value)])),
    ]),
  );
}

function parsedPatterns(criteria: unknown) {
  if (criteria === undefined) return undefined;
  return {
    Filters: list(at(criteria, "Filters")).map((filter) => ({ Pattern: JSON.parse(String(at(filter, "Pattern"))) })),
  };
}

// The short forms (!Ref, !GetAtt, !Sub, ...) as the JSON forms CloudFormation turns them into.
const INTRINSIC_FUNCTIONS = [
  "And",
  "Base64",
  "Cidr",
  "Equals",
  "FindInMap",
  "GetAZs",
  "If",
  "ImportValue",
  "Join",
  "Not",
  "Or",
  "Select",
  "Split",
  "Sub",
];
const CLOUDFORMATION_TAGS: Tags = [
  { tag: "!Ref", resolve: (value: string) => ({ Ref: value }) },
  { tag: "!Condition", resolve: (value: string) => ({ Condition: value }) },
  { tag: "!GetAtt", resolve: (value: string) => ({ "Fn::GetAtt": value }) },
  { tag: "!GetAtt", collection: "seq", resolve: (items) => ({ "Fn::GetAtt": items.toJSON() }) },
  ...INTRINSIC_FUNCTIONS.flatMap(
    (name): Tags => [
      { tag: `!${name}`, resolve: (value: string) => ({ [`Fn::${name}`]: value }) },
      { tag: `!${name}`, collection: "seq", resolve: (items) => ({ [`Fn::${name}`]: items.toJSON() }) },
      { tag: `!${name}`, collection: "map", resolve: (items) => ({ [`Fn::${name}`]: items.toJSON() }) },
    ],
  ),
];

/**
 * Parses a SAM template and applies the part of the SAM transform these tests need: a
 * `AWS::Serverless::Function` becomes an `AWS::Lambda::Function`, and its DynamoDB events become
 * `AWS::Lambda::EventSourceMapping`s, and so do its SQS events (SAM passes their properties through,
 * `Stream` or `Queue` as EventSourceArn).
 * What SAM would add on its own (Policies, a generated role, Globals) throws, as it escapes the checks.
 */
function fromSamTemplate(text: string): Deployment {
  const template = record(parseYaml(text, { customTags: CLOUDFORMATION_TAGS }), "the template");
  if (template.Globals !== undefined) throw new Error("Globals are not checked: set properties on each resource");
  const resources: Record<string, CfnResource> = {};
  for (const [id, value] of Object.entries(record(template.Resources, "Resources"))) {
    const resource = value as CfnResource;
    if (resource.Type !== "AWS::Serverless::Function") {
      resources[id] = resource;
      continue;
    }
    const { Events, Policies, CodeUri, ...properties } = record(resource.Properties, `${id}.Properties`);
    if (Policies !== undefined) throw new Error(`${id}.Policies are not checked: grant through the function's Role`);
    resources[id] = { Type: "AWS::Lambda::Function", Properties: properties };
    for (const [eventId, event] of Object.entries(record(Events ?? {}, `${id}.Events`))) {
      const type = at(event, "Type");
      const source = type === "DynamoDB" ? "Stream" : type === "SQS" ? "Queue" : undefined;
      if (source === undefined) throw new Error(`${id}.Events.${eventId} is neither a DynamoDB nor an SQS event`);
      const { [source]: arn, ...settings } = record(at(event, "Properties"), `${id}.Events.${eventId}.Properties`);
      resources[`${id}${eventId}`] = {
        Type: "AWS::Lambda::EventSourceMapping",
        Properties: { FunctionName: { Ref: id }, EventSourceArn: arn, ...settings },
      };
    }
  }
  return fromCloudFormation(resources);
}

// ---------------------------------------------------------------------------------------------------
// Terraform (parsed to JSON by @cdktf/hcl2json; expressions evaluated as far as the module uses them)
// ---------------------------------------------------------------------------------------------------

interface TerraformModule {
  /** "type.name" to the block's body, for resources and for data sources. */
  readonly resources: ReadonlyMap<string, Record<string, unknown>>;
  readonly data: ReadonlyMap<string, Record<string, unknown>>;
  readonly locals: Readonly<Record<string, unknown>>;
  /** Each variable's default. */
  readonly variables: Readonly<Record<string, unknown>>;
}

async function parseTerraform(files: Readonly<Record<string, string>>): Promise<TerraformModule> {
  const resources = new Map<string, Record<string, unknown>>();
  const data = new Map<string, Record<string, unknown>>();
  const locals: Record<string, unknown> = {};
  const variables: Record<string, unknown> = {};
  const collect = (into: Map<string, Record<string, unknown>>, blocks: unknown) => {
    for (const [type, named] of Object.entries(record(blocks ?? {}, "blocks"))) {
      for (const [name, bodies] of Object.entries(record(named, type))) {
        if (into.has(`${type}.${name}`)) throw new Error(`${type}.${name} is defined twice`);
        into.set(`${type}.${name}`, record(list(bodies)[0], `${type}.${name}`));
      }
    }
  };
  for (const [name, text] of Object.entries(files)) {
    const parsed = await parseHcl(name, text);
    collect(resources, parsed.resource);
    collect(data, parsed.data);
    for (const block of list(parsed.locals)) Object.assign(locals, block);
    for (const [variable, bodies] of Object.entries(record(parsed.variable ?? {}, "variable"))) {
      variables[variable] = at(bodies, 0, "default");
    }
  }
  return { resources, data, locals, variables };
}

const TERRAFORM_KINDS: Readonly<Record<string, string>> = {
  aws_dynamodb_table: "table",
  aws_s3_bucket: "bucket",
  aws_sqs_queue: "queue",
  aws_cloudwatch_log_group: "logGroup",
  aws_lambda_function: "function",
  aws_iam_role: "role",
};
const TERRAFORM_ATTRIBUTES: Readonly<Record<string, string>> = {
  arn: "arn",
  stream_arn: "streamArn",
  bucket: "name",
  function_name: "name",
  name: "name",
  url: "url",
};

/**
 * Evaluates `${...}` in strings: locals, variables, jsonencode(...) of them or of a flat object
 * literal, and the module's resources' attributes.
 */
function terraformResolver(module: TerraformModule) {
  const expression = (text: string): unknown => {
    const encoded = /^jsonencode\((.+)\)$/s.exec(text);
    if (encoded?.[1] !== undefined) return JSON.stringify(operand(encoded[1].trim()));
    const [head = "", name = "", attribute, ...rest] = text.split(".");
    if (head === "local" && attribute === undefined && name in module.locals) return resolve(module.locals[name]);
    if (head === "var" && attribute === undefined && module.variables[name] !== undefined)
      return module.variables[name];
    const kind = TERRAFORM_KINDS[head];
    if (kind !== undefined && attribute !== undefined && rest.length === 0 && module.resources.has(`${head}.${name}`)) {
      const reference = referenceName(`${head}.${name}`);
      const canonical = attribute === "id" ? (kind === "queue" ? "url" : "name") : TERRAFORM_ATTRIBUTES[attribute];
      if (canonical !== undefined) return `<${reference}.${canonical}>`;
    }
    throw new Error(`\${${text}} is not an expression these tests evaluate`);
  };
  /** A number, a quoted string, a one-line-per-attribute object `{ name = operand }`, or an expression. */
  const operand = (text: string): unknown => {
    if (/^-?\d+$/.test(text)) return Number(text);
    if (/^"[^"]*"$/.test(text)) return resolve(text.slice(1, -1));
    if (!text.startsWith("{")) return expression(text);
    if (!text.endsWith("}")) throw new Error(`${text} is not an object these tests evaluate`);
    const attributes = text
      .slice(1, -1)
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "")
      .map((line) => {
        const [, name, value] = /^(\w+)\s*=\s*(.+)$/.exec(line) ?? [];
        if (name === undefined || value === undefined)
          throw new Error(`${line} is not an attribute these tests evaluate`);
        return [name, operand(value)];
      });
    return Object.fromEntries(attributes);
  };
  const resolve = (value: unknown): unknown => {
    if (typeof value === "string") {
      const whole = /^\$\{([^{}]*(?:\([^()]*\))?)\}$/.exec(value) ?? /^\$\{(jsonencode\(\{.*\}\))\}$/s.exec(value);
      if (whole?.[1] !== undefined) return expression(whole[1]);
      return value.replace(/\$\{([^}]*)\}/g, (_, text: string) => {
        const result = expression(text);
        if (typeof result !== "string") throw new Error(`\${${text}} is not a string`);
        return result;
      });
    }
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== "object") return value;
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolve(item)]));
  };
  return resolve;
}

const pascalCase = (name: string) =>
  name.replace(/(?:^|_)([a-z])/g, (_, letter: string) => letter.toUpperCase()).replace(/_/g, "");

function fromTerraform(module: TerraformModule): Deployment {
  const resolve = terraformResolver(module);
  /** The resource with this reference name: its `type.name` and body. */
  const named = (name: string) => {
    const found = [...module.resources].filter(([key]) => REFERENCE_NAMES[key] === name);
    if (found.length !== 1 || found[0] === undefined) throw new Error(`${found.length} resources named ${name}`);
    return found[0];
  };
  const policyDocument = (reference: unknown) => {
    const name = /^\$\{data\.aws_iam_policy_document\.(\w+)\.json\}$/.exec(String(reference))?.[1];
    const document = module.data.get(`aws_iam_policy_document.${name}`);
    if (document === undefined) throw new Error("a policy that is not an aws_iam_policy_document of the module");
    return list(document.statement);
  };
  const queue = (name: string): QueueSettings => {
    const [, body] = named(name);
    return {
      MessageRetentionPeriod: body.message_retention_seconds,
      SqsManagedSseEnabled: body.sqs_managed_sse_enabled,
      VisibilityTimeout: body.visibility_timeout_seconds,
      RedrivePolicy: body.redrive_policy === undefined ? undefined : JSON.parse(String(resolve(body.redrive_policy))),
    };
  };

  const functionDeployment = (name: string): FunctionDeployment => {
    const [, fn] = named(name);
    const mappings = [...module.resources].filter(
      ([key, body]) =>
        key.startsWith("aws_lambda_event_source_mapping.") && resolve(body.function_name) === `<${name}.name>`,
    );
    if (mappings.length !== 1 || mappings[0] === undefined) throw new Error(`${mappings.length} mappings of ${name}`);
    const { destination_config, filter_criteria, scaling_config, depends_on, ...settings } = mappings[0][1];

    const roleName = /^<(\w+)\.arn>$/.exec(String(resolve(fn.role)))?.[1];
    const roleKey = Object.keys(REFERENCE_NAMES).find(
      (key) => key.startsWith("aws_iam_role.") && REFERENCE_NAMES[key] === roleName,
    );
    const role = roleKey === undefined ? undefined : module.resources.get(roleKey);
    if (role === undefined) throw new Error("the function's role is not the module's role");
    if (role.inline_policy !== undefined) throw new Error("inline_policy is not checked: use aws_iam_role_policy");
    const ofRole = (type: string) =>
      [...module.resources].filter(
        ([key, body]) => key.startsWith(`${type}.`) && resolve(body.role) === `<${roleName}.name>`,
      );

    const statements = ofRole("aws_iam_role_policy")
      .flatMap(([, policy]) => policyDocument(policy.policy))
      .map((statement): Statement => {
        if (at(statement, "not_actions") !== undefined || at(statement, "not_resources") !== undefined) {
          throw new Error("not_actions and not_resources are not expected");
        }
        const conditions = list(at(statement, "condition"));
        return {
          effect: at(statement, "effect") ?? "Allow",
          actions: at(statement, "actions"),
          resources: resolve(at(statement, "resources")),
          ...(conditions.length === 0
            ? {}
            : {
                condition: Object.fromEntries(
                  conditions.map((condition) => [
                    at(condition, "test"),
                    { [String(at(condition, "variable"))]: at(condition, "values") },
                  ]),
                ),
              }),
        };
      });

    const mapping: Record<string, unknown> = Object.fromEntries(
      Object.entries(settings).map(([setting, value]) => [pascalCase(setting), resolve(value)]),
    );
    if (destination_config !== undefined) {
      mapping.DestinationConfig = {
        OnFailure: { Destination: resolve(at(destination_config, 0, "on_failure", 0, "destination_arn")) },
      };
    }
    if (filter_criteria !== undefined) {
      mapping.FilterCriteria = parsedPatterns({
        Filters: list(at(filter_criteria, 0, "filter")).map((filter) => ({ Pattern: resolve(at(filter, "pattern")) })),
      });
    }
    if (scaling_config !== undefined) {
      mapping.ScalingConfig = { MaximumConcurrency: at(scaling_config, 0, "maximum_concurrency") };
    }

    return {
      mapping,
      function: {
        Runtime: fn.runtime,
        Handler: fn.handler,
        Timeout: fn.timeout,
        Variables: resolve(at(fn, "environment", 0, "variables")),
      },
      permissions: permissionsOf(statements),
      managedPolicies: [
        ...list(role.managed_policy_arns),
        ...ofRole("aws_iam_role_policy_attachment").map(([, attachment]) => attachment.policy_arn),
      ],
      assumedBy: policyDocument(role.assume_role_policy).flatMap((statement) =>
        list(at(statement, "principals"))
          .filter((principal) => at(principal, "type") === "Service")
          .flatMap((principal) => list(at(principal, "identifiers"))),
      ),
    };
  };

  const [, table] = named("table");
  return {
    table: {
      BillingMode: table.billing_mode,
      TimeToLiveSpecification: {
        AttributeName: at(table, "ttl", 0, "attribute_name"),
        Enabled: at(table, "ttl", 0, "enabled"),
      },
      StreamViewType: table.stream_enabled === true ? table.stream_view_type : undefined,
    },
    ...functionDeployment("function"),
    replay: functionDeployment("replayFunction"),
    queues: { queue: queue("queue"), replayDeadLetters: queue("replayDeadLetters") },
  };
}

const TERRAFORM_FILES = Object.fromEntries(
  readdirSync(new URL("terraform/", EXAMPLES))
    .filter((name) => name.endsWith(".tf"))
    .sort()
    .map((name) => [name, read(`terraform/${name}`)]),
);

// ---------------------------------------------------------------------------------------------------
// The CDK app, synthesized
// ---------------------------------------------------------------------------------------------------

// Synthesized as `cdk synth` would: with cdk.json's context, which turns CloudFormation Validate's
// findings (schema and lint rules) into errors. The first synth takes a few seconds (the validator's
// start and esbuild), the next ones a fraction of a second.
//
// Asset staging (the bundled function) and the Terraform build need a writable directory. It is
// under node_modules/ so that a bundle run from it finds @aws-sdk/*, which it leaves to the runtime.
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const outdir = cacheDirectory("deploy-test");

/** An event without records: the cleanup function answers it without a call. */
const EMPTY_EVENT = { Records: [] };

/** An SQS event whose one message is no on-failure record: the replay reports it without a call. */
const NOT_A_FAILURE_RECORD = {
  Records: [
    {
      messageId: "0b5a7a64-5c3c-4c53-9f4e-7a8e3e0c2f11",
      eventSource: "aws:sqs",
      body: JSON.stringify({ hello: "not an on-failure record" }),
    },
  ],
};

/** A function's variables with a real bucket name for the reference to the deployment's bucket. */
const withBucket = (variables: unknown) => ({
  ...record(variables, "the function's variables"),
  CLEANUP_BUCKET: "product-images",
});

/** The EMF namespaces in a function's output: CLEANUP_METRICS_NAMESPACE at work. */
const metricNamespaces = (stdout: string) =>
  stdout
    .split("\n")
    .filter((line) => line.startsWith('{"_aws"'))
    .flatMap((line) =>
      list(at(JSON.parse(line), "_aws", "CloudWatchMetrics")).map((metrics) => at(metrics, "Namespace")),
    );

const CDK_CONTEXT = record(at(JSON.parse(read("cdk/cdk.json")), "context"), "cdk.json's context");

async function synthesize(props: ProductImagesCleanupStackProps = {}) {
  const { ProductImagesCleanupStack } = await import("../../examples/deploy/cdk/lib/product-images-cleanup-stack.js");
  const app = new App({ outdir, context: CDK_CONTEXT });
  const stack = new ProductImagesCleanupStack(app, "ProductImagesCleanup", props);
  const template = Template.fromStack(stack).toJSON();
  const resources = record(template.Resources, "Resources") as Record<string, CfnResource>;
  return { resources, deployment: fromCloudFormation(resources) };
}

const once = <T>(load: () => Promise<T>) => {
  let loaded: Promise<T> | undefined;
  return () => {
    loaded ??= load();
    return loaded;
  };
};
const synthesizedDefault = once(() => synthesize());
beforeAll(() => synthesizedDefault(), 120_000);

function onlyResource(resources: Readonly<Record<string, CfnResource>>, type: string) {
  const found = Object.entries(resources).filter(([, resource]) => resource.Type === type);
  expect(found).toHaveLength(1);
  return found[0] as [string, CfnResource];
}

/** The CDK app's function whose construct id is `id` ("Cleanup" or "Replay"). */
function functionResource(resources: Readonly<Record<string, CfnResource>>, id: string) {
  const found = Object.entries(resources).filter(
    ([logicalId, resource]) => resource.Type === "AWS::Lambda::Function" && baseId(logicalId) === id,
  );
  expect(found).toHaveLength(1);
  return (found[0] as [string, CfnResource])[1];
}

// ---------------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------------

const terraformModule = once(() => parseTerraform(TERRAFORM_FILES));

/** Each format, how to load it, and the replay's handler (the CDK's bundles are always index.js). */
const deployments: [string, () => Promise<Deployment>, string][] = [
  ["the CDK app", async () => (await synthesizedDefault()).deployment, "index.handler"],
  ["the SAM template", async () => fromSamTemplate(read("sam/template.yaml")), "replay.handler"],
  ["the Terraform module", async () => fromTerraform(await terraformModule()), "replay.handler"],
];

describe.each(deployments)("%s", (_, load, replayHandler) => {
  it("maps the table's stream with exactly the recommended settings, the dead-letter queue and the TTL filter", async () => {
    expectMapping(await load());
  });

  it("creates the table on demand, with TTL on expiresAt and a KEYS_ONLY stream", async () => {
    expectTable(await load());
  });

  it("runs the published entry point on Node.js 22", async () => {
    expect((await load()).function).toMatchObject({ Runtime: "nodejs22.x", Handler: "index.handler" });
  });

  it("configures the function by CLEANUP_ variables that the entry point accepts", async () => {
    const deployment = await load();
    expectVariables(deployment);
    expect(handlerFromVariables(deployment.function.Variables)).toBeTypeOf("function");
  });

  it("grants exactly the actions the function and its mapping use, each on its narrowest resource", async () => {
    expectPermissions(await load());
  });

  describe("the replay function", () => {
    it("consumes the dead-letter queue with partial batch responses, a few messages at a time, two at once at most", async () => {
      expect((await load()).replay.mapping).toEqual(REPLAY_MAPPING);
    });

    it("runs the published replay entry point on Node.js 22", async () => {
      expect((await load()).replay.function).toMatchObject({ Runtime: "nodejs22.x", Handler: replayHandler });
    });

    it("has the cleanup's CLEANUP_ variables, which the replay entry point accepts", async () => {
      const deployment = await load();
      expect(deployment.replay.function.Variables).toEqual(DEFAULT_VARIABLES);
      expect(replayHandlerFromVariables(deployment.replay.function.Variables)).toBeTypeOf("function");
    });

    it("gives the queue a visibility timeout of at least 6 times its timeout, and a redrive to its own DLQ", async () => {
      const { queues, replay } = await load();
      expect(queues).toEqual(QUEUES);
      expect(replay.function.Timeout).toBe(REPLAY_TIMEOUT);
      expect(queues.queue.VisibilityTimeout).toBeGreaterThanOrEqual(6 * Number(replay.function.Timeout));
    });

    it("grants exactly the actions the replay and its mapping use, each on its narrowest resource", async () => {
      expectPermissions((await load()).replay, REPLAY_PERMISSIONS);
    });
  });
});

describe("the function entries", () => {
  it("are the same one-line re-export of dynamodb-s3-cleanup/lambda", () => {
    const entry = read("cdk/function/index.ts");
    expect(entry).toMatch(/^export \{ handler \} from "dynamodb-s3-cleanup\/lambda";$/m);
    expect(read("sam/function/index.ts")).toBe(entry);
    expect(read("terraform/function/index.ts")).toBe(entry);
  });

  it("of the replay are the same one-line re-export of dynamodb-s3-cleanup/replay", () => {
    const entry = read("cdk/function/replay.ts");
    expect(entry).toMatch(/^export \{ handler \} from "dynamodb-s3-cleanup\/replay";$/m);
    expect(entry.split("\n").filter((line) => line !== "" && !line.startsWith("//"))).toHaveLength(1);
    expect(read("sam/function/replay.ts")).toBe(entry);
    expect(read("terraform/function/replay.ts")).toBe(entry);
  });
});

describe("the CDK app", () => {
  it("bundles the entry point with esbuild and leaves the AWS SDK to the runtime", async () => {
    const { resources } = await synthesizedDefault();
    // The code's S3 key is the asset's hash, and the staged asset sits in the output directory.
    const bundle = readFileSync(bundleFile(outdir, functionResource(resources, "Cleanup").Properties), "utf8");
    expect(bundle).toMatch(/require\("@aws-sdk\/client-s3"\)/);
    expect(bundle.length).toBeLessThan(200_000);
  });

  it("bundles the replay entry point the same way, the stream and table clients left to the runtime too", async () => {
    const { resources } = await synthesizedDefault();
    const bundle = readFileSync(bundleFile(outdir, functionResource(resources, "Replay").Properties), "utf8");
    expect(bundle).toMatch(/require\("@aws-sdk\/client-s3"\)/);
    // Loaded when first needed, so a replay that reads no stream never loads them.
    expect(bundle).toMatch(/import\("@aws-sdk\/client-dynamodb-streams"\)/);
    expect(bundle).toMatch(/import\("@aws-sdk\/client-dynamodb"\)/);
    expect(bundle.length).toBeLessThan(200_000);
  });

  it("deploys a bundle that starts with its variables and answers an event", async () => {
    const { resources, deployment } = await synthesizedDefault();
    const file = bundleFile(outdir, functionResource(resources, "Cleanup").Properties);
    const { result, stdout } = await runBundle(file, withBucket(deployment.function.Variables), EMPTY_EVENT);
    expect(result).toEqual({ batchItemFailures: [] });
    expect(metricNamespaces(stdout)).toEqual(["ProductImagesCleanup"]);
  });

  it("deploys a replay bundle that starts with its variables and reports a message that is no on-failure record", async () => {
    const { resources, deployment } = await synthesizedDefault();
    const file = bundleFile(outdir, functionResource(resources, "Replay").Properties);
    const { result, stdout } = await runBundle(
      file,
      withBucket(deployment.replay.function.Variables),
      NOT_A_FAILURE_RECORD,
    );
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: NOT_A_FAILURE_RECORD.Records[0]?.messageId }] });
    expect(metricNamespaces(stdout)).toEqual(["ProductImagesCleanup"]);
  });

  it("keeps one version of each image by default: the bucket is not versioned", async () => {
    const [, bucket] = onlyResource((await synthesizedDefault()).resources, "AWS::S3::Bucket");
    expect(bucket.Properties?.VersioningConfiguration).toBeUndefined();
  });

  it("reads the mapping settings and filters from the package", async () => {
    vi.resetModules();
    vi.doMock("dynamodb-s3-cleanup", async (importOriginal) => {
      const original = await importOriginal<typeof import("../../src/deployment.js")>();
      return {
        ...original,
        RECOMMENDED_EVENT_SOURCE_MAPPING: { ...original.RECOMMENDED_EVENT_SOURCE_MAPPING, MaximumRetryAttempts: 3 },
        TTL_REMOVE_ONLY_FILTER_CRITERIA: REMOVE_ONLY_FILTER_CRITERIA,
      };
    });
    try {
      const { deployment } = await synthesize();
      expect(deployment.mapping).toEqual({
        ...expectedMapping(REMOVE_ONLY_FILTER_CRITERIA),
        MaximumRetryAttempts: 3,
      });
    } finally {
      vi.doUnmock("dynamodb-s3-cleanup");
      vi.resetModules();
    }
  });

  it('purges versions with versions: "all": a versioned bucket, the variable and the version permissions, for both functions', async () => {
    const { deployment, resources } = await synthesize({ versions: "all" });
    expect(deployment.function.Variables).toEqual({ ...DEFAULT_VARIABLES, CLEANUP_VERSIONS: "all" });
    expect(handlerFromVariables(deployment.function.Variables)).toBeTypeOf("function");
    expect(replayHandlerFromVariables(deployment.replay.function.Variables)).toBeTypeOf("function");
    const versionPermissions = [
      "s3:DeleteObjectVersion on <bucket.arn>/images/*",
      's3:ListBucketVersions on <bucket.arn> if {"StringLike":{"s3:prefix":["images/*"]}}',
    ];
    expectPermissions(deployment, [...DEFAULT_PERMISSIONS, ...versionPermissions].sort());
    expectReplay(deployment, [...REPLAY_PERMISSIONS, ...versionPermissions].sort());
    const [, bucket] = onlyResource(resources, "AWS::S3::Bucket");
    expect(bucket.Properties?.VersioningConfiguration).toEqual({ Status: "Enabled" });
    expectMapping(deployment);
  });

  it("deletes conditionally with etagAttribute: an OLD_IMAGE stream, the variable and s3:GetObject, for both functions", async () => {
    const { deployment } = await synthesize({ etagAttribute: "imageETag" });
    expect(deployment.table.StreamViewType).toBe("OLD_IMAGE");
    expect(deployment.function.Variables).toEqual({ ...DEFAULT_VARIABLES, CLEANUP_ETAG_ATTRIBUTE: "imageETag" });
    expect(handlerFromVariables(deployment.function.Variables)).toBeTypeOf("function");
    expect(replayHandlerFromVariables(deployment.replay.function.Variables)).toBeTypeOf("function");
    const getObject = "s3:GetObject on <bucket.arn>/images/*";
    expectPermissions(deployment, [...DEFAULT_PERMISSIONS, getObject].sort());
    expectReplay(deployment, [...REPLAY_PERMISSIONS, getObject].sort());
    expectMapping(deployment);
  });

  it("takes every REMOVE for a global table and recognises TTL removals by expiresAt", async () => {
    const { deployment } = await synthesize({ globalTable: true });
    expect(deployment.table.StreamViewType).toBe("NEW_AND_OLD_IMAGES");
    expect(deployment.function.Variables).toEqual({ ...DEFAULT_VARIABLES, CLEANUP_TTL_ATTRIBUTE: "expiresAt" });
    expect(handlerFromVariables(deployment.function.Variables)).toBeTypeOf("function");
    expect(replayHandlerFromVariables(deployment.replay.function.Variables)).toBeTypeOf("function");
    expectMapping(deployment, REMOVE_ONLY_FILTER_CRITERIA);
    expectPermissions(deployment);
    expectReplay(deployment);
  });

  it('refuses etagAttribute with versions: "all", naming both', async () => {
    await expect(synthesize({ versions: "all", etagAttribute: "imageETag" })).rejects.toThrow(
      /ProductImagesCleanup: `etagAttribute` cannot be combined with `versions: "all"`/,
    );
  });
});

describe("the SAM template", () => {
  it.each([
    ["Cleanup", "index.ts"],
    ["Replay", "replay.ts"],
  ])("builds %s from function/%s with esbuild, the AWS SDK left to the runtime", (id, entry) => {
    const template = parseYaml(read("sam/template.yaml"), { customTags: CLOUDFORMATION_TAGS });
    expect(at(template, "Resources", id, "Properties", "CodeUri")).toBe("function/");
    expect(at(template, "Resources", id, "Metadata")).toMatchObject({
      BuildMethod: "esbuild",
      BuildProperties: { EntryPoints: [entry], External: ["@aws-sdk/*"], OutExtension: [".js=.mjs"] },
    });
    // The handler names the file esbuild writes for the entry.
    expect(at(template, "Resources", id, "Properties", "Handler")).toBe(`${entry.replace(/\.ts$/, "")}.handler`);
    expect(at(JSON.parse(read("sam/function/package.json")), "dependencies")).toHaveProperty("dynamodb-s3-cleanup");
  });
});

describe("the Terraform module", () => {
  const buildScript = () => String(at(JSON.parse(read("terraform/function/package.json")), "scripts", "build"));

  it("zips what the functions' build script writes, each function its own bundle", async () => {
    const module = await terraformModule();
    const build = buildScript();
    expect(build).toMatch(/^esbuild index\.ts replay\.ts --bundle .*--external:@aws-sdk\/\* /);
    expect(build).toMatch(/ --out-extension:\.js=\.mjs /);
    const dir = /--outdir=(\S+)/.exec(build)?.[1];
    for (const [name, entry] of [
      ["function", "index"],
      ["replay", "replay"],
    ]) {
      expect(module.data.get(`archive_file.${name}`)?.source_file).toBe(`\${path.module}/function/${dir}/${entry}.mjs`);
    }
    expect(module.resources.get("aws_lambda_function.cleanup")?.filename).toBe(
      `\${data.archive_file.function.output_path}`,
    );
    expect(module.resources.get("aws_lambda_function.replay")?.filename).toBe(
      `\${data.archive_file.replay.output_path}`,
    );
  });

  it("builds, with its build script, bundles that start with their variables and answer an event", async () => {
    const [command, ...args] = buildScript().split(" ");
    expect(command).toBe("esbuild");
    // The script as npm would run it, writing to the test's directory instead of dist/.
    const dir = join(outdir, "terraform");
    const esbuild = join(ROOT, "node_modules/.bin/esbuild");
    const options = args.map((arg) => (arg.startsWith("--outdir=") ? `--outdir=${dir}` : arg));
    await new Promise<void>((resolve, reject) =>
      execFile(
        esbuild,
        [...options, "--log-level=warning"],
        { cwd: fileURLToPath(new URL("terraform/function/", EXAMPLES)) },
        (error, _, stderr) => (error ? reject(new Error(`the build script failed: ${stderr}`)) : resolve()),
      ),
    );
    const deployment = fromTerraform(await terraformModule());
    const cleanup = await runBundle(join(dir, "index.mjs"), withBucket(deployment.function.Variables), EMPTY_EVENT);
    expect(cleanup.result).toEqual({ batchItemFailures: [] });
    expect(metricNamespaces(cleanup.stdout)).toEqual(["ProductImagesCleanup"]);
    const replay = await runBundle(
      join(dir, "replay.mjs"),
      withBucket(deployment.replay.function.Variables),
      NOT_A_FAILURE_RECORD,
    );
    expect(replay.result).toEqual({
      batchItemFailures: [{ itemIdentifier: NOT_A_FAILURE_RECORD.Records[0]?.messageId }],
    });
    expect(metricNamespaces(replay.stdout)).toEqual(["ProductImagesCleanup"]);
  });

  it.each([
    ["products_stream", "cleanup", "read the stream"],
    ["failures", "replay", "receive from the queue"],
  ])("creates the mapping %s only after the %s role's policy, as Lambda checks it can %s", async (mapping, policy) => {
    const module = await terraformModule();
    expect(module.resources.get(`aws_lambda_event_source_mapping.${mapping}`)?.depends_on).toEqual([
      `\${aws_iam_role_policy.${policy}}`,
    ]);
  });
});

// Every test above compares a deployment with the package's constants and the expected roles: a
// setting changed in one place and not the other fails. These mutations prove it for the two
// formats that are text (the CDK app reads the constants; see "reads the mapping settings"). A
// setting written in several places (both functions' variables and S3 statements) is changed in
// each place in turn.
describe("a setting that drifts", () => {
  // An assertion's failure, not an error reading the template.
  const FAILED_ASSERTION = /to deeply equal|to match object/;
  const expectDefaultDeployment = (deployment: Deployment) => {
    expectMapping(deployment);
    expectTable(deployment);
    expectVariables(deployment);
    expectPermissions(deployment);
    expectReplay(deployment);
  };
  /** One copy of `text` for each place `from` occurs in it, with that one place changed to `to`. */
  const mutations = (text: string, from: string, to: string): string[] => {
    const parts = text.split(from);
    return parts.slice(1).map((_, index) => {
      const before = parts.slice(0, index + 1).join(from);
      const after = parts.slice(index + 1).join(from);
      return `${before}${to}${after}`;
    });
  };
  const mutate = (text: string, from: string, to: string) => {
    expect(text.split(from)).toHaveLength(2);
    return text.replace(from, to);
  };

  it.each([
    ["MaximumRetryAttempts: 10", "MaximumRetryAttempts: 5", 1],
    ["BisectBatchOnFunctionError: true", "BisectBatchOnFunctionError: false", 1],
    ["StartingPosition: TRIM_HORIZON", "StartingPosition: LATEST", 1],
    [',"userIdentity":{"type":["Service"],"principalId":["dynamodb.amazonaws.com"]}', "", 1],
    ["Destination: !GetAtt CleanupFailures.Arn", "Destination: !Sub arn:aws:sqs:::other", 1],
    ["StreamViewType: KEYS_ONLY", "StreamViewType: NEW_IMAGE", 1],
    ["CLEANUP_REMOVALS: ttl", "CLEANUP_REMOVALS: any", 2],
    ["Action: s3:DeleteObject", "Action: s3:*", 2],
    [`Resource: !Sub "\${ProductImages.Arn}/images/*"`, `Resource: !Sub "\${ProductImages.Arn}/*"`, 2],
    ["- ReportBatchItemFailures", "- Unknown", 2],
    ["Queue: !GetAtt CleanupFailures.Arn", "Queue: !Sub arn:aws:sqs:::other", 1],
    ["BatchSize: 5\n", "BatchSize: 10\n", 1],
    ["MaximumConcurrency: 2", "MaximumConcurrency: 10", 1],
    ["VisibilityTimeout: 720", "VisibilityTimeout: 30", 1],
    ["maxReceiveCount: 5", "maxReceiveCount: 1000", 1],
    ["deadLetterTargetArn: !GetAtt ReplayDeadLetters.Arn", "deadLetterTargetArn: !Sub arn:aws:sqs:::other", 1],
    ["Timeout: 120", "Timeout: 900", 1],
    ["Action: dynamodb:BatchGetItem", "Action: dynamodb:*", 1],
    ["Resource: !GetAtt Products.Arn", "Resource: !Sub arn:aws:dynamodb:::table/*", 1],
    ["- sqs:ReceiveMessage", "- sqs:*", 1],
    [
      "- dynamodb:GetShardIterator\n                Resource",
      "- dynamodb:GetShardIterator\n                  - dynamodb:DescribeStream\n                Resource",
      1,
    ],
  ])("in the SAM template (%s) fails the tests", (from, to, places) => {
    const templates = mutations(read("sam/template.yaml"), from, to);
    expect(templates).toHaveLength(places);
    for (const template of templates) {
      expect(() => expectDefaultDeployment(fromSamTemplate(template))).toThrow(FAILED_ASSERTION);
    }
  });

  it.each([["      Role: !GetAtt CleanupRole.Arn\n"], ["      Role: !GetAtt ReplayRole.Arn\n"]])(
    "in the SAM template's role (SAM's generated one, with managed policies) fails the tests (%s)",
    (role) => {
      const template = mutate(read("sam/template.yaml"), role, "");
      expect(() => fromSamTemplate(template)).toThrow("the function's Role is not the template's role");
    },
  );

  it.each([
    ["maximum_retry_attempts        = 10", "maximum_retry_attempts        = 5", 1],
    ["batch_size                         = 1000", "batch_size                         = 100", 1],
    ["pattern = jsonencode(local.ttl_removals)", "pattern = jsonencode(local.removals)", 1],
    ["destination_arn = aws_sqs_queue.failures.arn", 'destination_arn = "arn:aws:sqs:::other"', 1],
    ['stream_view_type = "KEYS_ONLY"', 'stream_view_type = "NEW_AND_OLD_IMAGES"', 1],
    ['CLEANUP_REMOVALS          = "ttl"', 'CLEANUP_REMOVALS          = "any"', 1],
    ['actions   = ["sqs:SendMessage"]', 'actions   = ["sqs:*"]', 1],
    [`"\${aws_s3_bucket.images.arn}/\${local.image_prefix}*"`, `"\${aws_s3_bucket.images.arn}/*"`, 2],
    ['function_response_types = ["ReportBatchItemFailures"]', "function_response_types = []", 2],
    ["event_source_arn = aws_sqs_queue.failures.arn", 'event_source_arn = "arn:aws:sqs:::other"', 1],
    ["batch_size = 5\n", "batch_size = 10\n", 1],
    ["maximum_concurrency = 2", "maximum_concurrency = 10", 1],
    ["visibility_timeout_seconds = 720", "visibility_timeout_seconds = 30", 1],
    ["maxReceiveCount     = 5", "maxReceiveCount     = 1000", 1],
    ["deadLetterTargetArn = aws_sqs_queue.replay_dead_letters.arn", 'deadLetterTargetArn = "arn:aws:sqs:::other"', 1],
    ["timeout = 120", "timeout = 900", 1],
    ['actions   = ["dynamodb:BatchGetItem"]', 'actions   = ["dynamodb:*"]', 1],
    ["resources = [aws_dynamodb_table.products.arn]", 'resources = ["*"]', 1],
    ['"sqs:ReceiveMessage"]', '"sqs:*"]', 1],
    [
      'actions   = ["dynamodb:GetRecords", "dynamodb:GetShardIterator"]',
      'actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]',
      1,
    ],
  ])("in the Terraform module (%s) fails the tests", async (from, to, places) => {
    const copies = Object.entries(TERRAFORM_FILES).flatMap(([file, text]) =>
      mutations(text, from, to).map((mutated) => ({ ...TERRAFORM_FILES, [file]: mutated })),
    );
    expect(copies).toHaveLength(places);
    for (const files of copies) {
      const deployment = fromTerraform(await parseTerraform(files));
      expect(() => expectDefaultDeployment(deployment)).toThrow(FAILED_ASSERTION);
    }
  });

  it.each([
    ["cleanup", "role             = aws_iam_role.cleanup.arn"],
    ["replay", "role             = aws_iam_role.replay.arn"],
  ])("in the Terraform module's %s role (not the module's own) fails the tests", async (_, role) => {
    const [file = ""] = Object.entries(TERRAFORM_FILES).find(([, text]) => text.includes(role)) ?? [];
    const files = {
      ...TERRAFORM_FILES,
      [file]: mutate(TERRAFORM_FILES[file] ?? "", role, `role = "arn:aws:iam::123456789012:role/other"`),
    };
    await expect(async () => fromTerraform(await parseTerraform(files))).rejects.toThrow(
      "the function's role is not the module's role",
    );
  });
});
