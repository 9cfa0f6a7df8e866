import { FerryError, ValidationError } from './core/errors.js';
import type {
  ArtifactInfo,
  Backend,
  DownloadResult,
  OperationContext,
  UploadResult,
} from './backends/backend.js';
import { DOWNLOAD_USER_AGENT, UPLOAD_USER_AGENT } from './backends/legacy/contracts.js';
import { LegacyBackend } from './backends/legacy/legacy-backend.js';
import { LOCAL_RUN_ID, openLocalStore } from './backends/local/local-store.js';
import { hideStoreUrlInError, loggerHidingStoreUrl } from './backends/local/store-url.js';
import { RESULTS_USER_AGENT, type ResultsConfig } from './backends/results/contracts.js';
import { DigestMismatchError } from './backends/results/blob-download.js';
import { ResultsBackend } from './backends/results/results-backend.js';
import { validateFindBy, type FindBy } from './backends/rest/artifact-service.js';
import { RestBackend } from './backends/rest/rest-backend.js';
import { backendIdsFromToken, requireBackendIds } from './backends/results/token.js';
import { normalizeOptions, type ArtifactClientOptions, type NormalizedOptions } from './options.js';
import { checkConflictPolicy, type ConflictPolicy } from './pack/conflict.js';
import { startEmbeddedStore } from './embedded-store.js';
import { asResourceError } from './pack/fs-errors.js';
import { normalizeLimits, type ExtractLimits } from './pack/zip/limits.js';
import { validateArtifactName } from './core/artifact-name.js';
import { HttpManager, type HttpManagerOptions } from './transport/http-manager.js';
import { rememberedAnswersFor } from './remembered-answers-store.js';
import { openCache, type VerifiedCache } from './cache/index.js';
import { StatsCollector, type OperationStats } from './core/stats.js';
import type { Logger } from './core/types.js';
import { Operation } from './transport/operation.js';
import { registerSecret } from './core/secrets.js';
import { prepareSecretScan } from './pack/secret-scan.js';
import { resolveUploadFiles, withUploadContext, type SymlinkPolicy } from './upload-files.js';

export interface UploadArtifactOptions extends ArtifactClientOptions {
  /** Results protocol: `false` uploads one file as-is, named after the file. @default true */
  archive?: boolean;
  /** Replace an existing artifact of the uploaded name (results protocol). @default false */
  overwrite?: boolean;
  /** Artifact paths of empty directories to record in the zip (results protocol). */
  emptyDirectories?: string[];
  /**
   * `follow` uploads what symlinks point to (never /proc, /sys, /dev); `preserve` stores links
   * that stay inside the root as links (results protocol; legacy has no links and follows).
   * @default 'follow'
   */
  symlinks?: SymlinkPolicy;
  /** `false` stores 0644 (0755 when any execute bit is set) instead of each file's own mode. @default true */
  preservePermissions?: boolean;
  /**
   * `true` turns off the secret scan: by default an upload fails with
   * `ERR_FERRY_SECRET_IN_ARTIFACT`, naming the file, when a file contains (byte for byte) the
   * runtime token or another token or password Ferry was given (GITHUB_TOKEN, a proxy password,
   * a findBy token; values under 16 characters are not searched). Nothing is finalized then.
   * @default false
   */
  allowSecretsInFiles?: boolean;
}

export interface UploadArtifactResponse extends UploadResult {
  artifactName: string;
  backend: BackendKind;
}

/** Which backend an operation used: `local` is the results protocol spoken to the embedded store. */
export type BackendKind = Backend['kind'] | 'local';

export interface FindByOption {
  /** Read another run's (or repository's) artifacts through the REST API with a token. */
  findBy?: FindBy;
}

