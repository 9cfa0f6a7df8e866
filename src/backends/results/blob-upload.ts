import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { FerryError, type ErrorContext } from '../../errors.js';
import { md5Base64 } from '../../pack/digest.js';
import { discardBody } from '../../transport/body.js';
import type { HttpManager } from '../../transport/http-manager.js';
import type { Operation } from '../../transport/operation.js';
import { AZURE_VERSION, blockId, blockListXml, withQuery } from './blob-urls.js';

export const DEFAULT_BLOCK_SIZE = 8 * 1024 * 1024;

export interface BlobUploadOptions {
  http: HttpManager;
  operation: Operation;
  context: ErrorContext;
  contentType: string;
  blockSize?: number;
  onBytes?: (staged: number) => void;
}

export interface BlobUploadResult {
  size: number;
  /** Lowercase hex sha256 of exactly the bytes committed. */
  sha256: string;
  blocks: number;
}

/**
 * Cuts `source` into blocks and stages them with Put Block, one request per HttpManager slot in
 * flight, each from a buffer that a retry can resend; then commits the list in order. The
 * source is only read while a slot is free, so memory stays at slots × blockSize. The sha256 is
 * taken inline over the bytes in order. Nothing is committed unless every block was acknowledged.
 */
export async function uploadBlob(
  signedUrl: string,
  source: Readable,
  options: BlobUploadOptions,
): Promise<BlobUploadResult> {
  const { http, operation } = options;
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  const hash = createHash('sha256');
  const ids: string[] = [];
  const freeSlots = Array.from({ length: http.slots }, (_, i) => i);
  const inFlight = new Set<Promise<void>>();
  let firstError: unknown;
  let staged = 0;
  let size = 0;

  const stage = (block: Buffer, index: number): void => {
    const slot = freeSlots.pop() as number;
    const id = blockId(index);
    ids.push(id);
    const task = http
      .request(
        {
          slot,
          method: 'PUT',
          url: withQuery(signedUrl, { comp: 'block', blockid: id }),
          headers: {
            'content-type': 'application/octet-stream',
            'content-md5': md5Base64(block),
            'x-ms-version': AZURE_VERSION,
          },
          body: block,
          operation,
          context: options.context,
        },
        discardBody,
      )
      .then(() => {
        staged += block.length;
        options.onBytes?.(staged);
      })
      .catch((error: unknown) => {
        firstError ??= error;
      })
      .finally(() => {
        freeSlots.push(slot);
        inFlight.delete(task);
      });
    inFlight.add(task);
  };

  const waitForSlot = async (): Promise<void> => {
    while (freeSlots.length === 0) await Promise.race(inFlight);
    if (firstError !== undefined) throw firstError;
    operation.throwIfStopped();
  };

  let buffer = Buffer.allocUnsafe(blockSize);
  let filled = 0;
  let index = 0;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
      let offset = 0;
      while (offset < chunk.length) {
        const take = Math.min(blockSize - filled, chunk.length - offset);
        chunk.copy(buffer, filled, offset, offset + take);
        filled += take;
        offset += take;
        if (filled === blockSize) {
          await waitForSlot();
          stage(buffer, index++);
          buffer = Buffer.allocUnsafe(blockSize);
          filled = 0;
        }
      }
    }
    if (filled > 0) {
      await waitForSlot();
      stage(buffer.subarray(0, filled), index++);
    }
    await Promise.all(inFlight);
  } catch (error: unknown) {
    source.destroy();
    await Promise.allSettled(inFlight);
    throw firstError ?? error;
  }
  if (firstError !== undefined) throw firstError;
  if (staged !== size) {
    throw new FerryError('ERR_FERRY_PROTOCOL', `Staged ${staged} bytes but read ${size}`, {
      context: options.context,
    });
  }

  await http.request(
    {
      slot: 0,
      method: 'PUT',
      url: withQuery(signedUrl, { comp: 'blocklist' }),
      headers: {
        'content-type': 'application/xml; charset=utf-8',
        'x-ms-blob-content-type': options.contentType,
        'x-ms-version': AZURE_VERSION,
      },
      body: blockListXml(ids),
      operation,
      context: options.context,
    },
    discardBody,
  );
  return { size, sha256: hash.digest('hex'), blocks: ids.length };
}
