/**
 * Issue 13 through the CLI: `--json` result lines carry `stats`, and `--cache DIR` (or
 * FERRY_CACHE_DIR) serves a repeat download from the verified cache, against the local store.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { OperationStats } from '../../src/core/stats.js';
import { jsonLines, runCli } from '../helpers/run-cli.js';

let work: string;
let store: string;
const saved = { ...process.env };

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-cli-cache-'));
  store = path.join(work, 'store');
  for (const key of Object.keys(process.env)) {
    if (/^(ACTIONS_|GITHUB_|FERRY_|HTTPS?_PROXY|NO_PROXY)/i.test(key)) delete process.env[key];
  }
  await mkdir(path.join(work, 'src'), { recursive: true });
  await writeFile(path.join(work, 'src', 'a.txt'), 'alpha\n'.repeat(1000));
  expect((await runCli('upload', 'demo', path.join(work, 'src'), '--store', store)).code).toBe(0);
});
afterAll(async () => {
  process.env = saved;
  await rm(work, { recursive: true, force: true });
});

function result(run: Awaited<ReturnType<typeof runCli>>): { stats: OperationStats } {
  return jsonLines(run).find((l) => l['event'] === 'result') as unknown as { stats: OperationStats };
}

it('a repeat download with --cache is a cache hit, and both result lines carry stats', async () => {
  const cache = path.join(work, 'cache');
  const first = await runCli(
    'download',
    'demo',
    '--path',
    path.join(work, 'o1'),
    '--store',
    store,
    '--cache',
    cache,
    '--json',
  );
  expect(first.code).toBe(0);
  expect(result(first).stats).toMatchObject({ cache: { hits: 0, misses: 1 } });
  expect(result(first).stats.requests).toBeGreaterThan(0);

  process.env['FERRY_CACHE_DIR'] = cache;
  try {
    const second = await runCli(
      'download',
      'demo',
      '--path',
      path.join(work, 'o2'),
      '--store',
      store,
      '--json',
    );
    expect(second.code).toBe(0);
    const stats = result(second).stats;
    expect(stats.cache.hits).toBe(1);
    expect(stats.cache.bytesServed).toBeGreaterThan(0);
    // Only metadata calls: no blob bytes came over the wire.
    expect(stats.bytesReceived).toBeLessThan(2000);
  } finally {
    delete process.env['FERRY_CACHE_DIR'];
  }
  expect(await readFile(path.join(work, 'o2', 'a.txt'), 'utf8')).toBe('alpha\n'.repeat(1000));
});

it('list --json carries stats too', async () => {
  const list = await runCli('list', '--store', store, '--json');
  expect(result(list).stats).toMatchObject({
    requests: 1,
    retries: { status: 0, network: 0, rateLimit: 0 },
  });
});
