import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { blockId } from '../../src/backends/results/blob-urls.js';
import { downloadArtifact, uploadArtifact, type UploadArtifactResponse } from '../../src/index.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { rawRequest } from '../helpers/server-fixture.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { waitFor } from '../helpers/loopback.js';
import { hashTree } from '../helpers/tree.js';
import { expectNoSecrets, SENTINEL, snapshotTree } from './invariants.js';
import {
  startTransferFaults,
  type SeenRequest,
  type TransferFault,
  type TransferFaultProxy,
} from './transfer-faults.js';

/**
 * Data-transfer faults on blob and chunk bodies (P12, P27–P32, X03): every case runs through a
 * byte-level fault proxy in front of a real `ferry serve`, and asserts the plan's invariants:
 * typed error naming the artifact (and file), target and a sentinel dir outside it unchanged,
 * no temp files left, nothing finalized after a failed upload, request counts within policy,
 * client sockets released, no secret in anything thrown.
 */

// A runtime token whose signature is the sentinel: any leak of it is caught by expectNoSecrets.
const TOKEN = ((): string => {
  const [header, payload] = runtimeJwt('run-xfer', 'job-xfer').split('.');
  return `${header}.${payload}.${SENTINEL.tokenSignature}`;
})();

const FAST = { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 4 };

let work: string;
let server: RunningServer;
let proxy: TransferFaultProxy | undefined;

/** Source trees of the artifacts the download cases fetch, and what the upload answered. */
const sources: Record<string, { dir: string; upload: UploadArtifactResponse }> = {};
/** A 17 MiB incompressible file: with level 0 the zip is three 8 MiB blocks (8, 8, ~1). */
let bigDir: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-xfer-'));
  server = await startServer({ dataDir: path.join(work, 'data'), token: TOKEN });
  const make = async (name: string, files: Record<string, Buffer>): Promise<void> => {
    const dir = path.join(work, 'src', name);
    await mkdir(dir, { recursive: true });
    for (const [file, data] of Object.entries(files)) await writeFile(path.join(dir, file), data);
    const upload = await uploadArtifact(
      name,
      Object.keys(files).map((f) => path.join(dir, f)),
      dir,
      { resultsUrl: server.url, runtimeToken: TOKEN, compressionLevel: 0 },
    );
    sources[name] = { dir, upload };
  };
  await make('payload', {
    'data.bin': randomBytes(600_000),
    'notes.txt': Buffer.from('notes\n'.repeat(100)),
  });
  await make('other', { 'other.bin': randomBytes(50_000) });
  await make('small', { 'small.bin': randomBytes(60_000) });
  bigDir = path.join(work, 'src', 'big');
  await mkdir(bigDir, { recursive: true });
  await writeFile(path.join(bigDir, 'big.bin'), randomBytes(17 * 1024 * 1024));
});

afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Helpers

interface Scene {
  target: string;
  temp: string;
  /** Target (with its pre-existing file), the sentinel dir outside and the temp dir are as before. */
  expectUnchanged(): Promise<void>;
  /** Target holds the artifact's files plus the pre-existing one, and the temp dir is empty. */
  expectArtifact(name: string): Promise<void>;
}

