import { performance } from 'node:perf_hooks';
import type { BodyPiece } from '../send-body.js';
import { ByteBudget } from '../../../core/byte-budget.js';
import { RangeFetch, shortRead, type ReadRange } from './range-fetch.js';

export type { ReadRange };

/**
 * When a whole read of the slow store is split into parallel ranges. Blob stores cap a single
 * stream (Azure's per-connection throughput is a fraction of the account's), so a slow first
 * stream is a cap worth getting around; a fast one (a local disk, a near store) is read alone.
 */
export interface SlowRangePolicy {
  /** Size of each range, and of the first stream's part that is timed. */
  rangeBytes: number;
  /** Ranges read at once; also how many are held in memory at most (`connections × rangeBytes`). */
  connections: number;
  /** A first `rangeBytes` arriving at least this fast (bytes/s) is read on to the end alone. */
  slowBytesPerSecond: number;
  /**
   * Bytes of the ranges ahead of the one being sent held at most: past it they stop reading
   * (their sockets fill and TCP slows the sender), so a slow client or fast disk cannot make
   * the server hold `connections × rangeBytes`.
   */
  bufferBytes: number;
}

export const DEFAULT_SLOW_RANGES: Readonly<SlowRangePolicy> = Object.freeze({
  rangeBytes: 8 * 1024 * 1024,
  // Four at once: about 4x one capped stream, with at most 32 MiB held, well inside the
  // server's memory budget; more gains little once the client or the fast disk is the limit.
  connections: 4,
  // As the SDK's own ranged download decides (DEFAULT_RANGE_POLICY.fastBytesPerSecond).
  slowBytesPerSecond: 50e6,
  // None: a range ahead reads one chunk and waits, and what arrives meanwhile waits in its
  // socket's receive buffer (the kernel's, up to tcp_rmem's few MiB), read in full 64 KiB gulps
  // once the range is sent. Behind a 40 MB/s cap a 512 MiB miss took the same time as with 8 or
  // 2 MiB held here, at 1.2 s of server CPU instead of 1.8 and 140 MiB peak RSS instead of
  // 156-184 (docs/benchmarks.md, "fast_slow: the miss path").
  bufferBytes: 0,
});

/**
 * The whole blob (`size` bytes) from the slow store, in order (single buffers, or batches from
 * the ranges). It is read as one stream; when its first `rangeBytes` came slower than
 * `slowBytesPerSecond`, that stream is closed and the rest is read in ranges, `connections` at
 * a time, handed on in order. Undefined when the blob is gone (before anything was sent, so the
 * answer is a clean 404).
 */
export async function readWhole(
  read: ReadRange,
  size: number,
  policy: SlowRangePolicy = DEFAULT_SLOW_RANGES,
  now: () => number = () => performance.now(),
): Promise<AsyncIterable<BodyPiece> | undefined> {
  const first = await read(0, size - 1);
  if (!first) return undefined;
  // Splitting pays only when at least two ranges are left to read side by side.
  if (policy.connections < 2 || size < 3 * policy.rangeBytes) return first;
  return firstThenRanges(first, read, size, policy, now);
}

async function* firstThenRanges(
  first: AsyncIterable<Buffer>,
  read: ReadRange,
  size: number,
  policy: SlowRangePolicy,
  now: () => number,
): AsyncGenerator<BodyPiece> {
  const iterator = first[Symbol.asyncIterator]();
  /** When the first bytes arrived: the rate is the stream's, not the store's time to answer. */
  let started: number | undefined;
  let received = 0;
  let split = false;
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      const chunk = next.value;
      started ??= now();
      if (received + chunk.length < policy.rangeBytes || received >= policy.rangeBytes) {
        received += chunk.length;
        yield chunk;
        continue;
      }
      // This chunk completes the timed part: decide between reading on and splitting.
      const seconds = Math.max(now() - (started ?? 0), 1) / 1000;
      const rate = (received + chunk.length) / seconds;
      if (rate >= policy.slowBytesPerSecond) {
        received += chunk.length;
        yield chunk;
        continue;
      }
      const keep = policy.rangeBytes - received;
      split = true;
      if (keep > 0) yield chunk.subarray(0, keep);
      received = policy.rangeBytes;
      break;
    }
  } finally {
    // Closes the first stream: its connection's remaining bytes belong to the ranges.
    await iterator.return?.();
  }
  if (split) yield* inRanges(read, received, size, policy);
  else if (received !== size) throw shortRead(received, size);
}

/** Bytes `from..size-1` in ranges read `connections` at a time, handed on in order. */
async function* inRanges(
  read: ReadRange,
  from: number,
  size: number,
  policy: SlowRangePolicy,
): AsyncGenerator<readonly Buffer[]> {
  const starts: number[] = [];
  for (let start = from; start < size; start += policy.rangeBytes) starts.push(start);
  const fetches: RangeFetch[] = [];
  const budget = new ByteBudget(policy.bufferBytes);
  try {
    for (let index = 0; index < starts.length; index++) {
      // The one being handed on and the ones after it, up to `connections` at once.
      while (fetches.length < Math.min(starts.length, index + policy.connections)) {
        const start = starts[fetches.length] as number;
        fetches.push(new RangeFetch(read, start, Math.min(start + policy.rangeBytes, size) - 1, budget));
      }
      yield* (fetches[index] as RangeFetch).drain();
    }
  } finally {
    // The client went away or a range failed: stop every range still reading.
    for (const fetch of fetches) fetch.cancel();
    budget.wakeAll();
  }
}
