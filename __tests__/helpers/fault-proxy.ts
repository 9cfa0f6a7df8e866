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
  /** Forward, but cut the response body after `bytes` bytes. */
  | { kind: 'truncate-response'; bytes: number };

export interface FaultRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** 1-based count of requests seen so far that matched the same method and path. */
  nth: number;
}

export interface FaultProxy {
  url: string;
  seen: FaultRequest[];
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
  const target = new URL(upstream);
  const server = http.createServer((req, res) => {
    const key = `${req.method} ${(req.url ?? '').split('?')[0]}`;
    const nth = (counts.get(key) ?? 0) + 1;
    counts.set(key, nth);
    const info: FaultRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, nth };
    seen.push(info);
    const action = decide(info);
    if (action.kind === 'reset-before-forward') {
      req.socket.destroy();
      return;
    }
    if (action.kind === 'respond') {
      req.resume();
      res.writeHead(action.status, action.headers ?? {});
      res.end(action.body ?? '');
      return;
    }
    const upstreamReq = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: options.preserveHost ? req.headers.host : target.host },
      },
      (upstreamRes) => {
        if (action.kind === 'reset-after-commit') {
          upstreamRes.resume();
          upstreamRes.on('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        if (action.kind === 'truncate-response') {
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
          return;
        }
        upstreamRes.pipe(res);
      },
    );
    upstreamReq.on('error', () => req.socket.destroy());
    req.pipe(upstreamReq);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    seen,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
