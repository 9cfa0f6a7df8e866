import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { IntegrityError, type ErrorContext } from '../../core/errors.js';
import { extractZip, type ExtractOptions } from '../../pack/zip/index.js';
import type { DownloadResult, DownloadSpec, OperationContext, VerifiedBlob } from '../backend.js';
import { downloadBlob, type BlobDownloadOptions, type BlobDownloadResult } from './blob-download.js';
import { cacheKeyOf, cachedBlob, cacheTeeFor, lookupCached, type CacheKey } from './cached-download.js';
import { fileNameFromDisposition } from './content-disposition.js';
import { placeRawFile } from './place-file.js';
import { OnePassSink } from './one-pass-sink.js';
import { NotStreamableError } from '../../pack/zip/stream-extract.js';

/**
 * Downloads a signed URL to a fresh temporary directory under `tempDir` and checks the SHA-256
 * against `expectedHex`: a mismatch (after one re-download) throws `DigestMismatchError`
 * (`ERR_FERRY_INTEGRITY`) and removes the file, unless `verify` is false, which reports it as
 * `digestMismatch` instead.
 */
export async function fetchVerifiedBlob(
  url: string,
  name: string,
  expectedHex: string | undefined,
  tempDir: string,
  ctx: OperationContext,
  context: ErrorContext,
  verify: boolean,
  refreshUrl?: () => Promise<string>,
  listedSize?: number,
): Promise<VerifiedBlob> {
  await mkdir(tempDir, { recursive: true });
  const work = await mkdtemp(path.join(tempDir, 'ferry-download-'));
  let disposed: Promise<void> | undefined;
  const dispose = (): Promise<void> => (disposed ??= rm(work, { recursive: true, force: true }));
  try {
    const file = path.join(work, 'blob');
    const blob = await downloadBlob(
      url,
      file,
      blobOptions(name, ctx, context, verify ? expectedHex : undefined, refreshUrl, listedSize),
    );
    // The digest is checked in one layer, downloadBlob: with verification on it re-downloads once
    // and then throws DigestMismatchError, so a blob it returns matches. Only with verification
    // off can the bytes differ from the listing, and that is reported, not thrown.
    const digestMismatch = !verify && expectedHex !== undefined && blob.sha256 !== expectedHex;
    if (digestMismatch) {
      ctx.logger.debug(
        `Digest mismatch for artifact '${name}' (listed sha256:${expectedHex}, downloaded sha256:${blob.sha256}); verification is off`,
      );
    }
    return { ...blob, file, digestMismatch, expectedHex, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/**
 * How a results blob is fetched: over the operation's connections, with progress reported. With
 * `expectedSha256` (verification on) a mismatch gets one re-download (transit damage), then
 * DigestMismatchError, so a blob that returns matches; a 403 gets a fresh URL from `refreshUrl`.
 */
function blobOptions(
  name: string,
  ctx: OperationContext,
  context: ErrorContext,
  expectedSha256: string | undefined,
  refreshUrl: (() => Promise<string>) | undefined,
  listedSize: number | undefined,
): BlobDownloadOptions {
  return {
    http: ctx.http,
    operation: ctx.operation,
    context,
    expectedSha256,
    refreshUrl,
    listedSize,
    onBytes: (received, total) =>
      ctx.onProgress?.({
        operation: 'download',
        artifactName: name,
        phase: 'transfer',
        bytesDone: received,
        bytesTotal: total,
        filesDone: 0,
        filesTotal: undefined,
      }),
  };
}

/**
 * With a download cache: a verified cached copy of the listed digest when there is one (no blob
 * request at all), or undefined on a miss, a cache that failed, or no cache.
 */
async function cachedCopy(
  name: string,
  key: CacheKey | undefined,
  tempDir: string,
  ctx: OperationContext,
): Promise<VerifiedBlob | undefined> {
  const hit = key && ctx.cache ? await lookupCached(ctx, key) : undefined;
  if (!hit || !ctx.cache) return undefined;
  ctx.logger.debug(`Artifact '${name}' (${hit.digest}) comes from the download cache: no blob request`);
  return cachedBlob(hit, ctx.cache.path, tempDir);
}

/**
 * Downloads a signed artifact URL in one pass (issue 12): the bytes go from the socket through
 * SHA-256 and, for a zip, a streaming zip reader that stages each entry in a hidden directory in
 * the target; every byte is written once, nothing is read back from disk, and nothing becomes
 * visible until the digest matched. A zip the streaming reader cannot follow (a stored entry with
 * a data descriptor, a prepended stub, ...) or that is faulty (local headers that disagree with
 * the central directory, a CRC mismatch, ...) is, once its digest matched, fetched again into a
 * temporary file and extracted from its central directory, the temp-file way (or taken from the
 * download cache, when the first pass filled it): a faulty one then fails with the same typed
 * error as there. With a download cache, a verified cached copy is extracted from its file
 * instead (no blob request), and a miss feeds the cache while the bytes stream. Shared with the
 * REST (cross-run) path.
 */
export async function downloadSignedArtifact(
  url: string,
  name: string,
  expectedHex: string | undefined,
  spec: DownloadSpec,
  tempDir: string,
  ctx: OperationContext,
  context: ErrorContext,
  refreshUrl?: () => Promise<string>,
  listedSize?: number,
): Promise<DownloadResult> {
  const key = cacheKeyOf(ctx, expectedHex, listedSize, spec.skipDecompress ?? false);
  const cached = await cachedCopy(name, key, tempDir, ctx);
  if (cached !== undefined) return placeCachedCopy(cached, spec, ctx, context);
  const verify = spec.verifyDigest ?? true;
  const conflict = spec.conflict ?? 'overwrite';
  const target = path.resolve(spec.targetDirectory);
  let contentType: string | undefined;
  const sink = new OnePassSink(
    (type) => {
      contentType = type;
      return !spec.skipDecompress && isZipResponse(url, mimeOf(type));
    },
    extractOptionsFor(spec, target, ctx, context),
    context,
  );
  const tee = key ? cacheTeeFor(ctx, key) : undefined;
  try {
    let blob: BlobDownloadResult | undefined;
    let digestMismatch = false;
    try {
      blob = await downloadBlob(url, sink, {
        ...blobOptions(name, ctx, context, verify ? expectedHex : undefined, refreshUrl, listedSize),
        tee,
      });
      digestMismatch = !verify && expectedHex !== undefined && blob.sha256 !== expectedHex;
    } finally {
      // Kept only for an archive that matched its digest: what a later hit will be extracted as.
      await tee?.finish(blob !== undefined && !digestMismatch && isZipResponse(url, mimeOf(contentType)));
    }
    if (digestMismatch) {
      ctx.logger.debug(
        `Digest mismatch for artifact '${name}' (listed sha256:${expectedHex}, downloaded sha256:${blob.sha256}); verification is off`,
      );
    }
    await spec.beforeWrite?.();
    const digest = `sha256:${blob.sha256}`;
    const mismatch = digestMismatch ? { digestMismatch: true, expectedDigest: `sha256:${expectedHex}` } : {};
    if (sink.extraction !== undefined) {
      const endExtract = ctx.stats?.startPhase('extract');
      try {
        const result = await sink.extraction.materialize();
        return { downloadPath: target, fileCount: result.files, size: result.bytes, digest, ...mismatch };
      } catch (error) {
        // Thrown only by the checks before anything is placed (the central directory against
        // what streamed); materialize removed its staging.
        if (!(error instanceof NotStreamableError)) throw error;
        sink.notStreamable = error;
      } finally {
        endExtract?.();
      }
    }
    if (sink.notStreamable !== undefined) {
      await sink.dispose();
      const fallback = await fetchForFileExtraction(url, name, expectedHex, key, tempDir, ctx, context, {
        why: sink.notStreamable.message,
        verify,
        refreshUrl,
        listedSize,
      });
      return await extractFileBlob(
        fallback,
        spec,
        ctx,
        context,
        fallback.digestMismatch ? { digestMismatch: true, expectedDigest: `sha256:${expectedHex}` } : {},
      );
    }
    const raw = sink.raw;
    if (raw === undefined)
      throw new IntegrityError('ERR_FERRY_PROTOCOL', 'The download ended without a response body', {
        context,
      });
    await raw.close();
    const isZip = isZipResponse(url, mimeOf(contentType));
    const fileName = fileNameFromDisposition(blob.contentDisposition, isZip ? `${name}.zip` : name);
    // Placed relative to the held target: a link at the file's name is replaced (overwrite) or
    // refused, never followed.
    const placed = await placeRawFile({ file: raw.file, ...blob }, fileName, target, conflict, context);
    return {
      downloadPath: target,
      fileCount: placed ? 1 : 0,
      size: placed ? blob.size : 0,
      digest,
      ...mismatch,
    };
  } finally {
    await sink.dispose();
  }
}

/**
 * The archive of a one pass that the streaming reader gave up on, as a file to extract from its
 * central directory: the copy the first pass put in the download cache when there is one,
 * otherwise a second GET into a temporary file (verified as any download is).
 */
async function fetchForFileExtraction(
  url: string,
  name: string,
  expectedHex: string | undefined,
  key: CacheKey | undefined,
  tempDir: string,
  ctx: OperationContext,
  context: ErrorContext,
  how: {
    why: string;
    verify: boolean;
    refreshUrl: (() => Promise<string>) | undefined;
    listedSize: number | undefined;
  },
): Promise<VerifiedBlob> {
  const cached = await cachedCopy(name, key, tempDir, ctx);
  ctx.logger.debug(
    `Artifact '${name}' could not be extracted while it downloaded (${how.why}); ${
      cached !== undefined
        ? 'extracting the cached copy'
        : 'downloading it again to a temporary file to extract it'
    }`,
  );
  if (cached !== undefined) return cached;
  return fetchVerifiedBlob(
    url,
    name,
    expectedHex,
    tempDir,
    ctx,
    context,
    how.verify,
    how.refreshUrl,
    how.listedSize,
  );
}

/**
 * A cached copy (an archive whose digest the cache re-checked) extracted from its file, the
 * temp-file way: it is already on disk, so there is nothing to stream.
 */
async function placeCachedCopy(
  blob: VerifiedBlob,
  spec: DownloadSpec,
  ctx: OperationContext,
  context: ErrorContext,
): Promise<DownloadResult> {
  try {
    await spec.beforeWrite?.();
  } catch (error) {
    await blob.dispose();
    throw error;
  }
  return extractFileBlob(blob, spec, ctx, context, {});
}

/** A verified archive on disk extracted from its central directory into the target; the blob is disposed. */
async function extractFileBlob(
  blob: VerifiedBlob,
  spec: DownloadSpec,
  ctx: OperationContext,
  context: ErrorContext,
  mismatch: Pick<DownloadResult, 'digestMismatch' | 'expectedDigest'>,
): Promise<DownloadResult> {
  try {
    const target = path.resolve(spec.targetDirectory);
    const endExtract = ctx.stats?.startPhase('extract');
    const result = await extractZip(blob.file, extractOptionsFor(spec, target, ctx, context)).finally(
      endExtract,
    );
    return {
      downloadPath: target,
      fileCount: result.files,
      size: result.bytes,
      digest: `sha256:${blob.sha256}`,
      ...mismatch,
    };
  } finally {
    await blob.dispose();
  }
}

/** How a downloaded zip is extracted into `target`, streamed or from a file. */
function extractOptionsFor(
  spec: DownloadSpec,
  target: string,
  ctx: OperationContext,
  context: ErrorContext,
): ExtractOptions {
  return {
    targetDirectory: target,
    existing: spec.conflict ?? 'overwrite',
    symlinks: spec.symlinks ?? 'refuse',
    restoreModes: spec.restoreModes ?? true,
    ...(ctx.operation.signal !== undefined ? { signal: ctx.operation.signal } : {}),
    // Files written at once follow the caller's concurrency, so lowering it bounds descriptors.
    concurrency: ctx.http.slots,
    // Errors name the download and the artifact, not only the entry.
    context,
    ...(spec.limits !== undefined ? { limits: spec.limits } : {}),
  };
}

function mimeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function isZipResponse(url: string, mime: string): boolean {
  return (
    ['application/zip', 'application/x-zip-compressed', 'application/zip-compressed'].includes(mime) ||
    new URL(url).pathname.toLowerCase().endsWith('.zip')
  );
}
