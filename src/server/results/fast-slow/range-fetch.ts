/**
 * One range of a whole read split into parallel ranges (slow-ranges.ts), read in the background
 * while the ranges' shared budget (core/byte-budget.ts) allows.
 */
import type { ByteBudget } from '../../../core/byte-budget.js';

/** Bytes `start..end` (inclusive) of one blob of the slow store; undefined when it is gone. */
export type ReadRange = (start: number, end: number) => Promise<AsyncIterable<Buffer> | undefined>;

/**
 * One range being read in the background: its bytes are kept until handed on; a range ahead of
 * the one being sent stops reading while the ranges' held bytes are over the budget.
 */
export class RangeFetch {
  readonly #chunks: Buffer[] = [];
  #done = false;
  #error: unknown;
  #cancelled = false;
  /** Being handed on: it never waits for the budget (the bytes it reads leave at once). */
  #head = false;
  #source: AsyncIterable<Buffer> | undefined;
  #wake: (() => void) | undefined;
  readonly #budget: ByteBudget;

  constructor(read: ReadRange, start: number, end: number, budget: ByteBudget) {
    this.#budget = budget;
    void this.#run(read, start, end);
  }

  async #run(read: ReadRange, start: number, end: number): Promise<void> {
    const expected = end - start + 1;
    let received = 0;
    try {
      this.#source = await read(start, end);
      if (!this.#source) throw new Error('the blob is gone from the slow store');
      if (this.#cancelled) destroy(this.#source);
      for await (const chunk of this.#source) {
        if (this.#cancelled) break;
        received += chunk.length;
        if (received > expected) throw shortRead(received, expected);
        this.#chunks.push(chunk);
        this.#budget.add(chunk.length);
        this.#signal();
        while (!this.#head && !this.#cancelled && this.#budget.held > this.#budget.limit) {
          await this.#budget.room();
        }
      }
      if (!this.#cancelled && received !== expected) throw shortRead(received, expected);
    } catch (error) {
      this.#error = error;
    } finally {
      this.#done = true;
      this.#signal();
    }
  }

  /**
   * The range's bytes as they arrive, each time all that arrived since the last (one step per
   * batch through the generators above, not one per 16-64 KiB socket read); throws what reading
   * it threw.
   */
  async *drain(): AsyncGenerator<readonly Buffer[]> {
    this.#head = true;
    this.#budget.wakeAll();
    for (;;) {
      if (this.#chunks.length > 0) {
        const batch = this.#chunks.splice(0);
        this.#budget.release(batch.reduce((sum, chunk) => sum + chunk.length, 0));
        yield batch;
        continue;
      }
      if (this.#error !== undefined) throw this.#error;
      if (this.#done) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  cancel(): void {
    if (this.#done) return;
    this.#cancelled = true;
    for (const chunk of this.#chunks.splice(0)) this.#budget.release(chunk.length);
    if (this.#source) destroy(this.#source);
  }

  #signal(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** Stops a stream's transfer now (a Readable: its socket), not at its next chunk. */
export function destroy(source: AsyncIterable<Buffer>): void {
  const destroyable = source as { destroy?: unknown };
  if (typeof destroyable.destroy === 'function') (destroyable.destroy as () => void).call(source);
}

export function shortRead(received: number, expected: number): Error {
  return new Error(`the slow store sent ${received} bytes where ${expected} were expected`);
}
