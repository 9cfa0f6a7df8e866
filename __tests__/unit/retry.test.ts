import {
  backoffDelay,
  decideRetry,
  defaultRetryPolicy,
  parseRetryAfter,
  type RetryPolicy,
} from '../../src/transport/retry.js';

const policy: RetryPolicy = { ...defaultRetryPolicy };
const now = Date.UTC(2026, 0, 1, 12, 0, 0);
const decide = (
  outcome: Parameters<typeof decideRetry>[1]['outcome'],
  attempt = 1,
  elapsedMs = 0,
  random = () => 0.5,
) => decideRetry(policy, { attempt, elapsedMs, nowMs: now, outcome }, random);

describe('decideRetry', () => {
  it.each([408, 429, 500, 502, 503, 504])('retries HTTP %i', (status) => {
    expect(decide({ kind: 'status', status })).toMatchObject({ retry: true });
  });

  it.each([400, 401, 403, 404, 409, 413, 422])('never retries HTTP %i and marks it permanent', (status) => {
    expect(decide({ kind: 'status', status })).toEqual({
      retry: false,
      reason: `HTTP ${status}`,
      permanent: true,
    });
  });

  it.each(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNREFUSED'])('retries network error %s', (code) => {
    const error = Object.assign(new Error(`connect ${code}`), { code });
    expect(decide({ kind: 'error', error })).toMatchObject({ retry: true, reason: code });
  });

  it('retries "socket hang up" and http-client request timeouts, which carry no code', () => {
    expect(decide({ kind: 'error', error: new Error('socket hang up') })).toMatchObject({ retry: true });
    expect(decide({ kind: 'error', error: new Error('Request timeout: /x') })).toMatchObject({ retry: true });
  });

  it('finds the code on a wrapped cause', () => {
    const error = new Error('wrapped', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) });
    expect(decide({ kind: 'error', error })).toMatchObject({ retry: true, reason: 'ECONNRESET' });
  });

  it('does not retry programming errors and calls them permanent', () => {
    expect(decide({ kind: 'error', error: new TypeError('x is not a function') })).toMatchObject({
      retry: false,
      permanent: true,
    });
  });

  it('stops at maxAttempts without calling it permanent', () => {
    expect(decide({ kind: 'status', status: 503 }, policy.maxAttempts)).toMatchObject({
      retry: false,
      permanent: false,
    });
    expect(decide({ kind: 'status', status: 503 }, policy.maxAttempts - 1)).toMatchObject({ retry: true });
  });

  it('honours Retry-After in seconds without jitter, clamped to maxRetryAfterMs', () => {
    expect(decide({ kind: 'status', status: 429, retryAfter: '7' }, 1, 0, () => 0.99)).toMatchObject({
      delayMs: 7000,
    });
    expect(decide({ kind: 'status', status: 503, retryAfter: '86400' })).toMatchObject({
      delayMs: policy.maxRetryAfterMs,
    });
  });

  it('honours Retry-After as an HTTP-date', () => {
    const at = new Date(now + 12_000).toUTCString();
    expect(decide({ kind: 'status', status: 429, retryAfter: at })).toMatchObject({
      retry: true,
      delayMs: 12_000,
    });
  });

  it('falls back to backoff for garbage or negative Retry-After', () => {
    const expected = backoffDelay(policy, 1, () => 0.5);
    expect(decide({ kind: 'status', status: 429, retryAfter: 'soon' })).toMatchObject({ delayMs: expected });
    expect(decide({ kind: 'status', status: 429, retryAfter: '-5' })).toMatchObject({ delayMs: expected });
  });

  it('gives up when the next delay would exceed the total time budget', () => {
    const decision = decide({ kind: 'status', status: 503 }, 2, policy.totalTimeMs - 10);
    expect(decision).toMatchObject({ retry: false, permanent: false });
    expect((decision as { reason: string }).reason).toMatch(/budget/);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially and stays within the jitter band', () => {
    for (let attempt = 1; attempt <= 5; attempt++) {
      const nominal = Math.min(policy.maxDelayMs, policy.baseDelayMs * policy.multiplier ** (attempt - 1));
      expect(backoffDelay(policy, attempt, () => 0)).toBe(Math.round(nominal * (1 - policy.jitter)));
      expect(backoffDelay(policy, attempt, () => 1)).toBe(Math.round(nominal));
    }
  });

  it('is capped at maxDelayMs', () => {
    expect(backoffDelay(policy, 50, () => 1)).toBe(policy.maxDelayMs);
  });
});

describe('parseRetryAfter', () => {
  it.each([
    ['0', 0],
    ['3', 3000],
    ['1.5', 1500],
    [' 2 ', 2000],
  ])('parses %j as %i ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });

  it('treats a date in the past as zero', () => {
    expect(parseRetryAfter(new Date(now - 60_000).toUTCString(), now)).toBe(0);
  });

  it.each([undefined, '', 'later', '-1'])('returns undefined for %j', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});
