/**
 * The rule reconcile stands on, for random tables, buckets and templates on the real servers
 * (DynamoDB Local, moto): nothing live, young or unrelated is ever deleted, and with deletes on,
 * every orphan is.
 */
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import fc from "fast-check";
import { describe, expect, inject, it } from "vitest";
import { reconcile } from "../../src/reconcile.js";
import { localClientConfig } from "../services/index.js";
import { createBucket, listKeys, putObjects, quietLogger } from "./helpers.js";

const s3 = new S3Client({ ...localClientConfig(inject("motoEndpoint")), forcePathStyle: true });
const dynamodb = new DynamoDBClient(localClientConfig(inject("dynamodbEndpoint")));

const DAY = 24 * 60 * 60 * 1000;

/** A template around one placeholder, or around the partition and sort keys of a two-part key. */
const layout = fc.record({
  prefix: fc.constantFrom("", "images/", "media/p-", "a/b/"),
  separator: fc.constantFrom("/", "-", "_"),
  suffix: fc.constantFrom(".png", "", "/full.jpg"),
  hashType: fc.constantFrom<"S" | "N">("S", "N"),
  withSortKey: fc.boolean(),
});

const scenario = layout.chain((shape) => {
  const value =
    shape.hashType === "N" ? fc.integer({ min: -50, max: 5000 }).map(String) : fc.stringMatching(/^[a-z0-9]{1,6}$/);
  const key: fc.Arbitrary<string[]> = shape.withSortKey
    ? fc.tuple(value, fc.constantFrom("v1", "v2"))
    : fc.tuple(value);
  return fc.record({
    shape: fc.constant(shape),
    live: fc.uniqueArray(key, { maxLength: 6, selector: (parts) => parts.join("\u0000") }),
    gone: fc.uniqueArray(key, { maxLength: 6, selector: (parts) => parts.join("\u0000") }),
    strays: fc.array(fc.stringMatching(/^[a-z0-9_-][a-z/_0-9-]{0,11}$/), { maxLength: 4 }),
    young: fc.boolean(),
  });
});

/**
 * A plain reference for what the template reads `key` as: every split of it into the template's
 * values, each value valid for its type (an N as DynamoDB writes it); an item key only when exactly
 * one split is.
 */
function referenceRead(
  shape: { prefix: string; separator: string; suffix: string; hashType: "S" | "N"; withSortKey: boolean },
  key: string,
): string[] | undefined {
  const { prefix, separator, suffix } = shape;
  if (!key.startsWith(prefix) || !key.endsWith(suffix) || key.length < prefix.length + suffix.length) return undefined;
  const middle = key.slice(prefix.length, key.length - suffix.length);
  const splits: string[][] = [];
  if (!shape.withSortKey) splits.push([middle]);
  else {
    for (let at = middle.indexOf(separator); at !== -1; at = middle.indexOf(separator, at + 1)) {
      splits.push([middle.slice(0, at), middle.slice(at + separator.length)]);
    }
  }
  const valid = splits.filter(
    ([id, version]) =>
      id !== "" &&
      (shape.hashType === "S" || /^(0|-?[1-9][0-9]{0,37})$/.test(id as string)) &&
      (!shape.withSortKey || version !== ""),
  );
  return valid.length === 1 ? valid[0] : undefined;
}

describe("reconcile, for random tables, buckets and templates", () => {
  it("deletes every orphan and nothing live, young or unrelated", { timeout: 600_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ shape, live, gone, strays, young }) => {
        const table = `prop-${Math.random().toString(36).slice(2, 10)}`;
        await dynamodb.send(
          new CreateTableCommand({
            TableName: table,
            KeySchema: [
              { AttributeName: "id", KeyType: "HASH" },
              ...(shape.withSortKey ? [{ AttributeName: "version", KeyType: "RANGE" as const }] : []),
            ],
            AttributeDefinitions: [
              { AttributeName: "id", AttributeType: shape.hashType },
              ...(shape.withSortKey ? [{ AttributeName: "version", AttributeType: "S" as const }] : []),
            ],
            BillingMode: "PAY_PER_REQUEST",
          }),
        );
        const template = `${shape.prefix}{id}${shape.withSortKey ? `${shape.separator}{version}` : ""}${shape.suffix}`;
        const render = ([id, version]: string[]) =>
          `${shape.prefix}${id}${shape.withSortKey ? `${shape.separator}${version}` : ""}${shape.suffix}`;
        const liveIds = new Set(live.map((parts) => parts.join("\u0000")));
        const goneOnly = gone.filter((parts) => !liveIds.has(parts.join("\u0000")));
        for (const [id, version] of live) {
          await dynamodb.send(
            new PutItemCommand({
              TableName: table,
              Item: {
                id: shape.hashType === "N" ? { N: id as string } : { S: id as string },
                ...(version === undefined ? {} : { version: { S: version } }),
              },
            }),
          );
        }
        const liveKeys = live.map(render);
        const orphanKeys = goneOnly.map(render).filter((key) => !liveKeys.includes(key));
        const bucket = await createBucket(s3, "prop");
        const everything = [...new Set([...liveKeys, ...orphanKeys, ...strays])];
        await putObjects(s3, bucket, everything);
        const report = await reconcile({
          tableName: table,
          bucket,
          key: template,
          minAgeMs: young ? DAY : 0,
          delete: true,
          concurrency: 2,
          s3Client: s3,
          dynamoDbClient: dynamodb,
          logger: quietLogger().logger,
        });
        const left = new Set(await listKeys(s3, bucket));
        const deleted = everything.filter((key) => !left.has(key)).sort();
        // Exactly the keys that read, one way only, as the key of an item the table does not hold.
        const orphans = everything
          .filter((key) => {
            const item = referenceRead(shape, key);
            return item !== undefined && !liveIds.has(item.join("\u0000"));
          })
          .sort();
        expect(deleted).toEqual(young ? [] : orphans);
        for (const key of orphanKeys) expect(orphans).toContain(key);
        expect(report).toMatchObject({ complete: true, failed: 0, unchecked: 0 });
        expect(report.deleted).toBe(deleted.length);
      }),
      { numRuns: 20 },
    );
  });
});
