import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { ErrorResponse } from '../http/error-response.js';
import { DEFAULT_LIMITS, type ServerLimits } from '../http/limits.js';
import { readJsonFile, writeJsonAtomic } from '../util/atomic-file.js';
import { IdCounter } from '../util/id-counter.js';
import { KeyedMutex } from '../util/keyed-mutex.js';
import { ListingIndex, type ListingWiring } from '../listing/listing-index.js';
import { readChunkBody, writeChunk } from './chunk-writer.js';
import { ContainerItems } from './container-items.js';
import type { LegacyLayout } from './layout.js';
import { legacyListingSource } from './listing-source.js';
import type { LegacyChunk, LegacyItems, LegacyStore } from './store.js';

/** What the server remembers about one artifact (= one file container). */
export interface ArtifactRecord {
  containerId: number;
  runId: string;
  name: string;
  /** -1 until the client PATCHes the final size, as on the real service. */
  size: number;
  /** Requested retention; null = server default (90 days). The retention sweep deletes the artifact after it. */
  retentionDays: number | null;
  createdAt: string;
  updatedAt: string;
}

/** The query parameter that carries an upload session in the fileContainerResourceUrl of a create. */
export const UPLOAD_SESSION_PARAM = 'upload';

/**
 * How long an upload session keeps its files without any activity: longer than one 4 MiB chunk
 * on a slow link plus the longest Retry-After a client honours (60 s). After it the session
 * counts as abandoned. Short, because the legacy protocol has no delete: a job that re-runs a
 * failed upload of the same name waits this long for its own dead session.
 */
export const DEFAULT_SESSION_LEASE_MS = 2 * 60 * 1000;

/** Items up to this size that arrive in one request go to the container's pack file. */
const WHOLE_ITEM_LIMIT = 1024 * 1024;

/** Retention of an artifact created without RetentionDays: GitHub's default. */
export const DEFAULT_RETENTION_DAYS = 90;

/** One create call's upload: which of the container's files it claimed, and whether it lost a race. */
interface UploadSession {
  /**
   * The session's id. Every claim stores this one string: the id a request carries is a slice of
   * that request's URL and would keep the whole URL alive for as long as the claim is kept
   * (~150 bytes per file, 15 MB at 100,000 files).
   */
  id: string;
  lastActivity: number;
  /** When a PATCH of the artifact closed it; activity after that re-opens it. */
  closedAt: number | undefined;
  /** Set when it tried to write a file another live session was writing: it may write nothing more. */
  lostTo: string | undefined;
}

export interface ArtifactStoreOptions {
  /** See {@link DEFAULT_SESSION_LEASE_MS}. */
  sessionLeaseMs?: number;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /** Size and count limits; default DEFAULT_LIMITS. */
  limits?: ServerLimits;
  /** Lifetime, clock and reporting of the listing index (see ListingIndex). */
  listing?: ListingWiring;
}

/**
 * The artifact index: which containers exist, for which run and name. It is small (one record
 * per artifact), so it is loaded whole at startup and kept in memory; every change is written
 * through to `artifact.json` before the request is answered. Items of a container are loaded
 * lazily (see ContainerItems) because a container can hold tens of thousands of them.
 */
export class ArtifactStore implements LegacyStore {
  readonly kind = 'filesystem';
  readonly #layout: LegacyLayout;
  readonly #byId = new Map<number, ArtifactRecord>();
  readonly #items = new Map<number, Promise<ContainerItems>>();
  readonly #locks = new KeyedMutex();
  /** Upload sessions by id, and which session writes each file (`containerId\0path`). In memory only. */
  readonly #sessions = new Map<string, UploadSession & { containerId: number }>();
  readonly #owners = new Map<string, string>();
  readonly #leaseMs: number;
  readonly #now: () => number;
  readonly #ids: IdCounter;
  readonly limits: ServerLimits;
  /** Containers by run: what listings are answered from (set once open() has built it). */
  #listing: ListingIndex<ArtifactRecord> | undefined;

  private constructor(layout: LegacyLayout, options: ArtifactStoreOptions) {
    this.#layout = layout;
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.#ids = new IdCounter(layout.counterFile);
    this.#leaseMs = options.sessionLeaseMs ?? DEFAULT_SESSION_LEASE_MS;
    this.#now = options.now ?? Date.now;
  }

