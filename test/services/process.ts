/**
 * Child processes for local servers: free ports, readiness polling, and stopping only the
 * processes this run started, by PID.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Where services keep logs and downloads; git ignores it. */
export const CACHE_DIR = fileURLToPath(new URL("../../.cache", import.meta.url));

/** A port nobody listens on right now, on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Where each running service's PID is recorded, with the PID of the process that started it. */
const PID_DIR = join(CACHE_DIR, "pids");

interface PidRecord {
  pid: number;
  owner: number;
  name: string;
  /** A fragment of its command line, to recognise it before signalling it. */
  command: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops servers that an earlier run started and could not stop (it was killed): their recorded
 * owner is gone, and the PID still runs the recorded command. Nothing else is touched.
 */
export function reapOrphans(): void {
  if (!existsSync(PID_DIR)) return;
  for (const file of readdirSync(PID_DIR)) {
    if (!file.endsWith(".json")) continue;
    const path = join(PID_DIR, file);
    let record: PidRecord;
    try {
      record = JSON.parse(readFileSync(path, "utf8")) as PidRecord;
    } catch {
      continue; // Another run is writing it, or it is not ours to read.
    }
    if (!(record.pid > 0) || isAlive(record.owner)) continue;
    const cmdline = `/proc/${record.pid}/cmdline`;
    if (existsSync(cmdline) && readFileSync(cmdline, "utf8").includes(record.command)) {
      try {
        process.kill(record.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    rmSync(path, { force: true });
  }
}

/** A server process this run started. */
export interface Service {
  name: string;
  endpoint: string;
  pid: number;
  /** The file holding the process's stdout and stderr. */
  logFile: string;
  stop(): Promise<void>;
}

/** How long a server must stay up after answering, to be sure the answer came from it. */
const SETTLE_MS = 500;

/**
 * Starts a server on a free port, retrying on another port when the process exits before it is
 * ready (say, because another run took the port in between).
 */
export async function startOnFreePort(start: (port: number) => Promise<Service>, attempts = 3): Promise<Service> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort());
    } catch (error) {
      if (attempt >= attempts || !(error instanceof ExitedEarly)) throw error;
    }
  }
}

/** The server process exited before it was ready. */
class ExitedEarly extends Error {}

/** Starts `command`, logging to .cache/logs, and resolves once `ready()` is true. */
export async function startService(options: {
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  endpoint: string;
  ready: () => Promise<boolean>;
  timeoutMs?: number;
}): Promise<Service> {
  const logs = join(CACHE_DIR, "logs");
  mkdirSync(logs, { recursive: true });
  const logFile = join(logs, `${options.name}-${process.pid}-${Date.now()}.log`);
  const log = createWriteStream(logFile);
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    // Not detached: a Ctrl-C in the terminal reaches the servers too.
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  let exited: string | undefined;
  child.once("exit", (code, signal) => {
    exited = `exited with ${signal ?? `code ${code}`}`;
  });
  child.once("error", (error) => {
    exited = error.message;
  });

  const pid = child.pid ?? -1;
  mkdirSync(PID_DIR, { recursive: true });
  const pidFile = join(PID_DIR, `${pid}.json`);
  if (pid > 0) {
    const record: PidRecord = { pid, owner: process.pid, name: options.name, command: options.args.join("\0") };
    writeFileSync(`${pidFile}.tmp`, JSON.stringify(record));
    renameSync(`${pidFile}.tmp`, pidFile);
  }
  const service: Service = {
    name: options.name,
    endpoint: options.endpoint,
    pid,
    logFile,
    stop: async () => {
      await stopProcess(child);
      rmSync(pidFile, { force: true });
    },
  };
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      rmSync(pidFile, { force: true });
      throw new ExitedEarly(`${options.name} ${exited} before it was ready; see ${logFile}`);
    }
    if (await options.ready().catch(() => false)) {
      // Another server on the same port could have answered: ours must still be running.
      await sleep(SETTLE_MS);
      if (exited === undefined) return service;
    } else {
      await sleep(100);
    }
  }
  await service.stop();
  throw new Error(`${options.name} was not ready within ${options.timeoutMs ?? 60_000} ms; see ${logFile}`);
}

/** Stops a child this run started, by its PID: SIGTERM, then SIGKILL if it lingers. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(child.pid as number, name);
    } catch {
      // Already gone.
    }
  };
  signal("SIGTERM");
  const timer = setTimeout(() => signal("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** Runs a command to completion; resolves with its exit code and output. */
export function run(command: string, args: string[], cwd?: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    child.once("error", (error) => resolve({ code: -1, output: error.message }));
    child.once("close", (code) => resolve({ code: code ?? -1, output }));
  });
}
