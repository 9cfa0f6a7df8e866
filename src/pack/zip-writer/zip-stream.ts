import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import { types } from 'node:util';
import { crc32 } from 'node:zlib';
import { AbortError, FerryError, ValidationError } from '../../core/errors.js';
import { isAlreadyCompressed } from '../compressed-extensions.js';
import { SecretScanner } from '../secret-scan.js';
import { describeCharacter, isControlCharacter, printable } from '../validate.js';
import { SAMPLE_SIZE, isWorthDeflating, sampleIsCompressible } from './compressibility.js';
import {
  EntrySource,
  readSmallFileSync,
  StreamSource,
  type FileCounters,
  type PieceSource,
} from './entry-source.js';
import {
  MAX_UINT16,
  MAX_UINT32,
  METHOD_DEFLATED,
  METHOD_STORED,
  centralDirectoryHeader,
  dataDescriptor,
  deflateBound,
  dosDateTime,
  endOfCentralDirectory,
  localFileHeader,
  type EntryKind,
  type EntryRecord,
} from './headers.js';
import {
  DictionaryWindow,
  deflatePiece,
  emitInOrder,
  type OutputTask,
  type PipelineCounters,
} from './parallel-deflate.js';

/** One entry of the archive, in the order it is written. */
export type ZipInput =
  | {
      kind: 'file';
      /** The file to read (followed if it is a symbolic link). */
      sourcePath: string;
      /** The entry name: `/`-separated, relative, no `.`/`..`/empty segments, no `\`. */
      name: string;
      /**
       * Permission bits stored in the entry.
       * @default 0o644
       */
      mode?: number;
    }
  | {
      kind: 'directory';
      /** The entry name; a trailing `/` is added when missing. */
      name: string;
      /** @default 0o755 */
      mode?: number;
    }
  | {
      kind: 'symlink';
      name: string;
      /** The link target, stored as the entry's (STORED) data. */
      target: string;
    }
  | {
      /**
       * A file entry whose bytes come from a stream (e.g. an entry of another zip, for merging
       * without extracting). Size and CRC-32 are known up front, so a STORED entry carries them in
       * its local header (no data descriptor); a DEFLATED one is compressed as usual. The bytes
       * are checked against both while streaming: a mismatch fails the zip stream with
       * `ERR_FERRY_SOURCE_CHANGED` naming the entry.
       */
      kind: 'stream';
      name: string;
      /** The exact number of (uncompressed) bytes the stream yields. */
      size: number;
      /** CRC-32 of those bytes (unsigned 32-bit). */
      crc32: number;
      /** @default 0o644 */
      mode?: number;
      /** @default the time the zip stream was created */
      mtime?: Date;
      /** Called once, when the entry's turn comes; the stream is destroyed when the entry is done or fails. */
      open: () => Promise<Readable>;
    };

/** What `onEntry` reports for each entry once its data is complete. */
export interface ZipEntryInfo {
  name: string;
  method: 0 | 8;
  uncompressedSize: number;
  compressedSize: number;
}

export interface ZipWriterOptions {
  /**
   * Deflate level, 0-9. 0 stores every entry.
   * @example 6
   */
  level: number;
  /**
   * Pieces of source data read ahead and deflated in parallel (on the libuv thread pool).
   * @default os.availableParallelism() + 1 (one job queued per core, so no core idles while the next piece is read)
   */
  concurrency?: number;
  /**
   * Size of one read and of one parallel-deflate piece, in bytes (1 KiB to 64 MiB).
   * @default 1048576 (1 MiB)
   */
  chunkSize?: number;
  /** Aborting destroys the stream with an `AbortError` (`ERR_FERRY_ABORTED`). */
  signal?: AbortSignal;
  /** Called once per entry, in order, when its sizes are final (just before its last bytes are emitted). */
  onEntry?: (info: ZipEntryInfo) => void;
  /**
   * Writes the zip64 forms for every entry and the zip64 end records even for small archives, so
   * readers' zip64 paths can be tested with small data.
   * @default false
   */
  forceZip64?: boolean;
  /** Searches every file's bytes as they are read; a match destroys the stream with `ERR_FERRY_SECRET_IN_ARTIFACT`. */
  secretScan?: SecretScanner;
}

/** Counters of a zip stream, for tests and diagnostics. */
export interface ZipStreamStats {
  /** Pieces (chunks of a large file, or whole small files) read and not yet handed to the stream. */
  piecesInFlight: number;
  /** The most there ever were; never more than `concurrency`. */
  maxPiecesInFlight: number;
  openFiles: number;
  /** Never more than 1. */
  maxOpenFiles: number;
  bytesEmitted: number;
  entriesWritten: number;
}

