/**
 * Reliability cases X28–X34: legacy downloads that cannot lie. A hostile file-container service
 * on a loopback socket (hostile-legacy.ts) lists unfinished artifacts, items whose bytes differ
 * from their listed length, more items and bytes than the download limits allow, gzip bombs,
 * colliding and mistyped items, and one artifact name twice. Each download must fail with a
 * typed error before anything lands in the target (the target and a sentinel directory outside
 * it are compared before and after), and the runtime token never shows.
 */
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { downloadArtifact, isFerryError } from '../../src/index.js';
import type { FerryError, FerryErrorCode } from '../../src/core/errors.js';
import { runCli as ferry } from '../helpers/run-cli.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { waitFor } from '../helpers/loopback.js';
import {
  artifactsUrl,
  chunkUrl,
  contentRange,
  md5Base64,
  rawRequest,
  startFixture,
} from '../helpers/server-fixture.js';
import { startHostileLegacy, RUN_ID, type HostileArtifact, type HostileItem } from './hostile-legacy.js';
import { expectNoSecrets, SENTINEL, snapshotTree } from './invariants.js';

const TOKEN = (() => {
  const [header, payload] = runtimeJwt('run-x28', 'job-x28').split('.');
  return `${header}.${payload}.${SENTINEL.tokenSignature}`;
})();
const NAME = 'art';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-rel-x28-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Scene {
  target: string;
  tmp: string;
  expectUnchanged(): Promise<void>;
}

/** A target holding one file, and a sentinel directory beside it; both must stay as they are. */
async function scene(): Promise<Scene> {
  const base = await mkdtemp(path.join(work, 'scene-'));
  const target = path.join(base, 'target');
  const outside = path.join(base, 'outside');
  const tmp = path.join(base, 'tmp');
  await mkdir(target);
  await mkdir(outside);
  await mkdir(tmp);
  await writeFile(path.join(target, 'keep.txt'), 'pre-existing content');
  await writeFile(path.join(outside, 'secret.txt'), 'outside sentinel');
  const before = { target: await snapshotTree(target), outside: await snapshotTree(outside) };
  return {
    target,
    tmp,
    async expectUnchanged() {
      expect(await snapshotTree(outside)).toEqual(before.outside);
      expect(await snapshotTree(target)).toEqual(before.target);
      expect((await readdir(base)).sort()).toEqual(['outside', 'target', 'tmp']);
      // No staging directory left behind either (snapshotTree lists hidden entries too).
      expect(await readdir(target)).toEqual(['keep.txt']);
    },
  };
}

function options(s: Scene, url: string, extra: Record<string, unknown> = {}) {
  return {
    backend: 'legacy' as const,
    runtimeUrl: url,
    runtimeToken: TOKEN,
    runId: RUN_ID,
    retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 3 },
    tempDir: s.tmp,
    path: s.target,
    ...extra,
  };
}

async function failure(
  promise: Promise<unknown>,
  code: FerryErrorCode,
  pattern: RegExp,
): Promise<FerryError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the download to fail');
    },
    (e: unknown) => e,
  );
  if (!isFerryError(error)) throw error;
  expect(error.code).toBe(code);
  expect(error.message).toMatch(pattern);
  expect(error.message).toContain('operation download');
  expect(error.message).toContain(`artifact '${NAME}'`);
  expectNoSecrets(error);
  return error;
}

/** Runs one download against a hostile listing and checks the invariants around the failure. */
async function refused(
  artifacts: readonly HostileArtifact[],
  items: readonly HostileItem[],
  code: FerryErrorCode,
  pattern: RegExp,
  extra: Record<string, unknown> = {},
): Promise<{ error: FerryError; fetched: string[] }> {
  const s = await scene();
  const hostile = await startHostileLegacy(artifacts, items);
  try {
    const error = await failure(downloadArtifact(NAME, options(s, hostile.url, extra)), code, pattern);
    await waitFor(() => hostile.server.open === 0, 5000);
    await s.expectUnchanged();
    return { error, fetched: hostile.fetched };
  } finally {
    await hostile.close();
  }
}

const file = (name: string, content: string, more: Partial<HostileItem> = {}): HostileItem => ({
  path: `${NAME}/${name}`,
  content,
  ...more,
});

