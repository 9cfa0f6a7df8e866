import type { Readable } from 'node:stream';
import { ValidationError } from '../../core/errors.js';
import { describeCharacter, isControlCharacter, printable } from '../../core/format.js';
import { MAX_UINT16, MAX_UINT32, type EntryKind } from './headers.js';
import {
  type ZipInput,
  DEFAULT_FILE_MODE,
  DEFAULT_DIRECTORY_MODE,
  DEFAULT_SYMLINK_MODE,
  invalidOption,
} from './zip-options.js';

/** Checks every input (entry names, modes, sizes) before a byte is written. */

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

export type PreparedInput =
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

export function prepareInputs(inputs: readonly ZipInput[]): PreparedInput[] {
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
      case 'file': {
        if (typeof input.sourcePath !== 'string' || input.sourcePath.length === 0) {
          throw invalidOption(`${where}.sourcePath`, 'must be a non-empty string');
        }
        const name = validateEntryName(input.name, 'file');
        const mode = modeOf(DEFAULT_FILE_MODE);
        // An input already in its checked form is kept as it is: one object per file, not two,
        // for the whole archive (100,000 files are ~5 MB of these; issue 12 item 5).
        if (name === input.name && mode === input.mode) return input as PreparedInput;
        return { kind: 'file', name, mode, sourcePath: input.sourcePath };
      }
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
