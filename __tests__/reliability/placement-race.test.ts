/**
 * Reliability case X12: a concurrent attacker process keeps swapping directories of the download
 * target (staging directories included) for links to an outside folder, and back, while a
 * download of 3,000 files in nested directories runs from ferry serve on loopback, over both
 * protocols. Whatever the interleaving, no file may land outside the target: the download either
 * succeeds with every file inside the target or fails with a typed error naming the artifact.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { downloadArtifact, downloadArtifacts, isFerryError, uploadArtifact } from '../../src/index.js';
import { startFixture, type ServerFixture } from '../helpers/server-fixture.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { expectNoSecrets, snapshotTree } from './invariants.js';

const RUN = 'run-race';
const JOB = 'job-race';
const TOKEN = runtimeJwt(RUN, JOB);
const ATTACKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'children', 'swap-attacker.mjs');
const RETRY = { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 };

/** 10 × 5 × 3 directories of 20 files: 3,000 files, three levels deep, every name unique. */
const DIRECTORIES: string[] = [];
for (let a = 0; a < 10; a++)
  for (let b = 0; b < 5; b++) for (let c = 0; c < 3; c++) DIRECTORIES.push(`a${a}/b${b}/c${c}`);
const FILES = DIRECTORIES.flatMap((dir) =>
  Array.from({ length: 20 }, (_, i) => `${dir}/f-${dir.replace(/\//g, '-')}-${i}.txt`),
);
const content = (file: string): string => `content of ${file}\n`;

let work: string;
let fixture: ServerFixture;

const protocols = {
  results: () => ({ resultsUrl: fixture.server.url, runtimeToken: TOKEN, retry: RETRY }),
  legacy: () => ({
    backend: 'legacy' as const,
    runtimeUrl: fixture.server.url,
    runtimeToken: TOKEN,
    runId: RUN,
    retry: RETRY,
  }),
};

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ferry-rel-race-'));
  fixture = await startFixture({ token: TOKEN });
  const source = path.join(work, 'source');
  for (const dir of DIRECTORIES) await mkdir(path.join(source, dir), { recursive: true });
  for (const file of FILES) await writeFile(path.join(source, file), content(file));
  const files = FILES.map((file) => path.join(source, file));
  await uploadArtifact('race', files, source, { ...protocols.results(), tempDir: work });
  await uploadArtifact('race', files, source, { ...protocols.legacy(), tempDir: work, concurrency: 8 });
}, 240_000);

