import { FerryError, type ErrorContext } from '../../core/errors.js';
import { Operation } from '../../transport/operation.js';
import { reconciledStep } from '../../transport/reconciled-step.js';
import { checkSignedUrl } from '../../transport/url-policy.js';
import type { ArtifactInfo, OperationContext } from '../backend.js';
import { normalizeDigest } from './blob-download.js';
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
import { listedSize, requireOk, toSafeId, TwirpClient, type TwirpCallOptions } from './twirp.js';

/** How long the clean-up of a failed upload may take (see abandon). */
const ABANDON_TIMEOUT_MS = 10_000;

/** A signed download URL for one resolved artifact, with what the download needs to check it. */
export interface SignedDownload {
  url: string;
  name: string;
  expectedHex: string | undefined;
  /** A fresh signed URL for the same artifact, for a download whose URL expired. */
  refresh: () => Promise<string>;
  /** The blob's size as ListArtifacts gave it: the download never reads past it. */
  listedSize: number | undefined;
}

/**
 * The Twirp ArtifactService calls of one operation: list, resolve, create, finalize, delete and
 * sign, with the reconcile-then-repeat steps that make create, finalize and delete safe to retry.
 */
export class ArtifactService {
  readonly #config: ResultsConfig;
  readonly #ctx: OperationContext;
  readonly #twirp: TwirpClient;

  constructor(config: ResultsConfig, ctx: OperationContext) {
    this.#config = config;
    this.#ctx = ctx;
    this.#twirp = new TwirpClient(ctx.http, config);
  }

