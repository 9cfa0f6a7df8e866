import { readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The file holding the first bytes of a committed results blob in a ferry serve data directory:
 * `data` for a blob written with Put Blob, the first block of the manifest for one committed with
 * Put Block List (the server keeps the block list instead of copying the blocks). Tests corrupt it
 * to play a store that returns bad bytes.
 */
export async function firstStoredBlobFile(dataDir: string, blobId: string): Promise<string> {
  const dir = path.join(dataDir, 'results', 'blobs', blobId);
  const state = JSON.parse(await readFile(path.join(dir, 'state.json'), 'utf8')) as {
    manifest?: { dir: string; parts: string[] } | null;
  };
  const manifest = state.manifest;
  if (!manifest || manifest.parts.length === 0) return path.join(dir, 'data');
  return path.join(dir, manifest.dir, manifest.parts[0] as string);
}
