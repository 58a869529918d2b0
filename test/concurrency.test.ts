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
