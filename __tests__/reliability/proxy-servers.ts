/**
 * Loopback servers for the proxy cases (proxies.test.ts): a TLS front for ferry serve, a
 * configurable forward proxy (permissive, strict-CONNECT, Basic auth, tunnel-dropping,
 * TLS-intercepting, closing right after "200 Connection established"), and the child-process
 * runner that needs NODE_EXTRA_CA_CERTS. Everything listens on 127.0.0.1:0 and records what it
 * saw so the tests can count requests by kind.
 */
import { bundleForNode } from '../helpers/bundle.js';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';

export const TLS_DIR = path.resolve('__tests__/fixtures/tls');
const read = (name: string): Buffer => readFileSync(path.join(TLS_DIR, name));

/** Committed test-only TLS material (see __tests__/fixtures/tls/README.md). */
export const TLS = {
  siteCa: read('site-ca.crt'),
  server: { key: read('server.key'), cert: read('server.crt') },
  inspectCa: read('inspect-ca.crt'),
  inspect: { key: read('inspect.key'), cert: read('inspect.crt') },
  siteCaFile: path.join(TLS_DIR, 'site-ca.crt'),
  inspectCaFile: path.join(TLS_DIR, 'inspect-ca.crt'),
};

/** The kind of an artifact request, from its path and method. */
export type RequestKind = 'rpc' | 'rest' | 'blob-up' | 'blob-down' | 'other';

export function kindOf(method: string, url: string): RequestKind {
  const p = url.replace(/^https?:\/\/[^/]+/, '');
  if (p.startsWith('/twirp/')) return 'rpc';
  if (p.startsWith('/repos/')) return 'rest';
  if (p.startsWith('/devstoreaccount1/'))
    return method === 'GET' || method === 'HEAD' ? 'blob-down' : 'blob-up';
  return 'other';
}

export interface Seen {
  method: string;
  /** Path and query (or the absolute URI a proxy received). */
  url: string;
  headers: http.IncomingHttpHeaders;
}

interface SocketBook {
  /** Client connections accepted so far. */
  connections: number;
  /** Client connections open right now. */
  readonly open: number;
}

