import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { codeBlocks } from '../../scripts/markdown-blocks.mjs';

const page = [
  '# Title',
  '',
  '```sh',
  'npm ci && npm run demo   # a comment',
  'npm test',
  '```',
  '',
  '<!-- not-run: a workflow -->',
  '',
  '```YAML title="x"',
  '- uses: ./',
  '```',
  '',
  'Text between blocks.',
  '',
  '~~~ts',
  "import { uploadArtifact } from 'ferry-artifact';",
  '```not a fence end inside a tilde block',
  '~~~',
  '',
  '<!-- not-run: synopsis -->',
  'The synopsis:',
  '```',
  'ferry upload NAME PATH...',
  '```',
  '',
].join('\n');

test('every fenced block with its language, code, line and not-run reason', () => {
  expect(codeBlocks(page)).toEqual([
    { lang: 'sh', code: 'npm ci && npm run demo   # a comment\nnpm test\n', line: 3, notRun: undefined },
    { lang: 'yaml', code: '- uses: ./\n', line: 10, notRun: 'a workflow' },
    {
      lang: 'ts',
      code: "import { uploadArtifact } from 'ferry-artifact';\n```not a fence end inside a tilde block\n",
      line: 16,
      notRun: undefined,
    },
    // A marker counts only on the last non-blank line before the fence: text in between voids it.
    { lang: '', code: 'ferry upload NAME PATH...\n', line: 23, notRun: undefined },
  ]);
});

test('the CLI prints the N-th block of a language exactly as written (what .ci/run executes)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ferry-md-'));
  try {
    const file = path.join(dir, 'README.md');
    writeFileSync(file, page);
    const cli = path.resolve('scripts/markdown-blocks.mjs');
    expect(execFileSync(process.execPath, [cli, file, 'sh'], { encoding: 'utf8' })).toBe(
      'npm ci && npm run demo   # a comment\nnpm test\n',
    );
    expect(() => execFileSync(process.execPath, [cli, file, 'sh', '1'], { stdio: 'pipe' })).toThrow(
      /has no sh block number 1/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
