import { afterEach, describe, expect, it } from "vitest";
import { createBatchDeleter, type ObjectTarget } from "../src/index.js";
import {
  createSendRate,
  DECREASE,
  INCREASE,
  isThrottling,
  MIN_RATE,
  RELAX_MS,
  S3_DELETE_RATE,
} from "../src/send-rate.js";
import { escapeXml, startFakeStore, stopFakeStores, unescapeXml, xmlError } from "./fake-s3-store.js";

afterEach(stopFakeStores);

/** A send rate on a clock the test moves: every wait is recorded and moves the clock by its length. */
function setup() {
  let time = 1_000_000;
  const waits: number[] = [];
  const rate = createSendRate(
    async (ms) => {
      waits.push(ms);
      time += ms;
    },
    () => time,
  );
  return { rate, waits, advance: (ms: number) => (time += ms) };
}

describe("createSendRate", () => {
  it("paces nothing until S3 throttles", async () => {
    // Prepare
    const { rate, waits } = setup();

    // Act
    for (let i = 0; i < 5; i++) rate.settle(await rate.acquire(1000, undefined), 1000, 0);

    // Assess
    expect(waits).toStrictEqual([]);
    expect(rate.rate).toBeUndefined();
  });

  it("paces at S3's documented rate after the first throttle, spacing requests by their keys", async () => {
    // Prepare
    const { rate, waits } = setup();
    rate.settle(await rate.acquire(1000, undefined), 1000, 1);

    // Act
    await rate.acquire(1000, undefined);
    await rate.acquire(500, undefined);

    // Assess
    const pace = S3_DELETE_RATE;
    expect(rate.rate).toBe(pace);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeCloseTo((1000 / pace) * 1000, 6);
  });

  it("decreases once for the throttles of requests sent at the same pace, and again for one sent after", async () => {
    // Prepare
    const { rate } = setup();
    const first = await rate.acquire(10, undefined);
    const second = await rate.acquire(10, undefined);

    // Act
    rate.settle(first, 10, 10);
    rate.settle(second, 10, 10);
    const paced = rate.rate;
    rate.settle(await rate.acquire(10, undefined), 10, 3);

    // Assess
    expect(paced).toBe(S3_DELETE_RATE);
    expect(rate.rate).toBe(S3_DELETE_RATE * DECREASE);
  });

  it("adds its share of the keys of each request that was not throttled, and nothing for one sent before the last decrease", async () => {
    // Prepare
    const { rate } = setup();
    const old = await rate.acquire(1000, undefined);
    rate.settle(await rate.acquire(1000, undefined), 1000, 1);

    // Act
    rate.settle(await rate.acquire(1000, undefined), 1000, 0);
    rate.settle(old, 1000, 0);

    // Assess
    expect(rate.rate).toBe(S3_DELETE_RATE + INCREASE * 1000);
  });

  it(`never paces below ${MIN_RATE} keys a second`, async () => {
    // Prepare
    const { rate } = setup();

    // Act
    for (let i = 0; i < 200; i++) rate.settle(await rate.acquire(1, undefined), 1, 1);

    // Assess
    expect(rate.rate).toBe(MIN_RATE);
  });

  it("stops pacing once no throttle came for a while, and starts again at the next", async () => {
    // Prepare
    const { rate, waits, advance } = setup();
    rate.settle(await rate.acquire(1000, undefined), 1000, 1000);

    // Act
    advance(RELAX_MS + 1);
    await rate.acquire(1000, undefined);
    await rate.acquire(1000, undefined);

    // Assess
    expect(rate.rate).toBeUndefined();
    expect(waits).toStrictEqual([]);
  });

  it("rejects a wait with the signal's reason when it fires", async () => {
    // Prepare
    const rate = createSendRate(
      (_ms, signal) => new Promise((_, reject) => signal?.addEventListener("abort", () => reject(signal.reason))),
    );
    rate.settle(await rate.acquire(1000, undefined), 1000, 1);
    await rate.acquire(1000, undefined);
    const controller = new AbortController();
    const reason = new Error("time is up");

    // Act
    const waiting = rate.acquire(1000, controller.signal);
    controller.abort(reason);

    // Assess
    await expect(waiting).rejects.toBe(reason);
  });

  it.each([
    ["SlowDown", true],
    ["Throttling", true],
    ["ThrottlingException", true],
    ["RequestLimitExceeded", true],
    ["TooManyRequests", true],
    ["InternalError", false],
    ["AccessDenied", false],
  ])("counts %s as a throttle: %s", (code, throttling) => {
    expect(isThrottling(code)).toBe(throttling);
  });
});

