import { startLoopback } from '../helpers/loopback.js';
import http from 'node:http';

/**
 * Byte-level faults for blob and chunk bodies, applied per request by an HTTP proxy in front of
 * a real upstream (ferry serve or Azurite). Unlike helpers/fault-proxy.ts it can touch the bytes
 * of a body (flip, cut at an offset, drop the framing, trickle), which is what the data-transfer
 * cases need.
 */
export type TransferFault =
  | { kind: 'pass' }
  /** Read the request, then destroy the client connection: the upstream never sees it. */
  | { kind: 'reset' }
  /** Read the request and answer directly. */
  | { kind: 'respond'; status: number; headers?: Record<string, string>; body?: string }
  /** Read the request and never answer (a stalled block); the client must time out. */
  | { kind: 'swallow' }
  /** Forward, let the upstream finish, then destroy the client connection: done, but the answer is lost. */
  | { kind: 'lose-response' }
  /** Wait, then forward (lets a signed URL expire on the real server). */
  | { kind: 'delay'; ms: number }
  /** Forward with headers intact (Content-Length included); destroy the socket after `bytes` body bytes. */
  | { kind: 'cut'; bytes: number }
  /**
   * Forward without Content-Length and end the response *cleanly* after `bytes` bytes: with
   * `chunked` the terminating chunk is sent; with `close` the connection is closed
   * (close-delimited body). The client sees a complete but short body.
   */
  | { kind: 'end-early'; bytes: number; framing: 'chunked' | 'close' }
  /** Forward the response body `bytes` at a time, one slice every `everyMs`. */
  | { kind: 'trickle'; bytes: number; everyMs: number }
  /** Forward the request with the byte at `offset` of its body inverted. */
  | { kind: 'flip-request'; offset: number }
  /** Forward the response with the byte at `offset` of its body inverted (length unchanged); negative counts from the end. */
  | { kind: 'flip-response'; offset: number }
  /** Forward, buffer the JSON response and send `transform(json)` instead. */
  | { kind: 'rewrite-json'; transform: (json: unknown) => unknown };

const SIGNATURE_PARAMS = new Set([
  'sig',
  'se',
  'sp',
  'sv',
  'st',
  'spr',
  'sr',
  'skoid',
  'sktid',
  'skt',
  'ske',
  'sks',
  'skv',
]);

export interface SeenRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  /** 1-based count of requests with the same method, path and query (signature parameters ignored). */
  nth: number;
  /** The fault that was applied. */
  fault: TransferFault['kind'];
  /** What the upstream answered, when the request was forwarded. */
  status?: number;
  /** Its `x-ms-error-code`, if any. */
  errorCode?: string;
  responseHeaders?: http.IncomingHttpHeaders;
}

export interface TransferFaultProxy {
  url: string;
  seen: SeenRequest[];
  /** Client connections open right now (0 once the client released its sockets). */
  readonly open: number;
  close(): Promise<void>;
}

/**
 * Starts the proxy on 127.0.0.1:0. The Host header is passed through, so ferry serve builds its
 * signed and container URLs from the proxy's address and every blob/chunk request comes here too.
 */
export async function startTransferFaults(
  upstream: string,
  decide: (req: SeenRequest) => TransferFault,
): Promise<TransferFaultProxy> {
  const counts = new Map<string, number>();
  const seen: SeenRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const target = new URL(upstream);

  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const loopback = await startLoopback((req, res) => {
    const parsed = new URL(req.url ?? '/', 'http://proxy.invalid');
    // Requests are told apart by method, path and query, minus the signature (renewed URLs
    // count as the same request): each block id, each legacy itemPath has its own count.
    const identity = [...parsed.searchParams].filter(([k]) => !SIGNATURE_PARAMS.has(k)).sort();
    const key = `${req.method} ${parsed.pathname} ${JSON.stringify(identity)}`;
    const nth = (counts.get(key) ?? 0) + 1;
    counts.set(key, nth);
    const info: SeenRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      path: parsed.pathname,
      query: parsed.searchParams,
      headers: req.headers,
      nth,
      fault: 'pass',
    };
    const fault = decide(info);
    info.fault = fault.kind;
    seen.push(info);

    if (fault.kind === 'reset' || fault.kind === 'swallow' || fault.kind === 'respond') {
      req.resume();
      req.on('end', () => {
        if (fault.kind === 'reset') req.socket.destroy();
        else if (fault.kind === 'respond') {
          res.writeHead(fault.status, fault.headers ?? {});
          res.end(fault.body ?? '');
        }
        // swallow: the request is read and left unanswered until the client gives up.
      });
      return;
    }

    const forward = (): void => {
      const upstreamReq = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (upstreamRes) => {
          info.status = upstreamRes.statusCode ?? 0;
          info.responseHeaders = upstreamRes.headers;
          const code = upstreamRes.headers['x-ms-error-code'];
          if (typeof code === 'string') info.errorCode = code;
          // An upstream that answered early (403 before the body) stops reading it; keep
          // draining the client's body here so a client that closes its socket is noticed.
          upstreamRes.once('end', () => {
            if (!req.complete) {
              req.unpipe(upstreamReq);
              upstreamReq.destroy();
              req.resume();
            }
          });
          respond(fault, upstreamRes, req, res, later);
        },
      );
      upstreamReq.on('error', () => req.socket.destroy());
      if (fault.kind === 'flip-request') {
        let offset = 0;
        req.on('data', (chunk: Buffer) => {
          const at = fault.offset - offset;
          if (at >= 0 && at < chunk.length) {
            const copy = Buffer.from(chunk);
            copy[at] = (copy[at] ?? 0) ^ 0xff;
            upstreamReq.write(copy);
          } else upstreamReq.write(chunk);
          offset += chunk.length;
        });
        req.on('end', () => upstreamReq.end());
      } else req.pipe(upstreamReq);
    };
    if (fault.kind === 'delay') later(fault.ms, forward);
    else forward();
  });
  return {
    url: loopback.url,
    seen,
    get open() {
      return loopback.open;
    },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      await loopback.close();
    },
  };
}

