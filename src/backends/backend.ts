import type { FerryError } from '../core/errors.js';
import type { ConflictPolicy } from '../pack/conflict.js';
import type { SecretScanner } from '../pack/secret-scan.js';
import type { ExtractLimits } from '../pack/zip/limits.js';
import type { ZipInput } from '../pack/zip-writer/index.js';
import type { HttpManager } from '../transport/http-manager.js';
import type { Operation } from '../transport/operation.js';
import type { Logger, ProgressCallback } from '../core/types.js';
import type { OperationStats, StatsCollector } from '../core/stats.js';
import type { VerifiedCache } from '../cache/index.js';

/** One file to upload: where it is on disk and its path inside the artifact ('/'-separated). */
export interface UploadFile {
  absolutePath: string;
  artifactPath: string;
  /** Size and permission bits from the stat taken when the file list was resolved. */
  size: number;
  mode: number;
  /** Set when the file is a symlink to keep as a link: its target, relative, inside the root. */
  symlinkTarget?: string;
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
  /** Counters and timings of the operation (see OperationStats). */
  stats?: OperationStats;
  /** Bytes sent over the wire (compressed where compression was used). */
  uploadedBytes: number;
  /** Sum of the original file sizes. */
  size: number;
  fileCount: number;
  digest: string | undefined;
}

export interface DownloadResult {
  /** Counters and timings of the operation (see OperationStats). */
  stats?: OperationStats;
  downloadPath: string;
  fileCount: number;
  /** Bytes written to disk. */
  size: number;
  /** `sha256:<hex>` of the downloaded bytes, when the protocol has one. */
  digest?: string | undefined;
  /**
   * Only with `verifyDigest: false`: true when the downloaded bytes did not hash to the digest the
   * service listed (`digest` is then what they hash to, `expectedDigest` what was listed).
   */
  digestMismatch?: boolean;
  /** The digest the service listed, set when `digestMismatch` is true. */
  expectedDigest?: string;
}

/** Everything one public operation hands a backend: its HTTP slots, shared fate, logger and progress sink. */
export interface OperationContext {
  http: HttpManager;
  operation: Operation;
  logger: Logger;
  onProgress: ProgressCallback | undefined;
  /** The operation's counters (the transport feeds them through its HttpManagers too). */
  stats?: StatsCollector | undefined;
  /** The verified download cache, when one is configured (see results/cached-download.ts). */
  cache?: VerifiedCache | undefined;
}

export interface UploadSpec {
  name: string;
  files: UploadFile[];
  /** Directories (artifact paths) to record as empty directory entries (results protocol). */
  emptyDirectories?: string[];
  /** Results protocol: false uploads the single file as-is, named after the file. @default true */
  archive?: boolean;
  /** Delete an existing artifact of the uploaded name first. @default false */
  overwrite?: boolean;
  /** `false` normalises stored modes to 0644/0755. @default true */
  preservePermissions?: boolean;
  retentionDays: number | undefined;
  compressionLevel: number;
  chunkSize: number;
  tempDir: string;
  /** Refuses files that contain a token Ferry was given (see allowSecretsInFiles); unset: no scan. */
  secretScan?: SecretScanner | undefined;
}

export interface DownloadSpec {
  name: string;
  /** Download this artifact id rather than the newest artifact called `name` (results protocol). */
  id?: number | undefined;
  targetDirectory: string;
  /** Keep a zip as downloaded instead of extracting it. @default false */
  skipDecompress?: boolean;
  /** Symlink entries in the archive: refuse, write as files holding the link text, or create them when they stay inside the target. @default 'refuse' */
  symlinks?: 'refuse' | 'file' | 'preserve';
  /** Give extracted files their archive permission bits (under the umask). @default true */
  restoreModes?: boolean;
  /** Zip-bomb limits for extracting a zip artifact; unset fields keep their defaults. */
  limits?: Partial<ExtractLimits> | undefined;
  /** A file that already exists in the target (see {@link ConflictPolicy}). @default 'overwrite' */
  conflict?: ConflictPolicy;
  /**
   * Check the downloaded bytes against the listed digest before writing anything. `false` still
   * computes the digest but, on a mismatch, writes the data and reports `digestMismatch: true`.
   * @default true
   */
  verifyDigest?: boolean;
  /**
   * Awaited after the artifact has been downloaded and verified, just before anything is written
   * to the target (downloadArtifacts uses it to apply artifacts sharing a target in a fixed order).
   */
  beforeWrite?: () => Promise<void>;
}

