import { checkNameBytes, checkPathLengths, MAX_NAME_BYTES } from '../name-limits.js';
import { lstat, mkdir, open, rmdir, stat, symlink, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import {
  addErrorContext,
  AbortError,
  FerryError,
  IntegrityError,
  ValidationError,
  isFerryError,
  type ErrorContext,
} from '../../core/errors.js';
import { compareExisting, conflictError, digestRegularFile } from '../conflict.js';
import { asResourceError } from '../fs-errors.js';
import { HeldTarget, type HeldStaging } from '../held-target.js';
import { assertNoSymlinkInPath, resolveInside } from '../safe-path.js';
import { describeCharacter, isControlCharacter, printable } from '../validate.js';
import { readZipDirectory, type ZipEntry } from './central-directory.js';
import { openEntryStreamOnHandle, readEntryBuffer } from './entry-reader.js';
import { checkDeclaredLimits, normalizeLimits, type ExtractLimits } from './limits.js';

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

export interface ExtractOptions {
  /**
   * Final directory; created if missing. Nothing outside it is ever written.
   * @example 'artifacts/build-output'
   */
  targetDirectory: string;
  /** Zip-bomb limits; unspecified fields keep their defaults. @default DEFAULT_EXTRACT_LIMITS */
  limits?: Partial<ExtractLimits>;
  /**
   * Restore unix modes from external attributes: files get `mode & 0o777` (never setuid, setgid or
   * sticky), directories `(mode & 0o777) | 0o700` so the owner can always continue.
   * @default true
   */
  restoreModes?: boolean;
  /**
   * Symlink entries: `'refuse'` (an error naming the entry), `'file'` (write the link text as a
   * regular file), or `'preserve'` (create the link only if its target, resolved from the link's
   * directory, stays inside `targetDirectory` without passing through another link; else an error).
   * @default 'refuse'
   */
  symlinks?: 'refuse' | 'file' | 'preserve';
  /**
   * A file that already exists at a destination: `'overwrite'` (replace it; a symlink there is
   * replaced, never written through), `'error'` (fail, before anything is written, if its content
   * differs; a file with identical bytes is left as it is), or `'skip'` (keep it). A symlink is
   * never read to compare: under `'error'` it always conflicts. Existing directories are always
   * merged into; a directory where a file goes (or the reverse) is always an error.
   * @default 'overwrite'
   */
  existing?: 'overwrite' | 'error' | 'skip';
  /** Aborts the extraction and removes the staging directory. Not honoured once moving into place started. */
  signal?: AbortSignal;
  /** Called once per entry after it has been written to staging and verified. */
  onEntry?: (info: { name: string; size: number }) => void;
  /** Max entries being written at once (bounded file descriptors). @default 8 */
  concurrency?: number;
  /**
   * Where the archive came from, e.g. `{ operation: 'download', artifactName: 'dist' }`. Every
   * Ferry error thrown carries it, so its message names the operation and the artifact as well
   * as the entry.
   */
  context?: ErrorContext;
}

export interface ExtractResult {
  /** Files (and links) moved into the target; files left as they were (skipped, or identical under `existing: 'error'`) are not counted. */
  files: number;
  /** Distinct directories in the archive: explicit entries and implied parents. */
  directories: number;
  /** Uncompressed bytes of the files moved into the target. */
  bytes: number;
}

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

const OPTION_KEYS = [
  'targetDirectory',
  'limits',
  'restoreModes',
  'symlinks',
  'existing',
  'signal',
  'onEntry',
  'concurrency',
  'context',
] as const;

/** The longest entry name accepted, in UTF-8 bytes (the legacy download's limit too). */
export const MAX_ENTRY_NAME_BYTES = MAX_NAME_BYTES;
/** Entries up to this size are read, inflated and verified in memory (fewer syscalls). */
const IN_MEMORY_BYTES = 1024 * 1024;
/** The longest symlink text accepted with `symlinks: 'preserve'`. */
const MAX_LINK_BYTES = 4096;
const STAGING_PREFIX = '.ferry-extract-';
const LINK_TEXT = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

interface Normalized {
  target: string;
  limits: ExtractLimits;
  restoreModes: boolean;
  symlinks: 'refuse' | 'file' | 'preserve';
  existing: 'overwrite' | 'error' | 'skip';
  signal: AbortSignal | undefined;
  onEntry: ((info: { name: string; size: number }) => void) | undefined;
  concurrency: number;
  context: ErrorContext | undefined;
}

function invalid(option: string, message: string): ValidationError {
  return new ValidationError('ERR_FERRY_INVALID_OPTION', `Option '${option}': ${message}`, { option });
}

function oneOf<T extends string>(option: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalid(option, `expected one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${String(value)}`);
  }
  return value as T;
}

