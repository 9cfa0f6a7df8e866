import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { IntegrityError, ValidationError } from '../core/errors.js';
import { silentLogger } from '../core/types.js';
import type { Logger } from '../core/types.js';
import { writeFully } from '../core/write-fully.js';
import { chooseVictims } from './eviction.js';
import type { ScannedEntry } from './eviction.js';
import { digestHex, ENTRIES_DIR, entryPath, isEntryName, TMP_DIR, tempPath } from './layout.js';
import { normalizeCacheOptions } from './options.js';
import type { CacheOptions, NormalizedCacheOptions } from './options.js';

/** A verified entry. Read it through `handle` or `stream()`, then `close()` it. */
export interface CacheHit {
  digest: string;
  size: number;
  /**
   * Open on the entry that was verified. It stays readable whatever happens to the entry's path
   * meanwhile (eviction by this or another process unlinks it; an insert renames a new file
   * over it): the bytes under this handle never change.
   */
  handle: FileHandle;
  /** The whole entry from byte 0, through the handle (which stays open). */
  stream(): Readable;
  /** Closes the handle. Safe to call twice. */
  close(): Promise<void>;
}

/** Counters of this process's use of the cache (another process sharing it keeps its own). */
export interface CacheStats {
  hits: number;
  misses: number;
  /** Bytes of entries handed out by hits. */
  bytesServed: number;
  inserts: number;
  /** Entries this process removed: least recently used over the limits, or too old. */
  evictions: number;
  /** Entries whose size or sha256 did not match their digest: removed, reported as a miss. */
  corruptDropped: number;
}

/** A file path, or the bytes themselves. */
export type CacheSource = string | Readable | AsyncIterable<Uint8Array>;

/** `present`: an entry was there already; `too-large`: bigger than maxBytes, not kept. */
export type InsertResult = 'inserted' | 'present' | 'too-large';

export interface VerifiedCache {
  readonly path: string;
  /** A verified hit, or undefined (absent, too old, or corrupt: a corrupt entry is removed). */
  lookup(digest: string, size: number): Promise<CacheHit | undefined>;
  /**
   * Copies `source` into the cache under `digest`, checking that it has exactly `size` bytes
   * whose sha256 is the digest (IntegrityError otherwise, nothing kept). The entry appears
   * atomically; eviction runs afterwards when the cache is over a limit.
   */
  insert(digest: string, size: number, source: CacheSource): Promise<InsertResult>;
  /** Removes entries older than maxAgeSeconds, and evicts if over a limit; inserts do this already. */
  sweep(): Promise<void>;
  stats(): CacheStats;
}

/** A temp file untouched for this long belongs to an insert that died; a sweep removes it. */
const STALE_TEMP_MS = 60 * 60 * 1000;
const READ_CHUNK = 1024 * 1024;

/** Opens (creating when missing) a cache directory. Cheap: nothing is scanned until an insert. */
export async function openCache(options: CacheOptions): Promise<VerifiedCache> {
  const normalized = normalizeCacheOptions(options);
  const root = path.resolve(normalized.path);
  await mkdir(path.join(root, ENTRIES_DIR), { recursive: true });
  await mkdir(path.join(root, TMP_DIR), { recursive: true });
  return new FileCache(root, normalized, options.logger ?? silentLogger);
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new ValidationError(
      'ERR_FERRY_INVALID_OPTION',
      `A cache entry size must be a byte count, got ${size}`,
      {
        option: 'size',
      },
    );
  }
}

/** sha256 hex of the first `size` bytes under the handle, read at explicit positions. */
async function hashHandle(handle: FileHandle, size: number): Promise<string> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(size, 1)));
  let position = 0;
  while (position < size) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - position), position);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
  return position === size ? hash.digest('hex') : '';
}

