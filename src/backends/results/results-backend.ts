import type { ErrorContext } from '../../core/errors.js';
import type { ZipInput } from '../../pack/zip-writer/index.js';
import type {
  ArtifactInfo,
  Backend,
  DownloadResult,
  DownloadSpec,
  OperationContext,
  StreamUploadOptions,
  UploadResult,
  UploadSpec,
  VerifiedBlob,
} from '../backend.js';
import { latestPerName } from '../latest-per-name.js';
import { ArtifactService, notFound, toInfo } from './artifact-service.js';
import type { ResultsConfig } from './contracts.js';
import { downloadSignedArtifact, fetchVerifiedBlob } from './download.js';
import { uploadResults, uploadResultsStream } from './upload.js';

/** The results protocol (github.com): Twirp ArtifactService plus signed blob URLs. */
export class ResultsBackend implements Backend {
  readonly kind = 'results' as const;
  constructor(
    readonly config: ResultsConfig,
    readonly tempDir: string,
  ) {}

  upload(spec: UploadSpec, ctx: OperationContext): Promise<UploadResult> {
    return uploadResults(this.config, spec, ctx);
  }

  /** Uploads a zip of `inputs` with the same create → blob upload → finalize as {@link upload}. */
  uploadStream(
    name: string,
    inputs: readonly ZipInput[],
    options: StreamUploadOptions,
    ctx: OperationContext,
  ): Promise<UploadResult> {
    return uploadResultsStream(this.config, name, inputs, options, ctx);
  }

  async download(spec: DownloadSpec, ctx: OperationContext): Promise<DownloadResult> {
    const context: ErrorContext = { operation: 'download', artifactName: spec.name };
    const signed = await new ArtifactService(this.config, ctx).signedDownload(spec, context);
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
    const signed = await new ArtifactService(this.config, ctx).signedDownload(spec, context);
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

  async list(ctx: OperationContext, options: { latest?: boolean } = {}): Promise<ArtifactInfo[]> {
    const artifacts = (await new ArtifactService(this.config, ctx).list({}, { operation: 'list' })).map(
      toInfo,
    );
    return options.latest ? latestPerName(artifacts) : artifacts;
  }

  async get(name: string, ctx: OperationContext): Promise<ArtifactInfo> {
    const listed = await new ArtifactService(this.config, ctx).list(
      { name_filter: name },
      { operation: 'get', artifactName: name },
    );
    const artifact = latestPerName(listed.map(toInfo)).find((a) => a.name === name);
    if (!artifact) throw notFound(name, 'get');
    return artifact;
  }

  storageOrigin(ctx: OperationContext): Promise<string | undefined> {
    return new ArtifactService(this.config, ctx).storageOrigin({ operation: 'doctor' });
  }

  delete(name: string, ctx: OperationContext): Promise<number | undefined> {
    return new ArtifactService(this.config, ctx).delete(name, { operation: 'delete', artifactName: name });
  }
}
