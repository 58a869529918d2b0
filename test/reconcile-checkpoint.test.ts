import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, ReconcileError } from "../src/errors.js";
import {
  type CheckpointStore,
  createCheckpointWriter,
  fileCheckpointStore,
  type PartitionProgress,
  type ReconcileCheckpoint,
  resumedProgress,
} from "../src/reconcile-checkpoint.js";
import type { ReconcileCounts } from "../src/reconcile-types.js";
import { type Deferred, deferred, settle } from "./fake-clock.js";

const counts = (listed = 0): ReconcileCounts => ({
  listed,
  unrelated: 0,
  live: listed,
  young: 0,
  orphans: 0,
  unchecked: 0,
  deleted: 0,
  failed: 0,
  keptReplaced: 0,
  keptRecreated: 0,
  bytes: 0,
});

const RUN: ReconcileCheckpoint["run"] = {
  tableName: "products",
  bucket: "product-media",
  keys: ["images/{productId}.png"],
  prefixes: ["images/"],
  delete: false,
  mode: "keys",
  minAgeMs: 86_400_000,
  allowedPrefixes: null,
};

const partition = (progress: Partial<PartitionProgress> = {}): PartitionProgress => ({
  prefix: "images/",
  done: false,
  counts: counts(),
  ...progress,
});

const checkpoint = (partitions: PartitionProgress[] = [partition()]): ReconcileCheckpoint => ({
  version: 1,
  run: RUN,
  partitions,
});

/** How `action` threw (failing the test when it did not). */
function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

describe("fileCheckpointStore", () => {
  let directory: string;
  let path: string;

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), "reconcile-checkpoint-"));
    path = join(directory, "checkpoint.json");
  });

  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it("loads nothing when the file does not exist", async () => {
    await expect(fileCheckpointStore(path).load()).resolves.toBeUndefined();
  });

  it("loads what it saved", async () => {
    const store = fileCheckpointStore(path);
    const saved = checkpoint([partition({ after: "images/p-9.png", endAt: "images/q", counts: counts(9) })]);

    await store.save(saved);

    await expect(store.load()).resolves.toStrictEqual(saved);
    await expect(fileCheckpointStore(path).load()).resolves.toStrictEqual(saved);
  });

  it("writes the checkpoint as one line of JSON", async () => {
    await fileCheckpointStore(path).save(checkpoint());

    expect(await readFile(path, "utf8")).toBe(`${JSON.stringify(checkpoint())}\n`);
  });

  it("replaces the last checkpoint, leaving no temporary file behind", async () => {
    const store = fileCheckpointStore(path);

    await store.save(checkpoint([partition({ after: "images/a" })]));
    await store.save(checkpoint([partition({ done: true })]));

    await expect(store.load()).resolves.toStrictEqual(checkpoint([partition({ done: true })]));
    expect(await readdir(directory)).toStrictEqual(["checkpoint.json"]);
  });

  it("never leaves the file half-written: a save that fails to write keeps the last checkpoint whole", async () => {
    // Prepare: the temporary file cannot be written (a directory stands in its place).
    const store = fileCheckpointStore(path);
    await store.save(checkpoint([partition({ after: "images/a" })]));
    await mkdir(`${path}.${process.pid}.tmp`);

    // Act
    const saving = store.save(checkpoint([partition({ after: "images/b" })]));

    // Assess
    await expect(saving).rejects.toMatchObject({ code: "EISDIR" });
    await expect(store.load()).resolves.toStrictEqual(checkpoint([partition({ after: "images/a" })]));
  });

  it("rejects a save when the file cannot be replaced", async () => {
    await mkdir(path);
    await writeFile(join(path, "inside"), "");

    await expect(fileCheckpointStore(path).save(checkpoint())).rejects.toMatchObject({
      code: expect.stringMatching(/^(EISDIR|ENOTEMPTY|EEXIST|EPERM)$/),
    });
  });

  it("rejects a load with a ReconcileError naming the file when it cannot be read", async () => {
    // A directory cannot be read as a file.
    await mkdir(path);

    const error = await fileCheckpointStore(path)
      .load()
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ReconcileError);
    expect((error as Error).message).toMatch(new RegExp(`^the checkpoint file ${path} cannot be read: `));
    expect((error as Error).cause).toMatchObject({ code: "EISDIR" });
  });

  it("rejects a load with a ReconcileError naming the file when it is not JSON", async () => {
    // A file cut short, as a crash of a writer that wrote in place would leave it.
    await writeFile(path, JSON.stringify(checkpoint()).slice(0, 40));

    const error = await fileCheckpointStore(path)
      .load()
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ReconcileError);
    expect((error as Error).message).toMatch(new RegExp(`^the checkpoint file ${path} is not JSON: `));
    expect((error as Error).cause).toBeInstanceOf(SyntaxError);
  });
});

