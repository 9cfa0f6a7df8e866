import { backendIdsFromToken, mintRuntimeToken } from '../runner-token.js';
import { fromEnvironment } from '../environment.js';
import type { ArtifactClientOptions, DownloadCacheOptions } from '../options.js';
import { proxySettingsFromEnv, type FindBy } from '../index.js';
import { registerSecret } from '../core/secrets.js';
import { choiceOption, numberOption, stringOption, UsageError, type Values } from './args.js';
import type { CliOutput } from './output.js';
import { probeProtocol } from '../probe-protocol.js';

/** Run id of `--url` and the embedded store when `--run-id` is not given. */
export const DEFAULT_RUN_ID = 'local';

/** The command's connection, resolved on first use (see {@link lazyConnection}). */
export type Connect = () => Promise<ArtifactClientOptions & { findBy?: FindBy }>;

/**
 * Resolves the connection only when a command is about to talk to a service, after it has
 * checked its own input: bad input is refused with zero requests, the --url probe included.
 */
export function lazyConnection(values: Values, out: CliOutput): Connect {
  let resolved: Promise<Connection> | undefined;
  return async () => (await (resolved ??= resolveConnection(values, out))).options;
}

export interface Connection {
  options: ArtifactClientOptions & { findBy?: FindBy };
  /** Why this protocol, for `ferry doctor` (only set when the CLI decided it, i.e. with `--url`). */
  protocolReason: string | undefined;
}

/**
 * Where the command's artifacts live: the runner's environment, a `ferry serve` (`--url`, whose
 * protocol is probed unless `--protocol` says it), the embedded store, or another run through the
 * REST API (`--repository`).
 */
export async function resolveConnection(values: Values, out: CliOutput): Promise<Connection> {
  const env = fromEnvironment(process.env);
  const options: ArtifactClientOptions = {
    ...env,
    logger: out.logger,
    onProgress: (e) => out.progress(e),
    onStats: (s) => out.stats(s),
  };
  const cache = cacheOption(values);
  if (cache) options.cache = cache;
  const rateLimitWait = numberOption(values, 'rate-limit-wait');
  if (rateLimitWait !== undefined) options.rateLimitWaitSeconds = rateLimitWait;
  let protocolReason: string | undefined;
  const url = stringOption(values, 'url');
  const runId = stringOption(values, 'run-id');
  if (url !== undefined) {
    for (const key of ['runtimeUrl', 'resultsUrl', 'runtimeToken'] as const) delete options[key];
    const token = stringOption(values, 'token') ?? process.env['FERRY_TOKEN'];
    registerSecret(token);
    const chosen = await chooseServerProtocol(url, token, runId ?? DEFAULT_RUN_ID, values, options);
    Object.assign(options, chosen.options);
    protocolReason = chosen.reason;
  } else {
    if (runId !== undefined) options.runId = runId;
    if (stringOption(values, 'protocol') !== undefined) {
      throw new UsageError('--protocol is for --url; the environment decides otherwise');
    }
  }
  const store = stringOption(values, 'store');
  if (store !== undefined) options.localStore = store;
  registerSecret(options.runtimeToken);
  const concurrency = numberOption(values, 'concurrency');
  if (concurrency !== undefined) options.concurrency = concurrency;
  return { options: { ...options, ...findByOption(values) }, protocolReason };
}

/** The download cache's size bound when FERRY_CACHE_MAX_BYTES does not give one: 10 GiB. */
export const DEFAULT_CLI_CACHE_BYTES = 10 * 1024 ** 3;

/** `--cache DIR` or FERRY_CACHE_DIR, bounded by FERRY_CACHE_MAX_BYTES (default 10 GiB). */
function cacheOption(values: Values): DownloadCacheOptions | undefined {
  const dir = stringOption(values, 'cache') ?? (process.env['FERRY_CACHE_DIR'] || undefined);
  if (dir === undefined) return undefined;
  const max = process.env['FERRY_CACHE_MAX_BYTES'];
  const maxBytes = max ? Number(max) : DEFAULT_CLI_CACHE_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
    throw new UsageError(`FERRY_CACHE_MAX_BYTES must be a positive whole number of bytes; got '${max}'`);
  }
  return { path: dir, maxBytes };
}

