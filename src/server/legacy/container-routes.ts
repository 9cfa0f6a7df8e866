import { pipeline } from 'node:stream/promises';
import { mayUseRun } from '../http/access.js';
import { ErrorResponse, badRequest, notFound } from '../http/error-response.js';
import { sendJson } from '../http/respond.js';
import type { RequestContext, Route } from '../route.js';
import { UPLOAD_SESSION_PARAM, type ArtifactRecord } from './artifact-store.js';
import type { ItemRecord } from './container-items.js';
import type { CachedRead } from '../results/fast-slow/fast-slow-store.js';
import { fileEntry, folderEntry, type ContainerEntry } from './contracts.js';
import { sendListing } from './listing-response.js';
import type { LegacyItems, LegacyStore } from './store.js';
import { normalizeItemPath, parseContentRange, parseOptionalLength } from './validate.js';

// `{runtime}_apis/resources/Containers/{containerId}` — the fileContainerResourceUrl we hand out.
// Canonical ids only (no leading zeros), so one container has exactly one URL.
const CONTAINER = /^\/_apis\/resources\/Containers\/(?<containerId>[1-9]\d{0,14})\/?$/i;

/** Chunk upload (PUT), item listing and file download (GET) on a container. */
export function containerRoutes(store: LegacyStore, fastRead?: CachedRead): Route[] {
  return [
    { method: 'PUT', pattern: CONTAINER, handler: (ctx) => putChunk(store, ctx) },
    { method: 'GET', pattern: CONTAINER, handler: (ctx) => getItems(store, ctx, fastRead) },
  ];
}

async function containerOf(store: LegacyStore, ctx: RequestContext): Promise<ArtifactRecord> {
  const id = Number(ctx.params.containerId);
  const record = await store.get(id);
  // A container of a run the token does not grant is answered exactly like a missing one, so
  // container ids (small sequential numbers) cannot be probed across runs.
  if (!record || !mayUseRun(ctx.access, record.runId)) {
    throw notFound(`Container ${ctx.params.containerId} does not exist`);
  }
  return record;
}

async function putChunk(store: LegacyStore, ctx: RequestContext): Promise<void> {
  const { req } = ctx;
  const artifact = await containerOf(store, ctx);
  const rawPath = ctx.url.searchParams.get('itemPath');
  if (rawPath === null) throw badRequest('The itemPath query parameter is required');
  const path = normalizeItemPath(rawPath, artifact.name);
  if (path === artifact.name)
    throw badRequest(`itemPath ${JSON.stringify(rawPath)} names the artifact, not a file in it`);

  const range = parseContentRange(req.headers['content-range']);
  // Offsets are below the total, so bounding the total bounds every write position (no 1 TiB sparse file).
  if (range.total > store.limits.maxArtifactBytes) {
    throw new ErrorResponse(
      413,
      `Content-Range total ${range.total} exceeds the server's limit of ${store.limits.maxArtifactBytes} bytes per artifact (maxArtifactBytes)`,
    );
  }
  const length = range.end - range.start;
  const declared = parseOptionalLength(req.headers['content-length'], 'Content-Length');
  if (declared !== undefined && declared !== length) {
    throw badRequest(
      `Content-Length ${declared} does not match Content-Range ${req.headers['content-range']} (${length} bytes)`,
    );
  }
  const gzip = parseEncoding(req.headers['content-encoding']);
  const fileLength = parseOptionalLength(req.headers['x-tfs-filelength'], 'x-tfs-filelength');
  const md5Header = req.headers['x-actions-results-md5'];
  const expectedMd5 = typeof md5Header === 'string' && md5Header !== '' ? md5Header : undefined;

  const session = ctx.url.searchParams.get(UPLOAD_SESSION_PARAM);
  await store.receive(artifact, path, session, { range, gzip, fileLength, expectedMd5 }, req);
  sendJson(ctx.res, 200, { message: 'success' });
}

