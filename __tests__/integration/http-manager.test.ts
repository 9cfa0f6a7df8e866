import type { Clock } from '../../src/transport/clock.js';
import { discardBody, readJson, readText } from '../../src/transport/body.js';
import { HttpManager } from '../../src/transport/http-manager.js';
import { Operation } from '../../src/transport/operation.js';
import { isFerryError, type FerryError } from '../../src/core/errors.js';
import { readRequest, startLoopback, waitFor, type Loopback } from '../helpers/loopback.js';

/** A clock whose sleeps return at once and are recorded, so retry delays are asserted, not waited for. */
function fakeClock(): Clock & { sleeps: number[] } {
  let now = 1_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms: number, signal?: AbortSignal) => {
      if (signal?.aborted) throw signal.reason;
      sleeps.push(ms);
      now += ms;
    },
  };
}

let server: Loopback | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('HttpManager against a real loopback server', () => {
  it('reuses one keep-alive connection per slot and closes every socket on dispose', async () => {
    server = await startLoopback(async (req, res) => {
      await readRequest(req);
      res.end('ok');
    });
    const http = new HttpManager({ slots: 4, userAgent: 'test' });
    const files = Array.from({ length: 2000 }, (_, i) => i);
    let next = 0;
    await Promise.all(
      [0, 1, 2, 3].map(async (slot) => {
        while (next < files.length) {
          const i = next++;
          await http.request(
            { slot, method: 'PUT', url: `${server!.url}f/${i}`, body: Buffer.from(`file ${i}`) },
            discardBody,
          );
        }
      }),
    );
    expect(server.requests).toHaveLength(2000);
    // At most one connection per slot plus one per replaced client; nothing was replaced here.
    const replaced = http.stats.clientsCreated - 4;
    expect(server.connections).toBeLessThanOrEqual(4 + replaced);
    expect(replaced).toBe(0);
    http.dispose();
    await waitFor(() => server!.open === 0);
    expect(server.open).toBe(0);
  });

  it('retries 503 with Retry-After and replaces the slot client, reading every error body', async () => {
    let calls = 0;
    server = await startLoopback(async (req, res) => {
      await readRequest(req);
      calls++;
      if (calls <= 2) {
        res.writeHead(503, { 'retry-after': '3', 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'busy' }));
        return;
      }
      res.end(JSON.stringify({ ok: true }));
    });
    const clock = fakeClock();
    const http = new HttpManager({ slots: 1, userAgent: 'test', clock });
    const retries: number[] = [];
    const result = await http.request<{ ok: boolean }>(
      { slot: 0, method: 'POST', url: server.url, body: '{}', onRetry: (r) => retries.push(r.attempt) },
      readJson,
    );
    expect(result).toEqual({ ok: true });
    expect(clock.sleeps).toEqual([3000, 3000]);
    expect(retries).toEqual([1, 2]);
    expect(http.stats.clientsCreated).toBe(3);
    http.dispose();
    await waitFor(() => server!.open === 0);
  });

  it('retries a connection reset before the response and succeeds', async () => {
    let calls = 0;
    server = await startLoopback(async (req, res) => {
      await readRequest(req);
      if (++calls === 1) {
        req.socket.destroy();
        return;
      }
      res.end('fine');
    });
    const clock = fakeClock();
    const http = new HttpManager({ slots: 1, userAgent: 'test', clock, random: () => 0 });
    expect(await http.request({ slot: 0, method: 'GET', url: server.url }, readText)).toBe('fine');
    expect(clock.sleeps).toHaveLength(1);
    http.dispose();
  });

  it('gives up after maxAttempts with the last cause and a bounded number of requests', async () => {
    server = await startLoopback((_req, res) => {
      res.writeHead(500);
      res.end('<html><title>boom</title></html>');
    });
    const clock = fakeClock();
    const http = new HttpManager({ slots: 1, userAgent: 'test', clock, retry: { maxAttempts: 4 } });
    const error = await http
      .request(
        { slot: 0, method: 'GET', url: `${server.url}x?sig=SECRET`, context: { artifactName: 'art' } },
        readText,
      )
      .then(
        () => Promise.reject(new Error('expected a failure')),
        (e: unknown) => e as FerryError,
      );
    expect(isFerryError(error)).toBe(true);
    expect(error.code).toBe('ERR_FERRY_HTTP');
    expect(error.message).toMatch(/500/);
    expect(error.message).toContain("artifact 'art'");
    expect(error.message).not.toContain('SECRET');
    expect(server.requests).toHaveLength(4);
    expect(clock.sleeps).toHaveLength(3);
    http.dispose();
  });

  it('stops every worker at a permanent error: no request after the 403', async () => {
    let sawForbidden = false;
    let afterForbidden = 0;
    server = await startLoopback(async (req, res) => {
      await readRequest(req);
      if (sawForbidden) afterForbidden++;
      if (req.url?.includes('/bad')) {
        sawForbidden = true;
        res.writeHead(403, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ message: 'Artifact storage quota has been hit' }] }));
        return;
      }
      setTimeout(() => res.end('ok'), 5);
    });
    const http = new HttpManager({ slots: 3, userAgent: 'test', clock: fakeClock() });
    const operation = new Operation('upload');
    const urls = Array.from({ length: 60 }, (_, i) => `${server!.url}${i === 10 ? 'bad' : 'good'}/${i}`);
    let next = 0;
    const results = await Promise.allSettled(
      [0, 1, 2].map(async (slot) => {
        while (next < urls.length) {
          const url = urls[next++] as string;
          await http.request({ slot, method: 'PUT', url, body: Buffer.from('x'), operation }, discardBody);
        }
      }),
    );
    const errors = results
      .filter((r) => r.status === 'rejected')
      .map((r) => (r as PromiseRejectedResult).reason as FerryError);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.code === 'ERR_FERRY_QUOTA')).toBe(true);
    expect(operation.failure?.message).toMatch(/quota/);
    // Workers already in flight may finish; none starts a new request.
    expect(afterForbidden).toBeLessThanOrEqual(2);
    expect(server.requests.length).toBeLessThan(20);
    http.dispose();
  });

  it('aborts a backoff sleep when the caller aborts, without waiting for the timer', async () => {
    server = await startLoopback((_req, res) => {
      res.writeHead(503);
      res.end();
    });
    const controller = new AbortController();
    // The real clock with a 10-minute backoff: only a cancelled timer lets this test finish.
    const http = new HttpManager({ slots: 1, userAgent: 'test', retry: { baseDelayMs: 600_000, jitter: 0 } });
    const pending = http.request(
      { slot: 0, method: 'GET', url: server.url, signal: controller.signal },
      readText,
    );
    await waitFor(() => server!.requests.length === 1);
    controller.abort(new Error('user cancelled'));
    await expect(pending).rejects.toMatchObject({ code: 'ERR_FERRY_ABORTED' });
    expect(server.requests).toHaveLength(1);
    http.dispose();
  });

  it('drops the bearer token on a redirect to another origin', async () => {
    const other = await startLoopback((_req, res) => res.end('blob'));
    server = await startLoopback((_req, res) => {
      res.writeHead(302, { location: `${other.url}blob?sig=x` });
      res.end();
    });
    const http = new HttpManager({ slots: 1, userAgent: 'test' });
    expect(
      await http.request({ slot: 0, method: 'GET', url: server.url, bearer: 'tok-123456' }, readText),
    ).toBe('blob');
    expect(server.requests[0]?.headers['authorization']).toBe('Bearer tok-123456');
    expect(other.requests[0]?.headers['authorization']).toBeUndefined();
    http.dispose();
    await other.close();
  });

  it('sends a string body with its length, and ends an attempt on a silent socket as a timeout', async () => {
    const bodies: string[] = [];
    server = await startLoopback(async (req, res) => {
      bodies.push((await readRequest(req)).toString('utf8'));
      // The second path accepts the request and never answers: only the idle timer ends it.
      if (req.url !== '/silent') res.end('ok');
    });
    const http = new HttpManager({
      slots: 1,
      userAgent: 'test',
      socketTimeoutMs: 300,
      retry: { maxAttempts: 1 },
    });
    const json = JSON.stringify({ name: 'naïve' });
    expect(await http.request({ slot: 0, method: 'POST', url: server.url, body: json }, readText)).toBe('ok');
    expect(bodies).toEqual([json]);
    expect(server.requests[0]?.headers['content-length']).toBe(String(Buffer.byteLength(json)));

    const started = Date.now();
    const error = await failureOf(
      http.request({ slot: 0, method: 'GET', url: `${server.url}silent` }, readText),
    );
    expect(error).toMatchObject({ code: 'ERR_FERRY_TIMEOUT', retryable: true });
    expect(error.message).toMatch(/No data from 127\.0\.0\.1:\d+ within 0\.3 s/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    http.dispose();
  });

  it('fails later requests after dispose with a typed error', async () => {
    const http = new HttpManager({ slots: 1, userAgent: 'test' });
    http.dispose();
    await expect(
      http.request({ slot: 0, method: 'GET', url: 'http://127.0.0.1:9/' }, readText),
    ).rejects.toMatchObject({
      code: 'ERR_FERRY_CLIENT_CLOSED',
    });
  });
});

