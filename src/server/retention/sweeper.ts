import type { ResultsArtifact } from '../results/artifact-index.js';
import type { ArtifactRecords } from '../results/store.js';
import { selectEvictions, type EvictionPolicy } from './eviction-policy.js';

/** What the sweeps have done since start; read by the metrics endpoint. */
export interface SweepStats {
  runs: number;
  /** Artifacts removed because their retention (`expires_at`) ended. */
  deletedArtifacts: number;
  /** Bytes of those artifacts. */
  deletedBytes: number;
  /** Artifacts removed by the eviction policy (before their retention ended). */
  evictedArtifacts: number;
  evictedBytes: number;
  /** Per-run counts the store found drifted (a crash between two writes) and corrected (ArtifactRecords.tidy). */
  runStateCorrections: number;
  /** Per-run blobs deleted with runs whose artifacts are all gone (ArtifactRecords.tidy). */
  runBlobsDeleted: number;
  /** Sweeps that threw (the next one tries again). */
  failures: number;
  /** ISO time the last sweep finished; null before the first. */
  lastRunAt: string | null;
  lastDurationMs: number | null;
}

/** The legacy protocol's artifacts, as the sweep needs them (retention only: no eviction there). */
export interface LegacyRetention {
  expired(
    now: number,
  ): Array<{ containerId: number; size: number }> | Promise<Array<{ containerId: number; size: number }>>;
  removeExpired(containerId: number, now: number): Promise<{ size: number } | undefined>;
}

export interface SweeperOptions {
  /** Also enforce retention on the legacy protocol's artifacts. */
  legacy?: LegacyRetention | undefined;
  /** Time between sweeps; default 10 minutes. */
  intervalMs?: number | undefined;
  eviction?: EvictionPolicy | undefined;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /** Told about a sweep that failed; it never stops the server. */
  onError?: (error: unknown) => void;
  /**
   * On a store shared by several instances: one sweep at a time across all of them. A sweep
   * that does not get the lease is skipped (another instance is sweeping) and not counted.
   */
  lease?: SweepLease | undefined;
}

/** A lease across instances (see AzureSweepLease): true when this instance may sweep now. */
export interface SweepLease {
  acquire(): Promise<boolean>;
  release(): Promise<void>;
}

export const DEFAULT_SWEEP_INTERVAL_MS = 10 * 60 * 1000;

/**
 * Enforces retention (both protocols) and the eviction policy (results protocol) in the
 * background. Deletion goes through the index (under each name's lock, re-checked there), so a
 * sweep never races an upload of the same name, and deleting what is already gone is a no-op:
 * sweeps are idempotent. Only finalized artifacts are ever candidates: a live upload is never
 * touched (an abandoned one is replaced by the next create of its name, as before).
 */
export class RetentionSweeper {
  readonly #index: ArtifactRecords;
  readonly #legacy: LegacyRetention | undefined;
  readonly #intervalMs: number;
  readonly #eviction: EvictionPolicy | undefined;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;
  readonly #lease: SweepLease | undefined;
  readonly #stats: SweepStats = {
    runs: 0,
    deletedArtifacts: 0,
    deletedBytes: 0,
    evictedArtifacts: 0,
    evictedBytes: 0,
    runStateCorrections: 0,
    runBlobsDeleted: 0,
    failures: 0,
    lastRunAt: null,
    lastDurationMs: null,
  };
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(index: ArtifactRecords, options: SweeperOptions = {}) {
    this.#index = index;
    this.#legacy = options.legacy;
    this.#intervalMs = options.intervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    if (!Number.isFinite(this.#intervalMs) || this.#intervalMs <= 0) {
      throw new RangeError(
        `sweep interval must be a positive number of milliseconds, got ${this.#intervalMs}`,
      );
    }
    this.#eviction = options.eviction;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => {});
    this.#lease = options.lease;
  }

  /** Sweeps now and then every interval until stop(). The timer never keeps the process alive. */
  start(): void {
    if (this.#timer) return;
    const tick = (): void => {
      void this.sweep().catch(() => {});
    };
    tick();
    this.#timer = setInterval(tick, this.#intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer and waits for a sweep in progress. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  stats(): SweepStats {
    return { ...this.#stats };
  }

  /** One sweep; a call while one runs joins it instead of starting a second. */
  sweep(): Promise<void> {
    this.#running ??= this.#sweepLeased().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #sweepLeased(): Promise<void> {
    if (!this.#lease) return this.#sweepOnce();
    let held: boolean;
    try {
      held = await this.#lease.acquire();
    } catch (error) {
      this.#stats.failures++;
      this.#onError(error);
      throw error;
    }
    if (!held) return;
    try {
      await this.#sweepOnce();
    } finally {
      await this.#lease.release().catch((error: unknown) => this.#onError(error));
    }
  }

  async #sweepOnce(): Promise<void> {
    const started = this.#now();
    const t0 = performance.now();
    try {
      const finalized = await this.#index.list({});
      const expired = finalized.filter((r) => Date.parse(r.expiresAt) <= started);
      for (const record of expired) {
        const removed = await this.#index.removeById(record.id);
        if (removed) {
          this.#stats.deletedArtifacts++;
          this.#stats.deletedBytes += sizeOf(removed);
        }
      }
      for (const { containerId } of (await this.#legacy?.expired(started)) ?? []) {
        const removed = await this.#legacy?.removeExpired(containerId, started);
        if (removed) {
          this.#stats.deletedArtifacts++;
          this.#stats.deletedBytes += Math.max(0, removed.size);
        }
      }
      if (this.#eviction) {
        const gone = new Set(expired.map((r) => r.id));
        const remaining = finalized.filter((r) => !gone.has(r.id));
        const byId = new Map(remaining.map((r) => [r.id, r]));
        const candidates = remaining.map((r) => ({
          id: r.id,
          size: sizeOf(r),
          finalizedAt: Date.parse(r.finalized?.at ?? r.updatedAt),
        }));
        for (const victim of selectEvictions(candidates, this.#eviction, started)) {
          if (!byId.has(victim.id)) continue;
          const removed = await this.#index.removeById(victim.id);
          if (removed) {
            this.#stats.evictedArtifacts++;
            this.#stats.evictedBytes += sizeOf(removed);
          }
        }
      }
      // Last: runs this sweep emptied are tidied in the same pass.
      const tidied = await this.#index.tidy?.();
      if (tidied) {
        this.#stats.runStateCorrections += tidied.corrections;
        this.#stats.runBlobsDeleted += tidied.deleted;
      }
    } catch (error) {
      this.#stats.failures++;
      this.#onError(error);
      throw error;
    } finally {
      this.#stats.runs++;
      this.#stats.lastRunAt = new Date(this.#now()).toISOString();
      this.#stats.lastDurationMs = Math.round(performance.now() - t0);
    }
  }
}

function sizeOf(record: ResultsArtifact): number {
  return record.finalized?.size ?? 0;
}
