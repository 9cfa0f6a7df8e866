import { lstatSync, type Stats } from 'node:fs';
import { readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { ValidationError } from './errors.js';
import type { UploadFile } from './backends/backend.js';
import { validateFilePath } from './pack/validate.js';

export type SymlinkPolicy = 'follow' | 'preserve';

/** Never artifact content: reading them uploads the process environment, kernel state or devices. */
const FORBIDDEN_ROOTS = ['/proc', '/sys', '/dev'];

/**
 * Maps the caller's file list onto artifact paths under `rootDirectory`. Every file must be a
 * regular file inside the root (checked on path segments, so `/w/abc` is not inside `/w/ab`);
 * every artifact path must be valid and unique.
 *
 * Symlinks: `follow` (the default, as the official client does) uploads what the link points
 * to, except targets under /proc, /sys and /dev; `preserve` keeps a link as a link when it
 * resolves inside the root, and refuses one that leaves it.
 */
export async function resolveUploadFiles(
  artifactName: string,
  files: readonly string[],
  rootDirectory: string,
  symlinks: SymlinkPolicy = 'follow',
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
  const seen = new Map<string, string>();
  const out: UploadFile[] = [];
  for (const file of files) {
    const absolutePath = path.resolve(root, file);
    const relative = path.relative(root, absolutePath);
    const fail = (message: string): ValidationError =>
      new ValidationError('ERR_FERRY_INVALID_PATH', message, { artifactName, file });
    if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) {
      throw fail(`File '${file}' is not inside the root directory '${root}'`);
    }
    // Synchronous: a page-cached lstat is microseconds, while 10,000 sequential thread-pool
    // round trips held every upload back by half a second or more before its first request.
    let link: Stats;
    try {
      link = lstatSync(absolutePath);
    } catch (error: unknown) {
      throw fail(`File '${file}' cannot be read: ${(error as Error).message}`);
    }
    const artifactPath = relative.split(path.sep).join('/');
    validateFilePath(artifactPath);
    const previous = seen.get(artifactPath);
    if (previous !== undefined) {
      throw fail(`'${file}' and '${previous}' map to the same artifact path '${artifactPath}'`);
    }
    seen.set(artifactPath, file);

    if (link.isSymbolicLink()) {
      const resolved = await realpath(absolutePath).catch(() => {
        throw fail(`Symlink '${file}' is dangling or loops`);
      });
      if (symlinks === 'preserve') {
        if (!isInside(realRoot, resolved)) {
          throw fail(
            `Symlink '${file}' points outside the root directory (${resolved}); it cannot be preserved`,
          );
        }
        const target = (await readlink(absolutePath)).split(path.sep).join('/');
        // An absolute target inside the root is stored relative, so the link still works wherever the artifact lands.
        const stored = path.isAbsolute(target)
          ? path
              .relative(path.dirname(path.join(realRoot, relative)), resolved)
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
      if (FORBIDDEN_ROOTS.some((forbidden) => isInside(forbidden, resolved))) {
        throw fail(`Symlink '${file}' points into ${resolved}, which is never uploaded`);
      }
    }
    const info = link.isSymbolicLink() ? await stat(absolutePath) : link;
    if (info.isDirectory()) throw fail(`'${file}' is a directory; pass the files inside it`);
    if (!info.isFile()) throw fail(`'${file}' is not a regular file (FIFO, socket or device)`);
    out.push({ absolutePath, artifactPath, size: info.size, mode: info.mode & 0o777 });
  }
  return out;
}

function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}
