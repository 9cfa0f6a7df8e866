import type { HttpManager } from '../transport/http-manager.js';
import type { Operation } from '../transport/operation.js';
import type { Logger, ProgressCallback } from '../types.js';

/** One file to upload: where it is on disk and its path inside the artifact ('/'-separated). */
export interface UploadFile {
  absolutePath: string;
  artifactPath: string;
}

/** What a backend reports about a stored artifact. */
export interface ArtifactInfo {
  name: string;
  /** Backend id when the protocol has one (results); legacy uses the container id. */
  id: number | undefined;
  /** Size in bytes as the server reports it (legacy: sum of original file sizes). */
  size: number;
  createdAt: string | undefined;
  digest: string | undefined;
}

export interface UploadResult {
  id: number | undefined;
  /** Bytes sent over the wire (compressed where compression was used). */
  uploadedBytes: number;
  /** Sum of the original file sizes. */
  size: number;
  fileCount: number;
  digest: string | undefined;
}

export interface DownloadResult {
  downloadPath: string;
  fileCount: number;
  /** Bytes written to disk. */
  size: number;
}

/** Everything one public operation hands a backend: its HTTP slots, shared fate, logger and progress sink. */
export interface OperationContext {
  http: HttpManager;
  operation: Operation;
  logger: Logger;
  onProgress: ProgressCallback | undefined;
}

export interface UploadSpec {
  name: string;
  files: UploadFile[];
  retentionDays: number | undefined;
  compressionLevel: number;
  chunkSize: number;
  tempDir: string;
}

export interface DownloadSpec {
  name: string;
  targetDirectory: string;
}

/** The protocol seam: legacy file containers and results/Twirp implement the same calls. */
export interface Backend {
  readonly kind: 'legacy' | 'results';
  upload(spec: UploadSpec, ctx: OperationContext): Promise<UploadResult>;
  download(spec: DownloadSpec, ctx: OperationContext): Promise<DownloadResult>;
  list(ctx: OperationContext): Promise<ArtifactInfo[]>;
  get(name: string, ctx: OperationContext): Promise<ArtifactInfo>;
}
