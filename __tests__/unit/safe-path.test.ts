import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { IntegrityError, isFerryError } from '../../src/core/errors.js';
import { assertNoSymlinkInPath, resolveInside } from '../../src/pack/safe-path.js';

function unsafeError(fn: () => unknown): IntegrityError {
  try {
    fn();
  } catch (error) {
    expect(isFerryError(error)).toBe(true);
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as IntegrityError).code).toBe('ERR_FERRY_UNSAFE_PATH');
    return error as IntegrityError;
  }
  throw new Error('expected an IntegrityError');
}

async function unsafeErrorAsync(promise: Promise<unknown>): Promise<IntegrityError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as IntegrityError).code).toBe('ERR_FERRY_UNSAFE_PATH');
    return error as IntegrityError;
  }
  throw new Error('expected an IntegrityError');
}

const ROOT = path.resolve('/srv/target');

describe('resolveInside', () => {
  it.each([
    ['file.txt', 'file.txt'],
    ['a/b/c.txt', 'a/b/c.txt'],
    ['a\\b\\c.txt', 'a/b/c.txt'],
    ['./a/./b', 'a/b'],
    ['a//b/', 'a/b'],
    ['..foo/bar..', '..foo/bar..'],
    ['...', '...'],
    ['日本/ファイル.txt', '日本/ファイル.txt'],
    ['emoji 🚀/ü é.txt', 'emoji 🚀/ü é.txt'],
    ['ab:c', 'ab:c'],
  ])('resolves %j inside the root', (entry, expected) => {
    expect(resolveInside(ROOT, entry, 'linux')).toBe(path.join(ROOT, ...expected.split('/')));
  });

  it('resolves a relative root against the cwd', () => {
    expect(resolveInside('out', 'x/y')).toBe(path.resolve('out', 'x', 'y'));
  });

  it('a relative root follows the working directory when it changes between calls', () => {
    const before = process.cwd();
    const dir = path.resolve(tmpdir());
    expect(resolveInside('out', 'x')).toBe(path.join(before, 'out', 'x'));
    process.chdir(dir);
    try {
      expect(resolveInside('out', 'x')).toBe(path.join(dir, 'out', 'x'));
    } finally {
      process.chdir(before);
    }
  });

  it('joins checked segments exactly as path.resolve would, for any root spelling', () => {
    // The result is built by joining the checked segments to the resolved root; path.resolve of
    // the same parts is the reference, over generated names and roots.
    const parts = ['a', 'B', '..b', 'c..', '...', ' x ', 'é', '🚀', 'd.e', '.', '', 'f~g', '#1', 'h:i'];
    const roots = ['/', '/srv/target', '/srv/target/', '/srv//target/./sub/..', ROOT];
    let seed = 7;
    const next = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
    for (const root of roots) {
      for (let i = 0; i < 300; i++) {
        const segments = Array.from({ length: 1 + next(5) }, () => parts[next(parts.length)] as string);
        const name = segments.join(next(2) === 0 ? '/' : '\\');
        const kept = name.split(/[\\/]/).filter((s) => s !== '' && s !== '.');
        // Absolute, drive-letter and empty names are refused (tested above), not resolved.
        if (kept.length === 0 || /^[\\/]|^[A-Za-z]:/.test(name)) continue;
        expect(resolveInside(root, name, 'linux')).toBe(path.resolve(root, ...kept));
      }
    }
  });

  it.each([
    ['', 'empty'],
    ['.', 'target directory itself'],
    ['./', 'target directory itself'],
    ['/', 'absolute'],
    ['/etc/passwd', 'absolute'],
    ['/abs/x', 'absolute'],
    ['\\abs\\x', 'absolute'],
    ['C:\\x', 'drive letter'],
    ['C:/x', 'drive letter'],
    ['c:x', 'drive letter'],
    ['\\\\server\\share\\x', 'UNC'],
    ['//server/share/x', 'UNC'],
    ['..', "'..' segment"],
    ['../x', "'..' segment"],
    ['a/../../x', "'..' segment"],
    ['a/b/..', "'..' segment"],
    ['a/../b', "'..' segment"],
    ['..\\..\\x', "'..' segment"],
    ['a\\..\\..\\x', "'..' segment"],
    ['a/\0/b', "'\\0' (U+0000)"],
    ['x\0', "'\\0' (U+0000)"],
    ['a\nb', "'\\n' (U+000A)"],
    ['a\x1bb', 'U+001B'],
  ])('rejects %j (%s)', (entry, reason) => {
    const error = unsafeError(() => resolveInside(ROOT, entry, 'linux'));
    expect(error.message).toContain(reason);
    // The entry is named, escaped, at the start of the message.
    expect(error.message).toMatch(/^Unsafe path '/);
    expect(error.message).not.toContain('\n');
  });

  it('names the offending entry in the message', () => {
    expect(unsafeError(() => resolveInside(ROOT, 'a/../../etc/x')).message).toContain(`'a/../../etc/x'`);
  });

  it('rejects a 4 KB name of dots and a non-string', () => {
    unsafeError(() => resolveInside(ROOT, `${'a/'.repeat(2000)}../../..`));
    unsafeError(() => resolveInside(ROOT, undefined as unknown as string));
  });

  it('applies Windows rules when the platform is win32', () => {
    expect(resolveInside(ROOT, 'dir/file.txt', 'win32')).toBe(path.join(ROOT, 'dir', 'file.txt'));
    expect(unsafeError(() => resolveInside(ROOT, 'file.txt:stream', 'win32')).message).toContain(
      "contains ':'",
    );
    expect(unsafeError(() => resolveInside(ROOT, 'dir/CON', 'win32')).message).toContain(
      'reserved device name',
    );
    expect(unsafeError(() => resolveInside(ROOT, 'nul.txt', 'win32')).message).toContain(
      'reserved device name',
    );
    expect(unsafeError(() => resolveInside(ROOT, 'com1.tar.gz', 'win32')).message).toContain(
      'reserved device name',
    );
    expect(unsafeError(() => resolveInside(ROOT, 'a/.. ', 'win32')).message).toContain('dot or a space');
    expect(unsafeError(() => resolveInside(ROOT, '...', 'win32')).message).toContain('dot or a space');
    expect(unsafeError(() => resolveInside(ROOT, 'name.', 'win32')).message).toContain('dot or a space');
    expect(resolveInside(ROOT, 'console.log', 'win32')).toBe(path.join(ROOT, 'console.log'));
  });
});

describe('assertNoSymlinkInPath', () => {
  let dir: string;
  let target: string;
  let outside: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ferry-safe-path-'));
    target = path.join(dir, 'target');
    outside = path.join(dir, 'outside');
    await mkdir(path.join(target, 'real', 'deeper'), { recursive: true });
    await mkdir(outside);
    await writeFile(path.join(outside, 'secret'), 'do not touch');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts paths through real directories, existing or not', async () => {
    await writeFile(path.join(target, 'real', 'file.txt'), 'x');
    await expect(
      assertNoSymlinkInPath(target, path.join(target, 'real', 'file.txt')),
    ).resolves.toBeUndefined();
    await expect(
      assertNoSymlinkInPath(target, path.join(target, 'real', 'deeper', 'new.txt')),
    ).resolves.toBeUndefined();
    await expect(
      assertNoSymlinkInPath(target, path.join(target, 'missing', 'a', 'b')),
    ).resolves.toBeUndefined();
    await expect(assertNoSymlinkInPath(target, target)).resolves.toBeUndefined();
  });

  it('rejects a pre-existing directory symlink in the target', async () => {
    await symlink(outside, path.join(target, 'linkdir'));
    const error = await unsafeErrorAsync(
      assertNoSymlinkInPath(target, path.join(target, 'linkdir', 'pwned.txt')),
    );
    expect(error.message).toContain(`'linkdir'`);
    expect(error.message).toContain('linkdir/pwned.txt');
    expect(error.message).toContain('symbolic link');
  });

  it('rejects a symlink deeper in the path', async () => {
    await symlink(outside, path.join(target, 'real', 'deeper', 'link'));
    const error = await unsafeErrorAsync(
      assertNoSymlinkInPath(target, path.join(target, 'real', 'deeper', 'link', 'x', 'y.txt')),
    );
    expect(error.message).toContain(`'real/deeper/link'`);
  });

  it('rejects a pre-existing file symlink at the final component', async () => {
    await symlink(path.join(outside, 'secret'), path.join(target, 'victim.txt'));
    const error = await unsafeErrorAsync(assertNoSymlinkInPath(target, path.join(target, 'victim.txt')));
    expect(error.message).toContain(`'victim.txt'`);
  });

  it('rejects dangling and relative symlinks too', async () => {
    await symlink('../../nowhere', path.join(target, 'dangling'));
    await unsafeErrorAsync(assertNoSymlinkInPath(target, path.join(target, 'dangling')));
    await unsafeErrorAsync(assertNoSymlinkInPath(target, path.join(target, 'dangling', 'child')));
  });

  it('does not check the root itself or its ancestors', async () => {
    const linkedRoot = path.join(dir, 'linked-root');
    await symlink(target, linkedRoot);
    await expect(
      assertNoSymlinkInPath(linkedRoot, path.join(linkedRoot, 'real', 'x')),
    ).resolves.toBeUndefined();
  });

  it('rejects a path outside the root, including a root-prefix look-alike', async () => {
    await unsafeErrorAsync(assertNoSymlinkInPath(target, path.join(outside, 'secret')));
    await unsafeErrorAsync(assertNoSymlinkInPath(target, `${target}-evil/x`));
    await unsafeErrorAsync(assertNoSymlinkInPath(target, path.join(target, '..', 'outside')));
  });

  it('stops quietly when a parent component is a plain file', async () => {
    await writeFile(path.join(target, 'plain'), 'x');
    await expect(assertNoSymlinkInPath(target, path.join(target, 'plain', 'child'))).resolves.toBeUndefined();
  });
});
