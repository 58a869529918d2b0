/** A bound on how many async tasks run at once. */

/** Runs a task once fewer than `max` tasks of this limiter are running. */
export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

/** Creates a limiter. Each limiter has its own queue: create one per invocation, never per module. */
export function createLimiter(max: number): Limiter {
  let running = 0;
  // A queue read from `head`, since Array#shift copies the rest of the array and a deleter may queue
  // many requests. Started entries are cleared; the array is dropped once it has been read.
  let waiting: ((() => void) | undefined)[] = [];
  let head = 0;
  // A finishing task hands its slot straight to the next waiting one, so that a task arriving in
  // between cannot take it too.
  const release = () => {
    const next = waiting[head];
    if (next === undefined) {
      running--;
      return;
    }
    waiting[head++] = undefined;
    if (head === waiting.length) {
      waiting = [];
      head = 0;
    }
    next();
  };
  return async (task) => {
    if (running < max) running++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      release();
    }
  };
}
