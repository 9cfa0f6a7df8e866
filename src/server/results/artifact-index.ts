import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_LIMITS, type ServerLimits } from '../http/limits.js';
import { TEMP_SUFFIX, readJsonFile, writeJsonAtomic } from '../util/atomic-file.js';
import { IdCounter } from '../util/id-counter.js';
import { KeyedMutex } from '../util/keyed-mutex.js';
import { ListingIndex, type ListingWiring } from '../listing/listing-index.js';
import type { BlobStore, CommittedBlob } from './blob-store.js';
import type { ResultsLayout } from './layout.js';
import { resultsListingSource } from './listing-source.js';
import { TwirpError } from './twirp-errors.js';

/** One artifact of the results protocol: a name in a workflow run, backed by one blob. */
export interface ResultsArtifact {
  /** `database_id` / `artifact_id`: increasing from 1, never reused, kept below 2^53. */
  id: number;
  runId: string;
  jobId: string;
  name: string;
  blobId: string;
  /** From CreateArtifact (`mime_type`), default `application/zip`. */
  mimeType: string;
  /** The client's protocol version (4, or 7 since toolkit 6.2). Recorded only. */
  version: number;
  createdAt: string;
  updatedAt: string;
  /** Requested or default retention end; the retention sweep deletes the artifact after it. */
  expiresAt: string;
  /** Set once by FinalizeArtifact; only finalized artifacts are listed and downloadable. */
  finalized: { size: number; digest: string; at: string } | null;
}

export interface CreateInput {
  runId: string;
  jobId: string;
  name: string;
  mimeType: string;
  version: number;
  expiresAt: Date;
}

export interface FinalizeInput {
  runId: string;
  name: string;
  size: number | undefined;
  hash: string | undefined;
}

export interface ListFilter {
  runId?: string;
  name?: string;
  id?: number;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/i;

/**
 * How long an unfinalized artifact stays reserved for its uploader without any activity
 * (CreateArtifact or a write to its blob). Longer than one 8 MiB block on a slow link plus the
 * client's retries; after it, the upload counts as abandoned and a new CreateArtifact replaces it.
 *
 * An upload is "live" only while this process has seen activity on it within the lease. Uploads
 * found on disk at startup are not live: the process that served them is gone (crash, kill -9,
 * restart), and with it every request in flight. Their uploader can still continue (its signed
 * URL stays valid, and its next block renews the lease), but until it does, a new upload of the
 * name, with or without overwrite, replaces the dead one at once instead of waiting 15 minutes.
 */
export const DEFAULT_UPLOAD_LEASE_MS = 15 * 60 * 1000;

export interface ArtifactIndexOptions {
  /** See {@link DEFAULT_UPLOAD_LEASE_MS}. */
  uploadLeaseMs?: number;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /** Count limits per run; default DEFAULT_LIMITS. */
  limits?: ServerLimits;
  /** Lifetime, clock and reporting of the listing index (see ListingIndex). */
  listing?: ListingWiring;
}

/**
 * The artifact index of the results protocol. Small (one record per artifact), so it is loaded
 * whole at startup and kept in memory; every change is written through (atomically, one file per
 * artifact) before the request is answered. Changes to one (run, name) are serialized, which is
 * what makes "one finalized artifact per name and run" hold under concurrent clients.
 */
export class ArtifactIndex {
  readonly #layout: ResultsLayout;
  readonly #blobs: BlobStore;
  readonly #byId = new Map<number, ResultsArtifact>();
  readonly #byBlob = new Map<string, ResultsArtifact>();
  readonly #locks = new KeyedMutex();
  /** Last activity (ms) of each unfinalized artifact, by blob id. In memory: a restart renews every lease. */
  readonly #activity = new Map<string, number>();
  readonly #leaseMs: number;
  readonly #now: () => number;
  readonly #ids: IdCounter;
  readonly #limits: ServerLimits;
  /** Finalized artifacts by run: what lists are answered from (set once open() has built it). */
  #listing: ListingIndex<ResultsArtifact> | undefined;

