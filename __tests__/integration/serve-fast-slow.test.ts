import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { downloadArtifact, uploadArtifact } from '../../src/index.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { builtLibrary } from '../helpers/built-lib.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { twirp } from '../helpers/serve-child.js';
import { artifactsUrl, chunkUrl, contentRange, rawRequest } from '../helpers/server-fixture.js';
import { hashTree, writeEdgeCaseTree } from '../helpers/tree.js';

// A fast_slow store over two filesystem stores (a local SSD in front of a network mount, say):
// downloads come from the fast directory once filled, eviction bounds it, a bad entry is dropped
// and read again from the slow directory, which never loses anything.

const RUN = 'fast-run';
const JOB = 'fast-job';
const TOKEN = runtimeJwt(RUN, JOB);
const IDS = { workflow_run_backend_id: RUN, workflow_job_run_backend_id: JOB };
const SIZE = 64 * 1024;
const MAX_BYTES = Math.floor(SIZE * 2.5);

let work: string;
let slowDir: string;
let fastDir: string;
let server: RunningServer;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-fast-slow-'));
  slowDir = path.join(work, 'slow');
  fastDir = path.join(work, 'fast');
  server = await startServer({
    dataDir: slowDir,
    token: TOKEN,
    metricsPublic: true,
    fastStore: { path: fastDir, eviction: { maxBytes: MAX_BYTES, lowWaterBytes: SIZE * 2 } },
  });
}, 30_000);

afterAll(async () => {
  await server?.close(0);
  await rm(work, { recursive: true, force: true });
});

/** Uploads `bytes` as a raw artifact by Put Blob; returns its finalized digest (sha256 hex). */
async function upload(name: string, bytes: Buffer): Promise<string> {
  const created = await twirp(server.url, TOKEN, 'CreateArtifact', { ...IDS, name, version: 4 });
  expect(created.status).toBe(200);
  const { signed_upload_url: url } = created.json<{ signed_upload_url: string }>();
  const put = await rawRequest('PUT', url, { headers: { 'x-ms-blob-type': 'BlockBlob' }, body: bytes });
  expect(put.status).toBe(201);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const finalized = await twirp(server.url, TOKEN, 'FinalizeArtifact', {
    ...IDS,
    name,
    size: String(bytes.length),
    hash: `sha256:${sha256}`,
  });
  expect(finalized.status).toBe(200);
  return sha256;
}

async function downloadUrl(name: string): Promise<string> {
  const answer = await twirp(server.url, TOKEN, 'GetSignedArtifactURL', { ...IDS, name });
  expect(answer.status).toBe(200);
  return answer.json<{ signed_url: string }>().signed_url;
}

/** The counters of the fast store in /metrics, by name (and result for reads). */
async function fastMetrics(): Promise<Record<string, number>> {
  const text = (await rawRequest('GET', `${server.url}metrics`)).body.toString('utf8');
  const figures: Record<string, number> = {};
  for (const match of text.matchAll(/^ferry_fast_store_(\w+?)(?:_total)?\{([^}]*)\} (\S+)$/gm)) {
    const result = /result="(\w+)"/.exec(match[2] ?? '')?.[1];
    figures[result ? `${match[1]}_${result}` : (match[1] ?? '')] = Number(match[3]);
  }
  return figures;
}

async function cachedBlobs(): Promise<{ name: string; size: number }[]> {
  const dir = path.join(fastDir, 'fast-cache');
  const names = (await readdir(dir)).filter((n) => n.endsWith('.blob'));
  return Promise.all(names.map(async (name) => ({ name, size: (await stat(path.join(dir, name))).size })));
}

