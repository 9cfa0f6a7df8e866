/**
 * A hostile server (issue 10, items 2–5 and beyond): every place the client takes bytes, sizes
 * or URLs from a server, answered with the worst value. Each server here is a real node:http
 * server on 127.0.0.1 started by the test; a second one on another port is "another origin"
 * and records every request (and its Authorization header) that reaches it.
 *
 * Invariants asserted throughout: a typed FerryError with its code and `retryable` as stated;
 * the number of requests the hostile server saw (a refusal is not retried); bytes the server
 * managed to push, as a bound on what the client read; no token on a foreign origin; nothing
 * written in or outside the target; no secret in any error.
 */
import { pbkdf2 } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { builtLibrary } from '../helpers/built-lib.js';
import os from 'node:os';
import path from 'node:path';
import {
  downloadArtifact,
  fromEnvironment,
  isFerryError,
  listArtifacts,
  uploadArtifact,
  type ArtifactClientOptions,
  type FerryError,
} from '../../src/index.js';
import type { OperationContext } from '../../src/backends/backend.js';
import { LegacyBackend } from '../../src/backends/legacy/legacy-backend.js';
import { silentLogger } from '../../src/core/types.js';
import { HttpManager } from '../../src/transport/http-manager.js';
import { Operation } from '../../src/transport/operation.js';
import { discardBody } from '../../src/transport/body.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { startLoopback, type Loopback } from '../helpers/loopback.js';
import { expectNoSecrets, SENTINEL, snapshotTree } from './invariants.js';
import { TLS } from './proxy-servers.js';

const RETRY = { baseDelayMs: 1, maxDelayMs: 4, maxAttempts: 3, jitter: 0 } as const;
const RUN = '77';
const TOKEN = `${runtimeJwt('run-x', 'job-x').split('.').slice(0, 2).join('.')}.${SENTINEL.tokenSignature}`;
const KIB = 1024;
const MIB = 1024 * KIB;

let work: string;
let servers: Array<{ close(): Promise<void> }> = [];
let sequence = 0;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-hostile-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function serve(handler: http.RequestListener): Promise<Loopback> {
  const server = await startLoopback(handler);
  servers.push(server);
  return server;
}

/** A fresh target inside a fresh directory with an outside sentinel next to it. */
async function freshTarget(): Promise<{ parent: string; target: string }> {
  const parent = path.join(work, `t${++sequence}`);
  await mkdir(path.join(parent, 'outside'), { recursive: true });
  return { parent, target: path.join(parent, 'target') };
}

async function caught(promise: Promise<unknown>): Promise<FerryError> {
  try {
    await promise;
  } catch (error: unknown) {
    if (!isFerryError(error)) throw error;
    expectNoSecrets(error);
    return error;
  }
  throw new Error('expected the call to fail');
}

/** Writes `total` bytes (or forever when undefined) as fast as the client takes them; counts what was written. */
function pump(res: http.ServerResponse, total: number | undefined, sent: { bytes: number }): void {
  const block = Buffer.alloc(64 * KIB, 0x20);
  const write = (): void => {
    while (total === undefined || sent.bytes < total) {
      const piece =
        total === undefined ? block : block.subarray(0, Math.min(block.length, total - sent.bytes));
      sent.bytes += piece.length;
      if (!res.write(piece)) {
        res.once('drain', write);
        return;
      }
    }
    res.end();
  };
  res.on('error', () => undefined);
  write();
}

const legacyOptions = (runtimeUrl: string, extra: ArtifactClientOptions = {}): ArtifactClientOptions => ({
  backend: 'legacy',
  runtimeUrl,
  runtimeToken: TOKEN,
  runId: RUN,
  retry: RETRY,
  concurrency: 2,
  ...extra,
});

