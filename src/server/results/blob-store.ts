import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { access, link, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_LIMITS, type ServerLimits } from '../http/limits.js';
import { isNotFound, readJsonFile, writeJsonAtomic } from '../util/atomic-file.js';
import { fsyncDir, fsyncFile } from '../util/durable.js';
import { KeyedMutex } from '../util/keyed-mutex.js';
import { BlobError } from './blob-errors.js';
import { hashFiles } from './hash-files.js';
import { BLOB_ID, blockKey, PARTS_DIR, type ResultsLayout } from './layout.js';
import { receiveBody } from './receive-body.js';

/** What a commit (Put Block List or Put Blob) produced. */
export interface CommittedBlob {
  size: number;
  /** Lowercase hex SHA-256 of the committed bytes: FinalizeArtifact checks the client's hash against it. */
  sha256: string;
  /** `x-ms-blob-content-type` of the commit, if it was a usable MIME type. */
  contentType: string | null;
  /** Strong, quoted ETag; derived from the content, so it changes exactly when the bytes do. */
  etag: string;
  lastModified: string;
  /** SHA-256 over the committed block list (null for Put Blob); lets a repeated commit succeed. */
  blockList: string | null;
}

/**
 * A blob committed by Put Block List: the listed blocks, in list order, read through instead of
 * copied into one file. The block files are hard links in their own directory (`dir`), so a later
 * Put Block with a listed id (which replaces the staged file) never changes committed bytes.
 */
export interface Manifest {
  dir: string;
  /** Block keys (file names in `dir`) in byte order; a key may repeat, as a block id may. */
  parts: string[];
  sizes: number[];
}

/** One piece of a committed blob on disk; a download streams them in order. */
export interface BlobSegment {
  file: string;
  size: number;
}

interface BlobState {
  /** Decoded length every block id of this blob must have; fixed by the first Put Block. */
  blockIdBytes: number | null;
  committed: CommittedBlob | null;
  /** Set by Put Block List; null (or absent, in state written before manifests) means the `data` file. */
  manifest?: Manifest | null;
}

export interface UploadBody {
  length: number;
  md5: string | undefined;
}

/** Staged (uncommitted) blocks of one blob: bounded in number and bytes (see ServerLimits). */
interface Staged {
  count: number;
  /** Bytes on disk plus bytes of blocks still arriving (reserved before they are read). */
  bytes: number;
}

/** Throws when the blob may no longer be written (its artifact was finalized). */
export type WriteGuard = () => void;

/**
 * The Azure Block Blob subset, on the file system. Put Block streams each block into its own
 * file (keyed by block id, so a retried block replaces itself and arrival order never matters);
 * Put Block List concatenates the listed files in list order into the blob and then drops the
 * staged blocks; Put Blob writes the whole body at once. Readers only ever see a complete blob:
 * it is assembled in a temp file and renamed into place.
 *
 * Per-blob state is tiny and kept in memory, written through to `state.json` under a per-blob
 * lock so the file always holds the latest state.
 */
export class BlobStore {
  readonly #layout: ResultsLayout;
  readonly #states = new Map<string, BlobState>();
  readonly #locks = new KeyedMutex();
  readonly #staged = new Map<string, Staged>();
  readonly #limits: ServerLimits;
  /** Downloads in progress, by blob id (see openRead). */
  readonly #readers = new Map<string, number>();
  /** Blobs deleted while being read: their files go with the last reader. */
  readonly #removeWhenRead = new Set<string>();

  private constructor(layout: ResultsLayout, limits: ServerLimits) {
    this.#layout = layout;
    this.#limits = limits;
  }

  static async open(layout: ResultsLayout, limits: ServerLimits = DEFAULT_LIMITS): Promise<BlobStore> {
    const store = new BlobStore(layout, limits);
    await mkdir(layout.blobsDir, { recursive: true });
    await store.#load();
    return store;
  }

