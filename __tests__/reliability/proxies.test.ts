/**
 * Reliability cases P34 (forward proxies, sub-cases a–h), X09 (a proxy drops a tunnel mid-upload)
 * and X10 (`ferry doctor` explains the route of each endpoint).
 *
 * Real sockets on loopback only: ferry serve (http), a TLS front in front of it (https, signed by
 * the committed test CA), forward proxies from proxy-servers.ts (strict-CONNECT, Basic auth,
 * tunnel-dropping, TLS-intercepting, closing after CONNECT 200) and the `proxy` npm package.
 * Cases that need Ferry to trust a private CA run the SDK in a child process with
 * NODE_EXTRA_CA_CERTS (read only at process start), with an environment built from scratch.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createProxy, type ProxyServer } from 'proxy';

import { runDoctor } from '../../src/cli/doctor.js';
import { downloadArtifact, listArtifacts, uploadArtifact } from '../../src/client.js';
import { fromEnvironment } from '../../src/environment.js';
import { isFerryError, type FerryError } from '../../src/core/errors.js';
import type { ArtifactClientOptions } from '../../src/options.js';
import type { ProxySettings } from '../../src/transport/proxy.js';
import type { Logger } from '../../src/core/types.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { waitFor } from '../helpers/loopback.js';
import { startFixture, type ServerFixture } from '../helpers/server-fixture.js';
import { SENTINEL, expectNoSecrets, snapshotTree } from './invariants.js';
import {
  TLS,
  bundleChildren,
  kindOf,
  runNode,
  startForwardProxy,
  startTlsFront,
  type ChildRun,
  type RequestKind,
  type TlsFront,
} from './proxy-servers.js';

const MiB = 1024 * 1024;
const FAST_RETRY = { baseDelayMs: 1, maxDelayMs: 5 };

let fx: ServerFixture;
let front: TlsFront;
let work: string;
let children: { client: string; cli: string };

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'ferry-proxies-'));
  [fx, children] = await Promise.all([startFixture(), bundleChildren(path.join(work, 'bundle'))]);
  front = await startTlsFront(fx.server.url);
}, 60_000);

afterAll(async () => {
  await front?.close();
  await fx?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Helpers

/** A results-scoped runtime token whose signature is the sentinel (I6). Runs are numeric for REST. */
function token(run: number): string {
  const [header, payload] = runtimeJwt(String(run), 'job').split('.');
  return `${header}.${payload}.${SENTINEL.tokenSignature}`;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** A source tree with one incompressible file of `bigBytes` (0: none) and a small text file. */
async function sourceTree(
  name: string,
  bigBytes: number,
): Promise<{ dir: string; files: Record<string, string> }> {
  const dir = path.join(work, 'src', name);
  await mkdir(dir, { recursive: true });
  const files: Record<string, string> = {};
  const small = Buffer.from(`small file of ${name}\n`);
  await writeFile(path.join(dir, 'small.txt'), small);
  files['small.txt'] = sha256(small);
  if (bigBytes > 0) {
    const big = randomBytes(bigBytes);
    await writeFile(path.join(dir, 'big.bin'), big);
    files['big.bin'] = sha256(big);
  }
  return { dir, files };
}

async function expectTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, hash] of Object.entries(files)) {
    expect(sha256(await readFile(path.join(dir, name)))).toBe(hash);
  }
}

async function capture(promise: Promise<unknown>): Promise<FerryError> {
  try {
    await promise;
  } catch (error: unknown) {
    expect(isFerryError(error)).toBe(true);
    return error as FerryError;
  }
  throw new Error('expected the operation to fail');
}

/** A logger that keeps every line, debug included, for the secret scan. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const add = (level: string) => (message: string) => lines.push(`${level}: ${message}`);
  return { lines, debug: add('debug'), info: add('info'), warn: add('warn'), error: add('error') };
}

const count = (seen: Array<{ url: string }>, rpc: string): number =>
  seen.filter((r) => r.url.includes(`/${rpc}`)).length;

/** Environment of a child: only what the case sets (never the parent's proxy variables). */
function childEnv(extra: Record<string, string>): Record<string, string> {
  return { HOME: work, ...extra };
}

function runChild(env: Record<string, string>, spec: unknown): Promise<ChildRun> {
  return runNode(children.client, [JSON.stringify(spec)], childEnv(env));
}

/** A child run must leak nothing: stdout, stderr and every error rendering. */
function expectChildClean(run: ChildRun): void {
  expectNoSecrets(run.stdout, run.stderr);
}

/** A recording http front of ferry serve (Host preserved, so blob URLs point at it too). */
function recorder(): Promise<FaultProxy> {
  return startFaultProxy(fx.server.url, () => ({ kind: 'pass' }), { preserveHost: true });
}

