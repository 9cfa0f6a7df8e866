import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { listArtifacts } from '../../src/index.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import {
  REPOSITORY,
  SERVER_URL,
  startActionServer,
  type ActionServer,
  type Protocol,
} from './action-server.js';
import { requireBundles, runStep, type StepResult } from './run-entry.js';

let work: string;

beforeAll(async () => {
  requireBundles();
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-action-upload-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A workspace with visible, hidden, excluded and binary files. */
async function makeWorkspace(name: string): Promise<{ ws: string; payload: Buffer }> {
  const ws = path.join(work, name);
  const payload = randomBytes(300_000);
  const files: Record<string, string | Buffer> = {
    'dist/a.txt': 'alpha\n',
    'dist/sub/b.bin': payload,
    'dist/sub/debug.log': 'noise',
    'dist/.env': 'SECRET=1',
    'dist/.cache/c.txt': 'cached',
    'notes.md': 'not uploaded',
  };
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(ws, rel)), { recursive: true });
    await writeFile(path.join(ws, rel), content);
  }
  return { ws, payload };
}

/** Every file below `dir`, '/'-separated and sorted. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(path.join(d, entry.name), rel);
      else out.push(rel);
    }
  };
  await walk(dir, '');
  return out.sort();
}

function expectNoLeak(step: StepResult, secret: string): void {
  expect(step.log).not.toContain(secret);
  expect(step.stderr).not.toContain(secret);
}

describe.each<Protocol>(['legacy', 'results'])('upload → download round trip (%s protocol)', (protocol) => {
  let server: ActionServer;
  beforeAll(async () => {
    server = await startActionServer(protocol);
  });
  afterAll(async () => {
    await server.close();
  });

  it('uploads with ! excludes and hidden files left out, sets the outputs, and downloads the same bytes', async () => {
    const { ws, payload } = await makeWorkspace(`rt-${protocol}`);
    const up = await runStep(
      'upload',
      { name: 'bundle', path: 'dist\n!dist/**/*.log\n', 'retention-days': '3', 'compression-level': '9' },
      server.env({ GITHUB_WORKSPACE: ws }),
      ws,
    );
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(up.log).toContain('With the provided path, there will be 2 files uploaded');
    expect(up.log).toContain('Artifact bundle has been successfully uploaded!');
    expectNoLeak(up, server.token);

    if (protocol === 'results') {
      const id = up.outputs['artifact-id'];
      expect(id).toMatch(/^\d+$/);
      expect(up.outputs['artifact-url']).toBe(
        `${SERVER_URL}/${REPOSITORY}/actions/runs/${server.runId}/artifacts/${id}`,
      );
      expect(up.outputs['artifact-digest']).toMatch(/^[0-9a-f]{64}$/);
      const listed = await listArtifacts({ resultsUrl: server.server.url, runtimeToken: server.token });
      expect(listed).toEqual([
        expect.objectContaining({
          name: 'bundle',
          id: Number(id),
          digest: `sha256:${up.outputs['artifact-digest']}`,
        }),
      ]);
    } else {
      expect(up.outputs['artifact-digest']).toBeUndefined();
    }

    const out = path.join(ws, 'out');
    const down = await runStep(
      'download',
      { name: 'bundle', path: 'out' },
      server.env({ GITHUB_WORKSPACE: ws }),
      ws,
    );
    expect(down.stderr).toBe('');
    expect(down.code).toBe(0);
    expect(down.outputs['download-path']).toBe(out);
    expectNoLeak(down, server.token);
    expect(await tree(out)).toEqual(['a.txt', 'sub/b.bin']);
    expect(await readFile(path.join(out, 'a.txt'), 'utf8')).toBe('alpha\n');
    expect((await readFile(path.join(out, 'sub', 'b.bin'))).equals(payload)).toBe(true);
  });

  it('include-hidden-files uploads dot files and dot directories', async () => {
    const { ws } = await makeWorkspace(`hidden-${protocol}`);
    const up = await runStep(
      'upload',
      { name: 'with-hidden', path: 'dist', 'include-hidden-files': 'true' },
      server.env(),
      ws,
    );
    expect(up.code).toBe(0);
    const out = path.join(ws, 'out');
    const down = await runStep('download', { name: 'with-hidden', path: out }, server.env(), ws);
    expect(down.code).toBe(0);
    expect(await tree(out)).toEqual(['.cache/c.txt', '.env', 'a.txt', 'sub/b.bin', 'sub/debug.log']);
  });

  it('download path defaults to GITHUB_WORKSPACE and expands ~', async () => {
    const { ws } = await makeWorkspace(`paths-${protocol}`);
    expect((await runStep('upload', { name: 'paths', path: 'dist/a.txt' }, server.env(), ws)).code).toBe(0);
    const workspace = path.join(ws, 'workspace');
    const first = await runStep(
      'download',
      { name: 'paths' },
      server.env({ GITHUB_WORKSPACE: workspace }),
      ws,
    );
    expect(first.code).toBe(0);
    expect(first.outputs['download-path']).toBe(workspace);
    // A single file is stored flat.
    expect(await tree(workspace)).toEqual(['a.txt']);
    const home = path.join(ws, 'home');
    const second = await runStep(
      'download',
      { name: 'paths', path: '~/got' },
      server.env({ HOME: home }),
      ws,
    );
    expect(second.code).toBe(0);
    expect(await tree(path.join(home, 'got'))).toEqual(['a.txt']);
  });
});

