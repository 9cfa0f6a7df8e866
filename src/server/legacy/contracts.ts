import type { ArtifactRecord } from './artifact-store.js';
import type { ItemRecord } from './container-items.js';

/**
 * JSON shapes of the v1 (pipelines / file container) API, as the official `@actions/artifact`
 * 1.1.x client reads them (TK1 contracts.ts). Field names and casing must not change.
 */
export interface ArtifactResponse {
  containerId: number;
  size: number;
  signedContent: string | null;
  fileContainerResourceUrl: string;
  type: 'actions_storage';
  name: string;
  url: string;
}

export interface PatchArtifactSizeResponse extends ArtifactResponse {
  uploadUrl: string;
}

export interface ContainerEntry {
  containerId: number;
  scopeIdentifier: string;
  path: string;
  itemType: 'file' | 'folder';
  status: 'created';
  fileLength?: number;
  fileEncoding?: number;
  fileType?: number;
  dateCreated: string;
  dateLastModified: string;
  createdBy: string;
  lastModifiedBy: string;
  itemLocation: string;
  contentLocation?: string;
  contentId: string;
}

export interface ListResponse<T> {
  count: number;
  value: T[];
}

// The service reports these identities; clients never look at them. A fixed all-zero GUID says
// "local server" plainly instead of inventing one.
const NIL_GUID = '00000000-0000-0000-0000-000000000000';

export function containerUrl(baseUrl: string, containerId: number): string {
  return `${baseUrl}_apis/resources/Containers/${containerId}`;
}

/**
 * URL of one item. Built with URLSearchParams (form encoding), the same way the client builds its
 * own, so spaces, `#`, `%`, `+` and non-ASCII names survive the round trip. Concatenating the raw
 * path (as act does) breaks on `#`, `%` and `?`.
 */
export function itemUrl(baseUrl: string, containerId: number, itemPath: string): string {
  return `${containerUrl(baseUrl, containerId)}?${new URLSearchParams({ itemPath }).toString()}`;
}

export function artifactResponse(baseUrl: string, record: ArtifactRecord): ArtifactResponse {
  const query = new URLSearchParams({ artifactName: record.name }).toString();
  return {
    containerId: record.containerId,
    size: record.size,
    signedContent: null,
    fileContainerResourceUrl: containerUrl(baseUrl, record.containerId),
    type: 'actions_storage',
    name: record.name,
    url: `${baseUrl}_apis/pipelines/workflows/${encodeURIComponent(record.runId)}/artifacts?${query}`,
  };
}

export function fileEntry(baseUrl: string, containerId: number, item: ItemRecord): ContainerEntry {
  const location = itemUrl(baseUrl, containerId, item.path);
  const entry: ContainerEntry = {
    containerId,
    scopeIdentifier: NIL_GUID,
    path: item.path,
    itemType: 'file',
    status: 'created',
    dateCreated: item.createdAt,
    dateLastModified: item.updatedAt,
    createdBy: NIL_GUID,
    lastModifiedBy: NIL_GUID,
    itemLocation: location,
    contentLocation: location,
    contentId: '',
  };
  const length = originalLength(item);
  // The client creates a file with no GET when fileLength === 0, so only report a length we
  // actually know; a missing one just makes the client download the bytes.
  if (length !== undefined) entry.fileLength = length;
  return entry;
}

export function folderEntry(
  baseUrl: string,
  containerId: number,
  path: string,
  dates: { createdAt: string },
): ContainerEntry {
  return {
    containerId,
    scopeIdentifier: NIL_GUID,
    path,
    itemType: 'folder',
    status: 'created',
    dateCreated: dates.createdAt,
    dateLastModified: dates.createdAt,
    createdBy: NIL_GUID,
    lastModifiedBy: NIL_GUID,
    itemLocation: itemUrl(baseUrl, containerId, path),
    contentId: '',
  };
}

/**
 * The uncompressed size. For raw items it is the stored size. For gzip items it is
 * `x-tfs-filelength`, except that the official client sends 0 for named pipes (FIFOs) whose
 * gzip body is not empty: that 0 means "unknown", and reporting it would make the client skip the
 * download and create an empty file.
 */
export function originalLength(item: ItemRecord): number | undefined {
  if (!item.gzip) return item.total;
  if (item.fileLength === null) return undefined;
  if (item.fileLength === 0 && item.total > 0) return undefined;
  return item.fileLength;
}
