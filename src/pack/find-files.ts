import { lstat, opendir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ValidationError } from '../errors.js';

export interface FoundFiles {
  /** Regular files, absolute, sorted for a deterministic upload order. */
  files: string[];
  /** The least common ancestor directory of the inputs: artifact paths are relative to it. */
  rootDirectory: string;
}

export interface FindOptions {
  /** Include files and directories whose name starts with '.'. @default false */
  includeHidden?: boolean;
}

/**
 * Expands files and directories into the regular files beneath them. Symlinked directories are
 * not descended (a link loop or a link to `/` must not turn an upload into a crawl); symlinked
 * files are followed, as upload-artifact does. Hidden entries are skipped unless asked for, so
 * `.git/config` and `.env` do not leave the runner by accident.
 */
export async function findFiles(inputs: readonly string[], options: FindOptions = {}): Promise<FoundFiles> {
  const files = new Set<string>();
  const roots: string[] = [];
  for (const input of inputs) {
    const absolute = path.resolve(input);
    const info = await stat(absolute).catch(() => undefined);
    if (!info)
      throw new ValidationError('ERR_FERRY_INVALID_PATH', `Path '${input}' does not exist`, { file: input });
    if (info.isDirectory()) {
      roots.push(absolute);
      await walk(absolute, files, options.includeHidden ?? false);
    } else if (info.isFile()) {
      roots.push(path.dirname(absolute));
      files.add(absolute);
    } else {
      throw new ValidationError(
        'ERR_FERRY_INVALID_PATH',
        `Path '${input}' is not a regular file or directory`,
        { file: input },
      );
    }
  }
  return { files: [...files].sort(), rootDirectory: commonAncestor(roots) };
}

async function walk(directory: string, out: Set<string>, includeHidden: boolean): Promise<void> {
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
        const target = await stat(full).catch(() => undefined);
        if (target?.isFile()) out.add(full);
        else if (!target) {
          const link = await lstat(full);
          if (link.isSymbolicLink())
            throw new ValidationError('ERR_FERRY_INVALID_PATH', `Symlink '${full}' is dangling`, {
              file: full,
            });
        }
      }
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
