import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import type * as tls from 'node:tls';

import { FerryError } from '../../core/errors.js';
import { registerSecret } from '../../core/secrets.js';
import { parseNoProxy, targetPort, type ParsedNoProxy } from '../no-proxy.js';
import { credentialsOf } from './credentials.js';
import { stripBrackets, toEndpoint, type ProxyEndpoint } from './endpoint.js';
import { ForwardProxyAgent } from './forward-agent.js';
import { parseProxyUrl } from './proxy-url.js';
import { decide } from './routing.js';
import { sourceLabel, type ProxySettings } from './settings.js';
import { TunnelAgent } from './tunnel-agent.js';

export interface SlotAgentsOptions {
  /** Keep sockets open between requests. @default true */
  keepAlive?: boolean;
  /** Sockets per agent and origin. @default 1 (one slot = one request at a time) */
  maxSockets?: number;
  /**
   * TLS options for https targets (and for https:// proxies), e.g. `{ ca }`. Connection fields
   * (`host`, `port`, `socket`, `path`, `servername`) are ignored.
   */
  tls?: tls.ConnectionOptions;
  /**
   * Limit for each proxy phase: TCP/TLS connect to the proxy, the CONNECT answer, and the TLS
   * handshake through the tunnel (so a tunnel may take up to 3x this). Failures are retryable
   * ProxyErrors with errno ETIMEDOUT. Direct connections are not affected. @default 30000
   */
  connectTimeoutMs?: number;
}

/**
 * Per-slot connection state: owns every agent it creates (direct http, direct https, per-proxy
 * agents), keep-alive, at most `maxSockets` sockets per agent and origin (default 1: one slot =
 * one request at a time).
 *
 * `prepare` is called with the request options the HttpManager built (host, port, path, headers,
 * method), or by an http-client `RequestHandler.prepareRequest` with its own, and the target URL; it
 * sets `options.agent` to one of its own agents and, for http:// targets through a proxy,
 * rewrites host/port to the proxy, path to the absolute URI, and adds `Proxy-Authorization`.
 * https:// targets through a proxy use a CONNECT tunnel agent. `destroy()` destroys every agent
 * and socket it created; `prepare` after `destroy` throws ERR_FERRY_CLIENT_CLOSED.
 */
export class SlotAgents {
  readonly #settings: ProxySettings;
  readonly #noProxy: ParsedNoProxy;
  readonly #keepAlive: boolean;
  readonly #maxSockets: number;
  readonly #tls: tls.ConnectionOptions;
  readonly #connectTimeoutMs: number;
  #directHttp: http.Agent | undefined;
  #directHttps: https.Agent | undefined;
  readonly #forward = new Map<string, ForwardProxyAgent>();
  readonly #tunnels = new Map<string, TunnelAgent>();
  #destroyed = false;

