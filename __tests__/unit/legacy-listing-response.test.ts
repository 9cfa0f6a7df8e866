import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendListing } from '../../src/server/legacy/listing-response.js';

/** A loopback server answering every request with `answer`; stopped after each test. */
async function serve(answer: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(answer);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

function fetchRaw(url: string): Promise<{ res: IncomingMessage; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      const pieces: Buffer[] = [];
      res.on('data', (piece: Buffer) => pieces.push(piece));
      res.on('end', () => resolve({ res, body: Buffer.concat(pieces).toString('utf8') }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

const entries = (n: number): Array<{ path: string; n: number }> =>
  Array.from({ length: n }, (_, i) => ({ path: `art/dir/ünïcode-${i}.txt`, n: i }));

describe('legacy container listing response', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });

  it('sends a listing that fits one batch whole, with its Content-Length', async () => {
    const started = await serve((_req, res) => void sendListing(res, 3, entries(3)));
    server = started.server;
    const { res, body } = await fetchRaw(started.url);
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(res.headers['transfer-encoding']).toBeUndefined();
    expect(JSON.parse(body)).toEqual({ count: 3, value: entries(3) });
  });

  it('streams a larger listing chunked, batch by batch, as the same JSON document', async () => {
    let made = 0;
    function* lazy(): Generator<unknown> {
      for (const entry of entries(5000)) {
        made++;
        yield entry;
      }
    }
    let madeAtHeaders = -1;
    const started = await serve((_req, res) => {
      const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => typeof res;
      res.writeHead = ((...args: unknown[]) => {
        madeAtHeaders = made;
        return writeHead(...args);
      }) as typeof res.writeHead;
      void sendListing(res, 5000, lazy(), 4096);
    });
    server = started.server;
    const { res, body } = await fetchRaw(started.url);
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.headers['content-length']).toBeUndefined();
    expect(JSON.parse(body)).toEqual({ count: 5000, value: entries(5000) });
    // Entries are serialized as the batches go out, not all before the first byte.
    expect(madeAtHeaders).toBeGreaterThan(0);
    expect(madeAtHeaders).toBeLessThan(200);
  });

  it('stops serializing when the client goes away mid-listing (no hang, no further work)', async () => {
    let made = 0;
    function* endless(): Generator<unknown> {
      for (;;) {
        made++;
        yield { path: `art/${'x'.repeat(200)}-${made}` };
      }
    }
    let finished: Promise<void> | undefined;
    const started = await serve((_req, res) => {
      finished = sendListing(res, 1e9, endless(), 64 * 1024);
    });
    server = started.server;
    await new Promise<void>((resolve, reject) => {
      const req = get(started.url, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.on('close', resolve);
      setTimeout(() => reject(new Error('no data')), 5000).unref();
    });
    await finished;
    const after = made;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(made).toBe(after);
  });
});
