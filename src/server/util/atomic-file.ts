import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDir } from './durable.js';

/**
 * Writes JSON so readers (and a restarted server) see either the old or the new content, never a
 * torn file: write a uniquely named temp file next to the target, then rename over it (rename is
 * atomic within one directory on POSIX and NTFS). Durable once it resolves: the temp file is
 * fsynced before the rename (else a power loss can leave the new name on empty content) and the
 * directory after it (else the rename itself can be lost).
 */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`;
  try {
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(JSON.stringify(value));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    await fsyncDir(dirname(path));
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Suffix of writeJsonAtomic's temp files: any found at startup are leftovers of a crash. */
export const TEMP_SUFFIX = '.tmp';

/** Reads a JSON file; `undefined` when it does not exist. */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  return JSON.parse(text) as unknown;
}

export function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'ENOENT';
}
