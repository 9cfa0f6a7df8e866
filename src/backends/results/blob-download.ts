import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { FerryError, HttpError, IntegrityError, type ErrorContext } from '../../core/errors.js';
import { asResourceError, findResourceFailure } from '../../pack/fs-errors.js';
import { readBody, responseTooLarge } from '../../transport/body.js';
import { writeFully } from '../../core/write-fully.js';
import { extractErrorMessage } from '../../transport/error-body.js';
import type { HttpManager } from '../../transport/http-manager.js';
import type { Operation } from '../../transport/operation.js';
import { StalledTransferError, watchThroughput, type StallPolicy } from '../../transport/stall-watchdog.js';
import { readRanges, type Refusal } from './ranged-blob-reader.js';

export interface BlobDownloadResult {
  size: number;
  sha256: string;
  contentType: string | undefined;
  contentDisposition: string | undefined;
}

export interface BlobDownloadOptions {
  http: HttpManager;
  operation: Operation;
  context: ErrorContext;
  /** Bytes on disk so far, and the blob's size once the response declared it (for percent and ETA). */
  onBytes?: (received: number, total: number | undefined) => void;
  /**
   * The digest the service listed (lowercase hex). A complete download that hashes to something
   * else is fetched once more from scratch, since transit corruption is worth one more try; a
   * second mismatch throws {@link DigestMismatchError}. A wrong listing is not fixed by more tries.
   */
  expectedSha256?: string | undefined;
  /**
   * Asks the service for a fresh signed URL (GetSignedArtifactURL). Used at most once, when the
   * blob store refuses the URL with 403 (an expired SAS); the transfer resumes where it was.
   */
  refreshUrl?: (() => Promise<string>) | undefined;
  /** Minimum-throughput watchdog; defaults to the HttpManager's policy. */
  stall?: StallPolicy | undefined;
  /**
   * The blob's size as the service listed it. No response is read past it: a declared length
   * over it is refused before reading, a body without one is cut off at it.
   */
  listedSize?: number | undefined;
  /**
   * Also receives every byte once it counts as received (the verified download cache's insert,
   * see cache-tee.ts): `start` on each fresh response (a start over forgets what came before),
   * `write` with the next bytes in order. It never fails the download: it keeps its own failures.
   */
  tee?: BlobTee | undefined;
  /** When a blob is fetched in parallel ranges; defaults to {@link DEFAULT_RANGE_POLICY}. */
  ranges?: RangePolicy | undefined;
}

/** A second destination of a blob download's bytes (see BlobDownloadOptions.tee). */
export interface BlobTee {
  start(): Promise<void>;
  write(chunks: readonly Buffer[]): Promise<void>;
}

/**
 * Parallel ranged GETs (issue 12): a blob the service lists above `thresholdBytes` is asked for
 * with `Range: bytes=0-`; when the blob store answers 206 with a strong ETag, the rest is
 * fetched in ranges of `rangeBytes` over up to `maxConnections` of the download's concurrency
 * slots at once (ranged-blob-reader.ts). Anything else (a 200, no ETag, concurrency 1) is read
 * as one stream from that first response.
 */
export interface RangePolicy {
  thresholdBytes: number;
  rangeBytes: number;
  maxConnections: number;
  /** Bytes held ahead of the write position before ranges ahead of it pause (ranged-blob-reader.ts). */
  bufferBytes: number;
  /** A first response delivering its first range at least this fast is read alone (one stream). */
  fastBytesPerSecond: number;
}

export const DEFAULT_RANGE_POLICY: Readonly<RangePolicy> = Object.freeze({
  thresholdBytes: 64 * 1024 * 1024,
  rangeBytes: 8 * 1024 * 1024,
  maxConnections: 8,
  bufferBytes: 32 * 1024 * 1024,
  // Measured on the 2-core bench machine (busy): one capped stream through the bench's 40 MB/s
  // proxy gives 28-38 MB/s, loopback 50-330 MB/s, and ranges on loopback took 2-3x as long as
  // one stream (through the one-pass sink too); at 100 MB/s the first 8 MiB of a busy loopback
  // still looked capped, so only a stream clearly below 50 MB/s is split.
  fastBytesPerSecond: 50e6,
});

