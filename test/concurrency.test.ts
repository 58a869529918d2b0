import { getEventListeners } from "node:events";
import { describe, expect, it, vi } from "vitest";
import { createLimiter, mapInOrder } from "../src/concurrency.js";
import { type Deferred, deferred, settle } from "./fake-clock.js";

/** Tasks whose completion the test controls, counting how many run at once. */
function controlledTasks() {
  const state = { running: 0, maxRunning: 0, started: [] as string[] };
  const gates = new Map<string, Deferred<string>>();
  const task = (name: string) => () => {
    const gate = deferred<string>();
    gates.set(name, gate);
    state.started.push(name);
    state.running++;
    state.maxRunning = Math.max(state.maxRunning, state.running);
    return gate.promise.finally(() => {
      state.running--;
    });
  };
  const finish = async (name: string, value = `${name} done`) => {
    gates.get(name)?.resolve(value);
    await settle();
  };
  const fail = async (name: string, reason: unknown) => {
    gates.get(name)?.reject(reason);
    await settle();
  };
  return { state, task, finish, fail };
}

describe("createLimiter", () => {
  it("runs at most `max` tasks at once", async () => {
    // Prepare
    const limit = createLimiter(2);
    const { state, task, finish } = controlledTasks();

    // Act
    const results = ["a", "b", "c", "d", "e"].map((name) => limit(task(name)));
    await settle();
    const startedAtFirst = [...state.started];
    await finish("a");
    const startedAfterOne = [...state.started];
    for (const name of ["b", "c", "d", "e"]) await finish(name);
    await Promise.all(results);

    // Assess
    expect(startedAtFirst).toStrictEqual(["a", "b"]);
    expect(startedAfterOne).toStrictEqual(["a", "b", "c"]);
    expect(state.maxRunning).toBe(2);
    expect(state.running).toBe(0);
  });

  it("starts queued tasks in the order they were queued", async () => {
    // Prepare
    const limit = createLimiter(1);
    const { state, task, finish } = controlledTasks();

    // Act
    const results = ["first", "second", "third", "fourth"].map((name) => limit(task(name)));
    for (const name of ["first", "second", "third", "fourth"]) await finish(name);
    await Promise.all(results);

    // Assess
    expect(state.started).toStrictEqual(["first", "second", "third", "fourth"]);
    expect(state.maxRunning).toBe(1);
  });

  it("starts a queued task as soon as any running task finishes", async () => {
    // Prepare
    const limit = createLimiter(2);
    const { state, task, finish } = controlledTasks();

    // Act
    const results = ["slow", "fast", "queued"].map((name) => limit(task(name)));
    await settle();
    const startedBefore = [...state.started];
    await finish("fast");
    const startedAfter = [...state.started];
    await finish("slow");
    await finish("queued");
    await Promise.all(results);

    // Assess
    expect(startedBefore).toStrictEqual(["slow", "fast"]);
    expect(startedAfter).toStrictEqual(["slow", "fast", "queued"]);
  });

  it("resolves each call with its own task's result", async () => {
    // Prepare
    const limit = createLimiter(2);

    // Act
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => limit(async () => n * 10)));

    // Assess
    expect(results).toStrictEqual([10, 20, 30, 40, 50]);
  });

  it("rejects with the task's error and frees its slot", async () => {
    // Prepare
    const limit = createLimiter(1);
    const { state, task, finish, fail } = controlledTasks();
    const failure = new Error("S3 is down");

    // Act
    const failing = limit(task("failing"));
    const next = limit(task("next"));
    const failingOutcome = failing.then(
      () => "resolved",
      (error: unknown) => error,
    );
    await settle();
    await fail("failing", failure);
    await finish("next", "next result");

    // Assess
    expect(await failingOutcome).toBe(failure);
    expect(await next).toBe("next result");
    expect(state.started).toStrictEqual(["failing", "next"]);
  });

  it("turns a task that throws before returning a promise into a rejection and frees its slot", async () => {
    // Prepare
    const limit = createLimiter(1);
    const failure = new TypeError("not a function");
    const throwing = (): Promise<string> => {
      throw failure;
    };

    // Act
    const outcome = limit(throwing).then(
      () => "resolved",
      (error: unknown) => error,
    );
    const next = limit(async () => "ran");

    // Assess
    expect(await outcome).toBe(failure);
    expect(await next).toBe("ran");
  });

  it("drains the queue: every task runs once, and new tasks start at once afterwards", async () => {
    // Prepare
    const limit = createLimiter(3);
    const ran: number[] = [];

    // Act
    await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        limit(async () => {
          await settle();
          ran.push(index);
        }),
      ),
    );
    const { state, task, finish } = controlledTasks();
    const later = ["x", "y", "z"].map((name) => limit(task(name)));
    await settle();
    const startedLater = [...state.started];
    for (const name of ["x", "y", "z"]) await finish(name);
    await Promise.all(later);

    // Assess
    expect([...ran].sort((a, b) => a - b)).toStrictEqual(Array.from({ length: 20 }, (_, index) => index));
    expect(startedLater).toStrictEqual(["x", "y", "z"]);
  });

  it("keeps each limiter's bound separate", async () => {
    // Prepare
    const first = createLimiter(1);
    const second = createLimiter(1);
    const { state, task, finish } = controlledTasks();

    // Act
    const results = [first(task("first-a")), second(task("second-a")), first(task("first-b"))];
    await settle();
    const startedAtFirst = [...state.started];
    for (const name of ["first-a", "second-a", "first-b"]) await finish(name);
    await Promise.all(results);

    // Assess
    expect(startedAtFirst).toStrictEqual(["first-a", "second-a"]);
  });

  it("keeps the bound when a task arrives between a slot's release and the queued task's start", async () => {
    // Prepare
    const limit = createLimiter(1);
    const { state, task, finish } = controlledTasks();
    const firstGate = deferred<string>();
    let running = 0;
    let maxRunning = 0;
    const first = () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      return firstGate.promise;
    };
    const counted = (name: string) => {
      const inner = task(name);
      return () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        return inner().finally(() => {
          running--;
        });
      };
    };

    // Act
    const results = [limit(first), limit(counted("queued"))];
    // This callback runs right after the limiter's own reaction to the same promise, which frees the slot.
    const late = firstGate.promise.then(() => {
      running--;
      return limit(counted("late"));
    });
    firstGate.resolve("first done");
    await settle();
    const startedAfterFirst = [...state.started];
    await finish("queued");
    await finish("late");
    await Promise.all([...results, late]);

    // Assess
    expect(startedAfterFirst).toHaveLength(1);
    expect(maxRunning).toBe(1);
  });
});

