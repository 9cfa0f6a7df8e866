import { open, type FileHandle } from 'node:fs/promises';
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import { readSync } from 'node:fs';
import { crc32, createInflateRaw, inflateRaw, inflateRawSync } from 'node:zlib';
import { promisify } from 'node:util';
import { isFerryError } from '../../core/errors.js';
import { printable } from '../../core/format.js';
import {
  corrupt,
  FLAG_ENCRYPTED,
  LOCAL_HEADER_SIZE,
  readExactly,
  SIG_LOCAL,
  unsupported,
  type ZipEntry,
} from './central-directory.js';

const inflateRawAsync = promisify(inflateRaw);
/** Read size for streamed entries (large reads keep stored data near disk speed). */
const CHUNK = 1024 * 1024;
/** How many bytes past the fixed local header are read speculatively (name + extra usually fit). */
const HEADER_SLACK = 512;

function label(entry: ZipEntry): string {
  return `entry ${printable(entry.name)}`;
}

function beyondDeclared(entry: ZipEntry): Error {
  return corrupt(`${label(entry)} inflates beyond its declared size of ${entry.uncompressedSize} bytes`);
}

function sizeMismatch(entry: ZipEntry, actual: number): Error {
  return corrupt(
    `${label(entry)} has ${actual} bytes of data but the central directory declares ${entry.uncompressedSize}`,
  );
}

function crcMismatch(entry: ZipEntry, actual: number): Error {
  const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;
  return corrupt(
    `CRC-32 mismatch in ${label(entry)}: the central directory says ${hex(entry.crc32)}, the data gives ${hex(actual)}`,
  );
}

/** zlib errors (`Z_DATA_ERROR`, `Z_BUF_ERROR`, ...) mean corrupt compressed data. */
function mapError(entry: ZipEntry, error: Error): Error {
  if (isFerryError(error)) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return corrupt(`${label(entry)} has corrupt compressed data (${error.message})`);
  }
  if (code === 'ERR_BUFFER_TOO_LARGE') return beyondDeclared(entry);
  return error;
}

interface LocalData {
  /** Absolute offset of the entry's (compressed) data. */
  dataStart: number;
  /** The first bytes of the data when they came with the header read. */
  prefetched: Buffer | undefined;
}

/**
 * Reads the local header at `entry.localHeaderOffset`: checks the signature, the method and the
 * encryption flag against the central directory, and finds the data start from the local name and
 * extra lengths. Local sizes and CRC are ignored (they are zero with a data descriptor).
 */
async function readLocalHeader(
  handle: FileHandle,
  entry: ZipEntry,
  dataLimit: number,
  prefetch: number,
): Promise<LocalData> {
  const want = localHeaderRead(entry, dataLimit, prefetch);
  return parseLocalHeader(entry, dataLimit, await readExactly(handle, entry.localHeaderOffset, want));
}

/** How many bytes to read at the local header (the fixed part plus `prefetch`, within the data). */
function localHeaderRead(entry: ZipEntry, dataLimit: number, prefetch: number): number {
  const offset = entry.localHeaderOffset;
  if (offset + LOCAL_HEADER_SIZE > dataLimit) {
    throw corrupt(`the local header of ${label(entry)} at offset ${offset} lies outside the archive data`);
  }
  return Math.min(LOCAL_HEADER_SIZE + prefetch, dataLimit - offset);
}

function parseLocalHeader(entry: ZipEntry, dataLimit: number, head: Buffer): LocalData {
  const offset = entry.localHeaderOffset;
  if (head.readUInt32LE(0) !== SIG_LOCAL) {
    throw corrupt(`${label(entry)} has no local header at offset ${offset} (bad signature)`);
  }
  const flags = head.readUInt16LE(6);
  const method = head.readUInt16LE(8);
  if (flags & FLAG_ENCRYPTED) throw unsupported(`${label(entry)} is encrypted (local header)`);
  if (method !== entry.method) {
    throw corrupt(
      `the local header of ${label(entry)} says method ${method}, the central directory says ${entry.method}`,
    );
  }
  const dataStart = offset + LOCAL_HEADER_SIZE + head.readUInt16LE(26) + head.readUInt16LE(28);
  if (dataStart + entry.compressedSize > dataLimit) {
    throw corrupt(`the data of ${label(entry)} runs past the end of the archive data`);
  }
  const available = offset + head.length - dataStart;
  const prefetched =
    available >= entry.compressedSize
      ? head.subarray(dataStart - offset, dataStart - offset + entry.compressedSize)
      : undefined;
  return { dataStart, prefetched };
}

/** `length` bytes at `position` of `fd`, read synchronously (small entries: no thread-pool round trip). */
function readExactlySync(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const bytesRead = readSync(fd, buffer, done, length - done, position + done);
    if (bytesRead === 0) {
      throw corrupt(`unexpected end of file at offset ${position + done} (the file is truncated)`);
    }
    done += bytesRead;
  }
  return buffer;
}

/** Checks the exact size and CRC-32 of a fully decoded entry. */
function verifyBuffer(entry: ZipEntry, data: Buffer): void {
  if (data.length > entry.uncompressedSize) throw beyondDeclared(entry);
  if (data.length !== entry.uncompressedSize) throw sizeMismatch(entry, data.length);
  const actual = crc32(data);
  if (actual !== entry.crc32) throw crcMismatch(entry, actual);
}

/**
 * Reads, inflates and verifies a small entry in memory (callers bound the sizes). Output beyond
 * the declared size is cut off by zlib's `maxOutputLength`.
 */
