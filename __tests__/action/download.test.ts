import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startActionServer, type ActionServer } from './action-server.js';
import { requireBundles, runStep } from './run-entry.js';
import { firstStoredBlobFile } from '../helpers/stored-blob.js';

let work: string;
let server: ActionServer;

beforeAll(async () => {
  requireBundles();
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-action-download-'));
  server = await startActionServer('results', '3003');
});
afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

/** Uploads `files` (relative path → content) as artifact `name` through the upload bundle. */
async function upload(name: string, files: Record<string, string>, env = server.env()): Promise<number> {
  const ws = await mkdtemp(path.join(work, 'ws-'));
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(ws, 'src', rel)), { recursive: true });
    await writeFile(path.join(ws, 'src', rel), content);
  }
  const step = await runStep('upload', { name, path: 'src' }, env, ws);
  expect(step.log).not.toContain('::error::');
  expect(step.code).toBe(0);
  return Number(step.outputs['artifact-id']);
}

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

/** The stored record of artifact `id` in ferry serve's data directory. */
async function record(id: number): Promise<{ file: string; data: Record<string, unknown> }> {
  const file = path.join(server.dataDir, 'results', 'artifacts', `${id}.json`);
  return { file, data: JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown> };
}

/**
 * Changes one byte of the stored blob of artifact `id`: same size, different digest. The byte is
 * the modification time in the first local file header, so the zip itself stays readable (a
 * policy other than `error` can still extract it).
 */
async function corrupt(id: number): Promise<void> {
  const { data } = await record(id);
  const blob = await firstStoredBlobFile(server.dataDir, String(data['blobId']));
  const bytes = await readFile(blob);
  expect(bytes.readUInt32LE(0)).toBe(0x04034b50);
  bytes[10] = (bytes[10] as number) ^ 0x01;
  await writeFile(blob, bytes);
}

