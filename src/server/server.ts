import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { printableText } from '../core/format.js';
import type { Socket } from 'node:net';
import { NO_ACCESS } from './http/access.js';
import type { Authenticator } from './http/auth.js';
import { ConnectionGuard, drainsRefusedBody } from './http/connection-guard.js';
import type { HostPolicy } from './http/host-policy.js';
import { storageFailure } from './http/storage-failure.js';
import { ErrorResponse } from './http/error-response.js';
import type { ServerLimits } from './http/limits.js';
import { sendErrorJson } from './http/respond.js';
import type { ProtocolModule, Route } from './route.js';
import type { RequestRecord } from './observe/request-record.js';
import { methodName, pathOnly, routeName } from './observe/route-name.js';

/** Writes an error answer in a protocol's own format (Twirp JSON, Azure XML, GitHub JSON). */
export type ErrorRenderer = (res: ServerResponse, error: ErrorResponse) => void;

/**
 * Optional per-route behaviour on top of `Route`, for protocols that do not follow the legacy
 * conventions. A plain `Route` is a valid `ServerRoute` with every default.
 */
export interface ServerRouteOptions {
  /**
   * `'bearer'` (default): the router authenticates the bearer credential and hands the handler
   * its `access`. `'self'`: the handler authenticates on its own (signed blob URLs carry no
   * Authorization; the REST API accepts `token <t>`); its `access` is `NO_ACCESS`.
   */
  auth?: 'bearer' | 'self';
  /** Renders errors of this route; default is the legacy JSON `{message, statusCode}`. */
  renderError?: ErrorRenderer;
}

export type ServerRoute = Route & ServerRouteOptions;

/** A route `method` that matches every method: lets a protocol own all errors under its prefix. */
export const ANY_METHOD = '*';

export interface HttpServerOptions {
  protocols: readonly ProtocolModule[];
  /** Checks the credential of `'bearer'` routes and says which runs it reaches. */
  authenticate: Authenticator;
  /** Whether a credential is configured at all: only then does passing the check make a connection trusted. */
  credentialRequired: boolean;
  /** Refuses Host values that do not name this server (DNS rebinding) and says which base URL to hand out. */
  hosts: HostPolicy;
  /** Diagnostics (refused connections, storage and internal errors); free of secrets. */
  log: ((line: string) => void) | undefined;
  /** Called once per request when its answer is over (sent, cut, or never started). */
  onRequestEnd?: ((record: RequestRecord, path: string) => void) | undefined;
  /** Used for URLs we hand out when the request has no usable Host header. */
  fallbackBaseUrl: () => string;
  /** Timeouts, head size and connection caps (see ServerLimits). */
  limits: ServerLimits;
}

export interface HttpServerHandle {
  server: Server;
  stats: { connectionsOpened: number; openConnections: number; requests: number };
  /**
   * Stops accepting connections, closes idle kept-alive sockets at once, lets requests in flight
   * finish for up to `drainMs` (0: none), then destroys what is left; resolves once every socket
   * has closed.
   */
  close(drainMs?: number): Promise<void>;
}

// How often Node checks headersTimeout and requestTimeout (its default, 30 s, would let a
// 20 s head timeout run to 50 s).
const MAX_TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/**
 * The shared HTTP front: counts connections, checks the bearer token, dispatches to the routes
 * of every mounted protocol, and turns every failure into a JSON error. Protocols only add routes.
 */
