import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, mkdirSync, truncateSync, unlinkSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  deleteArtifact,
  downloadArtifact,
  getArtifact,
  listArtifacts,
  uploadArtifact,
} from '../../src/client.js';
import { main as cli } from '../../src/cli/main.js';
import { fromEnvironment, retentionLimitFromEnvironment } from '../../src/environment.js';
import { isFerryError, type FerryError } from '../../src/core/errors.js';
import type { ArtifactClientOptions } from '../../src/options.js';
import { globFiles } from '../../src/pack/glob.js';
import { FORBIDDEN_NAME_CHARACTERS } from '../../src/core/artifact-name.js';
import { FORBIDDEN_PATH_CHARACTERS } from '../../src/pack/validate.js';
import { waitFor } from '../helpers/loopback.js';
import { expectNoSecrets, SENTINEL, snapshotTree } from './invariants.js';
import {
  disposeBundles,
  isCreate,
  isDataPut,
  runAsNobody,
  runUploadStep,
  startHookedServer,
  TOKEN,
  uploadDriver,
  type HookedServer,
  type Protocol,
} from './upload-input-harness.js';

let work: string;
let server: HookedServer;
let seq = 0;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-upload-input-'));
  await chmod(work, 0o755);
  server = await startHookedServer();
});
afterAll(async () => {
  await disposeBundles();
  await server?.close();
  await rm(work, { recursive: true, force: true });
});
afterEach(() => server.setHook(undefined));

/** A fresh source directory with the given files; returns it and the absolute file paths. */
async function sourceTree(
  files: Record<string, string | Buffer>,
): Promise<{ root: string; paths: string[] }> {
  const root = path.join(work, `src-${++seq}`);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), content);
  }
  return { root, paths: Object.keys(files).map((f) => path.join(root, f)) };
}

/** Runs `fn`, which must throw a FerryError; returns it. */
async function failure(fn: () => Promise<unknown>): Promise<FerryError> {
  let result: unknown;
  try {
    result = await fn();
  } catch (error: unknown) {
    if (!isFerryError(error)) throw error;
    return error;
  }
  throw new Error(`expected a FerryError, got success: ${JSON.stringify(result)}`);
}

/** The requests of the last operation only. */
function mark(): () => HookedServer['requests'] {
  const start = server.requests.length;
  return () => server.requests.slice(start);
}

const PROTOCOLS: Protocol[] = ['legacy', 'results'];

