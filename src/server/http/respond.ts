import type { ServerResponse } from 'node:http';

/**
 * Sends a JSON body with an explicit Content-Length, so keep-alive clients never have to parse
 * chunked framing for small answers.
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const payload = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(payload.length),
  });
  res.end(payload);
}

/** Every error the server reports has this shape, so clients can always show a clear message. */
export function sendErrorJson(
  res: ServerResponse,
  status: number,
  message: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  sendJson(res, status, { message, statusCode: status }, headers);
}