async function scene(): Promise<Scene> {
  const dir = await mkdtemp(path.join(work, 'case-'));
  const target = path.join(dir, 'target');
  const outside = path.join(dir, 'outside');
  const temp = path.join(dir, 'tmp');
  await mkdir(target);
  await mkdir(outside);
  await mkdir(temp);
  await writeFile(path.join(target, 'keep.txt'), 'was here before');
  await writeFile(path.join(outside, 'sentinel.txt'), 'outside the target');
  const before = { target: await snapshotTree(target), outside: await snapshotTree(outside) };
  return {
    target,
    temp,
    async expectUnchanged() {
      expect(await snapshotTree(target)).toEqual(before.target);
      expect(await snapshotTree(outside)).toEqual(before.outside);
      expect(await readdir(temp)).toEqual([]);
    },
    async expectArtifact(name: string) {
      const source = sources[name];
      if (!source) throw new Error(`no source for ${name}`);
      const expected = {
        ...(await hashTree(source.dir)),
        'keep.txt': sha256(Buffer.from('was here before')),
      };
      expect(await hashTree(target)).toEqual(expected);
      expect(await snapshotTree(outside)).toEqual(before.outside);
      expect(await readdir(temp)).toEqual([]);
    },
  };
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const hexOf = (name: string): string => (sources[name]?.upload.digest ?? '').replace(/^sha256:/, '');

const isBlob = (r: SeenRequest): boolean => r.path.startsWith('/devstoreaccount1/');
const blobGets = (p: TransferFaultProxy): SeenRequest[] =>
  p.seen.filter((r) => r.method === 'GET' && isBlob(r));
const twirp = (p: TransferFaultProxy, method: string): SeenRequest[] =>
  p.seen.filter((r) => r.path.endsWith(`ArtifactService/${method}`));
const blockPuts = (p: TransferFaultProxy): SeenRequest[] =>
  p.seen.filter((r) => r.method === 'PUT' && r.query.get('comp') === 'block');
/** The last blob request: after a failed upload only the Twirp clean-up (list, delete) may follow. */
const lastBlobRequest = (p: TransferFaultProxy): SeenRequest | undefined => p.seen.filter(isBlob).at(-1);
/** The clean-up of a failed upload: the unfinalized artifact is deleted (I3). */
function expectAbandoned(p: TransferFaultProxy): void {
  expect(twirp(p, 'DeleteArtifact')).toHaveLength(1);
  const lastBlobIndex = p.seen.lastIndexOf(lastBlobRequest(p) as SeenRequest);
  expect(p.seen.slice(lastBlobIndex + 1).every((r) => !isBlob(r))).toBe(true);
}
const commits = (p: TransferFaultProxy): SeenRequest[] =>
  p.seen.filter((r) => r.method === 'PUT' && r.query.get('comp') === 'blocklist');
/** Put Block requests per block index. */
function putsPerBlock(p: TransferFaultProxy): number[] {
  const counts: number[] = [];
  for (const put of blockPuts(p)) {
    const index = [0, 1, 2, 3].find((i) => blockId(i) === put.query.get('blockid'));
    if (index === undefined) throw new Error(`unexpected block id ${put.query.get('blockid')}`);
    counts[index] = (counts[index] ?? 0) + 1;
  }
  return counts;
}

async function through(
  decide: (req: SeenRequest) => TransferFault,
  upstream: RunningServer = server,
): Promise<TransferFaultProxy> {
  proxy = await startTransferFaults(upstream.url, decide);
  return proxy;
}

const firstBlobGet =
  (fault: TransferFault) =>
  (req: SeenRequest): TransferFault =>
    req.method === 'GET' && isBlob(req) && req.nth === 1 ? fault : { kind: 'pass' };

function results(p: TransferFaultProxy, s: Scene, extra: Record<string, unknown> = {}) {
  return {
    resultsUrl: p.url,
    runtimeToken: TOKEN,
    path: s.target,
    tempDir: s.temp,
    retry: FAST,
    ...extra,
  };
}

async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error: unknown) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected the operation to fail');
}

/** Client sockets are released once the operation returned (the client disposes its agents). */
async function socketsReleased(p: TransferFaultProxy): Promise<void> {
  await waitFor(() => p.open === 0, 3000);
}

/** Uploads big.bin through the proxy; a fresh name per call. */
let uploads = 0;
function uploadBig(p: TransferFaultProxy, extra: Record<string, unknown> = {}) {
  const name = `big-${++uploads}`;
  return {
    name,
    run: () =>
      uploadArtifact(name, [path.join(bigDir, 'big.bin')], bigDir, {
        resultsUrl: p.url,
        runtimeToken: TOKEN,
        compressionLevel: 0,
        concurrency: 3,
        retry: FAST,
        ...extra,
      }),
  };
}

