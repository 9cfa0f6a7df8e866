import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * Builds the bearer check for a configured token. Both sides are hashed first so the comparison
 * is constant-time regardless of length; the token itself is never logged or echoed.
 */
export function createBearerCheck(token: string | undefined): (req: IncomingMessage) => boolean {
  if (token === undefined || token === '') return () => true;
  const expected = digest(token);
  return (req) => {
    const header = req.headers.authorization;
    if (typeof header !== 'string') return false;
    const match = /^Bearer[ \t]+(.+)$/i.exec(header.trim());
    if (!match?.[1]) return false;
    return timingSafeEqual(digest(match[1]), expected);
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
