import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { downloadArtifact, recordRun, uploadArtifact } from '../../src/index.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { runCli } from '../helpers/run-cli.js';

// The latest artifact of a branch or workflow (issue 13 item 4), end to end against ferry serve:
// runs recorded by the runner, selected through the public runs API, downloaded through REST.

let work: string;
let server: RunningServer;
const API_TOKEN = 'ghp_latestRunTestToken0001';

interface Run {
  id: string;
  workflow: string;
  branch: string;
  event: string;
  conclusion: 'success' | 'failure';
  /** Content of the run's `dist` artifact; undefined: the run has no `dist`. */
  dist: string | undefined;
}

// Oldest first, as they happen.
const RUNS: Run[] = [
  {
    id: '101',
    workflow: '.github/workflows/build.yml',
    branch: 'main',
    event: 'push',
    conclusion: 'success',
    dist: 'v101',
  },
  {
    id: '102',
    workflow: '.github/workflows/build.yml',
    branch: 'main',
    event: 'push',
    conclusion: 'failure',
    dist: 'v102',
  },
  {
    id: '103',
    workflow: '.github/workflows/build.yml',
    branch: 'feature',
    event: 'pull_request',
    conclusion: 'success',
    dist: 'v103',
  },
  {
    id: '104',
    workflow: '.github/workflows/build.yml',
    branch: 'main',
    event: 'push',
    conclusion: 'success',
    dist: undefined,
  },
  {
    id: '105',
    workflow: '.github/workflows/release.yml',
    branch: 'main',
    event: 'push',
    conclusion: 'success',
    dist: 'v105',
  },
];

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-latest-run-'));
  server = await startServer({ dataDir: path.join(work, 'data'), port: 0 });
  for (const run of RUNS) {
    const options = { resultsUrl: server.url, runtimeToken: runtimeJwt(run.id, `job-${run.id}`) };
    const dir = path.join(work, `src-${run.id}`);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'version.txt'), run.dist ?? 'other');
    await recordRun(
      { runId: run.id, path: run.workflow, branch: run.branch, event: run.event, status: 'in_progress' },
      options,
    );
    await uploadArtifact(
      run.dist === undefined ? 'other' : 'dist',
      [path.join(dir, 'version.txt')],
      dir,
      options,
    );
    await recordRun({ runId: run.id, conclusion: run.conclusion }, options);
  }
});

afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

function findBy(extra: Record<string, string>) {
  return { token: API_TOKEN, repository: 'octo/app', apiUrl: server.url, ...extra };
}

async function downloadedVersion(extra: Record<string, string>): Promise<string> {
  const target = await mkdtemp(path.join(work, 'out-'));
  await downloadArtifact('dist', { findBy: findBy(extra), path: target });
  return readFile(path.join(target, 'version.txt'), 'utf8');
}

