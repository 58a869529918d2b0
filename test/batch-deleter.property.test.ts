import {
  DeleteObjectCommand,
  type DeleteObjectCommandInput,
  DeleteObjectsCommand,
  type DeleteObjectsCommandInput,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandInput,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { MAX_SPLIT_REQUESTS } from "../src/batch-deleter.js";
import { createBatchDeleter, type ObjectTarget } from "../src/index.js";
import { classifyCode } from "../src/s3-errors.js";
import { canBatch } from "../src/s3-requests.js";
import { seededRandom } from "./fake-clock.js";
import { propertyRuns } from "./property-runs.js";

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

/** What happens to a whole request: answered, or thrown with a 5xx, a 403 or a network error (no HTTP answer). */
const REQUEST_FATES = [
  "answered",
  "answered",
  "answered",
  "answered",
  "throws503",
  "throws403",
  "throwsReset",
] as const;
type RequestFate = (typeof REQUEST_FATES)[number];

/** An extra Errors entry of a DeleteObjects answer that names no key sent: none, one without Key, one for another key. */
const STRAYS = ["none", "none", "none", "keyless", "unsent"] as const;

/** A backoff that ends at once: these properties are about outcomes, not time. */
const noWait = () => Promise.resolve();

const idOf = (bucket: string | undefined, key: string | undefined, versionId: string | undefined) =>
  JSON.stringify([bucket, key, versionId ?? null]);

/** The error one attempt ended with for one target, as the test's S3 meant it; undefined when it succeeded. */
interface AttemptError {
  code: string;
  message: string;
  retryable: boolean;
  /** True when the whole request threw. */
  thrown: boolean;
}

/** One entry of the Errors of a DeleteObjects answer. */
interface ErrorEntry {
  Key?: string | undefined;
  VersionId?: string | undefined;
  Code: string;
  Message: string;
}

/** The error a request that throws with `fate` raises. */
function thrownFor(fate: Exclude<RequestFate, "answered">): { error: Error; expected: AttemptError } {
  if (fate === "throwsReset") {
    const error = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    return { error, expected: { code: "Error", message: "read ECONNRESET", retryable: true, thrown: true } };
  }
  const [name, status] = fate === "throws503" ? ["ServiceUnavailable", 503] : ["AccessDenied", 403];
  const error = new S3ServiceException({
    name,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status },
    message: `${name} for the request`,
  });
  return {
    error,
    expected: { code: name, message: `${name} for the request`, retryable: status >= 500, thrown: true },
  };
}

/** A key that most often goes in DeleteObjects, sometimes holds a character that sends it alone. */
function keyFor(index: number): string {
  if (index % 97 === 0) return `odd\u0001${index}`;
  if (index % 89 === 0) return `line\n${index}`;
  if (index % 83 === 0) return `cr\r${index}.png`;
  if (index % 79 === 0) return `crlf\r\n${index}`;
  if (index % 73 === 0) return `tab\t${index} 😀.png`;
  return `products/${index}.png`;
}

/**
 * The versions a bucket holds for a key under `versions: "all"`: none to three, and maybe a longer
 * key the prefix matches too. Their ids (`s1`, `s2`, `s3`) are not those of the targets passed in
 * with a versionId (`v1`, `v2`): a purge deletes what it lists apart from those targets, so that a
 * version both listed and passed in is deleted twice, once for each (see the example tests).
 */
function storedVersions(bucket: string, key: string): { versionIds: string[]; sibling: boolean } {
  let hash = 0;
  for (const character of `${bucket}/${key}`) hash = (hash * 31 + (character.codePointAt(0) ?? 0)) >>> 0;
  return { versionIds: ["s1", "s2", "s3"].slice(0, hash % 4), sibling: hash % 3 === 0 };
}

/** Versions listed per page: small, so that listings page. */
const PAGE_SIZE = 2;

