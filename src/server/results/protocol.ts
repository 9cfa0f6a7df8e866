import type { ProtocolModule } from '../route.js';
import type { ResultsService } from './service.js';
import { twirpRoutes } from './twirp-routes.js';

/**
 * The v4 "results" protocol used by `@actions/artifact` >= 2 (upload/download-artifact v4+):
 * Twirp JSON RPCs at `/twirp/…` plus, for a store whose blobs this server serves (filesystem),
 * the Azure Block Blob subset behind the signed URLs they hand out.
 */
export function createResultsProtocol(service: ResultsService): ProtocolModule {
  return {
    name: 'results',
    routes: [...twirpRoutes(service), ...service.store.blobs.routes],
    close: async () => service.store.records.close(),
  };
}