/**
 * Where the bytes go instead of a file (the one-pass download). Every chunk handed to `write`
 * counts as received once its promise resolves, so a resumed request continues right after it.
 */
export interface BlobSink {
  /**
   * A fresh response (HTTP 200, the first one or a start over): forget anything written so far.
   * `declaredLength` is its Content-Length, when it has one.
   */
  start(contentType: string | undefined, declaredLength: number | undefined): Promise<void>;
  /** The next bytes, in order. A rejection stops the download with that error (not retried). */
  write(chunks: readonly Buffer[]): Promise<void>;
}

/** The downloaded bytes do not hash to the listed digest, on the first download and on the one re-download. */
export class DigestMismatchError extends IntegrityError {
  override name = 'DigestMismatchError';
  /** `sha256:<hex>` the service listed. */
  readonly expectedDigest: string;
  /** `sha256:<hex>` of the bytes received (on the last download). */
  readonly actualDigest: string;
  constructor(expectedHex: string, actualHex: string, downloads: number, context: ErrorContext) {
    super(
      'ERR_FERRY_INTEGRITY',
      `Digest mismatch: the service listed sha256:${expectedHex} but the bytes received hash to sha256:${actualHex} (downloaded ${downloads === 1 ? 'once' : `${downloads} times`}); nothing was extracted`,
      { context },
    );
    this.expectedDigest = `sha256:${expectedHex}`;
    this.actualDigest = `sha256:${actualHex}`;
  }
}

/** What one GET (with its retries) ended with. */
type FetchOutcome =
  | { kind: 'complete' }
  /** 403 from the blob store: the signed URL is no longer accepted (expired SAS, revoked key). */
  | ({ kind: 'refused' } & Refusal)
  /** A 206 to `bytes=0-` of a large blob with a strong ETag: the body is left to the ranged reader. */
  | { kind: 'ranged'; res: IncomingMessage; total: number; etag: string };

/** Where the transfer stands; a resumed request continues from here. */
class Progress {
  received = 0;
  hash: Hash = createHash('sha256');
  etag: string | undefined;
  contentType: string | undefined;
  contentDisposition: string | undefined;
  expectedTotal: number | undefined;

  /** Forget everything: the next request is a fresh GET without Range. */
  restart(): void {
    this.received = 0;
    this.hash = createHash('sha256');
    this.etag = undefined;
    this.expectedTotal = undefined;
  }
}

/**
 * Streams a blob to `file`, hashing as it goes. A transfer that breaks off is resumed with
 * `Range: bytes=<received>-` and `If-Match: <strong ETag>` on the next attempt; a server that
 * answers 200 instead of 206 gets a fresh start. The length is checked against Content-Length,
 * the rate against the stall policy, the digest (when given) against `expectedSha256`.
 */
export async function downloadBlob(
  url: string,
  file: string | BlobSink,
  options: BlobDownloadOptions,
): Promise<BlobDownloadResult> {
  const started = Date.now();
  const state = new Progress();
  let current = url;
  /** The URL a 403 made us replace, while (and after) the fresh one is fetched. */
  let replaced: string | undefined;
  let refreshing: Promise<void> | undefined;
  // Same blob, new signature: what arrived stays valid and the next GET resumes after it. One
  // refresh per download; ranges refused on the old URL while it is fetched wait for it.
  const refused = async (usedUrl: string, refusal: Refusal): Promise<void> => {
    if (refreshing !== undefined && usedUrl === replaced) return refreshing;
    if (refreshing !== undefined || !options.refreshUrl)
      throw refusedError(refusal, refreshing !== undefined, started, options.context);
    replaced = usedUrl;
    const refreshUrl = options.refreshUrl;
    refreshing = (async () => {
      current = await refreshUrl();
    })();
    return refreshing;
  };
  for (let downloads = 1; ;) {
    const used = current;
    const outcome = await fetchOnce(used, file, state, options, () => current, refused);
    if (outcome.kind === 'refused') {
      await refused(used, outcome);
      continue;
    }
    if (state.expectedTotal !== undefined && state.received !== state.expectedTotal) {
      throw new IntegrityError(
        'ERR_FERRY_INTEGRITY',
        `Download has ${state.received} bytes, the server declared ${state.expectedTotal}`,
        { context: options.context },
      );
    }
    const sha256 = state.hash.digest('hex');
    const expected = options.expectedSha256;
    if (expected !== undefined && sha256 !== expected) {
      if (downloads >= 2) throw new DigestMismatchError(expected, sha256, downloads, options.context);
      downloads++;
      state.restart();
      continue;
    }
    return {
      size: state.received,
      sha256,
      contentType: state.contentType,
      contentDisposition: state.contentDisposition,
    };
  }
}

