import {
  DeleteObjectCommand,
  type DeleteObjectCommandInput,
  DeleteObjectsCommand,
  type DeleteObjectsCommandInput,
  type ObjectIdentifier,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { createBatchDeleter, isXmlSafe, type ObjectTarget } from "../src/index.js";
import { classifyCode } from "../src/s3-errors.js";
import { createFakeClock } from "./fake-clock.js";

const s3 = mockClient(S3Client);

afterAll(() => {
  s3.restore();
});

/** What S3 answers for one key in one attempt: no error, or an error code. */
const OUTCOMES = [
  "ok",
  "ok",
  "ok",
  "NoSuchKey",
  "SlowDown",
  "InternalError",
  "ServiceUnavailable",
  "AccessDenied",
  "PreconditionFailed",
  "SomeCodeS3AddsNextYear",
] as const;
type Outcome = (typeof OUTCOMES)[number];

/** What happens to a whole request: answered, or thrown with a retryable or a permanent error. */
const REQUEST_FATES = ["answered", "answered", "answered", "answered", "throws503", "throws403"] as const;

/** A small seeded generator (mulberry32), so that thousands of targets cost one seed. */
function seeded(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const idOf = (bucket: string | undefined, key: string | undefined, versionId: string | undefined) =>
  JSON.stringify([bucket, key, versionId ?? null]);

const scenarios = fc.record({
  buckets: fc.integer({ min: 1, max: 3 }),
  keyPool: fc.integer({ min: 1, max: 3000 }),
  count: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 2500 })),
  seed: fc.integer(),
  outcomes: fc.array(fc.constantFrom(...OUTCOMES), { minLength: 1, maxLength: 12 }),
  fates: fc.array(fc.constantFrom(...REQUEST_FATES), { minLength: 1, maxLength: 8 }),
  latencies: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 8 }),
  concurrency: fc.integer({ min: 1, max: 8 }),
  maxAttempts: fc.integer({ min: 1, max: 4 }),
});

