import { FerryError, isFerryError } from './core/errors.js';
import { readBody } from './transport/body.js';
import { HttpManager } from './transport/http-manager.js';
import type { ProxySettings } from './transport/proxy.js';
import { urlWithoutQuery } from './core/redact.js';

/** What `--url` turned out to be. */
export interface ProbeResult {
  protocol: 'results' | 'legacy';
  /** One line for `ferry doctor`: what the server answered. */
  reason: string;
}

/** One request, this long at most: a probe must never cost what a transfer costs. */
export const PROBE_TIMEOUT_MS = 5_000;
/** The answer is read up to this many bytes: enough for a Twirp listing's first artifacts. */
const PROBE_BODY_LIMIT = 64 * 1024;

const LIST_ARTIFACTS = 'twirp/github.actions.results.api.v1.ArtifactService/ListArtifacts';

/**
 * Asks the server at `url` whether it speaks the results protocol, with one read-only Twirp
 * call (ListArtifacts of the run the token names), one attempt, {@link PROBE_TIMEOUT_MS}. A
 * Twirp answer (a listing, or a Twirp error body) means results; anything else (404 from a
 * server that only has the legacy `_apis` routes, an HTML page) means legacy. A 401/403 says
 * nothing about the protocol, so it fails here naming the token, and an unreachable server
 * fails here too, before any upload starts.
 */
export async function probeProtocol(
  url: string,
  request: { token: string; runId: string; jobId: string; proxy: ProxySettings },
): Promise<ProbeResult> {
  const origin = new URL(url).origin;
  const endpoint = `${origin}/${LIST_ARTIFACTS}`;
  const http = new HttpManager({
    slots: 1,
    userAgent: 'ferry-probe',
    proxy: request.proxy,
    socketTimeoutMs: PROBE_TIMEOUT_MS,
    retry: { maxAttempts: 1 },
  });
  const abort = AbortSignal.timeout(PROBE_TIMEOUT_MS);
  try {
    const answer = await http.request(
      {
        slot: 0,
        method: 'POST',
        url: endpoint,
        bearer: request.token,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          workflow_run_backend_id: request.runId,
          workflow_job_run_backend_id: request.jobId,
        }),
        signal: abort,
        okStatuses: Array.from({ length: 500 }, (_, i) => i + 100),
        context: { operation: 'probe' },
      },
      async (res) => ({
        status: res.statusCode ?? 0,
        body: (await readBody(res, PROBE_BODY_LIMIT)).toString('utf8'),
      }),
    );
    return classify(answer.status, answer.body, origin);
  } catch (error: unknown) {
    if (isFerryError(error) && error.code === 'ERR_FERRY_UNAUTHORIZED') throw error;
    throw new FerryError(
      'ERR_FERRY_NETWORK',
      `Could not reach ${urlWithoutQuery(origin)} to find out which protocol it speaks: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error, context: { operation: 'probe' } },
    );
  } finally {
    http.dispose();
  }
}

function classify(status: number, body: string, origin: string): ProbeResult {
  const where = urlWithoutQuery(origin);
  if (status === 401 || status === 403) {
    throw new FerryError(
      'ERR_FERRY_UNAUTHORIZED',
      `${where} refused the token (HTTP ${status}); pass the server's token with --token or FERRY_TOKEN`,
      { context: { operation: 'probe', status } },
    );
  }
  const parsed = parseJson(body);
  if (status === 200 && Array.isArray(parsed?.['artifacts'])) {
    return { protocol: 'results', reason: `${where} answered the results ListArtifacts call` };
  }
  if (typeof parsed?.['code'] === 'string' && typeof parsed['msg'] === 'string') {
    return {
      protocol: 'results',
      reason: `${where} answered the results ListArtifacts call with a Twirp error (${parsed['code']})`,
    };
  }
  return {
    protocol: 'legacy',
    reason: `${where} does not speak the results protocol (ListArtifacts answered HTTP ${status})`,
  };
}

function parseJson(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
