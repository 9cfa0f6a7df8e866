/** Proxy failures as {@link ProxyError}s (`ERR_FERRY_PROXY`), named by `host:port` only. */
import { addErrorContext, FerryError, type ErrorContext } from '../../core/errors.js';
import { toEndpoint, type ProxyEndpoint } from './endpoint.js';
import { proxyFor } from './routing.js';
import type { ProxySettings } from './settings.js';

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

/** Socket errors worth another attempt. */
export const TRANSIENT = new Set([
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

export function errnoOf(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function proxySocketError(
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
export function proxyStatusError(
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

export function timeoutError(endpoint: ProxyEndpoint, what: string, ms: number): ProxyError {
  const cause = Object.assign(new Error(`${what} timed out after ${ms} ms`), { code: 'ETIMEDOUT' });
  return new ProxyError(`proxy ${endpoint.display} did not complete ${what} within ${ms} ms`, {
    proxy: endpoint.display,
    cause,
    retryable: true,
  });
}
