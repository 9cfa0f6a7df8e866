/**
 * The runtime-token helpers the CLI needs to pick a protocol for `--url` (the client layer's face
 * of them, so the CLI does not reach into backends): what run and job a token names, and a
 * made-up token for a server that checks none.
 */
export { mintRuntimeToken } from './backends/local/local-store.js';
export { backendIdsFromToken } from './backends/results/token.js';
