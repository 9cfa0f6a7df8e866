import { FerryError } from '../../core/errors.js';
import { printable } from '../../pack/validate.js';
import { discardBody, readJson } from '../../transport/body.js';
import type {
  ArtifactInfo,
  Backend,
  DownloadResult,
  DownloadSpec,
  OperationContext,
  UploadResult,
  UploadSpec,
} from '../backend.js';
import type { ArtifactResponse, LegacyConfig, ListArtifactsResponse } from './contracts.js';
import { downloadLegacy } from './download.js';
import { uploadLegacy } from './upload.js';
import { artifactsUrl, jsonHeaders } from './urls.js';

/** The pipelines file-container protocol: GHES, Gitea, Forgejo, act, and `ferry serve`. */
export class LegacyBackend implements Backend {
  readonly kind = 'legacy' as const;
  constructor(readonly config: LegacyConfig) {}

  upload(spec: UploadSpec, ctx: OperationContext): Promise<UploadResult> {
    return uploadLegacy(this.config, spec, ctx);
  }

  async download(spec: DownloadSpec, ctx: OperationContext): Promise<DownloadResult> {
    const artifact = await this.#find(spec.name, ctx, 'download');
    return downloadLegacy(this.config, artifact, spec, ctx);
  }

  async list(ctx: OperationContext): Promise<ArtifactInfo[]> {
    return (await this.#listRaw(ctx, 'list')).map(toInfo);
  }

  delete(name: string): Promise<number | undefined> {
    // The file-container protocol has no delete; GHES/Gitea expire artifacts by retention.
    return Promise.reject(
      new FerryError(
        'ERR_FERRY_CONFIG',
        `Cannot delete '${name}': the legacy artifact protocol has no delete operation`,
        {
          context: { operation: 'delete', artifactName: name },
        },
      ),
    );
  }

  async get(name: string, ctx: OperationContext): Promise<ArtifactInfo> {
    return toInfo(await this.#find(name, ctx, 'get'));
  }

  async #find(name: string, ctx: OperationContext, operation: string): Promise<ArtifactResponse> {
    const matches = (await this.#listRaw(ctx, operation, name)).filter((a) => a.name === name);
    if (matches.length > 1) {
      // v1 merges every upload of a name into one container, so two entries of one name are a
      // broken (or lying) service: picking either could hand back the wrong files.
      throw new FerryError(
        'ERR_FERRY_PROTOCOL',
        `The service lists ${matches.length} artifacts named ${printable(name)} in run ${this.config.runId}; ` +
          'a legacy artifact name is unique within a run, so none of them is used',
        { context: { operation, artifactName: name } },
      );
    }
    const found = matches[0];
    if (!found) {
      throw new FerryError(
        'ERR_FERRY_NOT_FOUND',
        `No artifact named ${printable(name)} in run ${this.config.runId}`,
        {
          context: { operation, artifactName: name },
        },
      );
    }
    return found;
  }

  /** `artifactName`: the artifact being looked for, so a failed listing names it. */
  async #listRaw(
    ctx: OperationContext,
    operation: string,
    artifactName?: string,
  ): Promise<ArtifactResponse[]> {
    const listed = await ctx.http.request(
      {
        ...(this.config.token ? { bearer: this.config.token } : {}),
        slot: 0,
        method: 'GET',
        url: artifactsUrl(this.config.runtimeUrl, this.config.runId),
        headers: jsonHeaders,
        operation: ctx.operation,
        context: { operation, ...(artifactName !== undefined ? { artifactName } : {}) },
        call: 'list artifacts',
        // Gitea answers 404 for a run without artifacts where GitHub answers count 0.
        okStatuses: [404],
      },
      async (res): Promise<ListArtifactsResponse> => {
        if (res.statusCode === 404) {
          await discardBody(res);
          return { count: 0, value: [] };
        }
        return readJson<ListArtifactsResponse>(res, {
          maxBytes: ctx.http.maxResponseBytes,
          call: 'list artifacts',
          stall: ctx.http.stallPolicy,
        });
      },
    );
    return Array.isArray(listed.value) ? listed.value : [];
  }
}

function toInfo(a: ArtifactResponse): ArtifactInfo {
  const id = Number(a.containerId);
  return {
    name: a.name,
    id: Number.isSafeInteger(id) ? id : undefined,
    // A fractional, negative or above-2^53 size from the service is no size at all.
    size: typeof a.size === 'number' && Number.isSafeInteger(a.size) && a.size >= 0 ? a.size : 0,
    createdAt: undefined,
    digest: undefined,
  };
}