describe('upload without matches: if-no-files-found', () => {
  let ws: string;
  beforeAll(async () => {
    ({ ws } = await makeWorkspace('nofiles'));
  });

  it('warn (default): a warning, success, nothing uploaded', async () => {
    const step = await runStep('upload', { path: 'missing/*.txt' }, {}, ws);
    expect(step.code).toBe(0);
    expect(step.log).toContain(
      '::warning::No files were found with the provided path: missing/*.txt. No artifacts will be uploaded.',
    );
    expect(step.outputs).toEqual({});
  });

  it('error: the step fails naming the patterns', async () => {
    const step = await runStep('upload', { path: 'missing/*.txt\n!x', 'if-no-files-found': 'error' }, {}, ws);
    expect(step.code).toBe(1);
    expect(step.log).toContain('::error::No files were found with the provided path: missing/*.txt%0A!x.');
    expect(step.outputs).toEqual({});
  });

  it('ignore: an info line only', async () => {
    const step = await runStep('upload', { path: 'missing', 'if-no-files-found': 'ignore' }, {}, ws);
    expect(step.code).toBe(0);
    expect(step.log).toContain('No files were found with the provided path: missing.');
    expect(step.log).not.toContain('::warning::');
    expect(step.log).not.toContain('::error::');
  });

  it('hidden files alone count as no files', async () => {
    const step = await runStep('upload', { path: 'dist/.env', 'if-no-files-found': 'error' }, {}, ws);
    expect(step.code).toBe(1);
    expect(step.log).toContain('::error::No files were found with the provided path: dist/.env.');
  });
});

describe('input validation names the input', () => {
  let ws: string;
  beforeAll(async () => {
    ({ ws } = await makeWorkspace('validation'));
  });

  it.each([
    [
      { 'retention-days': 'abc' },
      "Input 'retention-days' must be a whole number of days, 0 (the repository default) or more; got 'abc'",
    ],
    [{ 'retention-days': '-1' }, "Input 'retention-days' must be a whole number"],
    [{ 'retention-days': '1.5' }, "Input 'retention-days' must be a whole number"],
    [
      { 'compression-level': '10' },
      "Input 'compression-level' must be a whole number from 0 (no compression) to 9 (best compression); got '10'",
    ],
    [{ 'compression-level': 'fast' }, "Input 'compression-level' must be a whole number"],
    [
      { 'if-no-files-found': 'maybe' },
      "Input 'if-no-files-found' must be one of warn, error, ignore; got 'maybe'",
    ],
    [{ overwrite: 'yes' }, "Input 'overwrite' must be true or false; got 'yes'"],
    [{ archive: '1' }, "Input 'archive' must be true or false; got '1'"],
    [{ 'include-hidden-files': 'nope' }, "Input 'include-hidden-files' must be true or false"],
    [{ 'preserve-permissions': 'x' }, "Input 'preserve-permissions' must be true or false"],
    [{ symlinks: 'copy' }, "Input 'symlinks' must be one of follow, preserve; got 'copy'"],
  ])('%j', async (extra, message) => {
    const step = await runStep('upload', { path: 'dist', ...extra }, {}, ws);
    expect(step.code).toBe(1);
    expect(step.log).toContain(`::error::${message}`);
  });

  it('path is required', async () => {
    const step = await runStep('upload', { name: 'x' }, {}, ws);
    expect(step.code).toBe(1);
    expect(step.log).toContain("::error::Input 'path' is required and was not supplied");
  });
});

