/**
 * Byte layouts of the zip records this writer emits (APPNOTE 6.3.10 sections 4.3.7-4.3.16, 4.5.3).
 * Everything here is pure: an {@link EntryRecord} in, a Buffer out.
 */

export const SIG_LOCAL_FILE_HEADER = 0x04034b50;
export const SIG_DATA_DESCRIPTOR = 0x08074b50;
export const SIG_CENTRAL_DIRECTORY_HEADER = 0x02014b50;
export const SIG_ZIP64_END_OF_CENTRAL_DIRECTORY = 0x06064b50;
export const SIG_ZIP64_END_OF_CENTRAL_DIRECTORY_LOCATOR = 0x07064b50;
export const SIG_END_OF_CENTRAL_DIRECTORY = 0x06054b50;

/** General purpose bit 3: CRC-32 and sizes follow the data in a data descriptor. */
export const FLAG_DATA_DESCRIPTOR = 1 << 3;
/** General purpose bit 11: the name is UTF-8. */
export const FLAG_UTF8 = 1 << 11;

export const METHOD_STORED = 0;
export const METHOD_DEFLATED = 8;

/** A 32-bit field holding this value means "see the zip64 extra field". */
export const MAX_UINT32 = 0xffffffff;
/** A 16-bit entry count holding this value means "see the zip64 end of central directory". */
export const MAX_UINT16 = 0xffff;

const ZIP64_EXTRA_ID = 0x0001;
/** 2.0: deflate, directories. */
const VERSION_DEFAULT = 20;
/** 4.5: zip64. */
const VERSION_ZIP64 = 45;
/** Upper byte of "version made by": 3 = Unix, so readers take the mode from the external attributes. */
const HOST_UNIX = 3;

export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
/** The MS-DOS directory attribute, set on directories as Info-ZIP does. */
const DOS_DIRECTORY = 0x10;

export const LOCAL_FILE_HEADER_SIZE = 30;
export const CENTRAL_DIRECTORY_HEADER_SIZE = 46;
export const ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE = 56;
export const ZIP64_LOCATOR_SIZE = 20;
export const END_OF_CENTRAL_DIRECTORY_SIZE = 22;

export type EntryKind = 'file' | 'directory' | 'symlink';

/** Everything the headers of one entry need. Filled in as the entry is produced and emitted. */
export interface EntryRecord {
  /** The entry name, `/`-separated; directories end with `/`. */
  readonly name: string;
  readonly nameBytes: Buffer;
  readonly kind: EntryKind;
  /** Permission bits (`0o7777` at most); the type bits come from `kind`. */
  readonly mode: number;
  readonly dosTime: number;
  readonly dosDate: number;
  method: 0 | 8;
  /** True when CRC-32 and sizes follow the data (bit 3); only for deflated streaming entries. */
  dataDescriptor: boolean;
  /**
   * True when the local header (and the data descriptor, if any) use the zip64 forms. Decided
   * before the data is written, from the source size (or because zip64 is forced).
   */
  zip64Local: boolean;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  /** Offset of the local header from the start of the archive; set when the header is emitted. */
  localHeaderOffset: number;
}

export function isAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Bits 3 and 11 as they apply to `record`. */
export function generalPurposeFlags(record: EntryRecord): number {
  return (record.dataDescriptor ? FLAG_DATA_DESCRIPTOR : 0) | (isAscii(record.name) ? 0 : FLAG_UTF8);
}

/**
 * MS-DOS date and time of `date` in local time, the convention of Info-ZIP and of every reader.
 * Dates before 1980 are clamped to 1980-01-01 00:00:00, dates after 2107 to 2107-12-31 23:59:58.
 * Seconds are stored halved, so odd seconds round down.
 */