describe("resumedProgress", () => {
  it("starts from nothing when there is no checkpoint", () => {
    expect(resumedProgress(undefined, RUN)).toBeUndefined();
  });

  it("goes on from the partitions of an unfinished checkpoint of this run", () => {
    const partitions = [
      partition({ endAt: "images/m", done: true }),
      partition({ startAfter: "images/m", after: "images/p" }),
    ];

    expect(resumedProgress(checkpoint(partitions), RUN)).toStrictEqual(partitions);
  });

  it("starts over when every partition of the checkpoint is done", () => {
    const partitions = [
      partition({ endAt: "images/m", done: true }),
      partition({ startAfter: "images/m", done: true }),
    ];

    expect(resumedProgress(checkpoint(partitions), RUN)).toBeUndefined();
  });

  it("takes a checkpoint whose run was written with its fields in another order, as a store may give it back", () => {
    const reordered = Object.fromEntries(Object.entries(RUN).reverse());
    const saved = { partitions: [partition()], run: reordered, version: 1 };

    expect(resumedProgress(saved, RUN)).toStrictEqual([partition()]);
  });

  it.each([
    ["another table", { ...RUN, tableName: "orders" }],
    ["another bucket", { ...RUN, bucket: "other-media" }],
    ["other templates", { ...RUN, keys: ["thumbs/{productId}.png"] }],
    ["itemKeyOf instead of templates", { ...RUN, keys: "itemKeyOf" as const }],
    ["other prefixes", { ...RUN, prefixes: ["images/", "thumbs/"] }],
    ["a report-only run, for a deleting one", { ...RUN, delete: true }],
    ["the other mode", { ...RUN, mode: "scan" as const }],
    ["another minimum age", { ...RUN, minAgeMs: 0 }],
    ["other allowed prefixes", { ...RUN, allowedPrefixes: ["images/"] }],
  ])("refuses a checkpoint of %s with a ConfigError naming checkpoint and both runs", (_case, run) => {
    const error = thrown(() => resumedProgress({ ...checkpoint(), run }, RUN));

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toStrictEqual([
      {
        path: "checkpoint",
        message: `belongs to another run (${JSON.stringify(run)}); this one is ${JSON.stringify(RUN)}: give another checkpoint, or remove it to start over`,
      },
    ]);
  });

  it.each([
    ["null", null],
    ["a string", "checkpoint"],
    ["an array", [checkpoint()]],
    ["another version", { ...checkpoint(), version: 2 }],
    ["no run", { version: 1, partitions: [partition()] }],
    ["a run that is null", { ...checkpoint(), run: null }],
    ["no partitions", { ...checkpoint(), partitions: undefined }],
    ["an empty list of partitions", checkpoint([])],
    ["a partition that is null", { ...checkpoint(), partitions: [null] }],
    ["a partition that is a string", { ...checkpoint(), partitions: ["images/"] }],
    ["a partition without a prefix", { ...checkpoint(), partitions: [{ done: false, counts: counts() }] }],
    ["a partition whose done is no boolean", { ...checkpoint(), partitions: [partition({ done: "no" as never })] }],
    ["a partition without counts", { ...checkpoint(), partitions: [{ prefix: "images/", done: false }] }],
    ["a partition whose counts are null", { ...checkpoint(), partitions: [partition({ counts: null as never })] }],
  ])("refuses %s with a ConfigError naming checkpoint", (_case, saved) => {
    const error = thrown(() => resumedProgress(saved, RUN));

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toStrictEqual([
      { path: "checkpoint", message: "holds something other than a reconcile checkpoint" },
    ]);
  });
});