describe('the latest artifact of a branch or workflow (findBy without runId)', () => {
  it('takes the newest successful run of the workflow on the branch that has the artifact', async () => {
    // 105 is another workflow, 104 has no dist, 103 is another branch, 102 failed: 101.
    expect(await downloadedVersion({ workflow: 'build.yml', branch: 'main' })).toBe('v101');
  });

  it('selects by conclusion, event, and workflow path or file name', async () => {
    expect(await downloadedVersion({ workflow: 'build.yml', branch: 'main', conclusion: 'failure' })).toBe(
      'v102',
    );
    expect(await downloadedVersion({ workflow: 'build.yml', branch: 'main', conclusion: 'any' })).toBe(
      'v102',
    );
    expect(await downloadedVersion({ workflow: 'build.yml', event: 'pull_request' })).toBe('v103');
    expect(await downloadedVersion({ workflow: '.github/workflows/release.yml' })).toBe('v105');
    // No workflow: the newest successful run of any workflow on main that has dist.
    expect(await downloadedVersion({ branch: 'main' })).toBe('v105');
  });

  it('names what it looked for when no run matches, and refuses runId together with a selector', async () => {
    await expect(downloadedVersion({ workflow: 'build.yml', branch: 'nope' })).rejects.toMatchObject({
      code: 'ERR_FERRY_NOT_FOUND',
      message: expect.stringContaining(
        'No run of workflow build.yml on branch nope with conclusion success in octo/app',
      ),
    });
    await expect(
      downloadArtifact('dist', { findBy: { ...findBy({ workflow: 'build.yml' }), runId: 101 }, path: work }),
    ).rejects.toMatchObject({
      code: 'ERR_FERRY_INVALID_OPTION',
      message: expect.stringContaining('findBy.workflow'),
    });
  });

  it('answers the runs API as GitHub does: newest first, filtered, paged', async () => {
    const res = await fetch(
      `${server.url}repos/octo/app/actions/workflows/build.yml/runs?branch=main&status=success&per_page=1`,
    );
    const body = (await res.json()) as { total_count: number; workflow_runs: Array<Record<string, unknown>> };
    expect(res.status).toBe(200);
    expect(body.total_count).toBe(2);
    expect(body.workflow_runs).toHaveLength(1);
    expect(body.workflow_runs[0]).toMatchObject({
      id: 104,
      path: '.github/workflows/build.yml',
      head_branch: 'main',
      event: 'push',
      status: 'completed',
      conclusion: 'success',
    });
    // The numeric workflow id the API hands out selects the same runs.
    const id = body.workflow_runs[0]?.['workflow_id'] as number;
    const byId = (await (
      await fetch(`${server.url}repos/octo/app/actions/workflows/${id}/runs?branch=main&status=success`)
    ).json()) as { total_count: number };
    expect(byId.total_count).toBe(2);
  });

  it('refuses a malformed run record with 400 naming the field', async () => {
    const put = (body: unknown) =>
      fetch(`${server.url}_apis/ferry/runs/999`, {
        method: 'PUT',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
    const bad = await put({ conclusion: 'great' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("'conclusion'");
    const control = await put({ head_branch: 'main\u0000x' });
    expect(control.status).toBe(400);
    const long = await put({ path: 'x'.repeat(600) });
    expect(long.status).toBe(400);
  });

  it('works from the CLI: record-run, then download --workflow --branch', async () => {
    const out = await mkdtemp(path.join(work, 'cli-'));
    const dir = path.join(work, 'src-cli');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'version.txt'), 'v106');
    const env = { GITHUB_API_URL: server.url, GITHUB_TOKEN: API_TOKEN };
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const token = runtimeJwt('106', 'job-106');
      const rec = await runCli(
        'record-run',
        '--url',
        server.url,
        '--token',
        token,
        '--workflow',
        '.github/workflows/build.yml',
        '--branch',
        'main',
        '--event',
        'push',
        '--json',
      );
      expect(rec.code).toBe(0);
      expect(
        (
          await runCli(
            'upload',
            'dist',
            path.join(dir, 'version.txt'),
            '--root',
            dir,
            '--url',
            server.url,
            '--token',
            token,
            '--quiet',
          )
        ).code,
      ).toBe(0);
      /** `ferry download dist --workflow build.yml --branch main`, and the version it got. */
      const latestOfMain = async (): Promise<string> => {
        const dl = await runCli(
          'download',
          'dist',
          '--repository',
          'octo/app',
          '--workflow',
          'build.yml',
          '--branch',
          'main',
          '--path',
          out,
          '--quiet',
        );
        expect(dl.code).toBe(0);
        return readFile(path.join(out, 'version.txt'), 'utf8');
      };
      // Still in progress: the newest successful run with dist is 101.
      expect(await latestOfMain()).toBe('v101');
      expect(
        (await runCli('record-run', '--url', server.url, '--token', token, '--conclusion', 'success')).code,
      ).toBe(0);
      expect(await latestOfMain()).toBe('v106');
      const usage = await runCli(
        'download',
        'dist',
        '--repository',
        'octo/app',
        '--run-id',
        '1',
        '--workflow',
        'build.yml',
        '--path',
        out,
      );
      expect(usage.code).toBe(2);
    } finally {
      for (const key of Object.keys(env)) if (saved[key] === undefined) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });
});
