import { afterEach, describe, expect, it, vi } from "vitest";
import {
  ABORTED,
  abortable,
  followSignal,
  invocationSignal,
  sendOptions,
  sleep,
  TimeBudgetExceeded,
} from "../src/abort.js";
import { deferred, settle } from "./fake-clock.js";

afterEach(() => {
  vi.useRealTimers();
});

/**
 * How a promise stands once pending callbacks have run: settled with a value or a reason, or still
 * pending. Runs on microtasks only, so that it works under fake timers too.
 */
async function stateOf<T>(promise: Promise<T>) {
  let state: "pending" | { resolved: T } | { rejected: unknown } = "pending";
  promise.then(
    (value) => {
      state = { resolved: value };
    },
    (reason: unknown) => {
      state = { rejected: reason };
    },
  );
  for (let turn = 0; turn < 20; turn++) await Promise.resolve();
  return state;
}

/** Collects the unhandled rejections Node reports while `act` runs and one macrotask turn after. */
async function unhandledRejectionsDuring(act: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => {
    seen.push(reason);
  };
  process.on("unhandledRejection", listener);
  try {
    await act();
    await settle();
    await settle();
  } finally {
    process.off("unhandledRejection", listener);
  }
  return seen;
}

/** The warnings Node emits while 20 abort listeners are added to `signal`. */
async function warningsFor(signal: AbortSignal): Promise<string[]> {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.name);
  process.on("warning", onWarning);
  for (let i = 0; i < 20; i++) signal.addEventListener("abort", () => {});
  await settle();
  process.off("warning", onWarning);
  return warnings;
}

describe("abortable", () => {
  it("resolves as the promise does while the signal has not fired", async () => {
    // Prepare
    const controller = new AbortController();

    // Act
    const value = await abortable(Promise.resolve("listed"), controller.signal);

    // Assess
    expect(value).toBe("listed");
  });

  it("rejects as the promise does while the signal has not fired", async () => {
    // Prepare
    const controller = new AbortController();
    const failure = new Error("SlowDown");

    // Act
    const outcome = abortable(Promise.reject(failure), controller.signal);

    // Assess
    await expect(outcome).rejects.toBe(failure);
  });

  it("rejects with the signal's reason as soon as it fires, without waiting for the promise", async () => {
    // Prepare
    const controller = new AbortController();
    const never = new Promise<string>(() => {});
    const reason = new TimeBudgetExceeded("time is up");
    const outcome = abortable(never, controller.signal);
    const before = await stateOf(outcome);

    // Act
    controller.abort(reason);

    // Assess
    expect(before).toBe("pending");
    expect(await stateOf(outcome)).toStrictEqual({ rejected: reason });
  });

  it("ignores what the promise does after the signal fired, a rejection included (never unhandled)", async () => {
    // Prepare
    const controller = new AbortController();
    const inner = deferred<string>();
    const reason = new Error("time is up");
    const outcome = abortable(inner.promise, controller.signal);
    outcome.catch(() => {});

    // Act
    const unhandled = await unhandledRejectionsDuring(async () => {
      controller.abort(reason);
      await settle();
      inner.reject(new Error("the request failed late"));
    });

    // Assess
    expect(unhandled).toStrictEqual([]);
    await expect(outcome).rejects.toBe(reason);
  });

  it("rejects at once with the reason when the signal has already fired, and a later rejection is never unhandled", async () => {
    // Prepare
    const controller = new AbortController();
    const reason = new Error("time was up before");
    controller.abort(reason);
    const inner = deferred<string>();
    let outcome: Promise<string> | undefined;

    // Act
    const unhandled = await unhandledRejectionsDuring(async () => {
      outcome = abortable(inner.promise, controller.signal);
      outcome.catch(() => {});
      await settle();
      inner.reject(new Error("the request failed late"));
    });

    // Assess
    expect(unhandled).toStrictEqual([]);
    await expect(outcome).rejects.toBe(reason);
  });

  it("ignores a signal that fires after the promise settled, and stops listening to it", async () => {
    // Prepare
    const controller = new AbortController();
    const removed = vi.spyOn(controller.signal, "removeEventListener");

    // Act
    const resolved = await abortable(Promise.resolve("done"), controller.signal);
    const rejected = await abortable(Promise.reject(new Error("failed")), controller.signal).catch(
      (error: Error) => error.message,
    );
    controller.abort(new Error("too late"));

    // Assess
    expect([resolved, rejected]).toStrictEqual(["done", "failed"]);
    expect(removed).toHaveBeenCalledTimes(2);
    expect(removed.mock.calls.every(([type]) => type === "abort")).toBe(true);
  });

  it.each([
    ["resolves", () => Promise.resolve(7), { resolved: 7 }],
    ["rejects", () => Promise.reject(new Error("no")), { rejected: new Error("no") }],
  ])("without a signal, %s as the promise does", async (_name, promise, expected) => {
    // Act
    const state = await stateOf(abortable(promise(), undefined));

    // Assess
    expect(state).toStrictEqual(expected);
  });

  it("takes any thenable", async () => {
    // Prepare
    const thenable: PromiseLike<string> = {
      // biome-ignore lint/suspicious/noThenProperty: a thenable is what this test is about
      then: (onFulfilled, onRejected) => Promise.resolve("from a thenable").then(onFulfilled, onRejected),
    };

    // Act
    const values = [await abortable(thenable, undefined), await abortable(thenable, new AbortController().signal)];

    // Assess
    expect(values).toStrictEqual(["from a thenable", "from a thenable"]);
  });
});

