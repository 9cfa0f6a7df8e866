export { mergeArtifacts, type MergeArtifactsOptions, type MergeArtifactsResult } from './merge.js';
export { compileNamePattern } from './name-pattern.js';
