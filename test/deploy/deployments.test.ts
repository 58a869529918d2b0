/**
 * The deployments in examples/deploy/ are real and say the same thing: the CDK app synthesizes, the
 * SAM template and the Terraform module parse, and each has the package's recommended mapping
 * settings and TTL filter, a dead-letter queue, CLEANUP_* variables the entry point accepts, and a
 * role with exactly the actions its options need.
 *
 * Each format is reduced to one shape, a Deployment, in which references to the deployment's own
 * resources read `<kind.attribute>` (`<bucket.arn>`, `<table.streamArn>`). One set of assertions then
 * checks all three, so a setting that drifts in any of them fails.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parse as parseHcl } from "@cdktf/hcl2json";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parse as parseYaml, type Tags } from "yaml";
import type { ProductImagesCleanupStackProps } from "../../examples/deploy/cdk/lib/product-images-cleanup-stack.js";
import {
  type FilterCriteria,
  RECOMMENDED_EVENT_SOURCE_MAPPING,
  REMOVE_ONLY_FILTER_CRITERIA,
  TTL_REMOVE_ONLY_FILTER_CRITERIA,
} from "../../src/deployment.js";
import { CLEANUP_ENV_VARIABLES, createCleanupHandlerFromEnv } from "../../src/from-env.js";

const EXAMPLES = new URL("../../examples/deploy/", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, EXAMPLES), "utf8");

// ---------------------------------------------------------------------------------------------------
// The shape every deployment is reduced to, and what it must be
// ---------------------------------------------------------------------------------------------------

/** A deployment as the tests compare it: CloudFormation's property names, references as `<kind.attribute>`. */
interface Deployment {
  readonly table: { BillingMode: unknown; TimeToLiveSpecification: unknown; StreamViewType: unknown };
  /** The event source mapping's properties; filter patterns parsed, as Lambda compares them as JSON. */
  readonly mapping: Readonly<Record<string, unknown>>;
  readonly function: { Runtime: unknown; Handler: unknown; Variables: unknown };
  /** Every permission of the function's role as "action on resource" (+ " if {condition}"), sorted. */
  readonly permissions: readonly string[];
  /** Managed policies attached to the function's role. */
  readonly managedPolicies: readonly unknown[];
  /** The services that may assume the function's role. */
  readonly assumedBy: readonly unknown[];
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
const expectPermissions = (deployment: Deployment, permissions: readonly string[] = DEFAULT_PERMISSIONS) => {
  expect(deployment.permissions).toEqual(permissions);
  expect(deployment.managedPolicies).toEqual([]);
  expect(deployment.assumedBy).toEqual(["lambda.amazonaws.com"]);
};

/** Builds the handler the entry point would build from these variables, with a real bucket name. */
function handlerFromVariables(variables: unknown) {
  const env = record(variables, "the function's variables");
  for (const name of Object.keys(env)) expect(CLEANUP_ENV_VARIABLES).toContain(name);
  return createCleanupHandlerFromEnv({ ...env, CLEANUP_BUCKET: "product-images" } as Record<string, string>);
}

// ---------------------------------------------------------------------------------------------------
// Reading untyped documents
// ---------------------------------------------------------------------------------------------------

/** The value at `path` (object keys and array indexes), or undefined. */
function at(value: unknown, ...path: (string | number)[]): unknown {
  let current = value;
  for (const step of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string | number, unknown>)[step];
  }
  return current;
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error(`${what} is not an object`);
  return value as Record<string, unknown>;
}

