import { DynamoDBClient, ScanCommand, type ScanCommandInput } from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { isReconcileError } from "../src/errors.js";
import { scanExpectedKeys, scanKeyReader } from "../src/table-scan.js";

const ddb = mockClient(DynamoDBClient);
const client = new DynamoDBClient({ region: "us-east-1" });

beforeEach(() => {
  ddb.reset();
});

afterAll(() => {
  ddb.restore();
});

const request = (overrides: Partial<Parameters<typeof scanExpectedKeys>[0]> = {}) => ({
  dynamoDbClient: async () => client,
  tableName: "files",
  templates: ["{tenantId}/{fileName}"],
  segments: 2,
  ...overrides,
});

describe("scanExpectedKeys", () => {
  it("scans every segment to its end, consistently, projecting only the templates' attributes", async () => {
    ddb.on(ScanCommand).callsFake((input: ScanCommandInput) => {
      if (input.Segment === 0 && input.ExclusiveStartKey === undefined) {
        return {
          Items: [{ tenantId: { S: "t1" }, fileName: { S: "a.png" } }],
          LastEvaluatedKey: { tenantId: { S: "t1" } },
        };
      }
      if (input.Segment === 0) return { Items: [{ tenantId: { S: "t1" }, fileName: { S: "b.png" } }] };
      return { Items: [{ tenantId: { S: "t2" }, fileName: { S: "a.png" } }] };
    });
    const pages: number[] = [];
    const scanned = await scanExpectedKeys(request({ onPage: (items) => pages.push(items) }));
    expect([...scanned.expected].sort()).toEqual(["t1/a.png", "t1/b.png", "t2/a.png"]);
    expect(scanned.items).toBe(3);
    expect(pages).toHaveLength(3);
    const inputs = ddb.commandCalls(ScanCommand).map((call) => call.args[0].input);
    expect(inputs).toHaveLength(3);
    for (const input of inputs) {
      expect(input).toMatchObject({
        TableName: "files",
        TotalSegments: 2,
        ConsistentRead: true,
        ProjectionExpression: "#a0, #a1",
        ExpressionAttributeNames: { "#a0": "tenantId", "#a1": "fileName" },
      });
    }
    expect(inputs.map(({ Segment, ExclusiveStartKey }) => [Segment, ExclusiveStartKey])).toContainEqual([
      0,
      { tenantId: { S: "t1" } },
    ]);
  });

  it("renders N as stored and each template on its own, and skips items that render no key", async () => {
    ddb.on(ScanCommand).resolves({
      Items: [
        { id: { N: "7" }, kind: { S: "png" } },
        { id: { N: "8" } },
        { id: { S: "" }, kind: { S: "x" } },
        { id: { BOOL: true }, kind: { S: "x" } },
      ],
    });
    const scanned = await scanExpectedKeys(request({ templates: ["{id}.{kind}", "thumbs/{id}"], segments: 1 }));
    expect([...scanned.expected].sort()).toEqual(["7.png", "thumbs/7", "thumbs/8"]);
  });

  it("takes a page without Items for an empty one", async () => {
    ddb.on(ScanCommand).resolves({});
    const scanned = await scanExpectedKeys(request({ segments: 1 }));
    expect(scanned).toEqual({ expected: new Set(), items: 0 });
  });

  it("rejects with a ReconcileError naming the table when a page fails: a partial set would look like orphans", async () => {
    ddb.on(ScanCommand).rejects(new Error("Rate exceeded"));
    const error = await scanExpectedKeys(request()).catch((thrown: unknown) => thrown);
    expect(isReconcileError(error)).toBe(true);
    expect((error as Error).message).toBe('the scan of table "files" failed, so nothing was decided: Rate exceeded');
  });

  it("stops the other segments when one fails", async () => {
    const sent: number[] = [];
    ddb.on(ScanCommand).callsFake((input: ScanCommandInput) => {
      sent.push(input.Segment as number);
      if (input.Segment === 0)
        return Promise.reject(Object.assign(new Error("denied"), { name: "AccessDeniedException" }));
      // The other segment would page for ever.
      return { Items: [], LastEvaluatedKey: { tenantId: { S: "t" } } };
    });
    const error = await scanExpectedKeys(request({ segments: 2 })).catch((thrown: unknown) => thrown);
    expect(error).toMatchObject({ name: "ReconcileError", retryable: false });
    const after = sent.length;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sent.length).toBe(after);
    expect(sent.filter((segment) => segment === 1).length).toBeLessThan(5);
  });

  it("rejects when the signal fires", async () => {
    ddb.on(ScanCommand).callsFake(() => new Promise(() => {}));
    const stop = new AbortController();
    const scanning = scanExpectedKeys(request({ signal: stop.signal }));
    stop.abort(new Error("stopped"));
    await expect(scanning).rejects.toThrow("stopped");
  });
});

describe("scanKeyReader", () => {
  it("reads each template on its own attributes, a key attribute with its type", () => {
    const read = scanKeyReader(["files/{tenantId}/{fileName}", "v/{version}"], [{ name: "version", type: "N" }]);
    if (typeof read !== "function") throw new Error(read.message);
    expect(read("files/t1/a.png")).toEqual({ kind: "item", key: { tenantId: { S: "t1" }, fileName: { S: "a.png" } } });
    expect(read("v/7")).toMatchObject({ kind: "item", key: { version: { N: "7" } } });
    expect(read("v/007")).toMatchObject({ kind: "unrelated" });
    expect(read("readme")).toMatchObject({ kind: "unrelated", reason: "no-match" });
  });

  it("says why a template cannot be read, such as a B key attribute", () => {
    const read = scanKeyReader(["{blob}.bin"], [{ name: "blob", type: "B" }]);
    expect(read).toMatchObject({ kind: "binary-placeholder", attributes: ["blob"] });
  });
});