/**
 * The results protocol when the server speaks it (merge and delete work there), legacy
 * otherwise. Results needs a token that names the run (`Actions.Results:<run>:<job>`): a JWT
 * given with --token is used as it is; with no token one is made up for `--run-id` (a server
 * without a token does not check it); an opaque shared token can only speak legacy.
 */
async function chooseServerProtocol(
  url: string,
  token: string | undefined,
  runId: string,
  values: Values,
  base: ArtifactClientOptions,
): Promise<{ options: ArtifactClientOptions; reason: string }> {
  const forced = choiceOption(values, 'protocol', ['auto', 'results', 'legacy'] as const) ?? 'auto';
  const legacy = (reason: string): { options: ArtifactClientOptions; reason: string } => ({
    options: { backend: 'legacy', runtimeUrl: url, runId, ...(token ? { runtimeToken: token } : {}) },
    reason,
  });
  if (forced === 'legacy') return legacy('--protocol legacy');
  const ids = backendIdsFromToken(token);
  if (token && !ids) {
    if (forced === 'results') {
      throw new UsageError(
        '--protocol results needs a --token that is a runtime JWT with an Actions.Results:<run>:<job> scope',
      );
    }
    return legacy(
      'the token is not a runtime JWT with an Actions.Results:<run>:<job> scope, which the results protocol needs',
    );
  }
  const resultsToken = token ?? mintRuntimeToken(runId);
  const results = {
    backend: 'results' as const,
    resultsUrl: url,
    runtimeToken: resultsToken,
    runId: ids?.workflowRunBackendId ?? runId,
  };
  if (forced === 'results') return { options: results, reason: '--protocol results' };
  const probe = await probeProtocol(url, {
    token: resultsToken,
    runId: ids?.workflowRunBackendId ?? runId,
    jobId: ids?.workflowJobRunBackendId ?? runId,
    proxy: base.proxy ?? proxySettingsFromEnv(process.env),
  });
  return probe.protocol === 'results'
    ? { options: results, reason: probe.reason }
    : legacy(`${probe.reason}; using the legacy protocol (no merge or delete)`);
}

/** `--repository owner/repo --run-id N` reads another run through the REST API with a token. */
function findByOption(values: Values): { findBy?: FindBy } {
  const repository = stringOption(values, 'repository');
  if (repository === undefined) return {};
  const token = stringOption(values, 'github-token') ?? process.env['GITHUB_TOKEN'];
  const runId = stringOption(values, 'run-id');
  const latest = {
    workflow: stringOption(values, 'workflow'),
    branch: stringOption(values, 'branch'),
    event: stringOption(values, 'workflow-event'),
    conclusion: stringOption(values, 'workflow-conclusion'),
  };
  const selectsRun =
    latest.workflow !== undefined || latest.branch !== undefined || latest.event !== undefined;
  if (!token) throw new UsageError('--repository needs --github-token or GITHUB_TOKEN');
  if (runId === undefined && !selectsRun)
    throw new UsageError('--repository needs --run-id, or --workflow / --branch');
  if (runId !== undefined && selectsRun)
    throw new UsageError('--run-id names the run; leave out --workflow, --branch and --workflow-event');
  if (latest.conclusion !== undefined && !selectsRun)
    throw new UsageError('--workflow-conclusion is used with --workflow or --branch');
  registerSecret(token);
  return {
    findBy: {
      token,
      repository,
      ...(runId !== undefined ? { runId } : {}),
      ...Object.fromEntries(Object.entries(latest).filter(([, v]) => v !== undefined)),
      ...(process.env['GITHUB_API_URL'] ? { apiUrl: process.env['GITHUB_API_URL'] } : {}),
    },
  };
}
