import type { BlockBlobClient } from '@azure/storage-blob';
import { isArtifact, type ResultsArtifact } from '../artifact-index.js';
import { readSmallJson, type Timed } from './small-json.js';

/**
 * Bound on a snapshot read: RunListCache keeps at most 50,000 records, a few hundred bytes each
 * in JSON. A larger blob is not one this store wrote and is refused, never buffered whole.
 */
const MAX_SNAPSHOT_BYTES = 32 * 1024 * 1024;

export interface RunListingSnapshot {
  /** The run state's epoch (RunCounts.epoch; '' in a snapshot written before epochs existed). */
  epoch: string;
  /** The run state's change number the records are current at. */
  changes: number;
  /** When the records were read whole from the container (ms since the epoch). */
  at: number;
  records: ResultsArtifact[];
}

/**
 * `run-listing/<hex run>`: a run's finalized records as one blob, written after every whole read
 * of the run (a cold list, or the background re-read at 0.9 of a listing's lifetime). A cold
 * instance starts from it and the run state's change log instead of listing every record blob,
 * so a run is read whole once across instances, not once per instance. It is only a starting
 * point: the change log decides whether it is current, and when the log no longer reaches back
 * to it the run is read whole again. Written unconditionally: a stale snapshot overwriting a
 * newer one costs at most one more whole read, never a wrong list.
 */
export class RunListingSnapshots {
  readonly #blob: (runId: string) => BlockBlobClient;
  readonly #time: Timed;
  readonly #now: () => number;

  constructor(blob: (runId: string) => BlockBlobClient, options: { time: Timed; now: () => number }) {
    this.#blob = blob;
    this.#time = options.time;
    this.#now = options.now;
  }

  /** The run's snapshot, or undefined when there is none or it is not well formed. */
  async read(runId: string): Promise<RunListingSnapshot | undefined> {
    const found = await readSmallJson(this.#blob(runId), this.#time, MAX_SNAPSHOT_BYTES).catch(
      () => undefined,
    );
    const value = found?.value as Partial<RunListingSnapshot> | undefined;
    if (
      !Number.isSafeInteger(value?.changes) ||
      !Number.isFinite(value?.at) ||
      !Array.isArray(value?.records) ||
      !value.records.every((r) => isArtifact(r) && r.runId === runId && r.finalized !== null)
    ) {
      return undefined;
    }
    const epoch = (value as { epoch?: unknown }).epoch;
    return { ...(value as RunListingSnapshot), epoch: typeof epoch === 'string' ? epoch : '' };
  }

  async write(runId: string, epoch: string, changes: number, records: ResultsArtifact[]): Promise<void> {
    const body = Buffer.from(JSON.stringify({ epoch, changes, at: this.#now(), records }));
    if (body.length > MAX_SNAPSHOT_BYTES) return;
    await this.#time('write_listing_snapshot', () =>
      this.#blob(runId).upload(body, body.length, {
        blobHTTPHeaders: { blobContentType: 'application/json' },
      }),
    );
  }
}
