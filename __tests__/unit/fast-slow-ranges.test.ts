import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { readWhole, type SlowRangePolicy } from '../../src/server/results/fast-slow/slow-ranges.js';
import type { BodyPiece } from '../../src/server/results/send-body.js';

// The miss path's slow-store reader: one stream while it is fast, parallel ranges handed on in
// order once its first part came slowly, bounded in connections, every stream closed when the
// reader stops.

const POLICY: SlowRangePolicy = {
  rangeBytes: 1000,
  connections: 3,
  slowBytesPerSecond: 1e6,
  bufferBytes: 10_000,
};

interface Call {
  start: number;
  end: number;
  stream: Readable;
}

/** A slow store over `blob`: each read a Readable of 100-byte chunks, one per macrotask. */
function store(blob: Buffer, options: { failAt?: number } = {}) {
  const calls: Call[] = [];
  let open = 0;
  /** Bytes the ranges (every read but the first) have produced. */
  let rangeBytes = 0;
  const read = (start: number, end: number): Promise<AsyncIterable<Buffer>> => {
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let at = start; at <= end; at += 100) {
        await new Promise((resolve) => setImmediate(resolve));
        if (options.failAt !== undefined && at === options.failAt) throw new Error('slow store failed');
        const chunk = blob.subarray(at, Math.min(at + 100, end + 1));
        if (start > 0) rangeBytes += chunk.length;
        yield chunk;
      }
    }
    const stream = Readable.from(chunks(), { objectMode: false, highWaterMark: 100 });
    open++;
    stream.once('close', () => open--);
    calls.push({ start, end, stream });
    return Promise.resolve(stream);
  };
  return { read, calls, open: () => open, rangeBytes: () => rangeBytes };
}

/** A clock that advances `msPerCall` every time it is read: the first stream's rate is fixed. */
function clock(msPerCall: number): () => number {
  let t = 0;
  return () => (t += msPerCall);
}

/** A piece of the reader's output as one buffer (the ranges hand on batches). */
const joined = (piece: BodyPiece): Buffer => (Buffer.isBuffer(piece) ? piece : Buffer.concat(piece));

async function collect(source: AsyncIterable<BodyPiece>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const piece of source) parts.push(joined(piece));
  return Buffer.concat(parts);
}

it('reads a fast slow store as one stream, to the end', async () => {
  const blob = randomBytes(10_000);
  const slow = store(blob);
  // 1000 bytes in 0.1 ms: far above 1 MB/s.
  const got = await collect((await readWhole(slow.read, blob.length, POLICY, clock(0.1)))!);
  expect(got.equals(blob)).toBe(true);
  expect(slow.calls.map(({ start, end }) => [start, end])).toEqual([[0, 9_999]]);
});

it('splits a slow one after its first range: the rest in ranges, at most `connections` at once, in order', async () => {
  const blob = randomBytes(10_500);
  const slow = store(blob);
  // 1000 bytes in 10 s: 100 B/s, below 1 MB/s.
  const source = (await readWhole(slow.read, blob.length, POLICY, clock(10_000)))!;
  const parts: Buffer[] = [];
  let received = 0;
  for await (const piece of source) {
    const chunk = joined(piece);
    if (received >= 1000) {
      // Ranges started so far: the one being handed on and at most two after it.
      const handing = Math.floor((received - 1000) / 1000);
      expect(slow.calls.length - 1).toBeLessThanOrEqual(handing + POLICY.connections);
    }
    parts.push(chunk);
    received += chunk.length;
  }
  expect(Buffer.concat(parts).equals(blob)).toBe(true);
  expect(slow.calls.map(({ start, end }) => [start, end])).toEqual([
    [0, 10_499],
    ...[1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000].map((s) => [s, s + 999]),
    [10_000, 10_499],
  ]);
  // The first stream is closed when the ranges start; then three ranges at a time.
  expect(slow.calls[0]?.stream.destroyed).toBe(true);
  await new Promise((resolve) => setImmediate(resolve));
  expect(slow.open()).toBe(0);
});

it('ranges ahead stop reading past the budget while a slow client takes the one being sent', async () => {
  const blob = randomBytes(12_000);
  const slow = store(blob);
  const policy = { ...POLICY, connections: 4, bufferBytes: 500 };
  const source = (await readWhole(slow.read, blob.length, policy, clock(10_000)))!;
  let received = 0;
  let maxHeld = 0;
  for await (const piece of source) {
    received += joined(piece).length;
    // Produced by the ranges and not yet taken by the client.
    maxHeld = Math.max(maxHeld, slow.rangeBytes() - Math.max(0, received - 1000));
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  }
  expect(received).toBe(blob.length);
  // Without the budget three ranges ahead would fill: 3,000 bytes. With it: the budget, plus a
  // chunk or two per range in flight (its stream's buffer and the one that crossed the limit).
  expect(maxHeld).toBeLessThanOrEqual(500 + 4 * 300 + 100);
});

it('leaves a small blob to one stream whatever its speed', async () => {
  const blob = randomBytes(2_500);
  const slow = store(blob);
  const got = await collect((await readWhole(slow.read, blob.length, POLICY, clock(10_000)))!);
  expect(got.equals(blob)).toBe(true);
  expect(slow.calls).toHaveLength(1);
});

it('a failing range fails the read and closes every other range', async () => {
  const blob = randomBytes(10_000);
  const slow = store(blob, { failAt: 3_500 });
  const source = (await readWhole(slow.read, blob.length, POLICY, clock(10_000)))!;
  await expect(collect(source)).rejects.toThrow('slow store failed');
  await new Promise((resolve) => setImmediate(resolve));
  expect(slow.calls.every((call) => call.stream.destroyed)).toBe(true);
});

it('a reader that stops (the client went away) closes every range still reading', async () => {
  const blob = randomBytes(10_000);
  const slow = store(blob);
  const source = (await readWhole(slow.read, blob.length, POLICY, clock(10_000)))!;
  let received = 0;
  for await (const piece of source) {
    received += joined(piece).length;
    if (received >= 2_500) break;
  }
  await new Promise((resolve) => setImmediate(resolve));
  expect(slow.calls.length).toBeGreaterThan(2);
  expect(slow.calls.every((call) => call.stream.destroyed)).toBe(true);
  expect(slow.open()).toBe(0);
});

it('a range the store answers short is an error, not a silently short blob', async () => {
  const blob = randomBytes(10_000);
  const slow = store(blob);
  const shortRead = (start: number, end: number): Promise<AsyncIterable<Buffer>> =>
    slow.read(start, start === 4000 ? end - 10 : end);
  const source = (await readWhole(shortRead, blob.length, POLICY, clock(10_000)))!;
  await expect(collect(source)).rejects.toThrow(/sent 990 bytes where 1000/);
});

it('is undefined when the blob is gone', async () => {
  expect(await readWhole(() => Promise.resolve(undefined), 10_000, POLICY)).toBeUndefined();
});
