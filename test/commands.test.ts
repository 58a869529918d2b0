import { describe, expect, it } from "vitest";
import { CLI_USAGE, type CliIo, runCli } from "../src/commands.js";
import { RECONCILE_USAGE } from "../src/reconcile-cli.js";
import { REPLAY_USAGE } from "../src/replay-cli.js";

/** Io that records what is written, for commands that never reach a queue. */
function recordingIo() {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    env: {},
    readFile: () => Promise.reject(new Error("no files here")),
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    stderrIsTty: false,
    createHandler: () => {
      throw new Error("no handler here");
    },
    reconcile: () => Promise.reject(new Error("no reconcile here")),
  };
  return { io, stdout: () => out.join(""), stderr: () => err.join("") };
}

describe("runCli", () => {
  it.each([["--help"], ["-h"], ["help"]])("prints the usage on stdout for %s and exits with 0", async (flag) => {
    const { io, stdout, stderr } = recordingIo();
    expect(await runCli([flag], io)).toBe(0);
    expect(stdout()).toBe(CLI_USAGE);
    expect(stderr()).toBe("");
  });

  it("lists the replay and reconcile commands in the usage", () => {
    expect(CLI_USAGE).toMatch(/^ {2}replay {5}drain an SQS queue of on-failure records/m);
    expect(CLI_USAGE).toMatch(/^ {2}reconcile {2}find the objects whose items are gone from the table/m);
  });

  it("asks for a command when none is given, and exits with 2", async () => {
    const { io, stdout, stderr } = recordingIo();
    expect(await runCli([], io)).toBe(2);
    expect(stderr()).toBe(`dynamodb-s3-cleanup: a command is required\n\n${CLI_USAGE}`);
    expect(stdout()).toBe("");
  });

  it("names an unknown command and the one meant, and exits with 2", async () => {
    const { io, stderr } = recordingIo();
    expect(await runCli(["replya", "--queue-url", "https://example.com/q"], io)).toBe(2);
    expect(stderr()).toBe(`dynamodb-s3-cleanup: unknown command "replya" (did you mean "replay"?)\n\n${CLI_USAGE}`);
  });

  it("suggests nothing for a command close to none", async () => {
    const { io, stderr } = recordingIo();
    expect(await runCli(["inventory"], io)).toBe(2);
    expect(stderr()).toBe(`dynamodb-s3-cleanup: unknown command "inventory"\n\n${CLI_USAGE}`);
  });

  it("hands the arguments after replay to the replay command", async () => {
    const { io, stdout } = recordingIo();
    expect(await runCli(["replay", "--help"], io)).toBe(0);
    expect(stdout()).toBe(REPLAY_USAGE);
  });

  it("hands the arguments after reconcile to the reconcile command", async () => {
    const { io, stdout } = recordingIo();
    expect(await runCli(["reconcile", "--help"], io)).toBe(0);
    expect(stdout()).toBe(RECONCILE_USAGE);
  });

  it("returns the reconcile command's exit code", async () => {
    const { io, stderr } = recordingIo();
    expect(await runCli(["reconcile", "--bucket", "b", "--key", "{id}"], io)).toBe(2);
    expect(stderr()).toMatch(/^reconcile: --table is required\n/);
  });

  it("returns the replay command's exit code", async () => {
    const { io, stderr } = recordingIo();
    expect(await runCli(["replay", "--concurrency", "2"], io)).toBe(2);
    expect(stderr()).toMatch(/^replay: --queue-url is required\n/);
  });
});
