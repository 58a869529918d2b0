/**
 * Every TypeScript and JavaScript block in README.md and docs/ compiles as pasted, as a file of its
 * own, against the built package (dist/: run `npm run build` first; `npm test` does). A block that
 * is deliberately incomplete carries `<!-- fragment -->` on the line before its fence.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { type CodeBlock, codeBlocks, docsPages, projectPath, ROOT, readProjectFile } from "./markdown.js";

const LANGUAGES = new Map([
  ["ts", ".ts"],
  ["typescript", ".ts"],
  ["js", ".js"],
]);

const SCRATCH = join(ROOT, ".cache", "snippets");

/** What a user's project would use: strict, Node's ES module resolution, so imports go through "exports". */
const COMPILER_OPTIONS: ts.CompilerOptions = {
  strict: true,
  target: ts.ScriptTarget.ES2022,
  lib: ["lib.es2022.d.ts"],
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  types: ["node"],
  allowJs: true,
  checkJs: true,
  skipLibCheck: true,
  noEmit: true,
};

interface Snippet extends CodeBlock {
  source: string;
}

function snippetsOf(files: string[]): Snippet[] {
  return files.flatMap((source) =>
    codeBlocks(readProjectFile(source))
      .filter((block) => LANGUAGES.has(block.language))
      .map((block) => ({ ...block, source })),
  );
}

/**
 * Compiles the snippets in one program, each as a file under `.cache/snippets/<name>/` (inside the
 * project, so "dynamodb-s3-cleanup" resolves to the package itself), and returns every diagnostic
 * as `file.md:line: message`, with the line in the markdown file.
 */
function compileSnippets(snippets: Snippet[], name: string): string[] {
  const dir = join(SCRATCH, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const byFile = new Map<string, Snippet>();
  snippets.forEach((snippet, index) => {
    const base = `${snippet.source.replace(/[^A-Za-z0-9]+/g, "-")}-${snippet.line}-${index}`;
    const file = join(dir, `${base}${LANGUAGES.get(snippet.language)}`);
    writeFileSync(file, `${snippet.code}\n`);
    byFile.set(file, snippet);
  });
  const program = ts.createProgram([...byFile.keys()], COMPILER_OPTIONS);
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n");
    const snippet = diagnostic.file === undefined ? undefined : byFile.get(diagnostic.file.fileName);
    if (diagnostic.file === undefined || snippet === undefined) {
      const where = diagnostic.file === undefined ? "(no file)" : projectPath(diagnostic.file.fileName);
      return `${where}: ${message}`;
    }
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    return `${snippet.source}:${snippet.line + line}: ${message}`;
  });
}

const FILES = ["README.md", ...docsPages()];
const SNIPPETS = snippetsOf(FILES);

describe("documentation snippets", () => {
  it("finds the snippets of README.md and docs/", () => {
    expect(SNIPPETS.filter(({ source }) => source === "README.md").length).toBeGreaterThanOrEqual(2);
    expect(new Set(SNIPPETS.map(({ source }) => source)).size).toBeGreaterThanOrEqual(6);
  });

  it("keeps fragments rare", () => {
    const fragments = SNIPPETS.filter(({ fragment }) => fragment).map(({ source, line }) => `${source}:${line}`);
    expect(fragments.length, fragments.join(", ")).toBeLessThanOrEqual(3);
  });

  it("compiles every snippet not marked as a fragment, as pasted, against the built package", () => {
    expect(existsSync(join(ROOT, "dist", "index.d.ts")), "dist/ is missing: run `npm run build` first").toBe(true);
    expect(
      compileSnippets(
        SNIPPETS.filter(({ fragment }) => !fragment),
        "docs",
      ),
    ).toEqual([]);
  }, 180_000);

  it("names the markdown file and line of a snippet that does not compile", () => {
    const broken: Snippet = {
      source: "docs/example.md",
      language: "ts",
      fragment: false,
      line: 40,
      code: 'import { createCleanupHandler } from "dynamodb-s3-cleanup";\n\ncreateCleanupHandler({ bucket: 1 });',
    };
    const diagnostics = compileSnippets([broken], "broken");
    expect(diagnostics.length).toBeGreaterThan(0);
    expect(diagnostics[0]).toMatch(/^docs\/example\.md:42: /);
  }, 180_000);
});
