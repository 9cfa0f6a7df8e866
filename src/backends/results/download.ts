import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ErrorContext } from '../../core/errors.js';
import { extractZip } from '../../pack/zip/index.js';
import type { DownloadResult, DownloadSpec, OperationContext, VerifiedBlob } from '../backend.js';
import { downloadBlob, type BlobTee } from './blob-download.js';
import { cacheKeyOf, cachedBlob, cacheTeeFor, lookupCached } from './cached-download.js';
import { fileNameFromDisposition } from './content-disposition.js';
import { placeRawFile } from './place-file.js';

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
  tee?: BlobTee,
): Promise<VerifiedBlob> {
  await mkdir(tempDir, { recursive: true });
  const work = await mkdtemp(path.join(tempDir, 'ferry-download-'));
  let disposed: Promise<void> | undefined;
  const dispose = (): Promise<void> => (disposed ??= rm(work, { recursive: true, force: true }));
  try {
    const file = path.join(work, 'blob');
    const blob = await downloadBlob(url, file, {
      http: ctx.http,
      operation: ctx.operation,
      context,
      // Verified downloads get one re-download on a mismatch (transit damage) and a fresh URL on a 403.
      expectedSha256: verify ? expectedHex : undefined,
      refreshUrl,
      listedSize,
      tee,
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
    });
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
 * With a download cache: a verified cached copy of the listed digest when there is one (no blob
 * request at all), otherwise the download, fed into the cache as it arrives and kept there only
 * when it was an archive whose bytes matched the digest. Without one: the download.
 */
async function cachedOrFetched(
  url: string,
  name: string,
  expectedHex: string | undefined,
  spec: DownloadSpec,
  tempDir: string,
  ctx: OperationContext,
  context: ErrorContext,
  refreshUrl: (() => Promise<string>) | undefined,
  listedSize: number | undefined,
): Promise<VerifiedBlob> {
  const verify = spec.verifyDigest ?? true;
  const key = cacheKeyOf(ctx, expectedHex, listedSize, spec.skipDecompress ?? false);
  const hit = key && ctx.cache ? await lookupCached(ctx, key) : undefined;
  if (hit && ctx.cache) {
    ctx.logger.debug(`Artifact '${name}' (${hit.digest}) comes from the download cache: no blob request`);
    return cachedBlob(hit, ctx.cache.path, tempDir);
  }
  const tee = key ? cacheTeeFor(ctx, key) : undefined;
  let blob: VerifiedBlob | undefined;
  try {
    blob = await fetchVerifiedBlob(
      url,
      name,
      expectedHex,
      tempDir,
      ctx,
      context,
      verify,
      refreshUrl,
      listedSize,
      tee,
    );
  } finally {
    // Kept only for an archive that matched its digest: what a later hit will be extracted as.
    const keep = blob !== undefined && !blob.digestMismatch && isZipBlob(url, blob.contentType);
    await tee?.finish(keep);
  }
  return blob;
}

function isZipBlob(url: string, contentType: string | undefined): boolean {
  const mime = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return (
    ['application/zip', 'application/x-zip-compressed', 'application/zip-compressed'].includes(mime) ||
    new URL(url).pathname.toLowerCase().endsWith('.zip')
  );
}

/**
 * Downloads a signed artifact URL to a temporary file, verifies its digest, and only then
 * extracts it (or moves the raw file) into the target, following `spec.conflict`. Shared with
 * the REST (cross-run) path.
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
  const blob = await cachedOrFetched(
    url,
    name,
    expectedHex,
    spec,
    tempDir,
    ctx,
    context,
    refreshUrl,
    listedSize,
  );
  try {
    await spec.beforeWrite?.();
    const conflict = spec.conflict ?? 'overwrite';
    const digest = `sha256:${blob.sha256}`;
    const mismatch =
      blob.digestMismatch && blob.expectedHex !== undefined
        ? { digestMismatch: true, expectedDigest: `sha256:${blob.expectedHex}` }
        : {};
    const target = path.resolve(spec.targetDirectory);
    const mime = (blob.contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    const isZip =
      ['application/zip', 'application/x-zip-compressed', 'application/zip-compressed'].includes(mime) ||
      new URL(url).pathname.toLowerCase().endsWith('.zip');
    if (isZip && !spec.skipDecompress) {
      const endExtract = ctx.stats?.startPhase('extract');
      const result = await extractZip(blob.file, {
        targetDirectory: target,
        existing: conflict,
        symlinks: spec.symlinks ?? 'refuse',
        restoreModes: spec.restoreModes ?? true,
        signal: ctx.operation.signal,
        // Files written at once follow the caller's concurrency, so lowering it bounds descriptors.
        concurrency: ctx.http.slots,
        // Errors name the download and the artifact, not only the entry.
        context,
        ...(spec.limits !== undefined ? { limits: spec.limits } : {}),
      }).finally(endExtract);
      return { downloadPath: target, fileCount: result.files, size: result.bytes, digest, ...mismatch };
    }
    const fileName = fileNameFromDisposition(blob.contentDisposition, isZip ? `${name}.zip` : name);
    await mkdir(target, { recursive: true });
    // Placed relative to the held target: the target swapped for a link since the mkdir cannot
    // redirect the file, and a link at the file's name is replaced (overwrite) or refused, never
    // followed.
    const placed = await placeRawFile(blob, fileName, target, conflict, context);
    return {
      downloadPath: target,
      fileCount: placed ? 1 : 0,
      size: placed ? blob.size : 0,
      digest,
      ...mismatch,
    };
  } finally {
    await blob.dispose();
  }
}