  private constructor(layout: ResultsLayout, blobs: BlobStore, options: ArtifactIndexOptions) {
    this.#layout = layout;
    this.#limits = options.limits ?? DEFAULT_LIMITS;
    this.#ids = new IdCounter(layout.counterFile);
    this.#blobs = blobs;
    this.#leaseMs = options.uploadLeaseMs ?? DEFAULT_UPLOAD_LEASE_MS;
    this.#now = options.now ?? Date.now;
    if (!Number.isFinite(this.#leaseMs) || this.#leaseMs < 0) {
      throw new RangeError(
        `uploadLeaseMs must be a non-negative number of milliseconds, got ${this.#leaseMs}`,
      );
    }
  }

  static async open(
    layout: ResultsLayout,
    blobs: BlobStore,
    options: ArtifactIndexOptions = {},
  ): Promise<ArtifactIndex> {
    const index = new ArtifactIndex(layout, blobs, options);
    await mkdir(layout.artifactsDir, { recursive: true });
    await index.#load();
    // After #load: records with missing or damaged blobs are gone from storage by now.
    index.#listing = await ListingIndex.open(resultsListingSource(layout), {
      ...options.listing,
      name: 'results',
      keyOf: (r) => String(r.id),
      runOf: (r) => r.runId,
      compare: (a, b) => a.id - b.id,
    });
    return index;
  }

  /** Stops the listing index's background re-validation. */
  close(): void {
    this.#listing?.close();
  }