describe('[P14] a source file changes between enumeration and read, or while being read', () => {
  type Mutation = 'deleted' | 'truncated' | 'grows' | 'replaced by a directory';
  const mutate: Record<Mutation, (file: string) => void> = {
    deleted: (file) => unlinkSync(file),
    truncated: (file) => truncateSync(file, 3),
    grows: (file) => appendFileSync(file, 'more bytes than were listed'),
    'replaced by a directory': (file) => {
      unlinkSync(file);
      mkdirSync(file);
    },
  };
  const expectedCode: Record<Mutation, string[]> = {
    deleted: ['ERR_FERRY_SOURCE_UNREADABLE'],
    truncated: ['ERR_FERRY_SOURCE_CHANGED'],
    grows: ['ERR_FERRY_SOURCE_CHANGED'],
    'replaced by a directory': ['ERR_FERRY_SOURCE_CHANGED', 'ERR_FERRY_INVALID_PATH'],
  };

  for (const protocol of PROTOCOLS) {
    for (const mutation of Object.keys(mutate) as Mutation[]) {
      test(`[P14] ${protocol}: a file ${mutation} after Create fails the upload naming it, nothing finalized`, async () => {
        const name = `p14-${protocol}-${mutation.replace(/ /g, '-')}`;
        const { root, paths } = await sourceTree({
          'a.txt': 'first file\n',
          'sub/victim.txt': 'the file that changes under the upload\n',
          'z.txt': 'last file\n',
        });
        const victim = paths[1] as string;
        let fired = 0;
        // Enumeration (stat of every file) is over once Create is on the wire; nothing is read yet.
        server.setHook((req) => {
          if (fired === 0 && isCreate(req)) {
            fired++;
            mutate[mutation](victim);
          }
        });
        const requests = mark();
        const error = await failure(() =>
          uploadArtifact(name, paths, root, server.options(protocol, { concurrency: 1 })),
        );
        expect(fired).toBe(1);
        expect(expectedCode[mutation]).toContain(error.code);
        expect(error.context.file).toBe('sub/victim.txt');
        expect(error.message).toContain('victim.txt');
        expect(error.message).toContain(name);
        expect(server.finalizeCount()).toBe(0);
        expect(requests().filter((r) => r.url.includes('Finalize') || r.method === 'PATCH')).toEqual([]);
        expectNoSecrets(error);
        await waitFor(() => server.front.open === 0);
      });
    }

    test(`[P14] ${protocol}: a large file truncated or grown while its bytes are on the wire fails, nothing finalized`, async () => {
      for (const change of ['truncated', 'grows'] as const) {
        const name = `p14-${protocol}-midread-${change}`;
        // Incompressible and larger than one block (results, 8 MiB) / several chunks (legacy).
        const { root, paths } = await sourceTree({ 'big.bin': randomBytes(32 * 1024 * 1024) });
        const big = paths[0] as string;
        let fired = 0;
        server.setHook((req) => {
          if (fired === 0 && isDataPut(req)) {
            fired++;
            if (change === 'truncated') truncateSync(big, 1024 * 1024);
            else appendFileSync(big, randomBytes(4096));
          }
        });
        const error = await failure(() =>
          uploadArtifact(
            name,
            paths,
            root,
            server.options(protocol, { concurrency: 1, compressionLevel: 0, chunkSize: 1024 * 1024 }),
          ),
        );
        expect(fired).toBe(1);
        expect(error.code).toBe('ERR_FERRY_SOURCE_CHANGED');
        expect(error.context.file).toBe('big.bin');
        expect(error.message).toContain(name);
        expect(server.finalizeCount()).toBe(0);
        expectNoSecrets(error);
        await waitFor(() => server.front.open === 0);
      }
    });

    test(`[P14] ${protocol}: a file made unreadable (chmod 000, upload running as nobody) fails with SOURCE_UNREADABLE`, async () => {
      const name = `p14-${protocol}-unreadable`;
      const { root, paths } = await sourceTree({ 'a.txt': 'readable\n', 'locked.txt': 'soon unreadable\n' });
      for (const dir of [root]) await chmod(dir, 0o755);
      for (const file of paths) await chmod(file, 0o644);
      const driver = await uploadDriver();
      let fired = 0;
      server.setHook((req) => {
        if (fired === 0 && isCreate(req)) {
          fired++;
          chmodSync(paths[1] as string, 0o000);
        }
      });
      const before = server.finalizeCount();
      const child = await runAsNobody(
        driver,
        [JSON.stringify({ name, files: paths, root, options: server.options(protocol, { concurrency: 1 }) })],
        work,
      );
      expect(fired).toBe(1);
      const line = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as {
        ok: boolean;
        error?: { code: string; message: string };
      };
      expect(line.ok).toBe(false);
      expect(line.error?.code).toBe('ERR_FERRY_SOURCE_UNREADABLE');
      expect(line.error?.message).toMatch(/EACCES/);
      expect(line.error?.message).toContain('locked.txt');
      expect(line.error?.message).toContain(name);
      expect(server.finalizeCount()).toBe(before);
      expectNoSecrets(child.stdout, child.stderr);
    });
  }

  test('[P14] results, archive: false: the single file truncated or grown after Create fails, nothing finalized', async () => {
    for (const change of ['truncated', 'grows'] as const) {
      const name = `p14-raw-${change}`;
      const { root, paths } = await sourceTree({ 'raw.bin': randomBytes(3 * 1024 * 1024) });
      const raw = paths[0] as string;
      let fired = 0;
      server.setHook((req) => {
        if (fired === 0 && isCreate(req)) {
          fired++;
          if (change === 'truncated') truncateSync(raw, 1024);
          else appendFileSync(raw, randomBytes(4096));
        }
      });
      const error = await failure(() =>
        uploadArtifact(name, paths, root, {
          ...server.options('results', { concurrency: 1 }),
          archive: false,
        }),
      );
      expect(fired).toBe(1);
      expect(error.code).toBe('ERR_FERRY_SOURCE_CHANGED');
      expect(error.context.file).toBe('raw.bin');
      expect(error.message).toContain('raw.bin');
      expect(server.finalizeCount()).toBe(0);
      expectNoSecrets(error);
      await waitFor(() => server.front.open === 0);
    }
  });

  test('[P14] results: the failed uploads left no artifact visible in the listing', async () => {
    const listed = await listArtifacts(server.plain('results'));
    expect(listed.filter((a) => a.name.startsWith('p14-'))).toEqual([]);
  });
});

/** Control characters left unescaped in a message: a hostile name could break a log line. */
function rawControlCharacters(text: string): number[] {
  return [...text].map((ch) => ch.charCodeAt(0)).filter((code) => code < 0x20 || code === 0x7f);
}

/** What the step log shows: the runner consumes `::add-mask::` lines. */
function visible(stdout: string): string {
  return stdout
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n');
}

/** Runs the Action's upload step; whatever happens, its log carries no secret (I6). */
async function checkedStep(...args: Parameters<typeof runUploadStep>): ReturnType<typeof runUploadStep> {
  const step = await runUploadStep(...args);
  expectNoSecrets(visible(step.stdout), step.stderr);
  return step;
}

/** Asserts the operation failed before any request reached the server. */
async function refusedBeforeAnyRequest(fn: () => Promise<unknown>): Promise<FerryError> {
  const requests = mark();
  const error = await failure(fn);
  expect(requests()).toEqual([]);
  expectNoSecrets(error);
  return error;
}

/** The CLI in-process with its output captured. */
async function runCli(...args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const write = (chunk: string | Uint8Array): boolean => ((out += String(chunk)), true);
  const stdout = process.stdout.write.bind(process.stdout);
  const stderr = process.stderr.write.bind(process.stderr);
  process.stdout.write = write as typeof process.stdout.write;
  process.stderr.write = write as typeof process.stderr.write;
  try {
    return { code: await cli(args), out };
  } finally {
    process.stdout.write = stdout;
    process.stderr.write = stderr;
  }
}

/** CLI arguments that point at the hooked server (legacy protocol). */
const cliServer = (): string[] => ['--url', server.front.url, '--token', TOKEN, '--run-id', '7'];