export async function readEntryBuffer(
  handle: FileHandle,
  entry: ZipEntry,
  dataLimit: number,
): Promise<Buffer> {
  const local = await readLocalHeader(handle, entry, dataLimit, HEADER_SLACK + entry.compressedSize);
  const raw = local.prefetched ?? (await readExactly(handle, local.dataStart, entry.compressedSize));
  let data: Buffer;
  if (entry.method === 0) data = raw;
  else {
    try {
      data = await inflateRawAsync(raw, { maxOutputLength: entry.uncompressedSize + 1 });
    } catch (error) {
      throw mapError(entry, error as Error);
    }
  }
  verifyBuffer(entry, data);
  return data;
}

/**
 * {@link readEntryBuffer} on the main thread, for small entries: the local header and the data
 * come in one synchronous read and are inflated with `inflateRawSync`, its output capped one byte
 * past the declared size so that an entry inflating beyond it fails (naming it) without growing.
 */
export function readEntryBufferSync(fd: number, entry: ZipEntry, dataLimit: number): Buffer {
  const want = localHeaderRead(entry, dataLimit, HEADER_SLACK + entry.compressedSize);
  const local = parseLocalHeader(entry, dataLimit, readExactlySync(fd, entry.localHeaderOffset, want));
  const raw = local.prefetched ?? readExactlySync(fd, local.dataStart, entry.compressedSize);
  let data: Buffer;
  if (entry.method === 0) data = raw;
  else {
    try {
      data = inflateRawSync(raw, { maxOutputLength: entry.uncompressedSize + 1 });
    } catch (error) {
      throw mapError(entry, error as Error);
    }
  }
  verifyBuffer(entry, data);
  return data;
}

/** Reads `length` bytes from `start` of a shared file handle, 64 KiB at a time. */
class RangeReadable extends Readable {
  private position: number;
  private remaining: number;
  constructor(
    private readonly handle: FileHandle,
    start: number,
    length: number,
    private readonly ownsHandle: boolean,
  ) {
    super({ highWaterMark: CHUNK });
    this.position = start;
    this.remaining = length;
  }

  override _read(): void {
    if (this.remaining === 0) {
      this.push(null);
      return;
    }
    const size = Math.min(CHUNK, this.remaining);
    const buffer = Buffer.allocUnsafe(size);
    this.handle.read(buffer, 0, size, this.position).then(
      ({ bytesRead }) => {
        if (this.destroyed) return;
        if (bytesRead === 0) {
          this.destroy(corrupt(`unexpected end of file at offset ${this.position} (the file is truncated)`));
          return;
        }
        this.position += bytesRead;
        this.remaining -= bytesRead;
        this.push(bytesRead === size ? buffer : buffer.subarray(0, bytesRead));
      },
      (error: unknown) => this.destroy(error as Error),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.ownsHandle) {
      callback(error);
      return;
    }
    this.handle.close().then(
      () => callback(error),
      (closeError: unknown) => callback(error ?? (closeError as Error)),
    );
  }
}

/**
 * Passes the uncompressed bytes through, failing as soon as they exceed the declared size, and
 * checks the exact size and CRC-32 at the end. Errors from upstream (zlib) are mapped to
 * `ERR_FERRY_INTEGRITY` naming the entry.
 */
class EntryVerifier extends Transform {
  private crc = 0;
  private size = 0;
  constructor(private readonly entry: ZipEntry) {
    super({ highWaterMark: CHUNK });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.entry.uncompressedSize) {
      callback(beyondDeclared(this.entry));
      return;
    }
    this.crc = crc32(chunk, this.crc);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.size !== this.entry.uncompressedSize) callback(sizeMismatch(this.entry, this.size));
    else if (this.crc !== this.entry.crc32) callback(crcMismatch(this.entry, this.crc));
    else callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    callback(error === null ? null : mapError(this.entry, error));
  }
}

export interface EntryStreamOptions {
  /** Entry data must end at or before this offset (the central directory start). */
  dataLimit: number;
  /** Close `handle` when the stream ends or is destroyed. */
  ownsHandle: boolean;
}

/** The verified, uncompressed bytes of `entry`, read from an open handle. */
export async function openEntryStreamOnHandle(
  handle: FileHandle,
  entry: ZipEntry,
  options: EntryStreamOptions,
): Promise<Readable> {
  const { dataStart } = await readLocalHeader(handle, entry, options.dataLimit, 0);
  const source = new RangeReadable(handle, dataStart, entry.compressedSize, options.ownsHandle);
  const verifier = new EntryVerifier(entry);
  const done = (): void => {};
  // 256 KiB inflate output chunks: zlib's 16 KiB default means 16x the callbacks (and writes) per byte.
  if (entry.method === 8) pipeline(source, createInflateRaw({ chunkSize: 256 * 1024 }), verifier, done);
  else pipeline(source, verifier, done);
  return verifier;
}

/**
 * Opens a readable stream of one entry's uncompressed bytes (for merge: streaming from one zip
 * into another). The stream fails with `ERR_FERRY_INTEGRITY` if the data inflates beyond the
 * declared size (as soon as it does), or ends with the wrong size or CRC-32. The file is opened
 * here and closed when the stream ends or is destroyed.
 */
export async function openEntryStream(zipPath: string, entry: ZipEntry): Promise<Readable> {
  const handle = await open(zipPath, 'r');
  try {
    const { size } = await handle.stat();
    return await openEntryStreamOnHandle(handle, entry, { dataLimit: size, ownsHandle: true });
  } catch (error) {
    await handle.close();
    throw error;
  }
}
