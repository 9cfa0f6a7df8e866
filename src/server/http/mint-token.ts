import { randomBytes } from 'node:crypto';
import { signHs256 } from './jwt.js';
import { MIN_SECRET_BYTES } from './jwt-keys.js';

export interface RunnerTokenOptions {
  /** workflow_run_backend_id the token grants (and, for the legacy protocol, the run id in URLs). */
  run: string;
  /** workflow_job_run_backend_id the token may create and finalize artifacts as. */
  job: string;
  /** Lifetime in milliseconds. */
  ttlMs: number;
  /** The HS256 secret `ferry serve --jwt-secret-file` verifies with. */
  secret: Buffer;
  now?: number;
}

/** Longest lifetime `ferry token` mints: a leaked token must not outlive a rotation period by much. */
export const MAX_TOKEN_TTL_MS = 31 * 24 * 60 * 60 * 1000;
// The scp grammar: scopes are space-separated, parts colon-separated. An id containing either
// would let a minted token name extra runs or jobs.
const ID = /^[^\s:]{1,256}$/;

/**
 * Mints a runtime token for one job of one run, shaped like the runner's: an HS256 JWT whose
 * `scp` is `Actions.Results:<run>:<job>`, with `iat`, `nbf` and `exp`. The official clients read
 * the run and job from it, and `ferry serve` limits the bearer to them.
 */
export function mintRunnerToken(options: RunnerTokenOptions): { token: string; expiresAt: Date } {
  for (const [what, id] of [
    ['run', options.run],
    ['job', options.job],
  ] as const) {
    if (!ID.test(id)) {
      throw new RangeError(
        `The ${what} id must be 1-256 characters without spaces or ':', got ${JSON.stringify(id.slice(0, 300))}`,
      );
    }
  }
  if (!Number.isSafeInteger(options.ttlMs) || options.ttlMs < 1000 || options.ttlMs > MAX_TOKEN_TTL_MS) {
    throw new RangeError(`The token lifetime must be between 1 second and 31 days, got ${options.ttlMs} ms`);
  }
  if (options.secret.length < MIN_SECRET_BYTES) {
    throw new RangeError(
      `The JWT secret has ${options.secret.length} bytes; it needs at least ${MIN_SECRET_BYTES}`,
    );
  }
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  const exp = now + Math.ceil(options.ttlMs / 1000);
  const token = signHs256(
    {
      scp: `Actions.Results:${options.run}:${options.job}`,
      iat: now,
      nbf: now,
      exp,
      // Two tokens minted in the same second for the same job still differ.
      jti: randomBytes(12).toString('base64url'),
    },
    options.secret,
  );
  return { token, expiresAt: new Date(exp * 1000) };
}

/** Parses a lifetime such as `90s`, `30m`, `6h`, `7d` (a bare number means seconds). */
export function parseTtl(text: string): number {
  const match = /^(\d{1,9})([smhd]?)$/.exec(text.trim());
  if (!match) throw new RangeError(`--ttl must look like 90s, 30m, 6h or 7d; got ${JSON.stringify(text)}`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit * 1000;
}
