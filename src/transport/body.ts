import type { IncomingMessage } from 'node:http';
import { FerryError, type ErrorContext, type FerryErrorCode } from '../core/errors.js';
import { watchThroughput, type StallPolicy } from './stall-watchdog.js';

/**
 * Past this many bytes a body read only to free its socket (an error page, a redirect, a
 * discarded answer) is cut off instead: a new socket is cheaper than draining a hostile
 * server's endless body.
 */
export const DRAIN_LIMIT = 1024 * 1024;

/**
 * Reads a response body, keeping at most `limit` bytes. A finite `limit` also bounds the read:
 * after max(limit, DRAIN_LIMIT) bytes the response is destroyed and what was kept is returned.
 * Unlike http-client's readBody, it rejects on a stream error instead of hanging, and it
 * collects chunks once (no quadratic Buffer.concat). Reading to the end is what frees the
 * keep-alive socket.
 */
export function readBody(res: IncomingMessage, limit = Number.POSITIVE_INFINITY): Promise<Buffer> {
  const drainLimit = Number.isFinite(limit) ? Math.max(limit, DRAIN_LIMIT) : limit;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let seen = 0;
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (kept < limit) {
        const take = chunk.subarray(0, Math.min(chunk.length, limit - kept));
        chunks.push(take);
        kept += take.length;
      }
      if (seen > drainLimit) {
        res.off('data', onData);
        resolve(Buffer.concat(chunks, kept));
        res.destroy();
      }
    };
    res.on('data', onData);
    res.once('end', () => resolve(Buffer.concat(chunks, kept)));
    res.once('error', reject);
    res.once('aborted', () => reject(Object.assign(new Error('response aborted'), { code: 'ECONNRESET' })));
  });
}

/**
 * 32 MiB: a ListArtifacts answer of 10,000 artifacts is about 4 MiB, the largest single JSON
 * answer a service sends in practice. The legacy container listing is streamed item by item
 * (container-items.ts), so its size is bounded by the download's entry limits, not by this.
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/** Which answer is being read, for the error when it is too large. */
export interface JsonLimit {
  /** Bytes accepted; more is ERR_FERRY_RESPONSE_TOO_LARGE. */
  maxBytes: number;
  /** The call's name for the message, e.g. `ListArtifacts`. */
  call: string;
  context?: ErrorContext | undefined;
  /** Minimum throughput: an answer dripping slower than this is dropped as stalled (retryable). */
  stall?: StallPolicy | undefined;
}

/**
 * A server answer over a limit: typed, not retried (the same server sends the same answer).
 * `limitName` says where the limit comes from: an option (`maxResponseBytes`) or a listing.
 */
export function responseTooLarge(
  what: string,
  limit: number,
  limitName: string,
  context: ErrorContext | undefined,
): FerryError {
  return new FerryError(
    'ERR_FERRY_RESPONSE_TOO_LARGE',
    `${what} is larger than the limit of ${limit} bytes (${limitName}); refused without reading the rest`,
    { context, retryable: false },
  );
}

/**
 * Reads a body of at most `limit.maxBytes`, counting as it reads: a Content-Length over the
 * limit is refused before a byte is read, and a body that runs past it (chunked, or a lying
 * Content-Length) is refused the moment it does. After a refusal the response is destroyed
 * rather than drained: draining a 1 GiB answer to reuse its socket costs more than a new socket.
 */
export function readLimitedBody(res: IncomingMessage, limit: JsonLimit): Promise<Buffer> {
  const tooLarge = (): FerryError =>
    responseTooLarge(`The ${limit.call} answer`, limit.maxBytes, 'maxResponseBytes', limit.context);
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit.maxBytes) {
    res.destroy();
    return Promise.reject(tooLarge());
  }
  let watchdogStop = (): void => undefined;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    // A small answer dripping a byte a minute never trips the idle timeout: watch the rate too.
    const watchdog = watchThroughput(limit.stall, `The ${limit.call} answer`, limit.context, (error) => {
      reject(error);
      res.destroy();
    });
    watchdogStop = watchdog.stop;
    const onData = (chunk: Buffer): void => {
      kept += chunk.length;
      watchdog.add(chunk.length);
      if (kept > limit.maxBytes) {
        res.off('data', onData);
        // Settled before destroying: destroy() emits 'aborted' at once.
        reject(tooLarge());
        res.destroy();
        return;
      }
      chunks.push(chunk);
    };
    res.on('data', onData);
    res.once('end', () => resolve(Buffer.concat(chunks, kept)));
    res.once('error', reject);
    res.once('aborted', () => reject(Object.assign(new Error('response aborted'), { code: 'ECONNRESET' })));
  }).finally(() => watchdogStop());
}

/** A text answer, bounded like every answer Ferry reads whole (default: 32 MiB). */
export async function readText(
  res: IncomingMessage,
  limit: JsonLimit = { maxBytes: DEFAULT_MAX_RESPONSE_BYTES, call: 'text' },
): Promise<string> {
  return (await readLimitedBody(res, limit)).toString('utf8');
}

/**
 * Parses a JSON body of at most `limit.maxBytes`; a body that is not JSON is a protocol error
 * worth one more try (proxies inject HTML).
 */
export async function readJson<T>(
  res: IncomingMessage,
  limit: JsonLimit = { maxBytes: DEFAULT_MAX_RESPONSE_BYTES, call: 'JSON' },
): Promise<T> {
  return parseJson<T>(await readText(res, limit));
}

/** JSON.parse with the error readJson throws for a body that is not JSON. */
export function parseJson<T>(text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (error: unknown) {
    throw notJsonError(`expected a JSON response body, got: ${text.slice(0, 100)}`, error);
  }
}

/**
 * The error for a body that is not the JSON asked for: a plain error whose `code` is
 * `ERR_FERRY_BAD_JSON`, so that the retry policy tries again (the HttpManager wraps it after the
 * last attempt).
 */
export function notJsonError(message: string, cause?: unknown): Error & { code: FerryErrorCode } {
  const code: FerryErrorCode = 'ERR_FERRY_BAD_JSON';
  return Object.assign(new Error(message), cause === undefined ? { code } : { code, cause });
}

/** Reads and discards the body: the response is only wanted for its status. */
export async function discardBody(res: IncomingMessage): Promise<void> {
  await readBody(res, 0);
}