/** Downloads an uploaded artifact straight from the server and compares it with the source. */
async function expectStoredIntact(name: string): Promise<void> {
  const out = await mkdtemp(path.join(work, 'check-'));
  await downloadArtifact(name, { resultsUrl: server.url, runtimeToken: TOKEN, path: out });
  expect(await hashTree(out)).toEqual(await hashTree(bigDir));
  await rm(out, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// P12: digest mismatch

describe('P12: the listed digest does not match the served bytes', () => {
  const listing =
    (digest: string, name = 'payload') =>
    (req: SeenRequest): TransferFault =>
      req.path.endsWith('/ListArtifacts')
        ? {
            kind: 'rewrite-json',
            transform: (json) => {
              const body = json as { artifacts?: Array<{ name: string; digest?: string }> };
              for (const a of body.artifacts ?? []) if (a.name === name) a.digest = digest;
              return body;
            },
          }
        : { kind: 'pass' };

  test("[P12] another artifact's digest in the listing: nothing extracted, both digests in the error, one re-download only", async () => {
    const s = await scene();
    const p = await through(listing(`sha256:${hexOf('other')}`));
    const error = await rejection(downloadArtifact('payload', results(p, s)));
    expect(error).toMatchObject({
      name: 'DigestMismatchError',
      code: 'ERR_FERRY_INTEGRITY',
      retryable: false,
    });
    expect(error.message).toContain(`sha256:${hexOf('other')}`);
    expect(error.message).toContain(`sha256:${hexOf('payload')}`);
    expect(error.message).toContain("artifact 'payload'");
    expect(error).toMatchObject({
      expectedDigest: `sha256:${hexOf('other')}`,
      actualDigest: `sha256:${hexOf('payload')}`,
    });
    // The first download plus exactly one fresh re-download (no Range: it starts over).
    const gets = blobGets(p);
    expect(gets).toHaveLength(2);
    expect(gets[1]?.headers['range']).toBeUndefined();
    await s.expectUnchanged();
    expectNoSecrets(error);
    await socketsReleased(p);
  });

  test.each([
    ['bare hex', (hex: string) => hex],
    ['sha256: prefix', (hex: string) => `sha256:${hex}`],
    ['upper case with prefix', (hex: string) => `SHA256:${hex.toUpperCase()}`],
  ])('[P12] a digest listed as %s verifies the same bytes with a single GET', async (_label, form) => {
    const s = await scene();
    const p = await through(listing(form(hexOf('payload'))));
    const result = await downloadArtifact('payload', results(p, s));
    expect(result.digest).toBe(`sha256:${hexOf('payload')}`);
    expect(blobGets(p)).toHaveLength(1);
    await s.expectArtifact('payload');
  });

  test('[P12] bytes damaged in transit once are repaired by the single re-download', async () => {
    const s = await scene();
    const p = await through(firstBlobGet({ kind: 'flip-response', offset: 300_000 }));
    const result = await downloadArtifact('payload', results(p, s));
    expect(result.digest).toBe(`sha256:${hexOf('payload')}`);
    expect(blobGets(p)).toHaveLength(2);
    await s.expectArtifact('payload');
    await socketsReleased(p);
  });
});

// ---------------------------------------------------------------------------------------------
// P27: cut mid-body with Content-Length

describe('P27: a blob download cut mid-body is detected at once and resumed', () => {
  test.each([
    ['0 %', 0],
    ['50 %', 0.5],
    ['99.9 %', 0.999],
  ])(
    '[P27] cut at %s: resumed with Range from the exact byte, digest verified, target complete',
    async (_label, fraction) => {
      const size = sources['payload']?.upload.uploadedBytes ?? 0;
      const cutAt = Math.floor(size * fraction);
      const s = await scene();
      const p = await through(firstBlobGet({ kind: 'cut', bytes: cutAt }));
      const started = Date.now();
      // A 20 s idle timeout: finishing far sooner proves the cut was seen from the length, not a timer.
      const result = await downloadArtifact('payload', results(p, s, { timeoutMs: 20_000 }));
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(result.digest).toBe(`sha256:${hexOf('payload')}`);
      const gets = blobGets(p);
      expect(gets).toHaveLength(2);
      if (cutAt === 0) {
        // Nothing to resume from: a fresh GET.
        expect(gets[1]?.headers['range']).toBeUndefined();
      } else {
        expect(gets[1]?.headers['range']).toBe(`bytes=${cutAt}-`);
        expect(gets[1]?.headers['if-match']).toBe(gets[0]?.responseHeaders?.['etag']);
        expect(gets[1]?.status).toBe(206);
      }
      await s.expectArtifact('payload');
      await socketsReleased(p);
    },
  );

  test('[P27] cut on every attempt: a typed truncation error naming the artifact, attempts within policy, target unchanged', async () => {
    const s = await scene();
    const p = await through((req) =>
      req.method === 'GET' && isBlob(req) ? { kind: 'cut', bytes: 0 } : { kind: 'pass' },
    );
    const error = await rejection(downloadArtifact('payload', results(p, s)));
    expect(error).toMatchObject({ code: 'ERR_FERRY_INTEGRITY' });
    expect(error.message).toMatch(/closed after 0 of \d+ bytes/);
    expect(error.message).toContain("artifact 'payload'");
    expect(blobGets(p)).toHaveLength(FAST.maxAttempts);
    await s.expectUnchanged();
    expectNoSecrets(error);
    await socketsReleased(p);
  });
});

// ---------------------------------------------------------------------------------------------
// P28: no length, body ends early

describe('P28: a chunked or close-delimited body that ends early', () => {
  test.each(['chunked', 'close'] as const)(
    '[P28] a %s body ending at half is caught by the digest before extraction; the re-download completes',
    async (framing) => {
      const s = await scene();
      const p = await through(firstBlobGet({ kind: 'end-early', bytes: 200_000, framing }));
      const result = await downloadArtifact('payload', results(p, s));
      expect(result.digest).toBe(`sha256:${hexOf('payload')}`);
      const gets = blobGets(p);
      expect(gets).toHaveLength(2);
      expect(gets[0]?.responseHeaders?.['content-length']).toBeDefined(); // upstream had one, the client did not
      await s.expectArtifact('payload');
    },
  );

  test.each(['chunked', 'close'] as const)(
    '[P28] a %s body that always ends early fails with both digests and nothing extracted',
    async (framing) => {
      const s = await scene();
      const p = await through((req) =>
        req.method === 'GET' && isBlob(req)
          ? { kind: 'end-early', bytes: 200_000, framing }
          : { kind: 'pass' },
      );
      const error = await rejection(downloadArtifact('payload', results(p, s)));
      expect(error).toMatchObject({ name: 'DigestMismatchError', code: 'ERR_FERRY_INTEGRITY' });
      expect(error.message).toContain(`sha256:${hexOf('payload')}`);
      expect(error.message).toContain("artifact 'payload'");
      expect(blobGets(p)).toHaveLength(2);
      await s.expectUnchanged();
      expectNoSecrets(error);
      await socketsReleased(p);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// P29: slow-loris and bandwidth cap

describe('P29: a minimum-throughput watchdog on downloads', () => {
  const watchdog = { minBytesPerSecond: 2_000, stallWindowMs: 250, timeoutMs: 10_000 };

  test('[P29] a trickle below the minimum rate fails with a typed stall error, long before the idle timeout', async () => {
    const s = await scene();
    // 1 byte every 30 ms: ~33 B/s, never idle long enough for the 10 s socket timeout.
    const p = await through((req) =>
      req.method === 'GET' && isBlob(req) ? { kind: 'trickle', bytes: 1, everyMs: 30 } : { kind: 'pass' },
    );
    const started = Date.now();
    const error = await rejection(
      downloadArtifact('small', results(p, s, { ...watchdog, retry: { ...FAST, maxAttempts: 2 } })),
    );
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(error).toMatchObject({
      name: 'StalledTransferError',
      code: 'ERR_FERRY_TIMEOUT',
      retryable: true,
      windowMs: 250,
      minBytesPerSecond: 2_000,
    });
    expect(error.message).toMatch(
      /stalled: \d+ bytes in the last 0\.25 s, below the minimum of 2000 bytes\/s/,
    );
    expect(error.message).toContain("artifact 'small'");
    // Retried within policy, and the retry resumed after what had arrived.
    const gets = blobGets(p);
    expect(gets).toHaveLength(2);
    expect(gets[1]?.headers['range']).toMatch(/^bytes=[1-9]\d*-$/);
    await s.expectUnchanged();
    expectNoSecrets(error);
    await socketsReleased(p);
  });

  test('[P29] a slow but steady transfer that lasts longer than the window completes, with progress all along', async () => {
    const s = await scene();
    // 2 KiB every 20 ms ≈ 100 kB/s: 60 kB take ~0.6 s, more than two windows.
    const p = await through((req) =>
      req.method === 'GET' && isBlob(req) ? { kind: 'trickle', bytes: 2048, everyMs: 20 } : { kind: 'pass' },
    );
    const progress: number[] = [];
    const started = Date.now();
    const result = await downloadArtifact(
      'small',
      results(p, s, {
        ...watchdog,
        onProgress: (e: { phase: string; bytesDone: number }) => {
          if (e.phase === 'transfer') progress.push(e.bytesDone);
        },
      }),
    );
    expect(Date.now() - started).toBeGreaterThan(watchdog.stallWindowMs);
    expect(result.digest).toBe(`sha256:${hexOf('small')}`);
    expect(blobGets(p)).toHaveLength(1);
    expect(progress.length).toBeGreaterThan(10);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    await s.expectArtifact('small');
  });

  test('[P29] the legacy download path has the same watchdog and names the file', async () => {
    const legacyDir = path.join(work, 'src', 'legacy-slow');
    await mkdir(legacyDir, { recursive: true });
    await writeFile(path.join(legacyDir, 'slow.bin'), randomBytes(20_000));
    await uploadArtifact('legacy-slow', [path.join(legacyDir, 'slow.bin')], legacyDir, {
      runtimeUrl: server.url,
      runtimeToken: TOKEN,
      runId: '29',
    });
    const s = await scene();
    const p = await through((req) =>
      req.method === 'GET' && req.query.get('itemPath') === 'legacy-slow/slow.bin'
        ? { kind: 'trickle', bytes: 1, everyMs: 30 }
        : { kind: 'pass' },
    );
    const error = await rejection(
      downloadArtifact('legacy-slow', {
        runtimeUrl: p.url,
        runtimeToken: TOKEN,
        runId: '29',
        path: s.target,
        tempDir: s.temp,
        ...watchdog,
        retry: { ...FAST, maxAttempts: 2 },
      }),
    );
    expect(error).toMatchObject({ name: 'StalledTransferError', code: 'ERR_FERRY_TIMEOUT' });
    expect(error.message).toContain("Download of 'slow.bin' stalled");
    expect(error.message).toContain("file 'slow.bin'");
    await s.expectUnchanged();
    expectNoSecrets(error);
    await socketsReleased(p);
  });
});

// ---------------------------------------------------------------------------------------------
// P30: block upload faults

describe('P30: faults on individual blocks and on the commit', () => {
  const onBlock =
    (index: number, fault: TransferFault, times = 1) =>
    (req: SeenRequest): TransferFault =>
      req.method === 'PUT' && req.query.get('blockid') === blockId(index) && req.nth <= times
        ? fault
        : { kind: 'pass' };

  test.each([
    ['a connection reset', { kind: 'reset' } as TransferFault],
    ['HTTP 500', { kind: 'respond', status: 500, body: 'boom' } as TransferFault],
    [
      'HTTP 503 ServerBusy',
      { kind: 'respond', status: 503, headers: { 'x-ms-error-code': 'ServerBusy' } } as TransferFault,
    ],
    ['a stall (no answer)', { kind: 'swallow' } as TransferFault],
  ])(
    '[P30] %s on block 1 re-sends only block 1; one commit, one Finalize, stored bytes equal the source',
    async (_label, fault) => {
      const p = await through(onBlock(1, fault));
      const upload = uploadBig(p, { timeoutMs: 1_500 });
      const result = await upload.run();
      expect(putsPerBlock(p)).toEqual([1, 2, 1]);
      expect(commits(p)).toHaveLength(1);
      expect(twirp(p, 'FinalizeArtifact')).toHaveLength(1);
      expect(result.uploadedBytes).toBeGreaterThan(16 * 1024 * 1024);
      await socketsReleased(p);
      await expectStoredIntact(upload.name);
    },
  );

  test.each([
    ['reset before it arrives', { kind: 'reset' } as TransferFault],
    ['HTTP 500', { kind: 'respond', status: 500 } as TransferFault],
    ['answer lost after the store committed', { kind: 'lose-response' } as TransferFault],
  ])('[P30] a commit fault (%s) is retried: blocks are not re-sent, one Finalize', async (_label, fault) => {
    const p = await through((req) =>
      req.method === 'PUT' && req.query.get('comp') === 'blocklist' && req.nth === 1
        ? fault
        : { kind: 'pass' },
    );
    const upload = uploadBig(p);
    await upload.run();
    expect(putsPerBlock(p)).toEqual([1, 1, 1]);
    expect(commits(p)).toHaveLength(2);
    expect(twirp(p, 'FinalizeArtifact')).toHaveLength(1);
    await socketsReleased(p);
    await expectStoredIntact(upload.name);
  });

  test('[P30] a block the store lost (InvalidBlockList on commit) leads to re-staging and a second commit, never to Finalize first', async () => {
    // The proxy acknowledges block 1 without forwarding it: the store never has it.
    const p = await through(onBlock(1, { kind: 'respond', status: 201 }));
    const upload = uploadBig(p);
    await upload.run();
    const order = p.seen
      .filter(
        (r) => r.query.get('comp') === 'blocklist' || r.path.endsWith('ArtifactService/FinalizeArtifact'),
      )
      .map((r) => (r.path.endsWith('ArtifactService/FinalizeArtifact') ? 'finalize' : `commit:${r.status}`));
    expect(order).toEqual(['commit:400', 'commit:201', 'finalize']);
    expect(commits(p)[0]?.errorCode).toBe('InvalidBlockList');
    expect(putsPerBlock(p)).toEqual([2, 2, 2]);
    await socketsReleased(p);
    await expectStoredIntact(upload.name);
  });

  test('[P30] a block lost again after re-staging fails typed, with no Finalize and nothing sent after', async () => {
    const p = await through(onBlock(1, { kind: 'respond', status: 201 }, 99));
    const upload = uploadBig(p);
    const error = await rejection(upload.run());
    expect(error).toMatchObject({ code: 'ERR_FERRY_PROTOCOL' });
    expect(error.message).toContain('InvalidBlockList');
    expect(error.message).toContain(`artifact '${upload.name}'`);
    expect(twirp(p, 'FinalizeArtifact')).toHaveLength(0);
    expect(commits(p)).toHaveLength(2);
    expect(lastBlobRequest(p)?.query.get('comp')).toBe('blocklist');
    expectAbandoned(p);
    expectNoSecrets(error);
    await socketsReleased(p);
  });

  test('[P30] a block refused for good (HTTP 400) stops the upload: no commit, no Finalize, no further blocks', async () => {
    const p = await through(
      onBlock(0, { kind: 'respond', status: 400, headers: { 'x-ms-error-code': 'InvalidBlobOrBlock' } }, 99),
    );
    const upload = uploadBig(p, { concurrency: 1 });
    const error = await rejection(upload.run());
    expect(error).toMatchObject({ code: 'ERR_FERRY_HTTP' });
    expect(error.message).toContain('InvalidBlobOrBlock');
    expect(error.message).toContain(`artifact '${upload.name}'`);
    // Not retried (a 400 is permanent), and with one slot no other block was started.
    expect(putsPerBlock(p)).toEqual([1]);
    expect(commits(p)).toHaveLength(0);
    expect(twirp(p, 'FinalizeArtifact')).toHaveLength(0);
    expectNoSecrets(error);
    await socketsReleased(p);
  });
});

// ---------------------------------------------------------------------------------------------
// P31: a block corrupted in flight

describe('P31: per-block Content-MD5', () => {
  test('[P31] a byte flipped in block 1 is rejected by ferry serve (Md5Mismatch) and only that block is re-sent', async () => {
    const p = await through((req) =>
      req.method === 'PUT' && req.query.get('blockid') === blockId(1) && req.nth === 1
        ? { kind: 'flip-request', offset: 12_345 }
        : { kind: 'pass' },
    );
    const upload = uploadBig(p);
    await upload.run();
    const block1 = blockPuts(p).filter((r) => r.query.get('blockid') === blockId(1));
    expect(block1.map((r) => [r.status, r.errorCode])).toEqual([
      [400, 'Md5Mismatch'],
      [201, undefined],
    ]);
    expect(block1[0]?.headers['content-md5']).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(putsPerBlock(p)).toEqual([1, 2, 1]);
    expect(twirp(p, 'FinalizeArtifact')).toHaveLength(1);
    await socketsReleased(p);
    await expectStoredIntact(upload.name);
  });

  test('[P31] with one slot the block buffers are reused: a re-sent block and the blocks after it reach the store intact', async () => {
    // One slot: block 0 is acknowledged before block 1 is staged, and its buffer then holds
    // block 2 while block 1 is re-sent after the store rejected its damaged copy.
    const p = await through((req) =>
      req.method === 'PUT' && req.query.get('blockid') === blockId(1) && req.nth === 1
        ? { kind: 'flip-request', offset: 99 }
        : { kind: 'pass' },
    );
    const upload = uploadBig(p, { concurrency: 1 });
    await upload.run();
    expect(putsPerBlock(p)).toEqual([1, 2, 1]);
    expect(twirp(p, 'FinalizeArtifact')).toHaveLength(1);
    await socketsReleased(p);
    await expectStoredIntact(upload.name);
  });

  test('[P31] corruption on every attempt fails typed after the retry budget, with no commit and no Finalize', async () => {
    const p = await through((req) =>
      req.method === 'PUT' && req.query.get('blockid') === blockId(2)
        ? { kind: 'flip-request', offset: 7 }
        : { kind: 'pass' },
    );
    const upload = uploadBig(p);
    const error = await rejection(upload.run());
    expect(error).toMatchObject({ code: 'ERR_FERRY_INTEGRITY' });
    expect(error.message).toContain('Md5Mismatch');
    expect(error.message).toContain(`artifact '${upload.name}'`);
    expect(putsPerBlock(p)[2]).toBe(FAST.maxAttempts);
    expect(commits(p)).toHaveLength(0);
    expect(twirp(p, 'FinalizeArtifact')).toHaveLength(0);
    expectNoSecrets(error);
    await socketsReleased(p);
  });
});

// ---------------------------------------------------------------------------------------------
// P32: signed URL expiry

const AUTH_FAILED: TransferFault = {
  kind: 'respond',
  status: 403,
  headers: { 'x-ms-error-code': 'AuthenticationFailed', 'content-type': 'application/xml' },
  body: '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code><Message>Signature not valid in the specified time frame</Message></Error>',
};

describe('P32: signed URL expiry', () => {
  let shortLived: RunningServer;
  const TTL_MS = 700;

  beforeAll(async () => {
    shortLived = await startServer({
      dataDir: path.join(work, 'data-ttl'),
      token: TOKEN,
      signedUrlTtlMs: TTL_MS,
    });
    const dir = sources['payload']?.dir ?? '';
    await uploadArtifact('payload', [path.join(dir, 'data.bin'), path.join(dir, 'notes.txt')], dir, {
      resultsUrl: shortLived.url,
      runtimeToken: TOKEN,
      compressionLevel: 0,
    });
  });
  afterAll(async () => {
    await shortLived.close();
  });

  test('[P32] a download URL refused with 403 AuthenticationFailed is replaced once via GetSignedArtifactURL', async () => {
    const s = await scene();
    const p = await through(firstBlobGet(AUTH_FAILED));
    const result = await downloadArtifact('payload', results(p, s));
    expect(result.digest).toBe(`sha256:${hexOf('payload')}`);
    expect(twirp(p, 'GetSignedArtifactURL')).toHaveLength(2);
    expect(blobGets(p)).toHaveLength(2);
    await s.expectArtifact('payload');
    await socketsReleased(p);
  });

  test('[P32] ferry serve enforces `se`: a URL that really expired mid-download is renewed and the transfer resumes with Range', async () => {
    const s = await scene();
    const size = sources['payload']?.upload.uploadedBytes ?? 0;
    const cutAt = Math.floor(size / 2);
    // GET 1 is cut at half; GET 2 is held until its URL expired; GET 3 uses the fresh URL.
    const p = await through(
      (req) =>
        req.method === 'GET' && isBlob(req)
          ? req.nth === 1
            ? { kind: 'cut', bytes: cutAt }
            : req.nth === 2
              ? { kind: 'delay', ms: TTL_MS + 300 }
              : { kind: 'pass' }
          : { kind: 'pass' },
      shortLived,
    );
    const result = await downloadArtifact('payload', results(p, s));
    expect(result.digest).toBe(`sha256:${hexOf('payload')}`);
    const gets = blobGets(p);
    expect(gets.map((g) => [g.status, g.errorCode ?? null])).toEqual([
      [200, null],
      [403, 'AuthenticationFailed'],
      [206, null],
    ]);
    expect(gets[2]?.headers['range']).toBe(`bytes=${cutAt}-`);
    expect(gets[2]?.query.get('se')).not.toBe(gets[1]?.query.get('se'));
    expect(twirp(p, 'GetSignedArtifactURL')).toHaveLength(2);
    await s.expectArtifact('payload');

    // The expiry is covered by the signature: pushing `se` forward does not revive the URL.
    const stale = new URL(gets[1]?.url ?? '', shortLived.url);
    stale.searchParams.set('se', new Date(Date.now() + 3600_000).toISOString());
    const tampered = await rawRequest('GET', stale);
    expect(tampered.status).toBe(403);
    expect(tampered.headers['x-ms-error-code']).toBe('AuthenticationFailed');
  });

  test('[P32] a download whose fresh URL is refused too fails typed after exactly one renewal', async () => {
    const s = await scene();
    const p = await through((req) => (req.method === 'GET' && isBlob(req) ? AUTH_FAILED : { kind: 'pass' }));
    const error = await rejection(downloadArtifact('payload', results(p, s)));
    expect(error).toMatchObject({ code: 'ERR_FERRY_UNAUTHORIZED', status: 403 });
    expect(error.message).toMatch(
      /refused the signed download URL [\d.]+ s into the download .*AuthenticationFailed/,
    );
    expect(error.message).toContain('fresh URL');
    expect(error.message).toContain("artifact 'payload'");
    expect(twirp(p, 'GetSignedArtifactURL')).toHaveLength(2);
    expect(blobGets(p)).toHaveLength(2);
    await s.expectUnchanged();
    expectNoSecrets(error);
    await socketsReleased(p);
  });

  test('[P32] an upload URL refused mid-upload fails typed, naming the artifact and the elapsed time; never retried, never finalized', async () => {
    const p = await through((req) =>
      req.method === 'PUT' && req.query.get('blockid') === blockId(1) ? AUTH_FAILED : { kind: 'pass' },
    );
    const upload = uploadBig(p, { concurrency: 1 });
    const error = await rejection(upload.run());
    expect(error).toMatchObject({ code: 'ERR_FERRY_UNAUTHORIZED', status: 403 });
    expect(error.message).toMatch(/refused the signed upload URL \d+\.\d s after it was issued/);
    expect(error.message).toContain(`artifact '${upload.name}'`);
    expect(putsPerBlock(p)).toEqual([1, 1]);
    expect(commits(p)).toHaveLength(0);
    expect(twirp(p, 'FinalizeArtifact')).toHaveLength(0);
    expect(lastBlobRequest(p)?.query.get('blockid')).toBe(blockId(1));
    expectAbandoned(p);
    expectNoSecrets(error);
    await socketsReleased(p);
  });

  test('[P32] an upload URL that really expires on ferry serve fails the same way', async () => {
    const p = await through(
      (req) =>
        req.method === 'PUT' && req.query.get('blockid') === blockId(1)
          ? { kind: 'delay', ms: TTL_MS + 300 }
          : { kind: 'pass' },
      shortLived,
    );
    const upload = uploadBig(p, { concurrency: 1 });
    const error = await rejection(upload.run());
    expect(error).toMatchObject({ code: 'ERR_FERRY_UNAUTHORIZED', status: 403 });
    expect(error.message).toMatch(/refused the signed upload URL \d+\.\d s after it was issued/);
    expect(blockPuts(p).find((r) => r.query.get('blockid') === blockId(1))?.errorCode).toBe(
      'AuthenticationFailed',
    );
    expect(commits(p)).toHaveLength(0);
    expect(twirp(p, 'FinalizeArtifact')).toHaveLength(0);
    expectNoSecrets(error);
    await socketsReleased(p);
  });
});

// ---------------------------------------------------------------------------------------------
// X03: corrupt gzip on a legacy download

describe('X03: a corrupt gzip body on a legacy download', () => {
  const RUN = '303';
  let legacyDir: string;

  beforeAll(async () => {
    legacyDir = path.join(work, 'src', 'legacy-gz');
    await mkdir(path.join(legacyDir, 'logs'), { recursive: true });
    await writeFile(path.join(legacyDir, 'logs', 'build.log'), 'step ok: compiled module\n'.repeat(20_000));
    await writeFile(path.join(legacyDir, 'raw.bin'), randomBytes(30_000));
    await uploadArtifact(
      'legacy-gz',
      [path.join(legacyDir, 'logs', 'build.log'), path.join(legacyDir, 'raw.bin')],
      legacyDir,
      { runtimeUrl: server.url, runtimeToken: TOKEN, runId: RUN },
    );
  });

  const isLog = (req: SeenRequest): boolean =>
    req.method === 'GET' && req.query.get('itemPath') === 'legacy-gz/logs/build.log';
  const legacy = (p: TransferFaultProxy, s: Scene) => ({
    runtimeUrl: p.url,
    runtimeToken: TOKEN,
    runId: RUN,
    path: s.target,
    tempDir: s.temp,
    retry: FAST,
  });

  test.each([
    ['in the deflate stream', 200],
    ['in the CRC-32 trailer', -6],
  ])(
    '[X03] a byte flipped %s fails naming the file, after one re-download; nothing half-written',
    async (_label, offset) => {
      const s = await scene();
      const p = await through((req) => (isLog(req) ? { kind: 'flip-response', offset } : { kind: 'pass' }));
      const error = await rejection(downloadArtifact('legacy-gz', legacy(p, s)));
      expect(error).toMatchObject({ code: 'ERR_FERRY_INTEGRITY', retryable: false });
      expect(error.message).toContain("gzip body of 'logs/build.log' is corrupt");
      expect(error.message).toContain("file 'logs/build.log'");
      expect(error.message).toContain("artifact 'legacy-gz'");
      const logGets = p.seen.filter(isLog);
      expect(logGets[0]?.responseHeaders?.['content-encoding']).toBe('gzip');
      expect(logGets).toHaveLength(2);
      // No staging directory, no partial file: the target is exactly as it was.
      await s.expectUnchanged();
      expectNoSecrets(error);
      await socketsReleased(p);
    },
  );

  test('[X03] a gzip body damaged once is fetched again and the download completes', async () => {
    const s = await scene();
    const p = await through((req) =>
      isLog(req) && req.nth === 1 ? { kind: 'flip-response', offset: 200 } : { kind: 'pass' },
    );
    await downloadArtifact('legacy-gz', legacy(p, s));
    expect(p.seen.filter(isLog)).toHaveLength(2);
    const got = await readFile(path.join(s.target, 'logs', 'build.log'));
    // Buffer.equals: jest's deep equality walks a 500 kB buffer byte by byte (seconds).
    expect(got.equals(await readFile(path.join(legacyDir, 'logs', 'build.log')))).toBe(true);
    await socketsReleased(p);
  });
});
