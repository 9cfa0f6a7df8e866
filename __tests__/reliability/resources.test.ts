/**
 * Reliability plan §5 D: resource exhaustion (P35–P40, X07).
 *
 * Limits are only honest in a process of their own, so every case runs the library compiled
 * from the current src/ (helpers/built-lib.ts, as `npm run build` compiles lib/)
 * in a child process (children/resources-ops.mjs) under the limit it is about: `ulimit -n`,
 * `prlimit --nofile` after the modules are loaded, `ulimit -d` plus a small V8 heap, or a tiny
 * tmpfs in a private mount namespace. The child reports each operation's result or typed error,
 * the open descriptors it sampled from /proc/self/fd, and its peak RSS. A `ferry serve` in this
 * process (one port, both protocols) is the server unless a case uses the embedded local store;
 * its request log and a counting proxy count what the server saw.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  deleteArtifact,
  downloadArtifacts,
  listArtifacts,
  startServer,
  uploadArtifact,
  type RunningServer,
} from '../../src/index.js';
import { builtLibrary } from '../helpers/built-lib.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { waitFor } from '../helpers/loopback.js';
import { expectNoSecrets, SENTINEL } from './invariants.js';
import { largestStoredBlob, openStoredBlob } from '../helpers/stored-blob.js';

const execFileP = promisify(execFile);
const CHILD = path.resolve('__tests__/reliability/children/resources-ops.mjs');
const MIB = 1024 * 1024;
/** A runtime token whose signature is the sentinel: it must never show up in any output. */
const TOKEN = (() => {
  const [header, payload] = runtimeJwt('run-resources', 'job-resources').split('.');
  return `${header}.${payload}.${SENTINEL.tokenSignature}`;
})();
/** Fast retries: a case that retries at all shows it in the request count, not in the runtime. */
const RETRY = { baseDelayMs: 1, maxDelayMs: 5 };

let work: string;
/** index.js of the library compiled from the current src/ (never a possibly stale lib/). */
let library: string;
let server: RunningServer;
const serverLog: string[] = [];
const timings: Record<string, number> = {};

const resultsOptions = (): Record<string, unknown> => ({
  resultsUrl: server.url,
  runtimeToken: TOKEN,
  retry: RETRY,
});
const legacyOptions = (): Record<string, unknown> => ({
  runtimeUrl: server.url,
  runtimeToken: TOKEN,
  retry: RETRY,
});

// ---------------------------------------------------------------------------------------------
// The child process

interface ChildError {
  name?: string;
  code?: string;
  message: string;
  retryable?: boolean;
  context?: Record<string, unknown>;
  causeCode?: string;
  isFerryError: boolean;
  rendered: string;
}

interface OpResult {
  op: string;
  ok: boolean;
  value?: {
    fileCount?: number;
    size?: number;
    digest?: string;
    count?: number;
    tree?: Record<string, string>;
  };
  error?: ChildError;
  ms: number;
  fdsAtStart: number;
  fdsAtEnd: number;
}

interface ChildReport {
  results: OpResult[];
  peakFds: number;
  fdsBefore: number;
  fdsAfter: number;
  maxRssMiB: number;
  stdout: string;
  stderr: string;
}

type Op =
  | { op: 'upload'; name: string; dir: string; options?: Record<string, unknown> }
  | { op: 'download'; name: string; path: string; options?: Record<string, unknown> }
  | { op: 'tree'; dir: string };

interface Launch {
  /** Shell lines run by bash before it execs node, e.g. `ulimit -n 256`. */
  setup?: string;
  /** Runs bash under this command, e.g. `['unshare', '-m']` for a private mount namespace. */
  wrapper?: string[];
  nodeArgs?: string[];
  /** Lowers RLIMIT_NOFILE to this (prlimit) once the child has loaded the library. */
  nofileAfterLoad?: number;
  timeoutMs?: number;
}

/** Runs the child with `ops` under `launch`'s limits and returns its report. */
function runChild(ops: Op[], launch: Launch = {}): Promise<ChildReport> {
  const spec = JSON.stringify({ ops, waitForGo: launch.nofileAfterLoad !== undefined });
  const script = `${launch.setup ?? ''}\nexec "$@"`;
  const argv = [
    ...(launch.wrapper ?? []),
    'bash',
    '-c',
    script,
    'ferry-child',
    process.execPath,
    ...(launch.nodeArgs ?? []),
    CHILD,
    spec,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: work, LANG: 'C', FERRY_LIBRARY: library },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let released = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`child timed out after ${launch.timeoutMs ?? 120_000} ms; stderr: ${stderr.slice(-2000)}`),
      );
    }, launch.timeoutMs ?? 120_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!released && launch.nofileAfterLoad !== undefined && stdout.startsWith('READY\n')) {
        released = true;
        const limit = launch.nofileAfterLoad;
        execFile('prlimit', ['--pid', String(child.pid), `--nofile=${limit}:${limit}`], (error) => {
          if (error) {
            child.kill('SIGKILL');
            reject(new Error(`prlimit failed (util-linux is needed for P38): ${error.message}`));
            return;
          }
          child.stdin.end('go\n');
        });
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .at(-1);
      if (code !== 0 || line === undefined) {
        reject(new Error(`child exited with ${String(code)}; stderr: ${stderr.slice(-3000)}`));
        return;
      }
      resolve({ ...(JSON.parse(line) as Omit<ChildReport, 'stdout' | 'stderr'>), stdout, stderr });
    });
  });
}

/** The op's result, failing with the child's error when it did not succeed. */
function succeeded(report: ChildReport, index: number): NonNullable<OpResult['value']> {
  const result = report.results[index];
  if (!result) throw new Error(`no result ${index}`);
  if (!result.ok) throw new Error(`${result.op} failed: ${JSON.stringify(result.error)}`);
  return result.value ?? {};
}

