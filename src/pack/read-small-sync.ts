import { readSync } from 'node:fs';

/**
 * Reads an open file of `size` bytes whole, synchronously, with one byte of headroom, so a
 * single pass shows both a file that shrank and one that grew since its fstat. Returns the
 * bytes and how many were actually there (`found` ≠ `size` means the file changed).
 */
export function readWholeSync(fd: number, size: number): { data: Buffer; found: number } {
  const buffer = Buffer.allocUnsafe(size + 1);
  let found = 0;
  while (found < buffer.length) {
    const bytesRead = readSync(fd, buffer, found, buffer.length - found, found);
    if (bytesRead === 0) break;
    found += bytesRead;
  }
  return { data: buffer.subarray(0, Math.min(found, size)), found };
}