function json(res: http.ServerResponse, value: unknown, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

interface LegacyPlan {
  /** The container URL handed out (default: this server's). */
  containerUrl?: (self: string) => string;
  /** Answers the container listing. */
  listing?: (req: http.IncomingMessage, res: http.ServerResponse, self: string) => void;
  /** Answers a file GET. */
  file?: (req: http.IncomingMessage, res: http.ServerResponse) => void;
}

/** A legacy (pipelines) service with one artifact `art`, every answer replaceable. */
async function legacyServer(plan: LegacyPlan): Promise<Loopback & { listings: number; files: number }> {
  const counters = { listings: 0, files: 0 };
  const server = await serve((req, res) => {
    const self = server.url;
    const url = new URL(req.url ?? '/', self);
    if (url.pathname.endsWith(`/workflows/${RUN}/artifacts`)) {
      json(res, {
        count: 1,
        value: [
          {
            name: 'art',
            containerId: 1,
            size: 3,
            type: 'actions_storage',
            url: '',
            fileContainerResourceUrl: plan.containerUrl?.(self) ?? `${self}container/1`,
          },
        ],
      });
    } else if (url.pathname === '/container/1' && url.searchParams.get('itemPath') === 'art') {
      counters.listings++;
      if (plan.listing) plan.listing(req, res, self);
      else
        json(res, {
          count: 1,
          value: [{ path: 'art/a.txt', itemType: 'file', fileLength: 3, contentLocation: `${self}file/a` }],
        });
    } else if (url.pathname.startsWith('/file/')) {
      counters.files++;
      if (plan.file) plan.file(req, res);
      else res.end('abc');
    } else {
      res.writeHead(404).end();
    }
  });
  // Getters, not values: Object.assign would copy the counts once.
  Object.defineProperty(server, 'listings', { get: () => counters.listings });
  Object.defineProperty(server, 'files', { get: () => counters.files });
  return server as Loopback & { listings: number; files: number };
}

interface ResultsPlan {
  size?: unknown;
  listing?: (res: http.ServerResponse) => void;
  signedUrl?: (self: string) => string;
  blob?: (req: http.IncomingMessage, res: http.ServerResponse) => void;
}

/** A results (Twirp) service with one artifact `art` and its blob on the same server. */
async function resultsServer(plan: ResultsPlan): Promise<Loopback & { blobs: number }> {
  const counters = { blobs: 0 };
  const server = await serve((req, res) => {
    const self = server.url;
    const url = new URL(req.url ?? '/', self);
    req.resume();
    if (url.pathname.endsWith('/ListArtifacts')) {
      if (plan.listing) return plan.listing(res);
      return json(res, {
        artifacts: [
          {
            workflow_run_backend_id: 'run-x',
            workflow_job_run_backend_id: 'job-x',
            database_id: '5',
            name: 'art',
            size: plan.size === undefined ? '1000' : plan.size,
          },
        ],
      });
    }
    if (url.pathname.endsWith('/GetSignedArtifactURL'))
      return json(res, {
        signed_url: plan.signedUrl?.(self) ?? `${self}blob/art?sig=${SENTINEL.sasSignature}`,
      });
    if (url.pathname.startsWith('/blob/')) {
      counters.blobs++;
      return plan.blob ? plan.blob(req, res) : res.end('x'.repeat(1000));
    }
    res.writeHead(404).end();
  });
  Object.defineProperty(server, 'blobs', { get: () => counters.blobs });
  return server as Loopback & { blobs: number };
}

const resultsOptions = (resultsUrl: string, extra: ArtifactClientOptions = {}): ArtifactClientOptions => ({
  backend: 'results',
  resultsUrl,
  runtimeToken: TOKEN,
  retry: RETRY,
  tempDir: path.join(work, 'tmp'),
  ...extra,
});

describe('[X18] JSON answers are capped while reading', () => {
  it('[X18] an endless ListArtifacts answer is refused at maxResponseBytes: typed, one request, socket cut', async () => {
    const sent = { bytes: 0 };
    const server = await resultsServer({
      listing: (res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"artifacts":[');
        pump(res, undefined, sent);
      },
    });
    const error = await caught(listArtifacts(resultsOptions(server.url, { maxResponseBytes: 256 * KIB })));
    expect(error.code).toBe('ERR_FERRY_RESPONSE_TOO_LARGE');
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(
      /ListArtifacts answer is larger than the limit of 262144 bytes \(maxResponseBytes\)/,
    );
    expect(server.requests.filter((r) => r.url.endsWith('/ListArtifacts'))).toHaveLength(1);
    // The client stopped reading: what the server pushed is the cap plus socket buffers, not the body.
    await new Promise((r) => setTimeout(r, 100));
    expect(sent.bytes).toBeLessThan(256 * KIB + 16 * MIB);
  });

  it('[X18] a Content-Length over the cap is refused before the body is read (legacy list, default cap from FERRY_MAX_RESPONSE_BYTES)', async () => {
    const sent = { bytes: 0 };
    const server = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(512 * MIB) });
      pump(res, 512 * MIB, sent);
    });
    const env = fromEnvironment({ FERRY_MAX_RESPONSE_BYTES: String(64 * KIB) });
    expect(env.maxResponseBytes).toBe(64 * KIB);
    const error = await caught(listArtifacts(legacyOptions(server.url, env)));
    expect(error.code).toBe('ERR_FERRY_RESPONSE_TOO_LARGE');
    expect(error.message).toMatch(/list artifacts answer is larger than the limit of 65536 bytes/);
    expect(server.requests).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(sent.bytes).toBeLessThan(16 * MIB);
  });

  it('[X18] bad limits are refused naming the option or the variable', async () => {
    expect(() => fromEnvironment({ FERRY_MAX_RESPONSE_BYTES: '1e9' })).toThrow(/FERRY_MAX_RESPONSE_BYTES/);
    const error = await caught(listArtifacts({ maxResponseBytes: 2 ** 40 }));
    expect(error.code).toBe('ERR_FERRY_INVALID_OPTION');
    expect(error.message).toMatch(/maxResponseBytes/);
  });

  it('[X18] an error page with an endless body is read at most 1 MiB, then the socket is cut; retries stay bounded', async () => {
    const sent: Array<{ bytes: number }> = [];
    const server = await serve((req, res) => {
      const counter = { bytes: 0 };
      sent.push(counter);
      res.writeHead(500, { 'content-type': 'text/html' });
      pump(res, undefined, counter);
    });
    const error = await caught(listArtifacts(legacyOptions(server.url)));
    expect(error.code).toBe('ERR_FERRY_HTTP');
    expect(server.requests).toHaveLength(RETRY.maxAttempts);
    await new Promise((r) => setTimeout(r, 100));
    for (const counter of sent) expect(counter.bytes).toBeLessThan(1 * MIB + 16 * MIB);
  });
});