export interface DownloadArtifactOptions extends ArtifactClientOptions, FindByOption {
  /** Directory to download into. @default process.cwd() */
  path?: string;
  /** Download this artifact id instead of the newest artifact called `name` (results protocol). */
  artifactId?: number;
  /** Keep the zip instead of extracting it. @default false */
  skipDecompress?: boolean;
  /**
   * Symlink entries in the archive: `refuse` fails naming the entry, `file` writes the link text
   * as a regular file, `preserve` creates links whose target stays inside `path`.
   * @default 'refuse'
   */
  symlinks?: 'refuse' | 'file' | 'preserve';
  /**
   * Give extracted files the permission bits stored in the archive (`0755` for a script), under
   * the process umask like any file the process creates, and never setuid, setgid or sticky.
   * `false`: every file gets the default creation mode (`0666` minus the umask).
   * @default true
   */
  restoreModes?: boolean;
  /**
   * A file that already exists in `path`: `'overwrite'` replaces it, `'skip'` keeps it, `'error'`
   * fails (before anything is written) when its content differs; identical files are fine.
   * @default 'overwrite'
   */
  conflict?: ConflictPolicy;
  /**
   * `false`: a digest mismatch does not fail the download; the data is written and the result
   * says `digestMismatch: true` (download-artifact's `digest-mismatch: warn|info|ignore`).
   * @default true
   */
  verifyDigest?: boolean;
  /**
   * Zip-bomb limits, checked against the archive's central directory before anything is written
   * (and each entry's size again while inflating): `maxEntries` (default 100,000),
   * `maxTotalBytes` (sum of uncompressed sizes, default 64 GiB), `maxRatio` (per entry over
   * 1 MiB, default 1000). Unset fields keep their defaults; `Infinity` disables one.
   * Exceeding one fails with `ERR_FERRY_INTEGRITY` and the target is left as it was.
   * On the legacy protocol the same limits apply to the artifact's files: the count and the
   * listed lengths before anything is written, the total and each gzip item's ratio again on
   * the bytes actually written.
   */
  limits?: Partial<ExtractLimits>;
}

export interface DownloadArtifactResponse extends DownloadResult {
  artifactName: string;
}

export interface ListArtifactsOptions extends ArtifactClientOptions, FindByOption {
  /** Only the newest artifact of each name. @default false */
  latest?: boolean;
}

/**
 * Uploads `files` as artifact `name`, taking paths as @actions/artifact does: `files` and
 * `rootDirectory` are absolute or relative to the working directory (process.cwd()), and the
 * paths inside the artifact are the files' paths relative to `rootDirectory`. A file outside
 * `rootDirectory` is refused (ERR_FERRY_INVALID_PATH naming the file and the root), as are a
 * directory in `files` and two entries that land on one artifact path.
 */
export async function uploadArtifact(
  name: string,
  files: readonly string[],
  rootDirectory: string,
  options: UploadArtifactOptions = {},
): Promise<UploadArtifactResponse> {
  const {
    archive,
    overwrite,
    emptyDirectories,
    symlinks,
    preservePermissions,
    allowSecretsInFiles,
    ...rest
  } = options;
  const opts = normalizeOptions(rest);
  validateArtifactName(name);
  if (symlinks !== undefined && symlinks !== 'follow' && symlinks !== 'preserve') {
    throw new FerryError(
      'ERR_FERRY_INVALID_OPTION',
      `Option 'symlinks' must be 'follow' or 'preserve'; got ${JSON.stringify(symlinks)}`,
      {
        context: { option: 'symlinks' },
      },
    );
  }
  const resolved = await resolveUploadFiles(name, files, rootDirectory, symlinks);
  if (resolved.length === 0) {
    throw new FerryError('ERR_FERRY_NO_FILES', `No files to upload for artifact '${name}'`, {
      context: { operation: 'upload', artifactName: name },
    });
  }
  // Before anything is sent: warn about credential files, and arm the scan for tokens in files.
  const secretScan = prepareSecretScan(name, resolved, opts, allowSecretsInFiles);
  return withBackend('upload', opts, async (backend, ctx, kind) => {
    ctx.onProgress?.({
      operation: 'upload',
      artifactName: name,
      phase: 'prepare',
      bytesDone: 0,
      bytesTotal: undefined,
      filesDone: 0,
      filesTotal: resolved.length,
    });
    const uploading = backend.upload(
      {
        name,
        files: resolved,
        retentionDays: opts.retentionDays,
        compressionLevel: opts.compressionLevel,
        chunkSize: opts.chunkSize,
        tempDir: opts.tempDir,
        ...(archive !== undefined ? { archive } : {}),
        ...(overwrite !== undefined ? { overwrite } : {}),
        ...(emptyDirectories ? { emptyDirectories } : {}),
        ...(preservePermissions === false ? { preservePermissions } : {}),
        ...(secretScan ? { secretScan } : {}),
      },
      ctx,
    );
    // File readers know only the file; the error must also name the upload and the artifact.
    const result = await uploading.catch((error: unknown) => {
      throw withUploadContext(error, name);
    });
    ctx.onProgress?.({
      operation: 'upload',
      artifactName: name,
      phase: 'done',
      bytesDone: result.size,
      bytesTotal: result.size,
      filesDone: result.fileCount,
      filesTotal: result.fileCount,
    });
    return { ...result, artifactName: name, backend: kind, stats: statsOf(ctx) };
  });
}

