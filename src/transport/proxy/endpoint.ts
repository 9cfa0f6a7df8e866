/** A parsed proxy URL reduced to what the agents need to connect and authenticate. */
import * as net from 'node:net';

import { basicAuthorization } from './credentials.js';

export interface ProxyEndpoint {
  /** Map key: protocol, host, port and credentials (different credentials, different sockets). */
  readonly key: string;
  readonly secure: boolean;
  /** Host name without brackets, for connecting. */
  readonly host: string;
  readonly port: number;
  /** `host:port` (IPv6 in brackets), for messages. */
  readonly display: string;
  /** `Basic ...` when the URL has credentials. */
  readonly authorization: string | undefined;
}

export function toEndpoint(proxy: URL): ProxyEndpoint {
  const secure = proxy.protocol === 'https:';
  const host = stripBrackets(proxy.hostname);
  const port = proxy.port ? Number(proxy.port) : secure ? 443 : 80;
  const authorization = basicAuthorization(proxy);
  const display = `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
  return {
    key: `${proxy.protocol}//${display}#${authorization ?? ''}`,
    secure,
    host,
    port,
    display,
    authorization,
  };
}

export function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
