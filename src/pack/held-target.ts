import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants as fsConstants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  type Stats,
} from 'node:fs';
import path from 'node:path';
import { FerryError, IntegrityError, type ErrorContext } from '../core/errors.js';
import { placeNoClobber } from './conflict.js';
import { printable } from '../core/format.js';

/**
 * Places downloaded files inside a target directory so that a directory of the target swapped for
 * a symbolic link (by anyone who can write into the target, at any moment of the download) cannot
 * redirect a single file outside it.
 *
 * Node has no `openat`/`mkdirat`/`renameat`, but Linux resolves `/proc/self/fd/<fd>` to the
 * directory the descriptor holds, whatever happened to its path since. So the target is opened
 * once, each next level is opened with `O_DIRECTORY | O_NOFOLLOW` relative to the level above it,
 * and every mkdir, rename, link and open names its entry relative to the held parent
 * (`'descriptors'` mode). A level that is a link when it is opened fails with
 * `ERR_FERRY_UNSAFE_PATH` naming the component; a level swapped after it was opened no longer
 * matters, since its descriptor still holds the real directory.
 *
 * Where `/proc/self/fd` is not usable (macOS, Windows, a container without /proc), `'checks'`
 * mode walks every component with `lstat` before use and, after a file is placed, verifies that
 * the real path of its directory is the expected one and that the placed file is the one written
 * ({@link HeldTarget.confirmPlaced}); a misplaced file is removed again and the placement fails
 * typed. This narrows the window without closing it, as no portable API can.
 *
 * Not in scope: someone who can write into the target can also move a directory, with the files
 * already in it, elsewhere on the same file system; placing never writes through a link, but
 * cannot stop later moves.
 *
 * Paths returned by {@link HeldTarget.directory} and {@link HeldTarget.entry} are valid until the
 * next call on the same object (a directory descriptor may be closed to bound how many are open),
 * so use each one right away, synchronously or in one awaited call. {@link HeldTarget.close}
 * closes every descriptor.
 */

export type HoldMode = 'descriptors' | 'checks';

export interface HeldTargetOptions {
  /** Attached to every error (operation, artifact). */
  context?: ErrorContext | undefined;
  /** Directory descriptors kept open at once besides the root and staging ones. @default 16 */
  maxOpenDirectories?: number;
  /** `'checks'` forces the fallback (tests); by default descriptors where /proc/self/fd works, checks elsewhere. */
  mode?: HoldMode;
}

const DIRECTORY_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_DIRECTORY ?? 0) | (fsConstants.O_NOFOLLOW ?? 0);
const ROOT_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_DIRECTORY ?? 0);
const DEFAULT_MAX_OPEN = 16;

const fdPath = (fd: number): string => `/proc/self/fd/${fd}`;

/** `a/b/c` -> `a/b`; a key without a `/` has the target itself ('') as its parent. */
export function parentKey(key: string): string {
  const slash = key.lastIndexOf('/');
  return slash < 0 ? '' : key.slice(0, slash);
}