/**
 * The checks every download shares, one artifact (`downloadArtifact`) or several
 * (`downloadArtifacts`), made before any request so a bad value fails naming its option.
 */
export function checkDownloadOptions(options: {
  [K in 'conflict' | 'restoreModes' | 'limits' | 'verifyDigest' | 'findBy']:
    DownloadArtifactOptions[K] | undefined;
}): void {
  const { conflict, restoreModes, limits, verifyDigest, findBy } = options;
  checkConflictPolicy(conflict);
  if (restoreModes !== undefined && typeof restoreModes !== 'boolean') {
    throw new ValidationError('ERR_FERRY_INVALID_OPTION', `Option 'restoreModes' must be a boolean`, {
      option: 'restoreModes',
    });
  }
  if (limits !== undefined) normalizeLimits(limits);
  if (verifyDigest !== undefined && typeof verifyDigest !== 'boolean') {
    throw new ValidationError('ERR_FERRY_INVALID_OPTION', `Option 'verifyDigest' must be a boolean`, {
      option: 'verifyDigest',
    });
  }
  if (findBy) validateFindBy(findBy);
}

export async function downloadArtifact(
  name: string,
  options: DownloadArtifactOptions = {},
): Promise<DownloadArtifactResponse> {
  const {
    path: target,
    artifactId,
    skipDecompress,
    findBy,
    conflict,
    verifyDigest,
    symlinks,
    limits,
    restoreModes,
    ...rest
  } = options;
  const opts = normalizeOptions(rest);
  validateArtifactName(name);
  checkDownloadOptions({ conflict, restoreModes, limits, verifyDigest, findBy });
  if (artifactId !== undefined && (!Number.isSafeInteger(artifactId) || artifactId < 1)) {
    throw new FerryError(
      'ERR_FERRY_INVALID_OPTION',
      `Option 'artifactId' must be a positive integer; got ${String(artifactId)}`,
    );
  }
  const spec = {
    name,
    id: artifactId,
    targetDirectory: target ?? process.cwd(),
    ...(skipDecompress ? { skipDecompress } : {}),
    ...(symlinks ? { symlinks } : {}),
    ...(conflict !== undefined ? { conflict } : {}),
    ...(verifyDigest !== undefined ? { verifyDigest } : {}),
    ...(limits !== undefined ? { limits } : {}),
    ...(restoreModes !== undefined ? { restoreModes } : {}),
  };
  return withBackend(
    'download',
    opts,
    async (backend, ctx) => {
      const result = await backend.download(spec, ctx);
      ctx.onProgress?.({
        operation: 'download',
        artifactName: name,
        phase: 'done',
        bytesDone: result.size,
        bytesTotal: result.size,
        filesDone: result.fileCount,
        filesTotal: result.fileCount,
      });
      return { ...result, artifactName: name, stats: statsOf(ctx) };
    },
    findBy,
  );
}

/**
 * The refusal of an artifact whose bytes do not hash to the digest the service listed (with
 * verification on; nothing was written). Recognised by its class, never by its message.
 */
export function isDigestMismatch(error: unknown): error is DigestMismatchError {
  return error instanceof DigestMismatchError;
}

/** Lists the artifacts of the current run. */
export async function listArtifacts(options: ListArtifactsOptions = {}): Promise<ArtifactInfo[]> {
  const { latest, findBy, ...rest } = options;
  const opts = normalizeOptions(rest);
  if (findBy) validateFindBy(findBy);
  return withBackend('list', opts, (backend, ctx) => backend.list(ctx, { latest: latest ?? false }), findBy);
}

