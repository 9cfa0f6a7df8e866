import { DEFAULT_LIMITS, type ServerLimits } from '../server/http/limits.js';

/** `maxArtifactBytes` -> `max-artifact-bytes`: one `ferry serve` flag per server limit. */
function flagOf(key: string): string {
  return key.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`);
}

const KEYS = Object.keys(DEFAULT_LIMITS) as Array<keyof ServerLimits>;

/** parseArgs options for every limit, so a new limit is a new flag without further wiring. */
export const SERVE_LIMIT_OPTIONS: Record<string, { type: 'string' }> = Object.fromEntries(
  KEYS.map((key) => [flagOf(key), { type: 'string' as const }]),
);

/**
 * The limits given on the command line. Values are plain integers (bytes, milliseconds,
 * counts); anything else is refused naming the flag, so a typo never silently keeps a default.
 */
export function serveLimits(
  values: Record<string, string | boolean | string[] | undefined>,
): Partial<ServerLimits> {
  const limits: Partial<ServerLimits> = {};
  for (const key of KEYS) {
    const flag = flagOf(key);
    const raw = values[flag];
    if (raw === undefined) continue;
    if (
      typeof raw !== 'string' ||
      !/^\d+$/.test(raw.trim()) ||
      !Number.isSafeInteger(Number(raw)) ||
      Number(raw) <= 0
    ) {
      throw new RangeError(`--${flag} must be a positive integer; got '${String(raw)}'`);
    }
    limits[key] = Number(raw);
  }
  return limits;
}

/** One help line per limit flag with its default. */
export function serveLimitsHelp(): string {
  return KEYS.map((key) => `  --${flagOf(key)} N`.padEnd(34) + `default ${DEFAULT_LIMITS[key]}`).join('\n');
}