/** Runner environment of an Action step against the hooked server (legacy protocol). */
const stepEnv = (): Record<string, string> => ({
  ACTIONS_RUNTIME_URL: server.front.url,
  ACTIONS_RUNTIME_TOKEN: TOKEN,
  GITHUB_RUN_ID: '7',
  SOME_CANARY: SENTINEL.githubToken,
});

describe('[P15] symlinks in the upload set', () => {
  let root: string;
  let outside: string;
  beforeAll(async () => {
    ({ root } = await sourceTree({ 'regular.txt': 'regular\n', 'inner/target.txt': 'inside target\n' }));
    outside = path.join(work, `outside-${++seq}`);
    await mkdir(path.join(outside, 'dir'), { recursive: true });
    await writeFile(path.join(outside, 'secret.txt'), 'outside secret\n');
    await symlink('/proc/self/environ', path.join(root, 'environ'));
    await symlink('/proc/self', path.join(root, 'procdir'));
    await symlink(path.join(outside, 'secret.txt'), path.join(root, 'outside-file'));
    await symlink(path.join(outside, 'dir'), path.join(root, 'outside-dir'));
    await symlink(path.join(root, 'missing'), path.join(root, 'dangling'));
    await symlink(path.join(root, 'loop-b'), path.join(root, 'loop-a'));
    await symlink(path.join(root, 'loop-a'), path.join(root, 'loop-b'));
    await symlink('inner/target.txt', path.join(root, 'inside-link'));
  });
  const at = (name: string): string => path.join(root, name);

  for (const mode of ['follow', 'preserve'] as const) {
    test(`[P15] ${mode}: a link to /proc/self/environ, directly or through a linked directory, is refused before any request`, async () => {
      for (const file of [at('environ'), path.join(at('procdir'), 'environ')]) {
        const error = await refusedBeforeAnyRequest(() =>
          uploadArtifact(
            'p15-proc',
            [at('regular.txt'), file],
            root,
            server.options('results', { symlinks: mode }),
          ),
        );
        expect(error.code).toBe('ERR_FERRY_INVALID_PATH');
        expect(error.message).toContain(path.relative(root, file) === 'environ' ? 'environ' : 'procdir');
        expect(error.message).toMatch(
          mode === 'follow' ? /under \/proc, which is never uploaded/ : /(\/proc|outside the root)/,
        );
        expect(error.message).toContain("artifact 'p15-proc'");
      }
    });

    test(`[P15] ${mode}: dangling links and link loops are refused naming the link, before any request`, async () => {
      const dangling = await refusedBeforeAnyRequest(() =>
        uploadArtifact('p15-dangling', [at('dangling')], root, server.options('results', { symlinks: mode })),
      );
      expect(dangling.message).toMatch(/Symlink '.*dangling' is dangling/);
      const loop = await refusedBeforeAnyRequest(() =>
        uploadArtifact('p15-loop', [at('loop-a')], root, server.options('results', { symlinks: mode })),
      );
      expect(loop.message).toMatch(/Symlink '.*loop-a' is part of a symlink loop/);
    });

    test(`[P15] ${mode}: a link to a directory outside the root is refused naming it`, async () => {
      const error = await refusedBeforeAnyRequest(() =>
        uploadArtifact('p15-dir', [at('outside-dir')], root, server.options('results', { symlinks: mode })),
      );
      expect(error.message).toContain('outside-dir');
      expect(error.message).toMatch(mode === 'follow' ? /is a directory/ : /points outside the root/);
    });
  }

  test('[P15] preserve: a link to a file outside the root is refused; follow uploads the target (documented, as upload-artifact)', async () => {
    const error = await refusedBeforeAnyRequest(() =>
      uploadArtifact(
        'p15-out',
        [at('outside-file')],
        root,
        server.options('results', { symlinks: 'preserve' }),
      ),
    );
    expect(error.message).toMatch(/Symlink '[^']*\/outside-file' points outside the root directory/);

    const uploaded = await uploadArtifact('p15-out-follow', [at('outside-file'), at('inside-link')], root, {
      ...server.options('results'),
      symlinks: 'follow',
    });
    expect(uploaded.fileCount).toBe(2);
    const target = path.join(work, `p15-out-${++seq}`);
    await downloadArtifact('p15-out-follow', { ...server.plain('results'), path: target });
    expect(await readFile(path.join(target, 'outside-file'), 'utf8')).toBe('outside secret\n');
    expect(await readFile(path.join(target, 'inside-link'), 'utf8')).toBe('inside target\n');
  });

  test('[P15] search: links to directories are not descended, dangling links and loops are skipped and reported', async () => {
    const found = await globFiles(root, { cwd: work });
    const names = found.files.map((f) => path.relative(root, f)).sort();
    // /proc/self/environ is listed by the search (stat never reads it) and refused by the upload.
    expect(names).toEqual(['environ', 'inner/target.txt', 'inside-link', 'outside-file', 'regular.txt']);
    expect(found.skippedSymlinkDirectories.map((f) => path.basename(f))).toEqual(['outside-dir', 'procdir']);
    expect(found.brokenSymlinks.map((f) => path.basename(f))).toEqual(['dangling', 'loop-a', 'loop-b']);

    const requests = mark();
    const step = await checkedStep({ name: 'p15-step', path: root }, stepEnv(), work);
    expect(step.code).toBe(1);
    expect(step.commands.join('\n')).toMatch(/::error::.*environ.*never uploaded/);
    expect(requests()).toEqual([]);
    // `::add-mask::` lines are consumed by the runner (they register the token for masking).
    expectNoSecrets(visible(step.stdout), step.stderr);

    const cliRun = await runCli('upload', 'p15-cli', root, ...cliServer());
    expect(cliRun.code).toBe(2);
    // The CLI searches with the Action's rules: broken links are skipped with a warning, and the
    // link to /proc/self/environ fails the upload naming it, as in the Action.
    expect(cliRun.out).toMatch(/warning: Skipping broken symlink [^\n]*\/dangling/);
    expect(cliRun.out).toMatch(/error: '[^']*\/environ' resolves to .*never uploaded/);
  });
});