function failed(report: ChildReport, index: number): ChildError {
  const result = report.results[index];
  if (!result) throw new Error(`no result ${index}`);
  if (result.ok || !result.error) throw new Error(`${result.op} succeeded but should have failed`);
  return result.error;
}

/** No sentinel in anything the child printed or in any rendering of its errors (I6). */
function expectChildClean(report: ChildReport): void {
  expectNoSecrets(report.stdout, report.stderr, ...report.results.map((r) => r.error?.rendered ?? ''));
}

// ---------------------------------------------------------------------------------------------
// Files and checks

async function writeTinyFiles(root: string, dirs: number, perDir: number, first = 0): Promise<void> {
  for (let d = first; d < first + dirs; d++) {
    const dir = path.join(root, `d${d}`);
    await mkdir(dir, { recursive: true });
    const writes: Promise<void>[] = [];
    for (let i = 0; i < perDir; i++) writes.push(writeFile(path.join(dir, `f${i}.txt`), String(i % 10)));
    await Promise.all(writes);
  }
}

/** Every regular file under `dir` (relative, '/'-separated). */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return (
    entries
      .filter((e) => e.isFile())
      // `parentPath` from Node 20.12, `path` before.
      .map((e) => {
        const parent = (e as { parentPath?: string }).parentPath ?? (e as { path?: string }).path ?? dir;
        return path.relative(dir, path.join(parent, e.name)).split(path.sep).join('/');
      })
      .sort()
  );
}

/** Runs `work` on every item, `width` at a time (tens of thousands of files, checked quickly). */
async function eachLimited<T>(
  items: readonly T[],
  width: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

/** True when both files hold the same bytes (streamed; fine for files of several GiB). */
async function sameBytes(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a), stat(b)]);
  if (sa.size !== sb.size) return false;
  if (sa.size <= 8 * MIB) {
    const [da, db] = await Promise.all([readFile(a), readFile(b)]);
    return da.equals(db);
  }
  const [ha, hb] = await Promise.all([open(a, 'r'), open(b, 'r')]);
  try {
    const ba = Buffer.allocUnsafe(8 * MIB);
    const bb = Buffer.allocUnsafe(8 * MIB);
    for (let offset = 0; offset < sa.size;) {
      const [ra, rb] = await Promise.all([
        ha.read(ba, 0, ba.length, offset),
        hb.read(bb, 0, bb.length, offset),
      ]);
      if (ra.bytesRead !== rb.bytesRead || ra.bytesRead === 0) return false;
      if (!ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
      offset += ra.bytesRead;
    }
    return true;
  } finally {
    await Promise.all([ha.close(), hb.close()]);
  }
}

async function sameTree(source: string, copy: string): Promise<void> {
  const files = await listFiles(source);
  expect(await listFiles(copy)).toEqual(files);
  await eachLimited(files, 16, async (file) => {
    if (!(await sameBytes(path.join(source, file), path.join(copy, file)))) {
      throw new Error(`${file} differs after the round trip`);
    }
  });
}

/** Requests in the server log matching `pattern` (method and path; queries are never logged). */
const logged = (pattern: RegExp): string[] => serverLog.filter((line) => pattern.test(line));

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  library = await builtLibrary();
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-resources-'));
  server = await startServer({
    dataDir: path.join(work, 'server'),
    token: TOKEN,
    log: (line) => serverLog.push(line),
  });
});

afterAll(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
  // The runtimes the suite budget is judged by (whole file ≤ 4 min on an idle 2-core machine).
  console.log(`resources.test.ts timings (ms): ${JSON.stringify(timings)}`);
}, 120_000);

beforeEach(() => {
  serverLog.length = 0;
});

// ---------------------------------------------------------------------------------------------

describe('P35: tens of thousands of small files under ulimit -n 256', () => {
  let src: string;
  beforeAll(async () => {
    // 50 directories × 1,000 one-byte files; the first 10 directories are the legacy set.
    src = path.join(work, 'p35', 'src');
    await writeTinyFiles(path.join(src, 'first'), 10, 1000, 0);
    await writeTinyFiles(path.join(src, 'rest'), 40, 1000, 10);
  }, 120_000);

  test('[P35] 50,000 one-byte files up and down through the embedded local store (results protocol), peak fds ≤ 64', async () => {
    const started = Date.now();
    const store = path.join(work, 'p35', 'store');
    const out = path.join(work, 'p35', 'out-results');
    const report = await runChild(
      [
        { op: 'upload', name: 'tiny-files', dir: src, options: { localStore: store } },
        { op: 'download', name: 'tiny-files', path: out, options: { localStore: store } },
      ],
      { setup: 'ulimit -n 256', timeoutMs: 240_000 },
    );
    timings['P35 results 50k'] = Date.now() - started;
    const up = succeeded(report, 0);
    const down = succeeded(report, 1);
    expect(up.fileCount).toBe(50_000);
    expect(up.size).toBe(50_000);
    expect(down.fileCount).toBe(50_000);
    expect(down.digest).toBe(up.digest);
    // The official extractor needs ~0.4 fds per entry; Ferry's stay flat (client and the
    // embedded server share this process, and each fd the child opened counts).
    expect(report.peakFds).toBeLessThanOrEqual(64);
    const files = await listFiles(out);
    expect(files).toHaveLength(50_000);
    const wrong: string[] = [];
    await eachLimited(files, 64, async (file) => {
      const index = Number(/f(\d+)\.txt$/.exec(file)?.[1]);
      if ((await readFile(path.join(out, file), 'utf8')) !== String(index % 10)) wrong.push(file);
    });
    expect(wrong).toEqual([]);
    expectChildClean(report);
    console.log(`P35 results: peak fds ${report.peakFds}, peak RSS ${report.maxRssMiB.toFixed(0)} MiB`);
  }, 300_000);

  test('[P35] 10,000 one-byte files up and down over the legacy protocol under ulimit -n 256, peak fds ≤ 64', async () => {
    const started = Date.now();
    const dir = path.join(src, 'first');
    const out = path.join(work, 'p35', 'out-legacy');
    const report = await runChild(
      [
        { op: 'upload', name: 'tiny-legacy', dir, options: legacyOptions() },
        { op: 'download', name: 'tiny-legacy', path: out, options: legacyOptions() },
      ],
      { setup: 'ulimit -n 256', timeoutMs: 240_000 },
    );
    timings['P35 legacy 10k'] = Date.now() - started;
    expect(succeeded(report, 0).fileCount).toBe(10_000);
    expect(succeeded(report, 1).fileCount).toBe(10_000);
    expect(report.peakFds).toBeLessThanOrEqual(64);
    // One PUT per file and exactly one finalize.
    expect(logged(/^PATCH /)).toHaveLength(1);
    await sameTree(dir, out);
    expectChildClean(report);
    console.log(`P35 legacy: peak fds ${report.peakFds}, peak RSS ${report.maxRssMiB.toFixed(0)} MiB`);
  }, 300_000);
});

