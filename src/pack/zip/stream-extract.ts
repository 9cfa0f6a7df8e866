import { chmodSync, closeSync, fstatSync, openSync, statSync, unlinkSync } from 'node:fs';
import { mkdir, open, readFile, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import { AbortError, isFerryError } from '../../core/errors.js';
import { digestRegularFile } from '../conflict.js';
import { asResourceError } from '../fs-errors.js';
import { HeldTarget, type HeldStaging } from '../held-target.js';
import { printable } from '../../core/format.js';
import { FLAG_UTF8, readZipDirectory, type ZipDirectory, type ZipEntry } from './central-directory.js';
import { withErrorContext } from './extract.js';
import {
  normalizeExtractOptions,
  throwIfAborted,
  type ExtractOptions,
  type ExtractResult,
  type Normalized,
} from './extract-options.js';
import { planEntries, readLinkTargets, unsafe, type Item } from './extract-plan.js';
import { preflight } from './extract-preflight.js';
import { checkDeclaredLimits } from './limits.js';
import { moveIntoPlace } from './place-entries.js';
import { fileMode } from './stage-entry.js';
import { NotStreamableError, STAGED_MODE, StreamStager, type StreamedEntry } from './stream-stager.js';
import { removeCreatedChain } from '../remove-created.js';
import { foldPath } from '../../core/fold-path.js';

export { NotStreamableError } from './stream-stager.js';

/**
 * Extraction while the archive streams in (results downloads, issue 12): entries are written to a
 * hidden staging directory in the target (`.ferry-staging-XXXXXX`, created through HeldTarget, so
 * nothing lands outside the target) as their bytes arrive, and nothing becomes visible until
 * {@link StreamExtraction.materialize}, which the caller runs only once the archive's digest
 * matched. `materialize` parses the central directory that arrived last, requires it to describe
 * exactly what streamed, and then applies the same planning, limits, symlink policy, preflight
 * against the target and moves into place as {@link extractZip}.
 */
export interface StreamExtraction {
  /** Bytes of the archive consumed so far. */
  readonly offset: number;
  /**
   * Feeds the next bytes, in order, as they were read (no need to join them first). Throws
   * NotStreamableError when the archive needs its end first.
   */
  write(chunks: readonly Buffer[]): Promise<void>;
  /** Forgets everything staged (a download starting over). */
  reset(): Promise<void>;
  /** Checks the central directory against what streamed, then moves the entries into place. */
  materialize(): Promise<ExtractResult>;
  /** Removes the staging directory (and a target directory created here, if still empty). Idempotent. */
  dispose(): Promise<void>;
}

const STAGING_PREFIX = '.ferry-staging-';

export async function openStreamExtraction(options: ExtractOptions): Promise<StreamExtraction> {
  const opts = normalizeExtractOptions(options);
  throwIfAborted(opts.signal);
  const createdTarget = await mkdir(opts.target, { recursive: true });
  let held: HeldTarget | undefined;
  try {
    held = HeldTarget.open(opts.target, opts.context !== undefined ? { context: opts.context } : {});
    return new Extraction(opts, held, createdTarget);
  } catch (error) {
    held?.close();
    if (createdTarget !== undefined) await removeCreatedChain(opts.target, createdTarget);
    throw withErrorContext(error, opts.context);
  }
}

class Extraction implements StreamExtraction {
  #staging: HeldStaging;
  #stager: StreamStager;
  #done = false;

  constructor(
    private readonly opts: Normalized,
    private readonly held: HeldTarget,
    private readonly createdTarget: string | undefined,
  ) {
    this.#staging = held.createStaging(STAGING_PREFIX);
    this.#stager = this.#newStager();
  }

  get offset(): number {
    return this.#stager.offset;
  }

  #newStager(): StreamStager {
    const staging = this.#staging;
    return new StreamStager((name) => staging.file(name), this.opts.limits);
  }

  async write(chunks: readonly Buffer[]): Promise<void> {
    throwIfAborted(this.opts.signal);
    try {
      await this.#stager.write(chunks);
    } catch (error) {
      throw await this.#resourceError(error);
    }
  }

  async reset(): Promise<void> {
    await this.#stager.close();
    this.#staging.remove(() => this.#stager.stagedNames());
    this.#staging = this.held.createStaging(STAGING_PREFIX);
    this.#stager = this.#newStager();
  }

  async materialize(): Promise<ExtractResult> {
    try {
      return await this.#materialize();
    } catch (error) {
      await this.dispose();
      if (this.opts.signal?.aborted && !isFerryError(error)) throw new AbortError(this.opts.signal.reason);
      throw withErrorContext(await this.#resourceError(error), this.opts.context);
    }
  }

  async #materialize(): Promise<ExtractResult> {
    const { opts } = this;
    const stager = this.#stager;
    const directoryFile = await stager.finish();
    const directory = await readDirectory(directoryFile, opts);
    if (directory.centralDirectoryOffset !== stager.tailStart) {
      throw new NotStreamableError('the central directory does not start where the entries end');
    }
    const { entries } = directory;
    const stagedIndex = matchStreamed(entries, stager.takeEntries());
    checkDeclaredLimits(entries, opts.limits);
    const plan = planEntries(entries, opts);
    const staging = this.#staging;
    const stagingName = foldPath(staging.name);
    if (plan.items.some((i) => foldPath(i.key.split('/')[0] ?? '') === stagingName)) {
      throw unsafe(`The archive contains an entry under ${printable(staging.name)}, the staging directory`);
    }
    const stagedFile = (entry: ZipEntry): string =>
      staging.file(String(stagedIndex(entry.localHeaderOffset)));
    const stagedPath = (item: Item): string => stagedFile(item.entry);
    // Link texts are at most 4096 bytes (checked before reading): the only entry data read back.
    const linkWalks = await readLinkTargets(plan, (entry) => readFile(stagedFile(entry)), opts.signal);
    throwIfAborted(opts.signal);
    await preflight(
      plan,
      opts,
      linkWalks,
      async (entry) => (await digestRegularFile(stagedFile(entry)))?.sha256 ?? '',
    );
    await this.#applyKinds(plan.items, stagedPath);
    throwIfAborted(opts.signal);
    const result = await moveIntoPlace(plan, opts, this.held, stagedPath);
    this.#done = true;
    await this.dispose();
    return result;
  }

  /**
   * Staged files were created {@link STAGED_MODE} (0666) under the umask. Each gets the mode the
   * file extractor would have created it with: the archive's permission bits under the umask
   * (0666 when modes are not restored). Only files whose mode differs are changed, synchronously:
   * an archive of ordinary 0644 files costs no call at all, where one asynchronous chmod per file
   * was a thread-pool round trip each (10,000 of them for 10,000 small files). Link entries kept
   * as links (symlinks: 'preserve') become links.
   */
  async #applyKinds(items: readonly Item[], stagedPath: (item: Item) => string): Promise<void> {
    let staged: number | undefined;
    let allowed: number | undefined;
    for (const item of items) {
      if (item.kind === 'directory') continue;
      const file = stagedPath(item);
      if (item.kind === 'link') {
        await unlink(file);
        await symlink(item.linkText as string, file);
        continue;
      }
      staged ??= statSync(file).mode & 0o777;
      const wanted = fileMode(item, this.opts) ?? 0o666;
      // Bits within 0666 the umask allows are those of the staged file; execute bits need the
      // umask itself, learnt once from a probe file created 0777.
      if ((wanted & ~STAGED_MODE) !== 0) allowed ??= this.#umaskAllows();
      const mode = (wanted & staged) | (wanted & ~STAGED_MODE & (allowed ?? 0));
      if (mode !== staged) chmodSync(file, mode);
    }
  }

  /** The permission bits the umask lets a new file have: a probe created 0777 in the staging. */
  #umaskAllows(): number {
    const probe = this.#staging.file('umask-probe');
    const fd = openSync(probe, 'wx', 0o777);
    try {
      return fstatSync(fd).mode & 0o777;
    } finally {
      closeSync(fd);
      unlinkSync(probe);
    }
  }

  async #resourceError(error: unknown): Promise<unknown> {
    if (error instanceof NotStreamableError) return error;
    return asResourceError(error, {
      context: this.opts.context,
      // The staging is removed because of the failure: what it holds counts as free in the target.
      removedOnFailure: path.join(this.opts.target, this.#staging.name),
      neededBytes: this.#stager.bytesToStage,
    });
  }

  async dispose(): Promise<void> {
    await this.#stager.close();
    this.#staging.remove(() => this.#stager.stagedNames());
    this.held.close();
    // Only empty directories are removed, so this never undoes placed files.
    if (!this.#done && this.createdTarget !== undefined) {
      await removeCreatedChain(this.opts.target, this.createdTarget);
    }
  }
}

