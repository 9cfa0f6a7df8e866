import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ContainerClient } from '@azure/storage-blob';
import { ErrorResponse } from '../../http/error-response.js';
import type { ServerLimits } from '../../http/limits.js';
import { AzureIdCounter } from '../../results/azure/id-counter.js';
import {
  decodeMetaRecord,
  hex,
  isConflict,
  isMissing,
  readSmallJson,
  writeSmallJson,
  type Timed,
  type WriteConditions,
} from '../../results/azure/small-json.js';
import { expiresAt, isArtifactRecord, type ArtifactRecord } from '../artifact-store.js';
import type { LegacyChunk, LegacyItems, LegacyStore } from '../store.js';
import { AzureLegacyFiles } from './azure-legacy-files.js';
import { isSessionId, NO_SESSION } from './block-ids.js';
import { ContainerBytes } from './container-bytes.js';
import { deletePrefix } from './delete-prefix.js';
import { AzureUploadSessions } from './upload-sessions.js';

/** Metadata key holding a container record, so one List Blobs call returns a whole run. */
const RECORD_META = 'ferrylegacy';
/** Lost compare-and-swap races before giving up (only under a storm of writes to one artifact). */
const MAX_ATTEMPTS = 20;
/** Container ids whose (run, name) this instance remembers; the mapping never changes, so any subset will do. */
const MAX_CACHED_POINTERS = 10_000;

export interface AzureLegacyOptions {
  limits: ServerLimits;
  /** Store-call latency for /metrics (ServerMetrics.time). */
  time: Timed;
  /** How long an idle upload session keeps its files (DEFAULT_SESSION_LEASE_MS). */
  sessionLeaseMs?: number;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
}

/** A container record as stored: `closedAt` is when the last PATCH closed its upload sessions (ms). */
type StoredRecord = ArtifactRecord & { closedAt?: number };

/**
 * The legacy protocol's records in an azure_blob store, shared by every instance on the
 * container, in the manner of the results records (AzureRecords):
 *
 * - `legacy/runs/<hex run>/<hex name>`: the container record of a (run, name), created with
 *   If-None-Match: * (two instances creating one name: one creates, the other merges into it,
 *   as v1 clients expect) and updated with If-Match: <etag>. Also in the blob's metadata, so a
 *   run is listed by one List Blobs call, never from a per-instance cache.
 * - `legacy/containers/<id>`: which (run, name) a container id is (the URLs carry the id).
 * - `legacy/counter`: the last container id allocated, advanced by compare-and-swap.
 * - `legacy/items/<id>/...`: the files (AzureLegacyFiles).
 * - `legacy/uploads/<id>/bytes`: the container's committed bytes (ContainerBytes).
 *
 */
export class AzureLegacyStore implements LegacyStore {
  readonly kind = 'azure_blob';
  readonly limits: ServerLimits;
  readonly #container: ContainerClient;
  readonly #streaming: ContainerClient;
  readonly #prefix: string;
  readonly #time: Timed;
  readonly #ids: AzureIdCounter;
  readonly #sessions: AzureUploadSessions;
  readonly #now: () => number;
  readonly #pointers = new Map<number, { runId: string; name: string }>();

