import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync, truncateSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ChunkReader } from '../../src/pack/chunk-reader.js';
import { gunzipSync } from 'node:zlib';
import { isFerryError, type FerryError } from '../../src/core/errors.js';
import {
  chunkRanges,
  contentRange,
  preparePayload,
  SMALL_FILE_LIMIT,
  type Payload,
} from '../../src/pack/gzip-payload.js';

let dir: string;
let tempDir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ferry-payload-'));
  tempDir = path.join(dir, 'tmp');
  await mkdir(tempDir);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: Buffer | string): Promise<string> {
  const p = path.join(dir, name);
  await mkdir(path.dirname(p), { recursive: true });
  await writeFile(p, content);
  return p;
}

/** Compressible text of exactly `size` bytes. */
function text(size: number): Buffer {
  const line = 'The quick brown fox jumps over the lazy dog; lorem ipsum dolor sit amet 0123456789.\n';
  return Buffer.from(line.repeat(Math.ceil(size / line.length)).slice(0, size));
}

async function payloadBytes(payload: Payload): Promise<Buffer> {
  return payload.kind === 'memory' ? payload.data : readFile(payload.path);
}

async function ferryError(promise: Promise<unknown>): Promise<FerryError> {
  try {
    await promise;
  } catch (error) {
    expect(isFerryError(error)).toBe(true);
    return error as FerryError;
  }
  throw new Error('expected a FerryError');
}

/** Buffer.equals: jest's toEqual walks big buffers element by element and takes seconds per MiB. */
function expectSameBytes(actual: Buffer, expected: Buffer): void {
  expect(actual.length).toBe(expected.length);
  expect(actual.equals(expected)).toBe(true);
}

const tempFiles = (): string[] => readdirSync(tempDir);

describe('preparePayload: small files (< 64 KiB) in memory', () => {
  it('gzips tiny text', async () => {
    const content = text(1000);
    const payload = await preparePayload(await file('a.txt', content), { tempDir });
    expect(payload).toMatchObject({ kind: 'memory', gzip: true, originalSize: 1000 });
    const bytes = await payloadBytes(payload);
    expect(bytes.length).toBeLessThan(1000);
    expectSameBytes(gunzipSync(bytes), content);
    expect(tempFiles()).toEqual([]);
  });

  it('sends tiny random bytes raw', async () => {
    const content = randomBytes(1000);
    const payload = await preparePayload(await file('r.bin', content), { tempDir });
    expect(payload).toMatchObject({ kind: 'memory', gzip: false, originalSize: 1000 });
    expectSameBytes(await payloadBytes(payload), content);
  });

  it('sends an empty file raw, 0 bytes', async () => {
    const payload = await preparePayload(await file('empty', ''), { tempDir });
    expect(payload).toMatchObject({ kind: 'memory', gzip: false, originalSize: 0 });
    expect(payload.kind === 'memory' && payload.data.length).toBe(0);
  });

  it('still test-gzips a small file with a compressed extension (as the official client does)', async () => {
    const content = text(5000);
    const payload = await preparePayload(await file('small.zip', content), { tempDir });
    expect(payload).toMatchObject({ kind: 'memory', gzip: true });
  });

  it('handles a file of exactly SMALL_FILE_LIMIT - 1 bytes in memory', async () => {
    const content = text(SMALL_FILE_LIMIT - 1);
    const payload = await preparePayload(await file('edge.txt', content), { tempDir });
    expect(payload.kind).toBe('memory');
    expectSameBytes(gunzipSync(await payloadBytes(payload)), content);
  });

  it('uses the requested level and never compresses at level 0', async () => {
    const content = text(30_000);
    const p = await file('lvl.txt', content);
    const l1 = await preparePayload(p, { tempDir, level: 1 });
    const l9 = await preparePayload(p, { tempDir, level: 9 });
    expectSameBytes(gunzipSync(await payloadBytes(l1)), content);
    expect((await payloadBytes(l9)).length).toBeLessThanOrEqual((await payloadBytes(l1)).length);
    const l0 = await preparePayload(p, { tempDir, level: 0 });
    expect(l0).toMatchObject({ kind: 'memory', gzip: false, originalSize: 30_000 });
    expectSameBytes(await payloadBytes(l0), content);
  });

  it('rejects an invalid level, naming the option', async () => {
    const p = await file('x.txt', 'x');
    for (const level of [-1, 10, 1.5, Number.NaN]) {
      const error = await ferryError(preparePayload(p, { tempDir, level }));
      expect(error.code).toBe('ERR_FERRY_INVALID_OPTION');
      expect(error.message).toContain(`'level'`);
      expect(error.message).toContain(String(level));
    }
  });

  it('follows a symlink to a regular file (the finder owns the symlink policy)', async () => {
    const target = await file('real.txt', text(2000));
    const link = path.join(dir, 'link.txt');
    await symlink(target, link);
    const payload = await preparePayload(link, { tempDir });
    expectSameBytes(gunzipSync(await payloadBytes(payload)), text(2000));
  });
});

