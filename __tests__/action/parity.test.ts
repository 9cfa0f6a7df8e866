import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startActionServer, type ActionServer, type Protocol } from './action-server.js';
import { requireBundles, runStep, type StepResult } from './run-entry.js';

/*
 * Drop-in parity with upload-artifact v7 / download-artifact v8 / upload-artifact/merge: the
 * cases where Ferry used to differ (issue 9), run through the bundled Actions the way a runner
 * runs them, against ferry serve, over both protocols.
 */

const DAY_MS = 24 * 60 * 60 * 1000;

let work: string;
beforeAll(async () => {
  requireBundles();
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-parity-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(path.join(d, entry.name), rel);
      else out[rel] = await readFile(path.join(d, entry.name), 'utf8');
    }
  };
  await walk(dir, '');
  return out;
}

/** The retention ferry serve recorded for artifact `name`, in whole days from now. */
async function storedRetentionDays(server: ActionServer, name: string): Promise<number | null> {
  if (server.protocol === 'legacy') {
    const containers = path.join(server.dataDir, 'legacy', 'containers');
    for (const id of await readdir(containers)) {
      const record = JSON.parse(
        await readFile(path.join(containers, id, 'artifact.json'), 'utf8').catch(() => '{}'),
      ) as { name?: string; retentionDays?: number | null };
      if (record.name === name) return record.retentionDays ?? null;
    }
    throw new Error(`no legacy artifact ${name}`);
  }
  const dir = path.join(server.dataDir, 'results', 'artifacts');
  for (const file of await readdir(dir)) {
    if (!file.endsWith('.json')) continue;
    const record = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as {
      name?: string;
      expiresAt?: string;
    };
    if (record.name === name && record.expiresAt) {
      return Math.round((Date.parse(record.expiresAt) - Date.now()) / DAY_MS);
    }
  }
  throw new Error(`no results artifact ${name}`);
}

describe.each<Protocol>(['legacy', 'results'])('drop-in parity (%s protocol)', (protocol) => {
  let server: ActionServer;
  beforeAll(async () => {
    server = await startActionServer(protocol, protocol === 'legacy' ? '5101' : '5102');
  });
  afterAll(async () => {
    await server.close();
  });

  async function upload(
    name: string,
    files: Record<string, string>,
    extra: Record<string, string> = {},
    env: Record<string, string> = {},
  ): Promise<StepResult> {
    const ws = await mkdtemp(path.join(work, 'ws-'));
    for (const [rel, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(ws, 'out', rel)), { recursive: true });
      await writeFile(path.join(ws, 'out', rel), content);
    }
    return runStep('upload', { name, path: 'out', ...extra }, server.env(env), ws);
  }

  it('retention-days above 90 is passed through; above GITHUB_RETENTION_DAYS it is lowered with a warning', async () => {
    const long = await upload('keep-long', { 'a.txt': 'a' }, { 'retention-days': '365' });
    expect(long.log).not.toContain('::error::');
    expect(long.code).toBe(0);
    expect(await storedRetentionDays(server, 'keep-long')).toBe(365);

    const capped = await upload(
      'keep-capped',
      { 'a.txt': 'a' },
      { 'retention-days': '365' },
      { GITHUB_RETENTION_DAYS: '120' },
    );
    expect(capped.code).toBe(0);
    expect(capped.log).toMatch(
      /::warning::Input 'retention-days' \(365\) exceeds the repository's limit of 120 days/,
    );
    expect(await storedRetentionDays(server, 'keep-capped')).toBe(120);

    const beyond = await upload('keep-beyond', { 'a.txt': 'a' }, { 'retention-days': '1000' });
    expect(beyond.code).toBe(0);
    expect(beyond.log).toMatch(
      /::warning::Input 'retention-days' \(1000\) is more than the 400 days GitHub allows/,
    );
    expect(await storedRetentionDays(server, 'keep-beyond')).toBe(400);

    const byDefault = await upload('keep-default', { 'a.txt': 'a' }, { 'retention-days': '0' });
    expect(byDefault.code).toBe(0);
    expect(await storedRetentionDays(server, 'keep-default')).toBe(protocol === 'legacy' ? null : 90);
  });

  it.each([
    ['abc', "got 'abc'"],
    ['-5', "got '-5'"],
    ['1.5', "got '1.5'"],
  ])('retention-days %j fails the step naming the input, before anything is uploaded', async (value, got) => {
    const step = await upload(`bad-retention-${value}`, { 'a.txt': 'a' }, { 'retention-days': value });
    expect(step.code).toBe(1);
    expect(step.log).toContain(
      `::error::Input 'retention-days' must be a whole number of days, 0 (the repository default) or more; ${got}`,
    );
  });

  describe('merge-multiple with the same path in two artifacts', () => {
    beforeAll(async () => {
      expect((await upload('same-1', { 'x.txt': 'one', 'only-1.txt': '1' })).code).toBe(0);
      expect((await upload('same-2', { 'x.txt': 'two', 'only-2.txt': '2' })).code).toBe(0);
    });

    it('succeeds by default; the artifact last in name order wins, on every run', async () => {
      for (let run = 0; run < 2; run++) {
        const out = path.join(work, `${protocol}-merged-${run}`);
        const step = await runStep(
          'download',
          { pattern: 'same-*', path: out, 'merge-multiple': 'true' },
          server.env(),
          work,
        );
        expect(step.log).not.toContain('::error::');
        expect(step.code).toBe(0);
        expect(await tree(out)).toEqual({ 'x.txt': 'two', 'only-1.txt': '1', 'only-2.txt': '2' });
      }
    });

    it('conflict: error is the opt-in; its hint names the inputs, not SDK options', async () => {
      const out = path.join(work, `${protocol}-merged-error`);
      const step = await runStep(
        'download',
        { pattern: 'same-*', path: out, 'merge-multiple': 'true', conflict: 'error' },
        server.env(),
        work,
      );
      expect(step.code).toBe(1);
      expect(step.log).toMatch(/::error::'x\.txt' already exists .*Set input 'conflict' to 'overwrite'/);
      expect(step.log).not.toMatch(/downloadArtifact|extractZip|mergeMultiple/);
    });
  });

  it("without github-token, 'repository' and 'run-id' are ignored whatever they hold, as download-artifact does", async () => {
    expect((await upload('here', { 'h.txt': 'here' })).code).toBe(0);
    const out = path.join(work, `${protocol}-ignored-inputs`);
    const step = await runStep(
      'download',
      { name: 'here', path: out, repository: 'not-a-repo', 'run-id': 'latest' },
      server.env(),
      work,
    );
    expect(step.log).not.toContain('::error::');
    expect(step.code).toBe(0);
    expect(step.log).toContain(
      "::warning::Inputs 'repository' and 'run-id' are used only with 'github-token'",
    );
    expect(await tree(out)).toEqual({ 'h.txt': 'here' });
  });

  it('download-all succeeds with artifacts named CON and "trail." (Windows-reserved) off Windows, with a warning', async () => {
    const isolated = await startActionServer(protocol, protocol === 'legacy' ? '5201' : '5202');
    try {
      const up = async (name: string, files: Record<string, string>): Promise<void> => {
        const ws = await mkdtemp(path.join(work, 'ws-'));
        for (const [rel, content] of Object.entries(files)) await writeFile(path.join(ws, rel), content);
        const step = await runStep('upload', { name, path: '*.txt' }, isolated.env(), ws);
        expect(step.log).not.toContain('::error::');
        expect(step.code).toBe(0);
      };
      await up('CON', { 'c.txt': 'con' });
      await up('trail.', { 't.txt': 'trail' });
      await up('ok', { 'o.txt': 'ok' });
      const out = path.join(work, `${protocol}-all`);
      const step = await runStep('download', { path: out }, isolated.env(), work);
      if (process.platform === 'win32') {
        expect(step.code).toBe(1);
        expect(step.log).toMatch(/::error::.*reserved device name/);
        return;
      }
      expect(step.log).not.toContain('::error::');
      expect(step.code).toBe(0);
      expect(await tree(out)).toEqual({ 'CON/c.txt': 'con', 'trail./t.txt': 'trail', 'ok/o.txt': 'ok' });
      expect(step.log).toMatch(
        /::warning::Artifact 'CON' is downloaded to .*could not be created on Windows .*reserved device name/,
      );
      expect(step.log).toMatch(/::warning::Artifact 'trail\.' is downloaded to .*ends in a dot or a space/);
    } finally {
      await isolated.close();
    }
  });
});

