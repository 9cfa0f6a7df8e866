import { FerryError, type ErrorContext } from '../core/errors.js';
import type { UploadFile } from './backend.js';

/**
 * A file that no longer holds what it held when it was listed (invariant I3: the upload fails and
 * nothing is finalized). `now` says what was found instead, e.g. `3 when read`.
 */
export function sourceChanged(file: UploadFile, now: string, context: ErrorContext): FerryError {
  return new FerryError(
    'ERR_FERRY_SOURCE_CHANGED',
    `File '${file.absolutePath}' changed while it was being uploaded: ${file.size} bytes when listed, ${now}`,
    { context },
  );
}
