import { closeSync, constants as fsConstants, fstatSync, openSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { types } from 'node:util';
import { crc32 } from 'node:zlib';
import { AbortError, FerryError, ValidationError, isFerryError } from '../../core/errors.js';
import { readWholeSync } from '../read-small-sync.js';
import type { FileSecretScan } from '../secret-scan.js';
import { printable } from '../../core/format.js';

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
export class EntrySource implements PieceSource {
  readonly sourcePath: string;
  readonly name: string;
  /** The size from `fstat` right after opening: the entry is exactly this long, or it changed. */
  readonly size: number;
  readonly mtime: Date;
  readonly #handle: FileHandle;
  readonly #signal: AbortSignal;
  readonly #counters: FileCounters;
  /** Sees every byte read (the secret scan), before it can be zipped. */
  readonly #scan: FileSecretScan | undefined;
  #closed: Promise<void> | undefined;

  private constructor(
    sourcePath: string,
    name: string,
    handle: FileHandle,
    st: Stats,
    signal: AbortSignal,
    counters: FileCounters,
    scan: FileSecretScan | undefined,
  ) {
    this.sourcePath = sourcePath;
    this.name = name;
    this.#handle = handle;
    this.size = st.size;
    this.mtime = st.mtime;
    this.#signal = signal;
    this.#counters = counters;
    this.#scan = scan;
  }

  static async open(
    sourcePath: string,
    name: string,
    signal: AbortSignal,
    counters: FileCounters,
    scan?: FileSecretScan,
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
      return new EntrySource(sourcePath, name, handle, st, signal, counters, scan);
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
    this.#scan?.feed(position, buf);
    return buf;
  }

  /**
   * Reads a small file whole with one byte of headroom: one read shows both a short file and
   * one that grew since it was opened, instead of a read plus an end probe.
   */
  async readWhole(): Promise<Buffer> {
    this.throwIfAborted();
    const buf = Buffer.allocUnsafe(this.size + 1);
    let done = 0;
    try {
      while (done < buf.length) {
        const { bytesRead } = await this.#handle.read(buf, done, buf.length - done, done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (error) {
      throw unreadable(this.sourcePath, this.name, error);
    }
    if (done > this.size) throw this.changed(`it was ${this.size} bytes when opened and has grown since`);
    if (done < this.size) {
      throw this.changed(`it was ${this.size} bytes when opened and now ends after ${done}`);
    }
    this.#scan?.feed(0, buf.subarray(0, this.size));
    return buf.subarray(0, this.size);
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

/**
 * Reads a file whole, synchronously, if it is at most `limit` bytes; undefined for a larger one.
 * From the page cache a small file costs microseconds this way, against ~0.2 ms of main-thread
 * time for the four promise round trips through the thread pool (performance.md). Counted like
 * an EntrySource so open-file limits hold.
 */
export function readSmallFileSync(
  sourcePath: string,
  name: string,
  limit: number,
  counters: FileCounters,
  scan?: FileSecretScan,
): { data: Buffer; mtime: Date } | undefined {
  let fd: number;
  try {
    fd = openSync(sourcePath, OPEN_FLAGS);
  } catch (error) {
    throw unreadable(sourcePath, name, error);
  }
  counters.openFiles++;
  if (counters.openFiles > counters.maxOpenFiles) counters.maxOpenFiles = counters.openFiles;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      throw new ValidationError(
        'ERR_FERRY_INVALID_PATH',
        `${printable(sourcePath)} is ${describeKind(st)}; only regular files can be zipped as files`,
        { file: name },
      );
    }
    if (st.size > limit) return undefined;
    const { data, found } = readWholeSync(fd, st.size);
    if (found !== st.size) {
      throw new FerryError(
        'ERR_FERRY_SOURCE_CHANGED',
        `File ${printable(sourcePath)} changed while it was being zipped: it was ${st.size} bytes when opened and ${found > st.size ? 'has grown since' : `now ends after ${found}`}`,
        { context: { file: name } },
      );
    }
    scan?.feed(0, data);
    return { data, mtime: st.mtime };
  } catch (error) {
    throw isFerryError(error) ? error : unreadable(sourcePath, name, error);
  } finally {
    closeSync(fd);
    counters.openFiles--;
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

/** What the piece producers need from a source: sequential or positional reads of a known length. */
export interface PieceSource {
  readonly name: string;
  readonly size: number;
  throwIfAborted(): void;
  read(position: number, length: number, into?: Buffer): Promise<Buffer>;
  /** Throws `ERR_FERRY_SOURCE_CHANGED` if the source has more bytes than `size` (or, for a stream, the wrong CRC-32). */
  assertEnd(): Promise<void>;
  changed(detail: string): FerryError;
  close(): Promise<void>;
}

/** The description of a `stream` input: its declared size and CRC-32 and how to open it. */
export interface StreamInputSpec {
  name: string;
  size: number;
  crc32: number;
  open: () => Promise<Readable>;
}

const hex32 = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

/**
 * One `stream` input (e.g. an entry of another zip), read strictly in order. The size and CRC-32
 * are declared up front; the bytes are checked against both as they pass: more bytes than declared,
 * fewer, or a different CRC-32 → `ERR_FERRY_SOURCE_CHANGED` naming the entry. An error of the
 * stream itself is passed on when it is a Ferry error, else wrapped as `ERR_FERRY_SOURCE_UNREADABLE`.
 * Closing (or aborting) destroys the stream.
 */
export class StreamSource implements PieceSource {
  readonly name: string;
  readonly size: number;
  readonly crc32: number;
  readonly #stream: Readable;
  readonly #iterator: AsyncIterator<unknown>;
  readonly #signal: AbortSignal;
  readonly #counters: FileCounters;
  readonly #onAbort: () => void;
  /** Bytes received from the stream and not yet consumed; they start at offset `#consumed`. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #consumed = 0;
  #received = 0;
  #crc = 0;
  #ended = false;
  #closed: Promise<void> | undefined;

  private constructor(spec: StreamInputSpec, stream: Readable, signal: AbortSignal, counters: FileCounters) {
    this.name = spec.name;
    this.size = spec.size;
    this.crc32 = spec.crc32 >>> 0;
    this.#stream = stream;
    this.#iterator = stream[Symbol.asyncIterator]();
    this.#signal = signal;
    this.#counters = counters;
    this.#onAbort = () => stream.destroy(new AbortError(signal.reason, { file: spec.name }));
    signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  static async open(
    spec: StreamInputSpec,
    signal: AbortSignal,
    counters: FileCounters,
  ): Promise<StreamSource> {
    if (signal.aborted) throw new AbortError(signal.reason, { file: spec.name });
    let stream: Readable;
    try {
      stream = await spec.open();
    } catch (error) {
      throw streamUnreadable(spec.name, error);
    }
    if (typeof (stream as Partial<Readable> | undefined)?.[Symbol.asyncIterator] !== 'function') {
      throw new ValidationError(
        'ERR_FERRY_INVALID_OPTION',
        `open() of stream entry ${printable(spec.name)} did not return a Readable`,
        { file: spec.name },
      );
    }
    counters.openFiles++;
    if (counters.openFiles > counters.maxOpenFiles) counters.maxOpenFiles = counters.openFiles;
    return new StreamSource(spec, stream, signal, counters);
  }

  throwIfAborted(): void {
    if (this.#signal.aborted) throw new AbortError(this.#signal.reason, { file: this.name });
  }

  changed(detail: string): FerryError {
    return new FerryError(
      'ERR_FERRY_SOURCE_CHANGED',
      `The data of stream entry ${printable(this.name)} does not match what was declared: ${detail}`,
      { context: { file: this.name } },
    );
  }

  /** Pulls from the stream until `want` bytes are pending or it ends. */
  async #fill(want: number): Promise<void> {
    while (this.#pendingBytes < want && !this.#ended) {
      this.throwIfAborted();
      let next: IteratorResult<unknown>;
      try {
        next = await this.#iterator.next();
      } catch (error) {
        this.throwIfAborted();
        throw streamUnreadable(this.name, error);
      }
      if (next.done === true) {
        this.#ended = true;
        break;
      }
      const value = next.value;
      const chunk = Buffer.isBuffer(value)
        ? value
        : value instanceof Uint8Array
          ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
          : Buffer.from(String(value));
      if (chunk.length === 0) continue;
      this.#received += chunk.length;
      if (this.#received > this.size) {
        throw this.changed(`it has more than the declared ${this.size} bytes`);
      }
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
    }
  }

  /** The next `length` bytes without consuming them (for the compressibility sample). */
  async peek(length: number): Promise<Buffer> {
    await this.#fill(length);
    const joined = Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = joined.length > 0 ? [joined] : [];
    return joined.subarray(0, Math.min(length, joined.length));
  }

  /** Reads exactly `length` bytes at `position`, which must be where the previous read ended. */
  async read(position: number, length: number, into?: Buffer): Promise<Buffer> {
    if (position !== this.#consumed) {
      throw new FerryError(
        'ERR_FERRY_INTEGRITY',
        `Stream entry ${printable(this.name)} was read out of order (at ${position}, expected ${this.#consumed})`,
        { context: { file: this.name } },
      );
    }
    await this.#fill(length);
    if (this.#pendingBytes < length) {
      throw this.changed(
        `it ended after ${this.#consumed + this.#pendingBytes} bytes, ${this.size} were declared`,
      );
    }
    const out = into === undefined ? Buffer.allocUnsafe(length) : into.subarray(0, length);
    let done = 0;
    while (done < length) {
      const head = this.#pending[0] as Buffer;
      const take = Math.min(head.length, length - done);
      head.copy(out, done, 0, take);
      done += take;
      if (take === head.length) this.#pending.shift();
      else this.#pending[0] = head.subarray(take);
    }
    this.#pendingBytes -= length;
    this.#consumed += length;
    this.#crc = crc32(out, this.#crc);
    return out;
  }

  /** Checks that the stream ends at the declared size and that the bytes had the declared CRC-32. */
  async assertEnd(): Promise<void> {
    await this.#fill(1);
    if (this.#pendingBytes > 0 || this.#consumed !== this.size) {
      throw this.changed(`it has more than the declared ${this.size} bytes`);
    }
    if (this.#crc !== this.crc32) {
      throw this.changed(`its CRC-32 is ${hex32(this.#crc)}, ${hex32(this.crc32)} was declared`);
    }
  }

  /** Destroys the stream; safe to call more than once. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#signal.removeEventListener('abort', this.#onAbort);
      this.#counters.openFiles--;
      this.#pending = [];
      if (!this.#stream.destroyed) this.#stream.destroy();
      await this.#iterator.return?.().catch(() => undefined);
    })();
    return this.#closed;
  }
}

function streamUnreadable(name: string, cause: unknown): FerryError {
  if (isFerryError(cause)) return cause;
  const detail = cause instanceof Error || types.isNativeError(cause) ? cause.message : String(cause);
  return new FerryError(
    'ERR_FERRY_SOURCE_UNREADABLE',
    `Cannot read stream entry ${printable(name)}: ${detail}`,
    {
      cause,
      context: { file: name },
    },
  );
}
