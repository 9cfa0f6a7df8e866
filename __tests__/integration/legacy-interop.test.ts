import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { downloadArtifact, getArtifact, listArtifacts, uploadArtifact } from '../../src/index.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { hashTree, writeEdgeCaseTree } from '../helpers/tree.js';

interface OfficialClient {
  uploadArtifact(
    name: string,
    files: string[],
    root: string,
    options?: { continueOnError?: boolean },
  ): Promise<{ failedItems: string[]; size: number }>;
  downloadArtifact(
    name: string,
    path?: string,
    options?: { createArtifactFolder?: boolean },
  ): Promise<{ downloadPath: string }>;
}

const require = createRequire(import.meta.url);
const official = (): OfficialClient =>
  (require('actions-artifact-legacy') as { create(): OfficialClient }).create();

const TOKEN = 'interop-runtime-token-123';
let server: RunningServer;
let work: string;
let source: string;
let files: string[];
const saved = { ...process.env };

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-interop-'));
  source = path.join(work, 'source');
  files = await writeEdgeCaseTree(source);
  server = await startServer({ dataDir: path.join(work, 'data'), port: 0, token: TOKEN });
  // The official 1.1.x client reads its configuration from the environment at call time.
  process.env['ACTIONS_RUNTIME_URL'] = server.url;
  process.env['ACTIONS_RUNTIME_TOKEN'] = TOKEN;
  process.env['GITHUB_RUN_ID'] = '101';
  process.env['GITHUB_WORKSPACE'] = work;
});

afterAll(async () => {
  process.env = saved;
  await server.close();
  await rm(work, { recursive: true, force: true });
});

const ferryOptions = () => ({ runtimeUrl: server.url, runtimeToken: TOKEN, runId: '101' });

describe('legacy protocol interop with the official @actions/artifact 1.1.x', () => {
  it('official upload → Ferry download is byte-identical', async () => {
    const result = await official().uploadArtifact('from-official', files, source, {
      continueOnError: false,
    });
    expect(result.failedItems).toEqual([]);
    const target = path.join(work, 'ferry-got');
    const downloaded = await downloadArtifact('from-official', { ...ferryOptions(), path: target });
    expect(downloaded.fileCount).toBe(files.length);
    expect(await hashTree(target)).toEqual(await hashTree(source));
    // The official 1.1.x upload (gzip in temp files, one request per chunk) alone takes 44-53 s on
    // a busy two-core machine.
  }, 150_000);

  it('Ferry upload → official download is byte-identical', async () => {
    const uploaded = await uploadArtifact('from-ferry', files, source, ferryOptions());
    expect(uploaded.fileCount).toBe(files.length);
    // Gzip was used where it helps and skipped for already-compressed and random data.
    expect(uploaded.uploadedBytes).toBeLessThan(uploaded.size);
    const target = path.join(work, 'official-got');
    await official().downloadArtifact('from-ferry', target, { createArtifactFolder: false });
    expect(await hashTree(target)).toEqual(await hashTree(source));
  });

  it('Ferry upload → Ferry download, and list/get see both artifacts', async () => {
    await uploadArtifact('ferry-both', files, source, {
      ...ferryOptions(),
      chunkSize: 1024 * 1024,
      concurrency: 3,
    });
    const target = path.join(work, 'ferry-both-got');
    await downloadArtifact('ferry-both', { ...ferryOptions(), path: target });
    expect(await hashTree(target)).toEqual(await hashTree(source));
    const names = (await listArtifacts(ferryOptions())).map((a) => a.name).sort();
    expect(names).toEqual(expect.arrayContaining(['ferry-both', 'from-ferry', 'from-official']));
    const info = await getArtifact('ferry-both', ferryOptions());
    const total = Object.keys(await hashTree(source)).length;
    expect(total).toBe(files.length);
    expect(info.size).toBeGreaterThan(9 * 1024 * 1024);
  });

  it('a missing artifact is a typed not-found error naming it', async () => {
    await expect(
      downloadArtifact('no-such-artifact', { ...ferryOptions(), path: path.join(work, 'x') }),
    ).rejects.toMatchObject({
      code: 'ERR_FERRY_NOT_FOUND',
      message: expect.stringContaining("'no-such-artifact'"),
    });
  });

  it('a wrong token is a typed unauthorized error that does not echo the token', async () => {
    const error = await listArtifacts({ ...ferryOptions(), runtimeToken: 'wrong-token-value-987' }).catch(
      (e: unknown) => e as Error,
    );
    expect(error).toMatchObject({ code: 'ERR_FERRY_UNAUTHORIZED' });
    expect(JSON.stringify(error) + String(error)).not.toContain('wrong-token-value-987');
  });
});