/** The rejection of a promise that must fail. */
function failureOf(promise: Promise<unknown>): Promise<FerryError> {
  return promise.then(
    () => Promise.reject(new Error('expected a failure')),
    (e: unknown) => e as FerryError,
  );
}

describe('HttpManager: answers that are easy to misread', () => {
  it('retries a 2xx whose body is not JSON (an intermediary page) and then succeeds', async () => {
    let calls = 0;
    server = await startLoopback((_req, res) => {
      calls++;
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(calls === 1 ? '<html>gateway says hi</html>' : '{"ok":true}');
    });
    const http = new HttpManager({ slots: 1, userAgent: 'test', clock: fakeClock() });
    expect(await http.request({ slot: 0, method: 'GET', url: server.url }, readJson)).toEqual({ ok: true });
    expect(calls).toBe(2);
    http.dispose();
  });

  it('treats a 403 that says "rate limit" as retryable, and not as a quota when retries run out', async () => {
    server = await startLoopback((_req, res) => {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'API rate limit exceeded for installation' }));
    });
    const clock = fakeClock();
    const http = new HttpManager({ slots: 1, userAgent: 'test', clock, retry: { maxAttempts: 3 } });
    const error = await failureOf(http.request({ slot: 0, method: 'GET', url: server.url }, readText));
    expect(server.requests).toHaveLength(3);
    expect(error.code).toBe('ERR_FERRY_HTTP');
    expect(error.message).toMatch(/rate limit/);
    http.dispose();
  });

  it('says "proxy authentication required" for a 407', async () => {
    server = await startLoopback((_req, res) => {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="corp"' });
      res.end();
    });
    const http = new HttpManager({ slots: 1, userAgent: 'test', clock: fakeClock() });
    const error = await failureOf(http.request({ slot: 0, method: 'GET', url: server.url }, readText));
    expect(error.code).toBe('ERR_FERRY_PROXY');
    expect(error.message).toMatch(/Proxy authentication required/);
    expect(server.requests).toHaveLength(1);
    http.dispose();
  });
});
