/**
 * Reliability case X04: a hostile legacy (pipelines file-container) service whose container item
 * paths try to leave the artifact: `..` segments, absolute paths, backslashes, drive letters,
 * control characters, another artifact's prefix, and a symlink already in the target. Every path
 * is checked before a single file is fetched; the target and a sentinel directory outside it are
 * compared before and after (I1, I2); the error is typed and names the download and the artifact
 * (I4); the runtime token (with a sentinel signature) never shows (I6).
 */
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { downloadArtifact, isFerryError } from '../../src/index.js';
import type { FerryError } from '../../src/core/errors.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { startLoopback, waitFor, type Loopback } from '../helpers/loopback.js';
import { expectNoSecrets, SENTINEL, snapshotTree } from './invariants.js';

const TOKEN = (() => {
  const [header, payload] = runtimeJwt('run-x04', 'job-x04').split('.');
  return `${header}.${payload}.${SENTINEL.tokenSignature}`;
})();
const RUN_ID = '4242';
const ARTIFACT = 'art';

interface Item {
  path: string;
  content?: string;
  itemType?: 'file' | 'folder';
}

interface HostileLegacy {
  server: Loopback;
  /** File GETs per item path. */
  fetched: string[];
}

/**
 * Just enough of the file-container service: the run's artifact list (one artifact, `art`), its
 * container items exactly as given, and each item's content.
 */
async function startHostileLegacy(items: readonly Item[]): Promise<HostileLegacy> {
  const fetched: string[] = [];
  const self = { url: '' };
  const server = await startLoopback((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (value: unknown): void => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (url.pathname === `/_apis/pipelines/workflows/${RUN_ID}/artifacts`) {
      json({
        count: 1,
        value: [
          {
            containerId: 1,
            size: 0,
            signedContent: null,
            fileContainerResourceUrl: `${self.url}_apis/resources/Containers/1`,
            type: 'actions_storage',
            name: ARTIFACT,
            url: `${self.url}_apis/pipelines/1/artifacts?artifactName=${ARTIFACT}`,
          },
        ],
      });
      return;
    }
    if (url.pathname === '/_apis/resources/Containers/1') {
      json({
        count: items.length,
        value: items.map((item, i) => ({
          path: item.path,
          itemType: item.itemType ?? 'file',
          fileLength: Buffer.byteLength(item.content ?? ''),
          contentLocation: `${self.url}content/${i}`,
        })),
      });
      return;
    }
    const match = /^\/content\/(\d+)$/.exec(url.pathname);
    const item = match ? items[Number(match[1])] : undefined;
    if (item) {
      fetched.push(item.path);
      const body = Buffer.from(item.content ?? '');
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(body.length),
      });
      res.end(body);
      return;
    }
    res.writeHead(404).end();
  });
  self.url = server.url;
  return { server, fetched };
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-rel-x04-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Scene {
  base: string;
  target: string;
  outside: string;
  tmp: string;
  rebase(): Promise<void>;
  expectUnchanged(): Promise<void>;
}

async function scene(targetExists = true): Promise<Scene> {
  const base = await mkdtemp(path.join(work, 'scene-'));
  const target = path.join(base, 'target');
  const outside = path.join(base, 'outside');
  const tmp = path.join(base, 'tmp');
  await mkdir(path.join(outside, 'nested'), { recursive: true });
  await mkdir(tmp);
  await writeFile(path.join(outside, 'secret.txt'), 'outside sentinel');
  await writeFile(path.join(outside, 'nested', 'file.txt'), 'nested sentinel');
  if (targetExists) {
    await mkdir(target);
    await writeFile(path.join(target, 'keep.txt'), 'pre-existing content');
  }
  let before = { target: await snapshotTree(target), outside: await snapshotTree(outside) };
  return {
    base,
    target,
    outside,
    tmp,
    async rebase() {
      before = { target: await snapshotTree(target), outside: await snapshotTree(outside) };
    },
    async expectUnchanged() {
      expect(await snapshotTree(outside)).toEqual(before.outside);
      expect(await snapshotTree(target)).toEqual(before.target);
      if (!targetExists) await expect(lstat(target)).rejects.toMatchObject({ code: 'ENOENT' });
      expect((await readdir(base)).sort()).toEqual(
        targetExists ? ['outside', 'target', 'tmp'] : ['outside', 'tmp'],
      );
    },
  };
}

const options = (s: Scene, server: Loopback) => ({
  backend: 'legacy' as const,
  runtimeUrl: server.url,
  runtimeToken: TOKEN,
  runId: RUN_ID,
  retry: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 3 },
  tempDir: s.tmp,
  path: s.target,
});

