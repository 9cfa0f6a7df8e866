import { open, readFile, type FileHandle } from 'node:fs/promises';
import { isNotFound } from './atomic-file.js';

/**
 * An append-only log of JSON records, one per line. Each append is a single write() on an
 * O_APPEND descriptor, so concurrent appends never interleave, and a crash can at worst leave
 * one partial last line, which replay skips. One write per record instead of a temp file plus
 * a rename is what lets a 10,000-file upload cost one metadata syscall per file.
 */
export class Journal {
  #handle: Promise<FileHandle> | undefined;
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

  async append(record: unknown): Promise<void> {
    this.#handle ??= open(this.path, 'a');
    const handle = await this.#handle;
    await handle.write(`${JSON.stringify(record)}\n`);
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    if (handle) await (await handle).close();
  }
}
