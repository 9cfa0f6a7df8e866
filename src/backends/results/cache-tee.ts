import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { InsertResult, VerifiedCache } from '../../cache/index.js';
import type { Logger } from '../../core/types.js';
import type { BlobTee } from './blob-download.js';

/**
 * Streams a blob download's bytes into the verified cache while they arrive, so a miss costs no
 * second read of the blob: cache.insert hashes what it is given and only renames the entry into
 * place when size and sha256 match the digest, so nothing is kept unless the download matched.
 * Each fresh response (a start over) abandons the insert in progress and begins another. The
 * cache is an optimisation: any failure of it is one warning, never a failed download.
 * Works with any download path that hands it the bytes in order (to a temp file or one pass).
 */
export class CacheTee implements BlobTee {
  #stream: PassThrough | undefined;
  #inserting: Promise<InsertResult | undefined> | undefined;
  #failed = false;
  /** The current insert returned (an entry already there returns before reading anything). */
  #settled = false;

  constructor(
    private readonly cache: VerifiedCache,
    private readonly digest: string,
    private readonly size: number,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.#abandon();
    if (this.#failed) return;
    const stream = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
    this.#stream = stream;
    this.#settled = false;
    this.#inserting = this.cache
      .insert(this.digest, this.size, stream)
      .catch((error: unknown) => {
        // Abandoned on purpose (a start over, a failed download): not worth a warning.
        if (stream.destroyed && this.#stream !== stream) return undefined;
        this.#fail(error);
        return undefined;
      })
      .finally(() => {
        if (this.#stream === stream) this.#settled = true;
      });
  }

  async write(chunks: readonly Buffer[]): Promise<void> {
    const stream = this.#stream;
    if (stream === undefined || this.#failed || this.#settled) return;
    for (const chunk of chunks) {
      if (stream.write(chunk)) continue;
      // Wait for the insert to take it, or to have failed (then the stream never drains).
      await Promise.race([once(stream, 'drain').catch(() => undefined), this.#inserting]);
      if (this.#failed || this.#settled || stream.destroyed) return;
    }
  }

  /**
   * After the download: `matched` ends the stream and waits for the insert (which checks the
   * digest itself); otherwise the partial entry is dropped. Never throws.
   */
  async finish(matched: boolean): Promise<InsertResult | undefined> {
    const stream = this.#stream;
    if (stream === undefined || this.#failed || !matched) {
      await this.#abandon();
      return undefined;
    }
    if (!this.#settled) stream.end();
    const result = await this.#inserting;
    this.#stream = undefined;
    return result;
  }

  async #abandon(): Promise<void> {
    const stream = this.#stream;
    const inserting = this.#inserting;
    this.#stream = undefined;
    this.#inserting = undefined;
    if (stream === undefined) return;
    stream.on('error', () => undefined);
    stream.destroy(new Error('download restarted'));
    await inserting;
  }

  #fail(error: unknown): void {
    this.#failed = true;
    this.logger.warn(
      `Could not add ${this.digest} to the download cache at ${this.cache.path} (${error instanceof Error ? error.message : String(error)}); the download itself is fine`,
    );
  }
}
