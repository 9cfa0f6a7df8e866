import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { startLoopback } from '../helpers/loopback.js';
import { jsonLines, runCli as ferry } from '../helpers/run-cli.js';

/**
 * The CLI next to the SDK and the Action (issue 9, item 5): the Action's path rules and
 * options for upload, several artifacts for download, JSON errors, help, version, and the
 * protocol probe of --url. Everything runs against the embedded store or a real ferry serve
 * on a loopback port.
 */
let work: string;
let store: string;
const saved = { ...process.env };

/** Every file under `root`, '/'-separated and sorted, with directories marked by a trailing '/'. */
async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        const inner = await readdir(path.join(dir, entry.name));
        if (inner.length === 0) out.push(`${prefix}${entry.name}/`);
        await walk(path.join(dir, entry.name), `${prefix}${entry.name}/`);
      } else out.push(`${prefix}${entry.name}`);
    }
  };
  await walk(root, '');
  return out.sort();
}

async function write(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
}

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-cli-parity-'));
  store = path.join(work, 'store');
  for (const key of Object.keys(process.env)) {
    if (/^(ACTIONS_|GITHUB_|FERRY_|HTTPS?_PROXY|NO_PROXY)/i.test(key)) delete process.env[key];
  }
  const dist = path.join(work, 'proj', 'dist');
  await write(path.join(dist, 'app.js'), 'app');
  await write(path.join(dist, 'app.test.js'), 'test');
  await write(path.join(dist, 'lib', 'util.js'), 'util');
  await write(path.join(dist, 'readme.md'), 'readme');
  await write(path.join(dist, '.cache', 'x.js'), 'cached');
  await mkdir(path.join(dist, 'empty'), { recursive: true });
});
afterAll(async () => {
  process.env = saved;
  await rm(work, { recursive: true, force: true });
});