describe('X28 unfinished legacy artifacts are refused', () => {
  test('[X28] an artifact never finalized (size -1) is refused before its items are even listed', async () => {
    const { error, fetched } = await refused(
      [{ name: NAME, size: -1 }],
      [file('a.txt', 'alpha')],
      'ERR_FERRY_ARTIFACT_INCOMPLETE',
      /was never finalized \(the service lists its size as -1\)/,
    );
    expect(fetched).toEqual([]);
    expect(error.retryable).toBe(false);
  });

  test('[X28] an item still pending upload is refused, naming the file', async () => {
    const { error, fetched } = await refused(
      [{ name: NAME, size: 10 }],
      [file('a.txt', 'alpha', { status: 'created' }), file('b.txt', 'bravo', { status: 'pendingUpload' })],
      'ERR_FERRY_ARTIFACT_INCOMPLETE',
      /its file 'b\.txt' has the status 'pendingUpload'/,
    );
    expect(fetched).toEqual([]);
    expect(error.context.file).toBe('b.txt');
  });

  test('[X28] listed files adding up to less than the finalized size: refused before any GET', async () => {
    const { fetched } = await refused(
      [{ name: NAME, size: 700 }],
      [file('a.txt', 'alpha'), file('b.txt', 'bravo')],
      'ERR_FERRY_ARTIFACT_INCOMPLETE',
      /lists 2 files with 10 bytes, but its upload was finalized with 700 bytes \(690 missing\)/,
    );
    expect(fetched).toEqual([]);
  });

  test('[X28] without listed lengths, fewer bytes received than finalized: refused after the download, nothing placed', async () => {
    const { fetched } = await refused(
      [{ name: NAME, size: 700 }],
      [file('a.txt', 'alpha', { fileLength: null }), file('b.txt', 'bravo', { fileLength: null })],
      'ERR_FERRY_ARTIFACT_INCOMPLETE',
      /sent 2 files with 10 bytes, but its upload was finalized with 700 bytes/,
    );
    expect(fetched.sort()).toEqual([`${NAME}/a.txt`, `${NAME}/b.txt`]);
  });

  test('[X28] servers that list no size (act, Gitea) and more bytes than finalized (merged uploads) still download', async () => {
    for (const size of [undefined, 3]) {
      const s = await scene();
      const hostile = await startHostileLegacy(
        [{ name: NAME, ...(size === undefined ? {} : { size }) }],
        [file('a.txt', 'alpha', { fileLength: null }), file('d/b.txt', 'bravo')],
      );
      try {
        const result = await downloadArtifact(NAME, options(s, hostile.url));
        expect(result).toMatchObject({ fileCount: 2, size: 10 });
        expect(await readFile(path.join(s.target, 'd', 'b.txt'), 'utf8')).toBe('bravo');
      } finally {
        await hostile.close();
      }
    }
  });
});

