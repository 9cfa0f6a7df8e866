import os from 'node:os';
import path from 'node:path';
import { ValidationError } from './core/errors.js';
import { isHttpUrl, isIntegerInRange, isNumberInRange, shownValue as shown } from './core/option-checks.js';
import { DEFAULT_MAX_RESPONSE_BYTES } from './transport/body.js';
import type { ProxySettings } from './transport/proxy.js';
import { redactingLogger } from './core/redact.js';
import type { RetryPolicy } from './transport/retry.js';
import { parseTrustedOrigins } from './transport/url-policy.js';
import type { Logger, ProgressCallback } from './core/types.js';
import { silentLogger } from './core/types.js';
import type { OperationStats } from './core/stats.js';
import { normalizeCacheOptions } from './cache/options.js';

/** The verified download cache (opt-in): see docs/configuration.md, "Download cache". */
export interface DownloadCacheOptions {
  /** The cache directory; created when missing; several processes may share it. */
  path: string;
  /** Total bytes of entries kept; least recently used entries are evicted beyond it. */
  maxBytes: number;
  /** An entry unused this long is evicted. @default 604800 (7 days) */
  maxAgeSeconds?: number;
  /** Most entries kept. @default 10000 */
  maxEntries?: number;
}

export type BackendChoice = 'auto' | 'legacy' | 'results' | 'local';

/** Options shared by every operation. Read the environment with `fromEnvironment()` and spread it in. */
export interface ArtifactClientOptions {
  /**
   * Which protocol to speak. `auto` picks by capability: results when `resultsUrl` is set and
   * the runtime token carries an `Actions.Results` scope, legacy when `runtimeUrl` is set, the
   * embedded local store when neither is. No host name is ever refused.
   * @default 'auto'
   */
  backend?: BackendChoice;
  /** ACTIONS_RUNTIME_URL of the legacy (pipelines) service. @example 'https://pipelines.example/abc/' */
  runtimeUrl?: string;
  /** ACTIONS_RESULTS_URL of the results service (github.com); only its origin is used. */
  resultsUrl?: string;
  /** ACTIONS_RUNTIME_TOKEN. Never logged. */
  runtimeToken?: string;
  /** GITHUB_RUN_ID. @default 'local' for the embedded store */
  runId?: string;
  /** Directory of the embedded local store. @default '~/.ferry/store' */
  localStore?: string;
  /** Parallel transfers, each with its own keep-alive connection. @default 8 */
  concurrency?: number;
  /** Bytes per chunk PUT (legacy). @default 4194304 */
  chunkSize?: number;
  /** gzip/deflate level 0–9. @default 6 */
  compressionLevel?: number;
  /**
   * Days to keep the artifact, 1 to 400 (GitHub's longest; the repository setting may cap it
   * lower); 0 or unset means the server default.
   */
  retentionDays?: number;
  /** Proxy settings; see `proxySettingsFromEnv`. */
  proxy?: ProxySettings;
  /** Idle socket timeout per request in ms. @default 120000 */
  timeoutMs?: number;
  /**
   * A download body arriving slower than this (bytes per second, averaged over `stallWindowMs`)
   * is dropped as stalled and retried; 0 turns the watchdog off. @default 1024
   */
  minBytesPerSecond?: number;
  /** The averaging window of `minBytesPerSecond` in ms. @default 60000 */
  stallWindowMs?: number;
  /** Overrides of the retry policy. */
  retry?: Partial<RetryPolicy>;
  /** Directory for temporary gzip files. @default os.tmpdir() */
  tempDir?: string;
  /**
   * Largest JSON answer accepted from a service (ListArtifacts, GetSignedArtifactURL, REST
   * listings; for the streamed legacy container listing, each item): more is
   * ERR_FERRY_RESPONSE_TOO_LARGE, refused while reading. FERRY_MAX_RESPONSE_BYTES.
   * @default 33554432 (32 MiB)
   */
  maxResponseBytes?: number;
  /**
   * Origins (`https://host[:port]`) besides the runtime URL's that may receive the runtime token
   * when the legacy service points container or file URLs at them. Any other origin is refused
   * (ERR_FERRY_UNSAFE_URL), as is https downgraded to http. FERRY_TRUSTED_ORIGINS (comma-separated).
   */
  trustedOrigins?: readonly string[];
  logger?: Logger;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  /**
   * Opt-in verified cache of downloaded artifacts, by digest (results protocol, REST, the local
   * store): a cached artifact is extracted from the cache without a blob request. FERRY_CACHE_DIR.
   */
  cache?: DownloadCacheOptions;
  /**
   * Called once when an operation ends, successful or not, with its counters and timings (the
   * same `stats` results carry; list and get return arrays and infos, so this is their way).
   */
  onStats?: (stats: OperationStats) => void;
  /**
   * REST calls (findBy): when the token's API rate limit is known to be spent (remembered from
   * an earlier answer, possibly by another process), wait for its reset when it is at most this
   * many seconds away instead of failing at once with ERR_FERRY_RATE_LIMITED.
   * @default 0 (fail at once, sending nothing)
   */
  rateLimitWaitSeconds?: number;
}

