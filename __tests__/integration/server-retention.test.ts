import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { RunningServer } from '../../src/server/index.js';
import { ArtifactStore } from '../../src/server/legacy/artifact-store.js';
import { LegacyLayout } from '../../src/server/legacy/layout.js';
import { ArtifactIndex } from '../../src/server/results/artifact-index.js';
import { BlobStore } from '../../src/server/results/blob-store.js';
import { ResultsLayout } from '../../src/server/results/layout.js';
import { selectEvictions } from '../../src/server/retention/eviction-policy.js';
import { RetentionSweeper } from '../../src/server/retention/sweeper.js';
import { startFixture, type ServerFixture } from '../helpers/server-fixture.js';

// Retention is enforced: expired artifacts and their blobs are deleted by a background sweep;
// an eviction policy removes the oldest finalized artifacts first and never a live upload.

const RPC_BASE = 'twirp/github.actions.results.api.v1.ArtifactService/';
const RUN = 'ce7f54c7-61c7-4aae-887f-30da475f5f1a';
const JOB = 'ca395085-040a-526b-2ce8-bdc85f692774';

let fixture: ServerFixture | undefined;
let dir: string | undefined;
afterEach(async () => {
  await fixture?.dispose();
  fixture = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function rpc<T>(server: RunningServer, method: string, body: unknown): Promise<T> {
  const res = await fetch(`${server.url}${RPC_BASE}${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      workflow_run_backend_id: RUN,
      workflow_job_run_backend_id: JOB,
      ...(body as object),
    }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

/** CreateArtifact, Put Blob, FinalizeArtifact over HTTP. */
async function upload(server: RunningServer, name: string, data: Buffer, expiresAt?: Date): Promise<void> {
  const created = await rpc<{ signed_upload_url: string }>(server, 'CreateArtifact', {
    name,
    version: 7,
    ...(expiresAt ? { expires_at: expiresAt.toISOString() } : {}),
  });
  const put = await fetch(created.signed_upload_url, {
    method: 'PUT',
    headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Type': 'application/zip' },
    body: data,
  });
  expect(put.status).toBe(201);
  await rpc(server, 'FinalizeArtifact', {
    name,
    size: String(data.length),
    hash: `sha256:${createHash('sha256').update(data).digest('hex')}`,
  });
}

async function names(server: RunningServer): Promise<string[]> {
  const res = await rpc<{ artifacts: Array<{ name: string }> }>(server, 'ListArtifacts', {});
  return res.artifacts.map((a) => a.name).sort();
}

describe('retention sweep on ferry serve', () => {
  it('deletes artifacts past expires_at with their blobs, once, and counts them', async () => {
    fixture = await startFixture({ retention: { sweepIntervalMs: 3_600_000 } });
    const server = fixture.server;
    const short = randomBytes(1234);
    // Long enough that both uploads and the first sweep finish before it, on a busy machine too.
    const expiry = new Date(Date.now() + 6000);
    await upload(server, 'short-lived', short, expiry);
    await upload(server, 'kept', randomBytes(99));
    const blobsDir = join(fixture.dataDir, 'results', 'blobs');
    expect(await readdir(blobsDir)).toHaveLength(2);

    await server.sweep(); // nothing expired yet
    expect(Date.now()).toBeLessThan(expiry.getTime());
    expect(await names(server)).toEqual(['kept', 'short-lived']);
    await new Promise((r) => setTimeout(r, expiry.getTime() - Date.now() + 200));
    await server.sweep();
    expect(await names(server)).toEqual(['kept']);
    expect(await readdir(blobsDir)).toHaveLength(1);
    await server.sweep(); // idempotent: nothing more to do
    const stats = server.sweepStats();
    expect(stats).toMatchObject({
      deletedArtifacts: 1,
      deletedBytes: 1234,
      evictedArtifacts: 0,
      failures: 0,
    });
    expect(stats.runs).toBeGreaterThanOrEqual(3);
    expect(typeof stats.lastRunAt).toBe('string');
    expect(stats.lastDurationMs).toBeGreaterThanOrEqual(0);

    // And it stays deleted across a restart (nothing resurrected from disk).
    const restarted = await fixture.restart();
    expect(await names(restarted)).toEqual(['kept']);
  });
});

describe('eviction policy', () => {
  const body = (data: Buffer): IncomingMessage => Readable.from([data]) as unknown as IncomingMessage;

  async function openIndex(): Promise<{ index: ArtifactIndex; blobs: BlobStore }> {
    dir = await mkdtemp(join(tmpdir(), 'ferry-evict-'));
    const layout = new ResultsLayout(dir);
    const blobs = await BlobStore.open(layout);
    const index = await ArtifactIndex.open(layout, blobs);
    return { index, blobs };
  }

  async function add(index: ArtifactIndex, blobs: BlobStore, name: string, size: number, finalize = true) {
    const record = await index.create({
      runId: RUN,
      jobId: JOB,
      name,
      mimeType: 'application/zip',
      version: 7,
      expiresAt: new Date(Date.now() + 86_400_000),
    });
    if (!finalize) return record;
    const data = randomBytes(size);
    await blobs.putBlob(record.blobId, body(data), { length: size, md5: undefined }, undefined, () => {});
    await index.finalize({ runId: RUN, name, size, hash: undefined });
    // Distinct finalize times, so "oldest first" is unambiguous.
    await new Promise((r) => setTimeout(r, 5));
    return record;
  }

  it('removes the oldest finalized artifacts down to the low-water mark and spares a live upload', async () => {
    const { index, blobs } = await openIndex();
    await add(index, blobs, 'a', 400);
    const live = await add(index, blobs, 'uploading', 0, false);
    await add(index, blobs, 'b', 400);
    await add(index, blobs, 'c', 400);
    await add(index, blobs, 'd', 400);
    const sweeper = new RetentionSweeper(index, { eviction: { maxBytes: 1500, lowWaterBytes: 900 } });
    await sweeper.sweep();
    expect(index.list({}).map((r) => r.name)).toEqual(['c', 'd']);
    expect(index.byBlob(live.blobId)).toBeDefined();
    expect(blobs.has(live.blobId)).toBe(true);
    expect(sweeper.stats()).toMatchObject({ evictedArtifacts: 2, evictedBytes: 800, deletedArtifacts: 0 });
    // Under the high-water mark now: the next sweep evicts nothing.
    await sweeper.sweep();
    expect(sweeper.stats().evictedArtifacts).toBe(2);
  });

  it('max entries and max age', async () => {
    const { index, blobs } = await openIndex();
    for (const name of ['a', 'b', 'c']) await add(index, blobs, name, 10);
    await new RetentionSweeper(index, { eviction: { maxEntries: 2 } }).sweep();
    expect(index.list({}).map((r) => r.name)).toEqual(['b', 'c']);
    const later = Date.now() + 3_600_000;
    await new RetentionSweeper(index, { eviction: { maxAgeSeconds: 60 }, now: () => later }).sweep();
    expect(index.list({})).toEqual([]);
  });

  it('selectEvictions: oldest first, each limit on its own', () => {
    const c = (id: number, size: number, finalizedAt: number) => ({ id, size, finalizedAt });
    const all = [c(3, 10, 300), c(1, 10, 100), c(2, 10, 200)];
    expect(selectEvictions(all, {}, 1000)).toEqual([]);
    expect(selectEvictions(all, { maxEntries: 1 }, 1000).map((e) => e.id)).toEqual([1, 2]);
    expect(selectEvictions(all, { maxAgeSeconds: 0.85 }, 1000).map((e) => e.id)).toEqual([1]);
    // At the high-water mark nothing happens; above it, down to the low-water mark.
    expect(selectEvictions(all, { maxBytes: 30, lowWaterBytes: 5 }, 1000)).toEqual([]);
    expect(selectEvictions(all, { maxBytes: 29, lowWaterBytes: 15 }, 1000).map((e) => e.id)).toEqual([1, 2]);
    expect(selectEvictions(all, { maxBytes: 29 }, 1000).map((e) => e.id)).toEqual([1]);
  });
});

describe('retention of legacy-protocol artifacts', () => {
  it('deletes a finalized container past RetentionDays, never one being uploaded, idempotently', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-legacy-retention-'));
    const layout = new LegacyLayout(dir);
    const legacy = await ArtifactStore.open(layout);
    const results = await ArtifactIndex.open(
      new ResultsLayout(dir),
      await BlobStore.open(new ResultsLayout(dir)),
    );
    const day = 86_400_000;
    const one = await legacy.create('1001', 'one-day', 1);
    const data = Buffer.from('hello');
    await (
      await legacy.items(one.record.containerId)
    ).receiveWhole(
      'one-day/a.txt',
      { range: { start: 0, end: data.length, total: data.length }, gzip: false, fileLength: undefined },
      data,
    );
    await legacy.patchSize('1001', 'one-day', data.length);
    const uploading = await legacy.create('1001', 'still-uploading', 1); // never PATCHed
    const kept = await legacy.create('1001', 'default-retention', null);
    await legacy.patchSize('1001', 'default-retention', 0);

    const later = Date.now() + 2 * day;
    const sweeper = new RetentionSweeper(results, { legacy, now: () => later });
    await sweeper.sweep();
    expect(legacy.list('1001').map((r) => r.name)).toEqual(['still-uploading', 'default-retention']);
    await expect(readdir(layout.containerDir(one.record.containerId))).rejects.toMatchObject({
      code: 'ENOENT',
    });
    await sweeper.sweep();
    expect(sweeper.stats()).toMatchObject({ deletedArtifacts: 1, deletedBytes: 5 });
    expect(legacy.get(uploading.record.containerId)).toBeDefined();
    expect(legacy.get(kept.record.containerId)).toBeDefined();
    await legacy.close();
    // Nothing comes back after a restart.
    const reopened = await ArtifactStore.open(layout);
    expect(reopened.list('1001').map((r) => r.name)).toEqual(['still-uploading', 'default-retention']);
    await reopened.close();
  });
});
