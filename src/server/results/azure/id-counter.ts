import type { BlockBlobClient } from '@azure/storage-blob';
import { isConflict, readSmallJson, type Timed } from './small-json.js';

/** Gives up after this many lost races in a row (only under a storm of concurrent creates). */
const MAX_ATTEMPTS = 50;

/**
 * Artifact ids shared by every instance: one blob holding the last id handed out, advanced by
 * compare-and-swap (If-Match: etag; If-None-Match: * for the first). A lost race re-reads and
 * tries again, so ids are unique and increasing across instances, never reused.
 */
export class AzureIdCounter {
  readonly #blob: BlockBlobClient;
  readonly #time: Timed;

  constructor(blob: BlockBlobClient, time: Timed) {
    this.#blob = blob;
    this.#time = time;
  }

  async allocate(): Promise<number> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await readSmallJson(this.#blob, this.#time);
      const last = (current?.value as { last?: unknown } | undefined)?.last;
      const next = (typeof last === 'number' && Number.isSafeInteger(last) ? last : 0) + 1;
      const body = JSON.stringify({ last: next });
      try {
        await this.#time('write_record', () =>
          this.#blob.upload(body, Buffer.byteLength(body), {
            conditions: current ? { ifMatch: current.etag } : { ifNoneMatch: '*' },
          }),
        );
        return next;
      } catch (error) {
        if (!isConflict(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * (attempt + 1)));
      }
    }
    throw new Error(`could not allocate an artifact id after ${MAX_ATTEMPTS} concurrent attempts`);
  }
}
