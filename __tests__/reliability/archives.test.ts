/**
 * Reliability plan §5 A (download side): malicious archives and malicious servers.
 *
 * Extractor-level tests run `extractZip` on crafted zips; end-to-end tests publish the same bytes
 * as an artifact on a real `ferry serve` (results protocol, through a counting proxy) or serve them
 * from a small hostile results service, and download them with the public API. Every case checks
 * the target and a sentinel directory outside it before and after (I1, I2), the error's type, code
 * and message (I4), the requests made (no retry of a deterministic failure, no mutating call), that
 * no client socket stays open, and that no sentinel secret leaks (I6).
 */
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { downloadArtifact, downloadArtifacts, uploadArtifact, isFerryError } from '../../src/index.js';
import type { FerryError, FerryErrorCode } from '../../src/core/errors.js';
import { main as cliMain } from '../../src/cli/main.js';
import { runDownload } from '../../src/action/run-download.js';
import { artifactDirectory, windowsNameProblem } from '../../src/artifact-directory.js';
import { extractZip, type ExtractOptions } from '../../src/pack/zip/index.js';
import { startFixture, type ServerFixture } from '../helpers/server-fixture.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { readRequest, startLoopback, waitFor, type Loopback } from '../helpers/loopback.js';
import { buildZip, type ZipSpecEntry, type ZipSpecOptions } from '../helpers/zip-builder.js';
import { expectNoSecrets, SENTINEL, snapshotTree } from './invariants.js';

const RUN = 'run-archives';
const JOB = 'job-archives';
/** A runtime token whose signature is the sentinel: it must never show up anywhere. */
const TOKEN = (() => {
  const [header, payload] = runtimeJwt(RUN, JOB).split('.');
  return `${header}.${payload}.${SENTINEL.tokenSignature}`;
})();
const RETRY = { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 3 };
const TWIRP = '/twirp/github.actions.results.api.v1.ArtifactService/';
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

interface CountingProxy {
  url: string;
  /** Method and path (no query: signed URLs carry the SAS signature) of every request. */
  requests: string[];
  readonly open: number;
  close(): Promise<void>;
}

/**
 * A pass-through proxy in front of ferry serve that records every request and counts the client
 * connections still open. The Host header is kept, so the signed blob URLs ferry serve hands out
 * point at the proxy too and blob traffic is counted as well.
 */
async function startCountingProxy(upstream: string): Promise<CountingProxy> {
  const proxy = await startFaultProxy(upstream, () => ({ kind: 'pass' }), { preserveHost: true });
  return {
    url: proxy.url,
    get requests() {
      return proxy.seen.map((r) => `${r.method} ${r.url.split('?')[0]}`);
    },
    get open() {
      return proxy.open;
    },
    close: () => proxy.close(),
  };
}

let work: string;
let fixture: ServerFixture;
let proxy: CountingProxy;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-rel-archives-'));
  fixture = await startFixture({ token: TOKEN });
  proxy = await startCountingProxy(fixture.server.url);
});
afterAll(async () => {
  await proxy.close();
  await fixture.dispose();
  await rm(work, { recursive: true, force: true });
});

let counter = 0;
const unique = (prefix: string): string => `${prefix}-${++counter}`;