describe('P35: memory grows with the work, not with the number of files (issue 12 item 5)', () => {
  const SMALL = 5_000;
  const LARGE = 20_000;
  /**
   * Peak RSS growth allowed per extra one-byte file, per operation. Measured on 2026-12-03:
   * upload ~1.9 KiB, download ~2.2 KiB per file (the caller's path list, the upload's file list
   * and the results download's per-entry state; see docs/benchmarks.md). A guard against
   * per-file costs creeping back, with room for a busy machine's noise; the 200 MiB at 100,000
   * files target itself is measured by the bench (`--files 100000`).
   */
  const BYTES_PER_FILE = 3 * 1024;
  let root: string;
  beforeAll(async () => {
    root = path.join(work, 'p35-growth');
    await writeTinyFiles(path.join(root, 'small'), SMALL / 1000, 1000, 0);
    await writeTinyFiles(path.join(root, 'large'), LARGE / 1000, 1000, 0);
  }, 120_000);
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /**
   * Uploads `count` files in one child and downloads them in another (client and embedded store
   * in each), so each operation's peak RSS is its own.
   */
  const peaksFor = async (count: number): Promise<{ upload: number; download: number }> => {
    const dir = path.join(root, count === SMALL ? 'small' : 'large');
    const options = { localStore: path.join(root, `store-${count}`) };
    const up = await runChild([{ op: 'upload', name: 'growth', dir, options }], { timeoutMs: 240_000 });
    expect(succeeded(up, 0).fileCount).toBe(count);
    expectChildClean(up);
    const out = path.join(root, `out-${count}`);
    const down = await runChild([{ op: 'download', name: 'growth', path: out, options }], {
      timeoutMs: 240_000,
    });
    expect(succeeded(down, 0).fileCount).toBe(count);
    expectChildClean(down);
    await rm(out, { recursive: true, force: true });
    return { upload: up.maxRssMiB, download: down.maxRssMiB };
  };

  // The legacy protocol is measured by the bench (`--files`, an embedded `ferry serve`): 20,000
  // files through it take minutes on a busy 2-core machine, too long for this suite.
  test('[P35] results, embedded store: peak RSS of upload and of download grows by less than 3 KiB per file from 5,000 to 20,000 files', async () => {
    const started = Date.now();
    const small = await peaksFor(SMALL);
    const large = await peaksFor(LARGE);
    timings['P35 growth results'] = Date.now() - started;
    const perFile = (op: 'upload' | 'download'): number => ((large[op] - small[op]) * MIB) / (LARGE - SMALL);
    for (const op of ['upload', 'download'] as const) {
      console.log(
        `P35 growth results ${op}: peak RSS ${small[op].toFixed(0)} MiB at ${SMALL} files, ${large[op].toFixed(0)} MiB at ${LARGE}: ${perFile(op).toFixed(0)} B/file`,
      );
    }
    expect(perFile('upload')).toBeLessThan(BYTES_PER_FILE);
    expect(perFile('download')).toBeLessThan(BYTES_PER_FILE);
  }, 480_000);
});

// ---------------------------------------------------------------------------------------------

/** The central directory record of a single-entry zip, read through its ZIP64 end records. */
interface Zip64Summary {
  eocdCentralDirectoryOffset: number;
  zip64CentralDirectoryOffset: bigint;
  entries: bigint;
  name: string;
  method: number;
  compressedSize: bigint;
  uncompressedSize: bigint;
  localHeaderOffset: bigint;
  localHeaderSignature: number;
}