  /**
   * A created artifact that was not finalized is deleted (invariant I3), so the failure leaves
   * nothing behind and a re-run can use the name at once instead of meeting a conflict with its
   * own half upload. A finalized one is left alone: a refused or unheard finalize may still have
   * committed it, and the error already names it. One attempt per call, ten seconds in all,
   * whatever stopped the upload; when it fails, a warning names the artifact as created and not
   * finalized.
   */
  async abandon(name: string, context: ErrorContext): Promise<void> {
    const cleanup = new Operation('upload', AbortSignal.timeout(ABANDON_TIMEOUT_MS));
    // Each call gets one attempt: the budget starts at the policy's last.
    const once = (): TwirpCallOptions => ({
      operation: cleanup,
      context,
      budget: this.#ctx.http.retrier.singleAttempt(),
    });
    try {
      const listed = await this.list({ name_filter: name }, context, once());
      if (listed.some((a) => a.name === name)) return;
      const outcome = await this.#twirp.callAllowing<DeleteArtifactResponse>(
        'DeleteArtifact',
        { ...this.#ids(), name },
        once(),
        [404, 409],
      );
      this.#ctx.logger.debug(
        outcome.status === 'ok'
          ? `Deleted the unfinalized artifact '${name}' after the failed upload`
          : `The failed upload of '${name}' left nothing this job may delete (${outcome.httpStatus})`,
      );
    } catch (error: unknown) {
      this.#ctx.logger.warn(
        `Artifact '${name}' was created but not finalized, and could not be deleted (${
          error instanceof Error ? error.message : String(error)
        }); the service may hold the name until it expires the upload`,
      );
    }
  }

  /** Resolves the artifact and signs a download URL for it (and again through `refresh`). */
  async signedDownload(
    spec: { name: string; id?: number | undefined },
    context: ErrorContext,
  ): Promise<SignedDownload> {
    const artifact = await this.resolve(spec, context);
    const sign = (): Promise<string> => this.#sign(artifact, context);
    return {
      url: await sign(),
      name: artifact.name,
      expectedHex: normalizeDigest(artifact.digest),
      refresh: sign,
      listedSize: listedSize(artifact.size),
    };
  }

  /**
   * DeleteArtifact, reconciled: a network error after the request left may mean the artifact
   * is already gone, so a repeat's "not found" is the success that was not heard, not an error
   * (and not a reason to stop the operation). Attempts and time are counted by the retry policy
   * across the repeats. `missingOk`: "not found" on the first attempt is fine too (overwrite: a
   * concurrent overwrite may have deleted it first; the name is free either way).
   */
  async delete(name: string, context: ErrorContext, missingOk = false): Promise<number | undefined> {
    let lostResponse = false;
    return reconciledStep(this.#ctx.http.retrier, {
      call: 'DeleteArtifact',
      signal: this.#ctx.operation.signal,
      attempt: async (budget) => {
        const outcome = await this.#twirp.callAllowing<DeleteArtifactResponse>(
          'DeleteArtifact',
          { ...this.#ids(), name },
          { operation: this.#ctx.operation, context, reconcile: true, budget },
          lostResponse || missingOk ? [404] : [],
        );
        if (outcome.status === 'refused') {
          this.#ctx.logger.debug(`DeleteArtifact for '${name}': the earlier, unanswered attempt deleted it`);
          return undefined;
        }
        requireOk('DeleteArtifact', outcome.value, context);
        return toSafeId(outcome.value.artifact_id ?? outcome.value.artifactId);
      },
      // Nothing to ask: after a lost answer, the repeat's "not found" is the success.
      reconcile: (error) => {
        lostResponse =
          lostResponse || error.code === 'ERR_FERRY_NETWORK' || error.code === 'ERR_FERRY_TIMEOUT';
        return Promise.resolve(undefined);
      },
    });
  }

  #ids(): Record<string, string> {
    return {
      workflow_run_backend_id: this.#config.ids.workflowRunBackendId,
      workflow_job_run_backend_id: this.#config.ids.workflowJobRunBackendId,
    };
  }

  /** Overwrite: deletes the artifact of this name when there is one. */
  async deleteIfPresent(name: string): Promise<void> {
    const existing = await this.list(
      { name_filter: name },
      {
        operation: 'upload',
        artifactName: name,
      },
    );
    if (!existing.some((a) => a.name === name)) return;
    await this.delete(name, { operation: 'upload', artifactName: name }, true);
    this.#ctx.logger.info(`Deleted the existing artifact '${name}' (overwrite)`);
  }

  /**
   * CreateArtifact, reconciled: a network error after the request left may mean the artifact
   * was created. A finalized artifact of the same name is a real conflict; a 409 that only our
   * own lost create caused is cleared by deleting that unfinalized artifact and creating again.
   * Attempts and time are counted by the retry policy across the repeats.
   */
  async create(
    name: string,
    mimeType: string,
    retentionDays: number | undefined,
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
    return reconciledStep(this.#ctx.http.retrier, {
      call: 'CreateArtifact',
      signal: this.#ctx.operation.signal,
      attempt: async (budget) => {
        for (;;) {
          // 409 comes back as an outcome: after a lost create it is ours to clear, not a failure.
          const outcome = await this.#twirp.callAllowing<CreateArtifactResponse>(
            'CreateArtifact',
            body,
            { operation: this.#ctx.operation, context, reconcile: true, budget },
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
            // Our own unanswered create holds the name: clear it and create again, as the next attempt.
            await this.delete(name, context);
            lostResponse = false;
            budget.attempt++;
            continue;
          }
          const response = outcome.value;
          requireOk('CreateArtifact', response, context);
          const url = response.signed_upload_url ?? response.signedUploadUrl;
          if (!url)
            throw new FerryError('ERR_FERRY_PROTOCOL', 'CreateArtifact returned no signed_upload_url', {
              context,
            });
          return checkSignedUrl(url, this.#config.resultsUrl, 'the signed upload URL', context);
        }
      },
      reconcile: async (error) => {
        this.#ctx.logger.debug(
          `CreateArtifact for '${name}' lost its response (${error.message}); reconciling`,
        );
        const finalized = await this.list({ name_filter: name }, context);
        if (finalized.some((a) => a.name === name)) {
          throw new FerryError(
            'ERR_FERRY_CONFLICT',
            `An artifact named '${name}' already exists in this workflow run`,
            { cause: error, context },
          );
        }
        lostResponse = true;
        return undefined;
      },
    });
  }

  /**
   * FinalizeArtifact, reconciled: when the response is lost, the listing says whether the
   * server committed it (same name and digest), so a retry never finalizes twice or fails a
   * finalize that succeeded. A finalize the service refuses (`ok: false`, 409) after the blob was
   * committed is never taken for success: the error carries the digest, and the id when the
   * service lists the artifact, so the caller can reconcile.
   */
  async finalize(
    name: string,
    size: number,
    digest: string,
    context: ErrorContext,
  ): Promise<number | undefined> {
    const body = { ...this.#ids(), name, size: String(size), hash: digest };
    const finalizeContext: ErrorContext = { ...context, digest };
    return reconciledStep<number | undefined>(this.#ctx.http.retrier, {
      call: 'FinalizeArtifact',
      signal: this.#ctx.operation.signal,
      attempt: async (budget) => {
        const outcome = await this.#twirp.callAllowing<FinalizeArtifactResponse>(
          'FinalizeArtifact',
          body,
          { operation: this.#ctx.operation, context: finalizeContext, reconcile: true, budget },
          [409],
        );
        if (outcome.status === 'refused' || outcome.value.ok !== true) {
          throw await this.#finalizeRefused(
            name,
            size,
            digest,
            outcome.status === 'refused'
              ? `HTTP ${outcome.httpStatus}${outcome.message ? `: ${outcome.message}` : ''}`
              : 'ok: false',
            outcome.status === 'refused' ? 'ERR_FERRY_CONFLICT' : 'ERR_FERRY_PROTOCOL',
            finalizeContext,
          );
        }
        return toSafeId(outcome.value.artifact_id ?? outcome.value.artifactId);
      },
      reconcile: async (error) => {
        this.#ctx.logger.debug(
          `FinalizeArtifact for '${name}' lost its response (${error.message}); reconciling`,
        );
        const listed = await this.list({ name_filter: name }, finalizeContext);
        const committed = listed.find(
          (a) => a.name === name && normalizeDigest(a.digest) === normalizeDigest(digest),
        );
        return committed ? { done: toSafeId(committed.database_id ?? committed.databaseId) } : undefined;
      },
    });
  }

  /** The error for a refused finalize, with what the service lists under the name (P33). */
  async #finalizeRefused(
    name: string,
    size: number,
    digest: string,
    answer: string,
    code: 'ERR_FERRY_CONFLICT' | 'ERR_FERRY_PROTOCOL',
    context: ErrorContext,
  ): Promise<FerryError> {
    let listed: MonolithArtifact | undefined;
    let lookup = '';
    try {
      const artifacts = await this.list({ name_filter: name }, context);
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

  /** The artifact `spec` names: by id, or the newest of the name. */
  async resolve(
    spec: { name: string; id?: number | undefined },
    context: ErrorContext,
  ): Promise<MonolithArtifact> {
    const filter = spec.id !== undefined ? { id_filter: String(spec.id) } : { name_filter: spec.name };
    const listed = await this.list(filter, context);
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

  /** GetSignedArtifactURL for a listed artifact, the URL checked against the service's origin. */
  async #sign(artifact: MonolithArtifact, context: ErrorContext): Promise<string> {
    const signed = await this.#twirp.call<GetSignedArtifactUrlResponse>(
      'GetSignedArtifactURL',
      {
        workflow_run_backend_id:
          artifact.workflow_run_backend_id ??
          artifact.workflowRunBackendId ??
          this.#config.ids.workflowRunBackendId,
        workflow_job_run_backend_id:
          artifact.workflow_job_run_backend_id ??
          artifact.workflowJobRunBackendId ??
          this.#config.ids.workflowJobRunBackendId,
        name: artifact.name,
      },
      { operation: this.#ctx.operation, context },
    );
    const url = signed.signed_url ?? signed.signedUrl;
    if (!url)
      throw new FerryError('ERR_FERRY_PROTOCOL', 'GetSignedArtifactURL returned no signed_url', {
        context,
      });
    return checkSignedUrl(url, this.#config.resultsUrl, 'the signed download URL', context);
  }

  /**
   * The origin of the storage host, which only a signed URL names: the signed URL of the run's
   * first artifact, or undefined when the run has none yet (doctor probes it; never guessed).
   */
  async storageOrigin(context: ErrorContext): Promise<string | undefined> {
    const first = (await this.list({}, context))[0];
    return first ? new URL(await this.#sign(first, context)).origin : undefined;
  }

  /** ListArtifacts in this run's backend ids, narrowed by `filter` (name_filter, id_filter). */
  async list(
    filter: Record<string, string>,
    context: ErrorContext,
    /** Overrides for a call outside the operation (the clean-up of a failed upload). */
    call: Partial<TwirpCallOptions> = {},
  ): Promise<MonolithArtifact[]> {
    const response = await this.#twirp.call<ListArtifactsResponse>(
      'ListArtifacts',
      { ...this.#ids(), ...filter },
      { operation: this.#ctx.operation, context, ...call },
    );
    return Array.isArray(response.artifacts) ? response.artifacts : [];
  }
}

export function notFound(what: string, operation: string): FerryError {
  return new FerryError(
    'ERR_FERRY_NOT_FOUND',
    `No artifact ${what.startsWith('#') ? what : `named '${what}'`} in this workflow run`,
    {
      context: { operation, artifactName: what },
    },
  );
}

export function toInfo(a: MonolithArtifact): ArtifactInfo {
  return {
    name: a.name,
    id: toSafeId(a.database_id ?? a.databaseId),
    // A negative, fractional, NaN or 2^60 size from the service is no size at all.
    size: listedSize(a.size) ?? 0,
    createdAt: a.created_at ?? a.createdAt,
    digest: a.digest,
  };
}

function expiresAt(days: number): string {
  return new Date(Date.now() + days * 24 * 3600 * 1000).toISOString();
}
