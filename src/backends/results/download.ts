import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ErrorContext } from '../../core/errors.js';
import { extractZip } from '../../pack/zip/index.js';
import type { DownloadResult, DownloadSpec, OperationContext, VerifiedBlob } from '../backend.js';
import { downloadBlob } from './blob-download.js';
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
    const blob = await downloadBlob(url, file, {
      http: ctx.http,
      operation: ctx.operation,
      context,
      // Verified downloads get one re-download on a mismatch (transit damage) and a fresh URL on a 403.
      expectedSha256: verify ? expectedHex : undefined,
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
 * Downloads a signed artifact URL in one pass (issue 12): the bytes go from the socket through
 * SHA-256 and, for a zip, a streaming zip reader that stages each entry in a hidden directory in
 * the target; nothing is read back from disk, and nothing becomes visible until the digest
 * matched. A zip the streaming reader cannot follow (local headers that disagree with the central
 * directory, stored entries with data descriptors, ...) is downloaded again the old way. Shared
 * with the REST (cross-run) path.
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
  const verify = spec.verifyDigest ?? true;
  const conflict = spec.conflict ?? 'overwrite';
  const target = path.resolve(spec.targetDirectory);
  let contentType: string | undefined;
  const sink = new OnePassSink(
    (type) => {
      contentType = type;
      return !spec.skipDecompress && isZipResponse(url, mimeOf(type));
    },
    {
      targetDirectory: target,
      existing: conflict,
      symlinks: spec.symlinks ?? 'refuse',
      restoreModes: spec.restoreModes ?? true,
      ...(ctx.operation.signal !== undefined ? { signal: ctx.operation.signal } : {}),
      concurrency: ctx.http.slots,
      context,
      ...(spec.limits !== undefined ? { limits: spec.limits } : {}),
    },
    context,
  );
  try {
    const blob = await downloadBlob(url, sink, {
      http: ctx.http,
      operation: ctx.operation,
      context,
      expectedSha256: verify ? expectedHex : undefined,
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
    });
    const digestMismatch = expectedHex !== undefined && blob.sha256 !== expectedHex;
    if (digestMismatch && verify) {
      throw new IntegrityError(
        'ERR_FERRY_INTEGRITY',
        `Digest mismatch for artifact '${name}': the service listed sha256:${expectedHex} but the download hashes to sha256:${blob.sha256}; nothing was written`,
        { context },
      );
    }
    if (digestMismatch) {
      ctx.logger.debug(
        `Digest mismatch for artifact '${name}' (listed sha256:${expectedHex}, downloaded sha256:${blob.sha256}); verification is off`,
      );
    }
    if (sink.notStreamable !== undefined) throw sink.notStreamable;
    await spec.beforeWrite?.();
    const digest = `sha256:${blob.sha256}`;
    const mismatch = digestMismatch ? { digestMismatch: true, expectedDigest: `sha256:${expectedHex}` } : {};
    if (sink.extraction !== undefined) {
      const result = await sink.extraction.materialize();
      return { downloadPath: target, fileCount: result.files, size: result.bytes, digest, ...mismatch };
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
  } catch (error) {
    if (!(error instanceof NotStreamableError)) throw error;
    await sink.dispose();
    ctx.logger.debug(
      `Artifact '${name}' cannot be extracted while it downloads (${error.message}); downloading it to a temporary file and extracting from there`,
    );
    return downloadViaTempFile(url, name, expectedHex, spec, tempDir, ctx, context, refreshUrl, listedSize);
  } finally {
    await sink.dispose();
  }
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

/**
 * The fallback for archives that cannot be read front to back: downloads to a temporary file,
 * verifies its digest, and only then extracts it from its end (or moves the raw file) into the
 * target, following `spec.conflict`.
 */
async function downloadViaTempFile(
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
  const blob = await fetchVerifiedBlob(
    url,
    name,
    expectedHex,
    tempDir,
    ctx,
    context,
    spec.verifyDigest ?? true,
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
    const isZip = isZipResponse(url, mime);
    if (isZip && !spec.skipDecompress) {
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
      });
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
