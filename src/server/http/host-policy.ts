import type { IncomingMessage } from 'node:http';
import { hostname, networkInterfaces } from 'node:os';
import { requestBaseUrl } from './base-url.js';
import { ErrorResponse } from './error-response.js';

export interface HostPolicyOptions {
  /** The interface the server is bound to (`--host`). */
  boundHost: string;
  /** The bound port; a getter because port 0 is only known after listen. */
  port: () => number;
  /** `--public-url`: the one other origin clients may use, and the base of every URL handed out. */
  publicUrl?: URL | undefined;
}

export interface HostPolicy {
  /**
   * Throws 421 unless the request names this server: its Host header, and the authority of an
   * absolute-form target (`GET http://x/...`), which RFC 9112 says takes precedence over Host.
   */
  check(req: IncomingMessage): void;
  /** The base URL (trailing slash) for URLs handed out in answers to `req`. */
  baseUrl(req: IncomingMessage, fallback: string): string;
}

// Loopback names cannot be pointed elsewhere by an attacker's DNS, so any port is fine for them:
// port forwards (`docker -p`, `ssh -L`) and loopback proxies reach us under another port.
const LOOPBACK_NAMES: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);
const WILDCARD_HOSTS: ReadonlySet<string> = new Set(['', '0.0.0.0', '::', '[::]']);
const AUTHORITY = /^(?<host>[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(?<port>\d{1,5}))?$/;

/**
 * Defence against DNS rebinding: a web page on an attacker's domain that resolves to 127.0.0.1
 * reaches the server with `Host: attacker.example`, so only Host values naming this server are
 * served. Applied with and without a token, before authentication.
 */
export function createHostPolicy(options: HostPolicyOptions): HostPolicy {
  const publicUrl = options.publicUrl;
  const publicAuthority =
    publicUrl === undefined ? undefined : `${publicUrl.hostname}:${portOf(publicUrl)}`.toLowerCase();
  const boundNames = namesOf(options.boundHost);

  const allowed = (authority: string): boolean => {
    const match = AUTHORITY.exec(authority.toLowerCase());
    const host = match?.groups?.['host'];
    if (host === undefined) return false;
    const port = Number(match?.groups?.['port'] ?? '80');
    if (LOOPBACK_NAMES.has(host)) return true;
    if (publicAuthority !== undefined && `${host}:${port}` === publicAuthority) return true;
    return port === options.port() && boundNames.has(host);
  };

  const allowedOrigin = (origin: string): boolean => {
    try {
      const url = new URL(origin);
      // URL drops default ports; put them back so https://public.example means :443.
      return (
        (url.protocol === 'http:' || url.protocol === 'https:') && allowed(`${url.hostname}:${portOf(url)}`)
      );
    } catch {
      return false; // "null" (sandboxed frames, file:) and garbage
    }
  };

  const refuse = (authority: string): ErrorResponse =>
    new ErrorResponse(
      421,
      `Misdirected request: ${JSON.stringify(authority.slice(0, 200))} is not an address of this ferry serve. ` +
        `It answers only to its bound address (port ${options.port()}), localhost, 127.0.0.1, [::1]` +
        (publicUrl ? ` and its public URL ${publicUrl.origin}` : '') +
        '. If clients reach it under another name, start it with --public-url <that URL>.',
    );

  return {
    check(req) {
      let hosts = 0;
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        if (req.rawHeaders[i]?.toLowerCase() === 'host') hosts++;
      }
      if (hosts > 1) throw new ErrorResponse(400, 'More than one Host header');
      const host = req.headers.host;
      if (typeof host !== 'string' || host === '') {
        throw new ErrorResponse(400, 'A Host header is required (HTTP/1.1)');
      }
      if (!allowed(host)) throw refuse(host);
      // Browsers send Origin on cross-origin requests; CI clients never do. A page on another
      // origin may not even send "simple" requests (a form POST needs no preflight) at us.
      const origin = req.headers.origin;
      if (origin !== undefined && !allowedOrigin(origin)) {
        throw new ErrorResponse(
          403,
          `Cross-origin request from ${JSON.stringify(origin.slice(0, 200))} refused: ferry serve is not a browser API`,
        );
      }
      const target = req.url ?? '/';
      if (!target.startsWith('/')) {
        let authority: string;
        try {
          authority = new URL(target).host;
        } catch {
          throw new ErrorResponse(400, 'Malformed request target');
        }
        if (!allowed(authority)) throw refuse(authority);
      }
    },
    baseUrl(req, fallback) {
      return publicUrl ? publicUrl.href : requestBaseUrl(req, fallback);
    },
  };
}

/** Checks and normalizes `--public-url`: an http(s) origin (path `/`), no credentials or query. */
export function parsePublicUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new RangeError(`publicUrl ${JSON.stringify(value)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RangeError(`publicUrl must be http:// or https://, got ${JSON.stringify(url.protocol)}`);
  }
  if (
    url.username !== '' ||
    url.password !== '' ||
    url.search !== '' ||
    url.hash !== '' ||
    url.pathname !== '/'
  ) {
    // The Twirp client keeps only the origin of ACTIONS_RESULTS_URL, so routes live at the root.
    throw new RangeError(
      `publicUrl must be an origin such as https://artifacts.example:8443/, got ${url.origin}${url.pathname}`,
    );
  }
  return url;
}

function portOf(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

/** Every name the bound interface answers to: itself, or for a wildcard bind every interface address and the host name. */
function namesOf(boundHost: string): ReadonlySet<string> {
  const names = new Set<string>();
  const add = (address: string): void => {
    names.add((address.includes(':') ? `[${address.replace(/^\[|\]$/g, '')}]` : address).toLowerCase());
  };
  if (!WILDCARD_HOSTS.has(boundHost)) {
    add(boundHost);
    return names;
  }
  for (const list of Object.values(networkInterfaces())) {
    // Link-local IPv6 carries a zone (`%eth0`) that no Host header can spell; skip those.
    for (const info of list ?? []) if (!info.address.includes('%')) add(info.address);
  }
  add(hostname());
  return names;
}
