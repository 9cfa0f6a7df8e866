import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultAction =
  | { kind: 'pass' }
  /** Destroy the client connection before forwarding: the server never sees the request. */
  | { kind: 'reset-before-forward' }
  /** Forward, let the server finish, then destroy the client connection: committed, but the answer is lost. */
  | { kind: 'reset-after-commit' }
  /** Answer directly without forwarding. */
  | { kind: 'respond'; status: number; headers?: Record<string, string>; body?: string }
  /** Forward, but cut the response body after `bytes` bytes (then destroy the connection). */
  | { kind: 'truncate-response'; bytes: number }
  /** Destroy the connection once `bytes` bytes of the request body arrived (nothing is forwarded). */
  | { kind: 'reset-mid-request'; bytes: number }
  /**
   * Read the request and answer nothing at all (no headers) for `ms`, then destroy the
   * connection; without `ms`, until the client gives up and closes it.
   */
  | { kind: 'stall'; ms?: number }
  /**
   * Forward, then send the upstream's status, headers and body with a Content-Length `extra`
   * bytes larger than the body, and end the connection: the body is shorter than declared.
   */
  | { kind: 'wrong-length'; extra: number }
  /** Forward, and flip every bit of the response body byte at `offset` (when the body is that long). */
  | { kind: 'corrupt-response'; offset: number }
  /**
   * Forward and let the server commit, throw its answer away, and answer this instead: the
   * server did the work but the client is told something else.
   */
  | { kind: 'replace-response'; status: number; headers?: Record<string, string>; body?: string }
  /** Hold the request until `until` settles, then apply `then` (gates concurrent requests). */
  | { kind: 'defer'; until: Promise<unknown>; then: FaultAction };

export interface FaultRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** 1-based count of requests seen so far that matched the same method and path. */
  nth: number;
  /** 0-based position of this request among all requests the proxy received. */
  index: number;
}

export interface FaultProxy {
  url: string;
  seen: FaultRequest[];
  /** Client connections accepted so far. */
  readonly connections: number;
  /** Client connections open right now (0 after a client released every socket). */
  readonly open: number;
  close(): Promise<void>;
}

/**
 * An HTTP server in front of a real upstream (e.g. ferry serve) that applies a fault per
 * request. By default the upstream sees its own host, so the signed URLs it hands out point at
 * itself and only calls made to this proxy's URL are subject to faults; with `preserveHost`
 * ferry serve builds its URLs from the proxy's host, and blob traffic goes through faults too.
 */
export async function startFaultProxy(
  upstream: string,
  decide: (req: FaultRequest) => FaultAction,
  options: { preserveHost?: boolean } = {},
): Promise<FaultProxy> {
  const counts = new Map<string, number>();
  const seen: FaultRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let connections = 0;
  const target = new URL(upstream);
  // No keep-alive upstream: the proxy's own sockets must not outlive a test.
  const upstreamAgent = new http.Agent({ keepAlive: false });

  /** Sends the request upstream; the callback gets the upstream response. */
  const forward = (
    req: http.IncomingMessage,
    onResponse: (upstreamRes: http.IncomingMessage) => void,
  ): void => {
    const upstreamReq = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        agent: upstreamAgent,
        headers: { ...req.headers, host: options.preserveHost ? req.headers.host : target.host },
      },
      onResponse,
    );
    upstreamReq.on('error', () => req.socket.destroy());
    req.pipe(upstreamReq);
  };

  /** Collects the whole upstream response body. */
  const collect = (upstreamRes: http.IncomingMessage, done: (body: Buffer) => void): void => {
    const chunks: Buffer[] = [];
    upstreamRes.on('data', (chunk: Buffer) => chunks.push(chunk));
    upstreamRes.on('end', () => done(Buffer.concat(chunks)));
    upstreamRes.on('error', () => done(Buffer.concat(chunks)));
  };

  const apply = (action: FaultAction, req: http.IncomingMessage, res: http.ServerResponse): void => {
    switch (action.kind) {
      case 'defer': {
        const proceed = (): void => {
          if (!req.socket.destroyed) apply(action.then, req, res);
        };
        action.until.then(proceed, proceed);
        return;
      }
      case 'reset-before-forward':
        req.socket.destroy();
        return;
      case 'respond':
        req.resume();
        res.writeHead(action.status, action.headers ?? {});
        res.end(action.body ?? '');
        return;
      case 'reset-mid-request': {
        let received = 0;
        req.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received >= action.bytes) req.socket.destroy();
        });
        return;
      }
      case 'stall': {
        req.resume();
        if (action.ms !== undefined) {
          const timer = setTimeout(() => {
            timers.delete(timer);
            req.socket.destroy();
          }, action.ms);
          timers.add(timer);
          req.socket.once('close', () => {
            clearTimeout(timer);
            timers.delete(timer);
          });
        }
        return;
      }
      case 'reset-after-commit':
        forward(req, (upstreamRes) => {
          upstreamRes.resume();
          upstreamRes.on('end', () => req.socket.destroy());
        });
        return;
      case 'replace-response':
        forward(req, (upstreamRes) => {
          upstreamRes.resume();
          upstreamRes.on('end', () => {
            res.writeHead(action.status, action.headers ?? {});
            res.end(action.body ?? '');
          });
        });
        return;
      case 'wrong-length':
        forward(req, (upstreamRes) =>
          collect(upstreamRes, (body) => {
            const headers = { ...upstreamRes.headers };
            delete headers['transfer-encoding'];
            headers['content-length'] = String(body.length + action.extra);
            res.writeHead(upstreamRes.statusCode ?? 502, headers);
            // Write the short body, then close our side: the client sees EOF before the declared end.
            res.write(body, () => req.socket.end());
          }),
        );
        return;
      case 'corrupt-response':
        forward(req, (upstreamRes) =>
          collect(upstreamRes, (body) => {
            const copy = Buffer.from(body);
            if (action.offset < copy.length) copy[action.offset] = (copy[action.offset] as number) ^ 0xff;
            const headers = { ...upstreamRes.headers };
            delete headers['transfer-encoding'];
            headers['content-length'] = String(copy.length);
            res.writeHead(upstreamRes.statusCode ?? 502, headers);
            res.end(copy);
          }),
        );
        return;
      case 'truncate-response':
        forward(req, (upstreamRes) => {
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
          let sent = 0;
          upstreamRes.on('data', (chunk: Buffer) => {
            const room = action.bytes - sent;
            if (room > 0) res.write(chunk.subarray(0, room));
            sent += chunk.length;
            if (sent >= action.bytes) {
              upstreamRes.destroy();
              req.socket.destroy();
            }
          });
        });
        return;
      case 'pass':
        forward(req, (upstreamRes) => {
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
          upstreamRes.pipe(res);
        });
        return;
    }
  };

  const server = http.createServer((req, res) => {
    const key = `${req.method} ${(req.url ?? '').split('?')[0]}`;
    const nth = (counts.get(key) ?? 0) + 1;
    counts.set(key, nth);
    const info: FaultRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      nth,
      index: seen.length,
    };
    seen.push(info);
    apply(decide(info), req, res);
  });
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    seen,
    get connections() {
      return connections;
    },
    get open() {
      return sockets.size;
    },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      upstreamAgent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
