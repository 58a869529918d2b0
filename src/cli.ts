#!/usr/bin/env node
/**
 * The package's `bin`, `dynamodb-s3-cleanup`: runs {@link runCli} with the process's arguments,
 * streams, environment and SIGINT, and exits with its code.
 */
import { readFile } from "node:fs/promises";
import { runCli } from "./commands.js";
import { reconcile } from "./reconcile-run.js";
import { INTERRUPTED_EXIT_CODE, replayHandlerFactory } from "./replay-cli.js";
import { createReplayHandler, createReplayHandlerFromEnv } from "./replay-handler.js";

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  readFile: (path) => readFile(path, "utf8"),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stderrIsTty: process.stderr.isTTY === true,
  createHandler: replayHandlerFactory({ fromOptions: createReplayHandler, fromEnv: createReplayHandlerFromEnv }),
  reconcile,
});
// After a second Ctrl-C the batches (or pages) in hand are still running: exit without them. Otherwise let
// the event loop empty, so that output to a pipe is flushed (writes to pipes are asynchronous on macOS).
if (code === INTERRUPTED_EXIT_CODE) process.exit(code);
process.exitCode = code;
