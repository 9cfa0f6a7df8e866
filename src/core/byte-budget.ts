/**
 * Bytes received and not yet handed on, shared by the parallel ranges of one read: the client's
 * ranged blob download and `ferry serve`'s parallel reads of a slow store. A range ahead of the
 * one being handed on waits in `room()` while the total is over the limit, so a slow consumer
 * bounds what the ranges hold in memory.
 */
export class ByteBudget {
  held = 0;
  #waiting: Array<() => void> = [];

  constructor(readonly limit: number) {}

  add(bytes: number): void {
    this.held += bytes;
  }

  release(bytes: number): void {
    this.held -= bytes;
    if (this.held <= this.limit) this.wakeAll();
  }

  /** Resolves once the held bytes are back within the limit (or `wakeAll` is called). */
  room(): Promise<void> {
    if (this.held <= this.limit) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Wakes every waiter to check again (the consumer moved on, or the read failed). */
  wakeAll(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const wake of waiting) wake();
  }
}