export function createHttpServer(options: HttpServerOptions): HttpServerHandle {
  const routes: readonly ServerRoute[] = options.protocols.flatMap((p) => p.routes);
  const { limits } = options;
  const guard = new ConnectionGuard({
    maxConnections: limits.maxConnections,
    maxUntrustedConnections: limits.maxUntrustedConnections,
    // Node times out partly sent heads (408) but never a socket that sends nothing: the guard does.
    firstRequestTimeoutMs: limits.headersTimeoutMs,
    log: options.log,
  });
  const stats = { connectionsOpened: 0, openConnections: 0, requests: 0 };
  let inFlight = 0;
  let draining = false;
  let afterDrainStep: () => void = () => undefined;

  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(MAX_TIMEOUT_CHECK_INTERVAL_MS, limits.headersTimeoutMs),
    },
    (req, res) => {
      stats.requests++;
      const started = process.hrtime.bigint();
      const connection = guard.requestStarted(req, res);
      const requestId = randomBytes(8).toString('hex');
      res.setHeader('X-Request-Id', requestId);
      // While draining, every answer closes its connection: the client reconnects elsewhere.
      if (draining) res.setHeader('Connection', 'close');
      inFlight++;
      const time = new Date().toISOString();
      // Held here: once the answer is over, req.socket may already be detached (null).
      const socket = req.socket;
      const remote = socket.remoteAddress ?? '';
      const body = countBodyBytes(res);
      res.once('close', () => {
        inFlight--;
        const path = pathOnly(req.url);
        const record: RequestRecord = {
          time,
          method: methodName(req.method),
          route: routeName(path),
          // The status actually sent: a connection cut before any answer is no status, never 200.
          status: res.headersSent ? res.statusCode : undefined,
          // A client that closes as soon as it has the declared length can beat the server's own
          // end(): all the bytes went out, so the answer was not cut.
          cut: !res.writableFinished && !body.complete(),
          json: /json/i.test(String(res.getHeader('Content-Type') ?? '')),
          durationMs: Math.round((Number(process.hrtime.bigint() - started) / 1e6) * 10) / 10,
          ...wireBytes(socket),
          remote,
          requestId,
        };
        options.onRequestEnd?.(record, path);
        if (draining) afterDrainStep();
      });
      void dispatch(req, res, connection);
    },
  );
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // Socket silence while a request is in flight: a stalled body gives up its locks within this time.
  server.timeout = limits.idleTimeoutMs;
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    guard.admit(socket);
    stats.connectionsOpened++;
    stats.openConnections++;
    sockets.add(socket);
    socket.once('close', () => {
      stats.openConnections--;
      sockets.delete(socket);
    });
  });

  async function dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    connection: { trust(): void },
  ): Promise<void> {
    let route: ServerRoute | undefined;
    try {
      const url = parseRequestUrl(req.url);
      const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
      const onPath = routes
        .map((candidate) => ({ route: candidate, match: candidate.pattern.exec(url.pathname) }))
        .filter((r) => r.match);
      const hit = onPath.find((r) => r.route.method === method || r.route.method === ANY_METHOD);
      // Before authentication, signed URL or not: a foreign Host is a rebinding attempt. Checked
      // before `route` is set so the 421 keeps its status in every protocol's error format.
      options.hosts.check(req);
      route = hit?.route;
      // Unmatched requests are checked too, so an unauthenticated caller cannot probe routes.
      const bearer = (route?.auth ?? 'bearer') === 'bearer';
      const access = bearer ? options.authenticate(req, 'bearer') : NO_ACCESS;
      // Only a real credential makes a connection trusted here; signed blob URLs earn it by a success.
      if (bearer && options.credentialRequired) connection.trust();
      if (!hit?.match) {
        if (onPath.length > 0) {
          const allow = [...new Set(onPath.map((r) => r.route.method))].join(', ');
          throw new ErrorResponse(
            405,
            `Method ${req.method ?? ''} is not allowed on ${url.pathname}; use ${allow}`,
            { Allow: allow },
          );
        }
        throw new ErrorResponse(404, `No route for ${req.method ?? ''} ${url.pathname}`);
      }
      await hit.route.handler({
        req,
        res,
        url,
        params: decodeParams(hit.match.groups),
        baseUrl: options.hosts.baseUrl(req, options.fallbackBaseUrl()),
        access,
      });
    } catch (error) {
      answerError(req, res, error, options.log, route?.renderError);
    }
  }

  let closing: Promise<void> | undefined;
  let endDrain: () => void = () => undefined;
  // A second call while draining with 0 cuts the drain short (a second SIGTERM); any call
  // returns the one close in progress.
  function close(drainMs = 0): Promise<void> {
    if (drainMs === 0) endDrain();
    return (closing ??= closeOnce(drainMs));
  }

  async function closeOnce(drainMs: number): Promise<void> {
    draining = true;
    const closed = new Promise<void>((resolve, reject) =>
      server.close((error) => (error ? reject(error) : resolve())),
    );
    // Kept-alive idle sockets would otherwise hold server.close() for up to keepAliveTimeout.
    server.closeIdleConnections();
    if (drainMs > 0 && inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, drainMs);
        endDrain = () => {
          clearTimeout(timer);
          resolve();
        };
        afterDrainStep = () => {
          // The socket of a finished answer is idle now (or about to be): close it at once.
          setImmediate(() => server.closeIdleConnections());
          if (inFlight === 0) {
            clearTimeout(timer);
            resolve();
          }
        };
      });
    }
    afterDrainStep = () => undefined;
    endDrain = () => undefined;
    server.closeAllConnections();
    // A socket leaves the set on its 'close', so every one still in it has yet to emit it.
    // Waiting for them makes stats exact (openConnections 0) once close() resolves.
    const socketsClosed = [...sockets].map(
      (socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())),
    );
    for (const socket of sockets) socket.destroy();
    await Promise.all([closed, ...socketsClosed]);
  }

  return { server, stats, close };
}

