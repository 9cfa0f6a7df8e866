import type { FileHandle } from 'node:fs/promises';

/**
 * Writes every byte of `buffers`, at `position` (advancing) or at the handle's current position.
 * FileHandle.write and writev are one system call each and may write less than asked (a disk
 * filling up returns a short count, not an error); treating that as done leaves a file shorter
 * than the bytes hashed for it. The call after a short write surfaces the real error (ENOSPC);
 * a call that writes nothing at all fails here rather than looping.
 */
export async function writeFully(
  handle: FileHandle,
  buffers: readonly Buffer[],
  position?: number,
): Promise<void> {
  let rest = buffers.filter((b) => b.length > 0);
  let at = position;
  while (rest.length > 0) {
    const first = rest[0] as Buffer;
    const { bytesWritten } =
      rest.length === 1
        ? await handle.write(first, 0, first.length, at ?? null)
        : await handle.writev(rest, at);
    // Only a full file system or quota (some FUSE and network file systems) answers a write
    // with 0 and no error: report it as ENOSPC, which pack/fs-errors.ts turns into
    // ERR_FERRY_NO_SPACE with its advice, like the error the next call would have raised.
    if (bytesWritten === 0) {
      throw Object.assign(new Error('Short write: the file system accepted no bytes'), { code: 'ENOSPC' });
    }
    if (at !== undefined) at += bytesWritten;
    let written = bytesWritten;
    const next: Buffer[] = [];
    for (const buffer of rest) {
      if (written >= buffer.length) {
        written -= buffer.length;
        continue;
      }
      next.push(written > 0 ? buffer.subarray(written) : buffer);
      written = 0;
    }
    rest = next;
  }
}
