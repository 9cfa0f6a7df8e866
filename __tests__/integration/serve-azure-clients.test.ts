import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { downloadArtifact, listArtifacts, uploadArtifact } from '../../src/index.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import type { AzureStoreSpec } from '../../src/server/results/azure/azure-store.js';
import { startAzurite, type Azurite, azureStoreSpec } from '../helpers/azurite.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { startChildServer, twirp, type ChildServer } from '../helpers/serve-child.js';
import { rawRequest } from '../helpers/server-fixture.js';
import { hashTree, writeEdgeCaseTree } from '../helpers/tree.js';

// Real clients (the Ferry SDK and the official @actions/artifact 6.x) against two ferry serve
// instances on one Azurite container, and an instance killed with SIGKILL mid-upload.

interface OfficialClient {
  uploadArtifact(name: string, files: string[], root: string): Promise<{ id?: number; digest?: string }>;
  downloadArtifact(
    id: number,
    options?: { path?: string; expectedHash?: string },
  ): Promise<{ downloadPath?: string; digestMismatch?: boolean }>;
  getArtifact(name: string): Promise<{ artifact: { id: number; name: string; digest?: string } }>;
}

const RUN = 'azure-run';
const JOB = 'azure-job';
const TOKEN = runtimeJwt(RUN, JOB);
let azurite: Azurite;
let work: string;
let source: string;
let files: string[];
let a: RunningServer;
let b: RunningServer;
let official: OfficialClient;
const saved = { ...process.env };

function spec(): AzureStoreSpec {
  return azureStoreSpec(azurite, 'ferry-clients');
}

beforeAll(async () => {
  azurite = await startAzurite();
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-azure-clients-'));
  source = path.join(work, 'source');
  files = await writeEdgeCaseTree(source);
  a = await startServer({ dataDir: path.join(work, 'a'), token: TOKEN, azure: spec() });
  b = await startServer({ dataDir: path.join(work, 'b'), token: TOKEN, azure: spec() });
  process.env['ACTIONS_RUNTIME_TOKEN'] = TOKEN;
  process.env['GITHUB_WORKSPACE'] = work;
  delete process.env['GITHUB_SERVER_URL'];
  const module = (await import('actions-artifact-current')) as unknown as {
    DefaultArtifactClient: new () => OfficialClient;
  };
  official = new module.DefaultArtifactClient();
}, 60_000);

afterAll(async () => {
  process.env = saved;
  await a?.close(0);
  await b?.close(0);
  await azurite?.stop();
  await rm(work, { recursive: true, force: true });
});

/** The official client reads ACTIONS_RESULTS_URL at every call: this picks the instance. */
function officialOn(server: RunningServer): OfficialClient {
  process.env['ACTIONS_RESULTS_URL'] = server.url;
  return official;
}

it('Ferry SDK upload through A → official download through B, digest verified', async () => {
  const uploaded = await uploadArtifact('ferry-a', files, source, { resultsUrl: a.url, runtimeToken: TOKEN });
  const { artifact } = await officialOn(b).getArtifact('ferry-a');
  expect(artifact.id).toBe(uploaded.id);
  const target = path.join(work, 'official-got');
  const result = await officialOn(b).downloadArtifact(artifact.id, {
    path: target,
    expectedHash: artifact.digest as string,
  });
  expect(result.digestMismatch).toBe(false);
  expect(await hashTree(target)).toEqual(await hashTree(source));
}, 60_000);

it('official upload through B → Ferry SDK list and download through A', async () => {
  const uploaded = await officialOn(b).uploadArtifact('official-b', files, source);
  const listed = await listArtifacts({ resultsUrl: a.url, runtimeToken: TOKEN });
  expect(listed.map((x) => x.name)).toEqual(expect.arrayContaining(['ferry-a', 'official-b']));
  const target = path.join(work, 'ferry-got');
  const result = await downloadArtifact('official-b', {
    resultsUrl: a.url,
    runtimeToken: TOKEN,
    path: target,
  });
  expect(result.digest).toBe(`sha256:${uploaded.digest}`);
  expect(await hashTree(target)).toEqual(await hashTree(source));
}, 60_000);

it('kill -9 of an instance mid-upload loses nothing finalized and lists nothing half-done', async () => {
  let child: ChildServer | undefined = await startChildServer({
    dataDir: path.join(work, 'child'),
    token: TOKEN,
    azure: spec(),
  });
  try {
    const ids = { workflow_run_backend_id: RUN, workflow_job_run_backend_id: JOB };
    const done = await twirp(child.url, TOKEN, 'CreateArtifact', { ...ids, name: 'done', version: 4 });
    const doneUrl = done.json<{ signed_upload_url: string }>().signed_upload_url;
    await rawRequest('PUT', doneUrl, { headers: { 'x-ms-blob-type': 'BlockBlob' }, body: 'finished' });
    expect(
      (await twirp(child.url, TOKEN, 'FinalizeArtifact', { ...ids, name: 'done', size: '8' })).status,
    ).toBe(200);
    const half = await twirp(child.url, TOKEN, 'CreateArtifact', { ...ids, name: 'half', version: 4 });
    const halfUrl = half.json<{ signed_upload_url: string }>().signed_upload_url;
    // One staged block, never committed, when the instance dies.
    const block = Buffer.from('block-000').toString('base64');
    await rawRequest('PUT', `${halfUrl}&comp=block&blockid=${encodeURIComponent(block)}`, { body: 'part' });
    await child.kill9();
    child = undefined;

    const listed = await twirp(b.url, TOKEN, 'ListArtifacts', ids);
    const names = listed.json<{ artifacts: { name: string }[] }>().artifacts.map((x) => x.name);
    expect(names).toContain('done');
    expect(names).not.toContain('half');
    const signed = await twirp(b.url, TOKEN, 'GetSignedArtifactURL', { ...ids, name: 'done' });
    const got = await rawRequest('GET', signed.json<{ signed_url: string }>().signed_url);
    expect(got.body.toString()).toBe('finished');
    // The dead upload still holds its name until its lease lapses, on every instance.
    const retry = await twirp(a.url, TOKEN, 'CreateArtifact', { ...ids, name: 'half', version: 4 });
    expect(retry.status).toBe(409);
  } finally {
    await child?.kill9();
  }
}, 120_000);