describe("the deleter's pace, against a store on loopback", () => {
  const BUCKET = "product-images";
  const targets = (count: number): ObjectTarget[] =>
    Array.from({ length: count }, (_, i) => ({ bucket: BUCKET, key: `images/${i}.png` }));

  /** A store that answers the first `throttled` delete requests as `refuse` says, and deletes the rest. */
  async function store(throttled: number, refuse: "503" | "per-key") {
    let deletes = 0;
    return startFakeStore(({ method, body }, answer) => {
      if (method !== "POST" && method !== "DELETE") return answer(404, xmlError("NoSuchKey", "no"));
      const throttle = deletes++ < throttled;
      if (method === "DELETE")
        return throttle ? answer(503, xmlError("SlowDown", "Reduce your request rate.")) : answer(204);
      if (throttle && refuse === "503") return answer(503, xmlError("SlowDown", "Reduce your request rate."));
      const keys = [...body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((match) => unescapeXml(match[1] as string));
      const errors = throttle
        ? keys.map(
            (key) =>
              `<Error><Key>${escapeXml(key)}</Key><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>`,
          )
        : [];
      return answer(200, `<?xml version="1.0" encoding="UTF-8"?><DeleteResult>${errors.join("")}</DeleteResult>`);
    });
  }

  it.each(["503", "per-key"] as const)(
    "paces every attempt after a %s SlowDown, the SDK's own retries included, and deletes everything",
    async (refuse) => {
      // Prepare
      const { client, requests } = await store(1, refuse);
      const waits: number[] = [];
      const deleteObjects = createBatchDeleter({
        s3Client: client,
        concurrency: 1,
        random: () => 0,
        sleep: async (ms) => {
          waits.push(ms);
        },
      });

      // Act
      const report = await deleteObjects(targets(2500));

      // Assess
      expect(report.failed).toStrictEqual([]);
      expect(report.deleted).toHaveLength(2500);
      expect(requests.filter((request) => request.method === "POST")).toHaveLength(4);
      // The first request went unpaced; after its SlowDown each later one waited for its turn.
      expect(waits.filter((ms) => ms > 0).length).toBeGreaterThanOrEqual(2);
    },
  );

  it("sends at full speed with adaptiveRate: false", async () => {
    // Prepare
    const { client } = await store(1, "per-key");
    const waits: number[] = [];
    const deleteObjects = createBatchDeleter({
      s3Client: client,
      concurrency: 1,
      random: () => 0,
      adaptiveRate: false,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });

    // Act
    const report = await deleteObjects(targets(2500));

    // Assess
    expect(report.deleted).toHaveLength(2500);
    expect(waits).toStrictEqual([0]);
  });

  it("learns from a single DeleteObject refused with 503 too: the batches after it are paced", async () => {
    // Prepare
    const { client } = await store(1, "503");
    const waits: number[] = [];
    const deleteObjects = createBatchDeleter({
      s3Client: client,
      concurrency: 1,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });

    // Act: a key with a line end goes as a single DeleteObject, first; the others in batches after it
    const report = await deleteObjects([{ bucket: BUCKET, key: "a\n.png" }, ...targets(3000)]);

    // Assess
    expect(report.deleted).toHaveLength(3001);
    expect(waits.filter((ms) => ms > 0).length).toBeGreaterThanOrEqual(2);
  });
});
