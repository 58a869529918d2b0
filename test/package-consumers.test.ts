/**
 * The packed package, type-checked as users' projects check it: `npm pack` of the project (dist/ is
 * built by `npm test` before the tests run), the tarball extracted as node_modules/dynamodb-s3-cleanup
 * of consumer projects in a temporary directory outside the repository, beside symlinks to only what
 * a consumer has installed (zod, the required peers, @types/aws-lambda, @types/node). The optional
 * peer @aws-sdk/client-dynamodb-streams is left out on purpose: the testing entry's types must not
 * need it. One TypeScript program per module mode and skipLibCheck setting, in process.
 */
import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
// Packing, and each program with the AWS SDK's types, take seconds on a busy machine.
const TIMEOUT_MS = 300_000;

/** What a consumer installs beside the package; their own dependencies resolve through the symlinks' real paths. */
const INSTALLED = ["zod", "@aws-sdk/client-s3", "@aws-sdk/util-dynamodb", "@types/aws-lambda", "@types/node"];

/** Uses every entry point, the lambda entry's re-export included, and a few of their types. */
const CONSUMER_SOURCE = `
import type { DynamoDBBatchResponse, DynamoDBStreamEvent, Handler, SQSBatchResponse, SQSEvent } from "aws-lambda";
import {
  type CleanupOptions,
  type CleanupSummary,
  createCleanupHandler,
  createReplayHandler,
  isConfigError,
  type ReplaySummary,
} from "dynamodb-s3-cleanup";
import { handler as fromEnv } from "dynamodb-s3-cleanup/lambda";
import { handler as replayFromEnv } from "dynamodb-s3-cleanup/replay";
import { type RunStreamOptions, type StreamRunReport, removeRecord, runStream, streamEvent } from "dynamodb-s3-cleanup/testing";

export { handler } from "dynamodb-s3-cleanup/lambda";

const options: CleanupOptions = { bucket: "product-images", key: "images/{productId}.png" };
export const cleanup: Handler<DynamoDBStreamEvent, DynamoDBBatchResponse> = createCleanupHandler(options);
export const configured: Handler<DynamoDBStreamEvent, DynamoDBBatchResponse> = fromEnv;
export const result: Promise<DynamoDBBatchResponse> = createCleanupHandler(options)(
  streamEvent(removeRecord({ keys: { productId: "p-1" } })),
);
export const isBadConfig = (error: unknown): boolean => isConfigError(error);
export const onResult = (summary: CleanupSummary): number => summary.deleted;
export const replay = (settings: RunStreamOptions): Promise<StreamRunReport> => runStream(settings);
export const replayHandler: Handler<SQSEvent, SQSBatchResponse> = createReplayHandler({
  ...options,
  onResult: (summary: ReplaySummary) => console.log(summary.unreplayableBatches),
});
export const replayConfigured: Handler<SQSEvent, SQSBatchResponse> = replayFromEnv;
`;

interface Mode {
  name: string;
  /** The consumer's package.json "type". */
  type: "commonjs" | "module";
  compilerOptions: Record<string, unknown>;
}

const MODES: Mode[] = [
  // TypeScript 6's default resolution for module commonjs (bundler); up to 5, it was node10.
  { name: "module commonjs, default resolution", type: "commonjs", compilerOptions: { module: "commonjs" } },
  {
    name: "module commonjs, moduleResolution node10",
    type: "commonjs",
    compilerOptions: { module: "commonjs", moduleResolution: "node10", ignoreDeprecations: "6.0" },
  },
  { name: "module node16, type commonjs", type: "commonjs", compilerOptions: { module: "node16" } },
  { name: "module nodenext, type module", type: "module", compilerOptions: { module: "nodenext" } },
  {
    name: "moduleResolution bundler, module esnext",
    type: "module",
    compilerOptions: { module: "esnext", moduleResolution: "bundler" },
  },
  {
    name: "moduleResolution bundler, module preserve",
    type: "module",
    compilerOptions: { module: "preserve", moduleResolution: "bundler" },
  },
];

const CASES = MODES.flatMap((mode) => [true, false].map((skipLibCheck) => ({ ...mode, skipLibCheck })));

let scratch = "";