/** Finds one artifact of the current run by exact name (the newest, if several); ERR_FERRY_NOT_FOUND if there is none. */
export async function getArtifact(
  name: string,
  options: ArtifactClientOptions & FindByOption = {},
): Promise<ArtifactInfo> {
  const { findBy, ...rest } = options;
  const opts = normalizeOptions(rest);
  validateArtifactName(name);
  if (findBy) validateFindBy(findBy);
  return withBackend('get', opts, (backend, ctx) => backend.get(name, ctx), findBy);
}

/** Deletes artifact `name` and returns its id (results protocol and the local store). */
export async function deleteArtifact(
  name: string,
  options: ArtifactClientOptions & FindByOption = {},
): Promise<{ id: number | undefined; stats: OperationStats }> {
  const { findBy, ...rest } = options;
  const opts = normalizeOptions(rest);
  validateArtifactName(name);
  if (findBy) validateFindBy(findBy);
  return withBackend(
    'delete',
    opts,
    async (backend, ctx) => ({ id: await backend.delete(name, ctx), stats: statsOf(ctx) }),
    findBy,
  );
}

/**
 * Resolves the backend (the one place it is chosen: REST for `findBy`, otherwise by capability,
 * see {@link chooseBackend}), runs `work` with a fresh HttpManager and Operation, and always
 * disposes both (and the embedded store), success or not. (Internal; used by `merge/`.)
 */
export async function withBackend<T>(
  operationName: string,
  opts: NormalizedOptions,
  work: (
    backend: Backend,
    ctx: OperationContext,
    kind: BackendKind,
    spareHttp: () => HttpManager,
  ) => Promise<T>,
  findBy?: FindBy,
): Promise<T> {
  registerSecret(opts.runtimeToken);
  // A REST (findBy) call talks only to the API host; it needs no artifact service of this run.
  const kind: BackendKind = findBy ? 'rest' : chooseBackend(opts);
  const local =
    kind === 'local'
      ? await openLocalStore(startEmbeddedStore, opts.localStore, opts.runId ?? LOCAL_RUN_ID)
      : undefined;
  // The embedded store's loopback URL means nothing to the user: logs and errors name the store.
  if (local) opts = { ...opts, logger: loggerHidingStoreUrl(opts.logger, local.origin, local.label) };
  // One collector per operation: every HttpManager of it (spares too) feeds it.
  const stats = new StatsCollector();
  // REST calls spend the token's API rate limit: a spent one is remembered across calls.
  const remembered =
    kind === 'rest'
      ? {
          answers: await rememberedAnswersFor(opts.cache?.path, opts.logger),
          waitUpToSeconds: opts.rateLimitWaitSeconds,
        }
      : undefined;
  const http = createHttpManager(opts, kind, operationName, stats, remembered);
  // More managers for work that runs several transfers side by side (downloadArtifacts: one per
  // artifact in flight, so artifacts never share a socket); disposed with the first.
  const spares: HttpManager[] = [];
  const spareHttp = (): HttpManager => {
    const spare = createHttpManager(opts, kind, operationName, stats, remembered);
    spares.push(spare);
    return spare;
  };
  const operation = new Operation(operationName, opts.signal);
  let failure: unknown;
  try {
    const backend = findBy ? new RestBackend(findBy, opts.tempDir) : createBackend(kind, opts, local?.config);
    const cache = operationName === 'download' ? await openConfiguredCache(opts) : undefined;
    const ctx = { http, operation, logger: opts.logger, onProgress: opts.onProgress, stats, cache };
    return await work(backend, ctx, kind, spareHttp);
  } catch (error: unknown) {
    failure = error;
  } finally {
    http.dispose();
    for (const spare of spares) spare.dispose();
    await local?.close();
    reportStats(opts.onStats, stats, opts.logger);
  }
  // A full disk or no file descriptors left: typed, not retryable, with advice; mapped once the
  // sockets and the store are released so the numbers it reports are the user's.
  if (local) failure = hideStoreUrlInError(failure, local.origin, local.label);
  throw await asResourceError(failure, {
    context: { operation: operationName },
    concurrency: opts.concurrency,
  });
}

