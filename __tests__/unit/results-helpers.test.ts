import { blockId, blockListXml, withQuery } from '../../src/backends/results/blob-urls.js';
import { normalizeDigest } from '../../src/backends/results/blob-download.js';
import { fileNameFromDisposition } from '../../src/backends/results/content-disposition.js';
import { backendIdsFromToken } from '../../src/backends/results/token.js';
import { chooseBackend } from '../../src/client.js';
import { runtimeJwt } from '../helpers/jwt.js';

describe('backend ids from the runtime token', () => {
  it('reads Actions.Results:<run>:<job> from scp', () => {
    expect(backendIdsFromToken(runtimeJwt('run-uuid', 'job-uuid'))).toEqual({
      workflowRunBackendId: 'run-uuid',
      workflowJobRunBackendId: 'job-uuid',
    });
  });

  it.each([
    ['no token', undefined],
    ['not a JWT', 'opaque-legacy-token'],
    [
      'no results scope',
      `e30.${Buffer.from(JSON.stringify({ scp: 'Actions.Other' })).toString('base64url')}.x`,
    ],
    [
      'wrong part count',
      `e30.${Buffer.from(JSON.stringify({ scp: 'Actions.Results:a:b:c' })).toString('base64url')}.x`,
    ],
    [
      'scp not a string',
      `e30.${Buffer.from(JSON.stringify({ scp: ['Actions.Results:a:b'] })).toString('base64url')}.x`,
    ],
  ])('returns undefined for %s', (_label, token) => {
    expect(backendIdsFromToken(token)).toBeUndefined();
  });
});

describe('capability detection', () => {
  const token = runtimeJwt('r', 'j');
  it('chooses results only with a results URL and a results-scoped token', () => {
    expect(
      chooseBackend({
        backend: 'auto',
        resultsUrl: 'https://results',
        runtimeUrl: 'https://rt/',
        runtimeToken: token,
      }),
    ).toBe('results');
    expect(
      chooseBackend({
        backend: 'auto',
        resultsUrl: 'https://results',
        runtimeUrl: 'https://rt/',
        runtimeToken: 'opaque',
      }),
    ).toBe('legacy');
    expect(
      chooseBackend({
        backend: 'auto',
        resultsUrl: undefined,
        runtimeUrl: 'https://ghes.example/x/',
        runtimeToken: token,
      }),
    ).toBe('legacy');
    expect(
      chooseBackend({
        backend: 'auto',
        resultsUrl: undefined,
        runtimeUrl: undefined,
        runtimeToken: undefined,
      }),
    ).toBe('local');
  });

  it('never refuses a host by name', () => {
    expect(
      chooseBackend({
        backend: 'auto',
        resultsUrl: 'http://gitea.internal:3000/',
        runtimeUrl: undefined,
        runtimeToken: token,
      }),
    ).toBe('results');
  });

  it('lets an explicit backend override and explains what is missing', () => {
    expect(
      chooseBackend({
        backend: 'local',
        resultsUrl: 'https://r',
        runtimeUrl: 'https://x/',
        runtimeToken: token,
      }),
    ).toBe('local');
    expect(() =>
      chooseBackend({
        backend: 'results',
        resultsUrl: undefined,
        runtimeUrl: undefined,
        runtimeToken: token,
      }),
    ).toThrow(/ACTIONS_RESULTS_URL/);
    expect(() =>
      chooseBackend({
        backend: 'results',
        resultsUrl: 'https://r',
        runtimeUrl: undefined,
        runtimeToken: 'opaque',
      }),
    ).toThrow(/Actions.Results/);
  });
});

describe('blob URL helpers', () => {
  it('appends parameters without re-encoding the signature', () => {
    const url = 'https://acct.blob/c/b?sv=2020-01-01&sig=a%2Bb%3D&se=2030-01-01T00%3A00%3A00Z';
    expect(withQuery(url, { comp: 'block', blockid: 'YQ==' })).toBe(`${url}&comp=block&blockid=YQ%3D%3D`);
    expect(withQuery('http://h/a/b/c', { comp: 'blocklist' })).toBe('http://h/a/b/c?comp=blocklist');
  });

  it('makes equal-length, deterministic block ids in a list that preserves order', () => {
    const ids = [0, 9, 10, 12345].map(blockId);
    expect(new Set(ids.map((id) => id.length)).size).toBe(1);
    expect(blockId(7)).toBe(blockId(7));
    expect(Buffer.from(ids[0] as string, 'base64').length).toBeLessThanOrEqual(64);
    expect(blockListXml(['a', 'b'])).toBe(
      '<?xml version="1.0" encoding="utf-8"?><BlockList><Latest>a</Latest><Latest>b</Latest></BlockList>',
    );
  });
});

describe('digests', () => {
  const hex = 'ab'.repeat(32);
  it.each([hex, `sha256:${hex}`, `SHA256:${hex.toUpperCase()}`])('normalises %s', (value) => {
    expect(normalizeDigest(value)).toBe(hex);
  });
  it.each([undefined, '', 'sha256:xyz', 'md5:abc'])('rejects %j', (value) => {
    expect(normalizeDigest(value)).toBeUndefined();
  });
});

describe('Content-Disposition file names', () => {
  it.each([
    [`attachment; filename="report.txt"; filename*=UTF-8''%E6%8A%A5%E5%91%8A.txt`, '报告.txt'],
    ['attachment; filename="plain.bin"', 'plain.bin'],
    ['attachment; filename=bare.log', 'bare.log'],
    ['attachment; filename="../../etc/passwd"', 'passwd'],
    ['attachment; filename=".."', 'fallback'],
    ['attachment; filename="."', 'fallback'],
    [`attachment; filename*=UTF-8''%E0%A4%A`, '%E0%A4%A'],
    ['attachment; filename="CON.txt"', 'fallback'],
    ['attachment; filename="trailing. "', 'trailing'],
    ['attachment; filename="a\\\\b"', 'b'],
    [undefined, 'fallback'],
  ])('%j → %s', (header, expected) => {
    expect(fileNameFromDisposition(header, 'fallback')).toBe(expected);
  });
});
