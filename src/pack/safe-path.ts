import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { IntegrityError, type ErrorContext } from '../core/errors.js';
import { describeCharacter, isControlCharacter, printable } from '../core/format.js';

/** Windows device names, reserved with any extension (`CON`, `nul.txt`, `COM1.tar.gz`, ...). */
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])$/i;

function unsafe(entry: string, reason: string): IntegrityError {
  return new IntegrityError('ERR_FERRY_UNSAFE_PATH', `Unsafe path ${printable(entry)}: ${reason}`);
}

/**
 * Resolves an entry name taken from an archive, a server listing or a header (all untrusted) to
 * an absolute path strictly inside `root`, or throws `IntegrityError` (`ERR_FERRY_UNSAFE_PATH`)
 * naming the entry.
 *
 * `\` is treated as a separator. Rejected: an empty name or one that names `root` itself (`.`,
 * `./`), absolute paths (`/x`, `\x`), drive letters (`C:\x`, `C:/x`, `C:x`), UNC paths
 * (`\\server\share`), any `..` segment, NUL and other control characters. On Windows (or when
 * `platform` says `win32`) also `:` anywhere (alternate data streams), reserved device names
 * (`CON`, `nul.txt`, `COM1`) and segments ending in a dot or a space (Windows strips them).
 *
 * This is a lexical check. Use {@link assertNoSymlinkInPath} before writing, so that symlinks that
 * already exist under `root` are not followed. `context` (e.g. the download and the artifact the
 * name came from) is attached to the error, so its message names them too.
 */
export function resolveInside(
  root: string,
  relative: string,
  platform: NodeJS.Platform = process.platform,
  context?: ErrorContext,
): string {
  try {
    return resolveLexically(root, relative, platform);
  } catch (error) {
    if (context === undefined || !(error instanceof IntegrityError)) throw error;
    throw new IntegrityError(error.code, error.message, { context });
  }
}

function resolveLexically(root: string, relative: string, platform: NodeJS.Platform): string {
  if (typeof relative !== 'string' || relative.length === 0)
    throw unsafe(String(relative), 'the name is empty');
  for (const ch of relative) {
    const code = ch.codePointAt(0) ?? 0;
    if (isControlCharacter(code)) {
      throw unsafe(relative, `it contains the control character ${describeCharacter(ch)}`);
    }
  }
  const normalized = relative.replace(/\\/g, '/');
  if (normalized.startsWith('//')) throw unsafe(relative, 'it is a UNC path');
  if (normalized.startsWith('/')) throw unsafe(relative, 'it is an absolute path');
  if (/^[A-Za-z]:/.test(normalized)) throw unsafe(relative, 'it starts with a drive letter');

  const segments = normalized.split('/').filter((s) => s !== '' && s !== '.');
  for (const segment of segments) {
    if (segment === '..') throw unsafe(relative, "it contains a '..' segment");
    if (platform === 'win32') {
      if (segment.includes(':')) throw unsafe(relative, `segment ${printable(segment)} contains ':'`);
      if (/[. ]$/.test(segment))
        throw unsafe(relative, `segment ${printable(segment)} ends in a dot or a space`);
      const stem = (segment.split('.')[0] ?? '').trimEnd();
      if (WINDOWS_RESERVED.test(stem))
        throw unsafe(relative, `segment ${printable(segment)} is a reserved device name`);
    }
  }
  if (segments.length === 0) throw unsafe(relative, 'it names the target directory itself');

  const base = resolvedRoot(root);
  if (path.sep === '/') {
    // The segments are checked above: none empty, '.', '..' or absolute, no '\\' left. Joined to
    // the resolved root they are its lexical resolution, which path.resolve and path.relative
    // computed per entry with ~3 KiB of garbage each (~300 MiB for a 100,000-entry archive).
    return base === '/' ? `/${segments.join('/')}` : `${base}/${segments.join('/')}`;
  }
  // Windows: drive-relative and device forms are path.resolve's to judge.
  const resolved = path.resolve(base, ...segments);
  const rel = path.relative(base, resolved);
  if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
    throw unsafe(relative, 'it resolves outside the target directory');
  }
  return resolved;
}

/** `path.resolve(root)`, kept for the root asked last: an extraction resolves every entry against one. */
let lastRoot: { root: string; resolved: string } | undefined;
function resolvedRoot(root: string): string {
  // A relative root depends on the working directory, which may change between calls.
  if (!path.isAbsolute(root)) return path.resolve(root);
  if (lastRoot?.root !== root) lastRoot = { root, resolved: path.resolve(root) };
  return lastRoot.resolved;
}

/**
 * Throws `IntegrityError` (`ERR_FERRY_UNSAFE_PATH`) if any component of `absPath` below `root`
 * (the final one included) already exists as a symbolic link. Components are checked with
 * `lstat`, from the top down; the walk stops at the first one that does not exist. `root` itself
 * and its ancestors are the caller's choice and are not checked. A path not under `root` is also
 * rejected.
 *
 * This narrows, but cannot close, the window between the check and the write: write into a fresh
 * staging directory (or open with `O_NOFOLLOW`/`wx`) as well. `context` is attached to the error.
 */
export async function assertNoSymlinkInPath(
  root: string,
  absPath: string,
  context?: ErrorContext,
): Promise<void> {
  try {
    await checkNoSymlink(root, absPath);
  } catch (error) {
    if (context === undefined || !(error instanceof IntegrityError)) throw error;
    throw new IntegrityError(error.code, error.message, { context });
  }
}

async function checkNoSymlink(root: string, absPath: string): Promise<void> {
  const base = path.resolve(root);
  const target = path.resolve(absPath);
  const rel = path.relative(base, target);
  if (rel === '') return;
  if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
    throw unsafe(absPath, `it is not inside the target directory ${printable(base)}`);
  }
  let current = base;
  const parts = rel.split(path.sep);
  for (let i = 0; i < parts.length; i++) {
    current = path.join(current, parts[i] as string);
    let stats;
    try {
      stats = await lstat(current);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Nothing exists from here down (or a parent is a plain file, which the write will report).
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw error;
    }
    if (stats.isSymbolicLink()) {
      const component = parts.slice(0, i + 1).join('/');
      throw unsafe(
        rel.split(path.sep).join('/'),
        `${printable(component)} already exists in the target directory as a symbolic link; refusing to follow it`,
      );
    }
    if (!stats.isDirectory()) return;
  }
}
