import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  downloadArtifact,
  downloadArtifacts,
  listArtifacts,
  mergeArtifacts,
  uploadArtifact,
  type ArtifactClientOptions,
} from '../../src/index.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { hashTree } from '../helpers/tree.js';
import { firstStoredBlobFile } from '../helpers/stored-blob.js';

/**
 * Several artifacts at once against `ferry serve` (results protocol): mergeArtifacts
 * (upload-artifact/merge, streamed zip to zip), downloadArtifacts (download-artifact's pattern,
 * artifact-ids and merge-multiple) and the conflict and digest policies of downloads.
 */

const TOKEN = runtimeJwt('run-merge', 'job-merge');

let work: string;
let server: RunningServer;
let dataDir: string;
let requests: string[];
let scratch = 0;

beforeEach(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-merge-'));
  dataDir = path.join(work, 'data');
  requests = [];
  server = await startServer({ dataDir, port: 0, token: TOKEN, log: (line) => requests.push(line) });
});
afterEach(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

const options = (extra: Partial<ArtifactClientOptions> = {}): ArtifactClientOptions => ({
  resultsUrl: server.url,
  runtimeToken: TOKEN,
  tempDir: path.join(work, 'tmp'),
  ...extra,
});

type Tree = Record<string, string | Buffer>;

async function writeTree(root: string, tree: Tree): Promise<string[]> {
  const files: string[] = [];
  for (const [relative, data] of Object.entries(tree)) {
    const full = path.join(root, ...relative.split('/'));
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, data);
    files.push(full);
  }
  return files;
}

/** Uploads `tree` as artifact `name`; returns its id. */
async function upload(name: string, tree: Tree, extra: Partial<ArtifactClientOptions> = {}): Promise<number> {
  const root = path.join(work, `src-${++scratch}`);
  const files = await writeTree(root, tree);
  const result = await uploadArtifact(name, files, root, { ...options(), ...extra });
  return result.id as number;
}

const sha = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

function hashesOf(tree: Tree, prefix = ''): Record<string, string> {
  return Object.fromEntries(Object.entries(tree).map(([k, v]) => [`${prefix}${k}`, sha(v)]));
}

async function names(): Promise<string[]> {
  return (await listArtifacts(options())).map((a) => a.name).sort();
}

