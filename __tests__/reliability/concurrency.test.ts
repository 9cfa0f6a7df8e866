import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startLoopback } from '../helpers/loopback.js';
import {
  deleteArtifact,
  downloadArtifact,
  listArtifacts,
  uploadArtifact,
  type ArtifactClientOptions,
  type UploadArtifactResponse,
} from '../../src/index.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { ArtifactIndex } from '../../src/server/results/artifact-index.js';
import { BlobStore } from '../../src/server/results/blob-store.js';
import { ResultsLayout } from '../../src/server/results/layout.js';
import { SENTINEL, expectNoSecrets, snapshotTree } from './invariants.js';

// ---------------------------------------------------------------------------------------------
// Harness: ferry serve behind a gate proxy whose async hook runs before each request is
// forwarded, so a test can line requests up (a barrier) or change the store between two calls.
// ---------------------------------------------------------------------------------------------

interface SeenRequest {
  method: string;
  /** Path without the query (signatures never reach the test output). */
  path: string;
  /** The Twirp method, or the Azure `comp` for blob PUTs. */
  call: string;
  /** Which uploader sent it, by the `x-test-client` the test's client adds (via the proxy user). */
  token: string;
}

interface GateProxy {
  url: string;
  seen: SeenRequest[];
  /** Client sockets open right now. */
  readonly open: number;
  close(): Promise<void>;
}

type Hook = (req: SeenRequest) => Promise<void> | void;

function callOf(method: string, url: URL): string {
  const twirp = /ArtifactService\/([^/]+)$/.exec(url.pathname);
  if (twirp) return twirp[1] as string;
  if (url.pathname.includes('/_apis/pipelines/')) return `${method} artifacts`;
  if (url.pathname.includes('/_apis/resources/Containers/')) return `${method} container`;
  return `${method} blob${url.searchParams.get('comp') ? ` ${url.searchParams.get('comp')}` : ''}`;
}

/**
 * A forwarding HTTP server in front of ferry serve. The upstream sees the proxy's Host, so the
 * signed blob URLs (and legacy container URLs) it hands out point back at the proxy and every
 * request of an operation passes the hook.
 */
async function startGateProxy(upstream: string, hook: Hook = () => undefined): Promise<GateProxy> {
  const target = new URL(upstream);
  const seen: SeenRequest[] = [];
  const agent = new http.Agent({ keepAlive: false });
  const loopback = await startLoopback((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const auth = req.headers.authorization ?? '';
    const info: SeenRequest = {
      method: req.method ?? '',
      path: url.pathname,
      call: callOf(req.method ?? '', url),
      token: auth,
    };
    seen.push(info);
    Promise.resolve()
      .then(() => hook(info))
      .then(
        () => {
          const upstreamReq = http.request(
            {
              host: target.hostname,
              port: target.port,
              method: req.method,
              path: req.url,
              agent,
              headers: req.headers,
            },
            (upstreamRes) => {
              res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
              upstreamRes.pipe(res);
            },
          );
          upstreamReq.on('error', () => req.socket.destroy());
          req.pipe(upstreamReq);
        },
        () => req.socket.destroy(),
      );
  });
  return {
    url: loopback.url,
    seen,
    get open() {
      return loopback.open;
    },
    close: async () => {
      await loopback.close();
      agent.destroy();
    },
  };
}

/**
 * Resolves once `n` parties have arrived, so their requests reach the server together. A party
 * that never comes (its upload already failed) must not hang the others: after `fallbackMs`
 * whoever is waiting goes on.
 */
function barrier(n: number, fallbackMs = 1500): () => Promise<void> {
  let arrived = 0;
  let release!: () => void;
  const all = new Promise<void>((resolve) => (release = resolve));
  return () => {
    arrived++;
    if (arrived >= n) release();
    else if (arrived === 1) setTimeout(release, fallbackMs).unref();
    return all;
  };
}

// ---------------------------------------------------------------------------------------------

