import type { StartStoreServer } from './backends/local/local-store.js';
import { startServer } from './server/index.js';

/**
 * The one place below the entry points that reaches into src/server/: the embedded local store
 * (backends/local/local-store.ts) is `ferry serve` started in-process, and the client hands it
 * this function so that backends never import the server.
 */
export const startEmbeddedStore: StartStoreServer = (options) => startServer(options);
