import { open, type FileHandle } from 'node:fs/promises';
import { crc32, createInflateRaw, inflateRawSync, type InflateRaw } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { IntegrityError } from '../../core/errors.js';
import { writeFully } from '../../core/write-fully.js';
import {
  FLAG_DATA_DESCRIPTOR,
  FLAG_ENCRYPTED,
  FLAG_UTF8,
  LOCAL_HEADER_SIZE,
  SIG_LOCAL,
} from './central-directory.js';
import { decodeCp437 } from './central-directory.js';
import { RATIO_THRESHOLD_BYTES, type ExtractLimits } from './limits.js';
import { isSmallFile, writeSmallFileSync } from '../small-files.js';
import { EntryDataError, INLINE_ENTRIES, SmallEntryBatches } from './small-entry-batches.js';

/**
 * Reads a zip archive as it streams in (local header, data, data descriptor, next local header,
 * ..., central directory) and writes each entry's uncompressed bytes to `<staging>/<n>` (n = the
 * entry's position in the stream), checking CRC-32 and sizes as they pass. The central directory
 * and end records are written at their own offsets into a sparse file, `<staging>/directory`,
 * so the ordinary reader (readZipDirectory) can parse them afterwards; the caller then checks the
 * directory against what streamed ({@link StreamedEntry}).
 *
 * Anything this reader cannot follow without the central directory (a stored entry with a data
 * descriptor, encryption, an unknown method, bytes between entries, a prepended stub, a limit
 * passed while streaming, data that fails to inflate) throws {@link NotStreamableError}: the
 * caller falls back to the raw copy of the archive it kept (results downloads spool it while
 * streaming) and reads it from its end, which also reports any real fault with the usual error.
 */

/**
 * The archive cannot be read front to back. A Ferry error (not retryable), so the HTTP layer
 * passes it through unchanged; it never escapes the download, which falls back.
 */
export class NotStreamableError extends IntegrityError {
  override name = 'NotStreamableError';
  constructor(message: string) {
    super('ERR_FERRY_INTEGRITY', `The archive cannot be extracted while it streams: ${message}`);
  }
}

/** One entry as its local header and data said. */
export interface StreamedEntry {
  /** Position in the stream; the staged file is named after it. */
  index: number;
  /** Absolute offset of the local header. */
  offset: number;
  name: string;
  flags: number;
  method: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
}

const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_DESCRIPTOR = 0x08074b50;
const U32 = 0xffffffff;
const UTF8 = new TextDecoder('utf-8');
/**
 * Staged files are created 0666 under the umask, the mode almost every entry ends with: the
 * archive's modes arrive last, in the central directory, and a file whose mode differs (an
 * executable, a private file) is changed then (stream-extract.ts), so a download of thousands of
 * ordinary files makes no chmod call at all.
 */
export const STAGED_MODE = 0o666;

/** The entry being received. */
interface Current extends StreamedEntry {
  /** The staged file, for entries streamed to disk; undefined for small ones. */
  out: FileHandle | undefined;
  /**
   * Small entries (both sizes declared and within SMALL_FILE_BYTES): their compressed bytes
   * gathered in memory, then inflated, checked and written with synchronous calls, without a
   * thread-pool round trip per open, write and close.
   */
  small: Buffer[] | undefined;
  /** Sizes from the local header (undefined with a data descriptor). */
  declaredCompressed: number | undefined;
  declaredUncompressed: number | undefined;
  zip64: boolean;
  /** Deflate: the inflater, what was fed to it, and the pipeline writing its output. */
  inflate?: InflateRaw;
  fed: number;
  written?: Promise<void>;
  failed?: Promise<never>;
}

type Phase = 'header' | 'data' | 'descriptor' | 'tail';

