import type { IndexRefresh, StoreCallRecorder } from '../observe/server-metrics.js';

/**
 * The loader seam of a listing index: how a store hands over, from storage itself, every artifact
 * a list may show. The filesystem stores read their record files; a shared object store reads its
 * per-run indexes. Called once at a cold start and then only by the background re-validation,
 * never while a request waits.
 */
export interface ListingSource<T> {
  loadAll(): Promise<readonly T[]>;
}

/** A change the store has made durable; applied to the index before the request is answered. */
export type ListingWrite<T> = { put: T } | { remove: string };

/** Timers, injectable so tests drive the re-validation with a fake clock. */
export interface ListingClock {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const SYSTEM_CLOCK: ListingClock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** How long a build of the index is trusted before it is re-validated from storage. */
export const DEFAULT_INDEX_LIFETIME_MS = 5 * 60 * 1000;
/** The re-validation starts at this fraction of the lifetime, so it ends before the build goes stale. */
export const REWARM_AT = 0.9;

export interface ListingIndexOptions<T> {
  /** The index's name in logs and metrics (`results`, `legacy`). */
  name: string;
  /** A stable key per artifact (its id). */
  keyOf(item: T): string;
  runOf(item: T): string;
  /** List order (oldest first). */
  compare(a: T, b: T): number;
  lifetimeMs?: number;
  clock?: ListingClock;
  /** Each finished build (cold or re-validation): when, how long, how many. */
  onRefresh?(refresh: IndexRefresh): void;
  /** Diagnostics: the cold-start warning, a failed re-validation. */
  log?(level: 'warn' | 'error', message: string): void;
  /** Times the loader as a store call (`index_load`). */
  storeCalls?: StoreCallRecorder;
}

interface Run<T> {
  byKey: Map<string, T>;
  /** The run's list in order, rebuilt lazily after a write: repeated lists cost no sort. */
  sorted: T[] | undefined;
}

/**
 * Every listed artifact, by run, in memory: lists are answered from it and never wait for
 * storage. Writes keep it current (`apply`, after the store made them durable, before the answer),
 * and a background task rebuilds it from storage at 0.9 of its lifetime so changes made behind
 * this process's back (another instance, an operator) show up in bounded time.
 *
 * A rebuild never loses a write: writes applied while the loader runs are replayed onto its
 * result before it replaces the index. So a list always shows every artifact whose write
 * completed before the list began.
 */
export class ListingIndex<T> {
  readonly #source: ListingSource<T>;
  readonly #options: ListingIndexOptions<T>;
  readonly #clock: ListingClock;
  readonly #lifetimeMs: number;
  #state: State<T> = emptyState();
  /** Writes applied since the running rebuild began; undefined when none runs. */
  #duringRebuild: ListingWrite<T>[] | undefined;
  #timer: unknown;
  #closed = false;
  #rebuilding: Promise<void> | undefined;

