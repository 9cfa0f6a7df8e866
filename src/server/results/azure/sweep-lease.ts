import { randomBytes } from 'node:crypto';
import type { BlockBlobClient } from '@azure/storage-blob';
import type { SweepLease } from '../../retention/sweeper.js';
import { isConflict, isMissing, readSmallJson, type Timed } from './small-json.js';

/** Longer than any sweep; a holder that dies (kill -9) blocks the others for at most this long. */
export const SWEEP_LEASE_MS = 10 * 60 * 1000;

/**
 * One retention sweep at a time across the instances sharing a container: a lease record
 * (`sweep-lease`: holder and expiry) taken with If-None-Match: * or, when the previous one has
 * lapsed or was released, If-Match on its ETag. Losing the race means another instance sweeps.
 */
export class AzureSweepLease implements SweepLease {
  readonly #blob: BlockBlobClient;
  readonly #time: Timed;
  readonly #holder = randomBytes(8).toString('hex');
  readonly #now: () => number;
  readonly #leaseMs: number;

  constructor(blob: BlockBlobClient, time: Timed, options: { now?: () => number; leaseMs?: number } = {}) {
    this.#blob = blob;
    this.#time = time;
    this.#now = options.now ?? Date.now;
    this.#leaseMs = options.leaseMs ?? SWEEP_LEASE_MS;
  }

  async acquire(): Promise<boolean> {
    const current = await readSmallJson(this.#blob, this.#time);
    const value = current?.value as { holder?: unknown; until?: unknown } | undefined;
    if (
      current &&
      typeof value?.until === 'number' &&
      value.until > this.#now() &&
      value.holder !== this.#holder
    ) {
      return false;
    }
    const body = JSON.stringify({ holder: this.#holder, until: this.#now() + this.#leaseMs });
    try {
      await this.#time('write_record', () =>
        this.#blob.upload(body, Buffer.byteLength(body), {
          conditions: current ? { ifMatch: current.etag } : { ifNoneMatch: '*' },
        }),
      );
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }

  /** Gives the lease up at once (expiry 0), only if it is still ours. */
  async release(): Promise<void> {
    const current = await readSmallJson(this.#blob, this.#time);
    if ((current?.value as { holder?: unknown } | undefined)?.holder !== this.#holder || !current) return;
    const body = JSON.stringify({ holder: this.#holder, until: 0 });
    try {
      await this.#time('write_record', () =>
        this.#blob.upload(body, Buffer.byteLength(body), { conditions: { ifMatch: current.etag } }),
      );
    } catch (error) {
      if (!isConflict(error) && !isMissing(error)) throw error;
    }
  }
}
