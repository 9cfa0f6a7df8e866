import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorResponse } from '../http/error-response.js';

/** The storage service version we answer with when the client does not name one. */
const DEFAULT_VERSION = '2025-01-05';

/** An Azure Storage error: the HTTP status plus the service's error code (`x-ms-error-code`). */
export class BlobError extends ErrorResponse {
  override name = 'BlobError';

  constructor(
    status: number,
    readonly code: string,
    message: string,
    headers: Readonly<Record<string, string>> = {},
  ) {
    super(status, message, headers);
  }
}

/**
 * Headers Azure puts on every blob response. The SDK logs `x-ms-request-id` and echoes
 * `x-ms-client-request-id` into its errors, which makes a failed block traceable in both logs.
 */
export function azureHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {
    'x-ms-request-id': randomUUID(),
    'x-ms-version': versionOf(req),
  };
  const clientId = req.headers['x-ms-client-request-id'];
  if (typeof clientId === 'string' && /^[\x21-\x7e]{1,1024}$/.test(clientId)) {
    headers['x-ms-client-request-id'] = clientId;
  }
  return headers;
}

function versionOf(req: IncomingMessage): string {
  const version = req.headers['x-ms-version'];
  return typeof version === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(version) ? version : DEFAULT_VERSION;
}

/** Azure's code for errors thrown without one (router 401/404/405, body limits, internal). */
function codeFor(status: number): string {
  switch (status) {
    case 403:
      return 'AuthenticationFailed';
    case 404:
      return 'ResourceNotFound';
    case 405:
      return 'UnsupportedHttpVerb';
    case 411:
      return 'MissingContentLengthHeader';
    case 413:
      return 'RequestBodyTooLarge';
    default:
      return status >= 500 ? 'InternalError' : 'InvalidInput';
  }
}

/** Renders any error on a blob route as Azure does: XML body, `x-ms-error-code`, request ids. */
export function renderBlobError(res: ServerResponse, error: ErrorResponse): void {
  const code = error instanceof BlobError ? error.code : codeFor(error.status);
  const headers = azureHeaders(res.req);
  const message = `${error.message}\nRequestId:${headers['x-ms-request-id'] ?? ''}\nTime:${new Date().toISOString()}`;
  const body = Buffer.from(
    `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`,
  );
  res.writeHead(error.status, {
    ...error.headers,
    ...headers,
    'x-ms-error-code': code,
    'Content-Type': 'application/xml',
    'Content-Length': String(body.length),
  });
  res.end(body);
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
