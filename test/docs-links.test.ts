import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { RECOMMENDED_EVENT_SOURCE_MAPPING, TTL_REMOVE_ONLY_FILTER_CRITERIA } from "../src/deployment.js";
import {
  codeBlocks,
  docsPages,
  headingAnchors,
  headingSlug,
  markdownLinks,
  ROOT,
  readProjectFile,
} from "./markdown.js";

const FILES = ["README.md", "CONTRIBUTING.md", "CHANGELOG.md", ...docsPages()];

/** Why a relative link from `file` does not resolve, or undefined when it does. */
function deadLink(file: string, target: string): string | undefined {
  const [path = "", anchor] = target.split("#", 2);
  const resolved = path === "" ? file : normalize(join(dirname(file), decodeURI(path)));
  if (resolved.startsWith("..")) return `points outside the project (${resolved})`;
  if (!existsSync(join(ROOT, resolved))) return `no such file: ${resolved}`;
  if (anchor === undefined) return undefined;
  if (!resolved.endsWith(".md") || statSync(join(ROOT, resolved)).isDirectory()) {
    return `an anchor on a file that is not markdown: ${resolved}`;
  }
  return headingAnchors(readProjectFile(resolved)).has(anchor) ? undefined : `no heading #${anchor} in ${resolved}`;
}

describe("documentation links", () => {
  it("finds the documentation files", () => {
    expect(FILES).toContain("docs/README.md");
    expect(FILES).toContain("docs/troubleshooting.md");
  });

  it.each(FILES)("resolves every relative link and anchor in %s", (file) => {
    const dead = markdownLinks(readProjectFile(file))
      .filter(({ target }) => !/^[a-z][a-z0-9+.-]*:/i.test(target))
      .flatMap(({ target, line }) => {
        const problem = deadLink(file, target);
        return problem === undefined ? [] : [`${file}:${line}: (${target}) ${problem}`];
      });
    expect(dead).toEqual([]);
  });

  it("reports a dead file, a dead anchor and a link out of the project", () => {
    expect(deadLink("docs/README.md", "missing.md")).toBe("no such file: docs/missing.md");
    expect(deadLink("docs/README.md", "key-mapping.md#no-such-heading")).toBe(
      "no heading #no-such-heading in docs/key-mapping.md",
    );
    expect(deadLink("README.md", "../elsewhere.md")).toMatch(/outside the project/);
    expect(deadLink("README.md", "docs/key-mapping.md#prefix-targets")).toBeUndefined();
    expect(deadLink("docs/deployment.md", "#iam-permissions")).toBeUndefined();
  });
});

/** The paths `npm pack` puts in the tarball, relative to the package root. */
function packedFiles(): string[] {
  const output = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  const [pack] = JSON.parse(output) as { files: { path: string }[] }[];
  return (pack?.files ?? []).map(({ path }) => path);
}

describe("documentation links in the published package", () => {
  it("resolves every relative link of the shipped markdown to a shipped file, so they work where the package is read", () => {
    const files = packedFiles();
    const shipped = (path: string) =>
      files.includes(path) || files.some((file) => file.startsWith(`${path.replace(/\/$/, "")}/`));
    const dead = files
      .filter((file) => file.endsWith(".md"))
      .flatMap((file) =>
        markdownLinks(readProjectFile(file))
          .filter(({ target }) => !/^[a-z][a-z0-9+.-]*:/i.test(target) && !target.startsWith("#"))
          .flatMap(({ target, line }) => {
            const path = normalize(join(dirname(file), decodeURI(target.split("#", 1)[0] ?? "")));
            return shipped(path) ? [] : [`${file}:${line}: (${target}) ${path} is not in the package`];
          }),
      );
    expect(files).toContain("docs/README.md");
    expect(dead).toEqual([]);
  }, 60_000);
});

describe("README", () => {
  it("stays a way in: at most 250 lines, with the depth in docs/", () => {
    const readme = readProjectFile("README.md");
    expect(readme.trimEnd().split("\n").length).toBeLessThanOrEqual(250);
    expect(markdownLinks(readme).map(({ target }) => target)).toContain("docs/README.md");
  });

  it("deploys with exactly the package's mapping settings and TTL filter", () => {
    const [template] = codeBlocks(readProjectFile("README.md")).filter(({ language }) => language === "yaml");
    const tags = ["GetAtt", "Sub", "Ref"].map((name) => ({
      tag: `!${name}`,
      resolve: (value: string) => ({ name, value }),
    }));
    const parsed = parse(template?.code ?? "", { customTags: tags });
    const { Stream, DestinationConfig, FilterCriteria, ...settings } =
      parsed.Resources.Cleanup.Properties.Events.ProductsStream.Properties;
    expect(settings).toEqual(RECOMMENDED_EVENT_SOURCE_MAPPING);
    expect(FilterCriteria).toEqual(TTL_REMOVE_ONLY_FILTER_CRITERIA);
    expect(Stream).toBeDefined();
    expect(DestinationConfig.OnFailure.Destination).toBeDefined();
  });
});

describe("markdown reading", () => {
  it("makes GitHub's heading slugs", () => {
    expect(headingSlug("Global tables (`ttlAttribute`)")).toBe("global-tables-ttlattribute");
    expect(headingSlug("Complete deployments: SAM, CDK, Terraform")).toBe("complete-deployments-sam-cdk-terraform");
    expect(headingSlug("S3-compatible stores and Content-MD5")).toBe("s3-compatible-stores-and-content-md5");
    expect([...headingAnchors("# A\n## A\n```sh\n# not a heading\n```\n### A")]).toEqual(["a", "a-1", "a-2"]);
  });

  it("finds links outside code only, with their lines", () => {
    const text = "see [a](a.md) and `[b](b.md)`\n```md\n[c](c.md)\n```\n[d](d.md#x)";
    expect(markdownLinks(text)).toEqual([
      { target: "a.md", line: 1 },
      { target: "d.md#x", line: 5 },
    ]);
  });

  it("finds code blocks, indented ones and fragment marks included", () => {
    const text = "<!-- fragment -->\n```ts\nconst a = 1;\n```\n- item\n\n  ```js\n  const b = 2;\n  ```\n";
    expect(codeBlocks(text)).toEqual([
      { language: "ts", fragment: true, code: "const a = 1;", line: 3 },
      { language: "js", fragment: false, code: "const b = 2;", line: 8 },
    ]);
  });
});
