import type { BlockBlobClient } from '@azure/storage-blob';
import { ErrorResponse } from '../../http/error-response.js';
import {
  isConflict,
  readSmallJson,
  writeSmallJson,
  type Timed,
  type WriteConditions,
} from '../../results/azure/small-json.js';

/** Lost compare-and-swap races before giving up (only under a storm of commits into one container). */
const MAX_ATTEMPTS = 50;

/** A counted change that did not land (its Put Blob or Put Block List failed): gives it back. */
export type Undo = () => Promise<void>;

/**
 * The committed bytes of one legacy container, shared by every instance: one blob
 * (`legacy/uploads/<id>/bytes`, `{"bytes": N}`) changed by compare-and-swap (If-Match on its
 * ETag, If-None-Match: * for the first), so maxArtifactBytes bounds the container whichever
 * instance took the earlier bytes. A file is counted before it is committed, so two instances
 * can never both fit a file into the last free bytes; a commit that then fails gives its bytes
 * back, and one lost to a crash between the two leaves the count high (a refusal too early),
 * never low (a container beyond its bound).
 */
export class ContainerBytes {
  readonly #blob: BlockBlobClient;
  readonly #time: Timed;
  /** The container's committed bytes as listed, for a container made before this blob existed. */
  readonly #listed: () => Promise<number>;

  constructor(blob: BlockBlobClient, time: Timed, listed: () => Promise<number>) {
    this.#blob = blob;
    this.#time = time;
    this.#listed = listed;
  }

  /** Written by the create of a new container, so its first file needs no listing to count from. */
  async start(): Promise<void> {
    try {
      await this.#write(0, { ifNoneMatch: '*' });
    } catch (error) {
      // Already counted (a create of this id retried after its answer was lost): keep that count.
      if (!isConflict(error)) throw error;
    }
  }

  /**
   * Counts a file of `total` bytes replacing one of `previous` bytes (0 for a new file), or
   * refuses it with 413 when the container would hold more than `max` bytes. Returns the undo
   * of this change, for a commit that then fails.
   */
  async add(path: string, previous: number, total: number, max: number): Promise<Undo> {
    await this.#change(previous, total, (next) => {
      if (next > max) {
        throw new ErrorResponse(
          413,
          `Storing ${total} more bytes for ${JSON.stringify(path)} would make the artifact larger than the server's limit of ${max} bytes (maxArtifactBytes)`,
        );
      }
    });
    return () => this.#change(total, previous, () => {});
  }

  async #change(previous: number, total: number, check: (next: number) => void): Promise<void> {
    if (previous === total) return;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await readSmallJson(this.#blob, this.#time);
      const stored = (current?.value as { bytes?: unknown } | undefined)?.bytes;
      const held =
        typeof stored === 'number' && Number.isSafeInteger(stored) && stored >= 0
          ? stored
          : await this.#listed();
      const next = Math.max(0, held - previous + total);
      check(next);
      try {
        await this.#write(next, current ? { ifMatch: current.etag } : { ifNoneMatch: '*' });
        return;
      } catch (error) {
        if (!isConflict(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * (attempt + 1)));
      }
    }
    throw new Error(`could not count the artifact's bytes after ${MAX_ATTEMPTS} concurrent attempts`);
  }

  async #write(bytes: number, conditions: WriteConditions): Promise<void> {
    await writeSmallJson(this.#blob, this.#time, 'write_container_bytes', { bytes }, { conditions });
  }
}
