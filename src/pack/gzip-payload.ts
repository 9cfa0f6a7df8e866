import { randomUUID } from 'node:crypto';
import { closeSync, constants as fsConstants, fstatSync, openSync, statSync, type Stats } from 'node:fs';
import { open, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { gzip, gzipSync } from 'node:zlib';
import {
  AbortError,
  FerryError,
  ValidationError,
  isFerryError,
  type ErrorContext,
  type FerryErrorCode,
} from '../core/errors.js';
import { isAlreadyCompressed } from './compressed-extensions.js';
import { gzipFileParallel } from './parallel-gzip.js';
import { readWholeSync } from './read-small-sync.js';
import type { FileSecretScan } from './secret-scan.js';
import { printable } from '../core/format.js';

/**
 * Choosing and producing the bytes of one file for a legacy (v1) upload: gzip or raw, in memory
 * or from disk (protocol A3 step 6), with the bounded memory and the source checks of the
 * reliability plan (items 14 and 16).
 */

/** Files smaller than this are gzipped in memory and sent in one request (protocol A3). */
export const SMALL_FILE_LIMIT = 65536;
/** How much of a large file is test-compressed before deciding to gzip it. */
export const SAMPLE_SIZE = 256 * 1024;
/** A sample that gzip (level 1) shrinks by less than this fraction is treated as incompressible. */
export const MIN_SAMPLE_SAVING = 0.05;

const DEFAULT_LEVEL = 6;
/** Open without blocking, so that a path swapped for a FIFO after the stat cannot hang us. */
const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0);

export type Payload =
  | { kind: 'memory'; data: Buffer; gzip: boolean; originalSize: number }
  | {
      kind: 'file';
      path: string;
      size: number;
      gzip: boolean;
      originalSize: number;
      cleanup(): Promise<void>;
    };

export interface PreparePayloadOptions {
  /** Directory for the temporary `.gz` of a large compressible file. It must exist. */
  tempDir: string;
  /** zlib level 0-9. `0` turns compression off (every file is sent raw). @default 6 */
  level?: number | undefined;
  signal?: AbortSignal | undefined;
  /** The path relative to the artifact root, for error context. Defaults to naming `absPath`. */
  file?: string | undefined;
  /**
   * The secret scan of this file: fed every byte read here. A payload sent raw from the file
   * itself is not read here; its reader (ChunkReader) feeds the scan as it reads the chunks.
   */
  scan?: FileSecretScan | undefined;
}

/**
 * Stats `absPath` and decides how it goes on the wire:
 * - `< 64 KiB`: read whole, gzip in memory; gzip is sent unless strictly larger (an equal size
 *   sends gzip, as the official client does). An empty file is therefore sent raw, 0 bytes.
 * - `>= 64 KiB` with a compressed extension ({@link isAlreadyCompressed}): the file itself, raw.
 * - otherwise the first 256 KiB are gzipped at level 1; under 5 % saving → the file itself, raw.
 * - otherwise the file is stream-gzipped to a temp file in `tempDir` (async zlib, bounded memory);
 *   if that came out larger than the file it is deleted and the file is sent raw.
 *
 * Directories and non-regular files (FIFO, socket, device) → `ValidationError`
 * (`ERR_FERRY_INVALID_PATH`). A file whose size or mtime changes while it is read →
 * `ERR_FERRY_SOURCE_CHANGED`; a failing stat/open/read → `ERR_FERRY_SOURCE_UNREADABLE` with the
 * cause. A failure to write the temp file is rethrown as the file system error (`ENOSPC`, ...).
 * A `kind: 'file'` payload must be released with `cleanup()` (a no-op for the raw source file).
 */