async function readZip64(dataDir: string, blobId: string): Promise<Zip64Summary> {
  // The blob is read where the server keeps it: one file, or the blocks of a committed block list.
  const handle = await openStoredBlob(dataDir, blobId);
  try {
    const size = handle.size;
    const tailLength = Math.min(size, 66 * 1024);
    const tail = Buffer.alloc(tailLength);
    await handle.read(tail, 0, tailLength, size - tailLength);
    const eocd = tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    if (eocd < 20) throw new Error('no end of central directory record');
    const locator = eocd - 20;
    if (tail.readUInt32LE(locator) !== 0x07064b50)
      throw new Error('no ZIP64 end of central directory locator');
    const zip64EocdOffset = tail.readBigUInt64LE(locator + 8);
    const record = Buffer.alloc(56);
    await handle.read(record, 0, 56, Number(zip64EocdOffset));
    if (record.readUInt32LE(0) !== 0x06064b50) throw new Error('no ZIP64 end of central directory record');
    const entries = record.readBigUInt64LE(32);
    const cdOffset = record.readBigUInt64LE(48);
    const header = Buffer.alloc(46 + 1024);
    await handle.read(header, 0, header.length, Number(cdOffset));
    if (header.readUInt32LE(0) !== 0x02014b50) throw new Error('no central directory header');
    const nameLength = header.readUInt16LE(28);
    const extraLength = header.readUInt16LE(30);
    const name = header.toString('utf8', 46, 46 + nameLength);
    let compressed = BigInt(header.readUInt32LE(20));
    let uncompressed = BigInt(header.readUInt32LE(24));
    let localOffset = BigInt(header.readUInt32LE(42));
    // The ZIP64 extra field holds, in this order, each value whose 32-bit field is 0xFFFFFFFF.
    for (let at = 46 + nameLength; at + 4 <= 46 + nameLength + extraLength;) {
      const id = header.readUInt16LE(at);
      const length = header.readUInt16LE(at + 2);
      if (id === 0x0001) {
        let field = at + 4;
        if (uncompressed === 0xffffffffn) {
          uncompressed = header.readBigUInt64LE(field);
          field += 8;
        }
        if (compressed === 0xffffffffn) {
          compressed = header.readBigUInt64LE(field);
          field += 8;
        }
        if (localOffset === 0xffffffffn) localOffset = header.readBigUInt64LE(field);
      }
      at += 4 + length;
    }
    const local = Buffer.alloc(4);
    await handle.read(local, 0, 4, Number(localOffset));
    return {
      eocdCentralDirectoryOffset: tail.readUInt32LE(eocd + 16),
      zip64CentralDirectoryOffset: cdOffset,
      entries,
      name,
      method: header.readUInt16LE(10),
      compressedSize: compressed,
      uncompressedSize: uncompressed,
      localHeaderOffset: localOffset,
      localHeaderSignature: local.readUInt32LE(0),
    };
  } finally {
    await handle.close();
  }
}

describe('P36: a single file larger than 4 GiB', () => {
  test('[P36] a 4160 MiB sparse file round-trips with compression level 0: ZIP64 records right, bytes identical, client RSS bounded', async () => {
    const started = Date.now();
    const SIZE = 4160 * MIB; // > 4 GiB: the sizes and the central directory offset need ZIP64
    const src = path.join(work, 'p36', 'src');
    const out = path.join(work, 'p36', 'out');
    await mkdir(src, { recursive: true });
    const file = path.join(src, 'huge.bin');
    const handle = await open(file, 'w');
    try {
      await handle.truncate(SIZE);
      // Random bytes at the start, straddling the 4 GiB boundary, and at the end; holes elsewhere.
      for (const offset of [0, 4096 * MIB - 512 * 1024, SIZE - MIB])
        await handle.write(randomBytes(MIB), 0, MIB, offset);
    } finally {
      await handle.close();
    }
    try {
      // ferry serve here (the server the local store embeds) and the client in the child run on
      // separate cores; the child's RSS is then the SDK's alone.
      const report = await runChild(
        [
          { op: 'upload', name: 'huge', dir: src, options: { ...resultsOptions(), compressionLevel: 0 } },
          { op: 'download', name: 'huge', path: out, options: resultsOptions() },
        ],
        { timeoutMs: 600_000 },
      );
      const up = succeeded(report, 0);
      const down = succeeded(report, 1);
      expect(up).toMatchObject({ fileCount: 1, size: SIZE });
      expect(down).toMatchObject({ fileCount: 1, size: SIZE, digest: up.digest });
      expect(report.maxRssMiB).toBeLessThan(256);

      const serverData = path.join(work, 'server');
      const zip = await readZip64(serverData, await largestStoredBlob(serverData));
      expect(zip).toMatchObject({
        eocdCentralDirectoryOffset: 0xffffffff,
        entries: 1n,
        name: 'huge.bin',
        method: 0,
        compressedSize: BigInt(SIZE),
        uncompressedSize: BigInt(SIZE),
        localHeaderOffset: 0n,
        localHeaderSignature: 0x04034b50,
      });
      expect(zip.zip64CentralDirectoryOffset).toBeGreaterThan(BigInt(SIZE));
      expect(await sameBytes(file, path.join(out, 'huge.bin'))).toBe(true);
      expectChildClean(report);
      console.log(
        `P36: upload ${report.results[0]?.ms} ms, download ${report.results[1]?.ms} ms, client peak RSS ${report.maxRssMiB.toFixed(0)} MiB`,
      );
    } finally {
      // ~12 GiB of data in total: gone before the next case.
      await rm(path.join(work, 'p36'), { recursive: true, force: true });
      await deleteArtifact('huge', resultsOptions()).catch(() => undefined);
      timings['P36 4160 MiB'] = Date.now() - started;
    }
  }, 900_000);
});

// ---------------------------------------------------------------------------------------------

/**
 * How to mount a 1 MiB tmpfs that only the child sees: a private mount namespace as root, as a
 * mapped root in a user namespace, or through passwordless sudo (GitHub-hosted runners).
 */
async function tmpfsWrapper(probeDir: string): Promise<{ wrapper: string[] } | { reason: string }> {
  const candidates = [
    ['unshare', '-m'],
    ['unshare', '-rm'],
    ['sudo', '-n', 'unshare', '-m'],
  ];
  const reasons: string[] = [];
  await mkdir(probeDir, { recursive: true });
  for (const wrapper of candidates) {
    try {
      await execFileP(wrapper[0] as string, [
        ...wrapper.slice(1),
        'sh',
        '-c',
        'mount -t tmpfs -o size=1m tmpfs "$0" && umount "$0"',
        probeDir,
      ]);
      return { wrapper };
    } catch (error: unknown) {
      reasons.push(`${wrapper.join(' ')}: ${(error as Error).message.split('\n')[0] ?? ''}`);
    }
  }
  return { reason: reasons.join('; ') };
}

