import { crc32 } from 'node:zlib';
import { FerryError } from '../../core/errors.js';
import { isAlreadyCompressed } from '../compressed-extensions.js';
import { printable } from '../../core/format.js';
import { SAMPLE_SIZE, isWorthDeflating, sampleIsCompressible } from './compressibility.js';
import type { CentralDirectory } from './central-directory.js';
import { EntrySource, StreamSource, type FileCounters, type PieceSource } from './entry-source.js';
import {
  MAX_UINT32,
  METHOD_DEFLATED,
  METHOD_STORED,
  dataDescriptor,
  deflateBound,
  dosDateTime,
  localFileHeader,
  type EntryRecord,
} from './headers.js';
import {
  DictionaryWindow,
  deflatePiece,
  type OutputTask,
  type PipelineCounters,
} from './parallel-deflate.js';
import { type ZipStreamStats, EMPTY, type NormalizedOptions } from './zip-options.js';
import type { PreparedInput } from './zip-inputs.js';

/** Turns one prepared input into output tasks: headers and data, stored or deflated in pieces. */

export interface Context {
  readonly options: NormalizedOptions;
  /** Aborted when the stream is destroyed (by the caller, the signal, or an error). */
  readonly signal: AbortSignal;
  readonly now: Date;
  /** Files up to this size are read whole and become one task. */
  readonly wholeFileLimit: number;
  /** Every finished entry's header, packed (records are dropped once their entry is written). */
  readonly centralDirectory: CentralDirectory;
  readonly files: FileCounters;
  readonly counters: PipelineCounters;
  readonly stats: ZipStreamStats;
}

export function newRecord(ctx: Context, input: PreparedInput, mtime: Date): EntryRecord {
  const { time, date } = dosDateTime(mtime);
  const record: EntryRecord = {
    name: input.name,
    nameBytes: Buffer.from(input.name, 'utf8'),
    kind: input.kind === 'stream' ? 'file' : input.kind,
    mode: input.mode,
    dosTime: time,
    dosDate: date,
    method: METHOD_STORED,
    dataDescriptor: false,
    zip64Local: ctx.options.forceZip64,
    crc32: 0,
    compressedSize: 0,
    uncompressedSize: 0,
    localHeaderOffset: 0,
  };
  return record;
}

/** Called once per entry, in archive order, when its last byte has been emitted. */
function entryDone(ctx: Context, record: EntryRecord): void {
  ctx.centralDirectory.add(record);
  ctx.stats.entriesWritten++;
  ctx.options.onEntry?.({
    name: record.name,
    method: record.method,
    uncompressedSize: record.uncompressedSize,
    compressedSize: record.compressedSize,
  });
}

/** Sets the sizes of an entry whose data is known up front, and returns its header and data. */
function knownEntryBytes(
  ctx: Context,
  record: EntryRecord,
  method: 0 | 8,
  crc: number,
  uncompressedSize: number,
  data: Buffer,
): Buffer[] {
  record.method = method;
  record.crc32 = crc;
  record.uncompressedSize = uncompressedSize;
  record.compressedSize = data.length;
  record.zip64Local = ctx.options.forceZip64 || uncompressedSize >= MAX_UINT32 || data.length >= MAX_UINT32;
  return [localFileHeader(record), data];
}

/** An entry whose data is in memory and stored as is: real CRC and sizes in the local header. */
export function storedBufferTask(ctx: Context, record: EntryRecord, data: Buffer): OutputTask {
  const bytes = knownEntryBytes(ctx, record, METHOD_STORED, crc32(data), data.length, data);
  return {
    weight: data.length > 0 ? 1 : 0,
    value: () => bytes,
    onEmit: (offset) => {
      record.localHeaderOffset = offset;
      entryDone(ctx, record);
    },
  };
}

/**
 * A small file read whole: deflated at the target level on the thread pool, then stored instead
 * if that saves less than 5 %. Its sizes are known before its header is written, so it needs no
 * data descriptor (a deflate of the whole file is a better judge than a level-1 sample of it).
 */