  async #load(): Promise<void> {
    const entries = (await readdir(this.#layout.blobsDir)).filter((e) => BLOB_ID.test(e));
    await Promise.all(
      entries.map(async (blobId) => {
        const state = await readJsonFile(this.#layout.blobStateFile(blobId));
        if (!isBlobState(state)) return; // a create that crashed half-way; the index removes it
        this.#states.set(blobId, state);
        // Bodies that were arriving when the server stopped will never complete; parts of a
        // commit that crashed before its manifest landed (or of one a later commit replaced)
        // belong to no blob; a `data` file replaced by a manifest is no longer read.
        const dir = this.#layout.blobDir(blobId);
        const live = state.manifest?.dir;
        const files = await readdir(dir);
        await Promise.all(
          files
            .filter(
              (f) =>
                f.endsWith('.tmp') ||
                (PARTS_DIR.test(f) && f !== live) ||
                (f === 'data' && live !== undefined),
            )
            .map((f) => rm(join(dir, f), { recursive: true, force: true })),
        );
        this.#staged.set(blobId, await this.#countStaged(blobId));
      }),
    );
  }

  async #countStaged(blobId: string): Promise<Staged> {
    const dir = this.#layout.blocksDir(blobId);
    const names = await readdir(dir).catch((error: unknown) => {
      if (isNotFound(error)) return [];
      throw error;
    });
    const sizes = await Promise.all(names.map(async (name) => (await stat(join(dir, name))).size));
    return { count: names.length, bytes: sizes.reduce((a, b) => a + b, 0) };
  }

  /** Every blob directory on disk, including half-created ones (for orphan cleanup). */
  async idsOnDisk(): Promise<string[]> {
    return (await readdir(this.#layout.blobsDir)).filter((e) => BLOB_ID.test(e));
  }

  has(blobId: string): boolean {
    return this.#states.has(blobId);
  }

  committed(blobId: string): CommittedBlob | undefined {
    return this.#states.get(blobId)?.committed ?? undefined;
  }

  /** The committed bytes as files to read in order (one file for Put Blob, the blocks for a list). */
  segments(blobId: string): BlobSegment[] {
    const state = this.#states.get(blobId);
    if (!state?.committed) return [];
    const manifest = state.manifest;
    if (!manifest) return [{ file: this.#layout.blobDataFile(blobId), size: state.committed.size }];
    return manifest.parts.map((key, i) => ({
      file: this.#layout.partFile(blobId, manifest.dir, key),
      size: manifest.sizes[i] ?? 0,
    }));
  }

  /** Bytes of the committed blob actually on disk (undefined when a piece is missing). */
  async storedSize(blobId: string): Promise<number | undefined> {
    if (!this.#states.get(blobId)?.committed) return undefined;
    const segments = this.segments(blobId); // none for an empty block list: 0 bytes
    const sizes = new Map<string, number | undefined>();
    await Promise.all(
      [...new Set(segments.map((s) => s.file))].map(async (file) =>
        sizes.set(file, await sizeIfExists(file)),
      ),
    );
    let total = 0;
    for (const { file, size } of segments) {
      const onDisk = sizes.get(file);
      if (onDisk !== size) return undefined;
      total += onDisk;
    }
    return total;
  }

  /** A new, empty blob under a fresh random id. */
  async create(): Promise<string> {
    const blobId = randomBytes(16).toString('hex');
    await mkdir(this.#layout.blocksDir(blobId), { recursive: true });
    const state: BlobState = { blockIdBytes: null, committed: null };
    await writeJsonAtomic(this.#layout.blobStateFile(blobId), state);
    this.#states.set(blobId, state);
    this.#staged.set(blobId, { count: 0, bytes: 0 });
    return blobId;
  }

  /** Deletes the blob and everything staged for it. Downloads already streaming keep their open file. */
  async remove(blobId: string): Promise<void> {
    await this.#locks.run(blobId, async () => {
      this.#states.delete(blobId);
      this.#staged.delete(blobId);
      // A download reading the blob's parts opens them one after another: the files go when the
      // last reader is done (a restart before then finds a blob without a record and removes it).
      if (this.#readers.has(blobId)) {
        this.#removeWhenRead.add(blobId);
        return;
      }
      await this.#removeFiles(blobId);
    });
  }

  async #removeFiles(blobId: string): Promise<void> {
    // Retries: a Put Block still in flight can add a file while the directory is being emptied.
    await rm(this.#layout.blobDir(blobId), { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
  }

  /**
   * The committed blob's segments for a download, kept on disk until `release()` even if the
   * blob is deleted meanwhile (retention sweep, eviction, DeleteArtifact): a download that began
   * finishes whole. Undefined when nothing is committed.
   */
  openRead(blobId: string): { segments: BlobSegment[]; release(): Promise<void> } | undefined {
    if (!this.#states.get(blobId)?.committed) return undefined;
    const segments = this.segments(blobId); // none for an empty block list
    this.#readers.set(blobId, (this.#readers.get(blobId) ?? 0) + 1);
    let released = false;
    return {
      segments,
      release: async () => {
        if (released) return;
        released = true;
        const left = (this.#readers.get(blobId) ?? 1) - 1;
        if (left > 0) {
          this.#readers.set(blobId, left);
          return;
        }
        this.#readers.delete(blobId);
        if (this.#removeWhenRead.delete(blobId)) await this.#removeFiles(blobId);
      },
    };
  }

  /** Runs `work` while no commit of this blob can start or finish. */
  exclusive<T>(blobId: string, work: () => Promise<T>): Promise<T> {
    return this.#locks.run(blobId, work);
  }

  /** Put Block: stores the body under its block id, replacing an earlier block with that id. */
  async stageBlock(blobId: string, blockId: Buffer, req: IncomingMessage, body: UploadBody): Promise<void> {
    const state = this.#require(blobId);
    if (state.blockIdBytes === null) {
      // Set synchronously so a concurrent first block already compares against it.
      state.blockIdBytes = blockId.length;
      await this.#locks.run(blobId, () => this.#persist(blobId));
    } else if (state.blockIdBytes !== blockId.length) {
      throw new BlobError(
        400,
        'InvalidBlobOrBlock',
        `The specified blob or block content is invalid: all block ids of a blob must have the same length; this blob uses ${state.blockIdBytes}-byte ids, this one has ${blockId.length} bytes.`,
      );
    }
    const target = this.#layout.blockFile(blobId, blockId);
    const current = this.#staged.get(blobId);
    // Checked before the body is read (a replaced block does not add to the count).
    if (
      current &&
      current.count >= this.#limits.maxStagedBlocks &&
      (await sizeIfExists(target)) === undefined
    ) {
      throw new BlobError(
        409,
        'BlockCountExceedsLimit',
        `The uncommitted block count cannot exceed the maximum limit of ${this.#limits.maxStagedBlocks} blocks (maxStagedBlocks).`,
      );
    }
    const staged = this.#reserveStaged(blobId, body.length);
    const temp = this.#layout.tempFile(blobId, 'block', randomBytes(8).toString('hex'));
    let replaced: number | undefined;
    try {
      await receiveBody(req, temp, { ...body, sha256: false, durable: false });
      replaced = await sizeIfExists(target);
      // rename replaces atomically: a concurrent reader (commit) sees the old or the new block.
      await rename(temp, target);
    } catch (error) {
      staged.bytes -= body.length;
      await rm(temp, { force: true });
      throw this.#goneIfMissing(blobId, error);
    }
    if (replaced === undefined) staged.count++;
    else staged.bytes -= replaced;
  }

  /**
   * Counts a block's bytes against the blob's staged total before a byte is read, so concurrent
   * blocks cannot together overshoot it: without this, a client could stage blocks without end
   * and never commit them (each block alone being within the limit).
   */
  #reserveStaged(blobId: string, length: number): Staged {
    const staged = this.#staged.get(blobId) ?? { count: 0, bytes: 0 };
    this.#staged.set(blobId, staged);
    if (staged.bytes + length > this.#limits.maxArtifactBytes) {
      throw new BlobError(
        413,
        'RequestBodyTooLarge',
        `Staging ${length} more bytes would take this blob's uncommitted blocks past the server's limit of ${this.#limits.maxArtifactBytes} bytes (maxArtifactBytes).`,
        { Connection: 'close' },
      );
    }
    staged.bytes += length;
    return staged;
  }

  /**
   * Put Block List: the blob becomes the listed blocks in list order. Every id must have been
   * staged; then all staged blocks are deleted (Azure deletes unlisted ones; listed ones now live
   * in the blob). A repeat of the last list after that (a lost 201, retried by the SDK) is answered
   * from the recorded commit instead of failing on the deleted blocks.
   */
  async commitBlockList(
    blobId: string,
    ids: readonly Buffer[],
    contentType: string | undefined,
    guard: WriteGuard,
  ): Promise<CommittedBlob> {
    return this.#locks.run(blobId, async () => {
      guard();
      const state = this.#require(blobId);
      if (ids.length > this.#limits.maxBlocksPerList) {
        throw new BlobError(
          400,
          'BlockListTooLong',
          `The block list may not contain more than ${this.#limits.maxBlocksPerList} blocks (maxBlocksPerList); it has ${ids.length}.`,
        );
      }
      const listDigest = digestOfList(ids);
      const files = ids.map((id) => this.#layout.blockFile(blobId, id));
      const missing = await firstMissing(files);
      if (missing !== undefined) {
        if (state.committed?.blockList === listDigest) return state.committed;
        throw new BlobError(
          400,
          'InvalidBlockList',
          `The specified block list is invalid: block #${missing} (${ids[missing]?.toString('base64') ?? ''}) was never staged.`,
        );
      }
      // Azure allows a block to be listed more than once; what it does not allow is a blob past
      // its size limit. Summed before anything is linked, so a list naming one 64 KiB block
      // 16,384 times is refused instead of committing 1 GiB.
      await this.#checkCommitSize(files);
      const keys = ids.map(blockKey);
      const dir = `parts-${randomBytes(8).toString('hex')}`;
      const partsDir = this.#layout.partsDir(blobId, dir);
      try {
        // Hard links, not copies: the committed blob shares the staged blocks' inodes. A block
        // staged again later replaces the staged name only, never a committed part.
        await mkdir(partsDir);
        const unique = [...new Set(keys)];
        await Promise.all(
          unique.map((key) => link(this.#layout.blockFileByKey(blobId, key), join(partsDir, key))),
        );
        const parts = keys.map((key) => join(partsDir, key));
        // Sizes of what was linked (a block re-staged since the size check has a new inode).
        const linked = new Map<string, number>();
        await Promise.all(unique.map(async (key) => linked.set(key, (await stat(join(partsDir, key))).size)));
        // Blocks were received without fsync; what the 201 acknowledges must survive a power loss.
        await Promise.all(unique.map((key) => fsyncFile(join(partsDir, key))));
        await fsyncDir(partsDir);
        const { size, sha256 } = await hashFiles(parts);
        const previous = state.manifest?.dir;
        const hadData = state.committed !== null && !state.manifest;
        state.committed = committedBlob(size, sha256, contentType, listDigest);
        state.manifest = { dir, parts: keys, sizes: keys.map((key) => linked.get(key) ?? 0) };
        // The manifest appears atomically: before this write lands, the previous commit (or
        // none) is what a restart finds, and this commit's parts directory is removed as unused.
        await this.#persist(blobId);
        if (previous !== undefined)
          await rm(this.#layout.partsDir(blobId, previous), { recursive: true, force: true });
        if (hadData) await rm(this.#layout.blobDataFile(blobId), { force: true });
      } catch (error) {
        if (state.manifest?.dir !== dir) await rm(partsDir, { recursive: true, force: true });
        throw this.#goneIfMissing(blobId, error);
      }
      await this.#dropStagedBlocks(blobId);
      return state.committed;
    });
  }

  /** Put Blob: the body is the whole blob; staged blocks are discarded. */
  async putBlob(
    blobId: string,
    req: IncomingMessage,
    body: UploadBody,
    contentType: string | undefined,
    guard: WriteGuard,
  ): Promise<CommittedBlob> {
    this.#require(blobId);
    const temp = this.#layout.tempFile(blobId, 'blob', randomBytes(8).toString('hex'));
    try {
      const received = await receiveBody(req, temp, { ...body, sha256: true, durable: true });
      return await this.#locks.run(blobId, async () => {
        guard();
        const state = this.#require(blobId);
        await rename(temp, this.#layout.blobDataFile(blobId));
        await fsyncDir(this.#layout.blobDir(blobId));
        const previous = state.manifest?.dir;
        state.committed = committedBlob(received.size, received.sha256 ?? '', contentType, null);
        state.blockIdBytes = null;
        state.manifest = null;
        await this.#persist(blobId);
        if (previous !== undefined)
          await rm(this.#layout.partsDir(blobId, previous), { recursive: true, force: true });
        await this.#dropStagedBlocks(blobId);
        return state.committed;
      });
    } catch (error) {
      await rm(temp, { force: true });
      throw this.#goneIfMissing(blobId, error);
    }
  }

  #require(blobId: string): BlobState {
    const state = this.#states.get(blobId);
    if (!state) throw blobNotFound();
    return state;
  }

  /** A file error on a blob deleted meanwhile is the client's 404, not our 500. */
  #goneIfMissing(blobId: string, error: unknown): unknown {
    return isNotFound(error) && !this.#states.has(blobId) ? blobNotFound() : error;
  }

  /** Writes the in-memory state; callers hold the blob's lock, so the newest state always lands last. */
  async #persist(blobId: string): Promise<void> {
    const state = this.#states.get(blobId);
    if (state) await writeJsonAtomic(this.#layout.blobStateFile(blobId), state);
  }

  /** Refuses a commit whose blob would exceed maxArtifactBytes; sizes are summed per list entry. */
  async #checkCommitSize(files: readonly string[]): Promise<void> {
    const sizes = new Map<string, number>();
    await Promise.all([...new Set(files)].map(async (file) => sizes.set(file, (await stat(file)).size)));
    let total = 0;
    for (const file of files) total += sizes.get(file) ?? 0;
    if (total > this.#limits.maxArtifactBytes) {
      throw new BlobError(
        413,
        'BlobTooLarge',
        `The committed blob would be ${total} bytes, more than the server's limit of ${this.#limits.maxArtifactBytes} bytes (maxArtifactBytes).`,
      );
    }
  }

  async #dropStagedBlocks(blobId: string): Promise<void> {
    this.#staged.set(blobId, { count: 0, bytes: 0 });
    const dir = this.#layout.blocksDir(blobId);
    const names = await readdir(dir).catch((error: unknown) => {
      if (isNotFound(error)) return [];
      throw error;
    });
    await Promise.all(names.map((name) => rm(join(dir, name), { force: true })));
  }
}

export function blobNotFound(): BlobError {
  return new BlobError(404, 'BlobNotFound', 'The specified blob does not exist.');
}

function committedBlob(
  size: number,
  sha256: string,
  contentType: string | undefined,
  blockList: string | null,
): CommittedBlob {
  return {
    size,
    sha256,
    contentType: contentType ?? null,
    etag: `"0x${sha256.slice(0, 24).toUpperCase()}"`,
    lastModified: new Date().toISOString(),
    blockList,
  };
}

/** Length-prefixed, so lists that concatenate to the same bytes still differ. */
function digestOfList(ids: readonly Buffer[]): string {
  const hash = createHash('sha256');
  for (const id of ids) hash.update(Buffer.from([id.length])).update(id);
  return hash.digest('hex');
}

async function sizeIfExists(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).size;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

async function firstMissing(files: readonly string[]): Promise<number | undefined> {
  const checks = await Promise.all(
    [...new Set(files)].map(async (file) => {
      try {
        await access(file);
        return undefined;
      } catch (error) {
        if (isNotFound(error)) return file;
        throw error;
      }
    }),
  );
  const missing = new Set(checks.filter((f): f is string => f !== undefined));
  const index = files.findIndex((f) => missing.has(f));
  return index === -1 ? undefined : index;
}

function isBlobState(value: unknown): value is BlobState {
  if (typeof value !== 'object' || value === null) return false;
  const s = value as Record<string, unknown>;
  return (
    (s.blockIdBytes === null || typeof s.blockIdBytes === 'number') &&
    'committed' in s &&
    (s.manifest === undefined || s.manifest === null || isManifest(s.manifest))
  );
}

function isManifest(value: unknown): value is Manifest {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  return (
    typeof m.dir === 'string' &&
    PARTS_DIR.test(m.dir) &&
    Array.isArray(m.parts) &&
    Array.isArray(m.sizes) &&
    m.parts.length === m.sizes.length &&
    m.parts.every((p) => typeof p === 'string' && /^[0-9a-f]{64}$/.test(p)) &&
    m.sizes.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)
  );
}
