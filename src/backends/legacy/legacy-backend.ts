import { FerryError } from '../../core/errors.js';
import type {
  ArtifactInfo,
  Backend,
  DownloadResult,
  DownloadSpec,
  OperationContext,
  UploadResult,
  UploadSpec,
} from '../backend.js';
import { ArtifactService, toInfo } from './artifact-service.js';
import type { LegacyConfig } from './contracts.js';
import { downloadLegacy } from './download.js';
import { uploadLegacy } from './upload.js';

/** The pipelines file-container protocol: GHES, Gitea, Forgejo, act, and `ferry serve`. */
export class LegacyBackend implements Backend {
  readonly kind = 'legacy' as const;
  constructor(readonly config: LegacyConfig) {}

  upload(spec: UploadSpec, ctx: OperationContext): Promise<UploadResult> {
    return uploadLegacy(this.config, spec, ctx);
  }

  async download(spec: DownloadSpec, ctx: OperationContext): Promise<DownloadResult> {
    const artifact = await new ArtifactService(this.config, ctx).find(spec.name, 'download');
    if (ctx.cache) {
      // The cache is keyed by the artifact digest, and a file container lists none.
      ctx.logger.debug(
        `Artifact '${spec.name}': the download cache is not used on the legacy protocol (it lists no digest)`,
      );
    }
    return downloadLegacy(this.config, artifact, spec, ctx);
  }

  async list(ctx: OperationContext): Promise<ArtifactInfo[]> {
    return (await new ArtifactService(this.config, ctx).list('list')).map(toInfo);
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
    return toInfo(await new ArtifactService(this.config, ctx).find(name, 'get'));
  }
}
