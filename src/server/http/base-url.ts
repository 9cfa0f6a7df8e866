import type { IncomingMessage } from 'node:http';

// host, IPv4, or bracketed IPv6, with an optional port. Anything else is ignored so a hostile
// Host header cannot inject paths or schemes into the URLs we hand out.
const HOST_HEADER = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The base URL (trailing slash) the client used to reach us, or `fallback` if Host is unusable.
 * Behind a TLS-terminating proxy the client spoke https: `X-Forwarded-Proto: https` (the first
 * value, as proxies append) makes the URLs we hand out https too. Only `http` and `https` are
 * taken from it; a client that sends it merely gets URLs with that scheme for itself.
 */
export function requestBaseUrl(req: IncomingMessage, fallback: string): string {
  const host = req.headers.host;
  if (typeof host !== 'string' || !HOST_HEADER.test(host)) return fallback;
  const forwarded = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim().toLowerCase();
  return `${first === 'https' ? 'https' : 'http'}://${host}/`;
}
