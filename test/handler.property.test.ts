import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  type DeleteObjectsCommandInput,
  type DeleteObjectsCommandOutput,
  S3Client,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type BatchResponse,
  type CleanupEvent,
  createCleanupHandler,
  type EventSourceKind,
  InvalidRecordError,
  MAX_KEYS_PER_REQUEST,
  type RemovalFilter,
  type StreamRecord,
} from "../src/index.js";
import { kinesisEvent, pipesEvent } from "../src/testing/index.js";
import { createRecordFactory, recordingLogger } from "./factories.js";
import { seededRandom } from "./fake-clock.js";
import { propertyRuns } from "./property-runs.js";

const BUCKET = "product-files";
const s3 = mockClient(S3Client);

beforeEach(() => {
  s3.reset();
  // The summary's duration is read from Date.now: frozen.
  vi.useFakeTimers({ toFake: ["Date"] });
});

afterEach(() => {
  vi.useRealTimers();
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
  /** How the batch arrives; the identifier each record is reported by depends on it. */
  source: EventSourceKind;
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
  /**
   * Kinesis only: records delivered twice, as Kinesis may: the position of the record copied (modulo
   * the batch's size), and where the copy goes. The copy has its own sequence number.
   */
  duplicates: { of: number; at: number }[];
}

const fileKey = (n: number) => `files/k${n}`;

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

const duplicatesArb = (source: EventSourceKind) =>
  source === "kinesis"
    ? fc.array(fc.record({ of: fc.nat(), at: fc.nat() }), { maxLength: 4 })
    : fc.constant<{ of: number; at: number }[]>([]);

const settingsArb = {
  reversed: fc.boolean(),
  removals: fc.constantFrom<RemovalFilter>("any", "ttl", "user"),
  onInvalidRecord: fc.constantFrom<"fail" | "skip">("fail", "skip"),
  concurrency: fc.integer({ min: 1, max: 8 }),
  maxAttempts: fc.integer({ min: 1, max: 4 }),
  seed: fc.integer(),
};

/** Small batches with few distinct keys, so keys are often shared by several records. */
const smallScenarioArb = (source: EventSourceKind): fc.Arbitrary<Scenario> =>
  fc.integer({ min: 1, max: 12 }).chain((pool) =>
    fc.record({
      source: fc.constant(source),
      specs: fc.array(specArb(pool), { maxLength: 30 }),
      firstSequence: firstSequenceArb,
      gaps: fc.array(gapArb, { minLength: 30, maxLength: 30 }),
      duplicates: duplicatesArb(source),
      ...settingsArb,
    }),
  );

/** Batches of 1,000 to 1,500 records, built from a seed: enough distinct keys to need several requests. */
const largeScenarioArb = (source: EventSourceKind): fc.Arbitrary<Scenario> =>
  fc
    .record({
      size: fc.integer({ min: 1000, max: 1500 }),
      batchSeed: fc.integer(),
      duplicates: duplicatesArb(source),
      ...settingsArb,
    })
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
      return { source, specs, firstSequence: 10n ** 20n, gaps: [1000n], ...settings };
    });

interface Built {
  spec: Spec;
  record: StreamRecord;
  /** The record's sequence number in its stream (Kinesis': the copy's own), when it has one. */
  sequenceNumber: string | undefined;
  /** What the source reports the record by, when it has it: a sequence number, or Pipes' eventID. */
  identifier: string | undefined;
}

/** An eventID that tells nothing of the record's place: Pipes must report in batch order, not eventID order. */
const scrambledEventId = (i: number) => `${((i * 2654435761) >>> 0).toString(36)}-${i}`;

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
    const eventId = scrambledEventId(i);
    if (scenario.source === "pipes") record = { ...record, eventID: eventId };
    const identifier = scenario.source === "pipes" ? eventId : sequenceNumber;
    if (spec.defect === "noSequenceNumber" && spec.eventName !== "INSERT" && spec.eventName !== "MODIFY") {
      // The defect takes away what the source reports the record by.
      if (scenario.source === "pipes") {
        const { eventID: _, ...rest } = record;
        return { spec, record: rest, sequenceNumber, identifier: undefined };
      }
      const { SequenceNumber: _, ...data } = record.dynamodb ?? {};
      return { spec, record: { ...record, dynamodb: data }, sequenceNumber: undefined, identifier: undefined };
    }
    return { spec, record, sequenceNumber, identifier };
  });
  const ordered = scenario.reversed ? built.reverse() : built;
  let copies = 0;
  for (const { of, at } of scenario.duplicates) {
    const original = ordered[of % Math.max(1, ordered.length)];
    if (original?.sequenceNumber === undefined) continue;
    // Kinesis gives the copy a sequence number of its own, higher than every other in the batch.
    copies++;
    const sequenceNumber = (sequence + BigInt(copies)).toString();
    const record = { ...original.record, dynamodb: { ...original.record.dynamodb, SequenceNumber: sequenceNumber } };
    ordered.splice(at % (ordered.length + 1), 0, { ...original, record, sequenceNumber, identifier: sequenceNumber });
  }
  return ordered;
}