/** Parses the central directory that streamed in (any fault: the archive is read again from its end). */
async function readDirectory(file: string, opts: Normalized): Promise<ZipDirectory> {
  const handle = await open(file, 'r');
  try {
    const directory = await readZipDirectory(handle, { maxEntries: opts.limits.maxEntries });
    if (directory.prefixBytes !== 0)
      throw new NotStreamableError('the archive has bytes before its first entry');
    return directory;
  } catch (error) {
    if (error instanceof NotStreamableError) throw error;
    throw new NotStreamableError(`its central directory does not parse (${(error as Error).message})`);
  } finally {
    await handle.close();
  }
}

/**
 * The central directory must describe exactly the entries that streamed, at the same offsets,
 * with the same names, methods, CRCs and sizes, and start where they ended. Returns the staged
 * index (the position in the stream) of the entry at a local header offset.
 *
 * The entries streamed in archive order, so their offsets increase: an entry is found by binary
 * search and each is marked once in a byte per entry, where a map and a set of 100,000 entries
 * (and a pair array per entry to build the map) were ~8 MiB live at the download's peak and more
 * in garbage (issue 12 item 5). Only the offsets are kept afterwards, in one typed array.
 */
function matchStreamed(
  entries: readonly ZipEntry[],
  streamed: readonly StreamedEntry[],
): (offset: number) => number {
  const offsets = new Float64Array(streamed.length);
  for (const [index, entry] of streamed.entries()) offsets[index] = entry.offset;
  const indexOf = (offset: number): number => {
    let low = 0;
    let high = offsets.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const candidate = offsets[middle] as number;
      if (candidate === offset) return middle;
      if (candidate < offset) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  };
  const differs = (why: string): NotStreamableError =>
    new NotStreamableError(`the central directory does not match the local headers (${why})`);
  if (entries.length !== streamed.length) {
    throw differs(`${entries.length} entries listed, ${streamed.length} streamed`);
  }
  const seen = new Uint8Array(streamed.length);
  for (const entry of entries) {
    const index = indexOf(entry.localHeaderOffset);
    if (index < 0 || seen[index] === 1) throw differs(`no entry at offset ${entry.localHeaderOffset}`);
    seen[index] = 1;
    const local = streamed[index] as StreamedEntry;
    const same =
      local.name === entry.name &&
      local.method === entry.method &&
      (local.flags & FLAG_UTF8) === (entry.flags & FLAG_UTF8) &&
      local.crc32 === entry.crc32 &&
      local.compressedSize === entry.compressedSize &&
      local.uncompressedSize === entry.uncompressedSize;
    if (!same) throw differs(`entry ${printable(entry.name)}`);
    // One string for both: the two equal copies of every name were ~5 MiB at 100,000 entries.
    entry.name = local.name;
  }
  return (offset) => {
    const index = indexOf(offset);
    if (index < 0) throw differs(`no entry at offset ${offset}`);
    return index;
  };
}
