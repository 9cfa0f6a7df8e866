/**
 * Issue 13: the stats collector fed the way HttpManager will feed it (the few lines the
 * integration adds, written out here), checked against what a real loopback server counted.
 */
import http from 'node:http';
import { StatsCollector } from '../../src/core/stats.js';
import { readRequest, startLoopback } from '../helpers/loopback.js';
import type { Loopback } from '../helpers/loopback.js';

let server: Loopback;
let bytesFromServer = 0;
let bytesToServer = 0;

beforeEach(async () => {
  bytesFromServer = 0;
  bytesToServer = 0;
  server = await startLoopback((req, res) => {
    void readRequest(req).then((body) => {
      bytesToServer += body.length;
      const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('size') ?? '0');
      bytesFromServer += size;
      // `close` makes the server drop the connection after answering: the next request needs a new one.
      res.writeHead(200, {
        'content-length': size,
        ...(req.url?.includes('close') ? { connection: 'close' } : {}),
      });
      res.end(Buffer.alloc(size, 1));
    });
  });
});
afterEach(() => server.close());

/** One request as HttpManager's #send and its body readers would count it. */
function countedRequest(stats: StatsCollector, agent: http.Agent, path: string, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    stats.request(); // where HttpManager does this.#stats.requests++
    const req = http.request(new URL(path, server.url), { method: 'PUT', agent }, (res) => {
      // A response's request knows whether its socket came from the keep-alive pool. Node sets
      // res.req (its types omit it); HttpManager only sees the response, as here.
      if (!(res as http.IncomingMessage & { req?: http.ClientRequest }).req?.reusedSocket)
        stats.connectionOpened();
      res.on('data', (chunk: Buffer) => stats.received(chunk.length)); // in the body reader
      res.on('end', resolve);
      res.on('error', reject);
    });
    req.on('error', reject);
    stats.sent(body.length); // the request body's length, as HttpManager sets content-length
    req.end(body);
  });
}

test('requests, connections and bytes match what the server counted', async () => {
  const stats = new StatsCollector();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const endTransfer = stats.startPhase('transfer');
  const paths = [
    'a?size=1000',
    'b?size=70000',
    'c?size=0&close',
    'd?size=5',
    'e?size=12345&close',
    'f?size=1',
  ];
  for (const [i, path] of paths.entries()) {
    await countedRequest(stats, agent, path, Buffer.alloc(i * 100, 2));
    // Let a freed socket return to the pool before the next request, as a worker's next call does.
    await new Promise((r) => setImmediate(r));
  }
  endTransfer();
  agent.destroy();
  const snap = stats.snapshot();
  expect(snap.requests).toBe(server.requests.length);
  expect(snap.connectionsOpened).toBe(server.connections);
  // Two answers closed their connection, so at least three connections were opened.
  expect(server.connections).toBeGreaterThanOrEqual(3);
  expect(snap.bytesReceived).toBe(bytesFromServer);
  expect(snap.bytesSent).toBe(bytesToServer);
  expect(snap.phases.transferMs).toBeGreaterThanOrEqual(0);
});
