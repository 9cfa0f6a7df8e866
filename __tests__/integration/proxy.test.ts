/**
 * SlotAgents against REAL loopback servers: a `proxy` (npm) forward proxy, plain and TLS targets,
 * and a few hand-written misbehaving proxies. Requests go through @actions/http-client exactly as
 * the HttpManager sends them (keep-alive HttpClient + a RequestHandler calling `prepare`).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HttpClient } from '@actions/http-client';
import type { RequestHandler } from '@actions/http-client/lib/interfaces';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { createProxy, type ProxyServer } from 'proxy';

import { isFerryError } from '../../src/core/errors.js';
import {
  ProxyError,
  SlotAgents,
  proxyAuthRequiredError,
  type ProxySettings,
} from '../../src/transport/proxy.js';

// ---------------------------------------------------------------------------------------------
// Harness

interface Tracked<S extends net.Server> {
  server: S;
  port: number;
  /** Sockets currently open on the server side. */
  open: Set<net.Socket>;
  /** Connections accepted since the last reset. */
  connections: number;
}

function track<S extends net.Server>(server: S): Tracked<S> {
  const t: Tracked<S> = { server, port: 0, open: new Set(), connections: 0 };
  server.on('connection', (socket: net.Socket) => {
    t.connections++;
    t.open.add(socket);
    socket.on('close', () => t.open.delete(socket));
  });
  return t;
}

async function listen<S extends net.Server>(t: Tracked<S>, host = '127.0.0.1'): Promise<Tracked<S>> {
  await new Promise<void>((resolve, reject) => {
    t.server.once('error', reject);
    t.server.listen(0, host, () => resolve());
  });
  t.port = (t.server.address() as net.AddressInfo).port;
  return t;
}

async function close(t: Tracked<net.Server> | undefined): Promise<void> {
  if (!t) return;
  for (const socket of t.open) socket.destroy();
  (t.server as http.Server).closeAllConnections?.();
  await new Promise<void>((resolve) => t.server.close(() => resolve()));
}

/** Polls until `check` is true (sockets close asynchronously). */
async function eventually(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  bytes: number;
}

/** Target handler: records the request, echoes a small JSON body. Proxied requests (Via) get Connection: close
 * so the proxy's own upstream keep-alive sockets (owned by the proxy, not by us) do not linger. */
function targetHandler(seen: SeenRequest[]): http.RequestListener {
  return (req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bytes });
      const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json' };
      if (req.headers.via) headers.connection = 'close';
      res.writeHead(200, headers);
      res.end(JSON.stringify({ ok: true, bytes }));
    });
  };
}

interface ProxyStats {
  requests: string[];
  connects: Array<{ url: string; headers: http.IncomingHttpHeaders }>;
  authHeaders: Array<string | undefined>;
}

function instrumentProxy(proxy: ProxyServer, stats: ProxyStats): void {
  // Prepended so they run before the proxy's own handlers.
  proxy.prependListener('request', (req: http.IncomingMessage) => stats.requests.push(req.url ?? ''));
  proxy.prependListener('connect', (req: http.IncomingMessage) =>
    stats.connects.push({ url: req.url ?? '', headers: req.headers }),
  );
}

/** An http-client HttpClient wired to SlotAgents the way the HttpManager does it. */
function clientFor(agents: SlotAgents): {
  send: (method: string, url: string, body?: Buffer) => Promise<{ status: number; body: string }>;
  dispose: () => void;
} {
  let current = new URL('http://unset.invalid/');
  const handler: RequestHandler = {
    prepareRequest: (options) => agents.prepare(options, current),
    canHandleAuthentication: () => false,
    handleAuthentication: () => {
      throw new Error('not used');
    },
  };
  const client = new HttpClient('ferry-proxy-test', [handler], { keepAlive: true, allowRetries: false });
  return {
    async send(method, url, body) {
      current = new URL(url);
      const res = body
        ? await client.sendStream(method, url, Readable.from([body]), {
            'content-length': String(body.length),
          })
        : await client.request(method, url, null as unknown as string, {});
      return { status: res.message.statusCode ?? 0, body: await res.readBody() };
    },
    dispose: () => client.dispose(),
  };
}

