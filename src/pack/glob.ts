import { lstat, opendir, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { ValidationError } from '../core/errors.js';
import { compileGlob, escapeRegex, type GlobSyntax } from './glob-compiler.js';

/**
 * upload-artifact-compatible file search (what `@actions/glob` does for `actions/upload-artifact`
 * v4+ with `implicitDescendants`, `omitBrokenSymbolicLinks` and `excludeHiddenFiles`), without a
 * dependency:
 *
 * - one pattern per line; blank lines and lines starting with `#` are ignored; surrounding
 *   whitespace is trimmed;
 * - `!pattern` excludes (each leading `!` toggles); patterns apply in order, so a later include
 *   can re-include what an earlier exclude removed;
 * - a leading `~` or `~/` is the home directory passed in `home`; relative patterns are resolved
 *   against `cwd`;
 * - `*` and `?` within one path segment, `**` as a whole segment for any number of segments,
 *   `[...]` classes (`!`/`^` negation, ranges, `[:alpha:]`-style classes), `\` escapes (POSIX);
 *   `*` matches names starting with `.` (the hidden-file rule is separate);
 * - a pattern that names a directory also selects everything beneath it (and `!dir` removes it);
 *   a trailing `/` matches directories only;
 * - hidden entries (name starting with `.`) are skipped, and hidden directories not entered, unless
 *   `includeHidden`;
 * - symlinked files are followed; symlinked directories below a search path are not descended
 *   (a link loop or a link to `/` must not turn an upload into a crawl), and broken links are
 *   skipped; both are reported;
 * - FIFOs, sockets and devices (and links to them) are skipped and reported, never opened.
 *
 * The artifact root is computed exactly as upload-artifact's `search.ts`: the least common
 * ancestor of the search paths (the literal prefix of each include pattern, those inside another
 * search path dropped); with a single search path it is that path, or its directory when the
 * pattern named exactly the one file found.
 */
export interface GlobOptions {
  /** Directory relative patterns are resolved against (the Action passes the workspace / cwd). */
  cwd: string;
  /** Home directory for `~` expansion. A pattern starting with `~` without it is an error. */
  home?: string | undefined;
  /** Include files and directories whose name starts with `.`. @default false */
  includeHidden?: boolean;
}

export interface GlobResult {
  /** Regular files (or symlinks to them), absolute, sorted. */
  files: string[];
  /** Root of the artifact: every file's artifact path is relative to it. */
  rootDirectory: string;
  /**
   * Selected directories that are empty on disk, as artifact paths ('/'-separated, relative to
   * `rootDirectory`), sorted. For the SDK's `emptyDirectories` option.
   */
  emptyDirectories: string[];
  /** The search paths (literal prefixes of the include patterns), absolute. */
  searchPaths: string[];
  /** Symlinks to directories that were selected or on the way to a match but not descended. */
  skippedSymlinkDirectories: string[];
  /** Symlinks whose target does not exist, or that loop (skipped). */
  brokenSymlinks: string[];
  /**
   * Matched FIFOs, sockets and devices, and symlinks to them: skipped, never opened (so a FIFO
   * cannot block the search or the upload). The Action warns about each.
   */
  specialFiles: string[];
}

/** A parsed segment: `**`, or a compiled matcher with its literal text when it has no wildcard. */
type Segment = { kind: 'globstar' } | { kind: 'part'; regex: RegExp; literal: string | undefined };

interface Pattern {
  negate: boolean;
  /** Matches directories only (written with a trailing `/`). */
  directoryOnly: boolean;
  segments: Segment[];
}

type EntryKind = 'file' | 'directory' | 'symlink' | 'other' | 'unknown';

type TypedEntry = Pick<
  Stats,
  'isFile' | 'isDirectory' | 'isSymbolicLink' | 'isFIFO' | 'isSocket' | 'isBlockDevice' | 'isCharacterDevice'
>;

/** The entry's type; `unknown` when a file system reports none (then it is lstat-ed). */
function kindOf(entry: TypedEntry | undefined): EntryKind {
  if (!entry) return 'other';
  if (entry.isFile()) return 'file';
  if (entry.isDirectory()) return 'directory';
  if (entry.isSymbolicLink()) return 'symlink';
  if (entry.isFIFO() || entry.isSocket() || entry.isBlockDevice() || entry.isCharacterDevice())
    return 'other';
  return 'unknown';
}

const MATCH_DIRECTORY = 1;
const MATCH_FILE = 2;
const MATCH_ALL = MATCH_DIRECTORY | MATCH_FILE;

const IS_WINDOWS = process.platform === 'win32';

/** Splits the multi-line `path` input into pattern lines (trimmed, no blanks or `#` comments). */
export function patternLines(input: string): string[] {
  return input
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** Searches the file system for a multi-line pattern input; see the module comment. */
export async function globFiles(
  input: string | readonly string[],
  options: GlobOptions,
): Promise<GlobResult> {
  const lines = typeof input === 'string' ? patternLines(input) : input.flatMap((l) => patternLines(l));
  const parsed = lines.map((line) => parsePattern(line, options));
  const patterns = expandDescendants(parsed);
  const searchPaths = searchPathsOf(parsed);
  const includeHidden = options.includeHidden ?? false;

  const files = new Set<string>();
  const emptyCandidates: string[] = [];
  const skippedSymlinkDirectories: string[] = [];
  const brokenSymlinks: string[] = [];
  const specialFiles: string[] = [];

  /** Decides one entry; returns a directory to descend into, if any. */
  const visit = async (full: string, kind: EntryKind, top: boolean): Promise<string | undefined> => {
    if (!includeHidden && path.basename(full).startsWith('.')) return undefined;
    const segments = toSegments(full);
    const match = evaluate(patterns, segments);
    const partial =
      match !== 0 || patterns.some((p) => !p.negate && matchSegments(p.segments, segments, true));
    if (match === 0 && !partial) return undefined;
    if (kind === 'unknown') {
      const info = await lstat(full).catch(() => undefined);
      // Gone since the directory was read: nothing to upload or to report.
      if (!info) return undefined;
      kind = kindOf(info);
    }
    if (kind === 'symlink') {
      const target = await stat(full).catch(() => undefined);
      if (!target) {
        brokenSymlinks.push(full);
        return undefined;
      }
      kind = kindOf(target);
      if (kind === 'directory' && !top) {
        skippedSymlinkDirectories.push(full);
        return undefined;
      }
    }
    if (kind === 'file') {
      if (match & MATCH_FILE) files.add(full);
      return undefined;
    }
    // FIFOs, sockets and devices are never uploaded.
    if (kind === 'other' && match & MATCH_FILE) specialFiles.push(full);
    if (kind !== 'directory' || !partial || prunable(patterns, segments)) return undefined;
    return full;
  };

  for (const searchPath of searchPaths) {
    const start = await lstat(searchPath).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
      throw error;
    });
    if (!start) continue;
    // The search path itself was named by the user: it is followed even when it is a symlink.
    const first = await visit(searchPath, kindOf(start), true);
    const pending = first === undefined ? [] : [first];
    while (pending.length) {
      const directory = pending.pop() as string;
      let entries = 0;
      // opendir streams entries: a directory of 100,000 files costs one descriptor, not an array.
      for await (const entry of await opendir(directory)) {
        entries++;
        const next = await visit(path.join(directory, entry.name), kindOf(entry), false);
        if (next !== undefined) pending.push(next);
      }
      if (entries === 0 && evaluate(patterns, toSegments(directory)) & MATCH_DIRECTORY) {
        emptyCandidates.push(directory);
      }
    }
  }

  const sortedFiles = [...files].sort();
  const rootDirectory = rootOf(searchPaths, sortedFiles, options.cwd);
  const emptyDirectories = emptyCandidates
    .filter((dir) => dir !== rootDirectory && isInside(rootDirectory, dir))
    .map((dir) => path.relative(rootDirectory, dir).split(path.sep).join('/'))
    .sort();
  return {
    files: sortedFiles,
    rootDirectory,
    emptyDirectories,
    searchPaths,
    skippedSymlinkDirectories: skippedSymlinkDirectories.sort(),
    brokenSymlinks: brokenSymlinks.sort(),
    specialFiles: specialFiles.sort(),
  };
}