function book(server: net.Server, extra: Set<net.Socket>): SocketBook & { destroyAll(): void } {
  const sockets = new Set<net.Socket>();
  const state = {
    connections: 0,
    get open() {
      return sockets.size;
    },
    destroyAll() {
      for (const s of sockets) s.destroy();
      for (const s of extra) s.destroy();
    },
  };
  server.on('connection', (socket: net.Socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return state;
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as net.AddressInfo).port;
}

function closeServer(server: net.Server): Promise<void> {
  (server as http.Server).closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

// ---------------------------------------------------------------------------------------------
// TLS front

export interface TlsFront extends SocketBook {
  /** `https://127.0.0.1:PORT/` */
  url: string;
  port: number;
  seen: Seen[];
  close(): Promise<void>;
}

/**
 * An https server in front of ferry serve (which only speaks http). It forwards with the Host
 * header preserved, so ferry serve signs blob URLs for the front's host, and rewrites the
 * `http://host` of those URLs (JSON bodies, Location) to `https://host`: every request kind,
 * blob transfers included, then travels over TLS.
 */
export async function startTlsFront(upstream: string): Promise<TlsFront> {
  const target = new URL(upstream);
  const seen: Seen[] = [];
  const upstreamSockets = new Set<net.Socket>();
  const server = https.createServer({ ...TLS.server, keepAliveTimeout: 30_000 }, (req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const host = req.headers.host ?? '';
    const fix = (text: string): string => text.split(`http://${host}`).join(`https://${host}`);
    const up = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: false,
      },
      (upRes) => {
        const headers = { ...upRes.headers };
        if (typeof headers.location === 'string') headers.location = fix(headers.location);
        if (!String(headers['content-type'] ?? '').includes('json')) {
          res.writeHead(upRes.statusCode ?? 502, headers);
          upRes.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.on('end', () => {
          const body = Buffer.from(fix(Buffer.concat(chunks).toString('utf8')));
          headers['content-length'] = String(body.length);
          delete headers['transfer-encoding'];
          res.writeHead(upRes.statusCode ?? 502, headers);
          res.end(body);
        });
      },
    );
    up.on('socket', (s: net.Socket) => {
      upstreamSockets.add(s);
      s.on('close', () => upstreamSockets.delete(s));
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  const sockets = book(server, upstreamSockets);
  const port = await listen(server);
  return Object.assign(sockets, {
    url: `https://127.0.0.1:${port}/`,
    port,
    seen,
    close: async () => {
      sockets.destroyAll();
      await closeServer(server);
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Forward proxy

export interface ForwardProxyOptions {
  /** Answer CONNECT requests that carry Content-Length or Transfer-Encoding with 400, as strict proxies do. */
  strictConnect?: boolean;
  /** The only Proxy-Authorization value accepted; anything else (or nothing) gets 407. */
  auth?: string;
  /** Cut, once, the first tunnel or forwarded request that has carried more than this many bytes upstream. */
  dropOnceAfterBytes?: number;
  /** Terminate TLS inside CONNECT tunnels with this certificate and forward the decrypted requests. */
  intercept?: { key: Buffer; cert: Buffer; upstreamCa: Buffer };
  /** Answer CONNECT with 200, then close the connection. */
  closeAfterConnect?: boolean;
  /** Header added to every request forwarded in plain http, so the target can tell it came through here. */
  mark?: string;
}

export interface ForwardProxy extends SocketBook {
  url: string;
  port: number;
  /** CONNECT requests, with the status the proxy answered. */
  connects: Array<{ authority: string; headers: http.IncomingHttpHeaders; status: number }>;
  /** Absolute-URI requests (http targets), with the status the proxy answered itself when it did. */
  requests: Array<Seen & { status?: number }>;
  /** Requests read inside intercepted tunnels. */
  intercepted: Seen[];
  /** Connections cut by dropOnceAfterBytes. */
  drops: number;
  /** `METHOD path` of the plain-http requests that were cut (a tunnel's content is opaque). */
  dropped: string[];
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['proxy-authorization', 'proxy-connection', 'connection', 'keep-alive']);

export async function startForwardProxy(options: ForwardProxyOptions = {}): Promise<ForwardProxy> {
  const extra = new Set<net.Socket>();
  const own = (s: net.Socket): net.Socket => {
    extra.add(s);
    s.on('close', () => extra.delete(s));
    return s;
  };
  const state = {
    connects: [] as ForwardProxy['connects'],
    requests: [] as ForwardProxy['requests'],
    intercepted: [] as Seen[],
    drops: 0,
    dropped: [] as string[],
  };
  const dropArmed = (): boolean => options.dropOnceAfterBytes !== undefined && state.drops === 0;
  const authorized = (headers: http.IncomingHttpHeaders): boolean =>
    options.auth === undefined || headers['proxy-authorization'] === options.auth;

  const forwardHeaders = (headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders => {
    const out: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(headers)) if (!HOP_BY_HOP.has(k)) out[k] = v;
    if (options.mark) out['x-test-proxy'] = options.mark;
    return out;
  };

  const server = http.createServer((req, res) => {
    const entry: Seen & { status?: number } = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
    };
    state.requests.push(entry);
    if (!authorized(req.headers)) {
      entry.status = 407;
      req.resume();
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="ferry-test"', 'content-type': 'text/plain' });
      res.end('Proxy authorization required');
      return;
    }
    const target = new URL(req.url ?? '');
    const up = http.request(
      {
        host: target.hostname,
        port: target.port || 80,
        method: req.method,
        path: `${target.pathname}${target.search}`,
        headers: forwardHeaders(req.headers),
        agent: false,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('socket', own);
    up.on('error', () => req.socket.destroy());
    let sent = 0;
    req.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      if (dropArmed() && sent > (options.dropOnceAfterBytes ?? 0)) {
        state.drops++;
        state.dropped.push(`${req.method ?? ''} ${req.url ?? ''}`);
        up.destroy();
        req.socket.destroy();
      }
    });
    req.pipe(up);
  });

  const interceptor = http.createServer((req, res) => {
    state.intercepted.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const authority = (req.socket as tls.TLSSocket & { authority?: string }).authority ?? '';
    const [host, port] = splitAuthority(authority);
    const up = https.request(
      {
        host,
        port,
        method: req.method,
        path: req.url,
        headers: forwardHeaders(req.headers),
        ca: options.intercept?.upstreamCa,
        agent: false,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('socket', own);
    up.on('error', () => res.destroy());
    req.pipe(up);
  });

  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const authority = req.url ?? '';
    const answer = (status: number, text: string): void => {
      state.connects.push({ authority, headers: req.headers, status });
      const extraHeaders = status === 407 ? 'Proxy-Authenticate: Basic realm="ferry-test"\r\n' : '';
      client.end(`HTTP/1.1 ${status} ${text}\r\n${extraHeaders}Content-Length: 0\r\n\r\n`);
    };
    client.on('error', () => undefined);
    if (
      options.strictConnect &&
      (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)
    ) {
      answer(400, 'Bad Request');
      return;
    }
    if (!authorized(req.headers)) {
      answer(407, 'Proxy Authentication Required');
      return;
    }
    state.connects.push({ authority, headers: req.headers, status: 200 });
    if (options.closeAfterConnect) {
      client.end('HTTP/1.1 200 Connection established\r\n\r\n', () => client.destroy());
      return;
    }
    if (options.intercept) {
      client.write('HTTP/1.1 200 Connection established\r\n\r\n');
      const secure = new tls.TLSSocket(client, {
        isServer: true,
        key: options.intercept.key,
        cert: options.intercept.cert,
      });
      (secure as tls.TLSSocket & { authority?: string }).authority = authority;
      secure.on('error', () => client.destroy());
      own(secure);
      interceptor.emit('connection', secure);
      return;
    }
    const [host, port] = splitAuthority(authority);
    const upstream = own(net.connect({ host, port }));
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection established\r\n\r\n');
      if (head.length) upstream.write(head);
      let sent = 0;
      client.on('data', (chunk: Buffer) => {
        sent += chunk.length;
        if (dropArmed() && sent > (options.dropOnceAfterBytes ?? 0)) {
          state.drops++;
          client.destroy();
          upstream.destroy();
          return;
        }
        if (!upstream.write(chunk)) client.pause();
      });
      upstream.on('drain', () => client.resume());
      // Half-close travels both ways (http.Server sockets allow half-open connections).
      client.on('end', () => upstream.end());
      upstream.pipe(client);
    });
  });

  const sockets = book(server, extra);
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connects: state.connects,
    requests: state.requests,
    intercepted: state.intercepted,
    dropped: state.dropped,
    get drops() {
      return state.drops;
    },
    get connections() {
      return sockets.connections;
    },
    get open() {
      return sockets.open;
    },
    close: async () => {
      sockets.destroyAll();
      interceptor.closeAllConnections();
      await closeServer(server);
    },
  };
}

function splitAuthority(authority: string): [string, number] {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(authority);
  return m ? [m[1] ?? '', Number(m[2])] : [authority, 443];
}

// ---------------------------------------------------------------------------------------------
// Child processes

/** Bundles the proxy client child and the CLI from src (not dist, which may be stale) into `outdir`. */
export async function bundleChildren(outdir: string): Promise<{ client: string; cli: string }> {
  const out = await bundleForNode(
    { 'proxy-client': '__tests__/reliability/children/proxy-client.ts', cli: 'src/cli/bin.ts' },
    outdir,
  );
  return { client: out['proxy-client'] as string, cli: out['cli'] as string };
}

export interface ChildRun {
  code: number;
  stdout: string;
  stderr: string;
  /** One entry per op the child ran. */
  results: Array<{ op: string; ok: boolean; result?: unknown; error?: ChildError }>;
}

export interface ChildError {
  name?: string;
  code?: string;
  message: string;
  retryable?: boolean;
  status?: number;
  proxy?: string;
  errno?: string;
  context?: Record<string, unknown>;
  rendered: string;
}

/**
 * Runs a bundled script with exactly `env` (plus PATH), never the parent's environment: a proxy
 * variable of the machine running the tests must not leak into a case.
 */
export function runNode(script: string, args: string[], env: Record<string, string>): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const results = stdout
        .split('\n')
        .filter((l) => l.startsWith('{"op"'))
        .map((l) => JSON.parse(l) as ChildRun['results'][number]);
      resolve({ code: code ?? -1, stdout, stderr, results });
    });
  });
}
