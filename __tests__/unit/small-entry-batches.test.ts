import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { EntryDataError, INLINE_ENTRIES, SmallEntryBatches } from '../../src/pack/zip/small-entry-batches.js';
import { HeldTarget } from '../../src/pack/held-target.js';
import { NotStreamableError, openStreamExtraction } from '../../src/pack/zip/stream-extract.js';
import { buildZip, type ZipSpecEntry } from '../helpers/zip-builder.js';

let base: string;
let target: string;

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'ferry-small-batches-'));
  target = path.join(base, 'target');
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

/** The worker's own test: entries handed over directly, written into `dir`. */
function startBatches(written: Map<number, number>): SmallEntryBatches {
  const batches = SmallEntryBatches.start(0o644, (index, crc) => written.set(index, crc));
  if (batches === undefined) throw new Error('no worker could be started');
  return batches;
}

test('the worker inflates, checks and writes every entry, and reports each CRC-32', async () => {
  const dir = path.join(base, 'staged');
  await mkdir(dir);
  const written = new Map<number, number>();
  const batches = startBatches(written);
  const datas = Array.from({ length: 700 }, (_, i) =>
    i % 3 === 0 ? randomBytes(i * 7) : Buffer.alloc(i * 11, `entry ${i} `),
  );
  try {
    for (const [i, data] of datas.entries()) {
      const deflate = i % 2 === 1;
      const compressed = deflate ? deflateRawSync(data) : data;
      // Handed over in pieces, as they arrive from the socket.
      const half = compressed.length >> 1;
      await batches.add(i, path.join(dir, String(i)), deflate ? 8 : 0, data.length, [
        compressed.subarray(0, half),
        compressed.subarray(half),
      ]);
    }
    await batches.flush();
  } finally {
    await batches.close();
  }
  expect(written.size).toBe(700);
  const { crc32 } = await import('node:zlib');
  for (const [i, data] of datas.entries()) {
    expect((await readFile(path.join(dir, String(i)))).equals(data)).toBe(true);
    expect(written.get(i)).toBe(crc32(data));
  }
});

test.each([
  ['does not inflate', Buffer.from([0xff, 0xff, 0xff, 0xff]), 10, /does not inflate/],
  ['inflates past its declared size', deflateRawSync('hello hello hello'), 5, /larger than 5 bytes/],
  ['inflates short of its declared size', deflateRawSync('hello'), 50, /different size/],
])(
  'an entry whose data %s fails the next flush with EntryDataError',
  async (_label, compressed, size, message) => {
    const dir = path.join(base, 'staged');
    await mkdir(dir);
    const batches = startBatches(new Map());
    try {
      await batches.add(0, path.join(dir, '0'), 0, 3, [Buffer.from('abc')]);
      await batches.add(1, path.join(dir, '1'), 8, size, [compressed]);
      const error = await batches.flush().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EntryDataError);
      expect(String((error as Error).message)).toMatch(message);
      // The failure stays: nothing more is accepted.
      await expect(batches.add(2, path.join(dir, '2'), 0, 1, [Buffer.from('x')])).rejects.toBe(error);
    } finally {
      await batches.close();
    }
    // The entry before the bad one was written; the bad one was not.
    expect((await readdir(dir)).sort()).toEqual(['0']);
  },
);

test('a file system failure in the worker is the file system error, with its code, as the inline path throws it', async () => {
  const dir = path.join(base, 'staged');
  await mkdir(dir);
  // Someone put a file where the worker creates one: 'wx' refuses to write through it.
  await writeFile(path.join(dir, '1'), 'planted');
  const batches = startBatches(new Map());
  try {
    await batches.add(0, path.join(dir, '0'), 0, 1, [Buffer.from('a')]);
    await batches.add(1, path.join(dir, '1'), 0, 1, [Buffer.from('b')]);
    await batches.add(2, path.join(base, 'missing', '2'), 0, 1, [Buffer.from('c')]);
    const error = await batches.flush().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EEXIST', syscall: 'open' });
    expect(error).not.toBeInstanceOf(EntryDataError);
  } finally {
    await batches.close();
  }
  expect(await readFile(path.join(dir, '1'), 'utf8')).toBe('planted');
});

test('close waits for every batch handed over: no file appears after it returns, and the worker is gone', async () => {
  const dir = path.join(base, 'staged');
  await mkdir(dir);
  const batches = startBatches(new Map());
  const data = Buffer.alloc(2000, 'x');
  // More than one batch in flight, none flushed.
  for (let i = 0; i < 600; i++) await batches.add(i, path.join(dir, String(i)), 0, data.length, [data]);
  await batches.close();
  const after = (await readdir(dir)).length;
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect((await readdir(dir)).length).toBe(after);
  // Every full batch handed over was written (the partial one queued last was dropped).
  expect(after).toBeGreaterThanOrEqual(512);
  await expect(batches.add(600, path.join(dir, '600'), 0, 1, [Buffer.from('y')])).rejects.toBeInstanceOf(
    EntryDataError,
  );
});

