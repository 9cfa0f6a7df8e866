import { extractErrorMessage } from './error-body.js';
import { parseRateLimitReset, parseRetryAfter } from './retry.js';

/** What a server answered, as far as the recogniser needs it. */
export interface ObservedAnswer {
  status: number;
  /** Response headers, names in lower case (node's IncomingHttpHeaders fits). */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body as text; only the first BODY_LIMIT characters are looked at. */
  body: string;
}

export type AnswerVerdict =
  /** The token's rate limit is spent until `resetAtMs` (epoch ms). */
  | { kind: 'rate-limit'; resetAtMs: number; evidence: string }
  /** 401, or a 403 that is not a rate limit: repeating it with the same token cannot succeed. */
  | { kind: 'permanent'; status: number }
  /** Anything else (2xx, 404, 5xx, ...): nothing to remember about the token. */
  | { kind: 'other' };

export interface Recognition {
  verdict: AnswerVerdict;
  /** The body's shape, e.g. `empty`, `JSON keys [documentation_url, message]`, `HTML`, `text`. */
  shape: string;
  /** False for a 4xx whose shape the recogniser was not written for: worth a warning, once. */
  knownShape: boolean;
}

/** Error bodies worth reading are small; HttpManager reads at most 64 KiB of them too. */
export const BODY_LIMIT = 64 * 1024;
/** GitHub: with no retry-after and no spent primary limit, wait at least a minute. */
export const DEFAULT_RATE_LIMIT_WAIT_MS = 60_000;
/** A server may name any reset time; what Ferry remembers is capped (GitHub's window is an hour). */
export const MAX_REMEMBERED_MS = 60 * 60 * 1000;

/** GitHub's wordings: "API rate limit exceeded for ...", "You have exceeded a secondary rate limit", abuse detection. */
const RATE_LIMIT_WORDING = /\brate[ -]limit|abuse detection/i;

function header(headers: ObservedAnswer['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A name for the body's shape that says nothing of its content beyond JSON key names. */
export function describeShape(body: string): string {
  const text = body.slice(0, BODY_LIMIT).trim();
  if (text === '') return 'empty';
  if (text.startsWith('{') || text.startsWith('[')) {
    try {
      const value = JSON.parse(text) as unknown;
      if (Array.isArray(value)) return 'JSON array';
      if (value !== null && typeof value === 'object') {
        const keys = Object.keys(value).slice(0, 12).sort();
        return `JSON keys [${keys.map((k) => k.replace(/[^\w.-]/g, '?').slice(0, 40)).join(', ')}]`;
      }
    } catch {
      return 'text';
    }
  }
  if (/^(<!doctype html|<html)/i.test(text)) return 'HTML';
  if (text.startsWith('<')) return 'XML';
  return 'text';
}

/** What the body says, for wording checks: the JSON/XML message, and the visible text of HTML. */
function wordsOf(body: string): string {
  const text = body.slice(0, BODY_LIMIT);
  const message = extractErrorMessage(text) ?? '';
  return `${message}\n${text.replace(/<[^>]*>/g, ' ')}`;
}

/**
 * Classifies an answer. A rate limit is a 429, or a 403 with `x-ratelimit-remaining: 0`, a
 * `retry-after`, or rate-limit wording in any body shape. Its reset follows GitHub's advice:
 * `retry-after` when present, else `x-ratelimit-reset` when the primary limit is spent, else a
 * minute; never more than MAX_REMEMBERED_MS ahead.
 */
export function recognizeAnswer(answer: ObservedAnswer, nowMs: number): Recognition {
  const { status } = answer;
  const shape = describeShape(answer.body);
  if (status !== 401 && status !== 403 && status !== 429) {
    return {
      verdict: { kind: 'other' },
      shape,
      knownShape: status < 400 || status >= 500 || isKnownShape(shape),
    };
  }
  const remaining = header(answer.headers, 'x-ratelimit-remaining')?.trim();
  const retryAfterMs = parseRetryAfter(header(answer.headers, 'retry-after'), nowMs);
  const resetMs = parseRateLimitReset(header(answer.headers, 'x-ratelimit-reset'), nowMs);
  const worded = RATE_LIMIT_WORDING.test(wordsOf(answer.body));
  const evidence =
    status === 429
      ? '429'
      : remaining === '0'
        ? 'x-ratelimit-remaining: 0'
        : retryAfterMs !== undefined
          ? 'retry-after'
          : worded
            ? 'rate-limit message'
            : undefined;
  if (status !== 401 && evidence !== undefined) {
    const waitMs =
      retryAfterMs ??
      (remaining === '0' && resetMs !== undefined ? resetMs : undefined) ??
      DEFAULT_RATE_LIMIT_WAIT_MS;
    return {
      verdict: { kind: 'rate-limit', resetAtMs: nowMs + Math.min(waitMs, MAX_REMEMBERED_MS), evidence },
      shape,
      knownShape: true,
    };
  }
  return { verdict: { kind: 'permanent', status }, shape, knownShape: isKnownShape(shape) };
}

/** GitHub's error shape ({message, documentation_url, status}) or no body at all. */
function isKnownShape(shape: string): boolean {
  if (shape === 'empty') return true;
  const keys = /^JSON keys \[(.*)\]$/.exec(shape)?.[1]?.split(', ');
  return keys?.includes('message') ?? false;
}
