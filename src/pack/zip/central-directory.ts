import { open, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { IntegrityError } from '../../core/errors.js';
import { printable } from '../../core/format.js';
import { limitError } from './limits.js';

/**
 * Reads a zip archive's central directory from the end of the file with positional reads: EOCD,
 * then the ZIP64 locator and record when present, then the central headers in 1 MiB windows. The
 * local headers are not scanned; entry data is located through `localHeaderOffset`. Never loads
 * the whole archive.
 */

/** One entry as described by the central directory (the only place sizes and CRCs are trusted). */
export interface ZipEntry {
  /** The decoded name (UTF-8 when `utf8`, else CP437), as stored: not validated, may be hostile. */
  name: string;
  /** The name ends in `/` (or `\`), or the attributes say directory. */
  isDirectory: boolean;
  /** The unix mode says symbolic link (`S_IFLNK`); the entry's data is the link text. */
  isSymlink: boolean;
  /** The full unix `st_mode` (type and permission bits) when made on unix and non-zero. */
  mode: number | undefined;
  /** 0 = stored, 8 = deflate. Anything else is rejected while reading. */
  method: 0 | 8;
  compressedSize: number;
  uncompressedSize: number;
  /** CRC-32 of the uncompressed data (unsigned). */
  crc32: number;
  /** Absolute offset of the local header in the file (already shifted for a prepended stub). */
  localHeaderOffset: number;
  /** General purpose bit flags (bit 3: data descriptor, bit 11: UTF-8 name). */
  flags: number;
  /** The name was stored as UTF-8 (flag bit 11). */
  utf8: boolean;
  /**
   * The modification time in milliseconds since the epoch: the extended timestamp (0x5455) when
   * present, else the DOS time (local time). A number, not a `Date`: a `Date` per entry was ~9 MiB
   * live at 100,000 entries when a download parsed its central directory, and only merge uses it.
   */
  mtimeMs: number;
}

/** The result of parsing the end of an archive. */
export interface ZipDirectory {
  entries: ZipEntry[];
  /** Absolute offset where the central directory starts; entry data must end before it. */
  centralDirectoryOffset: number;
  /** Bytes before the offsets' origin (a prepended stub whose length the offsets do not include). */
  prefixBytes: number;
  fileSize: number;
}

export interface ReadDirectoryOptions {
  /** Reject the archive before parsing when the end record announces more entries. */
  maxEntries?: number;
}

export const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_LOCATOR = 0x07064b50;
export const LOCAL_HEADER_SIZE = 30;
const CENTRAL_HEADER_SIZE = 46;
const EOCD_SIZE = 22;
const LOCATOR_SIZE = 20;
const EOCD64_SIZE = 56;
const MAX_COMMENT = 0xffff;
const WINDOW = 1024 * 1024;
const U16 = 0xffff;
const U32 = 0xffffffff;

/** Flag bits. */
export const FLAG_ENCRYPTED = 0x0001;
export const FLAG_DATA_DESCRIPTOR = 0x0008;
const FLAG_PATCHED = 0x0020;
const FLAG_STRONG_ENCRYPTION = 0x0040;
export const FLAG_UTF8 = 0x0800;
const FLAG_MASKED_HEADERS = 0x2000;

const METHOD_NAMES: Readonly<Record<number, string>> = {
  1: 'shrink',
  6: 'implode',
  9: 'deflate64',
  12: 'bzip2',
  14: 'lzma',
  93: 'zstd',
  95: 'xz',
  98: 'ppmd',
  99: 'AES encryption',
};

/** The bytes 0x80–0xFF of code page 437 (0x00–0x7F are decoded as ASCII). */
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐' +
  '└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

/**
 * Decodes a name stored without the UTF-8 flag: ASCII as-is, high bytes through CP437. Always one
 * flat string: appending a character at a time builds a rope, a cons string per character past
 * the 13th (~0.5 KiB for a 30-character name), and a name is kept for the whole extraction, twice
 * (central directory and streamed entry): ~100 MiB of ropes at 100,000 entries.
 */
export function decodeCp437(bytes: Uint8Array): string {
  if (bytes.every((byte) => byte < 0x80)) {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }
  const chars = new Array<string>(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    chars[i] = byte < 0x80 ? String.fromCharCode(byte) : CP437_HIGH.charAt(byte - 0x80);
  }
  return chars.join('');
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function corrupt(message: string): IntegrityError {
  return new IntegrityError('ERR_FERRY_INTEGRITY', `Invalid zip archive: ${message}`);
}

export function unsupported(message: string): IntegrityError {
  return new IntegrityError('ERR_FERRY_INTEGRITY', `Unsupported zip archive: ${message}`);
}

/** Reads exactly `length` bytes at `position`, or throws "unexpected end of file". */
export async function readExactly(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) {
      throw corrupt(`unexpected end of file at offset ${position + done} (the file is truncated)`);
    }
    done += bytesRead;
  }
  return buffer;
}

