import { open, symlink, type FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { isSmallFile, writeSmallFileSync } from '../small-files.js';
import { openEntryStreamOnHandle, readEntryBuffer, readEntryBufferSync } from './entry-reader.js';
import type { Normalized } from './extract-options.js';
import type { Item } from './extract-plan.js';

/** Entries up to this size are read, inflated and verified in memory (fewer syscalls). */
const IN_MEMORY_BYTES = 1024 * 1024;

/**
 * The mode to create a file with: the archive's permission bits (never setuid, setgid or sticky),
 * or undefined for the default. The file is created with it, so the kernel applies the process
 * umask (0777 under umask 022 lands as 0755), exactly as for any other file the process creates;
 * no chmod ever bypasses it.
 */
export function fileMode(item: Item, options: Normalized): number | undefined {
  if (!options.restoreModes || item.entry.isSymlink || item.entry.mode === undefined) return undefined;
  return item.entry.mode & 0o777;
}

/** A regular file entry small enough for {@link stageSmallSync}. */
export function isSmallEntry(item: Item): boolean {
  return item.kind === 'file' && isSmallFile(item.entry.compressedSize, item.entry.uncompressedSize);
}

/**
 * Writes one small verified entry into the staging directory on the main thread: one read of
 * the zip, `inflateRawSync` bounded by the declared size, size and CRC-32 checked, then one
 * exclusive create and write. No stream and no thread-pool round trip (see small-files.ts).
 */
export function stageSmallSync(
  fd: number,
  item: Item,
  staged: string,
  dataLimit: number,
  options: Normalized,
): void {
  const data = readEntryBufferSync(fd, item.entry, dataLimit);
  writeSmallFileSync(staged, data, { mode: fileMode(item, options) ?? 0o666 });
}

/** Writes one verified entry into the staging directory. */
export async function stage(
  handle: FileHandle,
  item: Item,
  staged: string,
  dataLimit: number,
  options: Normalized,
): Promise<void> {
  if (item.kind === 'link') {
    await symlink(item.linkText as string, staged);
    return;
  }
  const { entry } = item;
  const createMode = fileMode(item, options) ?? 0o666;
  if (entry.uncompressedSize <= IN_MEMORY_BYTES && entry.compressedSize <= IN_MEMORY_BYTES) {
    const data = await readEntryBuffer(handle, entry, dataLimit);
    const out = await open(staged, 'wx', createMode);
    try {
      await out.writeFile(data);
    } finally {
      await out.close();
    }
    return;
  }
  const out = await open(staged, 'wx', createMode);
  let input;
  try {
    input = await openEntryStreamOnHandle(handle, entry, { dataLimit, ownsHandle: false });
  } catch (error) {
    await out.close();
    throw error;
  }
  await pipeline(
    input,
    out.createWriteStream({ highWaterMark: 1024 * 1024 }),
    options.signal ? { signal: options.signal } : {},
  );
}