function respond(
  fault: TransferFault,
  upstreamRes: http.IncomingMessage,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  later: (ms: number, fn: () => void) => void,
): void {
  const status = upstreamRes.statusCode ?? 502;
  const headers = { ...upstreamRes.headers };
  const ok = status >= 200 && status < 300;
  switch (fault.kind) {
    case 'lose-response':
      upstreamRes.resume();
      upstreamRes.on('end', () => req.socket.destroy());
      return;
    case 'cut': {
      if (!ok) break;
      res.writeHead(status, headers);
      res.flushHeaders();
      let sent = 0;
      const stop = (): void => {
        upstreamRes.destroy();
        // Let the written bytes drain before the connection goes.
        res.socket?.end(() => req.socket.destroy());
      };
      if (fault.bytes === 0) {
        stop();
        return;
      }
      upstreamRes.on('data', (chunk: Buffer) => {
        if (sent >= fault.bytes) return;
        const room = fault.bytes - sent;
        res.write(chunk.subarray(0, room));
        sent += Math.min(room, chunk.length);
        if (sent >= fault.bytes) stop();
      });
      return;
    }
    case 'end-early': {
      if (!ok) break;
      delete headers['content-length'];
      if (fault.framing === 'close') {
        delete headers['transfer-encoding'];
        headers['connection'] = 'close';
      }
      // Node frames a body without Content-Length as chunked, or close-delimited when the
      // response is marked `Connection: close` and chunked encoding is turned off.
      res.useChunkedEncodingByDefault = fault.framing === 'chunked';
      if (fault.framing === 'close') res.shouldKeepAlive = false;
      res.writeHead(status, headers);
      let sent = 0;
      upstreamRes.on('data', (chunk: Buffer) => {
        if (sent >= fault.bytes) return;
        const room = fault.bytes - sent;
        res.write(chunk.subarray(0, room));
        sent += Math.min(room, chunk.length);
        if (sent >= fault.bytes) {
          upstreamRes.destroy();
          res.end();
        }
      });
      upstreamRes.on('end', () => res.end());
      return;
    }
    case 'trickle': {
      if (!ok) break;
      res.writeHead(status, headers);
      res.flushHeaders();
      const chunks: Buffer[] = [];
      let done = false;
      upstreamRes.on('data', (c: Buffer) => chunks.push(c));
      upstreamRes.on('end', () => {
        done = true;
      });
      let pending = Buffer.alloc(0);
      const tick = (): void => {
        if (res.destroyed || req.socket.destroyed) return;
        if (pending.length < fault.bytes && chunks.length)
          pending = Buffer.concat([pending, ...chunks.splice(0)]);
        if (pending.length === 0 && done) {
          res.end();
          return;
        }
        if (pending.length) {
          res.write(pending.subarray(0, fault.bytes));
          pending = pending.subarray(fault.bytes);
        }
        later(fault.everyMs, tick);
      };
      later(fault.everyMs, tick);
      return;
    }
    case 'flip-response': {
      if (!ok) break;
      res.writeHead(status, headers);
      const flipAt = fault.offset >= 0 ? fault.offset : Number(headers['content-length']) + fault.offset;
      let offset = 0;
      upstreamRes.on('data', (chunk: Buffer) => {
        const at = flipAt - offset;
        if (at >= 0 && at < chunk.length) {
          const copy = Buffer.from(chunk);
          copy[at] = (copy[at] ?? 0) ^ 0xff;
          res.write(copy);
        } else res.write(chunk);
        offset += chunk.length;
      });
      upstreamRes.on('end', () => res.end());
      return;
    }
    case 'rewrite-json': {
      if (!ok) break;
      const chunks: Buffer[] = [];
      upstreamRes.on('data', (c: Buffer) => chunks.push(c));
      upstreamRes.on('end', () => {
        const body = Buffer.from(
          JSON.stringify(fault.transform(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown)),
        );
        delete headers['transfer-encoding'];
        res.writeHead(status, { ...headers, 'content-length': String(body.length) });
        res.end(body);
      });
      return;
    }
    default:
      break;
  }
  res.writeHead(status, headers);
  upstreamRes.pipe(res);
}
