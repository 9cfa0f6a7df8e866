/**
 * Parallel ranged GETs of a large results blob (issue 12 item 3), against a real loopback blob
 * server: ranges in flight at once over separate connections, a cut in one range resumed alone
 * with Range + If-Match, bytes handed on in order and the digest checked over the whole.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { downloadBlob, type BlobSink, type RangePolicy } from '../../src/backends/results/blob-download.js';
import { HttpManager } from '../../src/transport/http-manager.js';
import { Operation } from '../../src/transport/operation.js';
import { rangedAnswer } from '../helpers/ranged-answer.js';

const MiB = 1024 * 1024;
const BLOB = randomBytes(6 * MiB + 12345);
const SHA = createHash('sha256').update(BLOB).digest('hex');
const ETAG = '"0xBLOB1"';
const POLICY: RangePolicy = {
  thresholdBytes: 2 * MiB,
  rangeBytes: 1 * MiB,
  maxConnections: 4,
  bufferBytes: 2 * MiB,
  // Always ranges here, however fast the first response is.
  fastBytesPerSecond: Infinity,
};

interface Seen {
  range: string | undefined;
  ifMatch: string | undefined;
  port: number;
}

interface BlobServer {
  url: string;
  seen: Seen[];
  maxInFlight: number;
  close(): Promise<void>;
}

/**
 * Serves BLOB with Range (single `bytes=a-b` or `bytes=a-`) and a strong ETag, paced so that
 * ranges overlap in time. `cut(range)` returns a byte count after which that response's socket
 * is destroyed (once per call that returns a number).
 */
