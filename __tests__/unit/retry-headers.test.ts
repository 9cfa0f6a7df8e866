import {
  decideRetry,
  defaultRetryPolicy,
  parseRateLimitReset,
  parseRetryAfter,
} from '../../src/transport/retry.js';

const now = Date.UTC(2026, 0, 1, 12, 0, 0);

describe('parseRetryAfter only takes real HTTP-dates', () => {
  it.each([
    ['IMF-fixdate', new Date(now + 5000).toUTCString(), 5000],
    ['RFC 850', 'Thursday, 01-Jan-26 12:00:09 GMT', 9000],
    ['asctime', 'Thu Jan  1 12:00:03 2026', 3000],
  ])('parses an %s', (_label, value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });

  it.each(['1 2', 'tomorrow', 'Jan 1', '12:00:00', '-3', 'NaN', '1e3'])(
    'ignores %j, which Date.parse might read as some date',
    (value) => {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    },
  );
});

describe('parseRateLimitReset', () => {
  it('turns epoch seconds into a wait, 0 when already past', () => {
    expect(parseRateLimitReset(String(now / 1000 + 42), now)).toBe(42_000);
    expect(parseRateLimitReset(String(now / 1000 - 42), now)).toBe(0);
  });

  it.each([undefined, '', 'soon', '-5', '1.5'])('ignores %j', (value) => {
    expect(parseRateLimitReset(value, now)).toBeUndefined();
  });
});

describe('decideRetry with rate-limit headers', () => {
  const decide = (retryAfter: string | undefined, rateLimitReset: string | undefined) =>
    decideRetry(
      defaultRetryPolicy,
      {
        attempt: 1,
        elapsedMs: 0,
        nowMs: now,
        outcome: { kind: 'status', status: 429, retryAfter, rateLimitReset },
      },
      () => 0.5,
    );

  it('prefers Retry-After, then x-ratelimit-reset, then backoff, and says which', () => {
    expect(decide('4', String(now / 1000 + 30))).toMatchObject({ delayMs: 4000, basis: 'server' });
    expect(decide('garbage', String(now / 1000 + 30))).toMatchObject({ delayMs: 30_000, basis: 'server' });
    expect(decide(undefined, undefined)).toMatchObject({ delayMs: 750, basis: 'backoff' });
  });

  it('clamps a far reset to maxRetryAfterMs', () => {
    expect(decide(undefined, String(now / 1000 + 3600))).toMatchObject({
      delayMs: defaultRetryPolicy.maxRetryAfterMs,
    });
  });
});
