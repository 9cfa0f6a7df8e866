import { readSync } from 'node:fs';

/**
 * Reads an open file of `size` bytes whole, synchronously, with one byte of headroom, so a
 * single pass shows both a file that shrank and one that grew since its fstat. Returns the
 * bytes and how many were actually there (`found` ≠ `size` means the file changed).
 *
 * With `scratch` of at least `size + 1` bytes the bytes are read into it and `data` is a view of
 * it, valid until the caller's next use of `scratch`: for bytes that are consumed at once (gzipped,
 * scanned) rather than kept, so that a many-file upload does not leave a dead buffer per file for
 * the garbage collector (issue 12 item 5).
 */
export function readWholeSync(fd: number, size: number, scratch?: Buffer): { data: Buffer; found: number } {
  const buffer =
    scratch && scratch.length > size ? scratch.subarray(0, size + 1) : Buffer.allocUnsafe(size + 1);
  let found = 0;
  while (found < buffer.length) {
    const bytesRead = readSync(fd, buffer, found, buffer.length - found, found);
    if (bytesRead === 0) break;
    found += bytesRead;
  }
  return { data: buffer.subarray(0, Math.min(found, size)), found };
}