export interface NormalizedOptions {
  backend: BackendChoice;
  runtimeUrl: string | undefined;
  resultsUrl: string | undefined;
  runtimeToken: string | undefined;
  runId: string | undefined;
  localStore: string;
  concurrency: number;
  chunkSize: number;
  compressionLevel: number;
  retentionDays: number | undefined;
  proxy: ProxySettings;
  timeoutMs: number;
  minBytesPerSecond: number;
  stallWindowMs: number;
  retry: Partial<RetryPolicy>;
  tempDir: string;
  maxResponseBytes: number;
  trustedOrigins: readonly string[];
  logger: Logger;
  onProgress: ProgressCallback | undefined;
  signal: AbortSignal | undefined;
  cache: DownloadCacheOptions | undefined;
  onStats: ((stats: OperationStats) => void) | undefined;
  rateLimitWaitSeconds: number;
}

export const DEFAULT_CONCURRENCY = 8;
/**
 * Bytes per chunk PUT on the legacy protocol (the `chunkSize` option). Not the zip writer's
 * read size (pack/zip-writer's DEFAULT_CHUNK_SIZE, 1 MiB), a different thing.
 */
export const DEFAULT_LEGACY_CHUNK_SIZE = 4 * 1024 * 1024;
export const MAX_CHUNK_SIZE = 256 * 1024 * 1024;
/** The longest retention GitHub allows (a repository setting of up to 400 days; 90 by default). */
export const MAX_RETENTION_DAYS = 400;
/** maxResponseBytes above 1 GiB would let one answer take more memory than a runner has to spare. */
export const MAX_RESPONSE_BYTES_LIMIT = 1024 * 1024 * 1024;

const KNOWN_KEYS = new Set<string>([
  'backend',
  'runtimeUrl',
  'resultsUrl',
  'runtimeToken',
  'runId',
  'localStore',
  'concurrency',
  'chunkSize',
  'compressionLevel',
  'retentionDays',
  'proxy',
  'timeoutMs',
  'minBytesPerSecond',
  'stallWindowMs',
  'retry',
  'tempDir',
  'maxResponseBytes',
  'trustedOrigins',
  'logger',
  'onProgress',
  'signal',
  'cache',
  'onStats',
  'rateLimitWaitSeconds',
]);

/**
 * Validates options once, naming the option and the value in every error, and fills defaults.
 * `extraKeys` are operation-specific keys (e.g. `path` for download) that the caller handles.
 */
