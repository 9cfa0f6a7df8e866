import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { startServer } from '../../src/server/index.js';
import { DEFAULT_LIMITS } from '../../src/server/http/limits.js';
import type { ResultsArtifact } from '../../src/server/results/artifact-index.js';
import { openAzureStore, type AzureStoreSpec } from '../../src/server/results/azure/azure-store.js';
import { RunBlobSweep } from '../../src/server/results/azure/run-blob-sweep.js';
import { AzureRunState } from '../../src/server/results/azure/run-state.js';
import { hex, type Timed } from '../../src/server/results/azure/small-json.js';
import type { ResultsStore } from '../../src/server/results/store.js';
import { RetentionSweeper } from '../../src/server/retention/sweeper.js';
import { startAzurite, type Azurite, azureStoreSpec } from '../helpers/azurite.js';
import { rawRequest } from '../helpers/server-fixture.js';

// The retention sweep's care of the azure_blob results store's per-run blobs: drifted run-state
// counts recounted and corrected, and the run-state and run-listing blobs of emptied runs
// deleted without racing a create, on Azurite.
const time: Timed = (_operation, call) => call();
let azurite: Azurite;
let x: ResultsStore;
let y: ResultsStore;

function spec(): AzureStoreSpec {
  return azureStoreSpec(azurite, 'ferry-run-sweep');
}

