/** `ferry doctor`'s one-line account of how a target is reached. Never shows a password. */
import { displayProxy } from './proxy-url.js';
import { decide, fieldFor, noProxyCache, type Decision } from './routing.js';
import { sourceLabel, type ProxySettings } from './settings.js';

/**
 * One line for `ferry doctor`, e.g. `via http://proxy:3128 (HTTPS_PROXY)`,
 * `via http://alice:***@proxy:3128 (https_proxy)`, `direct (NO_PROXY matches .example.com)`,
 * `direct (HTTPS_PROXY not set)`. Passwords are always redacted. Never throws.
 */
export function describeProxyDecision(target: URL, settings: ProxySettings): string {
  let decision: Decision;
  try {
    decision = decide(target, settings, noProxyCache(settings.noProxy));
  } catch (error) {
    return `error: ${error instanceof Error ? error.message : String(error)}`;
  }
  const field = fieldFor(target);
  if (field === undefined) return `direct (${target.protocol} targets are never proxied)`;
  const label = sourceLabel(settings, field);
  if (decision.proxy) return `via ${displayProxy(decision.proxy)} (${label})`;
  if (decision.matched) {
    const noProxyLabel = sourceLabel(settings, 'noProxy');
    return decision.matched === '*'
      ? `direct (${noProxyLabel} is *)`
      : `direct (${noProxyLabel} matches ${decision.matched})`;
  }
  return settings[field] === '' ? `direct (${label} is empty)` : `direct (${label} not set)`;
}
