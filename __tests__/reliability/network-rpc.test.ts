/**
 * Network faults on RPCs and chunk/block requests (plan §5 C: cases 22–26, 33, and X01, X02,
 * X05, X08, X11). Every fault is injected per request by the fault proxy in front of a real
 * `ferry serve`; with `preserveHost` the signed blob URLs point at the proxy too, so every byte
 * the client sends or receives passes it and every client socket is counted there.
 *
 * Each test asserts, where it applies: the typed FerryError (code, retryable, operation,
 * artifact, attempt), the number of requests the server side saw (retries within policy, none
 * after a permanent error, no Finalize/PATCH after a failure), the client's sockets all closed at
 * the end, and no sentinel secret anywhere in errors or logs.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  deleteArtifact,
  downloadArtifact,
  FerryError,
  HttpError,
  isFerryError,
  listArtifacts,
  startServer,
  uploadArtifact,
  type ArtifactClientOptions,
  type Logger,
  type RunningServer,
} from '../../src/index.js';
import { HttpManager } from '../../src/transport/http-manager.js';
import { discardBody, readText } from '../../src/transport/body.js';
import type { Clock } from '../../src/transport/clock.js';
import {
  startFaultProxy,
  type FaultAction,
  type FaultProxy,
  type FaultRequest,
} from '../helpers/fault-proxy.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { startLoopback, waitFor, type Loopback } from '../helpers/loopback.js';
import { expectNoSecrets, SENTINEL, snapshotTree } from './invariants.js';

const MAX = 3;
const RETRY = { baseDelayMs: 1, maxDelayMs: 4, maxAttempts: MAX, jitter: 0 } as const;
const RUN = '4242';
// The runtime token carries the sentinel signature: it must never show up in any error or log.
const TOKEN = `${runtimeJwt('run-h3', 'job-h3').split('.').slice(0, 2).join('.')}.${SENTINEL.tokenSignature}`;

let work: string;
let server: RunningServer;
let proxy: FaultProxy | undefined;
let logs: string[] = [];
let sequence = 0;

const logger: Logger = {
  debug: (m) => logs.push(m),
  info: (m) => logs.push(m),
  warn: (m) => logs.push(m),
  error: (m) => logs.push(m),
};

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-net-rpc-'));
  await mkdir(path.join(work, 'src'), { recursive: true });
  await mkdir(path.join(work, 'tmp'), { recursive: true });
  await writeFile(path.join(work, 'src', 'a.txt'), 'payload '.repeat(2000));
  await writeFile(path.join(work, 'src', 'b.bin'), randomBytes(64 * 1024));
  await mkdir(path.join(work, 'many'), { recursive: true });
  for (let i = 0; i < 40; i++) await writeFile(path.join(work, 'many', `f${i}.txt`), `file ${i} `.repeat(50));
  await writeFile(path.join(work, 'big.bin'), randomBytes(1024 * 1024));
  server = await startServer({ dataDir: path.join(work, 'data'), port: 0, token: TOKEN });
});

beforeEach(() => {
  logs = [];
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

type Kind =
  | 'CreateArtifact'
  | 'FinalizeArtifact'
  | 'ListArtifacts'
  | 'GetSignedArtifactURL'
  | 'DeleteArtifact'
  | 'block'
  | 'blocklist'
  | 'blob-get'
  | 'legacy-create'
  | 'legacy-patch'
  | 'legacy-list'
  | 'legacy-items'
  | 'legacy-chunk'
  | 'legacy-file'
  | 'other';

function kindOf(req: Pick<FaultRequest, 'method' | 'url' | 'headers'>): Kind {
  const [pathname = '', query = ''] = req.url.split('?');
  if (pathname.includes('/twirp/')) return (pathname.split('/').pop() ?? 'other') as Kind;
  if (pathname.startsWith('/devstoreaccount1/')) {
    if (req.method === 'GET') return 'blob-get';
    return /(^|&)comp=blocklist/.test(query) ? 'blocklist' : 'block';
  }
  if (/^\/_apis\/pipelines\/workflows\/[^/]+\/artifacts/.test(pathname)) {
    return req.method === 'POST' ? 'legacy-create' : req.method === 'PATCH' ? 'legacy-patch' : 'legacy-list';
  }
  if (pathname.startsWith('/_apis/resources/Containers/')) {
    if (req.method === 'PUT') return 'legacy-chunk';
    return String(req.headers.accept ?? '').startsWith('application/json') ? 'legacy-items' : 'legacy-file';
  }
  return 'other';
}

/** Starts the fault proxy in front of the server; `decide` gets the kind and its 1-based count. */
async function faults(
  decide: (kind: Kind, nth: number, req: FaultRequest) => FaultAction = () => ({ kind: 'pass' }),
): Promise<FaultProxy> {
  const counts = new Map<Kind, number>();
  proxy = await startFaultProxy(
    server.url,
    (req) => {
      const kind = kindOf(req);
      const nth = (counts.get(kind) ?? 0) + 1;
      counts.set(kind, nth);
      return decide(kind, nth, req);
    },
    { preserveHost: true },
  );
  return proxy;
}

const count = (p: FaultProxy, kind: Kind): number => p.seen.filter((r) => kindOf(r) === kind).length;

const name = (prefix: string): string => `${prefix}-${++sequence}`;

function results(p: FaultProxy, extra: ArtifactClientOptions = {}): ArtifactClientOptions {
  return {
    resultsUrl: p.url,
    runtimeToken: TOKEN,
    retry: RETRY,
    tempDir: path.join(work, 'tmp'),
    logger,
    concurrency: 2,
    ...extra,
  };
}

function legacy(p: FaultProxy, extra: ArtifactClientOptions = {}): ArtifactClientOptions {
  return {
    backend: 'legacy',
    runtimeUrl: p.url,
    runtimeToken: TOKEN,
    runId: RUN,
    retry: RETRY,
    tempDir: path.join(work, 'tmp'),
    logger,
    concurrency: 2,
    ...extra,
  };
}

/** Options that talk to the server directly, for setup and for checking what it holds. */
const directResults = (): ArtifactClientOptions => ({ resultsUrl: server.url, runtimeToken: TOKEN });
const directLegacy = (): ArtifactClientOptions => ({
  backend: 'legacy',
  runtimeUrl: server.url,
  runtimeToken: TOKEN,
  runId: RUN,
});

const files = (): string[] => [path.join(work, 'src', 'a.txt'), path.join(work, 'src', 'b.bin')];
const manyFiles = (): string[] => Array.from({ length: 40 }, (_, i) => path.join(work, 'many', `f${i}.txt`));