async function fetchOnce(
  url: string,
  file: string | BlobSink,
  state: Progress,
  options: BlobDownloadOptions,
  currentUrl: () => string,
  refused: (usedUrl: string, refusal: Refusal) => Promise<void>,
): Promise<FetchOutcome> {
  const policy = options.ranges ?? DEFAULT_RANGE_POLICY;
  const connections = Math.min(policy.maxConnections, options.http.slots);
  // Asked with `bytes=0-` only when ranges could follow: a small blob's GET stays as it was.
  const rangeable =
    connections > 1 && options.listedSize !== undefined && options.listedSize > policy.thresholdBytes;
  const read = async (res: IncomingMessage): Promise<FetchOutcome> => {
    const status = res.statusCode ?? 0;
    if (status === 403) {
      // Handled here, not by the retry policy: a 403 is permanent for this URL, but a new URL
      // may fix it, and a permanent failure would stop the whole operation.
      const body = (await readBody(res, 64 * 1024).catch(() => Buffer.alloc(0))).toString('utf8');
      const code = res.headers['x-ms-error-code'];
      return {
        kind: 'refused',
        code: typeof code === 'string' ? code : undefined,
        message: extractErrorMessage(body),
        body,
      };
    }
    if (status === 416 && state.received > 0) {
      // The resume asked past the end: what arrived is all there is (the earlier answer declared
      // more than the blob holds), or the blob changed. The digest decides the first case;
      // anything else starts over.
      res.resume();
      const total = /^bytes \*\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''));
      if (total && Number(total[1]) === state.received) {
        state.expectedTotal = state.received;
        return { kind: 'complete' };
      }
      state.restart();
      throw new IntegrityError(
        'ERR_FERRY_INTEGRITY',
        'The resumed download was refused as out of range (HTTP 416); starting over',
        { retryable: true, context: options.context },
      );
    }
    let append = false;
    // What this attempt asked for (see the headers below): the rest after what arrived, or the
    // whole blob as `bytes=0-` when ranges could follow, or no range at all.
    const resuming = state.received > 0 && state.etag !== undefined;
    if (status === 206 && resuming) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
      if (!range || Number(range[1]) !== state.received || !rangeAgrees(range, res, state.expectedTotal)) {
        res.resume();
        throw new IntegrityError(
          'ERR_FERRY_INTEGRITY',
          `Resumed download returned an unexpected Content-Range '${res.headers['content-range']}'`,
          { context: options.context },
        );
      }
      append = true;
    } else if (status === 206 && rangeable) {
      // The whole blob, asked as `bytes=0-`: its total and ETag decide between ranges and one stream.
      wholeRange(res, state, options);
      await options.tee?.start();
      if (state.etag !== undefined && state.expectedTotal !== undefined) {
        if (options.listedSize !== undefined && state.expectedTotal > options.listedSize) {
          res.resume();
          throw responseTooLarge(
            `The blob download (${state.expectedTotal} bytes declared)`,
            options.listedSize,
            "the artifact's listed size",
            options.context,
          );
        }
        if (rangeable && state.expectedTotal > policy.thresholdBytes)
          return { kind: 'ranged', res, total: state.expectedTotal, etag: state.etag };
      }
    } else if (status !== 200) {
      res.resume();
      throw new IntegrityError('ERR_FERRY_PROTOCOL', `Blob download answered HTTP ${status}, expected 200`, {
        context: options.context,
      });
    } else {
      state.restart();
      await options.tee?.start();
      const tag = res.headers['etag'];
      state.etag = typeof tag === 'string' && !tag.startsWith('W/') ? tag : undefined;
      state.contentType = res.headers['content-type'];
      const disposition = res.headers['content-disposition'];
      state.contentDisposition = typeof disposition === 'string' ? disposition : undefined;
      const length = res.headers['content-length'];
      state.expectedTotal = length === undefined ? undefined : Number(length);
    }
    const declared =
      res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
    // Never past the listed size: a body (chunked and endless, or declaring more) is cut off
    // the moment it passes it. A declared length beyond it is not refused up front: a body
    // shorter than its declaration is a known fault (X02) that the resume below recovers from.
    const cap = options.listedSize;
    const tooLarge = (): FerryError =>
      responseTooLarge(
        `The blob download (${state.received} bytes already received)`,
        cap ?? 0,
        "the artifact's listed size",
        options.context,
      );
    let overrun: FerryError | undefined;
    let got = 0;
    let sinkFailure: unknown;
    if (typeof file !== 'string' && !append) await file.start(state.contentType, state.expectedTotal);
    const handle = typeof file === 'string' ? await open(file, append ? 'a' : 'w') : undefined;
    // A resume continues after the bytes counted as received: anything a failed write left
    // beyond them (a partial write) is cut off, so the file is exactly what was hashed.
    if (append) await handle?.truncate(state.received);
    const put = (chunks: Buffer[]): Promise<void> =>
      (handle !== undefined ? writeFully(handle, chunks) : (file as BlobSink).write(chunks)).catch(
        (error: unknown) => {
          sinkFailure ??= error;
          throw error;
        },
      );
    const watchdog = watchThroughput(
      options.stall ?? options.http.stallPolicy,
      'Download',
      options.context,
      (error) => res.destroy(error),
    );
    // Bytes count as received (and are hashed) only once they are on disk: a resume starts
    // exactly where the file ends, never after bytes that were buffered but lost.
    const persisted = (chunks: readonly Buffer[]): void => {
      for (const chunk of chunks) {
        got += chunk.length;
        state.received += chunk.length;
        state.hash.update(chunk);
      }
      options.onBytes?.(state.received, state.expectedTotal);
    };
    // While one write is on the thread pool, the stream gathers what arrives next and hands it
    // over as one writev: a few large writes instead of one per 64 KiB socket read.
    const sink = new Writable({
      highWaterMark: 4 * 1024 * 1024,
      write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void) {
        watchdog.add(chunk.length);
        put([chunk])
          .then(() => options.tee?.write([chunk]))
          .then(() => {
            persisted([chunk]);
            done();
          }, done);
      },
      writev(entries: Array<{ chunk: Buffer }>, done: (error?: Error | null) => void) {
        const chunks = entries.map((e) => e.chunk);
        for (const chunk of chunks) watchdog.add(chunk.length);
        put(chunks)
          .then(() => options.tee?.write(chunks))
          .then(() => {
            persisted(chunks);
            done();
          }, done);
      },
    });
    if (cap !== undefined) {
      // Attached only now, with the sink ready: a 'data' listener starts the flow.
      let seen = state.received;
      res.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (seen > cap && overrun === undefined) {
          overrun = tooLarge();
          res.destroy(overrun);
        }
      });
    }
    try {
      await drain(res, sink);
    } catch (error: unknown) {
      if (error instanceof StalledTransferError) throw error;
      if (overrun !== undefined) throw overrun;
      // What the bytes were written to failed for its own reasons (a corrupt archive): not the network's.
      if (sinkFailure !== undefined && !findResourceFailure(sinkFailure)) throw sinkFailure;
      // A full disk is not a broken connection: typed, and not retried.
      if (findResourceFailure(error)) {
        throw await asResourceError(error, {
          context: options.context,
          // The temporary directory holding `file` is removed; its parent is tempDir.
          ...(typeof file === 'string' ? { removedOnFailure: dirname(file) } : {}),
          neededBytes: state.expectedTotal ?? declared,
        });
      }
      throw new IntegrityError(
        'ERR_FERRY_INTEGRITY',
        declared === undefined
          ? `Download broke off after ${state.received} bytes`
          : `Download truncated: the connection closed after ${got} of ${declared} bytes (${state.received} in total)`,
        { cause: error, retryable: true, context: options.context },
      );
    } finally {
      watchdog.stop();
      await handle?.close();
    }
    if (declared !== undefined && got !== declared) {
      throw new IntegrityError('ERR_FERRY_INTEGRITY', `Download truncated: ${got} of ${declared} bytes`, {
        retryable: true,
        context: options.context,
      });
    }
    return { kind: 'complete' };
  };

  const outcome = await options.http.request(
    {
      slot: 0,
      phase: 'transfer',
      method: 'GET',
      url,
      headers: () =>
        state.received > 0 && state.etag
          ? { range: `bytes=${state.received}-`, 'if-match': state.etag }
          : rangeable
            ? { range: 'bytes=0-' }
            : {},
      okStatuses: [403, 416],
      operation: options.operation,
      context: options.context,
    },
    read,
  );
  if (outcome.kind !== 'ranged') return outcome;
  await readRangedBody(outcome, file, state, options, {
    connections,
    rangeBytes: policy.rangeBytes,
    bufferBytes: policy.bufferBytes,
    fastBytesPerSecond: policy.fastBytesPerSecond,
    currentUrl,
    refused,
  });
  return { kind: 'complete' };
}

