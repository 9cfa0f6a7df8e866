import type { IncomingMessage } from 'node:http';
import { AbortError, FerryError, IntegrityError, type ErrorContext } from '../../core/errors.js';
import { ByteBudget } from '../../core/byte-budget.js';
import { readBody } from '../../transport/body.js';
import { extractErrorMessage } from '../../transport/error-body.js';
import type { HttpManager } from '../../transport/http-manager.js';
import type { Operation } from '../../transport/operation.js';
import { watchThroughput, type StallPolicy, type Watchdog } from '../../transport/stall-watchdog.js';

/**
 * Parallel ranged GETs of one large blob (issue 12): the blob is cut into ranges of
 * `rangeBytes`, fetched over up to `connections` keep-alive connections at once, each with
 * `Range` and `If-Match`, each resumed on its own after a cut. The bytes are handed on strictly
 * in order (SHA-256 and the streaming zip reader need order), and memory stays bounded: a range
 * starts only while it is within `connections` ranges of the one being written, so at most
 * `connections × rangeBytes` wait in memory.
 */
export interface RangedReadOptions {
  http: HttpManager;
  operation: Operation;
  context: ErrorContext;
  /** The URL to ask now (it changes once if a 403 made the caller fetch a fresh signed URL). */
  url: () => string;
  /** A 403 on `usedUrl`: resolves once a fresh URL is in place, or throws the refusal. */
  refused: (usedUrl: string, refusal: Refusal) => Promise<void>;
  /** The blob's size and strong ETag, from the first response. */
  total: number;
  etag: string;
  rangeBytes: number;
  connections: number;
  /**
   * Bytes held ahead of the write position before the ranges behind the one being written stop
   * reading (their sockets then fill and TCP slows the sender): when the sink is slower than N
   * connections, memory stays at this instead of `connections × rangeBytes`.
   */
  bufferBytes: number;
  /**
   * A first response that delivers range 0 at least this fast is read alone to the end, as one
   * stream: no cap worth getting around holds it back.
   */
  fastBytesPerSecond: number;
  /**
   * The first response (a 206 to `Range: bytes=0-`, on slot 0): range 0 is read from it, then
   * it is destroyed, since the rest of its body belongs to the other ranges.
   */
  first: IncomingMessage;
  /** The next bytes in order; a rejection stops the download with that error. */
  deliver: (chunks: Buffer[]) => Promise<void>;
  stall: StallPolicy;
}

export interface Refusal {
  code: string | undefined;
  message: string | undefined;
  body: string;
}

/** The smallest delivery of a range still arriving (a finished range is handed on whole). */
const DELIVER_BYTES = 1024 * 1024;

/** A fetched range's bytes, between the connection that receives them and the in-order writer. */
class RangeBuffer {
  /** Bytes received so far; a resume asks for the rest after them. */
  received = 0;
  done = false;
  #chunks: Buffer[] = [];
  #wake: (() => void) | undefined;

  constructor(
    readonly start: number,
    /** Exclusive. */
    readonly end: number,
    readonly budget: ByteBudget,
  ) {}

  /** Set once the writer reached this range: it never waits for room, or nothing would drain. */
  writing = false;

  get length(): number {
    return this.end - this.start;
  }

  push(chunk: Buffer): void {
    this.received += chunk.length;
    this.budget.add(chunk.length);
    this.pendingBytes += chunk.length;
    this.#chunks.push(chunk);
    this.wake();
  }

  finish(): void {
    this.done = true;
    this.wake();
  }

  take(): Buffer[] {
    const chunks = this.#chunks;
    this.#chunks = [];
    this.pendingBytes = 0;
    return chunks;
  }

  /** Bytes received and not yet taken. */
  pendingBytes = 0;

  /** Whether reading should pause: ahead of the writer while too much is held. */
  get mustWait(): boolean {
    return !this.writing && this.budget.held > this.budget.limit;
  }

  get pending(): boolean {
    return this.#chunks.length > 0;
  }