describe("ferry upload takes the Action's path rules and options", () => {
  const dist = (): string => path.join(work, 'proj', 'dist');

  it('uploads a quoted glob with a ! exclude, leaving hidden files out unless asked', async () => {
    const up = await ferry('upload', 'js', `${dist()}/**/*.js`, `!${dist()}/**/*.test.js`, '--store', store);
    expect(up).toMatchObject({ code: 0 });
    expect(up.stdout).toMatch(/uploaded js: 2 files,/);
    const out = path.join(work, 'out-js');
    expect((await ferry('download', 'js', '--path', out, '--store', store)).code).toBe(0);
    expect(await tree(out)).toEqual(['app.js', 'lib/util.js']);

    const hidden = await ferry(
      'upload',
      'js-hidden',
      `${dist()}/**/*.js`,
      '--include-hidden-files',
      '--store',
      store,
    );
    expect(hidden.code).toBe(0);
    const outHidden = path.join(work, 'out-js-hidden');
    expect((await ferry('download', 'js-hidden', '--path', outHidden, '--store', store)).code).toBe(0);
    expect(await tree(outHidden)).toEqual(['.cache/x.js', 'app.js', 'app.test.js', 'lib/util.js']);
  });

  it('takes a PATH that exists as written literally (x[1].txt, as the shell expanded it), else as a pattern', async () => {
    const dir = path.join(work, 'brackets');
    await write(path.join(dir, 'x[1].txt'), 'bracketed');
    await write(path.join(dir, 'x1.txt'), 'plain');
    const literal = await ferry('upload', 'literal', path.join(dir, 'x[1].txt'), '--store', store, '--json');
    expect(jsonLines(literal).at(-1)).toMatchObject({ event: 'result', fileCount: 1 });
    const out = path.join(work, 'out-literal');
    expect((await ferry('download', 'literal', '--path', out, '--store', store)).code).toBe(0);
    expect(await tree(out)).toEqual(['x[1].txt']);

    const pattern = await ferry('upload', 'pattern', path.join(dir, 'x[12].txt'), '--store', store);
    expect(pattern.code).toBe(0);
    const outPattern = path.join(work, 'out-pattern');
    expect((await ferry('download', 'pattern', '--path', outPattern, '--store', store)).code).toBe(0);
    expect(await tree(outPattern)).toEqual(['x1.txt']);
  });

  it('keeps empty directories of an uploaded directory, as the Action does', async () => {
    expect((await ferry('upload', 'whole', dist(), '--store', store)).code).toBe(0);
    const out = path.join(work, 'out-whole');
    expect((await ferry('download', 'whole', '--path', out, '--store', store)).code).toBe(0);
    expect(await tree(out)).toEqual(['app.js', 'app.test.js', 'empty/', 'lib/util.js', 'readme.md']);
  });

  it('--if-no-files-found: error by default (exit 2, one JSON error line), warn and ignore succeed', async () => {
    const missing = path.join(work, 'nothing-here', '*.txt');
    const failed = await ferry('upload', 'none', missing, '--store', store, '--json');
    expect(failed.code).toBe(2);
    expect(jsonLines(failed)).toEqual([
      expect.objectContaining({ event: 'error', code: 'ERR_FERRY_NO_FILES' }),
    ]);
    expect(String(jsonLines(failed)[0]?.['message'])).toContain(missing);

    const warned = await ferry('upload', 'none', missing, '--if-no-files-found', 'warn', '--store', store);
    expect(warned.code).toBe(0);
    expect(warned.stderr).toMatch(/warning: No files were found with the provided path/);
    expect((await ferry('get', 'none', '--store', store)).code).toBe(3);

    const ignored = await ferry('upload', 'none', missing, '--if-no-files-found', 'ignore', '--store', store);
    expect(ignored.code).toBe(0);
    expect(ignored.stderr).not.toMatch(/warning/);
    expect(ignored.stdout).toMatch(/No files were found/);

    const bad = await ferry('upload', 'none', missing, '--if-no-files-found', 'maybe', '--store', store);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--if-no-files-found must be one of error, warn, ignore; got 'maybe'/);
  });

  it('--archive false uploads one file as-is, named after the file; more than one file is refused', async () => {
    const one = await ferry(
      'upload',
      'ignored-name',
      path.join(dist(), 'readme.md'),
      '--archive',
      'false',
      '--store',
      store,
    );
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/uploaded readme\.md: 1 file,/);
    expect((await ferry('get', 'readme.md', '--store', store)).code).toBe(0);
    expect((await ferry('get', 'ignored-name', '--store', store)).code).toBe(3);

    const two = await ferry('upload', 'x', `${dist()}/*.js`, '--archive', 'false', '--store', store);
    expect(two.code).toBe(2);
    expect(two.stderr).toMatch(/--archive false uploads exactly one file, but the paths matched 2 files/);
  });

  it('validates the symlink and permission modes, naming the flag', async () => {
    const symlinks = await ferry('upload', 'x', dist(), '--symlinks', 'sideways', '--store', store);
    expect(symlinks.code).toBe(2);
    expect(symlinks.stderr).toMatch(/--symlinks must be one of follow, preserve; got 'sideways'/);
    const perms = await ferry('upload', 'x', dist(), '--preserve-permissions', 'maybe', '--store', store);
    expect(perms.code).toBe(2);
    expect(perms.stderr).toMatch(/--preserve-permissions must be true or false; got 'maybe'/);
  });
});

describe('ferry merge takes the merge Action’s include-hidden-files', () => {
  it('keeps hidden files only with --include-hidden-files', async () => {
    const mergeStore = path.join(work, 'store-merge');
    const dist = path.join(work, 'proj', 'dist');
    const up = await ferry(
      'upload',
      'h-1',
      `${dist}/**/*.js`,
      '--include-hidden-files',
      '--store',
      mergeStore,
    );
    expect(up.code).toBe(0);
    const kept = await ferry(
      'merge',
      'with-hidden',
      '--pattern',
      'h-*',
      '--include-hidden-files',
      '--store',
      mergeStore,
    );
    expect(kept.code).toBe(0);
    const dropped = await ferry('merge', 'without-hidden', '--pattern', 'h-*', '--store', mergeStore);
    expect(dropped.code).toBe(0);
    for (const [name, hidden] of [
      ['with-hidden', true],
      ['without-hidden', false],
    ] as const) {
      const out = path.join(work, `merge-${name}`);
      expect((await ferry('download', name, '--path', out, '--store', mergeStore)).code).toBe(0);
      expect((await tree(out)).includes('.cache/x.js')).toBe(hidden);
    }
  });
});