/**
 * Origin-form targets (`/path?q`) are parsed against a dummy origin by concatenation, not as a
 * relative reference: `new URL('//x/y', base)` would treat `x` as a host and drop it from the path.
 */
function parseRequestUrl(target: string | undefined): URL {
  const raw = target ?? '/';
  try {
    return raw.startsWith('/') ? new URL(`http://localhost${raw}`) : new URL(raw);
  } catch {
    throw new ErrorResponse(400, `Malformed request target ${JSON.stringify(raw.slice(0, 200))}`);
  }
}

function decodeParams(groups: Record<string, string> | undefined): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(groups ?? {})) {
    try {
      params[key] = decodeURIComponent(value);
    } catch {
      throw new ErrorResponse(
        400,
        `Malformed percent-encoding in the URL path segment ${JSON.stringify(value)}`,
      );
    }
  }
  return params;
}

function answerError(
  req: IncomingMessage,
  res: ServerResponse,
  error: unknown,
  log: ((line: string) => void) | undefined,
  render: ErrorRenderer | undefined,
): void {
  if (res.headersSent || res.destroyed) {
    // Mid-body failure (client went away, disk error while streaming): the only honest signal
    // left is to cut the connection so the client sees a short body and retries.
    res.destroy();
    return;
  }
  if (!req.complete && !drainsRefusedBody(req)) {
    // The body was not (fully) read and will not be: say so, and the guard closes the socket
    // after the answer instead of reading the rest of a body nobody wants.
    res.setHeader('Connection', 'close');
  }
  const send = (errorResponse: ErrorResponse): void =>
    render
      ? render(res, errorResponse)
      : sendErrorJson(res, errorResponse.status, errorResponse.message, errorResponse.headers);
  if (error instanceof ErrorResponse) {
    send(error);
    return;
  }
  // Checked before the client-abort test: a failed write destroys the request stream too, and
  // the disk error, not the torn request, is what the client must hear about (507 or 500).
  const storage = storageFailure(error);
  if (storage) {
    log?.(`storage error on ${req.method ?? '?'} ${pathOf(req)}: ${storage.message}`);
    send(storage);
    return;
  }
  if (req.destroyed || isClientAbort(error)) {
    res.destroy();
    return;
  }
  log?.(
    // The path and the message may carry bytes a client chose: escaped, so a log line cannot drive a terminal.
    `internal error on ${req.method ?? '?'} ${printableText(pathOf(req))}: ${printableText(error instanceof Error ? error.message : String(error))}`,
  );
  send(
    new ErrorResponse(
      500,
      `Internal server error: ${error instanceof Error ? error.message : 'unknown failure'}`,
    ),
  );
}

function isClientAbort(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ABORT_ERR';
}

function pathOf(req: IncomingMessage): string {
  return pathOnly(req.url);
}

/**
 * Bytes on the wire since the socket's previous request ended: its head, body and answer. Counted
 * on the socket because reading the body stream here would take it from its handler.
 */
const wireMarks = new WeakMap<Socket, { read: number; written: number }>();
function wireBytes(socket: Socket): { bytesIn: number; bytesOut: number } {
  const mark = wireMarks.get(socket) ?? { read: 0, written: 0 };
  const now = { read: socket.bytesRead, written: socket.bytesWritten };
  wireMarks.set(socket, now);
  return { bytesIn: Math.max(0, now.read - mark.read), bytesOut: Math.max(0, now.written - mark.written) };
}

/**
 * Counts the body bytes handed to `res`, so a response can tell whether its whole declared
 * Content-Length went out even when the connection closed before `end()` ran.
 */
function countBodyBytes(res: ServerResponse): { complete(): boolean } {
  let written = 0;
  const count = (chunk: unknown): void => {
    if (typeof chunk === 'string') written += Buffer.byteLength(chunk);
    else if (chunk instanceof Uint8Array) written += chunk.byteLength;
  };
  const write = res.write;
  const end = res.end;
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]): boolean {
    count(chunk);
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as ServerResponse['write'];
  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]): ServerResponse {
    if (typeof chunk !== 'function') count(chunk);
    return (end as (...args: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as ServerResponse['end'];
  return {
    complete: () => {
      const declared = Number(res.getHeader('Content-Length'));
      return res.headersSent && Number.isSafeInteger(declared) && declared >= 0 && written >= declared;
    },
  };
}
