/**
 * Conditional deletes on the wire: a real @aws-sdk/client-s3 talks to a node:http store on loopback
 * that checks conditions as S3 does (per-object `<ETag>` in a DeleteObjects body, `If-Match` on a
 * DeleteObject). moto, the integration tests' server, checks If-Match on DeleteObject but ignores a
 * DeleteObjects body's ETag, so the batch path is proven here (test/integration/etag.test.ts covers
 * the single path on moto).
 */
import { afterEach, describe, expect, it } from "vitest";
import { createBatchDeleter, type ObjectTarget } from "../src/index.js";
import { escapeXml, startFakeStore, stopFakeStores, unescapeXml, xmlError } from "./fake-s3-store.js";

const BUCKET = "conditional-store";
const OLD = '"0cc175b9c0f1b6a831c399e269772661"';
const NEW = '"92eb5ffee6ae2fec3ad71c777531578f"';
const OTHER = '"4a8a08f09d37b73795649038408b5f33"';

/** One `<Object>` of a DeleteObjects body, unescaped. */
interface BodyObject {
  key: string;
  etag: string | undefined;
}

/** The objects of a DeleteObjects body, in order. */
function bodyObjects(body: string): BodyObject[] {
  return [...body.matchAll(/<Object>(.*?)<\/Object>/gs)].map(([, inner]) => {
    const element = (name: string) => new RegExp(`<${name}>(.*?)</${name}>`, "s").exec(inner as string)?.[1];
    const etag = element("ETag");
    return { key: unescapeXml(element("Key") ?? ""), etag: etag === undefined ? undefined : unescapeXml(etag) };
  });
}

const PRECONDITION_MESSAGE = "At least one of the pre-conditions you specified did not hold";
const NO_SUCH_KEY_MESSAGE = "The specified key does not exist.";

afterEach(stopFakeStores);

/**
 * Starts a store holding `objects` (key to ETag). It deletes an object sent with an ETag only when
 * the ETag is the object's: a mismatch answers PreconditionFailed, a missing object NoSuchKey, per
 * object in a DeleteObjects answer and as HTTP 412 or 404 to a DeleteObject. With `refuseChecksum`,
 * it refuses every DeleteObjects request with MissingContentMD5, as older stores do.
 */
async function startStore(objects: Record<string, string>, { refuseChecksum = false } = {}) {
  const stored = new Map(Object.entries(objects));
  /** Deletes `key` when `etag` allows it; returns the error code otherwise. */
  const conditionalDelete = (key: string, etag: string | undefined): string | undefined => {
    const current = stored.get(key);
    if (etag !== undefined && current === undefined) return "NoSuchKey";
    if (etag !== undefined && etag !== current) return "PreconditionFailed";
    stored.delete(key);
    return undefined;
  };
  const { client, requests } = await startFakeStore(({ method, url, key, headers, body }, answer) => {
    if (method === "POST" && url.searchParams.has("delete")) {
      if (refuseChecksum) return answer(400, xmlError("MissingContentMD5", "Missing required header: Content-Md5."));
      const errors = bodyObjects(body).flatMap(({ key: objectKey, etag }) => {
        const code = conditionalDelete(objectKey, etag);
        return code === undefined
          ? []
          : [
              `<Error><Key>${escapeXml(objectKey)}</Key><Code>${code}</Code><Message>${code === "NoSuchKey" ? NO_SUCH_KEY_MESSAGE : PRECONDITION_MESSAGE}</Message></Error>`,
            ];
      });
      return answer(200, `<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult>${errors.join("")}</DeleteResult>`);
    }
    if (method === "DELETE") {
      const code = conditionalDelete(key, headers["if-match"] as string | undefined);
      if (code === "NoSuchKey") return answer(404, xmlError(code, NO_SUCH_KEY_MESSAGE));
      if (code === "PreconditionFailed") return answer(412, xmlError(code, PRECONDITION_MESSAGE));
      return answer(204);
    }
    return answer(405, xmlError("MethodNotAllowed", "The specified method is not allowed"));
  });
  return { client, stored, requests };
}

const object = (key: string, etag?: string): ObjectTarget =>
  etag === undefined ? { bucket: BUCKET, key } : { bucket: BUCKET, key, etag };

