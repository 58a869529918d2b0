/**
 * The command line's commands, by name: `dynamodb-s3-cleanup <command> [flags]`. Only dispatch
 * lives here; each command is a module of its own, and src/cli.ts runs this in a process.
 */
import { closestName } from "./closest-name.js";
import { type ReconcileCommandIo, runReconcileCommand } from "./reconcile-cli.js";
import { type ReplayCommandIo, runReplayCommand } from "./replay-cli.js";

/** What the commands read and write: all that the process gives them. */
export type CliIo = ReplayCommandIo & ReconcileCommandIo;

/** The commands, each with its one-line description. */
const COMMANDS = {
  replay: "drain an SQS queue of on-failure records: delete the objects of the batches Lambda gave up on",
  reconcile: "find the objects whose items are gone from the table, and with --delete delete them",
} as const;

/** The usage text of the command line as a whole. */
export const CLI_USAGE = `Usage: dynamodb-s3-cleanup <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, description]) => `  ${name.padEnd(11)}${description}`)
  .join("\n")}

Run \`dynamodb-s3-cleanup <command> --help\` for a command's options.
`;

/**
 * Runs the command `argv` names (the process's arguments after the script) and resolves to the
 * exit code: the command's own, 0 for `--help`, 2 for no command or an unknown one.
 *
 * @example
 * ```ts
 * process.exitCode = await runCli(process.argv.slice(2), io);
 * ```
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h" || command === "help") {
    io.stdout(CLI_USAGE);
    return 0;
  }
  if (command === "replay") return runReplayCommand(rest, io);
  if (command === "reconcile") return runReconcileCommand(rest, io);
  if (command === undefined) {
    io.stderr(`dynamodb-s3-cleanup: a command is required\n\n${CLI_USAGE}`);
    return 2;
  }
  const suggestion = closestName(command, Object.keys(COMMANDS));
  io.stderr(
    `dynamodb-s3-cleanup: unknown command "${command}"${suggestion === undefined ? "" : ` (did you mean "${suggestion}"?)`}\n\n${CLI_USAGE}`,
  );
  return 2;
}
