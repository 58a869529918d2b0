/** A bound on how many async tasks run at once. */

/** Runs a task once fewer than `max` tasks of this limiter are running. */
export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

/**
 * Creates a limiter. Each limiter has its own queue: create one per invocation, never per module.
 * When `signal` fires, every task still waiting for a slot rejects with its reason, unstarted.
 */
export function createLimiter(max: number, signal?: AbortSignal): Limiter {
  let running = 0;
  const waiting: (() => void)[] = [];
  // A finishing task hands its slot straight to the next waiting one, so that a task arriving in
  // between cannot take it too.
  const release = () => {
    const next = waiting.shift();
    if (next === undefined) running--;
    else next();
  };
  return async (task) => {
    if (signal?.aborted) throw signal.reason;
    if (running < max) running++;
    else {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal?.reason);
        signal?.addEventListener("abort", onAbort, { once: true });
        waiting.push(() => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        });
      });
      // Handed a slot after the signal fired (it fires between the hand-over and this line): pass it on.
      if (signal?.aborted) {
        release();
        throw signal.reason;
      }
    }
    try {
      return await task();
    } finally {
      release();
    }
  };
}

/**
 * Runs `task` for every item, at most `concurrency` at once, and resolves to the results in the
 * items' order, whatever order the tasks finish in. `concurrency` workers take the items in order,
 * each the next one when its last is done: nothing is queued per item, so a long list holds no
 * closure or promise per item, and the first items are done first when a bound or the signal stops
 * the later ones. `task` must not reject: a rejection rejects the whole while other tasks run on.
 */
export async function mapInOrder<T, R>(
  items: readonly T[],
  concurrency: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const work = async () => {
    while (next < items.length) {
      const position = next++;
      results[position] = await task(items[position] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, work));
  return results;
}
