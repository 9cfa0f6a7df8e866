/* global fetch */
// CreateArtifact latency of `ferry serve` on an azure_blob store (Azurite), issue 14.
//
// Starts Azurite and one `ferry serve` (the library compiled to lib/: `npx tsc -p
// tsconfig.build.json`) on it, then times N CreateArtifact calls in one workflow run, one after
// the other, each a new name: every create checks the run's limits, so what it costs as the run
// grows is what this shows.
//
// `--lib DIR` runs another build of the library (say, of an older commit) for a before/after.
//
// Usage: node bench/azure-create-latency.mjs [--creates 200] [--lib lib]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startAzurite } from './azurite.mjs';

const { values } = parseArgs({
  options: { creates: { type: 'string', default: '200' }, lib: { type: 'string', default: 'lib' } },
});
const CREATES = Number(values.creates);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { startServer } = await import(path.resolve(repoRoot, values.lib, 'server/index.js'));
const { parseConnectionString } = await import(
  path.resolve(repoRoot, values.lib, 'server/results/azure/connection-string.js')
);
const RPC = 'twirp/github.actions.results.api.v1.ArtifactService/';
const RUN = 'bench-create-run';

const azurite = await startAzurite(repoRoot, { inMemory: true });
const dataDir = await mkdtemp(path.join(tmpdir(), 'ferry-create-bench-'));
try {
  const server = await startServer({
    dataDir,
    accessLog: 'off',
    azure: {
      account: parseConnectionString(azurite.connectionString, 'bench'),
      container: 'ferry-create-bench',
      prefix: '',
      createContainer: true,
    },
  });
  const times = [];
  for (let i = 0; i < CREATES; i++) {
    const started = process.hrtime.bigint();
    const res = await fetch(`${server.url}${RPC}CreateArtifact`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        workflow_run_backend_id: RUN,
        workflow_job_run_backend_id: 'job',
        name: `artifact-${i}`,
        version: 4,
      }),
    });
    const text = await res.text();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (res.status !== 200) throw new Error(`CreateArtifact ${i}: ${res.status} ${text}`);
  }
  await server.close(0);
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 10) / 10;
  console.log(
    JSON.stringify({
      creates: CREATES,
      node: process.version,
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      maxMs: at(1),
    }),
  );
} finally {
  await rm(dataDir, { recursive: true, force: true });
  await azurite.stop();
}
