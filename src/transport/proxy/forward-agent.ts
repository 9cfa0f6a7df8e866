import * as http from 'node:http';
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { Duplex } from 'node:stream';

import { connectToProxy, type Callback } from './connect.js';
import type { ProxyEndpoint } from './endpoint.js';

/** `http.Agent` whose sockets go to the proxy; used for http:// targets (absolute-URI requests). */
export class ForwardProxyAgent extends http.Agent {
  readonly #endpoint: ProxyEndpoint;
  readonly #tls: tls.ConnectionOptions;
  readonly #timeoutMs: number;
  readonly #raw = new Set<Duplex>();

  constructor(
    endpoint: ProxyEndpoint,
    options: http.AgentOptions,
    tlsOptions: tls.ConnectionOptions,
    timeoutMs: number,
  ) {
    super(options);
    this.#endpoint = endpoint;
    this.#tls = tlsOptions;
    this.#timeoutMs = timeoutMs;
  }

  override createConnection(_options: http.ClientRequestArgs, callback?: Callback): undefined {
    connectToProxy(this.#endpoint, this.#tls, this.#timeoutMs, this.#raw, (err, socket) => {
      if (err) callback?.(err, undefined as unknown as Duplex);
      else callback?.(null, socket as net.Socket);
    });
    return undefined;
  }

  override destroy(): void {
    super.destroy();
    for (const socket of this.#raw) socket.destroy();
    this.#raw.clear();
  }
}
