import { createReadStream } from 'node:fs';
import { lstat, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { FerryError, IntegrityError, isFerryError, type ErrorContext } from '../../errors.js';
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
import { downloadBlob, normalizeDigest } from './blob-download.js';
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
    const context: ErrorContext = { operation: 'upload', artifactName: name };
    const twirp = new TwirpClient(ctx.http, this.config);
    if (spec.overwrite) await this.#deleteIfPresent(twirp, name, ctx);

    const contentType = archive || !single ? 'application/zip' : mimeTypeFor(single.artifactPath);
    const signedUrl = await this.#create(twirp, name, contentType, spec.retentionDays, ctx, context);
    const totalOriginal = await sumSizes(spec);
    let filesDone = 0;
    const source = archive
      ? createZipStream(await zipInputs(spec), {
          level: spec.compressionLevel,
          signal: ctx.operation.signal,
          onEntry: () => {
            filesDone++;
          },
        })
      : createReadStream((single as { absolutePath: string }).absolutePath, { highWaterMark: 1024 * 1024 });
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
          filesTotal: spec.files.length,
        }),
    });
    ctx.onProgress?.({
      operation: 'upload',
      artifactName: name,
      phase: 'finalize',
      bytesDone: totalOriginal,
      bytesTotal: totalOriginal,
      filesDone: spec.files.length,
      filesTotal: spec.files.length,
    });
    const digest = `sha256:${blob.sha256}`;
    if (blob.size === 0) ctx.logger.warn(`Artifact '${name}' is empty: no data was uploaded`);
    const id = await this.#finalize(twirp, name, blob.size, digest, ctx, context);
    return { id, uploadedBytes: blob.size, size: totalOriginal, fileCount: spec.files.length, digest };
  }

  async download(spec: DownloadSpec, ctx: OperationContext): Promise<DownloadResult> {
    const context: ErrorContext = { operation: 'download', artifactName: spec.name };
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
    return downloadSignedArtifact(
      url,
      artifact.name,
      normalizeDigest(artifact.digest),
      spec,
      this.tempDir,
      ctx,
      context,
    );
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
    spec: DownloadSpec,
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

/**
 * Downloads a signed artifact URL to a temporary file, verifies its digest, and only then
 * extracts it (or moves the raw file) into the target. Shared with the REST (cross-run) path.
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
  await mkdir(tempDir, { recursive: true });
  const work = await mkdtemp(path.join(tempDir, 'ferry-download-'));
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
    if (expectedHex !== undefined && blob.sha256 !== expectedHex) {
      throw new IntegrityError(
        'ERR_FERRY_INTEGRITY',
        `Digest mismatch for artifact '${name}': the service listed sha256:${expectedHex} but the download hashes to sha256:${blob.sha256}; nothing was written`,
        { context },
      );
    }
    const target = path.resolve(spec.targetDirectory);
    const mime = (blob.contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    const isZip =
      ['application/zip', 'application/x-zip-compressed', 'application/zip-compressed'].includes(mime) ||
      new URL(url).pathname.toLowerCase().endsWith('.zip');
    if (isZip && !spec.skipDecompress) {
      const result = await extractZip(file, { targetDirectory: target, signal: ctx.operation.signal });
      return {
        downloadPath: target,
        fileCount: result.files,
        size: result.bytes,
        digest: `sha256:${blob.sha256}`,
      };
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
    // rename replaces a symlink at the destination instead of writing through it.
    await rename(file, destination);
    return { downloadPath: target, fileCount: 1, size: blob.size, digest: `sha256:${blob.sha256}` };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
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

async function sumSizes(spec: UploadSpec): Promise<number> {
  let total = 0;
  for (const f of spec.files) total += (await stat(f.absolutePath)).size;
  return total;
}

async function zipInputs(spec: UploadSpec): Promise<ZipInput[]> {
  const inputs: ZipInput[] = [];
  for (const file of spec.files) {
    const info = await stat(file.absolutePath);
    inputs.push({
      kind: 'file',
      sourcePath: file.absolutePath,
      name: file.artifactPath,
      mode: info.mode & 0o777,
    });
  }
  for (const dir of spec.emptyDirectories ?? []) inputs.push({ kind: 'directory', name: dir });
  return inputs;
}