export function smallFileTask(ctx: Context, record: EntryRecord, data: Buffer): OutputTask {
  const crc = crc32(data);
  const value = deflatePiece(data, ctx.options.level, undefined, true).then((compressed) =>
    isWorthDeflating(data.length, compressed.length)
      ? knownEntryBytes(ctx, record, METHOD_DEFLATED, crc, data.length, compressed)
      : knownEntryBytes(ctx, record, METHOD_STORED, crc, data.length, data),
  );
  return {
    weight: 1,
    value,
    onEmit: (offset) => {
      record.localHeaderOffset = offset;
      entryDone(ctx, record);
    },
  };
}

function localHeaderTask(record: EntryRecord): OutputTask {
  return {
    weight: 0,
    value: () => [localFileHeader(record)],
    onEmit: (offset) => {
      record.localHeaderOffset = offset;
    },
  };
}

/**
 * A large file stored as is. A first pass computes the CRC-32 (`zlib.crc32` from the page cache
 * is far faster than the network), so the local header carries the real CRC and sizes and no data
 * descriptor: streaming readers (the official client's unzip-stream) cannot find the end of
 * STORED data otherwise. The second pass recomputes both and fails if the file changed.
 */
async function* storedFileTasks(
  ctx: Context,
  record: EntryRecord,
  source: EntrySource,
): AsyncGenerator<OutputTask, void, undefined> {
  const { chunkSize } = ctx.options;
  const size = source.size;
  const scratch = Buffer.allocUnsafe(Math.min(chunkSize, size));
  let crc = 0;
  for (let position = 0; position < size; position += chunkSize) {
    crc = crc32(await source.read(position, Math.min(chunkSize, size - position), scratch), crc);
  }
  await source.assertEnd();
  record.method = METHOD_STORED;
  record.crc32 = crc;
  record.uncompressedSize = size;
  record.compressedSize = size;
  record.zip64Local = ctx.options.forceZip64 || size >= MAX_UINT32;
  yield localHeaderTask(record);

  let check = 0;
  for (let position = 0; position < size; position += chunkSize) {
    const length = Math.min(chunkSize, size - position);
    const piece = await source.read(position, length);
    check = crc32(piece, check);
    const last = position + length >= size;
    if (!last) {
      yield { weight: 1, value: () => [piece] };
      continue;
    }
    await source.assertEnd();
    if (check !== crc) {
      throw source.changed('its content differs from the first pass that computed its CRC-32');
    }
    yield { weight: 1, value: () => [piece], onEmit: () => entryDone(ctx, record) };
  }
}

/**
 * A large compressible file, deflated in `chunkSize` pieces, up to `concurrency` at a time,
 * emitted in order. The local header has bit 3 set and the CRC-32 and sizes follow in a data
 * descriptor (zip64 when the entry may reach 4 GiB).
 */
async function* deflatedFileTasks(
  ctx: Context,
  record: EntryRecord,
  source: PieceSource,
): AsyncGenerator<OutputTask, void, undefined> {
  const { chunkSize, level } = ctx.options;
  const size = source.size;
  const pieces = Math.ceil(size / chunkSize);
  record.method = METHOD_DEFLATED;
  record.dataDescriptor = true;
  record.uncompressedSize = size;
  record.compressedSize = 0;
  record.zip64Local = ctx.options.forceZip64 || deflateBound(size, pieces) >= MAX_UINT32;
  yield localHeaderTask(record);

  const window = new DictionaryWindow();
  let crc = 0;
  for (let position = 0; position < size; position += chunkSize) {
    const length = Math.min(chunkSize, size - position);
    const piece = await source.read(position, length);
    const final = position + length >= size;
    if (final) await source.assertEnd();
    crc = crc32(piece, crc);
    const job = deflatePiece(piece, level, window.current, final).then((compressed) => {
      record.compressedSize += compressed.length;
      return [compressed];
    });
    window.push(piece);
    yield { weight: 1, value: job };
  }
  record.crc32 = crc;
  yield {
    weight: 0,
    value: () => {
      if (!record.zip64Local && record.compressedSize >= MAX_UINT32) {
        // deflateBound() makes this unreachable; never write a descriptor that lies.
        throw new FerryError(
          'ERR_FERRY_INTEGRITY',
          `Deflated data of ${printable(record.name)} reached 4 GiB without a zip64 header`,
        );
      }
      return [dataDescriptor(record)];
    },
    onEmit: () => entryDone(ctx, record),
  };
}

