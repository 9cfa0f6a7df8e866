import { Counter, Gauge, Histogram, Registry } from './prometheus.js';
import type { RequestRecord } from './request-record.js';

/**
 * What the retention sweep reports (the store service exposes it as `sweepStats()`); read at
 * every scrape. Counts are since this process started.
 */
export interface SweepStats {
  /** Sweeps this instance ran to the end. */
  runs: number;
  /** Artifacts the sweeps deleted (expired or evicted). */
  deletedArtifacts: number;
  /** Bytes those artifacts held. */
  deletedBytes: number;
  /** Seconds since the epoch of the last finished sweep; 0 before the first. */
  lastRunSeconds: number;
  /** Per-run state blobs whose counts the sweeps recounted and corrected (azure_blob). */
  runStateCorrections?: number;
  /** Per-run state and listing blobs the sweeps deleted with emptied runs (azure_blob). */
  runBlobsDeleted?: number;
}

export const NO_SWEEPS: SweepStats = Object.freeze({
  runs: 0,
  deletedArtifacts: 0,
  deletedBytes: 0,
  lastRunSeconds: 0,
  runStateCorrections: 0,
  runBlobsDeleted: 0,
});

/**
 * Records how long each storage call takes. The store layer wraps its calls in `time`, so every
 * store (filesystem today, object storage tomorrow) feeds the same histogram.
 */
export interface StoreCallRecorder {
  time<T>(operation: string, call: () => Promise<T>): Promise<T>;
}

/** One refresh of a listing index: when it finished, how long it took, how many it holds. */
export interface IndexRefresh {
  index: string;
  atMs: number;
  durationMs: number;
  artifacts: number;
}

/**
 * The metric families of `ferry serve` and the events that feed them. Label values come only
 * from fixed sets (route names, HTTP status codes, protocol and operation names, this instance).
 */
