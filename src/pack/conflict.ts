import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { link, lstat, open, rename, rm } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { FerryError, ValidationError, type ErrorContext } from '../core/errors.js';
import { printable } from '../core/format.js';

/**
 * What to do with a file that already exists where a download (or an extraction) puts one:
 *
 * - `'error'`: fail, naming the file, when its content differs; a file with identical bytes is
 *   fine and is left as it is. Nothing is written before the check.
 * - `'overwrite'`: replace it (a symlink there is replaced, never written through).
 * - `'skip'`: keep it.
 */
export type ConflictPolicy = 'error' | 'overwrite' | 'skip';

export const CONFLICT_POLICIES: readonly ConflictPolicy[] = ['error', 'overwrite', 'skip'];

/** `O_NOFOLLOW` so that a symlink swapped in after the `lstat` is not read through. */
const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0);
const READ_SIZE = 1024 * 1024;

export interface FileDigest {
  size: number;
  /** Lowercase hex. */
  sha256: string;
  crc32: number;
}

/**
 * Streams a regular file and returns its size, SHA-256 and CRC-32. Symbolic links are never
 * followed: anything that is not a regular file gives `undefined`.
 */
export async function digestRegularFile(file: string): Promise<FileDigest | undefined> {
  let handle;
  try {
    handle = await open(file, OPEN_FLAGS);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw error;
  }
  try {
    if (!(await handle.stat()).isFile()) return undefined;
    const hash = createHash('sha256');
    let crc = 0;
    let size = 0;
    const buffer = Buffer.allocUnsafe(READ_SIZE);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, READ_SIZE, size);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      hash.update(chunk);
      crc = crc32(chunk, crc);
      size += bytesRead;
    }
    return { size, sha256: hash.digest('hex'), crc32: crc };
  } finally {
    await handle.close();
  }
}

/** The content a download would put at a path: its size, optionally its CRC-32, and its SHA-256 (lazily). */
export interface ExpectedContent {
  size: number;
  crc32?: number;
  /** Only called when size (and CRC-32, when given) already match. */
  sha256: () => Promise<string> | string;
}

export type ExistingState = 'missing' | 'identical' | 'different' | 'directory';

/**
 * Compares whatever is at `dest` with the expected content: size first, then the CRC-32 and
 * SHA-256 of the existing file (one streamed read), then the expected SHA-256. A symbolic link or
 * any other non-regular file counts as different (it is never followed).
 */
export async function compareExisting(dest: string, expected: ExpectedContent): Promise<ExistingState> {
  let stats;
  try {
    stats = await lstat(dest);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    throw error;
  }
  if (stats.isDirectory()) return 'directory';
  if (!stats.isFile() || stats.size !== expected.size) return 'different';
  const actual = await digestRegularFile(dest);
  if (actual === undefined || actual.size !== expected.size) return 'different';
  if (expected.crc32 !== undefined && actual.crc32 !== expected.crc32 >>> 0) return 'different';
  return actual.sha256 === (await expected.sha256()) ? 'identical' : 'different';
}

/** The error for a differing file under the `'error'` policy: it names the file, the policy and the way out. */
export function conflictError(file: string, where: string, context: ErrorContext = {}): FerryError {
  return new FerryError(
    'ERR_FERRY_CONFLICT',
    `${printable(file)} already exists in ${where} with different content, and the conflict policy is 'error' ` +
      "(identical files are accepted). Use 'overwrite' to replace it or 'skip' to keep it " +
      "(option 'conflict' of downloadArtifact, 'existing' of extractZip), or download into an empty directory",
    { context },
  );
}

/**
 * Moves `staged` to `dest` only if nothing is there (for the `'error'` and `'skip'` policies, so
 * a file another writer put there since the check is never replaced): `link(2)` fails with EEXIST
 * instead of replacing, then the staged name is removed. On a file system without hard links it
 * falls back to a check and `rename(2)`. Returns false, and leaves `staged`, when `dest` exists.
 */
export async function placeNoClobber(staged: string, dest: string): Promise<boolean> {
  try {
    await link(staged, dest);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK', 'EXDEV', 'ENOSYS'].includes(code ?? '')) throw error;
    try {
      await lstat(dest);
      return false;
    } catch {
      await rename(staged, dest);
      return true;
    }
  }
  await rm(staged, { force: true });
  return true;
}

/** Validates a `conflict` option: undefined (the caller's default) or one of the policies. */
export function checkConflictPolicy(value: unknown, option = 'conflict'): ConflictPolicy | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(CONFLICT_POLICIES as readonly string[]).includes(value)) {
    throw new ValidationError(
      'ERR_FERRY_INVALID_OPTION',
      `Option '${option}' must be one of ${CONFLICT_POLICIES.map((p) => `'${p}'`).join(', ')}; got ${typeof value === 'string' ? printable(value) : String(value)}`,
      { option },
    );
  }
  return value as ConflictPolicy;
}
