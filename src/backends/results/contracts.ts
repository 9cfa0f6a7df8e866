/** Wire shapes of the results service (Twirp JSON, protocol.md B2.2). Requests use proto field names. */

export const TWIRP_SERVICE = 'github.actions.results.api.v1.ArtifactService';
/** CreateArtifact version: 7 is what @actions/artifact ≥ 6.2.0 sends (and what enables raw uploads). */
export const ARTIFACT_VERSION = 7;
export const RESULTS_USER_AGENT = '@actions/artifact-6.2.1';

export interface BackendIds {
  workflowRunBackendId: string;
  workflowJobRunBackendId: string;
}

export interface ResultsConfig {
  /** ACTIONS_RESULTS_URL; only its origin is used, as the official client does. */
  resultsUrl: string;
  /** ACTIONS_RUNTIME_TOKEN: a JWT whose `scp` claim carries `Actions.Results:<run>:<job>`. */
  token: string;
  ids: BackendIds;
}

export interface CreateArtifactResponse {
  ok?: boolean;
  signed_upload_url?: string;
  signedUploadUrl?: string;
}

export interface FinalizeArtifactResponse {
  ok?: boolean;
  artifact_id?: string | number;
  artifactId?: string | number;
}

export interface MonolithArtifact {
  workflow_run_backend_id?: string;
  workflowRunBackendId?: string;
  workflow_job_run_backend_id?: string;
  workflowJobRunBackendId?: string;
  database_id?: string | number;
  databaseId?: string | number;
  name: string;
  size?: string | number;
  created_at?: string;
  createdAt?: string;
  digest?: string;
}

export interface ListArtifactsResponse {
  artifacts?: MonolithArtifact[] | null;
}

export interface GetSignedArtifactUrlResponse {
  signed_url?: string;
  signedUrl?: string;
}

export interface DeleteArtifactResponse {
  ok?: boolean;
  artifact_id?: string | number;
  artifactId?: string | number;
}