  /** Resolves on the next push, finish or failure. */
  next(): Promise<void> {
    return new Promise((resolve) => (this.#wake = resolve));
  }

  wake(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

export async function readRanges(options: RangedReadOptions): Promise<void> {
  const { total, rangeBytes } = options;
  const count = Math.ceil(total / rangeBytes);
  const connections = Math.max(1, Math.min(options.connections, options.http.slots, count));
  const window = connections;
  const ranges = new Map<number, RangeBuffer>();
  const budget = new ByteBudget(options.bufferBytes);
  const internal = new AbortController();
  const signal = AbortSignal.any([options.operation.signal, internal.signal]);
  let failure: unknown;
  let head = 0;
  let next = 0;
  /** Workers waiting for the window to move. */
  let headMoved: Array<() => void> = [];
  let rangeCreated: (() => void) | undefined;

  const fail = (error: unknown): void => {
    if (failure !== undefined) return;
    failure = error;
    // Stops every range request in flight (HttpManager destroys their sockets) and the first body.
    internal.abort(error);
    if (!options.first.destroyed) options.first.destroy();
    for (const range of ranges.values()) range.wake();
    decide(true);
    budget.wakeAll();
    wakeWorkers();
    rangeCreated?.();
  };

  const wakeWorkers = (): void => {
    const waiting = headMoved;
    headMoved = [];
    for (const wake of waiting) wake();
  };

  const open = (index: number): RangeBuffer => {
    const start = index * rangeBytes;
    const range = new RangeBuffer(start, Math.min(total, start + rangeBytes), budget);
    ranges.set(index, range);
    const created = rangeCreated;
    rangeCreated = undefined;
    created?.();
    return range;
  };

  /** Whether the first response turned out fast enough to be read alone (decided after range 0). */
  let decide: (oneStream: boolean) => void = () => undefined;
  const decided = new Promise<boolean>((resolve) => (decide = resolve));

  const waitForWindow = async (): Promise<void> => {
    while (failure === undefined && next >= head + window)
      await new Promise<void>((resolve) => headMoved.push(resolve));
  };

  const firstWorker = async (): Promise<void> => {
    next = 1;
    const body = new FirstBody(options);
    let range = open(0);
    const startedAt = performance.now();
    await body.fill(range);
    const seconds = (performance.now() - startedAt) / 1000;
    // A first stream already this fast is not held back by a per-connection cap: ranges would
    // only add copies and connections (measured: 2x slower on loopback), so it is read alone.
    const oneStream = range.received === range.length && range.length >= options.fastBytesPerSecond * seconds;
    decide(oneStream);
    if (!oneStream) {
      body.destroy();
      // Its socket still holds bytes of the rest of the body: never reused.
      options.http.disposeAndReplace(0);
    }
    for (;;) {
      if (failure !== undefined) return;
      if (range.received < range.length) await fetchRange(options, range, 0, signal);
      range.finish();
      if (!oneStream || next >= count) break;
      await waitForWindow();
      if (failure !== undefined) return;
      range = open(next++);
      // After a cut, the rest of the blob comes range by range on this connection.
      if (body.readable) await body.fill(range);
    }
    body.destroy();
    if (oneStream) return;
    await otherRanges(0);
  };

  const otherRanges = async (slot: number): Promise<void> => {
    while (failure === undefined && next < count) {
      if (next >= head + window) {
        await waitForWindow();
        continue;
      }
      const range = open(next++);
      await fetchRange(options, range, slot, signal);
      range.finish();
    }
  };

  const worker = async (slot: number): Promise<void> => {
    if (slot === 0) return firstWorker();
    if (await decided) return;
    await otherRanges(slot);
  };

  const writer = async (): Promise<void> => {
    for (; head < count;) {
      let range = ranges.get(head);
      while (range === undefined) {
        await new Promise<void>((resolve) => (rangeCreated = resolve));
        if (failure !== undefined) return;
        range = ranges.get(head);
      }
      range.writing = true;
      // This range may itself be waiting for room: it must read on now, whatever is held.
      budget.wakeAll();
      for (;;) {
        if (failure !== undefined) return;
        // A live range is handed on in batches of at least DELIVER_BYTES, not per socket read:
        // each delivery is a write (two with the zip spool) and one per 64 KiB cost 4x system time.
        if (range.pendingBytes >= DELIVER_BYTES || (range.done && range.pending)) {
          const chunks = range.take();
          await options.deliver(chunks);
          let bytes = 0;
          for (const chunk of chunks) bytes += chunk.length;
          budget.release(bytes);
        } else if (range.done) break;
        else await range.next();
      }
      ranges.delete(head++);
      wakeWorkers();
    }
  };

  // The first body is read outside HttpManager, which cuts only the sockets of its own requests.
  const onAbort = (): void => fail(new AbortError(options.operation.signal.reason, options.context));
  options.operation.signal.addEventListener('abort', onAbort, { once: true });
  const tasks = [writer(), ...Array.from({ length: connections }, (_, slot) => worker(slot))].map((task) =>
    task.catch(fail),
  );
  try {
    await Promise.all(tasks);
  } finally {
    options.operation.signal.removeEventListener('abort', onAbort);
  }
  if (failure !== undefined) {
    options.operation.throwIfStopped();
    throw failure;
  }
}

/**
 * The first response's body, read range by range: range 0 always, and every range after it
 * when the stream is fast enough to be read alone. A chunk that straddles two ranges is split.
 * A cut (or stall) ends it; what the range lacks then comes from a ranged GET.
 */
class FirstBody {
  readonly #res: IncomingMessage;
  readonly #chunks: AsyncIterator<Buffer>;
  readonly #watchdog: PausableWatchdog;
  #leftover: Buffer | undefined;
  #ended = false;

  constructor(options: RangedReadOptions) {
    const res = options.first;
    this.#res = res;
    this.#chunks = (res as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    this.#watchdog = new PausableWatchdog(() =>
      watchThroughput(options.stall, 'Download', options.context, (error) => res.destroy(error)),
    );
  }

  get readable(): boolean {
    return !this.#ended;
  }

  async fill(range: RangeBuffer): Promise<void> {
    while (!this.#ended && range.received < range.length) {
      let chunk = this.#leftover;
      this.#leftover = undefined;
      if (chunk === undefined) {
        try {
          const next = await this.#chunks.next();
          if (next.done) {
            this.destroy();
            return;
          }
          chunk = next.value;
          this.#watchdog.add(chunk.length);
        } catch {
          this.destroy();
          return;
        }
      }
      const room = range.length - range.received;
      if (chunk.length > room) this.#leftover = chunk.subarray(room);
      range.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      if (range.received < range.length) await waitForRoom(range, this.#watchdog);
    }
  }

  destroy(): void {
    this.#ended = true;
    this.#leftover = undefined;
    this.#watchdog.stop();
    if (!this.#res.destroyed) this.#res.destroy();
  }
}

/** Fetches what `range` still lacks on `slot`, resumed after a cut within the retry policy. */
async function fetchRange(
  options: RangedReadOptions,
  range: RangeBuffer,
  slot: number,
  signal: AbortSignal,
): Promise<void> {
  while (range.received < range.length) {
    const url = options.url();
    const refusal = await options.http.request(
      {
        slot,
        method: 'GET',
        url,
        headers: () => ({
          range: `bytes=${range.start + range.received}-${range.end - 1}`,
          'if-match': options.etag,
        }),
        okStatuses: [403, 412, 416],
        signal,
        context: options.context,
      },
      (res) => readRange(options, range, res),
    );
    if (refusal !== undefined) await options.refused(url, refusal);
  }
}

async function readRange(
  options: RangedReadOptions,
  range: RangeBuffer,
  res: IncomingMessage,
): Promise<Refusal | undefined> {
  const status = res.statusCode ?? 0;
  const asked = `bytes=${range.start + range.received}-${range.end - 1}`;
  if (status === 403) {
    const body = (await readBody(res, 64 * 1024).catch(() => Buffer.alloc(0))).toString('utf8');
    const code = res.headers['x-ms-error-code'];
    return { code: typeof code === 'string' ? code : undefined, message: extractErrorMessage(body), body };
  }
  if (status === 412 || status === 416) {
    res.resume();
    throw new IntegrityError(
      'ERR_FERRY_INTEGRITY',
      status === 412
        ? `The blob changed during the download: the range ${asked} was refused for If-Match ${options.etag} (HTTP 412)`
        : `The blob is shorter than the ${options.total} bytes it declared: the range ${asked} was refused as out of range (HTTP 416)`,
      { context: options.context },
    );
  }
  if (status !== 206) {
    res.resume();
    throw new FerryError(
      'ERR_FERRY_PROTOCOL',
      `The blob store answered the ranged GET ${asked} with HTTP ${status}, expected 206 (it answered the first range with 206)`,
      { context: options.context },
    );
  }
  const from = range.start + range.received;
  const length = range.end - from;
  const contentRange = String(res.headers['content-range'] ?? '');
  const declared = res.headers['content-length'];
  const etag = res.headers['etag'];
  if (
    contentRange !== `bytes ${from}-${range.end - 1}/${options.total}` ||
    (declared !== undefined && Number(declared) !== length) ||
    (etag !== undefined && etag !== options.etag)
  ) {
    res.resume();
    throw new IntegrityError(
      'ERR_FERRY_INTEGRITY',
      `The blob store answered ${asked} with Content-Range '${contentRange.slice(0, 100)}'${
        declared === undefined ? '' : `, Content-Length ${String(declared).slice(0, 20)}`
      }${etag === undefined || etag === options.etag ? '' : ` and another ETag`}, not the ${length} bytes asked for of the ${options.total}-byte blob`,
      { context: options.context },
    );
  }
  const watchdog = new PausableWatchdog(() =>
    watchThroughput(options.stall, 'Download', options.context, (error) => res.destroy(error)),
  );
  let got = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      watchdog.add(chunk.length);
      got += chunk.length;
      if (got > length) {
        throw new IntegrityError(
          'ERR_FERRY_INTEGRITY',
          `The blob store sent more than the ${length} bytes of the range ${asked}`,
          { context: options.context },
        );
      }
      range.push(chunk);
      if (got < length) await waitForRoom(range, watchdog);
    }
  } catch (error) {
    // Typed already: an overrun, a stall (retried as such), an abort.
    if (error instanceof FerryError) throw error;
    throw new IntegrityError(
      'ERR_FERRY_INTEGRITY',
      `Download truncated: the range ${asked} broke off after ${got} of ${length} bytes`,
      { cause: error, retryable: true, context: options.context },
    );
  } finally {
    watchdog.stop();
    if (!res.destroyed && !res.complete) res.destroy();
  }
  if (got !== length) {
    throw new IntegrityError(
      'ERR_FERRY_INTEGRITY',
      `Download truncated: the range ${asked} ended after ${got} of ${length} bytes`,
      { retryable: true, context: options.context },
    );
  }
  return undefined;
}

/**
 * Pauses a range ahead of the writer while the download holds more than its budget: the
 * response is not read meanwhile, so its socket fills and TCP slows the sender. The pause is
 * not a stall, so the watchdog starts over afterwards.
 */
async function waitForRoom(range: RangeBuffer, watchdog: PausableWatchdog): Promise<void> {
  if (!range.mustWait) return;
  watchdog.pause();
  while (range.mustWait) await range.budget.room();
  watchdog.resume();
}

/** The stall watchdog of one response, stopped while the response is paused on purpose. */
class PausableWatchdog {
  #current: Watchdog;

  constructor(private readonly begin: () => Watchdog) {
    this.#current = begin();
  }

  add(bytes: number): void {
    this.#current.add(bytes);
  }

  pause(): void {
    this.#current.stop();
  }

  resume(): void {
    this.#current = this.begin();
  }

  stop(): void {
    this.#current.stop();
  }
}