function u64(buffer: Buffer, offset: number, what: string): number {
  const value = buffer.readBigUInt64LE(offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) unsupportedValue(what, value);
  return Number(value);
}

function unsupportedValue(what: string, value: bigint): never {
  throw unsupported(`${what} is ${value}, larger than 2^53`);
}

/** A read-through window over one region of the file, so the central directory is read in 1 MiB reads. */
class WindowReader {
  private buffer: Buffer = Buffer.alloc(0);
  private start = 0;
  constructor(
    private readonly handle: FileHandle,
    private readonly end: number,
  ) {}

  async get(position: number, length: number): Promise<Buffer> {
    if (position < this.start || position + length > this.start + this.buffer.length) {
      const size = Math.min(Math.max(length, WINDOW), this.end - position);
      if (size < length) throw corrupt(`central directory record at offset ${position} is truncated`);
      this.buffer = await readExactly(this.handle, position, size);
      this.start = position;
    }
    return this.buffer.subarray(position - this.start, position - this.start + length);
  }
}

interface EndRecord {
  entries: number;
  cdSize: number;
  cdOffset: number;
  /** Where the central directory must end: the ZIP64 end record, else the classic one. */
  cdEnd: number;
  /** The shift implied by the ZIP64 locator, when there is one. */
  zip64Shift: number | undefined;
}

async function readEndRecord(handle: FileHandle, fileSize: number, label: string): Promise<EndRecord> {
  if (fileSize < EOCD_SIZE) {
    throw corrupt(`${label} is ${fileSize} bytes long, too short to be a zip archive`);
  }
  const tailLength = Math.min(fileSize, EOCD_SIZE + MAX_COMMENT);
  const tailStart = fileSize - tailLength;
  const tail = await readExactly(handle, tailStart, tailLength);
  let at = -1;
  for (let i = tailLength - EOCD_SIZE; i >= 0; i--) {
    if (tail[i] !== 0x50 || tail.readUInt32LE(i) !== SIG_EOCD) continue;
    // The comment must run exactly to the end of the file; otherwise this is a signature inside data.
    if (i + EOCD_SIZE + tail.readUInt16LE(i + 20) === tailLength) {
      at = i;
      break;
    }
  }
  if (at < 0) {
    throw corrupt(
      `no end of central directory record found in ${label} (the file is truncated or is not a zip archive)`,
    );
  }
  const eocdPosition = tailStart + at;
  const disk = tail.readUInt16LE(at + 4);
  const cdDisk = tail.readUInt16LE(at + 6);
  const entriesOnDisk = tail.readUInt16LE(at + 8);
  const entries = tail.readUInt16LE(at + 10);
  const cdSize = tail.readUInt32LE(at + 12);
  const cdOffset = tail.readUInt32LE(at + 16);
  const needsZip64 =
    disk === U16 ||
    cdDisk === U16 ||
    entriesOnDisk === U16 ||
    entries === U16 ||
    cdSize === U32 ||
    cdOffset === U32;

  const locatorPosition = eocdPosition - LOCATOR_SIZE;
  const locator = locatorPosition >= 0 ? await readExactly(handle, locatorPosition, LOCATOR_SIZE) : undefined;
  if (locator === undefined || locator.readUInt32LE(0) !== SIG_LOCATOR) {
    if (needsZip64) {
      throw corrupt(
        'the end of central directory record has ZIP64 markers (0xFFFF/0xFFFFFFFF) but there is no ZIP64 end of central directory locator',
      );
    }
    if (disk !== 0 || cdDisk !== 0 || entriesOnDisk !== entries) {
      throw unsupported('multi-disk (split or spanned) archives are not supported');
    }
    return { entries, cdSize, cdOffset, cdEnd: eocdPosition, zip64Shift: undefined };
  }

  const locatorDisk = locator.readUInt32LE(4);
  const recordOffset = u64(locator, 8, 'the ZIP64 end record offset');
  const totalDisks = locator.readUInt32LE(16);
  if (locatorDisk !== 0 || totalDisks > 1) {
    throw unsupported('multi-disk (split or spanned) archives are not supported');
  }
  // The record normally sits at `recordOffset`; with a prepended stub that the offsets do not count,
  // it sits right before the locator instead. Either way it must end exactly at the locator.
  let record: Buffer | undefined;
  let recordPosition = -1;
  for (const candidate of [recordOffset, locatorPosition - EOCD64_SIZE]) {
    if (candidate < 0 || candidate + EOCD64_SIZE > locatorPosition) continue;
    const buffer = await readExactly(handle, candidate, EOCD64_SIZE);
    if (buffer.readUInt32LE(0) !== SIG_EOCD64) continue;
    const size = buffer.readBigUInt64LE(4);
    if (BigInt(candidate) + 12n + size !== BigInt(locatorPosition)) continue;
    record = buffer;
    recordPosition = candidate;
    break;
  }
  if (record === undefined) {
    throw corrupt(
      `the ZIP64 end of central directory record was not found (locator points to ${recordOffset})`,
    );
  }
  const disk64 = record.readUInt32LE(16);
  const cdDisk64 = record.readUInt32LE(20);
  const entriesOnDisk64 = u64(record, 24, 'the entry count');
  const entries64 = u64(record, 32, 'the entry count');
  const cdSize64 = u64(record, 40, 'the central directory size');
  const cdOffset64 = u64(record, 48, 'the central directory offset');
  if (disk64 !== 0 || cdDisk64 !== 0 || entriesOnDisk64 !== entries64) {
    throw unsupported('multi-disk (split or spanned) archives are not supported');
  }
  const agree =
    (disk === U16 || disk === disk64) &&
    (cdDisk === U16 || cdDisk === cdDisk64) &&
    (entries === U16 || entries === entries64) &&
    (entriesOnDisk === U16 || entriesOnDisk === entriesOnDisk64) &&
    (cdSize === U32 || cdSize === cdSize64) &&
    (cdOffset === U32 || cdOffset === cdOffset64);
  if (!agree) {
    throw corrupt('the end of central directory record and the ZIP64 end record disagree');
  }
  return {
    entries: entries64,
    cdSize: cdSize64,
    cdOffset: cdOffset64,
    cdEnd: recordPosition,
    zip64Shift: recordPosition - recordOffset,
  };
}