async function capture(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

function everyOutput(err: unknown): string {
  const e = err as Error;
  return [e.message, String(e.stack), JSON.stringify(err), inspect(err, { depth: 10 })].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Fixtures

// Committed test-only TLS material (__tests__/fixtures/tls/README.md): a leaf for 127.0.0.1 /
// localhost / ::1 signed by a private CA. No openssl needed, so these cases never skip.
const TLS_DIR = join(process.cwd(), '__tests__', 'fixtures', 'tls');
const tlsMaterial = {
  key: readFileSync(join(TLS_DIR, 'server.key')),
  cert: readFileSync(join(TLS_DIR, 'server.crt')),
};
const siteCa = readFileSync(join(TLS_DIR, 'site-ca.crt'));

let httpTarget: Tracked<http.Server>;
let httpsTarget: Tracked<https.Server> | undefined;
let proxy: Tracked<ProxyServer>;
const httpSeen: SeenRequest[] = [];
const httpsSeen: SeenRequest[] = [];
const stats: ProxyStats = { requests: [], connects: [], authHeaders: [] };

function resetStats(): void {
  httpSeen.length = 0;
  httpsSeen.length = 0;
  stats.requests.length = 0;
  stats.connects.length = 0;
  stats.authHeaders.length = 0;
  httpTarget.connections = 0;
  proxy.connections = 0;
  if (httpsTarget) httpsTarget.connections = 0;
}

const tlsOptions = (): { ca: Buffer } => ({ ca: siteCa });

beforeAll(async () => {
  httpsTarget = await listen(
    track(https.createServer({ ...tlsMaterial, keepAliveTimeout: 5000 }, targetHandler(httpsSeen))),
  );
  httpTarget = await listen(track(http.createServer({ keepAliveTimeout: 5000 }, targetHandler(httpSeen))));
  proxy = await listen(track(createProxy(http.createServer())));
  instrumentProxy(proxy.server, stats);
});

afterAll(async () => {
  await close(proxy);
  await close(httpTarget);
  await close(httpsTarget);
});

const proxyUrl = (): string => `http://127.0.0.1:${proxy.port}`;
const httpUrl = (path = '/x'): string => `http://127.0.0.1:${httpTarget.port}${path}`;
const httpsUrl = (path = '/x'): string => `https://127.0.0.1:${httpsTarget?.port ?? 0}${path}`;

// ---------------------------------------------------------------------------------------------

describe('SlotAgents with a real proxy', () => {
  it('sends http targets through the proxy with an absolute URI, reusing one proxy socket', async () => {
    resetStats();
    const agents = new SlotAgents({ httpProxy: proxyUrl() });
    const client = clientFor(agents);
    try {
      for (let i = 0; i < 3; i++) {
        const res = await client.send('GET', httpUrl(`/plain/${i}?q=${i}`));
        expect(res.status).toBe(200);
      }
      expect(stats.requests).toEqual([0, 1, 2].map((i) => `${httpUrl(`/plain/${i}?q=${i}`)}`));
      expect(stats.connects).toHaveLength(0);
      expect(proxy.connections).toBe(1); // keep-alive to the proxy
      expect(httpSeen.map((r) => r.url)).toEqual(['/plain/0?q=0', '/plain/1?q=1', '/plain/2?q=2']);
      for (const r of httpSeen) {
        expect(r.headers.host).toBe(`127.0.0.1:${httpTarget.port}`);
        expect(r.headers.via).toMatch(/proxy/); // it really went through the proxy
        expect(r.headers['proxy-authorization']).toBeUndefined();
      }
    } finally {
      client.dispose();
      agents.destroy();
    }
  });

  it('tunnels https targets with CONNECT and reuses ONE tunnel for sequential requests', async () => {
    resetStats();
    const agents = new SlotAgents({ httpsProxy: proxyUrl() }, { tls: tlsOptions() });
    const client = clientFor(agents);
    try {
      for (let i = 0; i < 4; i++) {
        const res = await client.send('GET', httpsUrl(`/tls/${i}`));
        expect(res.status).toBe(200);
        expect(JSON.parse(res.body)).toEqual({ ok: true, bytes: 0 });
      }
      expect(stats.connects.map((c) => c.url)).toEqual([`127.0.0.1:${httpsTarget?.port}`]);
      // strict proxies reject CONNECT with a body framing header (reliability test 34a)
      expect(stats.connects[0]?.headers['content-length']).toBeUndefined();
      expect(stats.connects[0]?.headers['transfer-encoding']).toBeUndefined();
      expect(stats.connects[0]?.headers.host).toBe(`127.0.0.1:${httpsTarget?.port}`);
      expect(stats.requests).toHaveLength(0);
      expect(proxy.connections).toBe(1);
      expect(httpsTarget?.connections).toBe(1);
      expect(httpsSeen.map((r) => r.url)).toEqual(['/tls/0', '/tls/1', '/tls/2', '/tls/3']);
      expect(httpsSeen.every((r) => r.headers.via === undefined)).toBe(true);
    } finally {
      client.dispose();
      agents.destroy();
    }
  });

  it('uploads more than 8 MiB through the tunnel', async () => {
    resetStats();
    const agents = new SlotAgents({ httpsProxy: proxyUrl() }, { tls: tlsOptions() });
    const client = clientFor(agents);
    try {
      const body = Buffer.alloc(9 * 1024 * 1024 + 17, 7);
      const res = await client.send('PUT', httpsUrl('/upload'), body);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ ok: true, bytes: body.length });
      expect(stats.connects).toHaveLength(1);
    } finally {
      client.dispose();
      agents.destroy();
    }
  });

  it('bypasses the proxy for NO_PROXY targets (the proxy sees nothing)', async () => {
    resetStats();
    const settings: ProxySettings = {
      httpProxy: proxyUrl(),
      httpsProxy: proxyUrl(),
      noProxy: 'example.com, 127.0.0.0/8',
    };
    const agents = new SlotAgents(settings, { tls: tlsOptions() });
    const client = clientFor(agents);
    try {
      expect((await client.send('GET', httpUrl('/direct'))).status).toBe(200);
      if (httpsTarget) expect((await client.send('GET', httpsUrl('/direct'))).status).toBe(200);
      expect(proxy.connections).toBe(0);
      expect(stats.requests).toHaveLength(0);
      expect(stats.connects).toHaveLength(0);
      expect(httpSeen[0]?.headers.via).toBeUndefined();
      expect(httpSeen).toHaveLength(1);
    } finally {
      client.dispose();
      agents.destroy();
    }
  });

  it('destroy() leaves no open sockets on the targets or the proxy', async () => {
    resetStats();
    const proxied = new SlotAgents({ httpProxy: proxyUrl(), httpsProxy: proxyUrl() }, { tls: tlsOptions() });
    const direct = new SlotAgents({}, { tls: tlsOptions() });
    const c1 = clientFor(proxied);
    const c2 = clientFor(direct);
    try {
      await c1.send('GET', httpUrl('/a'));
      await c2.send('GET', httpUrl('/b'));
      if (httpsTarget) {
        await c1.send('GET', httpsUrl('/c'));
        await c2.send('GET', httpsUrl('/d'));
      }
      // keep-alive: sockets stay open until destroy()
      expect(proxy.open.size).toBeGreaterThan(0);
      expect(httpTarget.open.size).toBeGreaterThan(0);
      if (httpsTarget) expect(httpsTarget.open.size).toBe(2);
      proxied.destroy();
      direct.destroy();
      await eventually(() => proxy.open.size === 0, 'proxy sockets closed');
      await eventually(() => httpTarget.open.size === 0, 'http target sockets closed');
      await eventually(() => (httpsTarget?.open.size ?? 0) === 0, 'https target sockets closed');
      // and the slot refuses further work
      expect(() =>
        proxied.prepare({ host: '127.0.0.1', port: httpTarget.port, path: '/' }, new URL(httpUrl())),
      ).toThrow(/destroyed/);
    } finally {
      c1.dispose();
      c2.dispose();
    }
  });
});

