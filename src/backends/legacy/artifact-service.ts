import { FerryError, type ErrorContext } from '../../core/errors.js';
import { printable } from '../../core/format.js';
import { discardBody, readJson } from '../../transport/body.js';
import type { RequestSpec } from '../../transport/http-manager.js';
import type { ArtifactInfo, OperationContext } from '../backend.js';
import type { ArtifactResponse, LegacyConfig, ListArtifactsResponse } from './contracts.js';
import { artifactsUrl, jsonHeaders } from './urls.js';

/**
 * The artifact calls of the pipelines service for one operation (protocol.md A3): list and find,
 * create the container, and PATCH its size to finalize it. The file transfers are upload.ts and
 * download.ts.
 */
export class ArtifactService {
  readonly #config: LegacyConfig;
  readonly #ctx: OperationContext;

  constructor(config: LegacyConfig, ctx: OperationContext) {
    this.#config = config;
    this.#ctx = ctx;
  }

  /** The token (when there is one) and the operation every call carries. */
  #common(): Pick<RequestSpec, 'bearer' | 'operation'> {
    return {
      ...(this.#config.token ? { bearer: this.#config.token } : {}),
      operation: this.#ctx.operation,
    };
  }

  /** Creates the file container for artifact `name`. */
  create(name: string, retentionDays: number | undefined, context: ErrorContext): Promise<ArtifactResponse> {
    return this.#ctx.http.request(
      {
        ...this.#common(),
        slot: 0,
        method: 'POST',
        url: artifactsUrl(this.#config.runtimeUrl, this.#config.runId),
        headers: jsonHeaders,
        body: JSON.stringify(
          {
            Type: 'actions_storage',
            Name: name,
            ...(retentionDays ? { RetentionDays: retentionDays } : {}),
          },
          null,
          2,
        ),
        context,
        call: 'create artifact container',
        describeFailure: (status) =>
          status === 403
            ? {
                code: 'ERR_FERRY_QUOTA',
                message: 'Artifact storage quota has been hit, or storage is not enabled on this server',
              }
            : status === 400
              ? {
                  code: 'ERR_FERRY_INVALID_NAME',
                  message: `The server rejected the artifact name '${name}'`,
                }
              : undefined,
      },
      (res) =>
        readJson<ArtifactResponse>(res, {
          maxBytes: this.#ctx.http.maxResponseBytes,
          call: 'create artifact container',
          context,
          stall: this.#ctx.http.stallPolicy,
        }),
    );
  }

  /** PATCHes the total original size: the container is complete from here on. */
  async finalize(name: string, size: number, context: ErrorContext): Promise<void> {
    await this.#ctx.http.request(
      {
        ...this.#common(),
        slot: 0,
        method: 'PATCH',
        phase: 'finalize',
        url: artifactsUrl(this.#config.runtimeUrl, this.#config.runId, { artifactName: name }),
        headers: jsonHeaders,
        body: JSON.stringify({ Size: size }, null, 2),
        context,
        call: 'finalize artifact (PATCH size)',
        describeFailure: (status) =>
          status === 404
            ? { code: 'ERR_FERRY_NOT_FOUND', message: `An artifact with the name ${name} was not found` }
            : undefined,
      },
      discardBody,
    );
  }

  /** The one artifact called `name` in the run. */
  async find(name: string, operation: string): Promise<ArtifactResponse> {
    const matches = (await this.list(operation, name)).filter((a) => a.name === name);
    if (matches.length > 1) {
      // v1 merges every upload of a name into one container, so two entries of one name are a
      // broken (or lying) service: picking either could hand back the wrong files.
      throw new FerryError(
        'ERR_FERRY_PROTOCOL',
        `The service lists ${matches.length} artifacts named ${printable(name)} in run ${this.#config.runId}; ` +
          'a legacy artifact name is unique within a run, so none of them is used',
        { context: { operation, artifactName: name } },
      );
    }
    const found = matches[0];
    if (!found) {
      throw new FerryError(
        'ERR_FERRY_NOT_FOUND',
        `No artifact named ${printable(name)} in run ${this.#config.runId}`,
        {
          context: { operation, artifactName: name },
        },
      );
    }
    return found;
  }

  /** `artifactName`: the artifact being looked for, so a failed listing names it. */
  async list(operation: string, artifactName?: string): Promise<ArtifactResponse[]> {
    const listed = await this.#ctx.http.request(
      {
        ...this.#common(),
        slot: 0,
        method: 'GET',
        url: artifactsUrl(this.#config.runtimeUrl, this.#config.runId),
        headers: jsonHeaders,
        operation: this.#ctx.operation,
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
          maxBytes: this.#ctx.http.maxResponseBytes,
          call: 'list artifacts',
          stall: this.#ctx.http.stallPolicy,
        });
      },
    );
    return Array.isArray(listed.value) ? listed.value : [];
  }
}

export function toInfo(a: ArtifactResponse): ArtifactInfo {
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
