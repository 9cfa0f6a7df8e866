/* global fetch */
// List latency of two `ferry serve` instances on one azure_blob store (Azurite) with many
// artifacts in one run (issue 14 item 4).
//
// Starts Azurite and two instances A and B (the library compiled to lib/: `npx tsc -p
// tsconfig.build.json`), seeds N finalized artifacts in one run, then times M ListArtifacts
// calls alternating between A and B, uploads one more artifact through A and checks that the
// very next list through B shows it, and times M more lists.
//
// The N artifacts are written straight into the container in the azure_blob store's layout, as
// far as a list reads it (the record with its metadata, and the run state; see
// src/server/results/azure/): going through the protocol costs a dozen storage calls per
// artifact, all on one run state. Their bytes and id pointers are not written (no list reads them).
//
// Usage: node bench/azure-list-latency.mjs [--artifacts 10000] [--lists 200]
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startAzurite } from './azurite.mjs';

const { values } = parseArgs({
  options: { artifacts: { type: 'string', default: '10000' }, lists: { type: 'string', default: '200' } },
});
const ARTIFACTS = Number(values.artifacts);
const LISTS = Number(values.lists);
const RUN = 'bench-list-run';
const JOB = 'bench-job';
const CONTAINER = 'ferry-list-bench';
const RPC = 'twirp/github.actions.results.api.v1.ArtifactService/';
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { startServer } = await import(path.join(repoRoot, 'lib/server/index.js'));
const { parseConnectionString } = await import(
  path.join(repoRoot, 'lib/server/results/azure/connection-string.js')
);
const { BlobServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');

const hex = (text) => Buffer.from(text, 'utf8').toString('hex');

async function upload(container, name, body, options = {}) {
  await container.getBlockBlobClient(name).upload(body, Buffer.byteLength(body), options);
}

/** N finalized artifacts in the store's layout, 64 at a time. */
async function seed(container, count) {
  const now = new Date().toISOString();
  const expires = new Date(Date.now() + 90 * 86_400_000).toISOString();
  let next = 1;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next <= count) {
        const id = next++;
        const name = `artifact-${String(id).padStart(6, '0')}`;
        const data = Buffer.from(name);
        const blobId = randomBytes(16).toString('hex');
        const record = {
          id,
          runId: RUN,
          jobId: JOB,
          name,
          blobId,
          mimeType: 'application/zip',
          version: 4,
          createdAt: now,
          updatedAt: now,
          expiresAt: expires,
          finalized: {
            size: data.length,
            digest: `sha256:${createHash('sha256').update(data).digest('hex')}`,
            at: now,
          },
        };
        const body = JSON.stringify(record);
        await upload(container, `runs/${hex(RUN)}/${hex(name)}`, body, {
          metadata: { ferryrecord: Buffer.from(body).toString('base64') },
        });
      }
    }),
  );
  await upload(container, 'ids/counter', JSON.stringify({ last: count }));
  await upload(
    container,
    `run-state/${hex(RUN)}`,
    JSON.stringify({ finalized: count, live: {}, changes: 1 }),
  );
}

async function rpc(url, method, body) {
  const res = await fetch(`${url}${RPC}${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ workflow_run_backend_id: RUN, workflow_job_run_backend_id: JOB, ...body }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${method}: ${res.status} ${text}`);
  return JSON.parse(text);
}

async function timedList(url) {
  const started = process.hrtime.bigint();
  const listed = await rpc(url, 'ListArtifacts', {});
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, count: listed.artifacts.length };
}

function summary(times) {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q) =>
    Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 100) / 100;
  return { lists: times.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) };
}

async function lists(servers, count, expected) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const { ms, count: listed } = await timedList(servers[i % servers.length].url);
    if (listed !== expected) throw new Error(`listed ${listed} artifacts, expected ${expected}`);
    times.push(ms);
  }
  return summary(times);
}

const azurite = await startAzurite(repoRoot, { inMemory: true });
const dataDir = await mkdtemp(path.join(tmpdir(), 'ferry-azure-list-bench-'));
try {
  const account = parseConnectionString(azurite.connectionString, 'bench');
  const service = new BlobServiceClient(
    account.blobEndpoint,
    new StorageSharedKeyCredential(account.accountName, account.accountKey),
  );
  const container = service.getContainerClient(CONTAINER);
  await container.create();
  const seedStarted = Date.now();
  await seed(container, ARTIFACTS);
  const seedSeconds = (Date.now() - seedStarted) / 1000;
  const options = {
    accessLog: 'off',
    limits: { maxArtifactsPerRun: ARTIFACTS + 10 },
    azure: { account, container: CONTAINER, prefix: '', createContainer: false },
  };
  const a = await startServer({ dataDir: path.join(dataDir, 'a'), ...options });
  const b = await startServer({ dataDir: path.join(dataDir, 'b'), ...options });
  // The first list of each instance reads the run's records from the container.
  const firstA = await timedList(a.url);
  const firstB = await timedList(b.url);
  const warm = await lists([a, b], LISTS, ARTIFACTS);
  // One more through A: the next list through B shows it (and reads the run again).
  const name = 'one-more';
  const created = await rpc(a.url, 'CreateArtifact', { name, version: 4 });
  const put = await fetch(created.signed_upload_url, {
    method: 'PUT',
    headers: { 'x-ms-blob-type': 'BlockBlob' },
    body: 'more',
  });
  if (put.status !== 201) throw new Error(`Put Blob: ${put.status}`);
  await rpc(a.url, 'FinalizeArtifact', { name, size: '4' });
  const afterWriteB = await timedList(b.url);
  if (afterWriteB.count !== ARTIFACTS + 1)
    throw new Error(`B listed ${afterWriteB.count} after A's finalize`);
  const afterWrite = await lists([a, b], LISTS, ARTIFACTS + 1);
  await a.close(0);
  await b.close(0);
  console.log(
    JSON.stringify(
      {
        store: 'azure_blob (Azurite)',
        instances: 2,
        artifacts: ARTIFACTS,
        node: process.version,
        seedSeconds,
        firstListMs: { a: Math.round(firstA.ms), b: Math.round(firstB.ms) },
        listsAlternatingAB: warm,
        firstListOnBAfterFinalizeOnAMs: Math.round(afterWriteB.ms),
        listsAfterOneMoreFinalize: afterWrite,
      },
      null,
      2,
    ),
  );
} finally {
  await rm(dataDir, { recursive: true, force: true });
  await azurite.stop();
}
