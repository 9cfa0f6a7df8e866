import type { Dirent, Stats } from 'node:fs';
import { opendir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ValidationError } from '../errors.js';

export interface FoundFiles {
  /** Regular files, absolute, sorted for a deterministic upload order. */
  files: string[];
  /** The least common ancestor directory of the inputs: artifact paths are relative to it. */
  rootDirectory: string;
  /**
   * Entries met while walking a directory that are not uploaded, sorted by path: FIFOs, sockets
   * and devices (never opened, so a FIFO cannot block the walk) and symlinks to directories (not
   * descended). Callers warn about them.
   */
  skipped: Array<{ path: string; reason: string }>;
}

export interface FindOptions {
  /** Include files and directories whose name starts with '.'. @default false */
  includeHidden?: boolean;
}

/**
 * Expands files and directories into the regular files beneath them. Symlinked directories are
 * not descended (a link loop or a link to `/` must not turn an upload into a crawl); symlinked
 * files are followed, as upload-artifact does. Hidden entries are skipped unless asked for, so
 * `.git/config` and `.env` do not leave the runner by accident. Special files inside a directory
 * are skipped and reported in `skipped`; one named directly, a missing path, a dangling link and
 * a link loop are errors naming the path.
 */
export async function findFiles(inputs: readonly string[], options: FindOptions = {}): Promise<FoundFiles> {
  const files = new Set<string>();
  const skipped: FoundFiles['skipped'] = [];
  const roots: string[] = [];
  for (const input of inputs) {
    const absolute = path.resolve(input);
    const info = await stat(absolute).catch((error: NodeJS.ErrnoException) => {
      throw invalidPath(input, brokenReason(error, `Path '${input}'`, `Path '${input}' does not exist`));
    });
    if (info.isDirectory()) {
      roots.push(absolute);
      await walk(absolute, files, skipped, options.includeHidden ?? false);
    } else if (info.isFile()) {
      roots.push(path.dirname(absolute));
      files.add(absolute);
    } else {
      throw invalidPath(input, `Path '${input}' is ${specialKind(info)}, not a regular file or directory`);
    }
  }
  skipped.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files: [...files].sort(), rootDirectory: commonAncestor(roots), skipped };
}

function invalidPath(file: string, message: string): ValidationError {
  return new ValidationError('ERR_FERRY_INVALID_PATH', message, { file });
}

/** Why a stat failed, for a path that was named or found: missing, dangling link, or loop. */
function brokenReason(error: NodeJS.ErrnoException, what: string, missing: string): string {
  if (error.code === 'ELOOP') return `${what} is a symlink loop`;
  if (error.code === 'ENOENT') return missing;
  return `${what} cannot be read: ${error.message}`;
}

function specialKind(info: Stats | Dirent): string {
  if (info.isFIFO()) return 'a named pipe (FIFO)';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

async function walk(
  directory: string,
  out: Set<string>,
  skipped: FoundFiles['skipped'],
  includeHidden: boolean,
): Promise<void> {
  const pending = [directory];
  while (pending.length) {
    const current = pending.pop() as string;
    // opendir streams entries, so a directory with 100,000 files costs one fd and bounded memory.
    for await (const entry of await opendir(current)) {
      if (!includeHidden && entry.name.startsWith('.')) continue;
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) pending.push(full);
      else if (entry.isFile()) out.add(full);
      else if (entry.isSymbolicLink()) {
        // stat never opens the target: a link to a FIFO or a device cannot block here.
        const target = await stat(full).catch((error: NodeJS.ErrnoException) => {
          throw invalidPath(full, brokenReason(error, `Symlink '${full}'`, `Symlink '${full}' is dangling`));
        });
        if (target.isFile()) out.add(full);
        else if (target.isDirectory())
          skipped.push({ path: full, reason: 'a symlink to a directory (not descended)' });
        else skipped.push({ path: full, reason: `a symlink to ${specialKind(target)}` });
      } else skipped.push({ path: full, reason: specialKind(entry) });
    }
  }
}

export function commonAncestor(directories: readonly string[]): string {
  if (directories.length === 0) return process.cwd();
  let parts = (directories[0] as string).split(path.sep);
  for (const dir of directories.slice(1)) {
    const other = dir.split(path.sep);
    let i = 0;
    while (i < parts.length && i < other.length && parts[i] === other[i]) i++;
    parts = parts.slice(0, i);
  }
  return parts.join(path.sep) || path.sep;
}