export function normalizeOptions(
  options: ArtifactClientOptions = {},
  extraKeys: readonly string[] = [],
): NormalizedOptions {
  for (const key of Object.keys(options)) {
    if (!KNOWN_KEYS.has(key) && !extraKeys.includes(key)) {
      throw invalid(key, `is not a known option`);
    }
  }
  const backend = options.backend ?? 'auto';
  if (!['auto', 'legacy', 'results', 'local'].includes(backend)) {
    throw invalid('backend', `must be one of auto, legacy, results, local; got ${JSON.stringify(backend)}`);
  }
  return {
    backend,
    runtimeUrl: optionalUrl('runtimeUrl', options.runtimeUrl),
    resultsUrl: optionalUrl('resultsUrl', options.resultsUrl),
    runtimeToken: optionalString('runtimeToken', options.runtimeToken, false),
    runId: optionalString('runId', options.runId),
    localStore: path.resolve(
      optionalString('localStore', options.localStore) ?? path.join(os.homedir(), '.ferry', 'store'),
    ),
    concurrency: integer('concurrency', options.concurrency, DEFAULT_CONCURRENCY, 1, 256),
    chunkSize: integer('chunkSize', options.chunkSize, DEFAULT_LEGACY_CHUNK_SIZE, 1, MAX_CHUNK_SIZE),
    compressionLevel: integer('compressionLevel', options.compressionLevel, 6, 0, 9),
    retentionDays:
      options.retentionDays === undefined || options.retentionDays === 0
        ? undefined
        : integer('retentionDays', options.retentionDays, 0, 1, MAX_RETENTION_DAYS),
    proxy: objectOption('proxy', options.proxy) ?? {},
    timeoutMs: integer('timeoutMs', options.timeoutMs, 120_000, 1, 24 * 3600_000),
    minBytesPerSecond: integer('minBytesPerSecond', options.minBytesPerSecond, 1024, 0, 1024 ** 3),
    stallWindowMs: integer('stallWindowMs', options.stallWindowMs, 60_000, 1, 24 * 3600_000),
    retry: retryOption(options.retry),
    tempDir: path.resolve(optionalString('tempDir', options.tempDir) ?? os.tmpdir()),
    maxResponseBytes: integer(
      'maxResponseBytes',
      options.maxResponseBytes,
      DEFAULT_MAX_RESPONSE_BYTES,
      1024,
      MAX_RESPONSE_BYTES_LIMIT,
    ),
    trustedOrigins: trustedOriginsOption(options.trustedOrigins),
    // Every line any part of Ferry logs is scrubbed, whatever logger the caller passed.
    logger: options.logger ? redactingLogger(loggerOption(options.logger)) : silentLogger,
    onProgress: functionOption('onProgress', options.onProgress),
    signal: signalOption(options.signal),
    cache: cacheOption(options.cache),
    onStats: functionOption('onStats', options.onStats),
    rateLimitWaitSeconds: integer('rateLimitWaitSeconds', options.rateLimitWaitSeconds, 0, 0, 3600),
  };
}

/** Checked here, before any request, so a bad cache option fails the call naming the option. */
function cacheOption(value: DownloadCacheOptions | undefined): DownloadCacheOptions | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) throw invalid('cache', 'must be an object');
  const { path: dir, maxBytes, maxAgeSeconds, maxEntries } = value;
  const checked: DownloadCacheOptions = {
    path: dir,
    maxBytes,
    ...(maxAgeSeconds !== undefined ? { maxAgeSeconds } : {}),
    ...(maxEntries !== undefined ? { maxEntries } : {}),
  };
  normalizeCacheOptions(checked);
  return { ...checked, path: path.resolve(dir) };
}

function invalid(option: string, message: string): ValidationError {
  return new ValidationError('ERR_FERRY_INVALID_OPTION', `Option '${option}' ${message}`, { option });
}

function integer(
  option: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (!isIntegerInRange(value, min, max)) {
    throw invalid(option, `must be an integer from ${min} to ${max}; got ${shown(value)}`);
  }
  return value;
}

