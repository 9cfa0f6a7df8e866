import type { ResultsArtifact } from '../results/artifact-index.js';

/** The artifact object of GitHub's REST API, as far as a local server can fill it in. */
export interface RestArtifact {
  id: number;
  node_id: string;
  name: string;
  size_in_bytes: number;
  url: string;
  archive_download_url: string;
  expired: boolean;
  created_at: string;
  updated_at: string;
  expires_at: string;
  digest: string;
  workflow_run: { id: number | string };
}

export function restArtifact(
  baseUrl: string,
  owner: string,
  repo: string,
  record: ResultsArtifact,
): RestArtifact {
  const url = `${baseUrl}repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/actions/artifacts/${record.id}`;
  return {
    id: record.id,
    // GitHub's legacy global id format: base64 of "<type len>:<Type><id>".
    node_id: Buffer.from(`08:Artifact${record.id}`).toString('base64'),
    name: record.name,
    size_in_bytes: record.finalized?.size ?? 0,
    url,
    archive_download_url: `${url}/zip`,
    // Expired artifacts are deleted by the retention sweep; until it runs they are still whole.
    expired: false,
    created_at: githubTime(record.createdAt),
    updated_at: githubTime(record.updatedAt),
    expires_at: githubTime(record.expiresAt),
    digest: record.finalized?.digest ?? '',
    // GitHub run ids are numbers; backend ids that are not (UUIDs) stay strings.
    workflow_run: { id: /^\d{1,15}$/.test(record.runId) ? Number(record.runId) : record.runId },
  };
}

/** GitHub writes timestamps without milliseconds. */
function githubTime(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z');
}
