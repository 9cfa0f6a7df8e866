import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { resolveLimits, type ServerLimits } from './http/limits.js';
import { createLegacyProtocol } from './legacy/protocol.js';
import { createRestProtocol } from './rest/protocol.js';
import { createResultsProtocol } from './results/protocol.js';
import { openResultsService } from './results/service.js';
import { createHttpServer } from './server.js';

export interface ServerOptions {
  /** Filesystem root for everything the server stores. Created if missing. */
  dataDir: string;
  /** TCP port; 0 (default) picks an ephemeral one, see `RunningServer.port`. */
  port?: number;
  /** Interface to bind; default `127.0.0.1` (loopback only). */
  host?: string;
  /**
   * When set, every request must carry `Authorization: Bearer <token>` (401 JSON otherwise). The
   * REST API also accepts `token <token>`; blob URLs carry no header, their signature is the credential.
   */
  token?: string;
  /** Optional request log, one line per request (method, path, status, time). Never contains the token. */
  log?: (line: string) => void;
  /** Lifetime of the signed blob URLs the results protocol hands out; default 6 hours. */
  signedUrlTtlMs?: number;
  /** Size, count and time limits; each one left out takes its default (see ServerLimits). */
  limits?: Partial<ServerLimits>;
}

export interface ServerStats {
  /** TCP connections accepted since start. */
  connectionsOpened: number;
  /** TCP connections open right now. */
  openConnections: number;
  /** HTTP requests received since start. */
  requests: number;
}

export interface RunningServer {
  /**
   * Base URL with a trailing slash, e.g. `http://127.0.0.1:PORT/`; use it as ACTIONS_RUNTIME_URL,
   * ACTIONS_RESULTS_URL and GITHUB_API_URL alike.
   */
  url: string;
  port: number;
  stats(): ServerStats;
  /** Stops listening and destroys every socket, idle or busy. */
  close(): Promise<void>;
}

/**
 * Starts the local artifact server. One port speaks the legacy v1 protocol (pipelines / file
 * container), the v4 results protocol (Twirp + signed blob URLs) and GitHub's artifact REST API.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  const host = options.host ?? '127.0.0.1';
  const limits = resolveLimits(options.limits);
  const results = await openResultsService(dataDir, { signedUrlTtlMs: options.signedUrlTtlMs, limits });
  const protocols = [
    await createLegacyProtocol(dataDir, limits),
    createResultsProtocol(results),
    createRestProtocol(results, options.token),
  ];

  let url = '';
  const { server, stats, close } = createHttpServer({
    protocols,
    token: options.token,
    log: options.log,
    fallbackBaseUrl: () => url,
    limits,
  });

  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', rejectListen);
      resolveListen();
    });
  });
  const port = (server.address() as AddressInfo).port;
  url = `http://${clientHost(host)}:${port}/`;

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    stats: () => ({ ...stats }),
    close: () =>
      (closing ??= close().then(async () => {
        await Promise.all(protocols.map((p) => p.close?.()));
      })),
  };
}

/** A host clients can connect to: wildcard binds are reached via loopback; IPv6 needs brackets. */
function clientHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
