import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FastCache, type Expected } from '../../src/server/results/fast-slow/fast-cache.js';
import { fillTee } from '../../src/server/results/fast-slow/fill-tee.js';

// The miss path's tee into a real fast cache directory: batched, kept only when whole and
// matching, thrown away when the source fails or the client goes away.

let dir: string;
let cache: FastCache;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-fill-tee-'));
  cache = await FastCache.open(dir);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const KEY = '0123456789abcdef0123456789abcdef';
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** `blob` as the slow store's stream would give it: 16 KiB chunks. */
async function* chunks(blob: Buffer, failAt?: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < blob.length; at += 16 * 1024) {
    if (failAt !== undefined && at >= failAt) throw new Error('slow store failed');
    await Promise.resolve();
    yield blob.subarray(at, at + 16 * 1024);
  }
}

async function tmpFiles(): Promise<string[]> {
  return readdir(path.join(dir, 'fast-cache', 'tmp'));
}

it('sends ~batch-sized groups and keeps a whole, matching entry before the last batch goes out', async () => {
  const blob = randomBytes(300 * 1024 + 5);
  const expected: Expected = { size: blob.length, sha256: sha256(blob) };
  const batches: number[] = [];
  const sent: Buffer[] = [];
  for await (const batch of fillTee(chunks(blob), await cache.beginFill(KEY, expected), 64 * 1024)) {
    const bytes = batch.reduce((sum, chunk) => sum + chunk.length, 0);
    batches.push(bytes);
    sent.push(...batch);
    if (sent.reduce((sum, chunk) => sum + chunk.length, 0) === blob.length) {
      // The last batch: the entry is already there for the client's next request.
      expect(await cache.lookup(KEY, expected)).toBeDefined();
    }
  }
  expect(Buffer.concat(sent).equals(blob)).toBe(true);
  expect(batches.slice(0, -1).every((bytes) => bytes === 64 * 1024)).toBe(true);
  const file = await cache.lookup(KEY, expected);
  expect((await readFile(file!)).equals(blob)).toBe(true);
  expect(await tmpFiles()).toEqual([]);
});

it('drops the entry when the bytes do not match the recorded digest; the client still gets them', async () => {
  const blob = randomBytes(200 * 1024);
  const expected: Expected = { size: blob.length, sha256: sha256(Buffer.from('something else')) };
  const sent: Buffer[] = [];
  for await (const batch of fillTee(chunks(blob), await cache.beginFill(KEY, expected), 64 * 1024))
    sent.push(...batch);
  expect(Buffer.concat(sent).equals(blob)).toBe(true);
  expect(await cache.lookup(KEY, expected)).toBeUndefined();
  expect(await cache.lookup(KEY, { size: blob.length, sha256: sha256(blob) })).toBeUndefined();
  expect(cache.stats()).toEqual({ entries: 0, bytes: 0 });
  expect(await tmpFiles()).toEqual([]);
});

it('a client that goes away mid-download leaves no entry and no partial file', async () => {
  const blob = randomBytes(400 * 1024);
  const expected: Expected = { size: blob.length, sha256: sha256(blob) };
  let received = 0;
  for await (const batch of fillTee(chunks(blob), await cache.beginFill(KEY, expected), 64 * 1024)) {
    received += batch.reduce((sum, chunk) => sum + chunk.length, 0);
    if (received >= 128 * 1024) break; // what a closed response does to its body
  }
  expect(await cache.lookup(KEY, expected)).toBeUndefined();
  expect(await tmpFiles()).toEqual([]);
});

it('a slow store that fails mid-read cuts the answer and leaves no entry', async () => {
  const blob = randomBytes(400 * 1024);
  const expected: Expected = { size: blob.length, sha256: sha256(blob) };
  const tee = fillTee(chunks(blob, 200 * 1024), await cache.beginFill(KEY, expected), 64 * 1024);
  await expect(
    (async () => {
      for await (const batch of tee) void batch;
    })(),
  ).rejects.toThrow('slow store failed');
  expect(await cache.lookup(KEY, expected)).toBeUndefined();
  expect(await tmpFiles()).toEqual([]);
});
