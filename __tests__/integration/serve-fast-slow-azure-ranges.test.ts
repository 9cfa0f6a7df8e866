import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { parseConnectionString } from '../../src/server/results/azure/connection-string.js';
import { DEV_ACCOUNT, DEV_KEY, startAzurite, type Azurite } from '../helpers/azurite.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { twirp } from '../helpers/serve-child.js';
import { rawRequest } from '../helpers/server-fixture.js';

// A fast_slow miss over azure_blob when Azure is slow per connection: ferry serve reaches
// Azurite through the bench's throttling proxy (every connection capped, as real blob stores
// cap single streams), finds the first 8 MiB slow, and reads the rest in parallel 8 MiB ranges,
// handed to the client in order and into the fast store, which then serves the next download.

const RUN = 'ranges-run';
const JOB = 'ranges-job';
const TOKEN = runtimeJwt(RUN, JOB);
const IDS = { workflow_run_backend_id: RUN, workflow_job_run_backend_id: JOB };
const MiB = 1024 * 1024;
/** Per connection: 8 MiB take ~0.5 s, well below the 50 MB/s that keeps one stream. */
const CAP_MBPS = 16;

let azurite: Azurite;
let proxy: ChildProcessByStdio<Writable, Readable, null>;
let proxyLines: Interface;
let work: string;
let server: RunningServer;

function nextLine(): Promise<string> {
  return new Promise((resolve) => proxyLines.once('line', resolve));
}

beforeAll(async () => {
  azurite = await startAzurite();
  proxy = spawn(process.execPath, [path.resolve('bench/throttle-proxy.mjs'), '--mbps', String(CAP_MBPS)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  proxyLines = createInterface({ input: proxy.stdout });
  const { port } = JSON.parse(await nextLine()) as { port: number };
  const azuriteUrl = new URL(azurite.accountUrl);
  proxy.stdin.write(`${azuriteUrl.hostname}:${azuriteUrl.port}\n`);
  await nextLine();
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-fast-ranges-'));
  const connection = `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};BlobEndpoint=http://127.0.0.1:${port}/${DEV_ACCOUNT};`;
  server = await startServer({
    dataDir: path.join(work, 'data'),
    token: TOKEN,
    azure: {
      account: parseConnectionString(connection, 'TEST'),
      container: 'ferry-fast-ranges',
      prefix: '',
      createContainer: true,
    },
    fastStore: { path: path.join(work, 'fast') },
    metricsPublic: true,
  });
}, 60_000);

afterAll(async () => {
  await server?.close(0);
  proxy?.stdin.end();
  await azurite?.stop();
  await rm(work, { recursive: true, force: true });
});

async function figures(): Promise<{ azureDownloads: number; fills: number; hits: number }> {
  const text = (await rawRequest('GET', `${server.url}metrics`)).body.toString('utf8');
  const value = (pattern: RegExp): number =>
    [...text.matchAll(pattern)].reduce((sum, m) => sum + Number(m[1]), 0);
  return {
    azureDownloads: value(
      /^ferry_store_call_duration_seconds_count\{[^}]*operation="download"[^}]*\} (\S+)$/gm,
    ),
    fills: value(/^ferry_fast_store_fills_total\S* (\S+)$/gm),
    hits: value(/^ferry_fast_store_reads_total\{[^}]*result="hit"[^}]*\} (\S+)$/gm),
  };
}

it('reads a slow miss in parallel ranges, in order, fills the fast store, and serves the hit from it', async () => {
  const bytes = randomBytes(32 * MiB + 12_345);
  const created = await twirp(server.url, TOKEN, 'CreateArtifact', { ...IDS, name: 'big', version: 4 });
  const uploadUrl = created.json<{ signed_upload_url: string }>().signed_upload_url;
  // Past the cap (setup only): the SAS URL's account endpoint is the proxy.
  const direct = new URL(uploadUrl);
  direct.port = new URL(azurite.accountUrl).port;
  const put = await rawRequest('PUT', direct, { headers: { 'x-ms-blob-type': 'BlockBlob' }, body: bytes });
  expect(put.status).toBe(201);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const finalized = await twirp(server.url, TOKEN, 'FinalizeArtifact', {
    ...IDS,
    name: 'big',
    size: String(bytes.length),
    hash: `sha256:${sha256}`,
  });
  expect(finalized.status).toBe(200);
  const signed = await twirp(server.url, TOKEN, 'GetSignedArtifactURL', { ...IDS, name: 'big' });
  const url = signed.json<{ signed_url: string }>().signed_url;

  const before = await figures();
  // As Ferry's SDK asks a large blob: answered whole (200) on the miss.
  const miss = await rawRequest('GET', url, { headers: { Range: 'bytes=0-' } });
  expect(miss.status).toBe(200);
  expect(miss.body.equals(bytes)).toBe(true);
  const afterMiss = await figures();
  // The whole read, then 4 ranges after its first 8 MiB (8 MiB each, the last 12,345 bytes).
  expect(afterMiss.azureDownloads - before.azureDownloads).toBe(1 + 4);
  expect(afterMiss.fills - before.fills).toBe(1);

  const hit = await rawRequest('GET', url);
  expect(hit.status).toBe(200);
  expect(hit.body.equals(bytes)).toBe(true);
  const afterHit = await figures();
  expect(afterHit.azureDownloads).toBe(afterMiss.azureDownloads);
  expect(afterHit.hits - afterMiss.hits).toBe(1);
}, 120_000);