export class ServerMetrics implements StoreCallRecorder {
  readonly instance: string;
  readonly #registry = new Registry();
  readonly #requests = this.#registry.add(
    new Counter('ferry_http_requests_total', 'HTTP requests answered, by route name, method and status.'),
  );
  readonly #duration = this.#registry.add(
    new Histogram(
      'ferry_http_request_duration_seconds',
      'Time from request head to the end of the answer, by route name.',
    ),
  );
  readonly #bytesIn = this.#registry.add(
    new Counter(
      'ferry_http_received_bytes_total',
      'Bytes received on the wire (heads and bodies), by route name.',
    ),
  );
  readonly #bytesOut = this.#registry.add(
    new Counter('ferry_http_sent_bytes_total', 'Bytes sent on the wire (heads and bodies), by route name.'),
  );
  readonly #uploads = this.#registry.add(
    new Counter('ferry_uploads_finalized_total', 'Artifacts whose upload was finalized, by protocol.'),
  );
  readonly #downloads = this.#registry.add(
    new Counter(
      'ferry_downloads_finalized_total',
      'Downloads served to their last byte, by protocol (results: blobs; legacy: files of a container).',
    ),
  );
  readonly #errors = this.#registry.add(
    new Counter(
      'ferry_errors_total',
      'Requests that failed on the server side, by kind (server: 5xx answered; cut: no answer or an answer cut short).',
    ),
  );
  readonly #storeCalls = this.#registry.add(
    new Histogram(
      'ferry_store_call_duration_seconds',
      'Duration of storage calls, by operation and outcome.',
    ),
  );
  readonly #connections = this.#registry.add(
    new Gauge('ferry_open_connections', 'TCP connections open now.'),
  );
  readonly #sweepRuns = this.#registry.add(
    new Counter('ferry_sweep_runs_total', 'Retention sweeps run to the end.'),
  );
  readonly #sweepDeleted = this.#registry.add(
    new Counter('ferry_sweep_deleted_artifacts_total', 'Artifacts deleted by retention sweeps.'),
  );
  readonly #sweepBytes = this.#registry.add(
    new Counter('ferry_sweep_deleted_bytes_total', 'Bytes of the artifacts deleted by retention sweeps.'),
  );
  readonly #sweepCorrections = this.#registry.add(
    new Counter(
      'ferry_sweep_run_state_corrections_total',
      'Per-run state blobs whose drifted counts retention sweeps corrected.',
    ),
  );
  readonly #sweepRunBlobs = this.#registry.add(
    new Counter(
      'ferry_sweep_run_blobs_deleted_total',
      'Per-run state and listing blobs retention sweeps deleted with runs whose artifacts are all gone.',
    ),
  );
  readonly #sweepLast = this.#registry.add(
    new Gauge(
      'ferry_sweep_last_run_timestamp_seconds',
      'When the last retention sweep finished (0: none yet).',
    ),
  );
  readonly #refreshAt = this.#registry.add(
    new Gauge(
      'ferry_index_refresh_timestamp_seconds',
      'When each listing index was last rebuilt from storage, by instance.',
    ),
  );
  readonly #refreshDuration = this.#registry.add(
    new Gauge(
      'ferry_index_refresh_duration_seconds',
      'How long the last rebuild of each listing index took, by instance.',
    ),
  );
  readonly #indexSize = this.#registry.add(
    new Gauge(
      'ferry_index_artifacts',
      'Artifacts each listing index held after its last rebuild from storage, by instance.',
    ),
  );
  readonly #fastReads = this.#registry.add(
    new Counter(
      'ferry_fast_store_reads_total',
      'Downloads looked up in the fast store of a fast_slow store, by result (hit, miss).',
    ),
  );
  readonly #fastFills = this.#registry.add(
    new Counter('ferry_fast_store_fills_total', 'Entries filled into the fast store from the slow store.'),
  );
  readonly #fastFilledBytes = this.#registry.add(
    new Counter(
      'ferry_fast_store_filled_bytes_total',
      'Bytes filled into the fast store from the slow store.',
    ),
  );
  readonly #fastEvictions = this.#registry.add(
    new Counter(
      'ferry_fast_store_evictions_total',
      'Entries removed from the fast store by its eviction policy (the slow store keeps them).',
    ),
  );
  readonly #fastDrops = this.#registry.add(
    new Counter(
      'ferry_fast_store_dropped_total',
      'Fast store entries removed because they failed verification (size or SHA-256).',
    ),
  );
  readonly #fastBytes = this.#registry.add(
    new Gauge('ferry_fast_store_bytes', 'Bytes held in the fast store now.'),
  );
  readonly #uptime = this.#registry.add(
    new Gauge('ferry_uptime_seconds', 'Seconds since this instance started.'),
  );
  readonly #info = this.#registry.add(
    new Gauge('ferry_build_info', 'Always 1; the labels say which version runs.'),
  );
  readonly #startedMs: number;
  readonly #now: () => number;

  constructor(options: { instance: string; version: string; now?: () => number }) {
    this.instance = options.instance;
    this.#now = options.now ?? Date.now;
    this.#startedMs = this.#now();
    this.#info.set({ version: options.version, instance: options.instance }, 1);
  }

  /** Counts one finished request, and the upload or download it completed, if any. */
  request(record: RequestRecord): void {
    const { route, method } = record;
    const status = record.status === undefined ? 'none' : String(record.status);
    this.#requests.inc({ route, method, status });
    this.#duration.observe({ route }, record.durationMs / 1000);
    this.#bytesIn.inc({ route }, record.bytesIn);
    this.#bytesOut.inc({ route }, record.bytesOut);
    if (record.status === undefined || record.cut) this.#errors.inc({ kind: 'cut' });
    else if (record.status >= 500) this.#errors.inc({ kind: 'server' });
    const protocol = finalizedUpload(record);
    if (protocol) this.#uploads.inc({ protocol });
    const download = finishedDownload(record);
    if (download) this.#downloads.inc({ protocol: download });
  }

  async time<T>(operation: string, call: () => Promise<T>): Promise<T> {
    const started = process.hrtime.bigint();
    let outcome = 'error';
    try {
      const result = await call();
      outcome = 'ok';
      return result;
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.#storeCalls.observe({ operation, outcome }, seconds);
    }
  }

  /** The fast store's events (see FastCache); its size is read at scrape time. */
  fastStore(event: 'hit' | 'miss' | 'fill' | 'evict' | 'drop', entries = 1, bytes = 0): void {
    const labels = { instance: this.instance };
    if (event === 'hit' || event === 'miss') this.#fastReads.inc({ ...labels, result: event });
    else if (event === 'fill') {
      this.#fastFills.inc(labels, entries);
      this.#fastFilledBytes.inc(labels, bytes);
    } else if (event === 'evict') this.#fastEvictions.inc(labels, entries);
    else this.#fastDrops.inc(labels, entries);
  }

  /** What the fast store holds after a fill, eviction or drop. */
  fastStoreHeld(bytes: number): void {
    this.#fastBytes.set({ instance: this.instance }, bytes);
  }

  indexRefreshed(refresh: IndexRefresh): void {
    const labels = { instance: this.instance, index: refresh.index };
    this.#refreshAt.set(labels, refresh.atMs / 1000);
    this.#refreshDuration.set(labels, refresh.durationMs / 1000);
    this.#indexSize.set(labels, refresh.artifacts);
  }

  /** The exposition, with the values read at scrape time filled in. */
  render(live: { openConnections: number; sweep: SweepStats }): string {
    this.#connections.set({ instance: this.instance }, live.openConnections);
    this.#uptime.set({ instance: this.instance }, Math.round((this.#now() - this.#startedMs) / 1000));
    const sweep = { instance: this.instance };
    this.#sweepRuns.inc(sweep, live.sweep.runs - this.#sweepRuns.get(sweep));
    this.#sweepDeleted.inc(sweep, live.sweep.deletedArtifacts - this.#sweepDeleted.get(sweep));
    this.#sweepBytes.inc(sweep, live.sweep.deletedBytes - this.#sweepBytes.get(sweep));
    const corrections = live.sweep.runStateCorrections ?? 0;
    this.#sweepCorrections.inc(sweep, corrections - this.#sweepCorrections.get(sweep));
    this.#sweepRunBlobs.inc(sweep, (live.sweep.runBlobsDeleted ?? 0) - this.#sweepRunBlobs.get(sweep));
    this.#sweepLast.set(sweep, live.sweep.lastRunSeconds);
    return this.#registry.render();
  }

  uptimeSeconds(): number {
    return Math.floor((this.#now() - this.#startedMs) / 1000);
  }
}

/** A FinalizeArtifact answered 200 (results) or the PATCH that seals a container (legacy). */
function finalizedUpload(record: RequestRecord): string | undefined {
  if (record.status !== 200 || record.cut) return undefined;
  if (record.route === 'twirp_FinalizeArtifact') return 'results';
  if (record.route === 'legacy_artifacts' && record.method === 'PATCH') return 'legacy';
  return undefined;
}

/** A blob (results) or a container file (legacy, not a JSON listing) sent to its last byte. */
function finishedDownload(record: RequestRecord): string | undefined {
  if (record.method !== 'GET' || record.cut) return undefined;
  if (record.status !== 200 && record.status !== 206) return undefined;
  if (record.route === 'blob') return 'results';
  if (record.route === 'legacy_container' && !record.json) return 'legacy';
  return undefined;
}
