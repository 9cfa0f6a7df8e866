import type { BackendIds } from './backends/results/contracts.js';
import { backendIdsFromToken } from './backends/results/token.js';
import { withBackend } from './client.js';
import type { NormalizedOptions } from './options.js';
import { discardBody } from './transport/body.js';
import { HttpManager } from './transport/http-manager.js';

/**
 * What `ferry doctor` asks of the network, answered by the client layer so that the CLI builds
 * no HTTP or Twirp client of its own. Every probe has one connection, one attempt and ten
 * seconds: doctor reports what it finds and never waits on retries.
 */
const PROBE = { concurrency: 1, timeoutMs: 10_000, retry: { maxAttempts: 1 } } as const;

/** The run and job a runtime token is scoped to (its Actions.Results scope), if it has one. */
export function runtimeTokenScope(token: string | undefined): BackendIds | undefined {
  return backendIdsFromToken(token);
}

/**
 * GETs `origin`/ along the route the options give it; any HTTP answer, even 401 or 404, proves
 * the endpoint is reachable. Resolves with the status, rejects with why it is not reachable.
 */
export async function probeOrigin(origin: URL, opts: NormalizedOptions): Promise<number> {
  const http = new HttpManager({
    slots: 1,
    userAgent: 'ferry-doctor',
    proxy: opts.proxy,
    socketTimeoutMs: PROBE.timeoutMs,
    retry: PROBE.retry,
  });
  try {
    return await http.request(
      {
        slot: 0,
        method: 'GET',
        url: origin.origin + '/',
        okStatuses: Array.from({ length: 500 }, (_, i) => i + 100),
      },
      async (res) => {
        await discardBody(res);
        return res.statusCode ?? 0;
      },
    );
  } finally {
    http.dispose();
  }
}

/**
 * The storage host's origin, learned from the chosen backend (results: a signed URL for the
 * run's first artifact, two read-only calls); undefined when the backend cannot name one or the
 * run has no artifact yet.
 */
export function storageOrigin(opts: NormalizedOptions): Promise<string | undefined> {
  return withBackend('doctor', { ...opts, ...PROBE }, (backend, ctx) =>
    backend.storageOrigin ? backend.storageOrigin(ctx) : Promise.resolve(undefined),
  );
}
