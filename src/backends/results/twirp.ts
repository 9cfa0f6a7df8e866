import { FerryError, type ErrorContext, type FerryErrorCode } from '../../errors.js';
import { readJson } from '../../transport/body.js';
import type { HttpManager } from '../../transport/http-manager.js';
import type { Operation } from '../../transport/operation.js';
import { TWIRP_SERVICE, type ResultsConfig } from './contracts.js';

export interface TwirpCallOptions {
  operation: Operation;
  context: ErrorContext;
  slot?: number;
  /** Hand network errors back instead of retrying, so the caller can reconcile first. */
  reconcile?: boolean;
}

/**
 * Twirp JSON over the shared transport: `POST <origin>/twirp/<service>/<method>`, snake_case
 * body, int64 as strings, defaults omitted. Errors are Twirp JSON `{code, msg}`; `msg` becomes
 * the message, and the HTTP status the stable code.
 */
export class TwirpClient {
  readonly #origin: string;
  constructor(
    readonly http: HttpManager,
    readonly config: ResultsConfig,
  ) {
    this.#origin = new URL(config.resultsUrl).origin;
  }

  call<T>(method: string, body: Record<string, unknown>, options: TwirpCallOptions): Promise<T> {
    return this.http.request(
      {
        slot: options.slot ?? 0,
        method: 'POST',
        url: `${this.#origin}/twirp/${TWIRP_SERVICE}/${method}`,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(withoutDefaults(body)),
        bearer: this.config.token,
        operation: options.operation,
        context: options.context,
        ...(options.reconcile ? { networkErrors: 'throw' as const } : {}),
        describeFailure: (status, message) => describeTwirpFailure(method, status, message),
      },
      (res) => readJson<T>(res),
    );
  }
}

function describeTwirpFailure(
  method: string,
  status: number,
  message: string | undefined,
): { code?: FerryErrorCode; message: string } {
  const text = `${method} failed: ${message ?? `HTTP ${status}`}`;
  if (status === 403 && message && /insufficient usage|quota/i.test(message))
    return { code: 'ERR_FERRY_QUOTA', message: text };
  return { message: text };
}

/** Drops undefined, null, '' and 0 the way protobuf JSON with emitDefaultValues=false does. */
function withoutDefaults(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (
      value === undefined ||
      value === null ||
      value === '' ||
      value === 0 ||
      value === '0' ||
      value === false
    )
      continue;
    out[key] = value;
  }
  return out;
}

export function requireOk(method: string, response: { ok?: boolean }, context: ErrorContext): void {
  if (response.ok !== true) {
    throw new FerryError('ERR_FERRY_PROTOCOL', `${method}: the results service answered without ok: true`, {
      context,
    });
  }
}

/** int64 fields arrive as strings or numbers; ids above 2^53 would lose precision, so refuse them. */
export function toSafeId(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}
