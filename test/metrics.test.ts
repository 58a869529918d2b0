import { DeleteObjectsCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createCleanupHandler, isConfigError } from "../src/index.js";
import { EMF_METRICS, type EmfMetricsOptions, emfMetrics, MAX_EMF_DIMENSIONS } from "../src/metrics.js";
import type { CleanupSummary } from "../src/types.js";
import { createRecordFactory, productKeys, recordingLogger, streamEvent } from "./factories.js";

const NOW = 1_800_000_000_123;

/** A summary with distinct counts, so that a metric fed from the wrong field shows. */
const summaryOf = (counts: Partial<CleanupSummary> = {}): CleanupSummary => ({
  source: "dynamodb-streams",
  records: 20,
  removals: 12,
  withoutObjects: 1,
  skipped: 5,
  invalid: 3,
  targets: 11,
  deleted: 7,
  failed: 2,
  keptReplaced: 4,
  keptRecreated: 6,
  fallback: "none",
  batchItemFailures: 5,
  aborted: false,
  durationMs: 42,
  dryRun: false,
  ...counts,
});

/** An emfMetrics callback whose lines are collected. */
function collecting(options: Omit<EmfMetricsOptions, "write" | "now"> & Pick<EmfMetricsOptions, "now">) {
  const lines: string[] = [];
  const onResult = emfMetrics({ now: () => NOW, ...options, write: (line) => lines.push(line) });
  return { lines, onResult };
}

