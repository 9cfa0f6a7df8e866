import { createHash, randomBytes, type Hash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFully } from '../../../core/write-fully.js';
import { selectEvictions, type EvictionPolicy } from '../../retention/eviction-policy.js';

/** What an entry must be to be served: the slow store's size and, where recorded, SHA-256. */
export interface Expected {
  size: number;
  /** Lowercase hex; undefined when the slow store recorded none (then only the size is checked). */
  sha256: string | undefined;
}

/** What the cache did, for the metrics. */
export interface FastCacheEvents {
  hit(): void;
  miss(): void;
  fill(bytes: number): void;
  evict(entries: number, bytes: number): void;
  /** An entry that failed verification (size or digest) and was removed. */
  drop(): void;
}

interface Entry {
  size: number;
  sha256: string | undefined;
  /** Last fill or hit, ms since the epoch: eviction removes the least recently used first. */
  usedAt: number;
  /** Tie-breaker for the eviction order. */
  seq: number;
}

/** One entry being written from the slow store's bytes as they pass to a client. */
export interface Fill {
  /** The next bytes, in order; all of them are on the file (or it threw) when this resolves. */
  write(chunks: readonly Buffer[]): Promise<void>;
  /** Keeps the entry when every byte arrived and matches the expectation; false when it did not. */
  commit(): Promise<boolean>;
  /** Throws the partial entry away (the client went away, the slow store failed). */
  abort(): Promise<void>;
}

/** Keys are server-chosen ids (results blob ids); never a client string. */
const KEY = /^[a-z0-9][a-z0-9-]{0,99}$/;

/**
 * The fast half of a `fast_slow` store: whole blobs of the slow store kept as files in a local
 * directory, each with a small metadata file (size, SHA-256) written after the bytes, so an
 * entry without one is never served. Bounded by the fast store's eviction policy (bytes with a
 * low-water mark, age since last use, entries), least recently used first; evicting only removes
 * the copy here, never anything in the slow store.
 *
 *   <path>/fast-cache/<key>.blob    the bytes
 *   <path>/fast-cache/<key>.json    {"size": N, "sha256": "hex"}, written last
 *   <path>/fast-cache/tmp/          fills in progress (emptied at start)
 */
export class FastCache {
  readonly #dir: string;
  readonly #tmp: string;
  readonly #policy: EvictionPolicy;
  readonly #events: FastCacheEvents | undefined;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  #seq = 0;
  #evicting: Promise<void> = Promise.resolve();

  private constructor(
    path: string,
    policy: EvictionPolicy,
    events: FastCacheEvents | undefined,
    now: () => number,
  ) {
    this.#dir = join(path, 'fast-cache');
    this.#tmp = join(this.#dir, 'tmp');
    this.#policy = policy;
    this.#events = events;
    this.#now = now;
  }

  static async open(
    path: string,
    policy: EvictionPolicy = {},
    options: { events?: FastCacheEvents; now?: () => number } = {},
  ): Promise<FastCache> {
    const cache = new FastCache(path, policy, options.events, options.now ?? Date.now);
    await cache.#load();
    return cache;
  }

