import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { lstat, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isFerryError } from '../../src/core/errors.js';
import { HeldTarget } from '../../src/pack/held-target.js';
import { NotStreamableError, openStreamExtraction } from '../../src/pack/zip/stream-extract.js';
import type { ExtractOptions } from '../../src/pack/zip/index.js';
import { buildZip, type ZipSpecEntry, type ZipSpecOptions } from '../helpers/zip-builder.js';

let base: string;
let target: string;

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'ferry-stream-zip-'));
  target = path.join(base, 'target');
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

/**
 * Streams `zip` in chunks of `chunk` bytes, `perWrite` chunks handed over per write (as a
 * download hands over the socket reads gathered while the previous write was on the thread
 * pool), then materializes it.
 */
async function streamInto(
  zip: Buffer,
  chunk: number,
  options: Partial<ExtractOptions> = {},
  perWrite = 1,
): Promise<{ files: number; bytes: number }> {
  const extraction = await openStreamExtraction({ targetDirectory: target, ...options });
  try {
    for (let at = 0; at < zip.length; at += chunk * perWrite) {
      const chunks: Buffer[] = [];
      for (let k = 0; k < perWrite && at + k * chunk < zip.length; k++) {
        chunks.push(zip.subarray(at + k * chunk, at + (k + 1) * chunk));
      }
      await extraction.write(chunks);
    }
    expect(extraction.offset).toBe(zip.length);
    return await extraction.materialize();
  } finally {
    await extraction.dispose();
  }
}

const big = randomBytes(3 * 1024 * 1024);
const repetitive = Buffer.alloc(2 * 1024 * 1024, 'abcdefgh');

const entries: ZipSpecEntry[] = [
  { name: 'stored.bin', data: big, method: 0, mode: 0o644 },
  { name: 'dir/', directory: true, mode: 0o755 },
  { name: 'dir/deflated.txt', data: repetitive, dataDescriptor: true, mode: 0o600 },
  {
    name: 'dir/run.sh',
    data: '#!/bin/sh\necho hi\n',
    mode: 0o755,
    dataDescriptor: true,
    descriptorSignature: false,
  },
  { name: 'empty', data: '', method: 0 },
  { name: 'wide.bin', data: repetitive.subarray(0, 70_000), zip64: true, dataDescriptor: true },
];

test.each([997, 4096, 65_536, 1 << 20])(
  'stored, deflated, data descriptors (with and without signature) and zip64 stream in %i-byte chunks',
  async (chunk) => {
    const zip = buildZip(entries, chunk === 4096 ? { zip64Eocd: true } : {});
    const result = await streamInto(zip, chunk);
    expect(result.files).toBe(5);
    expect((await readFile(path.join(target, 'stored.bin'))).equals(big)).toBe(true);
    expect((await readFile(path.join(target, 'dir', 'deflated.txt'))).equals(repetitive)).toBe(true);
    expect(await readFile(path.join(target, 'dir', 'run.sh'), 'utf8')).toContain('echo hi');
    expect((await readFile(path.join(target, 'empty'))).length).toBe(0);
    expect((await lstat(path.join(target, 'dir', 'run.sh'))).mode & 0o100).toBe(0o100);
    expect((await lstat(path.join(target, 'dir', 'deflated.txt'))).mode & 0o077).toBe(0);
    // The staging directory is gone and nothing else was left behind.
    expect((await readdir(target)).sort()).toEqual(['dir', 'empty', 'stored.bin', 'wide.bin']);
  },
  60_000,
);

