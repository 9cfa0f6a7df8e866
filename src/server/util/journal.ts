import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isNotFound } from './atomic-file.js';

/**
 * An append-only log of JSON records, one per line. Each append is a single write() on an
 * O_APPEND descriptor, so concurrent appends never interleave, and a crash can at worst leave
 * one partial last line, which replay skips. One write per record instead of a temp file plus
 * a rename is what lets a 10,000-file upload cost one metadata syscall per file.
 */
export class Journal {
  #fd: number | undefined;
  constructor(readonly path: string) {}

  /** Every complete record in order; a missing journal is an empty one. */
  static async replay(path: string): Promise<unknown[]> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    const records: unknown[] = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        records.push(JSON.parse(line) as unknown);
      } catch {
        // A torn final line from a crash: the record was never acknowledged, so dropping it is right.
      }
    }
    return records;
  }

  /**
   * Synchronous: one line to the page cache takes microseconds, less than the promise and
   * thread-pool round trip of an async write, and a 10,000-file upload appends 10,000 lines.
   */
  append(record: unknown): Promise<void> {
    try {
      this.#fd ??= openSync(this.path, 'a');
      writeSync(this.#fd, `${JSON.stringify(record)}\n`);
      return Promise.resolve();
    } catch (error: unknown) {
      return Promise.reject(error as Error);
    }
  }

  /** Flushes every appended record to stable storage (when an artifact is finalized). */
  sync(): Promise<void> {
    try {
      if (this.#fd !== undefined) fsyncSync(this.#fd);
      return Promise.resolve();
    } catch (error: unknown) {
      return Promise.reject(error as Error);
    }
  }

  close(): Promise<void> {
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) closeSync(fd);
    return Promise.resolve();
  }
}
