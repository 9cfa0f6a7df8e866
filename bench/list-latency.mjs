/* global fetch */
// List latency of `ferry serve` with many artifacts in one run (issue 14 item 4).
//
// Starts `ferry serve` (the library compiled to lib/: `npx tsc -p tsconfig.build.json`) on a data
// directory holding N finalized artifacts in one run, times M ListArtifacts calls of that run
// while one more artifact is uploaded through the protocol (the list must show it at once), and
// reports the server's cold index build.
//
// `--seed files` (default) writes the N artifacts into the data directory in the layout of the
// filesystem results store (src/server/results/layout.ts) before the server starts: creating them
// through the protocol costs several fsyncs each, which on a shared CI disk is minutes per
// thousand. `--seed protocol` creates them with CreateArtifact, Put Blob, FinalizeArtifact.
//
// Usage: node bench/list-latency.mjs [--artifacts 10000] [--lists 300] [--seed files|protocol]
import { createHash } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startFerryServe } from './ferry-serve.mjs';

const { values } = parseArgs({
  options: {
    artifacts: { type: 'string', default: '10000' },
    lists: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '16' },
    seed: { type: 'string', default: 'files' },
  },
});
const ARTIFACTS = Number(values.artifacts);
const LISTS = Number(values.lists);
const CONCURRENCY = Number(values.concurrency);
const RUN = 'bench-run-0000-0000-000000000001';
const JOB = 'bench-job-0000-0000-000000000001';
const RPC = '/twirp/github.actions.results.api.v1.ArtifactService/';

/** ferry serve on the seeded directory, with room for every artifact in one run. */
function serve(dataDir) {
  return startFerryServe([
    '--data',
    dataDir,
    '--access-log',
    'off',
    '--max-artifacts-per-run',
    String(ARTIFACTS + 10),
  ]);
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

async function createFinalized(url, i) {
  const name = `artifact-${String(i).padStart(6, '0')}`;
  const data = Buffer.from(name);
  const { signed_upload_url: upload } = await rpc(url, 'CreateArtifact', { name, version: 4 });
  const put = await fetch(upload, { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob' }, body: data });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`Put Blob: ${put.status}`);
  const hash = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  await rpc(url, 'FinalizeArtifact', { name, size: String(data.length), hash });
}

/** Writes N finalized artifacts (record, blob state, data) as the filesystem results store keeps them. */
async function seedFiles(dataDir, count) {
  const root = path.join(dataDir, 'results');
  await mkdir(path.join(root, 'artifacts'), { recursive: true });
  const now = new Date().toISOString();
  const expires = new Date(Date.now() + 90 * 86_400_000).toISOString();
  for (let id = 1; id <= count; id += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, count - id + 1) }, async (_, k) => {
        const n = id + k;
        const name = `artifact-${String(n).padStart(6, '0')}`;
        const data = Buffer.from(name);
        const sha256 = createHash('sha256').update(data).digest('hex');
        const blobId = randomBytes(16).toString('hex');
        const blobDir = path.join(root, 'blobs', blobId);
        await mkdir(path.join(blobDir, 'blocks'), { recursive: true });
        await writeFile(path.join(blobDir, 'data'), data);
        const committed = {
          size: data.length,
          sha256,
          contentType: null,
          etag: `"0x${sha256.slice(0, 24).toUpperCase()}"`,
          lastModified: now,
          blockList: null,
        };
        await writeFile(path.join(blobDir, 'state.json'), JSON.stringify({ blockIdBytes: null, committed }));
        const record = {
          id: n,
          runId: RUN,
          jobId: JOB,
          name,
          blobId,
          mimeType: 'application/zip',
          version: 4,
          createdAt: now,
          updatedAt: now,
          expiresAt: expires,
          finalized: { size: data.length, digest: `sha256:${sha256}`, at: now },
        };
        await writeFile(path.join(root, 'artifacts', `${n}.json`), JSON.stringify(record));
      }),
    );
  }
}

async function timeLists(url, count, expected) {
  const times = [];
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint();
    const res = await fetch(`${url}${RPC}ListArtifacts`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ workflow_run_backend_id: RUN, workflow_job_run_backend_id: JOB }),
    });
    const body = await res.arrayBuffer();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    bytes = body.byteLength;
    if (i === 0) {
      const listed = JSON.parse(Buffer.from(body).toString()).artifacts.length;
      if (listed !== expected) throw new Error(`listed ${listed} artifacts, expected ${expected}`);
    }
  }
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  return {
    lists: count,
    p50Ms: round(at(0.5)),
    p99Ms: round(at(0.99)),
    maxMs: round(times.at(-1)),
    responseBytes: bytes,
  };
}

const round = (ms) => Math.round(ms * 100) / 100;

const dataDir = await mkdtemp(path.join(tmpdir(), 'ferry-list-bench-'));
try {
  const seedStarted = Date.now();
  if (values.seed === 'files') await seedFiles(dataDir, ARTIFACTS);
  const startStarted = Date.now();
  const server = await serve(dataDir);
  const readyAfterMs = Date.now() - startStarted;
  if (values.seed === 'protocol') {
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < ARTIFACTS) await createFinalized(server.url, next++);
      }),
    );
  }
  const seedSeconds = (Date.now() - seedStarted) / 1000;
  const lists = await timeLists(server.url, LISTS, ARTIFACTS);
  // One more through the protocol: the very next list shows it, with no rebuild in between.
  await createFinalized(server.url, ARTIFACTS + 1);
  const afterWrite = await timeLists(server.url, Math.min(LISTS, 50), ARTIFACTS + 1);
  const cold = server.diagnostics.filter((line) => line.includes('started cold'));
  await server.stop();
  console.log(
    JSON.stringify(
      {
        artifacts: ARTIFACTS,
        seed: values.seed,
        node: process.version,
        seedSeconds,
        serverReadyAfterMs: readyAfterMs,
        coldBuild: cold,
        lists,
        listsAfterOneMoreFinalize: afterWrite,
      },
      null,
      2,
    ),
  );
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
