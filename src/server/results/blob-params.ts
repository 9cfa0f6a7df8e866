import type { IncomingMessage } from 'node:http';
import { BlobError } from './blob-errors.js';

/** Azure: block ids are at most 64 bytes before base64 encoding. */
export const MAX_BLOCK_ID_BYTES = 64;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes a base64 block id. Ids are compared decoded, so `+`/`/` escaping differences between
 * clients do not matter; a `+` that arrived unescaped (form-decoded to a space) is restored.
 */
export function decodeBlockId(raw: string | null, where: string): Buffer {
  if (raw === null || raw === '') {
    throw new BlobError(400, 'InvalidQueryParameterValue', `${where}: the block id is missing or empty.`);
  }
  const text = raw.replace(/ /g, '+');
  if (!BASE64.test(text)) {
    throw new BlobError(
      400,
      'InvalidQueryParameterValue',
      `${where}: the block id ${JSON.stringify(raw.slice(0, 100))} is not valid base64.`,
    );
  }
  const id = Buffer.from(text, 'base64');
  if (id.length === 0 || id.length > MAX_BLOCK_ID_BYTES) {
    throw new BlobError(
      400,
      'InvalidBlobOrBlock',
      `${where}: a block id must be 1 to ${MAX_BLOCK_ID_BYTES} bytes before encoding, got ${id.length}.`,
    );
  }
  return id;
}

/**
 * Content-Length is required for uploads, as on Azure: it lets us refuse oversize bodies before
 * reading them and detect truncated ones after.
 */
export function requireContentLength(req: IncomingMessage, max: number): number {
  const raw = req.headers['content-length'];
  if (raw === undefined) {
    throw new BlobError(411, 'MissingContentLengthHeader', 'Content-Length is required for uploads.');
  }
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new BlobError(400, 'InvalidHeaderValue', `Content-Length ${JSON.stringify(raw)} is not valid.`);
  }
  const length = Number(raw);
  if (length > max) {
    throw new BlobError(
      413,
      'RequestBodyTooLarge',
      `The request body of ${length} bytes is larger than the ${max}-byte limit.`,
      // The body is not worth reading; closing frees the socket at once.
      { Connection: 'close' },
    );
  }
  return length;
}

/** The optional base64 Content-MD5 of the body (16 bytes decoded). */
export function contentMd5(req: IncomingMessage): string | undefined {
  const raw = req.headers['content-md5'];
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string' || !BASE64.test(raw) || Buffer.from(raw, 'base64').length !== 16) {
    throw new BlobError(400, 'InvalidMd5', `Content-MD5 ${JSON.stringify(raw)} is not a base64 MD5.`);
  }
  return raw;
}

// type "/" subtype with RFC 7230 token characters, optional parameters; never CR, LF or NUL.
const MIME = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(?:\s*;\s*[\x20-\x7e]*)?$/;

/** True for a `type/subtype[; params]` that is safe to send back as Content-Type. */
export function isMimeType(value: string): boolean {
  return value.length <= 255 && MIME.test(value);
}

/**
 * `x-ms-blob-content-type`, if it is a usable MIME type. Anything else (toolkit < 6.2 sent the
 * bare word `zip`) is ignored so downloads fall back to the artifact's type: serving `zip` would
 * make current clients save the archive unextracted.
 */
export function blobContentType(req: IncomingMessage): string | undefined {
  const raw = req.headers['x-ms-blob-content-type'];
  return typeof raw === 'string' && isMimeType(raw.trim()) ? raw.trim() : undefined;
}
