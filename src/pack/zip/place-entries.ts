import { FerryError, isFerryError, type ErrorContext } from '../../core/errors.js';
import { compareExisting, conflictError, digestRegularFile } from '../conflict.js';
import { parentKey, type HeldTarget } from '../held-target.js';
import { printable } from '../../core/format.js';
import { throwIfAborted, type ExtractResult, type Normalized } from './extract-options.js';
import { conflict, type Item, type Plan } from './extract-plan.js';

/**
 * Moving into place failed after some entries were already moved (rare: a race with another
 * process, or a permission problem the pre-check could not see). `moved` lists them.
 */
export class PartialExtractionError extends FerryError {
  override name = 'PartialExtractionError';
  constructor(
    code: FerryError['code'],
    message: string,
    readonly moved: readonly string[],
    readonly createdDirectories: readonly string[],
    cause: unknown,
    context?: ErrorContext,
  ) {
    super(code, message, { cause, context });
  }
}

/**
 * Creates the directories, then renames the staged entries into place, one after the other, each
 * relative to its held parent directory (see HeldTarget): a directory swapped for a link meanwhile
 * either still receives the files (its descriptor holds the real directory) or, when it is first
 * opened after the swap, fails with ERR_FERRY_UNSAFE_PATH naming it.
 */
export async function moveIntoPlace(
  plan: Plan,
  options: Normalized,
  held: HeldTarget,
  stagedPath: (item: Item) => string,
): Promise<ExtractResult> {
  const { target } = options;
  const moved: string[] = [];
  const createdDirectories: string[] = [];
  let bytes = 0;
  // Directory entries are created with their archive mode (never setuid, setgid or sticky, and
  // always enterable by the owner); the kernel applies the umask.
  const modeOf = (key: string): number | undefined => {
    const mode = plan.directoryEntries.get(key)?.entry.mode;
    return options.restoreModes && mode !== undefined ? (mode & 0o777) | 0o700 : undefined;
  };
  try {
    for (const key of plan.directories) createdDirectories.push(...held.ensureDirectory(key, modeOf));
    // Nothing can be in a directory this call created, so its files skip the lstat.
    const fresh = new Set(createdDirectories);
    for (const [parent, group] of byParent(plan.items))
      for (const item of group) {
        throwIfAborted(options.signal);
        const staged = stagedPath(item);
        const stats = fresh.has(parent) ? undefined : held.lstatEntry(item.key);
        if (stats?.isDirectory()) {
          throw conflict(`${printable(item.key)} exists in the target directory as a directory`);
        }
        // Under 'error' and 'skip' a file must not replace one that another writer put there since
        // the check, so it is placed with link(2), which fails with EEXIST instead of replacing.
        let placed = false;
        if (options.existing === 'overwrite' || (item.kind === 'link' && stats === undefined)) {
          // rename(2) replaces whatever is at the destination (a file or a symlink) as a directory
          // entry; it never follows a link there.
          held.renameIn(staged, item.key);
          placed = true;
        } else if (stats === undefined && item.kind !== 'link') {
          placed = await held.linkIn(staged, item.key);
        }
        if (placed) {
          moved.push(item.key);
          bytes += item.entry.uncompressedSize;
          continue;
        }
        if (options.existing === 'skip') continue;
        // 'error', and the file appeared since the preflight: identical bytes are fine.
        const state =
          item.kind === 'link'
            ? 'different'
            : await compareExisting(held.entry(item.key), {
                size: item.entry.uncompressedSize,
                crc32: item.entry.crc32,
                sha256: async () => (await digestRegularFile(staged))?.sha256 ?? '',
              });
        if (state !== 'identical') throw conflictError(item.key, 'the target directory');
      }
  } catch (error) {
    // Directories created here that stayed empty are removed again; the rest are reported.
    const remaining: string[] = [];
    for (const key of [...createdDirectories].reverse()) {
      if (!held.removeEmptyDirectory(key)) remaining.unshift(key);
    }
    if (moved.length === 0 && remaining.length === 0) throw error;
    const shown = moved.slice(0, 10).map((k) => printable(k));
    const more = moved.length > 10 ? ` and ${moved.length - 10} more` : '';
    throw new PartialExtractionError(
      isFerryError(error) ? error.code : 'ERR_FERRY_CONFLICT',
      `Extraction into ${printable(target)} failed while moving entries into place: ${(error as Error).message}. ` +
        `Already moved: ${moved.length} file(s)${shown.length ? ` (${shown.join(', ')}${more})` : ''}, ` +
        `${remaining.length} new director${remaining.length === 1 ? 'y' : 'ies'}; ` +
        'the target is partially updated',
      moved,
      remaining,
      error,
    );
  }
  return { files: moved.length, directories: plan.directories.length, bytes };
}

/**
 * The files to place (no directories, nothing skipped) grouped by parent key, in the order the
 * parents first appear, each group in archive order. HeldTarget keeps a bounded number of
 * directory descriptors (16): an archive that lists its files across more directories than that
 * in turn (`d0/f0, d1/f1, ..., d99/f99, d0/f100, ...`, as some zip tools write them) made every
 * placement reopen its parent, 20,510 openat for 10,000 files; grouped, each parent is opened
 * once. Keys are unique in a plan, so the order of placing changes nothing else. The groups are
 * walked where they are used: a generator yielding a pair per file allocated two objects per file,
 * which V8 took to allocating straight into the old generation.
 */
function byParent(items: readonly Item[]): Map<string, Item[]> {
  const groups = new Map<string, Item[]>();
  for (const item of items) {
    if (item.kind === 'directory' || item.skip === true) continue;
    const parent = parentKey(item.key);
    const group = groups.get(parent);
    if (group === undefined) groups.set(parent, [item]);
    else group.push(item);
  }
  return groups;
}
