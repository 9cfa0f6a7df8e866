import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { ErrorResponse, badRequest } from '../../http/error-response.js';

/**
 * A request body on its way to the storage, checked as it passes: it must be exactly `length`
 * bytes and, when the client sent one, match its MD5. The last piece is held back until the body
 * has ended and passed both checks, so the storage never receives the whole declared length of a
 * bad body: a failed check aborts the upload before the block (or blob) exists. Memory stays at
 * one socket read. `failure` is the 400 to answer when the storage call fails because of it.
 */
export class VerifiedBody extends Transform {
  failure: ErrorResponse | undefined;
  /** Aborts the storage call carrying this body when the body fails: the SDK does not notice a stream error. */
  readonly abort = new AbortController();
  readonly #length: number;
  readonly #expectedMd5: string | undefined;
  readonly #md5;
  #received = 0;
  #held: Buffer | undefined;

  constructor(length: number, expectedMd5: string | undefined) {
    super();
    this.#length = length;
    this.#expectedMd5 = expectedMd5?.trim();
    this.#md5 = expectedMd5 === undefined ? undefined : createHash('md5');
  }

  /** Pipes `req` through a new VerifiedBody without letting a failure destroy the request's socket. */
  static of(req: IncomingMessage, length: number, expectedMd5: string | undefined): VerifiedBody {
    const body = new VerifiedBody(length, expectedMd5);
    // A failure is answered from `failure` once the storage call fails with it; the SDK may not
    // listen for the stream's errors itself, and an unheard 'error' would take the process down.
    body.on('error', () => body.abort.abort());
    req.on('error', (error) => body.destroy(error));
    // A client that goes away mid-body never ends it: without this the storage call would wait.
    req.on('aborted', () => body.destroy(new Error('the client closed the connection during the body')));
    req.pipe(body);
    return body;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#received += chunk.length;
    if (this.#received > this.#length) {
      // The rest of the body stays unread: the answer closes the connection.
      return done(
        this.#fail(
          new ErrorResponse(400, `Request body is longer than the Content-Range (${this.#length} bytes)`, {
            Connection: 'close',
          }),
        ),
      );
    }
    this.#md5?.update(chunk);
    const previous = this.#held;
    this.#held = chunk;
    done(null, previous);
  }

  override _flush(done: TransformCallback): void {
    if (this.#received !== this.#length) {
      return done(
        this.#fail(
          badRequest(`Request body has ${this.#received} bytes but the Content-Range says ${this.#length}`),
        ),
      );
    }
    if (this.#md5 && this.#expectedMd5 !== undefined) {
      const actual = this.#md5.digest('base64');
      if (actual !== this.#expectedMd5) {
        return done(
          this.#fail(
            badRequest(
              `MD5 mismatch for the chunk: x-actions-results-md5 is ${this.#expectedMd5}, received bytes hash to ${actual}`,
            ),
          ),
        );
      }
    }
    done(null, this.#held);
  }

  #fail(error: ErrorResponse): ErrorResponse {
    this.failure = error;
    return error;
  }
}