function normalizeOptions(options: ExtractOptions): Normalized {
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError('ERR_FERRY_INVALID_OPTION', 'extractZip: options must be an object');
  }
  for (const key of Object.keys(options)) {
    if (!(OPTION_KEYS as readonly string[]).includes(key)) {
      throw invalid(key, `unknown option; expected one of ${OPTION_KEYS.join(', ')}`);
    }
  }
  if (typeof options.targetDirectory !== 'string' || options.targetDirectory.length === 0) {
    throw invalid('targetDirectory', 'must be a non-empty string');
  }
  if (options.restoreModes !== undefined && typeof options.restoreModes !== 'boolean') {
    throw invalid('restoreModes', 'must be a boolean');
  }
  const concurrency = options.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw invalid('concurrency', `must be a positive integer, got ${String(concurrency)}`);
  }
  if (options.onEntry !== undefined && typeof options.onEntry !== 'function') {
    throw invalid('onEntry', 'must be a function');
  }
  if (options.context !== undefined && (typeof options.context !== 'object' || options.context === null)) {
    throw invalid('context', 'must be an object');
  }
  return {
    target: path.resolve(options.targetDirectory),
    limits: normalizeLimits(options.limits),
    restoreModes: options.restoreModes ?? true,
    symlinks: oneOf('symlinks', options.symlinks, ['refuse', 'file', 'preserve'], 'refuse'),
    existing: oneOf('existing', options.existing, ['overwrite', 'error', 'skip'], 'overwrite'),
    signal: options.signal,
    onEntry: options.onEntry,
    concurrency,
    context: options.context,
  };
}

/** One entry to extract. `key` is the normalised relative path with `/` separators. */
interface Item {
  entry: ZipEntry;
  index: number;
  key: string;
  dest: string;
  kind: 'file' | 'directory' | 'link';
  linkText?: string;
  skip?: boolean;
}

interface Plan {
  items: Item[];
  /** Every directory to ensure (explicit and implied), parents before children. */
  directories: string[];
  /** Keys of the directory entries (their modes are restored). */
  directoryEntries: Map<string, Item>;
}

function unsafe(message: string): IntegrityError {
  return new IntegrityError('ERR_FERRY_UNSAFE_PATH', message);
}

function conflict(message: string): FerryError {
  return new FerryError('ERR_FERRY_CONFLICT', message);
}

/** `./`, `.//./`: a directory entry naming the target itself, harmless and skipped. */
function namesRoot(name: string): boolean {
  const normalized = name.replace(/\\/g, '/');
  return (
    normalized !== '' &&
    !normalized.startsWith('/') &&
    normalized.split('/').every((s) => s === '' || s === '.')
  );
}

/** Case and Unicode normalisation folding: keys equal here collide on macOS and Windows. */
function fold(key: string): string {
  return key.normalize('NFC').toLowerCase();
}

function ancestors(key: string): string[] {
  const parts = key.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}

function depth(key: string): number {
  let n = 0;
  for (const ch of key) if (ch === '/') n++;
  return n;
}

function toAbsolute(target: string, key: string): string {
  return path.join(target, ...key.split('/'));
}