describe("conditional deletes in a DeleteObjects body", () => {
  it("sends each etag in its object's ETag element: the replaced object is kept, the unchanged and the missing ones count as deleted", async () => {
    // Prepare
    const { client, stored, requests } = await startStore({ "a.png": NEW, "b.png": OLD, "d.png": OTHER });
    const deleteObjects = createBatchDeleter({ s3Client: client });
    const stale = object("a.png", OLD);
    const unchanged = object("b.png", OLD);
    const missing = object("c.png", OLD);
    const unconditional = object("d.png");

    // Act
    const report = await deleteObjects([stale, unchanged, missing, unconditional]);

    // Assess
    expect(requests.map(({ method }) => method)).toStrictEqual(["POST"]);
    expect(bodyObjects(requests[0]?.body ?? "")).toStrictEqual([
      { key: "a.png", etag: OLD },
      { key: "b.png", etag: OLD },
      { key: "c.png", etag: OLD },
      { key: "d.png", etag: undefined },
    ]);
    expect([...stored]).toStrictEqual([["a.png", NEW]]);
    expect(report).toStrictEqual({ deleted: [unchanged, missing, unconditional], failed: [], keptReplaced: [stale] });
  });

  it.each([
    ["current first", [NEW, OLD], ["DELETE", OLD], { deleted: [NEW], keptReplaced: [OLD] }],
    ["stale first", [OLD, NEW], ["DELETE", NEW], { deleted: [OLD, NEW], keptReplaced: [] }],
  ] as const)(
    "deletes one key removed by two records with different etags (%s) once, the second delete alone: the object goes, the stale delete is kept or finds it gone",
    async (_, etags, single, outcome) => {
      // Prepare
      const { client, stored, requests } = await startStore({ "a.png": NEW });
      // One request at a time: the single delete, queued first, runs before the batch.
      const deleteObjects = createBatchDeleter({ s3Client: client, concurrency: 1 });
      const targets = etags.map((etag) => object("a.png", etag));

      // Act
      const report = await deleteObjects(targets);

      // Assess
      expect(requests.map(({ method, headers }) => [method, headers["if-match"]])).toStrictEqual([
        single,
        ["POST", undefined],
      ]);
      expect(bodyObjects(requests[1]?.body ?? "")).toStrictEqual([{ key: "a.png", etag: etags[0] }]);
      expect(stored.size).toBe(0);
      expect(report).toStrictEqual({
        deleted: outcome.deleted.map((etag) => object("a.png", etag)),
        failed: [],
        keptReplaced: outcome.keptReplaced.map((etag) => object("a.png", etag)),
      });
    },
  );
});

describe("conditional deletes with single DeleteObject calls", () => {
  it("sends the etag as the If-Match header for a key XML cannot carry: 412 keeps the object, 404 counts as deleted", async () => {
    // Prepare
    const replacedKey = "odd\u0001replaced.png";
    const unchangedKey = "line\nunchanged.png";
    const { client, stored, requests } = await startStore({ [replacedKey]: NEW, [unchangedKey]: OLD });
    const deleteObjects = createBatchDeleter({ s3Client: client });
    const stale = object(replacedKey, OLD);
    const unchanged = object(unchangedKey, OLD);
    const missing = object("odd\u0001missing.png", OLD);

    // Act
    const report = await deleteObjects([stale, unchanged, missing]);

    // Assess
    expect(requests.map(({ method, key, headers }) => [method, key, headers["if-match"]])).toStrictEqual([
      ["DELETE", replacedKey, OLD],
      ["DELETE", unchangedKey, OLD],
      ["DELETE", "odd\u0001missing.png", OLD],
    ]);
    expect([...stored]).toStrictEqual([[replacedKey, NEW]]);
    expect(report).toStrictEqual({ deleted: [unchanged, missing], failed: [], keptReplaced: [stale] });
  });

  it("sends no If-Match for a target without etag", async () => {
    // Prepare
    const { client, stored, requests } = await startStore({ "odd\u0001.png": NEW });
    const deleteObjects = createBatchDeleter({ s3Client: client });

    // Act
    const report = await deleteObjects([object("odd\u0001.png")]);

    // Assess
    expect(requests[0]?.headers).not.toHaveProperty("if-match");
    expect(stored.size).toBe(0);
    expect(report.deleted).toStrictEqual([object("odd\u0001.png")]);
  });

  it("sends If-Match on the fallback to single deletes when the store refuses the DeleteObjects checksum", async () => {
    // Prepare
    const { client, stored, requests } = await startStore({ "a.png": NEW, "b.png": OLD }, { refuseChecksum: true });
    const deleteObjects = createBatchDeleter({ s3Client: client, concurrency: 1 });
    const stale = object("a.png", OLD);
    const unchanged = object("b.png", OLD);

    // Act
    const report = await deleteObjects([stale, unchanged]);

    // Assess
    expect(requests.map(({ method, headers }) => [method, headers["if-match"]])).toStrictEqual([
      ["POST", undefined],
      ["DELETE", OLD],
      ["DELETE", OLD],
    ]);
    expect([...stored]).toStrictEqual([["a.png", NEW]]);
    expect(report).toStrictEqual({
      deleted: [unchanged],
      failed: [],
      keptReplaced: [stale],
      fallback: "single-deletes",
    });
  });
});