describe("createLimiter with a signal", () => {
  const reason = new Error("the time budget ran out");

  /** The outcome of a limited call: its value, or its rejection, once settled. */
  const outcomeOf = <T>(call: Promise<T>) =>
    call.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );

  it("rejects every waiting task with the signal's reason when it fires, without running them", async () => {
    // Prepare
    const controller = new AbortController();
    const limit = createLimiter(1, controller.signal);
    const { state, task } = controlledTasks();
    const outcomes = ["running", "waiting-1", "waiting-2"].map((name) => outcomeOf(limit(task(name))));
    await settle();

    // Act
    controller.abort(reason);

    // Assess
    expect(await outcomes[1]).toStrictEqual({ error: reason });
    expect(await outcomes[2]).toStrictEqual({ error: reason });
    expect(state.started).toStrictEqual(["running"]);
  });

  it("lets running tasks finish with their own results, and starts nothing after them", async () => {
    // Prepare
    const controller = new AbortController();
    const limit = createLimiter(2, controller.signal);
    const { state, task, finish, fail } = controlledTasks();
    const failure = new Error("S3 is down");
    const outcomes = ["a", "b", "c"].map((name) => outcomeOf(limit(task(name))));
    await settle();

    // Act
    controller.abort(reason);
    await finish("a", "a's result");
    await fail("b", failure);

    // Assess
    expect(await Promise.all(outcomes)).toStrictEqual([{ value: "a's result" }, { error: failure }, { error: reason }]);
    expect(state.started).toStrictEqual(["a", "b"]);
    expect(state.running).toBe(0);
  });

  it("rejects at once, without running the task, once the signal has fired", async () => {
    // Prepare
    const controller = new AbortController();
    controller.abort(reason);
    const limit = createLimiter(4, controller.signal);
    const task = vi.fn(async () => "ran");

    // Act
    const outcome = await outcomeOf(limit(task));

    // Assess
    expect(outcome).toStrictEqual({ error: reason });
    expect(task).not.toHaveBeenCalled();
  });

  it("keeps the bound, the order and the results while the signal has not fired", async () => {
    // Prepare
    const limit = createLimiter(2, new AbortController().signal);
    const { state, task, finish } = controlledTasks();
    const names = ["a", "b", "c", "d", "e"];

    // Act
    const results = names.map((name) => limit(task(name)));
    await settle();
    const startedAtFirst = [...state.started];
    for (const name of names) await finish(name);

    // Assess
    expect(await Promise.all(results)).toStrictEqual(names.map((name) => `${name} done`));
    expect(startedAtFirst).toStrictEqual(["a", "b"]);
    expect(state.started).toStrictEqual(names);
    expect(state.maxRunning).toBe(2);
  });

  it("stops listening to the signal once every waiting task got its slot", async () => {
    // Prepare
    const { signal } = new AbortController();
    const limit = createLimiter(1, signal);
    const { task, finish } = controlledTasks();
    const results = ["a", "b", "c"].map((name) => limit(task(name)));
    await settle();
    const listenersWhileWaiting = getEventListeners(signal, "abort").length;

    // Act
    for (const name of ["a", "b", "c"]) await finish(name);
    await Promise.all(results);

    // Assess
    expect(listenersWhileWaiting).toBe(2);
    expect(getEventListeners(signal, "abort")).toHaveLength(0);
  });

  it("passes on a slot handed over at the moment the signal fires: the task it went to never runs", async () => {
    // Prepare
    const controller = new AbortController();
    const limit = createLimiter(1, controller.signal);
    const { state, task } = controlledTasks();
    const firstGate = deferred<string>();
    const first = limit(() => firstGate.promise);
    const handedOver = outcomeOf(limit(task("handed over")));
    const behind = outcomeOf(limit(task("behind")));
    await settle();
    // This callback runs right after the limiter's own reaction to the same promise, which hands the
    // slot to the first waiting task, and before that task can start.
    const abortedAtHandOver = firstGate.promise.then(() => controller.abort(reason));

    // Act
    firstGate.resolve("first done");
    await abortedAtHandOver;
    await settle();

    // Assess
    expect(state.started).toStrictEqual([]);
    expect(await first).toBe("first done");
    expect(await handedOver).toStrictEqual({ error: reason });
    expect(await behind).toStrictEqual({ error: reason });
    expect(await outcomeOf(limit(task("later")))).toStrictEqual({ error: reason });
  });
});