/** The first pass: names, duplicates, collisions and the symlink policy. Writes nothing. */
function planEntries(entries: readonly ZipEntry[], options: Normalized): Plan {
  const { target } = options;
  const items: Item[] = [];
  const byFolded = new Map<string, Item>();
  for (const [index, entry] of entries.entries()) {
    checkNameBytes(entry.name);
    if (entry.isDirectory && namesRoot(entry.name)) continue;
    const dest = resolveInside(target, entry.name);
    const key = path.relative(target, dest).split(path.sep).join('/');
    checkPathLengths(entry.name, key, dest);
    let kind: Item['kind'] = entry.isDirectory ? 'directory' : 'file';
    if (entry.isSymlink) {
      if (options.symlinks === 'refuse') {
        throw unsafe(
          `Entry ${printable(entry.name)} is a symbolic link; links are refused by default. ` +
            `Set option 'symlinks' to 'file' (write the link text as a file) or 'preserve' (create links that stay inside the target)`,
        );
      }
      if (options.symlinks === 'preserve') kind = 'link';
    }
    const item: Item = { entry, index, key, dest, kind };
    const folded = fold(key);
    const prior = byFolded.get(folded);
    if (prior !== undefined) {
      if (prior.key !== key) {
        throw unsafe(
          `Entries ${printable(prior.entry.name)} and ${printable(entry.name)} differ only in letter case or Unicode normalisation; ` +
            'they would overwrite each other on a case-insensitive file system (macOS, Windows), so the archive is rejected',
        );
      }
      if ((prior.kind === 'directory') !== (kind === 'directory')) {
        throw unsafe(`Entry ${printable(key)} appears both as a file and as a directory in the archive`);
      }
      throw unsafe(`Duplicate entry ${printable(key)}: the archive contains it more than once`);
    }
    byFolded.set(folded, item);
    items.push(item);
  }

  // A file (or link) cannot also be a directory on the way to another entry. Links are included:
  // an entry under a link would be written through it.
  const directories = new Map<string, string>();
  const directoryEntries = new Map<string, Item>();
  for (const item of items) {
    if (item.kind === 'directory') {
      directoryEntries.set(item.key, item);
      directories.set(item.key, item.key);
    }
    for (const ancestor of ancestors(item.key)) {
      const holder = byFolded.get(fold(ancestor));
      if (holder !== undefined && holder.kind !== 'directory') {
        throw unsafe(
          `Entry ${printable(holder.entry.name)} is a ${holder.kind === 'link' ? 'symbolic link' : 'file'}, ` +
            `but entry ${printable(item.entry.name)} needs it to be a directory`,
        );
      }
      if (!directories.has(ancestor)) directories.set(ancestor, ancestor);
    }
  }
  const sortedDirectories = [...directories.keys()].sort((a, b) => depth(a) - depth(b));
  return { items, directories: sortedDirectories, directoryEntries };
}

/**
 * `symlinks: 'preserve'`: the link text, walked from the link's directory, must never climb above
 * the target and must not pass through another link (archive or pre-existing), so that the lexical
 * resolution checked here is the one the file system will do. Returns the paths the walk visits.
 */
function checkLinkTarget(item: Item, text: string, linkKeys: ReadonlySet<string>): string[] {
  const bad = (reason: string): IntegrityError =>
    unsafe(`Symbolic link entry ${printable(item.entry.name)} -> ${printable(text)} is refused: ${reason}`);
  if (text.length === 0) throw bad('the link text is empty');
  for (const ch of text) {
    if (isControlCharacter(ch.codePointAt(0) ?? 0)) {
      throw bad(`the link text contains the control character ${describeCharacter(ch)}`);
    }
  }
  const normalized = text.replace(/\\/g, '/');
  if (normalized.startsWith('/') || /^[A-Za-z]:/.test(normalized)) {
    throw bad('absolute link targets are not allowed');
  }
  const segments = item.key.split('/').slice(0, -1);
  const visited: string[] = [];
  const parts = normalized.split('/');
  for (const [i, part] of parts.entries()) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (segments.length === 0) throw bad('it resolves outside the target directory');
      segments.pop();
      continue;
    }
    segments.push(part);
    const key = segments.join('/');
    visited.push(key);
    const last = parts.slice(i + 1).every((p) => p === '' || p === '.');
    if (!last && linkKeys.has(fold(key))) {
      throw bad(`it passes through the symbolic link entry ${printable(key)}`);
    }
  }
  return visited;
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

