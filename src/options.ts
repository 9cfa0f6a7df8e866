import os from 'node:os';
import path from 'node:path';
import { ValidationError } from './errors.js';
import type { ProxySettings } from './transport/proxy.js';
import type { RetryPolicy } from './transport/retry.js';
import type { Logger, ProgressCallback } from './types.js';
import { silentLogger } from './types.js';

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
  /** Days to keep the artifact; 0 or unset means the server default. */
  retentionDays?: number;
  /** Proxy settings; see `proxySettingsFromEnv`. */
  proxy?: ProxySettings;
  /** Idle socket timeout per request in ms. @default 120000 */
  timeoutMs?: number;
  /** Overrides of the retry policy. */
  retry?: Partial<RetryPolicy>;
  /** Directory for temporary gzip files. @default os.tmpdir() */
  tempDir?: string;
  logger?: Logger;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
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
  retry: Partial<RetryPolicy>;
  tempDir: string;
  logger: Logger;
  onProgress: ProgressCallback | undefined;
  signal: AbortSignal | undefined;
}

export const DEFAULT_CONCURRENCY = 8;
export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;
export const MAX_CHUNK_SIZE = 256 * 1024 * 1024;

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
  'retry',
  'tempDir',
  'logger',
  'onProgress',
  'signal',
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
    runtimeToken: options.runtimeToken || undefined,
    runId: optionalString('runId', options.runId),
    localStore: path.resolve(options.localStore ?? path.join(os.homedir(), '.ferry', 'store')),
    concurrency: integer('concurrency', options.concurrency, DEFAULT_CONCURRENCY, 1, 256),
    chunkSize: integer('chunkSize', options.chunkSize, DEFAULT_CHUNK_SIZE, 1, MAX_CHUNK_SIZE),
    compressionLevel: integer('compressionLevel', options.compressionLevel, 6, 0, 9),
    retentionDays:
      options.retentionDays === undefined || options.retentionDays === 0
        ? undefined
        : integer('retentionDays', options.retentionDays, 0, 1, 90),
    proxy: options.proxy ?? {},
    timeoutMs: integer('timeoutMs', options.timeoutMs, 120_000, 1, 24 * 3600_000),
    retry: options.retry ?? {},
    tempDir: path.resolve(options.tempDir ?? os.tmpdir()),
    logger: options.logger ?? silentLogger,
    onProgress: options.onProgress,
    signal: options.signal,
  };
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
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(option, `must be an integer from ${min} to ${max}; got ${String(value)}`);
  }
  return value;
}

function optionalString(option: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw invalid(option, `must be a string; got ${typeof value}`);
  return value;
}

function optionalUrl(option: string, value: string | undefined): string | undefined {
  const text = optionalString(option, value);
  if (text === undefined) return undefined;
  try {
    const url = new URL(text);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw invalid(option, `must be an http(s) URL; got ${JSON.stringify(text)}`);
  }
  return text;
}
