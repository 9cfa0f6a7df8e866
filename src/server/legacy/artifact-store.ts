import { mkdir, readdir } from 'node:fs/promises';
import { readJsonFile, writeJsonAtomic } from '../util/atomic-file.js';
import { KeyedMutex } from '../util/keyed-mutex.js';
import { ContainerItems } from './container-items.js';
import type { LegacyLayout } from './layout.js';

/** What the server remembers about one artifact (= one file container). */
export interface ArtifactRecord {
  containerId: number;
  runId: string;
  name: string;
  /** -1 until the client PATCHes the final size, as on the real service. */
  size: number;
  /** Requested retention; null = server default. Recorded, not enforced (nothing expires locally). */
  retentionDays: number | null;
  createdAt: string;
  updatedAt: string;
}

/**
 * The artifact index: which containers exist, for which run and name. It is small (one record
 * per artifact), so it is loaded whole at startup and kept in memory; every change is written
 * through to `artifact.json` before the request is answered. Items of a container are loaded
 * lazily (see ContainerItems) because a container can hold tens of thousands of them.
 */
export class ArtifactStore {
  readonly #layout: LegacyLayout;
  readonly #byId = new Map<number, ArtifactRecord>();
  readonly #items = new Map<number, Promise<ContainerItems>>();
  readonly #locks = new KeyedMutex();
  #nextId = 1;

  private constructor(layout: LegacyLayout) {
    this.#layout = layout;
  }

  static async open(layout: LegacyLayout): Promise<ArtifactStore> {
    const store = new ArtifactStore(layout);
    await mkdir(layout.containersDir, { recursive: true });
    await store.#load();
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
        // A directory without artifact.json is a create that crashed half-way: skip it, but never
        // reuse its id (maxId above).
        if (isArtifactRecord(record)) this.#byId.set(id, record);
      }),
    );
    const counter = await readJsonFile(this.#layout.counterFile);
    const persisted =
      typeof counter === 'object' && counter !== null ? Number((counter as { next?: unknown }).next) : NaN;
    this.#nextId = Math.max(maxId + 1, Number.isSafeInteger(persisted) ? persisted : 1);
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

  /** Artifacts of one run in creation order. */
  list(runId: string): ArtifactRecord[] {
    return [...this.#byId.values()]
      .filter((r) => r.runId === runId)
      .sort((a, b) => a.containerId - b.containerId);
  }

  /**
   * Creates the container for (run, name), or returns the existing one: v1 clients merge several
   * uploads into one artifact by creating the same name again.
   */
  async create(
    runId: string,
    name: string,
    retentionDays: number | null,
  ): Promise<{ record: ArtifactRecord; created: boolean }> {
    // Lock on (run, name) so two concurrent creates of one name cannot make two containers.
    return this.#locks.run(`name:${runId}\0${name}`, async () => {
      const existing = this.find(runId, name);
      if (existing) return { record: existing, created: false };
      const containerId = await this.#allocateId();
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
      return { record, created: true };
    });
  }

  /** Records the final size the client reports; `undefined` when the artifact does not exist. */
  async patchSize(runId: string, name: string, size: number): Promise<ArtifactRecord | undefined> {
    const existing = this.find(runId, name);
    if (!existing) return undefined;
    return this.#locks.run(`artifact:${existing.containerId}`, async () => {
      const current = this.#byId.get(existing.containerId) ?? existing;
      const next: ArtifactRecord = { ...current, size, updatedAt: new Date().toISOString() };
      await writeJsonAtomic(this.#layout.artifactFile(next.containerId), next);
      this.#byId.set(next.containerId, next);
      return next;
    });
  }

  /** The items of a container, loaded from disk on first use and cached. */
  items(containerId: number): Promise<ContainerItems> {
    let items = this.#items.get(containerId);
    if (!items) {
      items = ContainerItems.load(this.#layout, containerId);
      // Do not cache a failed load; the next request retries it.
      items.catch(() => this.#items.delete(containerId));
      this.#items.set(containerId, items);
    }
    return items;
  }

  /** Closes every loaded container's journal. */
  async close(): Promise<void> {
    const loaded = await Promise.allSettled(this.#items.values());
    this.#items.clear();
    await Promise.all(loaded.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
  }

  /** Ids only ever grow, and the counter is persisted before an id is used, so restarts never reuse one. */
  async #allocateId(): Promise<number> {
    return this.#locks.run('counter', async () => {
      const id = this.#nextId;
      await writeJsonAtomic(this.#layout.counterFile, { next: id + 1 });
      this.#nextId = id + 1;
      return id;
    });
  }
}

function isArtifactRecord(value: unknown): value is ArtifactRecord {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.containerId === 'number' &&
    typeof r.runId === 'string' &&
    typeof r.name === 'string' &&
    typeof r.size === 'number'
  );
}
