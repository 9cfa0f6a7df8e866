import { randomBytes } from 'node:crypto';
import type { BlockBlobClient } from '@azure/storage-blob';
import type { ServerLimits } from '../../http/limits.js';
import { isArtifact, type ResultsArtifact } from '../artifact-index.js';
import { TwirpError } from '../twirp-errors.js';
import { isConflict, isMissing, readSmallJson, writeSmallJson, type Timed } from './small-json.js';

/** One upload in progress: the name it holds and when its lease lapses (ms since the epoch). */
export interface LiveUpload {
  name: string;
  until: number;
}

/**
 * What the per-run limits need, kept in one blob per run (`run-state/<hex run>`) so that
 * CreateArtifact reads one small blob instead of listing the whole run:
 * - `finalized`: how many finalized artifacts the run holds (maxArtifactsPerRun);
 * - `live`: the uploads in progress, by blob id (maxLiveUploadsPerRun);
 * - `changes`: bumped by every finalize and delete in the run, and `log`, the last of those
 *   changes with their numbers: an instance that listed the run at change N brings its listing
 *   up to date from the log alone while it still reaches back to N + 1 (see RunListCache).
 */
export interface RunCounts {
  /**
   * Which life of the blob the change numbers count in: random, set when the blob is created
   * ('' for a blob written before epochs existed, or none). The sweep deletes the state of a run
   * whose artifacts are all gone, and a later create starts counting changes again: a listing
   * (or snapshot) of another epoch is never brought up to date from this one's log.
   */
  epoch: string;
  finalized: number;
  live: Record<string, LiveUpload>;
  changes: number;
  log: ListingChange[];
}

/** One change of a run's listing: an artifact finalized (its record) or deleted (its id). */
export type ListingChange = { seq: number; record: ResultsArtifact } | { seq: number; removedId: number };

/** Changes kept in the log: a few per second of a busy run, at most ~20 KiB of records. */
const LOG_LENGTH = 32;

/**
 * What an upload whose lease in the run state has lapsed really is now, asked of its record and
 * blob: still live (its client kept writing: the lease is renewed to `until`), finalized (the
 * finalize's own count update was lost to a crash), or gone (abandoned, replaced or deleted).
 */
export type UploadFate = { state: 'live'; until: number } | { state: 'finalized' } | { state: 'gone' };

/** Gives up after this many lost races in a row (only under a storm of concurrent writes). */
const MAX_ATTEMPTS = 50;
/** maxLiveUploadsPerRun entries of a blob id and a name (at most 256 characters) fit well within it. */
const MAX_RUN_STATE_BYTES = 4 * 1024 * 1024;

/**
 * The per-run counts of the azure_blob store, changed by compare-and-swap (If-Match on the ETag,
 * If-None-Match: * for a run's first), so several instances keep one count. Each change is
 * idempotent where a retry or a crash could repeat it (finalizing an upload no longer listed as
 * live changes nothing), and an entry whose lease lapsed is settled against storage before it is
 * dropped: an instance killed mid-upload never holds a slot beyond the upload's lease, and one
 * killed between a finalize's record write and its count update is counted by the next create.
 */
export class AzureRunState {
  readonly #blobOf: (runId: string) => BlockBlobClient;
  readonly #time: Timed;
  readonly #limits: ServerLimits;
  readonly #now: () => number;

  constructor(
    blobOf: (runId: string) => BlockBlobClient,
    options: { time: Timed; limits: ServerLimits; now: () => number },
  ) {
    this.#blobOf = blobOf;
    this.#time = options.time;
    this.#limits = options.limits;
    this.#now = options.now;
  }