/**
 * The least common ancestor of several search paths, by whole path segments (upload-artifact's
 * `getMultiPathLCA`): `/a/b/c` and `/a/b/d/e` give `/a/b`; `/a/bc` and `/a/bd` give `/a`.
 */
export function leastCommonAncestor(paths: readonly string[]): string {
  if (paths.length === 0) throw new Error('leastCommonAncestor needs at least one path');
  let common = splitAbsolute(path.resolve(paths[0] as string));
  for (const other of paths.slice(1)) {
    const parts = splitAbsolute(path.resolve(other));
    let i = 0;
    while (i < common.parts.length && i < parts.parts.length && samePart(common.parts[i], parts.parts[i]))
      i++;
    common = { root: common.root, parts: common.parts.slice(0, i) };
  }
  return path.join(common.root, ...common.parts);
}

function rootOf(searchPaths: readonly string[], files: readonly string[], cwd: string): string {
  if (searchPaths.length > 1) return leastCommonAncestor(searchPaths);
  const only = searchPaths[0];
  // Only excludes: nothing is searched, nothing is found.
  if (only === undefined) return path.resolve(cwd);
  // A single pattern naming exactly the one file found: the file is stored flat.
  if (files.length === 1 && files[0] === only) return path.dirname(only);
  return only;
}

