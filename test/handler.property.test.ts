import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  type DeleteObjectsCommandInput,
  type DeleteObjectsCommandOutput,
  S3Client,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import {
  type BatchResponse,
  createCleanupHandler,
  InvalidRecordError,
  MAX_KEYS_PER_REQUEST,
  type RemovalFilter,
  type StreamRecord,
} from "../src/index.js";
import { createRecordFactory, recordingLogger } from "./factories.js";

const BUCKET = "product-files";
const s3 = mockClient(S3Client);

beforeEach(() => {
  s3.reset();
});

afterAll(() => {
  s3.restore();
});

type EventName = "INSERT" | "MODIFY" | "REMOVE" | "UPSERT";
type Defect = "none" | "badAttribute" | "outsidePrefix" | "noSequenceNumber";

/** One record of a generated batch: what it is, and the pool numbers of the objects it names. */
interface Spec {
  eventName: EventName;
  removedBy: "user" | "ttl";
  defect: Defect;
  files: number[];
}

interface Scenario {
  specs: Spec[];
  /** The first sequence number, and the gap before each next one (digit lengths from 1 to 40). */
  firstSequence: bigint;
  gaps: bigint[];
  reversed: boolean;
  removals: RemovalFilter;
  onInvalidRecord: "fail" | "skip";
  concurrency: number;
  maxAttempts: number;
  /** Seeds the per-key outcomes the mocked S3 gives on each call. */
  seed: number;
}

const fileKey = (n: number) => `files/k${n}`;

/** mulberry32: a small seeded PRNG, so that S3's answers are reproducible from fast-check's seed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const eventNameArb = fc.oneof(
  { arbitrary: fc.constant<EventName>("REMOVE"), weight: 6 },
  { arbitrary: fc.constant<EventName>("INSERT"), weight: 2 },
  { arbitrary: fc.constant<EventName>("MODIFY"), weight: 2 },
  { arbitrary: fc.constant<EventName>("UPSERT"), weight: 1 },
);

const defectArb = fc.oneof(
  { arbitrary: fc.constant<Defect>("none"), weight: 12 },
  { arbitrary: fc.constant<Defect>("badAttribute"), weight: 1 },
  { arbitrary: fc.constant<Defect>("outsidePrefix"), weight: 1 },
  { arbitrary: fc.constant<Defect>("noSequenceNumber"), weight: 1 },
);

const specArb = (pool: number): fc.Arbitrary<Spec> =>
  fc.record({
    eventName: eventNameArb,
    removedBy: fc.constantFrom("user", "ttl"),
    defect: defectArb,
    files: fc.array(fc.nat({ max: pool - 1 }), { maxLength: 3 }),
  });

const firstSequenceArb = fc.constantFrom(1n, 95n, 999_999_999n, 10n ** 20n, 10n ** 39n);
const gapArb = fc.constantFrom(1n, 3n, 1000n, 10n ** 15n);

const settingsArb = {
  reversed: fc.boolean(),
  removals: fc.constantFrom<RemovalFilter>("any", "ttl", "user"),
  onInvalidRecord: fc.constantFrom<"fail" | "skip">("fail", "skip"),
  concurrency: fc.integer({ min: 1, max: 8 }),
  maxAttempts: fc.integer({ min: 1, max: 4 }),
  seed: fc.integer(),
};

/** Small batches with few distinct keys, so keys are often shared by several records. */
const smallScenarioArb: fc.Arbitrary<Scenario> = fc.integer({ min: 1, max: 12 }).chain((pool) =>
  fc.record({
    specs: fc.array(specArb(pool), { maxLength: 30 }),
    firstSequence: firstSequenceArb,
    gaps: fc.array(gapArb, { minLength: 30, maxLength: 30 }),
    ...settingsArb,
  }),
);