/**
 * A fresh 206 must be the whole blob, `bytes 0-<total-1>/<total>` (with a matching
 * Content-Length): anything else would be taken for a blob it is not. Records what a fresh
 * response tells (total, strong ETag, type, disposition).
 */
function wholeRange(res: IncomingMessage, state: Progress, options: BlobDownloadOptions): void {
  const contentRange = String(res.headers['content-range'] ?? '');
  const whole = /^bytes 0-(\d+)\/(\d+)$/.exec(contentRange);
  const length = res.headers['content-length'];
  const total = whole ? Number(whole[2]) : NaN;
  if (
    !whole ||
    Number(whole[1]) + 1 !== total ||
    !Number.isSafeInteger(total) ||
    (length !== undefined && Number(length) !== total)
  ) {
    res.resume();
    throw new IntegrityError(
      'ERR_FERRY_INTEGRITY',
      `The blob store answered 'Range: bytes=0-' with Content-Range '${contentRange.slice(0, 100)}', not the whole blob`,
      { context: options.context },
    );
  }
  state.restart();
  const tag = res.headers['etag'];
  state.etag = typeof tag === 'string' && !tag.startsWith('W/') ? tag : undefined;
  state.contentType = res.headers['content-type'];
  const disposition = res.headers['content-disposition'];
  state.contentDisposition = typeof disposition === 'string' ? disposition : undefined;
  state.expectedTotal = total;
}

