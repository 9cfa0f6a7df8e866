import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { BlobError } from './blob-errors.js';
import { contentDisposition } from './content-disposition.js';

/** What a download serves: the committed file and how to describe it. */
export interface BlobRepresentation {
  file: string;
  size: number;
  etag: string;
  lastModified: string;
  contentType: string;
  fileName: string;
}

// Large sequential reads: fewer syscalls and event-loop turns per MiB.
const READ_HIGH_WATER_MARK = 1024 * 1024;

/**
 * Get Blob (GET and HEAD), streamed from disk. Supports a single byte range (`Range` or Azure's
 * `x-ms-range`) so clients can resume, `If-Match` so a resumed range provably belongs to the same
 * bytes, and `If-None-Match`/`If-Range` as HTTP defines them.
 */
export async function sendBlob(
  req: IncomingMessage,
  res: ServerResponse,
  blob: BlobRepresentation,
  baseHeaders: Readonly<Record<string, string>>,
): Promise<void> {
  const validators = {
    ETag: blob.etag,
    'Last-Modified': new Date(blob.lastModified).toUTCString(),
  };
  const ifMatch = req.headers['if-match'];
  if (ifMatch !== undefined && !etagListMatches(ifMatch, blob.etag, 'strong')) {
    throw new BlobError(
      412,
      'ConditionNotMet',
      'The condition specified using HTTP conditional header(s) is not met.',
    );
  }
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch !== undefined && etagListMatches(ifNoneMatch, blob.etag, 'weak')) {
    res.writeHead(304, { ...baseHeaders, ...validators });
    res.end();
    return;
  }
  const ifRange = req.headers['if-range'];
  const rangeHeader = req.headers['x-ms-range'] ?? req.headers.range;
  const wanted =
    typeof rangeHeader === 'string' && (ifRange === undefined || ifRange === blob.etag)
      ? parseRange(rangeHeader, blob.size)
      : undefined;

  const headers: Record<string, string> = {
    ...baseHeaders,
    ...validators,
    'Content-Type': blob.contentType,
    'Accept-Ranges': 'bytes',
    'Content-Disposition': contentDisposition(blob.fileName),
    'x-ms-blob-type': 'BlockBlob',
  };
  const [start, end] = wanted ?? [0, blob.size - 1];
  const length = end - start + 1;
  headers['Content-Length'] = String(length);
  if (wanted) headers['Content-Range'] = `bytes ${start}-${end}/${blob.size}`;

  // Open before the head goes out, so a missing file is a clean error answer, not a cut body.
  const handle = await open(blob.file, 'r');
  res.writeHead(wanted ? 206 : 200, headers);
  if (length === 0 || req.method === 'HEAD') {
    await handle.close();
    res.end();
    return;
  }
  const source = createReadStream('', { fd: handle, start, end, highWaterMark: READ_HIGH_WATER_MARK });
  await pipeline(source, res);
}

/**
 * A single `bytes=a-b`, `bytes=a-` or `bytes=-n` range as inclusive offsets. Multiple ranges and
 * malformed headers are ignored (the whole blob is served, as RFC 9110 allows); a well-formed
 * range that misses the blob entirely is 416.
 */
export function parseRange(header: string, size: number): [number, number] | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  const first = match[1] === '' ? undefined : Number(match[1]);
  const last = match[2] === '' ? undefined : Number(match[2]);
  if (first !== undefined && last !== undefined && last < first) return undefined;
  let range: [number, number];
  if (first === undefined) {
    // Suffix range: the last `last` bytes.
    if (last === undefined || last === 0 || size === 0) throw unsatisfiable(size);
    range = [Math.max(0, size - last), size - 1];
  } else {
    if (first >= size) throw unsatisfiable(size);
    range = [first, Math.min(last ?? size - 1, size - 1)];
  }
  return range;
}

function unsatisfiable(size: number): BlobError {
  return new BlobError(
    416,
    'InvalidRange',
    'The range specified is invalid for the current size of the resource.',
    {
      'Content-Range': `bytes */${size}`,
    },
  );
}

/** `*` or a comma-separated list of entity tags; strong comparison ignores weak (`W/`) tags. */
function etagListMatches(header: string, etag: string, comparison: 'strong' | 'weak'): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((raw) => {
    const tag = raw.trim();
    if (tag.startsWith('W/')) return comparison === 'weak' && tag.slice(2) === etag;
    return tag === etag;
  });
}
