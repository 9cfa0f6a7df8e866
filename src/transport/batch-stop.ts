import { FerryError, isFerryError } from '../core/errors.js';

/**
 * True for an answer that repeating with the same token cannot change: 401, or a 403 that is
 * not a rate limit (those are retryable or RateLimitedError, and clear at their reset).
 */
export function isPermanentAnswer(error: unknown): boolean {
  if (!isFerryError(error) || error.code === 'ERR_FERRY_RATE_LIMITED' || error.retryable) return false;
  const status = error.context.status;
  return status === 401 || status === 403;
}

/**
 * The per-process stop signal of one batch (many artifacts, merge, the Action's download-all).
 * Each worker calls `check()` before each request and `fail(error)` when it meets a permanent
 * answer; from then on every other worker's next `check()` throws ERR_FERRY_BATCH_STOPPED
 * (cause: the first permanent error) instead of sending a request that would be refused too.
 * `signal` aborts at the same moment, for waits (backoff, a rate-limit wait) in progress.
 */
export class BatchStop {
  readonly #controller = new AbortController();
  #error: unknown;
  #spared = 0;

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get stopped(): boolean {
    return this.#controller.signal.aborted;
  }

  /** The first permanent error, once stopped. */
  get error(): unknown {
    return this.#error;
  }

  /** Requests not sent because the batch had stopped. */
  get spared(): number {
    return this.#spared;
  }

  /** Throws once the batch has stopped; call before every request. */
  check(): void {
    if (!this.stopped) return;
    this.#spared++;
    const first = this.#error;
    const what = isFerryError(first)
      ? `${first.code}${first.context.status !== undefined ? ` (HTTP ${first.context.status})` : ''}`
      : 'a permanent error';
    throw new FerryError(
      'ERR_FERRY_BATCH_STOPPED',
      `Stopped before sending: another request of this batch got ${what}, which the same credentials would get again`,
      { cause: first },
    );
  }

  /**
   * Records a failure. Only a permanent answer stops the batch (returns true); a transient one
   * is the failing worker's own business. The first permanent error is kept.
   */
  fail(error: unknown): boolean {
    if (!isPermanentAnswer(error)) return false;
    if (!this.stopped) {
      this.#error = error;
      this.#controller.abort(error);
    }
    return true;
  }
}
