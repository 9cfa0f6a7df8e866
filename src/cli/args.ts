import type { ParseArgsConfig } from 'node:util';

import { FerryError } from '../core/errors.js';
import { parseBoolean, parseChoice, parseNumber } from '../core/option-checks.js';
import { SERVE_LIMIT_OPTIONS } from './serve-limits.js';

/** Command-line options as `parseArgs` returns them. */
export type Values = Record<string, string | boolean | string[] | undefined>;

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

/** Bad command-line usage: exit code 2, reported with code ERR_FERRY_USAGE. */
export class UsageError extends FerryError {
  override name = 'UsageError';
  constructor(message: string) {
    super('ERR_FERRY_USAGE', message);
  }
}

export const COMMON: OptionSpecs = {
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  concurrency: { type: 'string' },
  url: { type: 'string' },
  protocol: { type: 'string' },
  token: { type: 'string' },
  'run-id': { type: 'string' },
  store: { type: 'string' },
};

/** Reading another run through the REST API (`--repository owner/repo --run-id N`). */
const OTHER_RUN: OptionSpecs = {
  repository: { type: 'string' },
  'github-token': { type: 'string' },
  workflow: { type: 'string' },
  branch: { type: 'string' },
  'workflow-event': { type: 'string' },
  'workflow-conclusion': { type: 'string' },
  'rate-limit-wait': { type: 'string' },
};

export const COMMANDS: Record<string, OptionSpecs> = {
  upload: {
    root: { type: 'string' },
    'if-no-files-found': { type: 'string' },
    overwrite: { type: 'boolean' },
    archive: { type: 'string' },
    'no-archive': { type: 'boolean' },
    'include-hidden-files': { type: 'boolean' },
    'include-hidden': { type: 'boolean' },
    symlinks: { type: 'string' },
    'preserve-permissions': { type: 'string' },
    'allow-secrets': { type: 'boolean' },
    'retention-days': { type: 'string' },
    'compression-level': { type: 'string' },
    'chunk-size': { type: 'string' },
  },
  download: {
    path: { type: 'string' },
    name: { type: 'string', short: 'n', multiple: true },
    pattern: { type: 'string', short: 'p' },
    'artifact-ids': { type: 'string' },
    'artifact-id': { type: 'string' },
    'merge-multiple': { type: 'boolean' },
    conflict: { type: 'string' },
    symlinks: { type: 'string' },
    'skip-decompress': { type: 'boolean' },
    'no-restore-modes': { type: 'boolean' },
    'digest-mismatch': { type: 'string' },
    'max-entries': { type: 'string' },
    'max-total-bytes': { type: 'string' },
    'max-ratio': { type: 'string' },
    cache: { type: 'string' },
    ...OTHER_RUN,
  },
  list: { latest: { type: 'boolean' }, ...OTHER_RUN },
  get: { ...OTHER_RUN },
  delete: { ...OTHER_RUN },
  serve: {
    port: { type: 'string' },
    host: { type: 'string' },
    data: { type: 'string' },
    config: { type: 'string' },
    store: { type: 'string' },
    'jwt-secret-file': { type: 'string', multiple: true },
    'jwt-public-key': { type: 'string', multiple: true },
    'public-url': { type: 'string' },
    'access-log': { type: 'string' },
    'metrics-public': { type: 'boolean' },
    'drain-timeout': { type: 'string' },
    'instance-id': { type: 'string' },
    'index-lifetime': { type: 'string' },
    ...SERVE_LIMIT_OPTIONS,
  },
  token: {
    run: { type: 'string' },
    job: { type: 'string' },
    ttl: { type: 'string' },
    'jwt-secret-file': { type: 'string' },
  },
  'record-run': {
    workflow: { type: 'string' },
    'workflow-name': { type: 'string' },
    branch: { type: 'string' },
    sha: { type: 'string' },
    event: { type: 'string' },
    status: { type: 'string' },
    conclusion: { type: 'string' },
  },
  doctor: {},
  merge: {
    pattern: { type: 'string' },
    'separate-directories': { type: 'boolean' },
    'delete-merged': { type: 'boolean' },
    conflict: { type: 'string' },
    'include-hidden-files': { type: 'boolean' },
    'include-hidden': { type: 'boolean' },
    'retention-days': { type: 'string' },
    'compression-level': { type: 'string' },
  },
  version: {},
};

/** A numeric option (`--concurrency 4`), or undefined when not given. */
export function numberOption(values: Values, name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const value = typeof raw === 'string' ? parseNumber(raw) : undefined;
  if (value === undefined) throw new UsageError(`--${name} must be a number; got '${String(raw)}'`);
  return value;
}

/** A repeatable option (`multiple: true`) as a list. */
export function listOption(values: Values, name: string): string[] {
  const raw = values[name];
  return Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
}

/** A string option, or undefined when not given. */
export function stringOption(values: Values, name: string): string | undefined {
  const raw = values[name];
  return typeof raw === 'string' ? raw : undefined;
}

/** One of a fixed set of words (`--conflict overwrite`), or undefined when not given. */
export function choiceOption<T extends string>(
  values: Values,
  name: string,
  choices: readonly T[],
): T | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  const found = parseChoice(raw, choices);
  if (!found) throw new UsageError(`--${name} must be one of ${choices.join(', ')}; got '${raw}'`);
  return found;
}

/**
 * `--archive false` / `--preserve-permissions true`: the Action's boolean inputs, spelled as
 * values, with the words the Action accepts (`true`, `True`, `TRUE`, and the same for false).
 */
export function booleanOption(values: Values, name: string): boolean | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  const parsed = parseBoolean(raw);
  if (parsed !== undefined) return parsed;
  throw new UsageError(`--${name} must be true or false; got '${raw}'`);
}
