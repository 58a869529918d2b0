/**
 * Reads the project's markdown the way the docs tests need it: the documentation files, their code
 * blocks (with the line each starts on), their relative links, and GitHub's heading anchors.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

export const ROOT = join(import.meta.dirname, "..");

/** `docs/**\/*.md`, relative to the project root, sorted. */
export function docsPages(): string[] {
  const pages: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".md")) pages.push(path);
    }
  };
  walk("docs");
  return pages.sort();
}

export function readProjectFile(path: string): string {
  return readFileSync(join(ROOT, path), "utf8");
}

export function projectPath(absolute: string): string {
  return relative(ROOT, absolute);
}

/** A fenced code block: its info string, its text, and the 1-based line of its first line of code. */
export interface CodeBlock {
  language: string;
  /** True when the block is marked as a fragment: `<!-- fragment -->` on the line before the fence. */
  fragment: boolean;
  code: string;
  line: number;
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/;
export const FRAGMENT_MARK = "<!-- fragment -->";

/** Every fenced block of a markdown text, indented ones (in list items) included, dedented. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split("\n");
  const blocks: CodeBlock[] = [];
  for (let index = 0; index < lines.length; index++) {
    const open = FENCE.exec(lines[index] ?? "");
    if (open === null) continue;
    const [, indent = "", fence = "", language = ""] = open;
    const body: string[] = [];
    let end = index + 1;
    while (end < lines.length && !(lines[end] ?? "").trim().startsWith(fence)) {
      const line = lines[end] ?? "";
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart());
      end++;
    }
    blocks.push({
      language,
      fragment: (lines[index - 1] ?? "").trim() === FRAGMENT_MARK,
      code: body.join("\n"),
      line: index + 2,
    });
    index = end;
  }
  return blocks;
}

/** The lines outside fenced code blocks, with their 1-based numbers. */
function proseLines(markdown: string): { text: string; line: number }[] {
  const prose: { text: string; line: number }[] = [];
  let fence: string | undefined;
  markdown.split("\n").forEach((text, index) => {
    const open = FENCE.exec(text);
    if (open === null) {
      if (fence === undefined) prose.push({ text, line: index + 1 });
    } else if (fence === undefined) fence = open[2];
    else if (text.trim().startsWith(fence)) fence = undefined;
  });
  return prose;
}

/** A link's target as written, and its 1-based line. */
export interface Link {
  target: string;
  line: number;
}

/** Inline links `[text](target)` outside code blocks and code spans. */
export function markdownLinks(markdown: string): Link[] {
  return proseLines(markdown).flatMap(({ text, line }) =>
    [...text.replace(/`[^`]*`/g, "``").matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((match) => ({
      target: match[1] ?? "",
      line,
    })),
  );
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function headingSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

/** The anchors of every heading of a markdown text, repeats numbered as GitHub does (`-1`, `-2`). */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { text } of proseLines(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (heading === null) continue;
    const slug = headingSlug(heading[1] ?? "");
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}
