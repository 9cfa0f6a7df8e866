import { randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isFerryError } from '../../src/core/errors.js';
import {
  SMALL_FILE_BYTES,
  gunzipSmallSync,
  isSmallFile,
  writeSmallFileSync,
} from '../../src/pack/small-files.js';
import { extractZip } from '../../src/pack/zip/index.js';
import { gzipSync } from 'node:zlib';
import { buildZip, type ZipSpecEntry } from '../helpers/zip-builder.js';

// The synchronous small-file path (issue 12 item 1): entries up to SMALL_FILE_BYTES are read,
// inflated, verified and written on the main thread. The same guarantees as the streamed path.

let base: string;
let target: string;

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'ferry-small-'));
  target = path.join(base, 'target');
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

async function zipOf(entries: readonly ZipSpecEntry[]): Promise<string> {
  const file = path.join(base, `a-${randomBytes(4).toString('hex')}.zip`);
  await writeFile(file, buildZip(entries));
  return file;
}

async function codeOf(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (!isFerryError(error)) throw error;
    return { code: error.code, message: error.message };
  }
  throw new Error('expected a Ferry error');
}

async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const d of await readdir(dir, { withFileTypes: true })) {
      const rel = path.relative(root, path.join(dir, d.name));
      out.push(d.isDirectory() ? `${rel}/` : rel);
      if (d.isDirectory()) await walk(path.join(dir, d.name));
    }
  };
  await walk(root);
  return out.sort();
}

describe('small-files helpers', () => {
  it('takes the synchronous path only when both sizes are known and within the threshold', () => {
    expect(isSmallFile(SMALL_FILE_BYTES, SMALL_FILE_BYTES)).toBe(true);
    expect(isSmallFile(SMALL_FILE_BYTES + 1, 10)).toBe(false);
    expect(isSmallFile(10, SMALL_FILE_BYTES + 1)).toBe(false);
    expect(isSmallFile(undefined, 10)).toBe(false);
    expect(isSmallFile(10, undefined)).toBe(false);
  });

  it('gunzips within the bound, and returns undefined past it without inflating the rest', () => {
    const body = gzipSync(Buffer.alloc(50_000, 7));
    expect(gunzipSmallSync(body, 50_000)?.length).toBe(50_000);
    expect(gunzipSmallSync(body, 49_999)).toBeUndefined();
    expect(() => gunzipSmallSync(body.subarray(0, body.length - 9), 50_000)).toThrow(
      expect.objectContaining({ code: expect.stringMatching(/^Z_/) }) as Error,
    );
  });

  it('creates the file exclusively with the mode under the umask, never through a link', async () => {
    const file = path.join(base, 'f');
    writeSmallFileSync(file, Buffer.from('abc'), { mode: 0o640 });
    expect(await readFile(file, 'utf8')).toBe('abc');
    expect((await stat(file)).mode & 0o777).toBe(0o640 & ~process.umask());
    const victim = path.join(base, 'victim');
    await writeFile(victim, 'untouched');
    await symlink(victim, path.join(base, 'link'));
    expect(() => writeSmallFileSync(path.join(base, 'link'), Buffer.from('x'))).toThrow(
      expect.objectContaining({ code: 'EEXIST' }) as Error,
    );
    expect(await readFile(victim, 'utf8')).toBe('untouched');
    writeSmallFileSync(file, Buffer.from('z'), { replace: true });
    expect(await readFile(file, 'utf8')).toBe('z');
  });
});