describe('merge action parity (results protocol)', () => {
  let server: ActionServer;
  beforeAll(async () => {
    server = await startActionServer('results', '5301');
  });
  afterAll(async () => {
    await server.close();
  });

  it('honours GITHUB_RETENTION_DAYS as the upload action does, and merges the same path with the later artifact winning', async () => {
    for (const [name, content] of [
      ['part-1', 'one'],
      ['part-2', 'two'],
    ] as const) {
      const ws = await mkdtemp(path.join(work, 'ws-'));
      await writeFile(path.join(ws, 'x.txt'), content);
      expect((await runStep('upload', { name, path: 'x.txt' }, server.env(), ws)).code).toBe(0);
    }
    const step = await runStep(
      'merge',
      { name: 'merged', pattern: 'part-*', 'retention-days': '200' },
      server.env({ GITHUB_RETENTION_DAYS: '30' }),
      work,
    );
    expect(step.log).not.toContain('::error::');
    expect(step.code).toBe(0);
    expect(step.log).toMatch(
      /::warning::Input 'retention-days' \(200\) exceeds the repository's limit of 30 days/,
    );
    expect(await storedRetentionDays(server, 'merged')).toBe(30);
    const out = path.join(work, 'merged-out');
    expect((await runStep('download', { name: 'merged', path: out }, server.env(), work)).code).toBe(0);
    expect(await tree(out)).toEqual({ 'x.txt': 'two' });
  });

  it('on the legacy protocol the merge failure points to the download and upload actions, not SDK calls', async () => {
    const legacy = await startActionServer('legacy', '5302');
    try {
      const step = await runStep('merge', { name: 'merged' }, legacy.env(), work);
      expect(step.code).toBe(1);
      expect(step.log).toMatch(
        /::error::Cannot merge into 'merged'.*the download action \('merge-multiple: true'\)/,
      );
      expect(step.log).not.toMatch(/downloadArtifacts|mergeMultiple/);
    } finally {
      await legacy.close();
    }
  });
});