describe('X28 against ferry serve: an upload that stopped after 14 of 70 files', () => {
  test('[X28] refused unfinalized, refused with files missing after a PATCH, downloaded once complete, unfinished again during a second upload', async () => {
    const fx = await startFixture();
    try {
      const runId = '2870';
      const created = await rawRequest('POST', artifactsUrl(fx.server, runId), {
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ Type: 'actions_storage', Name: NAME }),
      });
      expect(created.status).toBe(201);
      const container = created.json<{ fileContainerResourceUrl: string }>().fileContainerResourceUrl;
      const content = (i: number): Buffer => Buffer.from(`file number ${i}\n`);
      const put = async (i: number): Promise<void> => {
        const bytes = content(i);
        const res = await rawRequest('PUT', chunkUrl(container, `${NAME}/dir${i % 3}/f${i}.txt`), {
          headers: {
            'Content-Type': 'application/octet-stream',
            'Content-Length': bytes.length,
            'Content-Range': contentRange(0, bytes.length, bytes.length),
            'x-actions-results-md5': md5Base64(bytes),
          },
          body: bytes,
        });
        expect(res.status).toBeLessThan(300);
      };
      for (let i = 0; i < 14; i++) await put(i);

      // The uploader crashed: no PATCH. The SDK refuses, and so does the CLI (exit 1).
      const s = await scene();
      const serve = (): ReturnType<typeof options> => ({ ...options(s, fx.server.url), runId });
      await failure(downloadArtifact(NAME, serve()), 'ERR_FERRY_ARTIFACT_INCOMPLETE', /never finalized/);
      await s.expectUnchanged();
      const cli = await ferry(
        'download',
        NAME,
        '--url',
        fx.server.url,
        // ferry serve speaks both protocols; this artifact is a legacy one.
        '--protocol',
        'legacy',
        '--run-id',
        runId,
        '--path',
        s.target,
      );
      expect(cli.code).toBe(1);
      expect(cli.stderr).toMatch(/error: Artifact 'art' was never finalized/);
      await s.expectUnchanged();

      // An uploader that PATCHes the full size even though files failed (as the official one does).
      const total = Array.from({ length: 70 }, (_, i) => content(i).length).reduce((a, b) => a + b, 0);
      const listed = Array.from({ length: 14 }, (_, i) => content(i).length).reduce((a, b) => a + b, 0);
      const patched = await rawRequest(
        'PATCH',
        `${fx.server.url}_apis/pipelines/workflows/${runId}/artifacts?api-version=6.0-preview&artifactName=${NAME}`,
        { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ Size: total }) },
      );
      expect(patched.status).toBe(200);
      await failure(
        downloadArtifact(NAME, serve()),
        'ERR_FERRY_ARTIFACT_INCOMPLETE',
        new RegExp(
          `lists 14 files with ${listed} bytes, but its upload was finalized with ${total} bytes \\(${total - listed} missing\\)`,
        ),
      );
      await s.expectUnchanged();

      // The rest arrives: the same download now succeeds with every file.
      for (let i = 14; i < 70; i++) await put(i);
      const result = await downloadArtifact(NAME, serve());
      expect(result).toMatchObject({ fileCount: 70, size: total });
      expect(await readFile(path.join(s.target, 'dir2', 'f68.txt'), 'utf8')).toBe('file number 68\n');

      // A second upload into the same artifact (v1 merge) makes it unfinished again until its
      // PATCH, so a crash in that upload cannot pass off old and new files mixed as complete.
      const again = await rawRequest('POST', artifactsUrl(fx.server, runId), {
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ Type: 'actions_storage', Name: NAME }),
      });
      expect(again.json<{ size: number }>().size).toBe(-1);
      await put(70);
      const s2 = await scene();
      await failure(
        downloadArtifact(NAME, { ...options(s2, fx.server.url), runId }),
        'ERR_FERRY_ARTIFACT_INCOMPLETE',
        /never finalized/,
      );
      await s2.expectUnchanged();
      const repatched = await rawRequest(
        'PATCH',
        `${fx.server.url}_apis/pipelines/workflows/${runId}/artifacts?api-version=6.0-preview&artifactName=${NAME}`,
        {
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ Size: content(70).length }),
        },
      );
      expect(repatched.status).toBe(200);
      expect(await downloadArtifact(NAME, { ...options(s2, fx.server.url), runId })).toMatchObject({
        fileCount: 71,
      });
    } finally {
      await fx.dispose();
    }
  }, 60_000);
});

describe('X29 item bytes must match the listed fileLength', () => {
  test('[X29] a raw body longer than listed (no Content-Length) is stopped and refused, not retried', async () => {
    const { fetched } = await refused(
      [{ name: NAME, size: 5 }],
      [file('a.txt', 'alpha but much longer than listed', { fileLength: 5, noContentLength: true })],
      'ERR_FERRY_RESPONSE_TOO_LARGE',
      /download of 'a\.txt' is larger than the limit of 5 bytes \(the listed fileLength\)/,
    );
    expect(fetched).toEqual([`${NAME}/a.txt`]);
  });

  test('[X29] a gzip body that inflates past its listed length is refused, not retried', async () => {
    const { fetched } = await refused(
      [{ name: NAME }],
      [file('a.txt', 'x'.repeat(100_000), { fileLength: 1000, gzip: true })],
      'ERR_FERRY_RESPONSE_TOO_LARGE',
      /is larger than the limit of 1000 bytes \(the listed fileLength\)/,
    );
    expect(fetched).toEqual([`${NAME}/a.txt`]);
  });

  test('[X29] a body shorter than listed (valid gzip, or raw without Content-Length) is retried, then refused', async () => {
    for (const more of [{ gzip: true }, { noContentLength: true }]) {
      const { error, fetched } = await refused(
        [{ name: NAME }],
        [file('a.txt', 'short', { fileLength: 5000, ...more })],
        'ERR_FERRY_INTEGRITY',
        /ended after 5 bytes.*but the listing gives its length as 5000/,
      );
      // Bounded: maxAttempts 3.
      expect(fetched).toEqual([`${NAME}/a.txt`, `${NAME}/a.txt`, `${NAME}/a.txt`]);
      expect(error.context.file).toBe('a.txt');
    }
  });
});