/** The `proxy` npm package as a real forward proxy, with CONNECT and request counters. */
async function npmProxy(authenticate?: (header: string | undefined) => boolean): Promise<{
  server: ProxyServer;
  url: string;
  connects: string[];
  requests: string[];
  auth: Array<string | undefined>;
  open: () => number;
  close: () => Promise<void>;
}> {
  const server = createProxy(http.createServer());
  const connects: string[] = [];
  const requests: string[] = [];
  const auth: Array<string | undefined> = [];
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.prependListener('request', (req: http.IncomingMessage) => requests.push(req.url ?? ''));
  server.prependListener('connect', (req: http.IncomingMessage) => connects.push(req.url ?? ''));
  if (authenticate) {
    server.authenticate = (req) => {
      const header = req.headers['proxy-authorization'];
      auth.push(header);
      return authenticate(header);
    };
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    connects,
    requests,
    auth,
    open: () => sockets.size,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const withCredentials = (proxyUrl: string, user: string, password: string): string =>
  proxyUrl.replace('http://', `http://${encodeURIComponent(user)}:${encodeURIComponent(password)}@`);

const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

// ---------------------------------------------------------------------------------------------
// P34 (a)

describe('P34 forward proxies', () => {
  test('[P34] (a) a strict-CONNECT proxy carries a 9 MiB upload and its download over https (no CONNECT has a body header)', async () => {
    const proxy = await startForwardProxy({ strictConnect: true });
    try {
      // The proxy really is strict: a CONNECT with Content-Length is refused.
      const refused = await rawConnect(proxy.port, `127.0.0.1:${front.port}`, 'Content-Length: 0\r\n');
      expect(refused).toMatch(/^HTTP\/1\.1 400 /);
      proxy.connects.length = 0;

      const run = 34_101;
      const src = await sourceTree('p34a', 9 * MiB + 17);
      const out = path.join(work, 'out', 'p34a');
      const before = front.seen.length;
      const connectionsBefore = front.connections;
      const result = await runChild(
        {
          NODE_EXTRA_CA_CERTS: TLS.siteCaFile,
          HTTPS_PROXY: proxy.url,
          ACTIONS_RESULTS_URL: front.url,
          ACTIONS_RUNTIME_TOKEN: token(run),
        },
        {
          ops: [
            { op: 'upload', name: 'big-through-strict', dir: src.dir },
            { op: 'download', name: 'big-through-strict', path: out },
          ],
        },
      );
      expect(result.results.map((r) => [r.op, r.ok, r.error?.message])).toEqual([
        ['upload', true, undefined],
        ['download', true, undefined],
      ]);
      await expectTree(out, src.files);

      expect(proxy.connects.length).toBeGreaterThan(0);
      for (const c of proxy.connects) {
        expect(c).toMatchObject({ authority: `127.0.0.1:${front.port}`, status: 200 });
        expect(c.headers['content-length']).toBeUndefined();
        expect(c.headers['transfer-encoding']).toBeUndefined();
      }
      const seen = front.seen.slice(before);
      // More than one 8 MiB block went up, and exactly one Finalize.
      const blocks = seen.filter(
        (r) => kindOf(r.method, r.url) === 'blob-up' && /comp=block(&|$)/.test(r.url),
      );
      expect(blocks.length).toBeGreaterThanOrEqual(2);
      expect(count(seen, 'FinalizeArtifact')).toBe(1);
      // Every connection the server got was a tunnel of the proxy: nothing went direct.
      expect(front.connections - connectionsBefore).toBe(proxy.connects.length);
      expectChildClean(result);
      await waitFor(() => proxy.open === 0, 3000);
    } finally {
      await proxy.close();
    }
  });

  // -------------------------------------------------------------------------------------------
  // P34 (b)

  test('[P34] (b) 407 without credentials: ERR_FERRY_PROXY naming the proxy, the operation and the artifact; never retried, nothing created', async () => {
    const proxy = await npmProxy(() => false);
    try {
      const served = fx.server.stats().requests;
      const cases: Array<[string, ProxySettings]> = [
        [`https://127.0.0.1:${front.port}/`, { httpsProxy: proxy.url }],
        [fx.server.url, { httpProxy: proxy.url }],
      ];
      const src = await sourceTree('p34b', 0);
      for (const [resultsUrl, settings] of cases) {
        proxy.connects.length = 0;
        proxy.requests.length = 0;
        const err = await capture(
          uploadArtifact('needs-login', [path.join(src.dir, 'small.txt')], src.dir, {
            resultsUrl,
            runtimeToken: token(34_102),
            proxy: settings,
            retry: FAST_RETRY,
          }),
        );
        expect(err.code).toBe('ERR_FERRY_PROXY');
        expect((err as FerryError & { status?: number }).status).toBe(407);
        expect(err.retryable).toBe(false);
        expect(err.message).toMatch(
          new RegExp(
            `^proxy authentication required: proxy 127\\.0\\.0\\.1:${proxy.url.split(':')[2]} answered 407`,
          ),
        );
        expect(err.message).toContain('no credentials were configured');
        expect(err.message).toContain('operation upload');
        expect(err.message).toContain("artifact 'needs-login'");
        expect(err.message).not.toMatch(/ECONNRESET|socket hang up/);
        // Exactly one attempt reached the proxy: a 407 is permanent.
        expect(proxy.connects.length + proxy.requests.length).toBe(1);
        expectNoSecrets(err);
        await waitFor(() => proxy.open() === 0, 3000);
      }
      // Nothing reached the service: no artifact created, none finalized.
      expect(fx.server.stats().requests).toBe(served);
    } finally {
      await proxy.close();
    }
  });

  test('[P34] (b) wrong credentials: the 407 says they were rejected and the password appears nowhere', async () => {
    const proxy = await npmProxy(() => false);
    const logger = recordingLogger();
    try {
      const src = await sourceTree('p34b2', 0);
      for (const settings of [
        { httpsProxy: withCredentials(proxy.url, 'ci', SENTINEL.proxyPassword) },
        { httpProxy: withCredentials(proxy.url, 'ci', SENTINEL.proxyPassword) },
      ]) {
        const target = settings.httpsProxy ? `https://127.0.0.1:${front.port}/` : fx.server.url;
        const err = await capture(
          uploadArtifact('wrong-login', [path.join(src.dir, 'small.txt')], src.dir, {
            resultsUrl: target,
            runtimeToken: token(34_103),
            proxy: settings,
            retry: FAST_RETRY,
            logger,
          }),
        );
        expect(err.code).toBe('ERR_FERRY_PROXY');
        expect(err.message).toContain('the credentials in the proxy URL were rejected');
        expect(err.message).toContain(`proxy 127.0.0.1:${proxy.url.split(':')[2]}`);
        expectNoSecrets(err, logger.lines.join('\n'));
      }
      // The proxy did get the right (decoded) password: only our output must not show it.
      expect(proxy.auth.every((h) => h === basic('ci', SENTINEL.proxyPassword))).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  // -------------------------------------------------------------------------------------------
  // P34 (c)

  test('[P34] (c) credentials with @ : % percent-encoded in the proxy URL work for http targets (every request) and never reach the target', async () => {
    const user = 'build@ci';
    const expected = basic(user, SENTINEL.proxyPassword);
    const proxy = await npmProxy((header) => header === expected);
    const rec = await recorder();
    const logger = recordingLogger();
    try {
      const settings = { httpProxy: withCredentials(proxy.url, user, SENTINEL.proxyPassword) };
      expect(settings.httpProxy).toContain('build%40ci:SENTINEL-proxy-p%40ss%3Aw%25rd@');
      const src = await sourceTree('p34c', 64 * 1024);
      const out = path.join(work, 'out', 'p34c');
      const options: ArtifactClientOptions = {
        resultsUrl: rec.url,
        runtimeToken: token(34_104),
        proxy: settings,
        retry: FAST_RETRY,
        logger,
      };
      const up = await uploadArtifact(
        'with-login',
        Object.keys(src.files).map((f) => path.join(src.dir, f)),
        src.dir,
        options,
      );
      const down = await downloadArtifact('with-login', { ...options, path: out });
      await expectTree(out, src.files);
      expect(proxy.auth.length).toBeGreaterThanOrEqual(4); // Create, blob PUTs, Finalize, List, ...
      expect(proxy.auth.every((h) => h === expected)).toBe(true);
      expect(proxy.requests.length).toBe(rec.seen.length);
      expect(rec.seen.every((r) => r.headers['proxy-authorization'] === undefined)).toBe(true);
      expectNoSecrets(up, down, logger.lines.join('\n'));
    } finally {
      await rec.close();
      await proxy.close();
    }
  });

  test('[P34] (c) the same credentials on CONNECT (https target, child process)', async () => {
    const user = 'build@ci';
    const proxy = await startForwardProxy({ auth: basic(user, SENTINEL.proxyPassword) });
    try {
      const src = await sourceTree('p34c2', 0);
      const out = path.join(work, 'out', 'p34c2');
      const result = await runChild(
        {
          NODE_EXTRA_CA_CERTS: TLS.siteCaFile,
          HTTPS_PROXY: withCredentials(proxy.url, user, SENTINEL.proxyPassword),
          ACTIONS_RESULTS_URL: front.url,
          ACTIONS_RUNTIME_TOKEN: token(34_105),
        },
        {
          ops: [
            { op: 'upload', name: 'with-login-tls', dir: src.dir },
            { op: 'download', name: 'with-login-tls', path: out },
          ],
        },
      );
      expect(result.results.map((r) => r.ok)).toEqual([true, true]);
      await expectTree(out, src.files);
      expect(proxy.connects.length).toBeGreaterThan(0);
      expect(proxy.connects.every((c) => c.status === 200)).toBe(true);
      expectChildClean(result);
    } finally {
      await proxy.close();
    }
  });

  // -------------------------------------------------------------------------------------------
  // P34 (d)

  test('[P34] (d) one NO_PROXY table for RPC, REST, blob upload and blob download', async () => {
    const proxy = await startForwardProxy({ mark: 'p34d' });
    const rec = await recorder();
    try {
      const port = Number(new URL(rec.url).port);
      // [NO_PROXY, how the target host is spelled, goes through the proxy?]
      const rows: Array<[string | undefined, '127.0.0.1' | 'localhost', boolean]> = [
        [undefined, '127.0.0.1', true],
        ['', '127.0.0.1', true],
        ['*', '127.0.0.1', false],
        ['127.0.0.1', '127.0.0.1', false],
        ['127.0.0.0/8', '127.0.0.1', false],
        ['10.0.0.0/8', '127.0.0.1', true],
        [`127.0.0.1:${port}`, '127.0.0.1', false],
        [`127.0.0.1:${port === 1 ? 2 : 1}`, '127.0.0.1', true],
        ['::ffff:127.0.0.1', '127.0.0.1', false],
        ['localhost', '127.0.0.1', true], // names never match IP literals
        ['0.0.1', '127.0.0.1', true], // nor does a suffix of an address
        ['localhost', 'localhost', false],
        ['LOCALHOST.', 'localhost', false], // case and a trailing dot are ignored
        ['.localhost', 'localhost', false],
        [' example.com , .other.test ', 'localhost', true],
        [`localhost:${port}`, 'localhost', false],
      ];
      const src = await sourceTree('p34d', 32 * 1024);
      let i = 0;
      for (const [noProxy, host, proxied] of rows) {
        i++;
        const run = 34_200 + i;
        const base = `http://${host}:${port}/`;
        const options: ArtifactClientOptions = {
          resultsUrl: base,
          runtimeToken: token(run),
          proxy: { httpProxy: proxy.url, ...(noProxy === undefined ? {} : { noProxy }) },
          retry: FAST_RETRY,
        };
        const findBy = { token: SENTINEL.githubToken, repository: 'o/r', runId: run, apiUrl: base };
        const from = rec.seen.length;
        const name = `row-${i}`;
        await uploadArtifact(
          name,
          Object.keys(src.files).map((f) => path.join(src.dir, f)),
          src.dir,
          options,
        );
        await downloadArtifact(name, { ...options, path: path.join(work, 'out', `p34d-${i}`) });
        expect((await listArtifacts({ ...options, findBy })).map((a) => a.name)).toEqual([name]);
        await downloadArtifact(name, { ...options, findBy, path: path.join(work, 'out', `p34d-rest-${i}`) });
        await expectTree(path.join(work, 'out', `p34d-rest-${i}`), src.files);

        const byKind = new Map<RequestKind, boolean[]>();
        for (const r of rec.seen.slice(from)) {
          const kind = kindOf(r.method, r.url);
          byKind.set(kind, [...(byKind.get(kind) ?? []), r.headers['x-test-proxy'] === 'p34d']);
        }
        const row = `NO_PROXY=${JSON.stringify(noProxy)} target ${host}`;
        for (const kind of ['rpc', 'rest', 'blob-up', 'blob-down'] as const) {
          const routes = byKind.get(kind) ?? [];
          expect({ row, kind, seen: routes.length > 0 }).toEqual({ row, kind, seen: true });
          expect({ row, kind, proxied: routes.every((p) => p === proxied) }).toEqual({
            row,
            kind,
            proxied: true,
          });
        }
      }
    } finally {
      await rec.close();
      await proxy.close();
    }
  });

  // -------------------------------------------------------------------------------------------
  // P34 (e)

  test('[P34] (e) an uppercase-only environment (HTTP_PROXY / HTTPS_PROXY / NO_PROXY) is honoured', async () => {
    const proxy = await startForwardProxy({ mark: 'p34e' });
    const rec = await recorder();
    try {
      const src = await sourceTree('p34e', 16 * 1024);
      // In-process, through fromEnvironment exactly as the CLI and the Action read it.
      const env = (noProxy: string): ArtifactClientOptions => ({
        ...fromEnvironment({
          ACTIONS_RESULTS_URL: rec.url,
          ACTIONS_RUNTIME_TOKEN: token(34_301),
          HTTP_PROXY: proxy.url,
          NO_PROXY: noProxy,
        }),
        retry: FAST_RETRY,
      });
      let from = rec.seen.length;
      await uploadArtifact('upper', [path.join(src.dir, 'small.txt')], src.dir, env('example.com'));
      const viaProxy = rec.seen.slice(from);
      expect(viaProxy.length).toBeGreaterThan(0);
      expect(viaProxy.every((r) => r.headers['x-test-proxy'] === 'p34e')).toBe(true);
      from = rec.seen.length;
      await downloadArtifact('upper', { ...env('127.0.0.1'), path: path.join(work, 'out', 'p34e') });
      const direct = rec.seen.slice(from);
      expect(direct.length).toBeGreaterThan(0);
      expect(direct.every((r) => r.headers['x-test-proxy'] === undefined)).toBe(true);

      // https through CONNECT, uppercase only, in a child process.
      proxy.connects.length = 0;
      const result = await runChild(
        {
          NODE_EXTRA_CA_CERTS: TLS.siteCaFile,
          HTTPS_PROXY: proxy.url,
          NO_PROXY: 'example.com,10.0.0.0/8',
          ACTIONS_RESULTS_URL: front.url,
          ACTIONS_RUNTIME_TOKEN: token(34_302),
        },
        { ops: [{ op: 'upload', name: 'upper-tls', dir: src.dir }] },
      );
      expect(result.results.map((r) => r.ok)).toEqual([true]);
      expect(proxy.connects.map((c) => c.authority)).toContain(`127.0.0.1:${front.port}`);
      expectChildClean(result);
    } finally {
      await rec.close();
      await proxy.close();
    }
  });

  // -------------------------------------------------------------------------------------------
  // P34 (f)

  test('[P34] (f) a TLS-intercepting proxy works with its CA in NODE_EXTRA_CA_CERTS, and fails with a TLS error naming the proxy without it', async () => {
    const proxy = await startForwardProxy({ intercept: { ...TLS.inspect, upstreamCa: TLS.siteCa } });
    try {
      const src = await sourceTree('p34f', 256 * 1024);
      const out = path.join(work, 'out', 'p34f');
      const env = {
        HTTPS_PROXY: proxy.url,
        ACTIONS_RESULTS_URL: front.url,
        ACTIONS_RUNTIME_TOKEN: token(34_401),
      };
      const trusted = await runChild(
        { ...env, NODE_EXTRA_CA_CERTS: TLS.inspectCaFile },
        {
          ops: [
            { op: 'upload', name: 'inspected', dir: src.dir },
            { op: 'download', name: 'inspected', path: out },
          ],
        },
      );
      expect(trusted.results.map((r) => [r.ok, r.error?.message])).toEqual([
        [true, undefined],
        [true, undefined],
      ]);
      await expectTree(out, src.files);
      // The proxy really read the traffic: it saw every call in clear text.
      const kinds = new Set(proxy.intercepted.map((r) => kindOf(r.method, r.url)));
      expect([...kinds].sort()).toEqual(['blob-down', 'blob-up', 'rpc']);
      expect(count(proxy.intercepted, 'FinalizeArtifact')).toBe(1);
      expectChildClean(trusted);

      // Trusting only the real server's CA: the inspecting proxy's certificate is refused.
      proxy.connects.length = 0;
      proxy.intercepted.length = 0;
      const before = front.seen.length;
      const refused = await runChild(
        { ...env, NODE_EXTRA_CA_CERTS: TLS.siteCaFile },
        { ops: [{ op: 'upload', name: 'not-inspected', dir: src.dir }] },
      );
      const error = refused.results[0]?.error;
      expect(refused.code).toBe(1);
      expect(error?.code).toBe('ERR_FERRY_PROXY');
      expect(error?.message).toMatch(
        new RegExp(
          `^TLS handshake with 127\\.0\\.0\\.1:${front.port} through proxy 127\\.0\\.0\\.1:${proxy.port} failed: .*(certificate|issuer)`,
        ),
      );
      expect(error?.message).toContain('operation upload');
      expect(error?.message).toContain("artifact 'not-inspected'");
      expect(error?.retryable).toBe(false);
      expect(error?.proxy).toBe(`127.0.0.1:${proxy.port}`);
      // Not retried (a certificate does not change), and nothing got through.
      expect(proxy.connects).toHaveLength(1);
      expect(proxy.intercepted).toHaveLength(0);
      expect(front.seen.length).toBe(before);
      expectChildClean(refused);
    } finally {
      await proxy.close();
    }
  });

  // -------------------------------------------------------------------------------------------
  // P34 (g)

  test('[P34] (g) a proxy that closes right after "200 Connection established": a TLS/network error naming the proxy, retried within policy, sockets released', async () => {
    const proxy = await startForwardProxy({ closeAfterConnect: true });
    try {
      const target = await mkdtemp(path.join(work, 'p34g-'));
      const outside = await mkdtemp(path.join(work, 'p34g-outside-'));
      await writeFile(path.join(outside, 'sentinel.txt'), 'keep me');
      await writeFile(path.join(target, 'existing.txt'), 'already here');
      const beforeTarget = await snapshotTree(target);
      const beforeOutside = await snapshotTree(outside);
      const seenBefore = front.seen.length;
      const maxAttempts = 3;
      const err = await capture(
        downloadArtifact('never-reached', {
          resultsUrl: front.url,
          runtimeToken: token(34_501),
          proxy: { httpsProxy: withCredentials(proxy.url, 'ci', SENTINEL.proxyPassword) },
          retry: { ...FAST_RETRY, maxAttempts },
          path: target,
        }),
      );
      expect(err.code).toBe('ERR_FERRY_PROXY');
      expect(err.message).toMatch(
        new RegExp(
          `^TLS handshake with 127\\.0\\.0\\.1:${front.port} through proxy 127\\.0\\.0\\.1:${proxy.port} failed: `,
        ),
      );
      expect(err.message).toContain('operation download');
      expect(err.message).toContain("artifact 'never-reached'");
      expect((err as FerryError & { errno?: string }).errno).toMatch(/^(ECONNRESET|EPIPE)$/);
      expect(err.retryable).toBe(true);
      // Retried exactly as the policy says: one CONNECT per attempt, then the last cause.
      expect(proxy.connects).toHaveLength(maxAttempts);
      expect(front.seen.length).toBe(seenBefore);
      expect(await snapshotTree(target)).toEqual(beforeTarget);
      expect(await snapshotTree(outside)).toEqual(beforeOutside);
      expectNoSecrets(err);
      await waitFor(() => proxy.open === 0, 3000);
    } finally {
      await proxy.close();
    }
  });

  test('[P34] (g) the same proxy on an upload: bounded attempts, no Finalize', async () => {
    const proxy = await startForwardProxy({ closeAfterConnect: true });
    try {
      const src = await sourceTree('p34g2', 0);
      const seenBefore = front.seen.length;
      const maxAttempts = 3;
      const err = await capture(
        uploadArtifact('never-created', [path.join(src.dir, 'small.txt')], src.dir, {
          resultsUrl: front.url,
          runtimeToken: token(34_502),
          proxy: { httpsProxy: proxy.url },
          retry: { ...FAST_RETRY, maxAttempts },
        }),
      );
      expect(err.code).toBe('ERR_FERRY_PROXY');
      expect(err.message).toMatch(/through proxy 127\.0\.0\.1:\d+ failed: /);
      expect(err.message).toContain("artifact 'never-created'");
      // Create is reconciled (List) before it is repeated, so allow both per attempt, never more.
      expect(proxy.connects.length).toBeGreaterThanOrEqual(maxAttempts);
      expect(proxy.connects.length).toBeLessThanOrEqual(2 * maxAttempts);
      expect(front.seen.length).toBe(seenBefore);
      await waitFor(() => proxy.open === 0, 3000);
    } finally {
      await proxy.close();
    }
  });

  // -------------------------------------------------------------------------------------------
  // P34 (h)

  test('[P34] (h) only HTTP_PROXY set: https targets go direct (curl/Go/http-client rule), http targets use it', async () => {
    const proxy = await startForwardProxy({ mark: 'p34h' });
    const rec = await recorder();
    try {
      const run = 34_601;
      const src = await sourceTree('p34h', 16 * 1024);
      const out = path.join(work, 'out', 'p34h');
      const frontBefore = front.seen.length;
      const recBefore = rec.seen.length;
      const result = await runChild(
        {
          NODE_EXTRA_CA_CERTS: TLS.siteCaFile,
          HTTP_PROXY: proxy.url,
          ACTIONS_RESULTS_URL: front.url,
          ACTIONS_RUNTIME_TOKEN: token(run),
        },
        {
          ops: [
            { op: 'upload', name: 'http-proxy-only', dir: src.dir },
            { op: 'download', name: 'http-proxy-only', path: out },
            // REST on an http:// API URL: this one goes through HTTP_PROXY.
            {
              op: 'list',
              findBy: { token: SENTINEL.githubToken, repository: 'o/r', runId: run, apiUrl: rec.url },
            },
          ],
        },
      );
      expect(result.results.map((r) => [r.op, r.ok])).toEqual([
        ['upload', true],
        ['download', true],
        ['list', true],
      ]);
      await expectTree(out, src.files);
      // https: RPC and blob traffic went straight to the server; the proxy saw no CONNECT.
      expect(proxy.connects).toHaveLength(0);
      const direct = front.seen.slice(frontBefore).map((r) => kindOf(r.method, r.url));
      expect(new Set(direct)).toEqual(new Set(['rpc', 'blob-up', 'blob-down']));
      // http: the REST listing went through the proxy.
      const rest = rec.seen.slice(recBefore);
      expect(rest.length).toBeGreaterThan(0);
      expect(
        rest.every((r) => kindOf(r.method, r.url) === 'rest' && r.headers['x-test-proxy'] === 'p34h'),
      ).toBe(true);
      expect(proxy.requests.every((r) => r.url.startsWith(rec.url))).toBe(true);
      expectChildClean(result);
    } finally {
      await rec.close();
      await proxy.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// X09

describe('X09 a proxy drops the connection mid-upload', () => {
  test('[X09] a forward proxy cuts a blob PUT mid-body: that request is retried, one Finalize, the artifact is intact', async () => {
    const proxy = await startForwardProxy({ dropOnceAfterBytes: 1 * MiB, mark: 'x09' });
    const rec = await recorder();
    const logger = recordingLogger();
    try {
      const src = await sourceTree('x09', 3 * MiB);
      const out = path.join(work, 'out', 'x09');
      const options: ArtifactClientOptions = {
        resultsUrl: rec.url,
        runtimeToken: token(9_001),
        proxy: { httpProxy: withCredentials(proxy.url, 'ci', SENTINEL.proxyPassword) },
        retry: FAST_RETRY,
        logger,
      };
      const from = rec.seen.length;
      await uploadArtifact(
        'cut-once',
        Object.keys(src.files).map((f) => path.join(src.dir, f)),
        src.dir,
        options,
      );
      expect(proxy.drops).toBe(1);
      // The cut request was a block PUT, and exactly that block was sent again.
      const cut = proxy.dropped[0] ?? '';
      const [method, url] = cut.split(' ') as [string, string];
      expect(kindOf(method, url)).toBe('blob-up');
      const blockId = new URL(url).searchParams.get('blockid');
      expect(blockId).not.toBeNull();
      const seen = rec.seen.slice(from);
      expect(
        seen.filter(
          (r) => r.method === 'PUT' && new URL(r.url, rec.url).searchParams.get('blockid') === blockId,
        ),
      ).toHaveLength(2);
      expect(count(seen, 'FinalizeArtifact')).toBe(1);
      expect(count(seen, 'CreateArtifact')).toBe(1);
      // One retry, logged with its cause; never more than the policy allows.
      const retries = logger.lines.filter((l) => /retry \d+ in/.test(l));
      expect(retries).toHaveLength(1);
      expect(retries[0]).toMatch(/^debug: PUT .* failed \((ECONNRESET|EPIPE)\), retry 1 in/);
      await downloadArtifact('cut-once', { ...options, path: out });
      await expectTree(out, src.files);
      expectNoSecrets(logger.lines.join('\n'));
      await waitFor(() => proxy.open === 0, 3000);
    } finally {
      await rec.close();
      await proxy.close();
    }
  });

  test('[X09] a CONNECT tunnel cut mid-upload (https, child process) is retried on a new tunnel; one Finalize; the artifact is intact', async () => {
    const proxy = await startForwardProxy({ dropOnceAfterBytes: 2 * MiB });
    try {
      const src = await sourceTree('x09tls', 9 * MiB);
      const out = path.join(work, 'out', 'x09tls');
      const before = front.seen.length;
      const result = await runChild(
        {
          NODE_EXTRA_CA_CERTS: TLS.siteCaFile,
          HTTPS_PROXY: proxy.url,
          ACTIONS_RESULTS_URL: front.url,
          ACTIONS_RUNTIME_TOKEN: token(9_002),
        },
        {
          ops: [
            { op: 'upload', name: 'tunnel-cut', dir: src.dir },
            { op: 'download', name: 'tunnel-cut', path: out },
          ],
        },
      );
      expect(result.results.map((r) => [r.op, r.ok, r.error?.message])).toEqual([
        ['upload', true, undefined],
        ['download', true, undefined],
      ]);
      expect(proxy.drops).toBe(1);
      expect(proxy.connects.length).toBeGreaterThanOrEqual(2);
      expect(count(front.seen.slice(before), 'FinalizeArtifact')).toBe(1);
      await expectTree(out, src.files);
      expectChildClean(result);
    } finally {
      await proxy.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// X10

describe('X10 ferry doctor explains every route', () => {
  test('[X10] results RPC and blob storage via the proxy (password hidden), the REST API direct with the NO_PROXY entry that matched', async () => {
    const proxy = await startForwardProxy({ mark: 'x10' });
    const rec = await recorder();
    try {
      const run = 10_001;
      const src = await sourceTree('x10', 0);
      await uploadArtifact('for-doctor', [path.join(src.dir, 'small.txt')], src.dir, {
        resultsUrl: rec.url,
        runtimeToken: token(run),
      });
      const proxyUrl = withCredentials(proxy.url, 'doc', SENTINEL.proxyPassword);
      const options = fromEnvironment({
        ACTIONS_RESULTS_URL: rec.url,
        ACTIONS_RUNTIME_TOKEN: token(run),
        http_proxy: proxyUrl,
        NO_PROXY: 'example.com, localhost',
      });
      const apiUrl = `http://localhost:${fx.server.port}/`;
      const checks = await runDoctor(options, { apiUrl });
      const byName = Object.fromEntries(checks.map((c) => [c.name, c]));
      const via = `via http://doc:***@127.0.0.1:${proxy.port} (http_proxy)`;
      expect(byName['results service']).toMatchObject({ ok: true });
      expect(byName['results service']?.detail).toMatch(/answered HTTP \d+/);
      expect(byName['results service']?.detail).toContain(via);
      expect(byName['blob storage']).toMatchObject({ ok: true });
      expect(byName['blob storage']?.detail).toContain(`${new URL(rec.url).origin}/ answered HTTP`);
      expect(byName['blob storage']?.detail).toContain(via);
      expect(byName['REST API']).toMatchObject({ ok: true });
      expect(byName['REST API']?.detail).toContain('direct (NO_PROXY matches localhost)');
      // The proxy saw the RPC and blob probes, and nothing for the REST API.
      expect(proxy.requests.length).toBeGreaterThanOrEqual(3);
      expect(proxy.requests.every((r) => r.url.startsWith(rec.url.replace(/\/$/, '')))).toBe(true);
      // No signature, no token, no password.
      expectNoSecrets(checks);
      expect(JSON.stringify(checks)).not.toContain('sig=');
    } finally {
      await rec.close();
      await proxy.close();
    }
  });

  test('[X10] a run without artifacts: blob storage is reported as not probed (never guessed); legacy shows the runtime service route', async () => {
    const proxy = await startForwardProxy();
    try {
      const results = await runDoctor(
        fromEnvironment({
          ACTIONS_RESULTS_URL: fx.server.url,
          ACTIONS_RUNTIME_TOKEN: token(10_002),
          HTTP_PROXY: proxy.url,
          NO_PROXY: `127.0.0.1:${fx.server.port}`,
        }),
      );
      const blob = results.find((c) => c.name === 'blob storage');
      expect(blob).toMatchObject({ ok: true });
      expect(blob?.detail).toMatch(/^not probed: this run has no artifact yet/);
      expect(results.find((c) => c.name === 'results service')?.detail).toContain(
        `direct (NO_PROXY matches 127.0.0.1:${fx.server.port})`,
      );
      expect(results.find((c) => c.name === 'REST API')?.detail).toMatch(
        /^https:\/\/api\.github\.com \(GITHUB_API_URL not set; not probed\), direct \(HTTPS_PROXY not set\)/,
      );

      const legacy = await runDoctor(
        fromEnvironment({
          ACTIONS_RUNTIME_URL: fx.server.url,
          ACTIONS_RUNTIME_TOKEN: 'opaque',
          GITHUB_RUN_ID: '7',
          HTTP_PROXY: withCredentials(proxy.url, 'doc', SENTINEL.proxyPassword),
        }),
      );
      const runtime = legacy.find((c) => c.name === 'runtime service');
      expect(runtime).toMatchObject({ ok: true });
      expect(runtime?.detail).toContain(`via http://doc:***@127.0.0.1:${proxy.port} (HTTP_PROXY)`);
      expectNoSecrets(results, legacy);
    } finally {
      await proxy.close();
    }
  });

  test('[X10] `ferry doctor --json` (CLI, child process) prints the routes and never the proxy password', async () => {
    const proxy = await startForwardProxy();
    try {
      const run = await runNode(
        children.cli,
        ['doctor', '--json'],
        childEnv({
          ACTIONS_RESULTS_URL: fx.server.url,
          ACTIONS_RUNTIME_TOKEN: token(10_001 + 2),
          HTTPS_PROXY: withCredentials(proxy.url, 'doc', SENTINEL.proxyPassword),
          HTTP_PROXY: withCredentials(proxy.url, 'doc', SENTINEL.proxyPassword),
          GITHUB_API_URL: fx.server.url,
          NO_PROXY: 'example.com',
        }),
      );
      expect(run.code).toBe(0);
      const result = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as {
        checks: Array<{ name: string; ok: boolean; detail: string }>;
      };
      expect(result.checks.map((c) => c.name)).toEqual([
        'protocol',
        'token',
        'results service',
        'blob storage',
        'REST API',
      ]);
      for (const name of ['results service', 'REST API']) {
        expect(result.checks.find((c) => c.name === name)?.detail).toContain(
          `via http://doc:***@127.0.0.1:${proxy.port} (HTTP_PROXY)`,
        );
      }
      expectNoSecrets(run.stdout, run.stderr);
    } finally {
      await proxy.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------

/** Sends one raw CONNECT (with extra header lines) and returns the proxy's status line. */
function rawConnect(port: number, authority: string, extraHeaders: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${extraHeaders}\r\n`);
    });
    let data = '';
    socket.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      if (data.includes('\r\n')) {
        socket.destroy();
        resolve(data.split('\r\n')[0] ?? '');
      }
    });
    socket.on('error', reject);
  });
}
