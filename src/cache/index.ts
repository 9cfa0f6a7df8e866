export { openCache } from './verified-cache.js';
export type { CacheHit, CacheSource, CacheStats, InsertResult, VerifiedCache } from './verified-cache.js';
export type { CacheOptions } from './options.js';
export { DEFAULT_MAX_AGE_SECONDS, DEFAULT_MAX_ENTRIES } from './options.js';
