import { createHmac, timingSafeEqual, verify as verifySignature, type KeyObject } from 'node:crypto';

/** The keys `ferry serve` accepts runtime JWTs from. Several of each kind allow key rotation. */
export interface JwtKeys {
  /** HS256 shared secrets (`--jwt-secret-file`). */
  readonly hmacSecrets: readonly Buffer[];
  /** RS256 (RSA) and ES256 (EC P-256) public keys (`--jwt-public-key`), as GitHub signs with RS256. */
  readonly publicKeys: readonly KeyObject[];
}

/** The claims `ferry serve` acts on, after the signature and the time window were checked. */
export interface JwtClaims {
  /** Space-separated scopes, as the runner's token carries them. */
  readonly scp: string;
  /** Expiry, seconds since the epoch. */
  readonly exp: number;
  /** Not before, seconds since the epoch. */
  readonly nbf?: number;
}

/** Why a token was refused; the message never contains the token or any part of it. */
export class JwtRejected extends Error {
  override name = 'JwtRejected';
}

/** Tolerated clock difference between the minting host and this server, both ways. */
export const CLOCK_SKEW_SECONDS = 60;
// Runner tokens are about 1 KiB; a bound keeps a hostile header from costing base64/JSON work.
const MAX_TOKEN_LENGTH = 8 * 1024;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Verifies a compact JWS the way a relying party must: the algorithm comes from the header but
 * only one the configured keys can check is accepted (never `none`, and an HMAC secret is never
 * confused with a public key), then the signature, then `exp` (required) and `nbf` (optional)
 * against `nowMs` with a small skew. Returns the claims, or throws `JwtRejected` saying why.
 */
export function verifyJwt(token: string, keys: JwtKeys, nowMs: number): JwtClaims {
  if (token.length > MAX_TOKEN_LENGTH) throw new JwtRejected('the token is too long to be a runtime JWT');
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => BASE64URL.test(p))) {
    throw new JwtRejected('the token is not a JWT (three base64url parts)');
  }
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = decodeJson(headerPart, 'header');
  const alg = header['alg'];
  const signed = Buffer.from(`${headerPart}.${payloadPart}`, 'ascii');
  const signature = Buffer.from(signaturePart, 'base64url');
  if (!signatureMatches(alg, signed, signature, keys)) {
    throw new JwtRejected(
      typeof alg === 'string' && SUPPORTED_ALGORITHMS.includes(alg)
        ? `the ${alg} signature does not match any configured key`
        : `the JWT algorithm ${JSON.stringify(alg)} is not accepted (HS256, RS256 or ES256 with a configured key)`,
    );
  }
  const payload = decodeJson(payloadPart, 'payload');
  const exp = payload['exp'];
  if (typeof exp !== 'number' || !Number.isFinite(exp)) {
    throw new JwtRejected('the token has no expiry (exp claim)');
  }
  const nbf = payload['nbf'];
  if (nbf !== undefined && (typeof nbf !== 'number' || !Number.isFinite(nbf))) {
    throw new JwtRejected('the nbf claim is not a number');
  }
  const scp = payload['scp'];
  if (typeof scp !== 'string') throw new JwtRejected('the token has no scp claim');
  const claims: JwtClaims = { scp, exp, ...(typeof nbf === 'number' ? { nbf } : {}) };
  checkTimeWindow(claims, nowMs);
  return claims;
}

/**
 * Throws unless `nowMs` lies within the claims' `nbf`..`exp`, give or take the skew. Separate so a
 * cached verification is re-checked against the clock on every use.
 */
export function checkTimeWindow(claims: JwtClaims, nowMs: number): void {
  const now = nowMs / 1000;
  if (now >= claims.exp + CLOCK_SKEW_SECONDS) {
    throw new JwtRejected(`the token expired at ${isoSeconds(claims.exp)}`);
  }
  if (claims.nbf !== undefined && now < claims.nbf - CLOCK_SKEW_SECONDS) {
    throw new JwtRejected(`the token is not valid before ${isoSeconds(claims.nbf)}`);
  }
}

const SUPPORTED_ALGORITHMS: readonly string[] = ['HS256', 'RS256', 'ES256'];

function signatureMatches(alg: unknown, signed: Buffer, signature: Buffer, keys: JwtKeys): boolean {
  switch (alg) {
    case 'HS256':
      return keys.hmacSecrets.some((secret) => {
        const expected = createHmac('sha256', secret).update(signed).digest();
        return expected.length === signature.length && timingSafeEqual(expected, signature);
      });
    case 'RS256':
      return keys.publicKeys.some(
        (key) =>
          key.asymmetricKeyType === 'rsa' &&
          safeVerify(() => verifySignature('sha256', signed, key, signature)),
      );
    case 'ES256':
      return keys.publicKeys.some(
        (key) =>
          key.asymmetricKeyType === 'ec' &&
          key.asymmetricKeyDetails?.namedCurve === 'prime256v1' &&
          // JWS carries ES256 signatures as r||s (64 bytes), not DER.
          safeVerify(() => verifySignature('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, signature)),
      );
    default:
      return false;
  }
}

/** A malformed signature (wrong length for the key) makes node:crypto throw; it is simply no match. */
function safeVerify(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false;
  }
}

function decodeJson(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
  } catch {
    throw new JwtRejected(`the JWT ${what} is not base64url JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new JwtRejected(`the JWT ${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function isoSeconds(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isFinite(date.getTime()) ? date.toISOString() : String(seconds);
}

/** Signs an HS256 JWT with `secret`: what `ferry token` prints for a runner. */
export function signHs256(payload: Readonly<Record<string, unknown>>, secret: Buffer): string {
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signingInput = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(payload)}`;
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}