/** The event the source delivers for the batch. */
function eventOf(scenario: Scenario, batch: readonly Built[]): CleanupEvent {
  const records = batch.map((item) => item.record);
  if (scenario.source === "kinesis") return kinesisEvent(records);
  if (scenario.source === "pipes") return pipesEvent(records);
  return { Records: records };
}

/** What the handler must do with a record: delete its objects, report it if invalid, or leave it. */
function roleOf(spec: Spec, removals: RemovalFilter): "delete" | "invalid" | "skip" {
  if (spec.eventName === "UPSERT") return "invalid";
  if (spec.eventName !== "REMOVE") return "skip";
  if (removals !== "any" && removals !== spec.removedBy) return "skip";
  return spec.defect === "none" ? "delete" : "invalid";
}

/** What S3 did with one key in one request. */
interface Outcome {
  /** Deleted, already gone, a per-key error, or the whole request threw. */
  kind: "deleted" | "gone" | "keyError" | "thrown";
  code: string;
  /** True when the error is transient. */
  retryable: boolean;
}

/**
 * The mocked S3: each call throws (a 500, a network error without an HTTP status, or a 403) or
 * answers with a random per-key outcome; every outcome of every key is recorded in call order.
 */
function mockS3(random: () => number) {
  const requests: string[][] = [];
  const outcomes = new Map<string, Outcome[]>();
  const record = (key: string, outcome: Outcome) => {
    const list = outcomes.get(key);
    if (list === undefined) outcomes.set(key, [outcome]);
    else list.push(outcome);
  };
  s3.on(DeleteObjectsCommand).callsFake(
    async (input: DeleteObjectsCommandInput): Promise<DeleteObjectsCommandOutput> => {
      const keys = (input.Delete?.Objects ?? []).map((object) => object.Key as string);
      requests.push(keys);
      const roll = random();
      const thrown =
        roll < 0.04
          ? Object.assign(new Error("boom"), { name: "InternalError", $metadata: { httpStatusCode: 500 } })
          : roll < 0.06
            ? Object.assign(new Error("socket hang up"), { name: "TimeoutError", $metadata: {} })
            : roll < 0.08
              ? Object.assign(new Error("denied"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } })
              : undefined;
      if (thrown !== undefined) {
        for (const key of keys)
          record(key, { kind: "thrown", code: thrown.name, retryable: thrown.name !== "AccessDenied" });
        throw thrown;
      }
      const errors = [];
      for (const key of keys) {
        const outcome = random();
        if (outcome < 0.6) record(key, { kind: "deleted", code: "", retryable: false });
        else if (outcome < 0.65) {
          record(key, { kind: "gone", code: "NoSuchKey", retryable: false });
          errors.push({ Key: key, Code: "NoSuchKey", Message: "gone" });
        } else if (outcome < 0.85) {
          const code = random() < 0.5 ? "SlowDown" : "InternalError";
          record(key, { kind: "keyError", code, retryable: true });
          errors.push({ Key: key, Code: code, Message: "try again" });
        } else {
          record(key, { kind: "keyError", code: "AccessDenied", retryable: false });
          errors.push({ Key: key, Code: "AccessDenied", Message: "Access Denied" });
        }
      }
      return { $metadata: {}, Errors: errors };
    },
  );
  s3.on(DeleteObjectCommand).rejects(new Error("single DeleteObject is not expected for XML-safe keys"));
  return { requests, outcomes };
}

/**
 * The model of the deleter's retries: a key is sent again only after a transient per-key error, up
 * to maxAttempts sends; a request that throws is never sent again (the SDK already retried it).
 * Returns the key's last outcome, after checking that the sends before it were such retries.
 */