  private constructor(source: ListingSource<T>, options: ListingIndexOptions<T>) {
    this.#source = source;
    this.#options = options;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#lifetimeMs = options.lifetimeMs ?? DEFAULT_INDEX_LIFETIME_MS;
    if (!Number.isFinite(this.#lifetimeMs) || this.#lifetimeMs <= 0) {
      throw new RangeError(
        `the index lifetime must be a positive number of milliseconds, got ${this.#lifetimeMs}`,
      );
    }
  }

  /** Builds the index once from storage (the cold start, logged as a warning) and schedules its re-validation. */
  static async open<T>(source: ListingSource<T>, options: ListingIndexOptions<T>): Promise<ListingIndex<T>> {
    const index = new ListingIndex(source, options);
    const started = index.#clock.now();
    await index.rebuild();
    options.log?.(
      'warn',
      `listing index "${options.name}" started cold: built from storage once (${index.size} artifacts in ${index.#clock.now() - started} ms); ` +
        `lists are answered from memory and re-validated every ${Math.round((index.#lifetimeMs * REWARM_AT) / 1000)} s`,
    );
    return index;
  }

  /** The run's artifacts in order; every run's when `runId` is undefined. Never touches storage. */
  list(runId?: string): readonly T[] {
    if (runId !== undefined) {
      const run = this.#state.runs.get(runId);
      if (!run) return [];
      run.sorted ??= [...run.byKey.values()].sort(this.#options.compare);
      return run.sorted;
    }
    return [...this.#state.runs.keys()].flatMap((id) => this.list(id)).sort(this.#options.compare);
  }

  get size(): number {
    return this.#state.runOfKey.size;
  }

  /** Records a durable change. `put` adds or replaces an artifact; `remove` takes one out by key. */
  apply(write: ListingWrite<T>): void {
    this.#duringRebuild?.push(write);
    applyTo(this.#state, write, this.#options);
  }

  /**
   * Re-reads everything from storage and replaces the index, keeping the writes applied meanwhile.
   * Concurrent calls share one rebuild.
   */
  rebuild(): Promise<void> {
    return (this.#rebuilding ??= this.#rebuildOnce().finally(() => {
      this.#rebuilding = undefined;
    }));
  }

  async #rebuildOnce(): Promise<void> {
    const started = this.#clock.now();
    this.#duringRebuild = [];
    let items: readonly T[];
    try {
      const load = (): Promise<readonly T[]> => this.#source.loadAll();
      items = await (this.#options.storeCalls ? this.#options.storeCalls.time('index_load', load) : load());
    } catch (error) {
      this.#duringRebuild = undefined;
      throw error;
    }
    // From here to the swap nothing awaits: no write can slip between the replay and the swap.
    const state = emptyState<T>();
    for (const item of items) applyTo(state, { put: item }, this.#options);
    for (const write of this.#duringRebuild) applyTo(state, write, this.#options);
    this.#duringRebuild = undefined;
    this.#state = state;
    const finished = this.#clock.now();
    this.#options.onRefresh?.({
      index: this.#options.name,
      atMs: finished,
      durationMs: finished - started,
      artifacts: this.size,
    });
    this.#schedule();
  }

  /** The next re-validation, at 0.9 of the lifetime of the build that just finished. */
  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.rebuild().catch((error: unknown) => {
        // The old build keeps answering; try again after another 0.9 of the lifetime.
        this.#options.log?.(
          'error',
          `listing index "${this.#options.name}" could not be re-validated from storage: ${error instanceof Error ? error.message : String(error)}`,
        );
        this.#schedule();
      });
    }, this.#lifetimeMs * REWARM_AT);
  }

  /** Stops the re-validation timer. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** The index's contents: each run's artifacts, and which run each key is in. */
interface State<T> {
  runs: Map<string, Run<T>>;
  runOfKey: Map<string, string>;
}

function emptyState<T>(): State<T> {
  return { runs: new Map(), runOfKey: new Map() };
}

function applyTo<T>(state: State<T>, write: ListingWrite<T>, options: ListingIndexOptions<T>): void {
  const key = 'put' in write ? options.keyOf(write.put) : write.remove;
  const previousRun = state.runOfKey.get(key);
  if (previousRun !== undefined) {
    const run = state.runs.get(previousRun);
    if (run) {
      run.byKey.delete(key);
      run.sorted = undefined;
      if (run.byKey.size === 0) state.runs.delete(previousRun);
    }
    state.runOfKey.delete(key);
  }
  if (!('put' in write)) return;
  const runId = options.runOf(write.put);
  let run = state.runs.get(runId);
  if (!run) {
    run = { byKey: new Map(), sorted: undefined };
    state.runs.set(runId, run);
  }
  run.byKey.set(key, write.put);
  run.sorted = undefined;
  state.runOfKey.set(key, runId);
}

/** What the server hands a store to build its listing index with (everything but the item shape). */
export type ListingWiring = Pick<
  ListingIndexOptions<unknown>,
  'lifetimeMs' | 'clock' | 'onRefresh' | 'log' | 'storeCalls'
>;
