import { FerryError, type ErrorContext } from '../../core/errors.js';
import type {
  ArtifactInfo,
  Backend,
  DownloadResult,
  DownloadSpec,
  OperationContext,
  UploadResult,
  UploadSpec,
} from '../backend.js';
import { latestPerName } from '../latest-per-name.js';
import { normalizeDigest } from '../results/blob-download.js';
import { downloadSignedArtifact } from '../results/download.js';
import {
  deleteRunArtifact,
  findRunArtifact,
  listRunArtifacts,
  signedRunArtifact,
  type FindBy,
  type FindByRun,
} from './artifact-service.js';
import { resolveFindByRun } from './latest-run.js';

/**
 * Another run's (or repository's) artifacts through the public REST API, with a token
 * (`findBy`). Read and delete only: artifacts are uploaded by the run that owns them.
 */
export class RestBackend implements Backend {
  readonly kind = 'rest' as const;
  /** The run once known: given as runId, or found by the selectors at the first call. */
  #run: FindByRun | undefined;

  constructor(
    readonly findBy: FindBy,
    readonly tempDir: string,
  ) {
    if (findBy.runId !== undefined) this.#run = findBy as FindByRun;
  }

  /**
   * The run every call of this operation uses: with selectors (workflow, branch, ...), the newest
   * matching run that has `name` (any matching run when no name is known yet), found once, so a
   * batch reads all its artifacts from one run.
   */
  async #resolve(name: string | undefined, ctx: OperationContext): Promise<FindByRun> {
    this.#run ??= await resolveFindByRun(this.findBy, name, ctx);
    return this.#run;
  }

  upload(spec: UploadSpec): Promise<UploadResult> {
    return Promise.reject(
      new FerryError(
        'ERR_FERRY_CONFIG',
        `Cannot upload '${spec.name}' with findBy: the REST API reads and deletes another run's artifacts; uploads go to the current run`,
        { context: { operation: 'upload', artifactName: spec.name } },
      ),
    );
  }

  /** id or newest of `name` → 302 to a signed URL → verify → extract. */
  async download(spec: DownloadSpec, ctx: OperationContext): Promise<DownloadResult> {
    const context: ErrorContext = { operation: 'download', artifactName: spec.name };
    const { artifact, url } = await signedRunArtifact(
      await this.#resolve(spec.id === undefined ? spec.name : undefined, ctx),
      spec,
      ctx,
      context,
    );
    // The signed URL is fetched without the token: credentials stay with the API host.
    return downloadSignedArtifact(
      url,
      artifact.name,
      normalizeDigest(artifact.digest),
      spec,
      this.tempDir,
      ctx,
      context,
      undefined,
      // size_in_bytes is the zip's size; 0 may mean "not known", so it bounds nothing.
      artifact.size > 0 ? artifact.size : undefined,
    );
  }

  async list(ctx: OperationContext, options: { latest?: boolean } = {}): Promise<ArtifactInfo[]> {
    const all = await listRunArtifacts(await this.#resolve(undefined, ctx), ctx);
    return options.latest ? latestPerName(all) : all;
  }

  async get(name: string, ctx: OperationContext): Promise<ArtifactInfo> {
    return findRunArtifact(await this.#resolve(name, ctx), name, ctx, 'get');
  }

  async delete(name: string, ctx: OperationContext): Promise<number | undefined> {
    return deleteRunArtifact(await this.#resolve(name, ctx), name, ctx);
  }
}
