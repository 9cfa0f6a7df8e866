import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { downloadArtifact, fromEnvironment, uploadArtifact } from '../../src/index.js';
import { REPO_ROOT } from './run-entry.js';

/*
 * docs/runners.md's worked example, run as written: the token block in bash, the serve command
 * with the bundled CLI (on 127.0.0.1 and a free port instead of 0.0.0.0:8080: tests stay on
 * loopback), and the job environment block, verbatim but for the host, for the official client
 * that upload-artifact v4+ bundles (@actions/artifact 6.2.1) and for Ferry over legacy.
 */

interface OfficialClient {
  uploadArtifact(name: string, files: string[], root: string): Promise<{ id?: number; digest?: string }>;
  getArtifact(name: string): Promise<{ artifact: { id: number; name: string; digest?: string } }>;
  downloadArtifact(
    id: number,
    options?: { path?: string; expectedHash?: string },
  ): Promise<{ downloadPath?: string; digestMismatch?: boolean }>;
}

const PAGE_HOST = 'http://ferry.example:8080/';

/** The fenced block right after `<!-- runners-example:NAME -->` (and its not-run marker) on the page. */
function block(page: string, name: string): string {
  const match = new RegExp(
    `<!-- runners-example:${name} -->\\s*(?:<!-- not-run:[^>]*-->\\s*)?\`\`\`\\w*\\n([\\s\\S]*?)\\n\`\`\``,
  ).exec(page);
  if (!match) throw new Error(`docs/runners.md has no block runners-example:${name}`);
  return match[1] as string;
}

let work: string;
let serve: ChildProcess | undefined;
const saved = { ...process.env };

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-runners-doc-'));
});
afterAll(async () => {
  process.env = saved;
  if (serve && serve.exitCode === null) {
    const exited = new Promise((resolve) => serve?.once('exit', resolve));
    serve.kill('SIGTERM');
    await exited;
  }
  await rm(work, { recursive: true, force: true });
});

it('docs/runners.md: the worked example uploads and downloads with the official client and with Ferry', async () => {
  const cli = path.join(REPO_ROOT, 'dist', 'cli.js');
  if (!existsSync(cli)) throw new Error('dist/cli.js is missing: run `npm run build` first');
  const page = await readFile(path.join(REPO_ROOT, 'docs', 'runners.md'), 'utf8');

  // 1. The key and the token, made by the page's shell code in the working directory; its
  // `npx -p ferry-artifact ferry` runs the bundled CLI (the package is not installed here).
  const npx = `npx() { shift 3; "${process.execPath}" "${cli}" "$@"; }`;
  const minted = spawnSync('bash', ['-c', `${npx}\n${block(page, 'token')}\nprintf '%s' "$FERRY_TOKEN"`], {
    encoding: 'utf8',
    cwd: work,
    env: { PATH: process.env['PATH'] ?? '' },
  });
  // The stderr rides along so a failure shows what the shell said.
  expect({ status: minted.status, stderr: minted.stderr }).toMatchObject({ status: 0 });
  const token = minted.stdout;
  const payload = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as {
    scp: string;
  };
  expect(payload.scp).toBe('Actions.Results:1001:build');

  // 2. The serve command, on loopback.
  const command = block(page, 'serve');
  expect(command).toContain('--host 0.0.0.0');
  expect(command).toContain('--jwt-secret-file jwt.key');
  const args = command
    .replace(/^npx -p ferry-artifact ferry /, '')
    .replace('--host 0.0.0.0', '--host 127.0.0.1')
    .replace('--port 8080', '--port 0')
    .replace('./ferry-data', path.join(work, 'ferry-data'))
    .split(' ');
  expect(args[0]).toBe('serve');
  serve = spawn(process.execPath, [cli, ...args], {
    cwd: work,
    env: { PATH: process.env['PATH'] ?? '', HOME: work },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`ferry serve printed no URL: ${out}`)), 30_000);
    serve?.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const found = /http:\/\/127\.0\.0\.1:\d+\//.exec(out);
      if (found) {
        clearTimeout(timer);
        resolve(found[0]);
      }
    });
    serve?.once('exit', (code) => reject(new Error(`ferry serve exited with ${code}: ${out}`)));
  });
  expect(url).not.toContain(':0/');

  // 3. The job environment, verbatim but for the host.
  const env: Record<string, string> = {};
  for (const line of block(page, 'env').split('\n')) {
    const at = line.indexOf('=');
    env[line.slice(0, at)] = line
      .slice(at + 1)
      .replace(PAGE_HOST, url)
      .replace('$FERRY_TOKEN', token);
  }
  expect(Object.keys(env).sort()).toEqual([
    'ACTIONS_RESULTS_URL',
    'ACTIONS_RUNTIME_TOKEN',
    'ACTIONS_RUNTIME_URL',
    'GITHUB_RUN_ID',
    'GITHUB_SERVER_URL',
  ]);
  const workspace = path.join(work, 'workspace');
  await mkdir(path.join(workspace, 'dist'), { recursive: true });
  await writeFile(path.join(workspace, 'dist', 'app.txt'), 'hello\n');
  // Only the page's variables (and the workspace a runner sets) reach the official client.
  process.env = { PATH: saved['PATH'] ?? '', HOME: work, GITHUB_WORKSPACE: workspace, ...env };

  // 4. What upload-artifact v4+ and download-artifact v4+ do with them.
  const module = (await import('actions-artifact-current')) as unknown as {
    DefaultArtifactClient: new () => OfficialClient;
  };
  const official = new module.DefaultArtifactClient();
  const uploaded = await official.uploadArtifact(
    'app',
    [path.join(workspace, 'dist', 'app.txt')],
    path.join(workspace, 'dist'),
  );
  expect(uploaded.id).toBeGreaterThan(0);
  const { artifact } = await official.getArtifact('app');
  expect(artifact.id).toBe(uploaded.id);
  const got = path.join(workspace, 'got');
  const downloaded = await official.downloadArtifact(artifact.id, {
    path: got,
    expectedHash: artifact.digest as string,
  });
  expect(downloaded.digestMismatch).toBe(false);
  expect(await readFile(path.join(got, 'app.txt'), 'utf8')).toBe('hello\n');

  // The legacy variables of the same block work too (v3 actions, Ferry on legacy).
  const legacy = { ...fromEnvironment(env), backend: 'legacy' as const };
  await uploadArtifact(
    'app-legacy',
    [path.join(workspace, 'dist', 'app.txt')],
    path.join(workspace, 'dist'),
    legacy,
  );
  const legacyGot = path.join(workspace, 'got-legacy');
  await downloadArtifact('app-legacy', { ...legacy, path: legacyGot });
  expect(await readFile(path.join(legacyGot, 'app.txt'), 'utf8')).toBe('hello\n');
});
