import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/server/index.js';
import type { AzureStoreSpec } from '../../src/server/results/azure/azure-store.js';
import { startAzurite, type Azurite, azureStoreSpec } from '../helpers/azurite.js';
import { rawRequest } from '../helpers/server-fixture.js';

// The runs table (`ferry run record`) of an azure_blob store lives in the container: two
// instances answer the same runs API, and updates of one run on both at once are merged.
const TOKEN = 'azure-runs-token-0123456789';
const auth = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };

let azurite: Azurite;
let dir: string;
let a: RunningServer;
let b: RunningServer;

function spec(): AzureStoreSpec {
  return azureStoreSpec(azurite, 'ferry-runs', 'p/');
}

beforeAll(async () => {
  azurite = await startAzurite();
  dir = await mkdtemp(join(tmpdir(), 'ferry-azure-runs-'));
  a = await startServer({ dataDir: join(dir, 'a'), token: TOKEN, azure: spec(), accessLog: 'off' });
  b = await startServer({ dataDir: join(dir, 'b'), token: TOKEN, azure: spec(), accessLog: 'off' });
}, 60_000);

afterAll(async () => {
  await a?.close(0);
  await b?.close(0);
  await azurite?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function record(server: RunningServer, run: string, fields: object) {
  const answer = await rawRequest('PUT', `${server.url}_apis/ferry/runs/${run}`, {
    headers: auth,
    body: JSON.stringify(fields),
  });
  expect(answer.status).toBe(200);
  return answer.json<Record<string, unknown>>();
}

async function runs(server: RunningServer, query: string) {
  const answer = await rawRequest('GET', `${server.url}repos/o/r/actions/workflows/build.yml/runs?${query}`, {
    headers: auth,
  });
  expect(answer.status).toBe(200);
  return answer.json<{ total_count: number; workflow_runs: { id: number; conclusion: string | null }[] }>();
}

it('answers the latest successful run of a branch alike on both instances', async () => {
  const workflow = { path: '.github/workflows/build.yml', head_branch: 'main', event: 'push' };
  await record(a, '100', { ...workflow, status: 'in_progress' });
  await record(b, '101', { ...workflow, status: 'in_progress' });
  await record(a, '102', { ...workflow, head_branch: 'feature', conclusion: 'success' });
  // Run 100 completes, recorded through the other instance than the one that created it.
  await record(b, '100', { conclusion: 'success' });

  for (const server of [a, b]) {
    const latest = await runs(server, 'branch=main&status=success&per_page=1');
    expect(latest.total_count).toBe(1);
    expect(latest.workflow_runs[0]).toMatchObject({ id: 100, conclusion: 'success' });
    expect((await runs(server, 'branch=main')).workflow_runs.map((r) => r.id)).toEqual([101, 100]);
  }
  // Nothing went to either instance's data directory.
  expect(await readdir(join(dir, 'a')).catch(() => [])).not.toContain('runs.json');
  expect(await readdir(join(dir, 'b')).catch(() => [])).not.toContain('runs.json');
});

it('merges updates of one run made on two instances at the same moment', async () => {
  for (let round = 0; round < 5; round++) {
    const run = `20${round}`;
    await Promise.all([
      record(a, run, { path: '.github/workflows/build.yml', head_sha: `sha-${round}` }),
      record(b, run, { head_branch: 'race', event: 'pull_request' }),
    ]);
    const listed = await rawRequest('GET', `${b.url}repos/o/r/actions/runs?branch=race&event=pull_request`, {
      headers: auth,
    });
    const found = listed
      .json<{ workflow_runs: { id: number; head_sha: string; path: string }[] }>()
      .workflow_runs.find((r) => r.id === Number(run));
    expect(found).toMatchObject({ head_sha: `sha-${round}`, path: '.github/workflows/build.yml' });
  }
});
