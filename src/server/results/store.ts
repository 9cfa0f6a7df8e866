import type { RunRegistry } from '../rest/run-registry.js';
import type { SweepLease } from '../retention/sweeper.js';
import type { ServerRoute } from '../server.js';
import type { CreateInput, FinalizeInput, ListFilter, ResultsArtifact } from './artifact-index.js';

/** A value now or later: the filesystem store answers from memory, object stores over the network. */
export type Awaitable<T> = T | Promise<T>;

/**
 * The artifact records of the results protocol: everything its Twirp and REST routes and the
 * retention sweep ask of a store. An implementation keeps "one artifact per (run, name)" and "one
 * live upload per name" true across every process sharing its storage, with conditional writes
 * where the storage is shared (see docs/serve.md, "Stores").
 */
export interface ArtifactRecords {
  /** A new, unfinalized artifact; Twirp `already_exists` when the name is taken or being uploaded. */
  create(input: CreateInput): Promise<ResultsArtifact>;
  /** Seals the artifact after checking the client's size (and hash, where the store can). Idempotent. */
  finalize(input: FinalizeInput): Promise<ResultsArtifact>;
  /** Finalized artifacts matching the filter, oldest (lowest id) first. */
  list(filter: ListFilter): Awaitable<ResultsArtifact[]>;
  /** A finalized artifact by id. */
  get(id: number): Awaitable<ResultsArtifact | undefined>;
  /** Deletes the artifacts of that name in the run (see ArtifactIndex.remove for who may). */
  remove(runId: string, name: string, requesterJobId?: string): Promise<ResultsArtifact | undefined>;
  /** Deletes a finalized artifact by id. */
  removeById(id: number): Promise<ResultsArtifact | undefined>;
  /** Stops background work (listing re-validation). */
  close(): void;
  /**
   * Run by the retention sweep after its deletions, on a store with per-run state of its own
   * (azure_blob): recounts drifted counts and deletes the state of runs whose artifacts are gone.
   */
  tidy?(): Promise<TidyReport>;
}

/** What a store's tidy pass did (see ArtifactRecords.tidy). */
export interface TidyReport {
  /** Per-run counts found wrong (a crash between two writes) and corrected. */
  corrections: number;
  /** Per-run blobs deleted with runs whose artifacts are all gone. */
  deleted: number;
}

/**
 * Where an artifact's bytes go and come from. The filesystem store signs URLs of this server and
 * serves them with its own blob routes; an object store hands out URLs of the storage itself
 * (SAS, presigned) and has no routes here, so bytes never pass through `ferry serve`.
 */
export interface BlobAccess {
  /** A URL the client may create and write the artifact's blob at (Azure Block Blob API). */
  uploadUrl(baseUrl: string, record: ResultsArtifact): string;
  /** A URL the client may read the finalized blob from without any other credential. */
  downloadUrl(baseUrl: string, record: ResultsArtifact): string;
  /** Routes this server mounts to serve the blobs; empty when the storage serves them. */
  routes: ServerRoute[];
  /**
   * Bytes `start..end` (inclusive) of a finalized artifact's blob, read by this server (a
   * fast_slow store filling its cache); undefined when the blob is gone.
   */
  read(record: ResultsArtifact, start: number, end: number): Promise<AsyncIterable<Buffer> | undefined>;
}

/** One results store: its records and its blobs, and what `/status` probes. */
export interface ResultsStore {
  /** `filesystem`, `azure_blob`: which kind of store this is. */
  kind: string;
  records: ArtifactRecords;
  blobs: BlobAccess;
  /** Throws when the storage is unreachable (the `/status` health probe). */
  probe(): Promise<void>;
  /** A store shared by several instances: the lease that lets one retention sweep run at a time. */
  sweepLease?: SweepLease;
  /** A store shared by several instances: the runs table (`ferry run record`) they all answer from. */
  runs?: RunRegistry;
}
