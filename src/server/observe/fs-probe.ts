import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The status probe of a filesystem store: writes, reads back and removes a few bytes in the data
 * directory. Cheap, and it fails exactly when uploads would (directory gone, read-only, no inodes).
 */
export function filesystemProbe(dataDir: string): () => Promise<void> {
  return async () => {
    const file = join(dataDir, `.status-probe-${process.pid}`);
    const token = randomBytes(8).toString('hex');
    try {
      await writeFile(file, token);
      if ((await readFile(file, 'utf8')) !== token)
        throw new Error('the probe file read back different bytes');
    } finally {
      await rm(file, { force: true }).catch(() => undefined);
    }
  };
}
