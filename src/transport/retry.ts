/**
 * The one retry policy: data plus a pure decision function. Every request Ferry makes (JSON
 * calls, chunk PUTs, file GETs, blob blocks) is retried by the same rules.
 */

export interface RetryPolicy {
  /** Total attempts, the first included. @default 6 */
  maxAttempts: number;
  /** Delay before the first retry. @default 1000 */
  baseDelayMs: number;
  /** Growth factor per retry. @default 2 */
  multiplier: number;
  /** Cap for one computed backoff delay. @default 30000 */
  maxDelayMs: number;
  /** Fraction of the delay that is randomised (0 = none, 1 = full jitter). @default 0.5 */
  jitter: number;
  /** Retry-After values above this are clamped to it. @default 60000 */
  maxRetryAfterMs: number;
  /** Budget for one request including all its retries; no retry starts past it. @default 600000 */
  totalTimeMs: number;
  retryableStatuses: readonly number[];
  /** Node/undici error codes that mean "the network failed, the request may be repeated". */
  retryableErrorCodes: readonly string[];
}

export const defaultRetryPolicy: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 6,
  baseDelayMs: 1000,
  multiplier: 2,
  maxDelayMs: 30_000,
  jitter: 0.5,
  maxRetryAfterMs: 60_000,
  totalTimeMs: 600_000,
  retryableStatuses: Object.freeze([408, 429, 500, 502, 503, 504]),
  retryableErrorCodes: Object.freeze([
    'ECONNRESET',
    'ETIMEDOUT',
    'EPIPE',
    'ECONNREFUSED',
    'ECONNABORTED',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'EAI_AGAIN',
    'ESOCKETTIMEDOUT',
    'UND_ERR_SOCKET',
    'UND_ERR_CLOSED',
    'ERR_STREAM_PREMATURE_CLOSE',
    // A 2xx whose body is not JSON: usually an intermediary's error page; worth another try.
    'ERR_FERRY_BAD_JSON',
  ]),
});

/** What the last attempt produced. */
export type AttemptOutcome =
  | {
      kind: 'status';
      status: number;
      /** The `Retry-After` header (delta-seconds or HTTP-date). */
      retryAfter?: string | undefined;
      /** GitHub's `x-ratelimit-reset` (epoch seconds), used when there is no usable Retry-After. */
      rateLimitReset?: string | undefined;
    }
  | { kind: 'error'; error: unknown };

export interface RetryInput {
  /** 1-based number of the attempt that just failed. */
  attempt: number;
  /** Milliseconds since the first attempt started. */
  elapsedMs: number;
  /** Wall-clock now, to resolve an HTTP-date Retry-After. */
  nowMs: number;
  outcome: AttemptOutcome;
}

export type RetryDecision =
  | {
      retry: true;
      delayMs: number;
      reason: string;
      /** Where the delay came from: the server's Retry-After / rate-limit reset, or backoff. */
      basis: 'server' | 'backoff';
    }
  | { retry: false; reason: string; permanent: boolean };

/**
 * Decides whether to retry and after how long. Pure: randomness comes in as `random`.
 * `permanent` is true when the failure can never succeed on repeat (4xx other than 408/429,
 * programming errors), so the caller stops the whole operation rather than just this request.
 */
export function decideRetry(
  policy: RetryPolicy,
  input: RetryInput,
  random: () => number = Math.random,
): RetryDecision {
  const { outcome } = input;
  let reason: string;
  let retryAfterMs: number | undefined;
  if (outcome.kind === 'status') {
    reason = `HTTP ${outcome.status}`;
    if (!policy.retryableStatuses.includes(outcome.status)) {
      return { retry: false, reason, permanent: outcome.status >= 400 && outcome.status < 500 };
    }
    retryAfterMs =
      parseRetryAfter(outcome.retryAfter, input.nowMs) ??
      parseRateLimitReset(outcome.rateLimitReset, input.nowMs);
  } else {
    const code = errorCode(outcome.error);
    reason = code ?? describe(outcome.error);
    if (!isRetryableError(policy, outcome.error)) return { retry: false, reason, permanent: true };
  }
  if (input.attempt >= policy.maxAttempts) {
    return {
      retry: false,
      reason: `${reason}; gave up after ${input.attempt} attempt${input.attempt === 1 ? '' : 's'}`,
      permanent: false,
    };
  }
  const delayMs =
    retryAfterMs !== undefined
      ? Math.min(retryAfterMs, policy.maxRetryAfterMs)
      : backoffDelay(policy, input.attempt, random);
  if (input.elapsedMs + delayMs > policy.totalTimeMs) {
    return {
      retry: false,
      reason: `${reason}; retry budget of ${Math.round(policy.totalTimeMs / 1000)} s exhausted`,
      permanent: false,
    };
  }
  return { retry: true, delayMs, reason, basis: retryAfterMs !== undefined ? 'server' : 'backoff' };
}

/** Exponential backoff with partial jitter: attempt 1 → base, 2 → base·m, … capped at maxDelayMs. */
export function backoffDelay(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * policy.multiplier ** Math.max(0, attempt - 1));
  const jitter = Math.max(0, Math.min(1, policy.jitter));
  return Math.round(exp * (1 - jitter) + exp * jitter * random());
}

/**
 * `Retry-After` in delta-seconds or HTTP-date form. Returns undefined for a missing, negative or
 * unparseable value, so the caller falls back to backoff. A date in the past means "now" (0).
 * Only real HTTP-dates count as dates: `Date.parse` alone would read garbage such as "1 2" as a
 * date in 2001 and so retry at once.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  if (!HTTP_DATE.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/** IMF-fixdate, RFC 850 and asctime (RFC 9110 §5.6.7): a month name and an hh:mm:ss time. */
const HTTP_DATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? .*\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b.*\b\d{2}:\d{2}:\d{2}\b/;

/**
 * GitHub's `x-ratelimit-reset`: the epoch second at which the limit resets. Returns the wait in
 * ms (0 for a time in the past), or undefined when the value is not a plain epoch-seconds number.
 */
export function parseRateLimitReset(value: string | undefined, nowMs: number): number | undefined {
  const trimmed = value?.trim();
  if (!trimmed || !/^\d{1,12}$/.test(trimmed)) return undefined;
  return Math.max(0, Number(trimmed) * 1000 - nowMs);
}

export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const own = (error as { code?: unknown }).code;
  const errno = (error as { errno?: unknown }).errno;
  if (typeof errno === 'string') return errno;
  if (typeof own === 'string' && !own.startsWith('ERR_FERRY_')) return own;
  const cause = (error as { cause?: unknown }).cause;
  if (cause !== undefined && cause !== error) {
    const inner = errorCode(cause);
    if (inner !== undefined) return inner;
  }
  return typeof own === 'string' ? own : undefined;
}

export function isRetryableError(policy: RetryPolicy, error: unknown): boolean {
  if (typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === true)
    return true;
  const code = errorCode(error);
  if (code !== undefined && policy.retryableErrorCodes.includes(code)) return true;
  const message = describe(error);
  // sendRaw (raw-request.ts) reports its idle timeout, and Node a dropped keep-alive socket, in prose.
  return /socket hang up|Request timeout|premature close|aborted/i.test(message) && !isAbort(error);
}

function isAbort(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'ERR_FERRY_ABORTED'
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
