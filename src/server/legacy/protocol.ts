import type { ServerLimits } from '../http/limits.js';
import type { ListingWiring } from '../listing/listing-index.js';
import type { CachedRead } from '../results/fast-slow/fast-slow-store.js';
import type { ProtocolModule } from '../route.js';
import { ArtifactStore } from './artifact-store.js';
import { artifactRoutes } from './artifact-routes.js';
import { containerRoutes } from './container-routes.js';
import { LegacyLayout } from './layout.js';
import type { LegacyStore } from './store.js';

/**
 * The v1 "pipelines / file container" protocol used by `@actions/artifact` <= 1.1.x
 * (upload/download-artifact v1-v3). `openLegacyStore` is the filesystem store under
 * `<dataDir>/legacy`; the azure_blob one is opened by openAzureLegacyStore.
 */
export async function openLegacyStore(
  dataDir: string,
  limits: ServerLimits,
  listing?: ListingWiring,
): Promise<ArtifactStore> {
  return ArtifactStore.open(new LegacyLayout(dataDir), { limits, ...(listing ? { listing } : {}) });
}

/** `fastRead`: a fast_slow store's fast store, which file downloads read through. */
export function createLegacyProtocol(store: LegacyStore, fastRead?: CachedRead): ProtocolModule {
  return {
    name: 'legacy',
    routes: [...artifactRoutes(store), ...containerRoutes(store, fastRead)],
    close: () => store.close(),
  };
}
