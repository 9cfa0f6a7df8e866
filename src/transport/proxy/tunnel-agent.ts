import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';

import { connectToProxy, type Callback } from './connect.js';
import { stripBrackets, type ProxyEndpoint } from './endpoint.js';
import {
  errnoOf,
  ProxyError,
  proxySocketError,
  proxyStatusError,
  TRANSIENT,
  timeoutError,
} from './errors.js';

/**
 * `https.Agent` whose sockets are TLS connections to the target inside a CONNECT tunnel through
 * the proxy. Node's Agent supports the asynchronous form of `createConnection(options, cb)`
 * (`Agent.prototype.createSocket` passes its `oncreate` callback and only uses a return value
 * when one is given), so the CONNECT exchange and the TLS handshake finish before the socket is
 * handed over, and every failure reaches the request as a ProxyError.
 */
export class TunnelAgent extends https.Agent {
  readonly #endpoint: ProxyEndpoint;
  readonly #tls: tls.ConnectionOptions;
  readonly #timeoutMs: number;
  /** Proxy sockets and tunnel TLS sockets this agent created, destroyed by destroy(). */
  readonly #raw = new Set<Duplex>();

  constructor(
    endpoint: ProxyEndpoint,
    options: http.AgentOptions,
    tlsOptions: tls.ConnectionOptions,
    timeoutMs: number,
  ) {
    super({ ...tlsOptions, ...options });
    this.#endpoint = endpoint;
    this.#tls = tlsOptions;
    this.#timeoutMs = timeoutMs;
  }

  override createConnection(options: http.ClientRequestArgs, callback?: Callback): undefined {
    const endpoint = this.#endpoint;
    const host = stripBrackets(String(options.host ?? 'localhost'));
    const port = Number(options.port ?? 443);
    const authority = `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
    let finished = false;
    const fail = (err: ProxyError): void => {
      if (finished) return;
      finished = true;
      callback?.(err, undefined as unknown as Duplex);
    };

    connectToProxy(endpoint, this.#tls, this.#timeoutMs, this.#raw, (err, proxySocket) => {
      if (err || !proxySocket) {
        fail(err ?? proxySocketError(endpoint, new Error('no socket'), false, 'connect'));
        return;
      }
      const headers: http.OutgoingHttpHeaders = { host: authority };
      if (endpoint.authorization) headers['proxy-authorization'] = endpoint.authorization;
      const req = http.request({
        method: 'CONNECT',
        path: authority,
        headers,
        setHost: false,
        // No agent: the request runs on the socket we already connected (and track).
        createConnection: () => proxySocket,
      });
      const timer = setTimeout(() => {
        fail(timeoutError(endpoint, `CONNECT ${authority}`, this.#timeoutMs));
        req.destroy();
        proxySocket.destroy();
      }, this.#timeoutMs);
      timer.unref();
      req.once('error', (error) => {
        clearTimeout(timer);
        proxySocket.destroy();
        fail(proxySocketError(endpoint, error, true, `CONNECT ${authority}`));
      });
      req.once('connect', (res: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
        clearTimeout(timer);
        if (finished) {
          socket.destroy();
          return;
        }
        if (res.statusCode !== 200) {
          socket.destroy();
          fail(proxyStatusError(endpoint, `CONNECT ${authority}`, res.statusCode ?? 0, res.statusMessage));
          return;
        }
        if (head.length > 0) {
          socket.destroy();
          fail(
            new ProxyError(`proxy ${endpoint.display} sent data before the TLS handshake of ${authority}`, {
              proxy: endpoint.display,
            }),
          );
          return;
        }
        this.#startTls(socket, options, host, authority, callback, fail, () => {
          finished = true;
        });
      });
      req.end();
    });
    return undefined;
  }

  #startTls(
    socket: net.Socket,
    options: http.ClientRequestArgs & { servername?: string },
    host: string,
    authority: string,
    callback: Callback | undefined,
    fail: (err: ProxyError) => void,
    markDone: () => void,
  ): void {
    const endpoint = this.#endpoint;
    const servername = options.servername || (net.isIP(host) ? undefined : host);
    const secure = tls.connect({
      ...this.#tls,
      socket,
      host,
      ...(servername ? { servername } : {}),
    });
    this.#raw.add(secure);
    // The TLS socket now owns the tunnel socket's handle and reports its errors.
    socket.on('error', () => undefined);
    secure.once('close', () => {
      this.#raw.delete(secure);
      socket.destroy();
    });
    const timer = setTimeout(() => {
      secure.destroy();
      fail(timeoutError(endpoint, `the TLS handshake with ${authority} through the tunnel`, this.#timeoutMs));
    }, this.#timeoutMs);
    timer.unref();
    const onError = (error: Error): void => {
      clearTimeout(timer);
      secure.destroy();
      const errno = errnoOf(error);
      fail(
        new ProxyError(
          `TLS handshake with ${authority} through proxy ${endpoint.display} failed: ${error.message}`,
          { proxy: endpoint.display, cause: error, retryable: errno !== undefined && TRANSIENT.has(errno) },
        ),
      );
    };
    secure.once('error', onError);
    secure.once('secureConnect', () => {
      clearTimeout(timer);
      secure.removeListener('error', onError);
      markDone();
      callback?.(null, secure);
    });
  }

  override destroy(): void {
    super.destroy();
    for (const socket of this.#raw) socket.destroy();
    this.#raw.clear();
  }
}
