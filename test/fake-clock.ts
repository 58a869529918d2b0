/**
 * Fake waits and randomness: a `sleep` that records the delay and resolves at once, so that no test
 * waits on real time (tests that model slow I/O use vitest's fake timers instead); scripted and
 * seeded `random`s; and promises and S3 calls that answer when a test says so.
 */

export interface FakeClock {
  /** Records `ms` and resolves at once; pass it as the deleter's or the handler's `sleep`. */
  sleep: (ms: number) => Promise<void>;
  /** Every delay passed to `sleep`, in call order. */
  readonly delays: number[];
}

/** Creates a fake clock. */
export function createFakeClock(): FakeClock {
  const delays: number[] = [];
  return {
    sleep: async (ms) => {
      delays.push(ms);
    },
    delays,
  };
}

/** A `random` that returns `values` in turn, then repeats the last one. */
export function randomSequence(...values: number[]): () => number {
  let next = 0;
  return () => {
    const value = values[Math.min(next, values.length - 1)] ?? 0;
    next++;
    return value;
  };
}

/** mulberry32: a small seeded PRNG, so that random answers are reproducible from fast-check's seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A promise with its `resolve` and `reject` at hand. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
}

/** Creates a {@link Deferred}. */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run (one macrotask turn; no timer, no real wait). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A fake for an S3 call whose answers the test releases by hand, in the order the calls came,
 * counting the calls started and the most in flight at once. Pass `call` to a mock's `callsFake`.
 */
export function heldCalls<T>(answer: T) {
  const pending: Deferred<T>[] = [];
  const state = { started: 0, inFlight: 0, maxInFlight: 0 };
  let answered = 0;
  const call = (): Promise<T> => {
    const response = deferred<T>();
    pending.push(response);
    state.started++;
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    return response.promise.finally(() => {
      state.inFlight--;
    });
  };
  /** Answers the oldest unanswered call, then lets what it unblocks run. */
  const answerNext = async () => {
    pending[answered++]?.resolve(answer);
    await settle();
  };
  return { call, state, answerNext };
}