test.each([
  [997, 7],
  [65_536, 64],
  [1, 300],
])(
  'the same archive handed over as %i-byte chunks, %i per write, extracts byte for byte',
  async (chunk, perWrite) => {
    // Several chunks per write cross entry boundaries, headers, descriptors and the central
    // directory: a stored entry's run must stop exactly at its end and hand the rest on.
    const zip = buildZip(entries);
    const result = await streamInto(zip, chunk, {}, perWrite);
    expect(result.files).toBe(5);
    expect((await readFile(path.join(target, 'stored.bin'))).equals(big)).toBe(true);
    expect((await readFile(path.join(target, 'dir', 'deflated.txt'))).equals(repetitive)).toBe(true);
    expect((await readFile(path.join(target, 'wide.bin'))).equals(repetitive.subarray(0, 70_000))).toBe(true);
    expect((await readdir(target)).sort()).toEqual(['dir', 'empty', 'stored.bin', 'wide.bin']);
  },
  60_000,
);

test('nothing is visible in the target before materialize, and dispose removes the staging', async () => {
  const zip = buildZip(entries);
  const extraction = await openStreamExtraction({ targetDirectory: target });
  await extraction.write([zip]);
  const staged = await readdir(target);
  expect(staged).toHaveLength(1);
  expect(staged[0]).toMatch(/^\.ferry-staging-[0-9a-f]+$/);
  await extraction.dispose();
  // The target was created for the download and is removed again with the staging.
  await expect(readdir(target)).rejects.toMatchObject({ code: 'ENOENT' });
});

test('symlinks follow the policy once the central directory says which entries are links', async () => {
  const zip = buildZip([
    { name: 'real.txt', data: 'content' },
    { name: 'link.txt', data: 'real.txt', symlink: true, dataDescriptor: true },
  ]);
  await streamInto(zip, 5, { symlinks: 'preserve' });
  expect(await readlink(path.join(target, 'link.txt'))).toBe('real.txt');
  await rm(target, { recursive: true });
  const refused = await streamInto(zip, 5).catch((error: unknown) => error);
  expect(isFerryError(refused) && refused.code).toBe('ERR_FERRY_UNSAFE_PATH');
  await expect(readdir(target)).rejects.toMatchObject({ code: 'ENOENT' });
});

const unstreamable: Array<[string, ZipSpecEntry[], ZipSpecOptions]> = [
  ['a stored entry with a data descriptor', [{ name: 'a', data: 'x', method: 0, dataDescriptor: true }], {}],
  ['a prepended stub', [{ name: 'a', data: 'hello' }], { prefix: Buffer.from('#!stub\n') }],
  [
    'a gap before the central directory',
    [{ name: 'a', data: 'hello' }],
    { gapBeforeCentralDirectory: Buffer.alloc(9) },
  ],
  ['a wrong declared CRC', [{ name: 'a', data: 'hello', crc32: 1234 }], {}],
  ['a truncated archive', [{ name: 'a', data: 'hello' }], { omitCentralDirectory: true }],
  [
    'a small deflated entry with a wrong CRC',
    [{ name: 'a', data: 'hello hello hello', method: 8, crc32: 1234 }],
    {},
  ],
  [
    'a small entry whose deflate data is corrupt',
    [{ name: 'a', method: 8, compressed: Buffer.from([0xff, 0xff, 0xff, 0xff]), uncompressedSize: 10 }],
    {},
  ],
  [
    'a small deflated entry that inflates past its declared size',
    [{ name: 'a', data: 'hello hello hello', method: 8, uncompressedSize: 5 }],
    {},
  ],
];

test('small entries (written synchronously) keep their bytes, modes and CRC checks', async () => {
  const small: ZipSpecEntry[] = Array.from({ length: 300 }, (_, i) => ({
    name: `s/${i}.txt`,
    data: i % 3 === 0 ? randomBytes(i * 100) : Buffer.alloc(i * 200, `entry ${i} `),
    method: i % 2 === 0 ? 0 : 8,
    mode: i % 5 === 0 ? 0o755 : 0o644,
  }));
  for (const chunk of [997, 1 << 20]) {
    const result = await streamInto(buildZip(small), chunk);
    expect(result.files).toBe(300);
    for (const [i, entry] of small.entries()) {
      const file = path.join(target, 's', `${i}.txt`);
      expect((await readFile(file)).equals(Buffer.from(entry.data as Buffer))).toBe(true);
      expect((await lstat(file)).mode & 0o100).toBe(i % 5 === 0 ? 0o100 : 0);
    }
    await rm(target, { recursive: true });
  }
}, 60_000);

