import { open } from 'node:fs/promises';

/**
 * Flushes a file's data to stable storage. What the server acknowledges as stored (a committed
 * blob, a finalized artifact's record) must survive a power loss, not only a process crash.
 */
export async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Flushes a directory's entries, so a file renamed into it is still there (under its new name)
 * after a power loss. Some platforms (Windows) cannot open a directory; there rename is already
 * durable in the file system's journal, so the failure is ignored.
 */
export async function fsyncDir(path: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (process.platform === 'win32') return;
    throw error;
  }
  try {
    await handle.sync();
  } catch (error) {
    // EINVAL/EISDIR: this file system does not sync directories; nothing more can be done.
    const code = (error as { code?: unknown }).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw error;
  } finally {
    await handle.close();
  }
}
