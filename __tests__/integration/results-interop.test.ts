import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { downloadArtifact, getArtifact, uploadArtifact } from '../../src/index.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { hashTree, writeEdgeCaseTree } from '../helpers/tree.js';

interface OfficialClient {
  uploadArtifact(
    name: string,
    files: string[],
    root: string,
  ): Promise<{ id?: number; size?: number; digest?: string }>;
  downloadArtifact(
    id: number,
    options?: { path?: string; expectedHash?: string },
  ): Promise<{ downloadPath?: string; digestMismatch?: boolean }>;
  getArtifact(name: string): Promise<{ artifact: { id: number; name: string; digest?: string } }>;
}

const TOKEN = runtimeJwt('interop-run', 'interop-job');
let server: RunningServer;
let work: string;
let source: string;
let files: string[];
let official: OfficialClient;
const saved = { ...process.env };

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-results-interop-'));
  source = path.join(work, 'source');
  files = await writeEdgeCaseTree(source);
  server = await startServer({ dataDir: path.join(work, 'data'), port: 0, token: TOKEN });
  // The official client reads its configuration from the environment on every call.
  process.env['ACTIONS_RESULTS_URL'] = server.url;
  process.env['ACTIONS_RUNTIME_TOKEN'] = TOKEN;
  process.env['GITHUB_WORKSPACE'] = work;
  // Unset means github.com; a loopback GITHUB_SERVER_URL would make the official client refuse (GHES check).
  delete process.env['GITHUB_SERVER_URL'];
  const module = (await import('actions-artifact-current')) as unknown as {
    DefaultArtifactClient: new () => OfficialClient;
  };
  official = new module.DefaultArtifactClient();
});

afterAll(async () => {
  process.env = saved;
  await server.close();
  await rm(work, { recursive: true, force: true });
});

const ferry = () => ({ resultsUrl: server.url, runtimeToken: TOKEN });

describe('results protocol interop with the official @actions/artifact 6.x', () => {
  it('official upload → Ferry download, digest verified, byte-identical', async () => {
    const uploaded = await official.uploadArtifact('from-official', files, source);
    expect(uploaded.id).toBeGreaterThan(0);
    const info = await getArtifact('from-official', ferry());
    expect(info.digest).toBe(`sha256:${uploaded.digest}`);
    const target = path.join(work, 'ferry-got');
    const debug: string[] = [];
    const logger = { debug: (m: string) => debug.push(m), info() {}, warn() {}, error() {} };
    let requests: number | undefined;
    const result = await downloadArtifact('from-official', {
      ...ferry(),
      path: target,
      logger,
      onStats: (stats) => (requests = stats.requests),
    });
    expect(result.digest).toBe(info.digest);
    // The official client's archive streams: extracted in the one pass, with no second blob GET
    // (ListArtifacts, GetSignedArtifactURL, the blob) and no fallback message.
    expect(requests).toBe(3);
    expect(debug.join('\n')).not.toMatch(/could not be extracted while it downloaded/);
    expect(await hashTree(target)).toEqual(await hashTree(source));
  });

  it('Ferry upload → official download, digest verified, byte-identical', async () => {
    const uploaded = await uploadArtifact('from-ferry', files, source, ferry());
    const { artifact } = await official.getArtifact('from-ferry');
    expect(artifact.id).toBe(uploaded.id);
    expect(artifact.digest).toBe(uploaded.digest);
    const target = path.join(work, 'official-got');
    const result = await official.downloadArtifact(artifact.id, {
      path: target,
      expectedHash: artifact.digest as string,
    });
    expect(result.digestMismatch).toBe(false);
    expect(await hashTree(target)).toEqual(await hashTree(source));
  });

  it('Ferry upload at level 0 (stored entries) → official streaming unzip reads it', async () => {
    const uploaded = await uploadArtifact('stored', files, source, { ...ferry(), compressionLevel: 0 });
    const target = path.join(work, 'official-stored');
    const result = await official.downloadArtifact(uploaded.id as number, {
      path: target,
      expectedHash: uploaded.digest as string,
    });
    expect(result.digestMismatch).toBe(false);
    expect(await hashTree(target)).toEqual(await hashTree(source));
  });
});