  constructor(
    container: ContainerClient,
    streaming: ContainerClient,
    prefix: string,
    options: AzureLegacyOptions,
  ) {
    this.#container = container;
    this.#streaming = streaming;
    this.#prefix = prefix;
    this.#time = options.time;
    this.limits = options.limits;
    this.#ids = new AzureIdCounter(container.getBlockBlobClient(`${prefix}legacy/counter`), options.time);
    this.#now = options.now ?? Date.now;
    this.#sessions = new AzureUploadSessions(container, prefix, {
      time: options.time,
      now: this.#now,
      ...(options.sessionLeaseMs !== undefined ? { leaseMs: options.sessionLeaseMs } : {}),
    });
  }

  async get(containerId: number): Promise<ArtifactRecord | undefined> {
    return (await this.#readById(containerId))?.record;
  }

  async list(runId: string): Promise<ArtifactRecord[]> {
    return this.#listRecords(`${this.#prefix}legacy/runs/${hex(runId)}/`);
  }

  async create(
    runId: string,
    name: string,
    retentionDays: number | null,
  ): Promise<{ record: ArtifactRecord; created: boolean; session: string }> {
    const session = randomBytes(12).toString('hex');
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const found = await this.#read(runId, name);
      if (found) {
        const record = await this.#reopen(found);
        if (!record) continue;
        await this.#sessions.open(record.containerId, session);
        return { record, created: false, session };
      }
      const max = this.limits.maxArtifactsPerRun;
      if ((await this.list(runId)).length >= max) {
        // 403 with "limit" in the message: clients report it as a quota, not as a retryable error.
        throw new ErrorResponse(
          403,
          `Workflow run ${JSON.stringify(runId)} already has ${max} artifacts, the limit of this server (maxArtifactsPerRun)`,
        );
      }
      const containerId = await this.#ids.allocate();
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
      // The id pointer first: a record never exists without it (a crash leaves an unused pointer).
      await this.#write(this.#pointerBlob(containerId), { runId, name }, { ifNoneMatch: '*' });
      await this.#bytes(containerId).start();
      try {
        await this.#write(this.#recordBlob(runId, name), record, { ifNoneMatch: '*' }, true);
        await this.#sessions.open(containerId, session);
        return { record, created: true, session };
      } catch (error) {
        await this.#deleteQuietly(this.#bytesBlob(containerId));
        await this.#deleteQuietly(this.#pointerBlob(containerId));
        // Another instance created this name first: merge into its container (next attempt).
        if (!isConflict(error)) throw error;
      }
    }
    throw new Error(
      `could not create artifact ${JSON.stringify(name)} after ${MAX_ATTEMPTS} concurrent attempts`,
    );
  }

  /**
   * A new upload into a finalized artifact makes it unfinished again until that upload's PATCH
   * (see ArtifactStore.#reopen). Undefined when the record changed meanwhile: the caller re-reads.
   */
  async #reopen(found: { record: ArtifactRecord; etag: string }): Promise<ArtifactRecord | undefined> {
    if (found.record.size === -1) return found.record;
    const next: ArtifactRecord = { ...found.record, size: -1, updatedAt: new Date().toISOString() };
    try {
      await this.#write(this.#recordBlob(next.runId, next.name), next, { ifMatch: found.etag }, true);
      return next;
    } catch (error) {
      if (isConflict(error) || isMissing(error)) return undefined;
      throw error;
    }
  }

  /**
   * Stores one chunk. First, before a byte is written, the upload's session claims the file
   * (AzureUploadSessions.claim): a concurrent upload of the same name writing it wins (409).
   * The chunk's block carries the session, so only this upload's blocks make the file.
   */
  async receive(
    artifact: ArtifactRecord,
    path: string,
    session: string | null,
    chunk: LegacyChunk,
    req: IncomingMessage,
  ): Promise<void> {
    const tracked = isSessionId(session) ? session : undefined;
    if (tracked) {
      const closedAt = (artifact as StoredRecord).closedAt;
      await this.#sessions.claim(
        {
          containerId: artifact.containerId,
          name: artifact.name,
          closedAt: typeof closedAt === 'number' ? closedAt : undefined,
        },
        path,
        tracked,
        chunk.range.start === 0,
      );
    }
    const files = this.#files(artifact.containerId);
    const bytes = this.#bytes(artifact.containerId);
    await files.receive(path, tracked ?? NO_SESSION, chunk, req, (previous, total) =>
      bytes.add(path, previous, total, this.limits.maxArtifactBytes),
    );
  }

  /**
   * The container's committed bytes, bounded by maxArtifactBytes across instances. A container
   * created before that count existed is counted from its listing once, by whichever instance
   * commits into it first.
   */
  #bytes(containerId: number): ContainerBytes {
    return new ContainerBytes(
      this.#container.getBlockBlobClient(this.#bytesBlob(containerId)),
      this.#time,
      () =>
        this.#files(containerId)
          .all()
          .then((items) => items.reduce((sum, item) => sum + item.total, 0)),
    );
  }

  files(artifact: ArtifactRecord): Promise<LegacyItems> {
    return Promise.resolve(this.#files(artifact.containerId));
  }

  #files(containerId: number): AzureLegacyFiles {
    return new AzureLegacyFiles(this.#container, this.#streaming, this.#prefix, containerId, this.#time);
  }

  /** As ArtifactStore.patchSize: the larger of the client's size and the files the container holds. */
  async patchSize(runId: string, name: string, size: number): Promise<ArtifactRecord | undefined> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const found = await this.#read(runId, name);
      if (!found) return undefined;
      const held = (await this.#files(found.record.containerId).all()).reduce(
        (sum, item) => sum + (item.fileLength ?? item.total),
        0,
      );
      // The PATCH does not say which upload sends it, so it closes every session of the
      // container, as on the filesystem store: a session live again only by writing after it.
      const next: StoredRecord = {
        ...found.record,
        size: Math.max(size, held),
        updatedAt: new Date().toISOString(),
        closedAt: this.#now(),
      };
      try {
        await this.#write(this.#recordBlob(runId, name), next, { ifMatch: found.etag }, true);
        return next;
      } catch (error) {
        if (!isConflict(error) && !isMissing(error)) throw error;
      }
    }
    throw new Error(
      `could not finalize artifact ${JSON.stringify(name)} after ${MAX_ATTEMPTS} concurrent attempts`,
    );
  }

  async expired(now: number): Promise<ArtifactRecord[]> {
    const all = await this.#listRecords(`${this.#prefix}legacy/runs/`);
    return all.filter((r) => r.size !== -1 && expiresAt(r) <= now);
  }

  /**
   * The record first, conditionally on the ETag it was checked under (an upload that reopened it
   * meanwhile keeps it; whichever instance deletes first owns the deletion), then the id pointer
   * and every file blob. Undefined when there was nothing to delete: repeating it is harmless.
   */
  async removeExpired(containerId: number, now: number): Promise<ArtifactRecord | undefined> {
    const found = await this.#readById(containerId);
    if (!found || found.record.size === -1 || expiresAt(found.record) > now) return undefined;
    try {
      await this.#time('delete_record', () =>
        this.#container
          .getBlockBlobClient(this.#recordBlob(found.record.runId, found.record.name))
          .delete({ conditions: { ifMatch: found.etag } }),
      );
    } catch (error) {
      if (isConflict(error) || isMissing(error)) return undefined;
      throw error;
    }
    await this.#deleteQuietly(this.#pointerBlob(containerId));
    this.#pointers.delete(containerId);
    await this.#files(containerId).removeAll();
    await deletePrefix(this.#container, this.#uploadsPrefix(containerId), this.#time);
    return found.record;
  }

  async close(): Promise<void> {
    // Nothing runs in the background: every answer reads the container.
  }

  async #readById(containerId: number): Promise<{ record: ArtifactRecord; etag: string } | undefined> {
    if (!Number.isSafeInteger(containerId) || containerId < 1) return undefined;
    let target = this.#pointers.get(containerId);
    if (!target) {
      const pointer = await readSmallJson(
        this.#container.getBlockBlobClient(this.#pointerBlob(containerId)),
        this.#time,
      );
      const value = pointer?.value as { runId?: unknown; name?: unknown } | undefined;
      if (typeof value?.runId !== 'string' || typeof value.name !== 'string') return undefined;
      target = { runId: value.runId, name: value.name };
      if (this.#pointers.size >= MAX_CACHED_POINTERS) this.#pointers.clear();
      this.#pointers.set(containerId, target);
    }
    const found = await this.#read(target.runId, target.name);
    // The name may have been deleted and created again under a new id: this id is gone.
    return found?.record.containerId === containerId ? found : undefined;
  }

  async #read(runId: string, name: string): Promise<{ record: ArtifactRecord; etag: string } | undefined> {
    const found = await readSmallJson(
      this.#container.getBlockBlobClient(this.#recordBlob(runId, name)),
      this.#time,
    );
    if (!found || !isArtifactRecord(found.value)) return undefined;
    return { record: found.value, etag: found.etag };
  }

  async #listRecords(prefix: string): Promise<ArtifactRecord[]> {
    const found: ArtifactRecord[] = [];
    await this.#time('list_records', async () => {
      for await (const item of this.#container.listBlobsFlat({ prefix, includeMetadata: true })) {
        const record = decodeMeta(item.metadata?.[RECORD_META]);
        if (record) found.push(record);
      }
    });
    return found.sort((a, b) => a.containerId - b.containerId);
  }

  #recordBlob(runId: string, name: string): string {
    return `${this.#prefix}legacy/runs/${hex(runId)}/${hex(name)}`;
  }

  /** Per-container upload state: the committed bytes, and the upload sessions and file claims. */
  #uploadsPrefix(containerId: number): string {
    return `${this.#prefix}legacy/uploads/${containerId}/`;
  }

  #bytesBlob(containerId: number): string {
    return `${this.#uploadsPrefix(containerId)}bytes`;
  }

  #pointerBlob(containerId: number): string {
    return `${this.#prefix}legacy/containers/${containerId}`;
  }

  async #write(name: string, value: object, conditions: WriteConditions, withMeta = false): Promise<void> {
    await writeSmallJson(this.#container.getBlockBlobClient(name), this.#time, 'write_record', value, {
      conditions,
      ...(withMeta ? { metadataKey: RECORD_META } : {}),
    });
  }

  async #deleteQuietly(name: string): Promise<void> {
    await this.#time('delete_blob', () => this.#container.getBlockBlobClient(name).deleteIfExists());
  }
}

function decodeMeta(value: string | undefined): ArtifactRecord | undefined {
  return decodeMetaRecord(value, 16_384, isArtifactRecord);
}