describe('[X19] The legacy container listing is streamed, each item capped', () => {
  it('[X19] one item larger than maxResponseBytes is refused while reading; nothing is written', async () => {
    const sent = { bytes: 0 };
    const server = await legacyServer({
      listing: (req, res, self) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(
          `{"count":2,"value":[{"path":"art/a.txt","itemType":"file","contentLocation":"${self}file/a"},{"path":"art/b","junk":"`,
        );
        pump(res, undefined, sent);
      },
    });
    const { parent, target } = await freshTarget();
    const before = await snapshotTree(parent);
    const error = await caught(
      downloadArtifact('art', {
        ...legacyOptions(server.url, { maxResponseBytes: 128 * KIB }),
        path: target,
      }),
    );
    expect(error.code).toBe('ERR_FERRY_RESPONSE_TOO_LARGE');
    expect(error.message).toMatch(
      /An item of the container listing is larger than the limit of 131072 bytes/,
    );
    expect(server.listings).toBe(1);
    expect(server.files).toBe(0);
    expect(await snapshotTree(parent)).toEqual(before);
  });

  it('[X19] endless filler outside the items is bounded too', async () => {
    const server = await legacyServer({
      listing: (req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"count":1,"value":[');
        pump(res, undefined, { bytes: 0 });
      },
    });
    const { target } = await freshTarget();
    const error = await caught(
      downloadArtifact('art', { ...legacyOptions(server.url, { maxResponseBytes: 64 * KIB }), path: target }),
    );
    expect(error.code).toBe('ERR_FERRY_RESPONSE_TOO_LARGE');
    expect(error.message).toMatch(/outside its items/);
  });

  it('[X19] items split at every byte boundary, escapes, braces in strings and other keys parse as JSON.parse would', async () => {
    const value = [
      { path: 'art/q"}]{[.txt', itemType: 'file', fileLength: 3, contentLocation: 'FILE/q' },
      { path: 'art/é ü.txt', itemType: 'file', fileLength: 3, contentLocation: 'FILE/u', note: 'a\\"\\' },
      { path: 'art/dir', itemType: 'folder', contentLocation: 'x' },
    ];
    const server = await legacyServer({
      listing: (req, res, self) => {
        const body = Buffer.from(
          JSON.stringify(
            { before: { value: [1, 2] }, count: 3, value, after: '"value":[' },
            null,
            2,
          ).replaceAll('FILE/', `${self}file/`),
        );
        res.writeHead(200, { 'content-type': 'application/json' });
        // One byte per write: every boundary falls inside a string, an escape or a UTF-8 sequence.
        let i = 0;
        const next = (): void => {
          if (i >= body.length) return void res.end();
          res.write(body.subarray(i, ++i), next);
        };
        next();
      },
    });
    const { target } = await freshTarget();
    const result = await downloadArtifact('art', { ...legacyOptions(server.url), path: target });
    expect(result.fileCount).toBe(2);
    expect((await readdir(target)).sort()).toEqual(['q"}]{[.txt', 'é ü.txt'].sort());
  });

  it('[X19] a listing that is not one JSON object, or has two value arrays, is a retried protocol error', async () => {
    for (const body of [
      '<html>proxy error</html>',
      '{"value":[{"a":1}],"value":[{"b":2}]}',
      '{"value":[{"a":1}',
    ]) {
      const server = await legacyServer({ listing: (req, res) => res.end(body) });
      const { target } = await freshTarget();
      const error = await caught(downloadArtifact('art', { ...legacyOptions(server.url), path: target }));
      expect(error.message).toMatch(/expected a JSON container listing/);
      expect(server.listings).toBe(RETRY.maxAttempts);
    }
  });
});

/** Runs the built library's download in a child process (children/resources-ops.mjs) and returns its report. */
function childDownload(
  library: string,
  options: ArtifactClientOptions,
  target: string,
): Promise<{ results: Array<{ ok: boolean; error?: { code?: string } }>; maxRssMiB: number }> {
  const spec = JSON.stringify({ ops: [{ op: 'download', name: 'art', path: target, options }] });
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [path.resolve('__tests__/reliability/children/resources-ops.mjs'), spec],
      {
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: work, FERRY_LIBRARY: library },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as never);
      } catch (error: unknown) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

