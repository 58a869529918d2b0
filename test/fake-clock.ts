/**
 * Fake time for the deleter: a clock whose `sleep` records the delay, advances the clock by it and
 * resolves at once, so that no test waits on real time.
 */

export interface FakeClock {
  /** The clock, in milliseconds; pass it as the deleter's `now`. */
  now: () => number;
  /** Records `ms`, advances the clock by it and resolves; pass it as the deleter's `sleep`. */
  sleep: (ms: number) => Promise<void>;
  /** Moves the clock forward, as time spent in a request would. */
  advance: (ms: number) => void;
  /** Every delay passed to `sleep`, in call order. */
  readonly delays: number[];
}

/** The time a fake clock starts at, in ms (2026-11-27T00:00:00Z). */
export const CLOCK_START = 1_795_737_600_000;

/** Creates a fake clock starting at `start`. */
export function createFakeClock(start = CLOCK_START): FakeClock {
  let time = start;
  const delays: number[] = [];
  return {
    now: () => time,
    sleep: async (ms) => {
      delays.push(ms);
      time += ms;
    },
    advance: (ms) => {
      time += ms;
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
