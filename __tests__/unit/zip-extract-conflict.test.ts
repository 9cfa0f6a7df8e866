import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { isFerryError, type FerryError } from '../../src/core/errors.js';
import { extractZip } from '../../src/pack/zip/index.js';
import { buildZip, type ZipSpecEntry } from '../helpers/zip-builder.js';

/**
 * The `existing` policy of extractZip for files already in the target (download into a
 * non-empty directory, merge-multiple; reliability plan test 43): 'error' fails only for
 * differing content, found in the checking pass before anything is written.
 */

let base: string;
let target: string;
let counter = 0;

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'ferry-conflict-'));
  target = path.join(base, 'target');
  await mkdir(target);
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

async function zipFile(entries: readonly ZipSpecEntry[]): Promise<string> {
  const file = path.join(base, `archive-${++counter}.zip`);
  await writeFile(file, buildZip(entries));
  return file;
}

/** Type, inode, mtime and content hash of everything under `root`. */
async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const abs = path.join(dir, name);
      const rel = path.relative(root, abs);
      const st = await lstat(abs);
      if (st.isSymbolicLink()) out[rel] = `link:${await readlink(abs)}`;
      else if (st.isDirectory()) {
        out[rel] = 'dir';
        await walk(abs);
      } else {
        const hash = createHash('sha256')
          .update(await readFile(abs))
          .digest('hex');
        out[rel] = `file:${st.ino}:${st.mtimeMs}:${hash}`;
      }
    }
  };
  await walk(root);
  return out;
}

async function conflictOf(promise: Promise<unknown>): Promise<FerryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isFerryError(error)) throw new Error(`expected a FerryError, got ${String(error)}`);
  expect(error.code).toBe('ERR_FERRY_CONFLICT');
  return error;
}

/** Bytes with the same length and CRC-32 as `data` but different content (CRC-32 is linear). */
function crcTwin(data: Buffer): Buffer {
  const twin = Buffer.from(data);
  const poly = 0x1db710641n; // the CRC-32 generator polynomial, bit-reflected: a multiple of it changes no CRC
  for (let i = 0; i < 5; i++) twin[2 + i] = (twin[2 + i] as number) ^ Number((poly >> BigInt(8 * i)) & 0xffn);
  return twin;
}

