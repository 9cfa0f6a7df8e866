import { registeredLiterals } from './secrets.js';
import type { Logger } from './types.js';

/**
 * Secret scrubbing. Every error message and log line built from a URL or header passes through
 * here, so a token, a signed-URL signature or a proxy password can never leak into output.
 */

/** Query parameters whose values are credentials (Azure SAS, GitHub, generic). */
const SECRET_QUERY_KEYS = new Set([
  'sig',
  'signature',
  'se',
  'st',
  'sp',
  'skoid',
  'sktid',
  'skt',
  'ske',
  'sks',
  'skv',
  'token',
  'access_token',
  'code',
  'x-amz-signature',
  'x-amz-credential',
  'x-amz-security-token',
]);

const REDACTED = '***';

/** Strips user:password and secret query values from a URL string. Non-URLs are returned scrubbed. */
export function redactUrl(input: string | URL): string {
  let url: URL;
  try {
    url = new URL(String(input));
  } catch {
    return redactText(String(input));
  }
  if (url.username || url.password) {
    url.username = url.username ? REDACTED : '';
    url.password = url.password ? REDACTED : '';
  }
  for (const key of [...url.searchParams.keys()]) {
    if (SECRET_QUERY_KEYS.has(key.toLowerCase())) url.searchParams.set(key, REDACTED);
  }
  return url.toString();
}

/** A URL without its query string, for "METHOD <url>" in error messages. */
export function urlWithoutQuery(input: string | URL): string {
  try {
    const url = new URL(String(input));
    url.search = '';
    url.hash = '';
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return redactText(String(input));
  }
}

const PATTERNS: Array<[RegExp, string]> = [
  [/(authorization\s*[:=]\s*)(bearer|basic|token)\s+[^\s"',]+/gi, `$1$2 ${REDACTED}`],
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${REDACTED}`],
  [/(\b(?:sig|signature|token|access_token|x-amz-signature|x-amz-credential)=)[^&\s"'#]+/gi, `$1${REDACTED}`],
  [/(\/\/[^/\s:@]*:)[^@/\s]+@/g, `$1${REDACTED}@`],
  // JWTs (runtime tokens) anywhere in free text.
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, REDACTED],
];

/** Marks a logger that already redacts, so wrapping twice costs nothing. */
const REDACTING = Symbol('ferry.redacting-logger');

/**
 * A logger whose every line (debug included) passes through {@link redactText} before it reaches
 * `logger`, so no code path can log a token, a signature or a password by mistake.
 */
export function redactingLogger(logger: Logger): Logger {
  if ((logger as { [REDACTING]?: true })[REDACTING]) return logger;
  const wrapped: Logger = {
    debug: (message) => logger.debug(redactText(message)),
    info: (message) => logger.info(redactText(message)),
    warn: (message) => logger.warn(redactText(message)),
    error: (message) => logger.error(redactText(message)),
  };
  Object.defineProperty(wrapped, REDACTING, { value: true });
  return wrapped;
}

/** Removes secrets from free text: registered literals, bearer/basic credentials, SAS signatures, URL passwords, JWTs. */
export function redactText(text: string): string {
  let out = text;
  for (const secret of registeredLiterals()) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}