const scenarios = fc.record({
  buckets: fc.integer({ min: 1, max: 3 }),
  keyPool: fc.integer({ min: 1, max: 3000 }),
  count: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 2500 })),
  seed: fc.integer(),
  outcomes: fc.array(fc.constantFrom(...OUTCOMES), { minLength: 1, maxLength: 12 }),
  fates: fc.array(fc.constantFrom(...REQUEST_FATES), { minLength: 1, maxLength: 8 }),
  strays: fc.array(fc.constantFrom(...STRAYS), { minLength: 1, maxLength: 6 }),
  latencies: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 8 }),
  concurrency: fc.integer({ min: 1, max: 8 }),
  maxAttempts: fc.integer({ min: 1, max: 4 }),
  versions: fc.constantFrom("current", "all"),
});

describe("batch deleter, for any targets and any S3 answers", () => {
  it("sends quiet batches of at most 1,000 XML-safe keys, reports each target once and truthfully, and keeps its bounds, for either versions mode", async () => {
    await fc.assert(
      fc.asyncProperty(scenarios, async (scenario) => {
        // Prepare
        s3.reset();
        const next = seededRandom(scenario.seed);
        const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)] as T;
        const targets: ObjectTarget[] = Array.from({ length: scenario.count }, () => {
          const bucket = `bucket-${Math.floor(next() * scenario.buckets)}`;
          const key = keyFor(Math.floor(next() * scenario.keyPool));
          const versionId = pick([undefined, undefined, "v1", "v2"]);
          return versionId === undefined ? { bucket, key } : { bucket, key, versionId };
        });

        const attempts = new Map<string, number>();
        const last = new Map<string, AttemptError | undefined>();
        // Targets whose last attempt settled them (success, gone, permanent, or thrown): never attempted again.
        const settled = new Set<string>();
        const attemptedAfterSettled: string[] = [];
        const traffic = { inFlight: 0, maxInFlight: 0, requests: 0 };
        // Under versions "all": the version ids listed for each key, and the error that ended its listing.
        const listings = new Map<string, { versionIds: string[]; error?: AttemptError }>();

        /** Counts a request and its attempts, waits its latency, and tells its fate and its number. */
        const begin = async (ids: readonly string[]): Promise<{ fate: RequestFate; request: number }> => {
          const request = traffic.requests;
          const fate = scenario.fates[request % scenario.fates.length] as RequestFate;
          const latency = scenario.latencies[request % scenario.latencies.length] ?? 0;
          traffic.requests++;
          traffic.inFlight++;
          traffic.maxInFlight = Math.max(traffic.maxInFlight, traffic.inFlight);
          for (const id of ids) {
            if (settled.has(id)) attemptedAfterSettled.push(id);
            attempts.set(id, (attempts.get(id) ?? 0) + 1);
          }
          for (let tick = 0; tick < latency; tick++) await Promise.resolve();
          return { fate, request };
        };
        const record = (id: string, error: AttemptError | undefined) => {
          last.set(id, error);
          if (error === undefined || error.thrown || !error.retryable) settled.add(id);
        };

        s3.on(DeleteObjectsCommand).callsFake(async (input: DeleteObjectsCommandInput) => {
          const objects = input.Delete?.Objects ?? [];
          const ids = objects.map((object) => idOf(input.Bucket, object.Key, object.VersionId));
          const { fate, request } = await begin(ids);
          try {
            if (fate !== "answered") {
              const { error, expected } = thrownFor(fate);
              for (const id of ids) record(id, expected);
              throw error;
            }
            const entries: ErrorEntry[] = objects.flatMap((object) => {
              const outcome: Outcome = pick(scenario.outcomes);
              return outcome === "ok" ? [] : [{ ...object, Code: outcome, Message: `${outcome} for ${object.Key}` }];
            });
            const strayKind = scenario.strays[request % scenario.strays.length];
            let stray: ErrorEntry | undefined;
            if (strayKind !== "none") {
              const code = pick(OUTCOMES.filter((each) => each !== "ok"));
              stray =
                strayKind === "keyless"
                  ? { Code: code, Message: `${code} for no key` }
                  : { Key: "stray/never-sent.png", Code: code, Message: `${code} for a key never sent` };
              entries.splice(Math.floor(next() * (entries.length + 1)), 0, stray);
            }
            // The expected error of each target: its own entry, else its key's entry without VersionId, else the stray.
            objects.forEach((object, index) => {
              const own = entries.find((entry) => entry.Key === object.Key && entry.VersionId === object.VersionId);
              const keyWide =
                object.VersionId === undefined
                  ? undefined
                  : entries.find((entry) => entry.Key === object.Key && entry.VersionId === undefined);
              const entry = own ?? keyWide ?? stray;
              record(
                ids[index] as string,
                entry === undefined
                  ? undefined
                  : {
                      code: entry.Code,
                      message: entry.Message,
                      retryable: classifyCode(entry.Code) === "retryable",
                      thrown: false,
                    },
              );
            });
            return { Errors: entries };
          } finally {
            traffic.inFlight--;
          }
        });
        s3.on(DeleteObjectCommand).callsFake(async (input: DeleteObjectCommandInput) => {
          const id = idOf(input.Bucket, input.Key, input.VersionId);
          const { fate } = await begin([id]);
          try {
            if (fate !== "answered") {
              const { error, expected } = thrownFor(fate);
              record(id, expected);
              throw error;
            }
            const outcome: Outcome = pick(scenario.outcomes);
            if (outcome === "ok") {
              record(id, undefined);
              return {};
            }
            const status = outcome === "NoSuchKey" ? 404 : classifyCode(outcome) === "retryable" ? 503 : 403;
            const message = `${outcome} for ${input.Key}`;
            record(id, { code: outcome, message, retryable: status >= 500, thrown: true });
            throw new S3ServiceException({
              name: outcome,
              $fault: status >= 500 ? "server" : "client",
              $metadata: { httpStatusCode: status },
              message,
            });
          } finally {
            traffic.inFlight--;
          }
        });
        s3.on(ListObjectVersionsCommand).callsFake(async (input: ListObjectVersionsCommandInput) => {
          const key = input.Prefix as string;
          const listing = listings.get(idOf(input.Bucket, key, undefined)) ?? { versionIds: [] };
          listings.set(idOf(input.Bucket, key, undefined), listing);
          const { fate } = await begin([]);
          try {
            if (fate !== "answered") {
              const { error, expected } = thrownFor(fate);
              listing.error = expected;
              throw error;
            }
            const { versionIds, sibling } = storedVersions(input.Bucket as string, key);
            const start = input.VersionIdMarker === undefined ? 0 : versionIds.indexOf(input.VersionIdMarker) + 1;
            const page = versionIds.slice(start, start + PAGE_SIZE);
            const truncated = start + PAGE_SIZE < versionIds.length;
            listing.versionIds.push(...page);
            const entries = page.map((versionId) => ({ Key: key, VersionId: versionId }));
            if (!truncated && sibling) entries.push({ Key: `${key}.bak`, VersionId: "v1" });
            return {
              IsTruncated: truncated,
              ...(truncated ? { NextKeyMarker: key, NextVersionIdMarker: page.at(-1) } : {}),
              Versions: entries.filter((_, index) => index % 2 === 0),
              DeleteMarkers: entries.filter((_, index) => index % 2 === 1),
            };
          } finally {
            traffic.inFlight--;
          }
        });
        const deleteObjects = createBatchDeleter({
          s3Client: new S3Client({ region: "us-east-1" }),
          concurrency: scenario.concurrency,
          maxAttempts: scenario.maxAttempts,
          sleep: noWait,
          random: next,
          versions: scenario.versions,
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
          for (const object of objects) expect(canBatch(object.Key as string)).toBe(true);
          const ids = objects.map((object) => idOf(Bucket, object.Key, object.VersionId));
          expect(new Set(ids).size).toBe(ids.length);
        }
        const singles = s3.commandCalls(DeleteObjectCommand).map((call) => call.args[0].input);
        for (const input of singles) expect(canBatch(input.Key as string)).toBe(false);

        const distinct = new Set(targets.map((each) => idOf(each.bucket, each.key, each.versionId)));
        const deletedIds = report.deleted.map((each) => idOf(each.bucket, each.key, each.versionId));
        const failedIds = report.failed.map(({ target }) => idOf(target.bucket, target.key, target.versionId));
        const reported = [...deletedIds, ...failedIds];
        expect(reported).toHaveLength(distinct.size);
        expect(new Set(reported)).toStrictEqual(distinct);

        const purged = (target: ObjectTarget) => scenario.versions === "all" && target.versionId === undefined;
        if (scenario.versions === "current") expect(s3.commandCalls(ListObjectVersionsCommand)).toStrictEqual([]);
        // The objects deleted for a target: itself, or the versions listed for its key.
        const objectIds = (target: ObjectTarget) =>
          purged(target)
            ? (listings.get(idOf(target.bucket, target.key, undefined))?.versionIds ?? []).map((versionId) =>
                idOf(target.bucket, target.key, versionId),
              )
            : [idOf(target.bucket, target.key, target.versionId)];
        const deletedOk = (id: string) => [undefined, "NoSuchKey"].includes(last.get(id)?.code);

        // A target is in deleted only if the last attempt of each of its objects had no error (or NoSuchKey).
        for (const target of report.deleted) {
          if (purged(target)) {
            const listing = listings.get(idOf(target.bucket, target.key, undefined));
            expect(listing?.error).toBeUndefined();
            expect(listing?.versionIds).toStrictEqual(storedVersions(target.bucket, target.key).versionIds);
          }
          for (const id of objectIds(target)) expect(deletedOk(id)).toBe(true);
        }
        for (const failure of report.failed) {
          const listingError = purged(failure.target)
            ? listings.get(idOf(failure.target.bucket, failure.target.key, undefined))?.error
            : undefined;
          const objectErrors = objectIds(failure.target)
            .filter((id) => !deletedOk(id))
            .map((id) => ({ id, error: last.get(id) as AttemptError }));
          const reported = { code: failure.code, message: failure.message, retryable: failure.retryable };
          const asReported = (error: AttemptError | undefined) => ({
            code: error?.code,
            message: error?.message,
            retryable: error?.retryable,
          });
          // The error of its listing or of one of its objects that was not deleted (a purge deletes
          // what it listed before its listing failed): a permanent one if there is any.
          const errors = [
            ...objectErrors.map(({ error }) => error),
            ...(listingError === undefined ? [] : [listingError]),
          ];
          expect(errors.map(asReported)).toContainEqual(reported);
          if (errors.some((error) => !error.retryable)) expect(failure.retryable).toBe(false);
          // Only a per-key retryable error is retried, until the attempts run out.
          for (const { id, error } of objectErrors) {
            if (error.retryable && !error.thrown) expect(attempts.get(id)).toBe(scenario.maxAttempts);
          }
        }
        // A request that throws, a success, NoSuchKey and a permanent error each end an object's attempts.
        expect(attemptedAfterSettled).toStrictEqual([]);
        const attemptedIds = new Set(
          targets.filter((target) => !purged(target)).map((each) => idOf(each.bucket, each.key, each.versionId)),
        );
        for (const listing of listings.values()) expect(listing.versionIds.length).toBeLessThanOrEqual(3);
        for (const target of targets.filter(purged)) {
          const listing = listings.get(idOf(target.bucket, target.key, undefined));
          expect(listing).toBeDefined();
          // What a purge listed is deleted, also when its listing failed on a later page.
          for (const id of objectIds(target)) attemptedIds.add(id);
        }
        for (const id of attemptedIds) {
          expect(attempts.get(id)).toBeGreaterThanOrEqual(1);
          expect(attempts.get(id)).toBeLessThanOrEqual(scenario.maxAttempts);
        }
        for (const id of attempts.keys()) expect(attemptedIds.has(id)).toBe(true);
        for (const input of singles) {
          expect(attempts.get(idOf(input.Bucket, input.Key, input.VersionId))).toBe(1);
        }
        expect(traffic.maxInFlight).toBeLessThanOrEqual(scenario.concurrency);
      }),
      { numRuns: propertyRuns(100) },
    );
    // Up to 2,500 targets a run, each listed under versions "all": a few seconds for 100 runs.
  }, 180_000);
});

