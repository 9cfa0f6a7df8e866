/**
 * uploadBlob fills a block's buffer again once its Put Block was acknowledged (blob-upload.ts).
 * Against a real loopback store that acknowledges blocks out of order and late, every block must
 * still arrive with the bytes its Content-MD5 was computed over, and the committed list must
 * assemble the source exactly: a buffer refilled before its block was acknowledged would not.
 */
import { createHash, randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { uploadBlob } from '../../src/backends/results/blob-upload.js';
import { HttpManager } from '../../src/transport/http-manager.js';
import { Operation } from '../../src/transport/operation.js';

const BLOCK = 64 * 1024;

interface Store {
  url: string;
  blocks: Map<string, Buffer>;
  committed: string[];
  md5Mismatches: number;
  close(): Promise<void>;
}

async function slowStore(): Promise<Store> {
  const blocks = new Map<string, Buffer>();
  const store = { blocks, committed: [] as string[], md5Mismatches: 0 };
  let nth = 0;
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const query = new URL(req.url ?? '/', 'http://x').searchParams;
      if (query.get('comp') === 'block') {
        const md5 = createHash('md5').update(body).digest('base64');
        if (md5 !== req.headers['content-md5']) store.md5Mismatches++;
        blocks.set(query.get('blockid') ?? '', body);
        // Later blocks are acknowledged sooner: acknowledgements come back out of order.
        const delay = [40, 5, 25, 0][nth++ % 4] as number;
        setTimeout(() => res.writeHead(201).end(), delay);
        return;
      }
      store.committed = [...body.toString('utf8').matchAll(/<Latest>([^<]+)<\/Latest>/g)].map(
        (m) => m[1] as string,
      );
      res.writeHead(201).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(store, {
    url: `http://127.0.0.1:${port}/container/blob?sig=x`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

test('blocks acknowledged out of order keep their bytes while their buffers are reused', async () => {
  const store = await slowStore();
  const manager = new HttpManager({ slots: 3, userAgent: 'ferry-test' });
  const data = randomBytes(BLOCK * 23 + 999);
  // Small uneven chunks, so every block is copied together from several of them.
  const source = Readable.from(
    (function* () {
      for (let at = 0; at < data.length; at += 7000) yield data.subarray(at, at + 7000);
    })(),
  );
  try {
    const result = await uploadBlob(store.url, source, {
      http: manager,
      operation: new Operation('upload'),
      context: { operation: 'upload', artifactName: 'reuse' },
      contentType: 'application/zip',
      blockSize: BLOCK,
    });
    expect(result).toMatchObject({ size: data.length, blocks: 24 });
    expect(store.md5Mismatches).toBe(0);
    expect(store.committed).toHaveLength(24);
    const assembled = Buffer.concat(store.committed.map((id) => store.blocks.get(id) as Buffer));
    expect(assembled.equals(data)).toBe(true);
    expect(result.sha256).toBe(createHash('sha256').update(data).digest('hex'));
  } finally {
    manager.dispose();
    await store.close();
  }
});
