import type { IncomingMessage } from 'node:http';
import { ErrorResponse, badRequest } from './error-response.js';

/** JSON control messages are tiny (create/patch); anything bigger is a client bug or abuse. */
const DEFAULT_JSON_LIMIT = 1024 * 1024;

/**
 * Reads and parses a small JSON body. The body is always consumed to the end (or the limit), so
 * the keep-alive connection stays usable after an error answer.
 */
export async function readJsonBody(req: IncomingMessage, limit = DEFAULT_JSON_LIMIT): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    throw new ErrorResponse(
      413,
      `Request body of ${declared} bytes exceeds the ${limit}-byte limit for JSON requests`,
      {
        Connection: 'close',
      },
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      throw new ErrorResponse(413, `Request body exceeds the ${limit}-byte limit for JSON requests`, {
        Connection: 'close',
      });
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks, size).toString('utf8');
  if (text.trim() === '') throw badRequest('Request body must be a JSON object, got an empty body');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badRequest('Request body is not valid JSON');
  }
}

/** Narrows a parsed body to a plain object, with a message that says what was expected. */
export function expectObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest(`${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}
