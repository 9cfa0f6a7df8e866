import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { listArtifacts } from '../../src/index.js';
import { REPOSITORY, SERVER_URL, startActionServer, type ActionServer } from './action-server.js';
import { requireBundles, runStep } from './run-entry.js';

let work: string;
let server: ActionServer;

beforeAll(async () => {
  requireBundles();
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-action-merge-'));
  server = await startActionServer('results', '6006');
});
afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

async function upload(name: string, files: Record<string, string>): Promise<void> {
  const ws = await mkdtemp(path.join(work, 'ws-'));
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(ws, 'src', rel)), { recursive: true });
    await writeFile(path.join(ws, 'src', rel), content);
  }
  const step = await runStep(
    'upload',
    { name, path: 'src', 'include-hidden-files': 'true' },
    server.env(),
    ws,
  );
  expect(step.code).toBe(0);
}

async function download(name: string): Promise<Record<string, string>> {
  const out = await mkdtemp(path.join(work, 'out-'));
  const step = await runStep('download', { name, path: out }, server.env(), work);
  expect(step.code).toBe(0);
  const files: Record<string, string> = {};
  const walk = async (d: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(path.join(d, entry.name), rel);
      else files[rel] = await readFile(path.join(d, entry.name), 'utf8');
    }
  };
  await walk(out, '');
  return files;
}

const names = async (): Promise<string[]> =>
  (await listArtifacts({ resultsUrl: server.server.url, runtimeToken: server.token }))
    .map((a) => a.name)
    .sort();

describe('merge action (results protocol, ferry serve)', () => {
  beforeAll(async () => {
    await upload('m-a', { 'a.txt': 'A', 'common/same.txt': 'same', '.hidden': 'h' });
    await upload('m-b', { 'b.txt': 'B', 'common/same.txt': 'same' });
    await upload('c-1', { 'x.txt': 'one' });
    await upload('c-2', { 'x.txt': 'two' });
  });

  it('merges the matching artifacts, sets the outputs, hidden files left out', async () => {
    const step = await runStep('merge', { name: 'merged', pattern: 'm-*' }, server.env(), work);
    expect(step.log).not.toContain('::error::');
    expect(step.code).toBe(0);
    expect(step.log).not.toContain(server.token);
    const id = step.outputs['artifact-id'];
    expect(id).toMatch(/^\d+$/);
    expect(step.outputs['artifact-url']).toBe(
      `${SERVER_URL}/${REPOSITORY}/actions/runs/${server.runId}/artifacts/${id}`,
    );
    expect(step.outputs['artifact-digest']).toMatch(/^[0-9a-f]{64}$/);
    expect(await download('merged')).toEqual({ 'a.txt': 'A', 'b.txt': 'B', 'common/same.txt': 'same' });
  });

  it('separate-directories and include-hidden-files', async () => {
    const step = await runStep(
      'merge',
      {
        name: 'merged-separate',
        pattern: 'm-*',
        'separate-directories': 'true',
        'include-hidden-files': 'true',
      },
      server.env(),
      work,
    );
    expect(step.code).toBe(0);
    expect(await download('merged-separate')).toEqual({
      'm-a/.hidden': 'h',
      'm-a/a.txt': 'A',
      'm-a/common/same.txt': 'same',
      'm-b/b.txt': 'B',
      'm-b/common/same.txt': 'same',
    });
  });

  it('the same path in two artifacts: the later one (by name) wins by default, as upload-artifact/merge; conflict: error is the opt-in', async () => {
    const byDefault = await runStep('merge', { name: 'merged-default', pattern: 'c-*' }, server.env(), work);
    expect(byDefault.code).toBe(0);
    expect(await download('merged-default')).toEqual({ 'x.txt': 'two' });

    const clash = await runStep(
      'merge',
      { name: 'merged-clash', pattern: 'c-*', conflict: 'error' },
      server.env(),
      work,
    );
    expect(clash.code).toBe(1);
    expect(clash.log).toMatch(/::error::.*x\.txt.*'c-1'.*'c-2'/);
    expect(await names()).not.toContain('merged-clash');

    const skip = await runStep(
      'merge',
      { name: 'merged-skip', pattern: 'c-*', conflict: 'skip' },
      server.env(),
      work,
    );
    expect(skip.code).toBe(0);
    expect(await download('merged-skip')).toEqual({ 'x.txt': 'one' });
  });

  it('delete-merged removes the sources after the merge', async () => {
    await upload('d-1', { 'd1.txt': '1' });
    await upload('d-2', { 'd2.txt': '2' });
    const step = await runStep(
      'merge',
      {
        name: 'merged-deleted',
        pattern: 'd-*',
        'delete-merged': 'true',
        'retention-days': '5',
        'compression-level': '0',
      },
      server.env(),
      work,
    );
    expect(step.code).toBe(0);
    const left = await names();
    expect(left).toContain('merged-deleted');
    expect(left).not.toContain('d-1');
    expect(left).not.toContain('d-2');
    expect(await download('merged-deleted')).toEqual({ 'd1.txt': '1', 'd2.txt': '2' });
  });

  it('fails when nothing matches', async () => {
    const step = await runStep('merge', { name: 'merged-none', pattern: 'zzz-*' }, server.env(), work);
    expect(step.code).toBe(1);
    expect(step.log).toMatch(/::error::No artifacts to merge.*'zzz-\*'/);
  });

  it.each([
    [
      { 'retention-days': '-3' },
      "Input 'retention-days' must be a whole number of days, 0 (the repository default) or more; got '-3'",
    ],
    [{ 'compression-level': '-1' }, "Input 'compression-level' must be a whole number from 0"],
    [{ 'separate-directories': 'maybe' }, "Input 'separate-directories' must be true or false"],
    [{ 'delete-merged': 'sure' }, "Input 'delete-merged' must be true or false"],
    [{ conflict: 'merge' }, "Input 'conflict' must be one of error, overwrite, skip"],
  ])('validates %j', async (extra, message) => {
    const step = await runStep('merge', { pattern: 'm-*', ...extra }, server.env(), work);
    expect(step.code).toBe(1);
    expect(step.log).toContain(`::error::${message}`);
  });
});

describe('merge action on the legacy protocol', () => {
  it('fails with the SDK explanation', async () => {
    const legacy = await startActionServer('legacy', '7007');
    try {
      const step = await runStep('merge', { name: 'merged' }, legacy.env(), work);
      expect(step.code).toBe(1);
      expect(step.log).toMatch(/::error::Cannot merge into 'merged': merging needs the results protocol/);
      expect(step.log).not.toContain(legacy.token);
    } finally {
      await legacy.close();
    }
  });
});
