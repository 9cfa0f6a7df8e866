import type { ServerResponse } from 'node:http';
import type { RequestContext } from '../route.js';
import { isNotFound } from '../util/atomic-file.js';
import { ANY_METHOD, type ServerRoute } from '../server.js';
import { BlobError, azureHeaders, renderBlobError } from './blob-errors.js';
import { sendBlob } from './blob-download.js';
import { blobContentType, contentMd5, decodeBlockId, requireContentLength } from './blob-params.js';
import { blobNotFound, type CommittedBlob } from './blob-store.js';
import { readBlockList } from './block-list.js';
import type { FilesystemResults } from './service.js';
import { BLOB_PATH_PREFIX } from './signer.js';

// Azure's own limits: 4000 MiB per block, 5000 MiB per Put Blob.
const MAX_BLOCK_BYTES = 4000 * 1024 * 1024;
const MAX_PUT_BLOB_BYTES = 5000 * 1024 * 1024;

const BLOB = new RegExp(`^${BLOB_PATH_PREFIX}(?<blobId>[0-9a-f]{32})$`);
const ANY_BLOB = /^\/devstoreaccount1(?:\/.*)?$/;

/**
 * The blob endpoints behind the signed URLs. They carry no Authorization header (the Azure SDK
 * sends none): the signature in the query is the credential, checked before anything else.
 */
export function blobRoutes(service: FilesystemResults): ServerRoute[] {
  const common = { auth: 'self', renderError: renderBlobError } as const;
  return [
    { ...common, method: 'PUT', pattern: BLOB, handler: (ctx) => put(service, ctx) },
    { ...common, method: 'GET', pattern: BLOB, handler: (ctx) => get(service, ctx) },
    {
      ...common,
      method: ANY_METHOD,
      pattern: ANY_BLOB,
      handler: (ctx) => {
        if (BLOB.test(ctx.url.pathname)) {
          throw new BlobError(
            405,
            'UnsupportedHttpVerb',
            `The resource doesn't support ${ctx.req.method ?? ''}.`,
          );
        }
        throw new BlobError(404, 'ResourceNotFound', 'The specified resource does not exist.');
      },
    },
  ];
}

async function put(service: FilesystemResults, ctx: RequestContext): Promise<void> {
  const { req, res, url } = ctx;
  const blobId = ctx.params.blobId ?? '';
  service.signer.verify(blobId, url.searchParams, 'w');
  const { index, blobs } = service;
  if (!index.byBlob(blobId) || !blobs.has(blobId)) throw blobNotFound();
  const guard = (): void => {
    if (!index.isWritable(blobId)) {
      throw new BlobError(
        409,
        'BlobImmutableDueToPolicy',
        'This operation is not permitted: the artifact is finalized and its blob is immutable.',
      );
    }
  };
  guard();
  const headers = azureHeaders(req);
  const comp = url.searchParams.get('comp');
  if (comp === 'block') {
    const blockId = decodeBlockId(url.searchParams.get('blockid'), 'Put Block');
    const length = requireContentLength(req, Math.min(MAX_BLOCK_BYTES, service.limits.maxArtifactBytes));
    const md5 = contentMd5(req);
    await blobs.stageBlock(blobId, blockId, req, { length, md5 });
    created(res, { ...headers, ...(md5 === undefined ? {} : { 'Content-MD5': md5 }) });
    return;
  }
  if (comp === 'blocklist') {
    const ids = await readBlockList(req);
    const committed = await blobs.commitBlockList(blobId, ids, blobContentType(req), guard);
    created(res, { ...headers, ...validators(committed) });
    return;
  }
  if (comp !== null) {
    throw new BlobError(400, 'InvalidQueryParameterValue', `comp=${comp} is not supported on PUT.`);
  }
  const type = req.headers['x-ms-blob-type'];
  if (type !== 'BlockBlob') {
    throw new BlobError(
      400,
      type === undefined ? 'MissingRequiredHeader' : 'InvalidHeaderValue',
      'Put Blob needs x-ms-blob-type: BlockBlob (the only blob type this server stores).',
    );
  }
  const length = requireContentLength(req, Math.min(MAX_PUT_BLOB_BYTES, service.limits.maxArtifactBytes));
  const md5 = contentMd5(req);
  const committed = await blobs.putBlob(blobId, req, { length, md5 }, blobContentType(req), guard);
  created(res, {
    ...headers,
    ...validators(committed),
    ...(md5 === undefined ? {} : { 'Content-MD5': md5 }),
  });
}

async function get(service: FilesystemResults, ctx: RequestContext): Promise<void> {
  const { req, res, url } = ctx;
  const blobId = ctx.params.blobId ?? '';
  service.signer.verify(blobId, url.searchParams, 'r');
  const comp = url.searchParams.get('comp');
  if (comp !== null) {
    throw new BlobError(400, 'InvalidQueryParameterValue', `comp=${comp} is not supported on GET.`);
  }
  const record = service.index.byBlob(blobId);
  const committed = service.blobs.committed(blobId);
  const read = record && committed ? service.blobs.openRead(blobId) : undefined;
  if (!record || !committed || !read) throw blobNotFound();
  // Download URLs are only handed out for finalized artifacts, whose blob never changes again.
  const contentType = committed.contentType ?? record.mimeType;
  try {
    await sendBlob(
      req,
      res,
      {
        segments: read.segments,
        size: committed.size,
        etag: committed.etag,
        lastModified: committed.lastModified,
        contentType,
        fileName: downloadName(record.name, contentType),
      },
      azureHeaders(req),
    );
  } catch (error) {
    // Deleted between the lookup and the open: the same answer as a moment later.
    if (isNotFound(error) && !res.headersSent) throw blobNotFound();
    throw error;
  } finally {
    await read.release();
  }
}

/** Zipped artifacts download as `<name>.zip`; raw ones (skipArchive) are named after their file. */
function downloadName(name: string, contentType: string): string {
  const isZip = contentType.split(';', 1)[0]?.trim().toLowerCase() === 'application/zip';
  return isZip && !name.toLowerCase().endsWith('.zip') ? `${name}.zip` : name;
}

function validators(committed: CommittedBlob): Record<string, string> {
  return { ETag: committed.etag, 'Last-Modified': new Date(committed.lastModified).toUTCString() };
}

/** The only success status the Azure SDK accepts for Put Block, Put Block List and Put Blob. */
function created(res: ServerResponse, headers: Record<string, string>): void {
  res.writeHead(201, { ...headers, 'x-ms-request-server-encrypted': 'false', 'Content-Length': '0' });
  res.end();
}