  constructor(settings: ProxySettings, options: SlotAgentsOptions = {}) {
    this.#settings = settings;
    this.#noProxy = parseNoProxy(settings.noProxy);
    this.#keepAlive = options.keepAlive ?? true;
    this.#maxSockets = options.maxSockets ?? 1;
    if (!Number.isInteger(this.#maxSockets) || this.#maxSockets < 1) {
      throw new FerryError(
        'ERR_FERRY_INVALID_OPTION',
        `maxSockets must be a positive integer, got ${this.#maxSockets}`,
        {
          context: { option: 'maxSockets' },
        },
      );
    }
    this.#tls = tlsOnly(options.tls ?? {});
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
    // Fail fast on a bad proxy URL, and make sure its password can never be printed.
    for (const key of ['httpProxy', 'httpsProxy'] as const) {
      const value = settings[key];
      if (value) {
        const proxy = parseProxyUrl(value, sourceLabel(settings, key));
        const credentials = credentialsOf(proxy);
        registerSecret(credentials?.password);
        registerSecret(proxy.password);
      }
    }
  }

  prepare(options: http.RequestOptions, target: URL): void {
    if (this.#destroyed) {
      throw new FerryError(
        'ERR_FERRY_CLIENT_CLOSED',
        'The connection slot was destroyed; no more requests can be sent',
      );
    }
    // Idempotent: a second call on the same options object (already rewritten) is a no-op.
    if (prepared.has(options)) return;
    prepared.add(options);
    const effective = effectiveTarget(options, target);
    const { proxy } = decide(effective, this.#settings, this.#noProxy);
    const hostname = stripBrackets(effective.hostname);
    const secure = effective.protocol === 'https:';

    if (!proxy) {
      options.host = hostname;
      if (options.hostname !== undefined) options.hostname = hostname;
      options.agent = secure ? this.#httpsAgent() : this.#httpAgent();
      return;
    }
    const endpoint = toEndpoint(proxy);
    if (secure) {
      options.host = hostname;
      if (options.hostname !== undefined) options.hostname = hostname;
      options.agent = this.#tunnelAgent(endpoint);
      return;
    }
    // Plain http through the proxy: absolute URI, Host of the target, credentials for the proxy.
    const path = options.path ?? '/';
    options.agent = this.#forwardAgent(endpoint);
    setHeader(options, 'host', effective.host);
    if (endpoint.authorization) setHeader(options, 'proxy-authorization', endpoint.authorization);
    options.path = `http://${effective.host}${path.startsWith('/') ? path : `/${path}`}`;
    options.host = endpoint.host;
    if (options.hostname !== undefined) options.hostname = endpoint.host;
    options.port = endpoint.port;
  }

  destroy(): void {
    this.#destroyed = true;
    this.#directHttp?.destroy();
    this.#directHttps?.destroy();
    for (const agent of this.#forward.values()) agent.destroy();
    for (const agent of this.#tunnels.values()) agent.destroy();
    this.#forward.clear();
    this.#tunnels.clear();
  }

  #agentOptions(): http.AgentOptions {
    return { keepAlive: this.#keepAlive, maxSockets: this.#maxSockets };
  }

  #httpAgent(): http.Agent {
    this.#directHttp ??= new http.Agent(this.#agentOptions());
    return this.#directHttp;
  }

  #httpsAgent(): https.Agent {
    this.#directHttps ??= new https.Agent({ ...this.#tls, ...this.#agentOptions() });
    return this.#directHttps;
  }

  #forwardAgent(endpoint: ProxyEndpoint): ForwardProxyAgent {
    let agent = this.#forward.get(endpoint.key);
    if (!agent) {
      agent = new ForwardProxyAgent(endpoint, this.#agentOptions(), this.#tls, this.#connectTimeoutMs);
      this.#forward.set(endpoint.key, agent);
    }
    return agent;
  }

  #tunnelAgent(endpoint: ProxyEndpoint): TunnelAgent {
    let agent = this.#tunnels.get(endpoint.key);
    if (!agent) {
      agent = new TunnelAgent(endpoint, this.#agentOptions(), this.#tls, this.#connectTimeoutMs);
      this.#tunnels.set(endpoint.key, agent);
    }
    return agent;
  }
}

const prepared = new WeakSet<http.RequestOptions>();

/**
 * The URL the request options actually describe. Normally `target`; but http-client re-runs the
 * handlers with new options when it follows a redirect, and a handler that closed over the
 * first URL would then pass a stale `target`. In that case the origin is rebuilt from the
 * options (the scheme from the port when it is 80/443, else the scheme of `target`).
 */
function effectiveTarget(options: http.RequestOptions, target: URL): URL {
  const rawHost = options.hostname ?? options.host;
  if (rawHost === undefined || rawHost === null) return target;
  const host = stripBrackets(String(rawHost)).toLowerCase();
  const port =
    options.port === undefined || options.port === null ? targetPort(target) : Number(options.port);
  if (host === stripBrackets(target.hostname) && port === targetPort(target)) return target;
  const protocol = port === 443 ? 'https:' : port === 80 ? 'http:' : target.protocol;
  const bracketed = net.isIPv6(host) ? `[${host}]` : host;
  return new URL(`${protocol}//${bracketed}:${port}${options.path ?? '/'}`);
}

function setHeader(options: http.RequestOptions, name: string, value: string): void {
  const headers = options.headers;
  if (Array.isArray(headers)) {
    const flat = [...(headers as readonly string[])];
    for (let i = flat.length - 2; i >= 0; i -= 2) {
      if (String(flat[i]).toLowerCase() === name) flat.splice(i, 2);
    }
    options.headers = [...flat, name, value];
    return;
  }
  const record: http.OutgoingHttpHeaders = { ...(headers as http.OutgoingHttpHeaders | undefined) };
  for (const key of Object.keys(record)) {
    if (key.toLowerCase() === name) delete record[key];
  }
  record[name] = value;
  options.headers = record;
}

const CONNECTION_FIELDS = new Set(['host', 'port', 'socket', 'path', 'servername', 'timeout']);

function tlsOnly(options: tls.ConnectionOptions): tls.ConnectionOptions {
  return Object.fromEntries(Object.entries(options).filter(([key]) => !CONNECTION_FIELDS.has(key)));
}
