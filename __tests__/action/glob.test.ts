import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { globFiles, leastCommonAncestor, patternLines } from '../../src/pack/glob.js';

let ws: string;

beforeAll(async () => {
  ws = await mkdtemp(path.join(os.tmpdir(), 'ferry-glob-'));
  const files: Record<string, string> = {
    'a.txt': 'a',
    'b.log': 'b',
    '.hidden': 'h',
    '.hdir/x.txt': 'x',
    'src/main.ts': 'm',
    'src/util.ts': 'u',
    'src/[lit].txt': 'l',
    'src/sub/deep.ts': 'd',
    'src/sub/deep.txt': 'd',
    'src/sub/.env': 'secret',
    'build/out.bin': 'o',
    'docs/readme.md': 'r',
    'node_modules/pkg/index.js': 'n',
  };
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(ws, rel)), { recursive: true });
    await writeFile(path.join(ws, rel), content);
  }
  await mkdir(path.join(ws, 'build', 'empty'));
  await mkdir(path.join(ws, 'build', 'nested', 'empty2'), { recursive: true });
  await mkdir(path.join(ws, 'build', '.hidden-empty'));
  await symlink(path.join(ws, 'a.txt'), path.join(ws, 'link-file'));
  await symlink(path.join(ws, 'src'), path.join(ws, 'link-dir'));
  await symlink(path.join(ws, 'does-not-exist'), path.join(ws, 'broken'));
});

afterAll(async () => {
  await rm(ws, { recursive: true, force: true });
});

interface Case {
  patterns: string;
  files: string[];
  /** Relative to the workspace; '' is the workspace itself. */
  root: string;
  includeHidden?: boolean;
  empty?: string[];
}

const ALL_VISIBLE = [
  'a.txt',
  'b.log',
  'build/out.bin',
  'docs/readme.md',
  'link-file',
  'node_modules/pkg/index.js',
  'src/[lit].txt',
  'src/main.ts',
  'src/sub/deep.ts',
  'src/sub/deep.txt',
  'src/util.ts',
];

const CASES: Array<[string, Case]> = [
  ['a single file is stored flat (root = its directory)', { patterns: 'a.txt', files: ['a.txt'], root: '' }],
  [
    'a directory is its own root; hidden files are skipped',
    {
      patterns: 'src',
      files: ['src/[lit].txt', 'src/main.ts', 'src/sub/deep.ts', 'src/sub/deep.txt', 'src/util.ts'],
      root: 'src',
    },
  ],
  [
    'a trailing slash names a directory',
    { patterns: 'src/sub/', files: ['src/sub/deep.ts', 'src/sub/deep.txt'], root: 'src/sub' },
  ],
  ['* within a segment', { patterns: 'src/*.ts', files: ['src/main.ts', 'src/util.ts'], root: 'src' }],
  [
    '** spans directories',
    { patterns: 'src/**/*.ts', files: ['src/main.ts', 'src/sub/deep.ts', 'src/util.ts'], root: 'src' },
  ],
  [
    'relative ** from the workspace; hidden directories are not entered',
    { patterns: '**/*.txt', files: ['a.txt', 'src/[lit].txt', 'src/sub/deep.txt'], root: '' },
  ],
  [
    'include-hidden-files also searches hidden directories',
    {
      patterns: '**/*.txt',
      files: ['.hdir/x.txt', 'a.txt', 'src/[lit].txt', 'src/sub/deep.txt'],
      root: '',
      includeHidden: true,
    },
  ],
  [
    '? matches one character; a single match below a wildcard keeps the search path as root',
    { patterns: 'src/ma?n.ts', files: ['src/main.ts'], root: 'src' },
  ],
  ['[...] classes', { patterns: 'src/[mu]*.ts', files: ['src/main.ts', 'src/util.ts'], root: 'src' }],
  ['[!...] negated classes', { patterns: 'src/[!m]*.ts', files: ['src/util.ts'], root: 'src' }],
  ['[a-z] ranges', { patterns: 'src/[l-n]ain.ts', files: ['src/main.ts'], root: 'src' }],
  ['backslash escapes a bracket', { patterns: 'src/\\[lit\\].txt', files: ['src/[lit].txt'], root: 'src' }],
  [
    '[x] single-character classes are literal',
    { patterns: 'src/[[]lit].txt', files: ['src/[lit].txt'], root: 'src' },
  ],
  [
    '! excludes a directory and everything beneath it',
    { patterns: 'src\n!src/sub', files: ['src/[lit].txt', 'src/main.ts', 'src/util.ts'], root: 'src' },
  ],
  [
    'a later include re-includes what an earlier exclude removed',
    {
      patterns: 'src\n!src/**/*.txt\nsrc/sub/deep.txt',
      files: ['src/main.ts', 'src/sub/deep.ts', 'src/sub/deep.txt', 'src/util.ts'],
      root: 'src',
    },
  ],
  ['!! is an include', { patterns: '!!a.txt', files: ['a.txt'], root: '' }],
  ['only excludes find nothing', { patterns: '!a.txt', files: [], root: '' }],
  [
    'several search paths: root is their least common ancestor',
    { patterns: 'a.txt\ndocs/readme.md', files: ['a.txt', 'docs/readme.md'], root: '' },
  ],
  [
    'several files in one directory: root is that directory',
    { patterns: 'src/sub/deep.ts\nsrc/main.ts', files: ['src/main.ts', 'src/sub/deep.ts'], root: 'src' },
  ],
  [
    'a search path inside another is dropped from the root computation',
    {
      patterns: 'src\nsrc/sub/deep.ts',
      files: ['src/[lit].txt', 'src/main.ts', 'src/sub/deep.ts', 'src/sub/deep.txt', 'src/util.ts'],
      root: 'src',
    },
  ],
  [
    'blank lines, comments and surrounding spaces are ignored',
    { patterns: '# build outputs\n\n   a.txt   \n\n', files: ['a.txt'], root: '' },
  ],
  ['~ is the given home directory', { patterns: '~/a.txt', files: ['a.txt'], root: '' }],
  [
    'empty directories are reported as artifact paths; hidden ones are not',
    { patterns: 'build', files: ['build/out.bin'], root: 'build', empty: ['empty', 'nested/empty2'] },
  ],
  [
    'empty directories are relative to the common root',
    { patterns: 'build/empty\na.txt', files: ['a.txt'], root: '', empty: ['build/empty'] },
  ],
  [
    'the workspace: symlinked files followed, symlinked directories and broken links skipped',
    { patterns: '.', files: ALL_VISIBLE, root: '', empty: ['build/empty', 'build/nested/empty2'] },
  ],
  [
    'excluding node_modules',
    {
      patterns: '.\n!node_modules\n!**/*.log',
      files: ALL_VISIBLE.filter((f) => !f.startsWith('node_modules') && !f.endsWith('.log')),
      root: '',
      empty: ['build/empty', 'build/nested/empty2'],
    },
  ],
  ['a missing path finds nothing', { patterns: 'missing/*.txt', files: [], root: 'missing' }],
  ['an explicitly named hidden file is still hidden', { patterns: '.hidden', files: [], root: '.hidden' }],
  [
    'an explicitly named hidden file with include-hidden',
    { patterns: '.hidden', files: ['.hidden'], root: '', includeHidden: true },
  ],
  [
    'hidden files inside a searched directory with include-hidden',
    {
      patterns: 'src/sub',
      files: ['src/sub/.env', 'src/sub/deep.ts', 'src/sub/deep.txt'],
      root: 'src/sub',
      includeHidden: true,
    },
  ],
];