describe("batch deleter, for any targets and any S3 answers", () => {
  it("sends quiet batches of at most 1,000 keys, reports each target once and truthfully, and keeps its bounds", async () => {
    await fc.assert(
      fc.asyncProperty(scenarios, async (scenario) => {
        // Prepare
        s3.reset();
        const next = seeded(scenario.seed);
        const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)] as T;
        const targets: ObjectTarget[] = Array.from({ length: scenario.count }, () => {
          const bucket = `bucket-${Math.floor(next() * scenario.buckets)}`;
          const index = Math.floor(next() * scenario.keyPool);
          const key = index % 97 === 0 ? `odd\u0001${index}` : `products/${index}.png`;
          const versionId = pick([undefined, undefined, "v1", "v2"]);
          return versionId === undefined ? { bucket, key } : { bucket, key, versionId };
        });

        const attempts = new Map<string, number>();
        const lastCode = new Map<string, string | undefined>();
        const traffic = { inFlight: 0, maxInFlight: 0, requests: 0 };
        const answer = async (bucket: string | undefined, objects: readonly ObjectIdentifier[]) => {
          const fate = scenario.fates[traffic.requests % scenario.fates.length];
          const latency = scenario.latencies[traffic.requests % scenario.latencies.length] ?? 0;
          traffic.requests++;
          traffic.inFlight++;
          traffic.maxInFlight = Math.max(traffic.maxInFlight, traffic.inFlight);
          try {
            for (let tick = 0; tick < latency; tick++) await Promise.resolve();
            const ids = objects.map((object) => idOf(bucket, object.Key, object.VersionId));
            for (const id of ids) attempts.set(id, (attempts.get(id) ?? 0) + 1);
            if (fate !== "answered") {
              const [name, status] = fate === "throws503" ? ["ServiceUnavailable", 503] : ["AccessDenied", 403];
              for (const id of ids) lastCode.set(id, name);
              throw new S3ServiceException({ name, $fault: "server", $metadata: { httpStatusCode: status } });
            }
            return objects.flatMap((object, index) => {
              const outcome: Outcome = pick(scenario.outcomes);
              lastCode.set(ids[index] as string, outcome === "ok" ? undefined : outcome);
              return outcome === "ok" ? [] : [{ ...object, Code: outcome, Message: `${outcome} for ${object.Key}` }];
            });
          } finally {
            traffic.inFlight--;
          }
        };
        s3.on(DeleteObjectsCommand).callsFake(async (input: DeleteObjectsCommandInput) => ({
          Errors: await answer(input.Bucket, input.Delete?.Objects ?? []),
        }));
        s3.on(DeleteObjectCommand).callsFake(async (input: DeleteObjectCommandInput) => {
          const [error] = await answer(
            input.Bucket,
            input.VersionId === undefined ? [{ Key: input.Key }] : [{ Key: input.Key, VersionId: input.VersionId }],
          );
          if (error === undefined) return {};
          const status = error.Code === "NoSuchKey" ? 404 : classifyCode(error.Code) === "retryable" ? 503 : 403;
          throw new S3ServiceException({ name: error.Code, $fault: "client", $metadata: { httpStatusCode: status } });
        });
        const clock = createFakeClock();
        const deleteObjects = createBatchDeleter({
          s3Client: new S3Client({ region: "us-east-1" }),
          concurrency: scenario.concurrency,
          maxAttempts: scenario.maxAttempts,
          now: clock.now,
          sleep: clock.sleep,
          random: next,
        });

        // Act
        const report = await deleteObjects(targets);

        // Assess
        for (const call of s3.commandCalls(DeleteObjectsCommand)) {
          const { Bucket, Delete } = call.args[0].input;
          const objects = Delete?.Objects ?? [];
          expect(objects.length).toBeGreaterThan(0);
          expect(objects.length).toBeLessThanOrEqual(1000);
          expect(Delete?.Quiet).toBe(true);
          const ids = objects.map((object) => idOf(Bucket, object.Key, object.VersionId));
          expect(new Set(ids).size).toBe(ids.length);
        }

        const distinct = new Set(targets.map((each) => idOf(each.bucket, each.key, each.versionId)));
        const deletedIds = report.deleted.map((each) => idOf(each.bucket, each.key, each.versionId));
        const failedIds = report.failed.map(({ target }) => idOf(target.bucket, target.key, target.versionId));
        const reported = [...deletedIds, ...failedIds];
        expect(reported).toHaveLength(distinct.size);
        expect(new Set(reported)).toStrictEqual(distinct);

        for (const id of deletedIds) {
          expect([undefined, "NoSuchKey"]).toContain(lastCode.get(id));
        }
        for (const failure of report.failed) {
          const id = idOf(failure.target.bucket, failure.target.key, failure.target.versionId);
          // An Errors entry without VersionId may also fail the versions of its key (see the unit tests).
          const unversioned = idOf(failure.target.bucket, failure.target.key, undefined);
          const sibling = failure.target.versionId === undefined ? undefined : lastCode.get(unversioned);
          expect([lastCode.get(id), sibling]).toContain(failure.code);
          expect(failure.retryable).toBe(classifyCode(failure.code) === "retryable");
          if (failure.retryable) expect(attempts.get(id)).toBe(scenario.maxAttempts);
        }
        for (const id of distinct) {
          expect(attempts.get(id)).toBeGreaterThanOrEqual(1);
          expect(attempts.get(id)).toBeLessThanOrEqual(scenario.maxAttempts);
        }
        expect(traffic.maxInFlight).toBeLessThanOrEqual(scenario.concurrency);
      }),
      { numRuns: 100 },
    );
  });
});

/** Code points XML 1.0 allows: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]. */
const xmlCodePoint = fc.oneof(
  fc.constantFrom(0x9, 0xa, 0xd),
  fc.integer({ min: 0x20, max: 0xd7ff }),
  fc.integer({ min: 0xe000, max: 0xfffd }),
  fc.integer({ min: 0x10000, max: 0x10ffff }),
);

/** Code units XML 1.0 forbids, lone surrogates included. */
const nonXmlCodeUnit = fc.oneof(
  fc.integer({ min: 0x0, max: 0x8 }),
  fc.constantFrom(0xb, 0xc, 0xfffe, 0xffff),
  fc.integer({ min: 0xe, max: 0x1f }),
  fc.integer({ min: 0xd800, max: 0xdfff }),
);

describe("isXmlSafe", () => {
  it("accepts every string built only from code points XML 1.0 allows", () => {
    fc.assert(
      fc.property(fc.array(xmlCodePoint, { maxLength: 40 }), (codePoints) => {
        // Act
        const safe = isXmlSafe(String.fromCodePoint(...codePoints));

        // Assess
        expect(safe).toBe(true);
      }),
    );
  });

  it("rejects every such string once a forbidden code unit or lone surrogate is put between its characters", () => {
    fc.assert(
      fc.property(
        fc.array(xmlCodePoint, { maxLength: 40 }),
        nonXmlCodeUnit,
        fc.nat(),
        (codePoints, forbidden, position) => {
          // Prepare
          const at = position % (codePoints.length + 1);
          const key =
            String.fromCodePoint(...codePoints.slice(0, at)) +
            String.fromCharCode(forbidden) +
            String.fromCodePoint(...codePoints.slice(at));

          // Act
          const safe = isXmlSafe(key);

          // Assess
          expect(safe).toBe(false);
        },
      ),
    );
  });
});
