/**
 * The checks behind every option Ferry accepts, whichever face it arrives through: SDK options
 * (options.ts), environment variables (environment.ts), Action inputs (action/inputs.ts) and
 * command-line flags (cli/args.ts). Each check answers "is this value acceptable, and what is it";
 * the caller words the error in its own terms (`Option 'x'`, `Input 'x'`, `--x`), so one rule
 * never reads three ways and never drifts apart again.
 */

/** A rejected value as the caller wrote it: `"8" (a string)`, `NaN`, `1000000000`, `object`. */
export function shownValue(value: unknown): string {
  if (typeof value === 'string') return `${JSON.stringify(value.slice(0, 80))} (a string)`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return typeof value;
}

/** A number that is a whole number from `min` to `max` (an SDK option, or parsed text). */
export function isIntegerInRange(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** A finite number from `min` to `max`, fractions allowed. */
export function isNumberInRange(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max;
}

/**
 * Text that spells a whole number in decimal digits (`42`, `+3`, `-1`), as a safe integer; anything
 * else (`1.5`, `1e3`, `0x10`, ` `, digits past 2^53) is undefined. The range is the caller's.
 */
export function parseWholeNumber(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^[+-]?\d+$/.test(trimmed)) return undefined;
  const number = Number(trimmed);
  return Number.isSafeInteger(number) ? number : undefined;
}

/**
 * Text that spells a finite number (`4`, `1.5`, `1e3`, as JavaScript reads it), for flags whose
 * option takes fractions (`--max-ratio`); blank text is undefined. The range is the caller's.
 */
export function parseNumber(text: string): number | undefined {
  if (text.trim() === '') return undefined;
  const number = Number(text);
  return Number.isFinite(number) ? number : undefined;
}

/**
 * YAML 1.2 core-schema booleans, the words `core.getBooleanInput` accepts: `true`/`True`/`TRUE`
 * and `false`/`False`/`FALSE`. The CLI's `--archive false` spells the Action's inputs and takes
 * the same words. Anything else is undefined.
 */
export function parseBoolean(text: string): boolean | undefined {
  if (text === 'true' || text === 'True' || text === 'TRUE') return true;
  if (text === 'false' || text === 'False' || text === 'FALSE') return false;
  return undefined;
}

/** One of a fixed set of lower-case words, matched without regard to case; otherwise undefined. */
export function parseChoice<T extends string>(text: string, choices: readonly T[]): T | undefined {
  const lower = text.toLowerCase();
  return choices.find((choice) => choice === lower);
}

/** `text` is an http(s) URL with a host. */
export function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}
