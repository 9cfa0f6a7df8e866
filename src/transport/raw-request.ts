import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import type http from 'node:http';
import type https from 'node:https';

/**
 * What a request body may be: a string (its content-length is the caller's to set), or a
 * stream-like source that is piped into the request.
 */
export type RawBody = string | NodeJS.ReadableStream | null;

/**
 * Sends one request with options already prepared (agent, path, headers) and calls back once:
 * with the response when its headers arrive, or with the error. An idle socket (no bytes either
 * way for `socketTimeoutMs`) ends with `Request timeout: <path>`, the message the retry policy
 * and the failure classifier recognise (retry.ts, http-failure.ts; the path is scrubbed of
 * secrets where errors are built).
 *
 * This is what `@actions/http-client`'s `requestRawWithCallback` did for the HttpManager, which
 * used nothing else of it. That package imports undici's ProxyAgent and `tunnel` at load time:
 * about 2.3 MB of code on the heap of every process that never uses them, and with it V8 ran a
 * mark-compact after nearly every scavenge of a large download (28-35 per 512 MiB instead of 1,
 * about 0.5 s of CPU on this machine; docs/benchmarks.md, "Legacy W2 download (session 7)").
 */
export function sendRaw(
  module: typeof http | typeof https,
  options: RequestOptions,
  body: RawBody,
  socketTimeoutMs: number,
  onResult: (error: Error | undefined, response?: IncomingMessage) => void,
): ClientRequest {
  let called = false;
  const result = (error: Error | undefined, response?: IncomingMessage): void => {
    if (called) return;
    called = true;
    onResult(error, response);
  };
  const req = module.request(options, (res) => result(undefined, res));
  req.setTimeout(socketTimeoutMs, () => {
    req.socket?.end();
    result(new Error(`Request timeout: ${options.path ?? ''}`));
  });
  req.on('error', (error) => result(error));
  if (typeof body === 'string') {
    req.end(body, 'utf8');
  } else if (body) {
    // The source ends the request when it closes (HttpManager's one-shot buffer body reports
    // 'close' right after writing; a file stream after its last chunk).
    body.on('close', () => req.end());
    body.pipe(req);
  } else {
    req.end();
  }
  return req;
}
