/**
 * Cancellation: one AbortSignal bounds an invocation's work. Everything that waits (S3 requests,
 * backoff, listings, key functions, a slot of the limiter) waits on it through {@link abortable},
 * so that the work returns when the signal fires even if what it waits on ignores the signal.
 */
import { setMaxListeners } from "node:events";

/** The `code` of a failure that the signal cut off: always retryable. */
export const ABORTED = "Aborted";

/**
 * Resolves or rejects as `promise` does, or rejects with the signal's reason as soon as the signal
 * fires, whichever comes first. What `promise` does afterwards is ignored (a rejection included).
 */
export function abortable<T>(promise: PromiseLike<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return Promise.resolve(promise);
  if (signal.aborted) {
    // Whatever it settles to later must not become an unhandled rejection.
    Promise.resolve(promise).catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    Promise.resolve(promise).then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** Waits `ms` milliseconds, or rejects with the signal's reason when it fires first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const waited = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return abortable(waited, signal).finally(() => clearTimeout(timer));
}

/** The reason the handler's signal fires with: the invocation's time budget ran out. */
export class TimeBudgetExceeded extends Error {
  override readonly name = "TimeBudgetExceeded";
}

/** The signals of an invocation, and `dispose` to clear their timers once the work is done. */
export interface InvocationSignal {
  /** Fires at the end of the time budget. */
  signal: AbortSignal;
  /**
   * Fires halfway through the budget, or with `signal`: the end of mapping. Key functions that have
   * not finished by then are cut off, so that the other half is left to delete what was mapped.
   */
  mappingSignal: AbortSignal;
  dispose: () => void;
}

/**
 * The signals of one invocation: `signal` fires `marginMs` before the function's timeout, as
 * `getRemainingTimeInMillis()` tells it when this is called, and `mappingSignal` halfway there.
 * Without that method neither fires.
 */
export function invocationSignal(
  context: { getRemainingTimeInMillis?(): number } | undefined,
  marginMs: number,
): InvocationSignal {
  const end = new AbortController();
  const mapping = new AbortController();
  const signals = { signal: unlimited(end.signal), mappingSignal: unlimited(mapping.signal) };
  const remaining = context?.getRemainingTimeInMillis?.();
  if (typeof remaining !== "number" || !Number.isFinite(remaining)) return { ...signals, dispose: () => {} };
  const reason = new TimeBudgetExceeded(
    `the invocation's time budget ran out: ${marginMs} ms (timeoutMarginMs) before the function's timeout`,
  );
  const fire = () => {
    mapping.abort(reason);
    end.abort(reason);
  };
  const budget = remaining - marginMs;
  if (budget <= 0) {
    fire();
    return { ...signals, dispose: () => {} };
  }
  const halfway = new TimeBudgetExceeded(
    "half of the invocation's time budget went to key functions: the other half is left to delete what they mapped",
  );
  const timers = [setTimeout(() => mapping.abort(halfway), budget / 2), setTimeout(fire, budget)];
  // A Lambda process must not be kept alive by the timers of a finished invocation.
  for (const timer of timers) timer.unref?.();
  return {
    ...signals,
    dispose: () => {
      for (const timer of timers) clearTimeout(timer);
    },
  };
}

/**
 * A signal of the library's own that fires with `signal` (never, without one), and `dispose` to
 * stop following it. Every wait of a call listens to it, so it takes any number of listeners, and
 * the caller's signal gets one.
 */
export function followSignal(signal: AbortSignal | undefined): { signal: AbortSignal; dispose: () => void } {
  const own = new AbortController();
  unlimited(own.signal);
  if (signal === undefined) return { signal: own.signal, dispose: () => {} };
  if (signal.aborted) {
    own.abort(signal.reason);
    return { signal: own.signal, dispose: () => {} };
  }
  const follow = () => own.abort(signal.reason);
  signal.addEventListener("abort", follow, { once: true });
  return { signal: own.signal, dispose: () => signal.removeEventListener("abort", follow) };
}

/**
 * Lifts Node's warning at 10 listeners off a signal of the library's own: every request, wait and
 * limiter slot of a call listens to it while it waits, and there may be many.
 */
function unlimited(signal: AbortSignal): AbortSignal {
  setMaxListeners(0, signal);
  return signal;
}

/** The options of an `S3Client.send` that passes `signal` on, when there is one. */
export function sendOptions(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal === undefined ? {} : { abortSignal: signal };
}

/**
 * The wait before retry `attempt` (1 for the first retry), with full jitter: a random time below
 * `min(capMs, baseMs · 2^(attempt−1))`, so that callers throttled together do not come back together.
 */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  return random() * Math.min(capMs, baseMs * 2 ** (attempt - 1));
}