describe('ferry download takes several names, a pattern, ids, or the whole run', () => {
  const runStore = (): string => path.join(work, 'store-download');

  beforeAll(async () => {
    const src = path.join(work, 'download-src');
    await write(path.join(src, 'a', 'same.txt'), 'from logs-a');
    await write(path.join(src, 'a', 'a.txt'), 'only a');
    await write(path.join(src, 'b', 'same.txt'), 'from logs-b');
    await write(path.join(src, 'o', 'o.txt'), 'other');
    for (const [name, dir] of [
      ['logs-a', 'a'],
      ['logs-b', 'b'],
      ['other', 'o'],
    ] as const) {
      const up = await ferry('upload', name, path.join(src, dir), '--store', runStore(), '--quiet');
      expect(up.code).toBe(0);
    }
  });

  it('puts each named artifact (positional or -n) in its own directory', async () => {
    const out = path.join(work, 'dl-names');
    const result = await ferry('download', 'logs-a', '-n', 'other', '--path', out, '--store', runStore());
    expect(result.code).toBe(0);
    expect(await tree(out)).toEqual(['logs-a/a.txt', 'logs-a/same.txt', 'other/o.txt']);
    expect(result.stdout).toMatch(/downloaded logs-a: 2 files/);
    expect(result.stdout).toMatch(/downloaded other: 1 file,/);
  });

  it('--pattern with --merge-multiple: one directory, the later artifact wins a shared path', async () => {
    const out = path.join(work, 'dl-merged');
    const result = await ferry(
      'download',
      '--pattern',
      'logs-*',
      '--merge-multiple',
      '--path',
      out,
      '--store',
      runStore(),
    );
    expect(result.code).toBe(0);
    expect(await tree(out)).toEqual(['a.txt', 'same.txt']);
    expect(await readFile(path.join(out, 'same.txt'), 'utf8')).toBe('from logs-b');

    const strict = path.join(work, 'dl-merged-strict');
    const refused = await ferry(
      'download',
      '-p',
      'logs-*',
      '--merge-multiple',
      '--conflict',
      'error',
      '--path',
      strict,
      '--store',
      runStore(),
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/same\.txt/);
    // logs-a went first; logs-b's differing same.txt was refused before it was written.
    expect(await readFile(path.join(strict, 'same.txt'), 'utf8')).toBe('from logs-a');
  });

  it('with no name downloads every artifact of the run, each into its directory', async () => {
    const out = path.join(work, 'dl-all');
    const result = await ferry('download', '--path', out, '--store', runStore());
    expect(result.code).toBe(0);
    expect(await tree(out)).toEqual(['logs-a/a.txt', 'logs-a/same.txt', 'logs-b/same.txt', 'other/o.txt']);
    expect(result.stdout).toMatch(/3 artifacts in/);
  });

  it('--artifact-ids selects by id; one selected artifact goes straight into --path', async () => {
    const listed = jsonLines(await ferry('list', '--json', '--store', runStore())).at(-1) as {
      artifacts: Array<{ name: string; id: number }>;
    };
    const other = listed.artifacts.find((a) => a.name === 'other');
    expect(other?.id).toEqual(expect.any(Number));
    const out = path.join(work, 'dl-ids');
    const result = await ferry(
      'download',
      '--artifact-ids',
      String(other?.id),
      '--path',
      out,
      '--store',
      runStore(),
    );
    expect(result.code).toBe(0);
    expect(await tree(out)).toEqual(['o.txt']);
    const bad = await ferry('download', '--artifact-ids', '1,x', '--store', runStore(), '--json');
    expect(bad.code).toBe(2);
    expect(jsonLines(bad)).toEqual([expect.objectContaining({ code: 'ERR_FERRY_USAGE' })]);
  });

  it('a missing name fails with exit 3 before anything is downloaded', async () => {
    const out = path.join(work, 'dl-missing');
    const result = await ferry('download', 'logs-a', 'nope', '--path', out, '--store', runStore(), '--json');
    expect(result.code).toBe(3);
    expect(jsonLines(result).at(-1)).toMatchObject({ event: 'error', code: 'ERR_FERRY_NOT_FOUND' });
    expect(String(jsonLines(result).at(-1)?.['message'])).toContain('nope');
    await expect(stat(out)).rejects.toThrow();
  });

  it('reports download progress with a total (percent and ETA are possible) on the results protocol', async () => {
    const result = await ferry(
      'download',
      'logs-a',
      '--path',
      path.join(work, 'dl-progress'),
      '--store',
      runStore(),
      '--json',
    );
    expect(result.code).toBe(0);
    const transfers = jsonLines(result).filter((e) => e['event'] === 'progress' && e['phase'] === 'transfer');
    expect(transfers.length).toBeGreaterThan(0);
    for (const t of transfers) {
      expect(t['bytesTotal']).toEqual(expect.any(Number));
      expect(t['bytesDone'] as number).toBeLessThanOrEqual(t['bytesTotal'] as number);
    }
    expect(transfers.at(-1)?.['bytesDone']).toBe(transfers.at(-1)?.['bytesTotal']);
  });
});

