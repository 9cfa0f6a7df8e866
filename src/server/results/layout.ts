import { createHash } from 'node:crypto';
import { join } from 'node:path';

/**
 * Where the results protocol keeps things under dataDir. No client string (run ids, artifact
 * names, block ids) ever becomes a path component: artifacts are numbered, blobs get a random
 * server-chosen id, and block files are named by the SHA-256 of the decoded block id.
 *
 *   <dataDir>/results/signing-key                   HMAC secret for signed blob URLs (hex)
 *   <dataDir>/results/next-artifact-id.json         {"next": N}
 *   <dataDir>/results/artifacts/<id>.json           artifact metadata
 *   <dataDir>/results/blobs/<blobId>/state.json     blob metadata (block id length, commit)
 *   <dataDir>/results/blobs/<blobId>/blocks/<key>   staged (uncommitted) blocks
 *   <dataDir>/results/blobs/<blobId>/data           the blob committed by Put Blob
 *   <dataDir>/results/blobs/<blobId>/parts-<hex>/<key>  blocks of the blob committed by Put Block
 *                                                   List (hard links; order in state.json)
 *   <dataDir>/results/blobs/<blobId>/*.tmp          bodies still arriving or being assembled
 */
export class ResultsLayout {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'results');
  }

  get keyFile(): string {
    return join(this.root, 'signing-key');
  }

  get counterFile(): string {
    return join(this.root, 'next-artifact-id.json');
  }

  get artifactsDir(): string {
    return join(this.root, 'artifacts');
  }

  artifactFile(id: number): string {
    return join(this.artifactsDir, `${id}.json`);
  }

  get blobsDir(): string {
    return join(this.root, 'blobs');
  }

  blobDir(blobId: string): string {
    return join(this.blobsDir, blobId);
  }

  blobStateFile(blobId: string): string {
    return join(this.blobDir(blobId), 'state.json');
  }

  blobDataFile(blobId: string): string {
    return join(this.blobDir(blobId), 'data');
  }

  blocksDir(blobId: string): string {
    return join(this.blobDir(blobId), 'blocks');
  }

  blockFile(blobId: string, blockId: Buffer): string {
    return this.blockFileByKey(blobId, blockKey(blockId));
  }

  blockFileByKey(blobId: string, key: string): string {
    return join(this.blocksDir(blobId), key);
  }

  partsDir(blobId: string, dir: string): string {
    return join(this.blobDir(blobId), dir);
  }

  partFile(blobId: string, dir: string, key: string): string {
    return join(this.blobDir(blobId), dir, key);
  }

  /** A unique temp file inside the blob's directory (same file system, so rename is atomic). */
  tempFile(blobId: string, purpose: string, unique: string): string {
    return join(this.blobDir(blobId), `${purpose}-${unique}.tmp`);
  }
}

/** Fixed-length, filesystem-safe name for a decoded block id. */
export function blockKey(blockId: Buffer): string {
  return createHash('sha256').update(blockId).digest('hex');
}

/** Name of a committed block list's directory inside a blob's directory. */
export const PARTS_DIR = /^parts-[0-9a-f]{16}$/;

/** Blob ids are ours (random hex); the URL pattern and the loader accept nothing else. */
export const BLOB_ID = /^[0-9a-f]{32}$/;
