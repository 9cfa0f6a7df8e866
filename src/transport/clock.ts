import { AbortError } from '../core/errors.js';

/**
 * Time as a dependency: retries and timeouts read the clock and sleep through it, so tests
 * replace it and never wait for real seconds.
 */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or rejects with AbortError as soon as `signal` aborts (the timer is cleared). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: abortableSleep,
};

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(new AbortError(signal.reason));
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortError(signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    // Not unref'd: a backoff is often the only pending work, and an unref'd timer would let
    // Node exit mid-operation (exit code 13, or 0 from a promise chain) without an error.
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
