import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/server/index.js';
import type { AzureStoreSpec } from '../../src/server/results/azure/azure-store.js';
import { startAzurite, type Azurite, azureStoreSpec } from '../helpers/azurite.js';
import { twirp } from '../helpers/serve-child.js';
import { rawRequest } from '../helpers/server-fixture.js';

// Two ferry serve instances on one Azurite container: what the azure_blob store promises.
const TOKEN = 'azure-test-token-0123456789';
const RUN = '4242';
const JOB = '7';

let azurite: Azurite;
let dir: string;
let a: RunningServer;
let b: RunningServer;

function spec(): AzureStoreSpec {
  return azureStoreSpec(azurite, 'ferry-two', 'team/');
}

beforeAll(async () => {
  azurite = await startAzurite();
  dir = await mkdtemp(join(tmpdir(), 'ferry-azure-'));
  a = await startServer({ dataDir: join(dir, 'a'), token: TOKEN, azure: spec(), accessLog: 'off' });
  b = await startServer({ dataDir: join(dir, 'b'), token: TOKEN, azure: spec(), accessLog: 'off' });
}, 60_000);

afterAll(async () => {
  await a?.close(0);
  await b?.close(0);
  await azurite?.stop();
  await rm(dir, { recursive: true, force: true });
});

const ids = { workflow_run_backend_id: RUN, workflow_job_run_backend_id: JOB };

async function create(server: RunningServer, name: string) {
  return twirp(server.url, TOKEN, 'CreateArtifact', { ...ids, name, version: 4 });
}

async function uploadThrough(server: RunningServer, finalizer: RunningServer, name: string, data: Buffer) {
  const created = await create(server, name);
  expect(created.status).toBe(200);
  const url = created.json<{ signed_upload_url: string }>().signed_upload_url;
  // The SAS URL is Azure's (Azurite's), not ferry serve's: bytes never pass through the server.
  expect(url.startsWith(`${azurite.accountUrl}/ferry-two/team/blobs/`)).toBe(true);
  const put = await rawRequest('PUT', url, {
    headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Length': data.length },
    body: data,
  });
  expect(put.status).toBe(201);
  const hash = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  return twirp(finalizer.url, TOKEN, 'FinalizeArtifact', { ...ids, name, size: String(data.length), hash });
}

it('uploads through one instance, lists and downloads through the other', async () => {
  const data = Buffer.from('bytes that go straight to Azure');
  const finalized = await uploadThrough(a, a, 'shared', data);
  expect(finalized.status).toBe(200);
  const id = finalized.json<{ artifact_id: string }>().artifact_id;

  const listed = await twirp(b.url, TOKEN, 'ListArtifacts', ids);
  expect(listed.status).toBe(200);
  const artifacts = listed.json<{ artifacts: { name: string; database_id: string; size: string }[] }>()
    .artifacts;
  expect(artifacts).toEqual([
    expect.objectContaining({ name: 'shared', database_id: id, size: String(data.length) }),
  ]);

  const signed = await twirp(b.url, TOKEN, 'GetSignedArtifactURL', { ...ids, name: 'shared' });
  const url = signed.json<{ signed_url: string }>().signed_url;
  const got = await rawRequest('GET', url);
  expect(got.status).toBe(200);
  expect(got.body).toEqual(data);
  // A read SAS does not write.
  const overwrite = await rawRequest('PUT', url, { headers: { 'x-ms-blob-type': 'BlockBlob' }, body: 'x' });
  expect(overwrite.status).toBe(403);
});

