import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { GZIP_PIECE_SIZE, gzipFileParallel } from '../../src/pack/parallel-gzip.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-pgzip-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function logText(bytes: number): Buffer {
  let text = '';
  for (let i = 0; text.length < bytes; i++)
    text += `2026-01-01T00:00:00Z INFO request ${i} took ${i % 97} ms\n`;
  return Buffer.from(text.slice(0, bytes));
}

async function gzipViaFile(
  data: Buffer,
  name: string,
  concurrency: number,
): Promise<{ out: Buffer; read: number }> {
  const source = path.join(dir, `${name}.src`);
  const target = path.join(dir, `${name}.gz`);
  await writeFile(source, data);
  const handle = await open(source, 'r');
  try {
    const result = await gzipFileParallel(handle, data.length, target, 6, { concurrency });
    const out = await readFile(target);
    expect(result.bytesWritten).toBe(out.length);
    return { out, read: result.bytesRead };
  } finally {
    await handle.close();
  }
}

describe('gzipFileParallel', () => {
  it.each([
    ['one byte', 1],
    ['exactly one piece', GZIP_PIECE_SIZE],
    ['one piece and a byte', GZIP_PIECE_SIZE + 1],
    ['several pieces', 3 * GZIP_PIECE_SIZE + 12345],
  ])('%s: a standard gzip member that gunzips to the input', async (label, size) => {
    const data = logText(size);
    const { out, read } = await gzipViaFile(data, label.replace(/\W/g, '-'), 2);
    expect(read).toBe(size);
    expect(out.subarray(0, 3)).toEqual(Buffer.from([0x1f, 0x8b, 0x08]));
    expect(gunzipSync(out).equals(data)).toBe(true);
  });

  it('compresses within 3 % of a single zlib stream at the same level', async () => {
    const data = logText(4 * GZIP_PIECE_SIZE);
    const { out } = await gzipViaFile(data, 'ratio', 2);
    expect(out.length).toBeLessThan(gzipSync(data, { level: 6 }).length * 1.03);
  });

  it('gives the same bytes whatever the concurrency', async () => {
    const data = Buffer.concat([logText(2 * GZIP_PIECE_SIZE), randomBytes(GZIP_PIECE_SIZE)]);
    const one = await gzipViaFile(data, 'c1', 1);
    const three = await gzipViaFile(data, 'c3', 3);
    expect(three.out.equals(one.out)).toBe(true);
  });

  it('reports a short read when the file shrank below the expected size', async () => {
    const data = logText(GZIP_PIECE_SIZE);
    const source = path.join(dir, 'shrunk.src');
    await writeFile(source, data);
    const handle = await open(source, 'r');
    try {
      const result = await gzipFileParallel(handle, data.length + 500, path.join(dir, 'shrunk.gz'), 6);
      expect(result.bytesRead).toBe(data.length);
    } finally {
      await handle.close();
    }
  });
});