/** Batches of 1,000 to 1,500 records, built from a seed: enough distinct keys to need several requests. */
const largeScenarioArb: fc.Arbitrary<Scenario> = fc
  .record({ size: fc.integer({ min: 1000, max: 1500 }), batchSeed: fc.integer(), ...settingsArb })
  .map(({ size, batchSeed, ...settings }) => {
    const random = seededRandom(batchSeed);
    const pick = <T>(values: readonly T[]) => values[Math.floor(random() * values.length)] as T;
    const specs = Array.from(
      { length: size },
      (): Spec => ({
        eventName: pick<EventName>([
          "REMOVE",
          "REMOVE",
          "REMOVE",
          "REMOVE",
          "REMOVE",
          "REMOVE",
          "INSERT",
          "MODIFY",
          "UPSERT",
        ]),
        removedBy: pick(["user", "ttl"] as const),
        defect: random() < 0.03 ? pick<Defect>(["badAttribute", "outsidePrefix", "noSequenceNumber"]) : "none",
        files: Array.from({ length: 2 + Math.floor(random() * 3) }, () => Math.floor(random() * 20_000)),
      }),
    );
    return { specs, firstSequence: 10n ** 20n, gaps: [1000n], ...settings };
  });

interface Built {
  spec: Spec;
  record: StreamRecord;
  sequenceNumber: string | undefined;
}

function buildBatch(scenario: Scenario): Built[] {
  const factory = createRecordFactory();
  let sequence = scenario.firstSequence;
  const built = scenario.specs.map((spec, i): Built => {
    const sequenceNumber = sequence.toString();
    sequence += scenario.gaps[i % scenario.gaps.length] as bigint;
    const keys = { id: { S: `item-${i}` } };
    const files = {
      L: [
        ...spec.files.map((n) => ({ S: fileKey(n) })),
        ...(spec.defect === "outsidePrefix" ? [{ S: "other/x" }] : []),
      ],
    };
    const image = {
      ...keys,
      files,
      ...(spec.defect === "badAttribute" ? { price: { N: "not a number" } } : {}),
    };
    const options = { sequenceNumber, keys, oldImage: image };
    let record: StreamRecord;
    if (spec.eventName === "INSERT") record = factory.insertRecord({ sequenceNumber, keys, newImage: image });
    else if (spec.eventName === "MODIFY") record = factory.modifyRecord({ ...options, newImage: image });
    else {
      record = spec.removedBy === "ttl" ? factory.ttlRemoveRecord(options) : factory.removeRecord(options);
      if (spec.eventName === "UPSERT") record = { ...record, eventName: "UPSERT" };
    }
    if (spec.defect === "noSequenceNumber" && spec.eventName !== "INSERT" && spec.eventName !== "MODIFY") {
      const { SequenceNumber: _, ...data } = record.dynamodb ?? {};
      return { spec, record: { ...record, dynamodb: data }, sequenceNumber: undefined };
    }
    return { spec, record, sequenceNumber };
  });
  return scenario.reversed ? built.reverse() : built;
}

/** What the handler must do with a record: delete its objects, report it if invalid, or leave it. */
function roleOf(spec: Spec, removals: RemovalFilter): "delete" | "invalid" | "skip" {
  if (spec.eventName === "UPSERT") return "invalid";
  if (spec.eventName !== "REMOVE") return "skip";
  if (removals !== "any" && removals !== spec.removedBy) return "skip";
  return spec.defect === "none" ? "delete" : "invalid";
}

/** The mocked S3: each key of each call is deleted, retryably failed or permanently failed, at random. */
function mockS3(random: () => number) {
  const deleted = new Set<string>();
  const requests: string[][] = [];
  s3.on(DeleteObjectsCommand).callsFake(
    async (input: DeleteObjectsCommandInput): Promise<DeleteObjectsCommandOutput> => {
      const keys = (input.Delete?.Objects ?? []).map((object) => object.Key as string);
      requests.push(keys);
      const roll = random();
      if (roll < 0.05)
        throw Object.assign(new Error("boom"), { name: "InternalError", $metadata: { httpStatusCode: 500 } });
      if (roll < 0.08)
        throw Object.assign(new Error("denied"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } });
      const errors = [];
      for (const key of keys) {
        const outcome = random();
        if (outcome < 0.6) deleted.add(key);
        else if (outcome < 0.65) {
          deleted.add(key);
          errors.push({ Key: key, Code: "NoSuchKey", Message: "gone" });
        } else if (outcome < 0.85)
          errors.push({ Key: key, Code: random() < 0.5 ? "SlowDown" : "InternalError", Message: "try again" });
        else errors.push({ Key: key, Code: "AccessDenied", Message: "Access Denied" });
      }
      return { $metadata: {}, Errors: errors };
    },
  );
  s3.on(DeleteObjectCommand).rejects(new Error("single DeleteObject is not expected for XML-safe keys"));
  return { deleted, requests };
}

