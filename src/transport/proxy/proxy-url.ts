/**
 * Proxy URLs: parsing (a missing scheme means `http://`), and the two ways of showing one without
 * its password (in configuration errors and in `ferry doctor`).
 */
import { FerryError } from '../../core/errors.js';

/** Parses a proxy URL; adds `http://` when the scheme is missing. Errors never show the password. */
export function parseProxyUrl(value: string, label: string): URL {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // No cause on purpose: Node's ERR_INVALID_URL carries the full input (password included).
    throw new FerryError('ERR_FERRY_CONFIG', `Invalid proxy URL in ${label}: ${maskUserinfo(value)}`, {
      context: { option: label },
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new FerryError(
      'ERR_FERRY_CONFIG',
      `Unsupported proxy scheme '${url.protocol}' in ${label} (only http:// and https:// proxies are supported)`,
      { context: { option: label } },
    );
  }
  if (url.hostname === '') {
    throw new FerryError('ERR_FERRY_CONFIG', `Invalid proxy URL in ${label}: no host`, {
      context: { option: label },
    });
  }
  return url;
}

/** Replaces everything between `//` and the last `@` of the authority. */
function maskUserinfo(value: string): string {
  return value.replace(/^([^/]*\/\/)?[^/]*@/, (_m, scheme: string | undefined) => `${scheme ?? ''}***@`);
}

export function displayProxy(proxy: URL): string {
  const user = proxy.username ? `${proxy.username}${proxy.password ? ':***' : ''}@` : '';
  return `${proxy.protocol}//${user}${proxy.host}`;
}