describe('globFiles (upload-artifact search semantics)', () => {
  it.each(CASES)('%s', async (_title, c) => {
    const result = await globFiles(c.patterns, {
      cwd: ws,
      home: ws,
      includeHidden: c.includeHidden ?? false,
    });
    expect(result.files.map((f) => path.relative(ws, f).split(path.sep).join('/'))).toEqual(c.files);
    expect(result.rootDirectory).toBe(path.join(ws, c.root));
    expect(result.emptyDirectories).toEqual(c.empty ?? []);
  });

  it('reports skipped symlinked directories and broken links', async () => {
    const result = await globFiles('.', { cwd: ws });
    expect(result.skippedSymlinkDirectories).toEqual([path.join(ws, 'link-dir')]);
    expect(result.brokenSymlinks).toEqual([path.join(ws, 'broken')]);
  });

  it('follows a symlinked directory named as the search path itself', async () => {
    const result = await globFiles('link-dir/*.ts', { cwd: ws });
    expect(result.files).toEqual([
      path.join(ws, 'link-dir', 'main.ts'),
      path.join(ws, 'link-dir', 'util.ts'),
    ]);
  });

  it('absolute patterns ignore cwd', async () => {
    const result = await globFiles(path.join(ws, 'docs', '*.md'), { cwd: os.tmpdir() });
    expect(result.files).toEqual([path.join(ws, 'docs', 'readme.md')]);
    expect(result.rootDirectory).toBe(path.join(ws, 'docs'));
  });

  it('rejects ~ without a home directory, naming the pattern', async () => {
    await expect(globFiles('~/x', { cwd: ws })).rejects.toThrow(/Search pattern '~\/x' starts with ~/);
  });

  it('accepts a list of inputs', async () => {
    const result = await globFiles(['a.txt', 'b.log'], { cwd: ws });
    expect(result.files).toEqual([path.join(ws, 'a.txt'), path.join(ws, 'b.log')]);
  });
});

describe('leastCommonAncestor', () => {
  it.each([
    [['/a/b/c', '/a/b/d/e'], '/a/b'],
    [['/a/bc', '/a/bd'], '/a'],
    [['/x', '/y'], '/'],
    [['/a/b', '/a/b'], '/a/b'],
    [['/a/b/c.txt', '/a/b/d.txt', '/a/b/e/f'], '/a/b'],
  ])('%j → %s', (paths, expected) => {
    expect(leastCommonAncestor(paths)).toBe(expected);
  });
});

describe('patternLines', () => {
  it('splits CRLF and LF, trims, drops blanks and comments', () => {
    expect(patternLines(' a \r\n\r\n#c\n !b\n')).toEqual(['a', '!b']);
  });
});
