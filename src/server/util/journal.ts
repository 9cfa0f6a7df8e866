import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
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

  /**
   * Hands every complete record to `onRecord`, in order; a missing journal is an empty one. The
   * file is read a block at a time and parsed line by line: a 100,000-file container's journal
   * is ~25 MB, and reading it whole, splitting it and parsing every line before the first was
   * used held three copies of it at once when a store opened the container.
   */
  static async replay(path: string, onRecord: (record: unknown) => void): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
    try {
      const block = Buffer.allocUnsafe(REPLAY_BLOCK_BYTES);
      /** The start of a line that continues in the next block. */
      let carry: Buffer = Buffer.alloc(0);
      for (;;) {
        const { bytesRead } = await handle.read(block, 0, block.length, null);
        if (bytesRead === 0) break;
        const data =
          carry.length > 0
            ? Buffer.concat([carry, block.subarray(0, bytesRead)])
            : block.subarray(0, bytesRead);
        let lineStart = 0;
        for (let newline = data.indexOf(0x0a); newline !== -1; newline = data.indexOf(0x0a, lineStart)) {
          parseLine(data.toString('utf8', lineStart, newline), onRecord);
          lineStart = newline + 1;
        }
        // Copied: `block` is overwritten by the next read.
        carry = Buffer.from(data.subarray(lineStart));
      }
      // A last line without its newline is still a record if it parses (appends end with one).
      if (carry.length > 0) parseLine(carry.toString('utf8'), onRecord);
    } finally {
      await handle.close();
    }
  }

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

/** Journal lines are read in blocks of this size (a line may span blocks). */
const REPLAY_BLOCK_BYTES = 1024 * 1024;

function parseLine(line: string, onRecord: (record: unknown) => void): void {
  if (!line) return;
  let record: unknown;
  try {
    record = JSON.parse(line) as unknown;
  } catch {
    // A torn final line from a crash: the record was never acknowledged, so dropping it is right.
    return;
  }
  onRecord(record);
}