afterAll(async () => {
  await fixture?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

interface AttackReport {
  swaps: number;
  restored: number;
}

async function waitUntil(predicate: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Every regular file under `dir` by base name (links are not followed). */
async function filesByBaseName(dir: string): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  const walk = async (current: string): Promise<void> => {
    for (const name of await readdir(current)) {
      const full = path.join(current, name);
      const stats = await lstat(full);
      if (stats.isDirectory()) await walk(full);
      else if (stats.isFile()) found.set(name, [...(found.get(name) ?? []), full]);
    }
  };
  await walk(dir);
  return found;
}

const CASES = (['results', 'legacy'] as const).flatMap((protocol) =>
  (['from the start', 'while files are moved into place'] as const).map(
    (phase) => [protocol, phase] as const,
  ),
);

describe.each(CASES)('X12 directories swapped for links during the download (%s, %s)', (protocol, phase) => {
  const maybe = process.platform === 'win32' ? test.skip : test;
  maybe(
    `[X12] ${protocol}: 3,000 files while an attacker process swaps directories for links ${phase}: zero files outside the target`,
    async () => {
      const base = path.join(work, `${protocol}-${phase === 'from the start' ? 'start' : 'placing'}`);
      const target = path.join(base, 'target');
      const outside = path.join(base, 'outside');
      const stopFile = path.join(base, 'stop');
      const reportFile = path.join(base, 'report.json');
      await mkdir(outside, { recursive: true });
      // The directories exist from the start, so the attacker has something to swap at once;
      // the download creates its staging directory (swapped as well) and places into them.
      for (const dir of DIRECTORIES) await mkdir(path.join(target, dir), { recursive: true });

      // Attacked from the start, the download mostly stops at its first check of the target;
      // triggered by the first file in place, the swaps hit the moves into place themselves.
      const trigger = phase === 'from the start' ? [] : [DIRECTORIES[0] as string];
      const attacker = spawn(
        process.execPath,
        [ATTACKER, target, outside, stopFile, reportFile, ...trigger],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let attackerErrors = '';
      attacker.stderr.on('data', (chunk: Buffer) => (attackerErrors += chunk.toString()));
      const exited = once(attacker, 'exit');
      let outcome: { ok: true; fileCount: number } | { ok: false; error: unknown };
      try {
        // The attack is under way before the download starts.
        if (phase === 'from the start') {
          await waitUntil(
            async () => (await lstat(`${reportFile}.started`).catch(() => undefined)) !== undefined,
          );
        }
        try {
          const result = await downloadArtifact('race', {
            ...protocols[protocol](),
            path: target,
            tempDir: base,
          });
          outcome = { ok: true, fileCount: result.fileCount };
        } catch (error) {
          outcome = { ok: false, error };
        }
      } finally {
        await writeFile(stopFile, '');
        await exited;
      }
      process.stderr.write(
        `${protocol} ${JSON.stringify({ ok: outcome.ok, err: outcome.ok ? undefined : String((outcome as { error: unknown }).error) })} ${await readFile(reportFile, 'utf8')}\n`,
      );
      expect(attackerErrors).toBe('');
      const report = JSON.parse(await readFile(reportFile, 'utf8')) as AttackReport;
      expect(report.swaps).toBeGreaterThan(0);

      // The invariant, whatever happened: nothing at all in the outside folder.
      expect(await snapshotTree(outside)).toEqual({});

      if (outcome.ok) {
        // Every file is inside the target, once, with its content (a directory the attacker
        // could not rename back stays inside as `<name>.away`).
        expect(outcome.fileCount).toBe(FILES.length);
        const found = await filesByBaseName(target);
        for (const file of FILES) {
          const where = found.get(path.basename(file)) ?? [];
          expect(where).toHaveLength(1);
          expect(await readFile(where[0] as string, 'utf8')).toBe(content(file));
        }
      } else {
        const { error } = outcome;
        expect(isFerryError(error)).toBe(true);
        expect(['ERR_FERRY_UNSAFE_PATH', 'ERR_FERRY_CONFLICT']).toContain((error as { code: string }).code);
        expect((error as Error).message).toMatch(/'race'/);
        expect((error as Error).message).toMatch(
          /symbolic link|removed or replaced|not a directory|vanished/,
        );
        expectNoSecrets(error);
      }
    },
    240_000,
  );
});

describe('X12 a link at path/<artifact name> (downloadArtifacts)', () => {
  const maybe = process.platform === 'win32' ? test.skip : test;
  maybe(
    '[X12] downloadArtifacts refuses a link where an artifact directory goes: nothing written through it',
    async () => {
      const base = path.join(work, 'many');
      const root = path.join(base, 'root');
      const outside = path.join(base, 'outside');
      const source = path.join(base, 'source');
      await mkdir(root, { recursive: true });
      await mkdir(outside);
      await mkdir(source);
      await writeFile(path.join(source, 'b.txt'), 'b');
      await uploadArtifact('race-b', [path.join(source, 'b.txt')], source, {
        ...protocols.results(),
        tempDir: base,
      });
      await symlink(outside, path.join(root, 'race'));
      const error = await downloadArtifacts({
        ...protocols.results(),
        path: root,
        pattern: 'race*',
        tempDir: base,
      }).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toMatchObject({ code: 'ERR_FERRY_UNSAFE_PATH' });
      expect((error as Error).message).toMatch(
        /'race' already exists in the target directory as a symbolic link/,
      );
      expect(await snapshotTree(outside)).toEqual({});
    },
  );
});
