import type { IncomingMessage } from 'node:http';
import { FerryError, HttpError, NetworkError, type FerryErrorCode } from '../core/errors.js';
import { redactUrl, urlWithoutQuery } from '../core/redact.js';
import { mentionsRateLimit } from './error-body.js';
import type { RequestSpec } from './http-manager.js';
import { ProxyError, proxyAuthRequiredError, type ProxySettings } from './proxy.js';
import { errorCode } from './retry.js';

/** What a failed request attempt becomes: typed errors with codes, messages that name the call. */

/** The error for an attempt that got no usable answer (a network failure, a broken body). */
export function networkFailure(
  spec: RequestSpec,
  url: URL,
  error: unknown,
  attempt: number,
  socketTimeoutMs: number,
): FerryError {
  // The proxy agent does not know the operation: give its error the request's context.
  if (error instanceof ProxyError)
    return error.inContext({ ...spec.context, method: spec.method, url: redactUrl(url), attempt });
  if (error instanceof FerryError && error.code === 'ERR_FERRY_PROXY') return error;
  const errno = errorCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  // sendRaw (raw-request.ts) reports its idle timer in prose ("Request timeout: <path>", scrubbed).
  const timeout = /Request timeout/i.test(detail);
  const call = spec.call ? `${spec.call}: ` : '';
  const message = timeout
    ? `${call}No data from ${url.host} within ${seconds(socketTimeoutMs)} s (timeoutMs) on ${spec.method} ${urlWithoutQuery(url)}`
    : `${call}Network error on ${spec.method} ${urlWithoutQuery(url)}: ${detail}`;
  return new NetworkError(message, timeout ? 'ETIMEDOUT' : errno, {
    cause: error,
    context: { ...spec.context, method: spec.method, url: redactUrl(url), attempt },
  });
}

/** The error for a final non-2xx answer: the code, a bounded server message, and whether to retry. */
export function statusFailure(
  spec: RequestSpec,
  url: URL,
  status: number,
  statusText: string | undefined,
  serverMessage: string | undefined,
  body: string,
  attempt: number,
  rateLimited: boolean,
  proxy: ProxySettings,
  retryableStatuses: readonly number[],
): HttpError {
  // Error pages can be huge (or an attacker's): never more than 200 characters of one in a message.
  const shortMessage = serverMessage?.slice(0, 200);
  // A 407 from our own proxy names it (host:port) like a refused CONNECT does.
  const viaProxy = status === 407 ? proxyAuthRequiredError(url, proxy) : undefined;
  const custom =
    (viaProxy ? { message: viaProxy.message } : undefined) ??
    spec.describeFailure?.(status, shortMessage) ??
    (status === 407
      ? {
          message:
            'Proxy authentication required: a proxy Ferry was not told about answered 407 (a transparent proxy on the way?); configure it with credentials in HTTPS_PROXY/HTTP_PROXY',
        }
      : undefined);
  const code = custom?.code ?? codeForStatus(status, rateLimited ? 'rate limit' : serverMessage);
  const base = `Request failed with status code ${status}${statusText ? ` ${statusText}` : ''}: ${spec.method} ${urlWithoutQuery(url)}`;
  const message = custom?.message
    ? `${custom.message.slice(0, 400)} (${base})`
    : `${spec.call ? `${spec.call} failed: ` : ''}${base}${shortMessage ? `: ${shortMessage}` : ''}`;
  return new HttpError(code, message, status, body, {
    context: { ...spec.context, method: spec.method, url: redactUrl(url), attempt },
    retryable: rateLimited || retryableStatuses.includes(status),
  });
}

export function codeForStatus(status: number, serverMessage?: string): FerryErrorCode {
  if (status === 401) return 'ERR_FERRY_UNAUTHORIZED';
  // A rate limit is not a quota: it clears by itself (and was retried as one).
  if (status === 403 && mentionsRateLimit(serverMessage)) return 'ERR_FERRY_HTTP';
  if (status === 403)
    return serverMessage && /quota|storage|limit/i.test(serverMessage)
      ? 'ERR_FERRY_QUOTA'
      : 'ERR_FERRY_UNAUTHORIZED';
  if (status === 404 || status === 410) return 'ERR_FERRY_NOT_FOUND';
  if (status === 407) return 'ERR_FERRY_PROXY';
  if (status === 409) return 'ERR_FERRY_CONFLICT';
  // 507 Insufficient Storage (ferry serve on a full disk): the same remedy as a full local disk,
  // free space (there, on the server); retrying into it only repeats the failure.
  if (status === 507) return 'ERR_FERRY_NO_SPACE';
  return 'ERR_FERRY_HTTP';
}

/**
 * 429, or a GitHub-style 403 that says it is a rate limit: in the body ("API rate limit
 * exceeded", "secondary rate limit") or with `x-ratelimit-remaining: 0`. A plain 403 is not.
 */
export function isRateLimited(
  status: number,
  res: IncomingMessage,
  serverMessage: string | undefined,
): boolean {
  if (status === 429) return true;
  if (status !== 403) return false;
  return mentionsRateLimit(serverMessage) || header(res, 'x-ratelimit-remaining')?.trim() === '0';
}

/** Milliseconds as seconds for messages: whole seconds stay whole, short timeouts keep their fraction. */
function seconds(ms: number): string {
  return String(Number((ms / 1000).toFixed(ms < 10_000 ? 3 : 0)));
}

export function header(res: IncomingMessage, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