/** What S3 answers for one object in one attempt of a conditional-delete scenario. */
const CONDITIONAL_OUTCOMES = ["ok", "ok", "NoSuchKey", "PreconditionFailed", "SlowDown", "AccessDenied"] as const;
type ConditionalOutcome = (typeof CONDITIONAL_OUTCOMES)[number];

/** What happens to a whole DeleteObjects request: answered, thrown (503 or 403), or refused for its checksum. */
const CONDITIONAL_FATES = [
  "answered",
  "answered",
  "answered",
  "answered",
  "throws503",
  "throws403",
  "refused",
] as const;

const conditionalScenarios = fc.record({
  buckets: fc.integer({ min: 1, max: 2 }),
  keyPool: fc.integer({ min: 1, max: 400 }),
  count: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 1500 })),
  seed: fc.integer(),
  outcomes: fc.array(fc.constantFrom(...CONDITIONAL_OUTCOMES), { minLength: 1, maxLength: 10 }),
  fates: fc.array(fc.constantFrom(...CONDITIONAL_FATES), { minLength: 1, maxLength: 8 }),
  concurrency: fc.integer({ min: 1, max: 6 }),
  maxAttempts: fc.integer({ min: 1, max: 3 }),
});

describe("conditional deletes, for any targets with or without etags and any S3 answers", () => {
  it("puts each distinct target in exactly one of deleted, failed and keptReplaced, in input order, truthfully, sending each etag as its condition", async () => {
    await fc.assert(
      fc.asyncProperty(conditionalScenarios, async (scenario) => {
        // Prepare
        s3.reset();
        const next = seededRandom(scenario.seed);
        const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)] as T;
        const targets: ObjectTarget[] = Array.from({ length: scenario.count }, () => {
          const target: ObjectTarget = {
            bucket: `bucket-${Math.floor(next() * scenario.buckets)}`,
            key: keyFor(Math.floor(next() * scenario.keyPool)),
          };
          const versionId = pick([undefined, undefined, undefined, "v1"]);
          const etag = pick([undefined, '"e1"', '"e1"', '"e2"']);
          if (versionId !== undefined) target.versionId = versionId;
          if (etag !== undefined) target.etag = etag;
          return target;
        });
        const idOfTarget = ({ bucket, key, versionId, etag }: ObjectTarget) =>
          JSON.stringify([bucket, key, versionId ?? null, etag ?? null]);
        const sentId = (bucket?: string, key?: string, versionId?: string, etag?: string) =>
          JSON.stringify([bucket, key, versionId ?? null, etag ?? null]);

        const attempts = new Map<string, number>();
        /**
         * The last answer for each object: undefined for success, else its code, whether the request
         * threw, and whether the error was the object's own (an entry for its key and version, or its
         * single delete) rather than its key's entry without VersionId, which fails every version.
         */
        const last = new Map<string, { code: string; thrown: boolean; own: boolean } | undefined>();
        // Objects whose last answer settled them (anything but a per-key SlowDown): never sent again.
        const settled = new Set<string>();
        const attemptedAfterSettled: string[] = [];
        let requests = 0;
        /** Counts an attempt of each object and tells the fate of a DeleteObjects request. */
        const begin = (ids: readonly string[]) => {
          for (const id of ids) {
            if (settled.has(id)) attemptedAfterSettled.push(id);
            attempts.set(id, (attempts.get(id) ?? 0) + 1);
          }
          return scenario.fates[requests++ % scenario.fates.length];
        };
        const record = (id: string, answer: { code: string; thrown: boolean; own: boolean } | undefined) => {
          last.set(id, answer);
          if (answer === undefined || answer.thrown || answer.code !== "SlowDown") settled.add(id);
        };

        s3.on(DeleteObjectsCommand).callsFake(async (input: DeleteObjectsCommandInput) => {
          const objects = input.Delete?.Objects ?? [];
          const ids = objects.map((object) => sentId(input.Bucket, object.Key, object.VersionId, object.ETag));
          const fate = begin(ids);
          if (fate === "refused") {
            // Nothing was deleted: the objects will be sent again, one by one.
            for (const id of ids) attempts.set(id, (attempts.get(id) ?? 1) - 1);
            throw new S3ServiceException({
              name: "MissingContentMD5",
              $fault: "client",
              $metadata: { httpStatusCode: 400 },
              message: "Missing Content-MD5",
            });
          }
          if (fate === "throws503" || fate === "throws403") {
            const { error, expected } = thrownFor(fate);
            for (const id of ids) record(id, { code: expected.code, thrown: true, own: true });
            throw error;
          }
          const errors: ErrorEntry[] = objects.flatMap((object) => {
            const outcome: ConditionalOutcome = pick(scenario.outcomes);
            const { Key, VersionId } = object;
            return outcome === "ok"
              ? []
              : [
                  {
                    Key,
                    ...(VersionId === undefined ? {} : { VersionId }),
                    Code: outcome,
                    Message: `${outcome} for ${Key}`,
                  },
                ];
          });
          // A request holds each key and version once, so each entry is found by both.
          const entryOf = new Map(errors.map((entry) => [JSON.stringify([entry.Key, entry.VersionId ?? null]), entry]));
          objects.forEach((object, index) => {
            const own = entryOf.get(JSON.stringify([object.Key, object.VersionId ?? null]));
            const keyWide =
              object.VersionId === undefined ? undefined : entryOf.get(JSON.stringify([object.Key, null]));
            const entry = own ?? keyWide;
            record(ids[index] as string, entry && { code: entry.Code, thrown: false, own: own !== undefined });
          });
          return { Errors: errors };
        });
        s3.on(DeleteObjectCommand).callsFake(async (input: DeleteObjectCommandInput) => {
          const id = sentId(input.Bucket, input.Key, input.VersionId, input.IfMatch);
          // A single delete's fate is its outcome alone: the request fates are DeleteObjects'.
          begin([id]);
          const outcome: ConditionalOutcome = pick(scenario.outcomes);
          if (outcome === "ok") {
            record(id, undefined);
            return {};
          }
          record(id, { code: outcome, thrown: true, own: true });
          const status = { NoSuchKey: 404, PreconditionFailed: 412, SlowDown: 503, AccessDenied: 403 }[outcome];
          throw new S3ServiceException({
            name: outcome,
            $fault: status >= 500 ? "server" : "client",
            $metadata: { httpStatusCode: status },
            message: `${outcome} for ${input.Key}`,
          });
        });
        const deleteObjects = createBatchDeleter({
          s3Client: new S3Client({ region: "us-east-1" }),
          concurrency: scenario.concurrency,
          maxAttempts: scenario.maxAttempts,
          sleep: noWait,
          random: next,
        });

        // Act
        const report = await deleteObjects(targets);

        // Assess
        // Each distinct target (bucket, key, versionId, etag) is in exactly one list, each list in input order.
        const order = new Map<string, number>();
        for (const target of targets) if (!order.has(idOfTarget(target))) order.set(idOfTarget(target), order.size);
        const lists = [report.deleted, report.failed.map(({ target }) => target), report.keptReplaced];
        const reported = lists.flat().map(idOfTarget);
        expect(reported).toHaveLength(order.size);
        expect(new Set(reported)).toStrictEqual(new Set(order.keys()));
        for (const list of lists) {
          const positions = list.map((target) => order.get(idOfTarget(target)) as number);
          expect(positions).toStrictEqual([...positions].sort((a, b) => a - b));
        }

        // Every request carries each target's etag as its condition, and never two entries for one object version.
        for (const call of s3.commandCalls(DeleteObjectsCommand)) {
          const { Bucket, Delete } = call.args[0].input;
          const objects = Delete?.Objects ?? [];
          const versions = objects.map((object) => JSON.stringify([object.Key, object.VersionId ?? null]));
          expect(new Set(versions).size).toBe(versions.length);
          for (const object of objects) {
            expect(order.has(sentId(Bucket, object.Key, object.VersionId, object.ETag))).toBe(true);
          }
        }
        for (const call of s3.commandCalls(DeleteObjectCommand)) {
          const { Bucket, Key, VersionId, IfMatch } = call.args[0].input;
          expect(order.has(sentId(Bucket, Key, VersionId, IfMatch))).toBe(true);
        }
        for (const id of order.keys()) {
          expect(attempts.get(id)).toBeGreaterThanOrEqual(1);
          expect(attempts.get(id)).toBeLessThanOrEqual(scenario.maxAttempts);
        }
        expect(attemptedAfterSettled).toStrictEqual([]);

        // Kept only when a target with an etag was last answered PreconditionFailed for itself (its own
        // entry, or its single delete); and then always.
        const keptIds = new Set(report.keptReplaced.map(idOfTarget));
        for (const target of targets) {
          const answer = last.get(idOfTarget(target));
          const replaced = target.etag !== undefined && answer?.code === "PreconditionFailed" && answer.own;
          expect(keptIds.has(idOfTarget(target))).toBe(replaced);
        }
        // Deleted only on success or NoSuchKey.
        for (const target of report.deleted) {
          expect([undefined, "NoSuchKey"]).toContain(last.get(idOfTarget(target))?.code);
        }
        // Failed with the last answer's code.
        for (const failure of report.failed) expect(failure.code).toBe(last.get(idOfTarget(failure.target))?.code);
      }),
      { numRuns: propertyRuns(100) },
    );
  }, 180_000);
});

