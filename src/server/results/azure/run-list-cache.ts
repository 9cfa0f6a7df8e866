import type { ResultsArtifact } from '../artifact-index.js';
import type { ListingChange } from './run-state.js';

/**
 * Age of a whole read after which a listing is read whole again, in the background: the log
 * explains every change an instance finished, this catches one whose instance died before logging.
 */
export const RUN_LIST_LIFETIME_MS = 5 * 60 * 1000;
/** Records kept across all cached runs: a few runs of 10,000 artifacts, a few MiB of memory. */
const MAX_CACHED_RECORDS = 50_000;

interface Entry {
  /** The run state's epoch the change number counts in (RunCounts.epoch). */
  epoch: string;
  /** The run state's change number the listing is current at. */
  changes: number;
  /** When the listing was read whole from the container. */
  at: number;
  records: ResultsArtifact[];
}

/**
 * One instance's listings of the runs it was asked about, each at a change number of the run's
 * state. Every finalize and delete in a run is numbered and logged in that state before it is
 * answered, and a list reads the state first: a listing at change N is brought to the current
 * change M by applying the logged changes N+1..M, or dropped (and the run read whole) when the
 * log no longer reaches back to N+1. So a list shows every artifact whose finalize completed
 * before it began, on any instance. At 0.9 of RUN_LIST_LIFETIME_MS after its whole read a listing
 * is re-read whole in the background (a change whose instance died before logging it is picked
 * up then), never in a list's path; entries beyond MAX_CACHED_RECORDS are dropped, oldest first.
 */
export class RunListCache {
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;
  #records = 0;

  constructor(now: () => number) {
    this.#now = now;
  }

  /**
   * The run's finalized records at the state's change number, or undefined: read them whole.
   * `stale` says the listing is older than RUN_LIST_LIFETIME_MS: answer from it, and read the run
   * whole in the background.
   */
  get(
    runId: string,
    state: { changes: number; log: ListingChange[]; epoch?: string },
  ): { records: ResultsArtifact[]; stale: boolean } | undefined {
    const entry = this.#entries.get(runId);
    if (!entry) return undefined;
    const reaches = entry.changes === state.changes || state.log.some((c) => c.seq === entry.changes + 1);
    // Another epoch: the run state was deleted and made again, its numbers say nothing of this listing.
    if (entry.epoch !== (state.epoch ?? '') || entry.changes > state.changes || !reaches) {
      this.#drop(runId, entry);
      return undefined;
    }
    const stale = this.#now() - entry.at >= RUN_LIST_LIFETIME_MS * 0.9;
    if (entry.changes === state.changes) return { records: entry.records, stale };
    const byId = new Map(entry.records.map((r) => [r.id, r]));
    for (const change of state.log) {
      if (change.seq <= entry.changes) continue;
      if ('record' in change) byId.set(change.record.id, change.record);
      else byId.delete(change.removedId);
    }
    const records = [...byId.values()].sort((a, b) => a.id - b.id);
    this.#records += records.length - entry.records.length;
    entry.records = records;
    entry.changes = state.changes;
    return { records, stale };
  }

  /**
   * Remembers a listing read whole after the run state was read at change number `changes` of
   * `epoch`; `at` is when that whole read happened (a snapshot's, when it comes from one).
   */
  set(runId: string, changes: number, records: ResultsArtifact[], at = this.#now(), epoch = ''): void {
    const previous = this.#entries.get(runId);
    if (previous) this.#drop(runId, previous);
    if (records.length > MAX_CACHED_RECORDS) return;
    this.#entries.set(runId, { epoch, changes, at, records });
    this.#records += records.length;
    for (const [oldRun, oldEntry] of this.#entries) {
      if (this.#records <= MAX_CACHED_RECORDS) break;
      this.#drop(oldRun, oldEntry);
    }
  }

  #drop(runId: string, entry: Entry): void {
    this.#entries.delete(runId);
    this.#records -= entry.records.length;
  }
}