function baseName(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

/** True when `/proc/self/fd/<fd>` leads to the very directory `fd` holds. */
function procFdWorks(fd: number): boolean {
  if (process.platform !== 'linux' && process.platform !== 'android') return false;
  try {
    const viaProc = statSync(fdPath(fd));
    const held = fstatSync(fd);
    return viaProc.dev === held.dev && viaProc.ino === held.ino;
  } catch {
    return false;
  }
}

/** A flat staging directory inside the target, addressed through its own descriptor. */
export interface HeldStaging {
  /** Its name in the target root (for messages and for refusing entries under it). */
  readonly name: string;
  /** A path naming `file` inside the staging directory; after `remove()`, ERR_FERRY_ABORTED. */
  file(file: string): string;
  /**
   * Removes every staged entry and the directory itself; safe to call more than once. Listing
   * the directory takes a descriptor: when none is left (EMFILE, the very failure being cleaned
   * up after), the names `staged` gives are unlinked instead, so the staging still goes.
   */
  remove(staged?: () => Iterable<string>): void;
}

export class HeldTarget {
  /** The target as the caller named it (absolute), for messages. */
  readonly root: string;
  readonly mode: HoldMode;
  readonly #context: ErrorContext | undefined;
  readonly #maxOpen: number;
  #rootFd: number | undefined;
  /** Real path of the root, for the checks mode. */
  readonly #rootReal: string;
  /** Held directory descriptors by key, least recently used first. */
  readonly #open = new Map<string, number>();
  /**
   * The key last in {@link #open}. Using it again changes no order, so the map is left alone: a
   * delete and a set for every file placed made V8 rebuild the map's table again and again, and
   * those tables outlived scavenges (~5 MiB of them in a 100,000-file extraction).
   */
  #newest: string | undefined;
  readonly #stagings = new Set<HeldStaging>();

  #closed = false;

  private constructor(root: string, fd: number | undefined, options: HeldTargetOptions) {
    this.root = root;
    this.#rootFd = fd;
    this.#context = options.context;
    this.#maxOpen = Math.max(2, options.maxOpenDirectories ?? DEFAULT_MAX_OPEN);
    this.mode = fd === undefined ? 'checks' : 'descriptors';
    this.#rootReal = realpathSync(root);
  }

  /**
   * Holds `root`, which must exist and be a directory. The root's own path is the caller's
   * choice and is followed as given (a link to a directory is fine); from here on it is held,
   * so renaming it or any of its ancestors, or swapping it for a link, no longer redirects
   * anything.
   */
  static open(root: string, options: HeldTargetOptions = {}): HeldTarget {
    const absolute = path.resolve(root);
    const notADirectory = (cause?: unknown): FerryError =>
      new FerryError(
        'ERR_FERRY_CONFLICT',
        `The target directory ${printable(absolute)} exists and is not a directory`,
        { context: options.context, ...(cause === undefined ? {} : { cause }) },
      );
    // Only Linux (and Android) resolve /proc/self/fd/<fd> to the held directory; elsewhere a
    // directory cannot even be opened everywhere (Windows), and the checks mode needs no descriptor.
    let fd: number | undefined;
    if (options.mode !== 'checks' && (process.platform === 'linux' || process.platform === 'android')) {
      try {
        fd = openSync(absolute, ROOT_FLAGS);
      } catch (error) {
        if (errno(error) === 'ENOTDIR') throw notADirectory(error);
        throw error;
      }
      if (!procFdWorks(fd)) {
        closeSync(fd);
        fd = undefined;
      }
    }
    if (fd === undefined && !statSync(absolute).isDirectory()) throw notADirectory();
    try {
      return new HeldTarget(absolute, fd, options);
    } catch (error) {
      if (fd !== undefined) closeSync(fd);
      throw error;
    }
  }

  /**
   * A path addressing directory `key` ('/'-separated, relative to the root; '' is the root), or
   * undefined when it does not exist. Each level is opened without following links: a link fails
   * with `ERR_FERRY_UNSAFE_PATH`, a file with `ERR_FERRY_CONFLICT`.
   */
  directory(key: string): string | undefined {
    return this.#resolve(key, undefined);
  }

  /**
   * Creates the missing levels of directory `key` (each with `modeOf(levelKey)`, default 0o777,
   * under the umask as always) and returns the keys it created, parents first.
   */
  ensureDirectory(key: string, modeOf: (key: string) => number | undefined = () => undefined): string[] {
    const created: string[] = [];
    this.#resolve(key, { modeOf, created });
    return created;
  }

  /**
   * A path naming entry `key` inside its held parent directory, which must exist (an error
   * naming the entry otherwise). The entry itself is whatever is there: `rename` replaces it,
   * `link` and `open(O_EXCL)` refuse it, `open(O_NOFOLLOW)` does not follow it.
   */
  entry(key: string): string {
    const parent = this.#resolve(parentKey(key), undefined);
    if (parent === undefined) {
      throw new FerryError(
        'ERR_FERRY_CONFLICT',
        `The directory of ${printable(key)} vanished from the target directory during the download`,
        { context: this.#context },
      );
    }
    return this.mode === 'descriptors' ? `${parent}/${baseName(key)}` : path.join(parent, baseName(key));
  }

  /** `lstat` of entry `key`, or undefined when it (or its directory) does not exist. */
  lstatEntry(key: string): Stats | undefined {
    if (this.#resolve(parentKey(key), undefined) === undefined) return undefined;
    try {
      return lstatSync(this.entry(key));
    } catch (error) {
      if (errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') return undefined;
      throw error;
    }
  }

  /**
   * Renames `from` to entry `key`, replacing what is there as a directory entry (a file or a
   * link; a link is never followed), and confirms the placement (checks mode).
   */
  renameIn(from: string, key: string): void {
    const before = this.mode === 'checks' ? lstatSync(from) : undefined;
    try {
      renameSync(from, this.entry(key));
    } catch (error) {
      throw this.#vanishedOr(error, from, key);
    }
    if (before !== undefined) this.confirmPlaced(key, before);
  }

  /**
   * Moves `from` to entry `key` only if nothing is there (see `placeNoClobber`) and confirms the
   * placement (checks mode). False, with `from` left, when something is there.
   */
  async linkIn(from: string, key: string): Promise<boolean> {
    const before = this.mode === 'checks' ? lstatSync(from) : undefined;
    let placed: boolean;
    try {
      placed = await placeNoClobber(from, this.entry(key));
    } catch (error) {
      throw this.#vanishedOr(error, from, key);
    }
    if (placed && before !== undefined) this.confirmPlaced(key, before);
    return placed;
  }

  /**
   * ENOENT while `from` is still there: the held directory of `key` was removed (or replaced by
   * a rename over it) during the download, so there is no longer a place for the file.
   */
  #vanishedOr(error: unknown, from: string, key: string): unknown {
    if (errno(error) !== 'ENOENT' || lstatOrUndefined(from) === undefined) return error;
    return new FerryError(
      'ERR_FERRY_CONFLICT',
      `The directory of ${printable(key)} was removed or replaced in the target directory during the download`,
      { cause: error, context: this.#context },
    );
  }

  /** Removes directory `key` if it is empty; false if it is not (or is not a directory). */
  removeEmptyDirectory(key: string): boolean {
    try {
      rmdirSync(this.entry(key));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Checks mode: verifies that entry `key`, just placed, is the file `placed` (dev/ino) in the
   * expected real directory; anything that went elsewhere through a swapped link is removed again
   * and the placement fails with `ERR_FERRY_UNSAFE_PATH`. Descriptors mode: nothing to verify.
   */
  confirmPlaced(key: string, placed: { dev: number; ino: number }): void {
    if (this.mode === 'descriptors') return;
    const parent = parentKey(key);
    const expected = parent === '' ? this.#rootReal : path.join(this.#rootReal, ...parent.split('/'));
    const named = path.join(this.root, ...key.split('/'));
    let realParent: string | undefined;
    try {
      realParent = realpathSync(path.dirname(named));
    } catch {
      realParent = undefined;
    }
    const here = lstatOrUndefined(named);
    if (realParent === expected && here !== undefined && here.dev === placed.dev && here.ino === placed.ino) {
      return;
    }
    // Somewhere else: remove our file wherever the link led, if it can still be found.
    if (realParent !== undefined) {
      const misplaced = path.join(realParent, path.basename(named));
      const there = lstatOrUndefined(misplaced);
      if (there !== undefined && there.dev === placed.dev && there.ino === placed.ino) {
        rmSync(misplaced, { force: true });
      }
    }
    throw this.#unsafe(key, `${printable(parent)} was swapped for a symbolic link while the file was placed`);
  }

  /**
   * Creates a fresh staging directory `<prefix><random>` in the root, held by its own
   * descriptor (not subject to the open-directory bound) until `remove()`.
   */
  createStaging(prefix: string): HeldStaging {
    const root = this.#rootPath();
    for (let attempt = 0; ; attempt++) {
      const name = `${prefix}${randomBytes(6).toString('hex')}`;
      const named = this.mode === 'descriptors' ? `${root}/${name}` : path.join(root, name);
      try {
        mkdirSync(named, 0o700);
      } catch (error) {
        if (errno(error) === 'EEXIST' && attempt < 8) continue;
        throw error;
      }
      let staging: HeldStaging;
      try {
        staging = this.mode === 'descriptors' ? this.#heldStaging(name, named) : checkedStaging(name, named);
      } catch (error) {
        // Made but not held: gone or replaced (a race inside the target), or holding it failed
        // (EMFILE with the descriptors used up). The directory is empty and nobody else knows its
        // name, so it must not outlive the failure; rmdir removes only an empty directory (never
        // through a link), so nothing else is touched.
        try {
          rmdirSync(named);
        } catch {
          // already gone, or not ours any more
        }
        if (['ENOENT', 'ENOTDIR', 'ELOOP'].includes(errno(error) ?? '')) {
          throw this.#unsafe(
            name,
            'the staging directory was removed or replaced before it could be opened',
            error,
          );
        }
        throw error;
      }
      const remove = staging.remove;
      const tracked: HeldStaging = {
        name,
        file: staging.file,
        remove: (staged) => {
          this.#stagings.delete(tracked);
          remove(staged);
        },
      };
      this.#stagings.add(tracked);
      return tracked;
    }
  }

  /** Closes every descriptor (staging directories still present are removed first). */
  close(): void {
    for (const staging of [...this.#stagings]) {
      try {
        staging.remove();
      } catch {
        // Best effort: a staging directory is only ever left inside the target.
      }
    }
    for (const fd of this.#open.values()) closeSync(fd);
    this.#open.clear();
    this.#newest = undefined;
    if (this.#rootFd !== undefined) closeSync(this.#rootFd);
    this.#rootFd = undefined;
    this.#closed = true;
  }

  #heldStaging(name: string, named: string): HeldStaging {
    let fd: number | undefined = this.#openLevel(named, name);
    const held = fdPath(fd);
    const rootFd = this.#rootFd;
    return {
      name,
      // After remove() the number is free again: the next descriptor opened (another download's
      // directory, say) takes it, and the /proc path would lead into that directory.
      file: (file) => (fd === undefined ? stagingGone(name) : `${held}/${file}`),
      remove: (staged) => {
        if (fd === undefined) return;
        // Staging is flat (files and links only): unlink each through the held descriptor, so a
        // swapped staging path can never make this delete anything outside it.
        try {
          for (const entry of listOr(held, staged)) {
            try {
              unlinkSync(`${held}/${entry}`);
            } catch {
              // Not ours to remove (something put a directory there): it stays inside the target.
            }
          }
        } finally {
          closeSync(fd);
        }
        fd = undefined;
        try {
          if (rootFd !== undefined) rmdirSync(`${fdPath(rootFd)}/${name}`);
        } catch {
          // Swapped for a link or moved: what remains is an empty directory inside the target.
        }
      },
    };
  }

  #rootPath(): string {
    if (this.#closed) throw new Error('HeldTarget used after close()');
    return this.#rootFd !== undefined ? fdPath(this.#rootFd) : this.#rootReal;
  }

  #resolve(
    key: string,
    create: { modeOf: (key: string) => number | undefined; created: string[] } | undefined,
  ): string | undefined {
    if (key === '') return this.#rootPath();
    return this.mode === 'descriptors' ? this.#resolveHeld(key, create) : this.#resolveChecked(key, create);
  }

  #resolveHeld(
    key: string,
    create: { modeOf: (key: string) => number | undefined; created: string[] } | undefined,
  ): string | undefined {
    const cached = this.#open.get(key);
    if (cached !== undefined) {
      // Most recently used last.
      if (key !== this.#newest) {
        this.#open.delete(key);
        this.#open.set(key, cached);
        this.#newest = key;
      }
      return fdPath(cached);
    }
    const parent = this.#resolveParent(parentKey(key), create);
    if (parent === undefined) return undefined;
    const named = `${parent}/${baseName(key)}`;
    let fd: number;
    try {
      fd = this.#openLevel(named, key);
    } catch (error) {
      if (errno(error) !== 'ENOENT') throw error;
      if (create === undefined) return undefined;
      try {
        mkdirSync(named, create.modeOf(key) ?? 0o777);
        create.created.push(key);
      } catch (mkdirError) {
        if (errno(mkdirError) !== 'EEXIST') throw mkdirError;
      }
      fd = this.#openLevel(named, key);
    }
    this.#open.set(key, fd);
    this.#newest = key;
    while (this.#open.size > this.#maxOpen) {
      const [oldKey, oldFd] = this.#open.entries().next().value as [string, number];
      this.#open.delete(oldKey);
      closeSync(oldFd);
    }
    return fdPath(fd);
  }

  /** The parent's held path: the root's, or another level's (recursively). */
  #resolveParent(
    key: string,
    create: { modeOf: (key: string) => number | undefined; created: string[] } | undefined,
  ): string | undefined {
    return key === '' ? this.#rootPath() : this.#resolveHeld(key, create);
  }

  /** Opens one level without following a link; a link or a file there is a typed error. */
  #openLevel(named: string, key: string): number {
    try {
      return openSync(named, DIRECTORY_FLAGS);
    } catch (error) {
      const code = errno(error);
      if (code !== 'ELOOP' && code !== 'ENOTDIR') throw error;
      const stats = lstatOrUndefined(named);
      if (stats === undefined) throw error;
      throw this.#notADirectory(key, stats, error);
    }
  }

  #resolveChecked(
    key: string,
    create: { modeOf: (key: string) => number | undefined; created: string[] } | undefined,
  ): string | undefined {
    let current = this.#rootReal;
    let levelKey = '';
    for (const segment of key.split('/')) {
      levelKey = levelKey === '' ? segment : `${levelKey}/${segment}`;
      current = path.join(current, segment);
      let stats = lstatOrUndefined(current);
      if (stats === undefined) {
        if (create === undefined) return undefined;
        try {
          mkdirSync(current, create.modeOf(levelKey) ?? 0o777);
          create.created.push(levelKey);
        } catch (error) {
          if (errno(error) !== 'EEXIST') throw error;
        }
        stats = lstatOrUndefined(current);
        if (stats === undefined) return undefined;
      }
      if (!stats.isDirectory()) throw this.#notADirectory(levelKey, stats);
    }
    return current;
  }

  #notADirectory(key: string, stats: Stats, cause?: unknown): FerryError {
    if (stats.isSymbolicLink()) {
      return this.#unsafe(
        key,
        `${printable(key)} is a symbolic link in the target directory; refusing to follow it`,
        cause,
      );
    }
    return new FerryError(
      'ERR_FERRY_CONFLICT',
      `${printable(key)} exists in the target directory and is not a directory`,
      { context: this.#context, ...(cause === undefined ? {} : { cause }) },
    );
  }

  #unsafe(key: string, reason: string, cause?: unknown): IntegrityError {
    return new IntegrityError('ERR_FERRY_UNSAFE_PATH', `Unsafe path ${printable(key)}: ${reason}`, {
      context: this.#context,
      ...(cause === undefined ? {} : { cause }),
    });
  }
}