describe('proxy authentication', () => {
  // user "us@er:x", password "p:a%ss@w0rd!" — every character that needs percent-encoding
  const user = 'us@er';
  const password = 'p:a%ss@w0rd!';
  const encoded = `${encodeURIComponent(user)}:${encodeURIComponent(password)}`;
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  let authProxy: Tracked<ProxyServer>;
  const authStats: ProxyStats = { requests: [], connects: [], authHeaders: [] };

  beforeAll(async () => {
    authProxy = await listen(track(createProxy(http.createServer())));
    instrumentProxy(authProxy.server, authStats);
    authProxy.server.authenticate = (req) => {
      const header = req.headers['proxy-authorization'];
      authStats.authHeaders.push(header);
      return header === expected;
    };
  });
  afterAll(async () => close(authProxy));

  const authUrl = (userinfo?: string): string =>
    `http://${userinfo ? `${userinfo}@` : ''}127.0.0.1:${authProxy.port}`;

  it('percent-encoded credentials with @ : % work for http targets', async () => {
    resetStats();
    authStats.authHeaders.length = 0;
    const agents = new SlotAgents({ httpProxy: authUrl(encoded) });
    const client = clientFor(agents);
    try {
      expect(encoded).toBe('us%40er:p%3Aa%25ss%40w0rd!');
      expect((await client.send('GET', httpUrl('/auth'))).status).toBe(200);
      expect(authStats.authHeaders).toEqual([expected]);
      expect(httpSeen[0]?.headers['proxy-authorization']).toBeUndefined(); // hop-by-hop, not forwarded
    } finally {
      client.dispose();
      agents.destroy();
    }
  });

  it('percent-encoded credentials with @ : % work for CONNECT, and never reach the target', async () => {
    resetStats();
    authStats.authHeaders.length = 0;
    const agents = new SlotAgents({ httpsProxy: authUrl(encoded) }, { tls: tlsOptions() });
    const client = clientFor(agents);
    try {
      expect((await client.send('GET', httpsUrl('/auth/1'))).status).toBe(200);
      expect((await client.send('GET', httpsUrl('/auth/2'))).status).toBe(200);
      expect(authStats.authHeaders).toEqual([expected]); // one CONNECT for both requests
      expect(httpsSeen.map((r) => r.headers['proxy-authorization'])).toEqual([undefined, undefined]);
    } finally {
      client.dispose();
      agents.destroy();
    }
  });

  it('a 407 to CONNECT is a ProxyError (ERR_FERRY_PROXY) that never shows the password', async () => {
    const secret = 'Wr0ngSecret%@:';
    for (const userinfo of [undefined, `alice:${encodeURIComponent(secret)}`]) {
      const agents = new SlotAgents({ httpsProxy: authUrl(userinfo) }, { tls: tlsOptions() });
      const client = clientFor(agents);
      try {
        const err = await capture(client.send('GET', httpsUrl('/denied')));
        expect(isFerryError(err)).toBe(true);
        expect(err).toBeInstanceOf(ProxyError);
        const e = err as ProxyError;
        expect(e.code).toBe('ERR_FERRY_PROXY');
        expect(e.status).toBe(407);
        expect(e.retryable).toBe(false);
        expect(e.message).toContain('proxy authentication required');
        expect(e.message).toContain(`127.0.0.1:${authProxy.port}`);
        expect(e.message).toMatch(
          userinfo ? /credentials in the proxy URL were rejected/ : /no credentials were configured/,
        );
        const out = everyOutput(err);
        expect(out).not.toContain(secret);
        expect(out).not.toContain(encodeURIComponent(secret));
        expect(out).not.toContain(Buffer.from(`alice:${secret}`).toString('base64'));
      } finally {
        client.dispose();
        agents.destroy();
      }
    }
  });

  it('a 407 to a plain-http request comes back as a response; proxyAuthRequiredError names it', async () => {
    const settings = { httpProxy: authUrl('alice:n0tTheRightOne') };
    const agents = new SlotAgents(settings);
    const client = clientFor(agents);
    try {
      const res = await client.send('GET', httpUrl('/denied'));
      expect(res.status).toBe(407);
      const err = proxyAuthRequiredError(new URL(httpUrl('/denied')), settings);
      expect(err?.message).toMatch(/^proxy authentication required: proxy 127\.0\.0\.1:\d+ answered 407/);
      expect(everyOutput(err)).not.toContain('n0tTheRightOne');
    } finally {
      client.dispose();
      agents.destroy();
    }
  });
});