describe("sleep", () => {
  it("resolves after the time given, not before", async () => {
    // Prepare
    vi.useFakeTimers();
    const waiting = sleep(1000);

    // Act
    await vi.advanceTimersByTimeAsync(999);
    const before = await stateOf(waiting);
    await vi.advanceTimersByTimeAsync(1);

    // Assess
    expect(before).toBe("pending");
    expect(await stateOf(waiting)).toStrictEqual({ resolved: undefined });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("rejects with the signal's reason when it fires first, and clears its timer", async () => {
    // Prepare
    vi.useFakeTimers();
    const controller = new AbortController();
    const reason = new Error("time is up");
    const waiting = sleep(1000, controller.signal);
    await vi.advanceTimersByTimeAsync(300);

    // Act
    controller.abort(reason);
    const state = await stateOf(waiting);

    // Assess
    expect(state).toStrictEqual({ rejected: reason });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("rejects at once, leaving no timer, when the signal has already fired", async () => {
    // Prepare
    vi.useFakeTimers();
    const controller = new AbortController();
    controller.abort(new Error("time was up before"));

    // Act
    const state = await stateOf(sleep(1000, controller.signal));

    // Assess
    expect(state).toStrictEqual({ rejected: controller.signal.reason });
    expect(vi.getTimerCount()).toBe(0);
  });

  it("resolves after the time given when the signal does not fire", async () => {
    // Prepare
    vi.useFakeTimers();
    const waiting = sleep(50, new AbortController().signal);

    // Act
    await vi.advanceTimersByTimeAsync(50);

    // Assess
    expect(await stateOf(waiting)).toStrictEqual({ resolved: undefined });
  });
});

describe("invocationSignal", () => {
  it("gives signals that take any number of listeners without Node's warning", async () => {
    // Prepare
    const { signal, mappingSignal, dispose } = invocationSignal({ getRemainingTimeInMillis: () => 10_000 }, 2000);

    // Act
    const warnings = [...(await warningsFor(signal)), ...(await warningsFor(mappingSignal))];
    dispose();

    // Assess
    expect(warnings).toStrictEqual([]);
  });

  const contextWith = (remaining: number) => ({ getRemainingTimeInMillis: vi.fn(() => remaining) });
  const END = "the invocation's time budget ran out: 500 ms (timeoutMarginMs) before the function's timeout";
  const HALFWAY =
    "half of the invocation's time budget went to key functions: the other half is left to delete what they mapped";

  it("fires `signal` timeoutMarginMs before the function's timeout, not before, with a TimeBudgetExceeded", async () => {
    // Prepare
    vi.useFakeTimers();
    const context = contextWith(3000);
    const { signal, dispose } = invocationSignal(context, 500);

    // Act
    await vi.advanceTimersByTimeAsync(2499);
    const abortedBefore = signal.aborted;
    await vi.advanceTimersByTimeAsync(1);

    // Assess
    expect(abortedBefore).toBe(false);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(TimeBudgetExceeded);
    expect(signal.reason).toBeInstanceOf(Error);
    expect(signal.reason.name).toBe("TimeBudgetExceeded");
    expect(signal.reason.message).toBe(END);
    expect(context.getRemainingTimeInMillis).toHaveBeenCalledTimes(1);
    dispose();
  });

  it("fires `mappingSignal` halfway to `signal`, not before, with its own TimeBudgetExceeded", async () => {
    // Prepare
    vi.useFakeTimers();
    const { signal, mappingSignal, dispose } = invocationSignal(contextWith(3000), 500);

    // Act
    await vi.advanceTimersByTimeAsync(1249);
    const abortedBefore = mappingSignal.aborted;
    await vi.advanceTimersByTimeAsync(1);
    const atHalfway = { mapping: mappingSignal.aborted, end: signal.aborted };
    await vi.advanceTimersByTimeAsync(1250);

    // Assess
    expect(abortedBefore).toBe(false);
    expect(atHalfway).toStrictEqual({ mapping: true, end: false });
    expect(mappingSignal.reason).toBeInstanceOf(TimeBudgetExceeded);
    expect(mappingSignal.reason.message).toBe(HALFWAY);
    expect(signal.reason.message).toBe(END);
    dispose();
  });

  it.each([
    ["the time left equals the margin", 500, 500],
    ["less time is left than the margin", 100, 500],
    ["no time is left", 0, 0],
    ["the time left is negative", -5, 100],
  ])("fires both signals at once, with the end's reason, when %s", (_name, remaining, margin) => {
    // Prepare
    vi.useFakeTimers();

    // Act
    const { signal, mappingSignal, dispose } = invocationSignal(contextWith(remaining), margin);

    // Assess
    expect([signal.aborted, mappingSignal.aborted]).toStrictEqual([true, true]);
    expect(signal.reason).toBeInstanceOf(TimeBudgetExceeded);
    expect(signal.reason.message).toContain(`${margin} ms (timeoutMarginMs)`);
    expect(mappingSignal.reason).toBe(signal.reason);
    expect(vi.getTimerCount()).toBe(0);
    dispose();
  });

  it.each([
    ["without a context", undefined],
    ["without getRemainingTimeInMillis", {}],
    ["when it returns NaN", contextWith(Number.NaN)],
    ["when it returns Infinity", contextWith(Number.POSITIVE_INFINITY)],
    ["when it returns something other than a number", { getRemainingTimeInMillis: () => "3000" as unknown as number }],
  ])("never fires %s", async (_name, context) => {
    // Prepare
    vi.useFakeTimers();

    // Act
    const { signal, mappingSignal, dispose } = invocationSignal(context, 500);
    await vi.advanceTimersByTimeAsync(1e9);

    // Assess
    expect([signal.aborted, mappingSignal.aborted]).toStrictEqual([false, false]);
    expect(vi.getTimerCount()).toBe(0);
    dispose();
  });

  it("clears its timers on dispose, so that neither signal fires", async () => {
    // Prepare
    vi.useFakeTimers();
    const { signal, mappingSignal, dispose } = invocationSignal(contextWith(3000), 500);
    const timersBefore = vi.getTimerCount();

    // Act
    dispose();
    await vi.advanceTimersByTimeAsync(10_000);

    // Assess
    expect(timersBefore).toBe(2);
    expect(vi.getTimerCount()).toBe(0);
    expect([signal.aborted, mappingSignal.aborted]).toStrictEqual([false, false]);
  });

  it("clears the end's timer on dispose after the mapping signal fired", async () => {
    // Prepare
    vi.useFakeTimers();
    const { signal, mappingSignal, dispose } = invocationSignal(contextWith(3000), 500);
    await vi.advanceTimersByTimeAsync(1250);

    // Act
    dispose();
    await vi.advanceTimersByTimeAsync(10_000);

    // Assess
    expect([signal.aborted, mappingSignal.aborted]).toStrictEqual([false, true]);
  });

  it("keeps no process alive with its timers", () => {
    // Prepare
    const setTimeoutSpy = vi.spyOn(globalThis, "setTimeout");

    // Act
    const { dispose } = invocationSignal(contextWith(60_000), 500);
    const timers = setTimeoutSpy.mock.results.map((result) => result.value as NodeJS.Timeout);
    const refs = timers.map((timer) => timer.hasRef());
    dispose();
    setTimeoutSpy.mockRestore();

    // Assess
    expect(refs).toStrictEqual([false, false]);
  });

  it("gives each call its own signals", () => {
    // Prepare
    vi.useFakeTimers();

    // Act
    const first = invocationSignal(contextWith(0), 500);
    const second = invocationSignal(contextWith(3000), 500);

    // Assess
    expect([first.signal.aborted, second.signal.aborted, second.mappingSignal.aborted]).toStrictEqual([
      true,
      false,
      false,
    ]);
    second.dispose();
  });
});

describe("followSignal", () => {
  it("fires with the signal it follows, and its reason", () => {
    // Prepare
    const controller = new AbortController();
    const reason = new Error("stop");
    const { signal } = followSignal(controller.signal);

    // Act
    controller.abort(reason);

    // Assess
    expect(signal).not.toBe(controller.signal);
    expect([signal.aborted, signal.reason]).toStrictEqual([true, reason]);
  });

  it("has fired already when the signal it follows has", () => {
    const reason = new Error("early");
    expect(followSignal(AbortSignal.abort(reason)).signal.reason).toBe(reason);
  });

  it("never fires without a signal to follow", () => {
    // Act
    const { signal, dispose } = followSignal(undefined);
    dispose();

    // Assess
    expect(signal.aborted).toBe(false);
  });

  it("stops following once disposed", () => {
    // Prepare
    const controller = new AbortController();
    const { signal, dispose } = followSignal(controller.signal);

    // Act
    dispose();
    controller.abort(new Error("too late"));

    // Assess
    expect(signal.aborted).toBe(false);
  });

  it("takes any number of listeners without Node's warning", async () => {
    await expect(warningsFor(followSignal(undefined).signal)).resolves.toStrictEqual([]);
  });
});

describe("sendOptions", () => {
  it("passes the signal on as abortSignal", () => {
    // Prepare
    const { signal } = new AbortController();

    // Act
    const options = sendOptions(signal);

    // Assess
    expect(options).toStrictEqual({ abortSignal: signal });
    expect(options.abortSignal).toBe(signal);
  });

  it("gives no options without a signal", () => {
    // Act
    const options = sendOptions(undefined);

    // Assess
    expect(options).toStrictEqual({});
  });
});

describe("ABORTED", () => {
  it('is the code "Aborted"', () => {
    expect(ABORTED).toBe("Aborted");
  });
});