/** A downloaded artifact blob in a temporary directory, its digest checked (see {@link Backend.downloadVerified}). */
export interface VerifiedBlob {
  /** The temporary file holding the bytes. */
  file: string;
  size: number;
  /** Hex SHA-256 of the bytes. */
  sha256: string;
  contentType: string | undefined;
  contentDisposition: string | undefined;
  /** Only when verification was off: the bytes do not hash to the listed digest. */
  digestMismatch: boolean;
  /** The listed digest (hex), when the service listed one. */
  expectedHex: string | undefined;
  /** Removes the temporary directory; safe to call more than once. */
  dispose(): Promise<void>;
}

/** Options of {@link Backend.uploadStream}. */
export interface StreamUploadOptions {
  retentionDays: number | undefined;
  compressionLevel: number;
  overwrite?: boolean;
}

/**
 * The seam every way of reaching artifacts implements: legacy file containers, results/Twirp
 * (github.com and the local store), and REST for another run's artifacts (`findBy`). The
 * optional members are capabilities some protocols lack; {@link wholeArtifacts} checks them.
 */
export interface Backend {
  readonly kind: 'legacy' | 'results' | 'rest';
  upload(spec: UploadSpec, ctx: OperationContext): Promise<UploadResult>;
  download(spec: DownloadSpec, ctx: OperationContext): Promise<DownloadResult>;
  /** `latest` keeps only the newest artifact of each name (re-runs can produce several). */
  list(ctx: OperationContext, options?: { latest?: boolean }): Promise<ArtifactInfo[]>;
  get(name: string, ctx: OperationContext): Promise<ArtifactInfo>;
  /** Deletes the artifact and returns its id; legacy has no delete and throws ERR_FERRY_CONFIG. */
  delete(name: string, ctx: OperationContext): Promise<number | undefined>;
  /**
   * Capability (results): downloads artifact `name` (or id `id`) whole, as one blob, to a
   * temporary file and verifies its digest, without extracting it. The caller disposes of it.
   */
  downloadVerified?(
    spec: { name: string; id?: number | undefined },
    ctx: OperationContext,
  ): Promise<VerifiedBlob>;
  /**
   * Capability (results): uploads a zip of `inputs` (files, directories, links, and entries
   * streamed out of other zips) as artifact `name`. The inputs are validated before anything
   * is created.
   */
  uploadStream?(
    name: string,
    inputs: readonly ZipInput[],
    options: StreamUploadOptions,
    ctx: OperationContext,
  ): Promise<UploadResult>;
  /**
   * Capability (results): the origin of the host that stores the bytes, which only a signed URL
   * names (doctor probes it); undefined when the run has no artifact to sign a URL for.
   */
  storageOrigin?(ctx: OperationContext): Promise<string | undefined>;
}

/** A backend that can read and write whole artifacts (what merge needs). */
export type WholeArtifactBackend = Backend & Required<Pick<Backend, 'downloadVerified' | 'uploadStream'>>;

/**
 * The backend with its whole-artifact capability checked; `refuse` builds the typed error for a
 * backend without it (the caller knows what was asked and what to do instead).
 */
export function wholeArtifacts(backend: Backend, refuse: () => FerryError): WholeArtifactBackend {
  if (backend.downloadVerified === undefined || backend.uploadStream === undefined) throw refuse();
  return backend as WholeArtifactBackend;
}
