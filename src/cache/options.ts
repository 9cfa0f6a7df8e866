import { ValidationError } from '../core/errors.js';
import type { Logger } from '../core/types.js';

/** What a caller passes to openCache(). */
export interface CacheOptions {
  /** The cache directory. Created when missing; may be shared by several processes at once. */
  path: string;
  /** Total bytes of entries above which eviction runs. */
  maxBytes: number;
  /**
   * Eviction, once it runs, removes least recently used entries until the total is at most
   * this, so it does not run again on the next few inserts.
   * @default 80% of maxBytes
   */
  lowWaterBytes?: number;
  /**
   * An entry not used (looked up or inserted) for this long is evicted, and a lookup of it is a miss.
   * @default 604800 (7 days)
   */
  maxAgeSeconds?: number;
  /**
   * Most entries kept; eviction brings the count back to 80% of this.
   * @default 10000
   */
  maxEntries?: number;
  /** Warnings (a corrupt entry dropped, a stale temp file removed) go here. */
  logger?: Logger;
}

export interface NormalizedCacheOptions {
  path: string;
  maxBytes: number;
  lowWaterBytes: number;
  maxAgeMs: number;
  maxEntries: number;
  lowWaterEntries: number;
}

export const DEFAULT_MAX_AGE_SECONDS = 7 * 24 * 3600;
export const DEFAULT_MAX_ENTRIES = 10_000;
const LOW_WATER_RATIO = 0.8;

function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new ValidationError(
      'ERR_FERRY_INVALID_OPTION',
      `Option 'cache.${name}' must be a positive integer, got ${String(value)}`,
      { option: `cache.${name}` },
    );
  }
  return value;
}

/** Checks every option once and fills the defaults; messages name the option's path. */
export function normalizeCacheOptions(options: CacheOptions): NormalizedCacheOptions {
  if (typeof options.path !== 'string' || options.path === '') {
    throw new ValidationError('ERR_FERRY_INVALID_OPTION', "Option 'cache.path' must be a non-empty path", {
      option: 'cache.path',
    });
  }
  const maxBytes = positiveInteger('maxBytes', options.maxBytes);
  const lowWaterBytes =
    options.lowWaterBytes === undefined
      ? Math.floor(maxBytes * LOW_WATER_RATIO)
      : positiveInteger('lowWaterBytes', options.lowWaterBytes);
  if (lowWaterBytes > maxBytes) {
    throw new ValidationError(
      'ERR_FERRY_INVALID_OPTION',
      `Option 'cache.lowWaterBytes' (${lowWaterBytes}) must not exceed cache.maxBytes (${maxBytes})`,
      { option: 'cache.lowWaterBytes' },
    );
  }
  const maxAgeSeconds = positiveInteger('maxAgeSeconds', options.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS);
  const maxEntries = positiveInteger('maxEntries', options.maxEntries ?? DEFAULT_MAX_ENTRIES);
  return {
    path: options.path,
    maxBytes,
    lowWaterBytes,
    maxAgeMs: maxAgeSeconds * 1000,
    maxEntries,
    lowWaterEntries: Math.max(1, Math.floor(maxEntries * LOW_WATER_RATIO)),
  };
}
