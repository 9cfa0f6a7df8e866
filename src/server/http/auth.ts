import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { FULL_ACCESS, grantsOf, type Access } from './access.js';
import { ErrorResponse } from './error-response.js';
import { JwtRejected, checkTimeWindow, verifyJwt, type JwtClaims, type JwtKeys } from './jwt.js';

export interface AuthOptions {
  /** The operator's shared token: grants every run (`--token`). */
  token?: string | undefined;
  /** Keys runtime JWTs are verified with; their `scp` limits them to their runs. */
  jwtKeys?: JwtKeys | undefined;
  /** Clock for `exp`/`nbf`; tests move it. */
  now?: () => number;
}

/** The Authorization schemes a route accepts: Twirp and legacy send Bearer, Octokit `token`. */
export type AuthSchemes = 'bearer' | 'bearer-or-token';

export type Authenticator = (req: IncomingMessage, schemes: AuthSchemes) => Access;

/**
 * Builds the request authenticator. With neither a token nor keys configured every request has
 * full access (the loopback-only embedded store). Otherwise the credential must be the shared
 * token (compared as hashes, in constant time) or a JWT that verifies against a configured key;
 * anything else is a 401 that says why without echoing the credential.
 */
export function createAuthenticator(options: AuthOptions): Authenticator {
  const token = options.token === '' ? undefined : options.token;
  const keys = options.jwtKeys;
  const hasKeys = keys !== undefined && keys.hmacSecrets.length + keys.publicKeys.length > 0;
  if (token === undefined && !hasKeys) return () => FULL_ACCESS;
  const expected = token === undefined ? undefined : digest(token);
  const now = options.now ?? Date.now;
  const verified = new VerifiedTokens();
  return (req, schemes) => {
    const credential = credentialOf(req, schemes);
    if (expected !== undefined && timingSafeEqual(digest(credential), expected)) return FULL_ACCESS;
    if (!hasKeys)
      throw unauthorized('Missing or invalid bearer token (Authorization: Bearer <ACTIONS_RUNTIME_TOKEN>)');
    try {
      const at = now();
      const cached = verified.get(credential);
      if (cached) {
        checkTimeWindow(cached.claims, at);
        return cached.access;
      }
      const claims = verifyJwt(credential, keys, at);
      const access: Access = { kind: 'runs', grants: grantsOf(claims.scp) };
      verified.set(credential, { claims, access });
      return access;
    } catch (error) {
      if (error instanceof JwtRejected) throw unauthorized(`Runtime token refused: ${error.message}`);
      throw error;
    }
  };
}

// A legacy upload sends one request per file, all with the same token: verifying its signature
// once (an RSA verify is ~50 µs, more under load) instead of thousands of times. Bounded, and
// the time window is still checked on every use.
const MAX_CACHED_TOKENS = 1024;

class VerifiedTokens {
  readonly #entries = new Map<string, { claims: JwtClaims; access: Access }>();

  get(token: string): { claims: JwtClaims; access: Access } | undefined {
    return this.#entries.get(token);
  }

  set(token: string, entry: { claims: JwtClaims; access: Access }): void {
    if (this.#entries.size >= MAX_CACHED_TOKENS) {
      // Oldest first (Map keeps insertion order): a flood of distinct valid tokens only evicts.
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(token, entry);
  }
}

/**
 * The credential of the one Authorization header. Node keeps only the first of duplicated
 * Authorization headers; a proxy in front may keep another, so two of them are refused outright.
 */
function credentialOf(req: IncomingMessage, schemes: AuthSchemes): string {
  let count = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]?.toLowerCase() === 'authorization') count++;
  }
  if (count > 1) throw new ErrorResponse(400, 'More than one Authorization header');
  const header = req.headers.authorization;
  const pattern = schemes === 'bearer' ? /^Bearer[ \t]+(.+)$/i : /^(?:Bearer|token)[ \t]+(.+)$/i;
  const match = typeof header === 'string' ? pattern.exec(header.trim()) : null;
  if (!match?.[1]) {
    throw unauthorized(
      schemes === 'bearer'
        ? 'Missing or invalid bearer token (Authorization: Bearer <ACTIONS_RUNTIME_TOKEN>)'
        : 'Bad credentials',
    );
  }
  return match[1];
}

function unauthorized(message: string): ErrorResponse {
  return new ErrorResponse(401, message, { 'WWW-Authenticate': 'Bearer' });
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
