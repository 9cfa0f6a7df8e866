import * as core from '@actions/core';

import { ValidationError } from '../core/errors.js';
import { isIntegerInRange, parseBoolean, parseChoice, parseWholeNumber } from '../core/option-checks.js';

/**
 * Typed readers for action inputs. Every error names the input and echoes the rejected value, so
 * a step fails with "Input 'retention-days' must be ..." rather than a generic parse error.
 *
 * An empty input means "not given": the runner fills in the defaults declared in action.yml, and
 * the same defaults are repeated here so the bundles behave the same when run by hand or in tests.
 */
/** A rejected input: `ERR_FERRY_INVALID_OPTION` with the input's name as `context.option`. */
export class InputError extends ValidationError {
  override name = 'InputError';
  constructor(
    readonly input: string,
    message: string,
  ) {
    super('ERR_FERRY_INVALID_OPTION', message, { option: input });
  }
}

/** Ferry's `conflict` input (download and merge): a file that already exists where one goes. */
export const CONFLICT = ['error', 'overwrite', 'skip'] as const;
export const DOWNLOAD_SYMLINKS = ['refuse', 'file', 'preserve'] as const;

/** The raw (trimmed) value; '' when not given. */
export function rawInput(name: string): string {
  return core.getInput(name);
}

export function stringInput(name: string, fallback: string): string {
  return rawInput(name) || fallback;
}

export function optionalInput(name: string): string | undefined {
  return rawInput(name) || undefined;
}

export function requiredInput(name: string): string {
  const value = rawInput(name);
  if (!value) throw new InputError(name, `Input '${name}' is required and was not supplied`);
  return value;
}

/** YAML 1.2 core-schema booleans, as `core.getBooleanInput` accepts them. */
export function booleanInput(name: string, fallback: boolean): boolean {
  const value = rawInput(name);
  if (value === '') return fallback;
  const parsed = parseBoolean(value);
  if (parsed !== undefined) return parsed;
  throw new InputError(name, `Input '${name}' must be true or false; got '${value}'`);
}

/** A whole number in `[min, max]`; `what` explains the range in the message. */
export function integerInput(
  name: string,
  fallback: number,
  min: number,
  max: number,
  what = `from ${min} to ${max}`,
): number {
  const value = rawInput(name);
  if (value === '') return fallback;
  const number = parseWholeNumber(value);
  if (!isIntegerInRange(number, min, max)) {
    throw new InputError(name, `Input '${name}' must be a whole number ${what}; got '${value}'`);
  }
  return number;
}

/** One of a fixed set of values (exact, lower case). */
export function choiceInput<T extends string>(name: string, choices: readonly T[], fallback: T): T {
  const value = rawInput(name);
  if (value === '') return fallback;
  const found = parseChoice(value, choices);
  if (!found) {
    throw new InputError(name, `Input '${name}' must be one of ${choices.join(', ')}; got '${value}'`);
  }
  return found;
}

/** `compression-level`: zlib level 0 (store) to 9 (smallest). */
export function compressionLevelInput(name = 'compression-level'): number {
  return integerInput(name, 6, 0, 9, 'from 0 (no compression) to 9 (best compression)');
}

/** Comma-separated positive integers (`artifact-ids`); empty entries are ignored. */
export function idListInput(name: string): number[] | undefined {
  const value = rawInput(name);
  if (value === '') return undefined;
  const parts = value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) throw new InputError(name, `Input '${name}' lists no artifact ids; got '${value}'`);
  const ids = parts.map((p) => {
    const id = /^\d+$/.test(p) ? parseWholeNumber(p) : undefined;
    if (!isIntegerInRange(id, 1, Number.MAX_SAFE_INTEGER)) {
      throw new InputError(
        name,
        `Input '${name}' must be comma-separated artifact ids (positive numbers); got '${p}'`,
      );
    }
    return id;
  });
  return [...new Set(ids)];
}

/** Expands a leading `~` (alone or followed by a separator) to `home`. */
export function expandHome(value: string, home: string | undefined, input: string): string {
  if (value !== '~' && !value.startsWith('~/') && !value.startsWith('~\\')) return value;
  if (!home) throw new InputError(input, `Input '${input}' starts with ~ but HOME is not set`);
  return home + value.slice(1);
}