it('serves a second download from the fast store, the bytes the same, the slow store untouched', async () => {
  const bytes = randomBytes(SIZE);
  const sha256 = await upload('first', bytes);
  const url = await downloadUrl('first');
  expect(new URL(url).pathname).toMatch(/^\/devstoreaccount1\/artifact-\d+\/[0-9a-f]{32}$/);
  const before = await fastMetrics();
  const miss = await rawRequest('GET', url);
  expect(miss.status).toBe(200);
  expect(miss.body.equals(bytes)).toBe(true);
  expect(miss.headers.etag).toBe(`"${sha256}"`);
  const hit = await rawRequest('GET', url);
  expect(hit.status).toBe(200);
  expect(hit.body.equals(bytes)).toBe(true);
  const after = await fastMetrics();
  expect(after['reads_miss']).toBe((before['reads_miss'] ?? 0) + 1);
  expect(after['reads_hit']).toBe((before['reads_hit'] ?? 0) + 1);
  expect(after['fills']).toBe((before['fills'] ?? 0) + 1);
  expect(after['bytes']).toBe(SIZE);
  // A range of a cached entry (a resumed download) comes from it too.
  const range = await rawRequest('GET', url, { headers: { Range: 'bytes=10-19' } });
  expect(range.status).toBe(206);
  expect(range.body.equals(bytes.subarray(10, 20))).toBe(true);
  // The signature covers the artifact id and blob id: another id is refused.
  const moved = url.replace(/artifact-(\d+)/, (_m, id: string) => `artifact-${Number(id) + 1}`);
  expect((await rawRequest('GET', moved)).status).toBe(403);
});

it('a range on a miss is read from the slow store and fills nothing', async () => {
  const bytes = randomBytes(SIZE);
  await upload('ranged', bytes);
  const url = await downloadUrl('ranged');
  const before = await fastMetrics();
  const range = await rawRequest('GET', url, { headers: { 'x-ms-range': 'bytes=100-' } });
  expect(range.status).toBe(206);
  expect(range.body.equals(bytes.subarray(100))).toBe(true);
  expect((await fastMetrics())['fills']).toBe(before['fills']);
});

it('evicts the least recently used entries to stay within max_bytes; the slow store keeps them', async () => {
  const blobs = [randomBytes(SIZE), randomBytes(SIZE), randomBytes(SIZE)];
  for (const [i, bytes] of blobs.entries()) await upload(`evict-${i}`, bytes);
  for (const [i, bytes] of blobs.entries()) {
    const got = await rawRequest('GET', await downloadUrl(`evict-${i}`));
    expect(got.body.equals(bytes)).toBe(true);
  }
  const held = await cachedBlobs();
  expect(held.reduce((sum, b) => sum + b.size, 0)).toBeLessThanOrEqual(MAX_BYTES);
  expect((await fastMetrics())['evictions']).toBeGreaterThanOrEqual(1);
  // Every one still downloads (the evicted from the slow store, filling again).
  for (const [i, bytes] of blobs.entries()) {
    const got = await rawRequest('GET', await downloadUrl(`evict-${i}`));
    expect(got.body.equals(bytes)).toBe(true);
  }
});

it('drops a fast entry of the wrong size and re-fills it from the slow store in the same request', async () => {
  const bytes = randomBytes(SIZE);
  await upload('truncated', bytes);
  const url = await downloadUrl('truncated');
  await rawRequest('GET', url); // fills
  const blobId = new URL(url).pathname.split('/').pop() ?? '';
  const entry = path.join(fastDir, 'fast-cache', `${blobId}.blob`);
  await writeFile(entry, bytes.subarray(0, 100));
  const before = await fastMetrics();
  const got = await rawRequest('GET', url);
  expect(got.status).toBe(200);
  expect(got.body.equals(bytes)).toBe(true);
  const after = await fastMetrics();
  expect(after['dropped']).toBe((before['dropped'] ?? 0) + 1);
  expect(after['fills']).toBe((before['fills'] ?? 0) + 1);
  expect((await readFile(entry)).equals(bytes)).toBe(true);
});

it('never delivers a same-size corrupted entry whole: the answer is cut, the entry dropped, the retry correct', async () => {
  const bytes = randomBytes(SIZE);
  await upload('flipped', bytes);
  const url = await downloadUrl('flipped');
  await rawRequest('GET', url); // fills
  const blobId = new URL(url).pathname.split('/').pop() ?? '';
  const entry = path.join(fastDir, 'fast-cache', `${blobId}.blob`);
  const corrupted = Buffer.from(bytes);
  corrupted[SIZE - 1] = (corrupted[SIZE - 1] ?? 0) ^ 0xff;
  await writeFile(entry, corrupted);
  const cut = await rawRequest('GET', url).then(
    (answer) => answer.body,
    (error: unknown) => error,
  );
  // Either the connection breaks or fewer bytes than announced arrive: never the bad bytes whole.
  expect(Buffer.isBuffer(cut) && cut.equals(corrupted)).toBe(false);
  const retry = await rawRequest('GET', url);
  expect(retry.status).toBe(200);
  expect(retry.body.equals(bytes)).toBe(true);
});