it('lets exactly one of two instances create a name at the same moment; the other answers 409', async () => {
  for (let round = 0; round < 5; round++) {
    const name = `race-${round}`;
    const answers = await Promise.all([create(a, name), create(b, name)]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(answers.find((r) => r.status === 409)?.json()).toMatchObject({ code: 'already_exists' });
  }
});

it('checks the finalized size against the blob in Azure, and never lists an unfinalized upload', async () => {
  const created = await create(a, 'sized');
  const url = created.json<{ signed_upload_url: string }>().signed_upload_url;
  await rawRequest('PUT', url, { headers: { 'x-ms-blob-type': 'BlockBlob' }, body: 'four' });
  const listed = await twirp(b.url, TOKEN, 'ListArtifacts', { ...ids, name_filter: 'sized' });
  expect(listed.json<{ artifacts: unknown[] }>().artifacts).toEqual([]);
  const wrong = await twirp(b.url, TOKEN, 'FinalizeArtifact', { ...ids, name: 'sized', size: '5' });
  expect(wrong.status).toBe(400);
  const right = await twirp(b.url, TOKEN, 'FinalizeArtifact', { ...ids, name: 'sized', size: '4' });
  expect(right.status).toBe(200);
  // Idempotent: a retry from the other instance gives the same id.
  const again = await twirp(a.url, TOKEN, 'FinalizeArtifact', { ...ids, name: 'sized', size: '4' });
  expect(again.json()).toEqual(right.json());
});

it('gives ids that are unique across instances, and deletes through either', async () => {
  const [x, y] = await Promise.all([
    uploadThrough(a, a, 'id-x', Buffer.from('x')),
    uploadThrough(b, b, 'id-y', Buffer.from('y')),
  ]);
  const idX = x.json<{ artifact_id: string }>().artifact_id;
  const idY = y.json<{ artifact_id: string }>().artifact_id;
  expect(idX).not.toBe(idY);
  const rest = await rawRequest('GET', `${b.url}repos/o/r/actions/artifacts/${idX}`, {
    headers: { Authorization: `Bearer ${TOKEN}` },
  });
  expect(rest.status).toBe(200);
  const deleted = await twirp(b.url, TOKEN, 'DeleteArtifact', { ...ids, name: 'id-x' });
  expect(deleted.status).toBe(200);
  const listed = await twirp(a.url, TOKEN, 'ListArtifacts', { ...ids, name_filter: 'id-x' });
  expect(listed.json<{ artifacts: unknown[] }>().artifacts).toEqual([]);
});

// The legacy protocol on this store: serve-azure-legacy.test.ts.

it('lets one instance at a time hold the retention sweep lease, and takes over a lapsed one', async () => {
  const { BlobServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');
  const { AzureSweepLease } = await import('../../src/server/results/azure/sweep-lease.js');
  const account = spec().account;
  const container = new BlobServiceClient(
    account.blobEndpoint,
    new StorageSharedKeyCredential(account.accountName, account.accountKey),
  ).getContainerClient('ferry-two');
  const time = <T>(_op: string, call: () => Promise<T>): Promise<T> => call();
  let clock = Date.now();
  const lease = () =>
    new AzureSweepLease(container.getBlockBlobClient('lease-test'), time, {
      now: () => clock,
      leaseMs: 60_000,
    });
  const first = lease();
  const second = lease();
  expect(await Promise.all([first.acquire(), second.acquire()]).then((r) => r.filter(Boolean).length)).toBe(
    1,
  );
  const holder = (await first.acquire()) ? first : second;
  const other = holder === first ? second : first;
  expect(await other.acquire()).toBe(false);
  await holder.release();
  expect(await other.acquire()).toBe(true);
  // The new holder dies without releasing: after the lease time the other takes over.
  expect(await holder.acquire()).toBe(false);
  clock += 61_000;
  expect(await holder.acquire()).toBe(true);
});

it('runs the retention sweep of two instances one at a time', async () => {
  const before = a.sweepStats().runs + b.sweepStats().runs;
  await Promise.all([a.sweep(), b.sweep()]);
  const after = a.sweepStats().runs + b.sweepStats().runs;
  // Both may run one after the other (the lease is released at the end), never both at once;
  // at least one sweep happened.
  expect(after - before).toBeGreaterThanOrEqual(1);
  expect(a.sweepStats().failures + b.sweepStats().failures).toBe(0);
});