describe('X30 download limits apply to legacy listings before anything is written', () => {
  test('[X30] limits.maxEntries: 2,001 items against a limit of 2,000 are refused before any GET', async () => {
    const items = Array.from({ length: 2001 }, (_, i) => file(`f${i}.txt`, 'x'));
    const { fetched } = await refused(
      [{ name: NAME }],
      items,
      'ERR_FERRY_INTEGRITY',
      /Legacy artifact 'art' rejected: it lists more than 2000 files, over the limit of 2000.*limits\.maxEntries/,
      { limits: { maxEntries: 2000 } },
    );
    expect(fetched).toEqual([]);
  });

  test('[X30] the default limit holds too: 100,001 items are refused (150,000 files landed before)', async () => {
    const items = Array.from({ length: 100_001 }, (_, i) => file(`d${i % 100}/f${i}`, ''));
    const { fetched } = await refused(
      [{ name: NAME }],
      items,
      'ERR_FERRY_INTEGRITY',
      /it lists more than 100000 files, over the limit of 100000/,
    );
    expect(fetched).toEqual([]);
  }, 60_000);

  test('[X30] limits.maxTotalBytes against the listed lengths: refused before any GET', async () => {
    const { fetched } = await refused(
      [{ name: NAME }],
      [file('a.txt', 'a'.repeat(600)), file('b.txt', 'b'.repeat(600))],
      'ERR_FERRY_INTEGRITY',
      /its files declare at least 1200 bytes uncompressed, over the limit of 1000.*limits\.maxTotalBytes/,
      { limits: { maxTotalBytes: 1000 } },
    );
    expect(fetched).toEqual([]);
  });

  test('[X30] unsafe name lengths are refused like zip entry names', async () => {
    const { fetched } = await refused(
      [{ name: NAME }],
      [file(`${'s'.repeat(256)}/a.txt`, 'x')],
      'ERR_FERRY_UNSAFE_PATH',
      /segment 's+…\(256 characters\)' is longer than 255 bytes/,
    );
    expect(fetched).toEqual([]);
  });
});

describe('X31 download limits hold on the bytes actually written', () => {
  test('[X31] items without fileLength that exceed limits.maxTotalBytes are stopped', async () => {
    await refused(
      [{ name: NAME }],
      [
        file('a.bin', 'a'.repeat(4000), { fileLength: null }),
        file('b.bin', 'b'.repeat(4000), { fileLength: null }),
      ],
      'ERR_FERRY_INTEGRITY',
      /Legacy artifact 'art' rejected: its files are at least \d+ bytes, over the limit of 6000/,
      { limits: { maxTotalBytes: 6000 } },
    );
  });
});