describe('archive: false (results protocol)', () => {
  let server: ActionServer;
  let ws: string;
  beforeAll(async () => {
    server = await startActionServer('results', '2002');
    ({ ws } = await makeWorkspace('noarchive'));
    await writeFile(path.join(ws, 'report.json'), '{"ok":true}\n');
  });
  afterAll(async () => {
    await server.close();
  });

  it('uploads one file as-is under its own name (the name input is ignored) and downloads it raw', async () => {
    const up = await runStep(
      'upload',
      { name: 'ignored', path: 'report.json', archive: 'false' },
      server.env(),
      ws,
    );
    expect(up.code).toBe(0);
    expect(up.log).toContain(
      "Input 'name' is ignored with 'archive: false'; the artifact is named 'report.json'",
    );
    expect(up.outputs['artifact-id']).toMatch(/^\d+$/);
    expect(up.outputs['artifact-digest']).toMatch(/^[0-9a-f]{64}$/);
    const listed = await listArtifacts({ resultsUrl: server.server.url, runtimeToken: server.token });
    expect(listed.map((a) => a.name)).toEqual(['report.json']);

    const out = path.join(ws, 'raw');
    const down = await runStep('download', { name: 'report.json', path: out }, server.env(), ws);
    expect(down.code).toBe(0);
    expect(await readFile(path.join(out, 'report.json'), 'utf8')).toBe('{"ok":true}\n');
  });

  it('fails naming the count when more than one file matches', async () => {
    const step = await runStep('upload', { path: 'dist', archive: 'false' }, server.env(), ws);
    expect(step.code).toBe(1);
    expect(step.log).toContain(
      "::error::Input 'archive' is false, which uploads exactly one file, but the path matched 3 files",
    );
  });

  it('overwrite replaces the artifact named after the file', async () => {
    await writeFile(path.join(ws, 'report.json'), '{"ok":"again"}\n');
    const again = await runStep(
      'upload',
      { path: 'report.json', archive: 'false', overwrite: 'true' },
      server.env(),
      ws,
    );
    expect(again.code).toBe(0);
    const listed = await listArtifacts({ resultsUrl: server.server.url, runtimeToken: server.token });
    expect(listed.map((a) => [a.name, a.id])).toEqual([
      ['report.json', Number(again.outputs['artifact-id'])],
    ]);
  });

  it('without overwrite a second upload of the same name fails naming it', async () => {
    const step = await runStep('upload', { name: 'twice', path: 'dist/a.txt' }, server.env(), ws);
    expect(step.code).toBe(0);
    const second = await runStep('upload', { name: 'twice', path: 'dist/a.txt' }, server.env(), ws);
    expect(second.code).toBe(1);
    expect(second.log).toMatch(/::error::.*'twice' already exists/);
  });
});

describe('the runtime token never reaches the step log', () => {
  it.each<Protocol>(['legacy', 'results'])(
    '%s: a rejected token fails the step without printing it',
    async (protocol) => {
      const server = await startActionServer(protocol, '8008');
      try {
        const { ws } = await makeWorkspace(`leak-${protocol}`);
        const wrong =
          protocol === 'results'
            ? // Same scope, different signature: accepted by capability detection, refused by the server.
              `${server.token.slice(0, server.token.lastIndexOf('.'))}.d3JvbmctdG9rZW4tc2lnbmF0dXJl`
            : 'wrong-legacy-token-abcdef0123456789';
        const step = await runStep(
          'upload',
          { name: 'leak', path: 'dist' },
          server.env({ ACTIONS_RUNTIME_TOKEN: wrong, ACTIONS_STEP_DEBUG: 'true' }),
          ws,
        );
        expect(step.code).toBe(1);
        expect(step.log).toMatch(/::error::/);
        expectNoLeak(step, wrong);
        expectNoLeak(step, server.token);
        // The runner is told to mask it.
        expect(step.stdout).toContain(`::add-mask::${wrong}`);
      } finally {
        await server.close();
      }
    },
  );
});

describe('retries inside a step', () => {
  it.each<Protocol>(['legacy', 'results'])(
    '%s: a 503 on the first call is retried after a backoff (the step does not exit while waiting)',
    async (protocol) => {
      const server = await startActionServer(protocol, '9009');
      const proxy = await startFaultProxy(server.server.url, (req) =>
        req.nth === 1 && req.method === 'POST'
          ? { kind: 'respond', status: 503, body: 'busy' }
          : { kind: 'pass' },
      );
      try {
        const { ws } = await makeWorkspace(`retry-${protocol}`);
        const env = server.env({
          ACTIONS_RUNTIME_URL: proxy.url,
          ...(protocol === 'results' ? { ACTIONS_RESULTS_URL: proxy.url } : {}),
          // The legacy service hands out container URLs on its own origin, behind the proxy's:
          // the runtime token may go there only because it is trusted explicitly.
          FERRY_TRUSTED_ORIGINS: new URL(server.server.url).origin,
        });
        const step = await runStep('upload', { name: 'retried', path: 'dist' }, env, ws);
        expect(step.log).toMatch(/failed \(HTTP 503\), retry 1 in/);
        expect(step.log).not.toContain('::error::');
        expect(step.code).toBe(0);
        expect(step.log).toContain('Artifact retried has been successfully uploaded!');
      } finally {
        await proxy.close();
        await server.close();
      }
    },
  );
});
