/**
 * Section S, crash consistency of `ferry serve` (issue 10 item 13): a child server is killed
 * with SIGKILL at several points of an upload, then restarted on the same data directory.
 * Uploads are driven with raw HTTP so each kill lands exactly where it should; the artifacts
 * that must survive are uploaded and downloaded with the real Ferry client.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { downloadArtifact, listArtifacts, uploadArtifact } from '../../src/index.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { childServerUnavailable, startChildServer, twirp, type ChildServer } from '../helpers/serve-child.js';
import { artifactsUrl, chunkUrl, rawRequest, startFixture } from '../helpers/server-fixture.js';
import { expectNoSecrets } from './invariants.js';

const RUN = 'run-crash';
const JOB = 'job-crash';
const TOKEN = runtimeJwt(RUN, JOB);
const fast = { retry: { baseDelayMs: 1, maxDelayMs: 5 } } as const;
const ids = { workflow_run_backend_id: RUN, workflow_job_run_backend_id: JOB };

let work: string;
let unavailable: string | undefined;
let server: ChildServer | undefined;

beforeAll(async () => {
  unavailable = await childServerUnavailable();
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-serve-crash-'));
});
afterEach(async () => {
  await server?.kill9();
  server = undefined;
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const client = (url: string) => ({ resultsUrl: url, runtimeToken: TOKEN, ...fast });
const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const blockId = (n: number): string => Buffer.from(`block-${String(n).padStart(6, '0')}`).toString('base64');

async function sourceDir(label: string, bytes: number): Promise<{ dir: string; data: Buffer }> {
  const dir = path.join(work, `src-${label}-${randomBytes(3).toString('hex')}`);
  await mkdir(dir, { recursive: true });
  const data = randomBytes(bytes);
  await writeFile(path.join(dir, 'payload.bin'), data);
  return { dir, data };
}

async function create(url: string, name: string): Promise<string> {
  const res = await twirp(url, TOKEN, 'CreateArtifact', { ...ids, name, version: 4 });
  expect(res.status).toBe(200);
  return res.json<{ signed_upload_url: string }>().signed_upload_url;
}

async function putBlock(signed: string, n: number, data: Buffer): Promise<void> {
  const res = await rawRequest('PUT', `${signed}&comp=block&blockid=${encodeURIComponent(blockId(n))}`, {
    body: data,
    headers: { 'Content-Length': data.length },
  });
  expect(res.status).toBe(201);
}

/** Starts a Put Block of `total` bytes, sends `sent` of them, and resolves once they left. */
function halfBlock(signed: string, n: number, total: number, sent: number): Promise<http.ClientRequest> {
  return new Promise((resolve) => {
    const req = http.request(`${signed}&comp=block&blockid=${encodeURIComponent(blockId(n))}`, {
      method: 'PUT',
      headers: { 'Content-Length': total },
      agent: false,
    });
    req.on('error', () => undefined);
    req.write(randomBytes(sent), () => resolve(req));
  });
}

