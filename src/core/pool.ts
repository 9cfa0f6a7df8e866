/**
 * The one worker pool: `work` runs over `items` with at most `concurrency` calls in flight, each
 * worker pulling the next item and owning a slot number (0 ‥ concurrency-1) that callers use to
 * pin a connection. The first failure stops the pool from starting anything new (calls already
 * in flight finish or fail on their own; `onFailure` lets the caller abort them) and is the error
 * thrown.
 *
 * Hand-written rather than p-limit: p-limit queues a closure and a promise per item up front,
 * about 1 KiB each, 101 MiB of heap for 100,000 files, where this holds only `concurrency`
 * workers (2.3 MiB), and it is faster per item (bench/pool-overhead.mjs).
 */
export interface PoolOptions {
  /** Runs before each item; a throw stops the pool like a failed item (e.g. a cancelled operation). */
  beforeEach?: () => void;
  /** Called once, with the first failure, as soon as it happens. */
  onFailure?: (error: unknown) => void;
}

export async function runPool<T>(
  // ArrayLike: a typed array of indexes serves as well as an array of objects (legacy download plan).
  items: ArrayLike<T>,
  concurrency: number,
  work: (item: T, slot: number) => Promise<void>,
  options: PoolOptions = {},
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const fail = (error: unknown): void => {
    if (failure !== undefined) return;
    failure = { error };
    options.onFailure?.(error);
  };
  const worker = async (slot: number): Promise<void> => {
    while (failure === undefined && next < items.length) {
      try {
        options.beforeEach?.();
        const item = items[next++] as T;
        await work(item, slot);
      } catch (error) {
        fail(error);
      }
    }
  };
  const workers = Math.max(1, Math.min(concurrency, items.length));
  await Promise.all(Array.from({ length: workers }, (_, slot) => worker(slot)));
  if (failure !== undefined) throw failure.error;
}
