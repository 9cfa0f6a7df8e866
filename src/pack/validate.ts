import { ValidationError } from '../core/errors.js';
import { escapeCodePoint, isUnsafeForDisplay } from '../core/format.js';

/**
 * Client-side name and path rules. They are the official client's (protocol A7/B7) plus the
 * hardening from the reliability plan (items 18-19): control characters, lone surrogates, `.`/`..`
 * and the server's 256 limit on names are rejected here instead of by a 400 from the service.
 */

/** Characters the official client rejects in artifact names. */
export const FORBIDDEN_NAME_CHARACTERS: readonly string[] = [
  '"',
  ':',
  '<',
  '>',
  '|',
  '*',
  '?',
  '\r',
  '\n',
  '\\',
  '/',
];

/** Characters the official client rejects in file paths (`/` and `\` are separators here). */
export const FORBIDDEN_PATH_CHARACTERS: readonly string[] = ['"', ':', '<', '>', '|', '*', '?', '\r', '\n'];

/** Maximum artifact name length in UTF-8 bytes (the results service answers 400 beyond it). */
export const MAX_ARTIFACT_NAME_BYTES = 256;

const NAMED_ESCAPES: Readonly<Record<string, string>> = {
  '\0': '\\0',
  '\b': '\\b',
  '\t': '\\t',
  '\n': '\\n',
  '\v': '\\v',
  '\f': '\\f',
  '\r': '\\r',
};

/** C0 controls, DEL and C1 controls. */
export function isControlCharacter(code: number): boolean {
  return code <= 0x1f || (code >= 0x7f && code <= 0x9f);
}

function hex4(code: number): string {
  return code.toString(16).toUpperCase().padStart(4, '0');
}

/**
 * A printable, quoted form of one character for an error message: `':'`, `'\n' (U+000A)`,
 * `U+001B`, `U+D800 (lone surrogate)`.
 */
export function describeCharacter(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  const named = NAMED_ESCAPES[ch];
  if (named !== undefined) return `'${named}' (U+${hex4(code)})`;
  if (code >= 0xd800 && code <= 0xdfff) return `U+${hex4(code)} (lone surrogate)`;
  if (isControlCharacter(code)) return `U+${hex4(code)}`;
  return `'${ch}'`;
}

/**
 * A value quoted for an error message with control characters, bidi overrides and lone surrogates escaped, so a
 * hostile name cannot break a log line or inject a workflow command; long values are shortened.
 */
export function printable(value: string, max = 120): string {
  let out = '';
  let count = 0;
  for (const ch of value) {
    if (count === max) {
      out += `…(${Array.from(value).length} characters)`;
      break;
    }
    count++;
    const code = ch.codePointAt(0) ?? 0;
    const named = NAMED_ESCAPES[ch];
    if (named !== undefined) out += named;
    else if (isUnsafeForDisplay(code)) out += escapeCodePoint(code);
    else if (ch === "'" || ch === '\\') out += `\\${ch}`;
    else out += ch;
  }
  return `'${out}'`;
}

/** The first character that is forbidden, a control character or a lone surrogate, if any. */
function findBadCharacter(
  value: string,
  forbidden: readonly string[],
): { ch: string; index: number; reason: string } | undefined {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++; // a valid surrogate pair
        continue;
      }
      return { ch: value[i] as string, index: i, reason: 'a lone surrogate (not valid UTF-8)' };
    }
    if (code >= 0xdc00 && code <= 0xdfff) {
      return { ch: value[i] as string, index: i, reason: 'a lone surrogate (not valid UTF-8)' };
    }
    const ch = value[i] as string;
    if (forbidden.includes(ch)) return { ch, index: i, reason: 'not allowed' };
    if (isControlCharacter(code)) return { ch, index: i, reason: 'a control character' };
  }
  return undefined;
}

/**
 * Throws `ValidationError` (`ERR_FERRY_INVALID_NAME`) unless `name` is a usable artifact name:
 * non-empty, at most 256 UTF-8 bytes, not `.` or `..`, and free of
 * `" : < > | * ? \r \n \ /`, control characters and lone surrogates.
 */
export function validateArtifactName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw new ValidationError('ERR_FERRY_INVALID_NAME', 'Artifact name must be a non-empty string');
  }
  const bad = findBadCharacter(name, FORBIDDEN_NAME_CHARACTERS);
  if (bad) {
    throw new ValidationError(
      'ERR_FERRY_INVALID_NAME',
      `Invalid artifact name ${printable(name)}: character ${describeCharacter(bad.ch)} at index ${bad.index} is ${bad.reason}. ` +
        `Artifact names must not contain " : < > | * ? \\r \\n \\ / or control characters`,
    );
  }
  if (name === '.' || name === '..') {
    throw new ValidationError(
      'ERR_FERRY_INVALID_NAME',
      `Invalid artifact name ${printable(name)}: '.' and '..' are not allowed`,
    );
  }
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_ARTIFACT_NAME_BYTES) {
    throw new ValidationError(
      'ERR_FERRY_INVALID_NAME',
      `Invalid artifact name ${printable(name)}: ${bytes} bytes long, the limit is ${MAX_ARTIFACT_NAME_BYTES} bytes (UTF-8)`,
    );
  }
}

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