describe("createCheckpointWriter", () => {
  /** A store whose saves end when the test says, recording what each was given and how many ran at once. */
  function heldStore() {
    const saves: { checkpoint: ReconcileCheckpoint; done: Deferred<void> }[] = [];
    const state = { running: 0, maxRunning: 0 };
    const store: CheckpointStore = {
      load: async () => undefined,
      save: (saved) => {
        const done = deferred<void>();
        saves.push({ checkpoint: saved, done });
        state.running++;
        state.maxRunning = Math.max(state.maxRunning, state.running);
        return done.promise.finally(() => {
          state.running--;
        });
      },
    };
    return { store, saves, state };
  }

  /** A run's state that the test changes, and the snapshot of it the writer saves. */
  function runState() {
    const progress = partition();
    const snapshot = (): ReconcileCheckpoint => checkpoint([{ ...progress }]);
    return { progress, snapshot };
  }

  /** Whether `promise` has settled by now. */
  async function settled(promise: Promise<unknown>): Promise<boolean> {
    let done = false;
    promise.then(
      () => {
        done = true;
      },
      () => {
        done = true;
      },
    );
    await settle();
    return done;
  }

  it("saves the state of the moment it is asked", async () => {
    // Prepare
    const { store, saves } = heldStore();
    const { progress, snapshot } = runState();
    const writer = createCheckpointWriter(store, snapshot);
    progress.after = "images/a";

    // Act
    const saving = writer.save();
    saves[0]?.done.resolve();

    // Assess
    await expect(saving).resolves.toBeUndefined();
    expect(saves.map((save) => save.checkpoint.partitions[0]?.after)).toStrictEqual(["images/a"]);
  });

  it("never runs two saves at once: saves asked while one runs wait for it, and become one save of the latest state", async () => {
    // Prepare
    const { store, saves, state } = heldStore();
    const { progress, snapshot } = runState();
    const writer = createCheckpointWriter(store, snapshot);
    progress.after = "images/a";
    const first = writer.save();

    // Act: two more saves are asked while the first runs, the state moving on between them.
    progress.after = "images/b";
    const second = writer.save();
    progress.after = "images/c";
    const third = writer.save();
    await settle();

    // Assess: nothing more is saved until the first save ends.
    expect(saves).toHaveLength(1);
    expect(await settled(second)).toBe(false);
    saves[0]?.done.resolve();
    await settle();
    expect(saves.map((save) => save.checkpoint.partitions[0]?.after)).toStrictEqual(["images/a", "images/c"]);
    // The saves asked during the first end only once the state they asked for is saved.
    expect(await settled(second)).toBe(false);
    expect(await settled(third)).toBe(false);
    saves[1]?.done.resolve();
    await Promise.all([first, second, third]);
    expect(saves).toHaveLength(2);
    expect(state.maxRunning).toBe(1);
  });

  it("saves a state asked for just as a save ends", async () => {
    // Prepare: a store whose save resolves the very promise the writer waits on, so that the test's
    // reaction to it runs right after the writer's, in the same turn as the end of its save.
    const saved: (string | undefined)[] = [];
    const first = deferred<void>();
    const store: CheckpointStore = {
      load: async () => undefined,
      save: (checkpointed) => {
        saved.push(checkpointed.partitions[0]?.after);
        return saved.length === 1 ? first.promise : Promise.resolve();
      },
    };
    const { progress, snapshot } = runState();
    const writer = createCheckpointWriter(store, snapshot);
    progress.after = "images/a";
    const firstSave = writer.save();
    let late: Promise<void> | undefined;
    first.promise.then(() => {
      progress.after = "images/b";
      late = writer.save();
    });

    // Act
    first.resolve();
    await firstSave;
    await late;

    // Assess
    expect(saved).toStrictEqual(["images/a", "images/b"]);
  });

  it("starts a new save once the last one has ended", async () => {
    const { store, saves } = heldStore();
    const writer = createCheckpointWriter(store, runState().snapshot);

    const first = writer.save();
    saves[0]?.done.resolve();
    await first;
    const second = writer.save();
    await settle();

    expect(saves).toHaveLength(2);
    saves[1]?.done.resolve();
    await second;
  });

  it("rejects every save waiting on a save that fails, and saves anew when asked again", async () => {
    // Prepare
    const { store, saves } = heldStore();
    const writer = createCheckpointWriter(store, runState().snapshot);
    const first = writer.save();
    const second = writer.save();
    const disk = new Error("ENOSPC: no space left on device");

    // Act
    saves[0]?.done.reject(disk);

    // Assess
    await expect(first).rejects.toBe(disk);
    await expect(second).rejects.toBe(disk);
    expect(saves).toHaveLength(1);
    const third = writer.save();
    await settle();
    expect(saves).toHaveLength(2);
    saves[1]?.done.resolve();
    await expect(third).resolves.toBeUndefined();
  });

  it("rejects a save whose store throws at once, and saves anew when asked again", async () => {
    // Prepare
    let calls = 0;
    const store: CheckpointStore = {
      load: async () => undefined,
      save: () => {
        calls++;
        if (calls === 1) throw new Error("not a promise");
        return Promise.resolve();
      },
    };
    const writer = createCheckpointWriter(store, runState().snapshot);

    // Act
    const first = writer.save();

    // Assess
    await expect(first).rejects.toThrow("not a promise");
    await expect(writer.save()).resolves.toBeUndefined();
    expect(calls).toBe(2);
  });

  it("rejects a save whose snapshot throws, and saves anew when asked again", async () => {
    const { store, saves } = heldStore();
    let fail = true;
    const writer = createCheckpointWriter(store, () => {
      if (fail) throw new Error("no state");
      return checkpoint();
    });

    await expect(writer.save()).rejects.toThrow("no state");
    fail = false;
    const again = writer.save();
    await settle();
    saves[0]?.done.resolve();

    await expect(again).resolves.toBeUndefined();
  });
});