describe('P37: disk full during download (1 MiB tmpfs)', () => {
  let method: { wrapper: string[] } | { reason: string };
  let src: string;
  beforeAll(async () => {
    method = await tmpfsWrapper(path.join(work, 'p37', 'probe'));
    src = path.join(work, 'p37', 'src');
    await mkdir(src, { recursive: true });
    await writeFile(path.join(src, 'a.bin'), randomBytes(3 * MIB));
    await writeFile(path.join(src, 'b.txt'), 'small\n');
    const files = [path.join(src, 'a.bin'), path.join(src, 'b.txt')];
    await uploadArtifact('full-disk', files, src, resultsOptions());
    await uploadArtifact('full-disk', files, src, legacyOptions());
    // 600 small files of 9-12 KiB (~6 MiB): the first 256 take 3 MiB of a 4 MiB tmpfs, and past
    // them the zip reader hands the files to its worker thread (pack/zip/small-entry-batches.ts),
    // so the disk fills up inside the worker.
    const many = path.join(work, 'p37', 'many');
    await mkdir(many, { recursive: true });
    const names = Array.from({ length: 600 }, (_, i) => path.join(many, `f${i}.bin`));
    await Promise.all(names.map((file, i) => writeFile(file, randomBytes(9 * 1024 + (i % 3072)))));
    await uploadArtifact('full-disk-many', names, many, resultsOptions());
  });

  /**
   * Mounts the tmpfs at `mnt` in a private namespace, fills it with a target holding one file
   * and a sentinel directory beside it, and downloads into it.
   */
  async function downloadOntoTmpfs(
    options: Record<string, unknown>,
    tempOnTmpfs: boolean,
    /** Download to a target on the ordinary disk instead of into the tmpfs. */
    targetElsewhere?: string,
    name = 'full-disk',
    sizeMiB = 1,
  ): Promise<ChildReport> {
    if ('reason' in method) {
      throw new Error(
        `P37 cannot run here: no way to mount a small tmpfs (${method.reason}). Run as root, allow unprivileged user namespaces, or give passwordless sudo.`,
      );
    }
    const mnt = path.join(work, 'p37', `mnt-${Math.random().toString(36).slice(2)}`);
    await mkdir(mnt, { recursive: true });
    const target = path.join(mnt, 'target');
    const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
    const setup = [
      `mount -t tmpfs -o size=${sizeMiB}m tmpfs ${q(mnt)}`,
      `mkdir -p ${q(path.join(target, 'sub'))} ${q(path.join(mnt, 'outside'))} ${q(path.join(mnt, 'tmp'))}`,
      `printf keep > ${q(path.join(target, 'keep.txt'))}`,
      `printf sentinel > ${q(path.join(mnt, 'outside', 'sentinel.txt'))}`,
    ].join(' && ');
    const tempDir = tempOnTmpfs ? path.join(mnt, 'tmp') : path.join(work, 'p37', 'tmp');
    return runChild(
      [
        { op: 'tree', dir: mnt },
        {
          op: 'download',
          name,
          path: targetElsewhere ?? target,
          options: { ...options, tempDir },
        },
        { op: 'tree', dir: mnt },
      ],
      { wrapper: method.wrapper, setup: `${setup} || exit 97`, timeoutMs: 60_000 },
    );
  }

  function expectNoSpaceError(report: ChildReport, name = 'full-disk'): void {
    const error = failed(report, 1);
    expect(error).toMatchObject({ isFerryError: true, code: 'ERR_FERRY_NO_SPACE', retryable: false });
    expect(error.context).toMatchObject({ operation: 'download', artifactName: name });
    // Needed and free bytes, and what to do.
    expect(error.message).toMatch(
      // Which file meets the full disk first is a race: the 3 MiB one, or a 6-byte one beside it.
      /Not enough disk space in \S+ \(ENOSPC\); \d+ bytes (\([\d.]+ \w+\) )?to write, \d+ bytes/,
    );
    expect(error.message).toMatch(
      /Free some space, or point the download path or 'tempDir' at a larger file system/,
    );
    // Target, sentinel and temp directory byte for byte as before: no staging or temp file left.
    const before = succeeded(report, 0).tree;
    const after = succeeded(report, 2).tree;
    expect(after).toEqual(before);
    expect(Object.keys(after ?? {}).some((k) => k.includes('.ferry-'))).toBe(false);
    expectChildClean(report);
  }

  test('[P37] results protocol, ENOSPC while extracting into the target: typed, not retried, target unchanged', async () => {
    const report = await downloadOntoTmpfs(resultsOptions(), false);
    expectNoSpaceError(report);
    // One blob GET: the full disk was not mistaken for a broken connection and retried.
    expect(logged(/^GET \/\S*artifacts\/[0-9a-f]{32} /)).toHaveLength(1);
    expect(await readdir(path.join(work, 'p37', 'tmp')).catch(() => [])).toEqual([]);
  });

  test('[P37] results protocol, 600 small files on a 4 MiB tmpfs: ENOSPC inside the thread writing them is typed, not retried, target unchanged', async () => {
    const report = await downloadOntoTmpfs(resultsOptions(), false, undefined, 'full-disk-many', 4);
    expectNoSpaceError(report, 'full-disk-many');
    expect(logged(/^GET \/\S*artifacts\/[0-9a-f]{32} /)).toHaveLength(1);
  });

  test('[P37] results protocol, the temporary directory on a full 1 MiB tmpfs: the one pass never writes the zip there, the 3 MiB artifact lands', async () => {
    // The one pass writes each byte once, into the target's staging: a tempDir with no room is
    // never touched (the temp-file path it replaced wrote the whole zip there first and failed).
    const elsewhere = path.join(work, 'p37', `outside-${Math.random().toString(36).slice(2)}`);
    const report = await downloadOntoTmpfs(resultsOptions(), true, elsewhere);
    expect(succeeded(report, 1).fileCount).toBe(2);
    expect(succeeded(report, 2).tree).toEqual(succeeded(report, 0).tree);
    await sameTree(src, elsewhere);
    expect(logged(/^GET \/\S*artifacts\/[0-9a-f]{32} /)).toHaveLength(1);
    expectChildClean(report);
  });

  test('[P37] legacy protocol, ENOSPC while writing a file: typed, not retried, target unchanged', async () => {
    const report = await downloadOntoTmpfs(legacyOptions(), false);
    expectNoSpaceError(report);
    // The container listing plus at most one GET per file: no retry of the failed file.
    const gets = logged(/^GET \/_apis\/resources\/Containers\//);
    expect(gets.length).toBeGreaterThanOrEqual(2);
    expect(gets.length).toBeLessThanOrEqual(3);
  });
});

// ---------------------------------------------------------------------------------------------

describe('P38: the file-descriptor limit is hit (prlimit --nofile 32)', () => {
  let src: string;
  /** Files over 64 KiB: smaller zip entries are written one at a time (pack/small-files.ts). */
  let srcLarge: string;
  beforeAll(async () => {
    src = path.join(work, 'p38', 'src');
    srcLarge = path.join(work, 'p38', 'src-large');
    await mkdir(src, { recursive: true });
    await mkdir(srcLarge, { recursive: true });
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        writeFile(path.join(src, `f${i}.txt`), `file ${i}\n`.repeat(i + 1)),
      ),
    );
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        writeFile(path.join(srcLarge, `f${i}.txt`), `file ${i}\n`.repeat(8000 + i)),
      ),
    );
  });

  function expectTooManyOpenFiles(
    report: ChildReport,
    index: number,
    artifact: string,
    operation: string,
    limit = 32,
  ): void {
    const error = failed(report, index);
    expect(error).toMatchObject({
      isFerryError: true,
      code: 'ERR_FERRY_TOO_MANY_OPEN_FILES',
      retryable: false,
    });
    expect(error.context).toMatchObject({ operation, artifactName: artifact });
    expect(error.message).toContain(`limit of ${limit} open file descriptors (EMFILE, 'ulimit -n')`);
    expect(error.message).toMatch(/Lower the concurrency \(option 'concurrency' or --concurrency/);
  }

  test('[P38] legacy upload and download at concurrency 32: a clear error naming concurrency, twice alike, no handle leaked, concurrency 2 then succeeds', async () => {
    const started = Date.now();
    const out = (n: number): string => path.join(work, 'p38', `legacy-out-${n}`);
    const wide = { ...legacyOptions(), concurrency: 32 };
    const narrow = { ...legacyOptions(), concurrency: 2 };
    const report = await runChild(
      [
        { op: 'upload', name: 'fd-legacy', dir: src, options: wide },
        { op: 'upload', name: 'fd-legacy', dir: src, options: wide },
        // Another name: the legacy service keeps the half-written container of the failed attempts.
        { op: 'upload', name: 'fd-legacy-2', dir: src, options: narrow },
        { op: 'download', name: 'fd-legacy-2', path: out(1), options: wide },
        { op: 'download', name: 'fd-legacy-2', path: out(2), options: wide },
        { op: 'download', name: 'fd-legacy-2', path: out(3), options: narrow },
      ],
      { nofileAfterLoad: 32, timeoutMs: 120_000 },
    );
    timings['P38 legacy'] = Date.now() - started;
    expectTooManyOpenFiles(report, 0, 'fd-legacy', 'upload');
    expectTooManyOpenFiles(report, 1, 'fd-legacy', 'upload');
    expect(succeeded(report, 2).fileCount).toBe(300);
    expectTooManyOpenFiles(report, 3, 'fd-legacy-2', 'download');
    expectTooManyOpenFiles(report, 4, 'fd-legacy-2', 'download');
    expect(succeeded(report, 5).fileCount).toBe(300);
    // Every operation gives back every descriptor it opened, failed or not.
    for (const result of report.results) expect(result.fdsAtEnd).toBe(result.fdsAtStart);
    // Only the upload that succeeded was finalized.
    expect(logged(/^PATCH /)).toHaveLength(1);
    // The failed downloads left nothing behind: not even the target directory they created.
    for (const n of [1, 2]) expect(existsSync(out(n))).toBe(false);
    await sameTree(src, out(3));
    expectChildClean(report);
  }, 180_000);

  /*
   * The results download runs in one pass (issue 12): entries stream into the staging one at a
   * time whatever the concurrency, so it holds a handful of descriptors (the socket, the zip's
   * temporary copy, the target and staging directories, the entry being written) where the
   * temp-file path extracted `concurrency` files at once and ran out at 32. The first child shows
   * that at concurrency 32 under the limit of 32 it now succeeds; the second lowers the limit
   * to two above what the child holds when it starts, so that even the one pass runs out, and
   * the guarantee is the same as before: a typed error naming the limit, twice alike, no handle
   * leaked, the target byte for byte as it was.
   */
  test('[P38] results protocol: at concurrency 32 under 32 descriptors the one pass succeeds; with the limit just above what the child holds it fails cleanly twice, the target stays as it was', async () => {
    const started = Date.now();
    const prepare = async (name: string): Promise<string> => {
      const target = path.join(work, 'p38', name);
      await mkdir(target, { recursive: true });
      await writeFile(path.join(target, 'keep.txt'), 'keep');
      return target;
    };
    const fits = await prepare('results-target');
    const wide = { ...resultsOptions(), concurrency: 32 };
    const roomy = await runChild(
      [
        {
          op: 'upload',
          name: 'fd-results',
          dir: srcLarge,
          options: { ...resultsOptions(), concurrency: 2 },
        },
        { op: 'download', name: 'fd-results', path: fits, options: wide },
        { op: 'download', name: 'fd-results', path: fits, options: wide },
      ],
      { nofileAfterLoad: 32, timeoutMs: 120_000 },
    );
    expect(succeeded(roomy, 0).fileCount).toBe(300);
    expect(succeeded(roomy, 1).fileCount).toBe(300);
    expect(succeeded(roomy, 2).fileCount).toBe(300);
    for (const result of roomy.results) expect(result.fdsAtEnd).toBe(result.fdsAtStart);
    expect(await readFile(path.join(fits, 'keep.txt'), 'utf8')).toBe('keep');
    await rm(path.join(fits, 'keep.txt'));
    await sameTree(srcLarge, fits);

    const tight = roomy.fdsBefore + 2;
    const target = await prepare('results-target-tight');
    const report = await runChild(
      [
        { op: 'tree', dir: target },
        { op: 'download', name: 'fd-results', path: target, options: wide },
        { op: 'download', name: 'fd-results', path: target, options: wide },
        { op: 'tree', dir: target },
      ],
      { nofileAfterLoad: tight, timeoutMs: 120_000 },
    );
    timings['P38 results'] = Date.now() - started;
    expectTooManyOpenFiles(report, 1, 'fd-results', 'download', tight);
    expectTooManyOpenFiles(report, 2, 'fd-results', 'download', tight);
    expect(failed(report, 1).message).toMatch(/now 32/);
    expect(succeeded(report, 3).tree).toEqual(succeeded(report, 0).tree);
    for (const result of report.results) expect(result.fdsAtEnd).toBe(result.fdsAtStart);
    expect(logged(/FinalizeArtifact/)).toHaveLength(1);
    expectChildClean(roomy);
    expectChildClean(report);
  }, 180_000);
});