const list = (value: unknown): unknown[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

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

interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

const CFN_KINDS: Readonly<Record<string, string>> = {
  "AWS::DynamoDB::Table": "table",
  "AWS::S3::Bucket": "bucket",
  "AWS::SQS::Queue": "queue",
  "AWS::Logs::LogGroup": "logGroup",
  "AWS::Lambda::Function": "function",
  "AWS::IAM::Role": "role",
};

/** Resolves Ref, Fn::GetAtt, Fn::Join and Fn::Sub to `<kind.attribute>` text; any other function throws. */
function cloudFormationResolver(resources: Readonly<Record<string, CfnResource>>) {
  const reference = (id: string, attribute?: string): string => {
    if (id.startsWith("AWS::")) return `<${id}>`;
    const type = resources[id]?.Type;
    const kind = type === undefined ? undefined : CFN_KINDS[type];
    if (kind === undefined) throw new Error(`a reference to ${id}, which is not a resource the tests know`);
    const count = Object.values(resources).filter((resource) => resource.Type === type).length;
    if (count !== 1) throw new Error(`${count} resources of type ${type}: a reference to one is ambiguous`);
    if (attribute === undefined) return `<${kind}.${kind === "queue" ? "url" : "name"}>`;
    // A log group's Arn attribute already ends in ":*" (all its streams); Terraform's arn does not.
    if (kind === "logGroup" && attribute === "Arn") return "<logGroup.arn>:*";
    return `<${kind}.${attribute.charAt(0).toLowerCase()}${attribute.slice(1)}>`;
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
  const only = (type: string) => {
    const found = Object.entries(resources).filter(([, resource]) => resource.Type === type);
    if (found.length !== 1 || found[0] === undefined) throw new Error(`${found.length} resources of type ${type}`);
    const [id, resource] = found[0];
    return [id, resource.Properties ?? {}] as const;
  };
  const [, table] = only("AWS::DynamoDB::Table");
  const [, fn] = only("AWS::Lambda::Function");
  const [, mapping] = only("AWS::Lambda::EventSourceMapping");

  // The role must be the template's own: `!GetAtt Role.Arn` (or its JSON form).
  const roleArn = at(fn, "Role", "Fn::GetAtt");
  const roleId = Array.isArray(roleArn) ? roleArn[0] : String(roleArn).split(".")[0];
  if (resolve(fn.Role) !== "<role.arn>" || typeof roleId !== "string")
    throw new Error("the function's Role is not the template's role");
  const role = resources[roleId]?.Properties ?? {};
  const attachedToRole = Object.values(resources).filter(
    (resource) =>
      (resource.Type === "AWS::IAM::Policy" || resource.Type === "AWS::IAM::ManagedPolicy") &&
      list(resource.Properties?.Roles).some((item) => at(item, "Ref") === roleId),
  );
  const documents = [
    ...list(role.Policies).map((policy) => at(policy, "PolicyDocument")),
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
    table: {
      BillingMode: table.BillingMode,
      TimeToLiveSpecification: table.TimeToLiveSpecification,
      StreamViewType: at(table, "StreamSpecification", "StreamViewType"),
    },
    mapping: { ...resolvedMapping, FilterCriteria: parsedPatterns(resolvedMapping.FilterCriteria) },
    function: { Runtime: fn.Runtime, Handler: fn.Handler, Variables: resolve(at(fn, "Environment", "Variables")) },
    permissions: permissionsOf(statements),
    managedPolicies: [
      ...list(role.ManagedPolicyArns),
      ...attachedToRole.filter((resource) => resource.Type === "AWS::IAM::ManagedPolicy"),
    ],
    assumedBy: list(at(role, "AssumeRolePolicyDocument", "Statement")).flatMap((statement) =>
      list(at(statement, "Principal", "Service")),
    ),
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
 * `AWS::Lambda::EventSourceMapping`s (SAM passes their properties through, `Stream` as EventSourceArn).
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
      if (at(event, "Type") !== "DynamoDB") throw new Error(`${id}.Events.${eventId} is not a DynamoDB event`);
      const { Stream, ...settings } = record(at(event, "Properties"), `${id}.Events.${eventId}.Properties`);
      resources[`${id}${eventId}`] = {
        Type: "AWS::Lambda::EventSourceMapping",
        Properties: { FunctionName: { Ref: id }, EventSourceArn: Stream, ...settings },
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

/** Evaluates `${...}` in strings: locals, variables, jsonencode(...) and the module's resources' attributes. */
function terraformResolver(module: TerraformModule) {
  const expression = (text: string): unknown => {
    const encoded = /^jsonencode\((.+)\)$/s.exec(text);
    if (encoded?.[1] !== undefined) return JSON.stringify(expression(encoded[1]));
    const [head = "", name = "", attribute, ...rest] = text.split(".");
    if (head === "local" && attribute === undefined && name in module.locals) return resolve(module.locals[name]);
    if (head === "var" && attribute === undefined && module.variables[name] !== undefined)
      return module.variables[name];
    const kind = TERRAFORM_KINDS[head];
    if (kind !== undefined && attribute !== undefined && rest.length === 0 && module.resources.has(`${head}.${name}`)) {
      const count = [...module.resources.keys()].filter((key) => key.startsWith(`${head}.`)).length;
      if (count !== 1) throw new Error(`${count} resources of type ${head}: a reference to one is ambiguous`);
      const canonical = attribute === "id" ? (kind === "queue" ? "url" : "name") : TERRAFORM_ATTRIBUTES[attribute];
      if (canonical !== undefined) return `<${kind}.${canonical}>`;
    }
    throw new Error(`\${${text}} is not an expression these tests evaluate`);
  };
  const resolve = (value: unknown): unknown => {
    if (typeof value === "string") {
      const whole = /^\$\{([^{}]*(?:\([^()]*\))?)\}$/.exec(value);
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
  const only = (type: string) => {
    const found = [...module.resources].filter(([key]) => key.startsWith(`${type}.`));
    if (found.length !== 1 || found[0] === undefined) throw new Error(`${found.length} resources of type ${type}`);
    return found[0][1];
  };
  const policyDocument = (reference: unknown) => {
    const name = /^\$\{data\.aws_iam_policy_document\.(\w+)\.json\}$/.exec(String(reference))?.[1];
    const document = module.data.get(`aws_iam_policy_document.${name}`);
    if (document === undefined) throw new Error("a policy that is not an aws_iam_policy_document of the module");
    return list(document.statement);
  };

  const table = only("aws_dynamodb_table");
  const fn = only("aws_lambda_function");
  const { destination_config, filter_criteria, depends_on, ...settings } = only("aws_lambda_event_source_mapping");
  const role = only("aws_iam_role");
  if (resolve(fn.role) !== "<role.arn>") throw new Error("the function's role is not the module's role");
  if (role.inline_policy !== undefined) throw new Error("inline_policy is not checked: use aws_iam_role_policy");
  const ofRole = (type: string) =>
    [...module.resources].filter(([key, body]) => key.startsWith(`${type}.`) && resolve(body.role) === "<role.name>");

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
    Object.entries(settings).map(([name, value]) => [pascalCase(name), resolve(value)]),
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

  return {
    table: {
      BillingMode: table.billing_mode,
      TimeToLiveSpecification: {
        AttributeName: at(table, "ttl", 0, "attribute_name"),
        Enabled: at(table, "ttl", 0, "enabled"),
      },
      StreamViewType: table.stream_enabled === true ? table.stream_view_type : undefined,
    },
    mapping,
    function: { Runtime: fn.runtime, Handler: fn.handler, Variables: resolve(at(fn, "environment", 0, "variables")) },
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
mkdirSync(join(ROOT, "node_modules/.cache"), { recursive: true });
const outdir = mkdtempSync(join(ROOT, "node_modules/.cache/deploy-test-"));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** Runs a bundled function as Lambda would: loads it with `variables` set, answers an event without records. */
function runBundle(file: string, variables: unknown): Promise<{ result: unknown; stdout: string }> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("CLEANUP_")));
  const env = record(variables, "the function's variables");
  const script = `const module = await import(${JSON.stringify(pathToFileURL(file).href)});
const handler = module.handler ?? module.default?.handler;
console.log("RESULT " + JSON.stringify(await handler({ Records: [] }, {})));`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--input-type=module", "-e", script],
      { env: { ...inherited, ...env, CLEANUP_BUCKET: "product-images" } as NodeJS.ProcessEnv },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`the bundle failed: ${stderr}`));
        const line = stdout.split("\n").find((text) => text.startsWith("RESULT "));
        resolve({ result: line === undefined ? undefined : JSON.parse(line.slice("RESULT ".length)), stdout });
      },
    );
  });
}

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