function twirpCalls(): string[] {
  return requests
    .map((line) => /^POST \S*?\/twirp\/[^/]+\/(\w+) (\d+)/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]} ${m[2]}`);
}

const big = randomBytes(3 * 1024 * 1024 + 17);
const alpha: Tree = { 'a.txt': 'alpha', 'shared/same.txt': 'same in all', 'dir/alpha.bin': big };
const beta: Tree = {
  'b.txt': 'beta '.repeat(10_000),
  'shared/same.txt': 'same in all',
  'dir/beta.log': 'log line\n'.repeat(50_000),
};
const gamma: Tree = { 'g.txt': 'gamma', 'shared/same.txt': 'same in all', 'empty.txt': '' };

describe('mergeArtifacts', () => {
  it('merges three artifacts into one (flat), byte-identical after download, sources kept', async () => {
    await upload('part-gamma', gamma);
    await upload('part-alpha', alpha);
    await upload('part-beta', beta);
    await upload('unrelated', { 'u.txt': 'not merged' });

    const merged = await mergeArtifacts('all-parts', { ...options(), pattern: 'part-*' });
    expect(merged.merged).toEqual(['part-alpha', 'part-beta', 'part-gamma']);
    expect(merged.id).toBeGreaterThan(0);
    expect(merged.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(merged.fileCount).toBe(7);
    const listed = (await listArtifacts(options())).find((a) => a.name === 'all-parts');
    expect(listed).toMatchObject({ id: merged.id, digest: merged.digest, size: merged.size });

    const target = path.join(work, 'out');
    const downloaded = await downloadArtifact('all-parts', { ...options(), path: target });
    expect(downloaded.digest).toBe(merged.digest);
    expect(await hashTree(target)).toEqual({ ...hashesOf(alpha), ...hashesOf(beta), ...hashesOf(gamma) });
    expect(await names()).toEqual(['all-parts', 'part-alpha', 'part-beta', 'part-gamma', 'unrelated']);
  });

  it('separateDirectories puts each artifact under its name; the default pattern is every other artifact', async () => {
    await upload('alpha', alpha);
    await upload('beta', beta);
    await upload('gamma', gamma);
    const merged = await mergeArtifacts('merged', { ...options(), separateDirectories: true });
    expect(merged.merged).toEqual(['alpha', 'beta', 'gamma']);
    const target = path.join(work, 'out');
    await downloadArtifact('merged', { ...options(), path: target });
    expect(await hashTree(target)).toEqual({
      ...hashesOf(alpha, 'alpha/'),
      ...hashesOf(beta, 'beta/'),
      ...hashesOf(gamma, 'gamma/'),
    });
    // Merging again: the output of the first merge is a source now, the new name never is.
    const again = await mergeArtifacts('merged-2', options());
    expect(again.merged).toEqual(['alpha', 'beta', 'gamma', 'merged']);
  });

  it("differing duplicates under conflict 'error': names both artifacts and the path, creates nothing and keeps the sources", async () => {
    await upload('x-1', { 'conf.txt': 'one', 'only1.txt': '1' });
    await upload('x-2', { 'conf.txt': 'two', 'only2.txt': '2' });
    await upload('x-3', { 'conf.txt': 'three', 'only3.txt': '3' });
    requests.length = 0;
    await expect(
      mergeArtifacts('x-merged', { ...options(), pattern: 'x-*', deleteMerged: true, conflict: 'error' }),
    ).rejects.toMatchObject({
      code: 'ERR_FERRY_CONFLICT',
      message: expect.stringMatching(/'conf\.txt' differs between artifacts 'x-1' and 'x-2'.*'overwrite'/),
    });
    expect(twirpCalls().filter((c) => /^(Create|Finalize|Delete)Artifact/.test(c))).toEqual([]);
    expect(await names()).toEqual(['x-1', 'x-2', 'x-3']);
    // Nothing left behind in the temp directory either.
    expect(await readdir(path.join(work, 'tmp'))).toEqual([]);
  });

  it('overwrite (the default): the later artifact (by name) wins; skip: the first one wins', async () => {
    await upload('x-1', { 'conf.txt': 'one', 'only1.txt': '1' });
    await upload('x-3', { 'conf.txt': 'three', 'only3.txt': '3' });
    await upload('x-2', { 'conf.txt': 'two', 'only2.txt': '2' });
    const byDefault = await mergeArtifacts('default', { ...options(), pattern: 'x-*' });
    expect(byDefault.merged).toEqual(['x-1', 'x-2', 'x-3']);
    const later = await mergeArtifacts('later', { ...options(), pattern: 'x-*', conflict: 'overwrite' });
    const first = await mergeArtifacts('first', { ...options(), pattern: 'x-*', conflict: 'skip' });
    expect(later.merged).toEqual(['x-1', 'x-2', 'x-3']);
    expect(first.merged).toEqual(['x-1', 'x-2', 'x-3']);
    for (const [name, expected] of [
      ['default', 'three'],
      ['later', 'three'],
      ['first', 'one'],
    ] as const) {
      const target = path.join(work, name);
      await downloadArtifact(name, { ...options(), path: target });
      expect(await readFile(path.join(target, 'conf.txt'), 'utf8')).toBe(expected);
      expect((await readdir(target)).sort()).toEqual(['conf.txt', 'only1.txt', 'only2.txt', 'only3.txt']);
    }
  });

  it('drops hidden files by default and keeps them with includeHiddenFiles', async () => {
    await upload('h-1', { 'visible.txt': 'v', '.env': 'SECRET=1', '.git/config': 'x', 'sub/.hidden': 'h' });
    await upload('h-2', { 'also.txt': 'a' });
    const dropped = await mergeArtifacts('no-hidden', { ...options(), pattern: 'h-*' });
    const kept = await mergeArtifacts('with-hidden', {
      ...options(),
      pattern: 'h-*',
      includeHiddenFiles: true,
    });
    expect(dropped.fileCount).toBe(2);
    expect(kept.fileCount).toBe(5);
    const a = path.join(work, 'a');
    const b = path.join(work, 'b');
    await downloadArtifact('no-hidden', { ...options(), path: a });
    await downloadArtifact('with-hidden', { ...options(), path: b });
    expect(Object.keys(await hashTree(a)).sort()).toEqual(['also.txt', 'visible.txt']);
    expect(Object.keys(await hashTree(b)).sort()).toEqual([
      '.env',
      '.git/config',
      'also.txt',
      'sub/.hidden',
      'visible.txt',
    ]);
  });

  it('deleteMerged removes the sources only after the merged artifact is finalized', async () => {
    await upload('d-1', { 'one.txt': '1' });
    await upload('d-2', { 'two.txt': '2' });
    await upload('keep', { 'k.txt': 'k' });
    requests.length = 0;
    const merged = await mergeArtifacts('d-all', { ...options(), pattern: 'd-*', deleteMerged: true });
    expect(merged.merged).toEqual(['d-1', 'd-2']);
    expect(await names()).toEqual(['d-all', 'keep']);
    const calls = twirpCalls().filter((c) => /^(Create|Finalize|Delete)Artifact/.test(c));
    expect(calls).toEqual([
      'CreateArtifact 200',
      'FinalizeArtifact 200',
      'DeleteArtifact 200',
      'DeleteArtifact 200',
    ]);
    const target = path.join(work, 'out');
    await downloadArtifact('d-all', { ...options(), path: target });
    expect(await hashTree(target)).toEqual(hashesOf({ 'one.txt': '1', 'two.txt': '2' }));
  });

  it('refuses an existing output name, an empty selection, and the legacy protocol', async () => {
    await upload('taken', { 't.txt': 't' });
    await upload('src', { 's.txt': 's' });
    await expect(mergeArtifacts('taken', options())).rejects.toMatchObject({ code: 'ERR_FERRY_CONFLICT' });
    await expect(mergeArtifacts('out', { ...options(), pattern: 'nothing-*' })).rejects.toMatchObject({
      code: 'ERR_FERRY_NOT_FOUND',
    });
    await expect(
      mergeArtifacts('out', { runtimeUrl: server.url, runtimeToken: TOKEN, backend: 'legacy' }),
    ).rejects.toMatchObject({ code: 'ERR_FERRY_CONFIG', message: expect.stringMatching(/legacy/) });
    expect(await names()).toEqual(['src', 'taken']);
  });

  it('works against the embedded local store too', async () => {
    const local = {
      backend: 'local' as const,
      localStore: path.join(work, 'store'),
      tempDir: path.join(work, 'tmp'),
    };
    for (const [name, tree] of [
      ['l-1', { 'one.txt': '1' }],
      ['l-2', { 'two.txt': '2', 'sub/three.txt': '3' }],
    ] as const) {
      const root = path.join(work, `src-${name}`);
      await uploadArtifact(name, await writeTree(root, tree), root, local);
    }
    const merged = await mergeArtifacts('l-all', { ...local, pattern: 'l-*', deleteMerged: true });
    expect(merged).toMatchObject({ merged: ['l-1', 'l-2'], fileCount: 3 });
    expect((await listArtifacts(local)).map((a) => a.name)).toEqual(['l-all']);
    const target = path.join(work, 'local-out');
    await downloadArtifact('l-all', { ...local, path: target });
    expect(await hashTree(target)).toEqual(
      hashesOf({ 'one.txt': '1', 'two.txt': '2', 'sub/three.txt': '3' }),
    );
  });

  it('file versus directory across artifacts is a conflict under every policy', async () => {
    await upload('k-1', { out: 'a file' });
    await upload('k-2', { 'out/inner.txt': 'a file in a directory' });
    for (const conflict of ['error', 'overwrite', 'skip'] as const) {
      await expect(mergeArtifacts('k', { ...options(), pattern: 'k-*', conflict })).rejects.toMatchObject({
        code: 'ERR_FERRY_CONFLICT',
        message: expect.stringMatching(/'out.*'k-1'.*'k-2'/),
      });
    }
    await expect(
      mergeArtifacts('k', { ...options(), pattern: 'k-*', separateDirectories: true }),
    ).resolves.toMatchObject({ fileCount: 2 });
  });
});

describe('downloadArtifacts', () => {
  it('downloads every artifact into path/<name>, in name order; a single match goes straight into path', async () => {
    await upload('zeta', { 'z.txt': 'z' });
    await upload('alpha', alpha);
    const target = path.join(work, 'all');
    const { downloads } = await downloadArtifacts({ ...options(), path: target });
    expect(downloads.map((d) => d.name)).toEqual(['alpha', 'zeta']);
    expect(downloads[0]).toMatchObject({
      downloadPath: path.join(target, 'alpha'),
      fileCount: 3,
      digest: expect.stringMatching(/^sha256:/),
    });
    expect(await hashTree(target)).toEqual({ ...hashesOf(alpha, 'alpha/'), 'zeta/z.txt': sha('z') });

    const one = path.join(work, 'one');
    const single = await downloadArtifacts({ ...options(), path: one, pattern: 'z*' });
    expect(single.downloads).toMatchObject([{ name: 'zeta', downloadPath: one }]);
    expect(await hashTree(one)).toEqual({ 'z.txt': sha('z') });

    const none = await downloadArtifacts({ ...options(), path: path.join(work, 'none'), pattern: 'nope-*' });
    expect(none.downloads).toEqual([]);
  });

  it('names: those artifacts, with a pattern either; a missing name downloads nothing', async () => {
    await upload('n-one', { 'one.txt': 'new one' });
    await upload('n-two', { 'two.txt': 'two' });
    await upload('m-three', { 'three.txt': 'three' });
    await upload('other', { 'o.txt': 'o' });
    const target = path.join(work, 'by-names');
    const { downloads } = await downloadArtifacts({
      ...options(),
      path: target,
      names: ['n-one', 'm-three'],
      pattern: 'n-t*',
    });
    expect(downloads.map((d) => d.name)).toEqual(['m-three', 'n-one', 'n-two']);
    expect(await hashTree(target)).toEqual({
      'm-three/three.txt': sha('three'),
      'n-one/one.txt': sha('new one'),
      'n-two/two.txt': sha('two'),
    });

    const missing = path.join(work, 'by-names-missing');
    await expect(
      downloadArtifacts({ ...options(), path: missing, names: ['n-one', 'nope'] }),
    ).rejects.toMatchObject({ code: 'ERR_FERRY_NOT_FOUND', message: expect.stringContaining("'nope'") });
    await expect(stat(missing)).rejects.toThrow();
    await expect(
      downloadArtifacts({ ...options(), path: missing, names: ['n-one'], artifactIds: [1] }),
    ).rejects.toMatchObject({ code: 'ERR_FERRY_INVALID_OPTION' });
  });

  it('pattern + mergeMultiple: overwrite by default = last by name, skip = first, error (identical files are fine)', async () => {
    await upload('p-b', { 'shared.txt': 'from b', 'same.txt': 'same', 'b.txt': 'b' });
    await upload('p-a', { 'shared.txt': 'from a', 'same.txt': 'same', 'a.txt': 'a' });
    await upload('p-c', { 'shared.txt': 'from c', 'same.txt': 'same', 'c.txt': 'c' });
    await upload('other', { 'shared.txt': 'not selected' });

    const failing = path.join(work, 'error');
    await expect(
      downloadArtifacts({
        ...options(),
        path: failing,
        pattern: 'p-*',
        mergeMultiple: true,
        conflict: 'error',
      }),
    ).rejects.toMatchObject({
      code: 'ERR_FERRY_CONFLICT',
      message: expect.stringMatching(/'shared\.txt' already exists.*policy is 'error'/),
    });
    // p-a went in first (it is complete and intact); p-b stopped at the check, before writing anything.
    expect(await hashTree(failing)).toEqual(
      hashesOf({ 'shared.txt': 'from a', 'same.txt': 'same', 'a.txt': 'a' }),
    );

    for (const [conflict, winner] of [
      [undefined, 'from c'],
      ['overwrite', 'from c'],
      ['skip', 'from a'],
    ] as const) {
      const target = path.join(work, conflict ?? 'default');
      const { downloads } = await downloadArtifacts({
        ...options(),
        path: target,
        pattern: 'p-*',
        mergeMultiple: true,
        ...(conflict === undefined ? {} : { conflict }),
      });
      expect(downloads.map((d) => [d.name, d.downloadPath])).toEqual([
        ['p-a', target],
        ['p-b', target],
        ['p-c', target],
      ]);
      expect(await readFile(path.join(target, 'shared.txt'), 'utf8')).toBe(winner);
      expect((await readdir(target)).sort()).toEqual(['a.txt', 'b.txt', 'c.txt', 'same.txt', 'shared.txt']);
    }

    // Identical content everywhere is fine under 'error'.
    const same = path.join(work, 'same');
    await upload('q-1', { 'same.txt': 'same', '1.txt': '1' });
    await upload('q-2', { 'same.txt': 'same', '2.txt': '2' });
    const ok = await downloadArtifacts({
      ...options(),
      path: same,
      pattern: 'q-*',
      mergeMultiple: true,
      conflict: 'error',
    });
    expect(ok.downloads.map((d) => d.fileCount)).toEqual([2, 1]);
    expect((await readdir(same)).sort()).toEqual(['1.txt', '2.txt', 'same.txt']);
  });

  it('artifactIds keeps two artifacts that share a name (REST, by id), both verified', async () => {
    const RUN = '4242';
    const runToken = runtimeJwt(RUN, 'job-9');
    const restData = path.join(work, 'rest-data');
    let rest = await startServer({ dataDir: restData, port: 0, token: runToken });
    const restOptions = { resultsUrl: rest.url, runtimeToken: runToken, tempDir: path.join(work, 'tmp') };
    const root = path.join(work, 'dups');
    const older = await uploadArtifact(
      'dup-older',
      await writeTree(path.join(root, 'v1'), { 'old.txt': 'v1', 'common.txt': 'common' }),
      path.join(root, 'v1'),
      restOptions,
    );
    const newer = await uploadArtifact(
      'dup',
      await writeTree(path.join(root, 'v2'), { 'new.txt': 'v2', 'common.txt': 'common' }),
      path.join(root, 'v2'),
      restOptions,
    );
    // A re-run leaves two artifacts of one name: rename the older one on disk and restart.
    await rest.close();
    const recordFile = path.join(restData, 'results', 'artifacts', `${older.id}.json`);
    const record = JSON.parse(await readFile(recordFile, 'utf8')) as { name: string };
    await writeFile(recordFile, JSON.stringify({ ...record, name: 'dup' }));
    rest = await startServer({ dataDir: restData, port: 0, token: runToken });
    try {
      const findBy = { token: runToken, repository: 'octo/repo', runId: RUN, apiUrl: rest.url };
      const target = path.join(work, 'by-id');
      const { downloads } = await downloadArtifacts({
        findBy,
        path: target,
        artifactIds: [newer.id as number, older.id as number],
        tempDir: path.join(work, 'tmp'),
      });
      expect(downloads.map((d) => [d.name, d.id])).toEqual([
        ['dup', older.id],
        ['dup', newer.id],
      ]);
      expect(downloads.map((d) => d.digest)).toEqual([older.digest, newer.digest]);
      // Same name, same directory: applied older first, so the newer one's files win.
      expect(await hashTree(target)).toEqual(
        hashesOf({ 'dup/old.txt': 'v1', 'dup/new.txt': 'v2', 'dup/common.txt': 'common' }),
      );
      await expect(
        downloadArtifacts({ findBy, path: target, artifactIds: [999], tempDir: path.join(work, 'tmp') }),
      ).rejects.toMatchObject({ code: 'ERR_FERRY_NOT_FOUND', message: expect.stringContaining('#999') });
    } finally {
      await rest.close();
    }
  });

  it('really bounds the number of artifacts downloading at once (counted at the blob endpoint)', async () => {
    for (let i = 1; i <= 5; i++) await upload(`c-${i}`, { [`f${i}.bin`]: randomBytes(50_000) });
    const counter = await startCountingProxy(server.url, 150);
    try {
      const viaProxy = options({ resultsUrl: counter.url });
      const { downloads } = await downloadArtifacts({
        ...viaProxy,
        path: path.join(work, 'c'),
        pattern: 'c-*',
      });
      expect(downloads).toHaveLength(5);
      expect(counter.blobGets).toBe(5);
      expect(counter.maxConcurrent).toBe(2);

      counter.reset();
      await downloadArtifacts({
        ...viaProxy,
        path: path.join(work, 'c1'),
        pattern: 'c-*',
        artifactConcurrency: 1,
      });
      expect(counter.blobGets).toBe(5);
      expect(counter.maxConcurrent).toBe(1);

      counter.reset();
      await downloadArtifacts({
        ...viaProxy,
        path: path.join(work, 'c4'),
        pattern: 'c-*',
        mergeMultiple: true,
        artifactConcurrency: 4,
      });
      expect(counter.maxConcurrent).toBeLessThanOrEqual(4);
      expect((await readdir(path.join(work, 'c4'))).sort()).toEqual([
        'f1.bin',
        'f2.bin',
        'f3.bin',
        'f4.bin',
        'f5.bin',
      ]);
    } finally {
      await counter.close();
    }
  });
});

describe('download conflict and digest policies', () => {
  it("downloadArtifact conflict: 'overwrite' by default, 'error' only for differing content, 'skip' keeps", async () => {
    await upload('conf', { 'a.txt': 'from artifact', 'b.txt': 'b' });
    const target = path.join(work, 'target');
    await writeTree(target, { 'a.txt': 'local edit' });
    await expect(
      downloadArtifact('conf', { ...options(), path: target, conflict: 'error' }),
    ).rejects.toMatchObject({
      code: 'ERR_FERRY_CONFLICT',
      message: expect.stringMatching(/'a\.txt'.*policy is 'error'.*'conflict'/),
    });
    expect((await readdir(target)).sort()).toEqual(['a.txt']);
    await downloadArtifact('conf', { ...options(), path: target, conflict: 'skip' });
    expect(await readFile(path.join(target, 'a.txt'), 'utf8')).toBe('local edit');
    expect(await readFile(path.join(target, 'b.txt'), 'utf8')).toBe('b');
    await downloadArtifact('conf', { ...options(), path: target });
    expect(await readFile(path.join(target, 'a.txt'), 'utf8')).toBe('from artifact');
    // Everything identical now: 'error' is satisfied.
    await expect(
      downloadArtifact('conf', { ...options(), path: target, conflict: 'error' }),
    ).resolves.toMatchObject({ fileCount: 0 });
    await expect(
      downloadArtifact('conf', { ...options(), path: target, conflict: 'merge' as never }),
    ).rejects.toMatchObject({ code: 'ERR_FERRY_INVALID_OPTION' });
  });

  it('raw (archive: false) downloads follow the conflict policy too', async () => {
    const root = path.join(work, 'raw-src');
    const [file] = await writeTree(root, { 'report.html': '<p>new</p>' });
    await uploadArtifact('ignored', [file as string], root, { ...options(), archive: false });
    const target = path.join(work, 'raw');
    await writeTree(target, { 'report.html': '<p>old</p>' });
    await expect(
      downloadArtifact('report.html', { ...options(), path: target, conflict: 'error' }),
    ).rejects.toMatchObject({ code: 'ERR_FERRY_CONFLICT' });
    await downloadArtifact('report.html', { ...options(), path: target, conflict: 'skip' });
    expect(await readFile(path.join(target, 'report.html'), 'utf8')).toBe('<p>old</p>');
    await downloadArtifact('report.html', { ...options(), path: target });
    expect(await readFile(path.join(target, 'report.html'), 'utf8')).toBe('<p>new</p>');
    await expect(
      downloadArtifact('report.html', { ...options(), path: target, conflict: 'error' }),
    ).resolves.toMatchObject({ fileCount: 0 });
  });

  it('a corrupted stored blob: the default fails with nothing written; verifyDigest: false extracts and reports it', async () => {
    const id = await upload('corrupt', { 'data.txt': 'payload', 'more/x.txt': 'x' });
    const listed = (await listArtifacts(options())).find((a) => a.id === id);
    // Flip a byte the extractor does not read (the local header's modification time).
    const record = JSON.parse(
      await readFile(path.join(dataDir, 'results', 'artifacts', `${id}.json`), 'utf8'),
    ) as { blobId: string };
    const blobFile = await firstStoredBlobFile(dataDir, record.blobId);
    const bytes = await readFile(blobFile);
    bytes[10] = (bytes[10] as number) ^ 0xff;
    await writeFile(blobFile, bytes);
    const actual = `sha256:${sha(bytes)}`;

    const target = path.join(work, 'target');
    await writeTree(target, { 'sentinel.txt': 'untouched' });
    await expect(downloadArtifact('corrupt', { ...options(), path: target })).rejects.toMatchObject({
      code: 'ERR_FERRY_INTEGRITY',
      message: expect.stringMatching(/^Digest mismatch/),
    });
    expect(await hashTree(target)).toEqual(hashesOf({ 'sentinel.txt': 'untouched' }));

    const result = await downloadArtifact('corrupt', { ...options(), path: target, verifyDigest: false });
    expect(result).toMatchObject({
      digestMismatch: true,
      digest: actual,
      expectedDigest: listed?.digest,
      fileCount: 2,
    });
    expect(await hashTree(target)).toEqual(
      hashesOf({ 'sentinel.txt': 'untouched', 'data.txt': 'payload', 'more/x.txt': 'x' }),
    );

    const many = await downloadArtifacts({
      ...options(),
      path: path.join(work, 'many'),
      pattern: 'corrupt',
      verifyDigest: false,
    });
    expect(many.downloads).toMatchObject([{ name: 'corrupt', digestMismatch: true, digest: actual }]);
    await expect(
      downloadArtifacts({ ...options(), path: path.join(work, 'many-2'), pattern: 'corrupt' }),
    ).rejects.toMatchObject({ code: 'ERR_FERRY_INTEGRITY' });
    expect(await readdir(work)).not.toContain('many-2');
    // An intact artifact reports no mismatch.
    await upload('intact', { 'i.txt': 'i' });
    const intact = await downloadArtifact('intact', {
      ...options(),
      path: path.join(work, 'i'),
      verifyDigest: false,
    });
    expect(intact.digestMismatch).toBeUndefined();
  });

  it('legacy protocol: the same conflict policy when moving files from staging', async () => {
    const legacy = { runtimeUrl: server.url, runtimeToken: TOKEN, backend: 'legacy' as const, runId: '77' };
    const root = path.join(work, 'legacy-src');
    const files = await writeTree(root, { 'a.txt': 'artifact a', 'b.txt': 'artifact b' });
    await uploadArtifact('leg', files, root, legacy);
    const target = path.join(work, 'legacy-target');
    await writeTree(target, { 'a.txt': 'artifact a', 'b.txt': 'local b' });
    await expect(
      downloadArtifact('leg', { ...legacy, path: target, conflict: 'error' }),
    ).rejects.toMatchObject({
      code: 'ERR_FERRY_CONFLICT',
      message: expect.stringMatching(/'b\.txt'/),
    });
    expect(await readFile(path.join(target, 'b.txt'), 'utf8')).toBe('local b');
    const skipped = await downloadArtifact('leg', { ...legacy, path: target, conflict: 'skip' });
    expect(skipped.fileCount).toBe(0);
    expect(await readFile(path.join(target, 'b.txt'), 'utf8')).toBe('local b');
    await downloadArtifact('leg', { ...legacy, path: target });
    expect(await readFile(path.join(target, 'b.txt'), 'utf8')).toBe('artifact b');
    const same = await downloadArtifact('leg', { ...legacy, path: target, conflict: 'error' });
    expect(same.fileCount).toBe(0);
    expect((await readdir(target)).sort()).toEqual(['a.txt', 'b.txt']);
  });
});

interface CountingProxy {
  url: string;
  blobGets: number;
  maxConcurrent: number;
  reset(): void;
  close(): Promise<void>;
}

/**
 * A pass-through HTTP proxy that keeps the client's Host header, so the signed blob URLs the
 * server hands out point back at it. It counts blob GETs in flight (held `delayMs` before being
 * forwarded, so overlapping downloads do overlap here).
 */
async function startCountingProxy(upstream: string, delayMs: number): Promise<CountingProxy> {
  const target = new URL(upstream);
  const sockets = new Set<Socket>();
  let active = 0;
  const state = { blobGets: 0, maxConcurrent: 0 };
  const proxy = http.createServer((req, res) => {
    const isBlobGet = req.method === 'GET' && (req.url ?? '').startsWith('/devstoreaccount1/');
    if (isBlobGet) {
      state.blobGets++;
      active++;
      state.maxConcurrent = Math.max(state.maxConcurrent, active);
      res.once('close', () => active--);
    }
    const forward = (): void => {
      const upstreamReq = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (upstreamRes) => {
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
          upstreamRes.pipe(res);
        },
      );
      upstreamReq.on('error', () => req.socket.destroy());
      req.pipe(upstreamReq);
    };
    if (isBlobGet) setTimeout(forward, delayMs);
    else forward();
  });
  proxy.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/`,
    get blobGets() {
      return state.blobGets;
    },
    get maxConcurrent() {
      return state.maxConcurrent;
    },
    reset() {
      state.blobGets = 0;
      state.maxConcurrent = 0;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
