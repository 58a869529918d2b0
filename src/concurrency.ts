/** A bound on how many async tasks run at once. */

/** Runs a task once fewer than `max` tasks of this limiter are running. */
export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

/** Creates a limiter. Each limiter has its own queue: create one per invocation, never per module. */
export function createLimiter(max: number): Limiter {
  let running = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    running--;
    waiting.shift()?.();
  };
  return async (task) => {
    if (running >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await task();
    } finally {
      release();
    }
  };
}