/** The ranged download of a large blob: ranges in parallel, handed on in order, hashed as they go. */
async function readRangedBody(
  outcome: Extract<FetchOutcome, { kind: 'ranged' }>,
  file: string | BlobSink,
  state: Progress,
  options: BlobDownloadOptions,
  plan: {
    connections: number;
    rangeBytes: number;
    bufferBytes: number;
    fastBytesPerSecond: number;
    currentUrl: () => string;
    refused: (usedUrl: string, refusal: Refusal) => Promise<void>;
  },
): Promise<void> {
  let sinkFailure: unknown;
  let handle: FileHandle | undefined;
  // The last delivery written and not yet counted: it is hashed while the next one is on the
  // thread pool, so SHA-256 (a third of the main thread's work) overlaps the file writes, the
  // slowest step, instead of following each. Bytes still count (and are hashed) only once they
  // are on disk, so a resume starts exactly where the file ends.
  let written: Buffer[] = [];
  const count = async (): Promise<void> => {
    const chunks = written;
    written = [];
    if (chunks.length === 0) return;
    for (const chunk of chunks) {
      state.received += chunk.length;
      state.hash.update(chunk);
    }
    // The verified cache's copy (it keeps its own failures, see BlobTee).
    await options.tee?.write(chunks);
    options.onBytes?.(state.received, state.expectedTotal);
  };
  try {
    if (typeof file === 'string') handle = await open(file, 'w');
    else await file.start(state.contentType, outcome.total);
    await readRanges({
      http: options.http,
      operation: options.operation,
      context: options.context,
      url: plan.currentUrl,
      refused: plan.refused,
      total: outcome.total,
      etag: outcome.etag,
      rangeBytes: plan.rangeBytes,
      bufferBytes: plan.bufferBytes,
      fastBytesPerSecond: plan.fastBytesPerSecond,
      connections: plan.connections,
      first: outcome.res,
      stall: options.stall ?? options.http.stallPolicy,
      deliver: async (chunks) => {
        // allSettled: a failed write is not left unhandled while the previous delivery is counted.
        const [write, counted] = await Promise.allSettled([
          handle !== undefined ? writeFully(handle, chunks) : (file as BlobSink).write(chunks),
          count(),
        ]);
        if (write.status === 'rejected') {
          sinkFailure = write.reason;
          throw write.reason;
        }
        if (counted.status === 'rejected') throw counted.reason;
        written = chunks;
      },
    });
    await count();
  } catch (error: unknown) {
    // What did reach the disk counts, whatever failed after it.
    await count().catch(() => undefined);
    if (sinkFailure !== undefined && !findResourceFailure(sinkFailure)) throw sinkFailure;
    if (findResourceFailure(error)) {
      throw await asResourceError(error, {
        context: options.context,
        ...(typeof file === 'string' ? { removedOnFailure: dirname(file) } : {}),
        neededBytes: outcome.total,
      });
    }
    throw error;
  } finally {
    if (!outcome.res.destroyed) outcome.res.destroy();
    await handle?.close();
  }
}