/** A DOS date and time (local time) in milliseconds since the epoch. */
function dosTimeMs(date: number, time: number): number {
  const year = ((date >> 9) & 0x7f) + 1980;
  const month = Math.max(1, (date >> 5) & 0x0f) - 1;
  const day = Math.max(1, date & 0x1f);
  return new Date(year, month, day, time >> 11, (time >> 5) & 0x3f, (time & 0x1f) * 2).getTime();
}

/** Parses the end records and every central header. Structural problems throw `ERR_FERRY_INTEGRITY`. */
export async function readZipDirectory(
  handle: FileHandle,
  options: ReadDirectoryOptions & { label?: string } = {},
): Promise<ZipDirectory> {
  const label = options.label ?? 'the file';
  const fileSize = (await handle.stat()).size;
  const end = await readEndRecord(handle, fileSize, label);

  // Bytes before the offsets' origin: 0 for a normal archive, the stub length for a stub prepended
  // with `cat` (offsets not adjusted). Anything inconsistent is rejected.
  const shift = end.cdEnd - (end.cdOffset + end.cdSize);
  if (shift < 0) {
    throw corrupt(
      `the central directory (offset ${end.cdOffset}, ${end.cdSize} bytes) lies outside the file or overlaps its end record`,
    );
  }
  if (end.zip64Shift !== undefined && end.zip64Shift !== shift) {
    throw corrupt('the ZIP64 end record and the central directory offsets are inconsistent');
  }
  const cdStart = end.cdOffset + shift;
  if (options.maxEntries !== undefined && end.entries > options.maxEntries) {
    throw limitError(`it has ${end.entries} entries`, 'maxEntries', options.maxEntries);
  }
  if (end.entries * CENTRAL_HEADER_SIZE > end.cdSize) {
    throw corrupt(
      `the central directory (${end.cdSize} bytes) is too small for ${end.entries} ${end.entries === 1 ? 'entry' : 'entries'}`,
    );
  }

  const reader = new WindowReader(handle, cdStart + end.cdSize);
  const entries: ZipEntry[] = [];
  const cdEnd = cdStart + end.cdSize;
  let position = cdStart;
  for (let index = 0; index < end.entries; index++) {
    if (position + CENTRAL_HEADER_SIZE > cdEnd) {
      throw corrupt(
        `the central directory ends after ${index} of its ${end.entries} ${end.entries === 1 ? 'entry' : 'entries'}`,
      );
    }
    const fixed = await reader.get(position, CENTRAL_HEADER_SIZE);
    if (fixed.readUInt32LE(0) !== SIG_CENTRAL) {
      throw corrupt(
        index === 0 && shift > 0
          ? `no central directory at offset ${cdStart}: the archive has ${shift} unexplained bytes before its end records (inconsistent offsets)`
          : `central directory entry ${index} at offset ${position} has a bad signature`,
      );
    }
    const versionMadeBy = fixed.readUInt16LE(4);
    const versionNeeded = fixed.readUInt16LE(6);
    const flags = fixed.readUInt16LE(8);
    const method = fixed.readUInt16LE(10);
    const time = fixed.readUInt16LE(12);
    const date = fixed.readUInt16LE(14);
    const crc = fixed.readUInt32LE(16);
    let compressedSize = fixed.readUInt32LE(20);
    let uncompressedSize = fixed.readUInt32LE(24);
    const nameLength = fixed.readUInt16LE(28);
    const extraLength = fixed.readUInt16LE(30);
    const commentLength = fixed.readUInt16LE(32);
    let diskStart = fixed.readUInt16LE(34);
    const externalAttributes = fixed.readUInt32LE(38);
    let localHeaderOffset = fixed.readUInt32LE(42);
    const variableLength = nameLength + extraLength + commentLength;
    if (position + CENTRAL_HEADER_SIZE + variableLength > cdEnd) {
      throw corrupt(`central directory entry ${index} runs past the end of the central directory`);
    }
    const variable = await reader.get(position + CENTRAL_HEADER_SIZE, variableLength);
    const nameBytes = variable.subarray(0, nameLength);
    const extra = variable.subarray(nameLength, nameLength + extraLength);
    position += CENTRAL_HEADER_SIZE + variableLength;

    const utf8 = (flags & FLAG_UTF8) !== 0;
    let name: string;
    try {
      name = utf8 ? UTF8.decode(nameBytes) : decodeCp437(nameBytes);
    } catch {
      throw corrupt(`the name of entry ${index} is flagged UTF-8 but is not valid UTF-8`);
    }
    const described = (): string => `entry ${printable(name)}`;

    let mtimeMs = dosTimeMs(date, time);
    let sawZip64 = false;
    for (let at = 0; at + 4 <= extra.length;) {
      const id = extra.readUInt16LE(at);
      const size = extra.readUInt16LE(at + 2);
      const body = extra.subarray(at + 4, at + 4 + size);
      if (body.length !== size) throw corrupt(`the extra field of ${described()} is truncated`);
      at += 4 + size;
      if (id === 0x0001) {
        // ZIP64: only the fields that are saturated in the header, in this order.
        sawZip64 = true;
        let p = 0;
        const next = (bytes: 8 | 4, what: string): number => {
          if (p + bytes > body.length) throw corrupt(`the ZIP64 extra field of ${described()} lacks ${what}`);
          const value = bytes === 8 ? u64(body, p, `${what} of ${described()}`) : body.readUInt32LE(p);
          p += bytes;
          return value;
        };
        if (uncompressedSize === U32) uncompressedSize = next(8, 'the uncompressed size');
        if (compressedSize === U32) compressedSize = next(8, 'the compressed size');
        if (localHeaderOffset === U32) localHeaderOffset = next(8, 'the local header offset');
        if (diskStart === U16) diskStart = next(4, 'the disk number');
      } else if (id === 0x7075 && !utf8 && size >= 5 && body[0] === 1) {
        // Info-ZIP Unicode Path: a UTF-8 name, valid only while the CRC of the stored name matches.
        if (body.readUInt32LE(1) === crc32(nameBytes)) {
          try {
            name = UTF8.decode(body.subarray(5));
          } catch {
            throw corrupt(`the Unicode path extra field of ${described()} is not valid UTF-8`);
          }
        }
      } else if (id === 0x5455 && size >= 5 && (body[0] ?? 0) & 1) {
        mtimeMs = body.readUInt32LE(1) * 1000;
      }
    }
    if (!sawZip64 && (uncompressedSize === U32 || compressedSize === U32 || localHeaderOffset === U32)) {
      throw corrupt(`${described()} has ZIP64 markers but no ZIP64 extra field`);
    }

    if (flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_MASKED_HEADERS) || method === 99) {
      throw unsupported(`${described()} is encrypted; Ferry does not extract encrypted archives`);
    }
    if (flags & FLAG_PATCHED) {
      throw unsupported(`${described()} holds patched data (flag bit 5), which needs a base file`);
    }
    if (method !== 0 && method !== 8) {
      const known = METHOD_NAMES[method];
      throw unsupported(
        `${described()} uses compression method ${method}${known ? ` (${known})` : ''}; only stored (0) and deflate (8) are supported`,
      );
    }
    if ((versionNeeded & 0xff) > 45) {
      const v = versionNeeded & 0xff;
      throw unsupported(
        `${described()} needs zip version ${Math.floor(v / 10)}.${v % 10} to extract; up to 4.5 is supported`,
      );
    }
    if (diskStart !== 0) throw unsupported('multi-disk (split or spanned) archives are not supported');

    const host = versionMadeBy >> 8;
    const unixMode = host === 3 || host === 19 ? externalAttributes >>> 16 : 0;
    const mode = unixMode === 0 ? undefined : unixMode;
    const isSymlink = mode !== undefined && (mode & 0o170000) === 0o120000;
    const isDirectory =
      name.endsWith('/') ||
      name.endsWith('\\') ||
      (mode !== undefined && (mode & 0o170000) === 0o040000) ||
      ((host === 0 || host === 10 || host === 14) && (externalAttributes & 0x10) !== 0);
    if (isDirectory && isSymlink) throw corrupt(`${described()} is marked both directory and symbolic link`);
    if (isDirectory && uncompressedSize !== 0) {
      throw corrupt(`${described()} is a directory but has ${uncompressedSize} bytes of data`);
    }

    entries.push({
      name,
      isDirectory,
      isSymlink,
      mode,
      method,
      compressedSize,
      uncompressedSize,
      crc32: crc,
      localHeaderOffset: localHeaderOffset + shift,
      flags,
      utf8,
      mtimeMs,
    });
  }
  if (position !== cdEnd) {
    throw corrupt(
      `the central directory has ${cdEnd - position} bytes after its ${end.entries} ${end.entries === 1 ? 'entry' : 'entries'}`,
    );
  }
  checkOverlaps(entries, cdStart);
  await checkFirstLocalHeader(handle, entries, shift);
  return { entries, centralDirectoryOffset: cdStart, prefixBytes: shift, fileSize };
}

