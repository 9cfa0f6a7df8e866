import { DEFAULT_LIMITS, type ServerLimits } from '../http/limits.js';
import type { ListingWiring } from '../listing/listing-index.js';
import { filesystemProbe } from '../observe/fs-probe.js';
import { ArtifactIndex } from './artifact-index.js';
import { BlobStore } from './blob-store.js';
import { blobRoutes } from './blob-routes.js';
import { ResultsLayout } from './layout.js';
import { UrlSigner } from './signer.js';
import type { ResultsStore } from './store.js';

/** Default lifetime of signed blob URLs: longer than any realistic upload (C2 v4.11). */
export const DEFAULT_SIGNED_URL_TTL_MS = 6 * 60 * 60 * 1000;

/** The state behind the results protocol, shared by its Twirp, blob and REST routes. */
export interface ResultsService {
  store: ResultsStore;
  limits: ServerLimits;
}

/** The filesystem store's parts, as its own blob routes use them. */
export interface FilesystemResults {
  index: ArtifactIndex;
  blobs: BlobStore;
  signer: UrlSigner;
  limits: ServerLimits;
}

export interface ResultsServiceOptions {
  /** Lifetime of signed upload and download URLs; default 6 h. */
  signedUrlTtlMs?: number | undefined;
  /** Size and count limits; default DEFAULT_LIMITS. */
  limits?: ServerLimits | undefined;
  /** Lifetime, clock and reporting of the listing index. */
  listing?: ListingWiring | undefined;
}

/** Checks and defaults the signed-URL lifetime, for every store. */
export function signedUrlTtl(options: ResultsServiceOptions): number {
  const ttl = options.signedUrlTtlMs ?? DEFAULT_SIGNED_URL_TTL_MS;
  if (!Number.isFinite(ttl) || ttl <= 0) {
    throw new RangeError(`signedUrlTtlMs must be a positive number of milliseconds, got ${ttl}`);
  }
  return ttl;
}

/** Opens (or creates) the filesystem results store under `<dataDir>/results`. */
export async function openResultsService(
  dataDir: string,
  options: ResultsServiceOptions = {},
): Promise<ResultsService> {
  const ttl = signedUrlTtl(options);
  const limits = options.limits ?? DEFAULT_LIMITS;
  const layout = new ResultsLayout(dataDir);
  const blobs = await BlobStore.open(layout, limits);
  const index = await ArtifactIndex.open(layout, blobs, {
    limits,
    ...(options.listing ? { listing: options.listing } : {}),
  });
  const signer = await UrlSigner.open(layout.keyFile, ttl);
  const parts: FilesystemResults = { index, blobs, signer, limits };
  const store: ResultsStore = {
    kind: 'filesystem',
    records: index,
    blobs: {
      uploadUrl: (baseUrl, record) => signer.sign(baseUrl, record.blobId, 'cw'),
      downloadUrl: (baseUrl, record) => signer.sign(baseUrl, record.blobId, 'r'),
      routes: blobRoutes(parts),
    },
    probe: filesystemProbe(dataDir),
  };
  return { store, limits };
}
