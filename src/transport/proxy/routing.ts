/**
 * Which proxy (if any) a target URL goes through: the scheme picks the setting, NO_PROXY can
 * send the target direct (rules in `../no-proxy.ts`).
 */
import { matchNoProxy, parseNoProxy, type ParsedNoProxy } from '../no-proxy.js';
import { parseProxyUrl } from './proxy-url.js';
import { sourceLabel, type ProxySettings } from './settings.js';

export interface Decision {
  proxy?: URL;
  /** The NO_PROXY entry that made the target go direct. */
  matched?: string;
}

export function fieldFor(target: URL): 'httpProxy' | 'httpsProxy' | undefined {
  if (target.protocol === 'https:') return 'httpsProxy';
  if (target.protocol === 'http:') return 'httpProxy';
  return undefined;
}

export function decide(target: URL, settings: ProxySettings, noProxy: ParsedNoProxy): Decision {
  const field = fieldFor(target);
  if (field === undefined) return {};
  const value = settings[field];
  if (!value) return {};
  const rule = matchNoProxy(target, noProxy);
  if (rule) return { matched: rule.raw };
  return { proxy: parseProxyUrl(value, sourceLabel(settings, field)) };
}

const noProxyParsed = new Map<string, ParsedNoProxy>();

export function noProxyCache(list: string | undefined): ParsedNoProxy {
  const key = list ?? '';
  let parsed = noProxyParsed.get(key);
  if (!parsed) {
    if (noProxyParsed.size >= 32) noProxyParsed.clear();
    parsed = parseNoProxy(key);
    noProxyParsed.set(key, parsed);
  }
  return parsed;
}

/** The proxy URL to use for a target, or undefined for a direct connection. Throws ERR_FERRY_CONFIG on a bad proxy URL. */
export function proxyFor(target: URL, settings: ProxySettings): URL | undefined {
  return decide(target, settings, noProxyCache(settings.noProxy)).proxy;
}
