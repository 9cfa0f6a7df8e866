import { open } from 'node:fs/promises';
import { crc32, deflateRawSync } from 'node:zlib';

/**
 * A small zip writer for tests. It writes exactly what it is told, including lies: wrong CRCs and
 * sizes, hostile names, encryption flags, forced ZIP64 records, data descriptors, prepended stubs
 * and truncated archives. Everything is built in memory with one `Buffer.concat`.
 */
export interface ZipSpecEntry {
  /** The stored name: a string (UTF-8, flagged when non-ASCII unless `utf8` says otherwise) or raw bytes. */
  name: string | Buffer;
  /** File data, or the link text of a symlink. @default empty */
  data?: string | Buffer;
  /** @default 8 (deflate) when there is data, else 0 (stored) */
  method?: number;
  /** A directory entry (the caller writes the trailing `/`). */
  directory?: boolean;
  /** A symlink entry: mode 0o120777, made by unix; `data` is the link text. */
  symlink?: boolean;
  /** Unix permission bits (or a full mode); makes the entry "made by unix". */
  mode?: number;
  /** Set flag bit 11. @default true for non-ASCII string names */
  utf8?: boolean;
  /** Flag bit 3: zero CRC and sizes in the local header, a data descriptor after the data. */
  dataDescriptor?: boolean;
  /** Write the optional 0x08074b50 signature in the data descriptor. @default true */
  descriptorSignature?: boolean;
  /**
   * Saturate sizes and offset in both headers and put them in ZIP64 extra fields (also 8-byte
   * descriptor sizes). @default only when a value does not fit in 32 bits
   */
  zip64?: boolean;
  /** Declared CRC-32 (central and local) instead of the real one. */
  crc32?: number;
  /** Declared sizes instead of the real ones. */
  uncompressedSize?: number;
  compressedSize?: number;
  /** ORed into the flags of both headers (e.g. 1 = encrypted). */
  flags?: number;
  /** Stored bytes as-is instead of compressing `data`. */
  compressed?: Buffer;
  versionNeeded?: number;
  /** Extra bytes appended to the central extra field. */
  centralExtra?: Buffer;
  /** The method written in the local header only. */
  localMethod?: number;
  /**
   * Stored data of this many zero bytes, written as a hole by {@link writeZip} (a sparse file), so
   * archives beyond 4 GiB cost no disk. Forces method 0; `data` is ignored.
   */
  sparse?: number;
  /**
   * The "overlapping entries" bomb: write no local header or data for this entry; its central
   * record points at the local header of entry number `overlapWith` (an earlier index) and
   * copies that entry's method, CRC and sizes unless they are given here.
   */
  overlapWith?: number;
}

export interface ZipSpecOptions {
  /** Write a ZIP64 end of central directory record and locator. */
  zip64Eocd?: boolean;
  /** Write 0xFFFF/0xFFFFFFFF in every classic EOCD field (use with `zip64Eocd`). */
  saturateEocd?: boolean;
  /** Bytes before the archive (a self-extractor stub). */
  prefix?: Buffer;
  /** Offsets count the prefix (`zip -A`); otherwise they are relative to the archive start (`cat stub a.zip`). */
  adjustOffsets?: boolean;
  /** Stop after the local entries: no central directory and no end record (a truncated download). */
  omitCentralDirectory?: boolean;
  comment?: string;
  /** The EOCD "number of this disk". */
  eocdDisk?: number;
  /** Added to the central directory offset written in the end records. */
  cdOffsetDelta?: number;
  /** Bytes between the entries and the central directory that the offsets do not account for. */
  gapBeforeCentralDirectory?: Buffer;
  /** Override the entry count in the end records. */
  entryCount?: number;
}

const DOS_TIME = (3 << 11) | (4 << 5) | 3; // 03:04:06
const DOS_DATE = ((2024 - 1980) << 9) | (1 << 5) | 2; // 2024-01-02
const U32 = 0xffffffff;

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
}
function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}
function u64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}

