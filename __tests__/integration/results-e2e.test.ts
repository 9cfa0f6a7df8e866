import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  deleteArtifact,
  downloadArtifact,
  getArtifact,
  listArtifacts,
  uploadArtifact,
  type ArtifactClientOptions,
} from '../../src/index.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { hashTree, writeEdgeCaseTree } from '../helpers/tree.js';

let work: string;
let server: RunningServer;
let source: string;
let files: string[];
const TOKEN = runtimeJwt('run-1', 'job-1');

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-results-e2e-'));
  source = path.join(work, 'source');
  files = await writeEdgeCaseTree(source);
  server = await startServer({ dataDir: path.join(work, 'data'), port: 0, token: TOKEN });
});
afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

const options = (extra: Partial<ArtifactClientOptions> = {}): ArtifactClientOptions => ({
  resultsUrl: server.url,
  runtimeToken: TOKEN,
  ...extra,
});

describe('results protocol: Ferry client against ferry serve', () => {
  it('chooses the results protocol by capability and round-trips the edge-case tree with its digest', async () => {
    const uploaded = await uploadArtifact('tree', files, source, options());
    expect(uploaded.backend).toBe('results');
    expect(uploaded.id).toBeGreaterThan(0);
    expect(uploaded.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const listed = await getArtifact('tree', options());
    expect(listed).toMatchObject({ id: uploaded.id, digest: uploaded.digest, size: uploaded.uploadedBytes });

    const target = path.join(work, 'tree-out');
    const downloaded = await downloadArtifact('tree', { ...options(), path: target });
    expect(downloaded.digest).toBe(uploaded.digest);
    expect(await hashTree(target)).toEqual(await hashTree(source));
  });

  it('keeps unix modes and empty directories', async () => {
    const root = path.join(work, 'modes');
    await mkdir(path.join(root, 'bin'), { recursive: true });
    await mkdir(path.join(root, 'empty', 'dir'), { recursive: true });
    await writeFile(path.join(root, 'bin', 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
    await writeFile(path.join(root, 'secret.txt'), 'x', { mode: 0o600 });
    await uploadArtifact('modes', [path.join(root, 'bin', 'run.sh'), path.join(root, 'secret.txt')], root, {
      ...options(),
      emptyDirectories: ['empty/dir'],
    });
    const target = path.join(work, 'modes-out');
    await downloadArtifact('modes', { ...options(), path: target });
    expect((await stat(path.join(target, 'bin', 'run.sh'))).mode & 0o777).toBe(0o755);
    expect((await stat(path.join(target, 'secret.txt'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(target, 'empty', 'dir'))).isDirectory()).toBe(true);
  });

  it('names the conflicting artifact on a duplicate, and overwrite replaces it with a newer id', async () => {
    const file = path.join(source, 'small.txt');
    const first = await uploadArtifact('dup', [file], source, options());
    await expect(uploadArtifact('dup', [file], source, options())).rejects.toMatchObject({
      code: 'ERR_FERRY_CONFLICT',
      message: expect.stringContaining("'dup'"),
    });
    const second = await uploadArtifact('dup', [file], source, { ...options(), overwrite: true });
    expect(second.id).toBeGreaterThan(first.id as number);
    const all = (await listArtifacts(options())).filter((a) => a.name === 'dup');
    expect(all.map((a) => a.id)).toEqual([second.id]);
  });

  it('uploads one file without an archive under the file name, with its content type, and saves it raw', async () => {
    const result = await uploadArtifact(
      'ignored-name',
      [path.join(source, 'nested/deeper/leaf.json')],
      source,
      {
        ...options(),
        archive: false,
      },
    );
    expect(result.artifactName).toBe('ignored-name');
    const info = await getArtifact('leaf.json', options());
    expect(info.id).toBe(result.id);
    const target = path.join(work, 'raw-out');
    await downloadArtifact('leaf.json', { ...options(), path: target });
    expect(await readFile(path.join(target, 'leaf.json'), 'utf8')).toBe(
      await readFile(path.join(source, 'nested/deeper/leaf.json'), 'utf8'),
    );
  });

  it('keeps the zip when asked to skip decompression', async () => {
    const target = path.join(work, 'zip-out');
    await downloadArtifact('tree', { ...options(), path: target, skipDecompress: true });
    const zip = await readFile(path.join(target, 'tree.zip'));
    expect(zip.subarray(0, 4).toString('hex')).toBe('504b0304');
  });

  it('downloads by id, and deletes', async () => {
    const info = await getArtifact('tree', options());
    const target = path.join(work, 'by-id');
    await downloadArtifact('tree', { ...options(), path: target, artifactId: info.id as number });
    expect(await hashTree(target)).toEqual(await hashTree(source));
    expect(await deleteArtifact('tree', options())).toMatchObject({ id: info.id });
    await expect(getArtifact('tree', options())).rejects.toMatchObject({ code: 'ERR_FERRY_NOT_FOUND' });
  });

  it('preserves symlinks that stay inside the root when asked, and refuses one that leaves it', async () => {
    const root = path.join(work, 'keep-links');
    await mkdir(path.join(root, 'dir'), { recursive: true });
    await writeFile(path.join(root, 'dir', 'real.txt'), 'linked content');
    await symlink('dir/real.txt', path.join(root, 'rel-link'));
    await symlink(path.join(root, 'dir', 'real.txt'), path.join(root, 'dir', 'abs-link'));
    await symlink('/etc/hostname', path.join(root, 'escape'));
    const inside = ['dir/real.txt', 'rel-link', 'dir/abs-link'].map((f) => path.join(root, f));
    await expect(
      uploadArtifact('keep-links', [...inside, path.join(root, 'escape')], root, {
        ...options(),
        symlinks: 'preserve',
      }),
    ).rejects.toMatchObject({
      code: 'ERR_FERRY_INVALID_PATH',
      message: expect.stringContaining("'" + path.join(root, 'escape') + "'"),
    });
    await uploadArtifact('keep-links', inside, root, { ...options(), symlinks: 'preserve' });

    // By default a download refuses link entries, naming one.
    await expect(
      downloadArtifact('keep-links', { ...options(), path: path.join(work, 'links-refused') }),
    ).rejects.toMatchObject({
      code: 'ERR_FERRY_UNSAFE_PATH',
    });
    const target = path.join(work, 'links-kept');
    await downloadArtifact('keep-links', { ...options(), path: target, symlinks: 'preserve' });
    const { readlink, lstat } = await import('node:fs/promises');
    expect((await lstat(path.join(target, 'rel-link'))).isSymbolicLink()).toBe(true);
    expect(await readlink(path.join(target, 'rel-link'))).toBe('dir/real.txt');
    expect(await readlink(path.join(target, 'dir', 'abs-link'))).toBe('real.txt');
    expect(await readFile(path.join(target, 'dir', 'abs-link'), 'utf8')).toBe('linked content');
  });

  it('never uploads what a symlink into /proc points to', async () => {
    const root = path.join(work, 'proc-link');
    await mkdir(root, { recursive: true });
    await symlink('/proc/self/environ', path.join(root, 'env.txt'));
    await expect(uploadArtifact('proc', [path.join(root, 'env.txt')], root, options())).rejects.toThrow(
      /never uploaded/,
    );
  });

  it('follows symlinks inside the root by default', async () => {
    const root = path.join(work, 'links');
    await mkdir(root, { recursive: true });
    await writeFile(path.join(root, 'real.txt'), 'real content');
    await symlink('real.txt', path.join(root, 'alias.txt'));
    await uploadArtifact(
      'links',
      [path.join(root, 'real.txt'), path.join(root, 'alias.txt')],
      root,
      options(),
    );
    const target = path.join(work, 'links-out');
    await downloadArtifact('links', { ...options(), path: target });
    expect(await readFile(path.join(target, 'alias.txt'), 'utf8')).toBe('real content');
  });
});

describe('cross-run access through the REST API (findBy)', () => {
  const RUN_TOKEN = runtimeJwt('4242', 'job-9');
  let other: RunningServer;
  beforeAll(async () => {
    other = await startServer({ dataDir: path.join(work, 'other-data'), port: 0, token: RUN_TOKEN });
  });
  afterAll(() => other.close());

  it('lists, downloads by name and by id with digest verification, and deletes another run’s artifact', async () => {
    await uploadArtifact('other-run', files, source, { resultsUrl: other.url, runtimeToken: RUN_TOKEN });
    // Another job reads run 4242 with a token through the REST API only; the server accepts its token.
    const findBy = { token: RUN_TOKEN, repository: 'octo/repo', runId: 4242, apiUrl: other.url };
    const listed = await listArtifacts({
      findBy,
      backend: 'local',
      localStore: path.join(work, 'unused-store'),
    });
    expect(listed.map((a) => a.name)).toEqual(['other-run']);
    expect(listed[0]?.digest).toMatch(/^sha256:/);

    const byName = path.join(work, 'rest-by-name');
    await downloadArtifact('other-run', { findBy, path: byName });
    expect(await hashTree(byName)).toEqual(await hashTree(source));

    const byId = path.join(work, 'rest-by-id');
    await downloadArtifact('other-run', { findBy, path: byId, artifactId: listed[0]?.id as number });
    expect(await hashTree(byId)).toEqual(await hashTree(source));

    expect(await deleteArtifact('other-run', { findBy })).toMatchObject({ id: listed[0]?.id });
    expect(await listArtifacts({ findBy })).toEqual([]);
  });

  it('refuses a malformed findBy before sending anything', async () => {
    await expect(listArtifacts({ findBy: { token: 't', repository: 'no-slash', runId: 1 } })).rejects.toThrow(
      /findBy.repository/,
    );
    await expect(listArtifacts({ findBy: { token: 't', repository: 'a/b', runId: 'x' } })).rejects.toThrow(
      /findBy.runId/,
    );
  });
});
