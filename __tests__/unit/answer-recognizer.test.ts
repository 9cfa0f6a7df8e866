import { describeShape, recognizeAnswer } from '../../src/transport/answer-recognizer.js';

const NOW = Date.parse('2026-12-03T12:00:00Z');
const json = (value: unknown) => JSON.stringify(value);

describe('answer recogniser', () => {
  test('body shapes are named by structure only', () => {
    expect(describeShape('')).toBe('empty');
    expect(describeShape(json({ message: 'x', documentation_url: 'y' }))).toBe(
      'JSON keys [documentation_url, message]',
    );
    expect(describeShape(json([1]))).toBe('JSON array');
    expect(describeShape('<!DOCTYPE html><html><body>hi</body></html>')).toBe('HTML');
    expect(describeShape('<?xml version="1.0"?><Error/>')).toBe('XML');
    expect(describeShape('{not json')).toBe('text');
    expect(describeShape('Too Many Requests')).toBe('text');
    expect(describeShape(json({ 'a"b': 1 }))).toBe('JSON keys [a?b]');
  });

  test('a spent primary limit waits for x-ratelimit-reset', () => {
    const r = recognizeAnswer(
      {
        status: 403,
        headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW / 1000 + 600) },
        body: json({
          message: 'API rate limit exceeded for installation ID 1.',
          documentation_url: 'https://docs',
        }),
      },
      NOW,
    );
    expect(r).toEqual({
      verdict: { kind: 'rate-limit', resetAtMs: NOW + 600_000, evidence: 'x-ratelimit-remaining: 0' },
      shape: 'JSON keys [documentation_url, message]',
      knownShape: true,
    });
  });

  test('retry-after wins; a secondary limit without headers waits a minute; the wait is capped', () => {
    const secondary = json({
      message: 'You have exceeded a secondary rate limit. Please wait a few minutes.',
    });
    expect(
      recognizeAnswer({ status: 403, headers: { 'retry-after': '30' }, body: secondary }, NOW).verdict,
    ).toEqual({
      kind: 'rate-limit',
      resetAtMs: NOW + 30_000,
      evidence: 'retry-after',
    });
    expect(recognizeAnswer({ status: 403, headers: {}, body: secondary }, NOW).verdict).toMatchObject({
      resetAtMs: NOW + 60_000,
      evidence: 'rate-limit message',
    });
    expect(
      recognizeAnswer({ status: 429, headers: { 'retry-after': '999999' }, body: '' }, NOW).verdict,
    ).toMatchObject({
      resetAtMs: NOW + 3600_000,
      evidence: '429',
    });
    const html =
      '<html><body><h1>Whoa there!</h1><p>You have exceeded a secondary rate limit.</p></body></html>';
    expect(recognizeAnswer({ status: 403, headers: {}, body: html }, NOW).verdict.kind).toBe('rate-limit');
  });

  test('401 and a plain 403 are permanent; an unfamiliar 4xx shape is flagged', () => {
    expect(
      recognizeAnswer({ status: 401, headers: {}, body: json({ message: 'Bad credentials' }) }, NOW),
    ).toEqual({
      verdict: { kind: 'permanent', status: 401 },
      shape: 'JSON keys [message]',
      knownShape: true,
    });
    // A 401 that mentions a rate limit is still about the credentials.
    expect(recognizeAnswer({ status: 401, headers: {}, body: 'rate limit' }, NOW).verdict.kind).toBe(
      'permanent',
    );
    expect(
      recognizeAnswer({ status: 403, headers: {}, body: json({ error: 'forbidden', detail: 'no' }) }, NOW),
    ).toEqual({
      verdict: { kind: 'permanent', status: 403 },
      shape: 'JSON keys [detail, error]',
      knownShape: false,
    });
    expect(recognizeAnswer({ status: 404, headers: {}, body: '<html>nope</html>' }, NOW)).toMatchObject({
      verdict: { kind: 'other' },
      knownShape: false,
    });
    expect(recognizeAnswer({ status: 503, headers: {}, body: '<html>down</html>' }, NOW).knownShape).toBe(
      true,
    );
  });
});
