import { randomBytes } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import type { ServerLimits } from '../../http/limits.js';
import type { CreateInput, FinalizeInput, ListFilter, ResultsArtifact } from '../artifact-index.js';
import { isArtifact, DEFAULT_UPLOAD_LEASE_MS } from '../artifact-index.js';
import type { ArtifactRecords, TidyReport } from '../store.js';
import { TwirpError } from '../twirp-errors.js';
import { AzureIdCounter } from './id-counter.js';
import { RunBlobSweep, type RunBlobIds } from './run-blob-sweep.js';
import { RunListCache } from './run-list-cache.js';
import { RunListingSnapshots } from './run-listing-snapshot.js';
import { AzureRunState, type LiveUpload, type UploadFate } from './run-state.js';
import {
  decodeMetaRecord,
  hex,
  isConflict,
  isMissing,
  readSmallJson,
  writeSmallJson,
  type Timed,
  type WriteConditions,
} from './small-json.js';

/** Unfinalized records carry the time their name lease lapses (ms since the epoch). */
type StoredRecord = ResultsArtifact & { leaseUntil?: number };

const DIGEST = /^sha256:[0-9a-f]{64}$/i;
/** Metadata key holding the record, so one List Blobs call returns a whole run's records. */
const RECORD_META = 'ferryrecord';

export interface AzureRecordsOptions {
  limits: ServerLimits;
  /** Store-call latency for /metrics (ServerMetrics.time). */
  time: Timed;
  uploadLeaseMs?: number;
  now?: () => number;
  /** Diagnostics: a run read whole in a list's path (no usable snapshot), as a warning. */
  log?: (level: 'warn', message: string) => void;
}

/**
 * The artifact records of the azure_blob store. Everything lives in the container, written
 * conditionally, so any number of `ferry serve` instances share it:
 *
 * - `runs/<run>/<hex name>`: the one record of a (run, name). Created with If-None-Match: *
 *   (two instances creating one name: exactly one wins, the other answers 409); updated and
 *   deleted with If-Match: <etag>. While unfinalized it is the upload's lease on the name.
 *   The record is also in the blob's metadata, so a run is listed by one List Blobs call.
 * - `ids/<id>`: which (run, name) an id is, for the REST API's by-id routes.
 * - `ids/counter`: the last id allocated, advanced by compare-and-swap.
 * - `run-state/<run>`: the run's counts for its limits (finalized artifacts, live uploads), also
 *   compare-and-swap (see AzureRunState): a create reads it instead of listing the run.
 * - `blobs/<blobId>`: the bytes, written and read by clients through SAS URLs.
 *
 * A list of a run reads the run state (which every finalize and delete updates, with a log of the
 * last changes, before it is answered) and reads the run's records only when this instance's
 * listing of the run is older than that log: "a list shows every artifact whose finalize
 * completed before it began, on any instance" holds without a List Blobs of the run per list.
 */
export class AzureRecords implements ArtifactRecords {
  readonly #container: ContainerClient;
  readonly #prefix: string;
  readonly #ids: AzureIdCounter;
  readonly #runs: AzureRunState;
  readonly #listings: RunListCache;
  readonly #snapshots: RunListingSnapshots;
  readonly #tidy: RunBlobSweep;
  /** Runs whose listing is being re-read in the background. */
  readonly #rewarming = new Set<string>();
  readonly #options: AzureRecordsOptions;
  readonly #leaseMs: number;
  readonly #now: () => number;

  constructor(container: ContainerClient, prefix: string, options: AzureRecordsOptions) {
    this.#container = container;
    this.#prefix = prefix;
    this.#options = options;
    this.#leaseMs = options.uploadLeaseMs ?? DEFAULT_UPLOAD_LEASE_MS;
    this.#now = options.now ?? Date.now;
    this.#ids = new AzureIdCounter(container.getBlockBlobClient(`${prefix}ids/counter`), options.time);
    this.#runs = new AzureRunState(
      (runId) => container.getBlockBlobClient(`${prefix}run-state/${hex(runId)}`),
      { time: options.time, limits: options.limits, now: this.#now },
    );
    this.#listings = new RunListCache(this.#now);
    this.#tidy = new RunBlobSweep(container, prefix, this.#runs, { time: options.time, now: this.#now });
    this.#snapshots = new RunListingSnapshots(
      (runId) => container.getBlockBlobClient(`${prefix}run-listing/${hex(runId)}`),
      { time: options.time, now: this.#now },
    );
  }

