import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { ServerLimits } from '../http/limits.js';
import type { Awaitable } from '../results/store.js';
import type { ArtifactRecord } from './artifact-store.js';
import type { ContainerListing, ItemRecord } from './container-items.js';
import type { ContentRange } from './validate.js';

/** One PUT of a file's bytes, as the routes parsed and bounded it. */
export interface LegacyChunk {
  range: ContentRange;
  /** Sent with `Content-Encoding: gzip`: stored compressed, served with that header. */
  gzip: boolean;
  /** `x-tfs-filelength` (original size), when sent. */
  fileLength: number | undefined;
  /** Base64 MD5 of the body (`x-actions-results-md5`), when sent: a mismatch is a 400. */
  expectedMd5: string | undefined;
}

/** The files of one container, as the listing and download routes read them. */
export interface LegacyItems {
  /** The file stored at exactly this path (complete or not); undefined when there is none. */
  get(path: string): Awaitable<ItemRecord | undefined>;
  /** Complete files at or below `prefix`, and every folder that contains one of them. */
  list(prefix: string | undefined): Awaitable<ContainerListing>;
  /** The stored bytes of a complete, non-empty file (compressed when it was uploaded gzip). */
  open(item: ItemRecord): Promise<Readable>;
  /**
   * The stored bytes of a complete, non-empty small file, read at once (a store on local disk,
   * where one read costs less than a stream); undefined for a file too large for that, which is
   * streamed with `open`. Stores without it stream every file.
   */
  readSmall?(item: ItemRecord): Buffer | undefined;
}

/**
 * The legacy (pipelines / file container) protocol's storage: everything its routes and the
 * retention sweep ask of a store. The filesystem store (ArtifactStore) keeps it under
 * `<dataDir>/legacy`; the azure_blob store (AzureLegacyStore) in the store's container, shared by
 * every instance. The routes parse and bound what the client sent before calling these.
 */
export interface LegacyStore {
  /** `filesystem`, `azure_blob`. */
  readonly kind: string;
  readonly limits: ServerLimits;
  get(containerId: number): Awaitable<ArtifactRecord | undefined>;
  /** Containers of one run in creation order. */
  list(runId: string): Awaitable<readonly ArtifactRecord[]>;
  /**
   * Creates the container for (run, name) or returns the existing one (v1 clients merge uploads
   * of one name), reopening it (size -1) until the next PATCH; `session` names this upload.
   */
  create(
    runId: string,
    name: string,
    retentionDays: number | null,
  ): Promise<{ record: ArtifactRecord; created: boolean; session: string }>;
  /** Stores one chunk of `path` from the request body; rejects with an ErrorResponse on a bad body. */
  receive(
    artifact: ArtifactRecord,
    path: string,
    session: string | null,
    chunk: LegacyChunk,
    req: IncomingMessage,
  ): Promise<void>;
  /** The container's files, for listing and download. */
  files(artifact: ArtifactRecord): Promise<LegacyItems>;
  /** Records the finalized size (see ArtifactStore.patchSize); undefined when there is no such artifact. */
  patchSize(runId: string, name: string, size: number): Promise<ArtifactRecord | undefined>;
  /** Finalized containers whose retention ended by `now`, oldest first. */
  expired(now: number): Awaitable<ArtifactRecord[]>;
  /** Deletes an expired container and its files; undefined when there was nothing to delete. */
  removeExpired(containerId: number, now: number): Promise<ArtifactRecord | undefined>;
  close(): Promise<void>;
}