/** CRC-32 of `length` zero bytes. */
function zeroCrc(length: number): number {
  const zeros = Buffer.alloc(Math.min(length, 8 * 1024 * 1024));
  let crc = 0;
  for (let left = length; left > 0; left -= zeros.length)
    crc = crc32(zeros.subarray(0, Math.min(left, zeros.length)), crc);
  return crc;
}

/** Buffers, and numbers for holes of zero bytes. */
type Part = Buffer | number;

/** Builds the archive in memory. Entries with `sparse` need {@link writeZip}. */
export function buildZip(entries: readonly ZipSpecEntry[], options: ZipSpecOptions = {}): Buffer {
  const parts = buildParts(entries, options);
  if (parts.some((p) => typeof p === 'number')) throw new Error('sparse entries need writeZip()');
  return Buffer.concat(parts as Buffer[]);
}

/** Writes the archive to `file`; `sparse` entries become holes in a sparse file. */
export async function writeZip(
  file: string,
  entries: readonly ZipSpecEntry[],
  options: ZipSpecOptions = {},
): Promise<void> {
  const handle = await open(file, 'w');
  try {
    let position = 0;
    for (const part of buildParts(entries, options)) {
      if (typeof part === 'number') position += part;
      else {
        await handle.write(part, 0, part.length, position);
        position += part.length;
      }
    }
    await handle.truncate(position);
  } finally {
    await handle.close();
  }
}