class FileCache implements VerifiedCache {
  readonly path: string;
  readonly #limits: NormalizedCacheOptions;
  readonly #logger: Logger;
  readonly #stats: CacheStats = {
    hits: 0,
    misses: 0,
    bytesServed: 0,
    inserts: 0,
    evictions: 0,
    corruptDropped: 0,
  };

  constructor(root: string, limits: NormalizedCacheOptions, logger: Logger) {
    this.path = root;
    this.#limits = limits;
    this.#logger = logger;
  }

  stats(): CacheStats {
    return { ...this.#stats };
  }

  async lookup(digest: string, size: number): Promise<CacheHit | undefined> {
    const hex = digestHex(digest);
    checkSize(size);
    const file = entryPath(this.path, hex);
    let handle: FileHandle;
    try {
      // Open first: from here on, eviction or replacement of the path cannot affect what we read.
      handle = await open(file, 'r');
    } catch (error: unknown) {
      if (!isMissing(error)) throw error;
      this.#stats.misses++;
      return undefined;
    }
    try {
      const info = await handle.stat();
      if (Date.now() - info.mtimeMs > this.#limits.maxAgeMs) {
        if (await this.#unlinkIfSame(file, info.ino, info.dev)) this.#stats.evictions++;
        return this.#miss(handle);
      }
      const actual = info.size === size ? await hashHandle(handle, size) : '';
      if (actual !== hex) {
        // Drop it only if the path still names the file we checked: another process may just
        // have renamed a good copy over it.
        if (await this.#unlinkIfSame(file, info.ino, info.dev)) this.#stats.corruptDropped++;
        this.#logger.warn(
          `Cache entry ${digest} was corrupt (${info.size === size ? 'sha256 differs' : `${info.size} bytes, expected ${size}`}); dropped, the artifact is fetched again`,
        );
        return this.#miss(handle);
      }
      // The mtime is the last use, for least-recently-used eviction; touching the inode we hold.
      // A cache shared between users may hold entries we may read but not touch: then the
      // entry just ages as if unused, which costs at most an early eviction.
      const now = new Date();
      await handle.utimes(now, now).catch(() => undefined);
      this.#stats.hits++;
      this.#stats.bytesServed += size;
      return hitOf(digest, size, handle);
    } catch (error: unknown) {
      await handle.close();
      throw error;
    }
  }

  async insert(digest: string, size: number, source: CacheSource): Promise<InsertResult> {
    const hex = digestHex(digest);
    checkSize(size);
    if (size > this.#limits.maxBytes) return 'too-large';
    const file = entryPath(this.path, hex);
    const existing = await stat(file).catch((error: unknown) => {
      if (isMissing(error)) return undefined;
      throw error;
    });
    if (existing?.size === size) {
      // Counts as a use: an entry just downloaded again must not be the next one evicted for age.
      const now = new Date();
      await utimes(file, now, now).catch(() => undefined);
      return 'present';
    }

    // Recreated when someone emptied the cache by deleting its directories while we ran.
    await mkdir(path.join(this.path, TMP_DIR), { recursive: true });
    await mkdir(path.join(this.path, ENTRIES_DIR), { recursive: true });
    const temp = tempPath(this.path, hex);
    const out = await open(temp, 'wx', 0o644);
    let closed = false;
    try {
      const hash = createHash('sha256');
      let written = 0;
      const input = typeof source === 'string' ? createReadStream(source) : source;
      for await (const chunk of input) {
        const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        written += bytes.length;
        // The size is bounded by what the caller declared, whatever the source yields.
        if (written > size) throw this.#mismatch(digest, `more than the declared ${size} bytes`);
        hash.update(bytes);
        await writeFully(out, [bytes]);
      }
      if (written !== size) throw this.#mismatch(digest, `${written} bytes, declared ${size}`);
      if (hash.digest('hex') !== hex) throw this.#mismatch(digest, 'sha256 differs from the digest');
      await out.sync();
      closed = true;
      await out.close();
      // Atomic on one filesystem: readers see no entry or the whole entry. Two processes
      // inserting the same digest rename identical bytes; the last one wins, harmlessly.
      await rename(temp, file);
    } catch (error: unknown) {
      if (!closed) await out.close().catch(() => undefined);
      await rm(temp, { force: true });
      throw error;
    }
    this.#stats.inserts++;
    await this.#evict(hex);
    return 'inserted';
  }

  async sweep(): Promise<void> {
    await this.#evict(undefined);
  }

  #mismatch(digest: string, what: string): IntegrityError {
    return new IntegrityError('ERR_FERRY_INTEGRITY', `Cache insert refused: the source has ${what}`, {
      context: { digest },
    });
  }

  async #miss(handle: FileHandle): Promise<undefined> {
    await handle.close();
    this.#stats.misses++;
    return undefined;
  }

  async #unlinkIfSame(file: string, ino: number, dev: number): Promise<boolean> {
    const now = await stat(file).catch(() => undefined);
    if (!now || now.ino !== ino || now.dev !== dev) return false;
    return this.#unlink(file);
  }

  async #unlink(file: string): Promise<boolean> {
    try {
      await unlink(file);
      return true;
    } catch (error: unknown) {
      // Another process evicted it first.
      if (isMissing(error)) return false;
      throw error;
    }
  }

  /**
   * One eviction at a time in this process: two inserts finishing together each scanned the
   * other's entry, kept their own and removed the other's, which could empty the cache (a burst
   * of downloads into one cache directory). Each scan now sees what the one before removed.
   */
  #evicting: Promise<void> = Promise.resolve();

  #evict(keep: string | undefined): Promise<void> {
    const next = this.#evicting.then(() => this.#evictNow(keep));
    this.#evicting = next.catch(() => undefined);
    return next;
  }

  /** Scans entries (metadata only) and removes what the limits say; `keep` is the entry just inserted. */
  async #evictNow(keep: string | undefined): Promise<void> {
    const dir = path.join(this.path, ENTRIES_DIR);
    const entries: ScannedEntry[] = [];
    for (const name of await readdir(dir)) {
      if (!isEntryName(name)) continue;
      const info = await stat(path.join(dir, name)).catch(() => undefined);
      if (info?.isFile()) entries.push({ name, size: info.size, usedAtMs: info.mtimeMs });
    }
    const victims = chooseVictims(entries, this.#limits, Date.now(), keep);
    for (const victim of victims) {
      if (await this.#unlink(path.join(dir, victim.name))) this.#stats.evictions++;
    }
    await this.#removeStaleTemps();
  }

  async #removeStaleTemps(): Promise<void> {
    const dir = path.join(this.path, TMP_DIR);
    for (const name of await readdir(dir)) {
      const file = path.join(dir, name);
      const info = await stat(file).catch(() => undefined);
      if (info && Date.now() - info.mtimeMs > STALE_TEMP_MS && (await this.#unlink(file))) {
        this.#logger.debug(`Removed a cache temp file left by an insert that did not finish: ${name}`);
      }
    }
  }
}

function hitOf(digest: string, size: number, handle: FileHandle): CacheHit {
  let closing: Promise<void> | undefined;
  return {
    digest,
    size,
    handle,
    stream: () => handle.createReadStream({ start: 0, autoClose: false }),
    close: () => (closing ??= handle.close()),
  };
}
