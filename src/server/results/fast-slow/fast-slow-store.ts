import { createHash, createHmac } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { RequestContext } from '../../route.js';
import type { ServerRoute } from '../../server.js';
import type { ResultsArtifact } from '../artifact-index.js';
import { BlobError, azureHeaders, renderBlobError } from '../blob-errors.js';
import { sendBlob, type BlobRepresentation } from '../blob-download.js';
import { blobNotFound } from '../blob-store.js';
import { downloadName } from '../content-disposition.js';
import type { UrlSigner } from '../signer.js';
import type { ResultsStore } from '../store.js';
import type { Expected, FastCache } from './fast-cache.js';
import { fillTee, unbatched } from './fill-tee.js';
import { readWhole } from './slow-ranges.js';

/**
 * Download URLs of a fast_slow store: `artifact-<id>` in the container's place, so the route
 * finds the record by id on any store (Azure has no index by blob id) and the metrics count it
 * as `blob`. The id and blob id are both covered by the signature.
 */
const FAST_BLOB = /^\/devstoreaccount1\/artifact-(?<id>[1-9][0-9]{0,15})\/(?<blobId>[0-9a-f]{32})$/;

// Large sequential reads from the local disk, as for the filesystem store's own downloads.
const READ_HIGH_WATER_MARK = 1024 * 1024;

function fastBlobPath(record: ResultsArtifact): string {
  return `/devstoreaccount1/artifact-${record.id}/${record.blobId}`;
}

/**
 * A `fast_slow` results store: the slow store keeps every record and every blob (uploads go to
 * it exactly as without the cache, by its own URLs), and downloads are served by this server
 * from the fast cache, filled from the slow store on a miss while the bytes stream to the client.
 * Over azure_blob this means downloads no longer get a SAS URL of the storage account: the point
 * of the cache is to keep repeated downloads on the runners' side of the network.
 */
export function fastSlowStore(slow: ResultsStore, cache: FastCache, signer: UrlSigner): ResultsStore {
  const route: ServerRoute = {
    method: 'GET',
    pattern: FAST_BLOB,
    auth: 'self',
    renderError: renderBlobError,
    handler: (ctx) => download(ctx, slow, cache, signer),
  };
  return {
    kind: `fast_slow over ${slow.kind}`,
    records: slow.records,
    blobs: {
      uploadUrl: (baseUrl, record) => slow.blobs.uploadUrl(baseUrl, record),
      downloadUrl: (baseUrl, record) =>
        signer.signPath(baseUrl.replace(/\/$/, ''), fastBlobPath(record), 'r'),
      // First: the filesystem store's catch-all for /devstoreaccount1/... would answer 404.
      routes: [route, ...slow.blobs.routes],
      read: (record, start, end) => slow.blobs.read(record, start, end),
    },
    probe: () => slow.probe(),
    ...(slow.sweepLease ? { sweepLease: slow.sweepLease } : {}),
  };
}

async function download(
  ctx: RequestContext,
  slow: ResultsStore,
  cache: FastCache,
  signer: UrlSigner,
): Promise<void> {
  const { req, res, url } = ctx;
  signer.verifyPath(url.pathname, url.searchParams, 'r');
  const comp = url.searchParams.get('comp');
  if (comp !== null) {
    throw new BlobError(400, 'InvalidQueryParameterValue', `comp=${comp} is not supported on GET.`);
  }
  const record = await slow.records.get(Number(ctx.params.id));
  if (!record?.finalized || record.blobId !== ctx.params.blobId) throw blobNotFound();
  const { size, digest, at } = record.finalized;
  const expected: Expected = { size, sha256: digestHex(digest) };
  const representation: BlobRepresentation = {
    segments: [],
    size,
    // Strong and stable on every instance: the recorded digest, or the blob id when none was.
    etag: `"${expected.sha256 ?? record.blobId}"`,
    lastModified: at,
    contentType: record.mimeType,
    fileName: downloadName(record.name, record.mimeType),
  };
  const key = record.blobId;
  const entry = await openEntry(await cache.lookup(key, expected));
  if (entry !== undefined) {
    let handed = false;
    try {
      await sendBlob(
        req,
        res,
        {
          ...representation,
          // A whole read is checked against the digest as it goes; a mismatch drops the entry.
          body: (start, end) => {
            handed = true;
            const bytes = fromHandle(entry, start, end);
            const whole = start === 0 && end === size - 1;
            return Promise.resolve(
              whole && expected.sha256 !== undefined
                ? verified(bytes, expected.sha256, () => cache.drop(key))
                : bytes,
            );
          },
        },
        azureHeaders(req),
      );
    } finally {
      // No bytes were asked for (HEAD, 304, 412): the handle was never given to a stream.
      if (!handed) await entry.close();
    }
    return;
  }
  const readSlow = (start: number, end: number): Promise<AsyncIterable<Buffer> | undefined> =>
    slow.blobs.read(record, start, end);
  await sendBlob(
    req,
    res,
    {
      ...representation,
      // Ferry's SDK asks a large blob as `Range: bytes=0-`: a 206 would let it split the
      // download into ranges of its own, each a range miss here, and nothing would be cached.
      // Answered 200 (as RFC 9110 allows), it is one whole read that fills the cache, itself
      // read from the slow store in parallel ranges when that is slow.
      wholeRangeAsFull: true,
      body: async (start, end) => {
        if (start !== 0 || end !== size - 1) {
          // A range (a resumed download) passes through and fills nothing.
          const source = await readSlow(start, end);
          if (!source) throw blobNotFound();
          return source;
        }
        const source = await readWhole(readSlow, size);
        if (!source) throw blobNotFound();
        return fillTee(source, await cache.beginFill(key, expected));
      },
    },
    azureHeaders(req),
  );
}

