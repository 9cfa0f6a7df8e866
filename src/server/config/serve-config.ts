import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { FerryError } from '../../core/errors.js';
import type { EvictionPolicy } from '../retention/eviction-policy.js';
import {
  checkContainerName,
  checkPrefix,
  DEFAULT_CONNECTION_STRING_ENV,
  type AzureStoreConfig,
} from './azure-store-config.js';
import { DEFAULT_SWEEP_INTERVAL_MS } from '../retention/sweeper.js';

/**
 * `ferry serve --config FILE`: named stores in the NativeLink manner, the one the server uses,
 * and retention. What it resolves to, ready for startServer. The file format is documented in
 * docs/serve.md; every key is checked, and the first problem is reported with its key path.
 */
export interface ServeConfig {
  /** The chosen filesystem store's directory, absolute; undefined for an azure_blob store. */
  dataDir: string | undefined;
  /** The chosen azure_blob store; undefined for a filesystem store. */
  azure: AzureStoreConfig | undefined;
  eviction: EvictionPolicy | undefined;
  sweepIntervalMs: number;
}

/** The store kinds this version implements. */
const STORE_KINDS = ['filesystem', 'azure_blob'] as const;

/** Bounded: a configuration is a few hundred bytes; a huge file is a mistake (a data file named by accident). */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Reads and checks a configuration file; relative paths in it are relative to the file. */
export async function loadServeConfig(file: string): Promise<ServeConfig> {
  let text: string;
  try {
    const bytes = await readFile(file);
    if (bytes.length > MAX_CONFIG_BYTES) {
      throw configError('', `the file is ${bytes.length} bytes, more than ${MAX_CONFIG_BYTES}`);
    }
    text = bytes.toString('utf8');
  } catch (error) {
    if (error instanceof FerryError) throw error;
    throw new FerryError(
      'ERR_FERRY_CONFIG',
      `cannot read the configuration file ${file}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new FerryError(
      'ERR_FERRY_CONFIG',
      `the configuration file ${file} is not JSON: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return parseServeConfig(json, dirname(resolve(file)));
}

/** Checks a parsed configuration; `baseDir` resolves relative store paths. */
export function parseServeConfig(json: unknown, baseDir: string): ServeConfig {
  const root = object(json, '');
  allowOnly(root, '', ['stores', 'store', 'retention']);
  const stores = object(root.stores, 'stores');
  const names = Object.keys(stores);
  if (names.length === 0) throw configError('stores', 'at least one store must be configured');
  const parsed = new Map<
    string,
    { path: string | undefined; eviction: EvictionPolicy | undefined; azure?: AzureStoreConfig }
  >();
  for (const name of names) {
    const at = `stores.${name}`;
    const spec = object(stores[name], at);
    const kinds = Object.keys(spec);
    if (kinds.length !== 1) {
      throw configError(at, `a store has exactly one kind (${STORE_KINDS.join(', ')}); got ${kinds.length}`);
    }
    const kind = kinds[0] as string;
    if (kind === 'azure_blob') {
      parsed.set(name, {
        path: undefined,
        eviction: undefined,
        azure: azureStore(spec[kind], `${at}.${kind}`),
      });
      continue;
    }
    if (kind !== 'filesystem') {
      throw configError(
        `${at}.${kind}`,
        `unknown store kind ${JSON.stringify(kind)}; this version of ferry serve supports: ${STORE_KINDS.join(', ')}`,
      );
    }
    parsed.set(name, filesystemStore(spec[kind], `${at}.${kind}`, baseDir));
  }
  const chosen = root.store ?? (names.length === 1 ? names[0] : undefined);
  if (typeof chosen !== 'string') {
    throw configError('store', 'name the store to serve from (required when several stores are configured)');
  }
  const store = parsed.get(chosen);
  if (!store) throw configError('store', `no store named ${JSON.stringify(chosen)}`);
  return {
    dataDir: store.path,
    azure: store.azure,
    eviction: store.eviction,
    sweepIntervalMs: retention(root.retention),
  };
}

function azureStore(value: unknown, at: string): AzureStoreConfig {
  const spec = object(value, at);
  allowOnly(spec, at, ['container', 'connection_string_env', 'prefix']);
  const env = spec.connection_string_env ?? DEFAULT_CONNECTION_STRING_ENV;
  if (typeof env !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(env)) {
    throw configError(
      `${at}.connection_string_env`,
      `must name an environment variable; got ${describe(env)}`,
    );
  }
  return {
    container: checkContainerName(spec.container, `${at}.container`),
    connectionStringEnv: env,
    prefix: checkPrefix(spec.prefix, `${at}.prefix`),
    // A configured container is the operator's: a typo must fail at start, not create a new one.
    createContainer: false,
  };
}

function filesystemStore(
  value: unknown,
  at: string,
  baseDir: string,
): { path: string; eviction: EvictionPolicy | undefined } {
  const spec = object(value, at);
  allowOnly(spec, at, ['path', 'eviction']);
  if (typeof spec.path !== 'string' || spec.path.trim() === '') {
    throw configError(`${at}.path`, 'must be a non-empty string (a directory)');
  }
  const path = isAbsolute(spec.path) ? spec.path : resolve(baseDir, spec.path);
  return {
    path,
    eviction: spec.eviction === undefined ? undefined : eviction(spec.eviction, `${at}.eviction`),
  };
}

function eviction(value: unknown, at: string): EvictionPolicy {
  const spec = object(value, at);
  allowOnly(spec, at, ['max_bytes', 'low_water_bytes', 'evict_to_bytes', 'max_age_seconds', 'max_entries']);
  if (spec.low_water_bytes !== undefined && spec.evict_to_bytes !== undefined) {
    throw configError(
      `${at}.evict_to_bytes`,
      'give low_water_bytes or evict_to_bytes (the same setting), not both',
    );
  }
  const policy: EvictionPolicy = {};
  const maxBytes = count(spec.max_bytes, `${at}.max_bytes`);
  const lowKey = spec.evict_to_bytes !== undefined ? 'evict_to_bytes' : 'low_water_bytes';
  const low = count(spec[lowKey], `${at}.${lowKey}`, 0);
  const maxAge = count(spec.max_age_seconds, `${at}.max_age_seconds`);
  const maxEntries = count(spec.max_entries, `${at}.max_entries`);
  if (maxBytes !== undefined) policy.maxBytes = maxBytes;
  if (low !== undefined) {
    if (maxBytes === undefined)
      throw configError(`${at}.${lowKey}`, 'needs max_bytes (the mark eviction starts at)');
    if (low > maxBytes)
      throw configError(`${at}.${lowKey}`, `must not exceed max_bytes (${maxBytes}); got ${low}`);
    policy.lowWaterBytes = low;
  }
  if (maxAge !== undefined) policy.maxAgeSeconds = maxAge;
  if (maxEntries !== undefined) policy.maxEntries = maxEntries;
  return policy;
}

function retention(value: unknown): number {
  if (value === undefined) return DEFAULT_SWEEP_INTERVAL_MS;
  const spec = object(value, 'retention');
  allowOnly(spec, 'retention', ['sweep_interval_seconds']);
  const seconds = count(spec.sweep_interval_seconds, 'retention.sweep_interval_seconds');
  return seconds === undefined ? DEFAULT_SWEEP_INTERVAL_MS : seconds * 1000;
}

function object(value: unknown, at: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw configError(at, `must be a JSON object; got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

/** Unknown keys are refused: a misspelt `max_byte` must not silently disable eviction. */
function allowOnly(spec: Record<string, unknown>, at: string, keys: readonly string[]): void {
  for (const key of Object.keys(spec)) {
    if (!keys.includes(key)) {
      throw configError(at === '' ? key : `${at}.${key}`, `unknown key; expected one of ${keys.join(', ')}`);
    }
  }
}

/** A whole number >= min (default 1), or undefined when absent. */
function count(value: unknown, at: string, min = 1): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw configError(at, `must be a whole number >= ${min}; got ${describe(value)}`);
  }
  return value;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return typeof value === 'string'
    ? JSON.stringify(value.slice(0, 100))
    : `${typeof value} ${String(value)}`.trim();
}

function configError(at: string, problem: string): FerryError {
  const where = at === '' ? 'configuration' : at;
  return new FerryError('ERR_FERRY_CONFIG', `${where}: ${problem}`, { context: { option: where } });
}