describe('proxy failures say "proxy"', () => {
  let closedPort = 0;
  const rogue: Array<Tracked<net.Server>> = [];

  /** A raw TCP "proxy" that runs `onConnect` for every connection. */
  async function rawProxy(onConnect: (socket: net.Socket) => void): Promise<Tracked<net.Server>> {
    const t = await listen(track(net.createServer(onConnect)));
    rogue.push(t);
    return t;
  }

  beforeAll(async () => {
    const tmp = await listen(track(net.createServer()));
    closedPort = tmp.port;
    await close(tmp);
  });
  afterAll(async () => {
    for (const t of rogue) await close(t);
  });

  it.each(['http', 'https'] as const)(
    'an unreachable proxy (%s target) gives "proxy <host:port> unreachable"',
    async (scheme) => {
      const agents = new SlotAgents(
        {
          httpProxy: `http://u:hunter2hunter2@127.0.0.1:${closedPort}`,
          httpsProxy: `127.0.0.1:${closedPort}`,
        },
        { tls: tlsOptions() },
      );
      const client = clientFor(agents);
      try {
        const err = await capture(client.send('GET', scheme === 'http' ? httpUrl() : httpsUrl()));
        const e = err as ProxyError;
        expect(e.code).toBe('ERR_FERRY_PROXY');
        expect(e.message).toBe(`proxy 127.0.0.1:${closedPort} unreachable (ECONNREFUSED)`);
        expect(e.errno).toBe('ECONNREFUSED');
        expect((e.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
        expect(e.retryable).toBe(true);
        expect(everyOutput(err)).not.toContain('hunter2hunter2');
      } finally {
        client.dispose();
        agents.destroy();
      }
    },
  );

  it('a proxy that hangs up before answering CONNECT gives a retryable ProxyError with ECONNRESET on the cause', async () => {
    const hangup = await rawProxy((socket) => socket.once('data', () => socket.destroy()));
    const agents = new SlotAgents({ httpsProxy: `http://127.0.0.1:${hangup.port}` }, { tls: tlsOptions() });
    const client = clientFor(agents);
    try {
      const e = (await capture(client.send('GET', 'https://unreachable.test/x'))) as ProxyError;
      expect(e.code).toBe('ERR_FERRY_PROXY');
      expect(e.message).toMatch(
        new RegExp(`^proxy 127\\.0\\.0\\.1:${hangup.port} failed during CONNECT unreachable\\.test:443`),
      );
      expect(e.errno).toBe('ECONNRESET');
      expect((e.cause as NodeJS.ErrnoException).code).toBe('ECONNRESET');
      expect(e.retryable).toBe(true);
    } finally {
      client.dispose();
      agents.destroy();
    }
  });

  it('a proxy that never answers CONNECT times out (connectTimeoutMs)', async () => {
    const silent = await rawProxy((socket) => socket.resume()); // reads, never answers
    const agents = new SlotAgents(
      { httpsProxy: `http://127.0.0.1:${silent.port}` },
      { connectTimeoutMs: 200 },
    );
    const client = clientFor(agents);
    try {
      const e = (await capture(client.send('GET', 'https://slow.test/x'))) as ProxyError;
      expect(e.code).toBe('ERR_FERRY_PROXY');
      expect(e.message).toBe(
        `proxy 127.0.0.1:${silent.port} did not complete CONNECT slow.test:443 within 200 ms`,
      );
      expect(e.errno).toBe('ETIMEDOUT');
      expect(e.retryable).toBe(true);
      agents.destroy();
      await eventually(() => silent.open.size === 0, 'pending CONNECT socket closed');
    } finally {
      client.dispose();
      agents.destroy();
    }
  });

  it('a proxy that closes right after "200 Connection established" gives a TLS error naming the proxy', async () => {
    const liar = await rawProxy((socket) =>
      socket.once('data', () =>
        socket.end('HTTP/1.1 200 Connection established\r\n\r\n', () => socket.destroy()),
      ),
    );
    const agents = new SlotAgents({ httpsProxy: `http://127.0.0.1:${liar.port}` }, { tls: tlsOptions() });
    const client = clientFor(agents);
    try {
      const e = (await capture(client.send('GET', 'https://blob.test/x'))) as ProxyError;
      expect(e.code).toBe('ERR_FERRY_PROXY');
      expect(e.message).toMatch(
        new RegExp(`^TLS handshake with blob\\.test:443 through proxy 127\\.0\\.0\\.1:${liar.port} failed: `),
      );
      expect(e.errno).toBe('ECONNRESET');
      expect(e.retryable).toBe(true);
    } finally {
      client.dispose();
      agents.destroy();
    }
  });

  it('a proxy that cannot reach the target reports the CONNECT status', async () => {
    const agents = new SlotAgents({ httpsProxy: proxyUrl() }, { tls: tlsOptions() });
    const client = clientFor(agents);
    try {
      const e = (await capture(client.send('GET', `https://127.0.0.1:${closedPort}/x`))) as ProxyError;
      expect(e.code).toBe('ERR_FERRY_PROXY');
      expect(e.status).toBe(500);
      expect(e.message).toBe(
        `proxy 127.0.0.1:${proxy.port} refused CONNECT 127.0.0.1:${closedPort} with 500 Internal Server Error`,
      );
      expect(e.retryable).toBe(true);
    } finally {
      client.dispose();
      agents.destroy();
    }
  });

  it('a certificate the caller does not trust fails the handshake inside the tunnel, not retryable', async () => {
    const agents = new SlotAgents({ httpsProxy: proxyUrl() }); // no `ca`
    const client = clientFor(agents);
    try {
      const e = (await capture(client.send('GET', httpsUrl('/untrusted')))) as ProxyError;
      expect(e.code).toBe('ERR_FERRY_PROXY');
      expect(e.message).toMatch(
        /^TLS handshake with 127\.0\.0\.1:\d+ through proxy 127\.0\.0\.1:\d+ failed: /,
      );
      expect(e.retryable).toBe(false);
    } finally {
      client.dispose();
      agents.destroy();
    }
  });
});

describe('https:// proxy (TLS to the proxy itself)', () => {
  let tlsProxy: Tracked<ProxyServer> | undefined;
  const tlsStats: ProxyStats = { requests: [], connects: [], authHeaders: [] };

  beforeAll(async () => {
    tlsProxy = await listen(track(createProxy(https.createServer(tlsMaterial) as unknown as http.Server)));
    instrumentProxy(tlsProxy.server, tlsStats);
  });
  afterAll(async () => close(tlsProxy));

  it('carries http and https targets (TLS inside TLS for CONNECT)', async () => {
    resetStats();
    const url = `https://127.0.0.1:${tlsProxy?.port}`;
    const agents = new SlotAgents({ httpProxy: url, httpsProxy: url }, { tls: tlsOptions() });
    const client = clientFor(agents);
    try {
      expect((await client.send('GET', httpUrl('/via-tls-proxy'))).status).toBe(200);
      expect((await client.send('GET', httpsUrl('/via-tls-proxy/1'))).status).toBe(200);
      expect((await client.send('GET', httpsUrl('/via-tls-proxy/2'))).status).toBe(200);
      expect(tlsStats.requests).toEqual([httpUrl('/via-tls-proxy')]);
      expect(tlsStats.connects.map((c) => c.url)).toEqual([`127.0.0.1:${httpsTarget?.port}`]);
      agents.destroy();
      await eventually(() => tlsProxy?.open.size === 0, 'TLS proxy sockets closed');
    } finally {
      client.dispose();
      agents.destroy();
    }
  });
});

describe('IPv6 loopback targets', () => {
  let v6: Tracked<http.Server> | undefined;
  const seen: SeenRequest[] = [];
  beforeAll(async () => {
    try {
      v6 = await listen(track(http.createServer(targetHandler(seen))), '::1');
    } catch {
      v6 = undefined; // no IPv6 loopback on this host
    }
  });
  afterAll(async () => close(v6));

  it('reach [::1] directly and through the proxy (or skip when ::1 is unavailable)', async () => {
    if (!v6) return;
    const url = `http://[::1]:${v6.port}/six`;
    resetStats();
    const viaProxy = new SlotAgents({ httpProxy: proxyUrl() });
    const direct = new SlotAgents({ httpProxy: proxyUrl(), noProxy: `[::1]:${v6.port}` });
    const c1 = clientFor(viaProxy);
    const c2 = clientFor(direct);
    try {
      expect((await c1.send('GET', url)).status).toBe(200);
      expect(stats.requests).toEqual([url]);
      expect((await c2.send('GET', url)).status).toBe(200);
      expect(stats.requests).toHaveLength(1);
      expect(seen.map((r) => r.headers.host)).toEqual([`[::1]:${v6.port}`, `[::1]:${v6.port}`]);
    } finally {
      c1.dispose();
      c2.dispose();
      viaProxy.destroy();
      direct.destroy();
    }
  });
});