const RUN = 'run-concurrency';
/** A JWT-shaped runtime token per job, signed with the sentinel so a leak would show. */
function token(job: string): string {
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({
    scp: `Actions.ExampleScope Actions.Results:${RUN}:${job}`,
    ac: '[]',
  })}.${SENTINEL.tokenSignature}`;
}

/** The base64url JWT payload of a job's token: how the proxy tells the uploaders apart. */
function jobPayload(job: string): string {
  return token(job).split('.')[1] as string;
}

const fast = { retry: { baseDelayMs: 1, maxDelayMs: 5 } } as const;

let work: string;
let server: RunningServer;
let proxies: GateProxy[] = [];

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-concurrency-'));
  server = await startServer({ dataDir: path.join(work, 'data'), port: 0 });
});
afterEach(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  proxies = [];
});
afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

async function gate(hook?: Hook): Promise<GateProxy> {
  const proxy = await startGateProxy(server.url, hook);
  proxies.push(proxy);
  return proxy;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** A source tree of `files` files, each distinct per `tag`, big enough to take several requests. */
async function sourceTree(tag: string, files = 4, size = 300_000): Promise<string> {
  const dir = path.join(work, `src-${tag}-${randomBytes(4).toString('hex')}`);
  await mkdir(path.join(dir, 'sub'), { recursive: true });
  for (let i = 0; i < files; i++) {
    const rel = i % 2 ? `sub/f${i}.bin` : `f${i}.bin`;
    await writeFile(path.join(dir, rel), Buffer.concat([Buffer.from(`${tag}:${i}:`), randomBytes(size)]));
  }
  return dir;
}

async function filesOf(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) await walk(full);
      else out.push(full);
    }
  };
  await walk(dir);
  return out.sort();
}

/** Relative path -> sha256 of every file below `dir`. */
async function hashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const file of await filesOf(dir)) {
    out[path.relative(dir, file).split(path.sep).join('/')] = sha256(await readFile(file));
  }
  return out;
}

type Settled = PromiseSettledResult<UploadArtifactResponse>;

function split(results: Settled[]): { won: number[]; lost: Array<{ index: number; reason: unknown }> } {
  const won: number[] = [];
  const lost: Array<{ index: number; reason: unknown }> = [];
  results.forEach((r, index) =>
    r.status === 'fulfilled' ? won.push(index) : lost.push({ index, reason: r.reason }),
  );
  return { won, lost };
}

const resultsOptions = (proxy: GateProxy, job: string, extra: Partial<ArtifactClientOptions> = {}) => ({
  resultsUrl: proxy.url,
  runtimeToken: token(job),
  ...fast,
  ...extra,
});

describe('P41: two uploads of one name at the same time (results protocol)', () => {
  test('[P41] exactly one wins, the other gets ERR_FERRY_CONFLICT naming the artifact, the bytes are the winner’s', async () => {
    const name = 'same-name';
    const sources = [await sourceTree('A'), await sourceTree('B')];
    const atCreate = barrier(2);
    const proxy = await gate(async (req) => {
      // Both CreateArtifact calls reach the server together: a real race, not one after the other.
      if (req.call === 'CreateArtifact') await atCreate();
    });
    const results = await Promise.allSettled(
      sources.map(async (dir, i) =>
        uploadArtifact(name, await filesOf(dir), dir, resultsOptions(proxy, `job-${i}`)),
      ),
    );
    const { won, lost } = split(results);
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const error = lost[0]?.reason;
    expect(error).toMatchObject({
      code: 'ERR_FERRY_CONFLICT',
      retryable: false,
      context: expect.objectContaining({ operation: 'upload', artifactName: name }),
    });
    expect((error as Error).message).toContain(`'${name}'`);
    expectNoSecrets(error);

    // One artifact, one finalize, and its content is entirely the winner's.
    const listed = (await listArtifacts({ resultsUrl: server.url, runtimeToken: token('job-0') })).filter(
      (a) => a.name === name,
    );
    expect(listed).toHaveLength(1);
    expect(proxy.seen.filter((r) => r.call === 'FinalizeArtifact')).toHaveLength(1);
    const target = path.join(work, 'p41-out');
    await downloadArtifact(name, { resultsUrl: server.url, runtimeToken: token('job-0'), path: target });
    expect(await hashes(target)).toEqual(await hashes(sources[won[0] as number] as string));
    expect(proxy.open).toBe(0);
  });
});

/** Uploads `sources` concurrently as `name` through `proxy`, one job per source. */
function uploadAll(
  proxy: GateProxy,
  name: string,
  sources: string[],
  extra: Partial<Parameters<typeof uploadArtifact>[3]> = {},
): Promise<Settled[]> {
  return Promise.allSettled(
    sources.map(async (dir, i) =>
      uploadArtifact(name, await filesOf(dir), dir, { ...resultsOptions(proxy, `job-${i}`), ...extra }),
    ),
  );
}

/**
 * The P41/P42 outcome invariants: at least one uploader wins (never both lose to each other),
 * exactly one artifact of the name is listed, and it is byte for byte one winner's content (the
 * last one to finalize); every loser has a typed error naming the artifact and no secret.
 */
async function expectOneWholeWinner(name: string, sources: string[], results: Settled[]): Promise<number> {
  const { won, lost } = split(results);
  expect(won.length).toBeGreaterThanOrEqual(1);
  for (const { reason } of lost) {
    expect(reason).toMatchObject({
      code: 'ERR_FERRY_CONFLICT',
      context: expect.objectContaining({ operation: 'upload', artifactName: name }),
    });
    expect((reason as Error).message).toContain(`'${name}'`);
    expectNoSecrets(reason);
  }
  const listed = (await listArtifacts({ resultsUrl: server.url, runtimeToken: token('job-0') })).filter(
    (a) => a.name === name,
  );
  expect(listed).toHaveLength(1);
  const target = path.join(work, `out-${randomBytes(4).toString('hex')}`);
  await downloadArtifact(name, { resultsUrl: server.url, runtimeToken: token('job-0'), path: target });
  const stored = await hashes(target);
  const owner = won.filter(
    (i) => (results[i] as PromiseFulfilledResult<UploadArtifactResponse>).value.id === listed[0]?.id,
  );
  expect(owner).toHaveLength(1);
  expect(stored).toEqual(await hashes(sources[owner[0] as number] as string));
  return owner[0] as number;
}

describe('P42: overwrite racing (results protocol)', () => {
  async function withOld(name: string): Promise<void> {
    const old = await sourceTree('old', 1, 1000);
    await uploadArtifact(name, await filesOf(old), old, {
      resultsUrl: server.url,
      runtimeToken: token('job-old'),
    });
  }

  test('[P42] both list and delete the old artifact at the same moment: one artifact remains, whole', async () => {
    const name = 'overwrite-same-moment';
    await withOld(name);
    const sources = [await sourceTree('A'), await sourceTree('B')];
    const atDelete = barrier(2);
    const atCreate = barrier(2);
    const proxy = await gate(async (req) => {
      if (req.call === 'DeleteArtifact') await atDelete();
      if (req.call === 'CreateArtifact') await atCreate();
    });
    const results = await uploadAll(proxy, name, sources, { overwrite: true });
    await expectOneWholeWinner(name, sources, results);
    expect(proxy.open).toBe(0);
  });

  test('[P42] the second overwrite arrives while the first is uploading: it is refused, the first stays whole', async () => {
    const name = 'overwrite-while-uploading';
    await withOld(name);
    const sources = [await sourceTree('A'), await sourceTree('B')];
    let releaseA!: () => void;
    const aMayCommit = new Promise<void>((resolve) => (releaseA = resolve));
    let bDone!: () => void;
    const bFinished = new Promise<void>((resolve) => (bDone = resolve));
    const proxy = await gate(async (req) => {
      // A (job-0) has created its artifact and staged blocks; hold its commit until B is through.
      if (req.call === 'PUT blob blocklist') await aMayCommit;
    });
    const a = uploadArtifact(name, await filesOf(sources[0] as string), sources[0] as string, {
      ...resultsOptions(proxy, 'job-0'),
      overwrite: true,
    });
    await waitUntil(() => proxy.seen.some((r) => r.call === 'PUT blob blocklist'));
    const b = uploadArtifact(name, await filesOf(sources[1] as string), sources[1] as string, {
      ...resultsOptions(proxy, 'job-1'),
      overwrite: true,
    }).finally(() => bDone());
    await bFinished.catch(() => undefined);
    releaseA();
    const results = await Promise.allSettled([a, b]);
    expect(split(results).won).toEqual([0]);
    await expectOneWholeWinner(name, sources, results);
  });

  test('[P42] the second overwrite deletes while the first is uploading: the upload in progress survives', async () => {
    const name = 'overwrite-delete-in-progress';
    await withOld(name);
    const sources = [await sourceTree('A'), await sourceTree('B')];
    const atList = barrier(2);
    let releaseA!: () => void;
    const aMayCommit = new Promise<void>((resolve) => (releaseA = resolve));
    let heldOne = false;
    const proxy = await gate(async (req) => {
      // Both saw the old artifact; A deleted it and is now uploading; B's delete comes after.
      if (req.call === 'ListArtifacts') await atList();
      // Only A's commit (the first one) is held; blob requests carry no token to tell them apart.
      if (req.call === 'PUT blob blocklist' && !heldOne) {
        heldOne = true;
        await aMayCommit;
      }
      if (req.call === 'DeleteArtifact' && req.token.includes(jobPayload('job-1'))) {
        await waitUntil(() => proxy.seen.some((r) => r.call === 'PUT blob blocklist'));
      }
    });
    const a = uploadArtifact(name, await filesOf(sources[0] as string), sources[0] as string, {
      ...resultsOptions(proxy, 'job-0'),
      overwrite: true,
    });
    const b = uploadArtifact(name, await filesOf(sources[1] as string), sources[1] as string, {
      ...resultsOptions(proxy, 'job-1'),
      overwrite: true,
    });
    const bResult = await Promise.allSettled([b]);
    releaseA();
    const results = [...(await Promise.allSettled([a])), ...bResult];
    expect(split(results).won).toEqual([0]);
    await expectOneWholeWinner(name, sources, results);
  });

  test('[P42] the second overwrite starts after the first finished: both succeed, the later one is stored whole', async () => {
    const name = 'overwrite-sequential';
    await withOld(name);
    const sources = [await sourceTree('A'), await sourceTree('B')];
    const proxy = await gate();
    const first = await uploadAll(proxy, name, [sources[0] as string], { overwrite: true });
    const second = await Promise.allSettled([
      uploadArtifact(name, await filesOf(sources[1] as string), sources[1] as string, {
        ...resultsOptions(proxy, 'job-1'),
        overwrite: true,
      }),
    ]);
    expect(first[0]?.status).toBe('fulfilled');
    expect(second[0]?.status).toBe('fulfilled');
    // Sequential overwrites are not a race: the later upload replaced the earlier one.
    expect(await expectOneWholeWinner(name, sources, [...first, ...second])).toBe(1);
  });

  test('[P42] four overwriting uploads at once: never zero artifacts, one whole winner', async () => {
    const name = 'overwrite-four';
    await withOld(name);
    const sources = await Promise.all(['A', 'B', 'C', 'D'].map((t) => sourceTree(t, 3, 100_000)));
    const proxy = await gate();
    const results = await uploadAll(proxy, name, sources, { overwrite: true });
    await expectOneWholeWinner(name, sources, results);
  });
});

async function waitUntil(predicate: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('P41/P42: the server holds a name for an upload in progress, not forever', () => {
  async function openIndex(clock: { now: number }) {
    const layout = new ResultsLayout(path.join(work, `index-${randomBytes(4).toString('hex')}`));
    const blobs = await BlobStore.open(layout);
    return ArtifactIndex.open(layout, blobs, { uploadLeaseMs: 60_000, now: () => clock.now });
  }
  const input = (jobId: string) => ({
    runId: 'r',
    jobId,
    name: 'held',
    mimeType: 'application/zip',
    version: 7,
    expiresAt: new Date(Date.now() + 86_400_000),
  });

  test('[P41] a second create is refused while the first upload is active, and replaces it once abandoned', async () => {
    const clock = { now: 1_000_000 };
    const index = await openIndex(clock);
    const first = await index.create(input('job-a'));
    await expect(index.create(input('job-b'))).rejects.toMatchObject({
      code: 'already_exists',
      message: expect.stringMatching(/being uploaded.*job-a/),
    });
    // Writes renew the lease: 50 s idle, a write, another 50 s: still held.
    clock.now += 50_000;
    expect(index.isWritable(first.blobId)).toBe(true);
    clock.now += 50_000;
    await expect(index.create(input('job-b'))).rejects.toMatchObject({ code: 'already_exists' });
    // 60 s without activity: abandoned; the next create takes the name and the old blob is dead.
    clock.now += 10_001;
    const second = await index.create(input('job-b'));
    expect(second.id).toBeGreaterThan(first.id);
    expect(index.byBlob(first.blobId)).toBeUndefined();
    expect(index.isWritable(first.blobId)).toBe(false);
  });

  test('[P42] DeleteArtifact spares another job’s live upload (409), deletes its own and abandoned ones', async () => {
    const clock = { now: 2_000_000 };
    const index = await openIndex(clock);
    const live = await index.create(input('job-a'));
    await expect(index.remove('r', 'held', 'job-b')).rejects.toMatchObject({ code: 'already_exists' });
    expect(index.byBlob(live.blobId)).toBeDefined();
    // The same job clears its own unanswered create (the client's reconcile path).
    expect((await index.remove('r', 'held', 'job-a'))?.id).toBe(live.id);
    const again = await index.create(input('job-a'));
    clock.now += 60_000;
    expect((await index.remove('r', 'held', 'job-b'))?.id).toBe(again.id);
    expect(await index.remove('r', 'held', 'job-b')).toBeUndefined();
  });
});

describe('P43: two downloads into one directory at the same time', () => {
  const direct = (job = 'job-0') => ({ resultsUrl: server.url, runtimeToken: token(job), ...fast });

  /** Two artifacts with the same 30 paths and different bytes (plus one path of their own each). */
  async function overlappingPair(prefix: string): Promise<{ names: string[]; sources: string[] }> {
    const names = [`${prefix}-a`, `${prefix}-b`];
    const sources: string[] = [];
    for (const name of names) {
      const dir = await sourceTree(name, 30, 20_000);
      await writeFile(path.join(dir, `only-${name}.txt`), name);
      await uploadArtifact(name, await filesOf(dir), dir, direct());
      sources.push(dir);
    }
    return { names, sources };
  }

  /** A target with a sentinel sibling outside it; returns what to compare afterwards. */
  async function targetWithSentinel(label: string): Promise<{ target: string; outside: string }> {
    const base = path.join(work, `${label}-${randomBytes(4).toString('hex')}`);
    const target = path.join(base, 'target');
    const outside = path.join(base, 'outside');
    await mkdir(target, { recursive: true });
    await mkdir(outside, { recursive: true });
    await writeFile(path.join(outside, 'sentinel.txt'), 'do not touch');
    return { target, outside };
  }

  /** Both blob GETs are answered together, so both extractions move files at the same time. */
  async function racingDownloads(names: string[], target: string, conflict: 'error' | 'overwrite' | 'skip') {
    const atBlob = barrier(names.length);
    const proxy = await gate(async (req) => {
      if (req.call === 'GET blob') await atBlob();
    });
    const results = await Promise.allSettled(
      names.map((name, i) =>
        downloadArtifact(name, {
          resultsUrl: proxy.url,
          runtimeToken: token(`job-${i}`),
          ...fast,
          path: target,
          conflict,
        }),
      ),
    );
    expect(proxy.seen.filter((r) => r.call === 'GET blob')).toHaveLength(names.length);
    // The client closed its sockets (the proxy hears the FIN a moment later).
    await waitUntil(() => proxy.open === 0, 2000);
    return results;
  }

  /** No torn file: every file in the target is byte for byte the version of one of the sources. */
  async function expectNoTornFiles(target: string, sources: string[]): Promise<Record<string, string>> {
    const stored = await hashes(target);
    const versions = await Promise.all(sources.map((s) => hashes(s)));
    for (const [rel, digest] of Object.entries(stored)) {
      expect({ rel, whole: versions.some((v) => v[rel] === digest) }).toEqual({ rel, whole: true });
    }
    // No staging directory is left behind by either extraction.
    expect((await readdir(target)).filter((n) => n.startsWith('.ferry'))).toEqual([]);
    return stored;
  }

  test('[P43] the same artifact twice with conflict error: identical files are accepted, the tree is whole', async () => {
    const { names, sources } = await overlappingPair('p43-same');
    const { target, outside } = await targetWithSentinel('p43-same');
    const before = await snapshotTree(outside);
    const results = await racingDownloads([names[0] as string, names[0] as string], target, 'error');
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(await expectNoTornFiles(target, [sources[0] as string])).toEqual(
      await hashes(sources[0] as string),
    );
    expect(await snapshotTree(outside)).toEqual(before);
  });

  test('[P43] different artifacts with overlapping paths and conflict error: a typed conflict, no file replaced or torn', async () => {
    const { names, sources } = await overlappingPair('p43-error');
    const { target, outside } = await targetWithSentinel('p43-error');
    const before = await snapshotTree(outside);
    const results = await racingDownloads(names, target, 'error');
    const { won, lost } = split(results as unknown as Settled[]);
    // Both cannot win: 30 paths differ. Whoever lost got a typed conflict naming a file.
    expect(won.length).toBeLessThanOrEqual(1);
    expect(lost.length).toBeGreaterThanOrEqual(1);
    for (const { reason } of lost) {
      expect(reason).toMatchObject({
        code: 'ERR_FERRY_CONFLICT',
        context: expect.objectContaining({ operation: 'download' }),
      });
      expect((reason as Error).message).toMatch(/f\d+\.bin/);
      expect((reason as Error).message).toMatch(/artifact 'p43-error-[ab]'/);
      expectNoSecrets(reason);
    }
    const stored = await expectNoTornFiles(target, sources);
    // A winner's tree is entirely its own (each of its files was placed by it or was identical).
    if (won.length === 1) {
      const mine = await hashes(sources[won[0] as number] as string);
      for (const [rel, digest] of Object.entries(mine)) expect(stored[rel]).toBe(digest);
    }
    expect(await snapshotTree(outside)).toEqual(before);
  });

  test('[P43] different artifacts with conflict overwrite: both succeed, every file is one artifact’s whole version', async () => {
    const { names, sources } = await overlappingPair('p43-overwrite');
    const { target, outside } = await targetWithSentinel('p43-overwrite');
    const before = await snapshotTree(outside);
    const results = await racingDownloads(names, target, 'overwrite');
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    const stored = await expectNoTornFiles(target, sources);
    expect(Object.keys(stored).sort()).toEqual(
      [
        ...new Set([
          ...Object.keys(await hashes(sources[0] as string)),
          ...Object.keys(await hashes(sources[1] as string)),
        ]),
      ].sort(),
    );
    expect(await snapshotTree(outside)).toEqual(before);
  });

  test('[P43] different artifacts with conflict skip: both succeed, the first file placed is kept whole', async () => {
    const { names, sources } = await overlappingPair('p43-skip');
    const { target } = await targetWithSentinel('p43-skip');
    const results = await racingDownloads(names, target, 'skip');
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    const stored = await expectNoTornFiles(target, sources);
    expect(stored[`only-${names[0]}.txt`]).toBeDefined();
    expect(stored[`only-${names[1]}.txt`]).toBeDefined();
  });
});

describe('P44: the artifact is deleted or replaced between list and download', () => {
  const direct = (job = 'job-0') => ({ resultsUrl: server.url, runtimeToken: token(job), ...fast });

  async function seed(name: string, tag: string): Promise<string> {
    const dir = await sourceTree(tag, 3, 50_000);
    await uploadArtifact(name, await filesOf(dir), dir, direct());
    return dir;
  }

  /** Downloads `name` through a proxy that runs `change` once, when it sees `when`. */
  async function downloadWhile(name: string, when: string, change: () => Promise<void>) {
    let changed = false;
    const proxy = await gate(async (req) => {
      if (req.call === when && !changed) {
        changed = true;
        await change();
      }
    });
    const base = path.join(work, `p44-${randomBytes(4).toString('hex')}`);
    const target = path.join(base, 'target');
    const outside = path.join(base, 'outside');
    await mkdir(target, { recursive: true });
    await mkdir(outside, { recursive: true });
    await writeFile(path.join(target, 'keep.txt'), 'existing');
    await writeFile(path.join(outside, 'sentinel.txt'), 'outside');
    const before = { target: await snapshotTree(target), outside: await snapshotTree(outside) };
    const outcome = await Promise.allSettled([
      downloadArtifact(name, {
        resultsUrl: proxy.url,
        runtimeToken: token('job-reader'),
        ...fast,
        path: target,
      }),
    ]);
    await waitUntil(() => proxy.open === 0, 2000);
    expect(changed).toBe(true);
    return { outcome: outcome[0] as PromiseSettledResult<unknown>, proxy, target, outside, before };
  }

  async function expectUnchanged(run: Awaited<ReturnType<typeof downloadWhile>>): Promise<void> {
    expect(await snapshotTree(run.target)).toEqual(run.before.target);
    expect(await snapshotTree(run.outside)).toEqual(run.before.outside);
  }

  test('[P44] deleted before GetSignedArtifactURL: ERR_FERRY_NOT_FOUND naming the artifact, nothing retried or written', async () => {
    const name = 'p44-deleted-early';
    await seed(name, 'v1');
    const run = await downloadWhile(name, 'GetSignedArtifactURL', async () => {
      await deleteArtifact(name, direct());
    });
    expect(run.outcome.status).toBe('rejected');
    const error = (run.outcome as PromiseRejectedResult).reason as Error;
    expect(error).toMatchObject({
      code: 'ERR_FERRY_NOT_FOUND',
      retryable: false,
      context: expect.objectContaining({ operation: 'download', artifactName: name }),
    });
    expect(error.message).toContain(name);
    expectNoSecrets(error);
    // A 404 is permanent: one GetSignedArtifactURL, no blob request at all.
    expect(run.proxy.seen.filter((r) => r.call === 'GetSignedArtifactURL')).toHaveLength(1);
    expect(run.proxy.seen.filter((r) => r.call === 'GET blob')).toHaveLength(0);
    await expectUnchanged(run);
  });

  test('[P44] deleted after the URL was signed: the blob GET 404 is ERR_FERRY_NOT_FOUND naming the artifact, not retried', async () => {
    const name = 'p44-deleted-late';
    await seed(name, 'v1');
    const run = await downloadWhile(name, 'GET blob', async () => {
      await deleteArtifact(name, direct());
    });
    expect(run.outcome.status).toBe('rejected');
    const error = (run.outcome as PromiseRejectedResult).reason as Error;
    expect(error).toMatchObject({
      code: 'ERR_FERRY_NOT_FOUND',
      context: expect.objectContaining({ operation: 'download', artifactName: name }),
    });
    expectNoSecrets(error);
    expect(run.proxy.seen.filter((r) => r.call === 'GET blob')).toHaveLength(1);
    await expectUnchanged(run);
  });

  test('[P44] replaced before GetSignedArtifactURL: the new bytes fail the listed digest, nothing is written, never a mix', async () => {
    const name = 'p44-replaced';
    await seed(name, 'v1');
    const run = await downloadWhile(name, 'GetSignedArtifactURL', async () => {
      const v2 = await sourceTree('v2', 3, 50_000);
      await uploadArtifact(name, await filesOf(v2), v2, { ...direct('job-writer'), overwrite: true });
    });
    expect(run.outcome.status).toBe('rejected');
    const error = (run.outcome as PromiseRejectedResult).reason as Error;
    expect(error).toMatchObject({
      code: 'ERR_FERRY_INTEGRITY',
      context: expect.objectContaining({ operation: 'download', artifactName: name }),
    });
    // Both digests are named: the listed one (v1) and what arrived (v2).
    expect(error.message.match(/sha256:[0-9a-f]{64}/g)?.length).toBeGreaterThanOrEqual(2);
    expectNoSecrets(error);
    // A re-download cannot fix a wrong listing: at most one repeat.
    expect(run.proxy.seen.filter((r) => r.call === 'GET blob').length).toBeLessThanOrEqual(2);
    await expectUnchanged(run);
  });

  test('[P44] replaced after the URL was signed: the old blob is gone (not found), the new one is never mixed in', async () => {
    const name = 'p44-replaced-late';
    await seed(name, 'v1');
    const run = await downloadWhile(name, 'GET blob', async () => {
      const v2 = await sourceTree('v2', 3, 50_000);
      await uploadArtifact(name, await filesOf(v2), v2, { ...direct('job-writer'), overwrite: true });
    });
    expect(run.outcome.status).toBe('rejected');
    const error = (run.outcome as PromiseRejectedResult).reason as Error;
    expect(error).toMatchObject({
      code: 'ERR_FERRY_NOT_FOUND',
      context: expect.objectContaining({ operation: 'download', artifactName: name }),
    });
    expectNoSecrets(error);
    await expectUnchanged(run);
  });

  test('[P44] the replacement finished before the listing: the download is the new version, whole', async () => {
    const name = 'p44-replaced-before-list';
    await seed(name, 'v1');
    const v2 = await sourceTree('v2', 3, 50_000);
    const run = await downloadWhile(name, 'ListArtifacts', async () => {
      await uploadArtifact(name, await filesOf(v2), v2, { ...direct('job-writer'), overwrite: true });
    });
    expect(run.outcome.status).toBe('fulfilled');
    const stored = await hashes(run.target);
    delete stored['keep.txt'];
    expect(stored).toEqual(await hashes(v2));
  });
});

describe('P41: two uploads of one name at the same time (legacy protocol)', () => {
  const legacy = (proxy: GateProxy, job: string) => ({
    runtimeUrl: proxy.url,
    runtimeToken: token(job),
    backend: 'legacy' as const,
    runId: '4141',
    concurrency: 2,
    chunkSize: 64 * 1024,
    ...fast,
  });

  test('[P41] same paths, different bytes: one wins, the other gets ERR_FERRY_CONFLICT naming artifact and file; no torn file', async () => {
    const name = 'legacy-same-name';
    const sources = [await sourceTree('LA', 6, 200_000), await sourceTree('LB', 6, 200_000)];
    const atCreate = barrier(2);
    const proxy = await gate(async (req) => {
      if (req.call === 'POST artifacts') await atCreate();
    });
    const results = await Promise.allSettled(
      sources.map(async (dir, i) => uploadArtifact(name, await filesOf(dir), dir, legacy(proxy, `job-${i}`))),
    );
    const { won, lost } = split(results);
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const error = lost[0]?.reason as Error;
    expect(error).toMatchObject({
      code: 'ERR_FERRY_CONFLICT',
      retryable: false,
      context: expect.objectContaining({ operation: 'upload', artifactName: name }),
    });
    expect(error.message).toContain(`'${name}'`);
    expect(error.message).toMatch(/f\d\.bin/);
    expectNoSecrets(error);
    // Only the winner finalized (PATCH); the loser stopped at its first refused chunk.
    expect(proxy.seen.filter((r) => r.call === 'PATCH artifacts')).toHaveLength(1);
    const target = path.join(work, `legacy-out-${randomBytes(4).toString('hex')}`);
    await downloadArtifact(name, { ...legacy(proxy, 'job-0'), path: target });
    expect(await hashes(target)).toEqual(await hashes(sources[won[0] as number] as string));
    await waitUntil(() => proxy.open === 0, 2000);
  });

  test('[P41] v1 merging still works: concurrent uploads of different files, and a later re-upload, both succeed', async () => {
    const name = 'legacy-merge';
    const a = path.join(work, 'merge-a');
    const b = path.join(work, 'merge-b');
    await mkdir(a, { recursive: true });
    await mkdir(b, { recursive: true });
    await writeFile(path.join(a, 'from-a.bin'), randomBytes(300_000));
    await writeFile(path.join(b, 'from-b.bin'), randomBytes(300_000));
    const atCreate = barrier(2);
    const proxy = await gate(async (req) => {
      if (req.call === 'POST artifacts') await atCreate();
    });
    const both = await Promise.allSettled([
      uploadArtifact(name, await filesOf(a), a, legacy(proxy, 'job-0')),
      uploadArtifact(name, await filesOf(b), b, legacy(proxy, 'job-1')),
    ]);
    expect(both.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    // A later upload (after both PATCHed) replaces a file, as v3 did.
    await writeFile(path.join(a, 'from-a.bin'), 'second version');
    await uploadArtifact(name, await filesOf(a), a, legacy(proxy, 'job-2'));
    const target = path.join(work, `legacy-merge-out-${randomBytes(4).toString('hex')}`);
    await downloadArtifact(name, { ...legacy(proxy, 'job-0'), path: target });
    expect(await hashes(target)).toEqual({ ...(await hashes(a)), ...(await hashes(b)) });
  });
});