const uploadResults = (artifact: string, p: FaultProxy, extra: ArtifactClientOptions = {}) =>
  uploadArtifact(artifact, files(), path.join(work, 'src'), results(p, extra));
const uploadLegacy = (artifact: string, p: FaultProxy, extra: ArtifactClientOptions = {}) =>
  uploadArtifact(artifact, files(), path.join(work, 'src'), legacy(p, extra));

/** Uploads straight to the server (no faults), for download/delete tests. */
async function seedResults(artifact: string): Promise<void> {
  await uploadArtifact(artifact, files(), path.join(work, 'src'), directResults());
}

async function finalizedResults(artifact: string) {
  return (await listArtifacts(directResults())).filter((a) => a.name === artifact);
}

async function legacyArtifacts(artifact: string) {
  return (await listArtifacts(directLegacy())).filter((a) => a.name === artifact);
}

async function failureOf(promise: Promise<unknown>): Promise<FerryError> {
  try {
    await promise;
  } catch (error: unknown) {
    if (!isFerryError(error)) throw new Error(`expected a FerryError, got ${String(error)}`);
    return error;
  }
  throw new Error('expected the operation to fail');
}

/** I4 + I6: typed, with code, retryable, operation, artifact and attempt; no secret anywhere. */
function expectTyped(
  error: FerryError,
  want: {
    code: string;
    retryable: boolean;
    operation: string;
    artifactName?: string | undefined;
    attempt?: number;
    message?: RegExp;
  },
): void {
  expect(error).toBeInstanceOf(FerryError);
  expect(error.code).toBe(want.code);
  expect(error.retryable).toBe(want.retryable);
  expect(error.context.operation).toBe(want.operation);
  expect(error.message).toContain(`operation ${want.operation}`);
  if (want.artifactName !== undefined) {
    expect(error.context.artifactName).toBe(want.artifactName);
    expect(error.message).toContain(`'${want.artifactName}'`);
  }
  if (want.attempt !== undefined) expect(error.context.attempt ?? 1).toBe(want.attempt);
  if (want.message) expect(error.message).toMatch(want.message);
  expectNoSecrets(error, logs.join('\n'));
}

/** Byte-for-byte equality without jest's element-wise diff (slow on megabytes). */
async function expectSameBytes(actual: string, expected: string): Promise<void> {
  const [a, b] = await Promise.all([readFile(actual), readFile(expected)]);
  expect(a.length).toBe(b.length);
  expect(a.equals(b)).toBe(true);
}

/** X11: every client socket the operation opened is closed once it returned. */
async function expectSocketsReleased(p: FaultProxy): Promise<void> {
  await waitFor(() => p.open === 0, 3000);
  expect(p.open).toBe(0);
}

const reset: FaultAction = { kind: 'reset-before-forward' };
const pass: FaultAction = { kind: 'pass' };

// ---------------------------------------------------------------------------------------------
// P22: a reset on every RPC

