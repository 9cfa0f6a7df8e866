import type { ServerResponse } from 'node:http';

/**
 * A container listing is written as it is serialized, a batch of entries at a time, instead of
 * one JSON document built whole: a 100,000-file listing is about 55 MB of JSON, and holding the
 * entry objects, the string and its UTF-8 copy at once cost the embedded store (server and
 * client in one process) over 150 MiB at the moment the download began. A listing that fits in
 * one batch is still sent with a Content-Length (most are small); a larger one goes out chunked,
 * waiting for the socket to drain between batches, so memory stays one batch however many
 * items there are.
 */
export const LISTING_BATCH_BYTES = 256 * 1024;

/** Writes `{"count":N,"value":[…]}` with `entries` serialized one at a time, in order. */
export async function sendListing(
  res: ServerResponse,
  count: number,
  entries: Iterable<unknown>,
  batchBytes: number = LISTING_BATCH_BYTES,
): Promise<void> {
  const iterator = entries[Symbol.iterator]();
  let batch = `{"count":${count},"value":[`;
  let first = true;
  let done = false;
  /** Appends entries until the batch is full or the listing ends. */
  const fill = (): void => {
    while (batch.length < batchBytes) {
      const next = iterator.next();
      if (next.done === true) {
        batch += ']}';
        done = true;
        return;
      }
      batch += `${first ? '' : ','}${JSON.stringify(next.value)}`;
      first = false;
    }
  };
  fill();
  const headers = { 'Content-Type': 'application/json; charset=utf-8' };
  if (done) {
    const payload = Buffer.from(batch);
    res.writeHead(200, { ...headers, 'Content-Length': String(payload.length) });
    res.end(payload);
    return;
  }
  res.writeHead(200, headers);
  for (;;) {
    const flowing = res.write(batch);
    batch = '';
    if (done) break;
    if (!flowing && !(await drained(res))) return;
    if (res.destroyed) return;
    fill();
  }
  res.end();
}

/** Resolves true when the response can take more, false when it closed first (client gone). */
function drained(res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onDrain = (): void => {
      res.off('close', onClose);
      resolve(true);
    };
    const onClose = (): void => {
      res.off('drain', onDrain);
      resolve(false);
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}