describe('[X19] Memory of a 50,000-file listing (built library in a child process)', () => {
  // Before streaming, this listing (24 MiB of JSON) peaked at 252 MiB; streamed, at 135 MiB
  // (66 MiB of it is Node and Ferry loaded, the rest is the per-file download plan).
  it('[X19] peak RSS stays under 190 MiB while the listing is read and planned', async () => {
    // The library compiled from src/ (nothing needs to be built beforehand).
    const library = await builtLibrary();
    const files = 50_000;
    let fileRequests = 0;
    const server = await legacyServer({
      listing: (req, res, self) => {
        const parts = [`{"count":${files},"value":[`];
        for (let i = 0; i < files; i++) {
          const item = {
            containerId: 1,
            scopeIdentifier: '00000000-0000-0000-0000-000000000000',
            path: `art/dir${i % 100}/file-${i}.txt`,
            itemType: 'file',
            status: 'created',
            fileLength: 3,
            dateCreated: '2026-01-01T00:00:00.000Z',
            dateLastModified: '2026-01-01T00:00:00.000Z',
            createdBy: '00000000-0000-0000-0000-000000000000',
            contentLocation: `${self}file/${i}?itemPath=art%2Fdir${i % 100}%2Ffile-${i}.txt`,
          };
          parts.push(`${i ? ',' : ''}${JSON.stringify(item)}`);
        }
        parts.push(']}');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(parts.join(''));
      },
      // The first file request fails for good: the peak is the listing and the plan, not 50,000 transfers.
      file: (req, res) => {
        fileRequests++;
        res.writeHead(404).end();
      },
    });
    const { parent, target } = await freshTarget();
    const before = await snapshotTree(parent);
    const report = await childDownload(
      library,
      { ...legacyOptions(server.url), retry: { maxAttempts: 1 }, concurrency: 1 },
      target,
    );
    expect(report.results[0]?.ok).toBe(false);
    expect(report.results[0]?.error?.code).toBe('ERR_FERRY_NOT_FOUND');
    expect(server.listings).toBe(1);
    expect(fileRequests).toBe(1);
    expect(report.maxRssMiB).toBeLessThan(190);
    expect(await snapshotTree(parent)).toEqual(before);
  }, 60_000);
});

