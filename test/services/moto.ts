/**
 * moto's server on 127.0.0.1: S3 and DynamoDB Streams for integration tests and the demo. It runs on
 * a Python that has moto, or on one the project installs it into (moto-python.ts).
 */
import { join } from "node:path";
import { MOTO_VERSION, pythonCandidates, resolveMotoPython } from "./moto-python.js";
import { CACHE_DIR, run, type Service, startOnFreePort, startService } from "./process.js";

/** Where moto is installed when no Python here has it. */
export const MOTO_VENV_DIR = join(CACHE_DIR, `moto-venv-${MOTO_VERSION}`);

/** A Python that can run moto's server: found, or set up once in .cache/ (see moto-python.ts). */
export function findMotoPython(): Promise<string> {
  return resolveMotoPython({
    candidates: pythonCandidates(),
    venvDir: MOTO_VENV_DIR,
    run,
    say: (line) => process.stderr.write(`${line}\n`),
  });
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
