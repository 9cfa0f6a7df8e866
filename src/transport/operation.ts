import { AbortError, type FerryError } from '../core/errors.js';

/**
 * Shared fate of every worker in one public operation. The first permanent error (a 403 quota,
 * a 409, a 404) is remembered here and aborts the operation's signal, so no worker starts
 * another request and no backoff keeps sleeping: one bad answer must not drain a rate limit.
 */
export class Operation {
  readonly signal: AbortSignal;
  readonly #controller = new AbortController();
  #failure: FerryError | undefined;

  constructor(
    readonly name: string,
    parent?: AbortSignal,
  ) {
    this.signal = parent ? AbortSignal.any([parent, this.#controller.signal]) : this.#controller.signal;
  }

  /** Records the first fatal error and stops every other worker. */
  fail(error: FerryError): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#controller.abort(error);
  }

  get failure(): FerryError | undefined {
    return this.#failure;
  }

  /** Throws the recorded failure, or AbortError when the caller cancelled. Call before each request. */
  throwIfStopped(): void {
    if (this.#failure) throw this.#failure;
    if (this.signal.aborted) throw new AbortError(this.signal.reason, { operation: this.name });
  }
}
