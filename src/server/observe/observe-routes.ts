import { FULL_ACCESS } from '../http/access.js';
import { ErrorResponse } from '../http/error-response.js';
import { sendJson } from '../http/respond.js';
import type { ProtocolModule, RequestContext } from '../route.js';
import type { ServerRoute } from '../server.js';
import { PROMETHEUS_CONTENT_TYPE } from './prometheus.js';
import type { ServerMetrics, SweepStats } from './server-metrics.js';

export interface ObserveOptions {
  metrics: ServerMetrics;
  version: string;
  /** A cheap call that resolves when the store answers (the status probe). */
  probeStore: () => Promise<void>;
  openConnections: () => number;
  sweepStats: () => SweepStats;
  /**
   * Serve both paths without a credential. Otherwise, on a server with authentication, they need
   * the operator's token: a runtime JWT reaches runs, not the whole server's figures.
   */
  public: boolean;
}

/** How long the status probe may take before the store counts as unreachable. */
export const STATUS_PROBE_TIMEOUT_MS = 5_000;

/** `GET /metrics` (Prometheus text) and `GET /status` (health JSON). */
export function createObserveProtocol(options: ObserveOptions): ProtocolModule {
  const route = (pattern: RegExp, handler: (ctx: RequestContext) => Promise<void>): ServerRoute => ({
    method: 'GET',
    pattern,
    ...(options.public ? { auth: 'self' as const } : {}),
    handler: async (ctx) => {
      // The router has checked the credential; a run-scoped JWT passes that check but is not the operator.
      if (!options.public && ctx.access !== FULL_ACCESS) {
        throw new ErrorResponse(403, `${ctx.url.pathname} needs the operator token (or metricsPublic)`);
      }
      await handler(ctx);
    },
  });
  return {
    name: 'observe',
    routes: [
      route(/^\/metrics$/, async (ctx) => {
        const body = Buffer.from(
          options.metrics.render({
            openConnections: options.openConnections(),
            sweep: options.sweepStats(),
          }),
        );
        ctx.res.writeHead(200, {
          'Content-Type': PROMETHEUS_CONTENT_TYPE,
          'Content-Length': String(body.length),
        });
        ctx.res.end(body);
      }),
      route(/^\/status$/, async (ctx) => {
        const reachable = await withTimeout(
          options.metrics.time('probe', options.probeStore),
          STATUS_PROBE_TIMEOUT_MS,
        ).then(
          () => true,
          () => false,
        );
        sendJson(ctx.res, reachable ? 200 : 503, {
          status: reachable ? 'ok' : 'unavailable',
          store: reachable ? 'reachable' : 'unreachable',
          version: options.version,
          uptimeSeconds: options.metrics.uptimeSeconds(),
          instance: options.metrics.instance,
        });
      }),
    ],
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
