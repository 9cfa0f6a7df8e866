import { FerryError, type ErrorContext } from '../core/errors.js';
import { urlWithoutQuery } from '../core/redact.js';

/**
 * Which URLs a server may point Ferry at. Services hand out URLs (legacy container and item
 * URLs, signed blob URLs, redirects); a hostile or confused one could point them at another
 * scheme, a plain-http copy of an https service, or a host that should not see the runtime
 * token. Every such URL passes one of these checks before a request is made to it.
 */

/** URLs in messages are cut to this many characters: a 10 KB Location header is not an error message. */
const SHOWN_URL_CHARS = 200;

function shown(url: string | URL): string {
  const text = urlWithoutQuery(url);
  return text.length > SHOWN_URL_CHARS ? `${text.slice(0, SHOWN_URL_CHARS)}…` : text;
}

function unsafe(message: string, context: ErrorContext | undefined): FerryError {
  return new FerryError('ERR_FERRY_UNSAFE_URL', message, { context, retryable: false });
}

/** Parses a URL a server sent, relative to `base` if given; garbage is a typed error, not a TypeError. */
export function parseServerUrl(
  raw: string,
  what: string,
  context: ErrorContext | undefined,
  base?: URL,
): URL {
  if (typeof raw !== 'string') throw unsafe(`${what} is not a URL (got ${typeof raw})`, context);
  try {
    return base === undefined ? new URL(raw) : new URL(raw, base);
  } catch {
    throw unsafe(`${what} is not a valid URL: ${JSON.stringify(raw.slice(0, SHOWN_URL_CHARS))}`, context);
  }
}

/**
 * Only http: and https:, and no user:password: Node would send an ftp:/gopher: URL as plain
 * HTTP to port 80, and credentials in a URL would go out as a Basic header to whoever it names.
 */
export function assertFetchableUrl(url: URL, what: string, context: ErrorContext | undefined): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw unsafe(
      `Refusing ${what}: ${url.protocol} URLs are not fetched, only http: and https: (${shown(url)})`,
      context,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw unsafe(`Refusing ${what}: the URL carries credentials (user:password@) (${shown(url)})`, context);
  }
}

/** Never from https to http: the body, any signature in the URL and the answer would travel in clear. */
export function assertNoDowngrade(from: URL, to: URL, what: string, context: ErrorContext | undefined): void {
  if (from.protocol === 'https:' && to.protocol !== 'https:') {
    throw unsafe(
      `Refusing ${what}: ${shown(from)} is https but it points to ${to.protocol} (${shown(to)}); Ferry never downgrades https`,
      context,
    );
  }
}

/** The next hop of a redirect from `from`: fetchable, and no downgrade. */
export function assertRedirectAllowed(from: URL, location: string, context: ErrorContext | undefined): URL {
  const next = parseServerUrl(location, 'a redirect Location', context, from);
  assertFetchableUrl(next, 'redirect', context);
  assertNoDowngrade(from, next, 'redirect', context);
  return next;
}

/**
 * A URL handed out by a service that will be fetched *without* credentials (a signed blob URL):
 * fetchable, and not downgraded from the service's https.
 */
export function checkSignedUrl(
  raw: string,
  service: string,
  what: string,
  context: ErrorContext | undefined,
): string {
  const url = parseServerUrl(raw, what, context);
  assertFetchableUrl(url, what, context);
  assertNoDowngrade(new URL(service), url, what, context);
  return raw;
}

/**
 * A URL a service handed out that Ferry would send the runtime token to (legacy container and
 * item URLs): fetchable, not downgraded from the runtime URL's https, and on the runtime URL's
 * origin or one the user trusts explicitly (option trustedOrigins, FERRY_TRUSTED_ORIGINS).
 * Anything else is refused rather than fetched without the token, which would only fail later
 * with a confusing 401.
 */
export function checkCredentialedUrl(
  raw: string,
  policy: { runtimeUrl: string; token: string | undefined; trustedOrigins?: readonly string[] | undefined },
  what: string,
  context: ErrorContext | undefined,
): string {
  const url = parseServerUrl(raw, what, context);
  assertFetchableUrl(url, what, context);
  const runtime = new URL(policy.runtimeUrl);
  assertNoDowngrade(runtime, url, what, context);
  // Without a token there is nothing to leak to another origin.
  if (
    policy.token !== undefined &&
    url.origin !== runtime.origin &&
    !(policy.trustedOrigins ?? []).includes(url.origin)
  ) {
    throw unsafe(
      `Refusing ${what} on ${url.origin}: the runtime token is only sent to ${runtime.origin}; add the origin to trustedOrigins (FERRY_TRUSTED_ORIGINS) if this server is meant to use it (${shown(url)})`,
      context,
    );
  }
  return raw;
}

/**
 * Validates a list of trusted origins (`scheme://host[:port]`, nothing else) and returns them
 * normalised as URL.origin spells them. `fail` builds the error naming the option or variable.
 */
export function parseTrustedOrigins(values: readonly unknown[], fail: (message: string) => Error): string[] {
  return values.map((value) => {
    let url: URL | undefined;
    try {
      url = typeof value === 'string' ? new URL(value.trim()) : undefined;
    } catch {
      url = undefined;
    }
    const bare =
      url !== undefined &&
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      url.username === '' &&
      url.password === '' &&
      (url.pathname === '/' || url.pathname === '') &&
      url.search === '' &&
      url.hash === '';
    if (!bare) {
      throw fail(
        `must list origins like https://host[:port] (no path, query or credentials); got ${JSON.stringify(String(value).slice(0, 80))}`,
      );
    }
    return (url as URL).origin;
  });
}