export async function* fileTasks(
  ctx: Context,
  input: Extract<PreparedInput, { kind: 'file' }>,
): AsyncGenerator<OutputTask, void, undefined> {
  const source = await EntrySource.open(
    input.sourcePath,
    input.name,
    ctx.signal,
    ctx.files,
    ctx.options.secretScan?.file(input.name),
  );
  try {
    const record = newRecord(ctx, input, source.mtime);
    yield* sourceTasks(ctx, record, source, (length) => source.read(0, length), storedFileTasks);
  } finally {
    await source.close();
  }
}

/**
 * The tasks of one open source, file or stream alike: a small one whole, in one task (closed
 * before the task waits in the queue, so the next file may be opened meanwhile); a large one
 * sampled, then deflated, or stored when the sample shows it does not compress.
 */
async function* sourceTasks<S extends PieceSource>(
  ctx: Context,
  record: EntryRecord,
  source: S,
  sample: (length: number) => Promise<Buffer>,
  stored: (ctx: Context, record: EntryRecord, source: S) => AsyncGenerator<OutputTask, void, undefined>,
): AsyncGenerator<OutputTask, void, undefined> {
  const size = source.size;
  const storeOnly = ctx.options.level === 0 || isAlreadyCompressed(source.name);
  if (size <= ctx.wholeFileLimit) {
    const data = size === 0 ? EMPTY : await source.read(0, size);
    await source.assertEnd();
    await source.close();
    yield storeOnly || size === 0 ? storedBufferTask(ctx, record, data) : smallFileTask(ctx, record, data);
    return;
  }
  const deflate = !storeOnly && (await sampleIsCompressible(await sample(Math.min(SAMPLE_SIZE, size))));
  if (deflate) yield* deflatedFileTasks(ctx, record, source);
  else yield* stored(ctx, record, source);
}

/**
 * A large stream stored as is, in one pass: its declared CRC-32 and size go into the local header
 * (no data descriptor), and the stream source checks both as the bytes pass.
 */
async function* storedStreamTasks(
  ctx: Context,
  record: EntryRecord,
  source: StreamSource,
): AsyncGenerator<OutputTask, void, undefined> {
  const { chunkSize } = ctx.options;
  const size = source.size;
  record.method = METHOD_STORED;
  record.crc32 = source.crc32;
  record.uncompressedSize = size;
  record.compressedSize = size;
  record.zip64Local = ctx.options.forceZip64 || size >= MAX_UINT32;
  yield localHeaderTask(record);
  for (let position = 0; position < size; position += chunkSize) {
    const length = Math.min(chunkSize, size - position);
    const piece = await source.read(position, length);
    if (position + length < size) {
      yield { weight: 1, value: () => [piece] };
      continue;
    }
    await source.assertEnd();
    yield { weight: 1, value: () => [piece], onEmit: () => entryDone(ctx, record) };
  }
}

/** A `stream` input: like a file, but read once, in order, and checked against its declared size and CRC-32. */
export async function* streamTasks(
  ctx: Context,
  input: Extract<PreparedInput, { kind: 'stream' }>,
): AsyncGenerator<OutputTask, void, undefined> {
  const source = await StreamSource.open(input, ctx.signal, ctx.files);
  try {
    const record = newRecord(ctx, input, input.mtime ?? ctx.now);
    yield* sourceTasks(ctx, record, source, (length) => source.peek(length), storedStreamTasks);
  } finally {
    await source.close();
  }
}
