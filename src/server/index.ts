import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { resolveLimits, type ServerLimits } from './http/limits.js';
import { createAuthenticator } from './http/auth.js';
import { createHostPolicy, parsePublicUrl } from './http/host-policy.js';
import { jwtKeysOf, type JwtKeyOptions } from './http/jwt-keys.js';
import { createLegacyProtocol, openLegacyStore } from './legacy/protocol.js';
import { createRestProtocol } from './rest/protocol.js';
import { FileRunRegistry } from './rest/run-registry.js';
import { createResultsProtocol } from './results/protocol.js';
import type { EvictionPolicy } from './retention/eviction-policy.js';
import { RetentionSweeper, type SweepStats as RetentionSweepStats } from './retention/sweeper.js';
import { openResultsService, signedUrlTtl, type ResultsService } from './results/service.js';
import type { AzureStoreSpec } from './results/azure/azure-store.js';
import { openFastSlow, type FastStoreSpec } from './results/fast-slow/open-fast-slow.js';
import type { LegacyStore } from './legacy/store.js';
import { createHttpServer } from './server.js';
import type { ListingWiring } from './listing/listing-index.js';
import { createObserveProtocol } from './observe/observe-routes.js';
import { ServerMetrics, type SweepStats } from './observe/server-metrics.js';
import { ACCESS_LOG_FORMATS, ServerLog, type AccessLogFormat } from './observe/server-log.js';

export type { AccessLogFormat } from './observe/server-log.js';
export type { SweepStats } from './observe/server-metrics.js';
export type { FastStoreSpec } from './results/fast-slow/open-fast-slow.js';

