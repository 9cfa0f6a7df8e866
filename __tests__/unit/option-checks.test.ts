import { describe, expect, it } from '@jest/globals';

import { isFerryError } from '../../src/core/errors.js';
import {
  isHttpUrl,
  isIntegerInRange,
  isNumberInRange,
  parseBoolean,
  parseChoice,
  parseNumber,
  parseWholeNumber,
  shownValue,
} from '../../src/core/option-checks.js';
import { InputError } from '../../src/action/inputs.js';
import { booleanOption, numberOption, UsageError } from '../../src/cli/args.js';
import { normalizeOptions } from '../../src/options.js';

describe('the option checks every face shares', () => {
  it.each([
    ['42', 42],
    ['+3', 3],
    ['-1', -1],
    [' 7 ', 7],
    ['1.5', undefined],
    ['1e3', undefined],
    ['0x10', undefined],
    ['', undefined],
    ['99999999999999999999', undefined],
  ])('parseWholeNumber(%j) is %j', (text, expected) => {
    expect(parseWholeNumber(text)).toBe(expected);
  });

  it.each([
    ['4', 4],
    ['1.5', 1.5],
    ['1e3', 1000],
    [' ', undefined],
    ['Infinity', undefined],
    ['four', undefined],
  ])('parseNumber(%j) is %j', (text, expected) => {
    expect(parseNumber(text)).toBe(expected);
  });

  it('takes the YAML 1.2 core-schema booleans and nothing else', () => {
    for (const word of ['true', 'True', 'TRUE']) expect(parseBoolean(word)).toBe(true);
    for (const word of ['false', 'False', 'FALSE']) expect(parseBoolean(word)).toBe(false);
    for (const word of ['tRuE', 'yes', '1', '', 'on']) expect(parseBoolean(word)).toBeUndefined();
  });

  it('matches a choice without regard to case', () => {
    expect(parseChoice('Overwrite', ['error', 'overwrite'] as const)).toBe('overwrite');
    expect(parseChoice('rename', ['error', 'overwrite'] as const)).toBeUndefined();
  });

  it('checks ranges and URLs', () => {
    expect(isIntegerInRange(5, 1, 9)).toBe(true);
    expect(isIntegerInRange(5.5, 1, 9)).toBe(false);
    expect(isIntegerInRange('5', 1, 9)).toBe(false);
    expect(isNumberInRange(0.5, 0, 1)).toBe(true);
    expect(isNumberInRange(Number.NaN, 0, 1)).toBe(false);
    expect(isHttpUrl('https://example.com/x')).toBe(true);
    expect(isHttpUrl('ftp://example.com/')).toBe(false);
    expect(isHttpUrl('not a url')).toBe(false);
  });

  it('shows a rejected value as the caller wrote it', () => {
    expect(shownValue('8')).toBe('"8" (a string)');
    expect(shownValue(Number.NaN)).toBe('NaN');
    expect(shownValue({})).toBe('object');
  });

  it('gives the same verdict through the SDK, the CLI and the Action, each in its own words', () => {
    // A fractional concurrency: the CLI reads the number, the SDK refuses it.
    const fromCli = numberOption({ concurrency: '2.5' }, 'concurrency');
    expect(() => normalizeOptions({ concurrency: fromCli as number })).toThrow(
      "Option 'concurrency' must be an integer from 1 to 256; got 2.5",
    );
    expect(() => booleanOption({ archive: 'yes' }, 'archive')).toThrow(
      "--archive must be true or false; got 'yes'",
    );
    expect(booleanOption({ archive: 'FALSE' }, 'archive')).toBe(false);
  });

  it('the Action and the CLI throw typed Ferry errors with codes', () => {
    const input = new InputError('archive', "Input 'archive' must be true or false; got 'yes'");
    const usage = new UsageError('--archive must be true or false');
    expect(isFerryError(input)).toBe(true);
    expect(input).toMatchObject({ code: 'ERR_FERRY_INVALID_OPTION', context: { option: 'archive' } });
    expect(isFerryError(usage)).toBe(true);
    expect(usage.code).toBe('ERR_FERRY_USAGE');
  });
});
