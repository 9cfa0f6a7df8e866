import path from 'node:path';
import { FerryError } from './core/errors.js';
import { resolveInside } from './pack/safe-path.js';
import { describeCharacter, printable } from './core/format.js';

/**
 * `root/<name>` for an artifact name taken from a listing (another run's, a fork's, or a hostile
 * server's: data, not a path). The name must be exactly one directory name: no `/` or `\\`, not
 * empty, `.` or `..`, no control characters, no drive letter. What only Windows cannot hold (`:`,
 * reserved device names such as `CON` or `nul.txt`, a trailing dot or space) is refused only
 * where the files land on Windows (`platform`): elsewhere such a directory is harmless, and
 * download-artifact downloads it (see {@link windowsNameProblem} for the warning). Throws
 * `ERR_FERRY_UNSAFE_PATH` naming the artifact; nothing has been downloaded at that point.
 */
export function artifactDirectory(
  root: string,
  name: string,
  platform: NodeJS.Platform = process.platform,
): string {
  const refuse = (reason: string, cause?: unknown): FerryError =>
    new FerryError(
      'ERR_FERRY_UNSAFE_PATH',
      `The artifact name ${printable(name)} from the artifact list cannot be used as a directory name: ${reason}. ` +
        "Nothing was downloaded; select other artifacts (pattern, artifactIds) or use 'mergeMultiple'",
      { context: { operation: 'download' }, ...(cause === undefined ? {} : { cause }) },
    );
  if (typeof name !== 'string' || name.length === 0) throw refuse('it is empty');
  const separator = [...name].find((ch) => ch === '/' || ch === '\\');
  if (separator !== undefined) throw refuse(`it contains the path separator ${describeCharacter(separator)}`);
  try {
    resolveInside(root, name, platform);
  } catch (error: unknown) {
    const prefix = `Unsafe path ${printable(name)}: `;
    const message = error instanceof Error ? error.message : String(error);
    throw refuse(message.startsWith(prefix) ? message.slice(prefix.length) : message, error);
  }
  return path.join(root, name);
}

/**
 * Why `name` could not be a directory on Windows (a reserved device name, `:`, a trailing dot or
 * space), or undefined when it could. For a warning where the name is used on another platform.
 */
export function windowsNameProblem(name: string): string | undefined {
  try {
    resolveInside('/', name, 'win32');
    return undefined;
  } catch (error: unknown) {
    const message = error instanceof Error ? error.message : String(error);
    const prefix = `Unsafe path ${printable(name)}: `;
    return message.startsWith(prefix) ? message.slice(prefix.length) : message;
  }
}
