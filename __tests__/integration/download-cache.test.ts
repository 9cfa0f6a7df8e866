/**
 * Issue 13 item 1: the verified download cache wired into downloads, counted on a loopback
 * ferry serve (its request log): a hit makes no blob GET, a corrupt entry is refetched, two
 * downloads sharing a cache directory at once, eviction under a burst of downloads.
 */
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { downloadArtifact, uploadArtifact, type ArtifactClientOptions } from '../../src/index.js';
import { downloadArtifacts } from '../../src/download-many.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { runtimeJwt } from '../helpers/jwt.js';

let work: string;
let server: RunningServer;
let log: string[] = [];
const TOKEN = runtimeJwt('run-1', 'job-1');
const sizes = [40_000, 60_000, 80_000, 100_000, 120_000, 140_000];

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-dl-cache-'));
  server = await startServer({
    dataDir: path.join(work, 'data'),
    port: 0,
    token: TOKEN,
    log: (line) => log.push(line),
  });
  for (const [i, size] of sizes.entries()) {
    const dir = path.join(work, `src-${i}`);
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, 'data.bin');
    // Random: the zips are about as large as the files, so the byte bound below means something.
    await writeFile(file, Buffer.from(Array.from({ length: size }, () => Math.floor(Math.random() * 256))));
    await uploadArtifact(`a${i}`, [file], dir, options());
  }
});
afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

function options(extra: Partial<ArtifactClientOptions> = {}): ArtifactClientOptions {
  return { resultsUrl: server.url, runtimeToken: TOKEN, ...extra };
}

/** Blob GETs the server answered (Twirp calls are POSTs). */
const blobGets = (): number => log.filter((line) => line.startsWith('GET ')).length;

async function entries(cacheDir: string): Promise<{ count: number; bytes: number }> {
  const dir = path.join(cacheDir, 'entries');
  const names = await readdir(dir).catch(() => []);
  let bytes = 0;
  for (const name of names) bytes += (await stat(path.join(dir, name))).size;
  return { count: names.length, bytes };
}

it('the second download of a cached artifact makes no blob request, and extracts the same files', async () => {
  const cache = { path: path.join(work, 'cache-1'), maxBytes: 10_000_000 };
  log = [];
  const first = await downloadArtifact('a0', { ...options({ cache }), path: path.join(work, 'out-1a') });
  expect(blobGets()).toBe(1);
  expect(first.stats?.cache).toEqual({ hits: 0, misses: 1, bytesServed: 0 });
  expect((await entries(cache.path)).count).toBe(1);

  log = [];
  const second = await downloadArtifact('a0', { ...options({ cache }), path: path.join(work, 'out-1b') });
  expect(blobGets()).toBe(0);
  // Only the metadata calls: ListArtifacts and GetSignedArtifactURL.
  expect(log.every((line) => line.startsWith('POST /twirp/'))).toBe(true);
  expect(second.stats?.requests).toBe(log.length);
  expect(second.stats?.cache.hits).toBe(1);
  expect(second.stats?.cache.bytesServed).toBeGreaterThan(0);
  expect(second.digest).toBe(first.digest);
  expect(await readFile(path.join(work, 'out-1b', 'data.bin'))).toEqual(
    await readFile(path.join(work, 'src-0', 'data.bin')),
  );
});

it('a corrupted cache entry is detected, dropped and fetched again', async () => {
  const cache = { path: path.join(work, 'cache-2'), maxBytes: 10_000_000 };
  await downloadArtifact('a1', { ...options({ cache }), path: path.join(work, 'out-2a') });
  const dir = path.join(cache.path, 'entries');
  const [entry] = await readdir(dir);
  const file = path.join(dir, entry as string);
  const bytes = await readFile(file);
  bytes[100] = (bytes[100] as number) ^ 0xff;
  await writeFile(file, bytes);

  log = [];
  const warnings: string[] = [];
  const logger = { debug: () => {}, info: () => {}, warn: (m: string) => warnings.push(m), error: () => {} };
  const again = await downloadArtifact('a1', {
    ...options({ cache, logger }),
    path: path.join(work, 'out-2b'),
  });
  expect(blobGets()).toBe(1);
  expect(again.stats?.cache).toEqual({ hits: 0, misses: 1, bytesServed: 0 });
  expect(warnings.some((w) => /corrupt/.test(w))).toBe(true);
  expect(await readFile(path.join(work, 'out-2b', 'data.bin'))).toEqual(
    await readFile(path.join(work, 'src-1', 'data.bin')),
  );
  // The refetched copy replaced the corrupt one: the next download is a hit.
  log = [];
  await downloadArtifact('a1', { ...options({ cache }), path: path.join(work, 'out-2c') });
  expect(blobGets()).toBe(0);
});

it('downloads sharing one cache directory at once all get whole, verified artifacts', async () => {
  const cache = { path: path.join(work, 'cache-3'), maxBytes: 10_000_000 };
  // Each call opens the directory on its own, as separate processes do.
  const runs = Array.from({ length: 6 }, (_, i) =>
    downloadArtifact(`a${i % 3}`, { ...options({ cache }), path: path.join(work, `out-3-${i}`) }),
  );
  await Promise.all(runs);
  for (let i = 0; i < 6; i++) {
    expect(await readFile(path.join(work, `out-3-${i}`, 'data.bin'))).toEqual(
      await readFile(path.join(work, `src-${i % 3}`, 'data.bin')),
    );
  }
  expect((await entries(cache.path)).count).toBe(3);
  log = [];
  await Promise.all(
    [0, 1, 2].map((i) =>
      downloadArtifact(`a${i}`, { ...options({ cache }), path: path.join(work, `out-3b-${i}`) }),
    ),
  );
  expect(blobGets()).toBe(0);
});

it('eviction holds the byte bound under a burst of downloads', async () => {
  const maxBytes = 250_000;
  const cache = { path: path.join(work, 'cache-4'), maxBytes };
  const result = await downloadArtifacts({
    ...options({ cache }),
    path: path.join(work, 'out-4'),
    artifactConcurrency: 6,
  });
  expect(result.downloads).toHaveLength(sizes.length);
  expect(result.stats.cache.misses).toBe(sizes.length);
  const after = await entries(cache.path);
  expect(after.bytes).toBeLessThanOrEqual(maxBytes);
  expect(after.count).toBeGreaterThan(0);
});

it('skipDecompress downloads neither use nor fill the cache', async () => {
  const cache = { path: path.join(work, 'cache-5'), maxBytes: 10_000_000 };
  const result = await downloadArtifact('a0', {
    ...options({ cache }),
    path: path.join(work, 'out-5'),
    skipDecompress: true,
  });
  expect(result.stats?.cache).toEqual({ hits: 0, misses: 0, bytesServed: 0 });
  expect((await entries(cache.path)).count).toBe(0);
});