export class StreamStager {
  /** The entries streamed so far, until {@link takeEntries} hands them over. */
  #entries: StreamedEntry[] = [];
  /** Entries streamed and their uncompressed bytes, kept when the list is handed over. */
  #streamedCount = 0;
  #streamedBytes = 0;
  /** Absolute offset where the first byte after the last entry arrived (the central directory). */
  tailStart: number | undefined;
  #phase: Phase = 'header';
  #offset = 0;
  #pending: Buffer = Buffer.alloc(0);
  #current: Current | undefined;
  #tail: FileHandle | undefined;
  #total = 0;
  #firstHeader: Buffer | undefined;
  /** Small entries seen so far; past INLINE_ENTRIES they go to {@link #batches}. */
  #smallEntries = 0;
  /** The worker writing small entries, once there have been many (undefined: inline). */
  #batches: SmallEntryBatches | undefined;
  /** Every small entry stays inline: no worker could be started, or the stager was closed. */
  #inlineOnly = false;

  constructor(
    /** Path of staged file `name` (`<n>` for entries, `directory` for the sparse end file). */
    private readonly file: (name: string) => string,
    private readonly limits: ExtractLimits,
  ) {}

  /** Bytes consumed so far (a resumed download continues here). */
  get offset(): number {
    return this.#offset;
  }

  /**
   * Bytes the staging has had to hold so far: the entries staged, and the one being received at
   * its declared size (what it has grown to, without a declaration). The figure a full disk's
   * error quotes: the central directory, which holds the whole artifact's size, comes last.
   */
  get bytesToStage(): number {
    const current = this.#current;
    const receiving =
      current === undefined ? 0 : Math.max(current.declaredUncompressed ?? 0, current.uncompressedSize);
    return this.#streamedBytes + receiving;
  }

  /**
   * Hands the streamed entries over, in stream order (`entries[i].index === i`), and stops keeping
   * them (after {@link finish}): once matched
   * with the central directory only their offsets are needed, and 100,000 of them were ~9 MiB
   * live while the files were placed (issue 12 item 5).
   */
  takeEntries(): StreamedEntry[] {
    const entries = this.#entries;
    this.#entries = [];
    return entries;
  }

  /**
   * Every name this stager may have created in the staging (the entries so far, the one being
   * received, the end file): what to unlink when the directory cannot be listed.
   */
  *stagedNames(): Generator<string> {
    const count = this.#streamedCount + (this.#current !== undefined ? 1 : 0);
    for (let index = 0; index < count; index++) yield String(index);
    yield 'directory';
  }

  /**
   * Consumes the next bytes of the archive, in order, as the socket reads delivered them. A
   * stored entry's bytes go to its file as they are, in one writev per call: gathering them into
   * one buffer first cost a copy of every byte (a 512 MiB download spent 0.7 s in Buffer.concat
   * and its garbage). Deflated bytes are joined for the inflater, one thread-pool job instead of
   * one per socket read; they are the compressed, smaller side.
   */
  async write(chunks: readonly Buffer[]): Promise<void> {
    let next = 0;
    let rest: Buffer | undefined;
    for (;;) {
      if (rest === undefined || rest.length === 0) {
        if (next >= chunks.length) return;
        rest = chunks[next++] as Buffer;
        continue;
      }
      const current = this.#current;
      if (this.#phase === 'data' && current !== undefined && current.small === undefined) {
        if (current.inflate === undefined) {
          const parts = [rest];
          let room = (current.declaredCompressed as number) - current.compressedSize - rest.length;
          while (room > 0 && next < chunks.length) {
            const chunk = chunks[next++] as Buffer;
            parts.push(chunk);
            room -= chunk.length;
          }
          rest = await this.#stored(current, parts);
          continue;
        }
        if (next < chunks.length) {
          rest = Buffer.concat([rest, ...chunks.slice(next)]);
          next = chunks.length;
        }
      }
      rest = await this.#step(rest);
    }
  }

  /**
   * The stream is complete: the end records must have arrived. Returns the sparse file holding
   * the first local header's signature, the central directory and the end records at their offsets.
   */
  async finish(): Promise<string> {
    await this.#settleBatches((batches) => batches.flush());
    // Every entry is written: the worker's thread and heap (15-19 MiB) are given back before the
    // caller plans and places the files, the extraction's own peak (issue 12 item 5).
    await this.#stopBatches();
    if (this.#phase !== 'tail' || this.#tail === undefined || this.tailStart === undefined) {
      throw new NotStreamableError(
        `the archive ended at offset ${this.#offset} before its central directory`,
      );
    }
    const first = this.#entries[0];
    if (first !== undefined && this.#firstHeader !== undefined) {
      await this.#tail.write(this.#firstHeader, 0, this.#firstHeader.length, first.offset);
    }
    await this.#tail.close();
    this.#tail = undefined;
    return this.file('directory');
  }