describe('[P22] a connection reset on each RPC', () => {
  const rpcs = [
    'CreateArtifact',
    'FinalizeArtifact',
    'ListArtifacts',
    'GetSignedArtifactURL',
    'DeleteArtifact',
  ] as const;

  /** Runs the operation that makes `rpc` for artifact `artifact`. */
  async function operationFor(rpc: (typeof rpcs)[number], artifact: string, p: FaultProxy): Promise<unknown> {
    switch (rpc) {
      case 'CreateArtifact':
      case 'FinalizeArtifact':
        return uploadResults(artifact, p);
      case 'ListArtifacts':
        return listArtifacts(results(p));
      case 'GetSignedArtifactURL':
        return downloadArtifact(artifact, { ...results(p), path: path.join(work, 'out', artifact) });
      case 'DeleteArtifact':
        return deleteArtifact(artifact, results(p));
    }
  }

  const operationName = {
    CreateArtifact: 'upload',
    FinalizeArtifact: 'upload',
    ListArtifacts: 'list',
    GetSignedArtifactURL: 'download',
    DeleteArtifact: 'delete',
  } as const;

  test.each(rpcs)('[P22] a reset on the first %s is retried and the operation succeeds', async (rpc) => {
    const artifact = name(`p22-first-${rpc}`);
    if (rpc === 'GetSignedArtifactURL' || rpc === 'DeleteArtifact' || rpc === 'ListArtifacts')
      await seedResults(artifact);
    const p = await faults((kind, nth) => (kind === rpc && nth === 1 ? reset : pass));
    await operationFor(rpc, artifact, p);
    // One reset, one repeat: exactly two of that call reached the proxy.
    expect(count(p, rpc)).toBe(2);
    if (rpc === 'CreateArtifact' || rpc === 'FinalizeArtifact') {
      const listed = await finalizedResults(artifact);
      expect(listed).toHaveLength(1);
    }
    if (rpc === 'DeleteArtifact') expect(await finalizedResults(artifact)).toHaveLength(0);
    if (rpc === 'GetSignedArtifactURL') {
      expect(await readFile(path.join(work, 'out', artifact, 'a.txt'), 'utf8')).toBe('payload '.repeat(2000));
    }
    expectNoSecrets(logs.join('\n'));
    await expectSocketsReleased(p);
  });

  test.each(rpcs)(
    '[P22] a reset on every %s attempt ends in a typed error naming the call, after exactly maxAttempts attempts',
    async (rpc) => {
      const artifact = name(`p22-all-${rpc}`);
      if (rpc === 'GetSignedArtifactURL' || rpc === 'DeleteArtifact') await seedResults(artifact);
      const target = path.join(work, 'out', artifact);
      const outside = path.join(work, 'outside-sentinel');
      await mkdir(outside, { recursive: true });
      await writeFile(path.join(outside, 'keep.txt'), 'keep');
      const before = await snapshotTree(work + '/outside-sentinel');
      const p = await faults((kind) => (kind === rpc ? reset : pass));
      const error = await failureOf(operationFor(rpc, artifact, p));
      expectTyped(error, {
        code: 'ERR_FERRY_NETWORK',
        retryable: true,
        operation: operationName[rpc],
        artifactName: rpc === 'ListArtifacts' ? undefined : artifact,
        attempt: MAX,
        message: new RegExp(`${rpc}: Network error on POST .*/${rpc}`),
      });
      expect(count(p, rpc)).toBe(MAX);
      if (rpc === 'CreateArtifact') {
        // I3: nothing uploaded, nothing finalized.
        expect(count(p, 'block')).toBe(0);
        expect(count(p, 'FinalizeArtifact')).toBe(0);
      }
      if (rpc === 'FinalizeArtifact') {
        // The error says which bytes were uploaded, so the caller can reconcile.
        expect(error.context.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(error.message).toContain(error.context.digest);
        expect(await finalizedResults(artifact)).toHaveLength(0);
      }
      if (rpc === 'GetSignedArtifactURL') {
        expect(count(p, 'blob-get')).toBe(0);
        expect(await snapshotTree(target)).toEqual({});
      }
      if (rpc === 'DeleteArtifact') expect(await finalizedResults(artifact)).toHaveLength(1);
      expect(await snapshotTree(outside)).toEqual(before);
      await expectSocketsReleased(p);
    },
  );

  const legacyCalls = ['legacy-create', 'legacy-patch', 'legacy-list', 'legacy-items'] as const;
  const legacyOperation = (call: (typeof legacyCalls)[number], artifact: string, p: FaultProxy) =>
    call === 'legacy-create' || call === 'legacy-patch'
      ? uploadLegacy(artifact, p)
      : downloadArtifact(artifact, { ...legacy(p), path: path.join(work, 'out', artifact) });
  const legacyLabel = {
    'legacy-create': /create artifact container: Network error on POST /,
    'legacy-patch': /finalize artifact \(PATCH size\): Network error on PATCH /,
    'legacy-list': /list artifacts: Network error on GET /,
    'legacy-items': /list container items: Network error on GET /,
  } as const;

  test.each(legacyCalls)(
    '[P22] legacy: a reset on the first %s request is retried and succeeds',
    async (call) => {
      const artifact = name(`p22-first-${call}`);
      if (call === 'legacy-list' || call === 'legacy-items')
        await uploadArtifact(artifact, files(), path.join(work, 'src'), directLegacy());
      const p = await faults((kind, nth) => (kind === call && nth === 1 ? reset : pass));
      await legacyOperation(call, artifact, p);
      expect(count(p, call)).toBe(2);
      const listed = await legacyArtifacts(artifact);
      expect(listed).toHaveLength(1);
      expect(listed[0]?.size).toBe(2000 * 8 + 64 * 1024);
      await expectSocketsReleased(p);
    },
  );

  test.each(legacyCalls)(
    '[P22] legacy: a reset on every %s attempt ends in a typed error naming the call after maxAttempts',
    async (call) => {
      const artifact = name(`p22-all-${call}`);
      if (call === 'legacy-list' || call === 'legacy-items')
        await uploadArtifact(artifact, files(), path.join(work, 'src'), directLegacy());
      const p = await faults((kind) => (kind === call ? reset : pass));
      const error = await failureOf(legacyOperation(call, artifact, p));
      expectTyped(error, {
        code: 'ERR_FERRY_NETWORK',
        retryable: true,
        operation: call === 'legacy-create' || call === 'legacy-patch' ? 'upload' : 'download',
        // The list of artifacts is not about one artifact; everything after it is.
        artifactName: call === 'legacy-list' ? undefined : artifact,
        attempt: MAX,
        message: legacyLabel[call],
      });
      expect(count(p, call)).toBe(MAX);
      if (call === 'legacy-create') expect(count(p, 'legacy-chunk')).toBe(0);
      if (call === 'legacy-create' || call === 'legacy-patch') {
        // I3: the size was never PATCHed, so the artifact is not presented as complete.
        const listed = await legacyArtifacts(artifact);
        expect(listed.every((a) => a.size !== 2000 * 8 + 64 * 1024)).toBe(true);
      }
      if (call === 'legacy-list' || call === 'legacy-items') expect(count(p, 'legacy-file')).toBe(0);
      await expectSocketsReleased(p);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// P23: the ambiguous case — the server committed, the answer was lost

describe('[P23] a reset after the server committed the call is reconciled', () => {
  const commitLost: FaultAction = { kind: 'reset-after-commit' };

  test('[P23] CreateArtifact committed but unanswered: reconciled, one finalized artifact, no false conflict', async () => {
    const artifact = name('p23-create');
    const p = await faults((kind, nth) => (kind === 'CreateArtifact' && nth === 1 ? commitLost : pass));
    const result = await uploadResults(artifact, p);
    const listed = await finalizedResults(artifact);
    expect(listed).toEqual([expect.objectContaining({ id: result.id, digest: result.digest })]);
    // Reconciled through a listing before the repeat, and finalized exactly once. (ferry serve
    // holds the name for the live, unfinalized upload, so the repeat may meet a 409 that only our
    // own lost create caused: it is cleared by deleting that upload, never reported as a conflict.)
    const order = p.seen.map(kindOf).filter((k) => k !== 'block' && k !== 'blocklist');
    expect(order.slice(0, 3)).toEqual(['CreateArtifact', 'ListArtifacts', 'CreateArtifact']);
    expect(order.at(-1)).toBe('FinalizeArtifact');
    expect(count(p, 'FinalizeArtifact')).toBe(1);
    await expectSocketsReleased(p);
  });

  test('[P23] FinalizeArtifact committed but unanswered: the listing proves it, Finalize is not repeated', async () => {
    const artifact = name('p23-finalize');
    const p = await faults((kind, nth) => (kind === 'FinalizeArtifact' && nth === 1 ? commitLost : pass));
    const result = await uploadResults(artifact, p);
    expect(await finalizedResults(artifact)).toEqual([
      expect.objectContaining({ id: result.id, digest: result.digest }),
    ]);
    expect(count(p, 'FinalizeArtifact')).toBe(1);
    expect(count(p, 'ListArtifacts')).toBe(1);
    await expectSocketsReleased(p);
  });

  test('[P23] DeleteArtifact committed but unanswered: the repeat\'s "not found" is the lost success', async () => {
    const artifact = name('p23-delete');
    await seedResults(artifact);
    const p = await faults((kind, nth) => (kind === 'DeleteArtifact' && nth === 1 ? commitLost : pass));
    await expect(deleteArtifact(artifact, results(p))).resolves.toMatchObject({ id: undefined });
    expect(count(p, 'DeleteArtifact')).toBe(2);
    expect(await finalizedResults(artifact)).toHaveLength(0);
    await expectSocketsReleased(p);
  });

  test('[P23] legacy: create and PATCH committed but unanswered are repeated safely, one complete artifact', async () => {
    for (const call of ['legacy-create', 'legacy-patch'] as const) {
      const artifact = name(`p23-${call}`);
      const p = await faults((kind, nth) => (kind === call && nth === 1 ? commitLost : pass));
      const result = await uploadLegacy(artifact, p);
      expect(count(p, call)).toBe(2);
      const listed = await legacyArtifacts(artifact);
      expect(listed).toHaveLength(1);
      expect(listed[0]).toMatchObject({ id: result.id, size: 2000 * 8 + 64 * 1024 });
      await expectSocketsReleased(p);
      await p.close();
      proxy = undefined;
    }
  });
});

// ---------------------------------------------------------------------------------------------
// P24: no answer at all

describe('[P24] a server that accepts and never answers', () => {
  const stall: FaultAction = { kind: 'stall' };
  /** Long enough that a call the server does answer never times out, even on a busy machine. */
  const ANSWERED_TIMEOUT_MS = 1_000;

  test('[P24] the idle timeout (timeoutMs) fires on a silent ListArtifacts, the retry succeeds', async () => {
    const artifact = name('p24-list');
    await seedResults(artifact);
    const p = await faults((kind, nth) => (kind === 'ListArtifacts' && nth === 1 ? stall : pass));
    const started = Date.now();
    // Only the first call stalls; the timeout must still let the answered retry through on a
    // loaded 2-core CI machine (150 ms did not: a retry timed out too and was counted).
    const listed = await listArtifacts(results(p, { timeoutMs: ANSWERED_TIMEOUT_MS }));
    expect(listed.map((a) => a.name)).toContain(artifact);
    expect(count(p, 'ListArtifacts')).toBe(2);
    expect(Date.now() - started).toBeLessThan(5000);
    await expectSocketsReleased(p);
  });

  test('[P24] a silent CreateArtifact and a silent legacy PATCH time out, are reconciled/retried, and succeed', async () => {
    const a = name('p24-create');
    const p = await faults((kind, nth) => (kind === 'CreateArtifact' && nth === 1 ? stall : pass));
    await uploadResults(a, p, { timeoutMs: ANSWERED_TIMEOUT_MS });
    expect(await finalizedResults(a)).toHaveLength(1);
    expect(count(p, 'CreateArtifact')).toBe(2);
    await expectSocketsReleased(p);
    await p.close();

    const b = name('p24-patch');
    const q = await faults((kind, nth) => (kind === 'legacy-patch' && nth === 1 ? stall : pass));
    await uploadLegacy(b, q, { timeoutMs: ANSWERED_TIMEOUT_MS });
    expect(count(q, 'legacy-patch')).toBe(2);
    expect((await legacyArtifacts(b))[0]?.size).toBe(2000 * 8 + 64 * 1024);
    await expectSocketsReleased(q);
  });

  test('[P24] silence on every attempt: ERR_FERRY_TIMEOUT saying no data arrived within the timeout, after maxAttempts', async () => {
    const artifact = name('p24-all');
    await seedResults(artifact);
    const p = await faults((kind) => (kind === 'GetSignedArtifactURL' ? stall : pass));
    const started = Date.now();
    const error = await failureOf(
      downloadArtifact(artifact, {
        ...results(p, { timeoutMs: 120 }),
        path: path.join(work, 'out', artifact),
      }),
    );
    expectTyped(error, {
      code: 'ERR_FERRY_TIMEOUT',
      retryable: true,
      operation: 'download',
      artifactName: artifact,
      attempt: MAX,
      message: /GetSignedArtifactURL: No data from 127\.0\.0\.1:\d+ within 0\.12 s \(timeoutMs\) on POST /,
    });
    expect(count(p, 'GetSignedArtifactURL')).toBe(MAX);
    // MAX idle timeouts plus tiny backoffs: the budget is the timeouts, not minutes.
    expect(Date.now() - started).toBeLessThan(MAX * 120 + 3000);
    await expectSocketsReleased(p);
  });
});

// ---------------------------------------------------------------------------------------------
// P25: 5xx storms

const bodies = {
  json: {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code: 'internal', msg: 'backend hiccup' }),
  },
  html: {
    headers: { 'content-type': 'text/html' },
    body: `<!DOCTYPE html><html><head><title>${'Gateway trouble '.repeat(40)}</title></head><body>${'x'.repeat(5000)}</body></html>`,
  },
  empty: { headers: {}, body: '' },
} as const;

describe('[P25] 500/502/503/504 with JSON, HTML and empty bodies', () => {
  const matrix = [500, 502, 503, 504].flatMap((status) =>
    (Object.keys(bodies) as Array<keyof typeof bodies>).map((shape) => [status, shape] as const),
  );

  test.each(matrix)(
    '[P25] %i with a %s body on the first attempt of every RPC and of a block is retried; upload, download and delete succeed',
    async (status, shape) => {
      const artifact = name(`p25-${status}-${shape}`);
      const fault: FaultAction = { kind: 'respond', status, ...bodies[shape] };
      const p = await faults((kind, nth) =>
        kind !== 'other' && kind !== 'blob-get' && nth === 1 ? fault : pass,
      );
      const uploaded = await uploadResults(artifact, p);
      const out = path.join(work, 'out', artifact);
      const downloaded = await downloadArtifact(artifact, { ...results(p), path: out });
      expect(downloaded.digest).toBe(uploaded.digest);
      await expectSameBytes(path.join(out, 'b.bin'), path.join(work, 'src', 'b.bin'));
      await deleteArtifact(artifact, results(p));
      // Each call was answered with the 5xx once and then repeated once.
      for (const rpc of [
        'CreateArtifact',
        'FinalizeArtifact',
        'GetSignedArtifactURL',
        'DeleteArtifact',
        'block',
        'blocklist',
      ] as const) {
        expect([rpc, count(p, rpc)]).toEqual([rpc, 2]);
      }
      expectNoSecrets(logs.join('\n'));
      await expectSocketsReleased(p);
    },
  );

  test('[P25] an HTML 503 on every attempt: typed HttpError after maxAttempts, the page cut to 200 characters', async () => {
    const artifact = name('p25-html');
    const p = await faults((kind) =>
      kind === 'CreateArtifact' ? { kind: 'respond', status: 503, ...bodies.html } : pass,
    );
    const error = await failureOf(uploadResults(artifact, p));
    expectTyped(error, {
      code: 'ERR_FERRY_HTTP',
      retryable: true,
      operation: 'upload',
      artifactName: artifact,
      attempt: MAX,
      message: /CreateArtifact failed: Gateway trouble/,
    });
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).status).toBe(503);
    expect((error as HttpError).bodySnippet.length).toBeLessThanOrEqual(200);
    // The 640-character title is cut to 200; none of the 5000-character body is there.
    expect(error.message).not.toContain('Gateway trouble '.repeat(13));
    expect(error.message).not.toContain('xxxxxxxxxx');
    expect(error.message.length).toBeLessThan(700);
    expect(count(p, 'CreateArtifact')).toBe(MAX);
    expect(count(p, 'FinalizeArtifact')).toBe(0);
    await expectSocketsReleased(p);
  });

  test('[P25] an HTML page without a title, on one long line, is cut to 200 characters too', async () => {
    const page = `<body><h1>Bad gateway</h1>${'y'.repeat(3000)}</body>`;
    const p = await faults((kind) =>
      kind === 'ListArtifacts'
        ? { kind: 'respond', status: 502, headers: { 'content-type': 'text/html' }, body: page }
        : pass,
    );
    const error = await failureOf(listArtifacts(results(p)));
    expectTyped(error, { code: 'ERR_FERRY_HTTP', retryable: true, operation: 'list', attempt: MAX });
    expect(error.message).toContain('<body><h1>Bad gateway</h1>');
    expect(error.message).not.toContain('y'.repeat(201));
    expect(count(p, 'ListArtifacts')).toBe(MAX);
    await expectSocketsReleased(p);
  });
});

// ---------------------------------------------------------------------------------------------
// P26: Retry-After and rate limits

/** A clock whose sleeps return at once and record the delay asked for. */
function fakeClock(start: number): Clock & { slept: number[] } {
  let now = start;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: (ms: number) => {
      slept.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
}

describe('[P26] Retry-After, rate limits and the delay cap', () => {
  let loop: Loopback;
  let answers: Array<{ status: number; headers?: Record<string, string>; body?: string }> = [];
  const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

  beforeAll(async () => {
    loop = await startLoopback((req, res) => {
      req.resume();
      const next = answers.shift() ?? { status: 200, body: 'ok' };
      res.writeHead(next.status, next.headers ?? {});
      res.end(next.body ?? '');
    });
  });
  afterAll(async () => {
    await loop.close();
  });

  /** One GET through an HttpManager on the default policy (cap 60 s), with the fake clock. */
  async function run(
    sequence: typeof answers,
    retry: Partial<import('../../src/transport/retry.js').RetryPolicy> = {},
  ): Promise<{ slept: number[]; error: unknown; requests: number }> {
    answers = [...sequence];
    const before = loop.requests.length;
    const clock = fakeClock(NOW);
    const manager = new HttpManager({
      slots: 1,
      userAgent: 'ferry-test',
      clock,
      random: () => 0.5,
      retry,
      logger,
    });
    let error: unknown;
    try {
      await manager.request(
        {
          slot: 0,
          method: 'GET',
          url: loop.url,
          context: { operation: 'list', artifactName: 'ra' },
          call: 'probe',
        },
        readText,
      );
    } catch (e: unknown) {
      error = e;
    } finally {
      manager.dispose();
    }
    await waitFor(() => loop.open === 0);
    return { slept: clock.slept, error, requests: loop.requests.length - before };
  }

  const backoff1 = 750; // default policy: base 1000, jitter 0.5, random 0.5 → 500 + 250

  test.each([
    ['delta-seconds', '7', 7000],
    ['a fraction of a second', '0.25', 250],
    ['an HTTP-date 12 s ahead', new Date(NOW + 12_000).toUTCString(), 12_000],
    ['an HTTP-date in the past', new Date(NOW - 60_000).toUTCString(), 0],
    ['an absurd 86400 s (clamped to the 60 s cap)', '86400', 60_000],
    ['a far-future HTTP-date (clamped)', new Date(NOW + 30 * 86_400_000).toUTCString(), 60_000],
    ['a negative value (ignored: backoff)', '-5', backoff1],
    ['garbage (ignored: backoff)', 'soon', backoff1],
    ['garbage that Date.parse would accept (ignored: backoff)', '1 2', backoff1],
  ])('[P26] 429 with Retry-After %s waits %#', async (_label, value, expected) => {
    const { slept, error, requests } = await run([
      { status: 429, headers: { 'retry-after': String(value) } },
    ]);
    expect(error).toBeUndefined();
    expect(slept).toEqual([expected]);
    expect(requests).toBe(2);
    // The decision is logged with its delay and where it came from.
    expect(logs.at(-1)).toMatch(new RegExp(`retry 1 in ${expected} ms \\((server|backoff)\\)`));
  });

  test('[P26] 503 with Retry-After is honoured the same way', async () => {
    const { slept } = await run([{ status: 503, headers: { 'retry-after': '3' } }]);
    expect(slept).toEqual([3000]);
  });

  test('[P26] a Retry-After beyond the remaining time budget stops the retries instead of waiting', async () => {
    const { slept, error, requests } = await run([{ status: 429, headers: { 'retry-after': '86400' } }], {
      totalTimeMs: 30_000,
    });
    expect(slept).toEqual([]);
    expect(requests).toBe(1);
    expect(isFerryError(error) && error.code).toBe('ERR_FERRY_HTTP');
    expect(isFerryError(error) && error.retryable).toBe(true);
  });

  test('[P26] a smaller cap (maxRetryAfterMs) clamps every server-chosen delay', async () => {
    const { slept } = await run(
      [
        { status: 429, headers: { 'retry-after': '86400' } },
        { status: 503, headers: { 'retry-after': new Date(NOW + 3_600_000).toUTCString() } },
      ],
      { maxRetryAfterMs: 5_000 },
    );
    expect(slept).toEqual([5_000, 5_000]);
  });

  test('[P26] a GitHub 403 that says "rate limit" in the body is retried after its Retry-After', async () => {
    const { slept, error, requests } = await run([
      {
        status: 403,
        headers: { 'content-type': 'application/json', 'retry-after': '30' },
        body: JSON.stringify({ message: 'You have exceeded a secondary rate limit.' }),
      },
    ]);
    expect(error).toBeUndefined();
    expect(slept).toEqual([30_000]);
    expect(requests).toBe(2);
  });

  test('[P26] a 403 with x-ratelimit-remaining: 0 is retried at x-ratelimit-reset', async () => {
    const { slept, error, requests } = await run([
      {
        status: 403,
        headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW / 1000 + 20) },
        body: JSON.stringify({ message: 'Forbidden' }),
      },
    ]);
    expect(error).toBeUndefined();
    expect(slept).toEqual([20_000]);
    expect(requests).toBe(2);
  });

  test('[P26] a plain 403 is not retried: one request, a permanent typed error', async () => {
    const { slept, error, requests } = await run([
      {
        status: 403,
        headers: { 'x-ratelimit-remaining': '12' },
        body: JSON.stringify({ message: 'Resource not accessible by integration' }),
      },
    ]);
    expect(slept).toEqual([]);
    expect(requests).toBe(1);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ code: 'ERR_FERRY_UNAUTHORIZED', retryable: false, status: 403 });
  });

  test('[P26] end to end: an absurd Retry-After on CreateArtifact is clamped to the configured cap and the upload succeeds', async () => {
    const artifact = name('p26-e2e');
    const p = await faults((kind, nth) =>
      kind === 'CreateArtifact' && nth === 1
        ? {
            kind: 'respond',
            status: 429,
            headers: { 'retry-after': '86400', 'content-type': 'application/json' },
            body: '{"msg":"slow down"}',
          }
        : kind === 'ListArtifacts' && nth === 1
          ? {
              kind: 'respond',
              status: 403,
              headers: { 'retry-after': 'garbage' },
              body: '{"message":"API rate limit exceeded"}',
            }
          : pass,
    );
    const started = Date.now();
    await uploadResults(artifact, p, { retry: { ...RETRY, maxRetryAfterMs: 25 } });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(count(p, 'CreateArtifact')).toBe(2);
    expect(
      logs.some((l) => /CreateArtifact: POST .* failed \(HTTP 429\), retry 1 in 25 ms \(server\)/.test(l)),
    ).toBe(true);
    await listArtifacts(results(p, { retry: { ...RETRY, maxRetryAfterMs: 25 } }));
    expect(count(p, 'ListArtifacts')).toBe(2);
    expect(
      logs.some((l) => /ListArtifacts: POST .* failed \(HTTP 429\), retry 1 in \d+ ms \(backoff\)/.test(l)),
    ).toBe(true);
    expectNoSecrets(logs.join('\n'));
    await expectSocketsReleased(p);
  });
});