/**
 * Entries must not share bytes (the "overlapping entries" zip bomb) and must end before the
 * central directory. Each entry occupies at least its 30-byte local header plus its compressed data.
 */
function checkOverlaps(entries: readonly ZipEntry[], cdStart: number): void {
  const order = entries
    .map((_, i) => i)
    .sort((a, b) => entries[a]!.localHeaderOffset - entries[b]!.localHeaderOffset);
  for (let k = 0; k < order.length; k++) {
    const entry = entries[order[k]!]!;
    const nextIndex = order[k + 1];
    const next = nextIndex === undefined ? undefined : entries[nextIndex]!;
    const minimumEnd = entry.localHeaderOffset + LOCAL_HEADER_SIZE + entry.compressedSize;
    if (next !== undefined && minimumEnd > next.localHeaderOffset) {
      throw corrupt(
        `entries ${printable(entry.name)} and ${printable(next.name)} overlap (a zip bomb technique)`,
      );
    }
    if (minimumEnd > cdStart) {
      throw corrupt(`the data of entry ${printable(entry.name)} runs into the central directory`);
    }
  }
}

/**
 * The lowest local header offset must point at a local header. With a prepended stub this is what
 * shows the shifted offsets are consistent (the other entries are checked when they are read).
 */
async function checkFirstLocalHeader(
  handle: FileHandle,
  entries: readonly ZipEntry[],
  shift: number,
): Promise<void> {
  let first: ZipEntry | undefined;
  for (const entry of entries) {
    if (first === undefined || entry.localHeaderOffset < first.localHeaderOffset) first = entry;
  }
  if (first === undefined) return;
  const signature = (await readExactly(handle, first.localHeaderOffset, 4)).readUInt32LE(0);
  if (signature === SIG_LOCAL) return;
  throw corrupt(
    shift > 0
      ? `no local header where entry ${printable(first.name)} should start (offset ${first.localHeaderOffset}): ` +
          `the archive has ${shift} bytes before its central directory that its offsets do not account for (inconsistent offsets)`
      : `no local header where entry ${printable(first.name)} should start (offset ${first.localHeaderOffset})`,
  );
}

/** Lists the entries of the zip at `zipPath` from its central directory, without extracting. */
export async function readCentralDirectory(
  zipPath: string,
  options: ReadDirectoryOptions = {},
): Promise<ZipEntry[]> {
  const handle = await open(zipPath, 'r');
  try {
    return (await readZipDirectory(handle, { ...options, label: printable(zipPath) })).entries;
  } finally {
    await handle.close();
  }
}