function configIssues(make: () => unknown) {
  try {
    make();
  } catch (error) {
    if (isConfigError(error)) return error.issues;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

/** The checks CloudWatch makes on an EMF document, as far as this writer's lines go. */
function expectValidEmf(document: Record<string, unknown>) {
  const aws = document._aws as { Timestamp: unknown; CloudWatchMetrics: unknown[] };
  expect(Number.isInteger(aws.Timestamp)).toBe(true);
  expect(aws.CloudWatchMetrics).toHaveLength(1);
  const directive = aws.CloudWatchMetrics[0] as {
    Namespace: string;
    Dimensions: string[][];
    Metrics: { Name: string; Unit: string }[];
  };
  expect(Object.keys(directive).sort()).toEqual(["Dimensions", "Metrics", "Namespace"]);
  expect(directive.Dimensions).toHaveLength(1);
  expect(directive.Dimensions[0]?.length).toBeLessThanOrEqual(30);
  for (const name of directive.Dimensions[0] ?? []) expect(typeof document[name]).toBe("string");
  for (const metric of directive.Metrics) {
    expect(metric.Unit).toBe("Count");
    expect(typeof document[metric.Name]).toBe("number");
  }
}

describe("emfMetrics", () => {
  it("writes one EMF line per invocation with the four counts of the summary", () => {
    // Prepare
    const { lines, onResult } = collecting({ namespace: "ProductImages", dimensions: { Table: "products" } });

    // Act
    onResult(summaryOf());

    // Assess
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toEqual({
      _aws: {
        Timestamp: NOW,
        CloudWatchMetrics: [
          {
            Namespace: "ProductImages",
            Dimensions: [["Table"]],
            Metrics: [
              { Name: "DeletedObjects", Unit: "Count" },
              { Name: "FailedObjects", Unit: "Count" },
              { Name: "InvalidRecords", Unit: "Count" },
              { Name: "KeptReplaced", Unit: "Count" },
              { Name: "KeptRecreated", Unit: "Count" },
            ],
          },
        ],
      },
      Table: "products",
      DeletedObjects: 7,
      FailedObjects: 2,
      InvalidRecords: 3,
      KeptReplaced: 4,
      KeptRecreated: 6,
    });
  });

  it("writes UnreplayableBatches too for the replay handler's summary, and only for it", () => {
    // Prepare
    const { lines, onResult } = collecting({ namespace: "ProductImages" });

    // Act
    onResult({ ...summaryOf(), unreplayableBatches: 2, unfinishedBatches: 3, invalidMessages: 4 });
    onResult(summaryOf());

    // Assess
    const [replay, cleanup] = lines.map((line) => JSON.parse(line));
    const names = (document: { _aws: { CloudWatchMetrics: { Metrics: { Name: string }[] }[] } }) =>
      document._aws.CloudWatchMetrics[0]?.Metrics.map(({ Name }) => Name);
    expect(names(replay)).toContain("UnreplayableBatches");
    expect(replay).toMatchObject({ UnreplayableBatches: 2, UnfinishedBatches: 3, InvalidMessages: 4 });
    expect(names(cleanup)).not.toContain("UnreplayableBatches");
    expect(Object.keys(cleanup).filter((name) => /Batches|Messages/.test(name))).toEqual([]);
    expectValidEmf(replay);
  });

  it("writes an empty dimension set when there are no dimensions", () => {
    // Prepare
    const { lines, onResult } = collecting({ namespace: "ProductImages" });

    // Act
    onResult(summaryOf());

    // Assess
    const document = JSON.parse(lines[0] as string);
    expect(document._aws.CloudWatchMetrics[0].Dimensions).toEqual([[]]);
    expectValidEmf(document);
  });

  it("writes a line that is one JSON object and nothing else, for every summary and dimension set", () => {
    const name = fc
      .string({ unit: fc.constantFrom(..."abcXYZ09-_ ./"), minLength: 1, maxLength: 20 })
      .filter((text) => text.trim() !== "" && !text.startsWith(":") && text !== "_aws" && !(text in EMF_METRICS));
    const value = fc
      .string({ unit: fc.constantFrom(...'abc 019"\\{}'), minLength: 1, maxLength: 30 })
      .filter((text) => text.trim() !== "");
    const count = fc.nat({ max: 10_000 });
    fc.assert(
      fc.property(
        fc.dictionary(name, value, { maxKeys: MAX_EMF_DIMENSIONS }),
        fc.record({ deleted: count, failed: count, invalid: count, keptReplaced: count, keptRecreated: count }),
        (dimensions, counts) => {
          // Prepare
          const { lines, onResult } = collecting({ namespace: "Cleanup", dimensions });

          // Act
          onResult(summaryOf(counts));

          // Assess
          expect(lines).toHaveLength(1);
          const line = lines[0] as string;
          expect(line).not.toContain("\n");
          const document = JSON.parse(line);
          expectValidEmf(document);
          expect(document._aws.CloudWatchMetrics[0].Dimensions).toEqual([Object.keys(dimensions)]);
          for (const [key, text] of Object.entries(dimensions)) expect(document[key]).toBe(text);
          expect(document).toMatchObject({
            DeletedObjects: counts.deleted,
            FailedObjects: counts.failed,
            InvalidRecords: counts.invalid,
            KeptReplaced: counts.keptReplaced,
            KeptRecreated: counts.keptRecreated,
          });
        },
      ),
    );
  });

  it("writes a dimension named __proto__ as a plain member", () => {
    // Prepare
    const dimensions = JSON.parse('{"__proto__": "odd"}') as Record<string, string>;
    const { lines, onResult } = collecting({ namespace: "Cleanup", dimensions });

    // Act
    onResult(summaryOf());

    // Assess
    const document = JSON.parse(lines[0] as string);
    expect(Object.hasOwn(document, "__proto__")).toBe(true);
    expectValidEmf(document);
  });

  it("stamps each line with the clock's time at the call", () => {
    // Prepare
    let time = NOW;
    const { lines, onResult } = collecting({ namespace: "Cleanup", now: () => time });

    // Act
    onResult(summaryOf());
    time += 60_000;
    onResult(summaryOf());

    // Assess
    expect(lines.map((line) => JSON.parse(line)._aws.Timestamp)).toEqual([NOW, NOW + 60_000]);
  });

  describe("defaults", () => {
    afterEach(() => {
      vi.restoreAllMocks();
      vi.useRealTimers();
    });

    it("writes to process.stdout with a line end, not through console.log", () => {
      // Prepare
      const stdout = vi.spyOn(process.stdout, "write").mockReturnValue(true);
      const log = vi.spyOn(console, "log");
      vi.useFakeTimers({ now: NOW, toFake: ["Date"] });
      const onResult = emfMetrics({ namespace: "Cleanup" });

      // Act
      onResult(summaryOf());

      // Assess
      expect(log).not.toHaveBeenCalled();
      expect(stdout).toHaveBeenCalledTimes(1);
      const written = stdout.mock.calls[0]?.[0] as string;
      expect(written.endsWith("}\n")).toBe(true);
      expect(JSON.parse(written)._aws.Timestamp).toBe(NOW);
    });
  });

  describe("a write that fails", () => {
    const s3 = mockClient(S3Client);
    beforeEach(() => {
      s3.reset();
      s3.on(DeleteObjectsCommand).resolves({});
    });
    afterAll(() => {
      s3.restore();
    });

    it("makes the callback throw the write's error", () => {
      // Prepare
      const failure = new Error("EPIPE");
      const onResult = emfMetrics({
        namespace: "Cleanup",
        write: () => {
          throw failure;
        },
      });

      // Act
      const act = () => onResult(summaryOf());

      // Assess
      expect(act).toThrow(failure);
    });

    it("leaves the handler's response as it is: the handler logs the failure", async () => {
      // Prepare
      const { lines, logger } = recordingLogger();
      const { removeRecord } = createRecordFactory();
      const handler = createCleanupHandler({
        bucket: "product-images",
        key: "{productId}.png",
        s3Client: new S3Client({ region: "us-east-1" }),
        logger,
        onResult: emfMetrics({
          namespace: "Cleanup",
          write: () => {
            throw new Error("EPIPE");
          },
        }),
      });

      // Act
      const response = await handler(streamEvent(removeRecord({ keys: productKeys("p-1") })));

      // Assess
      expect(response).toEqual({ batchItemFailures: [] });
      expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(1);
      expect(lines).toContainEqual(
        expect.objectContaining({ level: "warn", message: expect.stringContaining("onResult") }),
      );
    });
  });

  describe("options", () => {
    it("rejects every bad option at once, naming each", () => {
      // Prepare
      const options = {
        namespace: "",
        dimensions: { Stage: 7, Table: "" },
        write: "stdout",
        now: 5,
        extra: true,
      } as unknown as EmfMetricsOptions;

      // Act
      const issues = configIssues(() => emfMetrics(options));

      // Assess
      expect(issues.map((issue) => issue.path)).toEqual([
        "namespace",
        "dimensions.Stage",
        "dimensions.Table",
        "write",
        "now",
        "extra",
      ]);
    });

    it.each([
      ["not a string", 42, "must be a non-empty string of printable ASCII characters"],
      ["blank", "   ", "must be a non-empty string of printable ASCII characters"],
      ["not ASCII", "Bilder-Lösch", "must be a non-empty string of printable ASCII characters"],
      ["a control character", "Clean\tup", "must be a non-empty string of printable ASCII characters"],
      ["over 255 characters", "N".repeat(256), "must be at most 255 characters"],
      ["starting with a colon", ":Cleanup", 'must not start with ":"'],
      ["an AWS namespace", "AWS/Lambda", 'must not start with "AWS/"'],
    ])("rejects a namespace %s", (_, namespace, message) => {
      // Act
      const issues = configIssues(() => emfMetrics({ namespace } as EmfMetricsOptions));

      // Assess
      expect(issues).toEqual([{ path: "namespace", message }]);
    });

    it("accepts a namespace of 255 characters", () => {
      expect(() => emfMetrics({ namespace: "N".repeat(255) })).not.toThrow();
    });

    it.each([
      ["an array", ["Stage"]],
      ["null", null],
      ["a string", "Stage=prod"],
    ])("rejects dimensions that are %s", (_, dimensions) => {
      // Act
      const issues = configIssues(() =>
        emfMetrics({ namespace: "Cleanup", dimensions } as unknown as EmfMetricsOptions),
      );

      // Assess
      expect(issues).toEqual([{ path: "dimensions", message: "must be an object of dimension names to values" }]);
    });

    it.each([
      ["empty", ""],
      ["blank", "  "],
      ["not ASCII", "prüf"],
      ["a number", 1],
    ])("rejects a dimension value that is %s, without quoting it", (_, value) => {
      // Act
      const issues = configIssues(() =>
        emfMetrics({ namespace: "Cleanup", dimensions: { Stage: value } } as unknown as EmfMetricsOptions),
      );

      // Assess
      expect(issues).toEqual([
        { path: "dimensions.Stage", message: "must be a non-empty string of printable ASCII characters" },
      ]);
    });

    it("rejects a dimension value over 1,024 characters and accepts one of 1,024", () => {
      expect(configIssues(() => emfMetrics({ namespace: "C", dimensions: { Stage: "v".repeat(1025) } }))).toEqual([
        { path: "dimensions.Stage", message: "must be at most 1024 characters" },
      ]);
      expect(() => emfMetrics({ namespace: "C", dimensions: { Stage: "v".repeat(1024) } })).not.toThrow();
    });

    it.each([
      ["blank", " "],
      ["starting with a colon", ":Stage"],
      ["not ASCII", "Bühne"],
      ["over 255 characters", "d".repeat(256)],
    ])("rejects a dimension name %s", (_, name) => {
      // Act
      const issues = configIssues(() => emfMetrics({ namespace: "Cleanup", dimensions: { [name]: "prod" } }));

      // Assess
      expect(issues).toEqual([
        {
          path: `dimensions.${name}`,
          message: 'name must be 1 to 255 printable ASCII characters, with a non-space one, not starting with ":"',
        },
      ]);
    });

    it.each(["_aws", ...Object.keys(EMF_METRICS)])("rejects the dimension name %s, which the line uses", (name) => {
      // Act
      const issues = configIssues(() => emfMetrics({ namespace: "Cleanup", dimensions: { [name]: "x" } }));

      // Assess
      expect(issues).toEqual([
        { path: `dimensions.${name}`, message: "name is a name the EMF line already uses (_aws or a metric name)" },
      ]);
    });

    it("accepts 30 dimensions and rejects 31", () => {
      // Prepare
      const dimensionsOf = (count: number) =>
        Object.fromEntries(Array.from({ length: count }, (_, i) => [`D${i}`, "x"]));

      // Act
      const issues = configIssues(() => emfMetrics({ namespace: "Cleanup", dimensions: dimensionsOf(31) }));

      // Assess
      expect(issues).toEqual([{ path: "dimensions", message: "must hold at most 30 dimensions" }]);
      expect(() => emfMetrics({ namespace: "Cleanup", dimensions: dimensionsOf(30) })).not.toThrow();
    });

    it("never quotes a bad value in its messages", () => {
      fc.assert(
        fc.property(
          fc.string({ minLength: 1 }).map((text) => `secret-${text}-\u00e9`),
          (secret) => {
            // Act
            const issues = configIssues(() =>
              emfMetrics({ namespace: secret, dimensions: { Stage: secret, [`${secret}`]: "x" } }),
            );

            // Assess
            for (const issue of issues) expect(issue.message).not.toContain("secret-");
          },
        ),
      );
    });
  });
});