/**
 * An HttpManager for one operation (or, in downloadArtifacts, one artifact of it): its own
 * keep-alive slots, the options' proxy, timeouts and retry policy. The caller disposes of it.
 */
function createHttpManager(
  opts: NormalizedOptions,
  kind: BackendKind,
  operationName: string,
  stats: StatsCollector,
  remembered: HttpManagerOptions['remembered'],
): HttpManager {
  const userAgent =
    kind === 'legacy'
      ? operationName === 'upload'
        ? UPLOAD_USER_AGENT
        : DOWNLOAD_USER_AGENT
      : RESULTS_USER_AGENT;
  return new HttpManager({
    slots: opts.concurrency,
    userAgent,
    proxy: opts.proxy,
    socketTimeoutMs: opts.timeoutMs,
    stall: { minBytesPerSecond: opts.minBytesPerSecond, windowMs: opts.stallWindowMs },
    retry: opts.retry,
    logger: opts.logger,
    maxResponseBytes: opts.maxResponseBytes,
    stats,
    remembered,
  });
}

/** The operation's stats so far (a result takes them as its last step). (Internal.) */
export function statsOf(ctx: OperationContext): OperationStats {
  return (ctx.stats ?? new StatsCollector()).snapshot();
}

/** The caller's onStats, once per operation; a throwing callback is the caller's bug, logged, not ours to fail on. */
function reportStats(
  onStats: ((stats: OperationStats) => void) | undefined,
  stats: StatsCollector,
  logger: Logger,
): void {
  if (!onStats) return;
  try {
    onStats(stats.snapshot());
  } catch (error: unknown) {
    logger.warn(`onStats threw: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * The download cache of `opts.cache`, opened for this operation. The cache is an optimisation:
 * a directory that cannot be created or used is a warning, and the operation runs without it.
 */
async function openConfiguredCache(opts: NormalizedOptions): Promise<VerifiedCache | undefined> {
  if (!opts.cache) return undefined;
  try {
    return await openCache({ ...opts.cache, logger: opts.logger });
  } catch (error: unknown) {
    opts.logger.warn(
      `The download cache at ${opts.cache.path} cannot be used (${error instanceof Error ? error.message : String(error)}); downloading without it`,
    );
    return undefined;
  }
}

function createBackend(
  kind: BackendKind,
  opts: NormalizedOptions,
  local: ResultsConfig | undefined,
): Backend {
  if (local) return new ResultsBackend(local, opts.tempDir);
  if (kind === 'results') {
    const token = opts.runtimeToken as string;
    return new ResultsBackend(
      { resultsUrl: opts.resultsUrl as string, token, ids: requireBackendIds(token) },
      opts.tempDir,
    );
  }
  return new LegacyBackend({
    runtimeUrl: opts.runtimeUrl as string,
    token: opts.runtimeToken,
    runId: opts.runId ?? LOCAL_RUN_ID,
    trustedOrigins: opts.trustedOrigins,
  });
}

/**
 * Capability detection, never a host list: a results URL plus a token with an
 * `Actions.Results` scope means the results service; a runtime URL means the legacy service;
 * nothing means the embedded local store. An explicit `backend` overrides.
 */
export function chooseBackend(
  opts: Pick<NormalizedOptions, 'backend' | 'runtimeUrl' | 'resultsUrl' | 'runtimeToken'>,
): 'legacy' | 'results' | 'local' {
  switch (opts.backend) {
    case 'local':
      return 'local';
    case 'results':
      if (!opts.resultsUrl)
        throw new FerryError('ERR_FERRY_CONFIG', "backend 'results' needs resultsUrl (ACTIONS_RESULTS_URL)");
      requireBackendIds(opts.runtimeToken);
      return 'results';
    case 'legacy':
      if (!opts.runtimeUrl)
        throw new FerryError('ERR_FERRY_CONFIG', "backend 'legacy' needs runtimeUrl (ACTIONS_RUNTIME_URL)");
      return 'legacy';
    default:
      if (opts.resultsUrl && backendIdsFromToken(opts.runtimeToken)) return 'results';
      if (opts.runtimeUrl) return 'legacy';
      return 'local';
  }
}
