import { writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

/**
 * Small files are written on the main thread with synchronous calls. Each asynchronous open,
 * write, close (and inflate) is a round trip through libuv's thread pool; for a download of
 * thousands of small files those round trips, not the bytes, are the cost (strace counted about
 * 275,000 futex calls for 60,000 file syscalls on 10,000 files). A small file takes microseconds
 * to write from the page cache, so doing it inline blocks the event loop for no longer than one
 * thread-pool hand-off would take. Large files keep the streaming path (bounded memory, and the
 * disk works while the socket reads).
 */

/** Entries and files at most this size (compressed and uncompressed) take the synchronous path. */
export const SMALL_FILE_BYTES = 64 * 1024;

/** True when both sizes are known and within {@link SMALL_FILE_BYTES}. */
export function isSmallFile(
  compressedSize: number | undefined,
  uncompressedSize: number | undefined,
): boolean {
  return (
    compressedSize !== undefined &&
    uncompressedSize !== undefined &&
    compressedSize <= SMALL_FILE_BYTES &&
    uncompressedSize <= SMALL_FILE_BYTES
  );
}

/**
 * Writes all of `data` to `file` synchronously, created with `mode` under the umask. By default
 * `file` must not exist (`O_CREAT | O_EXCL`, so nothing is written through a link someone put
 * there); `replace: true` truncates a file of ours from an earlier attempt instead (a retried
 * download rewrites its own staging file, as the streamed path does).
 */
export function writeSmallFileSync(
  file: string,
  data: Uint8Array,
  options: { mode?: number; replace?: boolean } = {},
): void {
  writeFileSync(file, data, { flag: options.replace === true ? 'w' : 'wx', mode: options.mode ?? 0o666 });
}

/**
 * The gunzipped `body`, or undefined when it inflates beyond `maxBytes` (zlib stops one byte past
 * it, so a gzip bomb never grows in memory). Corrupt or truncated data throws zlib's own error
 * (code `Z_DATA_ERROR`, `Z_BUF_ERROR`), as the streaming gunzip does.
 */
export function gunzipSmallSync(body: Uint8Array, maxBytes: number): Buffer | undefined {
  try {
    const data = gunzipSync(body, { maxOutputLength: maxBytes + 1 });
    return data.length > maxBytes ? undefined : data;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return undefined;
    throw error;
  }
}

/**
 * Runs synchronous work item by item, handing the event loop a turn every few milliseconds so
 * timers, signals and sockets are not starved while thousands of small files are written.
 */
export class CooperativeYield {
  #since = performance.now();
  constructor(private readonly everyMs = 8) {}

  /** Resolves at once when the slice is not used up, else after one turn of the event loop. */
  async maybeYield(): Promise<void> {
    if (performance.now() - this.#since < this.everyMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#since = performance.now();
  }
}