/** Checks one scenario; returns the size of the largest request sent, so a test can see chunking happen. */
async function checkScenario(scenario: Scenario): Promise<number> {
  // Prepare
  s3.reset();
  const { deleted, requests } = mockS3(seededRandom(scenario.seed));
  const batch = buildBatch(scenario);
  const { logger } = recordingLogger();
  const handler = createCleanupHandler({
    bucket: BUCKET,
    key: { attribute: "files" },
    allowedPrefixes: ["files/"],
    removals: scenario.removals,
    onInvalidRecord: scenario.onInvalidRecord,
    concurrency: scenario.concurrency,
    maxAttempts: scenario.maxAttempts,
    s3Client: new S3Client({ region: "us-east-1" }),
    logger,
    now: () => 0,
    sleep: async () => {},
    random: () => 0.5,
  });

  // Act
  let response: BatchResponse | undefined;
  let thrown: unknown;
  try {
    response = await handler({ Records: batch.map((item) => item.record) });
  } catch (error) {
    thrown = error;
  }

  // Assess: what was sent
  const toDelete = batch.filter((item) => roleOf(item.spec, scenario.removals) === "delete");
  const expectedKeys = new Set(toDelete.flatMap((item) => item.spec.files.map(fileKey)));
  for (const keys of requests) expect(keys.length).toBeLessThanOrEqual(MAX_KEYS_PER_REQUEST);
  const sent = new Set(requests.flat());
  for (const key of sent) expect(expectedKeys.has(key), `${key} belongs to no selected valid REMOVE`).toBe(true);
  expect([...sent].sort()).toEqual([...expectedKeys].sort());
  expect(s3.commandCalls(DeleteObjectCommand)).toHaveLength(0);
  const largest = Math.max(0, ...requests.map((keys) => keys.length));

  // Assess: what must be reported
  const notDeleted = toDelete.filter((item) => item.spec.files.some((n) => !deleted.has(fileKey(n))));
  const invalid = batch.filter((item) => roleOf(item.spec, scenario.removals) === "invalid");
  const mustReport = [...notDeleted, ...(scenario.onInvalidRecord === "fail" ? invalid : [])];
  if (mustReport.some((item) => item.sequenceNumber === undefined)) {
    expect(thrown).toBeInstanceOf(InvalidRecordError);
    return largest;
  }
  expect(thrown).toBeUndefined();
  const identifiers = (response as BatchResponse).batchItemFailures.map((failure) => failure.itemIdentifier);
  const inBatch = new Set(batch.map((item) => item.sequenceNumber));
  for (const identifier of identifiers) {
    expect(identifier).toMatch(/^\d+$/);
    expect(inBatch.has(identifier)).toBe(true);
  }
  for (let i = 1; i < identifiers.length; i++) {
    expect(BigInt(identifiers[i - 1] as string) < BigInt(identifiers[i] as string)).toBe(true);
  }
  if (mustReport.length > 0) {
    const lowest = BigInt(identifiers[0] as string);
    for (const item of mustReport) expect(BigInt(item.sequenceNumber as string) >= lowest).toBe(true);
  }
  const expected = [...new Set(mustReport.map((item) => item.sequenceNumber as string))].sort((a, b) =>
    BigInt(a) < BigInt(b) ? -1 : 1,
  );
  expect(identifiers).toEqual(expected);
  return largest;
}

describe("handler properties", () => {
  it("deletes only selected removals, in requests of at most 1,000 keys, and reports every record with work left", async () => {
    await fc.assert(
      fc.asyncProperty(smallScenarioArb, async (scenario) => {
        await checkScenario(scenario);
      }),
      { numRuns: 500 },
    );
  });

  it("holds for batches of 1,000 to 1,500 records", async () => {
    const largest: number[] = [];
    await fc.assert(
      fc.asyncProperty(largeScenarioArb, async (scenario) => {
        largest.push(await checkScenario(scenario));
      }),
      { numRuns: 25 },
    );
    expect(largest).toContain(MAX_KEYS_PER_REQUEST);
  }, 30_000);
});
