import { TwirpError } from './twirp-errors.js';

// RFC 3339 as protobuf JSON writes Timestamps: `Z` or an offset, 0–9 fractional digits.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/i;

/**
 * Reads fields of a Twirp JSON request the way protobuf JSON parsers do: proto names
 * (`workflow_run_backend_id`) or lowerCamel (`workflowRunBackendId`), `null` meaning absent,
 * int64 as a string or a number, wrapper types (StringValue, Int64Value) as bare values.
 * Unknown fields are ignored, so newer clients keep working.
 */
export class TwirpFields {
  readonly #body: Record<string, unknown>;

  constructor(body: unknown) {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new TwirpError('malformed', 'The request body must be a JSON object');
    }
    this.#body = body as Record<string, unknown>;
  }

  #get(name: string): unknown {
    const value = this.#body[name] ?? this.#body[lowerCamel(name)];
    return value === null ? undefined : value;
  }

  /** A string field; protobuf omits empty strings, so absent reads as `''`. */
  string(name: string): string {
    const value = this.#get(name);
    if (value === undefined) return '';
    if (typeof value !== 'string') throw invalid(name, 'a string', value);
    return value;
  }

  /** A google.protobuf.StringValue: a bare string, or absent. */
  optionalString(name: string): string | undefined {
    const value = this.#get(name);
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw invalid(name, 'a string', value);
    return value;
  }

  /**
   * A non-negative int64 (or Int64Value), or absent. Values are kept below 2^53 so they survive
   * the client's `Number(BigInt(x))`.
   */
  optionalCount(name: string): number | undefined {
    const value = this.#get(name);
    if (value === undefined) return undefined;
    const number =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && /^\d+$/.test(value)
          ? Number(value)
          : NaN;
    if (!Number.isSafeInteger(number) || number < 0) {
      throw invalid(name, 'a non-negative integer (int64 as a string or number)', value);
    }
    return number;
  }

  /** An int32, or 0 when absent (protobuf default). */
  int32(name: string): number {
    const value = this.#get(name);
    if (value === undefined) return 0;
    const number = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
    if (typeof number !== 'number' || !Number.isInteger(number) || Math.abs(number) > 2 ** 31) {
      throw invalid(name, 'an int32', value);
    }
    return number;
  }

  /** A google.protobuf.Timestamp (RFC 3339 string), or absent. */
  optionalTimestamp(name: string): Date | undefined {
    const value = this.#get(name);
    if (value === undefined) return undefined;
    const time = typeof value === 'string' && RFC3339.test(value) ? Date.parse(value) : NaN;
    if (!Number.isFinite(time)) throw invalid(name, 'an RFC 3339 timestamp', value);
    return new Date(time);
  }
}

function lowerCamel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_all, ch: string) => ch.toUpperCase());
}

function invalid(name: string, expected: string, value: unknown): TwirpError {
  return new TwirpError(
    'invalid_argument',
    `${name} must be ${expected}, got ${JSON.stringify(value)?.slice(0, 200) ?? String(value)}`,
  );
}