describe('download action (results protocol, ferry serve)', () => {
  let partA: number;
  let partB: number;

  beforeAll(async () => {
    partA = await upload('part-a', { 'a.txt': 'A', 'shared/same.txt': 'same' });
    partB = await upload('part-b', { 'b.txt': 'B', 'shared/same.txt': 'same' });
    await upload('other', { 'c.txt': 'C' });
    await upload('clash-1', { 'x.txt': 'one' });
    await upload('clash-2', { 'x.txt': 'two' });
  });

  it('pattern: one directory per artifact', async () => {
    const out = path.join(work, 'pattern-dirs');
    const step = await runStep('download', { pattern: 'part-*', path: out }, server.env(), work);
    expect(step.code).toBe(0);
    expect(step.outputs['download-path']).toBe(out);
    expect(await tree(out)).toEqual({
      'part-a/a.txt': 'A',
      'part-a/shared/same.txt': 'same',
      'part-b/b.txt': 'B',
      'part-b/shared/same.txt': 'same',
    });
    expect(step.log).toContain('Total of 2 artifact(s) downloaded');
  });

  it('pattern + merge-multiple: everything in one directory (identical files are no conflict)', async () => {
    const out = path.join(work, 'pattern-merged');
    const step = await runStep(
      'download',
      { pattern: '{part-a,part-b}', path: out, 'merge-multiple': 'true' },
      server.env(),
      work,
    );
    expect(step.code).toBe(0);
    expect(await tree(out)).toEqual({ 'a.txt': 'A', 'b.txt': 'B', 'shared/same.txt': 'same' });
  });

  it('a pattern matching exactly one artifact goes straight into path', async () => {
    const out = path.join(work, 'pattern-one');
    const step = await runStep('download', { pattern: 'oth*', path: out }, server.env(), work);
    expect(step.code).toBe(0);
    expect(await tree(out)).toEqual({ 'c.txt': 'C' });
  });

  it('a pattern matching nothing succeeds with nothing downloaded', async () => {
    const step = await runStep(
      'download',
      { pattern: 'nope-*', path: path.join(work, 'none') },
      server.env(),
      work,
    );
    expect(step.code).toBe(0);
    expect(step.log).toContain("No artifacts matched the pattern 'nope-*'");
  });

  it('no selection downloads every artifact into its own directory', async () => {
    const out = path.join(work, 'all');
    const step = await runStep('download', { path: out }, server.env(), work);
    expect(step.code).toBe(0);
    expect(Object.keys(await tree(out)).sort()).toEqual([
      'clash-1/x.txt',
      'clash-2/x.txt',
      'other/c.txt',
      'part-a/a.txt',
      'part-a/shared/same.txt',
      'part-b/b.txt',
      'part-b/shared/same.txt',
    ]);
  });

  it('merge-multiple with differing files: conflict: error (the opt-in) fails naming the file', async () => {
    const out = path.join(work, 'clash-error');
    const step = await runStep(
      'download',
      { pattern: 'clash-*', path: out, 'merge-multiple': 'true', conflict: 'error' },
      server.env(),
      work,
    );
    expect(step.code).toBe(1);
    expect(step.log).toMatch(/::error::.*x\.txt/);
    // Artifacts are applied by name: clash-1 first, so its file is the one there.
    expect(await tree(out)).toEqual({ 'x.txt': 'one' });
  });

  it.each([
    ['', 'two'],
    ['overwrite', 'two'],
    ['skip', 'one'],
  ])(
    "merge-multiple with differing files: conflict '%s' → %s (empty: the default, overwrite), the same on every run",
    async (conflict, expected) => {
      for (let run = 0; run < 2; run++) {
        const out = path.join(work, `clash-${conflict || 'default'}-${run}`);
        const step = await runStep(
          'download',
          { pattern: 'clash-*', path: out, 'merge-multiple': 'true', ...(conflict ? { conflict } : {}) },
          server.env(),
          work,
        );
        expect(step.code).toBe(0);
        expect(await tree(out)).toEqual({ 'x.txt': expected });
      }
    },
  );

  it('artifact-ids: a single id goes straight into path; several into per-name directories', async () => {
    const one = path.join(work, 'ids-one');
    const single = await runStep(
      'download',
      { 'artifact-ids': String(partA), path: one },
      server.env(),
      work,
    );
    expect(single.code).toBe(0);
    expect(await tree(one)).toEqual({ 'a.txt': 'A', 'shared/same.txt': 'same' });

    const two = path.join(work, 'ids-two');
    const both = await runStep(
      'download',
      { 'artifact-ids': ` ${partA} , ${partB},99999`, path: two },
      server.env(),
      work,
    );
    expect(both.code).toBe(0);
    expect(both.log).toContain('::warning::Could not find the following artifact IDs: 99999');
    expect(Object.keys(await tree(two)).sort()).toEqual([
      'part-a/a.txt',
      'part-a/shared/same.txt',
      'part-b/b.txt',
      'part-b/shared/same.txt',
    ]);
  });

  it('artifact-ids: none found fails; invalid ids and name + ids are rejected naming the inputs', async () => {
    const missing = await runStep('download', { 'artifact-ids': '99998' }, server.env(), work);
    expect(missing.code).toBe(1);
    expect(missing.log).toContain('::error::None of the provided artifact IDs were found: 99998');
    const invalid = await runStep('download', { 'artifact-ids': '12,abc' }, server.env(), work);
    expect(invalid.code).toBe(1);
    expect(invalid.log).toContain("::error::Input 'artifact-ids' must be comma-separated artifact ids");
    const both = await runStep('download', { name: 'part-a', 'artifact-ids': '1' }, server.env(), work);
    expect(both.code).toBe(1);
    expect(both.log).toContain("::error::Inputs 'name' and 'artifact-ids' cannot be used together");
    const policy = await runStep(
      'download',
      { name: 'part-a', 'digest-mismatch': 'loud' },
      server.env(),
      work,
    );
    expect(policy.code).toBe(1);
    expect(policy.log).toContain(
      "::error::Input 'digest-mismatch' must be one of ignore, info, warn, error; got 'loud'",
    );
    const conflict = await runStep('download', { name: 'part-a', conflict: 'rename' }, server.env(), work);
    expect(conflict.code).toBe(1);
    expect(conflict.log).toContain(
      "::error::Input 'conflict' must be one of error, overwrite, skip; got 'rename'",
    );
  });

  it('a missing name fails naming the artifact', async () => {
    const step = await runStep(
      'download',
      { name: 'does-not-exist', path: path.join(work, 'x') },
      server.env(),
      work,
    );
    expect(step.code).toBe(1);
    expect(step.log).toMatch(/::error::.*'does-not-exist'/);
  });

  it('skip-decompress keeps the zip', async () => {
    const out = path.join(work, 'zipped');
    const step = await runStep(
      'download',
      { name: 'other', path: out, 'skip-decompress': 'true' },
      server.env(),
      work,
    );
    expect(step.code).toBe(0);
    const files = await readdir(out);
    expect(files).toEqual(['other.zip']);
    expect((await readFile(path.join(out, 'other.zip'))).subarray(0, 2).toString('latin1')).toBe('PK');
  });
});

