import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { FerryError, HttpError, IntegrityError, type ErrorContext } from '../../core/errors.js';
import { md5Base64 } from '../../pack/digest.js';
import { discardBody, readBody } from '../../transport/body.js';
import { extractErrorMessage } from '../../transport/error-body.js';
import type { HttpManager } from '../../transport/http-manager.js';
import type { Operation } from '../../transport/operation.js';
import { urlWithoutQuery } from '../../core/redact.js';
import { AZURE_VERSION, blockId, blockListXml, withQuery } from './blob-urls.js';

export const DEFAULT_BLOCK_SIZE = 8 * 1024 * 1024;

export interface BlobUploadOptions {
  http: HttpManager;
  operation: Operation;
  context: ErrorContext;
  contentType: string;
  blockSize?: number;
  onBytes?: (staged: number) => void;
  /**
   * Opens the same bytes again. When the store answers the commit with `InvalidBlockList` (it
   * lost a staged block), every block is staged once more from a fresh read and the commit is
   * repeated; without it that answer fails the upload. The re-read must hash the same.
   */
  reopen?: (() => Promise<Readable>) | undefined;
}

export interface BlobUploadResult {
  size: number;
  /** Lowercase hex sha256 of exactly the bytes committed. */
  sha256: string;
  blocks: number;
}

interface Staged {
  ids: string[];
  size: number;
  sha256: string;
}

/** Azure's codes for a body whose checksum does not match what arrived: corruption in transit. */
const CHECKSUM_MISMATCH = new Set(['Md5Mismatch', 'Crc64Mismatch']);

/**
 * Cuts `source` into blocks and stages them with Put Block, one request per HttpManager slot in
 * flight, each from a buffer that a retry can resend with its Content-MD5; then commits the list
 * in order. The source is only read while a slot is free, so memory stays at slots × blockSize.
 * The sha256 is taken inline over the bytes in order. Nothing is committed unless every block
 * was acknowledged, and a block the store rejected as corrupted (Md5Mismatch) is sent again.
 */
export async function uploadBlob(
  signedUrl: string,
  source: Readable,
  options: BlobUploadOptions,
): Promise<BlobUploadResult> {
  // The signed URL's lifetime started when CreateArtifact returned it, just before this call.
  const started = Date.now();
  const first = await stageAll(signedUrl, source, options, started);
  if ((await commit(signedUrl, first.ids, options, started)) === 'committed') {
    return { size: first.size, sha256: first.sha256, blocks: first.ids.length };
  }
  if (!options.reopen) throw invalidBlockList(options.context, false);
  const again = await stageAll(signedUrl, await options.reopen(), options, started);
  if (again.size !== first.size || again.sha256 !== first.sha256) {
    throw new FerryError(
      'ERR_FERRY_SOURCE_CHANGED',
      `The store lost a staged block (InvalidBlockList) and the files changed before they could be staged again (${first.size} bytes sha256:${first.sha256} before, ${again.size} bytes sha256:${again.sha256} now); nothing was committed`,
      { context: options.context },
    );
  }
  if ((await commit(signedUrl, again.ids, options, started)) === 'committed') {
    return { size: again.size, sha256: again.sha256, blocks: again.ids.length };
  }
  throw invalidBlockList(options.context, true);
}

