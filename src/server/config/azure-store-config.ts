import { FerryError } from '../../core/errors.js';
import { parseConnectionString } from '../results/azure/connection-string.js';
import type { AzureStoreSpec } from '../results/azure/azure-store.js';

/** An azure_blob store as configured: the connection string is named by its environment variable. */
export interface AzureStoreConfig {
  container: string;
  connectionStringEnv: string;
  prefix: string;
  createContainer: boolean;
}

/** The Azure tools' convention, and the default of `connection_string_env`. */
export const DEFAULT_CONNECTION_STRING_ENV = 'AZURE_STORAGE_CONNECTION_STRING';

/** Azure's container name rule: 3-63 of a-z 0-9 -, starting and ending alphanumeric, no `--`. */
const CONTAINER = /^(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]$/;

/** Checks a container name; `at` is the key path (or option) named in the error. */
export function checkContainerName(name: unknown, at: string): string {
  if (typeof name !== 'string' || !CONTAINER.test(name)) {
    throw configError(
      at,
      `must be an Azure container name (3-63 characters: lowercase letters, digits, single hyphens); got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

/** A blob-name prefix: relative, `/`-separated, no empty or dot segments; stored with a trailing `/`. */
export function checkPrefix(prefix: unknown, at: string): string {
  if (prefix === undefined || prefix === '') return '';
  if (typeof prefix !== 'string' || prefix.length > 200) {
    throw configError(at, 'must be a string of at most 200 characters');
  }
  const trimmed = prefix.replace(/\/+$/, '');
  if (trimmed.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')) {
    throw configError(at, `must be a relative path of non-empty segments; got ${JSON.stringify(prefix)}`);
  }
  return `${trimmed}/`;
}

/** `ferry serve --store azure://CONTAINER`: the account from AZURE_STORAGE_CONNECTION_STRING. */
export function azureStoreFromUrl(url: string): AzureStoreConfig {
  const match = /^azure:\/\/([^/]*)\/?$/.exec(url);
  if (!match) {
    throw configError('--store', `expected azure://CONTAINER; got ${JSON.stringify(url.slice(0, 200))}`);
  }
  return {
    container: checkContainerName(match[1], '--store'),
    connectionStringEnv: DEFAULT_CONNECTION_STRING_ENV,
    prefix: '',
    createContainer: true,
  };
}

/** Reads the connection string from the environment; errors name the variable, never its value. */
export function resolveAzureStore(config: AzureStoreConfig, env: NodeJS.ProcessEnv): AzureStoreSpec {
  const text = env[config.connectionStringEnv];
  if (text === undefined || text.trim() === '') {
    throw configError(
      config.connectionStringEnv,
      'the environment variable is not set: it must hold the storage account connection string',
    );
  }
  return {
    account: parseConnectionString(text, config.connectionStringEnv),
    container: config.container,
    prefix: config.prefix,
    createContainer: config.createContainer,
  };
}

function configError(at: string, problem: string): FerryError {
  return new FerryError('ERR_FERRY_CONFIG', `${at}: ${problem}`, { context: { option: at } });
}
