import type { ErrorContext } from '../../core/errors.js';
import { FerryError } from '../../core/errors.js';
import { compareExisting, conflictError, type ConflictPolicy } from '../../pack/conflict.js';
import { HeldTarget } from '../../pack/held-target.js';
import { printable } from '../../core/format.js';
import type { VerifiedBlob } from '../backend.js';

/** Moves a downloaded raw (non-zip, or not extracted) artifact file into `target` under `conflict`. */
export async function placeRawFile(
  blob: Pick<VerifiedBlob, 'file' | 'size' | 'sha256'>,
  fileName: string,
  target: string,
  conflict: ConflictPolicy,
  context: ErrorContext,
): Promise<boolean> {
  const held = HeldTarget.open(target, { context });
  try {
    const existing = held.lstatEntry(fileName);
    if (existing?.isDirectory()) {
      throw new FerryError(
        'ERR_FERRY_INVALID_PATH',
        `Cannot save '${fileName}': a directory of that name exists in ${target}`,
        { context },
      );
    }
    let placed = false;
    if (conflict === 'overwrite') {
      // rename replaces a symlink at the destination instead of writing through it.
      held.renameIn(blob.file, fileName);
      placed = true;
    } else if (existing === undefined) {
      // Never replaces a file another writer put there since the lstat.
      placed = await held.linkIn(blob.file, fileName);
    }
    if (!placed && conflict === 'error') {
      const state = await compareExisting(held.entry(fileName), {
        size: blob.size,
        sha256: () => blob.sha256,
      });
      if (state !== 'identical') throw conflictError(fileName, printable(target), context);
    }
    return placed;
  } finally {
    held.close();
  }
}
