import { ErrorResponse } from './error-response.js';

/** Out of space or quota: RFC 4918's 507 Insufficient Storage, which clients map to "no space". */
const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

/** File system failures of the server's own storage: the client's request was fine, ours failed. */
const STORAGE = new Set([
  ...NO_SPACE,
  'EIO',
  'EROFS',
  'EACCES',
  'EPERM',
  'EFBIG',
  'EMFILE',
  'ENFILE',
  'ENOMEM',
  'EMLINK',
]);

/**
 * The answer for a file system error while storing or reading data: 507 when the disk or quota is
 * full, 500 for any other storage failure, with a message that names the errno but no path (paths
 * reveal the server's layout and are of no use to the client). `undefined` for anything else.
 */
export function storageFailure(error: unknown): ErrorResponse | undefined {
  const code = errnoOf(error);
  if (code === undefined || !STORAGE.has(code)) return undefined;
  if (NO_SPACE.has(code)) {
    return new ErrorResponse(
      507,
      `Insufficient storage: the server ran out of disk space (${code}) while storing the upload`,
    );
  }
  return new ErrorResponse(500, `Internal server error: the server's storage failed (${code})`);
}

function errnoOf(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
