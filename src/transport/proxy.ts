/**
 * The one proxy implementation of Ferry. Every request (results RPC, REST, blob upload, blob
 * download) is routed by {@link SlotAgents.prepare}, so all of them follow the same rules.
 *
 * ## Where settings come from
 *
 * The entry points (Action, CLI) call {@link proxySettingsFromEnv} with `process.env` and merge
 * explicit options on top with {@link mergeProxySettings}; the core never reads the environment.
 *
 * - `https_proxy` / `HTTPS_PROXY`: proxy for `https://` targets.
 * - `http_proxy` / `HTTP_PROXY`: proxy for `http://` targets only. It is NOT used for https
 *   targets (curl, Go and @actions/http-client agree on this); set HTTPS_PROXY as well.
 * - `no_proxy` / `NO_PROXY`: targets that bypass the proxy (semantics in `no-proxy.ts`).
 * - The lowercase variable wins over the uppercase one, as in curl. A lowercase variable that is
 *   set but empty also wins, and means "no proxy" (so `https_proxy=` switches off an inherited
 *   `HTTPS_PROXY`). Unlike curl, uppercase `HTTP_PROXY` is honoured when `http_proxy` is unset.
 * - `ALL_PROXY` is not read.
 *
 * ## Proxy URLs
 *
 * `http://` and `https://` proxies are supported (`https://` means TLS to the proxy itself).
 * A URL without a scheme (`proxy:3128`) is treated as `http://`. Without a port, the scheme
 * default is used (80 / 443; note that curl assumes 1080). Credentials come from the URL
 * userinfo, percent-decoded (`http://user:p%40ss@proxy:3128` sends the password `p@ss`), and
 * are sent as `Proxy-Authorization: Basic` on CONNECT (https targets) or on each request
 * (http targets). They are never sent to the target, never logged, and never put in errors.
 * Any other scheme (e.g. `socks5://`) or an unparsable URL is a configuration error
 * (`ERR_FERRY_CONFIG`): Ferry never silently falls back to a direct connection.
 *
 * ## Routing
 *
 * - http target, no proxy: direct keep-alive `http.Agent`.
 * - https target, no proxy: direct keep-alive `https.Agent` with the `tls` options.
 * - http target through a proxy: the request goes to the proxy with an absolute-URI path,
 *   `Host: <target>` and `Proxy-Authorization` (RFC 9112 §3.2.2).
 * - https target through a proxy: `CONNECT host:port` to the proxy, then TLS to the target over
 *   the tunnel. The resulting TLS socket is kept alive and reused by later requests.
 *
 * Proxy failures are {@link ProxyError}s (`ERR_FERRY_PROXY`): an unreachable proxy, a CONNECT
 * answered with anything but 200 (407: proxy authentication required), a TLS failure inside a
 * tunnel. Their messages name the proxy as `host:port` only.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';

import { addErrorContext, FerryError, type ErrorContext } from '../core/errors.js';
import { registerSecret } from '../core/redact.js';
import { matchNoProxy, parseNoProxy, targetPort, type ParsedNoProxy } from './no-proxy.js';

export { parseNoProxy, matchNoProxy, type NoProxyRule, type ParsedNoProxy } from './no-proxy.js';

export interface ProxySettings {
  /** Proxy URL for http:// targets; may contain `user:pass@` (percent-encoded). */
  httpProxy?: string;
  /** Proxy URL for https:// targets; may contain `user:pass@` (percent-encoded). */
  httpsProxy?: string;
  /** Comma/whitespace separated NO_PROXY list. */
  noProxy?: string;
}

type SettingKey = keyof ProxySettings;

/** Where each field came from (`https_proxy`, `HTTPS_PROXY`, `httpsProxy option`), for doctor output. */
const sources = new WeakMap<ProxySettings, Partial<Record<SettingKey, string>>>();

const ENV_NAMES: Record<SettingKey, string> = {
  httpProxy: 'http_proxy',
  httpsProxy: 'https_proxy',
  noProxy: 'no_proxy',
};

