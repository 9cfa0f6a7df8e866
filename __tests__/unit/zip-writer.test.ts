import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  createWriteStream,
  openSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import { isFerryError, type FerryError } from '../../src/core/errors.js';
import {
  centralDirectoryHeader,
  createZipStream,
  DictionaryWindow,
  dosDateTime,
  endOfCentralDirectory,
  externalAttributes,
  zipStreamStats,
  type EntryRecord,
  type ZipEntryInfo,
  type ZipInput,
  type ZipWriterOptions,
} from '../../src/pack/zip-writer/index.js';
import { readCentralDirectory } from '../../src/pack/zip/index.js';

interface PyEntry {
  name: string;
  method: number;
  crc: number;
  size: number;
  csize: number;
  mode: number;
  flags: number;
  made_by: number;
  is_dir: boolean;
  sha256: string;
  text: string | null;
  date_time: number[];
  header_offset: number;
}
interface PyResult {
  testzip: string | null;
  entries: PyEntry[];
}

const PY_READER = `
import hashlib, json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names_only = len(sys.argv) > 2
bad = None if names_only else z.testzip()
out = []
for i in z.infolist():
    data = b'' if names_only else z.read(i)
    out.append(dict(name=i.filename, method=i.compress_type, crc=i.CRC, size=i.file_size,
        csize=i.compress_size, mode=i.external_attr >> 16, flags=i.flag_bits, made_by=i.create_system,
        is_dir=i.is_dir(), sha256=hashlib.sha256(data).hexdigest(),
        text=data.decode('utf-8', 'replace') if len(data) <= 64 else None,
        date_time=list(i.date_time), header_offset=i.header_offset))
print(json.dumps(dict(testzip=bad, entries=out)))
`;

const KiB = 1024;
const MiB = 1024 * 1024;

