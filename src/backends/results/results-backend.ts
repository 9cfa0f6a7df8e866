import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { FerryError, IntegrityError, isFerryError, type ErrorContext } from '../../core/errors.js';
import { compareExisting, conflictError, type ConflictPolicy } from '../../pack/conflict.js';
import { HeldTarget } from '../../pack/held-target.js';
import { printable } from '../../pack/validate.js';
import { extractZip } from '../../pack/zip/index.js';
import { createZipStream, type ZipEntryInfo, type ZipInput } from '../../pack/zip-writer/index.js';
import type {
  ArtifactInfo,
  Backend,
  DownloadResult,
  DownloadSpec,
  OperationContext,
  UploadFile,
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
import { sourceChanged } from '../source-changed.js';
import { mimeTypeFor } from './mime.js';
import { Operation } from '../../transport/operation.js';
import { checkSignedUrl } from '../../transport/url-policy.js';
import { listedSize, requireOk, toSafeId, TwirpClient, type TwirpCallOptions } from './twirp.js';

/** How long the clean-up of a failed upload may take (see #abandon). */
const ABANDON_TIMEOUT_MS = 10_000;

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
        replayable: true,
        open: async (onEntry) =>
          archive
            ? createZipStream(zipInputs(spec), {
                level: spec.compressionLevel,
                signal: ctx.operation.signal,
                onEntry: checkListedSizes(spec, onEntry),
                ...(spec.secretScan ? { secretScan: spec.secretScan } : {}),
              })
            : scanned(
                spec,
                exactlyListedSize(
                  single as UploadFile,
                  // One byte past the listed size is enough to see that the file grew.
                  createReadStream((single as UploadFile).absolutePath, {
                    highWaterMark: 1024 * 1024,
                    end: (single as UploadFile).size,
                  }),
                ),
              ),
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
    const { name, contentType } = upload;
    const context: ErrorContext = { operation: 'upload', artifactName: name };
    const twirp = new TwirpClient(ctx.http, this.config);
    if (upload.overwrite) await this.#deleteIfPresent(twirp, name, ctx);

    const signedUrl = await this.#create(twirp, name, contentType, upload.retentionDays, ctx, context);
    try {
      return await this.#transferAndFinalize(upload, signedUrl, twirp, ctx, context);
    } catch (error: unknown) {
      await this.#abandon(twirp, name, ctx, context);
      throw error;
    }
  }

  /**
   * A created artifact that was not finalized is deleted (invariant I3), so the failure leaves
   * nothing behind and a re-run can use the name at once instead of meeting a conflict with its
   * own half upload. A finalized one is left alone: a refused or unheard finalize may still have
   * committed it, and the error already names it. One attempt per call, ten seconds in all,
   * whatever stopped the upload; when it fails, a warning names the artifact as created and not
   * finalized.
   */
  async #abandon(
    twirp: TwirpClient,
    name: string,
    ctx: OperationContext,
    context: ErrorContext,
  ): Promise<void> {
    const cleanup = new Operation('upload', AbortSignal.timeout(ABANDON_TIMEOUT_MS));
    const once = { operation: cleanup, context, firstAttempt: ctx.http.policy.maxAttempts };
    try {
      const listed = await this.#listRaw(twirp, { name_filter: name }, ctx, context, once);
      if (listed.some((a) => a.name === name)) return;
      const outcome = await twirp.callAllowing<DeleteArtifactResponse>(
        'DeleteArtifact',
        { ...this.#ids(), name },
        once,
        [404, 409],
      );
      ctx.logger.debug(
        outcome.status === 'ok'
          ? `Deleted the unfinalized artifact '${name}' after the failed upload`
          : `The failed upload of '${name}' left nothing this job may delete (${outcome.httpStatus})`,
      );
    } catch (error: unknown) {
      ctx.logger.warn(
        `Artifact '${name}' was created but not finalized, and could not be deleted (${
          error instanceof Error ? error.message : String(error)
        }); the service may hold the name until it expires the upload`,
      );
    }
  }

  async #transferAndFinalize(
    upload: PreparedUpload,
    signedUrl: string,
    twirp: TwirpClient,
    ctx: OperationContext,
    context: ErrorContext,
  ): Promise<UploadResult> {
    const { name, contentType, totalOriginal, fileCount } = upload;
    let filesDone = 0;
    const source = await upload.open(() => {
      filesDone++;
    });
    const blob = await uploadBlob(signedUrl, source, {
      http: ctx.http,
      operation: ctx.operation,
      context,
      contentType,
      reopen: upload.replayable ? () => upload.open(() => undefined) : undefined,
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
      signed.refresh,
      signed.listedSize,
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
    return fetchVerifiedBlob(
      signed.url,
      signed.name,
      signed.expectedHex,
      this.tempDir,
      ctx,
      context,
      true,
      signed.refresh,
      signed.listedSize,
    );
  }

  async #signedDownload(
    spec: { name: string; id?: number | undefined },
    ctx: OperationContext,
    context: ErrorContext,
  ): Promise<{
    url: string;
    name: string;
    expectedHex: string | undefined;
    /** A fresh signed URL for the same artifact, for a download whose URL expired. */
    refresh: () => Promise<string>;
    /** The blob's size as ListArtifacts gave it: the download never reads past it. */
    listedSize: number | undefined;
  }> {
    const twirp = new TwirpClient(ctx.http, this.config);
    const artifact = await this.#resolve(twirp, spec, ctx, context);
    const sign = async (): Promise<string> => {
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
        throw new FerryError('ERR_FERRY_PROTOCOL', 'GetSignedArtifactURL returned no signed_url', {
          context,
        });
      return checkSignedUrl(url, this.config.resultsUrl, 'the signed download URL', context);
    };
    return {
      url: await sign(),
      name: artifact.name,
      expectedHex: normalizeDigest(artifact.digest),
      refresh: sign,
      listedSize: listedSize(artifact.size),
    };
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
    return this.#deleteArtifact(twirp, name, ctx, { operation: 'delete', artifactName: name });
  }

  /**
   * DeleteArtifact, reconciled: a network error after the request left may mean the artifact
   * is already gone, so a repeat's "not found" is the success that was not heard, not an error
   * (and not a reason to stop the operation). Attempts and time are counted by the retry policy
   * across the repeats. `missingOk`: "not found" on the first attempt is fine too (overwrite: a
   * concurrent overwrite may have deleted it first; the name is free either way).
   */
  async #deleteArtifact(
    twirp: TwirpClient,
    name: string,
    ctx: OperationContext,
    context: ErrorContext,
    missingOk = false,
  ): Promise<number | undefined> {
    const startedAt = ctx.http.now();
    let lostResponse = false;
    for (let attempt = 1; ; attempt++) {
      try {
        const outcome = await twirp.callAllowing<DeleteArtifactResponse>(
          'DeleteArtifact',
          { ...this.#ids(), name },
          { operation: ctx.operation, context, reconcile: true, firstAttempt: attempt, startedAt },
          lostResponse || missingOk ? [404] : [],
        );
        if (outcome.status === 'refused') {
          ctx.logger.debug(`DeleteArtifact for '${name}': the earlier, unanswered attempt deleted it`);
          return undefined;
        }
        requireOk('DeleteArtifact', outcome.value, context);
        return toSafeId(outcome.value.artifact_id ?? outcome.value.artifactId);
      } catch (error: unknown) {
        if (!isFerryError(error)) throw error;
        // The call may have retried 5xx answers itself: go on counting from its last attempt.
        attempt = Math.max(attempt, error.context.attempt ?? attempt);
        const again = await ctx.http.retryStep(
          { call: 'DeleteArtifact', attempt, startedAt, error },
          ctx.operation.signal,
        );
        if (!again) throw error;
        lostResponse =
          lostResponse || error.code === 'ERR_FERRY_NETWORK' || error.code === 'ERR_FERRY_TIMEOUT';
      }
    }
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
    await this.#deleteArtifact(twirp, name, ctx, { operation: 'upload', artifactName: name }, true);
    ctx.logger.info(`Deleted the existing artifact '${name}' (overwrite)`);
  }

  /**
   * CreateArtifact, reconciled: a network error after the request left may mean the artifact
   * was created. A finalized artifact of the same name is a real conflict; a 409 that only our
   * own lost create caused is cleared by deleting that unfinalized artifact and creating again.
   * Attempts and time are counted by the retry policy across the repeats.
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
    const startedAt = ctx.http.now();
    for (let attempt = 1; ; attempt++) {
      try {
        // 409 comes back as an outcome: after a lost create it is ours to clear, not a failure.
        const outcome = await twirp.callAllowing<CreateArtifactResponse>(
          'CreateArtifact',
          body,
          { operation: ctx.operation, context, reconcile: true, firstAttempt: attempt, startedAt },
          [409],
        );
        if (outcome.status === 'refused') {
          if (!lostResponse) {
            throw new FerryError(
              'ERR_FERRY_CONFLICT',
              `An artifact named '${name}' already exists in this workflow run; use overwrite to replace it` +
                (outcome.message ? ` (CreateArtifact: ${outcome.message})` : ''),
              { context },
            );
          }
          await this.#deleteArtifact(twirp, name, ctx, context);
          lostResponse = false;
          continue;
        }
        const response = outcome.value;
        requireOk('CreateArtifact', response, context);
        const url = response.signed_upload_url ?? response.signedUploadUrl;
        if (!url)
          throw new FerryError('ERR_FERRY_PROTOCOL', 'CreateArtifact returned no signed_upload_url', {
            context,
          });
        return checkSignedUrl(url, this.config.resultsUrl, 'the signed upload URL', context);
      } catch (error: unknown) {
        if (!isFerryError(error) || !error.retryable) throw error;
        attempt = Math.max(attempt, error.context.attempt ?? attempt);
        const again = await ctx.http.retryStep(
          { call: 'CreateArtifact', attempt, startedAt, error },
          ctx.operation.signal,
        );
        if (!again) throw error;
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
      }
    }
  }

  /**
   * FinalizeArtifact, reconciled: when the response is lost, the listing says whether the
   * server committed it (same name and digest), so a retry never finalizes twice or fails a
   * finalize that succeeded. A finalize the service refuses (`ok: false`, 409) after the blob was
   * committed is never taken for success: the error carries the digest, and the id when the
   * service lists the artifact, so the caller can reconcile.
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
    const finalizeContext: ErrorContext = { ...context, digest };
    const startedAt = ctx.http.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const outcome = await twirp.callAllowing<FinalizeArtifactResponse>(
          'FinalizeArtifact',
          body,
          {
            operation: ctx.operation,
            context: finalizeContext,
            reconcile: true,
            firstAttempt: attempt,
            startedAt,
          },
          [409],
        );
        if (outcome.status === 'refused' || outcome.value.ok !== true) {
          throw await this.#finalizeRefused(
            twirp,
            name,
            size,
            digest,
            outcome.status === 'refused'
              ? `HTTP ${outcome.httpStatus}${outcome.message ? `: ${outcome.message}` : ''}`
              : 'ok: false',
            outcome.status === 'refused' ? 'ERR_FERRY_CONFLICT' : 'ERR_FERRY_PROTOCOL',
            ctx,
            finalizeContext,
          );
        }
        return toSafeId(outcome.value.artifact_id ?? outcome.value.artifactId);
      } catch (error: unknown) {
        if (!isFerryError(error) || !error.retryable) throw error;
        attempt = Math.max(attempt, error.context.attempt ?? attempt);
        const again = await ctx.http.retryStep(
          { call: 'FinalizeArtifact', attempt, startedAt, error },
          ctx.operation.signal,
        );
        if (!again) throw error;
        ctx.logger.debug(`FinalizeArtifact for '${name}' lost its response (${error.message}); reconciling`);
        const listed = await this.#listRaw(twirp, { name_filter: name }, ctx, finalizeContext);
        const committed = listed.find(
          (a) => a.name === name && normalizeDigest(a.digest) === normalizeDigest(digest),
        );
        if (committed) return toSafeId(committed.database_id ?? committed.databaseId);
      }
    }
  }

  /** The error for a refused finalize, with what the service lists under the name (P33). */
  async #finalizeRefused(
    twirp: TwirpClient,
    name: string,
    size: number,
    digest: string,
    answer: string,
    code: 'ERR_FERRY_CONFLICT' | 'ERR_FERRY_PROTOCOL',
    ctx: OperationContext,
    context: ErrorContext,
  ): Promise<FerryError> {
    let listed: MonolithArtifact | undefined;
    let lookup = '';
    try {
      const artifacts = await this.#listRaw(twirp, { name_filter: name }, ctx, context);
      listed = artifacts
        .filter((a) => a.name === name)
        .sort(
          (a, b) =>
            (toSafeId(b.database_id ?? b.databaseId) ?? 0) - (toSafeId(a.database_id ?? a.databaseId) ?? 0),
        )[0];
    } catch (error: unknown) {
      lookup = `; listing it to check failed too (${error instanceof Error ? error.message : String(error)})`;
    }
    const id = listed ? toSafeId(listed.database_id ?? listed.databaseId) : undefined;
    const state = listed
      ? normalizeDigest(listed.digest) === normalizeDigest(digest)
        ? `the service lists it as artifact ${id ?? '?'} with this digest, so it may be complete`
        : `the service lists an artifact ${id ?? '?'} of that name with ${listed.digest ? `digest ${listed.digest}` : 'no digest'}`
      : `the service lists no finalized artifact of that name${lookup}`;
    return new FerryError(
      code,
      `FinalizeArtifact refused artifact '${name}' after its ${size} bytes were uploaded (${answer}); ${state}. Check the artifact before uploading it again`,
      { context: { ...context, ...(id !== undefined ? { artifactId: id } : {}) } },
    );
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
    /** Overrides for a call outside the operation (the clean-up of a failed upload). */
    call: Partial<TwirpCallOptions> = {},
  ): Promise<MonolithArtifact[]> {
    const response = await twirp.call<ListArtifactsResponse>(
      'ListArtifacts',
      { ...this.#ids(), ...filter },
      { operation: ctx.operation, context, ...call },
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
    const isZip =
      ['application/zip', 'application/x-zip-compressed', 'application/zip-compressed'].includes(mime) ||
      new URL(url).pathname.toLowerCase().endsWith('.zip');
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

/** Moves a downloaded raw (non-zip, or not extracted) artifact file into `target` under `conflict`. */
async function placeRawFile(
  blob: VerifiedBlob,
  fileName: string,
  target: string,
  conflict: ConflictPolicy,
  context: ErrorContext,
): Promise<boolean> {
  const held = HeldTarget.open(target, { context });
  try {
    const existing = held.lstatEntry(fileName);
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
      held.renameIn(blob.file, fileName);
      placed = true;
    } else if (existing === undefined) {
      // Never replaces a file another writer put there since the lstat.
      placed = await held.linkIn(blob.file, fileName);
    }
    if (!placed && conflict === 'error') {
      const state = await compareExisting(held.entry(fileName), {
        size: blob.size,
        sha256: () => blob.sha256,
      });
      if (state !== 'identical') throw conflictError(fileName, printable(target), context);
    }
    return placed;
  } finally {
    held.close();
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
  /** `open` may be called again for the same bytes (lets the blob upload re-stage after InvalidBlockList). */
  replayable?: boolean;
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
  return {
    name: a.name,
    id: toSafeId(a.database_id ?? a.databaseId),
    // A negative, fractional, NaN or 2^60 size from the service is no size at all.
    size: listedSize(a.size) ?? 0,
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

/** The single file of an `archive: false` upload, searched by the secret scan as it streams. */
/**
 * The file of an `archive: false` upload, failing with ERR_FERRY_SOURCE_CHANGED when it does not
 * hold exactly the bytes it had when listed (the zip path checks each entry the same way), so
 * the blob is never committed nor the artifact finalized.
 */
function exactlyListedSize(file: UploadFile, source: Readable): Readable {
  let seen = 0;
  const changed = (): FerryError =>
    sourceChanged(file, `${seen > file.size ? 'more' : seen} when read`, { file: file.artifactPath });
  const check = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      done(seen > file.size ? changed() : null, chunk);
    },
    flush(done) {
      done(seen === file.size ? null : changed());
    },
  });
  source.once('error', (error) => check.destroy(error));
  return source.pipe(check);
}

function scanned(spec: UploadSpec, source: Readable): Readable {
  const file = spec.files[0];
  return spec.secretScan && file ? spec.secretScan.file(file.artifactPath).stream(source) : source;
}

/**
 * Wraps a zip entry callback: an entry whose size differs from the size the file had when it was
 * listed fails the stream with ERR_FERRY_SOURCE_CHANGED, so the blob is never committed nor the
 * artifact finalized (reliability plan item 14: a file that shrank or grew under the upload).
 */
function checkListedSizes(spec: UploadSpec, next: () => void): (info: ZipEntryInfo) => void {
  const files = spec.files.filter((f) => f.symlinkTarget === undefined);
  const listed = new Map(files.map((f) => [f.artifactPath, f]));
  return (info) => {
    const file = listed.get(info.name);
    if (file !== undefined && file.size !== info.uncompressedSize) {
      throw sourceChanged(file, `${info.uncompressedSize} when read`, { file: file.artifactPath });
    }
    next();
  };
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
