import { open, readdir, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

/** What tests need of a committed results blob's state.json (server/results/blob-store.ts). */
interface BlobState {
  committed?: { size: number } | null;
  manifest?: { dir: string; parts: string[]; sizes: number[] } | null;
}

/** The files holding a committed blob's bytes, in order, with their sizes. */
export async function storedBlobSegments(
  dataDir: string,
  blobId: string,
): Promise<Array<{ file: string; size: number }>> {
  const dir = path.join(dataDir, 'results', 'blobs', blobId);
  const state = JSON.parse(await readFile(path.join(dir, 'state.json'), 'utf8')) as BlobState;
  const manifest = state.manifest;
  if (!manifest) return [{ file: path.join(dir, 'data'), size: state.committed?.size ?? 0 }];
  return manifest.parts.map((key, i) => ({
    file: path.join(dir, manifest.dir, key),
    size: manifest.sizes[i] ?? 0,
  }));
}

/**
 * The file holding the first bytes of a committed results blob in a ferry serve data directory:
 * `data` for a blob written with Put Blob, the first block of the manifest for one committed with
 * Put Block List (the server keeps the block list instead of copying the blocks). Tests corrupt it
 * to play a store that returns bad bytes.
 */
export async function firstStoredBlobFile(dataDir: string, blobId: string): Promise<string> {
  const [first] = await storedBlobSegments(dataDir, blobId);
  if (!first) throw new Error(`blob ${blobId} has no stored bytes`);
  return first.file;
}

/** The id of the largest committed blob under a ferry serve data directory. */
export async function largestStoredBlob(dataDir: string): Promise<string> {
  const blobsDir = path.join(dataDir, 'results', 'blobs');
  let best: { id: string; size: number } | undefined;
  for (const id of await readdir(blobsDir)) {
    let state: BlobState;
    try {
      state = JSON.parse(await readFile(path.join(blobsDir, id, 'state.json'), 'utf8')) as BlobState;
    } catch {
      continue;
    }
    const size = state.committed?.size;
    if (size !== undefined && (!best || size > best.size)) best = { id, size };
  }
  if (!best) throw new Error(`no committed blob under ${blobsDir}`);
  return best.id;
}

/** Reads a committed blob at any offset across its segments, as if it were one file. */
export interface StoredBlobReader {
  size: number;
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<void>;
  close(): Promise<void>;
}

export async function openStoredBlob(dataDir: string, blobId: string): Promise<StoredBlobReader> {
  const segments = await storedBlobSegments(dataDir, blobId);
  const handles: FileHandle[] = [];
  try {
    for (const segment of segments) handles.push(await open(segment.file, 'r'));
  } catch (error) {
    await Promise.all(handles.map((h) => h.close()));
    throw error;
  }
  const size = segments.reduce((sum, s) => sum + s.size, 0);
  return {
    size,
    async read(buffer, offset, length, position) {
      let start = 0;
      for (let i = 0; i < segments.length && length > 0; i++) {
        const segment = segments[i] as { size: number };
        const end = start + segment.size;
        if (position < end) {
          const take = Math.min(length, end - position);
          await (handles[i] as FileHandle).read(buffer, offset, take, position - start);
          offset += take;
          position += take;
          length -= take;
        }
        start = end;
      }
    },
    close: async () => {
      await Promise.all(handles.map((h) => h.close()));
    },
  };
}