function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

function splitAbsolute(absolute: string): { root: string; parts: string[] } {
  const { root } = path.parse(absolute);
  return { root, parts: absolute.slice(root.length).split(path.sep).filter(Boolean) };
}

function samePart(a: string | undefined, b: string | undefined): boolean {
  return IS_WINDOWS ? a?.toUpperCase() === b?.toUpperCase() : a === b;
}

/** An absolute path as matchable segments: `/w/a` → ['w', 'a'], `C:\w` → ['C:', 'w']. */
function toSegments(absolute: string): string[] {
  const { root, parts } = splitAbsolute(absolute);
  const drive = root.replace(/[\\/]+$/, '');
  return drive ? [drive, ...parts] : parts;
}

/** One pattern line → absolute segments, negation and directory-only flag. */
function parsePattern(line: string, options: GlobOptions): Pattern {
  let text = line;
  let negate = false;
  while (text.startsWith('!')) {
    negate = !negate;
    text = text.slice(1).trim();
  }
  if (text === '') throw invalidPattern(line, 'is empty after its `!` prefix');
  if (IS_WINDOWS) text = text.replace(/\\/g, '/');
  if (text === '~' || text.startsWith('~/')) {
    if (!options.home) throw invalidPattern(line, 'starts with ~ but no home directory is known');
    text = escapeGlob(toPosix(path.resolve(options.home))) + text.slice(1);
  } else if (!isAbsolutePattern(text)) {
    text = `${escapeGlob(toPosix(path.resolve(options.cwd)))}/${text}`;
  }
  const directoryOnly = text.endsWith('/') && text.replace(/\/+$/, '') !== '';
  // Lexical normalization: `.`, `..` and repeated separators, as @actions/glob does.
  const normalized = path.posix.normalize(text).replace(/\/+$/, '');
  const drive = /^[A-Za-z]:/.exec(normalized)?.[0];
  const body = drive ? normalized.slice(drive.length) : normalized;
  const raw = body.split('/').filter(Boolean);
  const segments = [
    ...(drive ? [literalSegment(drive.toUpperCase())] : []),
    ...raw.map((s) => compileSegment(s)),
  ];
  return { negate, directoryOnly, segments };
}

