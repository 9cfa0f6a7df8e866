import type { BodyPiece } from '../send-body.js';
import type { Fill } from './fast-cache.js';

/**
 * Bytes per batch: the slow store's stream arrives in socket reads of 16-64 KiB; grouped into
 * ~1 MiB, each batch is one writev to the client and one to the fast file, instead of a syscall
 * (and a thread-pool round trip for the file) per chunk.
 */
export const BATCH_BYTES = 1024 * 1024;

/**
 * The slow store's bytes to the client and into the fast store at once, in batches of about
 * `batchBytes`; the cache never fails a read (a failing cache disk drops the entry, the client
 * still gets every byte). The last batch is held back until the entry is committed (and evicted
 * around), so a client that has every byte finds the entry there on its next request. A source
 * that fails, or a client that goes away (the consumer stops iterating), throws the partial
 * entry away.
 */
export async function* fillTee(
  source: AsyncIterable<BodyPiece>,
  fill: Fill | undefined,
  batchBytes: number = BATCH_BYTES,
): AsyncGenerator<readonly Buffer[]> {
  let filling = fill;
  let held: Buffer[] | undefined;
  let complete = false;
  /** Hands a batch to the fast file, then passes the one before it to the client. */
  async function* flush(batch: Buffer[]): AsyncGenerator<readonly Buffer[]> {
    // The disk write and the send of the previous batch overlap; writes stay in order.
    const writing = filling?.write(batch).then(
      () => true,
      () => false,
    );
    if (held) yield held;
    held = batch;
    if (writing && !(await writing)) {
      // A full or failing cache disk: the client still gets its bytes, the entry is dropped.
      await filling?.abort().catch(() => undefined);
      filling = undefined;
    }
  }
  try {
    let batch: Buffer[] = [];
    let bytes = 0;
    for await (const piece of source) {
      for (const chunk of Buffer.isBuffer(piece) ? [piece] : piece) {
        batch.push(chunk);
        bytes += chunk.length;
      }
      if (bytes < batchBytes) continue;
      yield* flush(batch);
      batch = [];
      bytes = 0;
    }
    if (batch.length > 0) yield* flush(batch);
    complete = true;
    if (filling) {
      const committing = filling;
      filling = undefined;
      await committing.commit().catch(() => false);
    }
    if (held) yield held;
  } finally {
    if (filling && !complete) await filling.abort().catch(() => undefined);
  }
}

/** The batches as single buffers, for a consumer that takes one at a time (the legacy routes). */
export async function* unbatched(batches: AsyncIterable<readonly Buffer[]>): AsyncGenerator<Buffer> {
  for await (const batch of batches) yield* batch;
}