describe('artifact-ids keeps an older artifact that shares its name with a newer one', () => {
  let older: number;
  let newer: number;

  beforeAll(async () => {
    // ferry serve allows one finalized artifact per name and run; re-runs on GitHub leave
    // several (from different job attempts). Build that state: upload, move the record to another
    // run, upload again, move it back as an earlier job attempt, restart to reload the index.
    older = await upload('dup', { 'v.txt': 'old' });
    const moved = await record(older);
    await server.server.close();
    await writeFile(moved.file, JSON.stringify({ ...moved.data, runId: 'elsewhere' }));
    await server.restart();
    newer = await upload('dup', { 'v.txt': 'new' });
    await server.server.close();
    await writeFile(moved.file, JSON.stringify({ ...moved.data, jobId: 'job-attempt-1' }));
    await server.restart();
  });

  it('by name only the newest is taken, as download-artifact does', async () => {
    const byName = path.join(work, 'dup-by-name');
    expect((await runStep('download', { name: 'dup', path: byName }, server.env(), work)).code).toBe(0);
    expect(await tree(byName)).toEqual({ 'v.txt': 'new' });
  });

  it('through the REST API (github-token): both, the newest into <name>, the older into <name>-<id>', async () => {
    const out = path.join(work, 'dups-rest');
    const step = await runStep(
      'download',
      {
        'artifact-ids': `${newer},${older}`,
        path: out,
        'github-token': server.token,
        repository: 'octo/ferry',
        'run-id': server.runId,
      },
      {
        GITHUB_RUN_ID: '5005',
        GITHUB_REPOSITORY: 'octo/ferry',
        GITHUB_API_URL: server.server.url.replace(/\/$/, ''),
      },
      work,
    );
    expect(step.log).not.toContain('::error::');
    expect(step.code).toBe(0);
    expect(await tree(out)).toEqual({ 'dup/v.txt': 'new', [`dup-${older}/v.txt`]: 'old' });

    // merge-multiple: both into one directory, applied in id order, under the conflict policy.
    const merged = path.join(work, 'dups-rest-merged');
    const step2 = await runStep(
      'download',
      {
        'artifact-ids': `${older},${newer}`,
        path: merged,
        'merge-multiple': 'true',
        conflict: 'overwrite',
        'github-token': server.token,
        'run-id': server.runId,
      },
      {
        GITHUB_RUN_ID: '5005',
        GITHUB_REPOSITORY: 'octo/ferry',
        GITHUB_API_URL: server.server.url.replace(/\/$/, ''),
      },
      work,
    );
    expect(step2.code).toBe(0);
    expect(await tree(merged)).toEqual({ 'v.txt': 'new' });
  });

  // GetSignedArtifactURL has no id: ferry serve tells same-named artifacts apart by the job id
  // the SDK sends (taken from the listed record), so the older id gets the older bytes.
  it('through the runtime service: both, the newest into <name>, the older into <name>-<id>', async () => {
    const out = path.join(work, 'dups');
    const step = await runStep(
      'download',
      { 'artifact-ids': `${newer},${older}`, path: out },
      server.env(),
      work,
    );
    expect(step.log).not.toContain('::error::');
    expect(step.code).toBe(0);
    expect(await tree(out)).toEqual({ 'dup/v.txt': 'new', [`dup-${older}/v.txt`]: 'old' });
  });
});