  async #load(): Promise<void> {
    let maxId = 0;
    for (const entry of await readdir(this.#layout.artifactsDir)) {
      if (entry.endsWith(TEMP_SUFFIX)) {
        // A record write that a crash interrupted before its rename: never acknowledged.
        await rm(join(this.#layout.artifactsDir, entry), { force: true });
        continue;
      }
      const match = /^(\d+)\.json$/.exec(entry);
      if (!match) continue;
      const id = Number(match[1]);
      maxId = Math.max(maxId, id);
      const record = await readJsonFile(this.#layout.artifactFile(id)).catch(() => undefined);
      if (!isArtifact(record)) continue;
      // An upload whose blob never got created (crash during CreateArtifact) cannot finish; a
      // finalized record whose bytes are missing or short (storage damaged behind our back) must
      // never be listed as if it were whole.
      if (!(await this.#blobIsWhole(record))) {
        await rm(this.#layout.artifactFile(id), { force: true });
        continue;
      }
      this.#remember(record);
    }
    // Blobs no record points to: leftovers of crashed creates or deletes.
    for (const blobId of await this.#blobs.idsOnDisk()) {
      if (!this.#byBlob.has(blobId)) await this.#blobs.remove(blobId);
    }
    await this.#ids.resume(maxId);
  }

  async #blobIsWhole(record: ResultsArtifact): Promise<boolean> {
    if (!this.#blobs.has(record.blobId)) return false;
    if (!record.finalized) return true;
    const committed = this.#blobs.committed(record.blobId);
    if (committed?.size !== record.finalized.size) return false;
    return (await this.#blobs.storedSize(record.blobId)) === record.finalized.size;
  }

  /** A finalized artifact by id. */
  get(id: number): ResultsArtifact | undefined {
    const record = this.#byId.get(id);
    return record?.finalized ? record : undefined;
  }

  /** The artifact (finalized or not) that owns a blob. */
  byBlob(blobId: string): ResultsArtifact | undefined {
    return this.#byBlob.get(blobId);
  }

  /**
   * Finalized artifacts matching the filter, oldest first. Answered from the listing index, in
   * memory: never a scan of storage.
   */
  list(filter: ListFilter): ResultsArtifact[] {
    const inRun = this.#listing?.list(filter.runId) ?? [];
    return inRun.filter(
      (r) =>
        (filter.name === undefined || r.name === filter.name) &&
        (filter.id === undefined || r.id === filter.id),
    );
  }

  /**
   * A new artifact with an empty blob. The name must be free in the run (GitHub's 409 otherwise):
   * a finalized artifact holds it until deleted, and so does an upload in progress, so two
   * concurrent uploads of one name never share or destroy each other's blob: the second is
   * refused before it sends a byte. Only an upload without activity for the lease time counts as
   * abandoned and is replaced (a crashed client must not block the name until someone deletes it).
   */
  async create(input: CreateInput): Promise<ResultsArtifact> {
    return this.#locks.run(nameKey(input.runId, input.name), async () => {
      const existing = this.#find(input.runId, input.name);
      if (existing.some((r) => r.finalized)) {
        throw new TwirpError(
          'already_exists',
          'an artifact with this name already exists on the workflow run',
        );
      }
      const at = this.#now();
      const live = existing.find((r) => at - this.#lastActivity(r) < this.#leaseMs);
      if (live) throw this.#busy(live, at);
      this.#checkRunLimits(input.runId, at);
      for (const stale of existing) await this.#forget(stale);
      const blobId = await this.#blobs.create();
      const id = await this.#ids.allocate();
      const now = new Date().toISOString();
      const record: ResultsArtifact = {
        id,
        runId: input.runId,
        jobId: input.jobId,
        name: input.name,
        blobId,
        mimeType: input.mimeType,
        version: input.version,
        createdAt: now,
        updatedAt: now,
        expiresAt: input.expiresAt.toISOString(),
        finalized: null,
      };
      await writeJsonAtomic(this.#layout.artifactFile(id), record);
      this.#remember(record);
      this.#activity.set(blobId, this.#now());
      return record;
    });
  }

  /**
   * Seals the artifact after checking the client's size and hash against the committed bytes.
   * Repeating it for an artifact that is already finalized with the same content returns the same
   * id, so a client that lost the answer can safely retry.
   */
  async finalize(input: FinalizeInput): Promise<ResultsArtifact> {
    if (input.hash !== undefined && !DIGEST.test(input.hash)) {
      throw new TwirpError(
        'invalid_argument',
        `hash must be "sha256:" followed by 64 hex digits, got ${JSON.stringify(input.hash.slice(0, 100))}`,
      );
    }
    return this.#locks.run(nameKey(input.runId, input.name), async () => {
      const records = this.#find(input.runId, input.name);
      const pending = records.filter((r) => !r.finalized).at(-1);
      if (!pending) {
        const done = records.find((r) => r.finalized);
        if (!done?.finalized) {
          throw new TwirpError(
            'not_found',
            `No artifact named ${JSON.stringify(input.name)} was created in workflow run ${JSON.stringify(input.runId)}`,
          );
        }
        checkContent(input, done.finalized.size, done.finalized.digest);
        return done;
      }
      // Under the blob's lock, no Put Block List can change the bytes between check and seal.
      return this.#blobs.exclusive(pending.blobId, async () => {
        const committed: CommittedBlob | undefined = this.#blobs.committed(pending.blobId);
        if (!committed) {
          throw new TwirpError(
            'failed_precondition',
            `Artifact ${JSON.stringify(input.name)} has no committed blob yet: upload it (Put Block List or Put Blob) before FinalizeArtifact`,
          );
        }
        const digest = `sha256:${committed.sha256}`;
        checkContent(input, committed.size, digest);
        const now = new Date().toISOString();
        const next: ResultsArtifact = {
          ...pending,
          updatedAt: now,
          finalized: { size: committed.size, digest, at: now },
        };
        await writeJsonAtomic(this.#layout.artifactFile(next.id), next);
        this.#remember(next);
        this.#activity.delete(next.blobId);
        return next;
      });
    });
  }

  /**
   * Deletes the artifacts of that name in the run; returns the finalized one (or the newest).
   * With `requesterJobId` (DeleteArtifact), an upload still in progress from another job is
   * left alone: `overwrite` is delete-then-create, and a racing overwrite must not destroy the
   * other upload mid-way (its own create is then refused instead, P42). The requester's own
   * unfinalized upload (a create whose answer was lost) and abandoned ones are deleted.
   */
  async remove(runId: string, name: string, requesterJobId?: string): Promise<ResultsArtifact | undefined> {
    return this.#locks.run(nameKey(runId, name), async () => {
      const at = this.#now();
      const all = this.#find(runId, name);
      const records = all.filter(
        (r) =>
          r.finalized !== null ||
          requesterJobId === undefined ||
          r.jobId === requesterJobId ||
          at - this.#lastActivity(r) >= this.#leaseMs,
      );
      const spared = all.find((r) => !records.includes(r));
      if (records.length === 0 && spared) throw this.#busy(spared, at);
      for (const record of records) await this.#forget(record);
      return records.find((r) => r.finalized) ?? records.at(-1);
    });
  }

  /** Deletes a finalized artifact by id; `undefined` if there is none. */
  async removeById(id: number): Promise<ResultsArtifact | undefined> {
    const record = this.get(id);
    if (!record) return undefined;
    return this.#locks.run(nameKey(record.runId, record.name), async () => {
      const current = this.get(id);
      if (current) await this.#forget(current);
      return current;
    });
  }

