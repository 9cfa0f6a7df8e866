import type { ProtocolModule } from '../route.js';
import { blobRoutes } from './blob-routes.js';
import type { ResultsService } from './service.js';
import { twirpRoutes } from './twirp-routes.js';

/**
 * The v4 "results" protocol used by `@actions/artifact` >= 2 (upload/download-artifact v4+):
 * Twirp JSON RPCs at `/twirp/…` plus the Azure Block Blob subset behind the signed URLs they
 * hand out, filesystem-backed under `<dataDir>/results`.
 */
export function createResultsProtocol(service: ResultsService): ProtocolModule {
  return {
    name: 'results',
    routes: [...twirpRoutes(service), ...blobRoutes(service)],
    close: async () => service.index.close(),
  };
}