/**
 * Reads `http_proxy`/`HTTP_PROXY`, `https_proxy`/`HTTPS_PROXY` and `no_proxy`/`NO_PROXY` from an
 * env object. The lowercase name wins over the uppercase one, as in curl; a set-but-empty
 * lowercase variable wins too (and means "none"). Fields whose variables are unset are absent.
 */
export function proxySettingsFromEnv(env: Record<string, string | undefined>): ProxySettings {
  const out: ProxySettings = {};
  const from: Partial<Record<SettingKey, string>> = {};
  for (const key of Object.keys(ENV_NAMES) as SettingKey[]) {
    const lower = ENV_NAMES[key];
    const upper = lower.toUpperCase();
    const name = env[lower] !== undefined ? lower : env[upper] !== undefined ? upper : undefined;
    if (name === undefined) continue;
    out[key] = (env[name] ?? '').trim();
    from[key] = name;
  }
  sources.set(out, from);
  return out;
}

/**
 * Explicit settings override env ones field by field. An explicit empty string overrides too
 * (`{ httpsProxy: '' }` disables an env proxy for https targets).
 */
export function mergeProxySettings(fromEnv: ProxySettings, explicit?: ProxySettings): ProxySettings {
  const out: ProxySettings = { ...fromEnv };
  const from: Partial<Record<SettingKey, string>> = { ...sources.get(fromEnv) };
  for (const key of Object.keys(ENV_NAMES) as SettingKey[]) {
    const value = explicit?.[key];
    if (value === undefined) continue;
    out[key] = value.trim();
    from[key] = `${key} option`;
  }
  sources.set(out, from);
  return out;
}

/** The proxy URL to use for a target, or undefined for a direct connection. Throws ERR_FERRY_CONFIG on a bad proxy URL. */
export function proxyFor(target: URL, settings: ProxySettings): URL | undefined {
  return decide(target, settings, noProxyCache(settings.noProxy)).proxy;
}

/**
 * One line for `ferry doctor`, e.g. `via http://proxy:3128 (HTTPS_PROXY)`,
 * `via http://alice:***@proxy:3128 (https_proxy)`, `direct (NO_PROXY matches .example.com)`,
 * `direct (HTTPS_PROXY not set)`. Passwords are always redacted. Never throws.
 */
export function describeProxyDecision(target: URL, settings: ProxySettings): string {
  let decision: Decision;
  try {
    decision = decide(target, settings, noProxyCache(settings.noProxy));
  } catch (error) {
    return `error: ${error instanceof Error ? error.message : String(error)}`;
  }
  const field = fieldFor(target);
  if (field === undefined) return `direct (${target.protocol} targets are never proxied)`;
  const label = sourceLabel(settings, field);
  if (decision.proxy) return `via ${displayProxy(decision.proxy)} (${label})`;
  if (decision.matched) {
    const noProxyLabel = sourceLabel(settings, 'noProxy');
    return decision.matched === '*'
      ? `direct (${noProxyLabel} is *)`
      : `direct (${noProxyLabel} matches ${decision.matched})`;
  }
  return settings[field] === '' ? `direct (${label} is empty)` : `direct (${label} not set)`;
}

/**
 * A proxy failure: unreachable proxy, CONNECT refused (407 and others), failure of the tunnel.
 * `proxy` is `host:port` only (never credentials).
 */
export class ProxyError extends FerryError {
  override name = 'ProxyError';
  /** The proxy as `host:port`. */
  readonly proxy: string;
  /** The status the proxy answered CONNECT with, when it answered. */
  readonly status: number | undefined;
  /** The system error code of the cause (`ECONNREFUSED`, `ECONNRESET`, ...), when there is one. */
  readonly errno: string | undefined;

  constructor(
    message: string,
    details: { proxy: string; status?: number; cause?: unknown; retryable?: boolean; context?: ErrorContext },
  ) {
    const errno = errnoOf(details.cause);
    super('ERR_FERRY_PROXY', message, {
      retryable: details.retryable ?? false,
      ...(details.cause === undefined ? {} : { cause: details.cause }),
      ...(details.context === undefined ? {} : { context: details.context }),
    });
    this.proxy = details.proxy;
    this.status = details.status;
    this.errno = errno;
  }

