/**
 * Harness of the secrets cases (P45–P50): fronts that stand between Ferry and `ferry serve`, so
 * the tests can inject faults, hand Ferry signed URLs carrying the sentinel SAS signature, put the
 * blob host on its own port, and record every header each host received.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { bundleForNode } from '../helpers/bundle.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { SENTINEL } from './invariants.js';

export const RUN_ID = '1001';

/** A results-scoped runtime token whose signature part is the sentinel. */
export const RUNTIME_TOKEN = ((): string => {
  const [header, payload] = runtimeJwt(RUN_ID, 'job-7').split('.');
  return `${header}.${payload}.${SENTINEL.tokenSignature}`;
})();

export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** 1-based count of requests with the same method and path so far. */
  nth: number;
}

export type Fault =
  | { kind: 'pass' }
  /** Destroy the connection without an answer. */
  | { kind: 'reset' }
  /** Read the request and never answer (a socket timeout on the client). */
  | { kind: 'hang' }
  | { kind: 'respond'; status: number; headers?: Record<string, string>; body?: string };

export interface FrontOptions {
  /** Host header sent upstream: ferry serve builds the URLs it hands out from it. */
  advertise?: () => string;
  /** Swap `sig=X` in JSON bodies and Location headers for `sig=<sentinel>&fsig=X`. */
  injectSentinelSig?: boolean;
  /** Undo the swap on the way in (the blob side). */
  restoreSig?: boolean;
  /** Edits a JSON response body (e.g. to list a wrong digest). */
  rewriteJson?: (text: string, req: Seen) => string;
  fault?: (req: Seen) => Fault;
  /** Headers set on the upstream request (e.g. the credential the real service would check). */
  upstreamHeaders?: Record<string, string>;
}

export interface Front {
  url: string;
  host: string;
  seen: Seen[];
  /** Client connections open right now. */
  readonly open: number;
  close(): Promise<void>;
}

const PASS: Fault = { kind: 'pass' };

/** An HTTP front for `upstream` (ferry serve) on 127.0.0.1:0. */
export async function startFront(upstream: string, options: FrontOptions = {}): Promise<Front> {
  const target = new URL(upstream);
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const seen: Seen[] = [];
  let host = '';
  const server = http.createServer((req, res) => {
    const key = `${req.method} ${(req.url ?? '').split('?')[0]}`;
    const nth = (counts.get(key) ?? 0) + 1;
    counts.set(key, nth);
    const info: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, nth };
    seen.push(info);
    const fault = options.fault?.(info) ?? PASS;
    if (fault.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault.kind === 'hang') {
      req.resume();
      return;
    }
    if (fault.kind === 'respond') {
      req.resume();
      req.on('end', () => {
        res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
        res.end(fault.body ?? '');
      });
      return;
    }
    let pathAndQuery = req.url ?? '/';
    if (options.restoreSig) pathAndQuery = restoreSignature(pathAndQuery);
    const upstreamReq = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: pathAndQuery,
        agent: false,
        headers: { ...req.headers, host: options.advertise?.() ?? host, ...options.upstreamHeaders },
      },
      (upstreamRes) => {
        const headers = { ...upstreamRes.headers };
        if (options.injectSentinelSig && typeof headers.location === 'string') {
          headers.location = injectSignature(headers.location);
        }
        const json = /json/.test(String(headers['content-type'] ?? ''));
        if (!json || (!options.injectSentinelSig && !options.rewriteJson)) {
          res.writeHead(upstreamRes.statusCode ?? 502, headers);
          upstreamRes.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        upstreamRes.on('data', (c: Buffer) => chunks.push(c));
        upstreamRes.on('end', () => {
          let text = Buffer.concat(chunks).toString('utf8');
          if (options.injectSentinelSig) text = injectSignature(text);
          if (options.rewriteJson) text = options.rewriteJson(text, info);
          const body = Buffer.from(text);
          delete headers['transfer-encoding'];
          headers['content-length'] = String(body.length);
          res.writeHead(upstreamRes.statusCode ?? 502, headers);
          res.end(body);
        });
      },
    );
    upstreamReq.on('error', () => req.socket.destroy());
    req.pipe(upstreamReq);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `http://${host}/`,
    host,
    seen,
    get open() {
      return sockets.size;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `sig=X` → `sig=<sentinel>&fsig=X`: Ferry sees the sentinel as the URL's signature. */
export function injectSignature(text: string): string {
  return text.replace(/([?&])sig=([^&"\s\\]+)/g, `$1sig=${SENTINEL.sasSignature}&fsig=$2`);
}

function restoreSignature(pathAndQuery: string): string {
  const url = new URL(pathAndQuery, 'http://front.invalid');
  const real = url.searchParams.get('fsig');
  if (real === null) return pathAndQuery;
  url.searchParams.delete('fsig');
  url.searchParams.set('sig', real);
  return `${url.pathname}${url.search}`;
}

export interface ProxySeen {
  kind: 'request' | 'connect';
  url: string;
  headers: http.IncomingHttpHeaders;
}

export interface AuthProxy {
  /** `http://ferry:<sentinel password>@127.0.0.1:port` */
  urlWithCredentials: string;
  seen: ProxySeen[];
  close(): Promise<void>;
}

/** A forward proxy that refuses everything with 407, plain requests and CONNECT alike, and records what it got. */
export async function startRefusingProxy(): Promise<AuthProxy> {
  const seen: ProxySeen[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    seen.push({ kind: 'request', url: req.url ?? '', headers: req.headers });
    req.resume();
    res.writeHead(407, { 'proxy-authenticate': 'Basic realm="ferry-test"', 'content-type': 'text/plain' });
    res.end(`Proxy authentication required for ${req.url ?? ''}`);
  });
  server.on('connect', (req: http.IncomingMessage, socket: Socket) => {
    seen.push({ kind: 'connect', url: req.url ?? '', headers: req.headers });
    socket.end(
      'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="ferry-test"\r\nContent-Length: 0\r\n\r\n',
    );
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    urlWithCredentials: `http://ferry:${encodeURIComponent(SENTINEL.proxyPassword)}@127.0.0.1:${port}`,
    seen,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Bundles the CLI and the Action entries from src/ into `outDir` (never dist/): cli.mjs, upload.mjs, download.mjs. */
export async function bundleEntries(repoRoot: string, outDir: string): Promise<void> {
  await bundleForNode(
    {
      cli: path.join(repoRoot, 'src/cli/bin.ts'),
      upload: path.join(repoRoot, 'src/action/upload.ts'),
      download: path.join(repoRoot, 'src/action/download.ts'),
    },
    outDir,
  );
}

export { runNode, type ChildResult } from '../helpers/bundle.js';