  /** Closes what is open; the caller removes the staging directory. */
  async close(): Promise<void> {
    this.#inlineOnly = true; // a write still running after this starts no worker
    const current = this.#current;
    this.#current = undefined;
    if (current !== undefined) {
      current.inflate?.destroy();
      await current.written?.catch(() => undefined);
      if (current.inflate === undefined) await current.out?.close().catch(() => undefined);
    }
    await this.#tail?.close().catch(() => undefined);
    this.#tail = undefined;
    // Every file the worker was given is written (or failed) before the caller removes the staging.
    await this.#stopBatches();
  }

  /** Stops the worker, if there is one, once the batches handed to it are answered; none starts again. */
  async #stopBatches(): Promise<void> {
    this.#inlineOnly = true;
    const batches = this.#batches;
    this.#batches = undefined;
    await batches?.close();
  }

  /** Runs `step` on the worker, if there is one, with its data failures as NotStreamableError. */
  async #settleBatches(step: (batches: SmallEntryBatches) => Promise<void>): Promise<void> {
    if (this.#batches === undefined) return;
    try {
      await step(this.#batches);
    } catch (error) {
      if (error instanceof EntryDataError) throw new NotStreamableError(error.message);
      throw error;
    }
  }

  async #step(chunk: Buffer): Promise<Buffer | undefined> {
    switch (this.#phase) {
      case 'header':
        return this.#header(chunk);
      case 'data':
        return this.#data(chunk);
      case 'descriptor':
        return this.#descriptor(chunk);
      case 'tail':
        await this.#writeTail(chunk);
        return undefined;
    }
  }

  /** Gathers `need` bytes in #pending; returns what is left of `chunk`, or undefined if more are needed. */
  #gather(chunk: Buffer, need: number): Buffer | undefined {
    const take = Math.max(0, Math.min(need - this.#pending.length, chunk.length));
    if (take > 0) this.#pending = Buffer.concat([this.#pending, chunk.subarray(0, take)]);
    this.#offset += take;
    return this.#pending.length >= need ? chunk.subarray(take) : undefined;
  }

  async #header(chunk: Buffer): Promise<Buffer | undefined> {
    const start = this.#offset - this.#pending.length;
    let rest = this.#gather(chunk, 4);
    if (rest === undefined) return undefined;
    const signature = this.#pending.readUInt32LE(0);
    if (signature === SIG_CENTRAL || signature === SIG_EOCD || signature === SIG_EOCD64) {
      this.tailStart = start;
      this.#phase = 'tail';
      this.#tail = await open(this.file('directory'), 'wx', 0o600);
      const head = this.#pending;
      this.#pending = Buffer.alloc(0);
      this.#offset -= head.length;
      await this.#writeTail(head);
      return rest;
    }
    if (signature !== SIG_LOCAL) {
      throw new NotStreamableError(
        `no local header at offset ${start} (signature 0x${signature.toString(16)})`,
      );
    }
    rest = this.#gather(rest, LOCAL_HEADER_SIZE);
    if (rest === undefined) return undefined;
    const fixed = this.#pending;
    const need = LOCAL_HEADER_SIZE + fixed.readUInt16LE(26) + fixed.readUInt16LE(28);
    rest = this.#gather(rest, need);
    if (rest === undefined) return undefined;
    const header = this.#pending;
    this.#pending = Buffer.alloc(0);
    await this.#begin(header, start);
    return rest;
  }

  async #begin(header: Buffer, start: number): Promise<void> {
    const flags = header.readUInt16LE(6);
    const method = header.readUInt16LE(8);
    if (flags & FLAG_ENCRYPTED) throw new NotStreamableError('an entry is encrypted');
    if (method !== 0 && method !== 8) throw new NotStreamableError(`an entry uses method ${method}`);
    const descriptor = (flags & FLAG_DATA_DESCRIPTOR) !== 0;
    if (descriptor && method === 0) {
      throw new NotStreamableError(
        'a stored entry has a data descriptor: its end is only in the central directory',
      );
    }
    if (this.#streamedCount >= this.limits.maxEntries) {
      throw new NotStreamableError('the archive has more entries than limits.maxEntries');
    }
    const nameLength = header.readUInt16LE(26);
    const nameBytes = header.subarray(LOCAL_HEADER_SIZE, LOCAL_HEADER_SIZE + nameLength);
    const name = flags & FLAG_UTF8 ? UTF8.decode(nameBytes) : decodeCp437(nameBytes);
    let compressed: number = header.readUInt32LE(18);
    let uncompressed: number = header.readUInt32LE(22);
    const zip64 = findZip64(header.subarray(LOCAL_HEADER_SIZE + nameLength));
    if (zip64 !== undefined && (compressed === U32 || uncompressed === U32)) {
      if (zip64.length < 16) throw new NotStreamableError('a zip64 extra field is too short');
      uncompressed = Number(zip64.readBigUInt64LE(0));
      compressed = Number(zip64.readBigUInt64LE(8));
    }
    if (this.#streamedCount === 0) this.#firstHeader = header.subarray(0, 4);
    const index = this.#streamedCount;
    const small = !descriptor && isSmallFile(compressed, uncompressed);
    // Created 0666 under the umask (STAGED_MODE); the archive's mode is applied once the central
    // directory, which holds the modes, has arrived.
    const out = small ? undefined : await open(this.file(String(index)), 'wx', STAGED_MODE);
    const current: Current = {
      index,
      offset: start,
      name,
      flags,
      method,
      crc32: 0,
      compressedSize: 0,
      uncompressedSize: 0,
      out,
      small: small ? [] : undefined,
      declaredCompressed: descriptor ? undefined : compressed,
      declaredUncompressed: descriptor ? undefined : uncompressed,
      zip64: zip64 !== undefined,
      fed: 0,
    };
    this.#current = current;
    this.#phase = 'data';
    if (small) {
      if (compressed === 0) await this.#writeSmall(current);
    } else if (method === 8) {
      // 256 KiB of output per chunk, as the extractor from a file reads: zlib's 16 KiB default
      // meant 32,768 'data' events, CRC-32 updates and stream writes per 512 MiB.
      const inflate = createInflateRaw({ chunkSize: 256 * 1024 });
      inflate.on('data', (data: Buffer) => this.#inflated(current, data));
      current.inflate = inflate;
      current.failed = new Promise<never>((_, reject) => inflate.once('error', reject));
      current.failed.catch(() => undefined);
      // The write stream closes the handle itself: FileHandle.close() would wait for the stream.
      current.written = pipeline(
        inflate,
        (out as FileHandle).createWriteStream({ highWaterMark: 1024 * 1024 }),
      );
      current.written.catch(() => undefined);
    } else if (current.declaredCompressed === 0) {
      await this.#end(current);
    }
  }

  /** Counts inflated bytes against the limits as they come out. */
  #inflated(current: Current, data: Buffer): void {
    current.crc32 = crc32(data, current.crc32);
    current.uncompressedSize += data.length;
    this.#total += data.length;
    const consumed = Math.max(current.inflate?.bytesWritten ?? 0, 1);
    const over =
      this.#total > this.limits.maxTotalBytes ||
      (current.declaredUncompressed !== undefined &&
        current.uncompressedSize > current.declaredUncompressed) ||
      (current.uncompressedSize > RATIO_THRESHOLD_BYTES &&
        current.uncompressedSize / consumed > this.limits.maxRatio * 4);
    if (over)
      current.inflate?.destroy(new NotStreamableError('an entry inflates past a limit or its declared size'));
  }

  async #data(chunk: Buffer): Promise<Buffer | undefined> {
    const current = this.#current as Current;
    if (current.small !== undefined) {
      const remaining = (current.declaredCompressed as number) - current.compressedSize;
      const part = chunk.length > remaining ? chunk.subarray(0, remaining) : chunk;
      current.small.push(part);
      current.compressedSize += part.length;
      this.#offset += part.length;
      if (current.compressedSize === current.declaredCompressed) await this.#writeSmall(current);
      return chunk.subarray(part.length);
    }
    if (current.inflate === undefined) return this.#stored(current, [chunk]);
    const inflate = current.inflate;
    current.fed += chunk.length;
    try {
      await Promise.race([
        new Promise<void>((resolve, reject) =>
          inflate.write(chunk, (error) => (error ? reject(error) : resolve())),
        ),
        current.failed,
      ]);
    } catch (error) {
      if (error instanceof NotStreamableError) throw error;
      throw new NotStreamableError(`an entry does not inflate (${(error as Error).message})`);
    }
    // zlib stops at the end of the deflate stream and leaves the rest of the input unconsumed.
    const unconsumed = current.fed - inflate.bytesWritten;
    const used = chunk.length - unconsumed;
    this.#offset += used;
    if (unconsumed === 0 && !inflate.readableEnded) return undefined;
    current.compressedSize = inflate.bytesWritten;
    inflate.end();
    try {
      await Promise.race([current.written, current.failed]);
    } catch (error) {
      if (error instanceof NotStreamableError) throw error;
      throw new NotStreamableError(`an entry does not inflate (${(error as Error).message})`);
    }
    if (current.declaredCompressed !== undefined && current.declaredCompressed !== current.compressedSize) {
      throw new NotStreamableError('an entry ends before or after the size its local header declares');
    }
    await this.#end(current);
    return chunk.subarray(used);
  }

  /**
   * The next bytes of a stored entry, in order: written in one call up to the entry's declared
   * end (its CRC-32 computed while the write is on the thread pool); returns what follows the end.
   */
  async #stored(current: Current, parts: Buffer[]): Promise<Buffer | undefined> {
    let room = (current.declaredCompressed as number) - current.compressedSize;
    let rest: Buffer | undefined;
    const taken: Buffer[] = [];
    for (const part of parts) {
      if (part.length > room) {
        if (room > 0) taken.push(part.subarray(0, room));
        rest = part.subarray(room);
        room = 0;
        break;
      }
      taken.push(part);
      room -= part.length;
    }
    const length = (current.declaredCompressed as number) - current.compressedSize - room;
    this.#count(length);
    const written = writeFully(current.out as FileHandle, taken);
    for (const part of taken) current.crc32 = crc32(part, current.crc32);
    await written;
    current.compressedSize += length;
    current.uncompressedSize += length;
    this.#offset += length;
    if (current.compressedSize === current.declaredCompressed) await this.#end(current);
    return rest;
  }

  /**
   * A small entry's bytes are all in: inflated in one call (bounded by its declared size),
   * checked against the declared size, counted against the limits, and written synchronously.
   * The CRC-32 is computed here and compared with the central directory's at the end, as for
   * streamed entries. Past the first INLINE_ENTRIES, the worker does all of that instead
   * ({@link SmallEntryBatches}): the entry is counted at its declared size, which the worker
   * checks, and its CRC-32 arrives with the batch's answer, before {@link finish} returns.
   */
  async #writeSmall(current: Current): Promise<void> {
    if (this.#useBatches()) {
      const declared = current.declaredUncompressed as number;
      const parts = current.small ?? [];
      current.small = undefined;
      this.#count(declared);
      current.uncompressedSize = declared;
      this.#phase = 'header';
      this.#push(current);
      const file = this.file(String(current.index));
      await this.#settleBatches((batches) =>
        batches.add(current.index, file, current.method, declared, parts),
      );
      return;
    }
    const compressed = Buffer.concat(current.small ?? []);
    current.small = undefined;
    const declared = current.declaredUncompressed as number;
    let data: Buffer = compressed;
    if (current.method === 8) {
      try {
        const { buffer, engine } = inflateRawSync(compressed, {
          maxOutputLength: Math.max(declared, 1),
          info: true,
        }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
        if (engine.bytesWritten !== compressed.length) {
          throw new NotStreamableError('an entry ends before or after the size its local header declares');
        }
        data = buffer;
      } catch (error) {
        if (error instanceof NotStreamableError) throw error;
        throw new NotStreamableError(`an entry does not inflate (${(error as Error).message})`);
      }
    }
    if (data.length !== declared) {
      throw new NotStreamableError('an entry has a different size than its local header declares');
    }
    this.#count(data.length);
    current.crc32 = crc32(data);
    current.uncompressedSize = data.length;
    writeSmallFileSync(this.file(String(current.index)), data, { mode: STAGED_MODE });
    this.#phase = 'header';
    this.#push(current);
  }

  /** Counts `bytes` more of uncompressed entry data against limits.maxTotalBytes. */
  #count(bytes: number): void {
    this.#total += bytes;
    if (this.#total > this.limits.maxTotalBytes) {
      throw new NotStreamableError('the entries pass limits.maxTotalBytes');
    }
  }

  /** True when this small entry goes to the worker (started at the first one past INLINE_ENTRIES). */
  #useBatches(): boolean {
    this.#smallEntries++;
    if (this.#batches !== undefined) return true;
    if (this.#inlineOnly || this.#smallEntries <= INLINE_ENTRIES) return false;
    this.#batches = SmallEntryBatches.start(STAGED_MODE, (index, crc) => {
      (this.#entries[index] as StreamedEntry).crc32 = crc;
    });
    this.#inlineOnly = this.#batches === undefined;
    return !this.#inlineOnly;
  }

  async #end(current: Current): Promise<void> {
    if (current.inflate === undefined) await current.out?.close();
    if (
      current.declaredUncompressed !== undefined &&
      current.declaredUncompressed !== current.uncompressedSize
    ) {
      throw new NotStreamableError('an entry has a different size than its local header declares');
    }
    this.#phase = current.declaredCompressed === undefined ? 'descriptor' : 'header';
    if (this.#phase === 'header') this.#push(current);
  }

  #push(current: Current): void {
    this.#current = undefined;
    const { index, offset, name, flags, method, crc32, compressedSize, uncompressedSize } = current;
    this.#entries.push({ index, offset, name, flags, method, crc32, compressedSize, uncompressedSize });
    this.#streamedCount++;
    this.#streamedBytes += uncompressedSize;
  }

  /** The data descriptor: optional signature, CRC-32, then 4- or 8-byte sizes (zip64). */
  #descriptor(chunk: Buffer): Buffer | undefined {
    const current = this.#current as Current;
    let rest = this.#gather(chunk, 4);
    if (rest === undefined) return undefined;
    const signed = this.#pending.readUInt32LE(0) === SIG_DESCRIPTOR;
    const need = (signed ? 8 : 4) + (current.zip64 ? 16 : 8);
    rest = this.#gather(rest, need);
    if (rest === undefined) return undefined;
    const body = this.#pending.subarray(signed ? 4 : 0);
    this.#pending = Buffer.alloc(0);
    const crc = body.readUInt32LE(0);
    const compressed = current.zip64 ? Number(body.readBigUInt64LE(4)) : body.readUInt32LE(4);
    const uncompressed = current.zip64 ? Number(body.readBigUInt64LE(12)) : body.readUInt32LE(8);
    if (
      crc !== current.crc32 ||
      compressed !== current.compressedSize ||
      uncompressed !== current.uncompressedSize
    ) {
      throw new NotStreamableError('a data descriptor does not match the data before it');
    }
    this.#phase = 'header';
    this.#push(current);
    return rest;
  }

  async #writeTail(chunk: Buffer): Promise<void> {
    const tail = this.#tail as FileHandle;
    let done = 0;
    while (done < chunk.length) {
      const { bytesWritten } = await tail.write(chunk, done, chunk.length - done, this.#offset + done);
      done += bytesWritten;
    }
    this.#offset += chunk.length;
  }
}

/** The zip64 extended information extra field (0x0001) of a local header, if present. */
function findZip64(extra: Buffer): Buffer | undefined {
  for (let at = 0; at + 4 <= extra.length;) {
    const id = extra.readUInt16LE(at);
    const size = extra.readUInt16LE(at + 2);
    if (id === 0x0001) return extra.subarray(at + 4, Math.min(at + 4 + size, extra.length));
    at += 4 + size;
  }
  return undefined;
}