  /** Bytes and entries held now. */
  stats(): { entries: number; bytes: number } {
    let bytes = 0;
    for (const entry of this.#entries.values()) bytes += entry.size;
    return { entries: this.#entries.size, bytes };
  }

  /**
   * The entry's file when it holds what is expected; undefined (a miss) otherwise. An entry whose
   * recorded or on-disk size, or recorded digest, differs from the expectation is removed.
   */
  async lookup(key: string, expected: Expected): Promise<string | undefined> {
    checkKey(key);
    const entry = this.#entries.get(key);
    if (!entry) {
      this.#events?.miss();
      return undefined;
    }
    const file = this.#blobFile(key);
    let onDisk: number | undefined;
    try {
      onDisk = (await stat(file)).size;
    } catch {
      onDisk = undefined;
    }
    const digestDiffers =
      expected.sha256 !== undefined && entry.sha256 !== undefined && entry.sha256 !== expected.sha256;
    if (onDisk !== expected.size || entry.size !== expected.size || digestDiffers) {
      await this.drop(key);
      this.#events?.drop();
      this.#events?.miss();
      return undefined;
    }
    entry.usedAt = this.#now();
    this.#events?.hit();
    return file;
  }

  /** Removes an entry (a failed verification, or its blob is gone from the slow store). */
  async drop(key: string): Promise<void> {
    checkKey(key);
    this.#entries.delete(key);
    // The metadata first: without it the bytes are never served, even if the second rm fails.
    await rm(this.#metaFile(key), { force: true });
    await rm(this.#blobFile(key), { force: true });
  }

  /**
   * Starts an entry; undefined when it could never be kept (larger than max_bytes, or the disk
   * refused the file): the read is then served from the slow store alone.
   */
  async beginFill(key: string, expected: Expected): Promise<Fill | undefined> {
    checkKey(key);
    if (this.#policy.maxBytes !== undefined && expected.size > this.#policy.maxBytes) return undefined;
    const temp = join(this.#tmp, `${key}.${randomBytes(6).toString('hex')}`);
    let handle: FileHandle;
    try {
      handle = await open(temp, 'wx');
    } catch {
      return undefined;
    }
    const hash: Hash = createHash('sha256');
    let written = 0;
    let closed = false;
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      await handle.close();
    };
    return {
      write: async (chunks) => {
        for (const chunk of chunks) {
          written += chunk.length;
          if (written > expected.size) return; // more than expected: commit refuses it
          hash.update(chunk);
        }
        // Every byte, continuing a short write: a hole would only show at the digest check.
        await writeFully(handle, chunks);
      },
      commit: async () => {
        await close();
        const digest = hash.digest('hex');
        const whole =
          written === expected.size && (expected.sha256 === undefined || expected.sha256 === digest);
        if (!whole) {
          await rm(temp, { force: true });
          return false;
        }
        await rename(temp, this.#blobFile(key));
        const meta = `${temp}.json`;
        const handleMeta = await open(meta, 'wx');
        try {
          await handleMeta.writeFile(JSON.stringify({ size: written, sha256: digest }));
        } finally {
          await handleMeta.close();
        }
        await rename(meta, this.#metaFile(key));
        this.#entries.set(key, { size: written, sha256: digest, usedAt: this.#now(), seq: ++this.#seq });
        this.#events?.fill(written);
        await this.#evict();
        return true;
      },
      abort: async () => {
        await close();
        await rm(temp, { force: true });
      },
    };
  }

  /** Applies the eviction policy, one pass at a time. */
  #evict(): Promise<void> {
    // A failed pass (a file that would not go) must not stop every later one.
    this.#evicting = this.#evicting
      .catch(() => undefined)
      .then(async () => {
        const keys = new Map<number, string>();
        const candidates = [...this.#entries].map(([key, entry]) => {
          keys.set(entry.seq, key);
          return { id: entry.seq, size: entry.size, finalizedAt: entry.usedAt };
        });
        const chosen = selectEvictions(candidates, this.#policy, this.#now());
        let bytes = 0;
        for (const victim of chosen) {
          const key = keys.get(victim.id);
          if (key === undefined) continue;
          await this.drop(key);
          bytes += victim.size;
        }
        if (chosen.length > 0) this.#events?.evict(chosen.length, bytes);
      });
    return this.#evicting;
  }

  /** Reads the entries left by an earlier run; half-written fills are removed. */
  async #load(): Promise<void> {
    await rm(this.#tmp, { recursive: true, force: true });
    await mkdir(this.#tmp, { recursive: true });
    const names = await readdir(this.#dir);
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      const key = name.slice(0, -'.json'.length);
      if (!KEY.test(key)) continue;
      try {
        const meta = JSON.parse(await readFile(this.#metaFile(key), 'utf8')) as unknown;
        const info = await stat(this.#blobFile(key));
        if (!isMeta(meta) || info.size !== meta.size) throw new Error('stale');
        this.#entries.set(key, {
          size: meta.size,
          sha256: meta.sha256,
          usedAt: info.mtimeMs,
          seq: ++this.#seq,
        });
      } catch {
        await this.drop(key);
      }
    }
    // Bytes whose metadata never got written (a crash between the two renames).
    for (const name of names) {
      const key = name.endsWith('.blob') ? name.slice(0, -'.blob'.length) : undefined;
      if (key !== undefined && KEY.test(key) && !this.#entries.has(key))
        await rm(join(this.#dir, name), { force: true });
    }
    await this.#evict();
  }

  #blobFile(key: string): string {
    return join(this.#dir, `${key}.blob`);
  }

  #metaFile(key: string): string {
    return join(this.#dir, `${key}.json`);
  }
}

function isMeta(value: unknown): value is { size: number; sha256: string } {
  if (typeof value !== 'object' || value === null) return false;
  const meta = value as Record<string, unknown>;
  return (
    typeof meta.size === 'number' &&
    Number.isSafeInteger(meta.size) &&
    meta.size >= 0 &&
    typeof meta.sha256 === 'string' &&
    /^[0-9a-f]{64}$/.test(meta.sha256)
  );
}

function checkKey(key: string): void {
  if (!KEY.test(key)) {
    // Keys come from this server (blob ids it chose), so a bad one is a bug here, not a request.
    throw new RangeError(`not a fast cache key: ${JSON.stringify(key.slice(0, 100))}`);
  }
}
