import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobError } from './blob-errors.js';
import { contentDisposition } from './content-disposition.js';
import { sendBody, type BodyPiece } from './send-body.js';

/** One file of a committed blob; the blob is its segments one after another. */
export interface Segment {
  file: string;
  size: number;
}

/** What a download serves: the committed files and how to describe them. */
export interface BlobRepresentation {
  segments: readonly Segment[];
  size: number;
  etag: string;
  lastModified: string;
  contentType: string;
  fileName: string;
  /**
   * Where bytes `start..end` (inclusive) come from when they are not `segments` on this disk (a
   * fast_slow store reading through to its slow store). Awaited before the head goes out, so a
   * failure to open is a clean error answer.
   */
  body?: (start: number, end: number) => Promise<AsyncIterable<BodyPiece>>;
  /**
   * A range covering the whole blob (`bytes=0-`) is answered 200 with the whole blob, as if no
   * range had been asked (RFC 9110 lets a server ignore Range): see the fast_slow miss.
   */
  wholeRangeAsFull?: boolean;
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
  let wanted =
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
  const whole = wanted !== undefined && wanted[0] === 0 && wanted[1] === blob.size - 1;
  if (whole && blob.wholeRangeAsFull) wanted = undefined;
  const [start, end] = wanted ?? [0, blob.size - 1];
  const length = end - start + 1;
  headers['Content-Length'] = String(length);
  if (wanted) headers['Content-Range'] = `bytes ${start}-${end}/${blob.size}`;

  if (length === 0 || req.method === 'HEAD') {
    res.writeHead(wanted ? 206 : 200, headers);
    res.end();
    return;
  }
  if (blob.body) {
    const body = await blob.body(start, end);
    res.writeHead(wanted ? 206 : 200, headers);
    await sendBody(res, body);
    return;
  }
  const pieces = slice(blob.segments, start, end);
  // Open before the head goes out, so a missing file is a clean error answer, not a cut body.
  const first = pieces[0];
  const handle = first ? await open(first.file, 'r') : undefined;
  res.writeHead(wanted ? 206 : 200, headers);
  await pipeline(Readable.from(readPieces(pieces, handle)), res);
}

export interface Piece {
  file: string;
  /** Inclusive offsets within the file. */
  start: number;
  end: number;
}

/** The parts of `segments` that hold blob bytes `start..end` (inclusive), in order. */
export function slice(segments: readonly Segment[], start: number, end: number): Piece[] {
  const pieces: Piece[] = [];
  let offset = 0;
  for (const segment of segments) {
    const segEnd = offset + segment.size - 1;
    if (segment.size > 0 && segEnd >= start && offset <= end) {
      pieces.push({
        file: segment.file,
        start: Math.max(start, offset) - offset,
        end: Math.min(end, segEnd) - offset,
      });
    }
    offset += segment.size;
    if (offset > end) break;
  }
  return pieces;
}

/** Streams the pieces one file at a time; `firstHandle` is the already opened first piece. */
export async function* readPieces(
  pieces: readonly Piece[],
  firstHandle: FileHandle | undefined,
): AsyncGenerator<Buffer> {
  let handle = firstHandle;
  try {
    for (const piece of pieces) {
      handle ??= await open(piece.file, 'r');
      const source = createReadStream('', {
        fd: handle,
        start: piece.start,
        end: piece.end,
        highWaterMark: READ_HIGH_WATER_MARK,
      });
      handle = undefined; // the stream owns it now and closes it when done or destroyed
      for await (const chunk of source) yield chunk as Buffer;
    }
  } finally {
    await handle?.close();
  }
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