describe('[P16] special files', () => {
  let root: string;
  let socketServer: net.Server;
  beforeAll(async () => {
    ({ root } = await sourceTree({ 'regular.txt': 'regular\n' }));
    execFileSync('mkfifo', [path.join(root, 'fifo')]);
    socketServer = net.createServer();
    await new Promise<void>((resolve) => socketServer.listen(path.join(root, 'socket'), resolve));
    await symlink('/dev/null', path.join(root, 'devnull'));
    await symlink(path.join(root, 'fifo'), path.join(root, 'fifo-link'));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => socketServer.close(() => resolve()));
  });
  const at = (name: string): string => path.join(root, name);

  test('[P16] a FIFO, a socket, a device link or a FIFO link named directly is refused by kind, never opened', async () => {
    const cases: Array<[string, RegExp]> = [
      ['fifo', /\/fifo' is a named pipe \(FIFO\), not a regular file; it is never uploaded/],
      ['socket', /\/socket' is a socket, not a regular file/],
      ['devnull', /\/devnull' resolves to \/dev\/null, under \/dev, which is never uploaded/],
      ['fifo-link', /\/fifo-link' is a named pipe \(FIFO\)/],
    ];
    for (const [name, message] of cases) {
      const started = Date.now();
      const error = await refusedBeforeAnyRequest(() =>
        uploadArtifact('p16', [at('regular.txt'), at(name)], root, server.options('legacy')),
      );
      expect(error.code).toBe('ERR_FERRY_INVALID_PATH');
      expect(error.message).toMatch(message);
      expect(Date.now() - started).toBeLessThan(5000);
    }
  });

  test('[P16] search, Action and CLI skip special files with a warning and upload the rest', async () => {
    const found = await globFiles(root, { cwd: work });
    expect(found.files).toEqual([at('regular.txt')]);
    expect(found.specialFiles).toEqual([at('devnull'), at('fifo'), at('fifo-link'), at('socket')]);

    const step = await checkedStep({ name: 'p16-step', path: root }, stepEnv(), work);
    expect(step.code).toBe(0);
    const warnings = step.commands.filter((c) => c.startsWith('::warning::'));
    for (const name of ['fifo', 'socket', 'devnull', 'fifo-link']) {
      expect(warnings.some((w) => w.includes(`${at(name)}: not a regular file`))).toBe(true);
    }
    expect(step.stdout).toMatch(/there will be 1 file uploaded/);

    const cliRun = await runCli('upload', 'p16-cli', root, ...cliServer());
    expect(cliRun.code).toBe(0);
    // The CLI searches with the Action's rules (src/pack/glob.ts) and warns as the Action does.
    for (const name of ['fifo', 'socket', 'devnull', 'fifo-link']) {
      expect(cliRun.out).toContain(`warning: Skipping ${at(name)}: not a regular file`);
    }
    expect(cliRun.out).toMatch(/uploaded p16-cli: 1 file,/);
  });
});

describe('[P16] files on a RAM disk', () => {
  test('[P16] ordinary files under /dev/shm are regular files, not devices: they upload', async () => {
    const shm = await mkdtemp('/dev/shm/ferry-p16-');
    try {
      await writeFile(path.join(shm, 'fast.bin'), 'built on tmpfs');
      const uploaded = await uploadArtifact(
        'p16-shm',
        [path.join(shm, 'fast.bin')],
        shm,
        server.options('legacy'),
      );
      expect(uploaded.fileCount).toBe(1);
    } finally {
      await rm(shm, { recursive: true, force: true });
    }
  });
});

describe('[P17] root-prefix confusion', () => {
  test('[P17] root /w/ab with file /w/abc/f, and a file in a directory outside the root, are refused naming the file', async () => {
    const base = path.join(work, `p17-${++seq}`);
    await mkdir(path.join(base, 'ab'), { recursive: true });
    await mkdir(path.join(base, 'abc'), { recursive: true });
    await mkdir(path.join(base, 'other'), { recursive: true });
    await writeFile(path.join(base, 'ab', 'ok.txt'), 'ok');
    await writeFile(path.join(base, 'abc', 'f'), 'sibling with a shared prefix');
    await writeFile(path.join(base, 'other', 'g'), 'outside');
    const root = path.join(base, 'ab');
    for (const file of [path.join(base, 'abc', 'f'), path.join(base, 'other', 'g'), '../abc/f', root]) {
      const error = await refusedBeforeAnyRequest(() =>
        uploadArtifact('p17', [path.join(root, 'ok.txt'), file], root, server.options('results')),
      );
      expect(error.code).toBe('ERR_FERRY_INVALID_PATH');
      expect(error.message).toContain(`File '${file}' is not inside the root directory '${root}'`);
      expect(error.context.file).toBe(file);
    }
  });

  test('[P17] a name that only starts with two dots (`..config`) is inside the root and uploads', async () => {
    const { root, paths } = await sourceTree({ '..config': 'dots\n', 'a.txt': 'a\n' });
    const uploaded = await uploadArtifact('p17-dots', paths, root, server.options('results'));
    expect(uploaded.fileCount).toBe(2);
  });
});

describe('[P18] artifact names', () => {
  const operations: Array<[string, (name: string) => Promise<unknown>]> = [
    ['upload', (name) => uploadArtifact(name, ['a.txt'], work, server.options('results'))],
    [
      'download',
      (name) => downloadArtifact(name, { ...server.plain('results'), path: path.join(work, 'never') }),
    ],
    ['get', (name) => getArtifact(name, server.plain('results'))],
    ['delete', (name) => deleteArtifact(name, server.plain('results'))],
  ];
  const badNames: Array<[string, string, RegExp]> = [
    ...FORBIDDEN_NAME_CHARACTERS.map((ch): [string, string, RegExp] => [
      `forbidden ${JSON.stringify(ch)}`,
      `bad${ch}name`,
      new RegExp(
        `character ${ch === '\r' ? "'\\\\r'" : ch === '\n' ? "'\\\\n'" : `'${ch.replace(/[\\|*?]/g, '\\$&')}'`}`,
      ),
    ]),
    ['NUL', 'bad\0name', /character '\\0' \(U\+0000\)/],
    ['tab', 'bad\tname', /character '\\t' \(U\+0009\)/],
    ['escape', 'bad\x1bname', /character U\+001B at index 3 is a control character/],
    ['DEL', 'bad\x7fname', /character U\+007F/],
    ['C1 control', 'bad\x85name', /character U\+0085/],
    ['lone surrogate', 'bad\ud800name', /U\+D800 \(lone surrogate\)/],
    ['empty', '', /must be a non-empty string/],
    ['.', '.', /'\.' and '\.\.' are not allowed/],
    ['..', '..', /'\.' and '\.\.' are not allowed/],
    ['257 characters', 'n'.repeat(257), /257 characters long, the limit is 256 characters/],
    ['257 two-byte characters', 'é'.repeat(257), /257 characters long/],
  ];
  for (const [what, name, message] of badNames) {
    test(`[P18] ${what}: refused by upload, download, get and delete before any request, naming the character`, async () => {
      for (const [operation, run] of operations) {
        const error = await refusedBeforeAnyRequest(() => run(name));
        expect({ operation, code: error.code }).toEqual({ operation, code: 'ERR_FERRY_INVALID_NAME' });
        expect(error.message).toMatch(message);
        // The hostile name is escaped: no raw control character reaches a log line.
        expect(rawControlCharacters(error.message)).toEqual([]);
      }
    });
  }

  test('[P18] 256 characters is accepted, however many UTF-8 bytes', async () => {
    const { root, paths } = await sourceTree({ 'a.txt': 'a' });
    for (const name of ['n'.repeat(256), '漢'.repeat(256)]) {
      await expect(uploadArtifact(name, paths, root, server.options('results'))).resolves.toMatchObject({
        artifactName: name,
      });
    }
  });
});

describe('[P19] paths inside the artifact', () => {
  test('[P19] each NTFS-invalid or control character in a path is refused before any request, naming the path', async () => {
    for (const ch of [...FORBIDDEN_PATH_CHARACTERS, '\x01', '\x1f']) {
      const { root, paths } = await sourceTree({ 'ok.txt': 'ok', [`dir/bad${ch}name.txt`]: 'bad' });
      const error = await refusedBeforeAnyRequest(() =>
        uploadArtifact('p19', paths, root, server.options('results')),
      );
      expect(error.code).toBe('ERR_FERRY_INVALID_PATH');
      expect(error.message).toContain('Invalid file path');
      expect(error.message).toContain('dir/bad');
      expect(error.message).toContain("artifact 'p19'");
      expect(rawControlCharacters(error.message)).toEqual([]);
    }
  });

  test('[P19] case-only, Unicode-normalization and file-versus-directory collisions are refused before any request', async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [
        { 'A.txt': '1', 'a.txt': '2' },
        /\(artifact path 'a\.txt'\) and .*\(artifact path 'A\.txt'\) differ only in letter case/,
      ],
      [{ 'Dir/x.txt': '1', 'dir/x.txt': '2' }, /differ only in letter case or Unicode normalization/],
      [
        { 'caf\u00e9.txt': 'nfc', 'cafe\u0301.txt': 'nfd' },
        /differ only in letter case or Unicode normalization/,
      ],
      [
        { 'a/b.txt': '1', A: 'file named like the directory' },
        /need the same name as a file and as a directory/,
      ],
    ];
    for (const [files, message] of cases) {
      const { root, paths } = await sourceTree(files);
      const error = await refusedBeforeAnyRequest(() =>
        uploadArtifact('p19-case', paths, root, server.options('legacy')),
      );
      expect(error.code).toBe('ERR_FERRY_INVALID_PATH');
      expect(error.message).toMatch(message);
      expect(error.message).toContain('rename one of them');
    }
    // Distinct names that merely share a directory are fine.
    const { root, paths } = await sourceTree({ 'Dir/a.txt': '1', 'Dir/b.txt': '2', 'dir2/a.txt': '3' });
    await expect(uploadArtifact('p19-ok', paths, root, server.options('legacy'))).resolves.toMatchObject({
      fileCount: 3,
    });
  });

  test('[P19] the Action refuses a matched path with a forbidden character before any request', async () => {
    const { root } = await sourceTree({ 'ok.txt': 'ok', 'time:12.log': 'colon' });
    const requests = mark();
    const step = await checkedStep({ name: 'p19-step', path: root }, stepEnv(), work);
    expect(step.code).toBe(1);
    expect(step.commands.join('\n')).toMatch(/::error::Invalid file path 'time:12\.log': character ':'/);
    expect(requests()).toEqual([]);
  });
});

describe('[P20] globs and if-no-files-found', () => {
  let root: string;
  beforeAll(async () => {
    ({ root } = await sourceTree({
      'b.txt': 'b',
      'a.txt': 'a',
      'keep/one.log': '1',
      'keep/skip.tmp': 'tmp',
      'x[1].txt': 'literal brackets',
      '.env': 'SECRET=1',
      '.git/config': '[http] extraheader = AUTHORIZATION: basic xxx',
      'sub/.hidden/file.txt': 'hidden dir',
    }));
  });
  const rel = (files: string[]): string[] => files.map((f) => path.relative(root, f));

  test('[P20] exclusions, hidden files, brackets and `~` give deterministic results', async () => {
    const all = await globFiles('.', { cwd: root });
    expect(rel(all.files)).toEqual(['a.txt', 'b.txt', 'keep/one.log', 'keep/skip.tmp', 'x[1].txt']);
    expect((await globFiles('.', { cwd: root })).files).toEqual(all.files);
    const excluded = await globFiles('**\n!**/*.tmp\n!b.txt', { cwd: root });
    expect(rel(excluded.files)).toEqual(['a.txt', 'keep/one.log', 'x[1].txt']);
    expect(rel((await globFiles('[ab].txt', { cwd: root })).files)).toEqual(['a.txt', 'b.txt']);
    expect(rel((await globFiles('x\\[1\\].txt', { cwd: root })).files)).toEqual(['x[1].txt']);
    expect(rel((await globFiles('~/keep/*.log', { cwd: work, home: root })).files)).toEqual(['keep/one.log']);
    const hidden = await globFiles('.', { cwd: root, includeHidden: true });
    expect(rel(hidden.files)).toEqual(
      expect.arrayContaining(['.env', '.git/config', 'sub/.hidden/file.txt']),
    );
    await expect(globFiles('~/x', { cwd: root })).rejects.toMatchObject({
      code: 'ERR_FERRY_INVALID_PATH',
      message: expect.stringContaining("Search pattern '~/x' starts with ~"),
    });
  });

  test('[P20] the Action: no match under error / warn / ignore, with zero requests', async () => {
    const expected: Record<string, { code: number; command: RegExp | undefined }> = {
      error: { code: 1, command: /^::error::No files were found with the provided path: nothing-\*/ },
      warn: { code: 0, command: /^::warning::No files were found with the provided path: nothing-\*/ },
      ignore: { code: 0, command: undefined },
    };
    for (const [policy, outcome] of Object.entries(expected)) {
      const requests = mark();
      const step = await checkedStep(
        { name: `p20-${policy}`, path: 'nothing-*', 'if-no-files-found': policy },
        stepEnv(),
        root,
      );
      expect({ policy, code: step.code }).toEqual({ policy, code: outcome.code });
      if (outcome.command) expect(step.commands.some((c) => outcome.command?.test(c))).toBe(true);
      else {
        expect(step.commands.filter((c) => /^::(error|warning)/.test(c))).toEqual([]);
        expect(step.stdout).toMatch(/No files were found with the provided path: nothing-\*/);
      }
      expect(requests()).toEqual([]);
    }
    const bad = await checkedStep({ path: 'x', 'if-no-files-found': 'fail' }, stepEnv(), root);
    expect(bad.code).toBe(1);
    expect(bad.commands.join('\n')).toMatch(
      /Input 'if-no-files-found' must be one of warn, error, ignore; got 'fail'/,
    );
  });

  test('[P20] the Action uploads exactly the matched, non-hidden files of `path: .` with exclusions', async () => {
    const step = await checkedStep({ name: 'p20-dot', path: '.\n!**/*.tmp' }, stepEnv(), root);
    expect(step.code).toBe(0);
    expect(step.stdout).toMatch(/there will be 4 files uploaded/);
    const target = path.join(work, `p20-dot-${++seq}`);
    await downloadArtifact('p20-dot', { ...server.plain('legacy'), path: target });
    expect(Object.keys(await snapshotTree(target)).filter((k) => !k.endsWith('keep'))).toEqual([
      'a.txt',
      'b.txt',
      'keep/one.log',
      'x[1].txt',
    ]);
  });

  test('[P20] the CLI: an empty directory is ERR_FERRY_NO_FILES and a missing path names it, both exit 2 with zero requests', async () => {
    const empty = path.join(work, `p20-empty-${++seq}`);
    await mkdir(path.join(empty, '.only-hidden'), { recursive: true });
    await writeFile(path.join(empty, '.only-hidden', 'x'), 'x');
    const requests = mark();
    const none = await runCli('upload', 'p20-cli', empty, ...cliServer());
    expect(none.code).toBe(2);
    expect(none.out).toContain(`No files were found with the provided path: ${empty}.`);
    const noneJson = await runCli('upload', 'p20-cli', empty, ...cliServer(), '--json');
    expect(noneJson.code).toBe(2);
    expect(noneJson.out).toContain('"code":"ERR_FERRY_NO_FILES"');
    const missing = await runCli('upload', 'p20-cli', path.join(empty, 'nope'), ...cliServer());
    expect(missing.code).toBe(2);
    expect(missing.out).toContain(`No files were found with the provided path: ${path.join(empty, 'nope')}.`);
    expect(requests()).toEqual([]);
  });
});

describe('[P21] option validation', () => {
  const cases: Array<[string, ArtifactClientOptions, RegExp]> = [
    [
      'retention -1',
      { retentionDays: -1 },
      /Option 'retentionDays' must be an integer from 1 to 400; got -1/,
    ],
    ['retention 401', { retentionDays: 401 }, /Option 'retentionDays' .* got 401/],
    ['retention NaN', { retentionDays: Number.NaN }, /Option 'retentionDays' .* got NaN/],
    ['retention 1.5', { retentionDays: 1.5 }, /Option 'retentionDays' .* got 1\.5/],
    [
      'compression 10',
      { compressionLevel: 10 },
      /Option 'compressionLevel' must be an integer from 0 to 9; got 10/,
    ],
    ['compression -1', { compressionLevel: -1 }, /Option 'compressionLevel' .* got -1/],
    ['concurrency 0', { concurrency: 0 }, /Option 'concurrency' must be an integer from 1 to 256; got 0/],
    ['concurrency 1e9', { concurrency: 1e9 }, /Option 'concurrency' .* got 1000000000/],
    ['concurrency NaN', { concurrency: Number.NaN }, /Option 'concurrency' .* got NaN/],
    [
      'concurrency "8"',
      { concurrency: '8' as unknown as number },
      /Option 'concurrency' .* got "8" \(a string\)/,
    ],
    ['timeout 0', { timeoutMs: 0 }, /Option 'timeoutMs' .* got 0/],
    ['chunk size 0', { chunkSize: 0 }, /Option 'chunkSize' .* got 0/],
    [
      'retry.maxAttempts NaN',
      { retry: { maxAttempts: Number.NaN } },
      /Option 'retry\.maxAttempts' .* got NaN/,
    ],
    ['retry.totalTimeMs -1', { retry: { totalTimeMs: -1 } }, /Option 'retry\.totalTimeMs' .* got -1/],
    [
      'retry typo',
      { retry: { maxAttemps: 3 } as never },
      /Option 'retry\.maxAttemps' is not a known retry policy field/,
    ],
    ['unknown option', { concurency: 4 } as never, /Option 'concurency' is not a known option/],
    [
      'backend',
      { backend: 'ftp' as never },
      /Option 'backend' must be one of auto, legacy, results, local; got "ftp"/,
    ],
    ['tempDir', { tempDir: 42 as never }, /Option 'tempDir' must be a string; got 42/],
    [
      'logger',
      { logger: { info: () => undefined } as never },
      /Option 'logger' must have debug, info, warn and error/,
    ],
    ['signal', { signal: 'stop' as never }, /Option 'signal' must be an AbortSignal/],
    ['runtimeToken', { runtimeToken: 12345 as never }, /Option 'runtimeToken' must be a string; got number/],
  ];
  for (const [what, extra, message] of cases) {
    test(`[P21] ${what}: refused before any request, naming the option and the value`, async () => {
      const { root, paths } = await sourceTree({ 'a.txt': 'a' });
      const error = await refusedBeforeAnyRequest(() =>
        uploadArtifact('p21', paths, root, { ...server.options('results'), ...extra }),
      );
      expect(error.code).toBe('ERR_FERRY_INVALID_OPTION');
      expect(error.message).toMatch(message);
    });
  }

  test('[P21] retention 0 means the server default (documented), not an error', async () => {
    const { root, paths } = await sourceTree({ 'a.txt': 'a' });
    await expect(
      uploadArtifact('p21-zero', paths, root, { ...server.options('results'), retentionDays: 0 }),
    ).resolves.toMatchObject({
      fileCount: 1,
    });
  });

  test('[P21] garbage in every environment variable Ferry reads is an error naming the variable', async () => {
    const garbage: Array<[string, string, RegExp]> = [
      [
        'ACTIONS_RUNTIME_URL',
        'not a url',
        /Environment variable ACTIONS_RUNTIME_URL must be an http\(s\) URL; got 'not a url'/,
      ],
      ['ACTIONS_RUNTIME_URL', 'ftp://host/', /ACTIONS_RUNTIME_URL must be an http\(s\) URL/],
      [
        'ACTIONS_RESULTS_URL',
        'results',
        /Environment variable ACTIONS_RESULTS_URL must be an http\(s\) URL; got 'results'/,
      ],
      [
        'ACTIONS_RUNTIME_TOKEN',
        `tok en\n${SENTINEL.tokenSignature}`,
        /ACTIONS_RUNTIME_TOKEN must be a token without spaces/,
      ],
      [
        'GITHUB_RUN_ID',
        '../../admin',
        /Environment variable GITHUB_RUN_ID must be a numeric workflow run id; got '\.\.\/\.\.\/admin'/,
      ],
      ['GITHUB_RUN_ID', '12abc', /GITHUB_RUN_ID must be a numeric workflow run id/],
      ['FERRY_STORE', 'a\0b', /Environment variable FERRY_STORE must be a directory path; got 'a\\0b'/],
    ];
    for (const [name, value, message] of garbage) {
      let thrown: unknown;
      try {
        fromEnvironment({ [name]: value });
      } catch (error: unknown) {
        thrown = error;
      }
      expect(isFerryError(thrown)).toBe(true);
      expect(thrown).toMatchObject({ code: 'ERR_FERRY_INVALID_OPTION', context: { option: name } });
      expect((thrown as Error).message).toMatch(message);
      expectNoSecrets(thrown);
    }
    expect(() => retentionLimitFromEnvironment({ GITHUB_RETENTION_DAYS: 'ninety' })).toThrow(
      /Environment variable GITHUB_RETENTION_DAYS must be a whole number of days; got 'ninety'/,
    );
    expect(retentionLimitFromEnvironment({ GITHUB_RETENTION_DAYS: ' 30 ' })).toBe(30);
    // Proxy variables are parsed where they are used; garbage still names the variable.
    const requests = mark();
    const { root, paths } = await sourceTree({ 'a.txt': 'a' });
    const proxied = await failure(() =>
      uploadArtifact('p21-proxy', paths, root, {
        ...server.options('results'),
        ...fromEnvironment({ HTTPS_PROXY: 'socks5://127.0.0.1:1', HTTP_PROXY: 'http://[bad' }),
      }),
    );
    expect(proxied.message).toMatch(/HTTP_PROXY/);
    expect(requests()).toEqual([]);
  });

  test('[P21] the Action fails the step naming the input or the variable, before any request', async () => {
    const { root } = await sourceTree({ 'a.txt': 'a' });
    const requests = mark();
    const inputs: Array<[Record<string, string>, Record<string, string>, RegExp]> = [
      [
        { 'retention-days': '-1' },
        {},
        /Input 'retention-days' must be a whole number of days, 0 \(the repository default\) or more; got '-1'/,
      ],
      [{ 'retention-days': 'NaN' }, {}, /Input 'retention-days' .*got 'NaN'/],
      [
        { 'compression-level': '10' },
        {},
        /Input 'compression-level' must be a whole number from 0 .*got '10'/,
      ],
      [{ 'compression-level': '-1' }, {}, /Input 'compression-level' .*got '-1'/],
      [{ overwrite: 'yes' }, {}, /Input 'overwrite' must be true or false; got 'yes'/],
      [
        {},
        { ACTIONS_RUNTIME_URL: 'garbage' },
        /Environment variable ACTIONS_RUNTIME_URL must be an http\(s\) URL/,
      ],
      [{}, { GITHUB_RUN_ID: 'x' }, /Environment variable GITHUB_RUN_ID must be a numeric workflow run id/],
      [
        { 'retention-days': '5' },
        { GITHUB_RETENTION_DAYS: 'many' },
        /Environment variable GITHUB_RETENTION_DAYS/,
      ],
    ];
    for (const [given, env, message] of inputs) {
      const step = await checkedStep(
        { name: 'p21-step', path: root, ...given },
        { ...stepEnv(), ...env },
        work,
      );
      expect(step.code).toBe(1);
      expect(step.commands.join('\n')).toMatch(message);
    }
    expect(requests()).toEqual([]);
  });
});

describe('[X06] a directory passed as a file, a missing path', () => {
  test('[X06] the SDK names the path: a directory, a missing file, a missing root', async () => {
    const { root } = await sourceTree({ 'dir/a.txt': 'a' });
    const asFile = await refusedBeforeAnyRequest(() =>
      uploadArtifact('x06', [path.join(root, 'dir')], root, server.options('legacy')),
    );
    expect(asFile.message).toContain(`'${path.join(root, 'dir')}' is a directory; pass the files inside it`);
    const missing = await refusedBeforeAnyRequest(() =>
      uploadArtifact('x06', [path.join(root, 'nope.txt')], root, server.options('legacy')),
    );
    expect(missing.message).toContain(`File '${path.join(root, 'nope.txt')}' does not exist`);
    expect(missing.message).toContain("operation upload, artifact 'x06'");
    const noRoot = await refusedBeforeAnyRequest(() =>
      uploadArtifact('x06', ['a.txt'], path.join(root, 'missing-root'), server.options('legacy')),
    );
    expect(noRoot.message).toContain(`Root directory '${path.join(root, 'missing-root')}' does not exist`);
    expect(noRoot.context.option).toBe('rootDirectory');
  });

  test('[X06] the CLI and the Action name a missing path', async () => {
    const missing = path.join(work, 'does-not-exist.txt');
    const cliRun = await runCli('upload', 'x06', missing, ...cliServer());
    expect(cliRun.code).toBe(2);
    expect(cliRun.out).toContain(`No files were found with the provided path: ${missing}.`);
    const step = await checkedStep(
      { name: 'x06', path: missing, 'if-no-files-found': 'error' },
      stepEnv(),
      work,
    );
    expect(step.code).toBe(1);
    expect(step.commands.join('\n')).toContain(`No files were found with the provided path: ${missing}`);
  });
});