  /** The blob an artifact's bytes live in. */
  dataBlobName(blobId: string): string {
    return `${this.#prefix}blobs/${blobId}`;
  }

  async create(input: CreateInput): Promise<ResultsArtifact> {
    const key = this.#recordBlob(input.runId, input.name);
    const existing = await this.#read(input.runId, input.name);
    let replace: string | undefined;
    if (existing) {
      if (existing.record.finalized) throw alreadyExists();
      const lapsesAt = await this.#leaseEnd(existing.record);
      if (this.#now() < lapsesAt) throw this.#busy(existing.record);
      replace = existing.etag;
    }
    const blobId = randomBytes(16).toString('hex');
    const leaseUntil = this.#now() + this.#leaseMs;
    await this.#runs.reserve(
      input.runId,
      { blobId, name: input.name, until: leaseUntil },
      existing?.record.blobId,
      (liveBlobId, entry) => this.#fate(input.runId, liveBlobId, entry),
    );
    try {
      return await this.#createReserved(input, key, blobId, leaseUntil, existing, replace);
    } catch (error) {
      // The slot goes back at once; were this instance to die here, the slot's lease lapses instead.
      await this.#runs.released(input.runId, blobId).catch(() => {});
      throw error;
    }
  }

  async #createReserved(
    input: CreateInput,
    key: string,
    blobId: string,
    leaseUntil: number,
    existing: { record: StoredRecord } | undefined,
    replace: string | undefined,
  ): Promise<ResultsArtifact> {
    const id = await this.#ids.allocate();
    const now = new Date(this.#now()).toISOString();
    const record: StoredRecord = {
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
      leaseUntil,
    };
    // The id pointer first: a record never exists without it (a crash leaves an unused pointer).
    await this.#write(
      `${this.#prefix}ids/${id}`,
      { runId: input.runId, name: input.name },
      { ifNoneMatch: '*' },
    );
    try {
      await this.#write(key, record, replace ? { ifMatch: replace } : { ifNoneMatch: '*' }, true);
    } catch (error) {
      await this.#deleteQuietly(`${this.#prefix}ids/${id}`);
      // Another instance created (or replaced) this name first: GitHub's 409.
      if (isConflict(error)) throw alreadyExists();
      throw error;
    }
    if (existing) await this.#deleteArtifactFiles(existing.record);
    return publicRecord(record);
  }

  async finalize(input: FinalizeInput): Promise<ResultsArtifact> {
    if (input.hash !== undefined && !DIGEST.test(input.hash)) {
      throw new TwirpError(
        'invalid_argument',
        `hash must be "sha256:" followed by 64 hex digits, got ${JSON.stringify(input.hash.slice(0, 100))}`,
      );
    }
    const found = await this.#read(input.runId, input.name);
    if (!found) {
      throw new TwirpError(
        'not_found',
        `No artifact named ${JSON.stringify(input.name)} was created in workflow run ${JSON.stringify(input.runId)}`,
      );
    }
    const { record, etag } = found;
    if (record.finalized) {
      checkContent(input, record.finalized.size, record.finalized.digest);
      // A retry after a crash between the record write and the count update completes the count.
      await this.#runs.finalized(record.runId, publicRecord(record), false);
      return publicRecord(record);
    }
    const size = await this.#committedSize(record.blobId);
    if (size === undefined) {
      throw new TwirpError(
        'failed_precondition',
        `Artifact ${JSON.stringify(input.name)} has no committed blob yet: upload it (Put Block List or Put Blob) before FinalizeArtifact`,
      );
    }
    // Azure keeps no SHA-256 of a blob: the size is checked here, the client's digest recorded
    // as sent (downloaders verify it against the bytes they receive).
    checkContent(input, size, undefined);
    const now = new Date(this.#now()).toISOString();
    const next: StoredRecord = {
      ...publicRecord(record),
      updatedAt: now,
      finalized: { size, digest: input.hash?.toLowerCase() ?? '', at: now },
    };
    try {
      await this.#write(this.#recordBlob(input.runId, input.name), next, { ifMatch: etag }, true);
    } catch (error) {
      // Changed under us (a concurrent finalize, or the lease lapsed and the name was replaced):
      // answer from what is stored now.
      if (isConflict(error)) return this.finalize(input);
      throw error;
    }
    await this.#runs.finalized(next.runId, publicRecord(next), true);
    return publicRecord(next);
  }

  async list(filter: ListFilter): Promise<ResultsArtifact[]> {
    const all =
      filter.runId === undefined ? await this.#readFinalized(undefined) : await this.#listRun(filter.runId);
    return all.filter(
      (r) =>
        (filter.name === undefined || r.name === filter.name) &&
        (filter.id === undefined || r.id === filter.id),
    );
  }

  /**
   * A run's finalized records: from this instance's cache, brought up to date from the run
   * state's change log (one small GET), or read from the container when the log no longer
   * reaches back to the cache. The state is read before the records, so a change racing the read
   * is applied again from the log by the next list (idempotently: by id).
   */
  async #listRun(runId: string): Promise<ResultsArtifact[]> {
    const state = await this.#runs.read(runId);
    const cached = this.#listings.get(runId, state);
    if (cached?.stale) this.#rewarm(runId);
    if (cached) return cached.records;
    // A cold instance: the snapshot another instance (or this one) wrote after its whole read,
    // brought up to date from the change log like a cached listing. Only when there is none, or
    // the log no longer reaches back to it, is the run read whole here, once, with a warning.
    const snapshot = await this.#snapshots.read(runId);
    if (snapshot) {
      this.#listings.set(runId, snapshot.changes, snapshot.records, snapshot.at, snapshot.epoch);
      const fromSnapshot = this.#listings.get(runId, state);
      if (fromSnapshot?.stale) this.#rewarm(runId);
      if (fromSnapshot) return fromSnapshot.records;
    }
    this.#options.log?.(
      'warn',
      `listing run ${runId}: no up-to-date listing snapshot in the container, reading the run's records whole (once; later lists use the snapshot and the change log)`,
    );
    return this.#readWhole(runId, state);
  }

  /** Reads a run's records whole, caches them and writes the snapshot cold instances start from. */
  async #readWhole(runId: string, state: { epoch: string; changes: number }): Promise<ResultsArtifact[]> {
    const records = await this.#readFinalized(runId);
    this.#listings.set(runId, state.changes, records, undefined, state.epoch);
    await this.#snapshots.write(runId, state.epoch, state.changes, records).catch(() => undefined);
    return records;
  }

  /** Reads a run whole in the background (one at a time per run); a failure leaves the old listing. */
  #rewarm(runId: string): void {
    if (this.#rewarming.has(runId)) return;
    this.#rewarming.add(runId);
    void (async () => {
      const state = await this.#runs.read(runId);
      await this.#readWhole(runId, state);
    })()
      .catch(() => {})
      .finally(() => this.#rewarming.delete(runId));
  }

  /** Every finalized record of a run (or of the store), oldest first: one List Blobs call per 5,000. */
  async #readFinalized(runId: string | undefined): Promise<ResultsArtifact[]> {
    const found: ResultsArtifact[] = [];
    await this.#eachRecord(runId === undefined ? '' : `${hex(runId)}/`, (_name, record) => {
      if (record?.finalized) found.push(publicRecord(record));
    });
    return found.sort((a, b) => a.id - b.id);
  }

  /** The retention sweep's care of the per-run blobs (see RunBlobSweep). */
  tidy(): Promise<TidyReport> {
    return this.#tidy.sweep(() => this.#blobIdsByRun());
  }

  /** Every record's blob id by run, finalized or not: one List Blobs call per 5,000 records. */
  async #blobIdsByRun(): Promise<Map<string, RunBlobIds>> {
    const runs = new Map<string, RunBlobIds>();
    await this.#eachRecord('', (name, record) => {
      // A blob there whose record cannot be read still keeps its run (by the run in its name).
      const runHex = name.slice(`${this.#prefix}runs/`.length).split('/')[0] ?? '';
      const runId = record?.runId ?? Buffer.from(runHex, 'hex').toString('utf8');
      let ids = runs.get(runId);
      if (!ids) runs.set(runId, (ids = { all: new Set(), finalized: new Set() }));
      ids.all.add(record?.blobId ?? name);
      if (record?.finalized) ids.finalized.add(record.blobId);
    });
    return runs;
  }

  /**
   * Every record blob under `runs/<under>` with the record its metadata carries (undefined when
   * it cannot be read): one List Blobs call per 5,000 records.
   */
  async #eachRecord(
    under: string,
    visit: (name: string, record: StoredRecord | undefined) => void,
  ): Promise<void> {
    const prefix = `${this.#prefix}runs/${under}`;
    await this.#options.time('list_records', async () => {
      for await (const item of this.#container.listBlobsFlat({ prefix, includeMetadata: true })) {
        visit(item.name, decodeMeta(item.metadata?.[RECORD_META]));
      }
    });
  }

  async get(id: number): Promise<ResultsArtifact | undefined> {
    if (!Number.isSafeInteger(id) || id < 1) return undefined;
    const pointer = await readSmallJson(
      this.#container.getBlockBlobClient(`${this.#prefix}ids/${id}`),
      this.#options.time,
    );
    const target = pointer?.value as { runId?: unknown; name?: unknown } | undefined;
    if (typeof target?.runId !== 'string' || typeof target.name !== 'string') return undefined;
    const found = await this.#read(target.runId, target.name);
    return found?.record.id === id && found.record.finalized ? publicRecord(found.record) : undefined;
  }

  async remove(runId: string, name: string, requesterJobId?: string): Promise<ResultsArtifact | undefined> {
    const found = await this.#read(runId, name);
    if (!found) return undefined;
    const { record } = found;
    if (
      !record.finalized &&
      requesterJobId !== undefined &&
      record.jobId !== requesterJobId &&
      this.#now() < (await this.#leaseEnd(record))
    ) {
      throw this.#busy(record);
    }
    return this.#removeFound(found);
  }

  async removeById(id: number): Promise<ResultsArtifact | undefined> {
    const record = await this.get(id);
    if (!record) return undefined;
    const found = await this.#read(record.runId, record.name);
    return found?.record.id === id ? this.#removeFound(found) : undefined;
  }

  close(): void {
    // Nothing runs in the background: a list validates its cached run against storage itself.
  }

  /** Record first (conditionally: whoever deletes it first owns the deletion), then the rest. */
  async #removeFound(found: { record: StoredRecord; etag: string }): Promise<ResultsArtifact | undefined> {
    try {
      await this.#options.time('delete_record', () =>
        this.#container
          .getBlockBlobClient(this.#recordBlob(found.record.runId, found.record.name))
          .delete({ conditions: { ifMatch: found.etag } }),
      );
    } catch (error) {
      if (isConflict(error) || isMissing(error)) return undefined;
      throw error;
    }
    if (found.record.finalized) await this.#runs.removedFinalized(found.record.runId, found.record.id);
    else await this.#runs.released(found.record.runId, found.record.blobId);
    await this.#deleteArtifactFiles(found.record);
    return publicRecord(found.record);
  }

  async #deleteArtifactFiles(record: ResultsArtifact): Promise<void> {
    await this.#deleteQuietly(this.dataBlobName(record.blobId));
    await this.#deleteQuietly(`${this.#prefix}ids/${record.id}`);
  }

  async #deleteQuietly(name: string): Promise<void> {
    await this.#options.time('delete_blob', () => this.#container.getBlockBlobClient(name).deleteIfExists());
  }

  /**
   * When the upload's hold on the name lapses: its lease, renewed by any write the client made
   * to the blob (a block list commit moves the blob's Last-Modified; staged blocks alone do not).
   */
  async #leaseEnd(record: StoredRecord): Promise<number> {
    const base = record.leaseUntil ?? Date.parse(record.updatedAt) + this.#leaseMs;
    try {
      const props = await this.#options.time('blob_properties', () =>
        this.#container.getBlockBlobClient(this.dataBlobName(record.blobId)).getProperties(),
      );
      const modified = props.lastModified?.getTime() ?? 0;
      return Math.max(base, modified + this.#leaseMs);
    } catch (error) {
      if (isMissing(error)) return base;
      throw error;
    }
  }

  async #committedSize(blobId: string): Promise<number | undefined> {
    try {
      const props = await this.#options.time('blob_properties', () =>
        this.#container.getBlockBlobClient(this.dataBlobName(blobId)).getProperties(),
      );
      return props.contentLength ?? 0;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  /** What a live upload whose lease lapsed in the run state has become (see UploadFate). */
  async #fate(runId: string, blobId: string, entry: LiveUpload): Promise<UploadFate> {
    const found = await this.#read(runId, entry.name);
    if (found?.record.blobId !== blobId) return { state: 'gone' };
    if (found.record.finalized) return { state: 'finalized' };
    const until = await this.#leaseEnd(found.record);
    return until > this.#now() ? { state: 'live', until } : { state: 'gone' };
  }

  #busy(record: ResultsArtifact): TwirpError {
    return new TwirpError(
      'already_exists',
      `an artifact with this name is already being uploaded on the workflow run (by job ${JSON.stringify(record.jobId)}); ` +
        `it counts as abandoned once idle for ${Math.round(this.#leaseMs / 1000)} s`,
    );
  }

  #recordBlob(runId: string, name: string): string {
    return `${this.#prefix}runs/${hex(runId)}/${hex(name)}`;
  }

  async #read(runId: string, name: string): Promise<{ record: StoredRecord; etag: string } | undefined> {
    const found = await readSmallJson(
      this.#container.getBlockBlobClient(this.#recordBlob(runId, name)),
      this.#options.time,
    );
    if (!found || !isArtifact(found.value)) return undefined;
    return { record: found.value as StoredRecord, etag: found.etag };
  }

  async #write(name: string, value: object, conditions: WriteConditions, withMeta = false): Promise<void> {
    await writeSmallJson(
      this.#container.getBlockBlobClient(name),
      this.#options.time,
      'write_record',
      value,
      {
        conditions,
        ...(withMeta ? { metadataKey: RECORD_META } : {}),
      },
    );
  }
}

function decodeMeta(value: string | undefined): StoredRecord | undefined {
  return decodeMetaRecord(value, 16_384, (parsed): parsed is StoredRecord => isArtifact(parsed));
}

/** The record without store-internal fields. */
function publicRecord(record: StoredRecord): ResultsArtifact {
  const { leaseUntil: _lease, ...rest } = record;
  return rest;
}

function alreadyExists(): TwirpError {
  return new TwirpError('already_exists', 'an artifact with this name already exists on the workflow run');
}

function checkContent(input: FinalizeInput, size: number, digest: string | undefined): void {
  if (input.size !== undefined && input.size !== size) {
    throw new TwirpError(
      'invalid_argument',
      `size ${input.size} does not match the ${size} bytes committed for artifact ${JSON.stringify(input.name)}`,
    );
  }
  if (digest && input.hash !== undefined && input.hash.toLowerCase() !== digest) {
    throw new TwirpError(
      'invalid_argument',
      `hash ${input.hash} does not match the digest recorded for artifact ${JSON.stringify(input.name)}, ${digest}`,
    );
  }
}