/** Packs the project and installs the tarball, with the consumer's other packages, in `scratch`. */
async function installPackage(): Promise<void> {
  const { stdout } = await run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", scratch], {
    cwd: root,
  });
  const [{ filename }] = JSON.parse(stdout) as [{ filename: string }];
  await run("tar", ["-xzf", join(scratch, filename), "-C", scratch]);
  mkdirSync(join(scratch, "node_modules"));
  renameSync(join(scratch, "package"), join(scratch, "node_modules", "dynamodb-s3-cleanup"));
  for (const name of INSTALLED) {
    const link = join(scratch, "node_modules", name);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(realpathSync(join(root, "node_modules", name)), link, "dir");
  }
}

/** A consumer project of `type` holding `source`; returns the source file's path. */
function consumerProject(directory: string, type: Mode["type"], source: string): string {
  const project = join(scratch, directory);
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: directory, private: true, type }));
  const file = join(project, "index.ts");
  writeFileSync(file, source);
  return file;
}

/** Declaration files parsed once for all programs: they parse the same under every mode. */
const declarations = new Map<string, ts.SourceFile | undefined>();

function cachingHost(options: ts.CompilerOptions): ts.CompilerHost {
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, ...rest) => {
    if (!/\.d\.[cm]?ts$/.test(fileName)) return getSourceFile(fileName, languageVersion, ...rest);
    const { languageVersion: version, impliedNodeFormat } =
      typeof languageVersion === "object" ? languageVersion : { languageVersion, impliedNodeFormat: undefined };
    const key = `${fileName}|${version}|${impliedNodeFormat}`;
    if (!declarations.has(key)) declarations.set(key, getSourceFile(fileName, languageVersion, ...rest));
    return declarations.get(key);
  };
  return host;
}

/** Every diagnostic of a program of `file` under `compilerOptions`, one formatted line each. */
function typeCheck(file: string, compilerOptions: Record<string, unknown>): string[] {
  const { options, errors } = ts.convertCompilerOptionsFromJson(
    { target: "es2022", strict: true, noEmit: true, types: ["node"], ...compilerOptions },
    dirname(file),
  );
  expect(errors).toEqual([]);
  const program = ts.createProgram({ rootNames: [file], options, host: cachingHost(options) });
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n");
    const where = diagnostic.file ? `${diagnostic.file.fileName.slice(scratch.length)}: ` : "";
    return `${where}TS${diagnostic.code} ${message}`;
  });
}

beforeAll(async () => {
  if (!existsSync(join(root, "dist/index.d.ts"))) {
    throw new Error("dist/ is missing: run `npm run build` first (npm test does)");
  }
  scratch = realpathSync(mkdtempSync(join(tmpdir(), "dynamodb-s3-cleanup-consumers-")));
  await installPackage();
}, TIMEOUT_MS);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("the packed package in consumer projects", () => {
  it("leaves the optional peer out of the consumers' node_modules", () => {
    const fromConsumer = () => createRequire(join(scratch, "index.js")).resolve("@aws-sdk/client-dynamodb-streams");

    expect(fromConsumer).toThrow(/Cannot find module/);
  });

  for (const { name, type, compilerOptions, skipLibCheck } of CASES) {
    it(
      `type-checks with ${name}, skipLibCheck ${skipLibCheck}`,
      () => {
        const directory = `${name.replace(/\W+/g, "-")}-${skipLibCheck ? "skip" : "check"}`;
        const file = consumerProject(directory, type, CONSUMER_SOURCE);

        expect(typeCheck(file, { ...compilerOptions, skipLibCheck })).toEqual([]);
      },
      TIMEOUT_MS,
    );
  }

  it(
    "reports a subpath the package does not export",
    () => {
      const file = consumerProject("control", "commonjs", `export { handler } from "dynamodb-s3-cleanup/handler";\n`);

      const diagnostics = typeCheck(file, {
        module: "commonjs",
        moduleResolution: "node10",
        ignoreDeprecations: "6.0",
      });

      expect(diagnostics).toEqual([
        expect.stringMatching(/^\/control\/index.ts: TS2307 Cannot find module 'dynamodb-s3-cleanup\/handler'/),
      ]);
    },
    TIMEOUT_MS,
  );
});