describe("mapInOrder", () => {
  it("runs at most `concurrency` tasks at once, taking the items in order, one more as each finishes", async () => {
    // Prepare
    const { state, task, finish } = controlledTasks();

    // Act
    const results = mapInOrder(["a", "b", "c", "d"], 2, (name) => task(name)());
    await settle();
    const startedAtFirst = [...state.started];
    await finish("b");
    const startedAfterOne = [...state.started];
    for (const name of ["a", "c", "d"]) await finish(name);

    // Assess
    expect(await results).toStrictEqual(["a done", "b done", "c done", "d done"]);
    expect(startedAtFirst).toStrictEqual(["a", "b"]);
    expect(startedAfterOne).toStrictEqual(["a", "b", "c"]);
    expect(state.maxRunning).toBe(2);
  });

  it("resolves to the results in the items' order, whatever order the tasks finish in", async () => {
    // Prepare
    const { task, finish } = controlledTasks();

    // Act
    const results = mapInOrder(["a", "b", "c"], 3, (name) => task(name)());
    await settle();
    for (const name of ["c", "a", "b"]) await finish(name, name.toUpperCase());

    // Assess
    expect(await results).toStrictEqual(["A", "B", "C"]);
  });

  it("starts no task for no items", async () => {
    // Prepare
    const task = vi.fn(async (item: number) => item);

    // Act
    const results = await mapInOrder([], 4, task);

    // Assess
    expect(results).toStrictEqual([]);
    expect(task).not.toHaveBeenCalled();
  });
});