export async function preparePayload(absPath: string, opts: PreparePayloadOptions): Promise<Payload> {
  const level = opts.level ?? DEFAULT_LEVEL;
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new ValidationError(
      'ERR_FERRY_INVALID_OPTION',
      `Option 'level' must be an integer from 0 to 9, got ${String(level)}`,
      { option: 'level' },
    );
  }
  const src = new SourceFile(absPath, opts.file, opts.signal);
  src.throwIfAborted();

  // Small files are read synchronously: from the page cache that is a few microseconds, while
  // four promise round trips through the thread pool cost ~0.2 ms of main-thread time each file
  // (performance.md: readFileSync does 72,000 small files/s, fs.promises 12,600).
  const small = src.readIfSmallSync(SMALL_FILE_LIMIT);
  if (small !== undefined) {
    opts.scan?.feed(0, small);
    if (level === 0) return { kind: 'memory', data: small, gzip: false, originalSize: small.length };
    // Under 64 KiB, gzip on the main thread costs less CPU than an async zlib stream and a
    // thread-pool hop per file (W1: 5.9 instead of 6.8 client CPU seconds for 10,000 files).
    const gz = gzipSync(small, { level });
    src.throwIfAborted();
    return gz.length > small.length
      ? { kind: 'memory', data: small, gzip: false, originalSize: small.length }
      : { kind: 'memory', data: gz, gzip: true, originalSize: small.length };
  }

  // Open first and stat the descriptor: what is checked is what is read. O_NONBLOCK keeps a FIFO
  // from hanging the open; assertRegular then refuses it.
  const handle = await src.openAndCheck();
  try {
    const st = await src.statHandle(handle);
    const size = st.size;
    const rawFile = (): Payload => ({
      kind: 'file',
      path: absPath,
      size,
      gzip: false,
      originalSize: size,
      cleanup: async () => {},
    });
    if (size >= SMALL_FILE_LIMIT && (level === 0 || isAlreadyCompressed(absPath))) return rawFile();

    if (size < SMALL_FILE_LIMIT) {
      // It shrank between the two opens: the file changed while it was being listed and read.
      throw src.changed(`it had ${size} bytes on a second look, below the small-file limit it was over`);
    }

    const sample = await src.readAt(handle, 0, Math.min(SAMPLE_SIZE, size), false);
    opts.scan?.feed(0, sample);
    const gzSample = await gzipBuffer(sample, 1);
    src.throwIfAborted();
    if (sample.length - gzSample.length < sample.length * MIN_SAMPLE_SAVING) return rawFile();

    const tmp = path.join(opts.tempDir, `ferry-gzip-${randomUUID()}.gz`);
    const gzSize = await src.gzipToFile(handle, size, tmp, level, opts.scan);
    try {
      await src.assertUnchanged(handle, st);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
    if (gzSize > size) {
      await rm(tmp, { force: true });
      return rawFile();
    }
    return {
      kind: 'file',
      path: tmp,
      size: gzSize,
      gzip: true,
      originalSize: size,
      cleanup: () => rm(tmp, { force: true }),
    };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** Error construction and checked reads for one source file. */
class SourceFile {
  readonly #absPath: string;
  readonly #context: ErrorContext;
  readonly #label: string;
  readonly #signal: AbortSignal | undefined;

  constructor(absPath: string, file: string | undefined, signal: AbortSignal | undefined) {
    this.#absPath = absPath;
    this.#signal = signal;
    // With a relative name the error context names the file; otherwise the message does.
    this.#context = file === undefined ? {} : { file };
    this.#label = file === undefined ? ` ${printable(absPath)}` : '';
  }

  throwIfAborted(): void {
    if (this.#signal?.aborted) throw new AbortError(this.#signal.reason, this.#context);
  }

  error(code: FerryErrorCode, message: string, cause?: unknown): FerryError {
    return new FerryError(
      code,
      message,
      cause === undefined ? { context: this.#context } : { cause, context: this.#context },
    );
  }

  unreadable(cause: unknown): FerryError {
    if (isFerryError(cause)) return cause;
    const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
    return this.error(
      'ERR_FERRY_SOURCE_UNREADABLE',
      `Cannot read file${this.#label}${errno ? ` (${errno})` : ''}: ${cause instanceof Error ? cause.message : String(cause)}`,
      cause,
    );
  }

  changed(detail: string): FerryError {
    return this.error(
      'ERR_FERRY_SOURCE_CHANGED',
      `File${this.#label} changed while it was being read: ${detail}`,
    );
  }

  assertRegular(st: Stats): void {
    if (st.isFile()) return;
    const kind = st.isDirectory()
      ? 'a directory'
      : st.isFIFO()
        ? 'a named pipe (FIFO)'
        : st.isSocket()
          ? 'a socket'
          : st.isCharacterDevice() || st.isBlockDevice()
            ? 'a device'
            : 'not a regular file';
    const what = this.#label === '' ? 'The path' : `${printable(this.#absPath)}`;
    throw new ValidationError(
      'ERR_FERRY_INVALID_PATH',
      `${what} is ${kind}; only regular files can be uploaded`,
      this.#context,
    );
  }

  /**
   * Opens, checks and reads the file synchronously if it is smaller than `limit`; returns
   * undefined (having read nothing) for a larger one. One byte of headroom shows growth.
   */
  readIfSmallSync(limit: number): Buffer | undefined {
    this.throwIfAborted();
    let fd: number;
    try {
      fd = openSync(this.#absPath, OPEN_FLAGS);
    } catch (error) {
      const st = statSync(this.#absPath, { throwIfNoEntry: false });
      if (st) this.assertRegular(st);
      throw this.unreadable(error);
    }
    try {
      const st = fstatSync(fd);
      this.assertRegular(st);
      if (st.size >= limit) return undefined;
      const { data, found } = readWholeSync(fd, st.size);
      if (found > st.size) throw this.changed(`it grew beyond the ${st.size} bytes it had when opened`);
      if (found < st.size) throw this.changed(`expected ${st.size} bytes, it ended after ${found}`);
      return data;
    } catch (error) {
      throw isFerryError(error) ? error : this.unreadable(error);
    } finally {
      closeSync(fd);
    }
  }

  async openAndCheck(): Promise<FileHandle> {
    try {
      return await open(this.#absPath, OPEN_FLAGS);
    } catch (error) {
      // Sockets and some devices cannot be opened at all: say what the path is, not just ENXIO.
      const st = await stat(this.#absPath).catch(() => undefined);
      if (st) this.assertRegular(st);
      throw this.unreadable(error);
    }
  }

  /** fstat of the open descriptor, refusing anything but a regular file (the handle is closed then). */
  async statHandle(handle: FileHandle): Promise<Stats> {
    try {
      const st = await handle.stat();
      this.assertRegular(st);
      return st;
    } catch (error) {
      throw isFerryError(error) ? error : this.unreadable(error);
    }
  }

  /** Reads exactly `length` bytes at `position`; with `atEnd`, also checks nothing follows them. */
  async readAt(handle: FileHandle, position: number, length: number, atEnd: boolean): Promise<Buffer> {
    const buf = Buffer.alloc(length);
    let done = 0;
    try {
      while (done < length) {
        const { bytesRead } = await handle.read(buf, done, length - done, position + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      if (done < length) throw this.changed(`expected ${length} bytes, it ended after ${position + done}`);
      if (atEnd) {
        const probe = Buffer.alloc(1);
        const { bytesRead } = await handle.read(probe, 0, 1, position + length);
        if (bytesRead !== 0)
          throw this.changed(`it grew beyond the ${position + length} bytes it had when listed`);
      }
    } catch (error) {
      throw this.unreadable(error);
    }
    this.throwIfAborted();
    return buf;
  }

  /** The size and mtime must still be what the listing stat saw. */
  async assertUnchanged(handle: FileHandle, before: Stats): Promise<void> {
    let after: Stats;
    try {
      after = await handle.stat();
    } catch (error) {
      throw this.unreadable(error);
    }
    if (after.size !== before.size) throw this.changed(`size ${before.size} -> ${after.size} bytes`);
    if (after.mtimeMs !== before.mtimeMs) throw this.changed('its modification time changed');
  }

  /** Stream-gzips the first `size` bytes to `tmp`, returning the gzip size; removes `tmp` on failure. */
  async gzipToFile(
    handle: FileHandle,
    size: number,
    tmp: string,
    level: number,
    scan?: FileSecretScan,
  ): Promise<number> {
    let result;
    try {
      result = await gzipFileParallel(handle, size, tmp, level, {
        ...(this.#signal ? { signal: this.#signal } : {}),
        ...(scan ? { onRead: (offset: number, data: Buffer) => scan.feed(offset, data) } : {}),
      });
    } catch (error) {
      await rm(tmp, { force: true });
      this.throwIfAborted();
      // The secret scan's verdict is about the file's content, not a read failure.
      if (isFerryError(error)) throw error;
      // Reads come from the source, writes go to the temp directory: only the former is the file's fault.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EACCES' || code === 'EROFS' || code === 'ENOENT') throw error;
      throw this.unreadable(error);
    }
    if (result.bytesRead !== size) {
      await rm(tmp, { force: true });
      throw this.changed(`expected ${size} bytes, read ${result.bytesRead}`);
    }
    return result.bytesWritten;
  }
}

function gzipBuffer(data: Buffer, level: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gzip(data, { level }, (error, out) => (error ? reject(error) : resolve(out)));
  });
}

/** Byte ranges with inclusive ends covering `total` bytes; `total === 0` gives `[{start: 0, end: -1}]`. */
export function chunkRanges(total: number, chunkSize: number): Array<{ start: number; end: number }> {
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
    throw new ValidationError(
      'ERR_FERRY_INVALID_OPTION',
      `Option 'chunkSize' must be a positive integer, got ${String(chunkSize)}`,
      { option: 'chunkSize' },
    );
  }
  if (!Number.isSafeInteger(total) || total < 0) {
    throw new ValidationError(
      'ERR_FERRY_INVALID_OPTION',
      `The total size must be a non-negative integer, got ${String(total)}`,
    );
  }
  if (total === 0) return [{ start: 0, end: -1 }];
  const ranges: Array<{ start: number; end: number }> = [];
  for (let start = 0; start < total; start += chunkSize) {
    ranges.push({ start, end: Math.min(start + chunkSize, total) - 1 });
  }
  return ranges;
}

/** The `Content-Range` value: `bytes <start>-<end>/<total>` (an empty file gives `bytes 0--1/0`). */
export function contentRange(start: number, end: number, total: number): string {
  return `bytes ${start}-${end}/${total}`;
}
