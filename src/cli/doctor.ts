import { chooseBackend } from '../client.js';
import { isFerryError } from '../core/errors.js';
import { probeOrigin, runtimeTokenScope, storageOrigin } from '../diagnose.js';
import { normalizeOptions, type ArtifactClientOptions } from '../options.js';
import { describeProxyDecision } from '../index.js';
import { urlWithoutQuery } from '../core/redact.js';

/** Endpoints doctor cannot learn from the artifact options. */
export interface DoctorEndpoints {
  /**
   * GITHUB_API_URL: the REST API used to read other runs' artifacts (`--repository`,
   * `github-token`). When given it is probed; otherwise the route to https://api.github.com is
   * only described (no request leaves the machine for a default nobody configured).
   */
  apiUrl?: string | undefined;
  /**
   * Why the protocol was chosen, when the CLI chose it (`--url`: what the probe of the server
   * found, or `--protocol`); otherwise doctor explains it from the environment.
   */
  protocolReason?: string | undefined;
}

const DEFAULT_API_URL = 'https://api.github.com/';

export interface DoctorCheck {
  name: string;
  ok: boolean;
  /** One line: what was found, or what is wrong and what to do. */
  detail: string;
}

/**
 * Explains the environment Ferry sees: which protocol it will use and why, what the token
 * allows, and for each endpoint (results RPC or legacy runtime service, blob storage, REST API)
 * whether it answers and by which route: direct or via which proxy (password shown as `***`),
 * and which NO_PROXY entry matched. Nothing is uploaded.
 */
export async function runDoctor(
  options: ArtifactClientOptions,
  extra: DoctorEndpoints = {},
): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  let opts;
  try {
    opts = normalizeOptions({ ...options, logger: undefined as never, onProgress: undefined as never });
  } catch (error: unknown) {
    return [{ name: 'configuration', ok: false, detail: (error as Error).message }];
  }
  const ids = runtimeTokenScope(opts.runtimeToken);
  let protocol: string;
  try {
    protocol = chooseBackend(opts);
  } catch (error: unknown) {
    return [{ name: 'protocol', ok: false, detail: (error as Error).message }];
  }
  const why =
    extra.protocolReason ??
    (protocol === 'results'
      ? 'ACTIONS_RESULTS_URL is set and the runtime token has an Actions.Results scope'
      : protocol === 'legacy'
        ? opts.resultsUrl
          ? 'ACTIONS_RUNTIME_URL is set; ACTIONS_RESULTS_URL is set but the token has no Actions.Results scope'
          : 'ACTIONS_RUNTIME_URL is set and ACTIONS_RESULTS_URL is not'
        : `no runner environment: the embedded local store in ${opts.localStore}`);
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
  if (protocol === 'results' && opts.resultsUrl && opts.runtimeToken && ids) {
    checks.push(await blobStorage(opts));
  }
  if (extra.apiUrl) {
    checks.push(await reach('REST API', new URL(extra.apiUrl), opts));
  } else if (protocol !== 'local') {
    const url = new URL(DEFAULT_API_URL);
    checks.push({
      name: 'REST API',
      ok: true,
      detail: `${url.origin} (GITHUB_API_URL not set; not probed), ${describeProxyDecision(url, opts.proxy)}`,
    });
  }
  return checks;
}

/**
 * The storage host is only known from a signed URL, which the service hands out for an
 * existing artifact: doctor lists the run's artifacts and asks for the signed URL of one
 * (two read-only calls), then probes that host's origin along its own route. With no artifact
 * yet, it says so instead of guessing the host.
 */
async function blobStorage(opts: ReturnType<typeof normalizeOptions>): Promise<DoctorCheck> {
  const name = 'blob storage';
  let origin: string | undefined;
  try {
    origin = await storageOrigin(opts);
  } catch (error: unknown) {
    const reason = isFerryError(error) ? error.message : String(error);
    return {
      name,
      ok: false,
      detail: `could not learn the storage host from the results service: ${reason}`,
    };
  }
  if (origin === undefined) {
    return {
      name,
      ok: true,
      detail: 'not probed: this run has no artifact yet, and only a signed URL names the storage host',
    };
  }
  // Only the origin is used: the signed query (the SAS signature) never reaches the output.
  return reach(name, new URL(origin), opts);
}

async function reach(
  name: string,
  url: URL,
  opts: ReturnType<typeof normalizeOptions>,
): Promise<DoctorCheck> {
  const route = describeProxyDecision(url, opts.proxy);
  try {
    // Any HTTP answer, even 401 or 404, proves the endpoint is reachable along this route.
    const status = await probeOrigin(url, opts);
    return { name, ok: true, detail: `${urlWithoutQuery(url.origin)} answered HTTP ${status}, ${route}` };
  } catch (error: unknown) {
    const reason = isFerryError(error) ? error.message : String(error);
    return { name, ok: false, detail: `${urlWithoutQuery(url.origin)} unreachable ${route}: ${reason}` };
  }
}