/**
 * One URL serves both listing and download, as on the real service: an itemPath naming a stored
 * file returns its bytes; the artifact name or a folder returns the entries beneath it.
 */
async function getItems(store: LegacyStore, ctx: RequestContext, fastRead?: CachedRead): Promise<void> {
  const artifact = await containerOf(store, ctx);
  const items = await store.files(artifact);
  const rawPath = ctx.url.searchParams.get('itemPath');
  const prefix = rawPath === null || rawPath === '' ? undefined : normalizeItemPath(rawPath, artifact.name);

  const item = prefix === undefined ? undefined : await items.get(prefix);
  if (item) {
    if (!item.complete) throw notFound(`Item ${JSON.stringify(item.path)} has not been fully uploaded`);
    return sendFile(
      ctx,
      items,
      item,
      fastRead && ((open) => fastRead(fileIdentity(artifact, item), item.total, open)),
    );
  }
  const { files, folders } = await items.list(prefix);
  if (prefix !== undefined && prefix !== artifact.name && files.length === 0) {
    throw notFound(`No item ${JSON.stringify(prefix)} in artifact ${JSON.stringify(artifact.name)}`);
  }
  // Each entry is made as it is written (see listing-response.ts): never all of them at once.
  await sendListing(
    ctx.res,
    folders.length + files.length,
    listingEntries(ctx.baseUrl, artifact, folders, files),
  );
}

function* listingEntries(
  baseUrl: string,
  artifact: ArtifactRecord,
  folders: readonly string[],
  files: readonly ItemRecord[],
): Generator<ContainerEntry, void, undefined> {
  for (const folder of folders) yield folderEntry(baseUrl, artifact.containerId, folder, artifact);
  for (const file of files) yield fileEntry(baseUrl, artifact.containerId, file);
}

/**
 * Streams the stored bytes. `Content-Encoding: gzip` is sent exactly when the item was uploaded
 * gzip-encoded (the client then gunzips); a user's own .gz file uploaded raw is served without
 * it, or the client would unpack it (A2.6).
 */
async function sendFile(
  ctx: RequestContext,
  items: LegacyItems,
  item: ItemRecord,
  readThrough?: (open: () => Promise<AsyncIterable<Buffer>>) => Promise<AsyncIterable<Buffer>>,
): Promise<void> {
  const headers: Record<string, string> = {
    'Content-Type': 'application/octet-stream',
    'Content-Length': String(item.total),
  };
  if (item.gzip) headers['Content-Encoding'] = 'gzip';
  if (item.total === 0 || ctx.req.method === 'HEAD') {
    ctx.res.writeHead(200, headers);
    ctx.res.end();
    return;
  }
  // Read (or opened) before the head is sent, so missing bytes are a clean 500 JSON, not a
  // half-sent answer. Through a fast store every read goes through its cache.
  const small = readThrough ? undefined : items.readSmall?.(item);
  if (small !== undefined) {
    ctx.res.writeHead(200, headers);
    ctx.res.end(small);
    return;
  }
  const openStored = (): Promise<AsyncIterable<Buffer>> => items.open(item);
  const source = readThrough ? await readThrough(openStored) : await openStored();
  ctx.res.writeHead(200, headers);
  await pipeline(source, ctx.res);
}

/** What names a stored file's bytes for the fast store: a rewritten item is a different entry. */
function fileIdentity(artifact: ArtifactRecord, item: ItemRecord): string {
  return `legacy\n${artifact.containerId}\n${item.path}\n${item.updatedAt}\n${item.total}\n${String(item.gzip)}`;
}

function parseEncoding(value: string | undefined): boolean {
  if (value === undefined || value === '' || value.toLowerCase() === 'identity') return false;
  if (value.toLowerCase() === 'gzip') return true;
  throw new ErrorResponse(
    415,
    `Unsupported Content-Encoding ${JSON.stringify(value)}; only gzip is supported`,
  );
}
