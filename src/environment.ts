import { proxySettingsFromEnv } from './transport/proxy.js';
import { registerSecret } from './core/secrets.js';
import { ValidationError } from './core/errors.js';
import { isHttpUrl } from './core/option-checks.js';
import { parseTrustedOrigins } from './transport/url-policy.js';
import type { ArtifactClientOptions } from './options.js';
import { printable } from './core/format.js';

/**
 * The one place that reads a runner's environment. Entry points (Action, CLI) call it and pass
 * the result down; the SDK itself never touches process.env.
 */
export function fromEnvironment(
  env: Record<string, string | undefined> = process.env,
): ArtifactClientOptions {
  // Registered first: even a validation error below must not be able to carry them.
  registerSecret(env['ACTIONS_RUNTIME_TOKEN'], 'the runtime token (ACTIONS_RUNTIME_TOKEN)');
  registerSecret(env['GITHUB_TOKEN'], 'the value of GITHUB_TOKEN');
  const options: ArtifactClientOptions = {};
  const set = <K extends keyof ArtifactClientOptions>(
    key: K,
    value: ArtifactClientOptions[K] | undefined,
  ): void => {
    if (value !== undefined && value !== '') options[key] = value;
  };
  set('runtimeUrl', urlVariable(env, 'ACTIONS_RUNTIME_URL'));
  set('resultsUrl', urlVariable(env, 'ACTIONS_RESULTS_URL'));
  set('runtimeToken', tokenVariable(env, 'ACTIONS_RUNTIME_TOKEN'));
  set('runId', runIdVariable(env, 'GITHUB_RUN_ID'));
  set('localStore', pathVariable(env, 'FERRY_STORE'));
  set('maxResponseBytes', byteCountVariable(env, 'FERRY_MAX_RESPONSE_BYTES'));
  set('trustedOrigins', originsVariable(env, 'FERRY_TRUSTED_ORIGINS'));
  const proxy = proxySettingsFromEnv(env);
  if (proxy.httpProxy || proxy.httpsProxy || proxy.noProxy) options.proxy = proxy;
  return options;
}

/**
 * Upper bound on retention the repository allows (GITHUB_RETENTION_DAYS), if set. A value that is
 * not a whole number of days is an error naming the variable, not a silently ignored limit.
 */
export function retentionLimitFromEnvironment(
  env: Record<string, string | undefined> = process.env,
): number | undefined {
  const raw = env['GITHUB_RETENTION_DAYS']?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{1,6}$/.test(raw)) throw badVariable('GITHUB_RETENTION_DAYS', 'a whole number of days', raw);
  return Number(raw);
}

/*
 * Every variable Ferry reads is checked here, so garbage fails before any request with an error
 * naming the variable (reliability plan item 21) instead of surfacing later as a bad URL, a
 * rejected header or a request to the wrong path. An empty variable counts as unset.
 */

function badVariable(name: string, expected: string, value: string | undefined): ValidationError {
  const shown = value === undefined ? '' : `; got ${printable(value, 80)}`;
  return new ValidationError(
    'ERR_FERRY_INVALID_OPTION',
    `Environment variable ${name} must be ${expected}${shown}`,
    {
      option: name,
    },
  );
}

function urlVariable(env: Record<string, string | undefined>, name: string): string | undefined {
  const value = env[name]?.trim();
  if (!value) return undefined;
  if (!isHttpUrl(value)) throw badVariable(name, 'an http(s) URL', value);
  return value;
}

/** A token is opaque, but one with whitespace or control characters cannot go into a header. Never echoed. */
function tokenVariable(env: Record<string, string | undefined>, name: string): string | undefined {
  const value = env[name];
  if (!value) return undefined;
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(value)) {
    throw badVariable(
      name,
      'a token without spaces, line breaks or control characters (value not shown)',
      undefined,
    );
  }
  return value;
}

/** Run ids are numbers on GitHub, GHES, Gitea, Forgejo and act; they become part of URL paths. */
function runIdVariable(env: Record<string, string | undefined>, name: string): string | undefined {
  const value = env[name]?.trim();
  if (!value) return undefined;
  if (!/^\d{1,20}$/.test(value)) throw badVariable(name, 'a numeric workflow run id', value);
  return value;
}

function pathVariable(env: Record<string, string | undefined>, name: string): string | undefined {
  const value = env[name];
  if (!value) return undefined;
  if (value.includes('\0') || value.trim() === '') throw badVariable(name, 'a directory path', value);
  return value;
}

/** A whole number of bytes; the option's own range check names the bounds. */
function byteCountVariable(env: Record<string, string | undefined>, name: string): number | undefined {
  const value = env[name]?.trim();
  if (!value) return undefined;
  if (!/^\d{1,13}$/.test(value)) throw badVariable(name, 'a whole number of bytes', value);
  return Number(value);
}

/** Comma-separated origins, each `scheme://host[:port]`. */
function originsVariable(env: Record<string, string | undefined>, name: string): string[] | undefined {
  const value = env[name]?.trim();
  if (!value) return undefined;
  const list = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  return parseTrustedOrigins(list, (message) => badVariable(name, message.replace(/^must /, ''), undefined));
}
