import { availableParallelism } from 'node:os';
import type { Readable } from 'node:stream';
import { ValidationError } from '../../core/errors.js';
import { SecretScanner } from '../secret-scan.js';

/** The zip writer's public input and option types, their limits, and the option checks. */

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
export const DEFAULT_FILE_MODE = 0o644;
export const DEFAULT_DIRECTORY_MODE = 0o755;
export const DEFAULT_SYMLINK_MODE = 0o777;
/**
 * Central directory headers are packed (and emitted) in blocks of about this many bytes: small
 * enough that the block being filled stays a few hundred small Buffers, large enough that a
 * 100,000-entry directory is a few hundred blocks.
 */
export const CENTRAL_DIRECTORY_BATCH = 64 * 1024;
/** Queued tasks of any weight (headers, empty entries) at most, besides the weighted limit. */
export const MAX_QUEUED_TASKS = 256;
export const EMPTY = Buffer.alloc(0);

const OPTION_KEYS: readonly string[] = [
  'level',
  'concurrency',
  'chunkSize',
  'signal',
  'onEntry',
  'forceZip64',
  'secretScan',
];

export interface NormalizedOptions {
  level: number;
  concurrency: number;
  chunkSize: number;
  signal: AbortSignal | undefined;
  onEntry: ((info: ZipEntryInfo) => void) | undefined;
  forceZip64: boolean;
  secretScan: SecretScanner | undefined;
}

export function invalidOption(option: string, message: string): ValidationError {
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