test.each(unstreamable)('%s is not streamable (the download falls back)', async (_label, spec, options) => {
  const error = await streamInto(buildZip(spec, options), 3).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(NotStreamableError);
  await expect(readdir(target)).rejects.toMatchObject({ code: 'ENOENT' });
});

test('a local header whose name disagrees with the central directory is not streamable', async () => {
  const zip = buildZip([{ name: 'aaaa.txt', data: 'hello' }]);
  // The local name starts right after the 30-byte fixed local header.
  zip.write('b', 30);
  const error = await streamInto(zip, 64).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(NotStreamableError);
  expect(String((error as Error).message)).toMatch(/does not match the local headers/);
});

test('reset forgets what was staged (a download starting over)', async () => {
  const zip = buildZip(entries);
  const extraction = await openStreamExtraction({ targetDirectory: target });
  try {
    await extraction.write([zip.subarray(0, 1_000_000)]);
    await extraction.reset();
    expect(extraction.offset).toBe(0);
    await extraction.write([zip]);
    const result = await extraction.materialize();
    expect(result.files).toBe(5);
  } finally {
    await extraction.dispose();
  }
});

test('headers, data and descriptors split across 7-byte chunks', async () => {
  const small: ZipSpecEntry[] = [
    { name: 'a.txt', data: 'abc'.repeat(5000), dataDescriptor: true },
    { name: 'b.bin', data: randomBytes(3000), method: 0 },
    { name: 'c.txt', data: 'no signature'.repeat(100), dataDescriptor: true, descriptorSignature: false },
  ];
  const result = await streamInto(buildZip(small), 7);
  expect(result.files).toBe(3);
  expect(await readFile(path.join(target, 'a.txt'), 'utf8')).toBe('abc'.repeat(5000));
});

test('files listed across many directories in turn are placed directory by directory, each in archive order', async () => {
  // d0/f0, d1/f1, ..., d39/f39, d0/f40, ...: more directories than HeldTarget keeps open (16), so
  // placing in archive order reopened a parent for every file.
  const spec = Array.from({ length: 400 }, (_, i) => ({
    name: `d${i % 40}/f${i}.txt`,
    data: `file ${i}\n`.repeat(i % 7),
  }));
  const placed: string[] = [];
  const rename = HeldTarget.prototype.renameIn;
  const link = HeldTarget.prototype.linkIn;
  const spies = [
    jest.spyOn(HeldTarget.prototype, 'renameIn').mockImplementation(function (this: HeldTarget, from, key) {
      placed.push(key);
      return rename.call(this, from, key);
    }),
    jest.spyOn(HeldTarget.prototype, 'linkIn').mockImplementation(function (this: HeldTarget, from, key) {
      placed.push(key);
      return link.call(this, from, key);
    }),
  ];
  try {
    expect((await streamInto(buildZip(spec), 65_536)).files).toBe(400);
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  // One run per directory, the directories in the order they first appear ...
  const parents = placed.map((key) => key.slice(0, key.indexOf('/')));
  expect(parents.filter((p, i) => i === 0 || parents[i - 1] !== p)).toEqual(
    Array.from({ length: 40 }, (_, d) => `d${d}`),
  );
  // ... each in archive order, and every file whole.
  for (let d = 0; d < 40; d++) {
    expect(placed.filter((key) => key.startsWith(`d${d}/`))).toEqual(
      Array.from({ length: 10 }, (_, j) => `d${d}/f${d + 40 * j}.txt`),
    );
  }
  for (const entry of spec) expect(await readFile(path.join(target, entry.name), 'utf8')).toBe(entry.data);
});