async function stageAll(
  signedUrl: string,
  source: Readable,
  options: BlobUploadOptions,
  started: number,
): Promise<Staged> {
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
    const url = withQuery(signedUrl, { comp: 'block', blockid: id });
    const task = http
      .request(
        {
          slot,
          phase: 'transfer',
          method: 'PUT',
          url,
          headers: {
            'content-type': 'application/octet-stream',
            'content-md5': md5Base64(block),
            'x-ms-version': AZURE_VERSION,
          },
          body: block,
          // 400 is read here: Md5Mismatch means the bytes were damaged on the way and is retried.
          okStatuses: [400],
          describeFailure: (status, message) => refusedUrl(status, message, started),
          operation,
          context: options.context,
        },
        (res) => acceptBlock(res, index, url, options.context),
      )
      .then(() => {
        staged += block.length;
        options.onBytes?.(staged);
        // Acknowledged: nothing sends these bytes again, so the buffer takes the next block.
        if (block.length === blockSize) spare.push(block);
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

  // Block buffers are reused once their block is acknowledged (at most slots + 1 exist): a new
  // 8 MiB buffer per block outlived the scavenges while it filled, and every staged one then
  // waited for a full collection; a 100,000-file upload carried ~60 MiB of them (issue 12 item 5).
  const spare: Buffer[] = [];
  let buffer: Buffer = Buffer.allocUnsafe(blockSize);
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
          buffer = spare.pop() ?? Buffer.allocUnsafe(blockSize);
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
  return { ids, size, sha256: hash.digest('hex') };
}

/** Put Block List. `invalid-block-list` when the store does not have every listed block. */
async function commit(
  signedUrl: string,
  ids: readonly string[],
  options: BlobUploadOptions,
  started: number,
): Promise<'committed' | 'invalid-block-list'> {
  const url = withQuery(signedUrl, { comp: 'blocklist' });
  return options.http.request(
    {
      slot: 0,
      phase: 'transfer',
      method: 'PUT',
      url,
      headers: {
        'content-type': 'application/xml; charset=utf-8',
        'x-ms-blob-content-type': options.contentType,
        'x-ms-version': AZURE_VERSION,
      },
      body: blockListXml(ids),
      okStatuses: [400],
      describeFailure: (status, message) => refusedUrl(status, message, started),
      operation: options.operation,
      context: options.context,
    },
    async (res): Promise<'committed' | 'invalid-block-list'> => {
      if (res.statusCode !== 400) {
        await discardBody(res);
        return 'committed';
      }
      const error = await blobError(res);
      if (error.code === 'InvalidBlockList') return 'invalid-block-list';
      throw badRequest(url, error, options.context);
    },
  );
}

/** Reads a Put Block answer: 2xx is done, a checksum mismatch is retryable, any other 400 is final. */
async function acceptBlock(
  res: IncomingMessage,
  index: number,
  url: string,
  context: ErrorContext,
): Promise<void> {
  if (res.statusCode !== 400) {
    await discardBody(res);
    return;
  }
  const error = await blobError(res);
  if (isChecksumMismatch(error)) {
    throw new IntegrityError(
      'ERR_FERRY_INTEGRITY',
      `Block ${index} arrived corrupted: the blob store computed a different checksum (${[error.code, error.message].filter(Boolean).join(': ')}); sending it again`,
      { retryable: true, context: { ...context, status: 400 } },
    );
  }
  throw badRequest(url, error, context);
}

/**
 * Azure answers `Md5Mismatch` / `Crc64Mismatch`; Azurite answers `InvalidOperation` with
 * "Provided contentMD5 doesn't match.", so the message counts too.
 */
function isChecksumMismatch(error: BlobErrorBody): boolean {
  if (error.code !== undefined && CHECKSUM_MISMATCH.has(error.code)) return true;
  return /\b(content-?md5|md5|crc64)\b.*\b(doesn'?t|does not|did not) match/i.test(error.message ?? '');
}

interface BlobErrorBody {
  code: string | undefined;
  message: string | undefined;
  body: string;
}

async function blobError(res: IncomingMessage): Promise<BlobErrorBody> {
  const body = (await readBody(res, 64 * 1024).catch(() => Buffer.alloc(0))).toString('utf8');
  const header = res.headers['x-ms-error-code'];
  const code =
    typeof header === 'string' ? header : (/<Code>([^<]{1,100})<\/Code>/.exec(body)?.[1] ?? undefined);
  return { code, message: extractErrorMessage(body), body };
}

function badRequest(url: string, error: BlobErrorBody, context: ErrorContext): HttpError {
  const detail = [error.code, error.message?.slice(0, 200)].filter(Boolean).join(': ');
  return new HttpError(
    'ERR_FERRY_HTTP',
    `Request failed with status code 400: PUT ${urlWithoutQuery(url)}${detail ? `: ${detail}` : ''}`,
    400,
    error.body,
    { context: { ...context, method: 'PUT', status: 400 } },
  );
}

/**
 * A 403 from the blob store on an upload is almost always the signed URL running out. The
 * results protocol cannot renew an upload URL (CreateArtifact again would conflict), so the
 * upload fails for good, saying how long after the URL was handed out it happened.
 */
function refusedUrl(
  status: number,
  message: string | undefined,
  started: number,
): { code: 'ERR_FERRY_UNAUTHORIZED'; message: string } | undefined {
  if (status !== 403) return undefined;
  const elapsed = ((Date.now() - started) / 1000).toFixed(1);
  return {
    code: 'ERR_FERRY_UNAUTHORIZED',
    message: `The blob store refused the signed upload URL ${elapsed} s after it was issued${message ? ` (${message})` : ''}; it has most likely expired. An upload URL cannot be renewed: nothing was finalized, start the upload again`,
  };
}

function invalidBlockList(context: ErrorContext, restaged: boolean): FerryError {
  return new FerryError(
    'ERR_FERRY_PROTOCOL',
    restaged
      ? 'The blob store rejected the block list (InvalidBlockList) again after every block was staged a second time; nothing was finalized'
      : 'The blob store rejected the block list (InvalidBlockList: a staged block is missing) and the source cannot be read again; nothing was finalized',
    { context },
  );
}
