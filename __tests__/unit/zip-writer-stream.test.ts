import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer as readAll } from 'node:stream/consumers';
import { crc32 } from 'node:zlib';
import { isFerryError } from '../../src/core/errors.js';
import { openEntryStream, readCentralDirectory } from '../../src/pack/zip/index.js';
import { createZipStream, zipStreamStats, type ZipInput } from '../../src/pack/zip-writer/index.js';

/** The `stream` input kind of the zip writer: entries whose bytes come from another zip (merge). */

let work: string;
let counter = 0;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'ferry-zip-stream-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const MiB = 1024 * 1024;

/** A stream input over `data`, cut into `piece`-byte chunks; `declared` overrides size/CRC. */
function streamInput(
  name: string,
  data: Buffer,
  declared: { size?: number; crc32?: number } = {},
  piece = 64 * 1024,
  onOpen?: () => void,
): ZipInput {
  return {
    kind: 'stream',
    name,
    size: declared.size ?? data.length,
    crc32: declared.crc32 ?? crc32(data),
    mtime: new Date('2024-05-06T07:08:10Z'),
    mode: 0o640,
    open: () => {
      onOpen?.();
      const chunks: Buffer[] = [];
      for (let i = 0; i < data.length; i += piece) chunks.push(data.subarray(i, i + piece));
      return Promise.resolve(Readable.from(chunks));
    },
  };
}

async function writeZip(inputs: ZipInput[], level = 6): Promise<string> {
  const file = path.join(work, `out-${++counter}.zip`);
  const stream = createZipStream(inputs, { level, chunkSize: 256 * 1024 });
  await writeFile(file, await readAll(stream));
  return file;
}

