/**
 * Pulls a human message out of an error response body. Services disagree on the shape, and the
 * same service returns different shapes for the same error: `message` may be a string, `errors`
 * a string, a list of strings or a list of `{message}` objects, Twirp uses `msg`, Azure uses XML.
 */
export function extractErrorMessage(body: string): string | undefined {
  const text = body.trim();
  if (text === '') return undefined;
  if (text.startsWith('{') || text.startsWith('[')) {
    try {
      const found = messageFrom(JSON.parse(text) as unknown, 0);
      if (found) return found;
    } catch {
      // Not JSON after all; fall through to the text forms.
    }
  }
  const xml = /<Message>([\s\S]*?)<\/Message>/i.exec(text);
  if (xml?.[1]) return xml[1].trim().split('\n')[0];
  if (/^<!doctype html|^<html/i.test(text)) {
    const title = /<title>([\s\S]*?)<\/title>/i.exec(text);
    return title?.[1]?.trim() || undefined;
  }
  return text.split('\n')[0]?.slice(0, 200);
}

function messageFrom(value: unknown, depth: number): string | undefined {
  if (depth > 4 || value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value.trim() || undefined;
  if (Array.isArray(value)) {
    const parts = value.map((v) => messageFrom(v, depth + 1)).filter((v): v is string => Boolean(v));
    return parts.length ? parts.join('; ') : undefined;
  }
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    for (const key of ['message', 'msg', 'Message', 'error_description', 'errors', 'error', 'value']) {
      const found = messageFrom(record[key], depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}

/** True when the body or message says a rate limit was hit (GitHub answers 403 for those). */
export function mentionsRateLimit(message: string | undefined): boolean {
  return message !== undefined && /rate limit/i.test(message);
}
