import { types } from 'node:util';
import { printableText } from './format.js';
import { redactText, redactUrl } from './redact.js';

/** Stable machine-readable error codes. They are part of the public API: never rename one. */
export type FerryErrorCode =
  | 'ERR_FERRY_INVALID_OPTION'
  | 'ERR_FERRY_INVALID_NAME'
  | 'ERR_FERRY_INVALID_PATH'
  | 'ERR_FERRY_NO_FILES'
  | 'ERR_FERRY_SOURCE_CHANGED'
  | 'ERR_FERRY_SOURCE_UNREADABLE'
  | 'ERR_FERRY_HTTP'
  | 'ERR_FERRY_NETWORK'
  | 'ERR_FERRY_TIMEOUT'
  | 'ERR_FERRY_ABORTED'
  | 'ERR_FERRY_NOT_FOUND'
  | 'ERR_FERRY_CONFLICT'
  | 'ERR_FERRY_QUOTA'
  | 'ERR_FERRY_UNAUTHORIZED'
  | 'ERR_FERRY_PROXY'
  | 'ERR_FERRY_UNSAFE_PATH'
  | 'ERR_FERRY_INTEGRITY'
  | 'ERR_FERRY_PROTOCOL'
  | 'ERR_FERRY_CLIENT_CLOSED'
  | 'ERR_FERRY_CONFIG'
  /** ENOSPC/EDQUOT: the disk (or quota) filled up while writing; not retried (pack/fs-errors.ts). */
  | 'ERR_FERRY_NO_SPACE'
  /** EMFILE/ENFILE: the file-descriptor limit was reached; lower `concurrency` (pack/fs-errors.ts). */
  | 'ERR_FERRY_TOO_MANY_OPEN_FILES'
  /** A file being uploaded contains a token Ferry was given (see allowSecretsInFiles). */
  | 'ERR_FERRY_SECRET_IN_ARTIFACT'
  /** A server sent more than Ferry accepts: a JSON answer over maxResponseBytes, or a body past its declared or listed size. Not retried. */
  | 'ERR_FERRY_RESPONSE_TOO_LARGE'
  /** A server pointed Ferry at a URL it will not use: not http(s), credentials in it, https downgraded to http, or an origin not trusted with the token. */
  | 'ERR_FERRY_UNSAFE_URL'
  /**
   * The artifact's upload never finished (legacy: size -1 because it was never finalized, items
   * still pending, or fewer bytes listed or received than its finalized size). Nothing was written.
   */
  | 'ERR_FERRY_ARTIFACT_INCOMPLETE'
  /**
   * Bad command-line usage (unknown flag, missing argument, a flag value of the wrong kind): the
   * CLI exits with 2 (cli/args.ts `UsageError`).
   */
  | 'ERR_FERRY_USAGE'
  /**
   * A 2xx answer whose body is not the JSON asked for (usually an intermediary's HTML page, or a
   * cut body). Retryable; after the last attempt it is the `errno` of the `ERR_FERRY_NETWORK`
   * error the request fails with (transport/body.ts `notJsonError`).
   */
  | 'ERR_FERRY_BAD_JSON'
  /**
   * The API said the token's rate limit is spent (now, or earlier and remembered until its reset,
   * possibly by another process). No request was sent for a remembered one. See RateLimitedError.
   */
  | 'ERR_FERRY_RATE_LIMITED'
  /** Another worker of the same batch met a permanent answer (401, 403): this one stopped before its next request. */
  | 'ERR_FERRY_BATCH_STOPPED';

/** Where an error happened. Every field is optional; the message lists whichever are known. */
export interface ErrorContext {
  /** The public operation, e.g. `upload`, `download`, `list`. */
  operation?: string;
  artifactName?: string;
  /** The artifact's id, when the service told it (e.g. a finalize refused after the upload). */
  artifactId?: number;
  /** `sha256:<hex>` of the uploaded or downloaded bytes, so a caller can reconcile. */
  digest?: string;
  /** A file path relative to the artifact root. */
  file?: string;
  /** HTTP method and URL (the URL is stored without query secrets). */
  method?: string;
  url?: string;
  status?: number;
  /** 1-based attempt on which the error happened. */
  attempt?: number;
  /** The option whose value was rejected. */
  option?: string;
}

export interface FerryErrorOptions {
  cause?: unknown;
  context?: ErrorContext | undefined;
  retryable?: boolean | undefined;
}

const BRAND = Symbol.for('ferry.error');

/**
 * The one base class of every error Ferry throws. `code` is stable; `cause` is always set when
 * another error led to this one; messages and context never carry tokens or URL signatures.
 */
export class FerryError extends Error {
  override name = 'FerryError';
  readonly code: FerryErrorCode;
  readonly context: Readonly<ErrorContext>;
  /** True when repeating the same call may succeed (network faults, 5xx, 429). */
  readonly retryable: boolean;

  constructor(code: FerryErrorCode, message: string, options: FerryErrorOptions = {}) {
    const context = sanitizeContext(options.context ?? {});
    super(
      redactText(withContext(message, context)),
      options.cause === undefined ? undefined : { cause: scrubCause(options.cause) },
    );
    this.code = code;
    this.context = Object.freeze(context);
    this.retryable = options.retryable ?? false;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** Works across jest VM realms, where `instanceof` on a class from another realm fails. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== FerryError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return isFerryError(value);
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      context: this.context,
    };
  }
}

