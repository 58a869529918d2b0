/**
 * Send rate: paces delete requests in keys per second once S3 has said SlowDown, and adapts the
 * pace (AIMD: additive increase, multiplicative decrease), so that a throttled cleanup deletes at
 * about the rate S3 allows instead of spending its requests on refusals.
 *
 * - Until S3 first throttles, nothing is paced.
 * - The first throttle sets the pace to S3's documented rate per prefix, 3,500 DELETE/s
 *   (REFERENCE §5); every later one multiplies the pace by {@link DECREASE}. A throttle counts once
 *   per pace: refusals of requests sent before the last decrease are not news.
 * - Each request that comes back without a throttle raises the pace by {@link INCREASE} of its
 *   keys: about 1% per second of sending.
 * - After {@link RELAX_MS} without a throttle, pacing stops until the next one.
 *
 * One per deleter or handler, shared by its calls: S3's limits are per prefix, not per invocation.
 */
import { abortable, sleep } from "./abort.js";

/** S3's documented DELETE rate per partitioned prefix, in keys per second: the pace after the first throttle. */
export const S3_DELETE_RATE = 3500;
/** The factor a throttle multiplies the pace by. */
export const DECREASE = 0.9;
/** The share of its keys a request that was not throttled adds to the pace, in keys per second. */
export const INCREASE = 0.01;
/** The slowest pace, in keys per second. */
export const MIN_RATE = 10;
/** How long after the last throttle pacing stops, in ms. */
export const RELAX_MS = 60_000;

/** Codes S3 (or the SDK) uses to say "slow down". */
const THROTTLING = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TooManyRequests",
]);

/** True for a code that says the request rate is too high. */
export function isThrottling(code: string): boolean {
  return THROTTLING.has(code);
}

/** When a request was let go, to tell its answer's news from old news. */
export interface SendTicket {
  pace: number;
}

/** Paces requests and learns from their answers. */
export interface SendRate {
  /** Waits until `keys` may be sent at the current pace (rejects when the signal fires). */
  acquire(keys: number, signal: AbortSignal | undefined): Promise<SendTicket>;
  /** Tells how a request sent with `ticket` went: of its `keys`, how many S3 throttled. */
  settle(ticket: SendTicket, keys: number, throttled: number): void;
  /** The current pace in keys per second, or undefined while nothing is paced. */
  readonly rate: number | undefined;
}

/**
 * Creates a send rate. `wait` is how it waits for a request's turn (the deleter's `sleep`, which the
 * signal cuts short); `now` is its clock in ms.
 */
export function createSendRate(
  wait: (ms: number, signal: AbortSignal | undefined) => Promise<void> = sleep,
  now: () => number = Date.now,
): SendRate {
  let rate: number | undefined;
  /** Counts decreases: a ticket from an older pace brings no news. */
  let pace = 0;
  let lastThrottle = Number.NEGATIVE_INFINITY;
  /** When the next request may go, in ms: requests are spaced by their keys at the pace. */
  let next = 0;
  return {
    get rate() {
      return rate;
    },
    async acquire(keys, signal) {
      const time = now();
      if (rate !== undefined && time - lastThrottle > RELAX_MS) rate = undefined;
      if (rate === undefined) return { pace };
      const start = Math.max(time, next);
      next = start + (keys / rate) * 1000;
      if (start > time) await abortable(wait(start - time, signal), signal);
      return { pace };
    },
    settle(ticket, keys, throttled) {
      if (throttled > 0) {
        lastThrottle = now();
        if (ticket.pace !== pace) return;
        pace++;
        rate = rate === undefined ? S3_DELETE_RATE : Math.max(MIN_RATE, rate * DECREASE);
      } else if (rate !== undefined && ticket.pace === pace) {
        rate += INCREASE * keys;
      }
    },
  };
}
