import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { listArtifacts, uploadArtifact } from '../../src/index.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { startFaultProxy, type FaultAction, type FaultProxy } from '../helpers/fault-proxy.js';
import { runtimeJwt } from '../helpers/jwt.js';

let work: string;
let server: RunningServer;
let proxy: FaultProxy | undefined;
const TOKEN = runtimeJwt('run-idem', 'job-idem');

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-idem-'));
  await writeFile(path.join(work, 'a.txt'), 'payload '.repeat(1000));
  server = await startServer({ dataDir: path.join(work, 'data'), port: 0, token: TOKEN });
});
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});
afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

const fast = { retry: { baseDelayMs: 5, maxDelayMs: 20 } };

async function uploadThrough(name: string, decide: (method: string, nth: number) => FaultAction) {
  proxy = await startFaultProxy(server.url, (req) =>
    decide(req.url.split('?')[0]?.split('/').pop() ?? '', req.nth),
  );
  return uploadArtifact(name, [path.join(work, 'a.txt')], work, {
    resultsUrl: proxy.url,
    runtimeToken: TOKEN,
    ...fast,
  });
}

const finalizedNamed = async (name: string) =>
  (await listArtifacts({ resultsUrl: server.url, runtimeToken: TOKEN })).filter((a) => a.name === name);

describe('create and finalize are reconciled, never blindly repeated', () => {
  it('a Finalize whose response is lost after the server committed it ends with one artifact and no error', async () => {
    const result = await uploadThrough('lost-finalize', (method, nth) =>
      method === 'FinalizeArtifact' && nth === 1 ? { kind: 'reset-after-commit' } : { kind: 'pass' },
    );
    const listed = await finalizedNamed('lost-finalize');
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ id: result.id, digest: result.digest });
    // The reconcile listing found it: Finalize was sent once, not repeated.
    expect(proxy!.seen.filter((r) => r.url.endsWith('/FinalizeArtifact'))).toHaveLength(1);
  });

  it('a Finalize reset before it reached the server is sent again and succeeds', async () => {
    const result = await uploadThrough('reset-finalize', (method, nth) =>
      method === 'FinalizeArtifact' && nth === 1 ? { kind: 'reset-before-forward' } : { kind: 'pass' },
    );
    expect(await finalizedNamed('reset-finalize')).toEqual([expect.objectContaining({ id: result.id })]);
    expect(proxy!.seen.filter((r) => r.url.endsWith('/FinalizeArtifact'))).toHaveLength(2);
  });

  it('a CreateArtifact whose response is lost is reconciled and the upload completes once', async () => {
    const result = await uploadThrough('lost-create', (method, nth) =>
      method === 'CreateArtifact' && nth === 1 ? { kind: 'reset-after-commit' } : { kind: 'pass' },
    );
    expect(await finalizedNamed('lost-create')).toEqual([expect.objectContaining({ id: result.id })]);
  });

  it('a permanent Twirp error is not retried and names the artifact', async () => {
    await expect(
      uploadThrough('forbidden', (method) =>
        method === 'CreateArtifact'
          ? {
              kind: 'respond',
              status: 403,
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({
                code: 'permission_denied',
                msg: 'insufficient usage to create artifact',
              }),
            }
          : { kind: 'pass' },
      ),
    ).rejects.toMatchObject({ code: 'ERR_FERRY_QUOTA', message: expect.stringContaining("'forbidden'") });
    expect(proxy!.seen).toHaveLength(1);
  });
});

describe('downloads resume where they broke off', () => {
  it('a blob GET cut at half is resumed with Range and If-Match, and the digest still verifies', async () => {
    const { downloadArtifact } = await import('../../src/index.js');
    const { randomBytes } = await import('node:crypto');
    const { readFile } = await import('node:fs/promises');
    await writeFile(path.join(work, 'big.bin'), randomBytes(3 * 1024 * 1024));
    const uploaded = await uploadArtifact('resumable', [path.join(work, 'big.bin')], work, {
      resultsUrl: server.url,
      runtimeToken: TOKEN,
    });
    proxy = await startFaultProxy(
      server.url,
      (req) =>
        req.method === 'GET' && req.url.startsWith('/devstoreaccount1/') && req.nth === 1
          ? { kind: 'truncate-response', bytes: 1_500_000 }
          : { kind: 'pass' },
      { preserveHost: true },
    );
    const target = path.join(work, 'resumed');
    const result = await downloadArtifact('resumable', {
      resultsUrl: proxy.url,
      runtimeToken: TOKEN,
      path: target,
      ...fast,
    });
    expect(result.digest).toBe(uploaded.digest);
    expect(
      (await readFile(path.join(target, 'big.bin'))).equals(await readFile(path.join(work, 'big.bin'))),
    ).toBe(true);
    const blobGets = proxy.seen.filter((r) => r.method === 'GET' && r.url.startsWith('/devstoreaccount1/'));
    expect(blobGets).toHaveLength(2);
    expect(blobGets[1]?.headers['range']).toMatch(/^bytes=\d+-$/);
    expect(blobGets[1]?.headers['if-match']).toBeDefined();
  });
});
