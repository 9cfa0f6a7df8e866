import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ValidationError } from '../core/errors.js';

/**
 * The files of a cache directory:
 *   entries/<sha256 hex>   one complete, verified artifact archive per digest
 *   tmp/<hex>.<pid>.<rnd>  an insert in progress; renamed into entries/ when complete
 * entries/ and tmp/ are on one filesystem, so the rename is atomic: a reader sees a whole entry
 * or none. An entry's mtime is the time it was last used (inserted or looked up).
 */
export const ENTRIES_DIR = 'entries';
export const TMP_DIR = 'tmp';

const DIGEST = /^sha256:([0-9a-f]{64})$/;
const ENTRY_NAME = /^[0-9a-f]{64}$/;

/** The hex of a `sha256:<hex>` digest; anything else is a caller's mistake, rejected. */
export function digestHex(digest: string): string {
  const match = DIGEST.exec(digest);
  if (!match?.[1]) {
    throw new ValidationError(
      'ERR_FERRY_INVALID_OPTION',
      `A cache key must be a digest 'sha256:<64 lowercase hex>', got '${digest.slice(0, 80)}'`,
      { option: 'digest' },
    );
  }
  return match[1];
}

export function isEntryName(name: string): boolean {
  return ENTRY_NAME.test(name);
}

export function entryPath(root: string, hex: string): string {
  return path.join(root, ENTRIES_DIR, hex);
}

/** Unique per process and call, so concurrent inserts of one digest never share a temp file. */
export function tempPath(root: string, hex: string): string {
  return path.join(root, TMP_DIR, `${hex}.${process.pid}.${randomBytes(6).toString('hex')}`);
}
