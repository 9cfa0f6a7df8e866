export {
  uploadArtifact,
  downloadArtifact,
  listArtifacts,
  getArtifact,
  deleteArtifact,
  chooseBackend,
} from './client.js';
export type {
  UploadArtifactOptions,
  UploadArtifactResponse,
  DownloadArtifactOptions,
  DownloadArtifactResponse,
  ListArtifactsOptions,
  FindByOption,
} from './client.js';
export { downloadArtifacts } from './download-many.js';
export type {
  DownloadArtifactsOptions,
  DownloadArtifactsResponse,
  DownloadedArtifact,
} from './download-many.js';
export { mergeArtifacts } from './merge/index.js';
export type { MergeArtifactsOptions, MergeArtifactsResult } from './merge/index.js';
export type { ConflictPolicy } from './pack/conflict.js';
export type { ExtractLimits } from './pack/zip/limits.js';
export type { FindBy } from './backends/rest/artifact-service.js';
export type { ArtifactClientOptions, BackendChoice, DownloadCacheOptions } from './options.js';
export type { OperationStats, RetryKind } from './core/stats.js';
export { openCache } from './cache/index.js';
export type { CacheHit, CacheOptions, CacheStats, InsertResult, VerifiedCache } from './cache/index.js';
export { fromEnvironment } from './environment.js';
export { recordRun, type RunDescription } from './record-run.js';
export type { ArtifactInfo } from './backends/backend.js';
export {
  FerryError,
  HttpError,
  NetworkError,
  ValidationError,
  IntegrityError,
  AbortError,
  RateLimitedError,
  isFerryError,
} from './core/errors.js';
export type { FerryErrorCode, ErrorContext } from './core/errors.js';
export type { Logger, ProgressEvent, ProgressCallback } from './core/types.js';
export type { ProxySettings } from './transport/proxy.js';
export { ProxyError, proxySettingsFromEnv, describeProxyDecision } from './transport/proxy.js';
export type { RetryPolicy } from './transport/retry.js';
export { defaultRetryPolicy } from './transport/retry.js';
export { startServer } from './server/index.js';
export type { ServerOptions, RunningServer } from './server/index.js';
