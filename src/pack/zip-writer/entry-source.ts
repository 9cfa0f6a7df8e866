import { constants as fsConstants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { types } from 'node:util';
import { AbortError, FerryError, ValidationError, isFerryError } from '../../errors.js';
import { printable } from '../validate.js';

/** `O_NONBLOCK` so that opening a FIFO by mistake fails the regular-file check instead of hanging. */
const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0);

/** Counts open source files (at most one at a time), for the stream's stats. */
export interface FileCounters {
  openFiles: number;
  maxOpenFiles: number;
}

function describeKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/**
 * One source file, opened for positional reads. Every failure names the file: the entry name in
 * the error context and the source path in the message.
 *
 * - open/stat/read failures → `ERR_FERRY_SOURCE_UNREADABLE` (with the cause);
 * - fewer bytes than the size taken at open, or bytes beyond it → `ERR_FERRY_SOURCE_CHANGED`;
 * - not a regular file → `ERR_FERRY_INVALID_PATH`.
 */
export class EntrySource {
  readonly sourcePath: string;
  readonly name: string;
  /** The size from `fstat` right after opening: the entry is exactly this long, or it changed. */
  readonly size: number;
  readonly mtime: Date;
  readonly #handle: FileHandle;
  readonly #signal: AbortSignal;
  readonly #counters: FileCounters;
  #closed: Promise<void> | undefined;

  private constructor(
    sourcePath: string,
    name: string,
    handle: FileHandle,
    st: Stats,
    signal: AbortSignal,
    counters: FileCounters,
  ) {
    this.sourcePath = sourcePath;
    this.name = name;
    this.#handle = handle;
    this.size = st.size;
    this.mtime = st.mtime;
    this.#signal = signal;
    this.#counters = counters;
  }

  static async open(
    sourcePath: string,
    name: string,
    signal: AbortSignal,
    counters: FileCounters,
  ): Promise<EntrySource> {
    if (signal.aborted) throw new AbortError(signal.reason, { file: name });
    let handle: FileHandle;
    try {
      handle = await open(sourcePath, OPEN_FLAGS);
    } catch (error) {
      throw unreadable(sourcePath, name, error);
    }
    counters.openFiles++;
    if (counters.openFiles > counters.maxOpenFiles) counters.maxOpenFiles = counters.openFiles;
    try {
      const st = await handle.stat();
      if (!st.isFile()) {
        throw new ValidationError(
          'ERR_FERRY_INVALID_PATH',
          `${printable(sourcePath)} is ${describeKind(st)}; only regular files can be zipped as files`,
          { file: name },
        );
      }
      return new EntrySource(sourcePath, name, handle, st, signal, counters);
    } catch (error) {
      counters.openFiles--;
      await handle.close().catch(() => undefined);
      throw isFerryError(error) ? error : unreadable(sourcePath, name, error);
    }
  }

  throwIfAborted(): void {
    if (this.#signal.aborted) throw new AbortError(this.#signal.reason, { file: this.name });
  }

  changed(detail: string): FerryError {
    return new FerryError(
      'ERR_FERRY_SOURCE_CHANGED',
      `File ${printable(this.sourcePath)} changed while it was being zipped: ${detail}`,
      { context: { file: this.name } },
    );
  }

  /**
   * Reads exactly `length` bytes at `position` into `into` (or a new buffer). A file that ends
   * early has shrunk since it was opened.
   */
  async read(position: number, length: number, into?: Buffer): Promise<Buffer> {
    this.throwIfAborted();
    const buf = into === undefined ? Buffer.allocUnsafe(length) : into.subarray(0, length);
    let done = 0;
    try {
      while (done < length) {
        const { bytesRead } = await this.#handle.read(buf, done, length - done, position + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (error) {
      throw unreadable(this.sourcePath, this.name, error);
    }
    if (done < length) {
      throw this.changed(`it was ${this.size} bytes when opened and now ends after ${position + done}`);
    }
    return buf;
  }

  /** Throws `ERR_FERRY_SOURCE_CHANGED` if the file has grown beyond its size at open. */
  async assertEnd(): Promise<void> {
    this.throwIfAborted();
    const probe = Buffer.allocUnsafe(1);
    let bytesRead: number;
    try {
      ({ bytesRead } = await this.#handle.read(probe, 0, 1, this.size));
    } catch (error) {
      throw unreadable(this.sourcePath, this.name, error);
    }
    if (bytesRead > 0) throw this.changed(`it was ${this.size} bytes when opened and has grown since`);
  }

  /** Closes the handle; safe to call more than once. Close errors are ignored (nothing was written). */
  close(): Promise<void> {
    this.#closed ??= this.#handle.close().then(
      () => {
        this.#counters.openFiles--;
      },
      () => {
        this.#counters.openFiles--;
      },
    );
    return this.#closed;
  }
}

export function unreadable(sourcePath: string, name: string, cause: unknown): FerryError {
  if (isFerryError(cause)) return cause;
  const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
  const detail = cause instanceof Error || types.isNativeError(cause) ? cause.message : String(cause);
  return new FerryError(
    'ERR_FERRY_SOURCE_UNREADABLE',
    `Cannot read ${printable(sourcePath)}${errno ? ` (${errno})` : ''}: ${detail}`,
    { cause, context: { file: name } },
  );
}