  /**
   * False once the artifact is finalized (or gone): its blob must not change any more. The blob
   * routes ask before every write, so a true answer also renews the upload's lease (see create).
   */
  isWritable(blobId: string): boolean {
    const record = this.#byBlob.get(blobId);
    const writable = record !== undefined && record.finalized === null;
    if (writable) this.#activity.set(blobId, this.#now());
    return writable;
  }

  /**
   * Per-run caps: artifacts (every record counts, finalized or not) and live uploads. 403 with
   * "limit" in the message: clients report a quota, and do not retry it.
   */
  #checkRunLimits(runId: string, at: number): void {
    const inRun = [...this.#byId.values()].filter((r) => r.runId === runId);
    const { maxArtifactsPerRun, maxLiveUploadsPerRun } = this.#limits;
    if (inRun.filter((r) => r.finalized !== null).length >= maxArtifactsPerRun) {
      throw new TwirpError(
        'permission_denied',
        `workflow run already has ${maxArtifactsPerRun} artifacts, the limit of this server (maxArtifactsPerRun)`,
      );
    }
    const live = inRun.filter((r) => r.finalized === null && at - this.#lastActivity(r) < this.#leaseMs);
    if (live.length >= maxLiveUploadsPerRun) {
      throw new TwirpError(
        'permission_denied',
        `workflow run already has ${maxLiveUploadsPerRun} uploads in progress, the limit of this server (maxLiveUploadsPerRun); finalize or abandon some first`,
      );
    }
  }

  /** The 409 for a name held by an upload in progress: who holds it, and when it would lapse. */
  #busy(record: ResultsArtifact, at: number): TwirpError {
    const idle = Math.max(0, Math.round((at - this.#lastActivity(record)) / 1000));
    return new TwirpError(
      'already_exists',
      `an artifact with this name is already being uploaded on the workflow run (by job ${JSON.stringify(record.jobId)}, last activity ${idle} s ago); ` +
        `it counts as abandoned once idle for ${Math.round(this.#leaseMs / 1000)} s`,
    );
  }

  /**
   * When an unfinalized artifact last saw activity in this process. One loaded from disk (left
   * by an earlier process that crashed or was restarted) has none: it is not live (see
   * DEFAULT_UPLOAD_LEASE_MS) until its uploader writes to it again.
   */
  #lastActivity(record: ResultsArtifact): number {
    return this.#activity.get(record.blobId) ?? Number.NEGATIVE_INFINITY;
  }

  /** Records of one (run, name), oldest first. */
  #find(runId: string, name: string): ResultsArtifact[] {
    return [...this.#byId.values()]
      .filter((r) => r.runId === runId && r.name === name)
      .sort((a, b) => a.id - b.id);
  }

  /** Called once the record is durable, before the request is answered. */
  #remember(record: ResultsArtifact): void {
    this.#byId.set(record.id, record);
    this.#byBlob.set(record.blobId, record);
    if (record.finalized) this.#listing?.apply({ put: record });
  }

  /** Metadata first, then bytes: a crash in between leaves an orphan blob, which startup removes. */
  async #forget(record: ResultsArtifact): Promise<void> {
    await rm(this.#layout.artifactFile(record.id), { force: true });
    this.#listing?.apply({ remove: String(record.id) });
    this.#byId.delete(record.id);
    this.#byBlob.delete(record.blobId);
    this.#activity.delete(record.blobId);
    await this.#blobs.remove(record.blobId);
  }
}

/** Size and hash are optional in the request; whichever is given must match the stored bytes. */
function checkContent(input: FinalizeInput, size: number, digest: string): void {
  if (input.size !== undefined && input.size !== size) {
    throw new TwirpError(
      'invalid_argument',
      `size ${input.size} does not match the ${size} bytes committed for artifact ${JSON.stringify(input.name)}`,
    );
  }
  if (input.hash !== undefined && input.hash.toLowerCase() !== digest) {
    throw new TwirpError(
      'invalid_argument',
      `hash ${input.hash} does not match the committed bytes of artifact ${JSON.stringify(input.name)}, which hash to ${digest}`,
    );
  }
}

function nameKey(runId: string, name: string): string {
  return `name:${runId}\0${name}`;
}

export function isArtifact(value: unknown): value is ResultsArtifact {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.id === 'number' &&
    typeof r.runId === 'string' &&
    typeof r.jobId === 'string' &&
    typeof r.name === 'string' &&
    typeof r.blobId === 'string' &&
    typeof r.mimeType === 'string' &&
    'finalized' in r
  );
}