/** Checks mode staging: addressed by path (the fallback cannot hold it). */
function checkedStaging(name: string, named: string): HeldStaging {
  let removed = false;
  return {
    name,
    file: (file) => (removed ? stagingGone(name) : path.join(named, file)),
    remove: (staged) => {
      if (removed) return;
      removed = true;
      const stats = lstatOrUndefined(named);
      // Only ever a real directory: never follow a link that replaced it.
      if (!stats?.isDirectory()) return;
      try {
        rmSync(named, { recursive: true, force: true });
      } catch (error) {
        if (staged === undefined || !outOfDescriptors(error)) throw error;
        for (const entry of staged()) rmSync(path.join(named, entry), { force: true });
        rmdirSync(named);
      }
    },
  };
}

/**
 * A staged path asked for after the staging was removed: only a write still running when its
 * download was disposed (aborted or failed) does that, and nothing may be written for it.
 */
function stagingGone(name: string): never {
  throw new FerryError(
    'ERR_FERRY_ABORTED',
    `The staging directory ${printable(name)} was removed: the download it belonged to has ended`,
  );
}

function outOfDescriptors(error: unknown): boolean {
  return ['EMFILE', 'ENFILE'].includes(errno(error) ?? '');
}

/** The entries of directory `held`, or (no descriptor left to list it) the names the caller staged. */
function listOr(held: string, staged: (() => Iterable<string>) | undefined): Iterable<string> {
  try {
    return readdirSync(held);
  } catch (error) {
    if (staged === undefined || !outOfDescriptors(error)) throw error;
    return staged();
  }
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}