  /**
   * Takes a live-upload slot for a new upload after checking both per-run limits (403 with
   * "limit" in the message, as the filesystem store answers). `replaces` is the blob id of a
   * lapsed upload of the same name that the new one replaces: its slot is given back in the same
   * write. `settle` tells what a lapsed entry has become (see UploadFate).
   */
  async reserve(
    runId: string,
    upload: LiveUpload & { blobId: string },
    replaces: string | undefined,
    settle: (blobId: string, entry: LiveUpload) => Promise<UploadFate>,
  ): Promise<void> {
    const fates = new Map<string, UploadFate>();
    await this.#update(runId, async (counts) => {
      const now = this.#now();
      for (const [blobId, entry] of Object.entries(counts.live)) {
        if (blobId === replaces) {
          delete counts.live[blobId];
          continue;
        }
        if (entry.until > now) continue;
        let fate = fates.get(blobId);
        if (!fate) {
          fate = await settle(blobId, entry);
          fates.set(blobId, fate);
        }
        if (fate.state === 'live') {
          entry.until = fate.until;
        } else {
          delete counts.live[blobId];
          if (fate.state === 'finalized') counts.finalized++;
        }
      }
      const { maxArtifactsPerRun, maxLiveUploadsPerRun } = this.#limits;
      if (counts.finalized >= maxArtifactsPerRun) {
        throw new TwirpError(
          'permission_denied',
          `workflow run already has ${maxArtifactsPerRun} artifacts, the limit of this server (maxArtifactsPerRun)`,
        );
      }
      if (Object.keys(counts.live).length >= maxLiveUploadsPerRun) {
        throw new TwirpError(
          'permission_denied',
          `workflow run already has ${maxLiveUploadsPerRun} uploads in progress, the limit of this server (maxLiveUploadsPerRun); finalize or abandon some first`,
        );
      }
      counts.live[upload.blobId] = { name: upload.name, until: upload.until };
      return true;
    });
  }

  /**
   * A finalized upload: its slot becomes one finalized artifact (once, however often repeated).
   * `fresh` is the finalize that sealed the record: it always marks the run changed, even when the
   * slot was already settled, so no instance keeps listing the run without it.
   */
  async finalized(runId: string, record: ResultsArtifact, fresh: boolean): Promise<void> {
    await this.#update(runId, (counts) => {
      if (!counts.live[record.blobId] && !fresh) return false;
      if (counts.live[record.blobId]) {
        delete counts.live[record.blobId];
        counts.finalized++;
      }
      logChange(counts, (seq) => ({ seq, record }));
      return true;
    });
  }

  /** An upload that will not be finalized (its create failed, or it was deleted): frees its slot. */
  async released(runId: string, blobId: string): Promise<void> {
    await this.#update(runId, (counts) => {
      if (!counts.live[blobId]) return false;
      delete counts.live[blobId];
      return true;
    });
  }

  /** A finalized artifact deleted (DeleteArtifact, the retention sweep, eviction). */
  async removedFinalized(runId: string, id: number): Promise<void> {
    await this.#update(runId, (counts) => {
      counts.finalized = Math.max(0, counts.finalized - 1);
      logChange(counts, (seq) => ({ seq, removedId: id }));
      return true;
    });
  }

  /** The run's counts and change log as stored now (an empty state for a run that has none). */
  async read(runId: string): Promise<RunCounts> {
    const found = await readSmallJson(this.#blobOf(runId), this.#time, MAX_RUN_STATE_BYTES);
    return parseCounts(found?.value);
  }

  /** The run's state and its ETag, for a conditional replace or delete; undefined when there is none. */
  async readTagged(runId: string): Promise<{ counts: RunCounts; etag: string } | undefined> {
    const found = await readSmallJson(this.#blobOf(runId), this.#time, MAX_RUN_STATE_BYTES);
    return found ? { counts: parseCounts(found.value), etag: found.etag } : undefined;
  }

  /** Writes `counts` if the state is still at `etag`; false when it changed meanwhile. */
  async replaceIf(runId: string, counts: RunCounts, etag: string): Promise<boolean> {
    try {
      await writeSmallJson(this.#blobOf(runId), this.#time, 'write_run_state', counts, {
        conditions: { ifMatch: etag },
      });
      return true;
    } catch (error) {
      if (isConflict(error) || isMissing(error)) return false;
      throw error;
    }
  }

  /** Deletes the state if it is still at `etag` (no create reserved a slot since); false otherwise. */
  async deleteIf(runId: string, etag: string): Promise<boolean> {
    try {
      await this.#time('delete_run_state', () =>
        this.#blobOf(runId).delete({ conditions: { ifMatch: etag } }),
      );
      return true;
    } catch (error) {
      if (isConflict(error) || isMissing(error)) return false;
      throw error;
    }
  }

  /**
   * Read, change, write back with the ETag read; a lost race re-reads and re-applies. `change`
   * returns false when there is nothing to write.
   */
  async #update(runId: string, change: (counts: RunCounts) => Promise<boolean> | boolean): Promise<void> {
    const blob = this.#blobOf(runId);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await readSmallJson(blob, this.#time, MAX_RUN_STATE_BYTES);
      const counts = parseCounts(current?.value);
      // A new blob (the run's first, or after the sweep deleted an emptied run's) starts an epoch.
      if (!current) counts.epoch = randomBytes(8).toString('hex');
      if (!(await change(counts))) return;
      try {
        await writeSmallJson(blob, this.#time, 'write_run_state', counts, {
          conditions: current ? { ifMatch: current.etag } : { ifNoneMatch: '*' },
        });
        return;
      } catch (error) {
        if (!isConflict(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * (attempt + 1)));
      }
    }
    throw new Error(`could not update the state of workflow run after ${MAX_ATTEMPTS} concurrent attempts`);
  }
}

/** Numbers the change and appends it to the log, forgetting the oldest beyond LOG_LENGTH. */
function logChange(counts: RunCounts, change: (seq: number) => ListingChange): void {
  counts.changes++;
  counts.log.push(change(counts.changes));
  if (counts.log.length > LOG_LENGTH) counts.log.splice(0, counts.log.length - LOG_LENGTH);
}

/** A stored state, checked field by field: anything malformed counts as empty rather than failing creates. */
function parseCounts(value: unknown): RunCounts {
  const raw = value as
    { epoch?: unknown; finalized?: unknown; live?: unknown; changes?: unknown; log?: unknown } | undefined;
  const epoch = typeof raw?.epoch === 'string' && /^[0-9a-f]{1,32}$/.test(raw.epoch) ? raw.epoch : '';
  const finalized =
    typeof raw?.finalized === 'number' && Number.isSafeInteger(raw.finalized) && raw.finalized > 0
      ? raw.finalized
      : 0;
  const live: Record<string, LiveUpload> = {};
  if (typeof raw?.live === 'object' && raw.live !== null) {
    for (const [blobId, entry] of Object.entries(raw.live as Record<string, unknown>)) {
      const { name, until } = (entry ?? {}) as { name?: unknown; until?: unknown };
      if (typeof name === 'string' && typeof until === 'number') live[blobId] = { name, until };
    }
  }
  const changes =
    typeof raw?.changes === 'number' && Number.isSafeInteger(raw.changes) && raw.changes > 0
      ? raw.changes
      : 0;
  const log: ListingChange[] = [];
  for (const entry of Array.isArray(raw?.log) ? (raw.log as unknown[]) : []) {
    const change = entry as { seq?: unknown; record?: unknown; removedId?: unknown } | null;
    if (typeof change?.seq !== 'number') continue;
    if (isArtifact(change.record)) log.push({ seq: change.seq, record: change.record });
    else if (typeof change.removedId === 'number') log.push({ seq: change.seq, removedId: change.removedId });
  }
  return { epoch, finalized, live, changes, log };
}
