/**
 * Issue 13 in the download Action: `cache-path` makes the second step a cache hit, and every
 * step writes its stats table to GITHUB_STEP_SUMMARY and one log line (runs dist/, as the runner does).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startActionServer, type ActionServer } from './action-server.js';
import { requireBundles, runStep } from './run-entry.js';

let work: string;
let server: ActionServer;

beforeAll(async () => {
  requireBundles();
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-action-cache-'));
  server = await startActionServer('results', '6106');
  await mkdir(path.join(work, 'src'), { recursive: true });
  await writeFile(path.join(work, 'src', 'a.txt'), 'cached content\n'.repeat(500));
  const up = await runStep('upload', { name: 'cached', path: 'src' }, server.env(), work);
  expect(up.code).toBe(0);
});
afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

it('cache-path: the second download is served from the cache; the step summary holds the stats table', async () => {
  const cache = path.join(work, 'cache');
  const summary = path.join(work, 'summary.md');
  await writeFile(summary, '');
  const env = { ...server.env(), GITHUB_STEP_SUMMARY: summary };
  const first = await runStep('download', { name: 'cached', path: 'o1', 'cache-path': cache }, env, work);
  expect(first.code).toBe(0);
  expect(first.log).toMatch(/Stats: \d+ requests .*cache 0 hits \/ 1 miss/);

  const second = await runStep('download', { name: 'cached', path: 'o2', 'cache-path': cache }, env, work);
  expect(second.code).toBe(0);
  expect(second.log).toMatch(/cache 1 hit \/ 0 misses/);
  expect(await readFile(path.join(work, 'o2', 'a.txt'), 'utf8')).toBe('cached content\n'.repeat(500));

  const table = await readFile(summary, 'utf8');
  expect(table).toContain('### Ferry download stats');
  expect(table).toContain('| Cache hits / misses (served) | 1 / 0');
});
