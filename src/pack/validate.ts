import { ValidationError } from '../core/errors.js';
import { describeCharacter, printable } from '../core/format.js';
import { findBadCharacter } from '../core/name-characters.js';

/**
 * The rule for file paths inside an artifact: the official client's (protocol A7/B7) plus the
 * hardening from the reliability plan (item 19): control characters and lone surrogates are
 * rejected here instead of by a 400 from the service. Artifact names: core/artifact-name.ts.
 */

/** Characters the official client rejects in file paths (`/` and `\` are separators here). */
export const FORBIDDEN_PATH_CHARACTERS: readonly string[] = ['"', ':', '<', '>', '|', '*', '?', '\r', '\n'];

/**
 * Throws `ValidationError` (`ERR_FERRY_INVALID_PATH`) unless `relPath` (a file path relative to the
 * artifact root) is non-empty and free of `" : < > | * ? \r \n`, control characters and lone
 * surrogates. `/` and `\` are separators and allowed.
 */
export function validateFilePath(relPath: string): void {
  if (typeof relPath !== 'string' || relPath.length === 0) {
    throw new ValidationError('ERR_FERRY_INVALID_PATH', 'File path must be a non-empty string');
  }
  const bad = findBadCharacter(relPath, FORBIDDEN_PATH_CHARACTERS);
  if (bad) {
    throw new ValidationError(
      'ERR_FERRY_INVALID_PATH',
      `Invalid file path ${printable(relPath)}: character ${describeCharacter(bad.ch)} at index ${bad.index} is ${bad.reason}. ` +
        `File paths in an artifact must not contain " : < > | * ? \\r \\n or control characters`,
    );
  }
}
