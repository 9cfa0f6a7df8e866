/**
 * msw for the protocol tests. Interception of `http.request` under jest's ESM mode relies on
 * the forwarders installed by `live-builtins.cjs` (see jest.config.js setupFiles).
 */
export { http, HttpResponse } from 'msw';
export { setupServer } from 'msw/node';
