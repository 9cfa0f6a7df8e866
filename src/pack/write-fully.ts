import type { FileHandle } from 'node:fs/promises';

/**
 * Writes every byte of `buffers` at the handle's position. FileHandle.write and writev are one
 * system call each and may write less than asked (a disk filling up returns a short count, not
 * an error); treating that as done leaves a file shorter than the bytes hashed for it. The next
 * call after a short write surfaces the real error (ENOSPC).
 */
export async function writeFully(handle: FileHandle, buffers: readonly Buffer[]): Promise<void> {
  let rest = buffers.filter((b) => b.length > 0);
  while (rest.length > 0) {
    let written =
      rest.length === 1
        ? (await handle.write(rest[0] as Buffer)).bytesWritten
        : (await handle.writev(rest as Buffer[])).bytesWritten;
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
