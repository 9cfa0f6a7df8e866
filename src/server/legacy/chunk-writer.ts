import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { writeFully } from '../../core/write-fully.js';
import { ErrorResponse, badRequest } from '../http/error-response.js';

export interface ChunkTarget {
  /** File offset of the first byte. */
  offset: number;
  /** Exact number of bytes the body must contain. */
  length: number;
  /** Base64 MD5 the client computed over the bytes it sent (`x-actions-results-md5`), if any. */
  expectedMd5: string | undefined;
}

// Socket reads arrive in ~16-64 KiB pieces; coalescing them into 1 MiB positional writev calls
// keeps a 512 MiB upload to ~512 syscalls instead of ~30,000.
const WRITE_BATCH = 1024 * 1024;

/**
 * Streams a request body into `file` at `offset` with positional writes (never appends), so a
 * retried chunk overwrites exactly its own range. Resolves only after every byte has been handed
 * to the OS and the file is closed; rejects with a 400 ErrorResponse when the body length differs
 * from the range or the MD5 does not match. Memory stays bounded by one batch.
 */
export async function writeChunk(
  req: IncomingMessage,
  file: string,
  fresh: boolean,
  target: ChunkTarget,
): Promise<void> {
  const md5 = target.expectedMd5 === undefined ? undefined : createHash('md5');
  // O_CREAT without O_TRUNC for a known item (other ranges are already in the file); a fresh
  // item starts from an empty file so a shorter re-upload leaves no stale tail.
  const flags = constants.O_WRONLY | constants.O_CREAT | (fresh ? constants.O_TRUNC : 0);
  const handle = await open(file, flags, 0o644);
  let position = target.offset;
  let received = 0;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  try {
    // destroyOnReturn: false — on an oversize body we stop reading but must still be able to
    // answer 400 on this socket; destroying the request would destroy the socket with it.
    for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      received += chunk.length;
      if (received > target.length) {
        throw new ErrorResponse(
          400,
          `Request body is longer than the Content-Range (${target.length} bytes)`,
          {
            Connection: 'close',
          },
        );
      }
      md5?.update(chunk);
      batch.push(chunk);
      batchBytes += chunk.length;
      if (batchBytes >= WRITE_BATCH) {
        await writeFully(handle, batch, position);
        position += batchBytes;
        batch = [];
        batchBytes = 0;
      }
    }
    if (batchBytes > 0) await writeFully(handle, batch, position);
  } finally {
    await handle.close();
  }
  if (received !== target.length) {
    throw badRequest(`Request body has ${received} bytes but the Content-Range says ${target.length}`);
  }
  if (md5 && target.expectedMd5 !== undefined) {
    const actual = md5.digest('base64');
    if (actual !== target.expectedMd5.trim()) {
      throw badRequest(
        `MD5 mismatch for the chunk: x-actions-results-md5 is ${target.expectedMd5}, received bytes hash to ${actual}`,
      );
    }
  }
}

/**
 * Reads a request body of exactly `target.length` bytes into memory (callers bound the size),
 * with the same length and MD5 checks as {@link writeChunk}.
 */
export async function readChunkBody(
  req: IncomingMessage,
  target: { length: number; expectedMd5: string | undefined },
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    received += chunk.length;
    if (received > target.length) {
      throw new ErrorResponse(400, `Request body is longer than the Content-Range (${target.length} bytes)`, {
        Connection: 'close',
      });
    }
    chunks.push(chunk);
  }
  if (received !== target.length) {
    throw badRequest(`Request body has ${received} bytes but the Content-Range says ${target.length}`);
  }
  const body = Buffer.concat(chunks, received);
  if (target.expectedMd5 !== undefined) {
    const actual = createHash('md5').update(body).digest('base64');
    if (actual !== target.expectedMd5.trim()) {
      throw badRequest(
        `MD5 mismatch for the chunk: x-actions-results-md5 is ${target.expectedMd5}, received bytes hash to ${actual}`,
      );
    }
  }
  return body;
}
