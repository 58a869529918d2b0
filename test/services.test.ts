/**
 * The local-services scripts say what to install when a dependency is missing. (Starting and
 * stopping the servers is exercised by every integration run.)
 */
import { mkdtempSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startDynamoDBLocal } from "./services/dynamodb-local.js";
import { findMotoPython } from "./services/moto.js";
import { freePort } from "./services/process.js";

describe("local services", () => {
  const saved = { ...process.env };
  beforeEach(() => {
    const empty = mkdtempSync(join(tmpdir(), "no-tools-"));
    process.env.PATH = empty;
    process.env.PYENV_ROOT = empty;
    process.env.MOTO_PYTHON = "";
  });
  afterEach(() => {
    process.env = { ...saved };
  });

  it("names moto's install command when no Python can import it", async () => {
    await expect(findMotoPython()).rejects.toThrow('pip install "moto[server]"');
  });

  it("names a JRE to install when java is missing", async () => {
    await expect(startDynamoDBLocal()).rejects.toThrow("openjdk-17-jre-headless");
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
