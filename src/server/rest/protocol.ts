import type { Authenticator } from '../http/auth.js';
import type { ProtocolModule } from '../route.js';
import type { ResultsService } from '../results/service.js';
import type { RunRegistry } from './run-registry.js';
import { restRoutes } from './routes.js';

/** GitHub's public REST API for artifacts, backed by the results protocol's store. */
export function createRestProtocol(
  service: ResultsService,
  runs: RunRegistry,
  authenticate: Authenticator,
): ProtocolModule {
  return { name: 'rest', routes: restRoutes(service, runs, authenticate) };
}