function buildParts(entries: readonly ZipSpecEntry[], options: ZipSpecOptions): Part[] {
  const prefix = options.prefix ?? Buffer.alloc(0);
  const base = options.adjustOffsets ? prefix.length : 0;
  const chunks: Part[] = [prefix];
  let position = 0; // relative to the archive start (after the prefix)
  const push = (b: Part): void => {
    chunks.push(b);
    position += typeof b === 'number' ? b : b.length;
  };
  const central: Buffer[] = [];
  const written: Array<{ offset: number; method: number; crc: number; csize: number; usize: number }> = [];

  for (const spec of entries) {
    if (spec.overlapWith !== undefined) {
      const shared = written[spec.overlapWith];
      if (shared === undefined) throw new Error('overlapWith must name an earlier entry');
      const nameBytes = typeof spec.name === 'string' ? Buffer.from(spec.name, 'utf8') : spec.name;
      written.push(shared);
      central.push(
        Buffer.concat([
          u32(0x02014b50),
          u16(20),
          u16(20),
          u16(spec.flags ?? 0),
          u16(spec.method ?? shared.method),
          u16(DOS_TIME),
          u16(DOS_DATE),
          u32(spec.crc32 ?? shared.crc),
          u32(spec.compressedSize ?? shared.csize),
          u32(spec.uncompressedSize ?? shared.usize),
          u16(nameBytes.length),
          u16(0),
          u16(0),
          u16(0),
          u16(0),
          u32(0),
          u32(shared.offset),
          nameBytes,
        ]),
      );
      continue;
    }
    const nameBytes = typeof spec.name === 'string' ? Buffer.from(spec.name, 'utf8') : spec.name;
    const utf8 =
      spec.utf8 ?? (typeof spec.name === 'string' && Buffer.byteLength(spec.name) !== spec.name.length);
    const data =
      typeof spec.data === 'string' ? Buffer.from(spec.data, 'utf8') : (spec.data ?? Buffer.alloc(0));
    const sparse = spec.sparse;
    const method = sparse !== undefined ? 0 : (spec.method ?? (data.length > 0 && !spec.directory ? 8 : 0));
    const compressed: Part = sparse ?? spec.compressed ?? (method === 8 ? deflateRawSync(data) : data);
    const crc = spec.crc32 ?? (sparse !== undefined ? zeroCrc(sparse) : crc32(data));
    const usize = spec.uncompressedSize ?? sparse ?? data.length;
    const csize = spec.compressedSize ?? (typeof compressed === 'number' ? compressed : compressed.length);
    const offset = position + base;
    // ZIP64 when forced, or when a value does not fit in 32 bits.
    const zip64 = spec.zip64 ?? (usize >= U32 || csize >= U32 || offset >= U32);
    const dd = spec.dataDescriptor === true;
    let flags = (spec.flags ?? 0) | (utf8 ? 0x0800 : 0) | (dd ? 0x0008 : 0);
    flags &= 0xffff;
    const versionNeeded = spec.versionNeeded ?? (zip64 ? 45 : 20);

    let mode = spec.mode;
    if (spec.symlink) mode = 0o120777;
    if (mode !== undefined && (mode & 0o170000) === 0) mode |= spec.directory ? 0o040000 : 0o100000;
    const madeBy = mode !== undefined ? (3 << 8) | 30 : 20;
    const external = ((mode ?? 0) * 0x10000 + (spec.directory ? 0x10 : 0)) >>> 0;

    written.push({ offset, method, crc, csize, usize });
    const localExtra = zip64
      ? Buffer.concat([u16(1), u16(16), u64(dd ? 0 : usize), u64(dd ? 0 : csize)])
      : Buffer.alloc(0);
    push(
      Buffer.concat([
        u32(0x04034b50),
        u16(versionNeeded),
        u16(flags),
        u16(spec.localMethod ?? method),
        u16(DOS_TIME),
        u16(DOS_DATE),
        u32(dd ? 0 : crc),
        u32(zip64 ? U32 : dd ? 0 : csize),
        u32(zip64 ? U32 : dd ? 0 : usize),
        u16(nameBytes.length),
        u16(localExtra.length),
        nameBytes,
        localExtra,
      ]),
    );
    push(compressed);
    if (dd) {
      push(
        Buffer.concat([
          spec.descriptorSignature === false ? Buffer.alloc(0) : u32(0x08074b50),
          u32(crc),
          zip64 ? u64(csize) : u32(csize),
          zip64 ? u64(usize) : u32(usize),
        ]),
      );
    }

    const centralExtra = Buffer.concat([
      zip64 ? Buffer.concat([u16(1), u16(24), u64(usize), u64(csize), u64(offset)]) : Buffer.alloc(0),
      spec.centralExtra ?? Buffer.alloc(0),
    ]);
    central.push(
      Buffer.concat([
        u32(0x02014b50),
        u16(madeBy),
        u16(versionNeeded),
        u16(flags),
        u16(method),
        u16(DOS_TIME),
        u16(DOS_DATE),
        u32(crc),
        u32(zip64 ? U32 : csize),
        u32(zip64 ? U32 : usize),
        u16(nameBytes.length),
        u16(centralExtra.length),
        u16(0),
        u16(0),
        u16(0),
        u32(external),
        u32(zip64 ? U32 : offset),
        nameBytes,
        centralExtra,
      ]),
    );
  }
  if (options.omitCentralDirectory) return chunks;
  if (options.gapBeforeCentralDirectory) {
    // Not counted in `position`: the recorded offset will not match where the directory really is.
    chunks.push(options.gapBeforeCentralDirectory);
  }

  const cdOffset = position + base + (options.cdOffsetDelta ?? 0);
  const cd = Buffer.concat(central);
  push(cd);
  const count = options.entryCount ?? entries.length;
  const saturate = options.saturateEocd === true;
  if (options.zip64Eocd) {
    const recordOffset = position + base;
    push(
      Buffer.concat([
        u32(0x06064b50),
        u64(44),
        u16((3 << 8) | 45),
        u16(45),
        u32(options.eocdDisk ?? 0),
        u32(0),
        u64(count),
        u64(count),
        u64(cd.length),
        u64(cdOffset),
      ]),
    );
    push(Buffer.concat([u32(0x07064b50), u32(0), u64(recordOffset), u32(1)]));
  }
  const comment = Buffer.from(options.comment ?? '', 'utf8');
  push(
    Buffer.concat([
      u32(0x06054b50),
      u16(saturate ? 0xffff : (options.eocdDisk ?? 0)),
      u16(saturate ? 0xffff : 0),
      u16(saturate ? 0xffff : count & 0xffff),
      u16(saturate ? 0xffff : count & 0xffff),
      u32(saturate ? U32 : cd.length),
      u32(saturate ? U32 : cdOffset),
      u16(comment.length),
      comment,
    ]),
  );
  return chunks;
}