/**
 * Adds context to an error thrown deep down (a file reader, the extractor, a proxy agent) that
 * only learns the operation and artifact on the way up. `extra` wins over what the error already
 * carries. The error is annotated in place, so its class, code, cause and stack frames stay; the
 * context suffix of its message (and the stack's first line) is rewritten, never stacked.
 */
export function addErrorContext<E extends FerryError>(error: E, extra: ErrorContext): E {
  const own = error.context;
  // The message ends with exactly what the constructor appended for the old context.
  const suffix = redactText(withContext('', own));
  const base =
    suffix !== '' && error.message.endsWith(suffix) ? error.message.slice(0, -suffix.length) : error.message;
  const merged = sanitizeContext({ ...own, ...extra });
  const message = redactText(withContext(base, merged));
  const oldHead = `${error.name}: ${error.message}`;
  Object.defineProperty(error, 'context', {
    value: Object.freeze(merged),
    enumerable: true,
    configurable: true,
    writable: false,
  });
  error.message = message;
  if (error.stack?.startsWith(oldHead))
    error.stack = `${error.name}: ${message}${error.stack.slice(oldHead.length)}`;
  return error;
}

export function isFerryError(value: unknown): value is FerryError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** A non-2xx response that was not (or no longer) worth retrying. */
export class HttpError extends FerryError {
  override name = 'HttpError';
  readonly status: number;
  /** The first 200 characters of the response body, scrubbed. */
  readonly bodySnippet: string;
  constructor(
    code: FerryErrorCode,
    message: string,
    status: number,
    bodySnippet: string,
    options: FerryErrorOptions = {},
  ) {
    super(code, message, { ...options, context: { ...options.context, status } });
    this.status = status;
    this.bodySnippet = redactText(bodySnippet.slice(0, 200));
  }
}

/** A socket-level failure: reset, refused, timeout, hang-up. */
export class NetworkError extends FerryError {
  override name = 'NetworkError';
  /** The system error code, e.g. `ECONNRESET`. */
  readonly errno: string | undefined;
  constructor(
    message: string,
    errno: string | undefined,
    options: Omit<FerryErrorOptions, 'retryable'> = {},
  ) {
    super(errno === 'ETIMEDOUT' ? 'ERR_FERRY_TIMEOUT' : 'ERR_FERRY_NETWORK', message, {
      ...options,
      retryable: true,
    });
    this.errno = errno;
  }
}

/** An option or argument was rejected before anything was sent. */
export class ValidationError extends FerryError {
  override name = 'ValidationError';
  constructor(code: FerryErrorCode, message: string, context: ErrorContext = {}) {
    super(code, message, { context });
  }
}

/** Downloaded or uploaded bytes failed a size or digest check, or an archive/path is unsafe. */
export class IntegrityError extends FerryError {
  override name = 'IntegrityError';
}

/**
 * A spent rate limit, said by the API or remembered from an earlier answer. `resetAt` is when
 * the API said the limit resets; `origin` is the API origin. The token is never part of it.
 */
export class RateLimitedError extends FerryError {
  override name = 'RateLimitedError';
  readonly origin: string;
  readonly resetAt: Date;
  /** True when no request was sent: the answer was remembered. */
  readonly remembered: boolean;
  constructor(origin: string, resetAt: Date, remembered: boolean, options: FerryErrorOptions = {}) {
    super(
      'ERR_FERRY_RATE_LIMITED',
      `API rate limit of ${origin} is spent until ${resetAt.toISOString()}` +
        (remembered ? ' (remembered from an earlier answer; no request sent)' : ''),
      options,
    );
    this.origin = origin;
    this.resetAt = resetAt;
    this.remembered = remembered;
  }
}

/** The operation was cancelled through its AbortSignal. */
export class AbortError extends FerryError {
  override name = 'AbortError';
  constructor(reason?: unknown, context: ErrorContext | undefined = {}) {
    super('ERR_FERRY_ABORTED', 'The operation was aborted', { cause: reason, context });
  }
}

function sanitizeContext(context: ErrorContext): ErrorContext {
  const out: ErrorContext = { ...context };
  if (out.url !== undefined) out.url = redactUrl(out.url);
  return out;
}

function withContext(message: string, context: ErrorContext): string {
  const parts: string[] = [];
  if (context.operation) parts.push(`operation ${context.operation}`);
  // Names come from servers and archives: escaped, so none can drive the terminal or a log.
  if (context.artifactName !== undefined) parts.push(`artifact '${printableText(context.artifactName)}'`);
  if (context.artifactId !== undefined) parts.push(`artifact id ${context.artifactId}`);
  if (context.digest !== undefined) parts.push(`digest ${context.digest}`);
  if (context.file !== undefined) parts.push(`file '${printableText(context.file)}'`);
  if (context.attempt !== undefined && context.attempt > 1) parts.push(`attempt ${context.attempt}`);
  return parts.length ? `${message} (${parts.join(', ')})` : message;
}

/**
 * Causes come from Node and http-client and may carry a request path with a signature or a
 * header with a token. Keep the type and code, scrub the text.
 */
function scrubCause(cause: unknown): unknown {
  if (isFerryError(cause)) return cause;
  // isNativeError also recognises errors made by Node in another realm (jest), where instanceof fails.
  if (cause instanceof Error || types.isNativeError(cause)) {
    const copy = new Error(redactText(cause.message));
    copy.name = cause.name;
    const code = (cause as NodeJS.ErrnoException).code;
    if (code !== undefined) (copy as NodeJS.ErrnoException).code = code;
    if (cause.stack) copy.stack = redactText(cause.stack);
    return copy;
  }
  return typeof cause === 'string' ? redactText(cause) : cause;
}
