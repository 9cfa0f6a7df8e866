import { FerryError } from './errors.js';
import type {
  ArtifactInfo,
  Backend,
  DownloadResult,
  OperationContext,
  UploadResult,
} from './backends/backend.js';
import { LegacyBackend } from './backends/legacy/legacy-backend.js';
import { UPLOAD_USER_AGENT, DOWNLOAD_USER_AGENT } from './backends/legacy/contracts.js';
import { LOCAL_RUN_ID, openLocalStore } from './backends/local/local-store.js';
import { normalizeOptions, type ArtifactClientOptions, type NormalizedOptions } from './options.js';
import { validateArtifactName } from './pack/validate.js';
import { HttpManager } from './transport/http-manager.js';
import { Operation } from './transport/operation.js';
import { registerSecret } from './transport/redact.js';
import { resolveUploadFiles } from './upload-files.js';

export interface UploadArtifactResponse extends UploadResult {
  artifactName: string;
  backend: Backend['kind'] | 'local';
}

export interface DownloadArtifactOptions extends ArtifactClientOptions {
  /** Directory to download into. @default process.cwd() */
  path?: string;
}

export interface DownloadArtifactResponse extends DownloadResult {
  artifactName: string;
}

/**
 * Uploads `files` (paths, absolute or relative to `rootDirectory`) as artifact `name`.
 * Paths inside the artifact are the files' paths relative to `rootDirectory`.
 */
export async function uploadArtifact(
  name: string,
  files: readonly string[],
  rootDirectory: string,
  options: ArtifactClientOptions = {},
): Promise<UploadArtifactResponse> {
  const opts = normalizeOptions(options);
  validateArtifactName(name);
  const resolved = await resolveUploadFiles(name, files, rootDirectory);
  if (resolved.length === 0) {
    throw new FerryError('ERR_FERRY_NO_FILES', `No files to upload for artifact '${name}'`, {
      context: { operation: 'upload', artifactName: name },
    });
  }
  return withBackend('upload', opts, UPLOAD_USER_AGENT, async (backend, ctx, kind) => {
    ctx.onProgress?.({
      operation: 'upload',
      artifactName: name,
      phase: 'prepare',
      bytesDone: 0,
      bytesTotal: undefined,
      filesDone: 0,
      filesTotal: resolved.length,
    });
    const result = await backend.upload(
      {
        name,
        files: resolved,
        retentionDays: opts.retentionDays,
        compressionLevel: opts.compressionLevel,
        chunkSize: opts.chunkSize,
        tempDir: opts.tempDir,
      },
      ctx,
    );
    ctx.onProgress?.({
      operation: 'upload',
      artifactName: name,
      phase: 'done',
      bytesDone: result.size,
      bytesTotal: result.size,
      filesDone: result.fileCount,
      filesTotal: result.fileCount,
    });
    return { ...result, artifactName: name, backend: kind };
  });
}

/** Downloads artifact `name` into `options.path`. Nothing appears there unless every file arrived intact. */
export async function downloadArtifact(
  name: string,
  options: DownloadArtifactOptions = {},
): Promise<DownloadArtifactResponse> {
  const { path: target, ...rest } = options;
  const opts = normalizeOptions(rest);
  validateArtifactName(name);
  return withBackend('download', opts, DOWNLOAD_USER_AGENT, async (backend, ctx) => {
    const result = await backend.download({ name, targetDirectory: target ?? process.cwd() }, ctx);
    ctx.onProgress?.({
      operation: 'download',
      artifactName: name,
      phase: 'done',
      bytesDone: result.size,
      bytesTotal: result.size,
      filesDone: result.fileCount,
      filesTotal: result.fileCount,
    });
    return { ...result, artifactName: name };
  });
}

/** Lists the artifacts of the current run. */
export function listArtifacts(options: ArtifactClientOptions = {}): Promise<ArtifactInfo[]> {
  const opts = normalizeOptions(options);
  return withBackend('list', opts, DOWNLOAD_USER_AGENT, (backend, ctx) => backend.list(ctx));
}

/** Finds one artifact of the current run by exact name; ERR_FERRY_NOT_FOUND if there is none. */
export function getArtifact(name: string, options: ArtifactClientOptions = {}): Promise<ArtifactInfo> {
  const opts = normalizeOptions(options);
  validateArtifactName(name);
  return withBackend('get', opts, DOWNLOAD_USER_AGENT, (backend, ctx) => backend.get(name, ctx));
}

/**
 * Resolves the backend by capability, runs `work` with a fresh HttpManager and Operation, and
 * always disposes both (and the embedded store), success or not.
 */
async function withBackend<T>(
  operationName: string,
  opts: NormalizedOptions,
  userAgent: string,
  work: (backend: Backend, ctx: OperationContext, kind: Backend['kind'] | 'local') => Promise<T>,
): Promise<T> {
  registerSecret(opts.runtimeToken);
  const kind = chooseBackend(opts);
  const local =
    kind === 'local' ? await openLocalStore(opts.localStore, opts.runId ?? LOCAL_RUN_ID) : undefined;
  const http = new HttpManager({
    slots: opts.concurrency,
    userAgent,
    proxy: opts.proxy,
    socketTimeoutMs: opts.timeoutMs,
    retry: opts.retry,
    logger: opts.logger,
  });
  const operation = new Operation(operationName, opts.signal);
  try {
    const backend = new LegacyBackend(
      local?.config ?? {
        runtimeUrl: opts.runtimeUrl as string,
        token: opts.runtimeToken,
        runId: opts.runId ?? LOCAL_RUN_ID,
      },
    );
    return await work(backend, { http, operation, logger: opts.logger, onProgress: opts.onProgress }, kind);
  } finally {
    http.dispose();
    await local?.close();
  }
}

/** Capability detection, never a host list: a runtime URL means the legacy service, nothing means the local store. */
export function chooseBackend(opts: Pick<NormalizedOptions, 'backend' | 'runtimeUrl'>): 'legacy' | 'local' {
  if (opts.backend === 'results') {
    throw new FerryError(
      'ERR_FERRY_CONFIG',
      'The results protocol is not available in this version of Ferry; use backend legacy or local',
    );
  }
  if (opts.backend === 'local') return 'local';
  if (opts.backend === 'legacy' || opts.runtimeUrl) {
    if (!opts.runtimeUrl) {
      throw new FerryError('ERR_FERRY_CONFIG', "backend 'legacy' needs runtimeUrl (ACTIONS_RUNTIME_URL)");
    }
    return 'legacy';
  }
  return 'local';
}
