/**
 * The built `reconcile` command (dist/cli.js, so `npm run build` first; npm test does) as a child
 * process against DynamoDB Local and moto, reached only through the SDK's standard variables
 * AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL_DYNAMODB. The S3 endpoint is named `localhost`, where the
 * SDK would address buckets as host names (`<bucket>.localhost`, which does not resolve) unless the
 * command turns path-style addressing on.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { localClientConfig } from "../services/index.js";
import { createBucket, listKeys, putObjects } from "./helpers.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = join(root, "dist/cli.js");

const s3 = new S3Client({ ...localClientConfig(inject("motoEndpoint")), forcePathStyle: true });
const dynamodb = new DynamoDBClient(localClientConfig(inject("dynamodbEndpoint")));

/** Runs `dynamodb-s3-cleanup reconcile ...args` with only the variables a user would set. */
function runReconcile(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const home = mkdtempSync(join(tmpdir(), "reconcile-cli-home-"));
  const env = {
    PATH: process.env.PATH,
    // No shared config or credentials files of this machine.
    HOME: home,
    AWS_CONFIG_FILE: join(home, "config"),
    AWS_SHARED_CREDENTIALS_FILE: join(home, "credentials"),
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_ENDPOINT_URL_S3: inject("motoEndpoint").replace("127.0.0.1", "localhost"),
    AWS_ENDPOINT_URL_DYNAMODB: inject("dynamodbEndpoint"),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, "reconcile", ...args],
      { cwd: root, env, timeout: 50_000 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
    );
  });
}

async function createTable(ids: readonly string[]): Promise<string> {
  const table = `products-${Math.random().toString(36).slice(2, 10)}`;
  await dynamodb.send(
    new CreateTableCommand({
      TableName: table,
      KeySchema: [{ AttributeName: "productId", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "productId", AttributeType: "S" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  for (const id of ids) await dynamodb.send(new PutItemCommand({ TableName: table, Item: { productId: { S: id } } }));
  return table;
}

const LIVE = ["images/live-1.png", "images/live-2.png", "images/live-3.png"];
const ORPHANS = ["images/gone-1.png", "images/gone-2.png", "images/gone 3 ü.png"];
const UNRELATED = ["images/readme.txt", "other/x.png", "images/nested/live-1.png.bak"];

/** A table with the live items, and a bucket with their objects, the orphans and unrelated keys. */
async function seed(): Promise<{ table: string; bucket: string; report: string }> {
  const table = await createTable(["live-1", "live-2", "live-3"]);
  const bucket = await createBucket(s3, "rc-cli");
  await putObjects(s3, bucket, [...LIVE, ...ORPHANS, ...UNRELATED]);
  return { table, bucket, report: join(mkdtempSync(join(tmpdir(), "reconcile-cli-")), "orphans.jsonl") };
}

function reportLines(path: string): Record<string, unknown>[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("the reconcile command as a process, on DynamoDB Local and moto", () => {
  beforeAll(() => {
    if (!existsSync(bin)) throw new Error("dist/cli.js is missing: run `npm run build` first (npm test does)");
  });

  it("deletes exactly the orphans with --min-age 0 --delete, lists exactly them in the report, and exits with 0", async () => {
    const { table, bucket, report } = await seed();
    const { code, stdout, stderr } = await runReconcile([
      "--table",
      table,
      "--bucket",
      bucket,
      "--key",
      "images/{productId}.png",
      "--min-age",
      "0",
      "--delete",
      "--report",
      report,
    ]);
    expect({ code, stderr }).toMatchObject({ code: 0 });
    expect(await listKeys(s3, bucket)).toEqual([...LIVE, ...UNRELATED].sort());
    const lines = reportLines(report);
    expect(lines.map((line) => line.key).sort()).toEqual([...ORPHANS].sort());
    for (const line of lines) {
      expect(line).toMatchObject({
        bucket,
        status: "deleted",
        size: Buffer.byteLength(String(line.key)),
        itemKey: { productId: { S: String(line.key).slice("images/".length, -".png".length) } },
      });
      expect(line.etag).toMatch(/^"[0-9a-f]{32}"$/);
      expect(new Date(String(line.lastModified)).toISOString()).toBe(line.lastModified);
    }
    expect(stdout).toMatch(/^Reconcile finished: every object was listed\.\n/);
    expect(stdout).toMatch(/^ {2}objects listed +8$/m);
    expect(stdout).toMatch(/^ {2}orphans deleted +3$/m);
    expect(stdout).toMatch(/^ {2}complete +yes$/m);
  });

  it("deletes nothing without --delete, and takes no object of the last day for an orphan by default", async () => {
    const { table, bucket, report } = await seed();
    const args = ["--table", table, "--bucket", bucket, "--key", "images/{productId}.png", "--report", report];
    const young = await runReconcile(args);
    expect(young.code).toBe(0);
    expect(young.stdout).toMatch(/^ {2}young \(never deleted\) +3$/m);
    expect(reportLines(report)).toEqual([]);
    const found = await runReconcile([...args, "--min-age", "0"]);
    expect(found.code).toBe(0);
    expect(found.stdout).toMatch(/^ {2}orphans +3 \(report only: run with --delete to delete them\)$/m);
    expect(
      reportLines(report)
        .map(({ key, status }) => ({ key, status }))
        .sort((a, b) => String(a.key).localeCompare(String(b.key))),
    ).toEqual([...ORPHANS].sort().map((key) => ({ key, status: "found" })));
    expect(await listKeys(s3, bucket)).toEqual([...LIVE, ...ORPHANS, ...UNRELATED].sort());
  });

  it("exits with 2 naming --table when the table is missing, and deletes nothing", async () => {
    const { bucket } = await seed();
    const { code, stdout, stderr } = await runReconcile([
      "--table",
      "no-such-table",
      "--bucket",
      bucket,
      "--key",
      "images/{productId}.png",
      "--min-age",
      "0",
      "--delete",
    ]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^reconcile: --table no-such-table: DescribeTable on table "no-such-table" failed: /m);
    expect(stdout).toBe("");
    expect(await listKeys(s3, bucket)).toEqual([...LIVE, ...ORPHANS, ...UNRELATED].sort());
  });
});