async function blobServer(
  cut: (range: string | undefined) => number | undefined = () => undefined,
): Promise<BlobServer> {
  const seen: Seen[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const range = req.headers['range'];
    seen.push({
      range,
      ifMatch: req.headers['if-match'] as string | undefined,
      port: req.socket.remotePort ?? 0,
    });
    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined && ifMatch !== ETAG) {
      res.writeHead(412).end();
      return;
    }
    const answer = rangedAnswer(BLOB, range, ETAG);
    res.writeHead(answer.status, { ...answer.headers, 'content-type': 'application/octet-stream' });
    const body = answer.body;
    const cutAfter = cut(typeof range === 'string' ? range : undefined);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let done = false;
    const finish = (): void => {
      if (!done) inFlight--;
      done = true;
    };
    res.on('close', finish);
    // 256 KiB every 5 ms: slow enough that the ranges overlap.
    let at = 0;
    const step = (): void => {
      if (res.destroyed) return finish();
      if (cutAfter !== undefined && at >= cutAfter) {
        finish();
        return void req.socket.destroy();
      }
      const n = Math.min(256 * 1024, body.length - at, cutAfter === undefined ? Infinity : cutAfter - at);
      res.write(body.subarray(at, at + n));
      at += n;
      if (at >= body.length) {
        finish();
        res.end();
      } else setTimeout(step, 5);
    };
    step();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/blob`,
    seen,
    get maxInFlight() {
      return maxInFlight;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let work: string;
beforeEach(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'ferry-ranged-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

function manager(slots: number): HttpManager {
  return new HttpManager({
    slots,
    userAgent: 'ferry-test',
    retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 4 },
  });
}

test('a large blob arrives in parallel ranges over separate connections, in order, digest checked', async () => {
  const server = await blobServer();
  const http = manager(8);
  try {
    const file = path.join(work, 'blob');
    const progress: number[] = [];
    const result = await downloadBlob(server.url, file, {
      http,
      operation: new Operation('download'),
      context: { artifactName: 'big' },
      expectedSha256: SHA,
      listedSize: BLOB.length,
      ranges: POLICY,
      onBytes: (received) => progress.push(received),
    });
    expect(result).toMatchObject({ size: BLOB.length, sha256: SHA });
    expect((await readFile(file)).equals(BLOB)).toBe(true);
    expect(server.seen[0]?.range).toBe('bytes=0-');
    // Range 0 came from the first response; the other six were asked for with If-Match.
    const ranged = server.seen.slice(1);
    expect(ranged.map((s) => s.range).sort()).toEqual(
      [1, 2, 3, 4, 5, 6].map((i) => `bytes=${i * MiB}-${Math.min(BLOB.length, (i + 1) * MiB) - 1}`).sort(),
    );
    expect(ranged.every((s) => s.ifMatch === ETAG)).toBe(true);
    // At most maxConnections at once, and more than one.
    expect(server.maxInFlight).toBeGreaterThan(1);
    expect(server.maxInFlight).toBeLessThanOrEqual(4);
    expect(new Set(server.seen.map((s) => s.port)).size).toBeGreaterThan(1);
    // Progress only moves forward: bytes are handed on in order.
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(BLOB.length);
  } finally {
    http.dispose();
    await server.close();
  }
});

test('a cut in one range is resumed for that range alone, with Range + If-Match', async () => {
  let cuts = 0;
  const third = `bytes=${3 * MiB}-${4 * MiB - 1}`;
  const server = await blobServer((range) => (range === third && cuts++ === 0 ? 300 * 1024 : undefined));
  const http = manager(4);
  const written: Buffer[] = [];
  const sink: BlobSink = {
    start: async () => {
      written.length = 0;
    },
    write: async (chunks) => {
      written.push(...chunks.map((c) => Buffer.from(c)));
    },
  };
  try {
    const result = await downloadBlob(server.url, sink, {
      http,
      operation: new Operation('download'),
      context: { artifactName: 'big' },
      expectedSha256: SHA,
      listedSize: BLOB.length,
      ranges: POLICY,
    });
    expect(result.sha256).toBe(SHA);
    expect(Buffer.concat(written).equals(BLOB)).toBe(true);
    const resumes = server.seen.filter((s) => s.range?.endsWith(`-${4 * MiB - 1}`));
    expect(resumes.map((s) => s.range)).toEqual([third, `bytes=${3 * MiB + 300 * 1024}-${4 * MiB - 1}`]);
    expect(resumes[1]?.ifMatch).toBe(ETAG);
    // No other range was asked twice, and the first GET was not repeated.
    expect(server.seen).toHaveLength(1 + 6 + 1);
  } finally {
    http.dispose();
    await server.close();
  }
});

test('a cut in the first response resumes range 0 alone', async () => {
  let cuts = 0;
  const server = await blobServer((range) => (range === 'bytes=0-' && cuts++ === 0 ? 100 * 1024 : undefined));
  const http = manager(4);
  try {
    const file = path.join(work, 'blob');
    const result = await downloadBlob(server.url, file, {
      http,
      operation: new Operation('download'),
      context: {},
      expectedSha256: SHA,
      listedSize: BLOB.length,
      ranges: POLICY,
    });
    expect(result.sha256).toBe(SHA);
    expect((await readFile(file)).equals(BLOB)).toBe(true);
    expect(server.seen.map((s) => s.range)).toContain(`bytes=${100 * 1024}-${MiB - 1}`);
    expect(server.seen.filter((s) => s.range === 'bytes=0-')).toHaveLength(1);
  } finally {
    http.dispose();
    await server.close();
  }
});

test('below the threshold, or with concurrency 1, the blob is one plain GET as before', async () => {
  const server = await blobServer();
  try {
    for (const [slots, policy] of [
      [8, { ...POLICY, thresholdBytes: BLOB.length }],
      [1, POLICY],
    ] as const) {
      const http = manager(slots);
      server.seen.length = 0;
      const result = await downloadBlob(server.url, path.join(work, 'blob'), {
        http,
        operation: new Operation('download'),
        context: {},
        expectedSha256: SHA,
        listedSize: BLOB.length,
        ranges: policy,
      });
      http.dispose();
      expect(result.sha256).toBe(SHA);
      expect(server.seen.map((s) => s.range)).toEqual([undefined]);
    }
  } finally {
    await server.close();
  }
});

test('a slow sink pauses the ranges ahead of it (bounded memory) without tripping the stall watchdog', async () => {
  const server = await blobServer();
  const http = manager(4);
  let delivered = 0;
  const sink: BlobSink = {
    start: async () => undefined,
    write: async (chunks) => {
      for (const chunk of chunks) delivered += chunk.length;
      await new Promise((resolve) => setTimeout(resolve, 200));
    },
  };
  try {
    const result = await downloadBlob(server.url, sink, {
      http,
      operation: new Operation('download'),
      context: {},
      expectedSha256: SHA,
      listedSize: BLOB.length,
      ranges: { ...POLICY, bufferBytes: 1 * MiB },
      // Paused ranges receive nothing for longer than this window: the pause must not count.
      stall: { minBytesPerSecond: 64 * 1024, windowMs: 150 },
    });
    expect(result.sha256).toBe(SHA);
    expect(delivered).toBe(BLOB.length);
    // Every range asked once: no stall retried any of them.
    expect(server.seen).toHaveLength(1 + 6);
  } finally {
    http.dispose();
    await server.close();
  }
});

test('a first response fast enough to be read alone stays one stream; a cut in it continues range by range', async () => {
  let cuts = 0;
  const cutAt = 2 * MiB + 512 * 1024;
  const server = await blobServer((range) => (range === 'bytes=0-' && cuts++ === 0 ? cutAt : undefined));
  const http = manager(8);
  try {
    const file = path.join(work, 'blob');
    const result = await downloadBlob(server.url, file, {
      http,
      operation: new Operation('download'),
      context: {},
      expectedSha256: SHA,
      listedSize: BLOB.length,
      // Any rate counts as fast: the first response is read alone.
      ranges: { ...POLICY, fastBytesPerSecond: 0 },
    });
    expect(result.sha256).toBe(SHA);
    expect((await readFile(file)).equals(BLOB)).toBe(true);
    // The rest of the cut range, then the remaining ranges one after another on one connection.
    expect(server.seen.map((s) => s.range)).toEqual([
      'bytes=0-',
      `bytes=${cutAt}-${3 * MiB - 1}`,
      ...[3, 4, 5, 6].map((i) => `bytes=${i * MiB}-${Math.min(BLOB.length, (i + 1) * MiB) - 1}`),
    ]);
    expect(server.maxInFlight).toBe(1);
  } finally {
    http.dispose();
    await server.close();
  }
});

test('a fast first response without a cut is the only request', async () => {
  const server = await blobServer();
  const http = manager(8);
  try {
    const result = await downloadBlob(server.url, path.join(work, 'blob'), {
      http,
      operation: new Operation('download'),
      context: {},
      expectedSha256: SHA,
      listedSize: BLOB.length,
      ranges: { ...POLICY, fastBytesPerSecond: 0 },
    });
    expect(result.sha256).toBe(SHA);
    expect(server.seen.map((s) => s.range)).toEqual(['bytes=0-']);
  } finally {
    http.dispose();
    await server.close();
  }
});
