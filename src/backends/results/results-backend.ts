import { createReadStream } from 'node:fs';
import { lstat, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { FerryError, IntegrityError, isFerryError, type ErrorContext } from '../../errors.js';
import { compareExisting, conflictError, placeNoClobber } from '../../pack/conflict.js';
import { printable } from '../../pack/validate.js';
import { extractZip } from '../../pack/zip/index.js';
import { createZipStream, type ZipInput } from '../../pack/zip-writer/index.js';
import type {
  ArtifactInfo,
  Backend,
  DownloadResult,
  DownloadSpec,
  OperationContext,
  UploadResult,
  UploadSpec,
} from '../backend.js';
import { downloadBlob, normalizeDigest, type BlobDownloadResult } from './blob-download.js';
import { uploadBlob } from './blob-upload.js';
import { fileNameFromDisposition } from './content-disposition.js';
import {
  ARTIFACT_VERSION,
  type CreateArtifactResponse,
  type DeleteArtifactResponse,
  type FinalizeArtifactResponse,
  type GetSignedArtifactUrlResponse,
  type ListArtifactsResponse,
  type MonolithArtifact,
  type ResultsConfig,
} from './contracts.js';
import { mimeTypeFor } from './mime.js';
import { requireOk, toSafeId, TwirpClient } from './twirp.js';

const RECONCILE_ATTEMPTS = 5;

/** The results protocol (github.com): Twirp ArtifactService plus signed blob URLs. */
export class ResultsBackend implements Backend {
  readonly kind = 'results' as const;
  constructor(
    readonly config: ResultsConfig,
    readonly tempDir: string,
  ) {}

  async upload(spec: UploadSpec, ctx: OperationContext): Promise<UploadResult> {
    const archive = spec.archive ?? true;
    if (!archive && spec.files.length !== 1) {
      throw new FerryError(
        'ERR_FERRY_INVALID_PATH',
        `Uploading without an archive takes exactly one file; got ${spec.files.length}`,
        {
          context: { operation: 'upload', artifactName: spec.name },
        },
      );
    }
    // Without an archive the artifact is the file itself and carries the file's name, as upload-artifact does.
    const single = spec.files[0];
    const name = archive || !single ? spec.name : path.posix.basename(single.artifactPath);
    return this.#send(
      {
        name,
        contentType: archive || !single ? 'application/zip' : mimeTypeFor(single.artifactPath),
        retentionDays: spec.retentionDays,
        overwrite: spec.overwrite ?? false,
        totalOriginal: sumSizes(spec),
        fileCount: spec.files.length,
        open: async (onEntry) =>
          archive
            ? createZipStream(zipInputs(spec), {
                level: spec.compressionLevel,
                signal: ctx.operation.signal,
                onEntry,
              })
            : createReadStream((single as { absolutePath: string }).absolutePath, {
                highWaterMark: 1024 * 1024,
              }),
      },
      ctx,
    );
  }

  /**
   * Uploads a zip of `inputs` (files, directories, links, and `stream` entries, e.g. entries read
   * straight out of other zips) as artifact `name`, with the same create → blob upload → finalize
   * as {@link upload}. The inputs are validated before anything is created.
   */
  async uploadStream(
    name: string,
    inputs: readonly ZipInput[],
    options: { retentionDays: number | undefined; compressionLevel: number; overwrite?: boolean },
    ctx: OperationContext,
  ): Promise<UploadResult> {
    let totalOriginal = 0;
    let fileCount = 0;
    for (const input of inputs) {
      if (input.kind === 'directory') continue;
      fileCount++;
      if (input.kind === 'stream') totalOriginal += input.size;
      else if (input.kind === 'file') totalOriginal += (await stat(input.sourcePath)).size;
    }
    let onEntryHook: (() => void) | undefined;
    // Built now so that invalid inputs throw before CreateArtifact; nothing is read until consumed.
    const zip = createZipStream(inputs, {
      level: options.compressionLevel,
      signal: ctx.operation.signal,
      onEntry: () => onEntryHook?.(),
    });
    try {
      return await this.#send(
        {
          name,
          contentType: 'application/zip',
          retentionDays: options.retentionDays,
          overwrite: options.overwrite ?? false,
          totalOriginal,
          fileCount,
          open: (onEntry) => {
            onEntryHook = onEntry;
            return Promise.resolve(zip);
          },
        },
        ctx,
      );
    } finally {
      if (!zip.destroyed) zip.destroy();
    }
  }

  /** The shared tail of every upload: (overwrite) → CreateArtifact → blob upload → FinalizeArtifact. */
  async #send(upload: PreparedUpload, ctx: OperationContext): Promise<UploadResult> {
    const { name, contentType, totalOriginal, fileCount } = upload;
    const context: ErrorContext = { operation: 'upload', artifactName: name };
    const twirp = new TwirpClient(ctx.http, this.config);
    if (upload.overwrite) await this.#deleteIfPresent(twirp, name, ctx);

    const signedUrl = await this.#create(twirp, name, contentType, upload.retentionDays, ctx, context);
    let filesDone = 0;
    const source = await upload.open(() => {
      filesDone++;
    });
    const blob = await uploadBlob(signedUrl, source, {
      http: ctx.http,
      operation: ctx.operation,
      context,
      contentType,
      onBytes: (staged) =>
        ctx.onProgress?.({
          operation: 'upload',
          artifactName: name,
          phase: 'transfer',
          bytesDone: Math.min(staged, totalOriginal),
          bytesTotal: totalOriginal,
          filesDone,
          filesTotal: fileCount,
        }),
    });
    ctx.onProgress?.({
      operation: 'upload',
      artifactName: name,
      phase: 'finalize',
      bytesDone: totalOriginal,
      bytesTotal: totalOriginal,
      filesDone: fileCount,
      filesTotal: fileCount,
    });
    const digest = `sha256:${blob.sha256}`;
    if (blob.size === 0) ctx.logger.warn(`Artifact '${name}' is empty: no data was uploaded`);
    const id = await this.#finalize(twirp, name, blob.size, digest, ctx, context);
    return { id, uploadedBytes: blob.size, size: totalOriginal, fileCount, digest };
  }

  async download(spec: DownloadSpec, ctx: OperationContext): Promise<DownloadResult> {
    const context: ErrorContext = { operation: 'download', artifactName: spec.name };
    const signed = await this.#signedDownload(spec, ctx, context);
    return downloadSignedArtifact(
      signed.url,
      signed.name,
      signed.expectedHex,
      spec,
      this.tempDir,
      ctx,
      context,
    );
  }

  /**
   * Downloads artifact `name` (or id `id`, the newest of the name otherwise) to a temporary file
   * and verifies its digest, without extracting it. The caller disposes of the file.
   */
  async downloadVerified(
    spec: { name: string; id?: number | undefined },
    ctx: OperationContext,
  ): Promise<VerifiedBlob> {
    const context: ErrorContext = { operation: 'download', artifactName: spec.name };
    const signed = await this.#signedDownload(spec, ctx, context);
    return fetchVerifiedBlob(signed.url, signed.name, signed.expectedHex, this.tempDir, ctx, context, true);
  }

  async #signedDownload(
    spec: { name: string; id?: number | undefined },
    ctx: OperationContext,
    context: ErrorContext,
  ): Promise<{ url: string; name: string; expectedHex: string | undefined }> {
    const twirp = new TwirpClient(ctx.http, this.config);
    const artifact = await this.#resolve(twirp, spec, ctx, context);
    const signed = await twirp.call<GetSignedArtifactUrlResponse>(
      'GetSignedArtifactURL',
      {
        workflow_run_backend_id:
          artifact.workflow_run_backend_id ??
          artifact.workflowRunBackendId ??
          this.config.ids.workflowRunBackendId,
        workflow_job_run_backend_id:
          artifact.workflow_job_run_backend_id ??
          artifact.workflowJobRunBackendId ??
          this.config.ids.workflowJobRunBackendId,
        name: artifact.name,
      },
      { operation: ctx.operation, context },
    );
    const url = signed.signed_url ?? signed.signedUrl;
    if (!url)
      throw new FerryError('ERR_FERRY_PROTOCOL', 'GetSignedArtifactURL returned no signed_url', { context });
    return { url, name: artifact.name, expectedHex: normalizeDigest(artifact.digest) };
  }

  async list(ctx: OperationContext, options: { latest?: boolean } = {}): Promise<ArtifactInfo[]> {
    const twirp = new TwirpClient(ctx.http, this.config);
    const artifacts = (await this.#listRaw(twirp, {}, ctx, { operation: 'list' })).map(toInfo);
    return options.latest ? latestPerName(artifacts) : artifacts;
  }

  async get(name: string, ctx: OperationContext): Promise<ArtifactInfo> {
    const twirp = new TwirpClient(ctx.http, this.config);
    const found = latestPerName(
      (await this.#listRaw(twirp, { name_filter: name }, ctx, { operation: 'get', artifactName: name })).map(
        toInfo,
      ),
    );
    const artifact = found.find((a) => a.name === name);
    if (!artifact) throw notFound(name, 'get');
    return artifact;
  }

  async delete(name: string, ctx: OperationContext): Promise<number | undefined> {
    const twirp = new TwirpClient(ctx.http, this.config);
    const response = await twirp.call<DeleteArtifactResponse>(
      'DeleteArtifact',
      { ...this.#ids(), name },
      { operation: ctx.operation, context: { operation: 'delete', artifactName: name } },
    );
    requireOk('DeleteArtifact', response, { operation: 'delete', artifactName: name });
    return toSafeId(response.artifact_id ?? response.artifactId);
  }

  #ids(): Record<string, string> {
    return {
      workflow_run_backend_id: this.config.ids.workflowRunBackendId,
      workflow_job_run_backend_id: this.config.ids.workflowJobRunBackendId,
    };
  }

  async #deleteIfPresent(twirp: TwirpClient, name: string, ctx: OperationContext): Promise<void> {
    const existing = await this.#listRaw(twirp, { name_filter: name }, ctx, {
      operation: 'upload',
      artifactName: name,
    });
    if (!existing.some((a) => a.name === name)) return;
    const response = await twirp.call<DeleteArtifactResponse>(
      'DeleteArtifact',
      { ...this.#ids(), name },
      { operation: ctx.operation, context: { operation: 'upload', artifactName: name } },
    );
    requireOk('DeleteArtifact', response, { operation: 'upload', artifactName: name });
    ctx.logger.info(`Deleted the existing artifact '${name}' (overwrite)`);
  }

  /**
   * CreateArtifact, reconciled: a network error after the request left may mean the artifact
   * was created. A finalized artifact of the same name is a real conflict; a 409 that only our
   * own lost create caused is cleared by deleting that unfinalized artifact and creating again.
   */
  async #create(
    twirp: TwirpClient,
    name: string,
    mimeType: string,
    retentionDays: number | undefined,
    ctx: OperationContext,
    context: ErrorContext,
  ): Promise<string> {
    const body = {
      ...this.#ids(),
      name,
      version: ARTIFACT_VERSION,
      mime_type: mimeType,
      ...(retentionDays ? { expires_at: expiresAt(retentionDays) } : {}),
    };
    let lostResponse = false;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await twirp.call<CreateArtifactResponse>('CreateArtifact', body, {
          operation: ctx.operation,
          context,
          reconcile: true,
        });
        requireOk('CreateArtifact', response, context);
        const url = response.signed_upload_url ?? response.signedUploadUrl;
        if (!url)
          throw new FerryError('ERR_FERRY_PROTOCOL', 'CreateArtifact returned no signed_upload_url', {
            context,
          });
        return url;
      } catch (error: unknown) {
        if (!isFerryError(error)) throw error;
        if (error.code === 'ERR_FERRY_CONFLICT') {
          if (!lostResponse) {
            throw new FerryError(
              'ERR_FERRY_CONFLICT',
              `An artifact named '${name}' already exists in this workflow run; use overwrite to replace it`,
              {
                cause: error,
                context,
              },
            );
          }
          await twirp.call<DeleteArtifactResponse>(
            'DeleteArtifact',
            { ...this.#ids(), name },
            { operation: ctx.operation, context },
          );
          lostResponse = false;
          continue;
        }
        if (!error.retryable || attempt >= RECONCILE_ATTEMPTS) throw error;
        ctx.logger.debug(`CreateArtifact for '${name}' lost its response (${error.message}); reconciling`);
        const finalized = await this.#listRaw(twirp, { name_filter: name }, ctx, context);
        if (finalized.some((a) => a.name === name)) {
          throw new FerryError(
            'ERR_FERRY_CONFLICT',
            `An artifact named '${name}' already exists in this workflow run`,
            { cause: error, context },
          );
        }
        lostResponse = true;
        await ctx.http.pause(attempt, ctx.operation.signal);
      }
    }
  }

  /**
   * FinalizeArtifact, reconciled: when the response is lost, the listing says whether the
   * server committed it (same name and digest), so a retry never finalizes twice or fails a
   * finalize that succeeded.
   */
  async #finalize(
    twirp: TwirpClient,
    name: string,
    size: number,
    digest: string,
    ctx: OperationContext,
    context: ErrorContext,
  ): Promise<number | undefined> {
    const body = { ...this.#ids(), name, size: String(size), hash: digest };
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await twirp.call<FinalizeArtifactResponse>('FinalizeArtifact', body, {
          operation: ctx.operation,
          context,
          reconcile: true,
        });
        requireOk('FinalizeArtifact', response, context);
        return toSafeId(response.artifact_id ?? response.artifactId);
      } catch (error: unknown) {
        if (!isFerryError(error) || !error.retryable || attempt >= RECONCILE_ATTEMPTS) throw error;
        ctx.logger.debug(`FinalizeArtifact for '${name}' lost its response (${error.message}); reconciling`);
        const listed = await this.#listRaw(twirp, { name_filter: name }, ctx, context);
        const committed = listed.find(
          (a) => a.name === name && normalizeDigest(a.digest) === normalizeDigest(digest),
        );
        if (committed) return toSafeId(committed.database_id ?? committed.databaseId);
        await ctx.http.pause(attempt, ctx.operation.signal);
      }
    }
  }

  async #resolve(
    twirp: TwirpClient,
    spec: { name: string; id?: number | undefined },
    ctx: OperationContext,
    context: ErrorContext,
  ): Promise<MonolithArtifact> {
    const filter = spec.id !== undefined ? { id_filter: String(spec.id) } : { name_filter: spec.name };
    const listed = await this.#listRaw(twirp, filter, ctx, context);
    const matching =
      spec.id !== undefined
        ? listed.filter((a) => toSafeId(a.database_id ?? a.databaseId) === spec.id)
        : listed.filter((a) => a.name === spec.name);
    // Re-runs leave several artifacts with one name; the newest (highest id) is the one meant.
    const newest = matching.sort(
      (a, b) =>
        (toSafeId(b.database_id ?? b.databaseId) ?? 0) - (toSafeId(a.database_id ?? a.databaseId) ?? 0),
    )[0];
    if (!newest) throw notFound(spec.id !== undefined ? `#${spec.id}` : spec.name, 'download');
    return newest;
  }

  async #listRaw(
    twirp: TwirpClient,
    filter: Record<string, string>,
    ctx: OperationContext,
    context: ErrorContext,
  ): Promise<MonolithArtifact[]> {
    const response = await twirp.call<ListArtifactsResponse>(
      'ListArtifacts',
      { ...this.#ids(), ...filter },
      { operation: ctx.operation, context },
    );
    return Array.isArray(response.artifacts) ? response.artifacts : [];
  }
}

