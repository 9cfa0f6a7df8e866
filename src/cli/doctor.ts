import { backendIdsFromToken } from '../backends/results/token.js';
import { chooseBackend } from '../client.js';
import { isFerryError } from '../errors.js';
import { normalizeOptions, type ArtifactClientOptions } from '../options.js';
import { discardBody } from '../transport/body.js';
import { HttpManager } from '../transport/http-manager.js';
import { describeProxyDecision } from '../transport/proxy.js';
import { urlWithoutQuery } from '../transport/redact.js';

export interface DoctorCheck {
  name: string;
  ok: boolean;
  /** One line: what was found, or what is wrong and what to do. */
  detail: string;
}

/**
 * Explains the environment Ferry sees: which protocol it will use and why, what the token
 * allows, and whether each endpoint answers through the configured proxy. Nothing is uploaded.
 */
export async function runDoctor(options: ArtifactClientOptions): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  let opts;
  try {
    opts = normalizeOptions({ ...options, logger: undefined as never, onProgress: undefined as never });
  } catch (error: unknown) {
    return [{ name: 'configuration', ok: false, detail: (error as Error).message }];
  }
  const ids = backendIdsFromToken(opts.runtimeToken);
  let protocol: string;
  try {
    protocol = chooseBackend(opts);
  } catch (error: unknown) {
    return [{ name: 'protocol', ok: false, detail: (error as Error).message }];
  }
  const why =
    protocol === 'results'
      ? 'ACTIONS_RESULTS_URL is set and the runtime token has an Actions.Results scope'
      : protocol === 'legacy'
        ? opts.resultsUrl
          ? 'ACTIONS_RUNTIME_URL is set; ACTIONS_RESULTS_URL is set but the token has no Actions.Results scope'
          : 'ACTIONS_RUNTIME_URL is set and ACTIONS_RESULTS_URL is not'
        : `no runner environment: the embedded local store in ${opts.localStore}`;
  checks.push({ name: 'protocol', ok: true, detail: `${protocol} (${why})` });

  if (protocol !== 'local') {
    if (!opts.runtimeToken) {
      checks.push({
        name: 'token',
        ok: false,
        detail: 'ACTIONS_RUNTIME_TOKEN is not set: the service will answer 401',
      });
    } else if (ids) {
      checks.push({
        name: 'token',
        ok: true,
        detail: `runtime token scoped to run ${ids.workflowRunBackendId}, job ${ids.workflowJobRunBackendId}`,
      });
    } else {
      checks.push({
        name: 'token',
        ok: protocol === 'legacy',
        detail:
          protocol === 'legacy'
            ? 'runtime token present (opaque; the legacy protocol does not read it)'
            : 'the runtime token has no Actions.Results:<run>:<job> scope',
      });
    }
    if (protocol === 'legacy' && !opts.runId) {
      checks.push({
        name: 'run id',
        ok: false,
        detail: 'GITHUB_RUN_ID is not set: artifacts are addressed by run',
      });
    }
  }

  const endpoints: Array<[string, string | undefined]> =
    protocol === 'results'
      ? [['results service', opts.resultsUrl]]
      : protocol === 'legacy'
        ? [['runtime service', opts.runtimeUrl]]
        : [];
  for (const [name, url] of endpoints) {
    if (!url) continue;
    checks.push(await reach(name, new URL(url), opts));
  }
  return checks;
}

async function reach(
  name: string,
  url: URL,
  opts: ReturnType<typeof normalizeOptions>,
): Promise<DoctorCheck> {
  const route = describeProxyDecision(url, opts.proxy);
  const http = new HttpManager({
    slots: 1,
    userAgent: 'ferry-doctor',
    proxy: opts.proxy,
    socketTimeoutMs: 10_000,
    retry: { maxAttempts: 1 },
  });
  try {
    // Any HTTP answer, even 401 or 404, proves the endpoint is reachable along this route.
    const status = await http.request(
      {
        slot: 0,
        method: 'GET',
        url: url.origin + '/',
        okStatuses: Array.from({ length: 500 }, (_, i) => i + 100),
      },
      async (res) => {
        await discardBody(res);
        return res.statusCode ?? 0;
      },
    );
    return { name, ok: true, detail: `${urlWithoutQuery(url.origin)} answered HTTP ${status}, ${route}` };
  } catch (error: unknown) {
    const reason = isFerryError(error) ? error.message : String(error);
    return { name, ok: false, detail: `${urlWithoutQuery(url.origin)} unreachable ${route}: ${reason}` };
  } finally {
    http.dispose();
  }
}