async function refused(promise: Promise<unknown>, pattern: RegExp): Promise<FerryError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the download to fail');
    },
    (e: unknown) => e,
  );
  if (!isFerryError(error)) throw error;
  expect(error.code).toBe('ERR_FERRY_UNSAFE_PATH');
  expect(error.retryable).toBe(false);
  expect(error.message).toMatch(pattern);
  expect(error.message).toContain('operation download');
  expect(error.message).toContain(`artifact '${ARTIFACT}'`);
  expectNoSecrets(error);
  return error;
}

const OK: Item = { path: `${ARTIFACT}/ok.txt`, content: 'fine' };

describe('X04 legacy container items escaping the artifact', () => {
  const hostile: Array<[string, RegExp]> = [
    [`${ARTIFACT}/../escape.txt`, /'\.\.\/escape\.txt': it contains a '\.\.' segment/],
    [`${ARTIFACT}/sub/../../../escape.txt`, /contains a '\.\.' segment/],
    [`${ARTIFACT}//etc/passwd`, /'\/etc\/passwd': it is an absolute path/],
    [`${ARTIFACT}\\..\\..\\escape.txt`, /contains a '\.\.' segment/],
    [`${ARTIFACT}/C:\\Windows\\x`, /starts with a drive letter/],
    [`${ARTIFACT}/\\\\server\\share\\x`, /UNC path|absolute path/],
    [`${ARTIFACT}/sub/a\u0000b`, /control character '\\0'/],
    [`${ARTIFACT}/sub/line\nbreak`, /control character '\\n'/],
  ];

  test.each(hostile)(
    '[X04] item %j: refused before any file is fetched; target and outside unchanged',
    async (itemPath, pattern) => {
      for (const targetExists of [true, false]) {
        const s = await scene(targetExists);
        const { server, fetched } = await startHostileLegacy([OK, { path: itemPath, content: 'pwned' }]);
        try {
          await refused(downloadArtifact(ARTIFACT, options(s, server)), pattern);
          expect(fetched).toEqual([]);
          await waitFor(() => server.open === 0, 5000);
          await s.expectUnchanged();
          await expect(lstat(path.join(s.base, 'escape.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
        } finally {
          await server.close();
        }
      }
    },
  );

  test("[X04] items under another artifact's prefix (or outside any prefix) are never fetched or written", async () => {
    const s = await scene();
    const { server, fetched } = await startHostileLegacy([
      OK,
      { path: 'other/secret.txt', content: 'other artifact' },
      { path: `${ARTIFACT}-2/x.txt`, content: 'prefix look-alike' },
      { path: `/${ARTIFACT}/abs.txt`, content: 'absolute' },
      { path: `../${ARTIFACT}/up.txt`, content: 'up' },
      { path: ARTIFACT, content: 'the artifact root itself' },
    ]);
    try {
      const result = await downloadArtifact(ARTIFACT, options(s, server));
      expect(result.fileCount).toBe(1);
      expect(fetched).toEqual([`${ARTIFACT}/ok.txt`]);
      expect((await readdir(s.target)).sort()).toEqual(['keep.txt', 'ok.txt']);
      expect(Object.keys(await snapshotTree(s.outside)).sort()).toEqual([
        'nested',
        'nested/file.txt',
        'secret.txt',
      ]);
      expect((await readdir(s.base)).sort()).toEqual(['outside', 'target', 'tmp']);
      await waitFor(() => server.open === 0, 5000);
    } finally {
      await server.close();
    }
  });

  test('[X04] backslashes are separators: art\\sub\\f.txt lands in target/sub/f.txt, never in a name with a backslash', async () => {
    const s = await scene();
    const { server } = await startHostileLegacy([{ path: `${ARTIFACT}\\sub\\f.txt`, content: 'nested' }]);
    try {
      await downloadArtifact(ARTIFACT, options(s, server));
      expect(await readFile(path.join(s.target, 'sub', 'f.txt'), 'utf8')).toBe('nested');
      expect((await readdir(s.target)).sort()).toEqual(['keep.txt', 'sub']);
    } finally {
      await server.close();
    }
  });

  test('[X04] a directory symlink already in the target is not followed: refused, outside untouched', async () => {
    const s = await scene();
    await symlink(s.outside, path.join(s.target, 'linkdir'));
    await s.rebase();
    const { server } = await startHostileLegacy([
      OK,
      { path: `${ARTIFACT}/linkdir/pwned.txt`, content: 'pwned' },
    ]);
    try {
      await refused(
        downloadArtifact(ARTIFACT, options(s, server)),
        /'linkdir' already exists in the target directory as a symbolic link; refusing to follow it/,
      );
      await waitFor(() => server.open === 0, 5000);
      await s.expectUnchanged();
    } finally {
      await server.close();
    }
  });
});