/**
 * A resumed 206 must be the range asked for: its length matches Content-Length, it ends
 * inside the total, and the total is the one the first answer declared. Anything else is a
 * server (or cache) mixing up objects, and appending it would corrupt the file.
 */
function rangeAgrees(
  range: RegExpExecArray,
  res: IncomingMessage,
  expectedTotal: number | undefined,
): boolean {
  const start = Number(range[1]);
  const end = Number(range[2]);
  const total = range[3] === '*' ? undefined : Number(range[3]);
  const length = res.headers['content-length'];
  if (end < start) return false;
  if (length !== undefined && Number(length) !== end - start + 1) return false;
  if (total !== undefined && end >= total) return false;
  return total === undefined || expectedTotal === undefined || total === expectedTotal;
}

/**
 * Pipes `res` into `sink`. When the body breaks off (reset, premature close, stall), the sink is
 * still ended normally so every byte that did arrive reaches the disk before the error is
 * thrown: the resume then starts after all of them, not after the last completed write.
 */
async function drain(res: IncomingMessage, sink: Writable): Promise<void> {
  // A failing write (disk full) must stop the body too, or the paused response never settles.
  sink.once('error', (error) => res.destroy(error));
  res.pipe(sink, { end: false });
  let broken: unknown;
  try {
    await finished(res);
  } catch (error: unknown) {
    broken = error;
    res.unpipe(sink);
  }
  sink.end();
  await finished(sink);
  if (broken !== undefined) throw broken;
}

function refusedError(
  outcome: Refusal,
  refreshed: boolean,
  started: number,
  context: ErrorContext,
): HttpError {
  const why = [outcome.code, outcome.message?.slice(0, 200)].filter(Boolean).join(': ');
  const elapsed = ((Date.now() - started) / 1000).toFixed(1);
  return new HttpError(
    'ERR_FERRY_UNAUTHORIZED',
    refreshed
      ? `The blob store refused the signed download URL ${elapsed} s into the download (HTTP 403${why ? ` ${why}` : ''}), and refused the fresh URL from GetSignedArtifactURL too; not retrying`
      : `The blob store refused the signed download URL ${elapsed} s into the download (HTTP 403${why ? ` ${why}` : ''}); it may have expired`,
    403,
    outcome.body,
    { context: { ...context, status: 403 } },
  );
}

/** `sha256:<hex>` or bare hex, any case → lowercase hex; anything else → undefined. */
export function normalizeDigest(digest: string | undefined): string | undefined {
  if (!digest) return undefined;
  const hex = digest
    .trim()
    .toLowerCase()
    .replace(/^sha256:/, '');
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}
