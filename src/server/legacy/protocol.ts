import type { ServerLimits } from '../http/limits.js';
import type { ListingWiring } from '../listing/listing-index.js';
import type { ProtocolModule } from '../route.js';
import { ArtifactStore } from './artifact-store.js';
import { artifactRoutes } from './artifact-routes.js';
import { containerRoutes } from './container-routes.js';
import { LegacyLayout } from './layout.js';

/**
 * The v1 "pipelines / file container" protocol used by `@actions/artifact` <= 1.1.x
 * (upload/download-artifact v1-v3), filesystem-backed under `<dataDir>/legacy`.
 */
export async function openLegacyStore(
  dataDir: string,
  limits: ServerLimits,
  listing?: ListingWiring,
): Promise<ArtifactStore> {
  return ArtifactStore.open(new LegacyLayout(dataDir), { limits, ...(listing ? { listing } : {}) });
}

export function createLegacyProtocol(store: ArtifactStore): ProtocolModule {
  return {
    name: 'legacy',
    routes: [...artifactRoutes(store), ...containerRoutes(store)],
    close: () => store.close(),
  };
}