// ---------------------------------------------------------------------------------------------
// P33: finalize refused after the blob was committed

describe('[P33] FinalizeArtifact refused after the blob was committed', () => {
  test('[P33] ok:false without committing: a typed error with the digest; nothing is finalized, no silent success', async () => {
    const artifact = name('p33-notok');
    const p = await faults((kind) =>
      kind === 'FinalizeArtifact'
        ? {
            kind: 'respond',
            status: 200,
            headers: { 'content-type': 'application/json' },
            body: '{"ok":false}',
          }
        : pass,
    );
    const error = await failureOf(uploadResults(artifact, p));
    expectTyped(error, {
      code: 'ERR_FERRY_PROTOCOL',
      retryable: false,
      operation: 'upload',
      artifactName: artifact,
      message:
        /FinalizeArtifact refused artifact '.*' after its \d+ bytes were uploaded \(ok: false\); the service lists no finalized artifact/,
    });
    expect(error.context.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(error.message).toContain(`digest ${error.context.digest}`);
    expect(error.context.artifactId).toBeUndefined();
    expect(count(p, 'FinalizeArtifact')).toBe(1);
    expect(await finalizedResults(artifact)).toHaveLength(0);
    await expectSocketsReleased(p);
  });

  test.each([
    [
      '409',
      {
        status: 409,
        headers: { 'content-type': 'application/json' },
        body: '{"code":"already_exists","msg":"artifact already finalized"}',
      },
      'ERR_FERRY_CONFLICT',
    ],
    [
      'ok:false',
      { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":false}' },
      'ERR_FERRY_PROTOCOL',
    ],
  ] as const)(
    '[P33] %s after the server committed: the error carries the artifact id and digest the service lists',
    async (_label, answer, code) => {
      const artifact = name('p33-committed');
      const p = await faults((kind) =>
        kind === 'FinalizeArtifact' ? { kind: 'replace-response', ...answer } : pass,
      );
      const error = await failureOf(uploadResults(artifact, p));
      const [listed] = await finalizedResults(artifact);
      expect(listed?.id).toBeDefined();
      expectTyped(error, { code, retryable: false, operation: 'upload', artifactName: artifact });
      expect(error.context.artifactId).toBe(listed?.id);
      expect(error.context.digest).toBe(listed?.digest);
      expect(error.message).toContain(`artifact id ${listed?.id}`);
      expect(error.message).toContain('with this digest');
      // Refused means refused: never repeated, never reported as success.
      expect(count(p, 'FinalizeArtifact')).toBe(1);
      await expectSocketsReleased(p);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// X01: 408

describe('[X01] 408 Request Timeout', () => {
  test('[X01] a 408 on an RPC, a block and a legacy chunk is retried like a 5xx', async () => {
    const artifact = name('x01');
    const t408: FaultAction = { kind: 'respond', status: 408, body: 'request timeout' };
    const p = await faults((kind, nth) =>
      (kind === 'CreateArtifact' ||
        kind === 'block' ||
        kind === 'ListArtifacts' ||
        kind === 'legacy-chunk') &&
      nth === 1
        ? t408
        : pass,
    );
    await uploadResults(artifact, p);
    await listArtifacts(results(p));
    await uploadLegacy(artifact, p);
    expect(count(p, 'CreateArtifact')).toBe(2);
    expect(count(p, 'block')).toBe(2);
    expect(count(p, 'ListArtifacts')).toBe(2);
    expect(count(p, 'legacy-chunk')).toBe(3);
    expect(await finalizedResults(artifact)).toHaveLength(1);
    await expectSocketsReleased(p);
  });

  test('[X01] 408 on every attempt: a retryable HttpError after maxAttempts', async () => {
    const artifact = name('x01-all');
    const p = await faults((kind) => (kind === 'legacy-create' ? { kind: 'respond', status: 408 } : pass));
    const error = await failureOf(uploadLegacy(artifact, p));
    expectTyped(error, {
      code: 'ERR_FERRY_HTTP',
      retryable: true,
      operation: 'upload',
      artifactName: artifact,
      attempt: MAX,
    });
    expect((error as HttpError).status).toBe(408);
    expect(count(p, 'legacy-create')).toBe(MAX);
    expect(count(p, 'legacy-patch')).toBe(0);
    await expectSocketsReleased(p);
  });
});

// ---------------------------------------------------------------------------------------------
// X02: a body shorter than its Content-Length

describe('[X02] a response body shorter than its declared Content-Length', () => {
  const short: FaultAction = { kind: 'wrong-length', extra: 50 };

  test('[X02] on ListArtifacts, CreateArtifact, FinalizeArtifact and a legacy list: retried (or reconciled), never accepted', async () => {
    const artifact = name('x02');
    const p = await faults((kind, nth) =>
      (kind === 'ListArtifacts' ||
        kind === 'CreateArtifact' ||
        kind === 'FinalizeArtifact' ||
        kind === 'legacy-list') &&
      nth === 1
        ? short
        : pass,
    );
    const uploaded = await uploadResults(artifact, p);
    expect(await finalizedResults(artifact)).toEqual([
      expect.objectContaining({ id: uploaded.id, digest: uploaded.digest }),
    ]);
    // The cut Create answer was reconciled (listing, then a repeat), never taken as an answer.
    expect(count(p, 'CreateArtifact')).toBeGreaterThanOrEqual(2);
    // The cut Finalize answer was reconciled by a listing (whose own first answer was cut too).
    expect(count(p, 'FinalizeArtifact')).toBe(1);
    const listed = await listArtifacts(results(p));
    expect(listed.some((a) => a.name === artifact)).toBe(true);
    await expect(listArtifacts(legacy(p))).resolves.toBeInstanceOf(Array);
    expect(count(p, 'legacy-list')).toBe(2);
    await expectSocketsReleased(p);
  });

  test('[X02] on a blob download: the short body is not accepted; the resume finds the real end and the digest verifies', async () => {
    const artifact = name('x02-blob');
    await seedResults(artifact);
    const p = await faults((kind, nth) => (kind === 'blob-get' && nth === 1 ? short : pass));
    const out = path.join(work, 'out', artifact);
    await mkdir(out, { recursive: true });
    await downloadArtifact(artifact, { ...results(p), path: out });
    // The short body was treated as a broken transfer and fetched again, not accepted: the
    // resume past the declared-but-missing end gets 416 with the real size, which equals what
    // arrived, and the listed digest then proves the bytes.
    expect(count(p, 'blob-get')).toBe(2);
    await expectSameBytes(path.join(out, 'b.bin'), path.join(work, 'src', 'b.bin'));
    await expectSocketsReleased(p);
  });

  test('[X02] short on every attempt: a retryable network error after maxAttempts', async () => {
    const p = await faults((kind) => (kind === 'ListArtifacts' ? short : pass));
    const error = await failureOf(listArtifacts(results(p)));
    expectTyped(error, {
      code: 'ERR_FERRY_NETWORK',
      retryable: true,
      operation: 'list',
      attempt: MAX,
      message: /ListArtifacts: Network error on POST /,
    });
    expect(count(p, 'ListArtifacts')).toBe(MAX);
    await expectSocketsReleased(p);
  });
});

// ---------------------------------------------------------------------------------------------
// X05: permanent errors stop every worker

const permanentStatuses = [400, 401, 403, 404, 409, 413, 422] as const;
const shapes = {
  string: (message: string) => JSON.stringify({ message }),
  list: (message: string) => JSON.stringify({ errors: [{ message }, { message: 'see docs' }] }),
} as const;
const expectedCode: Record<(typeof permanentStatuses)[number], string> = {
  400: 'ERR_FERRY_HTTP',
  401: 'ERR_FERRY_UNAUTHORIZED',
  403: 'ERR_FERRY_UNAUTHORIZED',
  404: 'ERR_FERRY_NOT_FOUND',
  409: 'ERR_FERRY_CONFLICT',
  413: 'ERR_FERRY_HTTP',
  422: 'ERR_FERRY_HTTP',
};
const permanentMatrix = permanentStatuses.flatMap((status) =>
  (Object.keys(shapes) as Array<keyof typeof shapes>).map((shape) => [status, shape] as const),
);

describe('[X05] a permanent error stops the whole operation', () => {
  test.each(permanentMatrix)(
    '[X05] legacy upload, concurrency 4, 40 files: %i (%s-shaped body) on one chunk → typed error, zero requests after it',
    async (status, shape) => {
      const artifact = name(`x05-${status}-${shape}`);
      // The 5th chunk PUT is held until three more are in flight (one per other worker), then
      // refused; the three stay unanswered. From that moment on the proxy must see nothing new.
      let pending = 0;
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let cutoff = -1;
      void gate.then(() => {
        cutoff = p.seen.length;
      });
      const message = `server says no (${status})`;
      const p = await faults((kind, nth) => {
        if (kind !== 'legacy-chunk' || nth < 5) return pass;
        if (nth === 5) {
          return {
            kind: 'defer',
            until: gate,
            then: {
              kind: 'respond',
              status,
              headers: { 'content-type': 'application/json' },
              body: shapes[shape](message),
            },
          };
        }
        if (++pending === 3) release();
        return { kind: 'stall' };
      });
      const error = await failureOf(
        uploadArtifact(artifact, manyFiles(), path.join(work, 'many'), legacy(p, { concurrency: 4 })),
      );
      expect(cutoff).toBeGreaterThan(0);
      expect(p.seen.length).toBe(cutoff);
      expectTyped(error, {
        code: expectedCode[status],
        retryable: false,
        operation: 'upload',
        artifactName: artifact,
        attempt: 1,
        message: new RegExp(`status code ${status}.*server says no`),
      });
      expect(error.context.file).toMatch(/^f\d+\.txt$/);
      expect(count(p, 'legacy-patch')).toBe(0);
      await expectSocketsReleased(p);
    },
  );

  test.each(permanentMatrix)(
    '[X05] results CreateArtifact answering %i (%s-shaped body): typed error, exactly one request',
    async (status, shape) => {
      const artifact = name(`x05r-${status}-${shape}`);
      const p = await faults((kind) =>
        kind === 'CreateArtifact'
          ? {
              kind: 'respond',
              status,
              headers: { 'content-type': 'application/json' },
              body: shapes[shape](`create refused ${status}`),
            }
          : pass,
      );
      const error = await failureOf(uploadResults(artifact, p, { concurrency: 4 }));
      expectTyped(error, {
        code: expectedCode[status],
        retryable: false,
        operation: 'upload',
        artifactName: artifact,
        attempt: 1,
      });
      expect(error.message).toContain(`create refused ${status}`);
      expect(p.seen).toHaveLength(1);
      await expectSocketsReleased(p);
    },
  );

  test('[X05] legacy download, concurrency 4: a 404 on one file stops every worker; the target is unchanged', async () => {
    const artifact = name('x05-download');
    await uploadArtifact(artifact, manyFiles(), path.join(work, 'many'), directLegacy());
    const target = path.join(work, 'out', artifact);
    await mkdir(target, { recursive: true });
    await writeFile(path.join(target, 'existing.txt'), 'mine');
    const before = await snapshotTree(target);
    let pending = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let cutoff = -1;
    void gate.then(() => {
      cutoff = p.seen.length;
    });
    const p = await faults((kind, nth) => {
      if (kind !== 'legacy-file' || nth < 5) return pass;
      if (nth === 5)
        return {
          kind: 'defer',
          until: gate,
          then: { kind: 'respond', status: 404, body: shapes.list('gone') },
        };
      if (++pending === 3) release();
      return { kind: 'stall' };
    });
    const error = await failureOf(
      downloadArtifact(artifact, { ...legacy(p, { concurrency: 4 }), path: target }),
    );
    expect(p.seen.length).toBe(cutoff);
    expectTyped(error, {
      code: 'ERR_FERRY_NOT_FOUND',
      retryable: false,
      operation: 'download',
      artifactName: artifact,
    });
    expect(await snapshotTree(target)).toEqual(before);
    await expectSocketsReleased(p);
  });
});

// ---------------------------------------------------------------------------------------------
// X08: reset while the client is still sending

describe('[X08] a reset while the client is still sending a chunk or block', () => {
  test('[X08] legacy: the second 256 KiB chunk is cut after 64 KiB; it is re-sent and the file is intact', async () => {
    const artifact = name('x08-legacy');
    const p = await faults((kind, nth) =>
      kind === 'legacy-chunk' && nth === 2 ? { kind: 'reset-mid-request', bytes: 64 * 1024 } : pass,
    );
    await uploadArtifact(
      artifact,
      [path.join(work, 'big.bin')],
      work,
      legacy(p, { chunkSize: 256 * 1024, compressionLevel: 0 }),
    );
    expect(count(p, 'legacy-chunk')).toBe(5);
    const out = path.join(work, 'out', artifact);
    await downloadArtifact(artifact, { ...directLegacy(), path: out });
    await expectSameBytes(path.join(out, 'big.bin'), path.join(work, 'big.bin'));
    await expectSocketsReleased(p);
  });

  test('[X08] results: the block is cut after 100 KB; it is re-sent, committed once, and the artifact verifies', async () => {
    const artifact = name('x08-results');
    const p = await faults((kind, nth) =>
      kind === 'block' && nth === 1 ? { kind: 'reset-mid-request', bytes: 100_000 } : pass,
    );
    const uploaded = await uploadArtifact(
      artifact,
      [path.join(work, 'big.bin')],
      work,
      results(p, { compressionLevel: 0 }),
    );
    expect(count(p, 'block')).toBe(2);
    expect(count(p, 'blocklist')).toBe(1);
    const out = path.join(work, 'out', artifact);
    const downloaded = await downloadArtifact(artifact, { ...directResults(), path: out });
    expect(downloaded.digest).toBe(uploaded.digest);
    await expectSameBytes(path.join(out, 'big.bin'), path.join(work, 'big.bin'));
    await expectSocketsReleased(p);
  });

  test('[X08] a block cut on every attempt: typed network error, no commit, no Finalize', async () => {
    const artifact = name('x08-all');
    const p = await faults((kind) =>
      kind === 'block' ? { kind: 'reset-mid-request', bytes: 10_000 } : pass,
    );
    const error = await failureOf(
      uploadArtifact(artifact, [path.join(work, 'big.bin')], work, results(p, { compressionLevel: 0 })),
    );
    expectTyped(error, {
      code: 'ERR_FERRY_NETWORK',
      retryable: true,
      operation: 'upload',
      artifactName: artifact,
      attempt: MAX,
    });
    expect(count(p, 'block')).toBe(MAX);
    expect(count(p, 'blocklist')).toBe(0);
    expect(count(p, 'FinalizeArtifact')).toBe(0);
    await expectSocketsReleased(p);
  });
});

// ---------------------------------------------------------------------------------------------
// X11: no socket left behind

describe('[X11] client sockets after faulted operations', () => {
  test('[X11] after resets, silence, short bodies, cut requests, 5xx and a permanent 4xx, no client socket stays open', async () => {
    const scenarios: Array<
      [string, (kind: Kind, nth: number) => FaultAction, (a: string, p: FaultProxy) => Promise<unknown>]
    > = [
      ['reset', (k) => (k === 'ListArtifacts' ? reset : pass), (_a, p) => listArtifacts(results(p))],
      [
        'lost answer',
        (k, n) => (k === 'FinalizeArtifact' && n === 1 ? { kind: 'reset-after-commit' } : pass),
        (a, p) => uploadResults(a, p),
      ],
      [
        'silence',
        (k) => (k === 'CreateArtifact' ? { kind: 'stall' } : pass),
        (a, p) => uploadResults(a, p, { timeoutMs: 100 }),
      ],
      [
        'short body',
        (k) => (k === 'legacy-list' ? { kind: 'wrong-length', extra: 10 } : pass),
        (_a, p) => listArtifacts(legacy(p)),
      ],
      [
        'cut request',
        (k) => (k === 'legacy-chunk' ? { kind: 'reset-mid-request', bytes: 1 } : pass),
        (a, p) => uploadLegacy(a, p),
      ],
      [
        '5xx',
        (k) => (k === 'block' ? { kind: 'respond', status: 503 } : pass),
        (a, p) => uploadResults(a, p, { concurrency: 4 }),
      ],
      [
        'permanent',
        (k) => (k === 'legacy-chunk' ? { kind: 'respond', status: 403, body: '{"message":"no"}' } : pass),
        (a, p) => uploadArtifact(a, manyFiles(), path.join(work, 'many'), legacy(p, { concurrency: 4 })),
      ],
    ];
    for (const [label, decide, operation] of scenarios) {
      const p = await faults(decide);
      await operation(name(`x11-${label.replace(/\s/g, '-')}`), p).catch(() => undefined);
      expect(p.connections).toBeGreaterThan(0);
      await waitFor(() => p.open === 0, 3000).catch(() => undefined);
      expect([label, p.open]).toEqual([label, 0]);
      await p.close();
      proxy = undefined;
    }
    expectNoSecrets(logs.join('\n'));
  });

  test('[X11] a raw HttpManager request that failed leaves no socket on the server', async () => {
    const loop = await startLoopback((req, res) => {
      req.resume();
      res.writeHead(500);
      res.end('boom');
    });
    try {
      const manager = new HttpManager({ slots: 2, userAgent: 't', retry: RETRY });
      await expect(
        manager.request({ slot: 1, method: 'PUT', url: loop.url, body: Buffer.alloc(1000) }, discardBody),
      ).rejects.toMatchObject({
        code: 'ERR_FERRY_HTTP',
        retryable: true,
      });
      manager.dispose();
      await waitFor(() => loop.open === 0);
      expect(loop.connections).toBe(MAX);
    } finally {
      await loop.close();
    }
  });
});
