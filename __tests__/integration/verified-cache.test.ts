/**
 * Issue 13: the verified local cache on real files, and shared by two real processes.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { openCache } from '../../src/cache/index.js';
import type { CacheHit } from '../../src/cache/index.js';
import { builtLibrary } from '../helpers/built-lib.js';

const execFileP = promisify(execFile);

/** Deterministic content of `size` bytes for seed `i`, and its digest. */
function content(i: number, size: number): { bytes: Buffer; digest: string } {
  const block = createHash('sha256').update(`content ${i}`).digest();
  const bytes = Buffer.alloc(size);
  for (let at = 0; at < size; at += block.length) block.copy(bytes, at);
  return { bytes, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` };
}

async function entryBytes(root: string): Promise<{ count: number; bytes: number }> {
  let bytes = 0;
  const names = await readdir(path.join(root, 'entries'));
  for (const name of names) bytes += (await stat(path.join(root, 'entries', name))).size;
  return { count: names.length, bytes };
}

async function readAll(hit: CacheHit): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of hit.stream()) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The library compiled from src/, for the child processes; compiling can take a minute on a busy machine. */
let library: string;
beforeAll(async () => {
  library = await builtLibrary();
}, 300_000);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-cache-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('verified cache', () => {
  test('an inserted entry is served verified, from a file or a stream source', async () => {
    const cache = await openCache({ path: dir, maxBytes: 1 << 20 });
    const a = content(1, 5000);
    const b = content(2, 7000);
    const source = path.join(dir, 'a.zip');
    await writeFile(source, a.bytes);
    expect(await cache.insert(a.digest, a.bytes.length, source)).toBe('inserted');
    expect(
      await cache.insert(
        b.digest,
        b.bytes.length,
        Readable.from([b.bytes.subarray(0, 10), b.bytes.subarray(10)]),
      ),
    ).toBe('inserted');
    expect(await cache.insert(a.digest, a.bytes.length, source)).toBe('present');

    const hit = await cache.lookup(a.digest, a.bytes.length);
    expect(hit).toBeDefined();
    expect((await readAll(hit!)).equals(a.bytes)).toBe(true);
    // A second stream from the same handle starts at byte 0 again.
    expect((await readAll(hit!)).equals(a.bytes)).toBe(true);
    await hit!.close();
    await hit!.close();
    expect(await cache.lookup(content(3, 10).digest, 10)).toBeUndefined();
    expect(cache.stats()).toEqual({
      hits: 1,
      misses: 1,
      bytesServed: 5000,
      inserts: 2,
      evictions: 0,
      corruptDropped: 0,
    });
    expect(await readdir(path.join(dir, 'tmp'))).toEqual([]);
  });

  test('a source whose bytes do not match the digest or the size is refused and nothing is kept', async () => {
    const cache = await openCache({ path: dir, maxBytes: 1 << 20 });
    const a = content(1, 5000);
    const other = content(2, 5000);
    await expect(cache.insert(a.digest, 5000, Readable.from([other.bytes]))).rejects.toMatchObject({
      code: 'ERR_FERRY_INTEGRITY',
      message: expect.stringContaining('sha256 differs') as unknown,
    });
    await expect(cache.insert(a.digest, 4000, Readable.from([a.bytes]))).rejects.toMatchObject({
      code: 'ERR_FERRY_INTEGRITY',
      message: expect.stringContaining('more than the declared 4000 bytes') as unknown,
    });
    await expect(cache.insert(a.digest, 6000, Readable.from([a.bytes]))).rejects.toMatchObject({
      code: 'ERR_FERRY_INTEGRITY',
    });
    await expect(cache.insert('md5:abc', 1, Readable.from([a.bytes]))).rejects.toMatchObject({
      code: 'ERR_FERRY_INVALID_OPTION',
    });
    expect(await readdir(path.join(dir, 'entries'))).toEqual([]);
    expect(await readdir(path.join(dir, 'tmp'))).toEqual([]);
  });

  test('a corrupted entry (bytes flipped, or truncated) is detected, dropped, and can be inserted again', async () => {
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} };
    const cache = await openCache({ path: dir, maxBytes: 1 << 20, logger });
    const a = content(1, 5000);
    const b = content(2, 5000);
    await cache.insert(a.digest, 5000, Readable.from([a.bytes]));
    await cache.insert(b.digest, 5000, Readable.from([b.bytes]));
    const fileA = path.join(dir, 'entries', a.digest.slice(7));
    const fileB = path.join(dir, 'entries', b.digest.slice(7));
    // One byte changed in place, same size: only the sha256 shows it.
    const handle = await open(fileA, 'r+');
    await handle.write(Buffer.from([a.bytes[4000]! ^ 0xff]), 0, 1, 4000);
    await handle.close();
    await writeFile(fileB, b.bytes.subarray(0, 4999));

    expect(await cache.lookup(a.digest, 5000)).toBeUndefined();
    expect(await cache.lookup(b.digest, 5000)).toBeUndefined();
    expect(await readdir(path.join(dir, 'entries'))).toEqual([]);
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 2, corruptDropped: 2 });
    expect(warnings.join('\n')).toMatch(/sha256 differs/);
    expect(warnings.join('\n')).toMatch(/4999 bytes, expected 5000/);

    // The download fetches it again and inserts it; then it is a verified hit.
    expect(await cache.insert(a.digest, 5000, Readable.from([a.bytes]))).toBe('inserted');
    const hit = await cache.lookup(a.digest, 5000);
    expect((await readAll(hit!)).equals(a.bytes)).toBe(true);
    await hit!.close();
  });

  test('a burst of inserts never leaves more than maxBytes, and eviction runs only now and then', async () => {
    const maxBytes = 100_000;
    const cache = await openCache({ path: dir, maxBytes, lowWaterBytes: 50_000 });
    let evictionRuns = 0;
    for (let i = 0; i < 40; i++) {
      const c = content(i, 9_000 + (i % 5) * 1000);
      const before = cache.stats().evictions;
      await cache.insert(c.digest, c.bytes.length, Readable.from([c.bytes]));
      if (cache.stats().evictions > before) evictionRuns++;
      expect((await entryBytes(dir)).bytes).toBeLessThanOrEqual(maxBytes);
    }
    // Each run frees about 50 KB, i.e. about five inserts' worth.
    expect(evictionRuns).toBeGreaterThan(3);
    expect(evictionRuns).toBeLessThan(12);

    // Concurrent inserts in one process: the bound holds once they have all returned.
    await Promise.all(
      Array.from({ length: 30 }, (_, k) => {
        const c = content(100 + k, 11_000);
        return cache.insert(c.digest, c.bytes.length, Readable.from([c.bytes]));
      }),
    );
    expect((await entryBytes(dir)).bytes).toBeLessThanOrEqual(maxBytes);
    // An entry bigger than the whole cache is not kept.
    const huge = content(999, maxBytes + 1);
    expect(await cache.insert(huge.digest, huge.bytes.length, Readable.from([huge.bytes]))).toBe('too-large');
  });

  test('least recently used goes first: a looked-up entry outlives older inserts', async () => {
    const cache = await openCache({ path: dir, maxBytes: 50_000, lowWaterBytes: 30_000 });
    const items = Array.from({ length: 5 }, (_, i) => content(i, 10_000));
    for (const [i, c] of items.entries()) {
      await cache.insert(c.digest, c.bytes.length, Readable.from([c.bytes]));
      // Distinct last-use times, whatever the file system's timestamp granularity.
      const past = new Date(Date.now() - (10 - i) * 1000);
      await utimes(path.join(dir, 'entries', c.digest.slice(7)), past, past);
    }
    const touched = await cache.lookup(items[0]!.digest, 10_000);
    await touched!.close();
    const next = content(10, 10_000);
    await cache.insert(next.digest, 10_000, Readable.from([next.bytes]));
    // 60 KB > 50 KB: down to 30 KB, keeping the newest insert and the entry just used.
    const left = (await readdir(path.join(dir, 'entries'))).sort();
    expect(left).toEqual([items[0]!.digest.slice(7), items[4]!.digest.slice(7), next.digest.slice(7)].sort());
    expect(cache.stats().evictions).toBe(3);
  });

  test('entries unused for longer than maxAgeSeconds are a miss and are swept; maxEntries bounds the count', async () => {
    const cache = await openCache({ path: dir, maxBytes: 1 << 20, maxAgeSeconds: 60, maxEntries: 5 });
    const old = content(1, 100);
    const older = content(2, 100);
    for (const c of [old, older]) {
      await cache.insert(c.digest, 100, Readable.from([c.bytes]));
      const past = new Date(Date.now() - 120_000);
      await utimes(path.join(dir, 'entries', c.digest.slice(7)), past, past);
    }
    expect(await cache.lookup(old.digest, 100)).toBeUndefined();
    // Inserting what is already there counts as a use: that entry is young again.
    const again = content(3, 100);
    await cache.insert(again.digest, 100, Readable.from([again.bytes]));
    let past = new Date(Date.now() - 120_000);
    await utimes(path.join(dir, 'entries', again.digest.slice(7)), past, past);
    expect(await cache.insert(again.digest, 100, Readable.from([again.bytes]))).toBe('present');
    await cache.sweep();
    expect(await readdir(path.join(dir, 'entries'))).toEqual([again.digest.slice(7)]);
    past = new Date(Date.now() - 120_000);
    await utimes(path.join(dir, 'entries', again.digest.slice(7)), past, past);
    await cache.sweep();
    expect(await readdir(path.join(dir, 'entries'))).toEqual([]);
    expect(cache.stats()).toMatchObject({ misses: 1, evictions: 3, corruptDropped: 0 });

    for (let i = 10; i < 16; i++) {
      const c = content(i, 100);
      await cache.insert(c.digest, 100, Readable.from([c.bytes]));
      expect((await entryBytes(dir)).count).toBeLessThanOrEqual(5);
    }
    // Six inserts over a limit of five: eviction brought the count down to 80% (4).
    expect((await entryBytes(dir)).count).toBe(4);
  });

  test('a reader keeps reading its entry while it is evicted, or replaced by a concurrent insert', async () => {
    const cache = await openCache({ path: dir, maxBytes: 20_000, lowWaterBytes: 10_000 });
    const a = content(1, 10_000);
    await cache.insert(a.digest, a.bytes.length, Readable.from([a.bytes]));
    const hit = await cache.lookup(a.digest, a.bytes.length);
    // Same digest inserted again by "another process": a new file renamed over the path.
    await rm(path.join(dir, 'entries', a.digest.slice(7)));
    await cache.insert(a.digest, a.bytes.length, Readable.from([a.bytes]));
    // Then evicted by a burst of newer entries.
    for (let i = 2; i < 6; i++) {
      const c = content(i, 10_000);
      await cache.insert(c.digest, 10_000, Readable.from([c.bytes]));
    }
    await expect(stat(path.join(dir, 'entries', a.digest.slice(7)))).rejects.toMatchObject({
      code: 'ENOENT',
    });
    expect((await readAll(hit!)).equals(a.bytes)).toBe(true);
    await hit!.close();
  });

  test('concurrent inserts of one digest are harmless', async () => {
    const cache = await openCache({ path: dir, maxBytes: 1 << 20 });
    const a = content(1, 200_000);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => cache.insert(a.digest, a.bytes.length, Readable.from([a.bytes]))),
    );
    expect(results.every((r) => r === 'inserted' || r === 'present')).toBe(true);
    const hit = await cache.lookup(a.digest, a.bytes.length);
    expect((await readAll(hit!)).equals(a.bytes)).toBe(true);
    await hit!.close();
    expect(await readdir(path.join(dir, 'entries'))).toHaveLength(1);
    expect(await readdir(path.join(dir, 'tmp'))).toEqual([]);
  });

  test('a cache directory emptied by hand while in use keeps working', async () => {
    const cache = await openCache({ path: dir, maxBytes: 1 << 20 });
    const a = content(1, 1000);
    await cache.insert(a.digest, 1000, Readable.from([a.bytes]));
    await rm(path.join(dir, 'entries'), { recursive: true });
    await rm(path.join(dir, 'tmp'), { recursive: true });
    expect(await cache.lookup(a.digest, 1000)).toBeUndefined();
    expect(await cache.insert(a.digest, 1000, Readable.from([a.bytes]))).toBe('inserted');
    const hit = await cache.lookup(a.digest, 1000);
    expect((await readAll(hit!)).equals(a.bytes)).toBe(true);
    await hit!.close();
  });

  test('invalid options are refused naming the option', async () => {
    await expect(openCache({ path: dir, maxBytes: 0 })).rejects.toMatchObject({
      code: 'ERR_FERRY_INVALID_OPTION',
      message: expect.stringContaining("'cache.maxBytes'") as unknown,
    });
    await expect(openCache({ path: dir, maxBytes: 10, lowWaterBytes: 11 })).rejects.toMatchObject({
      message: expect.stringContaining("'cache.lowWaterBytes'") as unknown,
    });
  });
});

/** Run by each child: a mix of lookups and inserts over a shared pool, under constant eviction. */
const CHILD = `
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
const [lib, root, seed] = process.argv.slice(1);
const { openCache } = await import(lib);
function content(i, size) {
  const block = createHash('sha256').update('content ' + i).digest();
  const bytes = Buffer.alloc(size);
  for (let at = 0; at < size; at += block.length) block.copy(bytes, at);
  return { bytes, digest: 'sha256:' + createHash('sha256').update(bytes).digest('hex') };
}
const cache = await openCache({ path: root, maxBytes: 200000, lowWaterBytes: 120000 });
let badReads = 0;
for (let n = 0; n < 80; n++) {
  // Every other lookup is of one hot entry (always a hit once in: 3-4 inserts between uses stay
  // under the low-water mark); the rest cycle over 13 cold ones, more than the cache holds.
  const i = n % 2 === 0 ? 0 : 1 + ((n * 5 + Number(seed) * 3) % 13);
  const c = content(i, 20000 + i * 1000);
  const hit = await cache.lookup(c.digest, c.bytes.length);
  if (hit) {
    const chunks = [];
    // Slow readers, so that evictions by the other process land while a handle is open.
    for await (const chunk of hit.stream()) { chunks.push(chunk); await new Promise((r) => setImmediate(r)); }
    if (!Buffer.concat(chunks).equals(c.bytes)) badReads++;
    await hit.close();
  } else {
    await cache.insert(c.digest, c.bytes.length, Readable.from([c.bytes.subarray(0, 7000), c.bytes.subarray(7000)]));
  }
}
process.stdout.write(JSON.stringify({ ...cache.stats(), badReads }));
`;

test('two processes share one cache directory: inserts, lookups and evictions at once', async () => {
  const lib = path.join(path.dirname(library), 'cache', 'index.js');
  const run = (seed: number) =>
    execFileP(process.execPath, ['--input-type=module', '-e', CHILD, lib, dir, String(seed)], {
      maxBuffer: 1 << 20,
    });
  const [one, two] = await Promise.all([run(1), run(2)]);
  let evictions = 0;
  for (const out of [one, two]) {
    const stats = JSON.parse(out.stdout) as Record<string, number>;
    evictions += stats.evictions!;
    expect(stats.badReads).toBe(0);
    expect(stats.corruptDropped).toBe(0);
    expect(stats.hits! + stats.misses!).toBe(80);
    expect(stats.hits).toBeGreaterThanOrEqual(35);
  }
  // 14 contents of 20-33 KB against a 200 KB cache: entries were evicted under both processes.
  expect(evictions).toBeGreaterThan(0);
  expect((await entryBytes(dir)).bytes).toBeLessThanOrEqual(200_000);
  expect(await readdir(path.join(dir, 'tmp'))).toEqual([]);
  // Every entry left is whole and matches its name.
  for (const name of await readdir(path.join(dir, 'entries'))) {
    const bytes = await readFile(path.join(dir, 'entries', name));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(name);
  }
});
