/**
 * Which Python runs moto's server, and when the project-local environment is built, with the
 * commands faked: no real pip runs here. The fake creates the directories `python -m venv` would,
 * so the build-then-rename steps run on a real (temporary) filesystem.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  IMPORT_CHECK,
  MOTO_REQUIREMENTS,
  NO_VENV_MESSAGE,
  pythonCandidates,
  resolveMotoPython,
  VENV_CHECK,
  venvPython,
} from "./services/moto-python.js";
import { run } from "./services/process.js";

interface Call {
  command: string;
  args: string[];
}

/**
 * A fake machine: `withMoto` can import moto's server, `withVenv` can create environments. An
 * environment created with `-m venv` can import moto once pip installed into it, unless `pipFails`.
 * `beforePip` runs while pip "installs", to look at the filesystem mid-build.
 */
function fakeMachine(
  setup: {
    withMoto?: string[];
    withVenv?: string[];
    pipFails?: boolean;
    beforePip?: (venv: string) => Promise<void> | void;
  } = {},
) {
  const calls: Call[] = [];
  // pip leaves a marker in the environment, so that it moves with the environment when renamed.
  const marker = (python: string) => join(dirname(dirname(python)), "installed-by-fake-pip");
  const runFake = async (command: string, args: string[]) => {
    calls.push({ command, args });
    if (args[0] === "-c" && args[1] === IMPORT_CHECK) {
      const ok = setup.withMoto?.includes(command) || existsSync(marker(command));
      return ok ? { code: 0, output: "" } : { code: 1, output: "ModuleNotFoundError: No module named 'moto'" };
    }
    if (args[0] === "-c" && args[1] === VENV_CHECK)
      return { code: setup.withVenv?.includes(command) ? 0 : 1, output: "" };
    if (args[0] === "-m" && args[1] === "venv") {
      const dir = args[2] as string;
      mkdirSync(join(dir, "bin"), { recursive: true });
      writeFileSync(venvPython(dir), "");
      return { code: 0, output: "" };
    }
    if (args[0] === "-m" && args[1] === "pip") {
      await setup.beforePip?.(command);
      if (setup.pipFails) return { code: 1, output: "ERROR: No matching distribution found for moto==5.2.1" };
      writeFileSync(marker(command), "");
      return { code: 0, output: "Successfully installed moto-5.2.1" };
    }
    return { code: -1, output: `spawn ${command} ENOENT` };
  };
  return { calls, run: runFake };
}