// ---------------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------------

const terraformModule = once(() => parseTerraform(TERRAFORM_FILES));

const deployments: [string, () => Promise<Deployment>][] = [
  ["the CDK app", async () => (await synthesizedDefault()).deployment],
  ["the SAM template", async () => fromSamTemplate(read("sam/template.yaml"))],
  ["the Terraform module", async () => fromTerraform(await terraformModule())],
];

describe.each(deployments)("%s", (_, load) => {
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
});

describe("the function entries", () => {
  it("are the same one-line re-export of dynamodb-s3-cleanup/lambda", () => {
    const entry = read("cdk/function/index.ts");
    expect(entry).toMatch(/^export \{ handler \} from "dynamodb-s3-cleanup\/lambda";$/m);
    expect(read("sam/function/index.ts")).toBe(entry);
    expect(read("terraform/function/index.ts")).toBe(entry);
  });
});

describe("the CDK app", () => {
  it("bundles the entry point with esbuild and leaves the AWS SDK to the runtime", async () => {
    const { resources } = await synthesizedDefault();
    const [, fn] = onlyResource(resources, "AWS::Lambda::Function");
    // The code's S3 key is the asset's hash, and the staged asset sits in the output directory.
    const hash = /^([0-9a-f]{64})\.zip$/.exec(String(at(fn.Properties, "Code", "S3Key")))?.[1];
    expect(hash).toBeDefined();
    const bundle = readFileSync(join(outdir, `asset.${hash}`, "index.js"), "utf8");
    expect(bundle).toMatch(/require\("@aws-sdk\/client-s3"\)/);
    expect(bundle.length).toBeLessThan(200_000);
  });

  it("deploys a bundle that starts with its variables and answers an event", async () => {
    const { resources, deployment } = await synthesizedDefault();
    const [, fn] = onlyResource(resources, "AWS::Lambda::Function");
    const hash = /^([0-9a-f]{64})\.zip$/.exec(String(at(fn.Properties, "Code", "S3Key")))?.[1];
    const { result, stdout } = await runBundle(
      join(outdir, `asset.${hash}`, "index.js"),
      deployment.function.Variables,
    );
    expect(result).toEqual({ batchItemFailures: [] });
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

  it('purges versions with versions: "all": a versioned bucket, the variable and the version permissions', async () => {
    const { deployment, resources } = await synthesize({ versions: "all" });
    expect(deployment.function.Variables).toEqual({ ...DEFAULT_VARIABLES, CLEANUP_VERSIONS: "all" });
    expect(handlerFromVariables(deployment.function.Variables)).toBeTypeOf("function");
    expectPermissions(
      deployment,
      [
        ...DEFAULT_PERMISSIONS,
        "s3:DeleteObjectVersion on <bucket.arn>/images/*",
        's3:ListBucketVersions on <bucket.arn> if {"StringLike":{"s3:prefix":["images/*"]}}',
      ].sort(),
    );
    const [, bucket] = onlyResource(resources, "AWS::S3::Bucket");
    expect(bucket.Properties?.VersioningConfiguration).toEqual({ Status: "Enabled" });
    expectMapping(deployment);
  });

  it("deletes conditionally with etagAttribute: an OLD_IMAGE stream, the variable and s3:GetObject", async () => {
    const { deployment } = await synthesize({ etagAttribute: "imageETag" });
    expect(deployment.table.StreamViewType).toBe("OLD_IMAGE");
    expect(deployment.function.Variables).toEqual({ ...DEFAULT_VARIABLES, CLEANUP_ETAG_ATTRIBUTE: "imageETag" });
    expect(handlerFromVariables(deployment.function.Variables)).toBeTypeOf("function");
    expectPermissions(deployment, [...DEFAULT_PERMISSIONS, "s3:GetObject on <bucket.arn>/images/*"].sort());
    expectMapping(deployment);
  });

  it("takes every REMOVE for a global table and recognises TTL removals by expiresAt", async () => {
    const { deployment } = await synthesize({ globalTable: true });
    expect(deployment.table.StreamViewType).toBe("NEW_AND_OLD_IMAGES");
    expect(deployment.function.Variables).toEqual({ ...DEFAULT_VARIABLES, CLEANUP_TTL_ATTRIBUTE: "expiresAt" });
    expect(handlerFromVariables(deployment.function.Variables)).toBeTypeOf("function");
    expectMapping(deployment, REMOVE_ONLY_FILTER_CRITERIA);
    expectPermissions(deployment);
  });

  it('refuses etagAttribute with versions: "all", naming both', async () => {
    await expect(synthesize({ versions: "all", etagAttribute: "imageETag" })).rejects.toThrow(
      /ProductImagesCleanup: `etagAttribute` cannot be combined with `versions: "all"`/,
    );
  });
});

describe("the SAM template", () => {
  it("builds the function from function/index.ts with esbuild, the AWS SDK left to the runtime", () => {
    const template = parseYaml(read("sam/template.yaml"), { customTags: CLOUDFORMATION_TAGS });
    expect(at(template, "Resources", "Cleanup", "Properties", "CodeUri")).toBe("function/");
    expect(at(template, "Resources", "Cleanup", "Metadata")).toMatchObject({
      BuildMethod: "esbuild",
      BuildProperties: { EntryPoints: ["index.ts"], External: ["@aws-sdk/*"] },
    });
    expect(at(JSON.parse(read("sam/function/package.json")), "dependencies")).toHaveProperty("dynamodb-s3-cleanup");
  });
});

describe("the Terraform module", () => {
  it("zips what the function's build script writes", async () => {
    const module = await terraformModule();
    const build = String(at(JSON.parse(read("terraform/function/package.json")), "scripts", "build"));
    expect(build).toMatch(/^esbuild index\.ts --bundle .*--external:@aws-sdk\/\* /);
    const outfile = /--outfile=(\S+)/.exec(build)?.[1];
    expect(module.data.get("archive_file.function")?.source_file).toBe(`\${path.module}/function/${outfile}`);
  });

  it("builds, with its build script, a bundle that starts with its variables and answers an event", async () => {
    const script = String(at(JSON.parse(read("terraform/function/package.json")), "scripts", "build"));
    const [command, ...args] = script.split(" ");
    expect(command).toBe("esbuild");
    // The script as npm would run it, writing to the test's directory instead of dist/.
    const outfile = join(outdir, "terraform", "index.mjs");
    const esbuild = join(ROOT, "node_modules/.bin/esbuild");
    const options = args.map((arg) => (arg.startsWith("--outfile=") ? `--outfile=${outfile}` : arg));
    await new Promise<void>((resolve, reject) =>
      execFile(
        esbuild,
        [...options, "--log-level=warning"],
        { cwd: fileURLToPath(new URL("terraform/function/", EXAMPLES)) },
        (error, _, stderr) => (error ? reject(new Error(`the build script failed: ${stderr}`)) : resolve()),
      ),
    );
    const deployment = fromTerraform(await terraformModule());
    const { result, stdout } = await runBundle(outfile, deployment.function.Variables);
    expect(result).toEqual({ batchItemFailures: [] });
    expect(metricNamespaces(stdout)).toEqual(["ProductImagesCleanup"]);
  });

  it("creates the mapping only after the role's policy, as Lambda checks it can read the stream", async () => {
    const module = await terraformModule();
    expect(module.resources.get("aws_lambda_event_source_mapping.products_stream")?.depends_on).toEqual([
      `\${aws_iam_role_policy.cleanup}`,
    ]);
  });
});

// Every test above compares a deployment with the package's constants and the expected role: a
// setting changed in one place and not the other fails. These mutations prove it for the two
// formats that are text (the CDK app reads the constants; see "reads the mapping settings").
describe("a setting that drifts", () => {
  const expectDefaultDeployment = (deployment: Deployment) => {
    expectMapping(deployment);
    expectTable(deployment);
    expectVariables(deployment);
    expectPermissions(deployment);
  };
  const mutate = (text: string, from: string, to: string) => {
    expect(text.split(from)).toHaveLength(2);
    return text.replace(from, to);
  };

  it.each([
    ["MaximumRetryAttempts: 10", "MaximumRetryAttempts: 5"],
    ["BisectBatchOnFunctionError: true", "BisectBatchOnFunctionError: false"],
    ["StartingPosition: TRIM_HORIZON", "StartingPosition: LATEST"],
    [',"userIdentity":{"type":["Service"],"principalId":["dynamodb.amazonaws.com"]}', ""],
    ["Destination: !GetAtt CleanupFailures.Arn", "Destination: !Sub arn:aws:sqs:::other"],
    ["StreamViewType: KEYS_ONLY", "StreamViewType: NEW_IMAGE"],
    ["CLEANUP_REMOVALS: ttl", "CLEANUP_REMOVALS: any"],
    ["Action: s3:DeleteObject", "Action: s3:*"],
    [`Resource: !Sub "\${ProductImages.Arn}/images/*"`, `Resource: !Sub "\${ProductImages.Arn}/*"`],
  ])("in the SAM template (%s) fails the tests", (from, to) => {
    const deployment = fromSamTemplate(mutate(read("sam/template.yaml"), from, to));
    expect(() => expectDefaultDeployment(deployment)).toThrow(/to deeply equal/);
  });

  it("in the SAM template's role (SAM's generated one, with managed policies) fails the tests", () => {
    const template = mutate(read("sam/template.yaml"), "      Role: !GetAtt CleanupRole.Arn\n", "");
    expect(() => fromSamTemplate(template)).toThrow("the function's Role is not the template's role");
  });

  it.each([
    ["maximum_retry_attempts        = 10", "maximum_retry_attempts        = 5"],
    ["batch_size                         = 1000", "batch_size                         = 100"],
    ["pattern = jsonencode(local.ttl_removals)", "pattern = jsonencode(local.removals)"],
    ["destination_arn = aws_sqs_queue.failures.arn", 'destination_arn = "arn:aws:sqs:::other"'],
    ['stream_view_type = "KEYS_ONLY"', 'stream_view_type = "NEW_AND_OLD_IMAGES"'],
    ['CLEANUP_REMOVALS          = "ttl"', 'CLEANUP_REMOVALS          = "any"'],
    ['actions   = ["sqs:SendMessage"]', 'actions   = ["sqs:*"]'],
    [`"\${aws_s3_bucket.images.arn}/\${local.image_prefix}*"`, `"\${aws_s3_bucket.images.arn}/*"`],
  ])("in the Terraform module (%s) fails the tests", async (from, to) => {
    const [file = ""] = Object.entries(TERRAFORM_FILES).find(([, text]) => text.includes(from)) ?? [];
    const files = { ...TERRAFORM_FILES, [file]: mutate(TERRAFORM_FILES[file] ?? "", from, to) };
    const deployment = fromTerraform(await parseTerraform(files));
    expect(() => expectDefaultDeployment(deployment)).toThrow(/to deeply equal/);
  });
});
