export {
  downloadArtifacts,
  DEFAULT_ARTIFACT_CONCURRENCY,
  type DownloadArtifactsOptions,
  type DownloadArtifactsResponse,
  type DownloadedArtifact,
} from './download-many.js';
export { mergeArtifacts, type MergeArtifactsOptions, type MergeArtifactsResult } from './merge.js';
export { compileNamePattern } from './name-pattern.js';
