import { lstat, stat, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { createHash } from 'node:crypto';
import { compareExisting, conflictError } from '../conflict.js';
import { parentKey } from '../held-target.js';
import { assertNoSymlinkInPath } from '../safe-path.js';
import { printable } from '../../core/format.js';
import type { ZipEntry } from './central-directory.js';
import { openEntryStreamOnHandle } from './entry-reader.js';
import { throwIfAborted, type Normalized } from './extract-options.js';
import { conflict, toAbsolute, type Plan } from './extract-plan.js';

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

/** SHA-256 (hex) of an entry's verified, uncompressed bytes, streamed. */
export async function entrySha256(handle: FileHandle, entry: ZipEntry, dataLimit: number): Promise<string> {
  const hash = createHash('sha256');
  const input = await openEntryStreamOnHandle(handle, entry, { dataLimit, ownsHandle: false });
  for await (const chunk of input) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Checks what already exists in the target, before anything is written: no symlink on the way to
 * any directory, no file where a directory goes and no directory where a file goes, and the
 * `existing` policy (under `'error'`, existing files are compared with the entries). Marks files
 * to skip: all existing ones under `'skip'`, identical ones under `'error'`.
 */
export async function preflight(
  plan: Plan,
  options: Normalized,
  linkWalks: readonly string[],
  /** SHA-256 (hex) of an entry's bytes, asked only to compare with an existing file under 'error'. */
  sha256Of: (entry: ZipEntry) => Promise<string>,
): Promise<void> {
  const { target } = options;
  let targetStats: Stats;
  try {
    targetStats = await stat(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!targetStats.isDirectory()) {
    throw conflict(`The target directory ${printable(target)} exists and is not a directory`);
  }
  const missing = new Set<string>();
  for (const key of plan.directories) {
    const parent = parentKey(key);
    if (parent !== '' && missing.has(parent)) {
      missing.add(key);
      continue;
    }
    const abs = toAbsolute(target, key);
    const stats = await lstatOrUndefined(abs);
    if (stats === undefined) missing.add(key);
    else if (stats.isSymbolicLink()) await assertNoSymlinkInPath(target, abs);
    else if (!stats.isDirectory()) {
      throw conflict(
        `${printable(key)} already exists in the target directory as a file, but the archive needs a directory there`,
      );
    }
  }
  for (const item of plan.items) {
    if (item.kind === 'directory') continue;
    const parent = parentKey(item.key);
    if (parent !== '' && missing.has(parent)) continue;
    const dest = toAbsolute(target, item.key);
    const stats = await lstatOrUndefined(dest);
    if (stats === undefined) continue;
    if (stats.isDirectory()) {
      throw conflict(
        `${printable(item.key)} already exists in the target directory as a directory, but the archive has a file there`,
      );
    }
    if (options.existing === 'error') {
      throwIfAborted(options.signal);
      const state =
        item.kind === 'link'
          ? 'different'
          : await compareExisting(dest, {
              size: item.entry.uncompressedSize,
              crc32: item.entry.crc32,
              sha256: () => sha256Of(item.entry),
            });
      if (state === 'directory') {
        throw conflict(
          `${printable(item.key)} already exists in the target directory as a directory, but the archive has a file there`,
        );
      }
      if (state === 'different') throw conflictError(item.key, 'the target directory');
      // Identical bytes: left as they are. (Missing: it vanished since the lstat; written as new.)
      if (state === 'identical') item.skip = true;
    }
    if (options.existing === 'skip') item.skip = true;
  }
  for (const key of linkWalks) await assertNoSymlinkInPath(target, toAbsolute(target, key));
}