async function rpc<T>(method: string, body: Record<string, unknown>): Promise<T> {
  const res = await fetch(`${fixture.server.url}${TWIRP.slice(1)}${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ workflow_run_backend_id: RUN, workflow_job_run_backend_id: JOB, ...body }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${method}: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/**
 * Publishes `bytes` as a finalized artifact on ferry serve exactly as given (Create, Put Blob,
 * Finalize with the real size and digest): the server holds a crafted zip, consistent with its
 * listed digest, so only the archive itself is hostile.
 */
async function publish(name: string, bytes: Buffer, contentType = 'application/zip'): Promise<void> {
  const { signed_upload_url: uploadUrl } = await rpc<{ signed_upload_url: string }>('CreateArtifact', {
    name,
    version: 7,
    mime_type: contentType,
  });
  const put = await fetch(uploadUrl, {
    method: 'PUT',
    headers: {
      'x-ms-blob-type': 'BlockBlob',
      'x-ms-blob-content-type': contentType,
      'content-type': 'application/octet-stream',
    },
    body: bytes,
  });
  if (put.status !== 201) throw new Error(`Put Blob: HTTP ${put.status} ${await put.text()}`);
  await rpc('FinalizeArtifact', { name, size: String(bytes.length), hash: `sha256:${sha256(bytes)}` });
}

interface Scene {
  base: string;
  /** The download target; it exists and holds `keep.txt` unless the scene says otherwise. */
  target: string;
  /** A sentinel tree next to the target: nothing may ever change in it (I1). */
  outside: string;
  tmp: string;
  /** Target and outside are exactly as when the scene was made (I1, I2), and no temp file is left. */
  expectUnchanged(): Promise<void>;
  /** Takes the before-snapshots again (after the test arranged the target). */
  rebase(): Promise<void>;
}

async function scene(options: { targetExists?: boolean } = {}): Promise<Scene> {
  const base = await mkdtemp(path.join(work, 'scene-'));
  const target = path.join(base, 'target');
  const outside = path.join(base, 'outside');
  const tmp = path.join(base, 'tmp');
  await mkdir(path.join(outside, 'nested'), { recursive: true });
  await mkdir(tmp);
  await writeFile(path.join(outside, 'secret.txt'), 'outside sentinel: must never change');
  await writeFile(path.join(outside, 'nested', 'file.txt'), 'nested sentinel');
  if (options.targetExists ?? true) {
    await mkdir(target);
    await writeFile(path.join(target, 'keep.txt'), 'pre-existing content');
  }
  let beforeTarget = await snapshotTree(target);
  let beforeOutside = await snapshotTree(outside);
  return {
    base,
    target,
    outside,
    tmp,
    async rebase() {
      beforeTarget = await snapshotTree(target);
      beforeOutside = await snapshotTree(outside);
    },
    async expectUnchanged() {
      expect(await snapshotTree(outside)).toEqual(beforeOutside);
      expect(await snapshotTree(target)).toEqual(beforeTarget);
      if (!(options.targetExists ?? true)) {
        await expect(lstat(target)).rejects.toMatchObject({ code: 'ENOENT' });
      }
      expect(await readdir(tmp)).toEqual([]);
      // Nothing was written next to the target either (staging lives inside the target).
      expect((await readdir(base)).sort()).toEqual(
        (options.targetExists ?? true) ? ['outside', 'target', 'tmp'] : ['outside', 'tmp'],
      );
    },
  };
}

function clientOptions(s: Scene, resultsUrl = proxy.url) {
  return { resultsUrl, runtimeToken: TOKEN, retry: RETRY, tempDir: s.tmp };
}

/** Requests the proxy saw from `from` on; waits for the client's sockets to close first (X11). */
async function requestsSince(
  from: number,
  p: { open: number; requests: string[] } = proxy,
): Promise<string[]> {
  await waitFor(() => p.open === 0, 5000);
  return p.requests.slice(from);
}

/** Everything that is not a Twirp call is the signed blob (Azure-style path on ferry serve). */
const BLOB_GET = /^GET \/(?!twirp\/)/;
function summarize(requests: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of requests) {
    const key = BLOB_GET.test(r)
      ? 'blob GET'
      : r.startsWith(`POST ${TWIRP}`)
        ? r.slice(`POST ${TWIRP}`.length)
        : r;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/**
 * One download attempt exactly: list, sign, one blob GET; never a mutating call, never a retry.
 * `blobGets: 2` for an archive the one pass cannot extract as it streams (truncated, corrupt,
 * unsupported): its bytes matched the digest, so it is fetched once more into a temporary file
 * and read from its central directory, which names the fault; never a third time.
 */
function expectOneCleanAttempt(requests: readonly string[], blobGets: 1 | 2 = 1): void {
  expect(summarize(requests)).toEqual({ ListArtifacts: 1, GetSignedArtifactURL: 1, 'blob GET': blobGets });
}

async function failure(promise: Promise<unknown>): Promise<FerryError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the operation to fail');
    },
    (e: unknown) => e,
  );
  if (!isFerryError(error)) throw error;
  expectNoSecrets(error);
  return error;
}

/** The error a refused download must be: typed, coded, naming the operation, the artifact and the cause. */
async function refusedDownload(
  promise: Promise<unknown>,
  code: FerryErrorCode,
  artifact: string,
  pattern: RegExp,
): Promise<FerryError> {
  const error = await failure(promise);
  expect(error.code).toBe(code);
  expect(error.retryable).toBe(false);
  expect(error.message).toMatch(pattern);
  expect(error.message).toContain('operation download');
  expect(error.message).toContain(`artifact '${artifact}'`);
  return error;
}

async function extractRefused(
  s: Scene,
  entries: readonly ZipSpecEntry[],
  code: FerryErrorCode,
  pattern: RegExp,
  options: Partial<ExtractOptions> = {},
  zipOptions: ZipSpecOptions = {},
): Promise<FerryError> {
  const zip = path.join(s.base, 'crafted.zip');
  await writeFile(zip, buildZip(entries, zipOptions));
  const error = await failure(extractZip(zip, { targetDirectory: s.target, ...options }));
  await rm(zip);
  expect(error.code).toBe(code);
  expect(error.message).toMatch(pattern);
  await s.expectUnchanged();
  return error;
}

/** A test title for a hostile value: JSON-quoted, long runs shortened. */
function abbreviate(value: string): string {
  const shown = value.replace(/(.)\1{15,}/g, (run, ch: string) => `${ch.repeat(3)}…(${run.length}×)`);
  return JSON.stringify(shown);
}

/** A benign entry first, so "nothing at all is written" is meaningful. */
const OK: ZipSpecEntry = { name: 'ok.txt', data: 'fine' };

// ---------------------------------------------------------------------------------------------
// P01: zip-slip names
// ---------------------------------------------------------------------------------------------

describe('P01 zip-slip entry names', () => {
  const hostile: Array<[string, string, RegExp]> = [
    ['../x', '../x', /'\.\.' segment/],
    ['a/../../x', 'a/../../x', /'\.\.' segment/],
    ['/abs/x', '/abs/x', /absolute path/],
    ['C:\\x', 'C:\\\\x', /drive letter/],
    ['C:/x', 'C:/x', /drive letter/],
    ['\\\\server\\share\\x', '\\\\\\\\server', /UNC path/],
    ['..\\..\\x', '..\\\\..\\\\x', /'\.\.' segment/],
    ['a\0b', 'a\\0b', /control character '\\0'/],
    ['', "''", /the name is empty/],
    ['n'.repeat(4097), 'nnnnnnnnnn', /4097 bytes long, the limit is 4096/],
    ['n'.repeat(4096), 'nnnnnnnnnn', /longer than 255 bytes/],
  ];

  test.each(hostile.map(([name, ...rest]) => [abbreviate(name), name, ...rest] as const))(
    '[P01] extractZip refuses entry %s before writing anything, naming it',
    async (_label, name, shown, pattern) => {
      const s = await scene();
      const error = await extractRefused(s, [OK, { name, data: 'pwned' }], 'ERR_FERRY_UNSAFE_PATH', pattern);
      expect(error.message).toContain(shown);
    },
  );

  test.each([['../escape.txt'], ['a/../../escape.txt'], ['/tmp/escape.txt'], ['..\\..\\escape.txt']])(
    '[P01] downloadArtifact of a served zip with entry %j: typed error naming entry and artifact, one request each, target and outside unchanged',
    async (entry) => {
      const s = await scene();
      const name = unique('slip');
      await publish(name, buildZip([OK, { name: entry, data: 'pwned' }]));
      const from = proxy.requests.length;
      await refusedDownload(
        downloadArtifact(name, { ...clientOptions(s), path: s.target }),
        'ERR_FERRY_UNSAFE_PATH',
        name,
        /Unsafe path/,
      );
      expectOneCleanAttempt(await requestsSince(from));
      await s.expectUnchanged();
      await expect(lstat(path.join(s.base, 'escape.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
    },
  );

  test('[P01] a refused download into a directory that did not exist leaves no directory behind', async () => {
    const s = await scene({ targetExists: false });
    const name = unique('slip-fresh');
    await publish(name, buildZip([OK, { name: '../../escape.txt', data: 'pwned' }]));
    await refusedDownload(
      downloadArtifact(name, { ...clientOptions(s), path: s.target }),
      'ERR_FERRY_UNSAFE_PATH',
      name,
      /'\.\.' segment/,
    );
    await s.expectUnchanged();
  });
});

// ---------------------------------------------------------------------------------------------
// P02 / P03: symlinks that already exist in the target
// ---------------------------------------------------------------------------------------------

describe('P02 pre-existing directory symlink in the target', () => {
  test.each([['overwrite'], ['error'], ['skip']] as const)(
    '[P02] entry linkdir/pwned.txt over target/linkdir -> outside (conflict %s): refused end to end, nothing written through the link',
    async (conflict) => {
      const s = await scene();
      await symlink(s.outside, path.join(s.target, 'linkdir'));
      await s.rebase();
      const name = unique('dirlink');
      await publish(name, buildZip([OK, { name: 'linkdir/pwned.txt', data: 'pwned' }]));
      const from = proxy.requests.length;
      await refusedDownload(
        downloadArtifact(name, { ...clientOptions(s), path: s.target, conflict }),
        'ERR_FERRY_UNSAFE_PATH',
        name,
        /'linkdir' already exists in the target directory as a symbolic link; refusing to follow it/,
      );
      expectOneCleanAttempt(await requestsSince(from));
      await s.expectUnchanged();
      await expect(lstat(path.join(s.outside, 'pwned.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
    },
  );

  test('[P02] a relative link deeper in the tree (sub/up -> ../../outside) is not followed either', async () => {
    const s = await scene();
    await mkdir(path.join(s.target, 'sub'));
    await symlink(path.join('..', '..', 'outside'), path.join(s.target, 'sub', 'up'));
    await s.rebase();
    const name = unique('deeplink');
    await publish(name, buildZip([OK, { name: 'sub/up/nested/pwned.txt', data: 'pwned' }]));
    await refusedDownload(
      downloadArtifact(name, { ...clientOptions(s), path: s.target }),
      'ERR_FERRY_UNSAFE_PATH',
      name,
      /'sub\/up' already exists in the target directory as a symbolic link/,
    );
    await s.expectUnchanged();
  });
});

describe('P03 pre-existing file symlink in the target', () => {
  async function rawArtifact(s: Scene): Promise<{ name: string; content: string }> {
    // A raw (archive: false) artifact is named after its file and served with
    // Content-Disposition: filename="victim-N.txt".
    const source = path.join(s.base, 'src');
    const name = `${unique('victim')}.txt`;
    const content = `artifact bytes of ${name}`;
    await mkdir(source);
    await writeFile(path.join(source, name), content);
    await uploadArtifact('ignored', [path.join(source, name)], source, {
      ...clientOptions(s),
      archive: false,
    });
    await rm(source, { recursive: true });
    return { name, content };
  }

  async function arrange(s: Scene, name: string): Promise<string> {
    const victim = path.join(s.outside, 'secret.txt');
    await symlink(victim, path.join(s.target, name));
    await s.rebase();
    return victim;
  }

  test('[P03] raw download over target/victim.txt -> outside file with conflict error: typed conflict error, no write through the link', async () => {
    const s = await scene();
    const { name } = await rawArtifact(s);
    await arrange(s, name);
    const from = proxy.requests.length;
    await refusedDownload(
      downloadArtifact(name, { ...clientOptions(s), path: s.target, conflict: 'error' }),
      'ERR_FERRY_CONFLICT',
      name,
      new RegExp(`'${name.replace('.', '\\.')}' already exists .* different content`),
    );
    expectOneCleanAttempt(await requestsSince(from));
    await s.expectUnchanged();
  });

  test('[P03] with conflict skip the link is left alone and nothing is written through it', async () => {
    const s = await scene();
    const { name } = await rawArtifact(s);
    await arrange(s, name);
    const result = await downloadArtifact(name, { ...clientOptions(s), path: s.target, conflict: 'skip' });
    expect(result.fileCount).toBe(0);
    await s.expectUnchanged();
  });

  test('[P03] with overwrite (the default) the link itself is replaced by a regular file; its target is untouched', async () => {
    const s = await scene();
    const { name, content } = await rawArtifact(s);
    const victim = await arrange(s, name);
    const before = await readFile(victim, 'utf8');
    const result = await downloadArtifact(name, { ...clientOptions(s), path: s.target });
    expect(result.fileCount).toBe(1);
    const placed = await lstat(path.join(s.target, name));
    expect(placed.isSymbolicLink()).toBe(false);
    expect(placed.isFile()).toBe(true);
    expect(await readFile(path.join(s.target, name), 'utf8')).toBe(content);
    expect(await readFile(victim, 'utf8')).toBe(before);
    expect(await snapshotTree(s.outside)).toMatchObject({ 'secret.txt': { type: 'file' } });
  });

  test('[P03] a zip entry over a file symlink replaces the link under overwrite and never writes through it', async () => {
    const s = await scene();
    const victim = await arrange(s, 'victim.txt');
    const before = await readFile(victim, 'utf8');
    const name = unique('zip-over-link');
    await publish(name, buildZip([{ name: 'victim.txt', data: 'from the zip' }]));
    await downloadArtifact(name, { ...clientOptions(s), path: s.target });
    expect((await lstat(path.join(s.target, 'victim.txt'))).isFile()).toBe(true);
    expect(await readFile(path.join(s.target, 'victim.txt'), 'utf8')).toBe('from the zip');
    expect(await readFile(victim, 'utf8')).toBe(before);
  });
});

// ---------------------------------------------------------------------------------------------
// P04: symlink entries
// ---------------------------------------------------------------------------------------------

describe('P04 symlink entries in the zip', () => {
  const link = (name: string, to: string): ZipSpecEntry => ({ name, data: to, symlink: true });

  test('[P04] by default a link entry is refused end to end, naming the entry', async () => {
    const s = await scene();
    const name = unique('linkentry');
    await publish(name, buildZip([OK, link('passwd', '/etc/passwd')]));
    const from = proxy.requests.length;
    await refusedDownload(
      downloadArtifact(name, { ...clientOptions(s), path: s.target }),
      'ERR_FERRY_UNSAFE_PATH',
      name,
      /Entry 'passwd' is a symbolic link; links are refused by default/,
    );
    expectOneCleanAttempt(await requestsSince(from));
    await s.expectUnchanged();
  });

  test("[P04] symlinks: 'file' writes the link text as a regular file, never a link", async () => {
    const s = await scene();
    const name = unique('linkfile');
    await publish(name, buildZip([link('passwd', '/etc/passwd'), link('up', '../../x')]));
    await downloadArtifact(name, { ...clientOptions(s), path: s.target, symlinks: 'file' });
    for (const [file, text] of [
      ['passwd', '/etc/passwd'],
      ['up', '../../x'],
    ] as const) {
      const stats = await lstat(path.join(s.target, file));
      expect(stats.isFile()).toBe(true);
      expect(await readFile(path.join(s.target, file), 'utf8')).toBe(text);
    }
  });

  test.each([
    ['/etc/passwd', /absolute link targets are not allowed/],
    ['../../x', /resolves outside the target directory/],
    ['../sub/../../x', /resolves outside the target directory/],
    ['C:\\Windows', /absolute link targets are not allowed/],
  ])(
    "[P04] symlinks: 'preserve' refuses a link to %j end to end; nothing is created",
    async (to, pattern) => {
      const s = await scene();
      const name = unique('linkout');
      await publish(name, buildZip([OK, { name: 'sub/', directory: true }, link('sub/l', to)]));
      await refusedDownload(
        downloadArtifact(name, { ...clientOptions(s), path: s.target, symlinks: 'preserve' }),
        'ERR_FERRY_UNSAFE_PATH',
        name,
        pattern,
      );
      await s.expectUnchanged();
    },
  );

  test("[P04] symlinks: 'preserve' creates a link whose target stays inside", async () => {
    const s = await scene();
    const name = unique('linkin');
    await publish(name, buildZip([{ name: 'data/real.txt', data: 'real' }, link('data/alias', 'real.txt')]));
    await downloadArtifact(name, { ...clientOptions(s), path: s.target, symlinks: 'preserve' });
    expect(await readlink(path.join(s.target, 'data', 'alias'))).toBe('real.txt');
    expect(await readFile(path.join(s.target, 'data', 'alias'), 'utf8')).toBe('real');
  });

  test('[P04] preserve: an entry written through a link entry of the same archive is refused (extractor)', async () => {
    const s = await scene();
    await extractRefused(
      s,
      [{ name: 'dir/', directory: true }, link('l', 'dir'), { name: 'l/pwned.txt', data: 'x' }],
      'ERR_FERRY_UNSAFE_PATH',
      /Entry 'l' is a symbolic link, but entry 'l\/pwned\.txt' needs it to be a directory/,
      { symlinks: 'preserve' },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// P05 / P06: structural collisions
// ---------------------------------------------------------------------------------------------

describe('P05 file in one place, directory in another', () => {
  test.each([
    [
      'file then child',
      [
        { name: 'a', data: 'file' },
        { name: 'a/b', data: 'child' },
      ],
    ],
    [
      'child then file',
      [
        { name: 'a/b', data: 'child' },
        { name: 'a', data: 'file' },
      ],
    ],
    [
      'directory entry and file',
      [
        { name: 'a/', directory: true },
        { name: 'a', data: 'file' },
      ],
    ],
  ] as Array<[string, ZipSpecEntry[]]>)(
    '[P05] %s: a clear error naming both entries, no partial tree',
    async (_label, entries) => {
      const s = await scene();
      await extractRefused(s, [OK, ...entries], 'ERR_FERRY_UNSAFE_PATH', /'a'.*(directory|file)/);
    },
  );

  test('[P05] end to end: the download fails naming the artifact; the target is unchanged', async () => {
    const s = await scene();
    const name = unique('filedir');
    await publish(name, buildZip([OK, { name: 'a', data: 'file' }, { name: 'a/b', data: 'child' }]));
    await refusedDownload(
      downloadArtifact(name, { ...clientOptions(s), path: s.target }),
      'ERR_FERRY_UNSAFE_PATH',
      name,
      /Entry 'a' is a file, but entry 'a\/b' needs it to be a directory/,
    );
    await s.expectUnchanged();
  });

  test('[P05] an existing file in the target where the archive needs a directory: conflict error, nothing written', async () => {
    const s = await scene();
    await writeFile(path.join(s.target, 'a'), 'existing file');
    await s.rebase();
    const name = unique('existing-file');
    await publish(name, buildZip([OK, { name: 'a/b', data: 'child' }]));
    await refusedDownload(
      downloadArtifact(name, { ...clientOptions(s), path: s.target }),
      'ERR_FERRY_CONFLICT',
      name,
      /'a' already exists in the target directory as a file/,
    );
    await s.expectUnchanged();
  });
});

describe('P06 duplicate and colliding entries', () => {
  test.each([
    [
      'same bytes',
      [
        { name: 'dup.txt', data: 'same' },
        { name: 'dup.txt', data: 'same' },
      ],
      /Duplicate entry 'dup\.txt'/,
    ],
    [
      'different bytes',
      [
        { name: 'dup.txt', data: 'one' },
        { name: 'dup.txt', data: 'two' },
      ],
      /Duplicate entry 'dup\.txt'/,
    ],
    [
      'via ./ and \\',
      [
        { name: 'd/x.txt', data: 'one' },
        { name: 'd\\./x.txt', data: 'two' },
      ],
      /Duplicate entry 'd\/x\.txt'/,
    ],
    [
      'case only',
      [
        { name: 'A.txt', data: 'upper' },
        { name: 'a.txt', data: 'lower' },
      ],
      /'A\.txt' and 'a\.txt' differ only in letter case/,
    ],
    [
      'Unicode normalisation',
      [
        { name: 'caf\u00e9.txt', data: 'nfc' },
        { name: 'cafe\u0301.txt', data: 'nfd' },
      ],
      /differ only in letter case or Unicode normalisation/,
    ],
  ] as Array<[string, ZipSpecEntry[], RegExp]>)(
    '[P06] %s: a typed error naming the entry',
    async (_label, entries, pattern) => {
      const s = await scene();
      await extractRefused(s, [OK, ...entries], 'ERR_FERRY_UNSAFE_PATH', pattern);
    },
  );

  test('[P06] end to end: duplicate names with different bytes are never merged silently', async () => {
    const s = await scene();
    const name = unique('dups');
    await publish(name, buildZip([OK, { name: 'dup.txt', data: 'one' }, { name: 'dup.txt', data: 'two' }]));
    await refusedDownload(
      downloadArtifact(name, { ...clientOptions(s), path: s.target }),
      'ERR_FERRY_UNSAFE_PATH',
      name,
      /Duplicate entry 'dup\.txt'/,
    );
    await s.expectUnchanged();
  });
});

// ---------------------------------------------------------------------------------------------
// A hostile results service (for what ferry serve would never send)
// ---------------------------------------------------------------------------------------------

interface FakeArtifact {
  id: number;
  name: string;
  body: Buffer;
  contentType?: string;
  disposition?: string;
  /** Write this raw HTTP response on the socket instead (headers Node would refuse to send). */
  rawResponse?: string;
}

/**
 * Just enough of the results service: ListArtifacts (with name/id filters and real digests),
 * GetSignedArtifactURL (a URL with a sentinel SAS signature) and the blob GET, answering with
 * whatever the artifact says, including hostile names and headers.
 */
async function startHostileResults(artifacts: readonly FakeArtifact[]): Promise<Loopback> {
  // The server's own URL, for the signed URLs it hands out (known once it listens).
  const self = { url: '' };
  const server = await startLoopback((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'POST' && url.pathname.startsWith(TWIRP)) {
        const body = JSON.parse((await readRequest(req)).toString('utf8') || '{}') as Record<string, string>;
        const method = url.pathname.slice(TWIRP.length);
        const json = (value: unknown): void => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(value));
        };
        if (method === 'ListArtifacts') {
          const listed = artifacts.filter(
            (a) =>
              (body['name_filter'] === undefined || a.name === body['name_filter']) &&
              (body['id_filter'] === undefined || String(a.id) === body['id_filter']),
          );
          json({
            artifacts: listed.map((a) => ({
              workflow_run_backend_id: RUN,
              workflow_job_run_backend_id: JOB,
              database_id: String(a.id),
              name: a.name,
              size: String(a.body.length),
              created_at: '2026-01-01T00:00:00Z',
              digest: `sha256:${sha256(a.body)}`,
            })),
          });
          return;
        }
        if (method === 'GetSignedArtifactURL') {
          const found = artifacts.find((a) => a.name === body['name']);
          if (!found) {
            res.writeHead(404, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ code: 'not_found', msg: 'no such artifact' }));
            return;
          }
          json({
            signed_url: `${self.url}blob/${found.id}?sv=2025-01-05&sig=${SENTINEL.sasSignature}`,
          });
          return;
        }
        res.writeHead(404).end();
        return;
      }
      const match = /^\/blob\/(\d+)$/.exec(url.pathname);
      const found = match ? artifacts.find((a) => String(a.id) === match[1]) : undefined;
      if (req.method === 'GET' && found) {
        if (found.rawResponse !== undefined) {
          req.socket.end(found.rawResponse);
          return;
        }
        res.writeHead(200, {
          'content-type': found.contentType ?? 'application/zip',
          'content-length': String(found.body.length),
          ...(found.disposition === undefined ? {} : { 'content-disposition': found.disposition }),
        });
        res.end(found.body);
        return;
      }
      res.writeHead(404).end();
    })().catch(() => req.socket.destroy());
  });
  self.url = server.url;
  return server;
}

function hostileSummary(server: Loopback): Record<string, number> {
  return summarize(
    server.requests.map((r) => {
      const p = r.url.split('?')[0] ?? '';
      return `${r.method} ${p}`;
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// P07: hostile Content-Disposition on raw downloads
// ---------------------------------------------------------------------------------------------

describe('P07 hostile Content-Disposition on a raw download', () => {
  const ARTIFACT = 'payload.bin';
  const PAYLOAD = Buffer.from('raw artifact payload\n');
  const cases: Array<[string, string]> = [
    ['attachment; filename=".."', ARTIFACT],
    ['attachment; filename="."', ARTIFACT],
    ['attachment; filename="/etc/passwd"', 'passwd'],
    ['attachment; filename="..%2F..%2Fescape"', '..%2F..%2Fescape'],
    ["attachment; filename*=UTF-8''..%2F..%2Fescape", 'escape'],
    ["attachment; filename*=UTF-8''%E0%A4%A", '%E0%A4%A'],
    ["attachment; filename*=UTF-8''a%0D%0AX-Injected%3A%201.txt", 'a__X-Injected_ 1.txt'],
    ["attachment; filename*=UTF-8''%00evil.txt", '_evil.txt'],
    [`attachment; filename="${'n'.repeat(1000)}.txt"`, ARTIFACT],
    ['attachment; filename="CON.txt"', ARTIFACT],
    ['attachment; filename="nul"', ARTIFACT],
    ['attachment; filename="report.txt."', 'report.txt'],
    ['attachment; filename="trailing "', 'trailing'],
    ['attachment; filename="a\\\\..\\\\..\\\\b.txt"', 'b.txt'],
    ['attachment; filename="C:\\\\Windows\\\\win.ini"', 'win.ini'],
    ['attachment; filename=', ARTIFACT],
  ];

  test.each(
    cases.map(([disposition, expected]) => [abbreviate(disposition), disposition, expected] as const),
  )(
    '[P07] %s: saved as a safe base name inside the target, one request each, nothing outside',
    async (_label, disposition, expected) => {
      const s = await scene();
      const server = await startHostileResults([
        { id: 7, name: ARTIFACT, body: PAYLOAD, contentType: 'application/octet-stream', disposition },
      ]);
      try {
        const result = await downloadArtifact(ARTIFACT, { ...clientOptions(s, server.url), path: s.target });
        expect(result.fileCount).toBe(1);
        await waitFor(() => server.open === 0, 5000);
        expect(hostileSummary(server)).toEqual({ ListArtifacts: 1, GetSignedArtifactURL: 1, 'blob GET': 1 });
        const names = (await readdir(s.target)).filter((n) => n !== 'keep.txt');
        expect(names).toEqual([expected]);
        expect(await readFile(path.join(s.target, expected))).toEqual(PAYLOAD);
        expect(expected).not.toMatch(/[/\\\0\r\n]/);
        expect(await snapshotTree(s.outside)).toEqual(
          expect.objectContaining({ 'secret.txt': expect.anything() as unknown }),
        );
        expect(Object.keys(await snapshotTree(s.outside)).sort()).toEqual([
          'nested',
          'nested/file.txt',
          'secret.txt',
        ]);
        expect(await readdir(s.tmp)).toEqual([]);
      } finally {
        await server.close();
      }
    },
  );

  test('[P07] a name that is an existing directory in the target: typed error, no retry, target unchanged', async () => {
    const s = await scene();
    await mkdir(path.join(s.target, 'existing-dir'));
    await s.rebase();
    const server = await startHostileResults([
      {
        id: 8,
        name: ARTIFACT,
        body: PAYLOAD,
        contentType: 'text/plain',
        disposition: 'attachment; filename="existing-dir"',
      },
    ]);
    try {
      await refusedDownload(
        downloadArtifact(ARTIFACT, { ...clientOptions(s, server.url), path: s.target }),
        'ERR_FERRY_INVALID_PATH',
        ARTIFACT,
        /Cannot save 'existing-dir': a directory of that name exists/,
      );
      await waitFor(() => server.open === 0, 5000);
      expect(hostileSummary(server)).toEqual({ ListArtifacts: 1, GetSignedArtifactURL: 1, 'blob GET': 1 });
      await s.expectUnchanged();
    } finally {
      await server.close();
    }
  });

  test('[P07] a raw CR inside the header (an HTTP-level injection attempt): a typed error, not retried, nothing written', async () => {
    const s = await scene();
    const raw =
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n' +
      'Content-Disposition: attachment; filename="evil\rX-Injected: 1.txt"\r\nConnection: close\r\n\r\npayload';
    const server = await startHostileResults([
      { id: 9, name: ARTIFACT, body: Buffer.from('payload'), rawResponse: raw },
    ]);
    try {
      const error = await failure(
        downloadArtifact(ARTIFACT, { ...clientOptions(s, server.url), path: s.target }),
      );
      expect(error.message).toContain(`artifact '${ARTIFACT}'`);
      await waitFor(() => server.open === 0, 5000);
      expect(hostileSummary(server)['blob GET']).toBe(1);
      await s.expectUnchanged();
    } finally {
      await server.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// P08: server-supplied artifact names in download-all mode
// ---------------------------------------------------------------------------------------------

describe('P08 server-supplied artifact names used as directories', () => {
  const good = (): FakeArtifact => ({
    id: 1,
    name: 'good',
    body: buildZip([{ name: 'g.txt', data: 'good' }]),
  });
  // Unsafe on every platform: refused before anything is downloaded.
  const hostileNames: Array<[string, RegExp]> = [
    ['..', /'\.\.' segment/],
    ['.', /names the target directory itself/],
    ['a/b', /path separator '\/'/],
    ['..\\..\\x', /path separator '\\'/],
    ['/etc', /path separator '\/'/],
    ['x\0y', /control character '\\0'/],
    ['tab\there', /control character '\\t'/],
    ['c:d', /starts with a drive letter/],
    ['', /it is empty/],
  ];
  // Unsafe only where files land on Windows: refused there, downloaded (with a warning) elsewhere,
  // as download-artifact downloads them.
  const windowsOnlyNames: Array<[string, RegExp]> = [
    ['CON', /reserved device name/],
    ['nul.txt', /reserved device name/],
    ['trail.', /ends in a dot or a space/],
    ['name:stream', /contains ':'/],
  ];
  const refusedHere = process.platform === 'win32' ? [...hostileNames, ...windowsOnlyNames] : hostileNames;

  test.each(refusedHere)(
    '[P08] a listed artifact named %j: refused before anything is downloaded; nothing written anywhere',
    async (name, pattern) => {
      const s = await scene();
      const server = await startHostileResults([
        good(),
        { id: 2, name, body: buildZip([{ name: 'pwned.txt', data: 'pwned' }]) },
      ]);
      try {
        const error = await failure(downloadArtifacts({ ...clientOptions(s, server.url), path: s.target }));
        expect(error.code).toBe('ERR_FERRY_UNSAFE_PATH');
        expect(error.message).toMatch(/cannot be used as a directory name/);
        expect(error.message).toMatch(pattern);
        expect(error.message).toContain('operation download');
        await waitFor(() => server.open === 0, 5000);
        // Listed once; not one signed URL or blob fetched.
        expect(hostileSummary(server)).toEqual({ ListArtifacts: 1 });
        await s.expectUnchanged();
      } finally {
        await server.close();
      }
    },
  );

  test.each(windowsOnlyNames)(
    '[P08] a listed artifact named %j is refused by the Windows rules, which apply where files land on Windows',
    (name, pattern) => {
      let thrown: unknown;
      try {
        artifactDirectory(work, name, 'win32');
      } catch (error: unknown) {
        thrown = error;
      }
      expect(thrown).toMatchObject({ code: 'ERR_FERRY_UNSAFE_PATH' });
      expect((thrown as Error).message).toMatch(pattern);
      expect((thrown as Error).message).toMatch(/cannot be used as a directory name/);
      expect(windowsNameProblem(name)).toMatch(pattern);
      expect(windowsNameProblem('build-linux')).toBeUndefined();
    },
  );

  (process.platform === 'win32' ? test.skip : test).each(windowsOnlyNames)(
    '[P08] off Windows, a listed artifact named %j downloads into its own directory, with a warning',
    async (name) => {
      const s = await scene();
      const server = await startHostileResults([
        good(),
        { id: 2, name, body: buildZip([{ name: 'inside.txt', data: 'inside' }]) },
      ]);
      const warnings: string[] = [];
      try {
        const { downloads } = await downloadArtifacts({
          ...clientOptions(s, server.url),
          path: s.target,
          logger: { debug: () => {}, info: () => {}, warn: (m) => warnings.push(m), error: () => {} },
        });
        expect(downloads.map((d) => [d.name, d.downloadPath])).toEqual(
          [
            ['good', path.join(s.target, 'good')],
            [name, path.join(s.target, name)],
          ].sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1)),
        );
        expect(await readFile(path.join(s.target, name, 'inside.txt'), 'utf8')).toBe('inside');
        expect(await readFile(path.join(s.target, 'good', 'g.txt'), 'utf8')).toBe('good');
        expect(warnings.join('\n')).toContain(`could not be created on Windows`);
        expect((await readdir(s.base)).sort()).toEqual(['outside', 'target', 'tmp']);
      } finally {
        await server.close();
      }
    },
  );

  test.each([['c:d'], ['..']])(
    '[P08] the download action in download-all mode refuses a listed name %j the same way, before any download',
    async (name) => {
      const s = await scene();
      const server = await startHostileResults([
        good(),
        { id: 2, name, body: buildZip([{ name: 'pwned.txt', data: 'pwned' }]) },
      ]);
      const saved = { ...process.env };
      const write = process.stdout.write.bind(process.stdout);
      let stdout = '';
      process.stdout.write = ((chunk: string | Uint8Array) => (
        (stdout += String(chunk)),
        true
      )) as typeof process.stdout.write;
      try {
        process.env['INPUT_PATH'] = s.target;
        const error = await failure(
          runDownload({
            ACTIONS_RESULTS_URL: server.url,
            ACTIONS_RUNTIME_TOKEN: TOKEN,
            GITHUB_WORKSPACE: s.base,
          }),
        );
        expect(error.code).toBe('ERR_FERRY_UNSAFE_PATH');
        expect(error.message).toMatch(/cannot be used as a directory name/);
        await waitFor(() => server.open === 0, 5000);
        expect(hostileSummary(server)).toEqual({ ListArtifacts: 1 });
        await s.expectUnchanged();
      } finally {
        process.stdout.write = write;
        process.env = saved;
        await server.close();
      }
      expectNoSecrets(
        stdout
          .split('\n')
          .filter((line) => !line.startsWith('::add-mask::'))
          .join('\n'),
      );
    },
  );

  test("[P08] with mergeMultiple the names are never used as paths: '..' and 'a/b' download safely into the target", async () => {
    const s = await scene();
    const server = await startHostileResults([
      good(),
      { id: 2, name: '..', body: buildZip([{ name: 'dotdot.txt', data: 'from ..' }]) },
      { id: 3, name: 'a/b', body: buildZip([{ name: 'ab.txt', data: 'from a/b' }]) },
    ]);
    try {
      const { downloads } = await downloadArtifacts({
        ...clientOptions(s, server.url),
        path: s.target,
        mergeMultiple: true,
      });
      expect(downloads.map((d) => d.downloadPath)).toEqual([s.target, s.target, s.target]);
      expect((await readdir(s.target)).sort()).toEqual(['ab.txt', 'dotdot.txt', 'g.txt', 'keep.txt']);
      expect((await readdir(s.base)).sort()).toEqual(['outside', 'target', 'tmp']);
      expect(Object.keys(await snapshotTree(s.outside)).sort()).toEqual([
        'nested',
        'nested/file.txt',
        'secret.txt',
      ]);
    } finally {
      await server.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// P09: decompression bombs and the configurable limits
// ---------------------------------------------------------------------------------------------

describe('P09 decompression bombs', () => {
  const zeros = Buffer.alloc(8 * 1024 * 1024);
  const kernel = deflateRawSync(zeros, { level: 9 });

  test('[P09] a >1:1000 ratio entry is refused by the default maxRatio before anything is written', async () => {
    const s = await scene();
    expect(zeros.length / kernel.length).toBeGreaterThan(1000);
    await extractRefused(
      s,
      [OK, { name: 'bomb.bin', data: zeros }],
      'ERR_FERRY_INTEGRITY',
      /entry 'bomb\.bin' has a compression ratio of \d+:1 .* over the limit of 1000.*'limits\.maxRatio'/,
    );
  });

  test('[P09] a declared size that lies low: inflation stops at the declared size, partial output removed', async () => {
    const s = await scene();
    await extractRefused(
      s,
      [OK, { name: 'liar.bin', compressed: kernel, method: 8, uncompressedSize: 1000, crc32: 0 }],
      'ERR_FERRY_INTEGRITY',
      /entry 'liar\.bin' inflates beyond its declared size of 1000 bytes/,
    );
  });

  test('[P09] a declared size that lies low on a large entry (streamed path) is cut off at the declared size too', async () => {
    const s = await scene();
    const big = deflateRawSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    await extractRefused(
      s,
      [OK, { name: 'liar.bin', compressed: big, method: 8, uncompressedSize: 2 * 1024 * 1024, crc32: 0 }],
      'ERR_FERRY_INTEGRITY',
      /inflates beyond its declared size of 2097152 bytes/,
      { limits: { maxRatio: Infinity } },
    );
  });

  test('[P09] zip64 sizes that lie high (5 GiB declared) are refused from the central directory alone', async () => {
    const s = await scene();
    await extractRefused(
      s,
      [OK, { name: 'huge.bin', data: 'tiny', zip64: true, uncompressedSize: 5 * 1024 ** 3 }],
      'ERR_FERRY_INTEGRITY',
      /entry 'huge\.bin' has a compression ratio/,
    );
    await extractRefused(
      s,
      [OK, { name: 'huge.bin', data: 'tiny', zip64: true, uncompressedSize: 5 * 1024 ** 3 }],
      'ERR_FERRY_INTEGRITY',
      /declare at least \d+ bytes uncompressed, over the limit of 1073741824/,
      { limits: { maxTotalBytes: 1024 ** 3, maxRatio: Infinity } },
    );
  });

  test('[P09] an end record announcing 1,000,000 entries is refused by maxEntries before the directory is parsed', async () => {
    const s = await scene();
    await extractRefused(
      s,
      [OK],
      'ERR_FERRY_INTEGRITY',
      /it has 1000000 entries, over the limit of 100000.*'limits\.maxEntries'/,
      {},
      { zip64Eocd: true, saturateEocd: true, entryCount: 1_000_000 },
    );
  });

  test('[P09] overlapping entries (many central records sharing one kernel) are refused', async () => {
    const s = await scene();
    await extractRefused(
      s,
      [
        { name: 'k0', data: Buffer.alloc(512 * 1024) },
        { name: 'k1', overlapWith: 0 },
        { name: 'k2', overlapWith: 0 },
      ],
      'ERR_FERRY_INTEGRITY',
      /entries 'k\d' and 'k\d' overlap \(a zip bomb technique\)/,
    );
  });

  test('[P09] end to end: the served ratio bomb fails the download naming artifact and entry; target unchanged', async () => {
    const s = await scene();
    const name = unique('bomb');
    await publish(name, buildZip([OK, { name: 'bomb.bin', data: zeros }]));
    const from = proxy.requests.length;
    await refusedDownload(
      downloadArtifact(name, { ...clientOptions(s), path: s.target }),
      'ERR_FERRY_INTEGRITY',
      name,
      /entry 'bomb\.bin' has a compression ratio/,
    );
    expectOneCleanAttempt(await requestsSince(from));
    await s.expectUnchanged();
  });

  test('[P09] limits are public download options: maxEntries / maxTotalBytes / maxRatio stop a download at the configured value', async () => {
    const s = await scene();
    const name = unique('limits');
    const files = Array.from({ length: 5 }, (_, i) => ({ name: `f${i}.txt`, data: 'x'.repeat(1000) }));
    await publish(name, buildZip(files));
    const options = { ...clientOptions(s), path: s.target };
    await refusedDownload(
      downloadArtifact(name, { ...options, limits: { maxEntries: 4 } }),
      'ERR_FERRY_INTEGRITY',
      name,
      /it has 5 entries, over the limit of 4/,
    );
    await refusedDownload(
      downloadArtifact(name, { ...options, limits: { maxTotalBytes: 4000 } }),
      'ERR_FERRY_INTEGRITY',
      name,
      /declare at least 5000 bytes uncompressed, over the limit of 4000/,
    );
    await s.expectUnchanged();
    // downloadArtifacts passes them on as well.
    await expect(
      downloadArtifacts({ ...options, pattern: name, limits: { maxEntries: 4 } }),
    ).rejects.toMatchObject({
      code: 'ERR_FERRY_INTEGRITY',
      message: expect.stringContaining('limits.maxEntries') as unknown,
    });
    await s.expectUnchanged();
    // Raised limits let a trusted archive through.
    const big = unique('trusted-bomb');
    await publish(big, buildZip([{ name: 'zeros.bin', data: zeros }]));
    const ok = await downloadArtifact(big, { ...options, limits: { maxRatio: Infinity } });
    expect(ok.size).toBe(zeros.length);
  });

  test('[P09] an invalid limit fails before any request, naming the option', async () => {
    const s = await scene();
    const from = proxy.requests.length;
    for (const limits of [
      { maxEntries: 0 },
      { maxRatio: -1 },
      { maxTotalBytes: Number.NaN },
      { maxEntries: 1.5 },
    ]) {
      const error = await failure(downloadArtifact('any', { ...clientOptions(s), path: s.target, limits }));
      expect(error.code).toBe('ERR_FERRY_INVALID_OPTION');
      expect(error.message).toMatch(/Option 'limits\.max\w+'/);
    }
    await expect(
      downloadArtifact('any', { ...clientOptions(s), path: s.target, limits: { maxFiles: 3 } as never }),
    ).rejects.toMatchObject({ code: 'ERR_FERRY_INVALID_OPTION' });
    expect(await requestsSince(from)).toEqual([]);
  });

  test('[P09] the CLI takes --max-entries / --max-total-bytes / --max-ratio', async () => {
    const s = await scene();
    const name = unique('cli-limits');
    await publish(name, buildZip([OK, { name: 'b.txt', data: 'b' }, { name: 'c.txt', data: 'c' }]));
    const saved = { ...process.env };
    let stdout = '';
    const write = process.stdout.write.bind(process.stdout);
    const writeErr = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((chunk: string | Uint8Array) => (
      (stdout += String(chunk)),
      true
    )) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string | Uint8Array) => (
      (stdout += String(chunk)),
      true
    )) as typeof process.stderr.write;
    try {
      process.env['ACTIONS_RESULTS_URL'] = proxy.url;
      process.env['ACTIONS_RUNTIME_TOKEN'] = TOKEN;
      const refused = await cliMain(['download', name, '--path', s.target, '--max-entries', '2', '--json']);
      expect(refused).toBe(1);
      expect(stdout).toContain('ERR_FERRY_INTEGRITY');
      expect(stdout).toContain('over the limit of 2');
      await s.expectUnchanged();
      const bad = await cliMain(['download', name, '--path', s.target, '--max-ratio', 'lots']);
      expect(bad).toBe(2);
      const ok = await cliMain([
        'download',
        name,
        '--path',
        s.target,
        '--max-entries',
        '3',
        '--max-total-bytes',
        '1000',
        '--max-ratio',
        '10',
      ]);
      expect(ok).toBe(0);
      expect(await readFile(path.join(s.target, 'c.txt'), 'utf8')).toBe('c');
    } finally {
      process.stdout.write = write;
      process.stderr.write = writeErr;
      process.env = saved;
    }
    expectNoSecrets(stdout);
  });

  test('[P09] the download action takes max-entries / max-total-bytes / max-ratio inputs', async () => {
    const s = await scene();
    const name = unique('action-limits');
    await publish(name, buildZip([OK, { name: 'b.txt', data: 'b' }]));
    const saved = { ...process.env };
    let stdout = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => (
      (stdout += String(chunk)),
      true
    )) as typeof process.stdout.write;
    const env = { ACTIONS_RESULTS_URL: proxy.url, ACTIONS_RUNTIME_TOKEN: TOKEN, GITHUB_WORKSPACE: s.base };
    try {
      process.env['INPUT_NAME'] = name;
      process.env['INPUT_PATH'] = s.target;
      process.env['INPUT_MAX-TOTAL-BYTES'] = '3';
      const error = await failure(runDownload(env));
      expect(error.code).toBe('ERR_FERRY_INTEGRITY');
      expect(error.message).toMatch(/over the limit of 3\b.*'limits\.maxTotalBytes'/);
      await s.expectUnchanged();
      process.env['INPUT_MAX-TOTAL-BYTES'] = 'zero';
      await expect(runDownload(env)).rejects.toThrow(/Input 'max-total-bytes' must be a whole number/);
      delete process.env['INPUT_MAX-TOTAL-BYTES'];
      process.env['INPUT_MAX-ENTRIES'] = '2';
      process.env['INPUT_MAX-RATIO'] = '10';
      await runDownload(env);
      expect(await readFile(path.join(s.target, 'b.txt'), 'utf8')).toBe('b');
    } finally {
      process.stdout.write = write;
      process.env = saved;
    }
    // `::add-mask::<secret>` is how an action tells the runner what to hide; the runner consumes
    // it and never shows it. Everything else must be clean.
    const shown = stdout
      .split('\n')
      .filter((line) => !line.startsWith('::add-mask::'))
      .join('\n');
    expectNoSecrets(shown);
  });
});

// ---------------------------------------------------------------------------------------------
// P10 / P11 / P13: truncated, corrupt and unsupported archives served whole
// ---------------------------------------------------------------------------------------------

async function servedZipRefused(
  bytes: Buffer,
  code: FerryErrorCode,
  pattern: RegExp,
  prefix: string,
): Promise<FerryError> {
  const s = await scene();
  const name = unique(prefix);
  await publish(name, bytes);
  const from = proxy.requests.length;
  const error = await refusedDownload(
    downloadArtifact(name, { ...clientOptions(s), path: s.target }),
    code,
    name,
    pattern,
  );
  // The bytes match the listed digest and length: this is the archive, not the transfer, so a
  // retry could not help and none is made; the second GET is the fetch for reading it from its
  // central directory, after the one pass gave up on it.
  expectOneCleanAttempt(await requestsSince(from), 2);
  await s.expectUnchanged();
  return error;
}

describe('P10 truncated zip at an entry boundary', () => {
  const entries: ZipSpecEntry[] = [
    { name: 'one.txt', data: 'first entry' },
    { name: 'two.txt', data: 'second entry' },
  ];

  test('[P10] local headers only, no central directory, correct Content-Length: the download fails, target unchanged', async () => {
    const bytes = buildZip(entries, { omitCentralDirectory: true });
    await servedZipRefused(bytes, 'ERR_FERRY_INTEGRITY', /no end of central directory record found/, 'trunc');
  });

  test('[P10] cut inside the central directory: fails, target unchanged', async () => {
    const whole = buildZip(entries);
    await servedZipRefused(
      whole.subarray(0, whole.length - 30),
      'ERR_FERRY_INTEGRITY',
      /Invalid zip archive/,
      'trunc-cd',
    );
  });

  test('[P10] an end record that counts fewer entries than the archive holds is caught as inconsistent', async () => {
    const bytes = buildZip(entries, { entryCount: 1 });
    await servedZipRefused(bytes, 'ERR_FERRY_INTEGRITY', /Invalid zip archive/, 'trunc-count');
  });
});

describe('P11 CRC-32 mismatch', () => {
  test.each([
    ['STORED', 0],
    ['DEFLATE', 8],
  ])(
    '[P11] %s entry with a valid stream but a wrong CRC: typed error naming the entry, nothing visible',
    async (_label, method) => {
      const error = await servedZipRefused(
        buildZip([
          { name: 'good.txt', data: 'good', method },
          { name: 'bad.txt', data: 'the data of bad.txt', method, crc32: 0x12345678 },
        ]),
        'ERR_FERRY_INTEGRITY',
        /CRC-32 mismatch in entry 'bad\.txt': the central directory says 0x12345678/,
        'crc',
      );
      expect(error.message).toContain('Invalid zip archive');
    },
  );

  test('[P11] a corrupt deflate stream names the entry', async () => {
    await servedZipRefused(
      buildZip([
        OK,
        {
          name: 'broken.txt',
          method: 8,
          compressed: Buffer.from([0xff, 0xff, 0xff, 0xff]),
          uncompressedSize: 10,
        },
      ]),
      'ERR_FERRY_INTEGRITY',
      /entry 'broken\.txt' has corrupt compressed data/,
      'inflate',
    );
  });
});

describe('P13 unsupported zip features', () => {
  test.each([
    ['the encryption flag', { name: 'enc.txt', data: 'secret', flags: 1 }, /entry 'enc\.txt' is encrypted/],
    [
      'AES (method 99)',
      { name: 'aes.txt', data: 'x', method: 99, compressed: Buffer.from('x') },
      /entry 'aes\.txt' is encrypted/,
    ],
    [
      'bzip2 (method 12)',
      { name: 'bz.txt', data: 'x', method: 12, compressed: Buffer.from('x') },
      /compression method 12 \(bzip2\); only stored \(0\) and deflate \(8\)/,
    ],
    [
      'version needed 6.3',
      { name: 'new.txt', data: 'x', versionNeeded: 63 },
      /needs zip version 6\.3 to extract; up to 4\.5/,
    ],
  ] as Array<[string, ZipSpecEntry, RegExp]>)(
    '[P13] %s: a clear "Unsupported zip archive" error naming the entry, end to end',
    async (_label, entry, pattern) => {
      const error = await servedZipRefused(
        buildZip([OK, entry]),
        'ERR_FERRY_INTEGRITY',
        pattern,
        'unsupported',
      );
      expect(error.message).toContain('Unsupported zip archive');
    },
  );

  test('[P13] a multi-disk archive is refused clearly', async () => {
    await servedZipRefused(
      buildZip([OK], { eocdDisk: 1 }),
      'ERR_FERRY_INTEGRITY',
      /multi-disk \(split or spanned\) archives are not supported/,
      'multidisk',
    );
  });

  test('[P13] a prepended stub whose offsets do not add up is refused clearly', async () => {
    await servedZipRefused(
      buildZip([OK, { name: 'b.txt', data: 'b' }], { gapBeforeCentralDirectory: Buffer.alloc(64, 0x41) }),
      'ERR_FERRY_INTEGRITY',
      /unexplained bytes|inconsistent offsets|bad signature/,
      'stub-bad',
    );
  });

  test('[P13] supported on purpose: a self-extractor stub with consistent offsets, data descriptors, and ZIP64 records extract exactly', async () => {
    const stub = Buffer.from('#!/bin/sh\necho self-extractor\nexit 0\n');
    const variants: Array<[string, Buffer]> = [
      ['cat stub', buildZip([{ name: 's.txt', data: 'stub ok' }], { prefix: stub })],
      ['zip -A stub', buildZip([{ name: 's.txt', data: 'stub ok' }], { prefix: stub, adjustOffsets: true })],
      ['data descriptor', buildZip([{ name: 's.txt', data: 'stub ok', dataDescriptor: true }])],
      [
        'zip64',
        buildZip([{ name: 's.txt', data: 'stub ok', zip64: true }], { zip64Eocd: true, saturateEocd: true }),
      ],
    ];
    for (const [label, bytes] of variants) {
      const s = await scene({ targetExists: false });
      const name = unique(label.replace(/\W+/g, '-'));
      await publish(name, bytes);
      const result = await downloadArtifact(name, { ...clientOptions(s), path: s.target });
      expect([label, result.fileCount]).toEqual([label, 1]);
      expect(await readFile(path.join(s.target, 's.txt'), 'utf8')).toBe('stub ok');
      expect((await readdir(s.target)).sort()).toEqual(['s.txt']);
    }
  });
});
