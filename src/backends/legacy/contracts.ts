/** Wire shapes of the pipelines file-container protocol (protocol.md A2). */

export const API_VERSION = '6.0-preview';
export const UPLOAD_USER_AGENT = '@actions/artifact-upload';
export const DOWNLOAD_USER_AGENT = '@actions/artifact-download';

export interface ArtifactResponse {
  containerId: string | number;
  size: number;
  signedContent?: string | null;
  fileContainerResourceUrl: string;
  type: string;
  name: string;
  url: string;
}

export interface ListArtifactsResponse {
  count: number;
  value: ArtifactResponse[];
}

export interface ContainerEntry {
  path: string;
  itemType: 'file' | 'folder' | string;
  fileLength?: number;
  contentLocation: string;
}

export interface ContainerItemsResponse {
  count: number;
  value: ContainerEntry[];
}

export interface LegacyConfig {
  /** ACTIONS_RUNTIME_URL; a missing trailing slash is added. */
  runtimeUrl: string;
  /** ACTIONS_RUNTIME_TOKEN; sent as a bearer token on every request, as the official client does. */
  token: string | undefined;
  /** GITHUB_RUN_ID. */
  runId: string;
  /**
   * Origins besides the runtime URL's that may receive the token when the service points
   * container or item URLs at them (option trustedOrigins); normalised `scheme://host[:port]`.
   */
  trustedOrigins?: readonly string[] | undefined;
}
