import { readdir, readFile, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { FerryError, isFerryError, type ErrorContext } from '../core/errors.js';

/**
 * Local resource exhaustion, told apart from everything else (reliability plan D37, D38).
 *
 * A full disk or an exhausted file-descriptor table shows up deep inside a transfer: a write to
 * the temporary download fails with ENOSPC, a connect or an open fails with EMFILE. Left alone,
 * the first looks like a connection that "broke off" (and is retried, uselessly, five times) and
 * the second like a network error or an unreadable file. These helpers turn them into
 * `ERR_FERRY_NO_SPACE` and `ERR_FERRY_TOO_MANY_OPEN_FILES`: not retryable, and saying what to do.
 */

const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);
const NO_DESCRIPTORS = new Set(['EMFILE', 'ENFILE']);

/** How deep a cause chain is searched (Ferry wraps at most a few times). */
const MAX_CAUSE_DEPTH = 8;

export interface ResourceFailure {
  /** `ENOSPC`, `EDQUOT`, `EMFILE` or `ENFILE`. */
  code: string;
  /** The path of the failing call, when the system error carried one. */
  path: string | undefined;
}

/**
 * The resource-exhaustion code of `error` or of an error in its cause chain (a NetworkError's
 * `errno` included), or undefined when the error is about something else.
 */
export function findResourceFailure(error: unknown): ResourceFailure | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && typeof current === 'object' && current !== null; depth++) {
    const record = current as { code?: unknown; errno?: unknown; path?: unknown; cause?: unknown };
    for (const candidate of [record.code, record.errno]) {
      if (typeof candidate === 'string' && (NO_SPACE.has(candidate) || NO_DESCRIPTORS.has(candidate))) {
        return { code: candidate, path: typeof record.path === 'string' ? record.path : undefined };
      }
    }
    current = record.cause;
  }
  return undefined;
}

export interface ResourceErrorInfo {
  /** Operation, artifact and file the message names (the original error's context fills gaps). */
  context?: ErrorContext | undefined;
  /** Directory the bytes were going to; its free space is reported. Default: `writing`'s or the failing path's directory. */
  directory?: string | undefined;
  /** Absolute path of the file being written (a write on an open handle carries no path). */
  writing?: string | undefined;
  /**
   * A scratch directory (temporary download, staging) that is deleted because of this failure:
   * what it holds counts as free, and its parent is the directory reported.
   */
  removedOnFailure?: string | undefined;
  /** Bytes this step had to write in total, when known (e.g. the artifact's size). */
  neededBytes?: number | undefined;
  /** The `concurrency` in effect, quoted in the advice for EMFILE. */
  concurrency?: number | undefined;
}

/**
 * `error` as `ERR_FERRY_NO_SPACE` / `ERR_FERRY_TOO_MANY_OPEN_FILES` when it (or its cause) is
 * ENOSPC, EDQUOT, EMFILE or ENFILE; any other error is returned unchanged. The result is never
 * retryable: repeating the same write into the same full disk, or the same fan-out under the same
 * limit, fails the same way. Call it after cleaning up, so the free space reported is what the
 * user actually has.
 */
export async function asResourceError(error: unknown, info: ResourceErrorInfo = {}): Promise<unknown> {
  if (isFerryError(error) && error.code === 'ERR_FERRY_NO_SPACE') return error;
  if (isFerryError(error) && error.code === 'ERR_FERRY_TOO_MANY_OPEN_FILES') {
    // Mapped deep inside a transfer, where no descriptor was free to read the limit with: the
    // operation's own mapping (which knows the concurrency and runs once the sockets and files
    // are released) words it again, keeping the deeper context.
    if (info.concurrency === undefined || error.cause === undefined) return error;
    return asResourceError(error.cause, { ...info, context: { ...info.context, ...error.context } });
  }
  const failure = findResourceFailure(error);
  if (failure === undefined) return error;
  const own = isFerryError(error) ? error.context : {};
  const context: ErrorContext = {};
  for (const source of [own, info.context ?? {}]) {
    for (const key of ['operation', 'artifactName', 'file'] as const) {
      if (context[key] === undefined && source[key] !== undefined) context[key] = source[key];
    }
  }
  if (NO_SPACE.has(failure.code)) {
    const written = info.removedOnFailure ?? info.writing ?? failure.path;
    const directory = info.directory ?? (written === undefined ? undefined : path.dirname(written));
    const free = directory === undefined ? undefined : await freeBytes(directory);
    const reclaimed = info.removedOnFailure === undefined ? 0 : await bytesUnder(info.removedOnFailure);
    const needs = info.neededBytes === undefined ? '' : `; ${formatBytes(info.neededBytes)} to write`;
    const has = free === undefined ? '' : `${needs ? ',' : ';'} ${formatBytes(free + reclaimed)} free there`;
    const where = directory === undefined ? '' : ` in ${directory}`;
    const what = failure.code === 'EDQUOT' ? 'Disk quota exceeded' : 'Not enough disk space';
    const move = context.operation === 'upload' ? "'tempDir'" : "the download path or 'tempDir'";
    return new FerryError(
      'ERR_FERRY_NO_SPACE',
      `${what}${where} (${failure.code})${needs}${has}. Free some space, or point ${move} at a larger file system`,
      { cause: error, context, retryable: false },
    );
  }
  const limit = await openFileLimit();
  const reason =
    failure.code === 'ENFILE'
      ? 'the system-wide table of open files is full (ENFILE)'
      : `the process reached its limit of ${limit === undefined ? 'open' : `${limit} open`} file descriptors (EMFILE, 'ulimit -n')`;
  const now = info.concurrency === undefined ? '' : `, now ${info.concurrency}`;
  return new FerryError(
    'ERR_FERRY_TOO_MANY_OPEN_FILES',
    `Too many open files: ${reason}. Lower the concurrency (option 'concurrency' or --concurrency${now}) or raise the limit with 'ulimit -n'`,
    { cause: error, context, retryable: false },
  );
}

/** Bytes available to an unprivileged writer in the file system holding `directory` (or its nearest existing parent). */
export async function freeBytes(directory: string): Promise<number | undefined> {
  let current = path.resolve(directory);
  for (;;) {
    try {
      const stats = await statfs(current);
      return stats.bavail * stats.bsize;
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return undefined;
      current = parent;
    }
  }
}

/** Bytes in the files under `directory` (a scratch directory about to be deleted); 0 when it is gone. */
async function bytesUnder(directory: string): Promise<number> {
  try {
    const entries = await readdir(directory, { recursive: true });
    let total = 0;
    for (const entry of entries) {
      // A concurrent writer may have removed it since: count what is still there.
      const info = await stat(path.join(directory, entry)).catch(() => undefined);
      if (info?.isFile()) total += info.size;
    }
    return total;
  } catch {
    return 0;
  }
}

/** The soft RLIMIT_NOFILE from /proc/self/limits (Linux); undefined elsewhere or when it cannot be read. */
export async function openFileLimit(): Promise<number | undefined> {
  try {
    const text = await readFile('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\d+)/m.exec(text);
    return match ? Number(match[1]) : undefined;
  } catch {
    // At the limit even this read can fail; the message then leaves the number out.
    return undefined;
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${bytes} bytes (${value.toFixed(1)} ${units[unit] as string})`;
}