  static async open(layout: LegacyLayout, options: ArtifactStoreOptions = {}): Promise<ArtifactStore> {
    const store = new ArtifactStore(layout, options);
    await mkdir(layout.containersDir, { recursive: true });
    await store.#load();
    store.#listing = await ListingIndex.open(legacyListingSource(layout), {
      ...options.listing,
      name: 'legacy',
      keyOf: (r) => String(r.containerId),
      runOf: (r) => r.runId,
      compare: (a, b) => a.containerId - b.containerId,
    });
    return store;
  }

  async #load(): Promise<void> {
    const entries = await readdir(this.#layout.containersDir);
    let maxId = 0;
    await Promise.all(
      entries.map(async (entry) => {
        if (!/^\d+$/.test(entry)) return;
        const id = Number(entry);
        maxId = Math.max(maxId, id);
        const record = await readJsonFile(this.#layout.artifactFile(id));
        // A directory without artifact.json is a create that crashed half-way (never
        // acknowledged) or a deletion that crashed after its record went: remove it, but never
        // reuse its id (maxId above).
        if (isArtifactRecord(record)) this.#byId.set(id, record);
        else if (record === undefined)
          await rm(this.#layout.containerDir(id), { recursive: true, force: true });
      }),
    );
    await this.#ids.resume(maxId);
  }

  get(containerId: number): ArtifactRecord | undefined {
    return this.#byId.get(containerId);
  }

  find(runId: string, name: string): ArtifactRecord | undefined {
    for (const record of this.#byId.values()) {
      if (record.runId === runId && record.name === name) return record;
    }
    return undefined;
  }

  /** Artifacts of one run in creation order, from the listing index: never a scan of storage. */
  list(runId: string): readonly ArtifactRecord[] {
    return this.#listing?.list(runId) ?? [];
  }

  /**
   * Creates the container for (run, name), or returns the existing one: v1 clients merge several
   * uploads into one artifact by creating the same name again. Each call also opens an upload
   * session (see {@link claim}); its id goes into the fileContainerResourceUrl handed back.
   */
  async create(
    runId: string,
    name: string,
    retentionDays: number | null,
  ): Promise<{ record: ArtifactRecord; created: boolean; session: string }> {
    const result = await this.#createContainer(runId, name, retentionDays);
    const session = randomBytes(12).toString('hex');
    this.#sessions.set(session, {
      id: session,
      containerId: result.record.containerId,
      lastActivity: this.#now(),
      closedAt: undefined,
      lostTo: undefined,
    });
    this.#pruneSessions();
    return { ...result, session };
  }

  /**
   * Records that upload `session` writes `path` of the container, or refuses (409) when another
   * upload of the same artifact that is still in progress already writes it. v1 merges uploads
   * of one name, so different files from concurrent uploads are fine, and so is replacing a file
   * of an upload that finished (PATCHed) or was abandoned; but two uploads in progress writing
   * the same file would interleave its chunks or mix two versions of the artifact. The upload
   * that comes second loses: this and every later write of it is refused, so it never
   * finalizes, and the winner may replace whatever the loser wrote. Requests without a session
   * (a container URL taken from a listing, or another server's client) are not tracked.
   */
  claim(containerId: number, path: string, session: string | null): void {
    if (session === null) return;
    const mine = this.#sessions.get(session);
    if (!mine || mine.containerId !== containerId) return;
    const now = this.#now();
    const name = this.#byId.get(containerId)?.name ?? String(containerId);
    if (mine.lostTo !== undefined) throw raceLost(name, path, true);
    const key = `${containerId}\0${path}`;
    const owner = this.#owners.get(key);
    const other = owner === undefined || owner === session ? undefined : this.#sessions.get(owner);
    if (other && this.#isLive(other, now)) {
      mine.lostTo = owner;
      throw raceLost(name, path, false);
    }
    mine.lastActivity = now;
    this.#owners.set(key, mine.id);
  }

  /** A session writes while it is not beaten, not idle past the lease, and not closed by a PATCH since its last write. */
  #isLive(session: UploadSession, now: number): boolean {
    return (
      session.lostTo === undefined &&
      now - session.lastActivity < this.#leaseMs &&
      (session.closedAt === undefined || session.lastActivity > session.closedAt)
    );
  }

  /** Forgets sessions (and their claims) that can no longer matter: idle past the lease. */
  #pruneSessions(): void {
    const now = this.#now();
    const dead = new Set<string>();
    for (const [id, session] of this.#sessions) {
      if (now - session.lastActivity >= this.#leaseMs) dead.add(id);
    }
    if (dead.size === 0) return;
    for (const id of dead) this.#sessions.delete(id);
    for (const [key, owner] of this.#owners) if (dead.has(owner)) this.#owners.delete(key);
  }

  async #createContainer(
    runId: string,
    name: string,
    retentionDays: number | null,
  ): Promise<{ record: ArtifactRecord; created: boolean }> {
    // Lock on (run, name) so two concurrent creates of one name cannot make two containers.
    return this.#locks.run(`name:${runId}\0${name}`, async () => {
      const existing = this.find(runId, name);
      if (existing) return { record: await this.#reopen(existing), created: false };
      const max = this.limits.maxArtifactsPerRun;
      if (this.list(runId).length >= max) {
        // 403 with "limit" in the message: clients report it as a quota, not as a retryable error.
        throw new ErrorResponse(
          403,
          `Workflow run ${JSON.stringify(runId)} already has ${max} artifacts, the limit of this server (maxArtifactsPerRun)`,
        );
      }
      const containerId = await this.#ids.allocate();
      await mkdir(this.#layout.itemsDir(containerId), { recursive: true });
      const now = new Date().toISOString();
      const record: ArtifactRecord = {
        containerId,
        runId,
        name,
        size: -1,
        retentionDays,
        createdAt: now,
        updatedAt: now,
      };
      await writeJsonAtomic(this.#layout.artifactFile(containerId), record);
      this.#byId.set(containerId, record);
      this.#listing?.apply({ put: record });
      return { record, created: true };
    });
  }

  /**
   * A new upload into an existing artifact (v1 merges uploads of one name) makes it unfinished
   * again until that upload's PATCH: the size goes back to -1, so a download meanwhile (or after
   * that upload crashed) is refused as incomplete instead of mixing the old files with whichever
   * new ones had arrived. Called under the (run, name) lock.
   */
  async #reopen(existing: ArtifactRecord): Promise<ArtifactRecord> {
    if (existing.size === -1) return existing;
    return this.#locks.run(`artifact:${existing.containerId}`, async () => {
      const current = this.#byId.get(existing.containerId) ?? existing;
      const next: ArtifactRecord = { ...current, size: -1, updatedAt: new Date().toISOString() };
      await writeJsonAtomic(this.#layout.artifactFile(next.containerId), next);
      this.#byId.set(next.containerId, next);
      this.#listing?.apply({ put: next });
      return next;
    });
  }

  /**
   * Records the artifact's size when a client finalizes an upload; `undefined` when the artifact
   * does not exist. A client reports the size of its own upload only, but several uploads to one
   * name merge into one artifact, so the size kept is the total of the files the container holds
   * (see ContainerItems.originalSize), or the reported size when that is larger: the client also
   * counts files that failed to upload. A repeated PATCH gives the same size.
   *
   * The PATCH does not say which upload sends it, so it closes every session of the container:
   * a finished upload's files may then be replaced by a later one (v1 merge semantics), and a
   * session that keeps writing afterwards is open again.
   */
  async patchSize(runId: string, name: string, size: number): Promise<ArtifactRecord | undefined> {
    const existing = this.find(runId, name);
    if (!existing) return undefined;
    const now = this.#now();
    for (const session of this.#sessions.values()) {
      if (session.containerId === existing.containerId) session.closedAt = now;
    }
    // Durable before the size is recorded: a finalized artifact's files survive a power loss.
    await (await this.items(existing.containerId)).flush();
    const held = (await this.items(existing.containerId)).originalSize();
    return this.#locks.run(`artifact:${existing.containerId}`, async () => {
      const current = this.#byId.get(existing.containerId) ?? existing;
      const total = Math.max(size, held);
      const next: ArtifactRecord = { ...current, size: total, updatedAt: new Date().toISOString() };
      await writeJsonAtomic(this.#layout.artifactFile(next.containerId), next);
      this.#byId.set(next.containerId, next);
      this.#listing?.apply({ put: next });
      return next;
    });
  }

  /** Finalized artifacts (their size PATCHed) whose retention ended by `now`, oldest first. */
  expired(now: number): ArtifactRecord[] {
    return [...this.#byId.values()]
      .filter((r) => r.size !== -1 && expiresAt(r) <= now)
      .sort((a, b) => a.containerId - b.containerId);
  }

  /**
   * Deletes an artifact whose retention ended: the record first (so it is never listed with
   * files missing), then its files. Re-checked under the name's and the artifact's locks, so an
   * upload into it that started meanwhile (v1 merges uploads of one name) keeps it. Undefined when
   * there was nothing to delete: repeating it is harmless.
   */
  async removeExpired(containerId: number, now: number): Promise<ArtifactRecord | undefined> {
    const record = this.#byId.get(containerId);
    if (!record) return undefined;
    return this.#locks.run(`name:${record.runId}\0${record.name}`, () =>
      this.#locks.run(`artifact:${containerId}`, async () => {
        const current = this.#byId.get(containerId);
        if (!current || current.size === -1 || expiresAt(current) > now) return undefined;
        for (const session of this.#sessions.values()) {
          if (session.containerId === containerId && this.#isLive(session, now)) return undefined;
        }
        await rm(this.#layout.artifactFile(containerId), { force: true });
        this.#listing?.apply({ remove: String(containerId) });
        this.#byId.delete(containerId);
        const items = this.#items.get(containerId);
        this.#items.delete(containerId);
        await (await items?.catch(() => undefined))?.close();
        // Downloads in flight opened their files already and keep reading them.
        await rm(this.#layout.containerDir(containerId), { recursive: true, force: true });
        return current;
      }),
    );
  }

  /**
   * Stores one chunk: a file sent whole (every small file is) goes to the container's pack file,
   * a larger or chunked one to its own data file at the chunk's offset.
   */
  async receive(
    artifact: ArtifactRecord,
    path: string,
    session: string | null,
    chunk: LegacyChunk,
    req: IncomingMessage,
  ): Promise<void> {
    // Before a byte is written: a concurrent upload of the same name writing this file wins (P41).
    this.claim(artifact.containerId, path, session);
    const items = await this.items(artifact.containerId);
    const { range, gzip, fileLength, expectedMd5 } = chunk;
    const length = range.end - range.start;
    if (range.start === 0 && length === range.total && length <= WHOLE_ITEM_LIMIT) {
      const body = await readChunkBody(req, { length, expectedMd5 });
      await items.receiveWhole(path, { range, gzip, fileLength }, body);
    } else {
      await items.receiveChunk(path, { range, gzip, fileLength }, (file, fresh) =>
        writeChunk(req, file, fresh, { offset: range.start, length, expectedMd5 }),
      );
    }
  }

  files(artifact: ArtifactRecord): Promise<LegacyItems> {
    return this.items(artifact.containerId);
  }

  /** The items of a container, loaded from disk on first use and cached. */
  items(containerId: number): Promise<ContainerItems> {
    let items = this.#items.get(containerId);
    if (!items) {
      items = ContainerItems.load(this.#layout, containerId, this.limits.maxArtifactBytes);
      // Do not cache a failed load; the next request retries it.
      items.catch(() => this.#items.delete(containerId));
      this.#items.set(containerId, items);
    }
    return items;
  }

  /** Closes every loaded container's journal. */
  async close(): Promise<void> {
    this.#listing?.close();
    const loaded = await Promise.allSettled(this.#items.values());
    this.#items.clear();
    await Promise.all(loaded.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
  }
}

/** The 409 for an upload that lost the race for a file to another upload of the same name. */
export function raceLost(artifact: string, path: string, earlier: boolean): ErrorResponse {
  const what = earlier
    ? `lost the race for a file to another upload of artifact ${JSON.stringify(artifact)} in this run and may not write ${JSON.stringify(path)} either`
    : `came second: another upload of artifact ${JSON.stringify(artifact)} in this run is writing ${JSON.stringify(path)}`;
  return new ErrorResponse(
    409,
    `This upload ${what}; it is refused so that no file and no artifact mixes the two uploads. ` +
      'Give concurrent uploads different artifact names, or different files',
  );
}

/** The container URL of a create, carrying its upload session (kept by clients that append itemPath). */
export function withUploadSession(containerUrl: string, session: string): string {
  const url = new URL(containerUrl);
  url.searchParams.set(UPLOAD_SESSION_PARAM, session);
  return url.toString();
}

/** When an artifact's retention ends, ms since the epoch. */
export function expiresAt(record: ArtifactRecord): number {
  return Date.parse(record.createdAt) + (record.retentionDays ?? DEFAULT_RETENTION_DAYS) * 86_400_000;
}

export function isArtifactRecord(value: unknown): value is ArtifactRecord {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.containerId === 'number' &&
    typeof r.runId === 'string' &&
    typeof r.name === 'string' &&
    typeof r.size === 'number'
  );
}