/** How long close() lets requests in flight finish before it cuts them; see `drainTimeoutMs`. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

export interface ServerOptions {
  /** Filesystem root for everything the server stores. Created if missing. */
  dataDir: string;
  /** TCP port; 0 (default) picks an ephemeral one, see `RunningServer.port`. */
  port?: number;
  /** Interface to bind; default `127.0.0.1` (loopback only). */
  host?: string;
  /**
   * The operator's shared token: `Authorization: Bearer <token>` reaches every run (401 JSON
   * without it). The REST API also accepts `token <token>`; blob URLs carry no header, their
   * signature is the credential. See docs/serve-security.md.
   */
  token?: string;
  /**
   * Keys runtime JWTs are verified with (HS256 secrets, RS256/ES256 public keys). A verified,
   * unexpired JWT reaches only the runs and jobs its `scp` grants (`Actions.Results:<run>:<job>`).
   */
  jwt?: JwtKeyOptions;
  /**
   * The URL clients reach the server by when it is not the bound address (a reverse proxy, a
   * container name, a forwarded port). Requests naming any other host are refused with 421, and
   * every URL the server hands out is built from it.
   */
  publicUrl?: string;
  /**
   * Where log lines go: one access line per request (see `accessLog`) and diagnostics (refused
   * connections, storage errors, a cold listing index). Never contains a token or a signature.
   * Without it nothing is logged.
   */
  log?: (line: string) => void;
  /**
   * Access-line format: `'text'` (default; `METHOD /path STATUS 1.2ms`, path without query),
   * `'json'` (one JSON object per line: time, method, route, status, durationMs, bytesIn,
   * bytesOut, remote, requestId; diagnostics become JSON objects too) or `'off'`.
   */
  accessLog?: AccessLogFormat;
  /**
   * Serve `/metrics` and `/status` without a credential (for a scraper or load balancer that
   * cannot send one). Otherwise, when the server has a token or JWT keys, they need the
   * operator's token.
   */
  metricsPublic?: boolean;
  /** The `instance` label of the metrics and the status answer; default `hostname:pid`. */
  instanceId?: string;
  /** Reported by `/status` and `ferry_build_info`; the CLI passes the package version. */
  version?: string;
  /** Retention sweep counters shown in `/metrics`; default all zeros (no sweep running). */
  sweepStats?: () => SweepStats;
  /** The store's health probe for `/status`; default writes and removes a file in `dataDir`. */
  storeProbe?: () => Promise<void>;
  /**
   * How long a build of the listing index is trusted (default 5 minutes). Lists are answered
   * from memory; a background task re-reads storage at 0.9 of this, so changes made outside
   * this process (another instance on a shared store) show up within it.
   */
  indexLifetimeMs?: number;
  /**
   * How long `close()` lets requests in flight finish before cutting them; default 30 s. Idle
   * kept-alive connections are closed at once, new ones refused.
   */
  drainTimeoutMs?: number;
  /**
   * Keep the results protocol's artifacts in an Azure Blob Storage container instead of
   * `dataDir`: clients move bytes to and from Azure directly (SAS URLs), and any number of
   * instances can share the container. Legacy (v1) uploads are staged into it as blocks.
   */
  azure?: AzureStoreSpec;
  /**
   * A `fast_slow` store: downloads of the results protocol are served by this server from a
   * local directory, filled from the store above (filesystem or `azure`, the slow store, which
   * keeps every record and receives every upload) on a miss. With `azure`, clients then download
   * through this server instead of by SAS URL. See docs/serve.md.
   */
  fastStore?: FastStoreSpec;
  /** Lifetime of the signed blob URLs the results protocol hands out; default 6 hours. */
  signedUrlTtlMs?: number;
  /** Size, count and time limits; each one left out takes its default (see ServerLimits). */
  limits?: Partial<ServerLimits>;
  /**
   * Retention enforcement: a background sweep deletes artifacts past their `expires_at` (and,
   * with `eviction`, the oldest finalized ones beyond the policy). Default: every 10 minutes, no
   * eviction. See docs/serve.md.
   */
  retention?: { sweepIntervalMs?: number | undefined; eviction?: EvictionPolicy | undefined };
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
  /** What the retention sweeps have deleted since start (for metrics). */
  sweepStats(): RetentionSweepStats;
  /** Runs a retention sweep now (joins one in progress); resolves when it is done. */
  sweep(): Promise<void>;
  /**
   * Graceful stop: refuses new connections, closes idle ones, lets requests in flight finish
   * (up to `drainTimeoutMs`, or the `drainMs` given here; 0 cuts them at once), then closes
   * every socket and releases the stores.
   */
  close(drainMs?: number): Promise<void>;
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
  const jwtKeys = jwtKeysOf(options.jwt ?? {});
  const authenticated = Boolean(options.token) || jwtKeys.hmacSecrets.length + jwtKeys.publicKeys.length > 0;
  if (!authenticated && !isLoopback(host)) {
    // Without a credential anyone who can reach the port reads, writes and deletes everything.
    throw new RangeError(
      `Refusing to serve ${host} without authentication: set a token or JWT keys (--token, --jwt-secret-file, --jwt-public-key), or bind to 127.0.0.1`,
    );
  }
  const accessLog = options.accessLog ?? 'text';
  if (!ACCESS_LOG_FORMATS.includes(accessLog)) {
    throw new RangeError(
      `accessLog must be one of ${ACCESS_LOG_FORMATS.join(', ')}, got ${String(accessLog)}`,
    );
  }
  const drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  if (!Number.isFinite(drainTimeoutMs) || drainTimeoutMs < 0) {
    throw new RangeError(
      `drainTimeoutMs must be a non-negative number of milliseconds, got ${drainTimeoutMs}`,
    );
  }
  const serverLog = new ServerLog(options.log, accessLog);
  const metrics = new ServerMetrics({
    instance: options.instanceId ?? `${hostname()}:${process.pid}`,
    version: options.version ?? 'unknown',
  });
  const publicUrl = options.publicUrl === undefined ? undefined : parsePublicUrl(options.publicUrl);
  const authenticate = createAuthenticator({ token: options.token, jwtKeys });
  const listing: ListingWiring = {
    ...(options.indexLifetimeMs !== undefined ? { lifetimeMs: options.indexLifetimeMs } : {}),
    onRefresh: (refresh) => metrics.indexRefreshed(refresh),
    log: (level, message) => serverLog.diag(level, message),
    storeCalls: metrics,
  };
  const slowResults: ResultsService = options.azure
    ? await openAzure(options.azure, options, limits, metrics, (level, message) =>
        serverLog.diag(level, message),
      )
    : await openResultsService(dataDir, { signedUrlTtlMs: options.signedUrlTtlMs, limits, listing });
  const fastSlow = options.fastStore
    ? await openFastSlow(
        slowResults,
        options.fastStore,
        {
          dataDir,
          azure: options.azure,
          signedUrlTtlMs: signedUrlTtl({ signedUrlTtlMs: options.signedUrlTtlMs }),
        },
        metrics,
      )
    : undefined;
  const results = fastSlow?.results ?? slowResults;
  const legacy: LegacyStore = options.azure
    ? await openAzureLegacy(options.azure, limits, metrics)
    : await openLegacyStore(dataDir, limits, listing);
  const sweeper = new RetentionSweeper(results.store.records, {
    legacy,
    lease: results.store.sweepLease,
    intervalMs: options.retention?.sweepIntervalMs,
    eviction: options.retention?.eviction,
    onError: (error) => serverLog.diag('warn', `retention sweep failed: ${String(error)}`),
  });
  const protocols = [
    createLegacyProtocol(legacy, fastSlow?.legacyRead),
    createResultsProtocol(results),
    createRestProtocol(results, results.store.runs ?? (await FileRunRegistry.open(dataDir)), authenticate),
    createObserveProtocol({
      metrics,
      version: options.version ?? 'unknown',
      probeStore: options.storeProbe ?? results.store.probe,
      openConnections: () => stats.openConnections,
      sweepStats: options.sweepStats ?? (() => sweepMetrics(sweeper.stats())),
      public: options.metricsPublic === true,
    }),
  ];

  let url = '';
  let port = 0;
  const { server, stats, close } = createHttpServer({
    protocols,
    authenticate,
    credentialRequired: authenticated,
    hosts: createHostPolicy({ boundHost: host, port: () => port, publicUrl }),
    log: serverLog.enabled ? (line) => serverLog.diag('warn', line) : undefined,
    onRequestEnd: (record, path) => {
      metrics.request(record);
      serverLog.access(record, path);
    },
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
  port = (server.address() as AddressInfo).port;
  url = publicUrl?.href ?? `http://${clientHost(host)}:${port}/`;
  sweeper.start();

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    stats: () => ({ ...stats }),
    sweepStats: () => sweeper.stats(),
    sweep: () => sweeper.sweep(),
    close: (drainMs = drainTimeoutMs) => {
      // Called again with 0 while draining: the HTTP side cuts what is left (a second SIGTERM).
      const sockets = close(drainMs);
      return (closing ??= sockets.then(async () => {
        await sweeper.stop();
        await Promise.all(protocols.map((p) => p.close?.()));
      }));
    },
  };
}