/** How a store (or the SDK) refuses a whole DeleteObjects request for a key in it. */
const REFUSALS = {
  InvalidArgument: () =>
    new S3ServiceException({
      name: "InvalidArgument",
      $fault: "client",
      $metadata: { httpStatusCode: 400 },
      message: "Invalid argument",
    }),
  MalformedXML: () =>
    new S3ServiceException({
      name: "MalformedXML",
      $fault: "client",
      $metadata: { httpStatusCode: 400 },
      message: "The XML you provided was not well-formed",
    }),
  TypeError: () => new TypeError("Cannot read properties of undefined (reading 'length')"),
} as const;

const poisonScenarios = fc.record({
  buckets: fc.integer({ min: 1, max: 2 }),
  keyPool: fc.integer({ min: 1, max: 3000 }),
  count: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 2500 })),
  seed: fc.integer(),
  // The share of keys refused: none, a few, many (the split bound is hit), or all.
  poisonRate: fc.oneof(
    fc.constant(0),
    fc.double({ min: 0, max: 0.005 }),
    fc.double({ min: 0, max: 0.3 }),
    fc.constant(1),
  ),
  refusal: fc.constantFrom(...(Object.keys(REFUSALS) as (keyof typeof REFUSALS)[])),
  concurrency: fc.integer({ min: 1, max: 8 }),
});