describe('--json reports every error as one JSON line, usage errors included', () => {
  it.each([
    [['--json']],
    [['bogus', '--json']],
    [['upload', '--json']],
    [['download', '--no-such-flag', '--json']],
    [['download', 'x', '--conflict', 'maybe', '--json']],
    [['help', 'bogus', '--json']],
  ])('ferry %j', async (args) => {
    const result = await ferry(...args, '--store', store);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('');
    expect(jsonLines(result)).toEqual([
      { event: 'error', code: 'ERR_FERRY_USAGE', message: expect.any(String) as string },
    ]);
  });
});

it('--json may also come before the command', async () => {
  const result = await ferry('--json', 'list', '--store', store);
  expect(result.code).toBe(0);
  expect(jsonLines(result).at(-1)).toMatchObject({ event: 'result', command: 'list' });
});

describe('help and version', () => {
  it('ferry help CMD prints that command’s help, as ferry CMD --help does', async () => {
    for (const command of ['upload', 'download', 'merge', 'serve']) {
      const viaHelp = await ferry('help', command);
      expect(viaHelp.code).toBe(0);
      expect(viaHelp.stdout).toMatch(new RegExp(`^Usage: ferry ${command}`));
      expect(viaHelp.stdout).toBe((await ferry(command, '--help')).stdout);
    }
    expect((await ferry('help')).stdout).toMatch(/Commands:/);
  });

  it('--version, -V and ferry version print the version in package.json', async () => {
    const pkg = JSON.parse(await readFile(path.join(process.cwd(), 'package.json'), 'utf8')) as {
      version: string;
    };
    for (const args of [['--version'], ['-V'], ['version']]) {
      const result = await ferry(...args);
      expect(result).toEqual({ code: 0, stdout: `ferry ${pkg.version}\n`, stderr: '' });
    }
    expect(jsonLines(await ferry('version', '--json'))).toEqual([
      { event: 'result', command: 'version', version: pkg.version },
    ]);
  });
});

