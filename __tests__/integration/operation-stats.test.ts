/**
 * Issue 13 item 2: every result's `stats` against what a loopback ferry serve counted itself
 * (requests and connections), for both protocols, and the body bytes against the artifact.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  deleteArtifact,
  downloadArtifact,
  listArtifacts,
  uploadArtifact,
  type ArtifactClientOptions,
} from '../../src/index.js';
import type { OperationStats } from '../../src/core/stats.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { runtimeJwt } from '../helpers/jwt.js';

let work: string;
let server: RunningServer;
let files: string[];
const TOKEN = runtimeJwt('run-1', 'job-1');

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-op-stats-'));
  const source = path.join(work, 'source');
  files = [];
  await import('node:fs/promises').then((fs) => fs.mkdir(source, { recursive: true }));
  for (let i = 0; i < 5; i++) {
    const file = path.join(source, `f${i}.bin`);
    // Random bytes: the zip cannot shrink them, so bytes on the wire are about the file sizes.
    await writeFile(
      file,
      Buffer.from(Array.from({ length: 50_000 * (i + 1) }, () => Math.floor(Math.random() * 256))),
    );
    files.push(file);
  }
  server = await startServer({ dataDir: path.join(work, 'data'), port: 0, token: TOKEN });
});
afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

const protocols: Record<string, () => ArtifactClientOptions> = {
  results: () => ({ resultsUrl: server.url, runtimeToken: TOKEN }),
  legacy: () => ({ backend: 'legacy', runtimeUrl: server.url, runtimeToken: TOKEN, runId: 'run-1' }),
};

/** Runs `op` and returns the server's request and connection counts during it. */
async function counted<T>(
  op: () => Promise<T>,
): Promise<{ result: T; requests: number; connections: number }> {
  const before = server.stats();
  const result = await op();
  // The server counts a request when it arrives; everything has arrived once the call returned.
  const after = server.stats();
  return {
    result,
    requests: after.requests - before.requests,
    connections: after.connectionsOpened - before.connectionsOpened,
  };
}

const TOTAL = 50_000 * (1 + 2 + 3 + 4 + 5);

describe.each(Object.keys(protocols))('%s protocol', (protocol) => {
  const options = (): ArtifactClientOptions => (protocols[protocol] as () => ArtifactClientOptions)();
  const name = `stats-${protocol}`;

  it('upload, download and list stats match the server counts', async () => {
    const up = await counted(() => uploadArtifact(name, files, path.join(work, 'source'), options()));
    const upStats = up.result.stats as OperationStats;
    expect(upStats.requests).toBe(up.requests);
    expect(upStats.connectionsOpened).toBe(up.connections);
    expect(upStats.bytesSent).toBeGreaterThanOrEqual(up.result.uploadedBytes);
    expect(upStats.retries).toEqual({ status: 0, network: 0, rateLimit: 0 });
    expect(upStats.phases.transferMs).toBeGreaterThanOrEqual(0);

    const target = path.join(work, `out-${protocol}`);
    const down = await counted(() => downloadArtifact(name, { ...options(), path: target }));
    const downStats = down.result.stats as OperationStats;
    expect(downStats.requests).toBe(down.requests);
    expect(downStats.connectionsOpened).toBe(down.connections);
    expect(downStats.bytesReceived).toBeGreaterThanOrEqual(
      protocol === 'results' ? up.result.uploadedBytes : 1,
    );
    // Random bytes barely compress: what arrived is about what was stored, plus metadata.
    expect(downStats.bytesReceived).toBeLessThan(TOTAL * 1.2);
    expect(downStats.bytesSent).toBeLessThan(10_000);
    expect(downStats.cache).toEqual({ hits: 0, misses: 0, bytesServed: 0 });

    let listedStats: OperationStats | undefined;
    const list = await counted(() => listArtifacts({ ...options(), onStats: (s) => (listedStats = s) }));
    expect(list.result.map((a) => a.name)).toContain(name);
    expect(listedStats?.requests).toBe(list.requests);
    expect(listedStats?.connectionsOpened).toBe(list.connections);
  });
});

it('delete carries stats (results protocol)', async () => {
  await uploadArtifact('to-delete', files.slice(0, 1), path.join(work, 'source'), protocols['results']!());
  const del = await counted(() => deleteArtifact('to-delete', protocols['results']!()));
  expect(del.result.stats.requests).toBe(del.requests);
  expect(del.result.stats.requests).toBeGreaterThan(0);
});
