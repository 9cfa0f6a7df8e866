/** Opens the connection to the proxy itself, shared by the forward and the tunnel agent. */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';

import type { ProxyEndpoint } from './endpoint.js';
import { proxySocketError, timeoutError, type ProxyError } from './errors.js';

export type Callback = (err: Error | null, stream: Duplex) => void;

/** Connects to the proxy itself (TCP, or TLS for an https:// proxy), reporting failures as ProxyError. */
export function connectToProxy(
  endpoint: ProxyEndpoint,
  tlsOptions: tls.ConnectionOptions,
  timeoutMs: number,
  track: Set<Duplex>,
  done: (err: ProxyError | null, socket?: net.Socket) => void,
): void {
  const socket = endpoint.secure
    ? tls.connect({ ...tlsOptions, host: endpoint.host, port: endpoint.port, ...sni(endpoint.host) })
    : net.connect({ host: endpoint.host, port: endpoint.port });
  track.add(socket);
  socket.once('close', () => track.delete(socket));
  const ready = endpoint.secure ? 'secureConnect' : 'connect';
  let finished = false;
  const finish = (err: ProxyError | null): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.removeListener('error', onError);
    socket.removeListener(ready, onReady);
    if (err) {
      socket.destroy();
      done(err);
    } else done(null, socket);
  };
  const onError = (error: Error): void => finish(proxySocketError(endpoint, error, false, 'connect'));
  const onReady = (): void => finish(null);
  const timer = setTimeout(() => finish(timeoutError(endpoint, 'the connection', timeoutMs)), timeoutMs);
  timer.unref();
  socket.once('error', onError);
  socket.once(ready, onReady);
}

function sni(host: string): { servername?: string } {
  return net.isIP(host) ? {} : { servername: host };
}