// ---------------------------------------------------------------------------------------------

interface CountingProxy {
  url: string;
  requests: number;
  /** Client connections accepted so far. */
  connections: number;
  peakOpen: number;
  peakInFlight: number;
  readonly open: number;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of ferry serve that counts, server-side, the client connections open
 * and the requests in flight at once. The Host header is passed on, so the signed blob URLs ferry
 * serve hands out point at the proxy too and blob downloads are counted as well.
 */
async function startCountingProxy(upstream: string): Promise<CountingProxy> {
  const target = new URL(upstream);
  const agent = new http.Agent({ keepAlive: false });
  const sockets = new Set<Socket>();
  let inFlight = 0;
  const state = {
    url: '',
    requests: 0,
    connections: 0,
    peakOpen: 0,
    peakInFlight: 0,
    get open() {
      return sockets.size;
    },
    close: async () => {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      agent.destroy();
    },
  };
  const proxy = http.createServer((req, res) => {
    state.requests++;
    inFlight++;
    state.peakInFlight = Math.max(state.peakInFlight, inFlight);
    let done = false;
    res.on('close', () => {
      if (!done) inFlight--;
      done = true;
    });
    const forward = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        upstreamRes.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  proxy.on('connection', (socket: Socket) => {
    sockets.add(socket);
    state.connections++;
    state.peakOpen = Math.max(state.peakOpen, sockets.size);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
  state.url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/`;
  return state;
}

describe('P39: many artifacts', () => {
  test('[P39] 1,000 artifacts listed and downloaded with artifactConcurrency 5 and concurrency 5: never more than 5 requests in flight or 5 connections open', async () => {
    const started = Date.now();
    const src = path.join(work, 'p39', 'src');
    await mkdir(src, { recursive: true });
    await writeFile(path.join(src, 'a.txt'), 'artifact body\n');
    const names = Array.from({ length: 1000 }, (_, i) => `many-${String(i).padStart(4, '0')}`);
    // Seeded straight into the server, 8 at a time.
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < names.length) {
          const name = names[next++] as string;
          await uploadArtifact(name, [path.join(src, 'a.txt')], src, resultsOptions());
        }
      }),
    );
    timings['P39 seeding'] = Date.now() - started;

    const proxy = await startCountingProxy(server.url);
    try {
      const options = { resultsUrl: proxy.url, runtimeToken: TOKEN, retry: RETRY, concurrency: 5 };
      const listed = await listArtifacts(options);
      expect(listed.filter((a) => a.name.startsWith('many-'))).toHaveLength(1000);
      const out = path.join(work, 'p39', 'out');
      const result = await downloadArtifacts({
        ...options,
        path: out,
        pattern: 'many-*',
        artifactConcurrency: 5,
      });
      expect(result.downloads).toHaveLength(1000);
      expect(result.downloads.every((d) => d.fileCount === 1)).toBe(true);
      const dirs = (await readdir(out)).sort();
      expect(dirs).toEqual(names);
      expect(await readFile(path.join(out, 'many-0999', 'a.txt'), 'utf8')).toBe('artifact body\n');
      // Counted at the server side of the proxy: listing + 1,000 × (signed URL + blob GET).
      expect(proxy.requests).toBeGreaterThanOrEqual(2001);
      expect(proxy.peakInFlight).toBeLessThanOrEqual(5);
      expect(proxy.peakOpen).toBeLessThanOrEqual(5);
      // Keep-alive connections carry over from one artifact to the next (one listing, then five
      // reused clients), instead of a new connection per artifact.
      expect(proxy.connections).toBeLessThanOrEqual(10);
      // And every client socket is closed once the call returned.
      await waitFor(() => proxy.open === 0, 5_000);
      console.log(
        `P39: ${proxy.requests} requests over ${proxy.connections} connections, peak ${proxy.peakInFlight} in flight, peak ${proxy.peakOpen} open`,
      );
    } finally {
      await proxy.close();
      timings['P39 total'] = Date.now() - started;
    }
  }, 300_000);
});

// ---------------------------------------------------------------------------------------------

/** ~1 GiB in 1,000 files of 1 MiB: 600 of log text (compressible), 400 random (incompressible). */
async function writeManyMiBFiles(root: string): Promise<void> {
  let text = '';
  for (let i = 0; text.length < MIB; i++) {
    text += `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}Z INFO worker-${i % 7} handled request id=${i} in ${i % 97} ms\n`;
  }
  const block = Buffer.from(text).subarray(0, MIB);
  for (let d = 0; d < 10; d++) {
    const dir = path.join(root, `d${d}`);
    await mkdir(dir, { recursive: true });
    for (let i = 0; i < 100; i++) {
      const n = d * 100 + i;
      const body = n % 5 < 3 ? Buffer.concat([Buffer.from(`${n}\n`), block.subarray(16)]) : randomBytes(MIB);
      await writeFile(path.join(dir, `f${n}.${n % 5 < 3 ? 'log' : 'bin'}`), body);
    }
  }
}

describe('P40: memory stays bounded for a large many-file artifact', () => {
  let src: string;
  let sourceBytes = 0;
  beforeAll(async () => {
    src = path.join(work, 'p40', 'src');
    await writeManyMiBFiles(src);
    for (const file of await listFiles(src)) sourceBytes += (await stat(path.join(src, file))).size;
  }, 120_000);
  afterAll(async () => {
    await rm(path.join(work, 'p40'), { recursive: true, force: true });
  });

  test.each([
    ['embedded local store (results protocol, client and server in the child)', 'results'],
    ['legacy protocol', 'legacy'],
  ])(
    '[P40] %s: 1,000 files / 1000 MiB up and down, default settings, peak RSS < 200 MiB',
    async (_label, kind) => {
      const started = Date.now();
      const out = path.join(work, 'p40', `out-${kind}`);
      const options = kind === 'results' ? { localStore: path.join(work, 'p40', 'store') } : legacyOptions();
      const report = await runChild(
        [
          { op: 'upload', name: 'gigabyte', dir: src, options },
          { op: 'download', name: 'gigabyte', path: out, options },
        ],
        { timeoutMs: 300_000 },
      );
      timings[`P40 ${kind}`] = Date.now() - started;
      expect(succeeded(report, 0)).toMatchObject({ fileCount: 1000, size: sourceBytes });
      expect(succeeded(report, 1).fileCount).toBe(1000);
      expect(report.maxRssMiB).toBeLessThan(200);
      await sameTree(src, out);
      await rm(out, { recursive: true, force: true });
      expectChildClean(report);
      console.log(`P40 ${kind}: peak RSS ${report.maxRssMiB.toFixed(0)} MiB`);
    },
    360_000,
  );
});

// ---------------------------------------------------------------------------------------------

describe('X07: a file larger than the process memory limit', () => {
  test('[X07] 768 MiB of random bytes up and down in a child limited to 256 MiB of data (ulimit -d) and a 32 MiB heap, both protocols', async () => {
    const started = Date.now();
    const src = path.join(work, 'x07', 'src');
    await mkdir(src, { recursive: true });
    const file = path.join(src, 'big.bin');
    const handle = await open(file, 'w');
    try {
      for (let i = 0; i < 96; i++) await handle.write(randomBytes(8 * MIB));
    } finally {
      await handle.close();
    }
    try {
      const store = path.join(work, 'x07', 'store');
      const report = await runChild(
        [
          { op: 'upload', name: 'bigger-than-memory', dir: src, options: { localStore: store } },
          {
            op: 'download',
            name: 'bigger-than-memory',
            path: path.join(work, 'x07', 'out-local'),
            options: { localStore: store },
          },
          { op: 'upload', name: 'bigger-than-memory', dir: src, options: legacyOptions() },
          {
            op: 'download',
            name: 'bigger-than-memory',
            path: path.join(work, 'x07', 'out-legacy'),
            options: legacyOptions(),
          },
        ],
        // RLIMIT_DATA bounds the process's heap, buffers and anonymous mappings: a 768 MiB buffer
        // anywhere would fail. The V8 heap is capped far lower still.
        { setup: 'ulimit -d 262144', nodeArgs: ['--max-old-space-size=32'], timeoutMs: 300_000 },
      );
      for (const index of [0, 2])
        expect(succeeded(report, index)).toMatchObject({ fileCount: 1, size: 768 * MIB });
      for (const index of [1, 3])
        expect(succeeded(report, index)).toMatchObject({ fileCount: 1, size: 768 * MIB });
      expect(report.maxRssMiB).toBeLessThan(256);
      expect(await sameBytes(file, path.join(work, 'x07', 'out-local', 'big.bin'))).toBe(true);
      expect(await sameBytes(file, path.join(work, 'x07', 'out-legacy', 'big.bin'))).toBe(true);
      expectChildClean(report);
      console.log(`X07: peak RSS ${report.maxRssMiB.toFixed(0)} MiB for a 768 MiB file`);
    } finally {
      await rm(path.join(work, 'x07'), { recursive: true, force: true });
      timings['X07'] = Date.now() - started;
    }
  }, 360_000);
});
