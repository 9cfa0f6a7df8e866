import { FerryError, type ErrorContext, type FerryErrorCode } from '../../core/errors.js';
import { readBody, readJson, type JsonLimit } from '../../transport/body.js';
import { extractErrorMessage } from '../../transport/error-body.js';
import type { HttpManager, RequestSpec } from '../../transport/http-manager.js';
import type { Operation } from '../../transport/operation.js';
import type { RetryBudget } from '../../transport/retrier.js';
import { TWIRP_SERVICE, type ResultsConfig } from './contracts.js';

export interface TwirpCallOptions {
  operation: Operation;
  context: ErrorContext;
  slot?: number;
  /** Hand network errors back instead of retrying, so the caller can reconcile first. */
  reconcile?: boolean;
  /** The retry budget of a step the caller repeats itself (see RequestSpec.budget). */
  budget?: RetryBudget;
}

/** A Twirp answer the caller asked to see rather than have thrown (see {@link TwirpClient.callAllowing}). */
export type TwirpOutcome<T> =
  { status: 'ok'; value: T } | { status: 'refused'; httpStatus: number; message: string | undefined };

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
    return this.http.request(this.#spec(method, body, options, []), (res) =>
      readJson<T>(res, this.#limit(method, options)),
    );
  }

  /**
   * Like {@link call}, but the HTTP statuses in `refused` come back as an outcome instead of a
   * thrown (and operation-stopping) error, for a caller that must look around before failing
   * (a FinalizeArtifact refused after the blob was committed).
   */
  callAllowing<T>(
    method: string,
    body: Record<string, unknown>,
    options: TwirpCallOptions,
    refused: readonly number[],
  ): Promise<TwirpOutcome<T>> {
    return this.http.request(this.#spec(method, body, options, refused), async (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300)
        return { status: 'ok', value: await readJson<T>(res, this.#limit(method, options)) };
      // Only the message is wanted from a refusal: its first 64 KiB are plenty.
      const text = (await readBody(res, 64 * 1024)).toString('utf8');
      return { status: 'refused', httpStatus: status, message: extractErrorMessage(text)?.slice(0, 200) };
    });
  }

  /** Every answer is bounded by the option maxResponseBytes (ERR_FERRY_RESPONSE_TOO_LARGE past it). */
  #limit(method: string, options: TwirpCallOptions): JsonLimit {
    return {
      maxBytes: this.http.maxResponseBytes,
      call: method,
      context: options.context,
      stall: this.http.stallPolicy,
    };
  }

  #spec(
    method: string,
    body: Record<string, unknown>,
    options: TwirpCallOptions,
    okStatuses: readonly number[],
  ): RequestSpec {
    return {
      slot: options.slot ?? 0,
      method: 'POST' as const,
      url: `${this.#origin}/twirp/${TWIRP_SERVICE}/${method}`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(withoutDefaults(body)),
      bearer: this.config.token,
      operation: options.operation,
      context: options.context,
      call: method,
      ...(method === 'FinalizeArtifact' ? { phase: 'finalize' as const } : {}),
      ...(okStatuses.length ? { okStatuses } : {}),
      ...(options.reconcile ? { networkErrors: 'throw' as const } : {}),
      ...(options.budget !== undefined ? { budget: options.budget } : {}),
      describeFailure: (status: number, message: string | undefined) =>
        describeTwirpFailure(method, status, message),
    };
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

/**
 * A size the service listed (int64 as string or number), if it is one: a whole number of bytes
 * from 0 to 2^53. Negative, fractional, NaN or larger values are treated as not listed.
 */
export function listedSize(value: string | number | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}
