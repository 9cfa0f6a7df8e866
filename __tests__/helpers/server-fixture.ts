import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/index.js';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body exactly as sent on the wire (never decompressed, unlike fetch). */
  body: Buffer;
  json<T = unknown>(): T;
}

export interface RawRequestOptions {
  headers?: Record<string, string | number>;
  body?: Buffer | string;
  agent?: http.Agent | false;
}

/** One HTTP request with node:http; bytes in and out untouched so encodings can be asserted. */
export function rawRequest(
  method: string,
  url: string | URL,
  options: RawRequestOptions = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method, headers: options.headers, agent: options.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: <T>() => JSON.parse(body.toString('utf8')) as T,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A server on 127.0.0.1:0 in a fresh temp dir; `dataDir` sits inside `root` so escapes are detectable. */
export interface ServerFixture {
  root: string;
  dataDir: string;
  server: RunningServer;
  restart(extra?: Partial<ServerOptions>): Promise<RunningServer>;
  dispose(): Promise<void>;
}

export async function startFixture(extra: Partial<ServerOptions> = {}): Promise<ServerFixture> {
  const root = await mkdtemp(join(tmpdir(), 'ferry-server-test-'));
  const dataDir = join(root, 'data');
  const fixture: ServerFixture = {
    root,
    dataDir,
    server: await startServer({ ...extra, dataDir }),
    async restart(more: Partial<ServerOptions> = {}) {
      // 0: no drain. Tests end with clients that stalled on purpose; cutting them is the point.
      await fixture.server.close(0);
      fixture.server = await startServer({ ...extra, ...more, dataDir });
      return fixture.server;
    },
    async dispose() {
      await fixture.server.close(0);
      await rm(root, { recursive: true, force: true });
    },
  };
  return fixture;
}

export const md5Base64 = (data: Buffer): string => createHash('md5').update(data).digest('base64');

/** Content-Range as the official client writes it (inclusive end; `bytes 0--1/0` when empty). */
export const contentRange = (start: number, length: number, total: number): string =>
  `bytes ${start}-${start + length - 1}/${total}`;

/** The legacy artifacts URL of a run, as the client builds it from ACTIONS_RUNTIME_URL. */
export const artifactsUrl = (server: RunningServer, runId: string): string =>
  `${server.url}_apis/pipelines/workflows/${runId}/artifacts?api-version=6.0-preview`;

/** Builds a chunk URL the way the client does: `new URL(container)` + `searchParams.append`. */
export function chunkUrl(containerUrl: string, itemPath: string): URL {
  const url = new URL(containerUrl);
  url.searchParams.append('itemPath', itemPath);
  return url;
}