describe('digest mismatch', () => {
  let bad: number;
  beforeAll(async () => {
    bad = await upload('corrupted', { 'payload.txt': 'x'.repeat(5000) });
    await upload('intact', { 'ok.txt': 'fine' });
    await corrupt(bad);
  });

  it("policy 'error' (default): fails, writes nothing for the bad artifact, still downloads the rest", async () => {
    const out = path.join(work, 'digest-error');
    const step = await runStep('download', { pattern: '{corrupted,intact}', path: out }, server.env(), work);
    expect(step.code).toBe(1);
    expect(step.log).toMatch(
      /::error::Digest mismatch: the service listed sha256:[0-9a-f]{64} but the bytes received hash to sha256:[0-9a-f]{64}.*artifact 'corrupted'/,
    );
    expect(step.log).toContain(
      `::error::Digest mismatch: 1 artifact did not match the digest the service listed and was not written: 'corrupted' (ID ${bad})`,
    );
    expect(await tree(out)).toEqual({ 'intact/ok.txt': 'fine' });
    expect(step.outputs['download-path']).toBeUndefined();
  });

  it("policy 'error' by name: nothing is written at all", async () => {
    const out = path.join(work, 'digest-error-name');
    const step = await runStep('download', { name: 'corrupted', path: out }, server.env(), work);
    expect(step.code).toBe(1);
    expect(step.log).toMatch(/::error::Digest mismatch: the service listed .*artifact 'corrupted'/);
    await expect(readdir(out)).rejects.toThrow();
  });

  it.each([
    ['warn', '::warning::Digest mismatch'],
    ['info', 'Digest mismatch'],
    ['ignore', '::debug::Digest mismatch'],
  ])("policy '%s': the data is written and the mismatch reported", async (policy, line) => {
    const out = path.join(work, `digest-${policy}`);
    const step = await runStep(
      'download',
      { name: 'corrupted', path: out, 'digest-mismatch': policy },
      server.env(),
      work,
    );
    expect(step.log).not.toContain('::error::');
    expect(step.code).toBe(0);
    expect(step.log).toContain(line);
    if (policy !== 'warn') expect(step.log).not.toContain('::warning::');
    expect(Object.keys(await tree(out))).toEqual(['payload.txt']);
  });
});

describe('cross-run download with github-token (REST API, findBy)', () => {
  it('downloads from another run of ferry serve through the REST API', async () => {
    await upload('from-run-3003', { 'r.txt': 'remote' });
    const out = path.join(work, 'cross-run');
    const step = await runStep(
      'download',
      {
        name: 'from-run-3003',
        path: out,
        'github-token': server.token,
        repository: 'octo/elsewhere',
        'run-id': server.runId,
      },
      // The current job is another run with no artifact service at all.
      {
        GITHUB_RUN_ID: '4004',
        GITHUB_REPOSITORY: 'octo/ferry',
        GITHUB_API_URL: server.server.url.replace(/\/$/, ''),
      },
      work,
    );
    expect(step.log).not.toContain('::error::');
    expect(step.code).toBe(0);
    expect(step.log).toContain(`Downloading from run ${server.runId} of octo/elsewhere (REST API)`);
    expect(step.log).not.toContain(server.token);
    expect(await tree(out)).toEqual({ 'r.txt': 'remote' });
  });

  it('rejects a malformed repository naming the input', async () => {
    const step = await runStep(
      'download',
      { name: 'x', 'github-token': server.token, repository: 'not-a-repo' },
      server.env(),
      work,
    );
    expect(step.code).toBe(1);
    expect(step.log).toContain("::error::Input 'repository' must be 'owner/repo'; got 'not-a-repo'");
  });
});