describe('preparePayload: large files (>= 64 KiB)', () => {
  it('stream-gzips 1 MiB of text to a temp file whose gunzip equals the original', async () => {
    const content = text(1024 * 1024);
    const payload = await preparePayload(await file('big.txt', content), { tempDir });
    expect(payload.kind).toBe('file');
    if (payload.kind !== 'file') return;
    expect(payload.gzip).toBe(true);
    expect(payload.originalSize).toBe(content.length);
    expect(path.dirname(payload.path)).toBe(tempDir);
    const gz = await readFile(payload.path);
    expect(payload.size).toBe(gz.length);
    expect(gz.length).toBeLessThan(content.length / 10);
    expectSameBytes(gunzipSync(gz), content);
    expect((await stat(payload.path)).mode & 0o777).toBe(0o600);
    await payload.cleanup();
    expect(existsSync(payload.path)).toBe(false);
    expect(tempFiles()).toEqual([]);
    await payload.cleanup(); // idempotent
  });

  it('gzips a file of exactly SMALL_FILE_LIMIT bytes through the temp-file path', async () => {
    const content = text(SMALL_FILE_LIMIT);
    const payload = await preparePayload(await file('edge.txt', content), { tempDir });
    expect(payload).toMatchObject({ kind: 'file', gzip: true, originalSize: SMALL_FILE_LIMIT });
    expectSameBytes(gunzipSync(await payloadBytes(payload)), content);
    if (payload.kind === 'file') await payload.cleanup();
  });

  it('sends 1 MiB of random bytes raw, without a temp file', async () => {
    const p = await file('random.bin', randomBytes(1024 * 1024));
    const payload = await preparePayload(p, { tempDir });
    expect(payload).toMatchObject({
      kind: 'file',
      path: p,
      size: 1024 * 1024,
      gzip: false,
      originalSize: 1024 * 1024,
    });
    expect(tempFiles()).toEqual([]);
    if (payload.kind === 'file') await payload.cleanup();
    expect(existsSync(p)).toBe(true); // cleanup of a raw payload never deletes the source
  });

  it.each(['archive.zip', 'ARCHIVE.ZIP', 'image.png', 'bundle.tar.gz', 'lib.jar'])(
    'sends %s raw without looking at it',
    async (name) => {
      const p = await file(name, text(200_000));
      const payload = await preparePayload(p, { tempDir });
      expect(payload).toMatchObject({
        kind: 'file',
        path: p,
        gzip: false,
        size: 200_000,
        originalSize: 200_000,
      });
      expect(tempFiles()).toEqual([]);
    },
  );

  it('sends raw when only the sample is incompressible (first 256 KiB random)', async () => {
    const p = await file('mixed.bin', Buffer.concat([randomBytes(256 * 1024), Buffer.alloc(1024 * 1024)]));
    const payload = await preparePayload(p, { tempDir });
    expect(payload).toMatchObject({ kind: 'file', path: p, gzip: false });
    expect(tempFiles()).toEqual([]);
  });

  it('sends raw at level 0 without a temp file', async () => {
    const p = await file('big0.txt', text(300_000));
    const payload = await preparePayload(p, { tempDir, level: 0 });
    expect(payload).toMatchObject({ kind: 'file', path: p, gzip: false, size: 300_000 });
    expect(tempFiles()).toEqual([]);
  });

  it('names the file in the error context when given a relative name', async () => {
    const error = await ferryError(
      preparePayload(path.join(dir, 'nope.txt'), { tempDir, file: 'sub/nope.txt' }),
    );
    expect(error.code).toBe('ERR_FERRY_SOURCE_UNREADABLE');
    expect(error.context.file).toBe('sub/nope.txt');
    expect(error.message).toContain(`file 'sub/nope.txt'`);
    expect(error.message).toContain('ENOENT');
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('rethrows a temp-dir write failure and leaves nothing behind', async () => {
    const p = await file('big.txt', text(200_000));
    const error = await preparePayload(p, { tempDir: path.join(dir, 'missing-tmp') }).catch(
      (e: unknown) => e,
    );
    expect((error as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(isFerryError(error)).toBe(false);
  });

  it('is abortable', async () => {
    const p = await file('big.txt', text(1024 * 1024));
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    const error = await ferryError(preparePayload(p, { tempDir, signal: controller.signal }));
    expect(error.code).toBe('ERR_FERRY_ABORTED');
    expect(tempFiles()).toEqual([]);
  });

  it('stops mid-stream on abort and removes the partial temp file', async () => {
    const p = await file('huge.txt', text(48 * 1024 * 1024));
    const controller = new AbortController();
    // Abort as soon as the temp file exists, i.e. while the gzip stream is running.
    const poll = setInterval(() => {
      if (tempFiles().length > 0) controller.abort(new Error('stop'));
    }, 1);
    try {
      const error = await ferryError(preparePayload(p, { tempDir, signal: controller.signal, level: 9 }));
      expect(error.code).toBe('ERR_FERRY_ABORTED');
    } finally {
      clearInterval(poll);
    }
    expect(tempFiles()).toEqual([]);
  });

  it.each([
    ['grows', (p: string) => appendFileSync(p, 'more')],
    ['is truncated', (p: string) => truncateSync(p, 1000)],
  ])('fails with SOURCE_CHANGED when the file %s while it is gzipped', async (_what, change) => {
    const p = await file('changing.txt', text(48 * 1024 * 1024));
    let changed = false;
    const poll = setInterval(() => {
      if (!changed && tempFiles().length > 0) {
        changed = true;
        change(p);
      }
    }, 1);
    try {
      const error = await ferryError(preparePayload(p, { tempDir, level: 9, file: 'changing.txt' }));
      expect(error.code).toBe('ERR_FERRY_SOURCE_CHANGED');
      expect(error.message).toContain(`file 'changing.txt'`);
    } finally {
      clearInterval(poll);
    }
    expect(changed).toBe(true);
    expect(tempFiles()).toEqual([]);
  });

  it('compresses two files concurrently with separate temp files', async () => {
    const a = text(2 * 1024 * 1024);
    const b = Buffer.from(
      text(3 * 1024 * 1024)
        .toString('utf8')
        .toUpperCase(),
    );
    const [pa, pb] = await Promise.all([
      preparePayload(await file('a.txt', a), { tempDir }),
      preparePayload(await file('b.txt', b), { tempDir }),
    ]);
    expectSameBytes(gunzipSync(await payloadBytes(pa)), a);
    expectSameBytes(gunzipSync(await payloadBytes(pb)), b);
    expect(tempFiles()).toHaveLength(2);
    for (const p of [pa, pb]) if (p.kind === 'file') await p.cleanup();
    expect(tempFiles()).toEqual([]);
  });
});

describe('preparePayload: what cannot be uploaded', () => {
  it('rejects a directory, naming it', async () => {
    const d = path.join(dir, 'some-dir');
    await mkdir(d);
    const error = await ferryError(preparePayload(d, { tempDir }));
    expect(error.code).toBe('ERR_FERRY_INVALID_PATH');
    expect(error.name).toBe('ValidationError');
    expect(error.message).toContain('some-dir');
    expect(error.message).toContain('is a directory');
  });

  it('rejects a FIFO without blocking on it', async () => {
    if (process.platform === 'win32') return;
    const fifo = path.join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const error = await ferryError(preparePayload(fifo, { tempDir }));
    expect(error.code).toBe('ERR_FERRY_INVALID_PATH');
    expect(error.message).toContain('named pipe');
    expect(error.message).toContain(`'${fifo}'`);
  });

  it('rejects a socket', async () => {
    if (process.platform === 'win32') return;
    const sock = path.join(dir, 's.sock');
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      const error = await ferryError(preparePayload(sock, { tempDir }));
      expect(error.code).toBe('ERR_FERRY_INVALID_PATH');
      expect(error.message).toContain('a socket');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('rejects a device', async () => {
    if (!existsSync('/dev/null')) return;
    const error = await ferryError(preparePayload('/dev/null', { tempDir }));
    expect(error.code).toBe('ERR_FERRY_INVALID_PATH');
    expect(error.message).toContain('a device');
  });

  it('reports a missing file as unreadable, with the cause', async () => {
    const missing = path.join(dir, 'gone.txt');
    const error = await ferryError(preparePayload(missing, { tempDir }));
    expect(error.code).toBe('ERR_FERRY_SOURCE_UNREADABLE');
    expect(error.message).toContain(missing);
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('detects a file whose content is longer than its stat size (/proc) as changed', async () => {
    if (!existsSync('/proc/self/status')) return;
    const error = await ferryError(preparePayload('/proc/self/status', { tempDir }));
    expect(error.code).toBe('ERR_FERRY_SOURCE_CHANGED');
    expect(error.message).toContain('/proc/self/status');
    expect(error.message).toContain('grew');
  });
});

describe('chunkRanges', () => {
  it('gives one empty range for 0 bytes', () => {
    expect(chunkRanges(0, 8)).toEqual([{ start: 0, end: -1 }]);
  });

  it('covers sizes below, at and above the chunk size with inclusive ends', () => {
    expect(chunkRanges(1, 8)).toEqual([{ start: 0, end: 0 }]);
    expect(chunkRanges(7, 8)).toEqual([{ start: 0, end: 6 }]);
    expect(chunkRanges(8, 8)).toEqual([{ start: 0, end: 7 }]);
    expect(chunkRanges(9, 8)).toEqual([
      { start: 0, end: 7 },
      { start: 8, end: 8 },
    ]);
    expect(chunkRanges(16, 8)).toEqual([
      { start: 0, end: 7 },
      { start: 8, end: 15 },
    ]);
    expect(chunkRanges(17, 8)).toEqual([
      { start: 0, end: 7 },
      { start: 8, end: 15 },
      { start: 16, end: 16 },
    ]);
    expect(chunkRanges(3, 1)).toEqual([
      { start: 0, end: 0 },
      { start: 1, end: 1 },
      { start: 2, end: 2 },
    ]);
  });

  it('handles 8 MiB chunks of sizes beyond 4 GiB exactly', () => {
    const chunk = 8 * 1024 * 1024;
    const total = 5 * 1024 ** 3 + 123;
    const ranges = chunkRanges(total, chunk);
    expect(ranges).toHaveLength(641);
    expect(ranges[0]).toEqual({ start: 0, end: chunk - 1 });
    expect(ranges[640]).toEqual({ start: 640 * chunk, end: total - 1 });
    let expected = 0;
    for (const r of ranges) {
      expect(r.start).toBe(expected);
      expected = r.end + 1;
    }
    expect(expected).toBe(total);
    expect(chunkRanges(2 * chunk, chunk)).toHaveLength(2);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects chunkSize %p', (chunkSize) => {
    try {
      chunkRanges(10, chunkSize);
      throw new Error('expected a throw');
    } catch (error) {
      expect((error as FerryError).code).toBe('ERR_FERRY_INVALID_OPTION');
      expect((error as FerryError).message).toContain(`'chunkSize'`);
      expect((error as FerryError).message).toContain(String(chunkSize));
    }
  });

  it.each([-1, 1.5, Number.NaN])('rejects total %p', (total) => {
    expect(() => chunkRanges(total, 8)).toThrow(/non-negative integer/);
  });
});

describe('contentRange', () => {
  it('formats inclusive ranges, including the empty file', () => {
    expect(contentRange(0, 9, 10)).toBe('bytes 0-9/10');
    expect(contentRange(8388608, 16777215, 20000000)).toBe('bytes 8388608-16777215/20000000');
    expect(contentRange(0, -1, 0)).toBe('bytes 0--1/0');
    expect(contentRange(5 * 1024 ** 3, 5 * 1024 ** 3 + 9, 5 * 1024 ** 3 + 10)).toBe(
      'bytes 5368709120-5368709129/5368709130',
    );
  });

  it('matches chunkRanges for a whole file', () => {
    expect(chunkRanges(0, 4).map((r) => contentRange(r.start, r.end, 0))).toEqual(['bytes 0--1/0']);
    expect(chunkRanges(10, 4).map((r) => contentRange(r.start, r.end, 10))).toEqual([
      'bytes 0-3/10',
      'bytes 4-7/10',
      'bytes 8-9/10',
    ]);
  });
});

/** One chunk through a ChunkReader, the way the legacy upload reads them. */
async function readChunk(file: string, start: number, length: number): Promise<Buffer> {
  const reader = new ChunkReader(file);
  try {
    return await reader.read(start, length);
  } finally {
    await reader.close();
  }
}

describe('ChunkReader', () => {
  it('reads exact ranges', async () => {
    const content = randomBytes(100_000);
    const p = await file('data.bin', content);
    expectSameBytes(await readChunk(p, 0, 10), content.subarray(0, 10));
    expectSameBytes(await readChunk(p, 99_990, 10), content.subarray(99_990));
    expectSameBytes(await readChunk(p, 0, 100_000), content);
    expectSameBytes(await readChunk(p, 500, 0), Buffer.alloc(0));
  });

  it('reads back a gzip temp payload chunk by chunk', async () => {
    const content = text(500_000);
    const payload = await preparePayload(await file('t.txt', content), { tempDir });
    if (payload.kind !== 'file') throw new Error('expected a file payload');
    const parts: Buffer[] = [];
    for (const r of chunkRanges(payload.size, 4096))
      parts.push(await readChunk(payload.path, r.start, r.end - r.start + 1));
    expectSameBytes(gunzipSync(Buffer.concat(parts)), content);
    expectSameBytes(Buffer.concat(parts), await readFile(payload.path));
    await payload.cleanup();
  });

  it('fails on a short read as SOURCE_CHANGED, naming the file', async () => {
    const p = await file('short.bin', randomBytes(100));
    const error = await ferryError(readChunk(p, 90, 20));
    expect(error.code).toBe('ERR_FERRY_SOURCE_CHANGED');
    expect(error.message).toContain(p);
    expect(error.message).toContain('ended after 100 bytes');
  });

  it('fails on a missing file as SOURCE_UNREADABLE', async () => {
    const error = await ferryError(readChunk(path.join(dir, 'missing'), 0, 1));
    expect(error.code).toBe('ERR_FERRY_SOURCE_UNREADABLE');
  });

  it('rejects negative or fractional offsets', async () => {
    const p = await file('x', 'abc');
    expect((await ferryError(readChunk(p, -1, 1))).code).toBe('ERR_FERRY_INVALID_OPTION');
    expect((await ferryError(readChunk(p, 0, 1.5))).code).toBe('ERR_FERRY_INVALID_OPTION');
  });
});