  /**
   * This failure with the request's context (operation, artifact, method, URL, attempt), added
   * in place.
   * The agent that raises a ProxyError does not know which operation its socket is for; the
   * HttpManager does, and calls this so the message names the operation and the artifact like
   * every other transport error. Context already set is kept where `context` has no value.
   */
  inContext(context: ErrorContext): ProxyError {
    return addErrorContext(this, definedOnly(context));
  }
}

function definedOnly(context: ErrorContext): ErrorContext {
  return Object.fromEntries(Object.entries(context).filter(([, v]) => v !== undefined)) as ErrorContext;
}

/**
 * The error for a plain-http request that the proxy answered with 407 (for https targets the
 * tunnel agent raises it itself). The HttpManager calls this when a proxied http request
 * gets a 407 response, so both cases read the same.
 */
export function proxyAuthRequiredError(target: URL, settings: ProxySettings): ProxyError | undefined {
  const proxy = proxyFor(target, settings);
  if (!proxy) return undefined;
  const endpoint = toEndpoint(proxy);
  return proxyStatusError(endpoint, `${target.origin}`, 407, 'Proxy Authentication Required');
}

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
 * `prepare` is called from an http-client `RequestHandler.prepareRequest` with the request
 * options http-client built (host, port, path, headers, method, agent) and the target URL; it
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

// ---------------------------------------------------------------------------------------------
// Decision

interface Decision {
  proxy?: URL;
  /** The NO_PROXY entry that made the target go direct. */
  matched?: string;
}

function fieldFor(target: URL): 'httpProxy' | 'httpsProxy' | undefined {
  if (target.protocol === 'https:') return 'httpsProxy';
  if (target.protocol === 'http:') return 'httpProxy';
  return undefined;
}

function decide(target: URL, settings: ProxySettings, noProxy: ParsedNoProxy): Decision {
  const field = fieldFor(target);
  if (field === undefined) return {};
  const value = settings[field];
  if (!value) return {};
  const rule = matchNoProxy(target, noProxy);
  if (rule) return { matched: rule.raw };
  return { proxy: parseProxyUrl(value, sourceLabel(settings, field)) };
}

const noProxyParsed = new Map<string, ParsedNoProxy>();

function noProxyCache(list: string | undefined): ParsedNoProxy {
  const key = list ?? '';
  let parsed = noProxyParsed.get(key);
  if (!parsed) {
    if (noProxyParsed.size >= 32) noProxyParsed.clear();
    parsed = parseNoProxy(key);
    noProxyParsed.set(key, parsed);
  }
  return parsed;
}

function sourceLabel(settings: ProxySettings, key: SettingKey): string {
  return sources.get(settings)?.[key] ?? ENV_NAMES[key].toUpperCase();
}

/** Parses a proxy URL; adds `http://` when the scheme is missing. Errors never show the password. */
function parseProxyUrl(value: string, label: string): URL {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // No cause on purpose: Node's ERR_INVALID_URL carries the full input (password included).
    throw new FerryError('ERR_FERRY_CONFIG', `Invalid proxy URL in ${label}: ${maskUserinfo(value)}`, {
      context: { option: label },
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new FerryError(
      'ERR_FERRY_CONFIG',
      `Unsupported proxy scheme '${url.protocol}' in ${label} (only http:// and https:// proxies are supported)`,
      { context: { option: label } },
    );
  }
  if (url.hostname === '') {
    throw new FerryError('ERR_FERRY_CONFIG', `Invalid proxy URL in ${label}: no host`, {
      context: { option: label },
    });
  }
  return url;
}

/** Replaces everything between `//` and the last `@` of the authority. */
function maskUserinfo(value: string): string {
  return value.replace(/^([^/]*\/\/)?[^/]*@/, (_m, scheme: string | undefined) => `${scheme ?? ''}***@`);
}

function displayProxy(proxy: URL): string {
  const user = proxy.username ? `${proxy.username}${proxy.password ? ':***' : ''}@` : '';
  return `${proxy.protocol}//${user}${proxy.host}`;
}

interface ProxyEndpoint {
  /** Map key: protocol, host, port and credentials (different credentials, different sockets). */
  readonly key: string;
  readonly secure: boolean;
  /** Host name without brackets, for connecting. */
  readonly host: string;
  readonly port: number;
  /** `host:port` (IPv6 in brackets), for messages. */
  readonly display: string;
  /** `Basic ...` when the URL has credentials. */
  readonly authorization: string | undefined;
}

function credentialsOf(proxy: URL): { username: string; password: string } | undefined {
  if (!proxy.username && !proxy.password) return undefined;
  return { username: safeDecode(proxy.username), password: safeDecode(proxy.password) };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function toEndpoint(proxy: URL): ProxyEndpoint {
  const secure = proxy.protocol === 'https:';
  const host = stripBrackets(proxy.hostname);
  const port = proxy.port ? Number(proxy.port) : secure ? 443 : 80;
  const credentials = credentialsOf(proxy);
  const authorization = credentials
    ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}`
    : undefined;
  const display = `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
  return {
    key: `${proxy.protocol}//${display}#${authorization ?? ''}`,
    secure,
    host,
    port,
    display,
    authorization,
  };
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

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

// ---------------------------------------------------------------------------------------------
// Errors

/** Socket errors worth another attempt. */
const TRANSIENT = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
]);
/** Errors that mean "could not reach the proxy at all". */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
]);

