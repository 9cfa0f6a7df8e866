/**
 * Issue 13 item 3: a spent REST rate limit is remembered in the state file, so the next call
 * (in this process, and in another process) sends nothing and fails at once with
 * ERR_FERRY_RATE_LIMITED naming the reset; a permanent 401 among 100 artifacts stops the rest.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { listArtifacts } from '../../src/index.js';
import type { OperationStats } from '../../src/core/stats.js';
import { downloadArtifacts } from '../../src/download-many.js';
import { builtLibrary } from '../helpers/built-lib.js';
import { startLoopback, type Loopback } from '../helpers/loopback.js';

const execFileP = promisify(execFile);
let work: string;
let api: Loopback;
let library: string;
const resetAt = Math.floor(Date.now() / 1000) + 600;
const savedStateDir = process.env['FERRY_STATE_DIR'];

beforeAll(async () => {
  library = await builtLibrary();
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-remembered-'));
  process.env['FERRY_STATE_DIR'] = path.join(work, 'state');
  api = await startLoopback((req, res) => {
    // GitHub's primary rate limit, spent until `resetAt`.
    res.writeHead(403, {
      'content-type': 'application/json',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': String(resetAt),
    });
    res.end(JSON.stringify({ message: 'API rate limit exceeded for installation ID 1.' }));
  });
}, 180_000);
afterAll(async () => {
  await api.close();
  if (savedStateDir === undefined) delete process.env['FERRY_STATE_DIR'];
  else process.env['FERRY_STATE_DIR'] = savedStateDir;
  await rm(work, { recursive: true, force: true });
});

const findBy = (): { repository: string; runId: string; token: string; apiUrl: string } => ({
  repository: 'octo/repo',
  runId: '7',
  token: 'ghs_remembered_token_0123456789',
  apiUrl: api.url,
});

it('a spent rate limit costs one request; the next call here and in another process costs none', async () => {
  await expect(listArtifacts({ findBy: findBy() })).rejects.toMatchObject({ code: 'ERR_FERRY_RATE_LIMITED' });
  expect(api.requests).toHaveLength(1);

  let stats: OperationStats | undefined;
  const again = listArtifacts({ findBy: findBy(), onStats: (s) => (stats = s) });
  await expect(again).rejects.toMatchObject({ code: 'ERR_FERRY_RATE_LIMITED', remembered: true });
  await expect(again).rejects.toThrow(new Date(resetAt * 1000).toISOString());
  expect(api.requests).toHaveLength(1);
  expect(stats?.requests).toBe(0);
  expect(stats?.requestsSpared).toBe(1);

  // Another process sharing the state directory (FERRY_STATE_DIR) knows it too.
  const script = `
    const { listArtifacts } = await import(${JSON.stringify(library)});
    try {
      await listArtifacts({ findBy: ${JSON.stringify(findBy())} });
      console.log(JSON.stringify({ ok: true }));
    } catch (e) {
      console.log(JSON.stringify({ code: e.code, remembered: e.remembered, message: e.message }));
    }`;
  const { stdout } = await execFileP(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, FERRY_STATE_DIR: path.join(work, 'state') },
  });
  const child = JSON.parse(stdout.trim()) as { code: string; remembered: boolean; message: string };
  expect(child).toMatchObject({ code: 'ERR_FERRY_RATE_LIMITED', remembered: true });
  expect(child.message).not.toContain(findBy().token);
  expect(api.requests).toHaveLength(1);
}, 60_000);

it('a permanent 401 among 100 artifacts stops the rest before their requests', async () => {
  const server = await startLoopback((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname.endsWith('/artifacts')) {
      const artifacts = Array.from({ length: 100 }, (_, i) => ({
        id: i + 1,
        name: `art-${String(i).padStart(3, '0')}`,
        size_in_bytes: 10,
        digest: `sha256:${'0'.repeat(64)}`,
        created_at: '2026-01-01T00:00:00Z',
        expired: false,
      }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ total_count: 100, artifacts }));
      return;
    }
    // Every artifact's zip: the token was revoked.
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ message: 'Bad credentials' }));
  });
  try {
    let stats: OperationStats | undefined;
    const run = downloadArtifacts({
      findBy: { ...findBy(), token: 'ghs_other_token_abcdefghijklmnop', apiUrl: server.url },
      path: path.join(work, 'many'),
      artifactConcurrency: 4,
      onStats: (s) => (stats = s),
    });
    await expect(run).rejects.toMatchObject({ code: 'ERR_FERRY_UNAUTHORIZED' });
    // The listing, then at most one refused request per worker in flight: not 100.
    // The listing, then per worker in flight at most its artifact lookup and one refused zip
    // request: 100 artifacts cost at most 1 + 2 * 4 requests, not 200.
    const zips = server.requests.filter((r) => r.url.endsWith('/zip'));
    expect(zips.length).toBeGreaterThanOrEqual(1);
    expect(zips.length).toBeLessThanOrEqual(4);
    expect(server.requests.length).toBeLessThanOrEqual(1 + 2 * 4);
    expect(stats?.requestsSpared).toBeGreaterThanOrEqual(100 - 4);
  } finally {
    await server.close();
  }
});
