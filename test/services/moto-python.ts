/**
 * Finds a Python that can run moto's server, or builds one: when no Python on this machine can
 * import it, a virtual environment under .cache/ gets a pinned `moto[server]` from the package
 * index pip is configured with, once; later runs reuse it.
 *
 * The environment is built in a directory of its own and renamed into place only once moto imports
 * from it, so a half-built one is never used, and two runs that start at once (the demo and the
 * tests) both end up with a complete one.
 */
import { existsSync, readdirSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join } from "node:path";

/** What moto's server needs to import. */
export const IMPORT_CHECK = "import moto.server, flask, flask_cors";

/** The moto this project is proven with (see CONTRIBUTING.md, Local services), and the server parts it imports. */
export const MOTO_VERSION = "5.2.1";
export const MOTO_REQUIREMENTS = [
  `moto[server]==${MOTO_VERSION}`,
  "flask==3.1.3",
  "flask-cors==6.0.2",
  "werkzeug==3.1.8",
] as const;

/** A Python that can build the environment: one with `venv` and `ensurepip`, and new enough for moto 5.2. */
export const VENV_CHECK = "import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 9) else 1)";

/** How to install what is missing, when nothing here can run moto. */
export const NO_VENV_MESSAGE = `No Python here can import moto's server, and none can create a virtual environment to install it in (Python 3.9 or later with its venv module). Install one (Debian/Ubuntu: \`apt-get install python3 python3-venv\`; macOS: \`brew install python\`), or install \`pip install "moto[server]==${MOTO_VERSION}"\` into a Python and set MOTO_PYTHON to it.`;

/** Runs a command to completion: its exit code (-1 when it could not start) and output. */
export type Run = (command: string, args: string[]) => Promise<{ code: number; output: string }>;

export interface MotoPythonOptions {
  /** Pythons that may have moto already, in order of preference. */
  candidates: readonly string[];
  /** Where the project-local environment lives once built. */
  venvDir: string;
  run: Run;
  /** Tells the user what is happening: one line on stderr. */
  say: (line: string) => void;
}

/** The Python of a virtual environment. */
export const venvPython = (dir: string) =>
  process.platform === "win32" ? join(dir, "Scripts", "python.exe") : join(dir, "bin", "python");

/**
 * The first candidate that can import moto's server; else the project-local environment's Python,
 * built first if it does not exist yet.
 */
export async function resolveMotoPython(options: MotoPythonOptions): Promise<string> {
  const { candidates, venvDir, run } = options;
  for (const python of candidates) {
    if ((await run(python, ["-c", IMPORT_CHECK])).code === 0) return python;
  }
  if (!existsSync(venvDir)) await buildVenv(options);
  const python = venvPython(venvDir);
  const check = await run(python, ["-c", IMPORT_CHECK]);
  if (check.code !== 0) {
    throw new Error(
      `The Python environment at ${venvDir} cannot import moto's server (was its base Python removed?). Delete ${venvDir} and run again to rebuild it.\n${check.output}`,
    );
  }
  return python;
}

/** Builds the environment beside `venvDir` and renames it into place once moto imports from it. */
async function buildVenv({ candidates, venvDir, run, say }: MotoPythonOptions): Promise<void> {
  let base: string | undefined;
  for (const python of candidates) {
    if ((await run(python, ["-c", VENV_CHECK])).code === 0) {
      base = python;
      break;
    }
  }
  if (base === undefined) throw new Error(NO_VENV_MESSAGE);

  reapAbandonedBuilds(venvDir);
  const building = `${venvDir}.building-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  say(
    `moto: no Python here can import moto's server; installing ${MOTO_REQUIREMENTS.join(" ")} into ${venvDir} (first run only; later runs reuse it).`,
  );
  try {
    const python = venvPython(building);
    const steps: [string, string, string[]][] = [
      ["creating the virtual environment", base, ["-m", "venv", building]],
      [
        `installing ${MOTO_REQUIREMENTS.join(" ")}`,
        python,
        ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", ...MOTO_REQUIREMENTS],
      ],
      ["checking that moto's server imports", python, ["-c", IMPORT_CHECK]],
    ];
    for (const [what, command, args] of steps) {
      const result = await run(command, args);
      if (result.code !== 0) {
        throw new Error(
          `Could not set up moto in ${venvDir}: ${what} failed (\`${command} ${args.join(" ")}\`, exit code ${result.code}). Fix the cause below and run again, or install \`pip install "moto[server]==${MOTO_VERSION}"\` into a Python and set MOTO_PYTHON to it.\n${result.output.trim().split("\n").slice(-20).join("\n")}`,
        );
      }
    }
    try {
      renameSync(building, venvDir);
    } catch (error) {
      // Another run finished first: use theirs.
      if (!existsSync(venvDir)) throw error;
    }
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
}

/** Removes builds left behind by runs that were killed: their PID, in the directory's name, is gone. */
function reapAbandonedBuilds(venvDir: string): void {
  const parent = dirname(venvDir);
  if (!existsSync(parent)) return;
  const prefix = `${basename(venvDir)}.building-`;
  for (const name of readdirSync(parent)) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split("-")[0]);
    if (pid > 0 && pid !== process.pid && !isAlive(pid)) rmSync(join(parent, name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, under another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Pythons to try, in order: $MOTO_PYTHON, python3, python, then every pyenv version. */
export function pythonCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const pyenv = join(env.PYENV_ROOT ?? join(homedir(), ".pyenv"), "versions");
  const versions = existsSync(pyenv)
    ? readdirSync(pyenv)
        .sort()
        .reverse()
        .map((version) => join(pyenv, version, "bin", "python"))
    : [];
  return [env.MOTO_PYTHON, "python3", "python", ...versions].filter(
    (candidate): candidate is string => candidate !== undefined && candidate !== "",
  );
}
