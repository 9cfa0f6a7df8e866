import { IntegrityError } from '../core/errors.js';
import { printable } from '../core/format.js';

/** The longest entry or item name accepted, in UTF-8 bytes (the zip extractor's limit too). */
export const MAX_NAME_BYTES = 4096;
/** The longest path segment accepted (NAME_MAX on common file systems). */
export const MAX_SEGMENT_BYTES = 255;
/** The longest destination path accepted (PATH_MAX on Linux, NUL included). */
export const MAX_DESTINATION_BYTES = 4095;

/**
 * Refuses a name from a server or an archive that no file system could hold, before anything is
 * written: too long overall, a segment longer than NAME_MAX, or a destination longer than
 * PATH_MAX. `name` is the name as given (for the message), `relative` its '/'-separated path
 * inside the target, `destination` the absolute path it would be written to.
 */
export function checkNameLengths(name: string, relative: string, destination: string): void {
  checkNameBytes(name);
  checkPathLengths(name, relative, destination);
}

/** The name alone, before it is resolved anywhere: at most MAX_NAME_BYTES. */
export function checkNameBytes(name: string): void {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_NAME_BYTES) {
    throw unsafe(
      `Unsafe path ${printable(name)}: the name is ${bytes} bytes long, the limit is ${MAX_NAME_BYTES}`,
    );
  }
}

/** Where the name lands: no segment over NAME_MAX, no destination over PATH_MAX. */
export function checkPathLengths(name: string, relative: string, destination: string): void {
  for (const segment of relative.split('/')) {
    if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) {
      throw unsafe(
        `Unsafe path ${printable(name)}: segment ${printable(segment, 40)} is longer than ${MAX_SEGMENT_BYTES} bytes`,
      );
    }
  }
  if (Buffer.byteLength(destination, 'utf8') > MAX_DESTINATION_BYTES) {
    throw unsafe(
      `Unsafe path ${printable(name)}: the destination path would be longer than ${MAX_DESTINATION_BYTES} bytes`,
    );
  }
}

function unsafe(message: string): IntegrityError {
  return new IntegrityError('ERR_FERRY_UNSAFE_PATH', message);
}