// ---------------------------------------------------------------------------------------------
// Through the streaming extraction: the entries past INLINE_ENTRIES go to the worker.

const many = (count: number): ZipSpecEntry[] =>
  Array.from({ length: count }, (_, i) => ({
    name: `d${i % 7}/f${i}.txt`,
    data: i % 4 === 0 ? randomBytes(i % 900) : Buffer.alloc(i % 1500, `file ${i} `),
    method: i % 3 === 0 ? 0 : 8,
    mode: i % 11 === 0 ? 0o755 : 0o644,
  }));

async function streamInto(zip: Buffer, chunk: number): Promise<{ files: number }> {
  const extraction = await openStreamExtraction({ targetDirectory: target });
  try {
    for (let at = 0; at < zip.length; at += chunk) await extraction.write([zip.subarray(at, at + chunk)]);
    return await extraction.materialize();
  } finally {
    await extraction.dispose();
  }
}

test(`${INLINE_ENTRIES + 1_000} small entries, most written by the worker, land byte for byte with their modes`, async () => {
  const spec = many(INLINE_ENTRIES + 1_000);
  const result = await streamInto(buildZip(spec), 4096);
  expect(result.files).toBe(spec.length);
  for (const entry of spec) {
    const file = path.join(target, entry.name as string);
    expect((await readFile(file)).equals(Buffer.from(entry.data as Buffer))).toBe(true);
  }
  // Only the placed directories: the staging is gone.
  expect((await readdir(target)).sort()).toEqual(['d0', 'd1', 'd2', 'd3', 'd4', 'd5', 'd6']);
}, 60_000);

test('the worker is stopped once the archive has streamed, before the first file is placed', async () => {
  // Its thread and heap are not needed while the files are planned and placed, the extraction's
  // own memory peak: the order of the two calls is what is checked.
  const events: string[] = [];
  const close = SmallEntryBatches.prototype.close;
  const rename = HeldTarget.prototype.renameIn;
  const spies = [
    jest.spyOn(SmallEntryBatches.prototype, 'close').mockImplementation(function (this: SmallEntryBatches) {
      events.push('worker stopped');
      return close.call(this);
    }),
    jest.spyOn(HeldTarget.prototype, 'renameIn').mockImplementation(function (this: HeldTarget, from, key) {
      if (!events.includes('placed')) events.push('placed');
      return rename.call(this, from, key);
    }),
  ];
  const spec = many(INLINE_ENTRIES + 200);
  try {
    expect((await streamInto(buildZip(spec), 65_536)).files).toBe(spec.length);
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  expect(events).toEqual(['worker stopped', 'placed']);
  for (const entry of spec.slice(-5)) {
    const file = path.join(target, entry.name as string);
    expect((await readFile(file)).equals(Buffer.from(entry.data as Buffer))).toBe(true);
  }
}, 60_000);

const faults: Array<[string, ZipSpecEntry]> = [
  ['a wrong CRC on a stored entry', { name: 'bad', data: 'hello', method: 0, crc32: 1234 }],
  ['a wrong CRC on a deflated entry', { name: 'bad', data: 'hello hello hello', method: 8, crc32: 1234 }],
  [
    'deflate data that is corrupt',
    { name: 'bad', method: 8, compressed: Buffer.from([0xff, 0xff, 0xff, 0xff]), uncompressedSize: 10 },
  ],
  [
    'data inflating past its declared size',
    { name: 'bad', data: 'hello hello hello', method: 8, uncompressedSize: 5 },
  ],
  [
    'data inflating short of its declared size',
    { name: 'bad', data: 'hello', method: 8, uncompressedSize: 500 },
  ],
];

test.each(faults)(
  'past the inline entries, %s is not streamable (the download falls back) and nothing is left',
  async (_label, bad) => {
    const spec = [...many(INLINE_ENTRIES + 300), bad, ...many(40)];
    const error = await streamInto(buildZip(spec), 65_536).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotStreamableError);
    await expect(readdir(target)).rejects.toMatchObject({ code: 'ENOENT' });
  },
  60_000,
);

test('dispose racing a write that is handing entries to the worker leaves nothing behind', async () => {
  const zip = buildZip(many(INLINE_ENTRIES + 3_000));
  await mkdir(target);
  const extraction = await openStreamExtraction({ targetDirectory: target });
  // The whole archive in one write, and dispose while it runs: the write is then waiting for the
  // worker's answers (the inline entries before them make no turn of the event loop).
  let settled = false;
  const writing = extraction.write([zip]).then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  expect(settled).toBe(false);
  await extraction.dispose();
  await writing;
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(await readdir(target)).toEqual([]);
}, 60_000);