function finalOutcome(key: string, sends: readonly Outcome[], maxAttempts: number): Outcome {
  const last = sends.at(-1) as Outcome;
  expect(sends.length, `${key} is sent at most maxAttempts times`).toBeLessThanOrEqual(maxAttempts);
  for (const earlier of sends.slice(0, -1)) {
    expect(
      earlier.kind === "keyError" && earlier.retryable,
      `${key} is sent again only after a transient per-key error`,
    ).toBe(true);
  }
  if (last.kind === "keyError" && last.retryable) {
    expect(sends.length, `${key} is retried until maxAttempts`).toBe(maxAttempts);
  }
  return last;
}

/** Checks one scenario. */
async function checkScenario(scenario: Scenario): Promise<void> {
  // Prepare
  s3.reset();
  const { requests, outcomes } = mockS3(seededRandom(scenario.seed));
  const batch = buildBatch(scenario);
  const { lines, logger } = recordingLogger();
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
    sleep: async () => {},
    random: () => 0.5,
  });

  // Act
  let response: BatchResponse | undefined;
  let thrown: unknown;
  try {
    response = await handler(eventOf(scenario, batch));
  } catch (error) {
    thrown = error;
  }

  // Assess: the counts, and whether the batch can be reported at all. An empty Kinesis batch,
  // `{ Records: [] }`, has no shape to tell it from an empty DynamoDB stream batch.
  const summarySource = scenario.source === "kinesis" && batch.length === 0 ? "dynamodb-streams" : scenario.source;
  const toDelete = batch.filter((item) => roleOf(item.spec, scenario.removals) === "delete");
  const invalid = batch.filter((item) => roleOf(item.spec, scenario.removals) === "invalid");
  const expectedKeys = new Set(toDelete.flatMap((item) => item.spec.files.map(fileKey)));
  const counts = {
    records: batch.length,
    removals: toDelete.length,
    withoutObjects: toDelete.filter((item) => item.spec.files.length === 0).length,
    skipped: batch.length - toDelete.length - invalid.length,
    invalid: invalid.length,
    targets: expectedKeys.size,
  };
  const mustReportInvalid = scenario.onInvalidRecord === "fail" ? invalid : [];
  if (mustReportInvalid.some((item) => item.identifier === undefined)) {
    expect(thrown).toBeInstanceOf(InvalidRecordError);
    expect(requests).toEqual([]);
    expect(lines.filter((line) => line.level === "info")).toEqual([]);
    // The handler stops right after parsing: nothing is mapped, and only parse-time defects count.
    const unparsable = invalid.filter(
      (item) => item.spec.eventName === "UPSERT" || item.spec.defect !== "outsidePrefix",
    );
    expect(lines.filter((line) => line.level === "error")).toEqual([
      {
        level: "error",
        message: "dynamodb-s3-cleanup summary: failing the whole batch",
        attributes: {
          source: summarySource,
          records: counts.records,
          removals: 0,
          withoutObjects: 0,
          skipped: counts.skipped,
          invalid: unparsable.length,
          targets: 0,
          deleted: 0,
          failed: 0,
          keptReplaced: 0,
          keptRecreated: 0,
          fallback: "none",
          batchItemFailures: undefined,
          aborted: false,
          durationMs: 0,
          dryRun: false,
          error: (thrown as Error).message,
        },
      },
    ]);
    return;
  }
  expect(thrown).toBeUndefined();

  // Assess: what was sent, and how often
  for (const keys of requests) expect(keys.length).toBeLessThanOrEqual(MAX_KEYS_PER_REQUEST);
  const sent = new Set(requests.flat());
  for (const key of sent) expect(expectedKeys.has(key), `${key} belongs to no selected valid REMOVE`).toBe(true);
  expect([...sent].sort()).toEqual([...expectedKeys].sort());
  expect(s3.commandCalls(DeleteObjectCommand)).toHaveLength(0);
  const largest = Math.max(0, ...requests.map((keys) => keys.length));
  if (expectedKeys.size >= MAX_KEYS_PER_REQUEST) {
    expect(largest, "1,000 keys or more fill a DeleteObjects request").toBe(MAX_KEYS_PER_REQUEST);
  }
  const final = new Map([...outcomes].map(([key, sends]) => [key, finalOutcome(key, sends, scenario.maxAttempts)]));
  const failedKeys = [...final].filter(([, outcome]) => outcome.kind === "keyError" || outcome.kind === "thrown");

  // Assess: each object not deleted is logged once, with its code, retryability and owners
  const ownersOf = (key: string) =>
    toDelete.filter((item) => item.spec.files.map(fileKey).includes(key)).map((item) => item.identifier);
  const warned = lines
    .filter((line) => line.message === "Object not deleted")
    .map((line) => line.attributes as { key: string; code: string; retryable: boolean; itemIdentifiers: string[] });
  expect(
    warned
      .map(({ key, code, retryable, itemIdentifiers }) => ({
        key,
        code,
        retryable,
        owners: [...itemIdentifiers].sort(),
      }))
      .sort((a, b) => (a.key < b.key ? -1 : 1)),
  ).toEqual(
    failedKeys
      .map(([key, { code, retryable }]) => ({ key, code, retryable, owners: ownersOf(key).sort() }))
      .sort((a, b) => (a.key < b.key ? -1 : 1)),
  );

  // Assess: what must be reported
  const failed = new Set(failedKeys.map(([key]) => key));
  const notDeleted = toDelete.filter((item) => item.spec.files.some((n) => failed.has(fileKey(n))));
  const mustReport = [...notDeleted, ...mustReportInvalid];
  const identifiers = (response as BatchResponse).batchItemFailures.map((failure) => failure.itemIdentifier);
  const inBatch = new Set(batch.map((item) => item.identifier));
  for (const identifier of identifiers) expect(inBatch.has(identifier)).toBe(true);
  expect(new Set(identifiers).size).toBe(identifiers.length);
  let expected: string[];
  if (scenario.source === "pipes") {
    // Pipes retries the eventIDs reported: each record with work left, in batch order.
    const reported = new Set(mustReport);
    expected = batch.filter((item) => reported.has(item)).map((item) => item.identifier as string);
  } else {
    // Lambda checkpoints at the lowest sequence number reported and redelivers every record from there.
    for (const identifier of identifiers) expect(identifier).toMatch(/^\d+$/);
    for (let i = 1; i < identifiers.length; i++) {
      expect(BigInt(identifiers[i - 1] as string) < BigInt(identifiers[i] as string)).toBe(true);
    }
    if (mustReport.length > 0) {
      const lowest = BigInt(identifiers[0] as string);
      for (const item of mustReport) expect(BigInt(item.identifier as string) >= lowest).toBe(true);
    }
    expected = [...new Set(mustReport.map((item) => item.identifier as string))].sort((a, b) =>
      BigInt(a) < BigInt(b) ? -1 : 1,
    );
  }
  expect(identifiers).toEqual(expected);
  expect(lines.filter((line) => line.level === "info")).toEqual([
    {
      level: "info",
      message: "dynamodb-s3-cleanup summary",
      attributes: {
        source: summarySource,
        ...counts,
        deleted: expectedKeys.size - failed.size,
        failed: failed.size,
        keptReplaced: 0,
        keptRecreated: 0,
        fallback: "none",
        batchItemFailures: identifiers.length,
        aborted: false,
        durationMs: 0,
        dryRun: false,
      },
    },
  ]);
}

/** numRuns per source: the file runs in `npm test` on two cores, so the three sources share the budget. */
const SOURCES: [EventSourceKind, { small: number; large: number }][] = [
  ["dynamodb-streams", { small: 300, large: 12 }],
  ["kinesis", { small: 300, large: 10 }],
  ["pipes", { small: 200, large: 8 }],
];

describe.each(SOURCES)("handler properties, from %s", (source, numRuns) => {
  it("deletes only selected removals, in requests of at most 1,000 keys, retrying only per-key transient errors, and reports every record with work left", async () => {
    await fc.assert(
      fc.asyncProperty(smallScenarioArb(source), async (scenario) => {
        await checkScenario(scenario);
      }),
      { numRuns: propertyRuns(numRuns.small) },
    );
  });

  it("holds for batches of 1,000 to 1,500 records", async () => {
    await fc.assert(
      fc.asyncProperty(largeScenarioArb(source), async (scenario) => {
        await checkScenario(scenario);
      }),
      { numRuns: propertyRuns(numRuns.large) },
    );
  }, 180_000);
});
