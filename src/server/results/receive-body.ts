import { createHash, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobError } from './blob-errors.js';

export interface ReceivedBody {
  size: number;
  /** Lowercase hex, when requested. */
  sha256: string | undefined;
}

export interface BodyExpectations {
  /** Content-Length as declared; the body must have exactly this many bytes. */
  length: number;
  /** Base64 Content-MD5 to verify, if the client sent one. */
  md5: string | undefined;
  sha256: boolean;
  /** fsync the file before resolving: set when the file becomes a committed blob as it is. */
  durable: boolean;
}

// Bigger file-stream buffers: fewer write syscalls for 8 MiB blocks and 512 MiB blobs.
const WRITE_HIGH_WATER_MARK = 1024 * 1024;

/**
 * Streams a request body into a new file (`wx`: never into someone else's), hashing on the way.
 * Memory stays bounded by the stream buffers whatever the size. A body shorter than declared
 * (client gone) rejects with the stream error; a wrong MD5 rejects with 400 Md5Mismatch after
 * the whole body was read, so the connection stays usable for the error answer.
 */
export async function receiveBody(
  req: IncomingMessage,
  file: string,
  expect: BodyExpectations,
): Promise<ReceivedBody> {
  const md5 = expect.md5 === undefined ? undefined : createHash('md5');
  const sha256 = expect.sha256 ? createHash('sha256') : undefined;
  const hashes = [md5, sha256].filter((h): h is Hash => h !== undefined);
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      for (const hash of hashes) hash.update(chunk);
      callback(null, chunk);
    },
  });
  // The request is read through an iterator that does not destroy it: a failed write (ENOSPC)
  // must leave the socket open so the client hears a 507 instead of a reset.
  await pipeline(
    Readable.from(req.iterator({ destroyOnReturn: false })),
    tap,
    createWriteStream(file, { flags: 'wx', highWaterMark: WRITE_HIGH_WATER_MARK, flush: expect.durable }),
  );
  if (size !== expect.length) {
    // Node's parser stops at Content-Length, so only a short body (aborted upload) gets here.
    throw new BlobError(
      400,
      'InvalidInput',
      `The body has ${size} bytes but Content-Length is ${expect.length}.`,
    );
  }
  if (md5 && expect.md5 !== undefined) {
    const actual = md5.digest('base64');
    if (actual !== expect.md5) {
      throw new BlobError(
        400,
        'Md5Mismatch',
        `The MD5 value specified in the request did not match with the MD5 value calculated by the server. Content-MD5: ${expect.md5}, received bytes: ${actual}.`,
      );
    }
  }
  return { size, sha256: sha256?.digest('hex') };
}
