/**
 * moto's server on 127.0.0.1: S3 and DynamoDB Streams for integration tests and the demo.
 * moto is a Python package; it cannot be installed from here, so we find a Python that has it.
 */
import { existsSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { run, type Service, startOnFreePort, startService } from "./process.js";

const IMPORT_CHECK = "import moto.server, flask, flask_cors";

/** Pythons to try, in order: $MOTO_PYTHON, python3, python, then every pyenv version. */
function pythonCandidates(): string[] {
  const pyenv = join(process.env.PYENV_ROOT ?? join(homedir(), ".pyenv"), "versions");
  const versions = existsSync(pyenv)
    ? readdirSync(pyenv)
        .sort()
        .reverse()
        .map((version) => join(pyenv, version, "bin", "python"))
    : [];
  return [process.env.MOTO_PYTHON, "python3", "python", ...versions].filter(
    (candidate): candidate is string => candidate !== undefined && candidate !== "",
  );
}

/** The first Python that can import moto's server, or an error that says what to install. */
export async function findMotoPython(): Promise<string> {
  for (const python of pythonCandidates()) {
    if ((await run(python, ["-c", IMPORT_CHECK])).code === 0) return python;
  }
  throw new Error(
    'No Python here can import moto\'s server (tried $MOTO_PYTHON, python3, python and pyenv versions). Install it with `pip install "moto[server]"`, or set MOTO_PYTHON to a Python that has it.',
  );
}

/** Starts `python -m moto.server` on a free loopback port and waits until it answers. */
export async function startMoto(): Promise<Service> {
  const python = await findMotoPython();
  return startOnFreePort((port) => {
    const endpoint = `http://127.0.0.1:${port}`;
    return startService({
      name: "moto",
      command: python,
      args: ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)],
      endpoint,
      ready: async () =>
        (await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(2000) })).status === 200,
    });
  });
}