/** SHA-256 (hex) of an entry's verified, uncompressed bytes, streamed. */
async function entrySha256(handle: FileHandle, entry: ZipEntry, dataLimit: number): Promise<string> {
  const hash = createHash('sha256');
  const input = await openEntryStreamOnHandle(handle, entry, { dataLimit, ownsHandle: false });
  for await (const chunk of input) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Checks what already exists in the target, before anything is written: no symlink on the way to
 * any directory, no file where a directory goes and no directory where a file goes, and the
 * `existing` policy (under `'error'`, existing files are compared with the entries). Marks files
 * to skip: all existing ones under `'skip'`, identical ones under `'error'`.
 */
async function preflight(
  plan: Plan,
  options: Normalized,
  linkWalks: readonly string[],
  handle: FileHandle,
  dataLimit: number,
): Promise<void> {
  const { target } = options;
  let targetStats: Stats;
  try {
    targetStats = await stat(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!targetStats.isDirectory()) {
    throw conflict(`The target directory ${printable(target)} exists and is not a directory`);
  }
  const missing = new Set<string>();
  for (const key of plan.directories) {
    const parent = key.includes('/') ? key.slice(0, key.lastIndexOf('/')) : '';
    if (parent !== '' && missing.has(parent)) {
      missing.add(key);
      continue;
    }
    const abs = toAbsolute(target, key);
    const stats = await lstatOrUndefined(abs);
    if (stats === undefined) missing.add(key);
    else if (stats.isSymbolicLink()) await assertNoSymlinkInPath(target, abs);
    else if (!stats.isDirectory()) {
      throw conflict(
        `${printable(key)} already exists in the target directory as a file, but the archive needs a directory there`,
      );
    }
  }
  for (const item of plan.items) {
    if (item.kind === 'directory') continue;
    const parent = item.key.includes('/') ? item.key.slice(0, item.key.lastIndexOf('/')) : '';
    if (parent !== '' && missing.has(parent)) continue;
    const stats = await lstatOrUndefined(item.dest);
    if (stats === undefined) continue;
    if (stats.isDirectory()) {
      throw conflict(
        `${printable(item.key)} already exists in the target directory as a directory, but the archive has a file there`,
      );
    }
    if (options.existing === 'error') {
      throwIfAborted(options.signal);
      const state =
        item.kind === 'link'
          ? 'different'
          : await compareExisting(item.dest, {
              size: item.entry.uncompressedSize,
              crc32: item.entry.crc32,
              sha256: () => entrySha256(handle, item.entry, dataLimit),
            });
      if (state === 'directory') {
        throw conflict(
          `${printable(item.key)} already exists in the target directory as a directory, but the archive has a file there`,
        );
      }
      if (state === 'different') throw conflictError(item.key, 'the target directory');
      // Identical bytes: left as they are. (Missing: it vanished since the lstat; written as new.)
      if (state === 'identical') item.skip = true;
    }
    if (options.existing === 'skip') item.skip = true;
  }
  for (const key of linkWalks) await assertNoSymlinkInPath(target, toAbsolute(target, key));
}

/** Runs `fn` over `items` with at most `concurrency` in flight; stops taking new items after a failure. */
async function runPool<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(signal.reason);
}

/**
 * The mode to create a file with: the archive's permission bits (never setuid, setgid or sticky),
 * or undefined for the default. The file is created with it, so the kernel applies the process
 * umask (0777 under umask 022 lands as 0755), exactly as for any other file the process creates;
 * no chmod ever bypasses it.
 */
function fileMode(item: Item, options: Normalized): number | undefined {
  if (!options.restoreModes || item.entry.isSymlink || item.entry.mode === undefined) return undefined;
  return item.entry.mode & 0o777;
}

/** Writes one verified entry into the staging directory. */
async function stage(
  handle: FileHandle,
  item: Item,
  staged: string,
  dataLimit: number,
  options: Normalized,
): Promise<void> {
  if (item.kind === 'link') {
    await symlink(item.linkText as string, staged);
    return;
  }
  const { entry } = item;
  const createMode = fileMode(item, options) ?? 0o666;
  if (entry.uncompressedSize <= IN_MEMORY_BYTES && entry.compressedSize <= IN_MEMORY_BYTES) {
    const data = await readEntryBuffer(handle, entry, dataLimit);
    const out = await open(staged, 'wx', createMode);
    try {
      await out.writeFile(data);
    } finally {
      await out.close();
    }
    return;
  }
  const out = await open(staged, 'wx', createMode);
  let input;
  try {
    input = await openEntryStreamOnHandle(handle, entry, { dataLimit, ownsHandle: false });
  } catch (error) {
    await out.close();
    throw error;
  }
  await pipeline(
    input,
    out.createWriteStream({ highWaterMark: 1024 * 1024 }),
    options.signal ? { signal: options.signal } : {},
  );
}

/**
 * Extracts the zip FILE at `zipPath` (already downloaded and digest-verified) into
 * `options.targetDirectory`. Nothing is written outside it; on failure before the final moves the
 * target is left exactly as it was (a target directory created here is removed again).
 */
export async function extractZip(zipPath: string, options: ExtractOptions): Promise<ExtractResult> {
  const opts = normalizeOptions(options);
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

    const linkKeys = new Set(plan.items.filter((i) => i.kind === 'link').map((i) => fold(i.key)));
    const linkWalks: string[] = [];
    for (const item of plan.items) {
      if (item.kind !== 'link') continue;
      throwIfAborted(signal);
      if (item.entry.uncompressedSize > MAX_LINK_BYTES) {
        throw unsafe(
          `Symbolic link entry ${printable(item.entry.name)} is refused: its link text is ${item.entry.uncompressedSize} bytes long`,
        );
      }
      const raw = await readEntryBuffer(handle, item.entry, dataLimit);
      let text: string;
      try {
        text = LINK_TEXT.decode(raw);
      } catch {
        throw unsafe(
          `Symbolic link entry ${printable(item.entry.name)} is refused: its link text is not valid UTF-8`,
        );
      }
      linkWalks.push(...checkLinkTarget(item, text, linkKeys));
      item.linkText = text;
    }
    throwIfAborted(signal);
    await preflight(plan, opts, linkWalks, handle, dataLimit);

    const createdTarget = await mkdir(target, { recursive: true });
    let held: HeldTarget | undefined;
    let staging: HeldStaging | undefined;
    try {
      // From here on the target is held open: a directory in it swapped for a link (by anyone
      // who can write into it) cannot redirect the staging writes or the moves into place.
      held = HeldTarget.open(target);
      staging = held.createStaging(STAGING_PREFIX);
      const stagingName = fold(staging.name);
      if (plan.items.some((i) => fold(i.key.split('/')[0] ?? '') === stagingName)) {
        throw unsafe(`The archive contains an entry under ${printable(staging.name)}, the staging directory`);
      }
      const stagingDir = staging;
      const stagedPath = (item: Item): string => stagingDir.file(String(item.index));

      await runPool(plan.items, opts.concurrency, async (item) => {
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

/** Removes the directories `mkdir -p` created for the target, deepest first, if they are empty. */
async function removeCreatedChain(target: string, firstCreated: string): Promise<void> {
  let current = target;
  for (;;) {
    try {
      await rmdir(current);
    } catch {
      return;
    }
    if (current === firstCreated) return;
    const parent = path.dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

/**
 * Creates the directories, then renames the staged entries into place, one after the other, each
 * relative to its held parent directory (see HeldTarget): a directory swapped for a link meanwhile
 * either still receives the files (its descriptor holds the real directory) or, when it is first
 * opened after the swap, fails with ERR_FERRY_UNSAFE_PATH naming it.
 */
async function moveIntoPlace(
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
    const files = plan.items.filter((i) => i.kind !== 'directory' && i.skip !== true);
    // Nothing can be in a directory this call created, so its files skip the lstat.
    const fresh = new Set(createdDirectories);
    for (const item of files) {
      throwIfAborted(options.signal);
      const staged = stagedPath(item);
      const parent = item.key.includes('/') ? item.key.slice(0, item.key.lastIndexOf('/')) : '';
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
