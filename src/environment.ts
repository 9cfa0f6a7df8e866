import { proxySettingsFromEnv } from './transport/proxy.js';
import { registerSecret } from './transport/redact.js';
import type { ArtifactClientOptions } from './options.js';

/**
 * The one place that reads a runner's environment. Entry points (Action, CLI) call it and pass
 * the result down; the SDK itself never touches process.env.
 */
export function fromEnvironment(
  env: Record<string, string | undefined> = process.env,
): ArtifactClientOptions {
  const options: ArtifactClientOptions = {};
  const set = <K extends keyof ArtifactClientOptions>(
    key: K,
    value: ArtifactClientOptions[K] | undefined,
  ): void => {
    if (value !== undefined && value !== '') options[key] = value;
  };
  set('runtimeUrl', env['ACTIONS_RUNTIME_URL']);
  set('resultsUrl', env['ACTIONS_RESULTS_URL']);
  set('runtimeToken', env['ACTIONS_RUNTIME_TOKEN']);
  set('runId', env['GITHUB_RUN_ID']);
  set('localStore', env['FERRY_STORE']);
  const proxy = proxySettingsFromEnv(env);
  if (proxy.httpProxy || proxy.httpsProxy || proxy.noProxy) options.proxy = proxy;
  registerSecret(env['ACTIONS_RUNTIME_TOKEN']);
  registerSecret(env['GITHUB_TOKEN']);
  return options;
}

/** Upper bound on retention the repository allows (GITHUB_RETENTION_DAYS), if set and numeric. */
export function retentionLimitFromEnvironment(
  env: Record<string, string | undefined> = process.env,
): number | undefined {
  const value = Number.parseInt(env['GITHUB_RETENTION_DAYS'] ?? '', 10);
  return Number.isNaN(value) ? undefined : value;
}
