import { lstat, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * Where remembered answers are kept, decided once at the entry point (which passes its
 * environment): FERRY_STATE_DIR when set; else `state/` inside the cache directory when a
 * cache is configured (one place to wipe); else a per-user directory under the system temp
 * directory, `ferry-state-<uid>`.
 */
export function resolveStateDir(input: {
  env: Readonly<Record<string, string | undefined>>;
  cachePath?: string | undefined;
}): string {
  const explicit = input.env['FERRY_STATE_DIR']?.trim();
  if (explicit) return path.resolve(explicit);
  if (input.cachePath) return path.join(path.resolve(input.cachePath), 'state');
  const user = typeof process.getuid === 'function' ? String(process.getuid()) : os.userInfo().username;
  return path.join(os.tmpdir(), `ferry-state-${user}`);
}

/**
 * Creates the directory (0700) and checks that it is ours: a real directory, owned by this
 * user, not writable by others. In a shared temp directory another user could create the path
 * first and plant answers that make every call fail; such a directory is refused (returns a
 * reason), and the caller keeps answers in memory only.
 */
export async function prepareStateDir(dir: string): Promise<string | undefined> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await lstat(dir);
  if (!info.isDirectory()) return 'not a directory';
  if (typeof process.getuid === 'function' && info.uid !== process.getuid()) return 'owned by another user';
  if (process.platform !== 'win32' && (info.mode & 0o022) !== 0) return 'writable by other users';
  return undefined;
}
