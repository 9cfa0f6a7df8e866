import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { DEFAULT_LIMITS } from '../../src/server/http/limits.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import type { AzureStoreSpec } from '../../src/server/results/azure/azure-store.js';
import { startAzurite, type Azurite, azureStoreSpec } from '../helpers/azurite.js';
import { childServerUnavailable, startChildServer, twirp } from '../helpers/serve-child.js';
import { rawRequest } from '../helpers/server-fixture.js';

// The per-run limits of an azure_blob store, kept in one run-state blob shared by the instances
// (src/server/results/azure/run-state.ts): two instances count together, and a killed instance's
// upload holds its slot only until its lease lapses.
const TOKEN = 'azure-limits-token-0123456789';
const CONTAINER = 'ferry-limits';
const LIMITS = { maxLiveUploadsPerRun: 2, maxArtifactsPerRun: 3 };

let azurite: Azurite;
let dir: string;
let a: RunningServer;
let b: RunningServer;

function spec(): AzureStoreSpec {
  return azureStoreSpec(azurite, CONTAINER);
}

async function containerClient(): Promise<ContainerClient> {
  const { BlobServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');
  const { account } = spec();
  return new BlobServiceClient(
    account.blobEndpoint,
    new StorageSharedKeyCredential(account.accountName, account.accountKey),
  ).getContainerClient(CONTAINER);
}

beforeAll(async () => {
  azurite = await startAzurite();
  dir = await mkdtemp(join(tmpdir(), 'ferry-azure-limits-'));
  const options = { token: TOKEN, azure: spec(), accessLog: 'off' as const, limits: LIMITS };
  a = await startServer({ dataDir: join(dir, 'a'), ...options });
  b = await startServer({ dataDir: join(dir, 'b'), ...options });
}, 60_000);

afterAll(async () => {
  await a?.close(0);
  await b?.close(0);
  await azurite?.stop();
  await rm(dir, { recursive: true, force: true });
});

function ids(run: string) {
  return { workflow_run_backend_id: run, workflow_job_run_backend_id: 'job' };
}

async function create(url: string, run: string, name: string) {
  return twirp(url, TOKEN, 'CreateArtifact', { ...ids(run), name, version: 4 });
}

async function finish(url: string, run: string, name: string, uploadUrl: string) {
  const put = await rawRequest('PUT', uploadUrl, {
    headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Length': 2 },
    body: Buffer.from('ok'),
  });
  expect(put.status).toBe(201);
  const done = await twirp(url, TOKEN, 'FinalizeArtifact', { ...ids(run), name, size: '2' });
  expect(done.status).toBe(200);
}

it('counts live uploads and artifacts of a run across both instances, and frees slots on finalize and delete', async () => {
  const run = 'limits-1';
  const x1 = await create(a.url, run, 'x1');
  const x2 = await create(b.url, run, 'x2');
  expect([x1.status, x2.status]).toEqual([200, 200]);

  const third = await create(a.url, run, 'x3');
  expect(third.status).toBe(403);
  expect(third.json()).toMatchObject({ code: 'permission_denied' });
  expect(third.json<{ msg: string }>().msg).toContain('maxLiveUploadsPerRun');

  // Finalizing through the other instance turns a live slot into an artifact.
  await finish(b.url, run, 'x1', x1.json<{ signed_upload_url: string }>().signed_upload_url);
  const x3 = await create(b.url, run, 'x3');
  expect(x3.status).toBe(200);
  await finish(a.url, run, 'x2', x2.json<{ signed_upload_url: string }>().signed_upload_url);
  await finish(a.url, run, 'x3', x3.json<{ signed_upload_url: string }>().signed_upload_url);

  const fourth = await create(a.url, run, 'x4');
  expect(fourth.status).toBe(403);
  expect(fourth.json<{ msg: string }>().msg).toContain('maxArtifactsPerRun');
  // Another run has its own counts.
  expect((await create(a.url, 'limits-other', 'x4')).status).toBe(200);

  const deleted = await twirp(b.url, TOKEN, 'DeleteArtifact', { ...ids(run), name: 'x1' });
  expect(deleted.status).toBe(200);
  expect((await create(a.url, run, 'x4')).status).toBe(200);
});

it('keeps the slot of an instance killed mid-upload only until the upload lease lapses', async () => {
  const unavailable = await childServerUnavailable();
  if (unavailable) throw new Error(unavailable);
  const run = 'limits-kill';
  const child = await startChildServer({
    dataDir: join(dir, 'child'),
    token: TOKEN,
    azure: spec(),
    limits: { maxLiveUploadsPerRun: 1 },
  });
  let killed = false;
  try {
    const held = await create(child.url, run, 'held');
    expect(held.status).toBe(200);
    // Some bytes are staged, then the instance dies without a word.
    await rawRequest('PUT', held.json<{ signed_upload_url: string }>().signed_upload_url, {
      headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Length': 4 },
      body: Buffer.from('half'),
    });
    await child.kill9();
    killed = true;
  } finally {
    if (!killed) await child.stop();
  }

  const { AzureRecords } = await import('../../src/server/results/azure/azure-records.js');
  const { AzureRunState } = await import('../../src/server/results/azure/run-state.js');
  const container = await containerClient();
  const time = <T>(_op: string, call: () => Promise<T>): Promise<T> => call();
  let clock = Date.now();
  const records = new AzureRecords(container, '', {
    limits: { ...DEFAULT_LIMITS, maxLiveUploadsPerRun: 1 },
    time,
    now: () => clock,
  });
  const input = {
    runId: run,
    jobId: 'job',
    name: 'next',
    mimeType: 'application/zip',
    version: 4,
    expiresAt: new Date(clock + 86_400_000),
  };
  // Within its lease the dead upload still counts: its client may be writing on.
  await expect(records.create(input)).rejects.toMatchObject({ code: 'permission_denied' });
  // Past the lease (15 min after its last write) its slot is settled as abandoned and reused.
  clock += 16 * 60 * 1000;
  const next = await records.create(input);
  const state = new AzureRunState(
    (runId) => container.getBlockBlobClient(`run-state/${Buffer.from(runId).toString('hex')}`),
    { time, limits: DEFAULT_LIMITS, now: () => clock },
  );
  const counts = await state.read(run);
  expect(Object.keys(counts.live)).toEqual([next.blobId]);
  expect(counts.finalized).toBe(0);
}, 120_000);

it('lists a run from an instance cache only while its run state is unchanged: the other instance’s finalize and delete show at once', async () => {
  const run = 'limits-list';
  const names = async (url: string) =>
    (await twirp(url, TOKEN, 'ListArtifacts', ids(run)))
      .json<{ artifacts: { name: string }[] }>()
      .artifacts.map((x) => x.name);
  const first = await create(a.url, run, 'first');
  await finish(a.url, run, 'first', first.json<{ signed_upload_url: string }>().signed_upload_url);
  expect(await names(b.url)).toEqual(['first']);
  expect(await names(b.url)).toEqual(['first']);
  // A create alone (no finalize) does not list.
  const second = await create(a.url, run, 'second');
  expect(await names(b.url)).toEqual(['first']);
  await finish(a.url, run, 'second', second.json<{ signed_upload_url: string }>().signed_upload_url);
  expect(await names(b.url)).toEqual(['first', 'second']);
  expect((await twirp(a.url, TOKEN, 'DeleteArtifact', { ...ids(run), name: 'first' })).status).toBe(200);
  expect(await names(b.url)).toEqual(['second']);
});
