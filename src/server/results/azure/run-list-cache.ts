import type { ResultsArtifact } from '../artifact-index.js';

/** How long a cached listing is trusted at most, even while its run's ETag is unchanged. */
export const RUN_LIST_LIFETIME_MS = 5 * 60 * 1000;
/** Records kept across all cached runs: a few runs of 10,000 artifacts, a few MiB of memory. */
const MAX_CACHED_RECORDS = 50_000;

interface Entry {
  etag: string;
  at: number;
  records: ResultsArtifact[];
}

/**
 * One instance's listings of the runs it was asked about, each kept with the ETag of the run's
 * state blob it was read under. Every finalize and delete in a run changes that ETag (RunCounts
 * `changes`), and a list checks it (one HEAD) before answering from here: a list still shows
 * every artifact whose finalize completed before it began, on any instance, without reading the
 * run's records each time. Entries are also dropped after RUN_LIST_LIFETIME_MS (a deletion whose
 * instance died before updating the run state is forgotten by then) and, oldest first, beyond
 * MAX_CACHED_RECORDS.
 */
export class RunListCache {
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;
  #records = 0;

  constructor(now: () => number) {
    this.#now = now;
  }

  /** The run's finalized records if they were listed under this ETag, recently enough. */
  get(runId: string, etag: string | undefined): ResultsArtifact[] | undefined {
    const entry = this.#entries.get(runId);
    if (!entry || etag === undefined) return undefined;
    if (entry.etag !== etag || this.#now() - entry.at >= RUN_LIST_LIFETIME_MS) {
      this.#drop(runId, entry);
      return undefined;
    }
    return entry.records;
  }

  /** Remembers a listing read after the run state's ETag was `etag`. */
  set(runId: string, etag: string | undefined, records: ResultsArtifact[]): void {
    const previous = this.#entries.get(runId);
    if (previous) this.#drop(runId, previous);
    if (etag === undefined || records.length > MAX_CACHED_RECORDS) return;
    this.#entries.set(runId, { etag, at: this.#now(), records });
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
