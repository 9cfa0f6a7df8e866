import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { downloadArtifact, uploadArtifact } from '../../src/index.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import type { AzureStoreSpec } from '../../src/server/results/azure/azure-store.js';
import { startAzurite, type Azurite, azureStoreSpec } from '../helpers/azurite.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { twirp } from '../helpers/serve-child.js';
import { rawRequest } from '../helpers/server-fixture.js';
import { hashTree, writeEdgeCaseTree } from '../helpers/tree.js';

// A fast_slow store in front of azure_blob on Azurite: uploads still go to Azure by SAS URL,
// downloads come through ferry serve, from Azure once and from the fast directory after that,
// for the Ferry SDK and the official @actions/artifact client alike.

interface OfficialClient {
  uploadArtifact(name: string, files: string[], root: string): Promise<{ id?: number; digest?: string }>;
  downloadArtifact(
    id: number,
    options?: { path?: string; expectedHash?: string },
  ): Promise<{ downloadPath?: string; digestMismatch?: boolean }>;
}

const RUN = 'fast-azure-run';
const JOB = 'fast-azure-job';
const TOKEN = runtimeJwt(RUN, JOB);
const IDS = { workflow_run_backend_id: RUN, workflow_job_run_backend_id: JOB };
let azurite: Azurite;
let work: string;
let source: string;
let files: string[];
let a: RunningServer;
let b: RunningServer;
let official: OfficialClient;
const saved = { ...process.env };

function spec(): AzureStoreSpec {
  return azureStoreSpec(azurite, 'ferry-fast-slow');
}

beforeAll(async () => {
  azurite = await startAzurite();
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-fast-azure-'));
  source = path.join(work, 'source');
  files = await writeEdgeCaseTree(source);
  const fastStore = (name: string) => ({
    path: path.join(work, name),
    eviction: { maxBytes: 64 * 1024 * 1024 },
  });
  a = await startServer({
    dataDir: path.join(work, 'a'),
    token: TOKEN,
    azure: spec(),
    fastStore: fastStore('fast-a'),
    metricsPublic: true,
  });
  b = await startServer({
    dataDir: path.join(work, 'b'),
    token: TOKEN,
    azure: spec(),
    fastStore: fastStore('fast-b'),
    metricsPublic: true,
  });
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

/** Blob downloads this instance asked Azure for, and its fast store reads by result. */
async function figures(
  server: RunningServer,
): Promise<{ azureDownloads: number; hit: number; miss: number }> {
  const text = (await rawRequest('GET', `${server.url}metrics`)).body.toString('utf8');
  const value = (pattern: RegExp): number =>
    [...text.matchAll(pattern)].reduce((sum, m) => sum + Number(m[1]), 0);
  return {
    azureDownloads: value(
      /^ferry_store_call_duration_seconds_count\{[^}]*operation="download"[^}]*\} (\S+)$/gm,
    ),
    hit: value(/^ferry_fast_store_reads_total\{[^}]*result="hit"[^}]*\} (\S+)$/gm),
    miss: value(/^ferry_fast_store_reads_total\{[^}]*result="miss"[^}]*\} (\S+)$/gm),
  };
}

it('uploads by SAS straight to Azure, downloads through ferry serve: the second from the fast store', async () => {
  const created = await twirp(a.url, TOKEN, 'CreateArtifact', { ...IDS, name: 'raw', version: 4 });
  const uploadUrl = created.json<{ signed_upload_url: string }>().signed_upload_url;
  expect(uploadUrl.startsWith(azurite.accountUrl)).toBe(true);
  const bytes = Buffer.from('bytes that live in Azure and are cached near the runners');
  expect(
    (await rawRequest('PUT', uploadUrl, { headers: { 'x-ms-blob-type': 'BlockBlob' }, body: bytes })).status,
  ).toBe(201);
  expect(
    (await twirp(a.url, TOKEN, 'FinalizeArtifact', { ...IDS, name: 'raw', size: String(bytes.length) }))
      .status,
  ).toBe(200);
  const signed = await twirp(a.url, TOKEN, 'GetSignedArtifactURL', { ...IDS, name: 'raw' });
  const downloadUrl = signed.json<{ signed_url: string }>().signed_url;
  expect(downloadUrl.startsWith(a.url)).toBe(true);
  const before = await figures(a);
  for (let i = 0; i < 2; i++) {
    const got = await rawRequest('GET', downloadUrl);
    expect(got.status).toBe(200);
    expect(got.body.equals(bytes)).toBe(true);
  }
  const after = await figures(a);
  expect(after.azureDownloads - before.azureDownloads).toBe(1);
  expect(after.miss - before.miss).toBe(1);
  expect(after.hit - before.hit).toBe(1);
  // A URL handed out by A is honoured by B (same storage account: same derived key).
  const viaB = await rawRequest('GET', downloadUrl.replace(a.url, b.url));
  expect(viaB.status).toBe(200);
  expect(viaB.body.equals(bytes)).toBe(true);
}, 60_000);

it('Ferry SDK upload → Ferry SDK and official client each download twice, the second from the fast store', async () => {
  const uploaded = await uploadArtifact('tree', files, source, { resultsUrl: a.url, runtimeToken: TOKEN });
  const before = await figures(b);
  for (const n of [1, 2]) {
    const target = path.join(work, `ferry-got-${n}`);
    const result = await downloadArtifact('tree', { resultsUrl: b.url, runtimeToken: TOKEN, path: target });
    expect(result.digest).toBe(uploaded.digest);
    expect(await hashTree(target)).toEqual(await hashTree(source));
  }
  process.env['ACTIONS_RESULTS_URL'] = b.url;
  for (const n of [1, 2]) {
    const target = path.join(work, `official-got-${n}`);
    const result = await official.downloadArtifact(uploaded.id as number, {
      path: target,
      expectedHash: uploaded.digest as string,
    });
    expect(result.digestMismatch).toBe(false);
    expect(await hashTree(target)).toEqual(await hashTree(source));
  }
  const after = await figures(b);
  expect(after.azureDownloads - before.azureDownloads).toBe(1);
  expect(after.hit - before.hit).toBe(3);
}, 60_000);

it('official client upload → official download through the fast store', async () => {
  process.env['ACTIONS_RESULTS_URL'] = a.url;
  const uploaded = await official.uploadArtifact('official', files, source);
  for (const n of [1, 2]) {
    const target = path.join(work, `official-own-${n}`);
    const result = await official.downloadArtifact(uploaded.id as number, {
      path: target,
      expectedHash: `sha256:${uploaded.digest ?? ''}`,
    });
    expect(result.digestMismatch).toBe(false);
    expect(await hashTree(target)).toEqual(await hashTree(source));
  }
}, 60_000);