async function commit(signed: string, count: number): Promise<void> {
  const list = Array.from({ length: count }, (_, i) => `<Latest>${blockId(i)}</Latest>`).join('');
  const res = await rawRequest('PUT', `${signed}&comp=blocklist`, {
    body: `<?xml version="1.0" encoding="utf-8"?><BlockList>${list}</BlockList>`,
  });
  expect(res.status).toBe(201);
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

type KillPoint = 'after Create' | 'mid-blocks' | 'after commit, before Finalize';

describe('[S] kill -9 of ferry serve mid-upload', () => {
  test.each<KillPoint>(['after Create', 'mid-blocks', 'after commit, before Finalize'])(
    '[X52] killed %s: after a restart the name uploads again (with and without overwrite), finalized artifacts intact, nothing half-listed',
    async (point) => {
      if (unavailable) throw new Error(unavailable);
      const dataDir = path.join(work, `data-${point.replace(/\W+/g, '-')}`);
      server = await startChildServer({ dataDir, token: TOKEN });

      // A finalized artifact that must come through every crash byte for byte.
      const kept = await sourceDir('kept', 300_000);
      await uploadArtifact('kept', [path.join(kept.dir, 'payload.bin')], kept.dir, client(server.url));

      // The victim upload, cut at `point`.
      const signed = await create(server.url, 'victim');
      if (point !== 'after Create') {
        await putBlock(signed, 0, randomBytes(200_000));
        await putBlock(signed, 1, randomBytes(200_000));
      }
      if (point === 'mid-blocks') await halfBlock(signed, 2, 1_000_000, 400_000);
      if (point === 'after commit, before Finalize') await commit(signed, 2);
      await server.kill9();

      server = await startChildServer({ dataDir, token: TOKEN });
      // Nothing half-listed: only the finalized artifact.
      const listed = await listArtifacts(client(server.url));
      expect(listed.map((a) => a.name)).toEqual(['kept']);
      // No temp file of the cut upload survived the restart.
      expect((await filesUnder(dataDir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);

      // The dead upload never finalized and is not live after a restart: a new upload of the
      // name is accepted at once, without overwrite...
      const again = await sourceDir('again', 120_000);
      const first = await uploadArtifact(
        'victim',
        [path.join(again.dir, 'payload.bin')],
        again.dir,
        client(server.url),
      );
      expect(first.size).toBeGreaterThan(0);
      // ...and replacing it with overwrite works too.
      const third = await sourceDir('third', 90_000);
      await uploadArtifact('victim', [path.join(third.dir, 'payload.bin')], third.dir, {
        ...client(server.url),
        overwrite: true,
      });

      for (const [name, data] of [
        ['kept', kept.data],
        ['victim', third.data],
      ] as const) {
        const target = path.join(work, `out-${name}-${randomBytes(3).toString('hex')}`);
        await downloadArtifact(name, { ...client(server.url), path: target });
        expect(sha(await readFile(path.join(target, 'payload.bin')))).toBe(sha(data));
      }
      expect((await listArtifacts(client(server.url))).map((a) => a.name).sort()).toEqual(['kept', 'victim']);
      expectNoSecrets(server.log.join('\n'));
    },
    60_000,
  );

  test('[X52] an upload a restarted server has seen activity on is live again: a concurrent create is refused', async () => {
    if (unavailable) throw new Error(unavailable);
    const dataDir = path.join(work, 'data-resumed');
    server = await startChildServer({ dataDir, token: TOKEN });
    const signed = await create(server.url, 'resumed');
    await putBlock(signed, 0, randomBytes(50_000));
    await server.kill9();

    server = await startChildServer({ dataDir, token: TOKEN });
    // The uploader resumes with its signed URL (same key on disk): that renews its lease.
    await putBlock(signed.replace(/^http:\/\/[^/]+\//, server.url), 1, randomBytes(50_000));
    const refused = await twirp(server.url, TOKEN, 'CreateArtifact', { ...ids, name: 'resumed', version: 4 });
    expect(refused.status).toBe(409);
    expect(refused.json<{ msg: string }>().msg).toMatch(/already being uploaded/);
  }, 30_000);

  test('[X52] legacy: a journal that says complete for bytes the disk lost is not served short after a restart', async () => {
    const fixture = await startFixture({ token: TOKEN });
    try {
      const auth = { Authorization: `Bearer ${TOKEN}` };
      const created = await rawRequest('POST', artifactsUrl(fixture.server, RUN), {
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ Type: 'actions_storage', Name: 'torn' }),
      });
      const container = created.json<{ fileContainerResourceUrl: string }>().fileContainerResourceUrl;
      const files = { 'torn/a.bin': randomBytes(10_000), 'torn/b.bin': randomBytes(10_000) };
      for (const [itemPath, data] of Object.entries(files)) {
        const put = await rawRequest('PUT', chunkUrl(container, itemPath), {
          headers: {
            ...auth,
            'Content-Range': `bytes 0-${data.length - 1}/${data.length}`,
            'Content-Length': data.length,
          },
          body: data,
        });
        expect(put.status).toBe(200);
      }
      // A power loss took the pack's tail (the journal survived): b.bin is only half there.
      const oldUrl = fixture.server.url;
      await fixture.server.close();
      await truncate(path.join(fixture.dataDir, 'legacy', 'containers', '1', 'items', 'items.pack'), 15_000);
      const server2 = await fixture.restart();
      const listing = await rawRequest('GET', `${container.replace(oldUrl, server2.url)}?itemPath=torn`, {
        headers: auth,
      });
      const paths = listing
        .json<{ value: Array<{ path: string; itemType: string }> }>()
        .value.map((e) => e.path);
      expect(paths).toContain('torn/a.bin');
      expect(paths).not.toContain('torn/b.bin');
      const a = await rawRequest('GET', chunkUrl(container.replace(oldUrl, server2.url), 'torn/a.bin'), {
        headers: auth,
      });
      expect(a.body.equals(files['torn/a.bin'])).toBe(true);
      const b = await rawRequest('GET', chunkUrl(container.replace(oldUrl, server2.url), 'torn/b.bin'), {
        headers: auth,
      });
      expect(b.status).toBe(404);
    } finally {
      await fixture.dispose();
    }
  });
});
