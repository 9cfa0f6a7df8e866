import type { ContainerClient } from '@azure/storage-blob';
import type { TidyReport } from '../store.js';
import type { AzureRunState, RunCounts } from './run-state.js';
import { hex, type Timed } from './small-json.js';

/** The blob ids of a run's records as listed: all of them, and those finalized. */
export interface RunBlobIds {
  all: Set<string>;
  finalized: Set<string>;
}

/** Corrections: run states recounted; deleted: `run-state` and `run-listing` blobs of emptied runs. */
export type RunTidyReport = TidyReport;

export interface RunBlobSweepOptions {
  time: Timed;
  now: () => number;
}

/**
 * The retention sweep's care of the per-run blobs of the azure_blob results store (`run-state/`,
 * `run-listing/`), which nothing else ever deletes and whose counts a crash between two writes
 * leaves wrong (a record written, its count update lost):
 *
 * - A run state whose counts disagree with the run's records is recounted: `finalized` becomes
 *   the number of finalized records, and live-upload slots of uploads that finalized, or that
 *   lapsed and have no record, are dropped. A delete in flight (record gone, its count update not
 *   yet written) looks the same as a lost update for a moment, so a correction is written only
 *   when two passes in a row found the same disagreement at the same change number, and only if
 *   the state is still at the ETag read (If-Match).
 * - The state and listing snapshot of a run without any record and without a live slot are
 *   deleted, the state with If-Match on the ETag read before the records were listed: a create
 *   takes its slot in the state before it writes its record, so one racing the sweep either
 *   shows in the state read (the run is kept) or changes its ETag (the delete fails). A later
 *   create starts a new state in a new epoch (RunCounts.epoch).
 */
export class RunBlobSweep {
  readonly #container: ContainerClient;
  readonly #prefix: string;
  readonly #runs: AzureRunState;
  readonly #options: RunBlobSweepOptions;
  /** Disagreements seen by the last pass, by run: corrected when the next pass sees the same. */
  #seen = new Map<string, string>();

  constructor(container: ContainerClient, prefix: string, runs: AzureRunState, options: RunBlobSweepOptions) {
    this.#container = container;
    this.#prefix = prefix;
    this.#runs = runs;
    this.#options = options;
  }

  /** One pass; `listRecords` lists every run's records (after the states are listed, see above). */
  async sweep(listRecords: () => Promise<Map<string, RunBlobIds>>): Promise<RunTidyReport> {
    const report: RunTidyReport = { corrections: 0, deleted: 0 };
    const stateRuns = await this.#runIds('run-state/');
    const snapshotRuns = await this.#runIds('run-listing/');
    const tagged = new Map<string, { counts: RunCounts; etag: string }>();
    for (const runId of stateRuns) {
      // A state that cannot be read now (too large, not JSON, a failed call) is skipped this
      // pass rather than failing the whole sweep (and every later one) over one run.
      const found = await this.#runs.readTagged(runId).catch(() => undefined);
      if (found) tagged.set(runId, found);
    }
    const records = await listRecords();
    const seen = new Map<string, string>();
    for (const [runId, { counts, etag }] of tagged) {
      const ids = records.get(runId) ?? { all: new Set<string>(), finalized: new Set<string>() };
      const now = this.#options.now();
      if (ids.all.size === 0 && Object.values(counts.live).every((entry) => entry.until <= now)) {
        if (await this.#runs.deleteIf(runId, etag)) {
          report.deleted++;
          if (await this.#deleteSnapshot(runId)) report.deleted++;
        }
        continue;
      }
      const next = recount(counts, ids, now);
      if (!next) continue;
      const fingerprint = JSON.stringify([counts.epoch, counts.changes, counts.finalized, next]);
      if (this.#seen.get(runId) === fingerprint) {
        if (await this.#runs.replaceIf(runId, next, etag)) report.corrections++;
      } else {
        seen.set(runId, fingerprint);
      }
    }
    this.#seen = seen;
    for (const runId of snapshotRuns) {
      if (stateRuns.has(runId) || records.has(runId)) continue;
      // A listing snapshot of a run with neither a state nor a record (its state deleted by an
      // earlier pass that stopped before the snapshot): nothing will ever read it.
      if (await this.#deleteSnapshot(runId)) report.deleted++;
    }
    return report;
  }

  /** Run ids of the blobs under `folder` (hex names; any other name is not ours and is skipped). */
  async #runIds(folder: string): Promise<Set<string>> {
    const prefix = `${this.#prefix}${folder}`;
    const ids = new Set<string>();
    await this.#options.time('list_run_blobs', async () => {
      for await (const blob of this.#container.listBlobsFlat({ prefix })) {
        const name = blob.name.slice(prefix.length);
        if (!/^(?:[0-9a-f]{2})+$/.test(name)) continue;
        const runId = Buffer.from(name, 'hex').toString('utf8');
        if (hex(runId) === name) ids.add(runId);
      }
    });
    return ids;
  }

  async #deleteSnapshot(runId: string): Promise<boolean> {
    const answer = await this.#options.time('delete_blob', () =>
      this.#container.getBlockBlobClient(`${this.#prefix}run-listing/${hex(runId)}`).deleteIfExists(),
    );
    return answer.succeeded;
  }
}

/**
 * The counts as the run's records say they are, or undefined when they agree already. Slots of
 * uploads whose record is finalized are counted in `finalized`; slots that lapsed without any
 * record are dropped; a lapsed slot whose record is still unfinalized is left to the next create
 * in the run, which asks its blob whether the upload is still active (AzureRunState.reserve).
 */
function recount(counts: RunCounts, ids: RunBlobIds, now: number): RunCounts | undefined {
  const live = { ...counts.live };
  for (const [blobId, entry] of Object.entries(live)) {
    if (ids.finalized.has(blobId) || (entry.until <= now && !ids.all.has(blobId))) delete live[blobId];
  }
  const finalized = ids.finalized.size;
  if (finalized === counts.finalized && Object.keys(live).length === Object.keys(counts.live).length) {
    return undefined;
  }
  return { ...counts, finalized, live };
}