/** The SDK is imported only here, when an azure store is configured (see openAzureStore). */
async function openAzure(
  spec: AzureStoreSpec,
  options: ServerOptions,
  limits: ServerLimits,
  metrics: ServerMetrics,
  log: (level: 'warn', message: string) => void,
): Promise<ResultsService> {
  const { openAzureStore } = await import('./results/azure/azure-store.js');
  const store = await openAzureStore(spec, {
    limits,
    signedUrlTtlMs: signedUrlTtl({ signedUrlTtlMs: options.signedUrlTtlMs }),
    time: (operation, call) => metrics.time(operation, call),
    log,
  });
  return { store, limits };
}

/** The legacy protocol on the same container; the SDK is imported only here too. */
async function openAzureLegacy(
  spec: AzureStoreSpec,
  limits: ServerLimits,
  metrics: ServerMetrics,
): Promise<LegacyStore> {
  const { openAzureLegacyStore } = await import('./legacy/azure/open-azure-legacy.js');
  return openAzureLegacyStore(spec, { limits, time: (operation, call) => metrics.time(operation, call) });
}

function isLoopback(host: string): boolean {
  return (
    host === 'localhost' ||
    host === '::1' ||
    host === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
  );
}

/** A host clients can connect to: wildcard binds are reached via loopback; IPv6 needs brackets. */
function clientHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** The sweeper's figures as /metrics reports them: expiry and eviction together, last run in seconds. */
function sweepMetrics(stats: RetentionSweepStats): SweepStats {
  return {
    runs: stats.runs,
    deletedArtifacts: stats.deletedArtifacts + stats.evictedArtifacts,
    deletedBytes: stats.deletedBytes + stats.evictedBytes,
    lastRunSeconds: stats.lastRunAt === null ? 0 : Math.floor(Date.parse(stats.lastRunAt) / 1000),
    runStateCorrections: stats.runStateCorrections,
    runBlobsDeleted: stats.runBlobsDeleted,
  };
}