it('legacy protocol file downloads read through the fast store too', async () => {
  const auth = { Authorization: `Bearer ${TOKEN}` };
  const created = await rawRequest('POST', artifactsUrl(server, RUN), {
    headers: { 'Content-Type': 'application/json', ...auth },
    body: JSON.stringify({ Type: 'actions_storage', Name: 'legacy' }),
  });
  expect(created.status).toBe(201);
  const container = created.json<{ fileContainerResourceUrl: string }>().fileContainerResourceUrl;
  const bytes = randomBytes(SIZE);
  const put = await rawRequest('PUT', chunkUrl(container, 'legacy/f.bin'), {
    headers: {
      ...auth,
      'Content-Type': 'application/octet-stream',
      'Content-Range': contentRange(0, bytes.length, bytes.length),
    },
    body: bytes,
  });
  expect(put.status).toBe(200);
  const patched = await rawRequest('PATCH', `${artifactsUrl(server, RUN)}&artifactName=legacy`, {
    headers: { 'Content-Type': 'application/json', ...auth },
    body: JSON.stringify({ Size: bytes.length }),
  });
  expect(patched.status).toBe(200);
  const before = await fastMetrics();
  for (let i = 0; i < 2; i++) {
    const got = await rawRequest('GET', chunkUrl(container, 'legacy/f.bin'), { headers: auth });
    expect(got.status).toBe(200);
    expect(got.body.equals(bytes)).toBe(true);
  }
  const after = await fastMetrics();
  expect(after['reads_miss']).toBe((before['reads_miss'] ?? 0) + 1);
  expect(after['reads_hit']).toBe((before['reads_hit'] ?? 0) + 1);
  expect(after['fills']).toBe((before['fills'] ?? 0) + 1);
});

it('the Ferry SDK uploads and downloads a tree through it, twice', async () => {
  const source = path.join(work, 'tree');
  const files = await writeEdgeCaseTree(source);
  await uploadArtifact('tree', files, source, { resultsUrl: server.url, runtimeToken: TOKEN });
  for (const n of [1, 2]) {
    const target = path.join(work, `tree-got-${n}`);
    await downloadArtifact('tree', { resultsUrl: server.url, runtimeToken: TOKEN, path: target });
    expect(await hashTree(target)).toEqual(await hashTree(source));
  }
  expect((await fastMetrics())['reads_hit']).toBeGreaterThanOrEqual(1);
}, 60_000);

it('ferry serve --config with a fast_slow store serves downloads through its fast directory', async () => {
  const dir = path.join(work, 'cli');
  const config = path.join(dir, 'serve.json');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(
    config,
    JSON.stringify({
      stores: {
        ssd: { filesystem: { path: 'ssd', eviction: { max_bytes: 200_000_000 } } },
        nfs: { filesystem: { path: 'nfs' } },
        main: { fast_slow: { fast: 'ssd', slow: 'nfs' } },
      },
      store: 'main',
    }),
  );
  const bin = path.join(path.dirname(await builtLibrary()), 'cli', 'bin.js');
  // The runtime JWT as the operator's token: the SDK takes its run and job ids from it.
  const token = TOKEN;
  const child = spawn(process.execPath, [bin, 'serve', '--config', config, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FERRY_TOKEN: token },
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`ferry serve exited with ${String(code)}`)));
    });
    const source = path.join(dir, 'src');
    const files = await writeEdgeCaseTree(source);
    await uploadArtifact('cli-tree', files, source, { resultsUrl: url, runtimeToken: token });
    // The upload went to the slow directory; the fast one holds nothing until a download.
    expect(await readdir(path.join(dir, 'nfs', 'results'))).toContain('artifacts');
    for (const n of [1, 2]) {
      const target = path.join(dir, `got-${n}`);
      await downloadArtifact('cli-tree', { resultsUrl: url, runtimeToken: token, path: target });
      expect(await hashTree(target)).toEqual(await hashTree(source));
    }
    const cached = (await readdir(path.join(dir, 'ssd', 'fast-cache'))).filter((n) => n.endsWith('.blob'));
    expect(cached).toHaveLength(1);
  } finally {
    child.kill('SIGKILL');
  }
}, 240_000);
