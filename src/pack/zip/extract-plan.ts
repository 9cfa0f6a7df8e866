import path from 'node:path';
import { FerryError, IntegrityError } from '../../core/errors.js';
import { foldPath } from '../../core/fold-path.js';
import { checkNameBytes, checkPathLengths } from '../name-limits.js';
import { resolveInside } from '../safe-path.js';
import { describeCharacter, isControlCharacter, printable } from '../../core/format.js';
import type { ZipEntry } from './central-directory.js';
import { throwIfAborted, type Normalized } from './extract-options.js';

/**
 * The first pass of an extraction, before anything is written: every entry's name, kind and
 * destination, duplicates and collisions, the directories to create, and the symlink policy.
 */

/** The longest symlink text accepted with `symlinks: 'preserve'`. */
const MAX_LINK_BYTES = 4096;
const LINK_TEXT = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * One entry to extract. `key` is the normalised relative path with `/` separators; its absolute
 * path is `toAbsolute(target, key)`, computed where needed rather than kept: 100,000 absolute
 * paths were ~10 MiB live while a download placed its files (issue 12 item 5).
 */
export interface Item {
  entry: ZipEntry;
  index: number;
  key: string;
  kind: 'file' | 'directory' | 'link';
  linkText?: string;
  skip?: boolean;
}

export interface Plan {
  items: Item[];
  /** Every directory to ensure (explicit and implied), parents before children. */
  directories: string[];
  /** Keys of the directory entries (their modes are restored). */
  directoryEntries: Map<string, Item>;
}

export function unsafe(message: string): IntegrityError {
  return new IntegrityError('ERR_FERRY_UNSAFE_PATH', message);
}

export function conflict(message: string): FerryError {
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

export function toAbsolute(target: string, key: string): string {
  return path.join(target, ...key.split('/'));
}

/**
 * The `/`-separated path of `dest` (inside `target`) relative to `target`: sliced out of `dest`
 * when it starts with the target, as it does whenever the target is absolute and normal. An
 * entry's path.relative resolved both paths again, and with the split and join it was most of
 * the garbage the plan of a 100,000-entry archive made (issue 12 item 5).
 */
function keyOf(target: string, targetPrefix: string, dest: string): string {
  const relative = dest.startsWith(targetPrefix)
    ? dest.slice(targetPrefix.length)
    : path.relative(target, dest);
  return path.sep === '/' ? relative : relative.split(path.sep).join('/');
}

/** The first pass: names, duplicates, collisions and the symlink policy. Writes nothing. */
export function planEntries(entries: readonly ZipEntry[], options: Normalized): Plan {
  const { target } = options;
  const items: Item[] = [];
  const byFolded = new Map<string, Item>();
  const targetPrefix = target.endsWith(path.sep) ? target : `${target}${path.sep}`;
  for (const [index, entry] of entries.entries()) {
    checkNameBytes(entry.name);
    if (entry.isDirectory && namesRoot(entry.name)) continue;
    const dest = resolveInside(target, entry.name);
    const sliced = keyOf(target, targetPrefix, dest);
    checkPathLengths(entry.name, sliced, dest);
    // A slice of `dest` keeps all of `dest` alive; an archive's names are usually their keys already.
    const key = sliced === entry.name ? entry.name : sliced;
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
    const item: Item = { entry, index, key, kind };
    const folded = foldPath(key);
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
  /** The parent whose ancestors were checked last: every entry of one directory has the same ones. */
  let checkedParent: string | undefined;
  for (const item of items) {
    if (item.kind === 'directory') {
      directoryEntries.set(item.key, item);
      directories.set(item.key, item.key);
    }
    const slash = item.key.lastIndexOf('/');
    if (slash < 0) continue;
    // Checked once per run of entries in one directory (archives list them together): the split,
    // slices and joins of every entry's ancestors, with fold's copies, were ~80 MiB of garbage
    // for 100,000 entries.
    if (checkedParent !== undefined && slash === checkedParent.length && item.key.startsWith(checkedParent)) {
      continue;
    }
    checkedParent = item.key.slice(0, slash);
    for (const ancestor of ancestors(item.key)) {
      const holder = byFolded.get(foldPath(ancestor));
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
    if (!last && linkKeys.has(foldPath(key))) {
      throw bad(`it passes through the symbolic link entry ${printable(key)}`);
    }
  }
  return visited;
}

/**
 * `symlinks: 'preserve'`: reads each link entry's text (bounded, valid UTF-8), checks where it
 * leads, and returns the paths the link walks visit (the preflight checks them in the target).
 */
export async function readLinkTargets(
  plan: Plan,
  /** Reads an entry's verified bytes (only link entries, bounded by MAX_LINK_BYTES, are asked). */
  readEntry: (entry: ZipEntry) => Promise<Buffer>,
  signal: AbortSignal | undefined,
): Promise<string[]> {
  const linkKeys = new Set(plan.items.filter((i) => i.kind === 'link').map((i) => foldPath(i.key)));
  const linkWalks: string[] = [];
  for (const item of plan.items) {
    if (item.kind !== 'link') continue;
    throwIfAborted(signal);
    if (item.entry.uncompressedSize > MAX_LINK_BYTES) {
      throw unsafe(
        `Symbolic link entry ${printable(item.entry.name)} is refused: its link text is ${item.entry.uncompressedSize} bytes long`,
      );
    }
    const raw = await readEntry(item.entry);
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
  return linkWalks;
}