/** A downloaded artifact blob in a temporary directory, its digest checked. */
export interface VerifiedBlob extends BlobDownloadResult {
  /** The temporary file holding the bytes. */
  file: string;
  /** Only when verification was off: the bytes do not hash to the listed digest. */
  digestMismatch: boolean;
  /** The listed digest (hex), when the service listed one. */
  expectedHex: string | undefined;
  /** Removes the temporary directory; safe to call more than once. */
  dispose(): Promise<void>;
}

/**
 * Downloads a signed URL to a fresh temporary directory under `tempDir` and checks the SHA-256
 * against `expectedHex`: a mismatch throws `IntegrityError` (`ERR_FERRY_INTEGRITY`) and removes
 * the file, unless `verify` is false, which reports it as `digestMismatch` instead.
 */
export async function fetchVerifiedBlob(
  url: string,
  name: string,
  expectedHex: string | undefined,
  tempDir: string,
  ctx: OperationContext,
  context: ErrorContext,
  verify: boolean,
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
      onBytes: (received) =>
        ctx.onProgress?.({
          operation: 'download',
          artifactName: name,
          phase: 'transfer',
          bytesDone: received,
          bytesTotal: undefined,
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
    return { ...blob, file, digestMismatch, expectedHex, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
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
): Promise<DownloadResult> {
  const blob = await fetchVerifiedBlob(
    url,
    name,
    expectedHex,
    tempDir,
    ctx,
    context,
    spec.verifyDigest ?? true,
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
      const result = await extractZip(blob.file, {
        targetDirectory: target,
        existing: conflict,
        symlinks: spec.symlinks ?? 'refuse',
        signal: ctx.operation.signal,
      });
      return { downloadPath: target, fileCount: result.files, size: result.bytes, digest, ...mismatch };
    }
    const fileName = fileNameFromDisposition(blob.contentDisposition, isZip ? `${name}.zip` : name);
    await mkdir(target, { recursive: true });
    const destination = path.join(target, fileName);
    const existing = await lstat(destination).catch(() => undefined);
    if (existing?.isDirectory()) {
      throw new FerryError(
        'ERR_FERRY_INVALID_PATH',
        `Cannot save '${fileName}': a directory of that name exists in ${target}`,
        { context },
      );
    }
    let placed = false;
    if (conflict === 'overwrite') {
      // rename replaces a symlink at the destination instead of writing through it.
      await rename(blob.file, destination);
      placed = true;
    } else if (existing === undefined) {
      // Never replaces a file another writer put there since the lstat.
      placed = await placeNoClobber(blob.file, destination);
    }
    if (!placed && conflict === 'error') {
      const state = await compareExisting(destination, { size: blob.size, sha256: () => blob.sha256 });
      if (state !== 'identical') throw conflictError(fileName, printable(target), context);
    }
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

interface PreparedUpload {
  name: string;
  contentType: string;
  retentionDays: number | undefined;
  overwrite: boolean;
  /** Sum of the original sizes, for progress and the result. */
  totalOriginal: number;
  fileCount: number;
  /** Opens the bytes to upload (after CreateArtifact); `onEntry` counts finished files for progress. */
  open: (onEntry: () => void) => Promise<Readable>;
}

function notFound(what: string, operation: string): FerryError {
  return new FerryError(
    'ERR_FERRY_NOT_FOUND',
    `No artifact ${what.startsWith('#') ? what : `named '${what}'`} in this workflow run`,
    {
      context: { operation, artifactName: what },
    },
  );
}

function toInfo(a: MonolithArtifact): ArtifactInfo {
  const size = Number(a.size ?? 0);
  return {
    name: a.name,
    id: toSafeId(a.database_id ?? a.databaseId),
    size: Number.isFinite(size) ? size : 0,
    createdAt: a.created_at ?? a.createdAt,
    digest: a.digest,
  };
}

export function latestPerName(artifacts: ArtifactInfo[]): ArtifactInfo[] {
  const byName = new Map<string, ArtifactInfo>();
  for (const a of artifacts) {
    const current = byName.get(a.name);
    if (!current || (a.id ?? 0) > (current.id ?? 0)) byName.set(a.name, a);
  }
  return [...byName.values()];
}

function expiresAt(days: number): string {
  return new Date(Date.now() + days * 24 * 3600 * 1000).toISOString();
}

function sumSizes(spec: UploadSpec): number {
  return spec.files.reduce((total, f) => total + f.size, 0);
}

/** The mode written to the zip: the file's own, or the conventional 0644/0755 when asked to normalise. */
function storedMode(mode: number, spec: UploadSpec): number {
  if (spec.preservePermissions ?? true) return mode & 0o777;
  return mode & 0o111 ? 0o755 : 0o644;
}

function zipInputs(spec: UploadSpec): ZipInput[] {
  const inputs: ZipInput[] = spec.files.map((file) =>
    file.symlinkTarget !== undefined
      ? { kind: 'symlink', name: file.artifactPath, target: file.symlinkTarget }
      : {
          kind: 'file',
          sourcePath: file.absolutePath,
          name: file.artifactPath,
          mode: storedMode(file.mode, spec),
        },
  );
  for (const dir of spec.emptyDirectories ?? []) inputs.push({ kind: 'directory', name: dir });
  return inputs;
}
