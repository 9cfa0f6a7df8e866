import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback, type TransformOptions } from 'node:stream';

/** Base64 MD5 of `buf`: the `x-actions-results-md5` / `Content-MD5` header value. */
export function md5Base64(buf: Uint8Array): string {
  return createHash('md5').update(buf).digest('base64');
}

/** Lowercase hex SHA-256 of `buf`. */
export function sha256Hex(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

/**
 * A pass-through that hashes (SHA-256) and counts every byte that goes through it. Put it in a
 * `pipeline()`; read {@link digestHex} once the stream has finished.
 */
export class HashingStream extends Transform {
  #hash: Hash = createHash('sha256');
  #digest: string | undefined;
  #bytes = 0;

  constructor(options: Omit<TransformOptions, 'transform' | 'flush' | 'objectMode'> = {}) {
    super(options);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.#bytes += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.#digest = this.#hash.digest('hex');
    callback();
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Lowercase hex SHA-256 of everything that passed. Throws if the stream has not finished. */
  digestHex(): string {
    if (this.#digest === undefined) {
      throw new Error('HashingStream.digestHex() called before the stream finished');
    }
    return this.#digest;
  }
}