export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
export const MIN_CHUNK_SIZE = 1024;
export const MAX_CHUNK_SIZE = 64 * 1024 * 1024;
export const MAX_CONCURRENCY = 64;
const DEFAULT_FILE_MODE = 0o644;
const DEFAULT_DIRECTORY_MODE = 0o755;
const DEFAULT_SYMLINK_MODE = 0o777;
/** Central directory headers are emitted in batches of about this many bytes. */
const CENTRAL_DIRECTORY_BATCH = 1024 * 1024;
/** Queued tasks of any weight (headers, empty entries) at most, besides the weighted limit. */
const MAX_QUEUED_TASKS = 256;
const EMPTY = Buffer.alloc(0);

const OPTION_KEYS: readonly string[] = [
  'level',
  'concurrency',
  'chunkSize',
  'signal',
  'onEntry',
  'forceZip64',
  'secretScan',
];

interface NormalizedOptions {
  level: number;
  concurrency: number;
  chunkSize: number;
  signal: AbortSignal | undefined;
  onEntry: ((info: ZipEntryInfo) => void) | undefined;
  forceZip64: boolean;
  secretScan: SecretScanner | undefined;
}

function invalidOption(option: string, message: string): ValidationError {
  return new ValidationError('ERR_FERRY_INVALID_OPTION', `Option '${option}' ${message}`, { option });
}

