import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from '../../src/server/index.js';

/** Items sent whole live in one pack file per container; they must survive retries and restarts. */
let dataDir: string;
let server: RunningServer;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'ferry-pack-'));
  server = await startServer({ dataDir, port: 0 });
});
afterAll(async () => {
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function createContainer(base: string, name: string): Promise<string> {
  const res = await fetch(`${base}_apis/pipelines/workflows/9/artifacts?api-version=6.0-preview`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ Type: 'actions_storage', Name: name }),
  });
  return ((await res.json()) as { fileContainerResourceUrl: string }).fileContainerResourceUrl;
}

function itemUrl(container: string, itemPath: string): string {
  const url = new URL(container);
  url.searchParams.append('itemPath', itemPath);
  return url.toString();
}

async function put(
  container: string,
  itemPath: string,
  body: Buffer,
  start = 0,
  total = body.length,
): Promise<number> {
  const res = await fetch(itemUrl(container, itemPath), {
    method: 'PUT',
    headers: {
      'content-type': 'application/octet-stream',
      'content-range': `bytes ${start}-${start + body.length - 1}/${total}`,
      'x-actions-results-md5': createHash('md5').update(body).digest('base64'),
    },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

async function get(container: string, itemPath: string): Promise<Buffer> {
  const res = await fetch(itemUrl(container, itemPath));
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

describe('ferry serve: whole items in the pack file', () => {
  it('keeps concurrent whole items apart, serves the latest retry, and survives a restart', async () => {
    const container = await createContainer(server.url, 'packed');
    const bodies = new Map<string, Buffer>();
    for (let i = 0; i < 60; i++)
      bodies.set(`packed/dir${i % 6}/f${i}.bin`, randomBytes(1 + ((i * 7919) % 20_000)));
    const statuses = await Promise.all([...bodies].map(([p, b]) => put(container, p, b)));
    expect(statuses.every((s) => s === 200)).toBe(true);

    // A retry of one item (new bytes, same path) replaces it; a chunked item still works beside them.
    const retried = randomBytes(777);
    expect(await put(container, 'packed/dir0/f0.bin', retried)).toBe(200);
    bodies.set('packed/dir0/f0.bin', retried);
    const big = randomBytes(3000);
    expect(await put(container, 'packed/chunked.bin', big.subarray(1000), 1000, 3000)).toBe(200);
    expect(await put(container, 'packed/chunked.bin', big.subarray(0, 1000), 0, 3000)).toBe(200);
    bodies.set('packed/chunked.bin', big);

    for (const [p, b] of bodies) expect((await get(container, p)).equals(b)).toBe(true);

    await server.close();
    server = await startServer({ dataDir, port: 0 });
    const again = container.replace(/^http:\/\/[^/]+\//, server.url);
    for (const [p, b] of bodies) expect((await get(again, p)).equals(b)).toBe(true);
    // New whole items after the restart go after the existing pack contents.
    const later = randomBytes(4096);
    expect(await put(again, 'packed/later.bin', later)).toBe(200);
    expect((await get(again, 'packed/later.bin')).equals(later)).toBe(true);
    expect((await get(again, 'packed/dir1/f1.bin')).equals(bodies.get('packed/dir1/f1.bin') as Buffer)).toBe(
      true,
    );
  });
});