const HAS_UNZIP = (() => {
  try {
    execFileSync('unzip', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ferry-zip-writer-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Deterministic log-like text of exactly `size` bytes. */
function logText(size: number, seed = 1): Buffer {
  const levels = ['INFO', 'DEBUG', 'WARN', 'ERROR'];
  const words = ['request', 'handled', 'cache', 'miss', 'upstream', 'latency', 'worker', 'retry', 'upload'];
  let state = seed >>> 0;
  const rnd = (n: number): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state % n;
  };
  const lines: string[] = [];
  let length = 0;
  for (let i = 0; length < size; i++) {
    const ts = new Date(1_700_000_000_000 + i * 137).toISOString();
    const msg = Array.from({ length: 4 + rnd(6) }, () => words[rnd(words.length)]).join(' ');
    const line = `${ts} ${levels[rnd(4)]} [worker-${rnd(16)}] ${msg} id=${rnd(1e9).toString(16)} took=${rnd(5000)}ms\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, size);
}

async function file(name: string, content: Buffer | string): Promise<string> {
  const p = path.join(dir, 'src', name);
  await mkdir(path.dirname(p), { recursive: true });
  await writeFile(p, content);
  return p;
}

async function writeZip(
  inputs: readonly ZipInput[],
  options: ZipWriterOptions,
): Promise<{
  zipPath: string;
  stream: Readable;
  entries: ZipEntryInfo[];
}> {
  const zipPath = path.join(dir, `out-${Math.random().toString(36).slice(2)}.zip`);
  const entries: ZipEntryInfo[] = [];
  const stream = createZipStream(inputs, { ...options, onEntry: (info) => entries.push(info) });
  await pipeline(stream, createWriteStream(zipPath));
  return { zipPath, stream, entries };
}

/** Python's zipfile view of the archive; with `namesOnly`, the central directory without the data. */
function readWithPython(zipPath: string, namesOnly = false): PyResult {
  const script = path.join(dir, 'read_zip.py');
  writeFileSync(script, PY_READER);
  const args = namesOnly ? [script, zipPath, '--names-only'] : [script, zipPath];
  const out = execFileSync('python3', args, { maxBuffer: 256 * MiB });
  return JSON.parse(out.toString('utf8')) as PyResult;
}

function unzipTest(zipPath: string): void {
  if (!HAS_UNZIP) return;
  // Throws (non-zero exit) on any error Info-ZIP finds.
  const out = execFileSync('unzip', ['-t', zipPath]).toString('utf8');
  expect(out).toMatch(/No errors detected/);
}

function byName(result: PyResult): Map<string, PyEntry> {
  return new Map(result.entries.map((e) => [e.name, e]));
}

function entry(map: Map<string, PyEntry>, name: string): PyEntry {
  const found = map.get(name);
  if (found === undefined) throw new Error(`no entry ${name} in ${[...map.keys()].join(', ')}`);
  return found;
}

/** The data descriptor that follows the data of the entry whose local header is at `offset`. */
function descriptorAfter(zip: Buffer, offset: number, compressedSize: number, zip64: boolean) {
  expect(zip.readUInt32LE(offset)).toBe(0x04034b50);
  const nameLength = zip.readUInt16LE(offset + 26);
  const extraLength = zip.readUInt16LE(offset + 28);
  const at = offset + 30 + nameLength + extraLength + compressedSize;
  expect(zip.readUInt32LE(at)).toBe(0x08074b50);
  return zip64
    ? {
        crc: zip.readUInt32LE(at + 4),
        compressed: Number(zip.readBigUInt64LE(at + 8)),
        uncompressed: Number(zip.readBigUInt64LE(at + 16)),
      }
    : {
        crc: zip.readUInt32LE(at + 4),
        compressed: zip.readUInt32LE(at + 8),
        uncompressed: zip.readUInt32LE(at + 12),
      };
}

async function expectStreamError(stream: Readable, consume?: (chunk: Buffer) => void): Promise<FerryError> {
  try {
    for await (const chunk of stream) consume?.(chunk as Buffer);
  } catch (error) {
    expect(isFerryError(error)).toBe(true);
    return error as FerryError;
  }
  throw new Error('expected the zip stream to fail');
}

function syncError(fn: () => unknown): FerryError {
  try {
    fn();
  } catch (error) {
    expect(isFerryError(error)).toBe(true);
    return error as FerryError;
  }
  throw new Error('expected a FerryError');
}

describe('createZipStream: round trips', () => {
  test('a mixed tree round-trips byte-exact, with modes, methods, flags and times', async () => {
    const text = logText(300 * KiB);
    const random = randomBytes(700 * KiB);
    const cjk = Buffer.from('CJK 内容\n'.repeat(50));
    const script = Buffer.from('#!/bin/sh\necho hello\n');
    const zipLike = Buffer.from('not really a zip '.repeat(5000)); // compressible, yet stored by its extension
    const png = Buffer.from('not really a png '.repeat(100));
    const small = Buffer.from('hello artifact\n'.repeat(40));
    const paths = {
      text: await file('logs/build.log', text),
      random: await file('bin/random.bin', random),
      empty: await file('empty.txt', ''),
      cjk: await file('中文/文件.txt', cjk),
      script: await file('scripts/run.sh', script),
      zip: await file('nested/deeper/archive.zip', zipLike),
      png: await file('nested/image.PNG', png),
      small: await file('small.txt', small),
    };
    const mtime = new Date(2021, 2, 4, 5, 6, 8);
    await utimes(paths.small, mtime, mtime);
    const inputs: ZipInput[] = [
      { kind: 'directory', name: 'logs' },
      { kind: 'file', sourcePath: paths.text, name: 'logs/build.log' },
      { kind: 'file', sourcePath: paths.random, name: 'bin/random.bin' },
      { kind: 'file', sourcePath: paths.empty, name: 'empty.txt' },
      { kind: 'file', sourcePath: paths.cjk, name: '中文/文件.txt' },
      { kind: 'file', sourcePath: paths.script, name: 'scripts/run.sh', mode: 0o755 },
      { kind: 'file', sourcePath: paths.zip, name: 'nested/deeper/archive.zip' },
      { kind: 'file', sourcePath: paths.png, name: 'nested/image.PNG' },
      { kind: 'file', sourcePath: paths.small, name: 'small.txt' },
      { kind: 'directory', name: 'empty-dir/', mode: 0o700 },
      { kind: 'symlink', name: 'link-to-log', target: 'logs/build.log' },
    ];
    const { zipPath, stream, entries } = await writeZip(inputs, { level: 6, chunkSize: 128 * KiB });
    unzipTest(zipPath);
    const result = readWithPython(zipPath);
    expect(result.testzip).toBeNull();
    expect(result.entries.map((e) => e.name)).toEqual([
      'logs/',
      'logs/build.log',
      'bin/random.bin',
      'empty.txt',
      '中文/文件.txt',
      'scripts/run.sh',
      'nested/deeper/archive.zip',
      'nested/image.PNG',
      'small.txt',
      'empty-dir/',
      'link-to-log',
    ]);
    const map = byName(result);
    const expectFile = (name: string, data: Buffer, mode: number, method: number): PyEntry => {
      const e = entry(map, name);
      expect({ name, sha256: e.sha256, size: e.size, crc: e.crc, mode: e.mode, method: e.method }).toEqual({
        name,
        sha256: sha256(data),
        size: data.length,
        crc: crc32(data),
        mode: 0o100000 | mode,
        method,
      });
      expect(e.made_by).toBe(3); // Unix
      return e;
    };
    // Larger than chunkSize and compressible: parallel deflate with a data descriptor.
    expect(expectFile('logs/build.log', text, 0o644, 8).flags).toBe(0x08);
    // Incompressible: stored with the CRC in the local header, never with a data descriptor.
    expect(expectFile('bin/random.bin', random, 0o644, 0).flags).toBe(0);
    expect(expectFile('empty.txt', Buffer.alloc(0), 0o644, 0).flags).toBe(0);
    // A non-ASCII name carries the UTF-8 flag; small files have their sizes up front.
    expect(expectFile('中文/文件.txt', cjk, 0o644, 8).flags).toBe(0x800);
    expect(expectFile('scripts/run.sh', script, 0o755, 0).flags).toBe(0);
    expectFile('nested/deeper/archive.zip', zipLike, 0o644, 0);
    expectFile('nested/image.PNG', png, 0o644, 0);
    expect(expectFile('small.txt', small, 0o644, 8).date_time).toEqual([2021, 3, 4, 5, 6, 8]);

    expect(entry(map, 'logs/')).toMatchObject({ is_dir: true, mode: 0o040755, size: 0, method: 0 });
    expect(entry(map, 'empty-dir/')).toMatchObject({ is_dir: true, mode: 0o040700, size: 0 });
    expect(entry(map, 'link-to-log')).toMatchObject({ mode: 0o120777, method: 0, text: 'logs/build.log' });

    // The data descriptor after the deflated entry holds the real CRC and sizes.
    const zip = await readFile(zipPath);
    const log = entry(map, 'logs/build.log');
    expect(descriptorAfter(zip, log.header_offset, log.csize, false)).toEqual({
      crc: crc32(text),
      compressed: log.csize,
      uncompressed: text.length,
    });

    expect(entries.map((e) => [e.name, e.method])).toEqual(result.entries.map((e) => [e.name, e.method]));
    expect(entries.find((e) => e.name === 'logs/build.log')?.compressedSize).toBe(log.csize);
    const stats = zipStreamStats(stream);
    expect(stats).toMatchObject({ openFiles: 0, piecesInFlight: 0, entriesWritten: 11 });
    // Small files are read (synchronously, one at a time) up to 8 ahead of the one being written.
    expect(stats?.maxOpenFiles).toBeGreaterThanOrEqual(1);
    expect(stats?.maxOpenFiles).toBeLessThanOrEqual(8);
    expect(stats?.bytesEmitted).toBe(zip.length);
  });

  test('the official client’s streaming reader (unzip-stream) reads every entry', async () => {
    const text = logText(400 * KiB, 7);
    const random = randomBytes(300 * KiB);
    const inputs: ZipInput[] = [
      { kind: 'file', sourcePath: await file('a.log', text), name: 'a.log' },
      { kind: 'file', sourcePath: await file('r.bin', random), name: 'r.bin' },
      { kind: 'file', sourcePath: await file('e', ''), name: 'dir/e' },
      { kind: 'directory', name: 'dir' },
    ];
    for (const forceZip64 of [false, true]) {
      const { zipPath } = await writeZip(inputs, { level: 6, chunkSize: 64 * KiB, forceZip64 });
      const unzip = createRequire(import.meta.url)('unzip-stream') as { Parse(): NodeJS.WritableStream };
      const seen: Record<string, string> = {};
      const ended: Promise<void>[] = [];
      await new Promise<void>((resolve, reject) => {
        const parser = unzip.Parse();
        parser.on('entry', (e: Readable & { path: string; type: string }) => {
          const hash = createHash('sha256');
          e.on('data', (d: Buffer) => hash.update(d));
          ended.push(
            new Promise<void>((done) =>
              e.on('end', () => {
                seen[`${e.type}:${e.path}`] = hash.digest('hex');
                done();
              }),
            ),
          );
        });
        parser.on('close', resolve);
        parser.on('error', reject);
        pipeline(
          (async function* () {
            yield await readFile(zipPath);
          })(),
          parser,
        ).catch(reject);
      });
      await Promise.all(ended);
      expect(seen).toEqual({
        'File:a.log': sha256(text),
        'File:r.bin': sha256(random),
        'File:dir/e': sha256(''),
        'Directory:dir/': sha256(''),
      });
    }
  });

  test('level 0 stores every entry, with the CRC and sizes in the local header', async () => {
    const text = logText(600 * KiB, 3);
    const inputs: ZipInput[] = [
      { kind: 'file', sourcePath: await file('t.txt', text), name: 't.txt' },
      { kind: 'file', sourcePath: await file('s.txt', 'short text '.repeat(100)), name: 's.txt' },
      { kind: 'directory', name: 'd' },
    ];
    const { zipPath } = await writeZip(inputs, { level: 0, chunkSize: 64 * KiB });
    unzipTest(zipPath);
    const result = readWithPython(zipPath);
    expect(result.testzip).toBeNull();
    expect(result.entries.map((e) => [e.name, e.method, e.flags])).toEqual([
      ['t.txt', 0, 0],
      ['s.txt', 0, 0],
      ['d/', 0, 0],
    ]);
    expect(entry(byName(result), 't.txt').sha256).toBe(sha256(text));
    const zip = await readFile(zipPath);
    // The local header of t.txt: CRC-32, compressed and uncompressed size at 14, 18, 22.
    expect([zip.readUInt32LE(14), zip.readUInt32LE(18), zip.readUInt32LE(22)]).toEqual([
      crc32(text),
      text.length,
      text.length,
    ]);
  });

  test('5 MiB of text is deflated in parallel pieces, within 3 % of a single deflate stream', async () => {
    const text = logText(5 * MiB, 11);
    const chunkSize = 256 * KiB;
    const { zipPath, stream, entries } = await writeZip(
      [{ kind: 'file', sourcePath: await file('big.log', text), name: 'big.log' }],
      { level: 6, chunkSize, concurrency: 2 },
    );
    const result = readWithPython(zipPath);
    expect(result.testzip).toBeNull();
    const e = entry(byName(result), 'big.log');
    expect({ method: e.method, flags: e.flags, sha256: e.sha256 }).toEqual({
      method: 8,
      flags: 0x08,
      sha256: sha256(text),
    });
    const single = deflateRawSync(text, { level: 6 }).length;
    expect(Math.abs(e.csize / single - 1)).toBeLessThan(0.03);
    expect(entries[0]).toEqual({
      name: 'big.log',
      method: 8,
      uncompressedSize: text.length,
      compressedSize: e.csize,
    });
    // Two pieces were compressing at once.
    expect(zipStreamStats(stream)?.maxPiecesInFlight).toBe(2);
    // Each non-final piece ends in a sync-flush marker (an empty stored block, 00 00 FF FF).
    const zip = await readFile(zipPath);
    const dataStart = e.header_offset + 30 + 'big.log'.length;
    const data = zip.subarray(dataStart, dataStart + e.csize);
    let markers = 0;
    for (let i = data.indexOf('0000ffff', 0, 'hex'); i >= 0; i = data.indexOf('0000ffff', i + 1, 'hex')) {
      markers++;
    }
    expect(markers).toBeGreaterThanOrEqual(text.length / chunkSize - 1);
    expect(inflateRawSync(data).equals(text)).toBe(true);
    unzipTest(zipPath);
  });

  test('3 MiB of random data is stored after a first CRC pass', async () => {
    const random = randomBytes(3 * MiB);
    const { zipPath, entries } = await writeZip(
      [{ kind: 'file', sourcePath: await file('random.dat', random), name: 'random.dat' }],
      { level: 9, chunkSize: 256 * KiB },
    );
    const result = readWithPython(zipPath);
    expect(result.testzip).toBeNull();
    expect(result.entries[0]).toMatchObject({
      method: 0,
      flags: 0,
      crc: crc32(random),
      sha256: sha256(random),
    });
    expect(entries).toEqual([
      { name: 'random.dat', method: 0, uncompressedSize: random.length, compressedSize: random.length },
    ]);
    unzipTest(zipPath);
  });

  test('small files are deflated whole, or stored when that saves less than 5 %', async () => {
    const text = Buffer.from('compressible line of text\n'.repeat(2000));
    const noise = randomBytes(20 * KiB);
    const { zipPath } = await writeZip(
      [
        { kind: 'file', sourcePath: await file('t.txt', text), name: 't.txt' },
        { kind: 'file', sourcePath: await file('n.txt', noise), name: 'n.txt' },
      ],
      { level: 6 },
    );
    const result = readWithPython(zipPath);
    expect(result.testzip).toBeNull();
    expect(result.entries.map((e) => [e.name, e.method, e.flags])).toEqual([
      ['t.txt', 8, 0],
      ['n.txt', 0, 0],
    ]);
  });

  test('forceZip64 writes zip64 headers, descriptors and end records that Python and unzip read', async () => {
    const text = logText(700 * KiB, 5);
    const random = randomBytes(200 * KiB);
    const { zipPath } = await writeZip(
      [
        { kind: 'file', sourcePath: await file('t.log', text), name: 't.log' },
        { kind: 'file', sourcePath: await file('r.bin', random), name: 'r.bin' },
        { kind: 'file', sourcePath: await file('small.txt', 'small text '.repeat(50)), name: 'small.txt' },
        { kind: 'directory', name: 'd' },
        { kind: 'symlink', name: 'l', target: 'r.bin' },
      ],
      { level: 6, chunkSize: 128 * KiB, forceZip64: true },
    );
    unzipTest(zipPath);
    const result = readWithPython(zipPath);
    expect(result.testzip).toBeNull();
    const map = byName(result);
    expect(entry(map, 't.log')).toMatchObject({ method: 8, sha256: sha256(text) });
    expect(entry(map, 'r.bin')).toMatchObject({ method: 0, sha256: sha256(random) });
    expect(entry(map, 'l')).toMatchObject({ text: 'r.bin' });

    const zip = await readFile(zipPath);
    // End: zip64 record (56) + locator (20) + classic record (22) with the 0xFFFF/0xFFFFFFFF markers.
    const eocd = zip.length - 22;
    expect(zip.readUInt32LE(eocd)).toBe(0x06054b50);
    expect([zip.readUInt16LE(eocd + 10), zip.readUInt32LE(eocd + 12), zip.readUInt32LE(eocd + 16)]).toEqual([
      0xffff, 0xffffffff, 0xffffffff,
    ]);
    const locator = eocd - 20;
    expect(zip.readUInt32LE(locator)).toBe(0x07064b50);
    const record = Number(zip.readBigUInt64LE(locator + 8));
    expect(record).toBe(locator - 56);
    expect(zip.readUInt32LE(record)).toBe(0x06064b50);
    expect(Number(zip.readBigUInt64LE(record + 32))).toBe(5);
    // The deflated entry's local header is zip64 and its descriptor has 8-byte sizes.
    const log = entry(map, 't.log');
    expect([zip.readUInt32LE(log.header_offset + 18), zip.readUInt32LE(log.header_offset + 22)]).toEqual([
      0xffffffff, 0xffffffff,
    ]);
    expect(descriptorAfter(zip, log.header_offset, log.csize, true)).toEqual({
      crc: crc32(text),
      compressed: log.csize,
      uncompressed: text.length,
    });
  });

  test('65,535 entries get the zip64 end records without forceZip64', async () => {
    const inputs: ZipInput[] = Array.from({ length: 0xffff }, (_, i) => ({
      kind: 'directory' as const,
      name: `d${i}`,
    }));
    const { zipPath } = await writeZip(inputs, { level: 6 });
    const result = readWithPython(zipPath, true);
    expect(result.entries.length).toBe(0xffff);
    expect(result.entries[0xffff - 1]?.name).toBe(`d${0xffff - 1}/`);
    const zip = await readFile(zipPath);
    expect(zip.readUInt32LE(zip.length - 22 - 20)).toBe(0x07064b50);
    expect(zip.readUInt16LE(zip.length - 22 + 10)).toBe(0xffff);
  });
});

describe('createZipStream: failures', () => {
  test('a file that grows while it is deflated fails with ERR_FERRY_SOURCE_CHANGED', async () => {
    const p = await file('grows.log', logText(2 * MiB, 2));
    const stream = createZipStream([{ kind: 'file', sourcePath: p, name: 'logs/grows.log' }], {
      level: 1,
      chunkSize: 64 * KiB,
    });
    let grown = false;
    const error = await expectStreamError(stream, () => {
      if (!grown) appendFileSync(p, 'one more line\n');
      grown = true;
    });
    expect(error.code).toBe('ERR_FERRY_SOURCE_CHANGED');
    expect(error.message).toContain('grows.log');
    expect(error.context.file).toBe('logs/grows.log');
    expect(zipStreamStats(stream)?.openFiles).toBe(0);
  });

  test('a file that shrinks while it is deflated fails with ERR_FERRY_SOURCE_CHANGED', async () => {
    const p = await file('shrinks.log', logText(2 * MiB, 4));
    const stream = createZipStream([{ kind: 'file', sourcePath: p, name: 'shrinks.log' }], {
      level: 1,
      chunkSize: 64 * KiB,
    });
    let cut = false;
    const error = await expectStreamError(stream, () => {
      if (!cut) truncateSync(p, MiB);
      cut = true;
    });
    expect(error.code).toBe('ERR_FERRY_SOURCE_CHANGED');
    expect(error.message).toMatch(/now ends after/);
  });

  test('a stored file whose bytes change after its CRC pass fails with ERR_FERRY_SOURCE_CHANGED', async () => {
    const p = await file('data.bin', randomBytes(2 * MiB));
    const stream = createZipStream([{ kind: 'file', sourcePath: p, name: 'data.bin' }], {
      level: 6,
      chunkSize: 64 * KiB,
    });
    let changed = false;
    const error = await expectStreamError(stream, () => {
      if (changed) return;
      changed = true;
      // Same size, different bytes near the end: only the CRC can tell.
      const fd = openSync(p, 'r+');
      writeSync(fd, randomBytes(1000), 0, 1000, 2 * MiB - 5000);
      closeSync(fd);
    });
    expect(error.code).toBe('ERR_FERRY_SOURCE_CHANGED');
    expect(error.message).toMatch(/CRC-32/);
  });

  test('a missing file fails with ERR_FERRY_SOURCE_UNREADABLE naming it', async () => {
    const missing = path.join(dir, 'src', 'nope.txt');
    const stream = createZipStream(
      [
        { kind: 'file', sourcePath: await file('ok.txt', 'fine'), name: 'ok.txt' },
        { kind: 'file', sourcePath: missing, name: 'sub/nope.txt' },
      ],
      { level: 6 },
    );
    const error = await expectStreamError(stream);
    expect(error.code).toBe('ERR_FERRY_SOURCE_UNREADABLE');
    expect(error.message).toContain('nope.txt');
    expect(error.message).toContain('ENOENT');
    expect(error.context.file).toBe('sub/nope.txt');
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  test('a source that is a directory fails with ERR_FERRY_INVALID_PATH', async () => {
    await mkdir(path.join(dir, 'src', 'adir'), { recursive: true });
    const stream = createZipStream(
      [{ kind: 'file', sourcePath: path.join(dir, 'src', 'adir'), name: 'adir' }],
      {
        level: 6,
      },
    );
    const error = await expectStreamError(stream);
    expect(error.code).toBe('ERR_FERRY_INVALID_PATH');
    expect(zipStreamStats(stream)?.openFiles).toBe(0);
  });

  test('aborting mid-way destroys the stream with an abort error and closes the file', async () => {
    const p = await file('long.log', Buffer.concat(new Array<Buffer>(16).fill(logText(MiB, 6))));
    const controller = new AbortController();
    const stream = createZipStream([{ kind: 'file', sourcePath: p, name: 'long.log' }], {
      level: 6,
      chunkSize: 128 * KiB,
      signal: controller.signal,
    });
    const closed = new Promise<void>((resolve) => stream.once('close', resolve));
    let received = 0;
    const error = await expectStreamError(stream, (chunk) => {
      received += chunk.length;
      if (received > 0) controller.abort(new Error('user cancelled'));
    });
    await closed;
    expect(error.code).toBe('ERR_FERRY_ABORTED');
    expect(error.name).toBe('AbortError');
    expect(stream.destroyed).toBe(true);
    const stats = zipStreamStats(stream);
    expect(stats?.openFiles).toBe(0);
    expect(stats?.bytesEmitted).toBeLessThan(4 * MiB);
  });

  test('an already aborted signal fails the stream before anything is read', async () => {
    const stream = createZipStream([{ kind: 'file', sourcePath: await file('x.txt', 'x'), name: 'x.txt' }], {
      level: 6,
      signal: AbortSignal.abort(),
    });
    const error = await expectStreamError(stream);
    expect(error.code).toBe('ERR_FERRY_ABORTED');
    expect(zipStreamStats(stream)).toMatchObject({ openFiles: 0, maxOpenFiles: 0, bytesEmitted: 0 });
  });

  test('destroying the stream from the consumer side closes the file', async () => {
    const p = await file('long.bin', randomBytes(8 * MiB));
    const stream = createZipStream([{ kind: 'file', sourcePath: p, name: 'long.bin' }], {
      level: 6,
      chunkSize: 64 * KiB,
    });
    await new Promise<void>((resolve) => stream.once('readable', resolve));
    stream.read();
    stream.destroy();
    await new Promise<void>((resolve) => stream.once('close', resolve));
    expect(zipStreamStats(stream)?.openFiles).toBe(0);
  });

  test('invalid options and names are rejected synchronously with the option or name', () => {
    const f = (name: string): ZipInput[] => [{ kind: 'file', sourcePath: '/dev/null', name }];
    expect(syncError(() => createZipStream([], { level: 10 })).code).toBe('ERR_FERRY_INVALID_OPTION');
    expect(syncError(() => createZipStream([], { level: 6, chunkSize: 10 })).message).toMatch(/chunkSize/);
    expect(syncError(() => createZipStream([], { level: 6, concurrency: 0 })).message).toMatch(/concurrency/);
    expect(
      syncError(() => createZipStream([], { level: 6, compression: 1 } as unknown as ZipWriterOptions))
        .message,
    ).toMatch(/'compression' is unknown/);
    for (const bad of ['', '/abs', '../up', 'a/../b', 'a//b', './a', 'a\\b', 'C:/x', 'nul\0byte', 'dir/']) {
      const error = syncError(() => createZipStream(f(bad), { level: 6 }));
      expect(error.code).toBe('ERR_FERRY_INVALID_PATH');
    }
    expect(syncError(() => createZipStream([{ kind: 'directory', name: '/' }], { level: 6 })).code).toBe(
      'ERR_FERRY_INVALID_PATH',
    );
    expect(
      syncError(() =>
        createZipStream([{ kind: 'file', sourcePath: '/x', name: 'x', mode: -1 }], { level: 6 }),
      ).message,
    ).toMatch(/inputs\[0\]\.mode/);
  });
});

describe('createZipStream: backpressure', () => {
  test('a 64 MiB file piped into a slow consumer never has more than `concurrency` pieces read ahead', async () => {
    const chunkSize = 512 * KiB;
    const p = path.join(dir, 'big.log');
    const fd = openSync(p, 'w');
    const block = logText(MiB, 9);
    for (let i = 0; i < 64; i++) writeSync(fd, block);
    closeSync(fd);
    const stream = createZipStream([{ kind: 'file', sourcePath: p, name: 'big.log' }], {
      level: 1,
      chunkSize,
      concurrency: 2,
    });
    let maxBuffered = 0;
    let received = 0;
    const slow = new Writable({
      highWaterMark: 64 * KiB,
      write(chunk: Buffer, _encoding, callback) {
        received += chunk.length;
        maxBuffered = Math.max(maxBuffered, stream.readableLength);
        setTimeout(callback, 2);
      },
    });
    await pipeline(stream, slow);
    const stats = zipStreamStats(stream);
    expect(stats?.maxPiecesInFlight).toBe(2);
    expect(stats?.maxOpenFiles).toBe(1);
    expect(stats?.bytesEmitted).toBe(received);
    // The stream buffers about one piece (its highWaterMark is chunkSize).
    expect(maxBuffered).toBeLessThanOrEqual(2 * chunkSize);
  });

  test('a paused consumer stops reading and compressing', async () => {
    const chunkSize = 256 * KiB;
    const p = await file('paused.log', Buffer.concat(new Array<Buffer>(16).fill(logText(MiB, 10))));
    const stream = createZipStream([{ kind: 'file', sourcePath: p, name: 'paused.log' }], {
      level: 1,
      chunkSize,
      concurrency: 2,
    });
    await new Promise<void>((resolve) => stream.once('readable', resolve));
    stream.read(1);
    // Wait until the stream has filled its buffer (highWaterMark = chunkSize) and stopped pulling.
    for (let waited = 0; stream.readableLength < chunkSize && waited < 10_000; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(stream.readableLength).toBeGreaterThanOrEqual(chunkSize);
    const first = zipStreamStats(stream);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = zipStreamStats(stream);
    expect(second?.bytesEmitted).toBe(first?.bytesEmitted);
    expect(second?.piecesInFlight).toBeLessThanOrEqual(2);
    expect(second?.maxPiecesInFlight).toBeLessThanOrEqual(2);
    // Bounded by the stream's buffer plus the pieces in flight, far below the 16 MiB file.
    expect(second?.bytesEmitted).toBeLessThan(4 * chunkSize);
    stream.destroy();
    await new Promise<void>((resolve) => stream.once('close', resolve));
    expect(zipStreamStats(stream)?.openFiles).toBe(0);
  });
});

describe('zip headers', () => {
  const record = (over: Partial<EntryRecord>): EntryRecord => ({
    name: 'a.txt',
    nameBytes: Buffer.from('a.txt'),
    kind: 'file',
    mode: 0o644,
    dosTime: 0,
    dosDate: 33,
    method: 8,
    dataDescriptor: true,
    zip64Local: false,
    crc32: 0x12345678,
    compressedSize: 10,
    uncompressedSize: 20,
    localHeaderOffset: 0,
    ...over,
  });

  test('the central zip64 extra holds only the overflowing fields, in spec order', () => {
    const onlyOffset = centralDirectoryHeader(record({ localHeaderOffset: 5 * 2 ** 32 }));
    const extraAt = 46 + 5;
    expect(onlyOffset.readUInt16LE(30)).toBe(12);
    expect([onlyOffset.readUInt32LE(20), onlyOffset.readUInt32LE(24), onlyOffset.readUInt32LE(42)]).toEqual([
      10, 20, 0xffffffff,
    ]);
    expect([onlyOffset.readUInt16LE(extraAt), onlyOffset.readUInt16LE(extraAt + 2)]).toEqual([1, 8]);
    expect(Number(onlyOffset.readBigUInt64LE(extraAt + 4))).toBe(5 * 2 ** 32);
    expect(onlyOffset.readUInt16LE(6)).toBe(45);

    const sizes = centralDirectoryHeader(record({ uncompressedSize: 2 ** 33, compressedSize: 0xffffffff }));
    expect(sizes.readUInt16LE(extraAt + 2)).toBe(16);
    expect(Number(sizes.readBigUInt64LE(extraAt + 4))).toBe(2 ** 33);
    expect(Number(sizes.readBigUInt64LE(extraAt + 12))).toBe(0xffffffff);

    const plain = centralDirectoryHeader(record({}));
    expect(plain.length).toBe(46 + 5);
    expect(plain.readUInt16LE(4)).toBe((3 << 8) | 20);
    expect(plain.readUInt32LE(38)).toBe(externalAttributes('file', 0o644));
  });

  test('the end records switch to zip64 at 65535 entries or 4 GiB offsets', () => {
    expect(
      endOfCentralDirectory({ entries: 0xfffe, centralDirectoryOffset: 100, centralDirectorySize: 10 })
        .length,
    ).toBe(22);
    const many = endOfCentralDirectory({
      entries: 0xffff,
      centralDirectoryOffset: 100,
      centralDirectorySize: 10,
    });
    expect(many.length).toBe(56 + 20 + 22);
    expect(many.readUInt16LE(76 + 8)).toBe(0xffff);
    expect(many.readUInt32LE(76 + 16)).toBe(100);
    const far = endOfCentralDirectory({
      entries: 3,
      centralDirectoryOffset: 2 ** 32,
      centralDirectorySize: 10,
    });
    expect(Number(far.readBigUInt64LE(48))).toBe(2 ** 32);
    expect(Number(far.readBigUInt64LE(56 + 8))).toBe(2 ** 32 + 10);
    expect([far.readUInt16LE(76 + 8), far.readUInt32LE(76 + 12), far.readUInt32LE(76 + 16)]).toEqual([
      3, 10, 0xffffffff,
    ]);
  });

  test('DOS times are local, halved seconds, clamped to 1980-2107', () => {
    expect(dosDateTime(new Date(2024, 0, 31, 23, 59, 59))).toEqual({
      date: (44 << 9) | (1 << 5) | 31,
      time: (23 << 11) | (59 << 5) | 29,
    });
    expect(dosDateTime(new Date(1970, 0, 1))).toEqual({ date: (1 << 5) | 1, time: 0 });
    expect(dosDateTime(new Date(2200, 0, 1)).date).toBe((127 << 9) | (12 << 5) | 31);
  });

  test('the dictionary window keeps the last 32 KiB across small and large pieces', () => {
    const w = new DictionaryWindow();
    expect(w.current).toBeUndefined();
    const a = randomBytes(20 * KiB);
    const b = randomBytes(20 * KiB);
    w.push(a);
    expect(w.current?.equals(a)).toBe(true);
    w.push(b);
    expect(w.current?.equals(Buffer.concat([a, b]).subarray(-32 * KiB))).toBe(true);
    const c = randomBytes(100 * KiB);
    w.push(c);
    expect(w.current?.equals(c.subarray(-32 * KiB))).toBe(true);
  });
});

describe('createZipStream: many small files', () => {
  it('reads small files ahead, one open at a time, and still writes them in input order', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'ferry-zw-many-'));
    try {
      const inputs: ZipInput[] = [];
      for (let i = 0; i < 200; i++) {
        const name = `f${String(i).padStart(3, '0')}.txt`;
        await writeFile(path.join(dir, name), `file ${i}\n`.repeat(1 + (i % 40)));
        inputs.push({ kind: 'file', sourcePath: path.join(dir, name), name });
      }
      const stream = createZipStream(inputs, { level: 6 });
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      const zip = Buffer.concat(chunks);
      const stats = zipStreamStats(stream);
      expect(stats?.maxOpenFiles).toBe(1);
      expect(stats?.openFiles).toBe(0);
      const zipPath = path.join(dir, 'out.zip');
      await writeFile(zipPath, zip);
      const entries = await readCentralDirectory(zipPath);
      expect(entries.map((e) => e.name)).toEqual(inputs.map((i) => i.name));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
