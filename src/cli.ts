#!/usr/bin/env node
/**
 * The package's `bin`, `dynamodb-s3-cleanup`: runs {@link runCli} with the process's arguments,
 * streams, environment and SIGINT, and exits with its code.
 */
import { readFile } from "node:fs/promises";
import { runCli } from "./commands.js";
import { INTERRUPTED_EXIT_CODE, type ReplayHandlerFactory, replayHandlerFactory } from "./replay-cli.js";

/**
 * The replay handler made of the library's own factories.
 *
 * LEAD: wire the real factories here once src/replay-handler.ts and the env factory are merged:
 * ```ts
 * import { createReplayHandler } from "./replay-handler.js";
 * import { createReplayHandlerFromEnv } from "./from-env.js";
 * return replayHandlerFactory({
 *   fromOptions: createReplayHandler,
 *   fromEnv: createReplayHandlerFromEnv,
 * });
 * ```
 */
function libraryHandlerFactory(): ReplayHandlerFactory {
  return replayHandlerFactory({
    fromOptions: () => {
      throw new Error("the replay handler is not wired into the command yet (src/cli.ts)");
    },
    fromEnv: () => {
      throw new Error("the replay handler is not wired into the command yet (src/cli.ts)");
    },
  });
}

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  readFile: (path) => readFile(path, "utf8"),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stderrIsTty: process.stderr.isTTY === true,
  createHandler: libraryHandlerFactory(),
});
// After a second Ctrl-C the batches in hand are still running: exit without them. Otherwise let
// the event loop empty, so that output to a pipe is flushed (writes to pipes are asynchronous on macOS).
if (code === INTERRUPTED_EXIT_CODE) process.exit(code);
process.exitCode = code;
