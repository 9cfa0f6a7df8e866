import path from 'node:path';
import { booleanInput, choiceInput, expandHome, idListInput, integerInput } from '../../src/action/inputs.js';
import { retentionDays } from '../../src/action/retention.js';
import { artifactUrl, bareDigest } from '../../src/action/outputs.js';
import { byNameThenId, planTargets } from '../../src/action/run-download.js';
import { formatBytes, progressLine, progressReporter } from '../../src/action/runtime.js';
import type { ProgressEvent } from '../../src/core/types.js';
import { inputEnvName, parseOutputs } from './run-entry.js';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

function setInput(name: string, value: string): void {
  process.env[inputEnvName(name)] = value;
}

describe('input readers', () => {
  it('use the runner variable names (hyphens kept) and fall back to defaults when empty', () => {
    expect(inputEnvName('if-no-files-found')).toBe('INPUT_IF-NO-FILES-FOUND');
    expect(inputEnvName('my input')).toBe('INPUT_MY_INPUT');
    expect(booleanInput('overwrite', false)).toBe(false);
    setInput('overwrite', 'True');
    expect(booleanInput('overwrite', false)).toBe(true);
    setInput('if-no-files-found', ' ERROR ');
    expect(choiceInput('if-no-files-found', ['warn', 'error', 'ignore'] as const, 'warn')).toBe('error');
  });

  it('validate numbers, naming the input and the value', () => {
    setInput('retention-days', '0');
    expect(retentionDays({})).toBeUndefined();
    setInput('retention-days', '90');
    expect(retentionDays({})).toBe(90);
    setInput('retention-days', '1e2');
    expect(() => retentionDays({})).toThrow(
      "Input 'retention-days' must be a whole number of days, 0 (the repository default) or more; got '1e2'",
    );
    setInput('level', '12');
    expect(() => integerInput('level', 6, 0, 9)).toThrow(
      "Input 'level' must be a whole number from 0 to 9; got '12'",
    );
  });

  it('parse artifact ids', () => {
    setInput('artifact-ids', ' 3, 1,,3 ');
    expect(idListInput('artifact-ids')).toEqual([3, 1]);
    setInput('artifact-ids', '0');
    expect(() => idListInput('artifact-ids')).toThrow("Input 'artifact-ids' must be comma-separated");
    setInput('artifact-ids', ' , ');
    expect(() => idListInput('artifact-ids')).toThrow("Input 'artifact-ids' lists no artifact ids");
  });

  it('expand ~ only at the start', () => {
    expect(expandHome('~/x', '/home/u', 'path')).toBe('/home/u/x');
    expect(expandHome('~', '/home/u', 'path')).toBe('/home/u');
    expect(expandHome('a/~/x', '/home/u', 'path')).toBe('a/~/x');
    expect(expandHome('~user/x', '/home/u', 'path')).toBe('~user/x');
    expect(() => expandHome('~/x', undefined, 'path')).toThrow(
      "Input 'path' starts with ~ but HOME is not set",
    );
  });
});

describe('outputs', () => {
  it('builds the artifact URL only when everything is known', () => {
    const env = { GITHUB_SERVER_URL: 'https://github.com/', GITHUB_REPOSITORY: 'o/r', GITHUB_RUN_ID: '9' };
    expect(artifactUrl(env, 5)).toBe('https://github.com/o/r/actions/runs/9/artifacts/5');
    expect(artifactUrl(env, undefined)).toBeUndefined();
    expect(artifactUrl({ ...env, GITHUB_RUN_ID: undefined }, 5)).toBeUndefined();
  });

  it('outputs the digest as bare hex', () => {
    expect(bareDigest('sha256:ABCdef')).toBe('abcdef');
    expect(bareDigest('abc')).toBe('abc');
    expect(bareDigest(undefined)).toBeUndefined();
  });

  it('parses GITHUB_OUTPUT heredoc blocks', () => {
    expect(parseOutputs('a<<ghadelimiter_1\nx\ny\nghadelimiter_1\nb<<D\n\nD\nc=3\n')).toEqual({
      a: 'x\ny',
      b: '',
      c: '3',
    });
  });
});

describe('download targets', () => {
  const a = (name: string, id: number) => ({ name, id, size: 1, createdAt: undefined, digest: undefined });

  it('one artifact or merge-multiple: straight into path, sorted by name then id', () => {
    expect(planTargets([a('x', 2)], '/p', false)).toEqual([{ name: 'x', id: 2, target: '/p' }]);
    expect(
      planTargets([a('b', 1), a('a', 3), a('a', 2)], '/p', true).map((p) => [p.name, p.id, p.target]),
    ).toEqual([
      ['a', 2, '/p'],
      ['a', 3, '/p'],
      ['b', 1, '/p'],
    ]);
  });

  it('several: path/<name>; a shared name keeps the newest in <name>, older ones in <name>-<id>', () => {
    expect(planTargets([a('b', 1), a('a', 3), a('a', 2)], '/p', false).map((p) => p.target)).toEqual([
      path.join('/p', 'a-2'),
      path.join('/p', 'a'),
      path.join('/p', 'b'),
    ]);
  });

  it('refuses when a suffixed directory would collide with another artifact', () => {
    expect(() => planTargets([a('a', 1), a('a', 2), a('a-1', 3)], '/p', false)).toThrow(/same directory/);
  });

  it('sorts by name, then id', () => {
    expect([a('b', 1), a('a', 9), a('a', 1)].sort(byNameThenId).map((x) => `${x.name}${x.id}`)).toEqual([
      'a1',
      'a9',
      'b1',
    ]);
  });
});

describe('progress', () => {
  const event = (phase: ProgressEvent['phase'], bytesDone: number): ProgressEvent => ({
    operation: 'upload',
    artifactName: 'dist',
    phase,
    bytesDone,
    bytesTotal: 40 * 1024 * 1024,
    filesDone: 3,
    filesTotal: 10,
  });

  it('formats a line with total, percent and files', () => {
    expect(progressLine(event('transfer', 12 * 1024 * 1024))).toBe(
      "Uploading 'dist': 12.0 MiB of 40.0 MiB (30%), 3/10 files",
    );
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
  });

  it('prints at most one line per interval per artifact', () => {
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => (
      lines.push(String(chunk)),
      true
    )) as typeof process.stdout.write;
    let now = 0;
    try {
      const report = progressReporter(10_000, () => now);
      report(event('prepare', 0));
      for (now = 1000; now <= 35_000; now += 1000) report(event('transfer', now));
      report(event('done', 40));
    } finally {
      process.stdout.write = write;
    }
    expect(lines.map((l) => l.trim())).toEqual([
      "Uploading 'dist': 9.8 KiB of 40.0 MiB (0%), 3/10 files",
      "Uploading 'dist': 19.5 KiB of 40.0 MiB (0%), 3/10 files",
      "Uploading 'dist': 29.3 KiB of 40.0 MiB (0%), 3/10 files",
    ]);
  });
});