async function failure(inputs: ZipInput[], level = 6): Promise<unknown> {
  return readAll(createZipStream(inputs, { level, chunkSize: 256 * 1024 })).then(
    () => undefined,
    (error: unknown) => error,
  );
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('createZipStream: stream inputs', () => {
  const small = Buffer.from('hello from another zip\n'.repeat(20));
  const compressible = Buffer.from('line of very compressible text\n'.repeat(100_000)); // ~3 MiB
  const random = randomBytes(2 * MiB + 123);

  it('round-trips small, large compressible and large incompressible streams, with mode and mtime', async () => {
    const file = await writeZip([
      streamInput('a/small.txt', small),
      streamInput('b/compressible.log', compressible),
      streamInput('c/random.bin', random),
      { kind: 'directory', name: 'empty/' },
      streamInput('d/empty.txt', Buffer.alloc(0)),
    ]);
    const entries = await readCentralDirectory(file);
    expect(entries.map((e) => e.name)).toEqual([
      'a/small.txt',
      'b/compressible.log',
      'c/random.bin',
      'empty/',
      'd/empty.txt',
    ]);
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(byName.get('b/compressible.log')?.method).toBe(8);
    expect(byName.get('c/random.bin')?.method).toBe(0);
    expect((byName.get('a/small.txt')?.mode ?? 0) & 0o777).toBe(0o640);
    expect(new Date(byName.get('a/small.txt')?.mtimeMs ?? 0).getUTCFullYear()).toBe(2024);
    for (const [name, data] of [
      ['a/small.txt', small],
      ['b/compressible.log', compressible],
      ['c/random.bin', random],
      ['d/empty.txt', Buffer.alloc(0)],
    ] as const) {
      const entry = byName.get(name);
      if (!entry) throw new Error(`missing ${name}`);
      expect(sha(await readAll(await openEntryStream(file, entry)))).toBe(sha(data));
    }
  });

  it("is read by Python's zipfile (an independent reader), CRCs checked", async () => {
    const file = await writeZip([
      streamInput('small.txt', small),
      streamInput('compressible.log', compressible),
      streamInput('random.bin', random),
    ]);
    const script =
      'import hashlib, json, sys, zipfile\n' +
      'z = zipfile.ZipFile(sys.argv[1])\n' +
      'print(json.dumps(dict(bad=z.testzip(), sha={i.filename: hashlib.sha256(z.read(i)).hexdigest() for i in z.infolist()})))';
    const out = JSON.parse(execFileSync('python3', ['-c', script, file]).toString('utf8')) as {
      bad: string | null;
      sha: Record<string, string>;
    };
    expect(out.bad).toBeNull();
    expect(out.sha).toEqual({
      'small.txt': sha(small),
      'compressible.log': sha(compressible),
      'random.bin': sha(random),
    });
  });

  it('writes the declared CRC-32 and sizes into the local header of a large STORED stream (no data descriptor)', async () => {
    const file = await writeZip([streamInput('random.bin', random)], 0);
    const [entry] = await readCentralDirectory(file);
    if (!entry) throw new Error('no entry');
    expect(entry.method).toBe(0);
    expect(entry.flags & 0x8).toBe(0);
    const handle = await open(file, 'r');
    try {
      const header = Buffer.alloc(30);
      await handle.read(header, 0, 30, entry.localHeaderOffset);
      expect(header.readUInt32LE(14)).toBe(crc32(random));
      expect(header.readUInt32LE(18)).toBe(random.length);
      expect(header.readUInt32LE(22)).toBe(random.length);
    } finally {
      await handle.close();
    }
  });

  it('opens each stream only when its turn comes, one at a time', async () => {
    const opened: string[] = [];
    const inputs = ['one', 'two', 'three'].map((n) =>
      streamInput(`${n}.bin`, randomBytes(600 * 1024), {}, 64 * 1024, () => opened.push(n)),
    );
    const stream = createZipStream(inputs, { level: 0, chunkSize: 64 * 1024 });
    expect(opened).toEqual([]);
    await readAll(stream);
    expect(opened).toEqual(['one', 'two', 'three']);
    expect(zipStreamStats(stream)?.maxOpenFiles).toBe(1);
  });

  it.each([
    ['stored, small', small, 0],
    ['deflated, small', small, 6],
    ['stored, large', random, 0],
    ['deflated, large', compressible, 6],
  ] as const)(
    'fails with ERR_FERRY_SOURCE_CHANGED naming the entry on a CRC-32 mismatch (%s)',
    async (_l, data, level) => {
      const error = await failure(
        [streamInput('lying.bin', data, { crc32: (crc32(data) ^ 1) >>> 0 })],
        level,
      );
      expect(isFerryError(error) && error.code).toBe('ERR_FERRY_SOURCE_CHANGED');
      expect((error as Error).message).toMatch(/'lying\.bin'.*CRC-32/);
    },
  );

  it.each([
    ['shorter than declared', { size: 2 * MiB + 500 }, /ended after/],
    ['longer than declared', { size: 2 * MiB }, /more than the declared/],
    ['longer than a small declared size', { size: 10 }, /more than the declared/],
  ] as const)('fails with ERR_FERRY_SOURCE_CHANGED when the stream is %s', async (_l, declared, message) => {
    const error = await failure([streamInput('sized.bin', random, declared)], 0);
    expect(isFerryError(error) && error.code).toBe('ERR_FERRY_SOURCE_CHANGED');
    expect((error as Error).message).toMatch(/'sized\.bin'/);
    expect((error as Error).message).toMatch(message);
  });

  it('passes on a source stream error as ERR_FERRY_SOURCE_UNREADABLE naming the entry, and destroys it', async () => {
    let destroyed = false;
    const broken = new Readable({
      read() {
        this.destroy(new Error('disk on fire'));
      },
      destroy(error, callback) {
        destroyed = true;
        callback(error);
      },
    });
    const error = await failure([
      { kind: 'stream', name: 'broken.bin', size: 5, crc32: 0, open: () => Promise.resolve(broken) },
    ]);
    expect(isFerryError(error) && error.code).toBe('ERR_FERRY_SOURCE_UNREADABLE');
    expect((error as Error).message).toMatch(/'broken\.bin'.*disk on fire/);
    expect(destroyed).toBe(true);
  });

  it('validates stream inputs before reading anything', () => {
    const base = {
      kind: 'stream',
      name: 'x',
      size: 1,
      crc32: 0,
      open: () => Promise.resolve(Readable.from([])),
    };
    expect(() => createZipStream([{ ...base, size: -1 } as ZipInput], { level: 6 })).toThrow(/size/);
    expect(() => createZipStream([{ ...base, crc32: 2 ** 32 } as ZipInput], { level: 6 })).toThrow(/crc32/);
    expect(() => createZipStream([{ ...base, open: 'nope' } as unknown as ZipInput], { level: 6 })).toThrow(
      /open/,
    );
    expect(() => createZipStream([{ ...base, name: '../x' } as ZipInput], { level: 6 })).toThrow(/'\.\.'/);
  });
});
