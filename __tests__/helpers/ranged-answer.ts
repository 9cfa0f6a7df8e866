/**
 * What a blob store that honours Range answers for one request: the whole blob (200) without a
 * usable header, or the asked part (206, `bytes=a-b` or `bytes=a-`, end clamped to the blob) with
 * its Content-Range. Shared by the tests' loopback blob servers and msw handlers, which differ
 * only in how they send it and in the faults they add around it.
 */
export interface RangedAnswer {
  status: 200 | 206;
  /** First byte of the blob the body starts at. */
  start: number;
  body: Buffer;
  headers: Record<string, string>;
}

export function rangedAnswer(blob: Buffer, range: string | null | undefined, etag?: string): RangedAnswer {
  const base: Record<string, string> = etag === undefined ? {} : { etag };
  const match = typeof range === 'string' ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
  if (!match) {
    return { status: 200, start: 0, body: blob, headers: { ...base, 'content-length': String(blob.length) } };
  }
  const start = Number(match[1]);
  const end = match[2] ? Math.min(blob.length - 1, Number(match[2])) : blob.length - 1;
  return {
    status: 206,
    start,
    body: blob.subarray(start, end + 1),
    headers: {
      ...base,
      'content-range': `bytes ${start}-${end}/${blob.length}`,
      'content-length': String(end - start + 1),
    },
  };
}