/**
 * A whole file read through the fast store, for the legacy protocol: `identity` names the bytes
 * (container, path, and when and how large they were written, so a rewritten item is a new
 * entry); the legacy protocol records no digest, so an entry is checked by its size.
 */
export type CachedRead = (
  identity: string,
  size: number,
  openSlow: () => Promise<AsyncIterable<Buffer>>,
) => Promise<AsyncIterable<Buffer>>;

export function cachedRead(cache: FastCache): CachedRead {
  return async (identity, size, openSlow) => {
    const key = `l-${createHash('sha256').update(identity).digest('hex').slice(0, 40)}`;
    const expected: Expected = { size, sha256: undefined };
    const entry = await openEntry(await cache.lookup(key, expected));
    if (entry !== undefined) return fromHandle(entry, 0, size - 1);
    return unbatched(fillTee(await openSlow(), await cache.beginFill(key, expected)));
  };
}

/**
 * Opens a looked-up entry at once: one evicted between the lookup and the read is then a miss
 * (read from the slow store), never an answer cut after its head.
 */
async function openEntry(file: string | undefined): Promise<FileHandle | undefined> {
  if (file === undefined) return undefined;
  try {
    return await open(file, 'r');
  } catch {
    return undefined;
  }
}

/** Bytes `start..end` of an opened entry; the stream owns the handle and closes it. */
function fromHandle(handle: FileHandle, start: number, end: number): AsyncIterable<Buffer> {
  return createReadStream('', { fd: handle, start, end, highWaterMark: READ_HIGH_WATER_MARK });
}

/**
 * The entry's bytes with the last chunk held back until the whole has been hashed: a corrupted
 * entry is never delivered complete. On a mismatch the entry is dropped and the answer cut, so
 * the client's retry (or resume) reads from the slow store.
 */
async function* verified(
  bytes: AsyncIterable<Buffer>,
  sha256: string,
  drop: () => Promise<void>,
): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  let held: Buffer | undefined;
  for await (const chunk of bytes) {
    hash.update(chunk);
    if (held) yield held;
    held = chunk;
  }
  if (hash.digest('hex') !== sha256) {
    await drop();
    throw new Error('the fast store entry does not match its recorded SHA-256; dropped');
  }
  if (held) yield held;
}

/** `sha256:<hex>` as recorded at finalize; undefined when the client sent none (Azure records). */
function digestHex(digest: string): string | undefined {
  const match = /^sha256:([0-9a-f]{64})$/i.exec(digest);
  return match?.[1]?.toLowerCase();
}

/**
 * The key every instance on one storage account derives for the fast_slow download URLs, so a
 * URL handed out by one instance is honoured by another behind the same load balancer.
 */
export function derivedSigningKey(accountKey: string, container: string, prefix: string): Buffer {
  return createHmac('sha256', Buffer.from(accountKey, 'base64'))
    .update(`ferry fast_slow download URLs\n${container}\n${prefix}`)
    .digest();
}