async function container(): Promise<ContainerClient> {
  const { BlobServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');
  const account = spec().account;
  return new BlobServiceClient(
    account.blobEndpoint,
    new StorageSharedKeyCredential(account.accountName, account.accountKey),
  ).getContainerClient('ferry-run-sweep');
}

async function open(): Promise<ResultsStore> {
  return openAzureStore(spec(), { limits: DEFAULT_LIMITS, signedUrlTtlMs: 60_000, time });
}

beforeAll(async () => {
  azurite = await startAzurite();
  x = await open();
  y = await open();
}, 60_000);

afterAll(async () => {
  await azurite?.stop();
});

async function upload(store: ResultsStore, runId: string, name: string): Promise<ResultsArtifact> {
  const created = await store.records.create({
    runId,
    jobId: 'job',
    name,
    mimeType: 'application/zip',
    version: 4,
    expiresAt: new Date(Date.now() + 86_400_000),
  });
  const data = Buffer.from(`bytes of ${name}`);
  await (await container()).getBlockBlobClient(`blobs/${created.blobId}`).upload(data, data.length);
  return store.records.finalize({ runId, name, size: data.length, hash: undefined });
}

async function state(runId: string): Promise<Record<string, unknown> | undefined> {
  const blob = (await container()).getBlockBlobClient(`run-state/${hex(runId)}`);
  if (!(await blob.exists())) return undefined;
  return JSON.parse((await blob.downloadToBuffer()).toString('utf8')) as Record<string, unknown>;
}

async function writeState(runId: string, value: unknown): Promise<void> {
  const body = JSON.stringify(value);
  await (await container()).getBlockBlobClient(`run-state/${hex(runId)}`).upload(body, body.length);
}

/** Every record's blob id by run, as AzureRecords lists them for the sweep (from the metadata). */
async function blobIdsByRun(): Promise<Map<string, { all: Set<string>; finalized: Set<string> }>> {
  const runs = new Map<string, { all: Set<string>; finalized: Set<string> }>();
  for await (const item of (await container()).listBlobsFlat({ prefix: 'runs/', includeMetadata: true })) {
    const record = JSON.parse(
      Buffer.from(item.metadata!['ferryrecord']!, 'base64').toString('utf8'),
    ) as ResultsArtifact;
    const ids = runs.get(record.runId) ?? { all: new Set<string>(), finalized: new Set<string>() };
    runs.set(record.runId, ids);
    ids.all.add(record.blobId);
    if (record.finalized) ids.finalized.add(record.blobId);
  }
  return runs;
}

async function exists(name: string): Promise<boolean> {
  return (await container()).getBlockBlobClient(name).exists();
}

it('recounts a run state whose counts drifted, once two sweeps agree on it', async () => {
  await upload(x, 'drift', 'one');
  await upload(x, 'drift', 'two');
  // A crash between writes: a finalize counted twice, and a slot of an upload that left no record.
  const drifted = { ...(await state('drift')), finalized: 5, live: { gone: { name: 'x', until: 1 } } };
  await writeState('drift', drifted);
  const sweeper = new RetentionSweeper(x.records);
  await sweeper.sweep();
  // The first sweep only notes it: a delete in flight looks the same for a moment.
  expect(sweeper.stats().runStateCorrections).toBe(0);
  await sweeper.sweep();
  expect(sweeper.stats().runStateCorrections).toBe(1);
  expect(await state('drift')).toMatchObject({ finalized: 2, live: {} });
  // Correct counts stay as they are.
  await sweeper.sweep();
  expect(sweeper.stats().runStateCorrections).toBe(1);
  expect(sweeper.stats().runBlobsDeleted).toBe(0);
  expect((await x.records.list({ runId: 'drift' })).map((r) => r.name)).toEqual(['one', 'two']);
});

it('does not correct a disagreement that is a delete in flight', async () => {
  await upload(x, 'inflight', 'a');
  await upload(x, 'inflight', 'b');
  const sweeper = new RetentionSweeper(x.records);
  await sweeper.sweep();
  // The record of `a` is deleted; its count update lands only after the next sweep looked.
  await (await container()).getBlockBlobClient(`runs/${hex('inflight')}/${hex('a')}`).delete();
  await sweeper.sweep();
  // The delete's own update (as AzureRecords.remove makes it) lands now: 2 - 1 = 1, changes + 1.
  const before = (await state('inflight'))!;
  await writeState('inflight', { ...before, finalized: 1, changes: (before.changes as number) + 1 });
  await sweeper.sweep();
  expect(sweeper.stats().runStateCorrections).toBe(0);
  expect(await state('inflight')).toMatchObject({ finalized: 1 });
});

it('deletes the run state and listing snapshot of a run whose artifacts are all gone; a later upload starts afresh', async () => {
  await upload(x, 'emptied', 'only');
  // Y lists the run (writing its snapshot and caching the listing at the state's change number).
  expect((await y.records.list({ runId: 'emptied' })).map((r) => r.name)).toEqual(['only']);
  expect(await exists(`run-listing/${hex('emptied')}`)).toBe(true);
  await x.records.remove('emptied', 'only');
  expect(await y.records.list({ runId: 'emptied' })).toEqual([]);

  const sweeper = new RetentionSweeper(x.records);
  await sweeper.sweep();
  expect(sweeper.stats().runBlobsDeleted).toBe(2);
  expect(await state('emptied')).toBeUndefined();
  expect(await exists(`run-listing/${hex('emptied')}`)).toBe(false);

  // Two new artifacts bring the new state to the change number Y's cached listing is at (2):
  // the listing must not be taken for current (the state's epoch differs).
  await upload(x, 'emptied', 'new-a');
  await upload(x, 'emptied', 'new-b');
  expect((await state('emptied'))?.changes).toBe(2);
  expect((await y.records.list({ runId: 'emptied' })).map((r) => r.name)).toEqual(['new-a', 'new-b']);
  await sweeper.sweep();
  expect(await state('emptied')).toMatchObject({ finalized: 2 });
});

it('keeps the run state when a create takes a slot in it while the sweep looks', async () => {
  await upload(x, 'raced', 'old');
  await x.records.remove('raced', 'old');
  const c = await container();
  const runs = new AzureRunState((runId) => c.getBlockBlobClient(`run-state/${hex(runId)}`), {
    time,
    limits: DEFAULT_LIMITS,
    now: Date.now,
  });
  const sweep = new RunBlobSweep(c, '', runs, { time, now: Date.now });
  let created: ResultsArtifact | undefined;
  // The records are listed after the states were read: a create lands in between, and the
  // listing (taken, as it were, a moment before) does not show it.
  const report = await sweep.sweep(async () => {
    const listed = await blobIdsByRun();
    created = await y.records.create({
      runId: 'raced',
      jobId: 'job',
      name: 'new',
      mimeType: 'application/zip',
      version: 4,
      expiresAt: new Date(Date.now() + 86_400_000),
    });
    return listed;
  });
  expect(report.deleted).toBe(0);
  expect(created).toBeDefined();
  expect(Object.keys((await state('raced'))?.live as object)).toEqual([created!.blobId]);
  const data = Buffer.from('bytes of new');
  await c.getBlockBlobClient(`blobs/${created!.blobId}`).upload(data, data.length);
  await y.records.finalize({ runId: 'raced', name: 'new', size: data.length, hash: undefined });
  expect((await x.records.list({ runId: 'raced' })).map((r) => r.name)).toEqual(['new']);
  expect(await state('raced')).toMatchObject({ finalized: 1, live: {} });
});

it('reports both in /metrics', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-run-sweep-'));
  const server = await startServer({ dataDir: dir, azure: spec(), accessLog: 'off' });
  try {
    await upload(x, 'metered', 'only');
    await x.records.remove('metered', 'only');
    await server.sweep();
    const text = (await rawRequest('GET', new URL('metrics', server.url))).body.toString();
    expect(text).toMatch(/^ferry_sweep_run_blobs_deleted_total\{[^}]*\} [1-9]\d*$/m);
    expect(text).toMatch(/^ferry_sweep_run_state_corrections_total\{[^}]*\} \d+$/m);
  } finally {
    await server.close(0);
    await rm(dir, { recursive: true, force: true });
  }
});
