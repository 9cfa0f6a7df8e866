import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buffer as readAll } from 'node:stream/consumers';
import { crc32 } from 'node:zlib';
import { isFerryError, type FerryError } from '../../src/core/errors.js';
import {
  DEFAULT_EXTRACT_LIMITS,
  decodeCp437,
  extractZip,
  openEntryStream,
  PartialExtractionError,
  readCentralDirectory,
  type ExtractOptions,
} from '../../src/pack/zip/index.js';
import { buildZip, writeZip, type ZipSpecEntry, type ZipSpecOptions } from '../helpers/zip-builder.js';

let base: string;
let target: string;
let outside: string;

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'ferry-zip-'));
  target = path.join(base, 'target');
  outside = path.join(base, 'outside');
  await mkdir(target);
  await mkdir(path.join(outside, 'nested'), { recursive: true });
  await writeFile(path.join(target, 'keep.txt'), 'pre-existing content');
  await writeFile(path.join(outside, 'secret.txt'), 'do not touch');
  await writeFile(path.join(outside, 'nested', 'file.txt'), 'nested sentinel');
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

let zipCounter = 0;
async function zipFile(entries: readonly ZipSpecEntry[], options: ZipSpecOptions = {}): Promise<string> {
  const file = path.join(base, `archive-${++zipCounter}.zip`);
  await writeFile(file, buildZip(entries, options));
  return file;
}

/** Type, mode and content hash (or link text) of everything under `root`. */
async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const dirent of await readdir(dir, { withFileTypes: true })) {
      const abs = path.join(dir, dirent.name);
      const rel = path.relative(root, abs);
      const stats = await lstat(abs);
      if (stats.isSymbolicLink()) out[rel] = `link:${await readlink(abs)}`;
      else if (stats.isDirectory()) {
        out[rel] = `dir:${(stats.mode & 0o7777).toString(8)}`;
        await walk(abs);
      } else {
        const hash = createHash('sha256')
          .update(await readFile(abs))
          .digest('hex');
        out[rel] = `file:${(stats.mode & 0o7777).toString(8)}:${hash}`;
      }
    }
  };
  await walk(root);
  return out;
}

async function snapshotBoth(): Promise<{ target: Record<string, string>; outside: Record<string, string> }> {
  return { target: await snapshot(target), outside: await snapshot(outside) };
}

async function ferryError(promise: Promise<unknown>, code: string, pattern?: RegExp): Promise<FerryError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  if (caught === undefined) throw new Error(`expected ${code}, but the call succeeded`);
  if (!isFerryError(caught)) throw caught;
  expect(caught.code).toBe(code);
  if (pattern) expect(caught.message).toMatch(pattern);
  return caught;
}

/** Extraction must fail with `code`, and neither the target nor the sentinel tree may change. */
async function expectRejectedUntouched(
  zip: string,
  code: string,
  pattern?: RegExp,
  options: Partial<ExtractOptions> = {},
): Promise<FerryError> {
  const before = await snapshotBoth();
  const error = await ferryError(extractZip(zip, { targetDirectory: target, ...options }), code, pattern);
  expect(await snapshotBoth()).toEqual(before);
  return error;
}

const text = async (...parts: string[]): Promise<string> => readFile(path.join(target, ...parts), 'utf8');