describe("resolveMotoPython", () => {
  let cache: string;
  let venvDir: string;
  let said: string[];
  beforeEach(() => {
    cache = mkdtempSync(join(tmpdir(), "moto-python-"));
    venvDir = join(cache, "moto-venv");
    said = [];
  });
  afterEach(() => {
    rmSync(cache, { recursive: true, force: true });
  });
  const say = (line: string) => said.push(line);
  const pipCalls = (calls: Call[]) => calls.filter((call) => call.args[1] === "pip");

  it("uses the first candidate that can import moto's server, and builds nothing", async () => {
    // Prepare
    const machine = fakeMachine({ withMoto: ["python", "/pyenv/3.11/bin/python"], withVenv: ["python3"] });

    // Act
    const python = await resolveMotoPython({
      candidates: ["python3", "python", "/pyenv/3.11/bin/python"],
      venvDir,
      run: machine.run,
      say,
    });

    // Assess
    expect(python).toBe("python");
    expect(machine.calls.map((call) => call.command)).toStrictEqual(["python3", "python"]);
    expect(existsSync(venvDir)).toBe(false);
    expect(said).toStrictEqual([]);
  });

  it("builds the environment when no candidate has moto: venv, then pip with the pinned versions, and says so once", async () => {
    // Prepare
    const machine = fakeMachine({ withVenv: ["python3"] });

    // Act
    const python = await resolveMotoPython({ candidates: ["python3", "python"], venvDir, run: machine.run, say });

    // Assess
    expect(python).toBe(venvPython(venvDir));
    expect(existsSync(python)).toBe(true);
    const venvCall = machine.calls.find((call) => call.args[1] === "venv");
    expect(venvCall?.command).toBe("python3");
    const [pip] = pipCalls(machine.calls);
    expect(pip?.args.slice(-MOTO_REQUIREMENTS.length)).toStrictEqual([...MOTO_REQUIREMENTS]);
    expect(pip?.args).toContain("moto[server]==5.2.1");
    expect(said).toHaveLength(1);
    expect(said[0]).toContain(venvDir);
    expect(said[0]).toContain("moto[server]==5.2.1");
    expect(readdirSync(cache)).toStrictEqual(["moto-venv"]);
  });

  it("reuses the environment on later runs: no pip, nothing said", async () => {
    // Prepare
    const machine = fakeMachine({ withVenv: ["python3"] });
    const options = { candidates: ["python3"], venvDir, run: machine.run, say };
    await resolveMotoPython(options);
    machine.calls.length = 0;

    // Act
    const python = await resolveMotoPython(options);

    // Assess
    expect(python).toBe(venvPython(venvDir));
    expect(pipCalls(machine.calls)).toStrictEqual([]);
    expect(said).toHaveLength(1);
  });

  it("builds from the first candidate that can create environments", async () => {
    // Prepare
    const machine = fakeMachine({ withVenv: ["/pyenv/3.12/bin/python"] });

    // Act
    await resolveMotoPython({
      candidates: ["python3", "python", "/pyenv/3.12/bin/python"],
      venvDir,
      run: machine.run,
      say,
    });

    // Assess
    expect(machine.calls.find((call) => call.args[1] === "venv")?.command).toBe("/pyenv/3.12/bin/python");
  });

  it("never uses a half-built environment: while pip runs, the environment's directory does not exist", async () => {
    // Prepare
    const seen: boolean[] = [];
    const machine = fakeMachine({
      withVenv: ["python3"],
      beforePip: (python) => {
        seen.push(existsSync(venvDir), existsSync(python));
      },
    });

    // Act
    await resolveMotoPython({ candidates: ["python3"], venvDir, run: machine.run, say });

    // Assess
    expect(seen).toStrictEqual([false, true]);
  });

  it("gives two runs that start at once the same complete environment, and leaves no build behind", async () => {
    // Prepare: both runs reach pip before either finishes.
    let arrived = 0;
    let release: () => void = () => undefined;
    const bothArrived = new Promise<void>((resolve) => {
      release = resolve;
    });
    const machine = fakeMachine({
      withVenv: ["python3"],
      beforePip: async () => {
        if (++arrived === 2) release();
        await bothArrived;
      },
    });
    const options = { candidates: ["python3"], venvDir, run: machine.run, say };

    // Act
    const pythons = await Promise.all([resolveMotoPython(options), resolveMotoPython(options)]);

    // Assess
    expect(pythons).toStrictEqual([venvPython(venvDir), venvPython(venvDir)]);
    expect(pipCalls(machine.calls)).toHaveLength(2);
    expect(readdirSync(cache)).toStrictEqual(["moto-venv"]);
    expect(existsSync(venvPython(venvDir))).toBe(true);
  });

  it("fails with pip's output when the install fails, and leaves nothing behind", async () => {
    // Prepare
    const machine = fakeMachine({ withVenv: ["python3"], pipFails: true });

    // Act
    const resolving = resolveMotoPython({ candidates: ["python3"], venvDir, run: machine.run, say });

    // Assess
    await expect(resolving).rejects.toThrow(/installing moto\[server\]==5\.2\.1 .* failed/);
    await expect(resolving).rejects.toThrow("No matching distribution found for moto==5.2.1");
    await expect(resolving).rejects.toThrow("MOTO_PYTHON");
    expect(readdirSync(cache)).toStrictEqual([]);
    expect(said).toHaveLength(1);
  });

  it("names what to install when no Python can create an environment, and builds nothing", async () => {
    // Prepare
    const machine = fakeMachine();

    // Act
    const resolving = resolveMotoPython({ candidates: ["python3", "python"], venvDir, run: machine.run, say });

    // Assess
    await expect(resolving).rejects.toThrow(NO_VENV_MESSAGE);
    expect(NO_VENV_MESSAGE).toContain("apt-get install python3 python3-venv");
    expect(NO_VENV_MESSAGE).toContain('pip install "moto[server]==5.2.1"');
    expect(machine.calls.some((call) => call.args[1] === "venv")).toBe(false);
    expect(said).toStrictEqual([]);
  });

  it("tells the user to delete an environment that no longer imports moto", async () => {
    // Prepare
    mkdirSync(join(venvDir, "bin"), { recursive: true });
    const machine = fakeMachine({ withVenv: ["python3"] });

    // Act
    const resolving = resolveMotoPython({ candidates: ["python3"], venvDir, run: machine.run, say });

    // Assess
    await expect(resolving).rejects.toThrow(`Delete ${venvDir} and run again`);
    expect(pipCalls(machine.calls)).toStrictEqual([]);
  });

  it("removes builds left by runs that are gone, and keeps those of running ones", async () => {
    // Prepare: PID 2^22 + 1 is above Linux's highest PID; this process is running.
    const abandoned = `${venvDir}.building-4194305-abc`;
    const running = `${venvDir}.building-${process.pid}-def`;
    mkdirSync(abandoned);
    mkdirSync(running);
    const machine = fakeMachine({ withVenv: ["python3"] });

    // Act
    await resolveMotoPython({ candidates: ["python3"], venvDir, run: machine.run, say });

    // Assess
    expect(readdirSync(cache).sort()).toStrictEqual(["moto-venv", `moto-venv.building-${process.pid}-def`]);
  });

  it("with the real commands and nothing on PATH, names what to install", async () => {
    // Prepare
    const saved = process.env.PATH;
    process.env.PATH = cache;

    // Act
    const resolving = resolveMotoPython({ candidates: ["python3", "python"], venvDir, run, say });

    // Assess
    try {
      await expect(resolving).rejects.toThrow(NO_VENV_MESSAGE);
    } finally {
      process.env.PATH = saved;
    }
  });
});

describe("pythonCandidates", () => {
  it("tries $MOTO_PYTHON, python3, python, then the pyenv versions", () => {
    // Prepare
    const root = mkdtempSync(join(tmpdir(), "pyenv-"));
    mkdirSync(join(root, "versions", "3.11.7"), { recursive: true });

    // Act
    const candidates = pythonCandidates({ PYENV_ROOT: root, MOTO_PYTHON: "/opt/py/bin/python" });

    // Assess
    expect(candidates).toStrictEqual([
      "/opt/py/bin/python",
      "python3",
      "python",
      join(root, "versions", "3.11.7", "bin", "python"),
    ]);
    rmSync(root, { recursive: true, force: true });
  });

  it("leaves out an empty MOTO_PYTHON", () => {
    expect(pythonCandidates({ PYENV_ROOT: "/nonexistent", MOTO_PYTHON: "" })).toStrictEqual(["python3", "python"]);
  });
});