function isAbsolutePattern(text: string): boolean {
  return text.startsWith('/') || (IS_WINDOWS && /^[A-Za-z]:\//.test(text));
}

function toPosix(p: string): string {
  return IS_WINDOWS ? p.replace(/\\/g, '/') : p;
}

/** Escapes glob characters in a literal path (home or cwd) so they match themselves. */
export function escapeGlob(literal: string): string {
  return IS_WINDOWS ? literal.replace(/[[*?]/g, '[$&]') : literal.replace(/[[\]*?\\]/g, '\\$&');
}

function invalidPattern(line: string, why: string): ValidationError {
  return new ValidationError('ERR_FERRY_INVALID_PATH', `Search pattern '${line}' ${why}`, { option: 'path' });
}

/** Every pattern also selects what is beneath what it matches (`implicitDescendants`). */
function expandDescendants(patterns: readonly Pattern[]): Pattern[] {
  const out: Pattern[] = [];
  for (const p of patterns) {
    out.push(p);
    const last = p.segments[p.segments.length - 1];
    if (p.directoryOnly || last?.kind !== 'globstar') {
      out.push({ negate: p.negate, directoryOnly: false, segments: [...p.segments, { kind: 'globstar' }] });
    }
  }
  return out;
}

/**
 * The literal prefix of every include pattern, without duplicates and without paths that lie
 * inside another search path (@actions/glob `getSearchPaths`).
 */
function searchPathsOf(patterns: readonly Pattern[]): string[] {
  const candidates: string[] = [];
  for (const p of patterns) {
    if (p.negate) continue;
    const literal: string[] = [];
    for (const s of p.segments) {
      if (s.kind === 'globstar' || s.literal === undefined) break;
      literal.push(s.literal);
    }
    candidates.push(fromSegments(literal));
  }
  const key = (p: string): string => (IS_WINDOWS ? p.toUpperCase() : p);
  const all = new Set(candidates.map(key));
  const result: string[] = [];
  const included = new Set<string>();
  for (const candidate of candidates) {
    const k = key(candidate);
    if (included.has(k)) continue;
    let ancestor = false;
    for (
      let child = candidate, parent = path.dirname(child);
      parent !== child;
      child = parent, parent = path.dirname(child)
    ) {
      if (all.has(key(parent))) {
        ancestor = true;
        break;
      }
    }
    if (!ancestor) {
      result.push(candidate);
      included.add(k);
    }
  }
  return result;
}

function fromSegments(segments: readonly string[]): string {
  if (segments.length && /^[A-Za-z]:$/.test(segments[0] as string)) {
    return path.join(`${segments[0]}\\`, ...segments.slice(1));
  }
  return path.join('/', ...segments);
}

/** Later patterns win: includes add match bits, excludes clear them. */
function evaluate(patterns: readonly Pattern[], segments: readonly string[]): number {
  let result = 0;
  for (const p of patterns) {
    if (!matchSegments(p.segments, segments, false)) continue;
    const kind = p.directoryOnly ? MATCH_DIRECTORY : MATCH_ALL;
    result = p.negate ? result & ~kind : result | kind;
  }
  return result;
}

/**
 * True when nothing beneath the directory can be selected: an exclude ending in `**` covers it
 * and no later include could match it or anything under it.
 */
function prunable(patterns: readonly Pattern[], segments: readonly string[]): boolean {
  for (let i = patterns.length - 1; i >= 0; i--) {
    const p = patterns[i] as Pattern;
    if (!p.negate) {
      if (matchSegments(p.segments, segments, true)) return false;
      continue;
    }
    const last = p.segments[p.segments.length - 1];
    if (last?.kind === 'globstar' && !p.directoryOnly && matchSegments(p.segments, segments, false))
      return true;
  }
  return false;
}

/**
 * Matches path segments against pattern segments. With `partial`, also true when the path is a
 * prefix of something the pattern could match (a directory worth descending into).
 */
function matchSegments(pattern: readonly Segment[], segments: readonly string[], partial: boolean): boolean {
  const memo = new Map<number, boolean>();
  const go = (pi: number, si: number): boolean => {
    const key = pi * (segments.length + 1) + si;
    const cached = memo.get(key);
    if (cached !== undefined) return cached;
    let result: boolean;
    if (pi === pattern.length) result = si === segments.length;
    else if (si === segments.length) {
      // Path used up: a full match needs only `**` left; a partial match needs anything left.
      result = partial || pattern.slice(pi).every((s) => s.kind === 'globstar');
    } else {
      const seg = pattern[pi] as Segment;
      if (seg.kind === 'globstar') result = go(pi + 1, si) || go(pi, si + 1);
      else result = seg.regex.test(segments[si] as string) && go(pi + 1, si + 1);
    }
    memo.set(key, result);
    return result;
  };
  return go(0, 0);
}

function literalSegment(text: string): Segment {
  return { kind: 'part', regex: new RegExp(`^${escapeRegex(text)}$`, IS_WINDOWS ? 'i' : ''), literal: text };
}

/** @actions/glob's rules for one path segment; the compiler is shared with artifact-name patterns. */
const PATH_SYNTAX: GlobSyntax = {
  segmented: true,
  braces: false,
  posixClasses: true,
  escapes: !IS_WINDOWS,
  caseInsensitive: IS_WINDOWS,
  codePoints: false,
  badRange: 'literal',
};

/**
 * Compiles one path segment (`*`, `?`, `[...]`, `\` escapes) to an anchored regular expression.
 * `literal` is the unescaped text when the segment has no wildcard (a `[x]` class of one
 * character counts as literal, as @actions/glob treats its own escapes).
 * Wildcards match a leading `.` too (`dot: true`, as @actions/glob); hidden entries are a separate rule.
 */
function compileSegment(segment: string): Segment {
  if (segment === '**') return { kind: 'globstar' };
  return { kind: 'part', ...compileGlob(segment, PATH_SYNTAX) };
}
