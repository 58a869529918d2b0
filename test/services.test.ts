/**
 * The local-services scripts say what to install when a dependency is missing. (Starting and
 * stopping the servers is exercised by every integration run; finding or installing moto's Python
 * is in moto-python.test.ts.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkJava, JAVA_INSTALL_HINT, startDynamoDBLocal } from "./services/dynamodb-local.js";
import { freePort } from "./services/process.js";

describe("local services", () => {
  const saved = { ...process.env };
  let empty: string;
  beforeEach(() => {
    empty = mkdtempSync(join(tmpdir(), "no-tools-"));
    process.env.PATH = empty;
  });
  afterEach(() => {
    process.env = { ...saved };
    rmSync(empty, { recursive: true, force: true });
  });

  it("names a Java 17+ runtime to install, for Debian and macOS, when java is missing", async () => {
    const starting = startDynamoDBLocal();
    await expect(starting).rejects.toThrow("`java` was not found");
    await expect(starting).rejects.toThrow("`apt-get install openjdk-17-jre-headless`");
    await expect(starting).rejects.toThrow("`brew install openjdk@17`");
  });

  it("passes on what a java that does not run says, with how to install one", async () => {
    const stub = async () => ({ code: 1, output: "Unable to locate a Java Runtime.\n" });
    await expect(checkJava(stub)).rejects.toThrow(
      `\`java -version\` failed (exit code 1). ${JAVA_INSTALL_HINT}\nUnable to locate a Java Runtime.`,
    );
  });

  it("accepts a java that runs", async () => {
    await expect(checkJava(async () => ({ code: 0, output: 'openjdk version "17.0.13"' }))).resolves.toBeUndefined();
  });

  it("finds a loopback port that a server can then listen on", async () => {
    // Act
    const port = await freePort();

    // Assess
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", resolve);
    });
    expect((server.address() as AddressInfo).port).toBe(port);
    await new Promise((resolve) => server.close(resolve));
  });
});