function integerIn(option: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(option, `must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** Validates the options once and fills in the defaults. Unknown keys are rejected. */
export function normalizeZipWriterOptions(options: ZipWriterOptions): NormalizedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError('ERR_FERRY_INVALID_OPTION', 'The zip writer options must be an object');
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key)) {
      throw invalidOption(key, `is unknown; expected one of ${OPTION_KEYS.join(', ')}`);
    }
  }
  const level = integerIn('level', options.level, 0, 9);
  const concurrency =
    options.concurrency === undefined
      ? Math.min(Math.max(availableParallelism(), 1) + 1, MAX_CONCURRENCY)
      : integerIn('concurrency', options.concurrency, 1, MAX_CONCURRENCY);
  const chunkSize =
    options.chunkSize === undefined
      ? DEFAULT_CHUNK_SIZE
      : integerIn('chunkSize', options.chunkSize, MIN_CHUNK_SIZE, MAX_CHUNK_SIZE);
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalidOption('signal', 'must be an AbortSignal');
  }
  const onEntry = options.onEntry;
  if (onEntry !== undefined && typeof onEntry !== 'function') {
    throw invalidOption('onEntry', 'must be a function');
  }
  const forceZip64 = options.forceZip64 ?? false;
  if (typeof forceZip64 !== 'boolean') throw invalidOption('forceZip64', 'must be a boolean');
  const secretScan = options.secretScan;
  if (secretScan !== undefined && !(secretScan instanceof SecretScanner)) {
    throw invalidOption('secretScan', 'must be a SecretScanner');
  }
  return { level, concurrency, chunkSize, signal, onEntry, forceZip64, secretScan };
}

function invalidName(name: string, reason: string): ValidationError {
  return new ValidationError(
    'ERR_FERRY_INVALID_PATH',
    `Invalid zip entry name ${printable(name)}: ${reason}`,
  );
}

/**
 * Checks an entry name and returns it as written: relative, `/`-separated, with no empty, `.` or
 * `..` segment, no `\`, drive letter, control character or lone surrogate, at most 65535 UTF-8
 * bytes. A directory name gets its trailing `/` (one is accepted in the input).
 */
export function validateEntryName(name: string, kind: EntryKind): string {
  if (typeof name !== 'string' || name.length === 0) throw invalidName(String(name), 'it is empty');
  const bare = kind === 'directory' && name.endsWith('/') ? name.slice(0, -1) : name;
  if (bare.length === 0) throw invalidName(name, 'it names the root');
  if (bare.startsWith('/')) throw invalidName(name, "it starts with '/' (names are relative)");
  if (/^[A-Za-z]:/.test(bare)) throw invalidName(name, 'it starts with a drive letter');
  if (bare.includes('\\')) throw invalidName(name, "it contains '\\' (names are '/'-separated)");
  for (let i = 0; i < bare.length; i++) {
    const code = bare.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = bare.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
    }
    if (code >= 0xd800 && code <= 0xdfff) throw invalidName(name, 'it contains a lone surrogate');
    if (isControlCharacter(code)) {
      throw invalidName(name, `it contains the control character ${describeCharacter(bare[i] ?? '')}`);
    }
  }
  for (const segment of bare.split('/')) {
    if (segment === '') throw invalidName(name, 'it has an empty segment');
    if (segment === '.' || segment === '..') throw invalidName(name, `it has a '${segment}' segment`);
  }
  const full = kind === 'directory' ? `${bare}/` : bare;
  if (Buffer.byteLength(full, 'utf8') > MAX_UINT16) throw invalidName(name, 'it is longer than 65535 bytes');
  return full;
}

type PreparedInput =
  | { kind: 'file'; name: string; mode: number; sourcePath: string }
  | {
      kind: 'stream';
      name: string;
      mode: number;
      size: number;
      crc32: number;
      mtime: Date | undefined;
      open: () => Promise<Readable>;
    }
  | { kind: 'directory'; name: string; mode: number }
  | { kind: 'symlink'; name: string; mode: number; target: Buffer };

function prepareInputs(inputs: readonly ZipInput[]): PreparedInput[] {
  if (!Array.isArray(inputs)) {
    throw new ValidationError('ERR_FERRY_INVALID_OPTION', 'The zip inputs must be an array', {
      option: 'inputs',
    });
  }
  return inputs.map((input: ZipInput, index): PreparedInput => {
    const where = `inputs[${index}]`;
    if (typeof input !== 'object' || input === null) throw invalidOption(where, 'must be an object');
    const modeOf = (fallback: number): number => {
      const mode = 'mode' in input ? input.mode : undefined;
      if (mode === undefined) return fallback;
      if (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > 0o177777) {
        throw invalidOption(`${where}.mode`, `must be a file mode, got ${String(mode)}`);
      }
      // Keep the permission bits; the type bits follow the entry kind.
      return mode & 0o7777;
    };
    switch (input.kind) {
      case 'file':
        if (typeof input.sourcePath !== 'string' || input.sourcePath.length === 0) {
          throw invalidOption(`${where}.sourcePath`, 'must be a non-empty string');
        }
        return {
          kind: 'file',
          name: validateEntryName(input.name, 'file'),
          mode: modeOf(DEFAULT_FILE_MODE),
          sourcePath: input.sourcePath,
        };
      case 'directory':
        return {
          kind: 'directory',
          name: validateEntryName(input.name, 'directory'),
          mode: modeOf(DEFAULT_DIRECTORY_MODE),
        };
      case 'symlink':
        if (typeof input.target !== 'string' || input.target.length === 0 || input.target.includes('\0')) {
          throw invalidOption(`${where}.target`, 'must be a non-empty string without NUL');
        }
        return {
          kind: 'symlink',
          name: validateEntryName(input.name, 'symlink'),
          mode: DEFAULT_SYMLINK_MODE,
          target: Buffer.from(input.target, 'utf8'),
        };
      case 'stream': {
        if (typeof input.size !== 'number' || !Number.isSafeInteger(input.size) || input.size < 0) {
          throw invalidOption(`${where}.size`, `must be a non-negative integer, got ${String(input.size)}`);
        }
        if (
          typeof input.crc32 !== 'number' ||
          !Number.isInteger(input.crc32) ||
          input.crc32 < 0 ||
          input.crc32 > MAX_UINT32
        ) {
          throw invalidOption(
            `${where}.crc32`,
            `must be an unsigned 32-bit integer, got ${String(input.crc32)}`,
          );
        }
        if (typeof input.open !== 'function') throw invalidOption(`${where}.open`, 'must be a function');
        if (
          input.mtime !== undefined &&
          !(input.mtime instanceof Date && Number.isFinite(input.mtime.getTime()))
        ) {
          throw invalidOption(`${where}.mtime`, 'must be a valid Date');
        }
        return {
          kind: 'stream',
          name: validateEntryName(input.name, 'file'),
          mode: modeOf(DEFAULT_FILE_MODE),
          size: input.size,
          crc32: input.crc32,
          mtime: input.mtime,
          open: input.open,
        };
      }
      default:
        throw invalidOption(
          `${where}.kind`,
          `must be 'file', 'directory', 'symlink' or 'stream', got ${String((input as { kind: unknown }).kind)}`,
        );
    }
  });
}

interface Context {
  readonly options: NormalizedOptions;
  /** Aborted when the stream is destroyed (by the caller, the signal, or an error). */
  readonly signal: AbortSignal;
  readonly now: Date;
  /** Files up to this size are read whole and become one task. */
  readonly wholeFileLimit: number;
  readonly records: EntryRecord[];
  readonly files: FileCounters;
  readonly counters: PipelineCounters;
  readonly stats: ZipStreamStats;
}

function newRecord(ctx: Context, input: PreparedInput, mtime: Date): EntryRecord {
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
  ctx.records.push(record);
  return record;
}

function entryDone(ctx: Context, record: EntryRecord): void {
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
function storedBufferTask(ctx: Context, record: EntryRecord, data: Buffer): OutputTask {
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
function smallFileTask(ctx: Context, record: EntryRecord, data: Buffer): OutputTask {
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

async function* fileTasks(
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
async function* streamTasks(
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

/** Small files read ahead of the one being emitted: a few descriptors and a few MiB at most. */
const READ_AHEAD = 8;

type Prefetched = { kind: 'small'; data: Buffer; mtime: Date } | { kind: 'large' };

/**
 * Opens and reads a file if it is small; a large one is closed again and zipped by fileTasks.
 * Many small files are a chain of open/read/close round trips to the thread pool: doing
 * READ_AHEAD of them at once overlaps that latency while output order stays the input order.
 */
async function prefetchSmallFile(
  ctx: Context,
  input: Extract<PreparedInput, { kind: 'file' }>,
): Promise<Prefetched> {
  if (ctx.signal.aborted) throw new AbortError(ctx.signal.reason, { file: input.name });
  const small = readSmallFileSync(
    input.sourcePath,
    input.name,
    ctx.wholeFileLimit,
    ctx.files,
    ctx.options.secretScan?.file(input.name),
  );
  return small === undefined ? { kind: 'large' } : { kind: 'small', data: small.data, mtime: small.mtime };
}

async function* produceTasks(
  ctx: Context,
  inputs: readonly PreparedInput[],
): AsyncGenerator<OutputTask, void, undefined> {
  const prefetched = new Map<number, Promise<Prefetched>>();
  const startPrefetch = (from: number): void => {
    for (let i = from; i < Math.min(inputs.length, from + READ_AHEAD); i++) {
      const input = inputs[i] as PreparedInput;
      if (input.kind !== 'file' || prefetched.has(i)) continue;
      const pending = prefetchSmallFile(ctx, input);
      // Awaited in order below; until then a failure must not count as unhandled.
      pending.catch(() => undefined);
      prefetched.set(i, pending);
    }
  };
  for (const [index, input] of inputs.entries()) {
    if (ctx.signal.aborted) throw new AbortError(ctx.signal.reason);
    switch (input.kind) {
      case 'file': {
        startPrefetch(index);
        const ahead = await (prefetched.get(index) as Promise<Prefetched>);
        prefetched.delete(index);
        if (ahead.kind === 'large') {
          yield* fileTasks(ctx, input);
          break;
        }
        const record = newRecord(ctx, input, ahead.mtime);
        const storeOnly = ctx.options.level === 0 || isAlreadyCompressed(input.name);
        yield storeOnly || ahead.data.length === 0
          ? storedBufferTask(ctx, record, ahead.data)
          : smallFileTask(ctx, record, ahead.data);
        break;
      }
      case 'stream':
        yield* streamTasks(ctx, input);
        break;
      case 'directory':
        yield storedBufferTask(ctx, newRecord(ctx, input, ctx.now), EMPTY);
        break;
      case 'symlink':
        yield storedBufferTask(ctx, newRecord(ctx, input, ctx.now), input.target);
        break;
    }
  }
}

async function* zipBytes(
  ctx: Context,
  inputs: readonly PreparedInput[],
): AsyncGenerator<Buffer, void, undefined> {
  yield* emitInOrder(produceTasks(ctx, inputs), {
    limit: ctx.options.concurrency,
    maxQueued: MAX_QUEUED_TASKS,
    signal: ctx.signal,
    counters: ctx.counters,
  });

  const centralDirectoryOffset = ctx.counters.bytesEmitted;
  let centralDirectorySize = 0;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  const flush = (): Buffer => {
    const out = Buffer.concat(batch, batchBytes);
    centralDirectorySize += batchBytes;
    ctx.counters.bytesEmitted += batchBytes;
    batch = [];
    batchBytes = 0;
    return out;
  };
  for (const record of ctx.records) {
    const header = centralDirectoryHeader(record, ctx.options.forceZip64);
    batch.push(header);
    batchBytes += header.length;
    if (batchBytes >= CENTRAL_DIRECTORY_BATCH) yield flush();
  }
  if (batchBytes > 0) yield flush();
  const end = endOfCentralDirectory({
    entries: ctx.records.length,
    centralDirectoryOffset,
    centralDirectorySize,
    forceZip64: ctx.options.forceZip64,
  });
  ctx.counters.bytesEmitted += end.length;
  yield end;
}

function toError(error: unknown): Error {
  return error instanceof Error || types.isNativeError(error) ? error : new Error(String(error));
}

/**
 * A Readable over an async generator of buffers. Unlike `Readable.from`, destroying it first
 * aborts the generator's work (so a long read pass stops at the next piece), then waits for the
 * generator to finish its `finally` blocks (file closed, jobs settled) before `'close'`.
 */
class ZipReadable extends Readable {
  readonly #source: AsyncGenerator<Buffer, void, undefined>;
  readonly #controller: AbortController;
  #pumping = false;
  #wanted = false;

  constructor(
    source: AsyncGenerator<Buffer, void, undefined>,
    controller: AbortController,
    highWaterMark: number,
  ) {
    super({ highWaterMark });
    this.#source = source;
    this.#controller = controller;
  }

  override _read(): void {
    this.#wanted = true;
    if (!this.#pumping) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#wanted && !this.destroyed) {
        const next = await this.#source.next();
        if (this.destroyed) return;
        if (next.done === true) {
          this.push(null);
          return;
        }
        // _read may be called again synchronously inside push(); it sets #wanted.
        this.#wanted = false;
        if (this.push(next.value)) this.#wanted = true;
      }
    } catch (error) {
      this.destroy(toError(error));
    } finally {
      this.#pumping = false;
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#controller.signal.aborted) {
      this.#controller.abort(error ?? new AbortError('The zip stream was destroyed'));
    }
    this.#source.return(undefined).then(
      () => callback(error),
      (closeError: unknown) => callback(error ?? toError(closeError)),
    );
  }
}

const STATS = new WeakMap<Readable, ZipStreamStats>();

/** A snapshot of the counters of a stream made by {@link createZipStream}. */
export function zipStreamStats(stream: Readable): ZipStreamStats | undefined {
  const stats = STATS.get(stream);
  return stats === undefined ? undefined : { ...stats };
}

/**
 * A Readable of the zip bytes of `inputs`, produced lazily with backpressure: one source file is
 * open at a time, and at most `concurrency` pieces of `chunkSize` are read ahead of the consumer.
 *
 * Per file: level 0 or an already-compressed extension → STORED; an empty file → STORED; a file
 * up to min(256 KiB, chunkSize) is deflated whole and stored instead if that saves < 5 %; a larger
 * file is STORED when a level-1 deflate of its first 256 KiB saves < 5 %, else DEFLATED in
 * parallel pieces at `level`.
 *
 * A `stream` input is treated like a file of its declared size, read once and in order (a large
 * STORED one carries its declared CRC-32 in the local header).
 *
 * Invalid options or inputs throw `ValidationError` here, before anything is read. Later failures
 * destroy the stream: `ERR_FERRY_SOURCE_UNREADABLE`, `ERR_FERRY_SOURCE_CHANGED`,
 * `ERR_FERRY_INVALID_PATH` (a source that is not a regular file), `ERR_FERRY_ABORTED`.
 */
export function createZipStream(inputs: readonly ZipInput[], options: ZipWriterOptions): Readable {
  const normalized = normalizeZipWriterOptions(options);
  const prepared = prepareInputs(inputs);
  const controller = new AbortController();
  const stats: ZipStreamStats = {
    piecesInFlight: 0,
    maxPiecesInFlight: 0,
    openFiles: 0,
    maxOpenFiles: 0,
    bytesEmitted: 0,
    entriesWritten: 0,
  };
  // The pipeline and the file reader update the same object the stats snapshot copies.
  const ctx: Context = {
    options: normalized,
    signal: controller.signal,
    now: new Date(),
    wholeFileLimit: Math.min(SAMPLE_SIZE, normalized.chunkSize),
    records: [],
    files: stats,
    counters: stats,
    stats,
  };
  const stream = new ZipReadable(zipBytes(ctx, prepared), controller, normalized.chunkSize);
  STATS.set(stream, stats);

  const signal = normalized.signal;
  if (signal !== undefined) {
    const onAbort = (): void => {
      stream.destroy(new AbortError(signal.reason));
    };
    if (signal.aborted) onAbort();
    else {
      signal.addEventListener('abort', onAbort, { once: true });
      stream.once('close', () => signal.removeEventListener('abort', onAbort));
    }
  }
  return stream;
}
