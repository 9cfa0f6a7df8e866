import { ErrorResponse } from '../http/error-response.js';
import type { ProtocolModule } from '../route.js';
import { ANY_METHOD } from '../server.js';

/**
 * The legacy (v1, `@actions/artifact` <= 1.1.x) routes on a store that does not hold legacy
 * artifacts (azure_blob): a clear 501 naming the store, rather than a 404 a client would
 * take for "no such artifact".
 */
export function refuseLegacyProtocol(storeKind: string): ProtocolModule {
  return {
    name: 'legacy',
    routes: [
      {
        method: ANY_METHOD,
        pattern: /^\/_apis\/(?:pipelines|resources)(?:\/.*)?$/i,
        handler: () => {
          throw new ErrorResponse(
            501,
            `the legacy artifact protocol (actions/upload-artifact v1-v3) is not served on a ${storeKind} store; use upload/download-artifact v4 or a filesystem store (docs/serve.md)`,
          );
        },
      },
    ],
  };
}