describe('[X20] A blob download stops at its listed or declared size', () => {
  it('[X20] an endless chunked blob is cut at the listed size: typed, one GET, nothing extracted', async () => {
    const sent = { bytes: 0 };
    const server = await resultsServer({
      size: '4096',
      blob: (req, res) => {
        res.writeHead(200, { 'content-type': 'application/zip' });
        pump(res, undefined, sent);
      },
    });
    const { parent, target } = await freshTarget();
    const before = await snapshotTree(parent);
    const error = await caught(downloadArtifact('art', { ...resultsOptions(server.url), path: target }));
    expect(error.code).toBe('ERR_FERRY_RESPONSE_TOO_LARGE');
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/limit of 4096 bytes \(the artifact's listed size\)/);
    expect(server.blobs).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(sent.bytes).toBeLessThan(16 * MIB);
    expect(await snapshotTree(parent)).toEqual(before);
    // The one pass writes nothing to the temporary directory (it may not even exist).
    expect(await readdir(path.join(work, 'tmp')).catch(() => [])).toEqual([]);
  });

  it('[X20] a body declaring 3 GiB over a listed 1000 bytes is cut at the listed size', async () => {
    const sent = { bytes: 0 };
    const server = await resultsServer({
      size: 1000,
      blob: (req, res) => {
        res.writeHead(200, { 'content-type': 'application/zip', 'content-length': String(3 * 1024 * MIB) });
        pump(res, 3 * 1024 * MIB, sent);
      },
    });
    const { target } = await freshTarget();
    const error = await caught(downloadArtifact('art', { ...resultsOptions(server.url), path: target }));
    expect(error.code).toBe('ERR_FERRY_RESPONSE_TOO_LARGE');
    expect(server.blobs).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(sent.bytes).toBeLessThan(16 * MIB);
  });

  it('[X20] a resumed 206 whose Content-Range disagrees with the request or the first answer is refused', async () => {
    const body = Buffer.alloc(1000, 0x61);
    for (const range of ['bytes 500-999/5000', 'bytes 500-1999/2000', 'bytes 500-400/1000']) {
      const server = await resultsServer({
        size: 1000,
        blob: (req, res) => {
          if (req.headers['range'] === undefined) {
            // The first answer breaks off after 500 bytes.
            res.writeHead(200, { 'content-length': '1000', etag: '"v1"', 'content-type': 'application/zip' });
            // (after a pause, so the 500 bytes reach the client before the reset even under load).
            res.write(body.subarray(0, 500), () => setTimeout(() => res.destroy(), 50));
            return;
          }
          res.writeHead(206, { 'content-range': range, 'content-length': '500' });
          res.end(body.subarray(500));
        },
      });
      const { target } = await freshTarget();
      const error = await caught(downloadArtifact('art', { ...resultsOptions(server.url), path: target }));
      expect(error.code).toBe('ERR_FERRY_INTEGRITY');
      expect(error.message).toMatch(/unexpected Content-Range/);
      // The one resume that got the wrong range is not repeated.
      expect(server.requests.filter((r) => r.headers['range'] !== undefined)).toHaveLength(1);
    }
  });
});

describe('[X20] A 206 nobody asked for', () => {
  it('[X20] a partial answer to a request without Range is refused, not saved as the whole blob', async () => {
    const server = await resultsServer({
      size: 1000,
      blob: (req, res) => {
        res.writeHead(206, { 'content-range': 'bytes 0-99/1000', 'content-length': '100' });
        res.end(Buffer.alloc(100, 0x61));
      },
    });
    const { parent, target } = await freshTarget();
    const before = await snapshotTree(parent);
    const error = await caught(downloadArtifact('art', { ...resultsOptions(server.url), path: target }));
    expect(error.code).toBe('ERR_FERRY_PROTOCOL');
    expect(error.message).toMatch(/answered HTTP 206, expected 200/);
    expect(server.blobs).toBe(1);
    expect(await snapshotTree(parent)).toEqual(before);
  });
});

describe('[X21] The runtime token goes only to the runtime origin', () => {
  it('[X21] a foreign fileContainerResourceUrl or contentLocation gets no request and no token; trustedOrigins allows one', async () => {
    // Once trusted, the foreign origin serves the listing and the file itself.
    const foreign = await serve((req, res) => {
      if (req.url?.includes('/file/')) return void res.end('abc');
      res.end(
        JSON.stringify({
          count: 1,
          value: [
            {
              path: 'art/a.txt',
              itemType: 'file',
              fileLength: 3,
              contentLocation: `http://${req.headers.host}/file/a`,
            },
          ],
        }),
      );
    });
    const foreignOrigin = new URL(foreign.url).origin;
    const viaContainer = await legacyServer({ containerUrl: () => `${foreign.url}container/1` });
    const viaItem = await legacyServer({
      listing: (req, res) =>
        json(res, {
          count: 1,
          value: [{ path: 'art/a.txt', itemType: 'file', contentLocation: `${foreign.url}file/a` }],
        }),
    });
    for (const server of [viaContainer, viaItem]) {
      const { parent, target } = await freshTarget();
      const before = await snapshotTree(parent);
      const error = await caught(downloadArtifact('art', { ...legacyOptions(server.url), path: target }));
      expect(error.code).toBe('ERR_FERRY_UNSAFE_URL');
      expect(error.retryable).toBe(false);
      expect(error.message).toContain(`on ${foreignOrigin}: the runtime token is only sent to`);
      expect(error.message).toMatch(/trustedOrigins \(FERRY_TRUSTED_ORIGINS\)/);
      expect(await snapshotTree(parent)).toEqual(before);
    }
    expect(foreign.requests).toHaveLength(0);

    // Explicitly trusted (here through the environment variable): the token goes there.
    const env = fromEnvironment({ FERRY_TRUSTED_ORIGINS: ` ${foreignOrigin} , https://other.example:8443` });
    expect(env.trustedOrigins).toEqual([foreignOrigin, 'https://other.example:8443']);
    const { target } = await freshTarget();
    await downloadArtifact('art', { ...legacyOptions(viaContainer.url, env), path: target });
    expect(foreign.requests).toHaveLength(2);
    for (const request of foreign.requests) expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(() => fromEnvironment({ FERRY_TRUSTED_ORIGINS: 'https://x.example/path' })).toThrow(
      /FERRY_TRUSTED_ORIGINS/,
    );
  });

  it('[X21] a legacy upload whose container URL is on another origin sends it no chunk and no token', async () => {
    const foreign = await serve((req, res) => res.end('{}'));
    const service = await serve((req, res) => {
      req.resume();
      json(res, {
        name: 'up',
        containerId: 1,
        size: 0,
        type: 'actions_storage',
        url: '',
        fileContainerResourceUrl: `${foreign.url}container/1`,
      });
    });
    const source = path.join(work, `src${++sequence}`);
    await mkdir(source, { recursive: true });
    await writeFile(path.join(source, 'a.txt'), 'abc');
    const error = await caught(
      uploadArtifact('up', [path.join(source, 'a.txt')], source, legacyOptions(service.url)),
    );
    expect(error.code).toBe('ERR_FERRY_UNSAFE_URL');
    expect(service.requests.map((r) => r.method)).toEqual(['POST']);
    expect(foreign.requests).toHaveLength(0);
  });

  it('[X21] the results protocol never sends the token to a signed URL on another host', async () => {
    const blobHost = await serve((req, res) => res.end('x'.repeat(1000)));
    const server = await resultsServer({
      signedUrl: () => `${blobHost.url}blob/art?sig=${SENTINEL.sasSignature}`,
    });
    const { target } = await freshTarget();
    await downloadArtifact('art', { ...resultsOptions(server.url), path: target, skipDecompress: true });
    expect(blobHost.requests).toHaveLength(1);
    expect(blobHost.requests[0]?.headers.authorization).toBeUndefined();
    expect(server.requests.every((r) => r.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });
});

/** An https server with the committed test certificate for 127.0.0.1. */
async function serveTls(handler: http.RequestListener): Promise<{ url: string; requests: number }> {
  const state = { url: '', requests: 0 };
  const server = https.createServer({ ...TLS.server }, (req, res) => {
    state.requests++;
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  state.url = `https://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
  servers.push({
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return state;
}

function backendContext(): OperationContext & { http: HttpManager } {
  return {
    http: new HttpManager({ slots: 2, userAgent: 'test', retry: RETRY, tls: { ca: TLS.siteCa } }),
    operation: new Operation('download'),
    logger: silentLogger,
    onProgress: undefined,
  };
}

describe('[X22] https is never downgraded to http', () => {
  it('[X22] an https runtime handing out an http container URL is refused before anything is sent there', async () => {
    const plain = await serve((req, res) => res.end('{}'));
    const secure = await serveTls((req, res) =>
      json(res, {
        count: 1,
        value: [
          {
            name: 'art',
            containerId: 1,
            size: 3,
            type: 'actions_storage',
            url: '',
            // Same host and port, only the scheme is plain.
            fileContainerResourceUrl: `${plain.url}container/1`,
          },
        ],
      }),
    );
    const backend = new LegacyBackend({ runtimeUrl: secure.url, token: TOKEN, runId: RUN });
    const ctx = backendContext();
    const { target } = await freshTarget();
    try {
      const error = await caught(backend.download({ name: 'art', targetDirectory: target }, ctx));
      expect(error.code).toBe('ERR_FERRY_UNSAFE_URL');
      expect(error.message).toMatch(/is https but it points to http:/);
    } finally {
      ctx.http.dispose();
    }
    expect(secure.requests).toBe(1);
    expect(plain.requests).toHaveLength(0);
  });

  it('[X22] a redirect from https to http is refused, with or without a bearer', async () => {
    const plain = await serve((req, res) => res.end('{}'));
    const secure = await serveTls((req, res) => {
      res.writeHead(302, { location: `${plain.url}elsewhere` });
      res.end();
    });
    const ctx = backendContext();
    try {
      for (const bearer of [TOKEN, undefined]) {
        const error = await caught(
          ctx.http.request(
            { slot: 0, method: 'GET', url: `${secure.url}x`, ...(bearer ? { bearer } : {}) },
            discardBody,
          ),
        );
        expect(error.code).toBe('ERR_FERRY_UNSAFE_URL');
        expect(error.message).toMatch(/Refusing redirect: .* is https but it points to http:/);
      }
    } finally {
      ctx.http.dispose();
    }
    expect(plain.requests).toHaveLength(0);
  });
});

/** A raw TCP listener: anything connecting to it is counted (an ftp:/gopher: URL must never reach it). */
async function tcpTrap(): Promise<{ port: number; connections: number }> {
  const state = { port: 0, connections: 0 };
  const server = net.createServer((socket) => {
    state.connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  state.port = (server.address() as net.AddressInfo).port;
  servers.push({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
  return state;
}

describe('[X23] Only http(s) URLs without credentials are followed', () => {
  it.each(['ftp', 'gopher', 'file', 'data', 'javascript'])(
    '[X23] a redirect to %s: is refused with a typed error and nothing connects',
    async (scheme) => {
      const trap = await tcpTrap();
      const location =
        scheme === 'data' || scheme === 'javascript'
          ? `${scheme}:text/plain,x`
          : scheme === 'file'
            ? 'file:///etc/passwd'
            : `${scheme}://127.0.0.1:${trap.port}/x`;
      const server = await serve((req, res) => {
        res.writeHead(302, { location });
        res.end();
      });
      const error = await caught(listArtifacts(legacyOptions(server.url)));
      expect(error.code).toBe('ERR_FERRY_UNSAFE_URL');
      expect(error.message).toContain(`${scheme}: URLs are not fetched`);
      expect(server.requests).toHaveLength(1);
      expect(trap.connections).toBe(0);
    },
  );

  it('[X23] a signed URL or a contentLocation with another scheme or user:password@ is refused', async () => {
    const trap = await tcpTrap();
    const results = await resultsServer({ signedUrl: () => `gopher://127.0.0.1:${trap.port}/blob` });
    const { target } = await freshTarget();
    const first = await caught(downloadArtifact('art', { ...resultsOptions(results.url), path: target }));
    expect(first.code).toBe('ERR_FERRY_UNSAFE_URL');
    expect(first.message).toMatch(/signed download URL: gopher: URLs are not fetched/);

    const legacy = await legacyServer({
      listing: (req, res, self) =>
        json(res, {
          count: 1,
          value: [
            {
              path: 'art/a.txt',
              itemType: 'file',
              contentLocation: self.replace('http://', `http://user:${SENTINEL.proxyPassword}@`) + 'file/a',
            },
          ],
        }),
    });
    const second = await caught(downloadArtifact('art', { ...legacyOptions(legacy.url), path: target }));
    expect(second.code).toBe('ERR_FERRY_UNSAFE_URL');
    expect(second.message).toMatch(/carries credentials/);
    expect(legacy.files).toBe(0);
    expect(trap.connections).toBe(0);
  });
});

describe('[X24] Redirect loops and monster Location headers', () => {
  it('[X24] a redirect loop stops after 10 hops with a typed error, and a 10 KB Location is not echoed whole', async () => {
    const loop = await serve((req, res) => {
      res.writeHead(302, { location: '/again' });
      res.end();
    });
    const error = await caught(listArtifacts(legacyOptions(loop.url, { retry: { maxAttempts: 1 } })));
    expect(error.code).toBe('ERR_FERRY_PROTOCOL');
    expect(error.message).toMatch(/Too many redirects \(10\)/);
    expect(loop.requests).toHaveLength(11);

    const long = await serve((req, res) => {
      res.writeHead(302, { location: `ftp://127.0.0.1/${'a'.repeat(10 * KIB)}` });
      res.end();
    });
    const second = await caught(listArtifacts(legacyOptions(long.url)));
    expect(second.code).toBe('ERR_FERRY_UNSAFE_URL');
    expect(second.message.length).toBeLessThan(600);
  });

  it('[X24] a header flood is a typed network failure, not retried, not a hang', async () => {
    const flood = await serve((req, res) => {
      for (let i = 0; i < 2000; i++) res.setHeader(`x-flood-${i}`, 'v'.repeat(64));
      res.end('{}');
    });
    const error = await caught(listArtifacts(legacyOptions(flood.url)));
    // Node's parser refuses more than 16 KiB of headers; the same server would send them again.
    expect(error.code).toBe('ERR_FERRY_NETWORK');
    expect(error.message).toMatch(/Header overflow/i);
    expect(flood.requests).toHaveLength(1);
  });
});

describe('[X25] Sizes a server lists are checked before use', () => {
  it('[X25] negative, NaN, fractional and 2^60 sizes in ListArtifacts list as 0, and never bound a download wrongly', async () => {
    for (const size of ['-5', 'NaN', '12.5', String(2 ** 60), -1, 'lots']) {
      const server = await resultsServer({ size });
      const [info] = await listArtifacts(resultsOptions(server.url));
      expect(info?.size).toBe(0);
      const { target } = await freshTarget();
      // Without a usable listed size the blob is bounded by its Content-Length only.
      const result = await downloadArtifact('art', {
        ...resultsOptions(server.url),
        path: target,
        skipDecompress: true,
      });
      expect(result.size).toBe(1000);
    }
  });

  it('[X25] a legacy file body longer than its listed fileLength is cut off there', async () => {
    const sent = { bytes: 0 };
    const server = await legacyServer({
      listing: (req, res, self) =>
        json(res, {
          count: 1,
          value: [{ path: 'art/a.txt', itemType: 'file', fileLength: 3, contentLocation: `${self}file/a` }],
        }),
      file: (req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        pump(res, undefined, sent);
      },
    });
    const { parent, target } = await freshTarget();
    const before = await snapshotTree(parent);
    const error = await caught(downloadArtifact('art', { ...legacyOptions(server.url), path: target }));
    expect(error.code).toBe('ERR_FERRY_RESPONSE_TOO_LARGE');
    expect(error.message).toMatch(
      /download of 'a.txt' is larger than the limit of 3 bytes \(the listed fileLength\)/,
    );
    expect(await snapshotTree(parent)).toEqual(before);
    await new Promise((r) => setTimeout(r, 100));
    expect(sent.bytes).toBeLessThan(16 * MIB);
  });

  it('[X25] a file stopped before its staged file is open leaves no staging behind', async () => {
    // The staged file's open(2) runs in libuv's thread pool. With every pool thread busy (four
    // pbkdf2 jobs started as the answer goes out), the body passes its listed length before the
    // file is open, and pipeline() rejects before the open has run. The failure waits for that
    // open to settle before it empties the staging directory: an open landing between the
    // directory's listing and its rmdir left the staged file and the target behind (seen once in
    // CI). The exact interleaving cannot be forced from here; this covers the slow-open case,
    // and the error only surfaces after a pool thread came free (the target's removal needs one).
    const busy: Promise<void>[] = [];
    let poolJobsDone = 0;
    const server = await legacyServer({
      listing: (req, res, self) =>
        json(res, {
          count: 1,
          value: [{ path: 'art/a.txt', itemType: 'file', fileLength: 3, contentLocation: `${self}file/a` }],
        }),
      file: (req, res) => {
        for (let i = 0; i < 4; i++) {
          busy.push(
            new Promise<void>((resolve) => {
              pbkdf2('x', 'y', 3_000_000, 32, 'sha256', () => {
                poolJobsDone++;
                resolve();
              });
            }),
          );
        }
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(Buffer.alloc(100 * KIB, 1));
      },
    });
    const { parent, target } = await freshTarget();
    const before = await snapshotTree(parent);
    const error = await caught(downloadArtifact('art', { ...legacyOptions(server.url), path: target }));
    expect(error.code).toBe('ERR_FERRY_RESPONSE_TOO_LARGE');
    expect(busy.length).toBe(4);
    expect(poolJobsDone).toBeGreaterThan(0);
    await Promise.all(busy);
    expect(await snapshotTree(parent)).toEqual(before);
  });
});

describe('[X26] Hostile JSON shapes', () => {
  it('[X26] __proto__ keys, duplicate keys and deep nesting neither pollute prototypes nor crash', async () => {
    const nested = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const server = await resultsServer({
      listing: (res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          `{"__proto__":{"polluted":"yes"},"artifacts":[{"name":"art","size":"1","name":"art","database_id":"5","__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"deep":${nested}}]}`,
        );
      },
    });
    const list = await listArtifacts(resultsOptions(server.url));
    expect(list.map((a) => a.name)).toEqual(['art']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>)['polluted']).toBeUndefined();

    const legacy = await legacyServer({
      listing: (req, res, self) =>
        res.end(
          `{"__proto__":{"polluted":"yes"},"value":[{"__proto__":{"itemType":"file"},"path":"art/x","contentLocation":"${self}file/a","deep":${nested}},{"path":"art/a.txt","itemType":"file","contentLocation":"${self}file/a"}]}`,
        ),
    });
    const { parent, target } = await freshTarget();
    const before = await snapshotTree(parent);
    // The item whose only itemType is inside __proto__ has none of its own: the listing is refused.
    const error = await caught(downloadArtifact('art', { ...legacyOptions(legacy.url), path: target }));
    expect(error.code).toBe('ERR_FERRY_PROTOCOL');
    expect(error.message).toMatch(/'x' has the unknown itemType 'undefined'/);
    expect(await snapshotTree(parent)).toEqual(before);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('[X27] A server that answers slowly forever', () => {
  it('[X27] a JSON answer or a legacy listing dripping a byte at a time is dropped as stalled, retries bounded', async () => {
    const drip = (res: http.ServerResponse, head: string): void => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(head);
      const timer = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(timer));
    };
    const stall = { minBytesPerSecond: 1024, stallWindowMs: 300 };
    const results = await resultsServer({ listing: (res) => drip(res, '{"artifacts":[') });
    const first = await caught(listArtifacts(resultsOptions(results.url, stall)));
    expect(first.code).toBe('ERR_FERRY_TIMEOUT');
    expect(first.message).toMatch(/The ListArtifacts answer stalled/);
    expect(results.requests).toHaveLength(RETRY.maxAttempts);

    const legacy = await legacyServer({ listing: (req, res) => drip(res, '{"count":1,"value":[') });
    const { parent, target } = await freshTarget();
    const before = await snapshotTree(parent);
    const second = await caught(
      downloadArtifact('art', { ...legacyOptions(legacy.url, stall), path: target }),
    );
    expect(second.code).toBe('ERR_FERRY_TIMEOUT');
    expect(second.message).toMatch(/The container listing stalled/);
    expect(legacy.listings).toBe(RETRY.maxAttempts);
    expect(await snapshotTree(parent)).toEqual(before);
  });

  it('[X27] a blob trickling below the minimum rate is dropped by the stall watchdog within its window, retries bounded', async () => {
    const server = await resultsServer({
      size: 1000,
      blob: (req, res) => {
        res.writeHead(200, { 'content-type': 'application/zip' });
        const timer = setInterval(() => res.write('x'), 50);
        res.on('close', () => clearInterval(timer));
      },
    });
    const { target } = await freshTarget();
    const started = Date.now();
    const error = await caught(
      downloadArtifact('art', {
        ...resultsOptions(server.url),
        path: target,
        minBytesPerSecond: 1024,
        stallWindowMs: 300,
      }),
    );
    expect(error.code).toBe('ERR_FERRY_TIMEOUT');
    expect(error.message).toMatch(/stalled/);
    expect(server.blobs).toBe(RETRY.maxAttempts);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