export function dosDateTime(date: Date): { time: number; date: number } {
  const year = date.getFullYear();
  if (Number.isNaN(year) || year < 1980) return { time: 0, date: (1 << 5) | 1 };
  if (year > 2107) return { time: (23 << 11) | (59 << 5) | 29, date: (127 << 9) | (12 << 5) | 31 };
  return {
    time: (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1),
    date: ((year - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
  };
}

/** The Unix mode in the upper 16 bits (with the file type), the MS-DOS attributes in the lower. */
export function externalAttributes(kind: EntryKind, mode: number): number {
  const type = kind === 'directory' ? S_IFDIR : kind === 'symlink' ? S_IFLNK : S_IFREG;
  return (((type | (mode & 0o7777)) << 16) | (kind === 'directory' ? DOS_DIRECTORY : 0)) >>> 0;
}

/** Which 32-bit fields of the central directory header overflow (or are forced) into zip64. */
function centralZip64Fields(
  record: EntryRecord,
  force: boolean,
): { uncompressed: boolean; compressed: boolean; offset: boolean } {
  return {
    uncompressed: force || record.uncompressedSize >= MAX_UINT32,
    compressed: force || record.compressedSize >= MAX_UINT32,
    offset: force || record.localHeaderOffset >= MAX_UINT32,
  };
}

function writeUInt64(buf: Buffer, value: number, offset: number): void {
  buf.writeBigUInt64LE(BigInt(value), offset);
}

/**
 * The local file header.
 *
 * - Without a data descriptor, CRC-32 and sizes are the real ones; in the zip64 form both sizes
 *   are `0xFFFFFFFF` and the zip64 extra field carries them (APPNOTE 4.5.3: a local header's zip64
 *   extra holds both sizes).
 * - With a data descriptor (bit 3), CRC-32 and sizes are zero; in the zip64 form the sizes are
 *   `0xFFFFFFFF` and the zip64 extra holds two zero sizes, which tells readers that the descriptor
 *   uses 8-byte sizes.
 */
export function localFileHeader(record: EntryRecord): Buffer {
  const zip64 = record.zip64Local;
  const extraLength = zip64 ? 4 + 16 : 0;
  const buf = Buffer.alloc(LOCAL_FILE_HEADER_SIZE + record.nameBytes.length + extraLength);
  const known = !record.dataDescriptor;
  buf.writeUInt32LE(SIG_LOCAL_FILE_HEADER, 0);
  buf.writeUInt16LE(zip64 ? VERSION_ZIP64 : VERSION_DEFAULT, 4);
  buf.writeUInt16LE(generalPurposeFlags(record), 6);
  buf.writeUInt16LE(record.method, 8);
  buf.writeUInt16LE(record.dosTime, 10);
  buf.writeUInt16LE(record.dosDate, 12);
  buf.writeUInt32LE(known ? record.crc32 : 0, 14);
  buf.writeUInt32LE(zip64 ? MAX_UINT32 : known ? record.compressedSize : 0, 18);
  buf.writeUInt32LE(zip64 ? MAX_UINT32 : known ? record.uncompressedSize : 0, 22);
  buf.writeUInt16LE(record.nameBytes.length, 26);
  buf.writeUInt16LE(extraLength, 28);
  record.nameBytes.copy(buf, LOCAL_FILE_HEADER_SIZE);
  if (zip64) {
    const at = LOCAL_FILE_HEADER_SIZE + record.nameBytes.length;
    buf.writeUInt16LE(ZIP64_EXTRA_ID, at);
    buf.writeUInt16LE(16, at + 2);
    writeUInt64(buf, known ? record.uncompressedSize : 0, at + 4);
    writeUInt64(buf, known ? record.compressedSize : 0, at + 12);
  }
  return buf;
}

/** The data descriptor, with its signature; 8-byte sizes when the local header was zip64. */
export function dataDescriptor(record: EntryRecord): Buffer {
  if (record.zip64Local) {
    const buf = Buffer.alloc(24);
    buf.writeUInt32LE(SIG_DATA_DESCRIPTOR, 0);
    buf.writeUInt32LE(record.crc32, 4);
    writeUInt64(buf, record.compressedSize, 8);
    writeUInt64(buf, record.uncompressedSize, 16);
    return buf;
  }
  const buf = Buffer.alloc(16);
  buf.writeUInt32LE(SIG_DATA_DESCRIPTOR, 0);
  buf.writeUInt32LE(record.crc32, 4);
  buf.writeUInt32LE(record.compressedSize, 8);
  buf.writeUInt32LE(record.uncompressedSize, 12);
  return buf;
}

/**
 * The central directory header. A zip64 extra field is added only for the fields that need it
 * (or all three when `forceZip64`), in the order APPNOTE 4.5.3 requires: uncompressed size,
 * compressed size, local header offset (the disk number is never needed).
 */
export function centralDirectoryHeader(record: EntryRecord, forceZip64 = false): Buffer {
  const z = centralZip64Fields(record, forceZip64);
  const zip64Fields = (z.uncompressed ? 1 : 0) + (z.compressed ? 1 : 0) + (z.offset ? 1 : 0);
  const extraLength = zip64Fields > 0 ? 4 + 8 * zip64Fields : 0;
  const versionNeeded = zip64Fields > 0 || record.zip64Local ? VERSION_ZIP64 : VERSION_DEFAULT;
  const buf = Buffer.alloc(CENTRAL_DIRECTORY_HEADER_SIZE + record.nameBytes.length + extraLength);
  buf.writeUInt32LE(SIG_CENTRAL_DIRECTORY_HEADER, 0);
  buf.writeUInt16LE((HOST_UNIX << 8) | versionNeeded, 4);
  buf.writeUInt16LE(versionNeeded, 6);
  buf.writeUInt16LE(generalPurposeFlags(record), 8);
  buf.writeUInt16LE(record.method, 10);
  buf.writeUInt16LE(record.dosTime, 12);
  buf.writeUInt16LE(record.dosDate, 14);
  buf.writeUInt32LE(record.crc32, 16);
  buf.writeUInt32LE(z.compressed ? MAX_UINT32 : record.compressedSize, 20);
  buf.writeUInt32LE(z.uncompressed ? MAX_UINT32 : record.uncompressedSize, 24);
  buf.writeUInt16LE(record.nameBytes.length, 28);
  buf.writeUInt16LE(extraLength, 30);
  buf.writeUInt16LE(0, 32); // comment length
  buf.writeUInt16LE(0, 34); // disk number start
  buf.writeUInt16LE(0, 36); // internal attributes
  buf.writeUInt32LE(externalAttributes(record.kind, record.mode), 38);
  buf.writeUInt32LE(z.offset ? MAX_UINT32 : record.localHeaderOffset, 42);
  record.nameBytes.copy(buf, CENTRAL_DIRECTORY_HEADER_SIZE);
  if (zip64Fields > 0) {
    let at = CENTRAL_DIRECTORY_HEADER_SIZE + record.nameBytes.length;
    buf.writeUInt16LE(ZIP64_EXTRA_ID, at);
    buf.writeUInt16LE(8 * zip64Fields, at + 2);
    at += 4;
    if (z.uncompressed) {
      writeUInt64(buf, record.uncompressedSize, at);
      at += 8;
    }
    if (z.compressed) {
      writeUInt64(buf, record.compressedSize, at);
      at += 8;
    }
    if (z.offset) writeUInt64(buf, record.localHeaderOffset, at);
  }
  return buf;
}

export interface EndOfArchive {
  entries: number;
  centralDirectoryOffset: number;
  centralDirectorySize: number;
  forceZip64?: boolean;
}

/** True when the archive needs the zip64 end of central directory record and locator. */
export function needsZip64End(end: EndOfArchive): boolean {
  return (
    end.forceZip64 === true ||
    end.entries >= MAX_UINT16 ||
    end.centralDirectoryOffset >= MAX_UINT32 ||
    end.centralDirectorySize >= MAX_UINT32
  );
}

/**
 * The end records: when needed, the zip64 end of central directory record and its locator, then
 * the classic end of central directory record (with `0xFFFF`/`0xFFFFFFFF` in the fields that
 * overflow, or in all of them when zip64 is forced).
 */
export function endOfCentralDirectory(end: EndOfArchive): Buffer {
  const zip64 = needsZip64End(end);
  const force = end.forceZip64 === true;
  const eocd = Buffer.alloc(END_OF_CENTRAL_DIRECTORY_SIZE);
  const entries = force || end.entries >= MAX_UINT16 ? MAX_UINT16 : end.entries;
  eocd.writeUInt32LE(SIG_END_OF_CENTRAL_DIRECTORY, 0);
  eocd.writeUInt16LE(0, 4); // this disk
  eocd.writeUInt16LE(0, 6); // disk with the central directory
  eocd.writeUInt16LE(entries, 8);
  eocd.writeUInt16LE(entries, 10);
  eocd.writeUInt32LE(
    force || end.centralDirectorySize >= MAX_UINT32 ? MAX_UINT32 : end.centralDirectorySize,
    12,
  );
  eocd.writeUInt32LE(
    force || end.centralDirectoryOffset >= MAX_UINT32 ? MAX_UINT32 : end.centralDirectoryOffset,
    16,
  );
  eocd.writeUInt16LE(0, 20); // comment length
  if (!zip64) return eocd;

  const record = Buffer.alloc(ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE);
  record.writeUInt32LE(SIG_ZIP64_END_OF_CENTRAL_DIRECTORY, 0);
  writeUInt64(record, ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE - 12, 4); // size of the rest of the record
  record.writeUInt16LE((HOST_UNIX << 8) | VERSION_ZIP64, 12);
  record.writeUInt16LE(VERSION_ZIP64, 14);
  record.writeUInt32LE(0, 16); // this disk
  record.writeUInt32LE(0, 20); // disk with the central directory
  writeUInt64(record, end.entries, 24);
  writeUInt64(record, end.entries, 32);
  writeUInt64(record, end.centralDirectorySize, 40);
  writeUInt64(record, end.centralDirectoryOffset, 48);

  const locator = Buffer.alloc(ZIP64_LOCATOR_SIZE);
  locator.writeUInt32LE(SIG_ZIP64_END_OF_CENTRAL_DIRECTORY_LOCATOR, 0);
  locator.writeUInt32LE(0, 4); // disk with the zip64 end record
  writeUInt64(locator, end.centralDirectoryOffset + end.centralDirectorySize, 8);
  locator.writeUInt32LE(1, 16); // total number of disks
  return Buffer.concat([record, locator, eocd]);
}

/**
 * An upper bound of the raw deflate output for `size` input bytes cut into `pieces` pieces, each
 * ending in a sync flush: zlib's conservative `deflateBound` (valid for any level, window and
 * memory setting) plus 5 bytes per flush marker and a margin. Used to decide, before compressing,
 * whether a streaming entry's local header and data descriptor must be zip64.
 */
export function deflateBound(size: number, pieces: number): number {
  return size + Math.ceil(size / 8) + Math.ceil(size / 64) + 5 + pieces * 10 + 64;
}