describe('extractZip: round trip', () => {
  it('extracts nested files, an empty file, an empty directory and CJK/space names', async () => {
    const big = randomBytes(3 * 1024 * 1024); // above the in-memory threshold: the streaming path
    const zip = await zipFile([
      { name: 'a/b/c.txt', data: 'deep file' },
      { name: 'a/empty.txt', data: '' },
      { name: 'empty-dir/', directory: true },
      { name: '日本語 フォルダ/ファイル 名.txt', data: 'こんにちは' },
      { name: 'with space/and #%+ chars.txt', data: 'special' },
      { name: 'big/random.bin', data: big },
      { name: 'stored.txt', data: 'stored data', method: 0 },
    ]);
    const seen: string[] = [];
    const result = await extractZip(zip, {
      targetDirectory: target,
      onEntry: ({ name }) => seen.push(name),
    });
    expect(result).toEqual({
      files: 6,
      directories: 6,
      bytes: 9 + 0 + Buffer.byteLength('こんにちは') + 7 + big.length + 11,
    });
    expect(await text('a', 'b', 'c.txt')).toBe('deep file');
    expect(await text('a', 'empty.txt')).toBe('');
    expect((await lstat(path.join(target, 'empty-dir'))).isDirectory()).toBe(true);
    expect(await readdir(path.join(target, 'empty-dir'))).toEqual([]);
    expect(await text('日本語 フォルダ', 'ファイル 名.txt')).toBe('こんにちは');
    expect(await text('with space', 'and #%+ chars.txt')).toBe('special');
    expect((await readFile(path.join(target, 'big', 'random.bin'))).equals(big)).toBe(true);
    expect(await text('stored.txt')).toBe('stored data');
    expect(await text('keep.txt')).toBe('pre-existing content');
    expect(seen.sort()).toHaveLength(7);
    // The staging directory is gone.
    expect((await readdir(target)).filter((n) => n.startsWith('.ferry-extract-'))).toEqual([]);
  });

  it('creates a missing target directory, and removes it again when extraction fails', async () => {
    const fresh = path.join(base, 'new', 'deeper');
    const good = await zipFile([{ name: 'x.txt', data: 'x' }]);
    await extractZip(good, { targetDirectory: fresh });
    expect(await readFile(path.join(fresh, 'x.txt'), 'utf8')).toBe('x');

    const bad = await zipFile([{ name: 'x.txt', data: 'x', crc32: 1 }]);
    const other = path.join(base, 'other', 'deeper');
    await ferryError(extractZip(bad, { targetDirectory: other }), 'ERR_FERRY_INTEGRITY', /CRC-32/);
    await expect(lstat(path.join(base, 'other'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('overwrites an existing file by default, and honours existing: error and skip', async () => {
    const zip = await zipFile([{ name: 'keep.txt', data: 'new content' }]);
    await ferryError(
      extractZip(zip, { targetDirectory: target, existing: 'error' }),
      'ERR_FERRY_CONFLICT',
      /keep\.txt.*already exists.*'existing'/,
    );
    expect(await text('keep.txt')).toBe('pre-existing content');
    expect(await extractZip(zip, { targetDirectory: target, existing: 'skip' })).toEqual({
      files: 0,
      directories: 0,
      bytes: 0,
    });
    expect(await text('keep.txt')).toBe('pre-existing content');
    await extractZip(zip, { targetDirectory: target });
    expect(await text('keep.txt')).toBe('new content');
  });

  it('merges into existing directories but refuses a directory where a file goes (and the reverse)', async () => {
    await mkdir(path.join(target, 'existing-dir', 'sub'), { recursive: true });
    await writeFile(path.join(target, 'existing-dir', 'old.txt'), 'old');
    await extractZip(await zipFile([{ name: 'existing-dir/new.txt', data: 'new' }]), {
      targetDirectory: target,
    });
    expect(await text('existing-dir', 'old.txt')).toBe('old');
    expect(await text('existing-dir', 'new.txt')).toBe('new');

    await expectRejectedUntouched(
      await zipFile([{ name: 'existing-dir/sub', data: 'file over a dir' }]),
      'ERR_FERRY_CONFLICT',
      /as a directory/,
    );
    await expectRejectedUntouched(
      await zipFile([{ name: 'keep.txt/inner.txt', data: 'dir over a file' }]),
      'ERR_FERRY_CONFLICT',
      /as a file/,
    );
  });

  it('restores modes: 0o755 script, 0o600 file, directories keep owner rwx; never setuid', async () => {
    const zip = await zipFile([
      { name: 'bin/run.sh', data: '#!/bin/sh\necho hi\n', mode: 0o755 },
      { name: 'secret.key', data: 'key', mode: 0o600 },
      { name: 'suid', data: 'x', mode: 0o4755 },
      { name: 'readonly-dir/', directory: true, mode: 0o555 },
      { name: 'readonly-dir/inside.txt', data: 'inside', mode: 0o444 },
    ]);
    await extractZip(zip, { targetDirectory: target });
    const mode = async (...p: string[]): Promise<number> =>
      (await lstat(path.join(target, ...p))).mode & 0o7777;
    expect(await mode('bin', 'run.sh')).toBe(0o755);
    expect(await mode('secret.key')).toBe(0o600);
    expect(await mode('suid')).toBe(0o755);
    expect(await mode('readonly-dir')).toBe(0o755);
    expect(await mode('readonly-dir', 'inside.txt')).toBe(0o444);
  });

  it('does not restore modes with restoreModes: false', async () => {
    const zip = await zipFile([{ name: 'secret.key', data: 'key', mode: 0o600 }]);
    await writeFile(path.join(base, 'probe'), 'x');
    const defaultMode = (await lstat(path.join(base, 'probe'))).mode & 0o777;
    await extractZip(zip, { targetDirectory: target, restoreModes: false });
    expect((await lstat(path.join(target, 'secret.key'))).mode & 0o777).toBe(defaultMode);
  });

  it('skips a directory entry that names the target itself', async () => {
    const zip = await zipFile([
      { name: './', directory: true },
      { name: 'x.txt', data: 'x' },
    ]);
    await extractZip(zip, { targetDirectory: target });
    expect(await text('x.txt')).toBe('x');
  });
});

describe('extractZip: hostile names (test A1)', () => {
  const hostile: [string, string | Buffer][] = [
    ['parent', '../x'],
    ['nested parent', 'a/../../x'],
    ['absolute', '/abs/x'],
    ['drive backslash', 'C:\\x'],
    ['drive slash', 'C:/x'],
    ['UNC', '\\\\server\\share\\x'],
    ['backslash parents', '..\\..\\x'],
    ['NUL', 'a\u0000b.txt'],
    ['control character', 'a\u001b[31m.txt'],
    ['empty', ''],
    ['5000 characters', 'n'.repeat(5000)],
    ['256-byte segment', `dir/${'s'.repeat(256)}`],
    ['CP437 parent', Buffer.from('..\\x', 'latin1')],
  ];
  it.each(hostile)('rejects %s and writes nothing', async (_label, name) => {
    const zip = await zipFile([
      { name: 'good-first.txt', data: 'written before the bad entry in archive order' },
      { name: 'good-dir/', directory: true },
      { name, data: 'pwned' },
    ]);
    const error = await expectRejectedUntouched(zip, 'ERR_FERRY_UNSAFE_PATH');
    expect(error.message).toMatch(/Unsafe path/);
    expect(error.message.includes('\u0000') || error.message.includes('\u001b')).toBe(false);
    expect(await readdir(base)).not.toContain('x');
    expect(await readdir(path.dirname(base))).not.toContain('x');
  });

  it('rejects a name that is not valid UTF-8 although flagged UTF-8', async () => {
    const zip = await zipFile([{ name: Buffer.from([0x61, 0xff, 0xfe]), data: 'x', utf8: true }]);
    await expectRejectedUntouched(zip, 'ERR_FERRY_INTEGRITY', /not valid UTF-8/);
  });
});

describe('extractZip: symlinks already in the target (tests A2, A3)', () => {
  it('refuses to write through a pre-existing directory symlink pointing outside', async () => {
    await symlink(outside, path.join(target, 'linkdir'));
    const zip = await zipFile([{ name: 'linkdir/pwned.txt', data: 'pwned' }]);
    await expectRejectedUntouched(zip, 'ERR_FERRY_UNSAFE_PATH', /linkdir.*symbolic link/);
    await expectRejectedUntouched(
      await zipFile([{ name: 'linkdir/nested/deeper/pwned.txt', data: 'pwned' }]),
      'ERR_FERRY_UNSAFE_PATH',
      /symbolic link/,
    );
  });

  it('replaces a pre-existing file symlink instead of writing through it', async () => {
    const victim = path.join(target, 'victim.txt');
    await symlink(path.join(outside, 'secret.txt'), victim);
    const zip = await zipFile([{ name: 'victim.txt', data: 'archive content' }]);

    await ferryError(extractZip(zip, { targetDirectory: target, existing: 'error' }), 'ERR_FERRY_CONFLICT');
    await extractZip(zip, { targetDirectory: target, existing: 'skip' });
    expect((await lstat(victim)).isSymbolicLink()).toBe(true);

    const outsideBefore = await snapshot(outside);
    await extractZip(zip, { targetDirectory: target });
    const stats = await lstat(victim);
    expect(stats.isSymbolicLink()).toBe(false);
    expect(stats.isFile()).toBe(true);
    expect(await readFile(victim, 'utf8')).toBe('archive content');
    expect(await snapshot(outside)).toEqual(outsideBefore);
    expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('do not touch');
  });

  it('replaces a dangling symlink at a destination', async () => {
    await symlink(path.join(outside, 'does-not-exist'), path.join(target, 'dangling'));
    await extractZip(await zipFile([{ name: 'dangling', data: 'real' }]), { targetDirectory: target });
    expect(await text('dangling')).toBe('real');
    await expect(lstat(path.join(outside, 'does-not-exist'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('extractZip: symlink entries (test A4)', () => {
  const links: ZipSpecEntry[] = [
    { name: 'real/target.txt', data: 'the target' },
    { name: 'link-to-target', symlink: true, data: 'real/target.txt' },
  ];

  it("refuses them by default, naming the entry and the 'symlinks' option", async () => {
    const error = await expectRejectedUntouched(await zipFile(links), 'ERR_FERRY_UNSAFE_PATH');
    expect(error.message).toMatch(/link-to-target.*symbolic link.*'symlinks'/);
  });

  it("writes the link text as a regular file with symlinks: 'file'", async () => {
    const escaping = await zipFile([{ name: 'passwd', symlink: true, data: '/etc/passwd' }]);
    await extractZip(escaping, { targetDirectory: target, symlinks: 'file' });
    const stats = await lstat(path.join(target, 'passwd'));
    expect(stats.isFile()).toBe(true);
    expect(stats.mode & 0o022).toBe(0); // not the link's 0o777
    expect(await text('passwd')).toBe('/etc/passwd');
  });

  it("creates links that stay inside with symlinks: 'preserve'", async () => {
    await extractZip(
      await zipFile([
        ...links,
        { name: 'sub/up-link', symlink: true, data: '../real/target.txt' },
        { name: 'dir-link', symlink: true, data: 'real' },
        { name: 'link-to-link', symlink: true, data: 'dir-link' },
      ]),
      { targetDirectory: target, symlinks: 'preserve' },
    );
    expect(await readlink(path.join(target, 'link-to-target'))).toBe('real/target.txt');
    expect(await text('link-to-target')).toBe('the target');
    expect(await text('sub', 'up-link')).toBe('the target');
    expect(await readlink(path.join(target, 'link-to-link'))).toBe('dir-link');
  });

  it.each([
    ['absolute', '/etc/passwd', /absolute/],
    ['parent', '../../outside/secret.txt', /outside the target/],
    ['backslash parent', '..\\..\\x', /outside the target/],
    ['through a parent after a name', 'sub/../../x', /outside the target/],
    ['empty', '', /empty/],
    ['NUL', 'a\u0000b', /control character/],
  ])("refuses a %s link target with symlinks: 'preserve'", async (_label, linkText, pattern) => {
    const zip = await zipFile([{ name: 'evil', symlink: true, data: linkText }]);
    await expectRejectedUntouched(zip, 'ERR_FERRY_UNSAFE_PATH', pattern, { symlinks: 'preserve' });
  });

  it('refuses a link whose target passes through another link entry (lexical != real resolution)', async () => {
    const zip = await zipFile([
      { name: 'self', symlink: true, data: '.' },
      { name: 'escape', symlink: true, data: 'self/self/../../x' },
    ]);
    await expectRejectedUntouched(zip, 'ERR_FERRY_UNSAFE_PATH', /passes through the symbolic link entry/, {
      symlinks: 'preserve',
    });
  });

  it('refuses a link whose target passes through a symlink already in the target', async () => {
    await symlink(path.join(outside, 'nested'), path.join(target, 'existing-link'));
    const zip = await zipFile([{ name: 'evil', symlink: true, data: 'existing-link/../secret.txt' }]);
    await expectRejectedUntouched(zip, 'ERR_FERRY_UNSAFE_PATH', /symbolic link/, { symlinks: 'preserve' });
  });

  it('refuses an entry under a symlink entry (it would be written through the link)', async () => {
    const zip = await zipFile([
      { name: 'out', symlink: true, data: '.' },
      { name: 'out/file.txt', data: 'through the link' },
    ]);
    await expectRejectedUntouched(zip, 'ERR_FERRY_UNSAFE_PATH', /symbolic link.*needs it to be a directory/, {
      symlinks: 'preserve',
    });
  });
});

describe('extractZip: conflicting entries (tests A5, A6)', () => {
  it.each([
    ['file then directory prefix', ['a', 'a/b']],
    ['directory prefix then file', ['a/b', 'a']],
    ['file and directory entry', ['a', 'a/']],
  ])('rejects %s', async (_label, names) => {
    const zip = await zipFile(
      names.map((name) => (name.endsWith('/') ? { name, directory: true } : { name, data: name })),
    );
    await expectRejectedUntouched(zip, 'ERR_FERRY_UNSAFE_PATH', /'a'/);
  });

  it.each([
    ['same bytes', 'dup.txt', 'same', 'dup.txt', 'same'],
    ['different bytes', 'dup.txt', 'first', 'dup.txt', 'second'],
    ['after normalisation', 'd/dup.txt', 'first', 'd//./dup.txt', 'second'],
    ['with a backslash', 'd/dup.txt', 'first', 'd\\dup.txt', 'second'],
  ])('rejects duplicate entries (%s)', async (_label, n1, d1, n2, d2) => {
    const zip = await zipFile([
      { name: n1, data: d1 },
      { name: n2, data: d2 },
    ]);
    await expectRejectedUntouched(zip, 'ERR_FERRY_UNSAFE_PATH', /Duplicate entry/);
  });

  it('rejects names that differ only in case or Unicode normalisation', async () => {
    await expectRejectedUntouched(
      await zipFile([
        { name: 'A.txt', data: 'upper' },
        { name: 'a.txt', data: 'lower' },
      ]),
      'ERR_FERRY_UNSAFE_PATH',
      /'A\.txt' and 'a\.txt' differ only in letter case.*case-insensitive/,
    );
    await expectRejectedUntouched(
      await zipFile([
        { name: 'Dir/x.txt', data: 'upper' },
        { name: 'dir/X.TXT', data: 'lower' },
      ]),
      'ERR_FERRY_UNSAFE_PATH',
      /letter case/,
    );
    await expectRejectedUntouched(
      await zipFile([
        { name: 'caf\u00e9', data: 'nfc' },
        { name: 'cafe\u0301', data: 'nfd' },
      ]),
      'ERR_FERRY_UNSAFE_PATH',
      /normalisation/,
    );
  });
});

describe('extractZip: corrupt data (tests A10, A11)', () => {
  const big = (): Buffer => randomBytes(2 * 1024 * 1024);
  it.each([
    ['stored, in memory', { method: 0, data: 'hello' }],
    ['deflated, in memory', { method: 8, data: 'hello hello hello' }],
    ['stored, streamed', { method: 0, data: big() }],
    ['deflated, streamed', { method: 8, data: big() }],
  ])('rejects a CRC-32 mismatch (%s) naming the entry', async (_label, spec) => {
    const zip = await zipFile([
      { name: 'ok.txt', data: 'fine' },
      { name: 'corrupt.bin', crc32: 0xdeadbeef, ...spec },
    ]);
    await expectRejectedUntouched(zip, 'ERR_FERRY_INTEGRITY', /CRC-32 mismatch in entry 'corrupt\.bin'/);
  });

  it('rejects a valid deflate stream whose bytes were flipped', async () => {
    const data = Buffer.from('abcdefghij'.repeat(1000));
    const good = buildZip([{ name: 'flip.txt', data }]);
    const zip = path.join(base, 'flip.zip');
    const corrupted = Buffer.from(good);
    corrupted[30 + 'flip.txt'.length + 5]! ^= 0xff;
    await writeFile(zip, corrupted);
    await expectRejectedUntouched(zip, 'ERR_FERRY_INTEGRITY', /flip\.txt/);
  });

  it('rejects garbage compressed data', async () => {
    const zip = await zipFile([
      { name: 'garbage', method: 8, data: 'x'.repeat(100), compressed: randomBytes(64) },
    ]);
    await expectRejectedUntouched(zip, 'ERR_FERRY_INTEGRITY', /garbage/);
  });

  it.each([
    ['in memory', Buffer.from('z'.repeat(100_000)), 1000],
    ['streamed', randomBytes(3 * 1024 * 1024), 2 * 1024 * 1024],
  ])('rejects an entry that inflates beyond its declared size (%s)', async (_label, data, declared) => {
    const zip = await zipFile([{ name: 'liar.bin', data, uncompressedSize: declared }]);
    await expectRejectedUntouched(
      zip,
      'ERR_FERRY_INTEGRITY',
      new RegExp(`entry 'liar\\.bin' inflates beyond its declared size of ${declared} bytes`),
    );
  });

  it.each([
    ['stored', 0],
    ['deflated', 8],
  ])('rejects a %s entry shorter than its declared size', async (_label, method) => {
    const zip = await zipFile([{ name: 'short.txt', data: 'short', method, uncompressedSize: 50 }]);
    await expectRejectedUntouched(zip, 'ERR_FERRY_INTEGRITY', /short\.txt.*declares 50/);
  });

  it('rejects a truncated zip (local entries, no central directory)', async () => {
    const zip = await zipFile(
      [
        { name: 'a.txt', data: 'a' },
        { name: 'b.txt', data: 'b' },
      ],
      { omitCentralDirectory: true },
    );
    await expectRejectedUntouched(zip, 'ERR_FERRY_INTEGRITY', /no end of central directory record/);
  });

  it('rejects a zip cut in the middle of its central directory', async () => {
    const full = buildZip([
      { name: 'a.txt', data: 'a' },
      { name: 'b.txt', data: 'b' },
    ]);
    const zip = path.join(base, 'cut.zip');
    await writeFile(zip, full.subarray(0, full.length - 30));
    await expectRejectedUntouched(zip, 'ERR_FERRY_INTEGRITY', /no end of central directory/);
  });

  it('rejects an empty and a tiny file', async () => {
    const empty = path.join(base, 'empty.zip');
    await writeFile(empty, '');
    await expectRejectedUntouched(empty, 'ERR_FERRY_INTEGRITY', /too short/);
    await writeFile(empty, 'not a zip at all, but longer than 22 bytes');
    await expectRejectedUntouched(empty, 'ERR_FERRY_INTEGRITY', /no end of central directory/);
  });

  it('rejects a central directory outside the file', async () => {
    const zip = await zipFile([{ name: 'a.txt', data: 'a' }], { cdOffsetDelta: 10_000 });
    await expectRejectedUntouched(zip, 'ERR_FERRY_INTEGRITY', /outside the file/);
  });

  it('rejects a local header offset that points at no local header', async () => {
    const full = buildZip([
      { name: 'a.txt', data: 'aaaa' },
      { name: 'b.txt', data: 'bbbb' },
    ]);
    const zip = path.join(base, 'badlocal.zip');
    const copy = Buffer.from(full);
    copy.writeUInt32LE(0x12345678, 0); // destroy the first local header signature
    await writeFile(zip, copy);
    await expectRejectedUntouched(zip, 'ERR_FERRY_INTEGRITY', /no local header/);
  });

  it('rejects a local header whose method disagrees with the central directory', async () => {
    const zip = await zipFile([{ name: 'm.txt', data: 'mmmm', method: 0, localMethod: 8 }]);
    await expectRejectedUntouched(zip, 'ERR_FERRY_INTEGRITY', /method/);
  });

  it('rejects overlapping entries (the non-recursive zip bomb)', async () => {
    const zip = await zipFile([
      { name: 'a.txt', data: 'a'.repeat(100), method: 0 },
      { name: 'b.txt', data: 'b'.repeat(100), method: 0, compressedSize: 400 },
    ]);
    await expectRejectedUntouched(zip, 'ERR_FERRY_INTEGRITY', /overlap|runs into the central directory/);
  });
});

describe('extractZip: unsupported archives (test A13)', () => {
  it.each<[string, ZipSpecEntry, RegExp]>([
    ['encrypted (flag bit 0)', { name: 'enc.txt', data: 'x', flags: 0x1 }, /'enc\.txt' is encrypted/],
    ['strong encryption (flag bit 6)', { name: 'enc.txt', data: 'x', flags: 0x41 }, /encrypted/],
    [
      'AES (method 99)',
      { name: 'aes.txt', data: 'x', method: 99, compressed: Buffer.from('x') },
      /encrypted/,
    ],
    ['bzip2', { name: 'b.bz2', data: 'x', method: 12, compressed: Buffer.from('x') }, /method 12 \(bzip2\)/],
    ['an unknown method', { name: 'u', data: 'x', method: 77, compressed: Buffer.from('x') }, /method 77/],
    ['version needed 6.3', { name: 'v', data: 'x', versionNeeded: 63 }, /version 6\.3/],
    ['patched data (flag bit 5)', { name: 'p', data: 'x', flags: 0x20 }, /patched data/],
  ])('rejects %s', async (_label, spec, pattern) => {
    const zip = await zipFile([{ name: 'fine.txt', data: 'fine' }, spec]);
    const error = await expectRejectedUntouched(zip, 'ERR_FERRY_INTEGRITY', pattern);
    expect(error.message).toMatch(/^Unsupported zip archive/);
  });

  it('rejects multi-disk archives', async () => {
    const zip = await zipFile([{ name: 'a', data: 'a' }], { eocdDisk: 1 });
    await expectRejectedUntouched(zip, 'ERR_FERRY_INTEGRITY', /multi-disk/);
  });
});

describe('extractZip: limits (test A9)', () => {
  it('rejects too many entries, naming limits.maxEntries', async () => {
    const zip = await zipFile(Array.from({ length: 5 }, (_, i) => ({ name: `f${i}`, data: 'x' })));
    await expectRejectedUntouched(zip, 'ERR_FERRY_INTEGRITY', /5 entries.*limit of 3.*'limits\.maxEntries'/, {
      limits: { maxEntries: 3 },
    });
    await extractZip(zip, { targetDirectory: target, limits: { maxEntries: 5 } });
  });

  it('rejects a declared total above limits.maxTotalBytes', async () => {
    const zip = await zipFile([
      { name: 'a', data: Buffer.alloc(600) },
      { name: 'b', data: Buffer.alloc(600) },
    ]);
    await expectRejectedUntouched(
      zip,
      'ERR_FERRY_INTEGRITY',
      /1200 bytes.*limit of 1000.*'limits\.maxTotalBytes'/,
      {
        limits: { maxTotalBytes: 1000 },
      },
    );
  });

  it('rejects a compression ratio above limits.maxRatio for entries over 1 MiB only', async () => {
    const zeros = Buffer.alloc(2 * 1024 * 1024);
    const zip = await zipFile([{ name: 'zeros.bin', data: zeros }]);
    await expectRejectedUntouched(zip, 'ERR_FERRY_INTEGRITY', /'zeros\.bin'.*ratio.*'limits\.maxRatio'/, {
      limits: { maxRatio: 100 },
    });
    // 1 MiB of zeros is exempt.
    const small = await zipFile([{ name: 'small-zeros.bin', data: Buffer.alloc(1024 * 1024) }]);
    await extractZip(small, { targetDirectory: target, limits: { maxRatio: 2 } });
  });

  it('rejects a declared size that lies low to sneak past the limits (enforced while inflating)', async () => {
    const zip = await zipFile([
      { name: 'bomb.bin', data: Buffer.alloc(10 * 1024 * 1024), uncompressedSize: 1024 },
    ]);
    await expectRejectedUntouched(zip, 'ERR_FERRY_INTEGRITY', /inflates beyond its declared size/);
  });

  it('validates limit and other options', async () => {
    const zip = await zipFile([{ name: 'a', data: 'a' }]);
    const bad: Partial<ExtractOptions>[] = [
      { limits: { maxEntries: 0 } },
      { limits: { maxRatio: Number.NaN } },
      { limits: { maxTotalBytes: -1 } },
      { limits: { maxEntries: 1.5 } },
      { limits: { maxFiles: 3 } as never },
      { concurrency: 0 },
      { symlinks: 'follow' as never },
      { existing: 'replace' as never },
      { unknown: true } as never,
    ];
    for (const options of bad) {
      await expectRejectedUntouched(zip, 'ERR_FERRY_INVALID_OPTION', /Option '/, options);
    }
    await ferryError(extractZip(zip, { targetDirectory: '' }), 'ERR_FERRY_INVALID_OPTION');
    expect(DEFAULT_EXTRACT_LIMITS).toEqual({
      maxEntries: 100_000,
      maxTotalBytes: 64 * 1024 ** 3,
      maxRatio: 1000,
    });
  });
});

describe('extractZip: data descriptors, ZIP64 and stubs', () => {
  const payload = 'payload '.repeat(50);
  it.each<[string, Partial<ZipSpecEntry>]>([
    ['stored + data descriptor', { method: 0, dataDescriptor: true }],
    ['deflated + data descriptor', { method: 8, dataDescriptor: true }],
    [
      'stored + data descriptor without signature',
      { method: 0, dataDescriptor: true, descriptorSignature: false },
    ],
    [
      'deflated + data descriptor without signature',
      { method: 8, dataDescriptor: true, descriptorSignature: false },
    ],
    ['ZIP64 extra fields, stored', { method: 0, zip64: true }],
    ['ZIP64 extra fields, deflated', { method: 8, zip64: true }],
    ['ZIP64 + stored + data descriptor', { method: 0, zip64: true, dataDescriptor: true }],
  ])('extracts %s', async (_label, spec) => {
    const zip = await zipFile([
      { name: 'first.txt', data: payload, ...spec },
      { name: 'dir/second.txt', data: `${payload}2`, ...spec },
      { name: 'empty.txt', data: '', ...spec },
    ]);
    await extractZip(zip, { targetDirectory: target });
    expect(await text('first.txt')).toBe(payload);
    expect(await text('dir', 'second.txt')).toBe(`${payload}2`);
    expect(await text('empty.txt')).toBe('');
  });

  it('streams a > 1 MiB stored entry with a data descriptor', async () => {
    const data = randomBytes(1536 * 1024);
    const zip = await zipFile([{ name: 'big.bin', data, method: 0, dataDescriptor: true }]);
    await extractZip(zip, { targetDirectory: target });
    expect((await readFile(path.join(target, 'big.bin'))).equals(data)).toBe(true);
  });

  it.each<[string, ZipSpecOptions]>([
    ['a ZIP64 end record with a saturated classic record', { zip64Eocd: true, saturateEocd: true }],
    ['a ZIP64 end record next to a complete classic record', { zip64Eocd: true }],
    [
      'a ZIP64 end record and a comment',
      { zip64Eocd: true, saturateEocd: true, comment: 'PK\u0005\u0006 fake' },
    ],
  ])('reads %s', async (_label, options) => {
    const zip = await zipFile(
      [
        { name: 'a.txt', data: 'aaa', zip64: true },
        { name: 'b.txt', data: 'bbb' },
      ],
      options,
    );
    const entries = await readCentralDirectory(zip);
    expect(entries.map((e) => [e.name, e.uncompressedSize])).toEqual([
      ['a.txt', 3],
      ['b.txt', 3],
    ]);
    await extractZip(zip, { targetDirectory: target });
    expect(await text('a.txt')).toBe('aaa');
    expect(await text('b.txt')).toBe('bbb');
  });

  it('reads real 64-bit offsets and sizes: an entry past 4 GiB in a sparse archive (test D36)', async () => {
    // FERRY_SLOW_TESTS=1 also streams (and CRC-checks) the whole 4 GiB entry: ~5-20 s.
    const slow = process.env['FERRY_SLOW_TESTS'] === '1';
    const hugeSize = 4 * 1024 ** 3 + 12_345;
    const zip = path.join(base, 'huge.zip');
    await writeZip(
      zip,
      [
        { name: 'huge.bin', sparse: hugeSize, dataDescriptor: true, ...(slow ? {} : { crc32: 0 }) },
        { name: 'after.txt', data: 'beyond 4 GiB' },
      ],
      { zip64Eocd: true, saturateEocd: true },
    );
    const stats = await lstat(zip);
    expect(stats.size).toBeGreaterThan(2 ** 32);
    const [huge, after] = await readCentralDirectory(zip);
    expect(huge).toMatchObject({
      name: 'huge.bin',
      method: 0,
      uncompressedSize: hugeSize,
      compressedSize: hugeSize,
    });
    expect(after!.localHeaderOffset).toBeGreaterThan(2 ** 32);
    expect((await readAll(await openEntryStream(zip, after!))).toString()).toBe('beyond 4 GiB');
    if (slow && stats.blocks * 512 < 1024 ** 3) {
      // Sparse: streaming the whole entry verifies size and CRC across the 4 GiB boundary cheaply.
      let total = 0;
      for await (const chunk of await openEntryStream(zip, huge!)) total += (chunk as Buffer).length;
      expect(total).toBe(hugeSize);
    }
    // The default total limit (64 GiB) allows it; a lower one rejects it before writing.
    await expectRejectedUntouched(zip, 'ERR_FERRY_INTEGRITY', /'limits\.maxTotalBytes'/, {
      limits: { maxTotalBytes: 2 ** 32 },
    });
  }, 120_000);

  it('rejects saturated classic fields without a ZIP64 locator', async () => {
    const zip = await zipFile([{ name: 'a', data: 'a' }], { saturateEocd: true });
    await expectRejectedUntouched(zip, 'ERR_FERRY_INTEGRITY', /ZIP64 end of central directory locator/);
  });

  it('rejects a classic record that disagrees with the ZIP64 record', async () => {
    const good = buildZip([{ name: 'a', data: 'a' }], { zip64Eocd: true });
    const copy = Buffer.from(good);
    copy.writeUInt16LE(7, copy.length - 22 + 10); // classic total entries: 7, ZIP64 says 1
    const zip = path.join(base, 'disagree.zip');
    await writeFile(zip, copy);
    await expectRejectedUntouched(zip, 'ERR_FERRY_INTEGRITY', /disagree/);
  });

  it('rejects saturated central header sizes without a ZIP64 extra field', async () => {
    const zip = await zipFile([
      {
        name: 'a',
        data: 'a',
        method: 0,
        uncompressedSize: 0xffffffff,
        compressedSize: 0xffffffff,
        zip64: false,
      },
    ]);
    await expectRejectedUntouched(zip, 'ERR_FERRY_INTEGRITY', /no ZIP64 extra field/);
  });

  it.each<[string, ZipSpecOptions]>([
    ['offsets relative to the archive (cat stub a.zip)', { prefix: Buffer.from('#!/bin/sh\nexit 0\n') }],
    ['offsets adjusted for the stub (zip -A)', { prefix: Buffer.from('MZ stub bytes'), adjustOffsets: true }],
    ['ZIP64 records after a stub', { prefix: Buffer.from('stub!'), zip64Eocd: true, saturateEocd: true }],
  ])('extracts an archive with a prepended stub, %s', async (_label, options) => {
    const zip = await zipFile(
      [
        { name: 'one.txt', data: 'one' },
        { name: 'two/two.txt', data: 'two', zip64: options.zip64Eocd === true },
      ],
      options,
    );
    await extractZip(zip, { targetDirectory: target });
    expect(await text('one.txt')).toBe('one');
    expect(await text('two', 'two.txt')).toBe('two');
  });

  it('rejects a stub when the offsets are inconsistent', async () => {
    const zip = await zipFile([{ name: 'a.txt', data: 'a' }], {
      gapBeforeCentralDirectory: Buffer.from('garbage!'),
    });
    await expectRejectedUntouched(zip, 'ERR_FERRY_INTEGRITY', /inconsistent offsets/);
    const adjustedTwice = await zipFile([{ name: 'a.txt', data: 'a' }], {
      prefix: Buffer.from('stub'),
      adjustOffsets: true,
      cdOffsetDelta: 4,
    });
    await expectRejectedUntouched(adjustedTwice, 'ERR_FERRY_INTEGRITY');
  });
});

describe('extractZip: resources and cancellation (test D35)', () => {
  it('extracts 20,000 tiny entries with a bounded number of open files', async () => {
    const entries: ZipSpecEntry[] = [];
    for (let i = 0; i < 20_000; i++) {
      entries.push({ name: `d${i % 50}/f${i}.txt`, data: `${i}`, method: 0 });
    }
    const started = Date.now();
    const zip = await zipFile(entries);
    const buildMs = Date.now() - started;
    const fdDir = '/proc/self/fd';
    const canCount = process.platform === 'linux';
    const countFds = (): number => (canCount ? readdirSync(fdDir).length : 0);
    const baseline = countFds();
    let peak = baseline;
    let seen = 0;
    const result = await extractZip(zip, {
      targetDirectory: target,
      concurrency: 8,
      onEntry: () => {
        if (++seen % 250 === 0) peak = Math.max(peak, countFds());
      },
    });
    expect(result).toEqual({ files: 20_000, directories: 50, bytes: expect.any(Number) });
    expect(seen).toBe(20_000);
    if (canCount) expect(peak - baseline).toBeLessThanOrEqual(8 + 4);
    expect(await text('d7', 'f12357.txt')).toBe('12357');
    expect((await readdir(path.join(target, 'd0'))).length).toBe(400);
    expect(buildMs).toBeLessThan(5000);
  }, 120_000);

  it('honours an already-aborted signal', async () => {
    const zip = await zipFile([{ name: 'a', data: 'a' }]);
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expectRejectedUntouched(zip, 'ERR_FERRY_ABORTED', undefined, { signal: controller.signal });
  });

  it('aborts midway, removes the staging directory and leaves the target untouched', async () => {
    const zip = await zipFile([
      ...Array.from({ length: 200 }, (_, i) => ({ name: `f${i}.txt`, data: `${i}` })),
      { name: 'large.bin', data: randomBytes(4 * 1024 * 1024), method: 0 },
    ]);
    const controller = new AbortController();
    let count = 0;
    await expectRejectedUntouched(zip, 'ERR_FERRY_ABORTED', undefined, {
      signal: controller.signal,
      onEntry: () => {
        if (++count === 20) controller.abort();
      },
    });
  });

  it('cleans up when an onEntry callback throws', async () => {
    const zip = await zipFile([{ name: 'a', data: 'a' }]);
    const before = await snapshotBoth();
    await expect(
      extractZip(zip, {
        targetDirectory: target,
        onEntry: () => {
          throw new Error('callback failed');
        },
      }),
    ).rejects.toThrow('callback failed');
    expect(await snapshotBoth()).toEqual(before);
  });

  it('can run twice in one process without leaking handles', async () => {
    const zip = await zipFile(Array.from({ length: 300 }, (_, i) => ({ name: `f${i}`, data: `${i}` })));
    const countFds = (): number => (process.platform === 'linux' ? readdirSync('/proc/self/fd').length : 0);
    const before = countFds();
    await extractZip(zip, { targetDirectory: path.join(base, 'run1') });
    await expectRejectedUntouched(
      await zipFile([{ name: 'bad', data: 'x', crc32: 5 }]),
      'ERR_FERRY_INTEGRITY',
    );
    await extractZip(zip, { targetDirectory: path.join(base, 'run2') });
    expect(countFds()).toBeLessThanOrEqual(before);
  });
});

describe('extractZip: races between the checks and the moves', () => {
  it('re-checks for symlinks before moving: a directory swapped for a link during staging', async () => {
    await mkdir(path.join(target, 'sub'));
    const zip = await zipFile([{ name: 'sub/pwned.txt', data: 'pwned' }]);
    const outsideBefore = await snapshot(outside);
    await ferryError(
      extractZip(zip, {
        targetDirectory: target,
        onEntry: () => {
          // Runs after the pre-checks and before the moves.
          rmSync(path.join(target, 'sub'), { recursive: true });
          symlinkSync(outside, path.join(target, 'sub'));
        },
      }),
      'ERR_FERRY_UNSAFE_PATH',
      /symbolic link/,
    );
    expect(await snapshot(outside)).toEqual(outsideBefore);
    expect((await readdir(target)).filter((n) => n.startsWith('.ferry-extract-'))).toEqual([]);
  });

  it('reports which entries were moved when a move fails midway', async () => {
    const zip = await zipFile([
      { name: 'a.txt', data: 'a' },
      { name: 'b.txt', data: 'b' },
      { name: 'empty-new-dir/', directory: true },
      { name: 'z.txt', data: 'z' },
    ]);
    const error = await ferryError(
      extractZip(zip, {
        targetDirectory: target,
        concurrency: 1,
        onEntry: ({ name }) => {
          if (name === 'z.txt') mkdirSync(path.join(target, 'z.txt'));
        },
      }),
      'ERR_FERRY_CONFLICT',
      /Already moved: 2 file\(s\) \('a\.txt', 'b\.txt'\).*partially updated/,
    );
    expect(error).toBeInstanceOf(PartialExtractionError);
    expect((error as PartialExtractionError).moved).toEqual(['a.txt', 'b.txt']);
    expect((error as PartialExtractionError).createdDirectories).toEqual([]);
    expect(await readdir(target)).not.toContain('empty-new-dir'); // removed again: it stayed empty
    expect((await readdir(target)).filter((n) => n.startsWith('.ferry-extract-'))).toEqual([]);
  });

  it('rejects a target that is a file', async () => {
    const zip = await zipFile([{ name: 'a', data: 'a' }]);
    await expectRejectedUntouched(zip, 'ERR_FERRY_CONFLICT', /not a directory/, {
      targetDirectory: path.join(target, 'keep.txt'),
    });
  });
});

describe('readCentralDirectory', () => {
  it('lists entries with their metadata', async () => {
    const zip = await zipFile([
      { name: 'dir/', directory: true, mode: 0o750 },
      { name: 'dir/run.sh', data: 'echo', mode: 0o755, dataDescriptor: true },
      { name: 'link', symlink: true, data: 'dir/run.sh' },
      { name: 'ü.txt', data: 'u', method: 0 },
    ]);
    const entries = await readCentralDirectory(zip);
    expect(entries).toHaveLength(4);
    const [dir, run, link, umlaut] = entries;
    expect(dir).toMatchObject({ name: 'dir/', isDirectory: true, isSymlink: false, mode: 0o40750 });
    expect(run).toMatchObject({
      name: 'dir/run.sh',
      isDirectory: false,
      method: 8,
      uncompressedSize: 4,
      crc32: crc32('echo'),
      mode: 0o100755,
      utf8: false,
    });
    expect((run!.flags & 0x8) !== 0).toBe(true);
    expect(link).toMatchObject({ isSymlink: true, mode: 0o120777 });
    expect(umlaut).toMatchObject({ name: 'ü.txt', utf8: true, method: 0, mode: undefined });
    expect(new Date(run!.mtimeMs).getFullYear()).toBe(2024);
    expect(run!.localHeaderOffset).toBeGreaterThan(0);
  });

  it('decodes names without the UTF-8 flag as CP437', async () => {
    const zip = await zipFile([
      { name: Buffer.from([0x63, 0x61, 0x66, 0x82, 0x2e, 0x74, 0x78, 0x74]), data: 'x' },
    ]);
    const [entry] = await readCentralDirectory(zip);
    expect(entry!.name).toBe('café.txt');
    expect(entry!.utf8).toBe(false);
    const all = decodeCp437(Uint8Array.from({ length: 256 }, (_, i) => i));
    expect(Array.from(all)).toHaveLength(256);
    expect(all.slice(0x80, 0x84)).toBe('Çüéâ');
    expect(all.slice(0xfc)).toBe('ⁿ²■\u00a0');
  });

  it('uses an Info-ZIP Unicode path extra field when its CRC matches the stored name', async () => {
    const stored = Buffer.from('caf?.txt');
    const unicode = Buffer.from('café.txt', 'utf8');
    const field = (crc: number): Buffer => {
      const body = Buffer.alloc(5 + unicode.length);
      body[0] = 1;
      body.writeUInt32LE(crc, 1);
      unicode.copy(body, 5);
      const header = Buffer.alloc(4);
      header.writeUInt16LE(0x7075, 0);
      header.writeUInt16LE(body.length, 2);
      return Buffer.concat([header, body]);
    };
    const zip = await zipFile([
      { name: stored, data: 'x', centralExtra: field(crc32(stored)) },
      { name: Buffer.from('stale.txt'), data: 'x', centralExtra: field(1234) },
    ]);
    expect((await readCentralDirectory(zip)).map((e) => e.name)).toEqual(['café.txt', 'stale.txt']);
  });

  it('reads an empty archive', async () => {
    const zip = await zipFile([]);
    expect(await readCentralDirectory(zip)).toEqual([]);
    expect(await extractZip(zip, { targetDirectory: target })).toEqual({
      files: 0,
      directories: 0,
      bytes: 0,
    });
  });

  it('rejects an entry count the central directory cannot hold', async () => {
    const zip = await zipFile([{ name: 'a', data: 'a' }], { entryCount: 1000 });
    await ferryError(readCentralDirectory(zip), 'ERR_FERRY_INTEGRITY', /too small for 1000 entries/);
  });
});

describe('openEntryStream', () => {
  it('streams verified bytes of stored, deflated and large entries', async () => {
    const big = randomBytes(3 * 1024 * 1024);
    const zip = await zipFile([
      { name: 'stored', data: 'stored bytes', method: 0 },
      { name: 'deflated', data: 'deflated '.repeat(100) },
      { name: 'big', data: big, dataDescriptor: true },
    ]);
    const entries = await readCentralDirectory(zip);
    const bytes = await Promise.all(entries.map(async (e) => readAll(await openEntryStream(zip, e))));
    expect(bytes[0]!.toString()).toBe('stored bytes');
    expect(bytes[1]!.toString()).toBe('deflated '.repeat(100));
    expect(bytes[2]!.equals(big)).toBe(true);
  });

  it('fails the stream on a CRC mismatch and on data beyond the declared size', async () => {
    const zip = await zipFile([
      { name: 'crc', data: 'data', crc32: 42 },
      { name: 'long', data: randomBytes(500_000), uncompressedSize: 1000 },
    ]);
    const [crc, long] = await readCentralDirectory(zip);
    await ferryError(
      readAll(await openEntryStream(zip, crc!)),
      'ERR_FERRY_INTEGRITY',
      /CRC-32 mismatch in entry 'crc'/,
    );
    await ferryError(
      readAll(await openEntryStream(zip, long!)),
      'ERR_FERRY_INTEGRITY',
      /'long' inflates beyond its declared size/,
    );
  });

  it('closes its file when destroyed early', async () => {
    const zip = await zipFile([{ name: 'big', data: randomBytes(2 * 1024 * 1024), method: 0 }]);
    const [entry] = await readCentralDirectory(zip);
    const countFds = (): number => (process.platform === 'linux' ? readdirSync('/proc/self/fd').length : 0);
    const before = countFds();
    const stream = await openEntryStream(zip, entry!);
    await new Promise<void>((resolve) => stream.once('readable', resolve));
    stream.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(countFds()).toBeLessThanOrEqual(before);
  });
});

describe('interoperability with archiver (the upload-side zipper)', () => {
  it.each([
    ['store (STORED + data descriptor)', 0],
    ['deflate', 6],
  ])('extracts an archiver zip, %s', async (_label, level) => {
    const { ZipArchive } = await import('archiver');
    const { createWriteStream } = await import('node:fs');
    const file = path.join(base, `archiver-${level}.zip`);
    const archive = new ZipArchive({ zlib: { level } });
    const done = new Promise<void>((resolve, reject) => {
      const out = createWriteStream(file);
      out.on('close', () => resolve());
      archive.on('error', reject);
      archive.pipe(out);
    });
    const big = randomBytes(1536 * 1024);
    archive.append('hello from archiver', { name: 'hello.txt' });
    const { Readable } = await import('node:stream');
    archive.append(Readable.from([big.subarray(0, 1000), big.subarray(1000)]), {
      name: 'nested/big.bin',
      mode: 0o640,
    });
    archive.append('', { name: 'empty.txt' });
    await archive.finalize();
    await done;
    const entries = await readCentralDirectory(file);
    const streamed = entries.find((e) => e.name === 'nested/big.bin');
    expect(streamed).toMatchObject({ method: level === 0 ? 0 : 8 });
    expect(streamed!.flags & 0x8).toBe(0x8); // a data descriptor follows the data
    await extractZip(file, { targetDirectory: target });
    expect(await text('hello.txt')).toBe('hello from archiver');
    expect((await readFile(path.join(target, 'nested', 'big.bin'))).equals(big)).toBe(true);
    expect((await lstat(path.join(target, 'nested', 'big.bin'))).mode & 0o777).toBe(0o640);
    expect(await text('empty.txt')).toBe('');
  });
});

afterAll(async () => {
  // Nothing is left in the system temp directory by extraction itself.
  const leftovers = (await readdir(tmpdir())).filter((n) => n.startsWith('.ferry-extract-'));
  expect(leftovers).toEqual([]);
});
