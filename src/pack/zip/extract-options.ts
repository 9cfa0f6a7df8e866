import path from 'node:path';
import { AbortError, ValidationError, type ErrorContext } from '../../core/errors.js';
import { isIntegerInRange, shownValue } from '../../core/option-checks.js';
import { normalizeLimits, type ExtractLimits } from './limits.js';

/** The options of `extractZip`, their checks and defaults. */

export interface ExtractOptions {
  /**
   * Final directory; created if missing. Nothing outside it is ever written.
   * @example 'artifacts/build-output'
   */
  targetDirectory: string;
  /** Zip-bomb limits; unspecified fields keep their defaults. @default DEFAULT_EXTRACT_LIMITS */
  limits?: Partial<ExtractLimits>;
  /**
   * Restore unix modes from external attributes: files get `mode & 0o777` (never setuid, setgid or
   * sticky), directories `(mode & 0o777) | 0o700` so the owner can always continue.
   * @default true
   */
  restoreModes?: boolean;
  /**
   * Symlink entries: `'refuse'` (an error naming the entry), `'file'` (write the link text as a
   * regular file), or `'preserve'` (create the link only if its target, resolved from the link's
   * directory, stays inside `targetDirectory` without passing through another link; else an error).
   * @default 'refuse'
   */
  symlinks?: 'refuse' | 'file' | 'preserve';
  /**
   * A file that already exists at a destination: `'overwrite'` (replace it; a symlink there is
   * replaced, never written through), `'error'` (fail, before anything is written, if its content
   * differs; a file with identical bytes is left as it is), or `'skip'` (keep it). A symlink is
   * never read to compare: under `'error'` it always conflicts. Existing directories are always
   * merged into; a directory where a file goes (or the reverse) is always an error.
   * @default 'overwrite'
   */
  existing?: 'overwrite' | 'error' | 'skip';
  /** Aborts the extraction and removes the staging directory. Not honoured once moving into place started. */
  signal?: AbortSignal;
  /** Called once per entry after it has been written to staging and verified. */
  onEntry?: (info: { name: string; size: number }) => void;
  /**
   * Max entries over 64 KiB being written at once (bounded file descriptors); smaller ones are
   * written one after the other on the main thread, with synchronous calls. @default 8
   */
  concurrency?: number;
  /**
   * Where the archive came from, e.g. `{ operation: 'download', artifactName: 'dist' }`. Every
   * Ferry error thrown carries it, so its message names the operation and the artifact as well
   * as the entry.
   */
  context?: ErrorContext;
}

export interface ExtractResult {
  /** Files (and links) moved into the target; files left as they were (skipped, or identical under `existing: 'error'`) are not counted. */
  files: number;
  /** Distinct directories in the archive: explicit entries and implied parents. */
  directories: number;
  /** Uncompressed bytes of the files moved into the target. */
  bytes: number;
}

const OPTION_KEYS = [
  'targetDirectory',
  'limits',
  'restoreModes',
  'symlinks',
  'existing',
  'signal',
  'onEntry',
  'concurrency',
  'context',
] as const;

export interface Normalized {
  target: string;
  limits: ExtractLimits;
  restoreModes: boolean;
  symlinks: 'refuse' | 'file' | 'preserve';
  existing: 'overwrite' | 'error' | 'skip';
  signal: AbortSignal | undefined;
  onEntry: ((info: { name: string; size: number }) => void) | undefined;
  concurrency: number;
  context: ErrorContext | undefined;
}

/** Most entries written at once: each holds a file descriptor and a 64 KiB-plus buffer. */
const MAX_CONCURRENCY = 256;

function invalid(option: string, message: string): ValidationError {
  return new ValidationError('ERR_FERRY_INVALID_OPTION', `Option '${option}': ${message}`, { option });
}

function oneOf<T extends string>(option: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  const choice = typeof value === 'string' ? allowed.find((a) => a === value) : undefined;
  if (choice === undefined) {
    throw invalid(
      option,
      `expected one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${shownValue(value)}`,
    );
  }
  return choice;
}

/**
 * The checks and defaults of `extractZip`'s options (the SDK's own options are checked by
 * options.ts); the rules themselves are core/option-checks.ts's, shared with every other face.
 */
export function normalizeExtractOptions(options: ExtractOptions): Normalized {
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError('ERR_FERRY_INVALID_OPTION', 'extractZip: options must be an object');
  }
  for (const key of Object.keys(options)) {
    if (!(OPTION_KEYS as readonly string[]).includes(key)) {
      throw invalid(key, `unknown option; expected one of ${OPTION_KEYS.join(', ')}`);
    }
  }
  if (typeof options.targetDirectory !== 'string' || options.targetDirectory.length === 0) {
    throw invalid(
      'targetDirectory',
      `must be a non-empty string, got ${shownValue(options.targetDirectory)}`,
    );
  }
  if (options.restoreModes !== undefined && typeof options.restoreModes !== 'boolean') {
    throw invalid('restoreModes', `must be a boolean, got ${shownValue(options.restoreModes)}`);
  }
  const concurrency: unknown = options.concurrency ?? 8;
  if (!isIntegerInRange(concurrency, 1, MAX_CONCURRENCY)) {
    throw invalid(
      'concurrency',
      `must be an integer from 1 to ${MAX_CONCURRENCY}; got ${shownValue(concurrency)}`,
    );
  }
  if (options.onEntry !== undefined && typeof options.onEntry !== 'function') {
    throw invalid('onEntry', 'must be a function');
  }
  if (options.context !== undefined && (typeof options.context !== 'object' || options.context === null)) {
    throw invalid('context', 'must be an object');
  }
  return {
    target: path.resolve(options.targetDirectory),
    limits: normalizeLimits(options.limits),
    restoreModes: options.restoreModes ?? true,
    symlinks: oneOf('symlinks', options.symlinks, ['refuse', 'file', 'preserve'], 'refuse'),
    existing: oneOf('existing', options.existing, ['overwrite', 'error', 'skip'], 'overwrite'),
    signal: options.signal,
    onEntry: options.onEntry,
    concurrency,
    context: options.context,
  };
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(signal.reason);
}
