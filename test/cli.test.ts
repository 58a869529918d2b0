/**
 * The bin, src/cli.ts, run as a process (through tsx): its arguments, output and exit code reach
 * runCli and come back. The commands themselves are tested in commands.test.ts and replay-cli.test.ts.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CLI_USAGE } from "../src/commands.js";

const root = fileURLToPath(new URL("..", import.meta.url));

function runBin(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/cli.ts", ...args],
      { cwd: root, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" }, timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
    );
  });
}

describe("the dynamodb-s3-cleanup bin", () => {
  it("prints the usage on stdout for --help and exits with 0", async () => {
    expect(await runBin(["--help"])).toEqual({ code: 0, stdout: CLI_USAGE, stderr: "" });
  });

  it("exits with the command's code for bad usage", async () => {
    const { code, stdout, stderr } = await runBin(["replay", "--queue-url", "not-a-url"]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/^replay: --queue-url must be the URL of an SQS queue/);
  });
});
