/**
 * Proxy settings and where they came from: the environment variables (`https_proxy`,
 * `HTTPS_PROXY`, ...) read by the entry points, with explicit options merged on top. The source
 * of each field is remembered so that messages and `ferry doctor` can name it.
 */
export interface ProxySettings {
  /** Proxy URL for http:// targets; may contain `user:pass@` (percent-encoded). */
  httpProxy?: string;
  /** Proxy URL for https:// targets; may contain `user:pass@` (percent-encoded). */
  httpsProxy?: string;
  /** Comma/whitespace separated NO_PROXY list. */
  noProxy?: string;
}

export type SettingKey = keyof ProxySettings;

/** Where each field came from (`https_proxy`, `HTTPS_PROXY`, `httpsProxy option`), for doctor output. */
const sources = new WeakMap<ProxySettings, Partial<Record<SettingKey, string>>>();

export const ENV_NAMES: Record<SettingKey, string> = {
  httpProxy: 'http_proxy',
  httpsProxy: 'https_proxy',
  noProxy: 'no_proxy',
};

/**
 * Reads `http_proxy`/`HTTP_PROXY`, `https_proxy`/`HTTPS_PROXY` and `no_proxy`/`NO_PROXY` from an
 * env object. The lowercase name wins over the uppercase one, as in curl; a set-but-empty
 * lowercase variable wins too (and means "none"). Fields whose variables are unset are absent.
 */
export function proxySettingsFromEnv(env: Record<string, string | undefined>): ProxySettings {
  const out: ProxySettings = {};
  const from: Partial<Record<SettingKey, string>> = {};
  for (const key of Object.keys(ENV_NAMES) as SettingKey[]) {
    const lower = ENV_NAMES[key];
    const upper = lower.toUpperCase();
    const name = env[lower] !== undefined ? lower : env[upper] !== undefined ? upper : undefined;
    if (name === undefined) continue;
    out[key] = (env[name] ?? '').trim();
    from[key] = name;
  }
  sources.set(out, from);
  return out;
}

/**
 * Explicit settings override env ones field by field. An explicit empty string overrides too
 * (`{ httpsProxy: '' }` disables an env proxy for https targets).
 */
export function mergeProxySettings(fromEnv: ProxySettings, explicit?: ProxySettings): ProxySettings {
  const out: ProxySettings = { ...fromEnv };
  const from: Partial<Record<SettingKey, string>> = { ...sources.get(fromEnv) };
  for (const key of Object.keys(ENV_NAMES) as SettingKey[]) {
    const value = explicit?.[key];
    if (value === undefined) continue;
    out[key] = value.trim();
    from[key] = `${key} option`;
  }
  sources.set(out, from);
  return out;
}

export function sourceLabel(settings: ProxySettings, key: SettingKey): string {
  return sources.get(settings)?.[key] ?? ENV_NAMES[key].toUpperCase();
}