describe("extractZip existing: 'error'", () => {
  it('accepts an existing file with identical bytes and leaves it exactly as it was', async () => {
    await writeFile(path.join(target, 'same.txt'), 'identical content');
    const before = await snapshot(target);
    const zip = await zipFile([
      { name: 'same.txt', data: 'identical content' },
      { name: 'new.txt', data: 'new' },
    ]);
    const result = await extractZip(zip, { targetDirectory: target, existing: 'error' });
    expect(result.files).toBe(1);
    const after = await snapshot(target);
    expect(after['same.txt']).toBe(before['same.txt']);
    expect(await readFile(path.join(target, 'new.txt'), 'utf8')).toBe('new');
  });

  it('fails for differing content of the same size, naming the file, the policy and the way out, and writes nothing', async () => {
    await writeFile(path.join(target, 'report.txt'), 'AAAA');
    const before = await snapshot(target);
    const zip = await zipFile([
      { name: 'a-first.txt', data: 'would be written first' },
      { name: 'report.txt', data: 'BBBB' },
    ]);
    const error = await conflictOf(extractZip(zip, { targetDirectory: target, existing: 'error' }));
    expect(error.message).toMatch(/'report\.txt' already exists .*different content/);
    expect(error.message).toMatch(/policy is 'error'/);
    expect(error.message).toMatch(/'overwrite'.*'skip'/);
    expect(await snapshot(target)).toEqual(before);
  });

  it('fails for a different size without reading the data', async () => {
    await writeFile(path.join(target, 'x.bin'), 'short');
    const zip = await zipFile([{ name: 'x.bin', data: 'much longer content' }]);
    await conflictOf(extractZip(zip, { targetDirectory: target, existing: 'error' }));
    expect(await readFile(path.join(target, 'x.bin'), 'utf8')).toBe('short');
  });

  it('confirms with SHA-256: same size and CRC-32 but different bytes is a conflict', async () => {
    const original = Buffer.from('the quick brown fox jumps over the lazy dog');
    const twin = crcTwin(original);
    expect(twin.equals(original)).toBe(false);
    expect(crc32(twin)).toBe(crc32(original));
    await writeFile(path.join(target, 'fox.txt'), twin);
    const zip = await zipFile([{ name: 'fox.txt', data: original, method: 0 }]);
    await conflictOf(extractZip(zip, { targetDirectory: target, existing: 'error' }));
    expect((await readFile(path.join(target, 'fox.txt'))).equals(twin)).toBe(true);
  });

  it('compares large (streamed) entries too: identical passes, one flipped byte fails', async () => {
    const big = Buffer.concat([randomBytes(1024 * 1024), Buffer.alloc(1024 * 1024, 7)]);
    await mkdir(path.join(target, 'deep', 'er'), { recursive: true });
    await writeFile(path.join(target, 'deep', 'er', 'big.bin'), big);
    const zip = await zipFile([{ name: 'deep/er/big.bin', data: big }]);
    await expect(extractZip(zip, { targetDirectory: target, existing: 'error' })).resolves.toMatchObject({
      files: 0,
    });
    const flipped = Buffer.from(big);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1;
    await writeFile(path.join(target, 'deep', 'er', 'big.bin'), flipped);
    await conflictOf(extractZip(zip, { targetDirectory: target, existing: 'error' }));
    expect((await readFile(path.join(target, 'deep', 'er', 'big.bin'))).equals(flipped)).toBe(true);
  });

  it('never reads through an existing symlink to compare: it is a conflict even if the link target is identical', async () => {
    const outside = path.join(base, 'outside.txt');
    await writeFile(outside, 'same bytes');
    await symlink(outside, path.join(target, 'linked.txt'));
    const zip = await zipFile([{ name: 'linked.txt', data: 'same bytes' }]);
    await conflictOf(extractZip(zip, { targetDirectory: target, existing: 'error' }));
    expect((await lstat(path.join(target, 'linked.txt'))).isSymbolicLink()).toBe(true);
    expect(await readFile(outside, 'utf8')).toBe('same bytes');
  });

  it('reports a directory where a file goes under every policy', async () => {
    await mkdir(path.join(target, 'dir.txt'));
    const zip = await zipFile([{ name: 'dir.txt', data: 'x' }]);
    for (const existing of ['error', 'skip', 'overwrite'] as const) {
      await conflictOf(extractZip(zip, { targetDirectory: target, existing }));
    }
    expect((await stat(path.join(target, 'dir.txt'))).isDirectory()).toBe(true);
  });

  it('a file that appears after the check (another writer) is compared again, and never replaced', async () => {
    const zip = await zipFile([{ name: 'late.txt', data: 'from the archive' }]);
    // onEntry runs after staging, before the move: the other writer gets there first.
    const differing = extractZip(zip, {
      targetDirectory: target,
      existing: 'error',
      onEntry: () => writeFileSync(path.join(target, 'late.txt'), 'from another writer'),
    });
    await conflictOf(differing);
    expect(await readFile(path.join(target, 'late.txt'), 'utf8')).toBe('from another writer');

    await rm(path.join(target, 'late.txt'));
    await expect(
      extractZip(zip, {
        targetDirectory: target,
        existing: 'error',
        onEntry: () => writeFileSync(path.join(target, 'late.txt'), 'from the archive'),
      }),
    ).resolves.toMatchObject({ files: 0 });

    await rm(path.join(target, 'late.txt'));
    await extractZip(zip, {
      targetDirectory: target,
      existing: 'skip',
      onEntry: () => writeFileSync(path.join(target, 'late.txt'), 'kept'),
    });
    expect(await readFile(path.join(target, 'late.txt'), 'utf8')).toBe('kept');
  });

  it('two extractions racing into one directory: exactly one wins a differing path, with its complete content', async () => {
    const big = (fill: number): Buffer => Buffer.alloc(3 * 1024 * 1024, fill);
    const one = await zipFile([
      { name: 'shared.bin', data: big(1), method: 0 },
      { name: 'only-one.txt', data: 'one' },
    ]);
    const two = await zipFile([
      { name: 'shared.bin', data: big(2), method: 0 },
      { name: 'only-two.txt', data: 'two' },
    ]);
    const results = await Promise.allSettled([
      extractZip(one, { targetDirectory: target, existing: 'error' }),
      extractZip(two, { targetDirectory: target, existing: 'error' }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]?.reason).toMatchObject({ code: 'ERR_FERRY_CONFLICT' });
    const winner = results[0]?.status === 'fulfilled' ? 1 : 2;
    expect((await readFile(path.join(target, 'shared.bin'))).equals(big(winner))).toBe(true);
    // No staging leftovers from either writer.
    expect((await readdir(target)).filter((n) => n.startsWith('.ferry-'))).toEqual([]);
  });
});

describe("extractZip existing: 'skip' and 'overwrite'", () => {
  it("'skip' keeps a differing file and writes the rest; 'overwrite' replaces it", async () => {
    await writeFile(path.join(target, 'keep.txt'), 'mine');
    const zip = await zipFile([
      { name: 'keep.txt', data: 'theirs' },
      { name: 'other.txt', data: 'other' },
    ]);
    const skipped = await extractZip(zip, { targetDirectory: target, existing: 'skip' });
    expect(skipped.files).toBe(1);
    expect(await readFile(path.join(target, 'keep.txt'), 'utf8')).toBe('mine');
    expect(await readFile(path.join(target, 'other.txt'), 'utf8')).toBe('other');
    const overwritten = await extractZip(zip, { targetDirectory: target, existing: 'overwrite' });
    expect(overwritten.files).toBe(2);
    expect(await readFile(path.join(target, 'keep.txt'), 'utf8')).toBe('theirs');
  });

  it('rejects an unknown policy', async () => {
    const zip = await zipFile([{ name: 'a.txt', data: 'a' }]);
    await expect(
      extractZip(zip, { targetDirectory: target, existing: 'merge' as never }),
    ).rejects.toMatchObject({ code: 'ERR_FERRY_INVALID_OPTION' });
  });
});
