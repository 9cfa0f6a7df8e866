import { mkdir, open } from 'node:fs/promises';
import { addErrorContext, AbortError, isFerryError, type ErrorContext } from '../../core/errors.js';
import { asResourceError } from '../fs-errors.js';
import { HeldTarget, type HeldStaging } from '../held-target.js';
import { MAX_NAME_BYTES } from '../name-limits.js';
import { CooperativeYield } from '../small-files.js';
import { printable } from '../../core/format.js';
import { runPool } from '../../core/pool.js';
import { readZipDirectory } from './central-directory.js';
import {
  normalizeExtractOptions,
  throwIfAborted,
  type ExtractOptions,
  type ExtractResult,
  type Normalized,
} from './extract-options.js';
import { planEntries, readLinkTargets, unsafe, type Item } from './extract-plan.js';
import { entrySha256, preflight } from './extract-preflight.js';
import { readEntryBuffer } from './entry-reader.js';
import { checkDeclaredLimits } from './limits.js';
import { moveIntoPlace } from './place-entries.js';
import { isSmallEntry, stage, stageSmallSync } from './stage-entry.js';
import { removeCreatedChain } from '../remove-created.js';
import { foldPath } from '../../core/fold-path.js';

export type { ExtractOptions, ExtractResult } from './extract-options.js';
export { PartialExtractionError } from './place-entries.js';

/**
 * Safe zip extraction (reliability plan §5 A1–A13, D35).
 *
 * 1. The central directory is read from the end of the file (never the local headers in sequence).
 * 2. First pass, before anything is written: limits (entry count, declared total, per-entry ratio),
 *    every name (`resolveInside`, 4096-byte names, 255-byte segments), duplicates, case or Unicode
 *    normalisation collisions (they would overwrite each other on macOS/Windows), file-versus-
 *    directory conflicts, the symlink policy, and the current state of the target (symlinks on the
 *    way, a directory where a file goes, `existing: 'error'`: an existing file is compared by size,
 *    then CRC-32 and SHA-256, streamed, and only a file with different content is an error).
 * 3. Every entry is written into a staging directory inside the target (`.ferry-extract-XXXXXX`),
 *    its size and CRC-32 verified, at most `concurrency` at a time.
 * 4. Only then are entries renamed into place. `rename` replaces an existing file or symlink at the
 *    destination as a directory entry; it never writes through a link.
 *
 * Error codes: names, paths, links and collisions → `ERR_FERRY_UNSAFE_PATH`; structure, CRC, sizes,
 * limits and unsupported features → `ERR_FERRY_INTEGRITY`; something already in the target that
 * conflicts → `ERR_FERRY_CONFLICT`; bad options → `ERR_FERRY_INVALID_OPTION`.
 */

/** The longest entry name accepted, in UTF-8 bytes (the legacy download's limit too). */
export const MAX_ENTRY_NAME_BYTES = MAX_NAME_BYTES;
const STAGING_PREFIX = '.ferry-extract-';

/**
 * Extracts the zip FILE at `zipPath` (already downloaded and digest-verified) into
 * `options.targetDirectory`. Nothing is written outside it; on failure before the final moves the
 * target is left exactly as it was (a target directory created here is removed again).
 */
export async function extractZip(zipPath: string, options: ExtractOptions): Promise<ExtractResult> {
  const opts = normalizeExtractOptions(options);
  try {
    return await extractNormalized(zipPath, opts);
  } catch (error) {
    throw withErrorContext(error, opts.context);
  }
}

/**
 * The same error with `context` added (so its message names, say, the download and the artifact
 * besides the entry), keeping its class, code, retryability, cause and stack. Errors that already
 * name an operation, artifact or file, and anything that is not a Ferry error, pass unchanged.
 */
export function withErrorContext(error: unknown, context: ErrorContext | undefined): unknown {
  if (context === undefined || !isFerryError(error)) return error;
  const own = error.context;
  if (own.operation !== undefined || own.artifactName !== undefined || own.file !== undefined) return error;
  return addErrorContext(error, context);
}

async function extractNormalized(zipPath: string, opts: Normalized): Promise<ExtractResult> {
  const { target, signal } = opts;
  throwIfAborted(signal);
  const handle = await open(zipPath, 'r');
  try {
    const directory = await readZipDirectory(handle, {
      maxEntries: opts.limits.maxEntries,
      label: printable(zipPath),
    });
    checkDeclaredLimits(directory.entries, opts.limits);
    const plan = planEntries(directory.entries, opts);
    const dataLimit = directory.centralDirectoryOffset;

    const linkWalks = await readLinkTargets(
      plan,
      (entry) => readEntryBuffer(handle, entry, dataLimit),
      signal,
    );
    throwIfAborted(signal);
    await preflight(plan, opts, linkWalks, (entry) => entrySha256(handle, entry, dataLimit));

    const createdTarget = await mkdir(target, { recursive: true });
    let held: HeldTarget | undefined;
    let staging: HeldStaging | undefined;
    try {
      // From here on the target is held open: a directory in it swapped for a link (by anyone
      // who can write into it) cannot redirect the staging writes or the moves into place.
      held = HeldTarget.open(target);
      staging = held.createStaging(STAGING_PREFIX);
      const stagingName = foldPath(staging.name);
      if (plan.items.some((i) => foldPath(i.key.split('/')[0] ?? '') === stagingName)) {
        throw unsafe(`The archive contains an entry under ${printable(staging.name)}, the staging directory`);
      }
      const stagingDir = staging;
      const stagedPath = (item: Item): string => stagingDir.file(String(item.index));

      // Small files first, one after the other on the main thread (no thread-pool round trips);
      // the rest streamed, `concurrency` at a time.
      const turns = new CooperativeYield();
      const rest: Item[] = [];
      for (const item of plan.items) {
        if (!isSmallEntry(item)) {
          rest.push(item);
          continue;
        }
        throwIfAborted(signal);
        stageSmallSync(handle.fd, item, stagedPath(item), dataLimit, opts);
        opts.onEntry?.({ name: item.entry.name, size: item.entry.uncompressedSize });
        await turns.maybeYield();
      }
      await runPool(rest, opts.concurrency, async (item) => {
        throwIfAborted(signal);
        if (item.kind !== 'directory') await stage(handle, item, stagedPath(item), dataLimit, opts);
        opts.onEntry?.({ name: item.entry.name, size: item.entry.uncompressedSize });
      });
      throwIfAborted(signal);

      return await moveIntoPlace(plan, opts, held, stagedPath);
    } catch (error) {
      staging?.remove();
      staging = undefined;
      held?.close();
      held = undefined;
      // Only empty directories are removed, so this never undoes a partial move.
      if (createdTarget !== undefined) await removeCreatedChain(target, createdTarget);
      if (signal?.aborted && !isFerryError(error)) throw new AbortError(signal.reason);
      // Disk full or out of descriptors while staging: typed, with the bytes the archive needs.
      throw await asResourceError(error, {
        context: opts.context,
        directory: target,
        neededBytes: plan.items.reduce(
          (sum, i) => sum + (i.kind === 'file' ? i.entry.uncompressedSize : 0),
          0,
        ),
        concurrency: opts.concurrency,
      });
    } finally {
      staging?.remove();
      held?.close();
    }
  } finally {
    await handle.close();
  }
}
