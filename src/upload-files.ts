import { lstatSync, type Stats } from 'node:fs';
import { readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { addErrorContext, isFerryError, ValidationError } from './core/errors.js';
import type { UploadFile } from './backends/backend.js';
import { validateFilePath } from './pack/validate.js';
import { foldPath } from './core/fold-path.js';

export type SymlinkPolicy = 'follow' | 'preserve';

/** Never artifact content: reading them uploads the process environment, kernel state or devices. */
const FORBIDDEN_ROOTS = ['/proc', '/sys', '/dev'];
/** Ordinary files on a RAM disk (builds use it for speed); devices there are refused by kind anyway. */
const ALLOWED_UNDER_FORBIDDEN = ['/dev/shm'];

/**
 * Maps the caller's file list onto artifact paths under `rootDirectory`, before any request.
 * Relative file paths and a relative root resolve against the working directory (as in
 * @actions/artifact); a file's artifact path is its path relative to the root.
 * Every file must be a regular file inside the root (checked on path segments, so `/w/abc` is not
 * inside `/w/ab`); every artifact path must be valid and unique, also when compared the way a
 * case-insensitive file system (Windows, macOS) compares names: `A.txt` and `a.txt`, or names
 * that differ only in Unicode normalization, would overwrite each other on download.
 *
 * Nothing under /proc, /sys or /dev is ever read, whether named directly, through a symlink or
 * through a symlinked directory: that would upload the process environment, kernel state or a
 * device. Symlinks: `follow` (the default, as the official client does) uploads what the link
 * points to; `preserve` keeps a link as a link when it resolves inside the root, and refuses one
 * that leaves it. Dangling links and link loops are refused naming the link.
 */
export async function resolveUploadFiles(
  artifactName: string,
  files: readonly string[],
  rootDirectory: string,
  symlinks: SymlinkPolicy = 'follow',
): Promise<UploadFile[]> {
  try {
    return await resolve(artifactName, files, rootDirectory, symlinks);
  } catch (error: unknown) {
    throw withUploadContext(error, artifactName);
  }
}

async function resolve(
  artifactName: string,
  files: readonly string[],
  rootDirectory: string,
  symlinks: SymlinkPolicy,
): Promise<UploadFile[]> {
  const root = path.resolve(rootDirectory);
  const rootStat = await stat(root).catch(() => undefined);
  if (!rootStat?.isDirectory()) {
    throw new ValidationError(
      'ERR_FERRY_INVALID_PATH',
      `Root directory '${rootDirectory}' does not exist or is not a directory`,
      { artifactName, option: 'rootDirectory' },
    );
  }
  const realRoot = await realpath(root);
  // The real path of each directory, resolved once (files are checked one after another, so a
  // directory is never resolved twice at once); a known one is used without an await per file.
  const realDirectories = new Map<string, string>();
  const realDirectory = async (dir: string): Promise<string> => {
    const found = await realpath(dir);
    realDirectories.set(dir, found);
    return found;
  };
  const rootPrefix = root.endsWith(path.sep) ? root : `${root}${path.sep}`;
  // One map for both checks, keyed by the folded artifact path, valued by the index of the
  // caller's file: an exact duplicate folds to the same key too. No per-file object: at 100,000
  // files two maps of records were a large part of the upload's start-up peak (issue 12 item 5).
  const folded: FoldedPaths = { files: new Map(), directories: new Map() };
  const out: UploadFile[] = [];
  for (let index = 0; index < files.length; index++) {
    const file = files[index] as string;
    // As @actions/artifact does: a relative path is relative to the working directory, like a
    // path on a command line; the root only decides where the file lands inside the artifact.
    // The caller's string when it is already absolute and normal: one copy of each path, and no
    // path.resolve, whose normalizing made ~1 KiB of garbage per file (issue 12 item 5).
    const absolutePath = isNormalAbsolute(file) ? file : path.resolve(file);
    const relative = relativeTo(rootPrefix, root, absolutePath);
    const fail = (message: string): ValidationError =>
      new ValidationError('ERR_FERRY_INVALID_PATH', message, { artifactName, file });
    // `..` as a whole first segment, not any name that starts with two dots (`..config` is inside).
    if (
      relative === '' ||
      relative === '..' ||
      relative.startsWith(`..${path.sep}`) ||
      path.isAbsolute(relative)
    ) {
      throw fail(`File '${file}' is not inside the root directory '${root}'`);
    }
    // Synchronous: a page-cached lstat is microseconds, while 10,000 sequential thread-pool
    // round trips held every upload back by half a second or more before its first request.
    let link: Stats;
    try {
      link = lstatSync(absolutePath);
    } catch (error: unknown) {
      const code = (error as NodeJS.ErrnoException).code;
      throw fail(
        code === 'ENOENT'
          ? `File '${file}' does not exist`
          : `File '${file}' cannot be read: ${(error as Error).message}`,
      );
    }
    const artifactPath = toArtifactPath(relative);
    validateFilePath(artifactPath);
    checkFoldedCollision(folded, artifactPath, index, (other) => describe(files, other, root), fail);

    if (!link.isSymbolicLink()) {
      // A file that is not a link is where its directory really is: the forbidden check is
      // the directory's, made once per directory, and the real path is only built for a
      // message (a path.join per file was ~1 KiB of garbage per file at start-up).
      const directory = path.dirname(absolutePath);
      const realDir = realDirectories.get(directory) ?? (await realDirectory(directory));
      const forbidden = forbiddenDirectory(realDir, absolutePath);
      if (forbidden !== undefined) {
        const real = path.join(realDir, path.basename(absolutePath));
        throw fail(`'${file}' resolves to ${real}, under ${forbidden}, which is never uploaded`);
      }
      if (link.isDirectory()) throw fail(`'${file}' is a directory; pass the files inside it`);
      if (!link.isFile())
        throw fail(`'${file}' is ${specialKind(link)}, not a regular file; it is never uploaded`);
      out.push({ absolutePath, artifactPath, size: link.size, mode: link.mode & 0o777 });
      continue;
    }

    // Where the bytes of a link really come from: its target.
    const real = await realpath(absolutePath).catch((error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code;
      throw fail(
        code === 'ELOOP'
          ? `Symlink '${file}' is part of a symlink loop`
          : `Symlink '${file}' is dangling (its target does not exist)`,
      );
    });
    const forbidden = forbiddenRoot(real);
    if (forbidden !== undefined) {
      throw fail(`'${file}' resolves to ${real}, under ${forbidden}, which is never uploaded`);
    }

    if (symlinks === 'preserve') {
      if (!isInside(realRoot, real)) {
        throw fail(`Symlink '${file}' points outside the root directory (${real}); it cannot be preserved`);
      }
      const target = (await readlink(absolutePath)).split(path.sep).join('/');
      // An absolute target inside the root is stored relative, so the link still works wherever the artifact lands.
      const stored = path.isAbsolute(target)
        ? path
            .relative(path.dirname(path.join(realRoot, relative)), real)
            .split(path.sep)
            .join('/')
        : target;
      const targetInfo = await stat(absolutePath);
      out.push({
        absolutePath,
        artifactPath,
        size: targetInfo.size,
        mode: targetInfo.mode & 0o777,
        symlinkTarget: stored,
      });
      continue;
    }
    const info = await stat(absolutePath);
    if (info.isDirectory()) throw fail(`'${file}' is a directory; pass the files inside it`);
    if (!info.isFile())
      throw fail(`'${file}' is ${specialKind(info)}, not a regular file; it is never uploaded`);
    out.push({ absolutePath, artifactPath, size: info.size, mode: info.mode & 0o777 });
  }
  return out;
}

/**
 * Folded artifact paths seen so far, each with the index of the caller's file that needs it:
 * files, and the directories that hold them.
 */
interface FoldedPaths {
  files: Map<string, number>;
  directories: Map<string, number>;
}

/**
 * `absolutePath` relative to `root`. A path under the root is sliced out of the caller's string,
 * sharing its bytes: path.relative resolves both paths again, and its result kept a second
 * copy of every absolute path alive for the whole upload.
 */
function relativeTo(rootPrefix: string, root: string, absolutePath: string): string {
  return absolutePath.startsWith(rootPrefix)
    ? absolutePath.slice(rootPrefix.length)
    : path.relative(root, absolutePath);
}

/** A path relative to the root as an artifact path: `/`-separated (on POSIX, the same string). */
function toArtifactPath(relative: string): string {
  return path.sep === '/' ? relative : relative.split(path.sep).join('/');
}

/** The caller's file `index` and its artifact path, for a message about a clash. */
function describe(
  files: readonly string[],
  index: number,
  root: string,
): { file: string; artifactPath: string } {
  const file = files[index] as string;
  return { file, artifactPath: toArtifactPath(path.relative(root, path.resolve(file))) };
}

/**
 * Refuses `artifactPath` when another file has the same path, when it equals another file's path
 * after folding, or when one needs a folded name as a file and another as a directory (a file
 * `a` and a file `A/b`): either would make one file overwrite or block another on Windows and
 * macOS. `index` is the caller's file; `other` describes the file at another index.
 */
function checkFoldedCollision(
  seen: FoldedPaths,
  artifactPath: string,
  index: number,
  other: (index: number) => { file: string; artifactPath: string },
  fail: (message: string) => ValidationError,
): void {
  const key = foldPath(artifactPath);
  const clash = (otherIndex: number, why: string): ValidationError => {
    const { file: otherFile, artifactPath: otherPath } = other(otherIndex);
    const { file } = other(index);
    return fail(
      `'${file}' (artifact path '${artifactPath}') and '${otherFile}' (artifact path '${otherPath}') ${why}; ` +
        `rename one of them`,
    );
  };
  const same = seen.files.get(key);
  if (same !== undefined) {
    const previous = other(same);
    if (previous.artifactPath === artifactPath) {
      throw fail(
        `'${other(index).file}' and '${previous.file}' map to the same artifact path '${artifactPath}'`,
      );
    }
    throw clash(same, 'differ only in letter case or Unicode normalization');
  }
  const holder = seen.directories.get(key);
  if (holder !== undefined) throw clash(holder, 'need the same name as a file and as a directory');
  let slash = key.indexOf('/');
  while (slash >= 0) {
    const ancestor = seen.files.get(key.slice(0, slash));
    if (ancestor !== undefined) throw clash(ancestor, 'need the same name as a file and as a directory');
    slash = key.indexOf('/', slash + 1);
  }
  seen.files.set(key, index);
  // Parents are recorded deepest first, stopping at the first one already known: its own
  // parents were recorded with it.
  for (let end = key.lastIndexOf('/'); end > 0; end = key.lastIndexOf('/', end - 1)) {
    const dir = key.slice(0, end);
    if (seen.directories.has(dir)) break;
    seen.directories.set(dir, index);
  }
}

function specialKind(info: Stats): string {
  if (info.isFIFO()) return 'a named pipe (FIFO)';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** The forbidden root `real` is under, unless it is under an allowed exception. */
function forbiddenRoot(real: string): string | undefined {
  if (ALLOWED_UNDER_FORBIDDEN.some((dir) => isInside(dir, real))) return undefined;
  return FORBIDDEN_ROOTS.find((dir) => isInside(dir, real));
}

/**
 * {@link forbiddenRoot} of `file` whose directory really is `realDir`, without joining the
 * two when the directory answers alone: a file in an allowed directory other than the file
 * system's root is allowed too (the join matters for `/` + `proc`, or `/dev` + `shm`).
 */
function forbiddenDirectory(realDir: string, file: string): string | undefined {
  if (path.dirname(realDir) !== realDir && forbiddenRoot(realDir) === undefined) return undefined;
  return forbiddenRoot(path.join(realDir, path.basename(file)));
}

/**
 * Whether `candidate` is `root` or under it, compared by path segments. Both are absolute and
 * normal (real paths); on POSIX that is a string comparison, without path.relative, which
 * resolved both paths again (four times per file at start-up: issue 12 item 5).
 */
function isInside(root: string, candidate: string): boolean {
  if (path.sep === '/') {
    return candidate === root || (candidate.startsWith(root) && candidate.charCodeAt(root.length) === 0x2f);
  }
  const relative = path.relative(root, candidate);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/**
 * Whether `file` is an absolute path already in the form path.resolve gives it (on POSIX: no
 * empty, `.` or `..` segment, no trailing `/`), so that it can be used as it is.
 */
function isNormalAbsolute(file: string): boolean {
  if (path.sep !== '/' || !file.startsWith('/')) return false;
  if (file === '/') return true;
  return (
    !file.endsWith('/') &&
    !file.endsWith('/.') &&
    !file.endsWith('/..') &&
    !file.includes('//') &&
    !file.includes('/./') &&
    !file.includes('/../')
  );
}

/**
 * Fills in the operation and the artifact on an error thrown while an upload read its files
 * (the readers only know the file), so the message names all three: "... (operation upload,
 * artifact 'dist', file 'a/b.txt')". The error keeps its class, code, cause and stack; it is
 * annotated in place because it is ours and has not left the operation yet.
 */
export function withUploadContext(error: unknown, artifactName: string): unknown {
  if (!isFerryError(error)) return error;
  const own = error.context;
  if (own.operation !== undefined && own.artifactName !== undefined) return error;
  return addErrorContext(error, {
    operation: own.operation ?? 'upload',
    artifactName: own.artifactName ?? artifactName,
  });
}