describe('extractZip: small entries on the synchronous path', () => {
  it('extracts small and large entries side by side, byte for byte, with their modes', async () => {
    const large = randomBytes(SMALL_FILE_BYTES * 3);
    const edge = randomBytes(SMALL_FILE_BYTES).fill(1, 0, SMALL_FILE_BYTES / 2);
    const entries: ZipSpecEntry[] = [
      { name: 'big/large.bin', data: large, method: 0 },
      { name: 'edge/at-threshold.bin', data: edge, method: 0, mode: 0o600 },
      { name: 'edge/one-over.bin', data: Buffer.concat([edge, Buffer.from('!')]), method: 0 },
    ];
    for (let i = 0; i < 300; i++) {
      entries.push({
        name: `d${i % 7}/sub${i % 3}/f${i}.txt`,
        data: `file ${i}\n`.repeat(i % 5),
        mode: 0o751,
      });
    }
    const result = await extractZip(await zipOf(entries), { targetDirectory: target });
    expect(result.files).toBe(303);
    expect(await readFile(path.join(target, 'big/large.bin'))).toEqual(large);
    expect(await readFile(path.join(target, 'edge/at-threshold.bin'))).toEqual(edge);
    expect((await readFile(path.join(target, 'edge/one-over.bin'))).length).toBe(SMALL_FILE_BYTES + 1);
    expect((await stat(path.join(target, 'edge/at-threshold.bin'))).mode & 0o777).toBe(
      0o600 & ~process.umask(),
    );
    for (const i of [0, 1, 4, 299]) {
      const file = path.join(target, `d${i % 7}/sub${i % 3}/f${i}.txt`);
      expect(await readFile(file, 'utf8')).toBe(`file ${i}\n`.repeat(i % 5));
      expect((await stat(file)).mode & 0o777).toBe(0o751 & ~process.umask());
    }
    // 7 × 3 sub-directories, 7 parents, big/ and edge/; nothing else (no staging left).
    const dirs = (await tree(target)).filter((p) => p.endsWith('/'));
    expect(dirs).toHaveLength(7 + 21 + 2);
    expect(result.directories).toBe(30);
  });

  it.each([
    ['stored', 0],
    ['deflated', 8],
  ])('rejects a small %s entry whose CRC-32 is wrong, naming it, and leaves no trace', async (_l, method) => {
    const zip = await zipOf([
      { name: 'fine.txt', data: 'fine' },
      { name: 'dir/corrupt.txt', data: 'x'.repeat(5000), method, crc32: 0x12345678 },
    ]);
    const error = await codeOf(extractZip(zip, { targetDirectory: target }));
    expect(error.code).toBe('ERR_FERRY_INTEGRITY');
    expect(error.message).toMatch(/CRC-32 mismatch in entry 'dir\/corrupt\.txt'/);
    await expect(lstat(target)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('stops a small entry that inflates beyond its declared size at the declared size plus one', async () => {
    // 60 KiB of zeros deflate to a few hundred bytes: small on both counts as declared (100 bytes).
    const zip = await zipOf([{ name: 'liar.bin', data: Buffer.alloc(60 * 1024), uncompressedSize: 100 }]);
    const error = await codeOf(extractZip(zip, { targetDirectory: target }));
    expect(error.code).toBe('ERR_FERRY_INTEGRITY');
    expect(error.message).toMatch(/entry 'liar\.bin' inflates beyond its declared size of 100 bytes/);
  });

  it('rejects a small entry whose compressed bytes are garbage, naming it', async () => {
    const zip = await zipOf([
      { name: 'junk.bin', method: 8, data: 'y'.repeat(100), compressed: randomBytes(80) },
    ]);
    const error = await codeOf(extractZip(zip, { targetDirectory: target }));
    expect(error.code).toBe('ERR_FERRY_INTEGRITY');
    expect(error.message).toMatch(/junk\.bin/);
  });

  describe('conflict policy', () => {
    const entries: ZipSpecEntry[] = [
      { name: 'same.txt', data: 'same' },
      { name: 'changed.txt', data: 'new' },
      { name: 'fresh.txt', data: 'fresh' },
    ];
    beforeEach(async () => {
      await mkdir(target);
      await writeFile(path.join(target, 'same.txt'), 'same');
      await writeFile(path.join(target, 'changed.txt'), 'old');
    });

    it("'error' fails on a different file before writing anything; identical bytes are fine", async () => {
      const error = await codeOf(
        extractZip(await zipOf(entries), { targetDirectory: target, existing: 'error' }),
      );
      expect(error.code).toBe('ERR_FERRY_CONFLICT');
      expect(error.message).toMatch(/changed\.txt/);
      expect(await tree(target)).toEqual(['changed.txt', 'same.txt']);
      await writeFile(path.join(target, 'changed.txt'), 'new');
      const result = await extractZip(await zipOf(entries), { targetDirectory: target, existing: 'error' });
      expect(result.files).toBe(1);
      expect(await readFile(path.join(target, 'fresh.txt'), 'utf8')).toBe('fresh');
    });

    it("'skip' keeps existing files and adds the new one", async () => {
      const result = await extractZip(await zipOf(entries), { targetDirectory: target, existing: 'skip' });
      expect(result.files).toBe(1);
      expect(await readFile(path.join(target, 'changed.txt'), 'utf8')).toBe('old');
      expect(await readFile(path.join(target, 'fresh.txt'), 'utf8')).toBe('fresh');
    });

    it("'overwrite' replaces a symlink at the destination without writing through it", async () => {
      const victim = path.join(base, 'victim.txt');
      await writeFile(victim, 'outside');
      await symlink(victim, path.join(target, 'fresh.txt'));
      const result = await extractZip(await zipOf(entries), { targetDirectory: target });
      expect(result.files).toBe(3);
      expect(await readFile(path.join(target, 'changed.txt'), 'utf8')).toBe('new');
      expect((await lstat(path.join(target, 'fresh.txt'))).isFile()).toBe(true);
      expect(await readFile(victim, 'utf8')).toBe('outside');
    });
  });

  it('honours an abort signal between small entries and leaves the target as it was', async () => {
    const controller = new AbortController();
    const entries: ZipSpecEntry[] = Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, data: `${i}` }));
    let seen = 0;
    const error = await extractZip(await zipOf(entries), {
      targetDirectory: target,
      signal: controller.signal,
      onEntry: () => {
        if (++seen === 10) controller.abort();
      },
    }).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('ERR_FERRY_ABORTED');
    expect(seen).toBe(10);
    await expect(lstat(target)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
