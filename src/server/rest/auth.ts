import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError } from '../http/http-error.js';

/**
 * The token check of the REST API. Octokit sends `Authorization: token <t>` (and `bearer` for
 * JWTs), so both schemes are accepted. Compared as hashes, in constant time.
 */
export function createApiTokenCheck(token: string | undefined): (req: IncomingMessage) => void {
  if (token === undefined || token === '') return () => undefined;
  const expected = digest(token);
  return (req) => {
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^(?:token|bearer)[ \t]+(.+)$/i.exec(header.trim()) : null;
    if (!match?.[1] || !timingSafeEqual(digest(match[1]), expected)) {
      throw new HttpError(401, 'Bad credentials');
    }
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
