import * as core from '@actions/core';
import type { Env } from './runtime.js';

/**
 * The web URL of an artifact, built the way upload-artifact builds it:
 * `${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}/artifacts/${id}`.
 * Undefined when the id or any of those variables is missing.
 */
export function artifactUrl(env: Env, id: number | undefined): string | undefined {
  const server = env['GITHUB_SERVER_URL'];
  const repository = env['GITHUB_REPOSITORY'];
  const runId = env['GITHUB_RUN_ID'];
  if (id === undefined || !server || !repository || !runId) return undefined;
  return `${server.replace(/\/+$/, '')}/${repository}/actions/runs/${runId}/artifacts/${id}`;
}

/** upload-artifact outputs the digest as bare hex; the SDK reports `sha256:<hex>`. */
export function bareDigest(digest: string | undefined): string | undefined {
  if (!digest) return undefined;
  return digest.replace(/^sha256:/i, '').toLowerCase();
}

/** Sets `artifact-id`, `artifact-url` and `artifact-digest` for whatever is known. */
export function setArtifactOutputs(
  env: Env,
  result: { id?: number | undefined; digest?: string | undefined },
): void {
  if (result.id !== undefined) core.setOutput('artifact-id', String(result.id));
  const url = artifactUrl(env, result.id);
  if (url) core.setOutput('artifact-url', url);
  const digest = bareDigest(result.digest);
  if (digest) core.setOutput('artifact-digest', digest);
}