function optionalString(option: string, value: unknown, echo = true): string | undefined {
  if (value === undefined || value === '') return undefined;
  // A token's value is never echoed, only its type.
  if (typeof value !== 'string')
    throw invalid(option, `must be a string; got ${echo ? shown(value) : typeof value}`);
  return value;
}

function objectOption<T>(option: string, value: T | undefined): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(option, `must be an object; got ${shown(value)}`);
  }
  return value;
}

function functionOption<T>(option: string, value: T | undefined): T | undefined {
  if (value !== undefined && typeof value !== 'function') {
    throw invalid(option, `must be a function; got ${shown(value)}`);
  }
  return value;
}

function loggerOption(logger: Logger): Logger {
  objectOption('logger', logger);
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger[level] !== 'function') {
      throw invalid(
        'logger',
        `must have debug, info, warn and error functions; '${level}' is ${shown(logger[level])}`,
      );
    }
  }
  return logger;
}

function signalOption(signal: AbortSignal | undefined): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  const s = signal as Partial<AbortSignal> | null;
  if (
    typeof s !== 'object' ||
    s === null ||
    typeof s.aborted !== 'boolean' ||
    typeof s.addEventListener !== 'function'
  ) {
    throw invalid('signal', `must be an AbortSignal; got ${shown(signal)}`);
  }
  return signal;
}

/** Bounds of each retry policy field: a NaN attempt count or budget would retry forever. */
const RETRY_NUMBERS: Readonly<Record<string, { min: number; max: number; integer: boolean }>> = {
  maxAttempts: { min: 1, max: 100, integer: true },
  baseDelayMs: { min: 0, max: 3_600_000, integer: false },
  multiplier: { min: 1, max: 100, integer: false },
  maxDelayMs: { min: 0, max: 3_600_000, integer: false },
  jitter: { min: 0, max: 1, integer: false },
  maxRetryAfterMs: { min: 0, max: 24 * 3_600_000, integer: false },
  totalTimeMs: { min: 1, max: 7 * 24 * 3_600_000, integer: false },
};

function retryOption(retry: Partial<RetryPolicy> | undefined): Partial<RetryPolicy> {
  if (objectOption('retry', retry) === undefined) return {};
  const policy = retry as Record<string, unknown>;
  for (const [key, value] of Object.entries(policy)) {
    if (value === undefined) continue;
    const option = `retry.${key}`;
    const bounds = RETRY_NUMBERS[key];
    if (bounds !== undefined) {
      const ok = bounds.integer
        ? isIntegerInRange(value, bounds.min, bounds.max)
        : isNumberInRange(value, bounds.min, bounds.max);
      if (!ok) {
        const kind = bounds.integer ? 'an integer' : 'a number';
        throw invalid(option, `must be ${kind} from ${bounds.min} to ${bounds.max}; got ${shown(value)}`);
      }
    } else if (key === 'retryableStatuses') {
      if (!Array.isArray(value) || !value.every((v) => Number.isInteger(v) && v >= 100 && v <= 599)) {
        throw invalid(option, `must be an array of HTTP status codes; got ${shown(value)}`);
      }
    } else if (key === 'retryableErrorCodes') {
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
        throw invalid(option, `must be an array of error code strings; got ${shown(value)}`);
      }
    } else {
      throw invalid(option, 'is not a known retry policy field');
    }
  }
  return retry as Partial<RetryPolicy>;
}

function trustedOriginsOption(value: readonly string[] | undefined): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value))
    throw invalid('trustedOrigins', `must be an array of origins; got ${shown(value)}`);
  return parseTrustedOrigins(value as readonly unknown[], (message) => invalid('trustedOrigins', message));
}

function optionalUrl(option: string, value: string | undefined): string | undefined {
  const text = optionalString(option, value);
  if (text === undefined) return undefined;
  if (!isHttpUrl(text)) throw invalid(option, `must be an http(s) URL; got ${JSON.stringify(text)}`);
  return text;
}
