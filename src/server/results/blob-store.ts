import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { access, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isNotFound, readJsonFile, writeJsonAtomic } from '../util/atomic-file.js';
import { KeyedMutex } from '../util/keyed-mutex.js';
import { BlobError } from './blob-errors.js';
import { concatFiles } from './concat-files.js';
import { BLOB_ID, type ResultsLayout } from './layout.js';
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

interface BlobState {
  /** Decoded length every block id of this blob must have; fixed by the first Put Block. */
  blockIdBytes: number | null;
  committed: CommittedBlob | null;
}

export interface UploadBody {
  length: number;
  md5: string | undefined;
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

  private constructor(layout: ResultsLayout) {
    this.#layout = layout;
  }

  static async open(layout: ResultsLayout): Promise<BlobStore> {
    const store = new BlobStore(layout);
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
        // Bodies that were arriving when the server stopped will never complete.
        const files = await readdir(this.#layout.blobDir(blobId));
        await Promise.all(
          files
            .filter((f) => f.endsWith('.tmp'))
            .map((f) => rm(join(this.#layout.blobDir(blobId), f), { force: true })),
        );
      }),
    );
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

  dataFile(blobId: string): string {
    return this.#layout.blobDataFile(blobId);
  }

  /** A new, empty blob under a fresh random id. */
  async create(): Promise<string> {
    const blobId = randomBytes(16).toString('hex');
    await mkdir(this.#layout.blocksDir(blobId), { recursive: true });
    const state: BlobState = { blockIdBytes: null, committed: null };
    await writeJsonAtomic(this.#layout.blobStateFile(blobId), state);
    this.#states.set(blobId, state);
    return blobId;
  }

  /** Deletes the blob and everything staged for it. Downloads already streaming keep their open file. */
  async remove(blobId: string): Promise<void> {
    await this.#locks.run(blobId, async () => {
      this.#states.delete(blobId);
      // Retries: a Put Block still in flight can add a file while the directory is being emptied.
      await rm(this.#layout.blobDir(blobId), { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
    });
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
    const temp = this.#layout.tempFile(blobId, 'block', randomBytes(8).toString('hex'));
    try {
      await receiveBody(req, temp, { ...body, sha256: false });
      // rename replaces atomically: a concurrent reader (commit) sees the old or the new block.
      await rename(temp, this.#layout.blockFile(blobId, blockId));
    } catch (error) {
      await rm(temp, { force: true });
      throw this.#goneIfMissing(blobId, error);
    }
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
      const temp = this.#layout.tempFile(blobId, 'assemble', randomBytes(8).toString('hex'));
      try {
        const { size, sha256 } = await concatFiles(files, temp);
        await rename(temp, this.#layout.blobDataFile(blobId));
        state.committed = committedBlob(size, sha256, contentType, listDigest);
      } catch (error) {
        await rm(temp, { force: true });
        throw this.#goneIfMissing(blobId, error);
      }
      await this.#persist(blobId);
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
      const received = await receiveBody(req, temp, { ...body, sha256: true });
      return await this.#locks.run(blobId, async () => {
        guard();
        const state = this.#require(blobId);
        await rename(temp, this.#layout.blobDataFile(blobId));
        state.committed = committedBlob(received.size, received.sha256 ?? '', contentType, null);
        state.blockIdBytes = null;
        await this.#persist(blobId);
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

  async #dropStagedBlocks(blobId: string): Promise<void> {
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
  return (s.blockIdBytes === null || typeof s.blockIdBytes === 'number') && 'committed' in s;
}