function errnoOf(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function proxySocketError(
  endpoint: ProxyEndpoint,
  error: unknown,
  connected: boolean,
  what: string,
): ProxyError {
  const errno = errnoOf(error);
  const detail = errno ?? (error instanceof Error ? error.message : String(error));
  const message =
    !connected || (errno !== undefined && UNREACHABLE.has(errno))
      ? `proxy ${endpoint.display} unreachable (${detail})`
      : `proxy ${endpoint.display} failed during ${what} (${detail})`;
  return new ProxyError(message, {
    proxy: endpoint.display,
    cause: error,
    retryable: errno === undefined ? /socket hang up/i.test(String(error)) : TRANSIENT.has(errno),
  });
}

/** `what` is `CONNECT host:port` for tunnels, or the target origin for plain-http requests. */
function proxyStatusError(
  endpoint: ProxyEndpoint,
  what: string,
  status: number,
  statusText: string | undefined,
): ProxyError {
  const reason = statusText ? ` ${statusText}` : '';
  if (status === 407) {
    const hint = endpoint.authorization
      ? 'the credentials in the proxy URL were rejected'
      : 'no credentials were configured: put user:password (percent-encoded) in the proxy URL';
    return new ProxyError(
      `proxy authentication required: proxy ${endpoint.display} answered 407${reason} to ${what}; ${hint}`,
      { proxy: endpoint.display, status, retryable: false },
    );
  }
  return new ProxyError(`proxy ${endpoint.display} refused ${what} with ${status}${reason}`, {
    proxy: endpoint.display,
    status,
    // 5xx: the proxy could not reach the target (or is overloaded); 408/429: try again later.
    retryable: status >= 500 || status === 408 || status === 429,
  });
}

function timeoutError(endpoint: ProxyEndpoint, what: string, ms: number): ProxyError {
  const cause = Object.assign(new Error(`${what} timed out after ${ms} ms`), { code: 'ETIMEDOUT' });
  return new ProxyError(`proxy ${endpoint.display} did not complete ${what} within ${ms} ms`, {
    proxy: endpoint.display,
    cause,
    retryable: true,
  });
}

// ---------------------------------------------------------------------------------------------
// Agents

type Callback = (err: Error | null, stream: Duplex) => void;

/** Connects to the proxy itself (TCP, or TLS for an https:// proxy), reporting failures as ProxyError. */
function connectToProxy(
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

/** `http.Agent` whose sockets go to the proxy; used for http:// targets (absolute-URI requests). */
class ForwardProxyAgent extends http.Agent {
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

/**
 * `https.Agent` whose sockets are TLS connections to the target inside a CONNECT tunnel through
 * the proxy. Node's Agent supports the asynchronous form of `createConnection(options, cb)`
 * (`Agent.prototype.createSocket` passes its `oncreate` callback and only uses a return value
 * when one is given), so the CONNECT exchange and the TLS handshake finish before the socket is
 * handed over, and every failure reaches the request as a ProxyError.
 */
class TunnelAgent extends https.Agent {
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