describe('X32 gzip bombs in legacy items', () => {
  // 64 MiB of zeros gzip to ~64 KiB: a ratio of ~1000:1.
  const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });

  test('[X32] limits.maxRatio stops an inflating item after its first MiB, even with an honest fileLength', async () => {
    const started = Date.now();
    const { error } = await refused(
      [{ name: NAME }],
      [file('zeros.bin', '', { body: bomb, gzip: true, fileLength: 64 * 1024 * 1024 })],
      'ERR_FERRY_INTEGRITY',
      /file 'zeros\.bin' inflates at a ratio of \d+:1 .*over the limit of 100.*limits\.maxRatio/,
      { limits: { maxRatio: 100 } },
    );
    expect(error.retryable).toBe(false);
    // Stopped as soon as the output passed maxRatio × the bytes received (the whole ~64 KiB body
    // arrives at once), within one 256 KiB gunzip chunk: not inflated to 64 MiB and then judged.
    const inflated = Number(/\((\d+) bytes from/.exec(error.message)?.[1]);
    expect(inflated).toBeLessThanOrEqual(100 * bomb.length + 256 * 1024);
    expect(inflated).toBeLessThan(8 * 1024 * 1024);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  test('[X32] a bomb with no fileLength is stopped by limits.maxTotalBytes', async () => {
    const { error } = await refused(
      [{ name: NAME }],
      [file('zeros.bin', '', { body: bomb, gzip: true, fileLength: null })],
      'ERR_FERRY_INTEGRITY',
      /its files are at least (\d+) bytes, over the limit of 8388608/,
      { limits: { maxTotalBytes: 8 * 1024 * 1024 } },
    );
    const seen = Number(/at least (\d+) bytes/.exec(error.message)?.[1]);
    expect(seen).toBeLessThan(9 * 1024 * 1024);
  });
});

describe('X33 listings that contradict themselves', () => {
  const cases: Array<[string, HostileItem[], FerryErrorCode, RegExp]> = [
    [
      'the same path twice with different content',
      [file('a.txt', 'one'), file('a.txt', 'two!')],
      'ERR_FERRY_UNSAFE_PATH',
      /names the file 'a\.txt' more than once/,
    ],
    [
      'the same path once with / and once with \\',
      [file('d/a.txt', 'one'), { path: `${NAME}\\d\\a.txt`, content: 'two' }],
      'ERR_FERRY_UNSAFE_PATH',
      /names the file 'd\/a\.txt' more than once/,
    ],
    [
      'paths that differ only in case',
      [file('Read.me', 'one'), file('read.ME', 'two')],
      'ERR_FERRY_UNSAFE_PATH',
      /'Read\.me' and 'read\.ME' differ only in letter case/,
    ],
    [
      'paths that differ only in Unicode normalisation',
      [file('caf\u00e9', 'one'), file('cafe\u0301', 'two')],
      'ERR_FERRY_UNSAFE_PATH',
      /differ only in letter case, separators or Unicode normalisation/,
    ],
    [
      'a file that is also the folder of another file',
      [file('x', 'file'), file('x/y.txt', 'below')],
      'ERR_FERRY_UNSAFE_PATH',
      /'x' is listed as a file, but 'x\/y\.txt' needs it to be a folder/,
    ],
    [
      'a folder item at the path of a file (either order)',
      [{ path: `${NAME}/x`, itemType: 'folder' }, file('x', 'file')],
      'ERR_FERRY_UNSAFE_PATH',
      /'x' is listed as a file, but the listing also needs 'x' to be a folder/,
    ],
    [
      'an itemType that is neither file nor folder',
      [file('a.txt', 'one'), file('link', 'two', { itemType: 'symlink' })],
      'ERR_FERRY_PROTOCOL',
      /'link' has the unknown itemType 'symlink'/,
    ],
    [
      'a file with no contentLocation',
      [file('a.txt', 'one', { noContentLocation: true })],
      'ERR_FERRY_PROTOCOL',
      /'a\.txt' has no contentLocation/,
    ],
    [
      'a contentLocation into another container',
      [file('a.txt', 'one', { contentLocation: `_apis/resources/Containers/2?itemPath=${NAME}%2Fa.txt` })],
      'ERR_FERRY_PROTOCOL',
      /'a\.txt' points at container '2', not this artifact's container '1'/,
    ],
    [
      'a contentLocation naming another item of the container',
      [file('a.txt', 'one', { contentLocation: '_apis/resources/Containers/1?itemPath=other%2Fsecret.txt' })],
      'ERR_FERRY_PROTOCOL',
      /'a\.txt' points at the item 'other\/secret\.txt' instead of itself/,
    ],
    [
      'a negative fileLength',
      [file('a.txt', 'one', { fileLength: -5 })],
      'ERR_FERRY_PROTOCOL',
      /'a\.txt' has the invalid fileLength '-5'/,
    ],
  ];

  test.each(cases)('[X33] %s: refused before any GET', async (_what, items, code, pattern) => {
    const { fetched } = await refused([{ name: NAME }], items, code, pattern);
    expect(fetched).toEqual([]);
  });
});

describe('X34 an artifact list naming one artifact twice', () => {
  test('[X34] download refuses to pick either', async () => {
    const { fetched } = await refused(
      [
        { name: NAME, size: 3 },
        { name: NAME, size: 5 },
      ],
      [file('a.txt', 'one')],
      'ERR_FERRY_PROTOCOL',
      /lists 2 artifacts named 'art' in run 2828/,
    );
    expect(fetched).toEqual([]);
  });
});

test('sanity: a missing target stays missing after a refused download', async () => {
  const s = await scene();
  const fresh = path.join(s.target, 'new', 'deeper');
  const hostile = await startHostileLegacy([{ name: NAME, size: -1 }], [file('a.txt', 'x')]);
  try {
    await failure(
      downloadArtifact(NAME, { ...options(s, hostile.url), path: fresh }),
      'ERR_FERRY_ARTIFACT_INCOMPLETE',
      /never finalized/,
    );
    await expect(lstat(path.join(s.target, 'new'))).rejects.toMatchObject({ code: 'ENOENT' });
  } finally {
    await hostile.close();
  }
});
