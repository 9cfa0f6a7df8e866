import { open, type FileHandle } from 'node:fs/promises';
import { FerryError, ValidationError, type ErrorContext } from '../core/errors.js';

/**
 * Reads consecutive chunks of one file through a single descriptor. Each chunk is a fresh
 * buffer (a retry may still resend the previous one), filled without zeroing first, and must
 * come back at its full length: a short read means the file shrank under us.
 */
export class ChunkReader {
  #handle: Promise<FileHandle> | undefined;
  constructor(
    readonly path: string,
    readonly context: ErrorContext = {},
    /** Sees every chunk read (the secret scan of a file sent raw), before it is returned. */
    readonly onRead?: (start: number, chunk: Buffer) => void,
  ) {}

  async read(start: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new ValidationError(
        'ERR_FERRY_INVALID_OPTION',
        `A chunk needs non-negative integer offsets, got start=${String(start)} length=${String(length)}`,
      );
    }
    if (length === 0) return Buffer.alloc(0);
    this.#handle ??= open(this.path, 'r');
    let handle: FileHandle;
    try {
      handle = await this.#handle;
    } catch (error: unknown) {
      throw new FerryError('ERR_FERRY_SOURCE_UNREADABLE', `Cannot read '${this.path}'`, {
        cause: error,
        context: this.context,
      });
    }
    const buffer = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await handle.read(buffer, done, length - done, start + done);
      if (bytesRead === 0) {
        throw new FerryError(
          'ERR_FERRY_SOURCE_CHANGED',
          `'${this.path}' ended after ${start + done} bytes while it was being uploaded`,
          { context: this.context },
        );
      }
      done += bytesRead;
    }
    this.onRead?.(start, buffer);
    return buffer;
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    if (handle) await (await handle.catch(() => undefined))?.close();
  }
}