describe('--url finds out which protocol the server speaks', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ dataDir: path.join(work, 'serve'), port: 0 });
  });
  afterAll(() => server.close());

  it('speaks results to a ferry serve, so merge and delete work there, and doctor says why', async () => {
    const src = path.join(work, 'proj', 'dist');
    const url = server.url;
    expect((await ferry('upload', 'part-1', path.join(src, 'app.js'), '--url', url)).code).toBe(0);
    const up = await ferry('upload', 'part-2', path.join(src, 'readme.md'), '--url', url, '--json');
    expect(jsonLines(up).at(-1)).toMatchObject({ event: 'result', backend: 'results' });

    const merged = await ferry('merge', 'both', '--pattern', 'part-*', '--delete-merged', '--url', url);
    expect(merged.code).toBe(0);
    expect(merged.stdout).toMatch(/merged 2 artifacts \(part-1, part-2\) into both/);
    const out = path.join(work, 'url-merged');
    expect((await ferry('download', 'both', '--path', out, '--url', url)).code).toBe(0);
    expect(await tree(out)).toEqual(['app.js', 'readme.md']);
    expect((await ferry('delete', 'both', '--url', url)).code).toBe(0);
    expect((await ferry('get', 'both', '--url', url)).code).toBe(3);

    const doctor = await ferry('doctor', '--url', url);
    expect(doctor.code).toBe(0);
    expect(doctor.stdout).toMatch(/ok {3}protocol: results \(.* answered the results ListArtifacts call\)/);
  });

  it('speaks legacy to a server without the results routes, after one probe request', async () => {
    const legacyOnly = await startLoopback((req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    });
    try {
      const doctor = await ferry('doctor', '--url', legacyOnly.url, '--json');
      const checks = (jsonLines(doctor).at(-1) as { checks: Array<{ name: string; detail: string }> }).checks;
      expect(checks.find((c) => c.name === 'protocol')?.detail).toMatch(
        /^legacy \(.* does not speak the results protocol \(ListArtifacts answered HTTP 404\); using the legacy protocol/,
      );
      expect(legacyOnly.requests.filter((r) => r.url.startsWith('/twirp/'))).toHaveLength(1);
    } finally {
      await legacyOnly.close();
    }
  });

  it('gives up on a server that never answers within the probe timeout, as a failed doctor check', async () => {
    const silent = await startLoopback(() => {
      // Never answers: the probe must not wait for the 120 s transfer timeout or retry.
    });
    try {
      const started = Date.now();
      const doctor = await ferry('doctor', '--url', silent.url);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(doctor.code).toBe(1);
      expect(doctor.stdout).toMatch(/FAIL protocol: Could not reach .* to find out which protocol it speaks/);
      expect(silent.requests).toHaveLength(1);
    } finally {
      await silent.close();
    }
  });

  it('names the token when the server refuses it, and keeps an opaque shared token on legacy', async () => {
    const guarded = await startServer({
      dataDir: path.join(work, 'serve-token'),
      port: 0,
      token: 'shared-opaque-token-123',
    });
    try {
      const refused = await ferry('list', '--url', guarded.url, '--json');
      expect(refused.code).toBe(1);
      expect(jsonLines(refused).at(-1)).toMatchObject({ event: 'error', code: 'ERR_FERRY_UNAUTHORIZED' });
      expect(String(jsonLines(refused).at(-1)?.['message'])).toMatch(/--token/);

      const args = ['--url', guarded.url, '--token', 'shared-opaque-token-123'];
      const up = await ferry('upload', 'opaque', path.join(work, 'proj', 'dist', 'app.js'), ...args);
      expect(up.stdout).toMatch(/via legacy/);
      const doctor = await ferry('doctor', ...args);
      expect(doctor.stdout).toMatch(/protocol: legacy \(the token is not a runtime JWT/);
      expect(doctor.stdout + doctor.stderr + up.stdout + up.stderr).not.toContain('shared-opaque-token-123');
    } finally {
      await guarded.close();
    }
  });
});

describe('the embedded store', () => {
  it('names itself in errors instead of its internal loopback URL', async () => {
    const result = await ferry('delete', 'never-uploaded', '--store', store);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`the embedded store in ${store}`);
    expect(result.stderr).not.toMatch(/127\.0\.0\.1|localhost/);
  });
});