describe("poison isolation, for any batch and any set of refused keys", () => {
  it("fails every refused target, deletes every other one unless the split bound is hit, reports each target once, and keeps the bound", async () => {
    await fc.assert(
      fc.asyncProperty(poisonScenarios, async (scenario) => {
        // Prepare
        s3.reset();
        const next = seededRandom(scenario.seed);
        const poisoned = new Set<string>();
        const targets: ObjectTarget[] = Array.from({ length: scenario.count }, () => {
          const bucket = `bucket-${Math.floor(next() * scenario.buckets)}`;
          const key = `products/${Math.floor(next() * scenario.keyPool)}.png`;
          if (next() < scenario.poisonRate) poisoned.add(key);
          return next() < 0.2 ? { bucket, key, versionId: "v1" } : { bucket, key };
        });
        const refusal = REFUSALS[scenario.refusal];
        // Every object a request that succeeded held.
        const deletedByStore = new Set<string>();
        s3.on(DeleteObjectsCommand).callsFake(async (input: DeleteObjectsCommandInput) => {
          const objects = input.Delete?.Objects ?? [];
          if (objects.some((object) => poisoned.has(object.Key as string))) throw refusal();
          for (const object of objects) deletedByStore.add(idOf(input.Bucket, object.Key, object.VersionId));
          return {};
        });
        const deleteObjects = createBatchDeleter({
          s3Client: new S3Client({ region: "us-east-1" }),
          concurrency: scenario.concurrency,
          sleep: noWait,
          random: next,
        });

        // Act
        const report = await deleteObjects(targets);

        // Assess
        const idOfTarget = (target: ObjectTarget) => idOf(target.bucket, target.key, target.versionId);
        const distinct = [...new Set(targets.map(idOfTarget))];
        const reported = [...report.deleted.map(idOfTarget), ...report.failed.map(({ target }) => idOfTarget(target))];
        expect(reported).toHaveLength(distinct.length);
        expect(new Set(reported)).toStrictEqual(new Set(distinct));
        expect(report.keptReplaced).toStrictEqual([]);

        const requests = s3.commandCalls(DeleteObjectsCommand).map((call) => call.args[0].input);
        for (const { Delete } of requests) {
          expect(Delete?.Objects?.length).toBeGreaterThan(0);
          expect(Delete?.Objects?.length).toBeLessThanOrEqual(1000);
        }
        const perBucket = new Map<string, number>();
        for (const id of distinct) {
          const bucket = JSON.parse(id)[0] as string;
          perBucket.set(bucket, (perBucket.get(bucket) ?? 0) + 1);
        }
        const firstRequests = [...perBucket.values()].reduce((sum, size) => sum + Math.ceil(size / 1000), 0);
        const extra = requests.length - firstRequests;
        expect(extra).toBeGreaterThanOrEqual(0);
        expect(extra).toBeLessThanOrEqual(MAX_SPLIT_REQUESTS);

        // Deleted only when a request holding it succeeded; failed only with the refusal, for good.
        for (const target of report.deleted) {
          expect(poisoned.has(target.key)).toBe(false);
          expect(deletedByStore.has(idOfTarget(target))).toBe(true);
        }
        const error = refusal();
        for (const failure of report.failed) {
          expect(failure).toStrictEqual({
            target: failure.target,
            code: error.name,
            message: error.message,
            retryable: false,
          });
        }
        const poisonTargets = distinct.filter((id) => poisoned.has(JSON.parse(id)[1] as string));
        // Each refused key costs at most two requests at each of at most ⌈log2 1000⌉ levels.
        expect(extra).toBeLessThanOrEqual(2 * poisonTargets.length * Math.ceil(Math.log2(1000)));
        // Every split spends two requests: below MAX_SPLIT_REQUESTS - 1, none was refused for want of them.
        if (extra < MAX_SPLIT_REQUESTS - 1) {
          expect(report.failed.map(({ target }) => idOfTarget(target)).sort()).toStrictEqual(poisonTargets.sort());
        }
      }),
      { numRuns: propertyRuns(100) },
    );
  }, 180_000);
});
