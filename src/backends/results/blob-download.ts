import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IntegrityError, type ErrorContext } from '../../errors.js';
import type { HttpManager } from '../../transport/http-manager.js';
import type { Operation } from '../../transport/operation.js';

export interface BlobDownloadResult {
  size: number;
  sha256: string;
  contentType: string | undefined;
  contentDisposition: string | undefined;
  /** Path of the request URL (after redirects are not visible here; the signed URL's path). */
}

export interface BlobDownloadOptions {
  http: HttpManager;
  operation: Operation;
  context: ErrorContext;
  onBytes?: (received: number) => void;
}

/**
 * Streams a blob to `file`, hashing as it goes. A transfer that breaks off is resumed with
 * `Range: bytes=<received>-` and `If-Match: <strong ETag>` on the next attempt; a server that
 * answers 200 instead of 206 gets a fresh start. The length is checked against Content-Length.
 */
export async function downloadBlob(
  url: string,
  file: string,
  options: BlobDownloadOptions,
): Promise<BlobDownloadResult> {
  let received = 0;
  let hash: Hash = createHash('sha256');
  let etag: string | undefined;
  let contentType: string | undefined;
  let contentDisposition: string | undefined;
  let expectedTotal: number | undefined;

  const read = async (res: IncomingMessage): Promise<void> => {
    const status = res.statusCode ?? 0;
    let append = false;
    if (status === 206 && received > 0) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
      if (!range || Number(range[1]) !== received) {
        res.resume();
        throw new IntegrityError(
          'ERR_FERRY_INTEGRITY',
          `Resumed download returned an unexpected Content-Range '${res.headers['content-range']}'`,
          {
            context: options.context,
          },
        );
      }
      append = true;
    } else if (status !== 200) {
      res.resume();
      throw new IntegrityError('ERR_FERRY_PROTOCOL', `Blob download answered HTTP ${status}, expected 200`, {
        context: options.context,
      });
    } else {
      received = 0;
      hash = createHash('sha256');
      const tag = res.headers['etag'];
      etag = typeof tag === 'string' && !tag.startsWith('W/') ? tag : undefined;
      contentType = res.headers['content-type'];
      const disposition = res.headers['content-disposition'];
      contentDisposition = typeof disposition === 'string' ? disposition : undefined;
      const length = res.headers['content-length'];
      expectedTotal = length === undefined ? undefined : Number(length);
    }
    const declared =
      res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
    let got = 0;
    const handle = await open(file, append ? 'a' : 'w');
    // Bytes count as received (and are hashed) only once they are on disk: a resume starts
    // exactly where the file ends, never after bytes that were buffered but lost.
    const persisted = (chunks: readonly Buffer[]): void => {
      for (const chunk of chunks) {
        got += chunk.length;
        received += chunk.length;
        hash.update(chunk);
      }
      options.onBytes?.(received);
    };
    // While one write is on the thread pool, the stream gathers what arrives next and hands it
    // over as one writev: a few large writes instead of one per 64 KiB socket read.
    const sink = new Writable({
      highWaterMark: 4 * 1024 * 1024,
      write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void) {
        handle.write(chunk).then(() => {
          persisted([chunk]);
          done();
        }, done);
      },
      writev(entries: Array<{ chunk: Buffer }>, done: (error?: Error | null) => void) {
        const chunks = entries.map((e) => e.chunk);
        handle.writev(chunks).then(() => {
          persisted(chunks);
          done();
        }, done);
      },
    });
    try {
      await pipeline(res, sink);
    } catch (error: unknown) {
      throw new IntegrityError('ERR_FERRY_INTEGRITY', `Download broke off after ${received} bytes`, {
        cause: error,
        retryable: true,
        context: options.context,
      });
    } finally {
      await handle.close();
    }
    if (declared !== undefined && got !== declared) {
      throw new IntegrityError('ERR_FERRY_INTEGRITY', `Download truncated: ${got} of ${declared} bytes`, {
        retryable: true,
        context: options.context,
      });
    }
  };

  await options.http.request(
    {
      slot: 0,
      method: 'GET',
      url,
      headers: () => (received > 0 && etag ? { range: `bytes=${received}-`, 'if-match': etag } : {}),
      operation: options.operation,
      context: options.context,
    },
    read,
  );
  if (expectedTotal !== undefined && received !== expectedTotal) {
    throw new IntegrityError(
      'ERR_FERRY_INTEGRITY',
      `Download has ${received} bytes, the server declared ${expectedTotal}`,
      {
        context: options.context,
      },
    );
  }
  return { size: received, sha256: hash.digest('hex'), contentType, contentDisposition };
}

/** `sha256:<hex>` or bare hex, any case → lowercase hex; anything else → undefined. */
export function normalizeDigest(digest: string | undefined): string | undefined {
  if (!digest) return undefined;
  const hex = digest.toLowerCase().replace(/^sha256:/, '');
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}
