import { IntegrityError, ValidationError } from '../../core/errors.js';
import { printable } from '../../core/format.js';
import type { ZipEntry } from './central-directory.js';

/**
 * Zip-bomb limits. They are checked against the central directory before anything is written,
 * and the per-entry declared size is enforced again while inflating.
 */
export interface ExtractLimits {
  /**
   * Maximum number of entries (files, directories and links) in the archive.
   * @default 100_000
   */
  maxEntries: number;
  /**
   * Maximum sum of the declared uncompressed sizes, in bytes.
   * @default 68_719_476_736 (64 GiB)
   */
  maxTotalBytes: number;
  /**
   * Maximum uncompressed/compressed ratio of one entry. Only checked for entries larger than
   * 1 MiB uncompressed (small files of zeros legitimately reach high ratios).
   * @default 1000
   */
  maxRatio: number;
}

export const DEFAULT_EXTRACT_LIMITS: Readonly<ExtractLimits> = Object.freeze({
  maxEntries: 100_000,
  maxTotalBytes: 64 * 1024 ** 3,
  maxRatio: 1000,
});

/** Entries up to this uncompressed size are exempt from the ratio limit. */
export const RATIO_THRESHOLD_BYTES = 1024 * 1024;

const LIMIT_KEYS: readonly (keyof ExtractLimits)[] = ['maxEntries', 'maxTotalBytes', 'maxRatio'];

/**
 * Merges `limits` over the defaults and validates them: each must be a positive number
 * (`Infinity` disables a limit); `maxEntries` must be an integer. Unknown keys are rejected.
 */
export function normalizeLimits(limits: Partial<ExtractLimits> | undefined): ExtractLimits {
  const out: ExtractLimits = { ...DEFAULT_EXTRACT_LIMITS };
  if (limits === undefined) return out;
  if (typeof limits !== 'object' || limits === null) {
    throw new ValidationError('ERR_FERRY_INVALID_OPTION', "Option 'limits': must be an object", {
      option: 'limits',
    });
  }
  for (const key of Object.keys(limits)) {
    if (!(LIMIT_KEYS as readonly string[]).includes(key)) {
      throw new ValidationError(
        'ERR_FERRY_INVALID_OPTION',
        `Option 'limits.${key}': unknown option; expected one of ${LIMIT_KEYS.join(', ')}`,
        { option: `limits.${key}` },
      );
    }
  }
  for (const key of LIMIT_KEYS) {
    const value = limits[key];
    if (value === undefined) continue;
    const valid =
      typeof value === 'number' &&
      !Number.isNaN(value) &&
      value > 0 &&
      (key !== 'maxEntries' || Number.isInteger(value) || value === Infinity);
    if (!valid) {
      throw new ValidationError(
        'ERR_FERRY_INVALID_OPTION',
        `Option 'limits.${key}': must be a positive ${key === 'maxEntries' ? 'integer' : 'number'} (or Infinity), got ${String(value)}`,
        { option: `limits.${key}` },
      );
    }
    out[key] = value;
  }
  return out;
}

/**
 * The error thrown when an archive (or a legacy artifact's listing, `subject`) exceeds one of
 * the limits: the same code and wording on both protocols.
 */
export function limitError(
  what: string,
  option: keyof ExtractLimits,
  limit: number,
  subject = 'Zip archive',
): IntegrityError {
  return new IntegrityError(
    'ERR_FERRY_INTEGRITY',
    `${subject} rejected: ${what}, over the limit of ${limit}. ` +
      `If the ${subject === 'Zip archive' ? 'archive' : 'artifact'} is trusted, raise the option 'limits.${option}'`,
  );
}

/** Checks entry count, total declared size and per-entry ratio from the central directory. */
export function checkDeclaredLimits(entries: readonly ZipEntry[], limits: ExtractLimits): void {
  if (entries.length > limits.maxEntries) {
    throw limitError(`it has ${entries.length} entries`, 'maxEntries', limits.maxEntries);
  }
  let total = 0;
  for (const entry of entries) {
    total += entry.uncompressedSize;
    if (total > limits.maxTotalBytes) {
      throw limitError(
        `its entries declare at least ${total} bytes uncompressed`,
        'maxTotalBytes',
        limits.maxTotalBytes,
      );
    }
    if (entry.uncompressedSize > RATIO_THRESHOLD_BYTES) {
      const ratio = entry.compressedSize === 0 ? Infinity : entry.uncompressedSize / entry.compressedSize;
      if (ratio > limits.maxRatio) {
        throw limitError(
          `entry ${printable(entry.name)} has a compression ratio of ${ratio === Infinity ? 'infinity' : Math.round(ratio)}:1 ` +
            `(${entry.uncompressedSize} bytes from ${entry.compressedSize})`,
          'maxRatio',
          limits.maxRatio,
        );
      }
    }
  }
}
