/**
 * AWS's DynamoDB Local: streams plus a real TTL sweeper. It has no bind-address flag, so it listens
 * on every interface of a free port; clients use 127.0.0.1. Its jar comes from an npm
 * tarball (see CONTRIBUTING.md, Local services), checked against a pinned integrity hash and cached in .cache/.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CACHE_DIR, run, type Service, startOnFreePort, startService } from "./process.js";

const PACKAGE = "amplify-dynamodb-simulator@2.9.30";
const INTEGRITY = "sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ==";
const EMULATOR_DIR = join(CACHE_DIR, "dynamodb-local-1.25.1");

/** Fetches and unpacks DynamoDB Local once; later runs use the cached copy. */
export async function ensureDynamoDBLocal(): Promise<string> {
  if (existsSync(join(EMULATOR_DIR, "DynamoDBLocal.jar"))) return EMULATOR_DIR;
  const work = mkdtempSync(join(tmpdir(), "dynamodb-local-"));
  try {
    const pack = await run("npm", ["pack", PACKAGE, "--pack-destination", work, "--silent"]);
    if (pack.code !== 0) throw new Error(`npm pack ${PACKAGE} failed:\n${pack.output}`);
    const tarball = join(work, pack.output.trim().split("\n").at(-1) ?? "");
    const integrity = `sha512-${createHash("sha512").update(readFileSync(tarball)).digest("base64")}`;
    if (integrity !== INTEGRITY) throw new Error(`${PACKAGE} has integrity ${integrity}, expected ${INTEGRITY}`);
    const untar = await run("tar", ["-xzf", tarball, "-C", work, "package/emulator"]);
    if (untar.code !== 0) throw new Error(`unpacking ${tarball} failed:\n${untar.output}`);
    mkdirSync(CACHE_DIR, { recursive: true });
    try {
      renameSync(join(work, "package", "emulator"), EMULATOR_DIR);
    } catch (error) {
      // Another run unpacked it first: use theirs.
      if (!existsSync(join(EMULATOR_DIR, "DynamoDBLocal.jar"))) throw error;
    }
    return EMULATOR_DIR;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** How to get Java, for DynamoDB Local. */
export const JAVA_INSTALL_HINT =
  "Install a Java 17+ runtime and put its `java` on PATH: `apt-get install openjdk-17-jre-headless` (Debian/Ubuntu), `brew install openjdk@17` (macOS), or any JRE 17+ from the vendor of your choice.";

/** Resolves when `java -version` runs; otherwise throws an error that says how to install Java. */
export async function checkJava(runCommand: typeof run = run): Promise<void> {
  const { code, output } = await runCommand("java", ["-version"]);
  if (code === 0) return;
  const problem = code === -1 ? "`java` was not found" : `\`java -version\` failed (exit code ${code})`;
  const said = code === -1 ? "" : `\n${output.trim()}`;
  throw new Error(`DynamoDB Local needs Java 17 or later, and ${problem}. ${JAVA_INSTALL_HINT}${said}`);
}

/** Starts DynamoDB Local in memory on a free port and waits until it answers. */
export async function startDynamoDBLocal(): Promise<Service> {
  await checkJava();
  const emulator = await ensureDynamoDBLocal();
  return startOnFreePort((port) => {
    const endpoint = `http://127.0.0.1:${port}`;
    return startService({
      name: "dynamodb-local",
      command: "java",
      args: [
        "-Xmx512m",
        "-Djava.library.path=./DynamoDBLocal_lib",
        "-jar",
        "DynamoDBLocal.jar",
        "-inMemory",
        "-sharedDb",
        "-disableTelemetry",
        "-port",
        String(port),
      ],
      cwd: emulator,
      endpoint,
      // It answers a bare POST with HTTP 400 once it serves requests.
      ready: async () => (await fetch(endpoint, { method: "POST", signal: AbortSignal.timeout(2000) })).status === 400,
    });
  });
}
