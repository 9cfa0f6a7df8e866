import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/server/index.js';
import type { AzureStoreSpec } from '../../src/server/results/azure/azure-store.js';
import { startAzurite, type Azurite, azureStoreSpec } from '../helpers/azurite.js';
import { twirp } from '../helpers/serve-child.js';
import { rawRequest } from '../helpers/server-fixture.js';

// The eviction policy on an azure_blob store: the retention sweep of one instance (under the
// cross-instance lease) removes the oldest finalized artifacts, never a live upload, and the
// other instance sees the result at once.
const TOKEN = 'azure-eviction-token-0123456789';
const RUN = 'evict-run';
const ids = { workflow_run_backend_id: RUN, workflow_job_run_backend_id: 'job' };

let azurite: Azurite;
let dir: string;
let a: RunningServer;
let b: RunningServer;

function spec(): AzureStoreSpec {
  return azureStoreSpec(azurite, 'ferry-evict');
}

beforeAll(async () => {
  azurite = await startAzurite();
  dir = await mkdtemp(join(tmpdir(), 'ferry-azure-evict-'));
  const options = {
    token: TOKEN,
    azure: spec(),
    accessLog: 'off' as const,
    // Sweeps only when the test asks (the first, at start, finds nothing).
    retention: { sweepIntervalMs: 3_600_000, eviction: { maxEntries: 2 } },
    limits: { maxArtifactsPerRun: 4 },
  };
  a = await startServer({ dataDir: join(dir, 'a'), ...options });
  b = await startServer({ dataDir: join(dir, 'b'), ...options });
}, 60_000);

afterAll(async () => {
  await a?.close(0);
  await b?.close(0);
  await azurite?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function upload(server: RunningServer, name: string, bytes: number): Promise<void> {
  const created = await twirp(server.url, TOKEN, 'CreateArtifact', { ...ids, name, version: 4 });
  expect(created.status).toBe(200);
  const put = await rawRequest('PUT', created.json<{ signed_upload_url: string }>().signed_upload_url, {
    headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Length': bytes },
    body: Buffer.alloc(bytes, 1),
  });
  expect(put.status).toBe(201);
  const done = await twirp(server.url, TOKEN, 'FinalizeArtifact', { ...ids, name, size: String(bytes) });
  expect(done.status).toBe(200);
}

async function names(server: RunningServer): Promise<string[]> {
  const listed = await twirp(server.url, TOKEN, 'ListArtifacts', ids);
  return listed.json<{ artifacts: { name: string }[] }>().artifacts.map((x) => x.name);
}

async function metric(server: RunningServer, name: string): Promise<number> {
  const text = (
    await rawRequest('GET', `${server.url}metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } })
  ).body.toString();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return Number(line?.split(' ').at(-1) ?? NaN);
}

it('evicts the oldest finalized artifacts beyond max_entries, never a live upload, seen by both instances', async () => {
  await upload(a, 'oldest', 10);
  await upload(b, 'older', 20);
  await upload(a, 'newer', 30);
  // An upload in progress: not finalized, so never a candidate.
  const live = await twirp(a.url, TOKEN, 'CreateArtifact', { ...ids, name: 'in-progress', version: 4 });
  expect(live.status).toBe(200);
  await upload(b, 'newest', 40);
  // The run is at its limit of 4 artifacts.
  const refused = await twirp(b.url, TOKEN, 'CreateArtifact', { ...ids, name: 'fifth', version: 4 });
  expect(refused.status).toBe(403);

  const deletedBefore = await metric(a, 'ferry_sweep_deleted_artifacts_total');
  const bytesBefore = await metric(a, 'ferry_sweep_deleted_bytes_total');
  await a.sweep();
  expect(a.sweepStats()).toMatchObject({ evictedArtifacts: 2, evictedBytes: 30, failures: 0 });
  expect(await names(b)).toEqual(['newer', 'newest']);
  expect(await metric(a, 'ferry_sweep_deleted_artifacts_total')).toBe(deletedBefore + 2);
  expect(await metric(a, 'ferry_sweep_deleted_bytes_total')).toBe(bytesBefore + 30);

  // The live upload survived and can still finish; the run's count went down with the eviction.
  const put = await rawRequest('PUT', live.json<{ signed_upload_url: string }>().signed_upload_url, {
    headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Length': 1 },
    body: Buffer.from('x'),
  });
  expect(put.status).toBe(201);
  const done = await twirp(b.url, TOKEN, 'FinalizeArtifact', { ...ids, name: 'in-progress', size: '1' });
  expect(done.status).toBe(200);
  expect((await twirp(b.url, TOKEN, 'CreateArtifact', { ...ids, name: 'fifth', version: 4 })).status).toBe(
    200,
  );
  // Another sweep through the other instance keeps the newest two.
  await b.sweep();
  expect(await names(a)).toEqual(['in-progress', 'newest']); // by id: in-progress was created first
}, 60_000);
