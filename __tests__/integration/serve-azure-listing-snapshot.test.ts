import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { startAzurite, type Azurite, azureStoreSpec } from '../helpers/azurite.js';
import { twirp } from '../helpers/serve-child.js';
import { rawRequest } from '../helpers/server-fixture.js';

// Issue 14 item 4 on azure_blob: a run is read whole once across instances, with a warning; a
// cold instance starts from the listing snapshot and the run state's change log instead.
const TOKEN = 'azure-snapshot-token-0123456789';
const RUN = '5151';
const ids = { workflow_run_backend_id: RUN, workflow_job_run_backend_id: '3' };
const CONTAINER = 'ferry-snapshot';
const WHOLE_READ = /reading the run's records whole/;

let azurite: Azurite;
let dir: string;
const servers: RunningServer[] = [];

interface Instance {
  server: RunningServer;
  lines: string[];
}

async function instance(label: string): Promise<Instance> {
  const lines: string[] = [];
  const server = await startServer({
    dataDir: join(dir, label),
    token: TOKEN,
    azure: azureStoreSpec(azurite, CONTAINER),
    accessLog: 'off',
    log: (line) => lines.push(line),
  });
  servers.push(server);
  return { server, lines };
}

async function upload(through: Instance, name: string): Promise<void> {
  const created = await twirp(through.server.url, TOKEN, 'CreateArtifact', { ...ids, name, version: 4 });
  expect(created.status).toBe(200);
  const data = Buffer.from(`bytes of ${name}`);
  const put = await rawRequest('PUT', created.json<{ signed_upload_url: string }>().signed_upload_url, {
    headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Length': data.length },
    body: data,
  });
  expect(put.status).toBe(201);
  const hash = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  const finalized = await twirp(through.server.url, TOKEN, 'FinalizeArtifact', {
    ...ids,
    name,
    size: String(data.length),
    hash,
  });
  expect(finalized.status).toBe(200);
}

async function names(through: Instance): Promise<string[]> {
  const listed = await twirp(through.server.url, TOKEN, 'ListArtifacts', ids);
  expect(listed.status).toBe(200);
  return listed
    .json<{ artifacts: { name: string }[] }>()
    .artifacts.map((a) => a.name)
    .sort();
}

const wholeReads = (i: Instance): number => i.lines.filter((l) => WHOLE_READ.test(l)).length;

beforeAll(async () => {
  azurite = await startAzurite();
  dir = await mkdtemp(join(tmpdir(), 'ferry-azure-snapshot-'));
}, 60_000);

afterAll(async () => {
  for (const server of servers) await server.close(0);
  await azurite?.stop();
  await rm(dir, { recursive: true, force: true });
});

it('reads a run whole once across instances; a cold instance starts from the snapshot and the change log', async () => {
  const a = await instance('a');
  for (const name of ['one', 'two', 'three']) await upload(a, name);

  expect(await names(a)).toEqual(['one', 'three', 'two']);
  expect(wholeReads(a)).toBe(1);
  expect(await names(a)).toEqual(['one', 'three', 'two']);
  expect(wholeReads(a)).toBe(1);

  // A new instance, cold: the snapshot A wrote, no whole read, and what finalized since shows.
  const b = await instance('b');
  await upload(a, 'four');
  expect(await names(b)).toEqual(['four', 'one', 'three', 'two']);
  expect(wholeReads(b)).toBe(0);
}, 120_000);

it('a snapshot that is not well formed is ignored: the run is read whole, with the warning, and listed right', async () => {
  const snapshotUrl = `${azurite.accountUrl}/${CONTAINER}/run-listing/${Buffer.from(RUN).toString('hex')}?${azurite.sas}`;
  const broken = Buffer.from(JSON.stringify({ changes: 1, at: Date.now(), records: [{ id: 'x' }] }));
  const put = await rawRequest('PUT', snapshotUrl, {
    headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Length': broken.length },
    body: broken,
  });
  expect(put.status).toBe(201);
  const c = await instance('c');
  expect(await names(c)).toEqual(['four', 'one', 'three', 'two']);
  expect(wholeReads(c)).toBe(1);
  // ... and the whole read wrote a good snapshot again: the next cold instance needs none.
  const d = await instance('d');
  expect(await names(d)).toEqual(['four', 'one', 'three', 'two']);
  expect(wholeReads(d)).toBe(0);
}, 120_000);
