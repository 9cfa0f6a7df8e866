// Heap and time of the worker pool against p-limit over many tiny tasks (issue 11: one pool).
// Usage: node --expose-gc bench/pool-overhead.mjs hand|plimit [items]
// p-limit queues a closure and a promise per item up front; the hand-written pool (the loop in
// src/core/pool.ts) holds only its workers. Peak heap is sampled inside every task.
import { performance } from 'node:perf_hooks';
import pLimit from 'p-limit';

const mode = process.argv[2] ?? 'hand';
const count = Number(process.argv[3] ?? 100_000);
const items = Array.from({ length: count }, (_, i) => i);

async function hand(list, concurrency, fn) {
  let next = 0;
  const worker = async () => {
    while (next < list.length) await fn(list[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker));
}

async function plimit(list, concurrency, fn) {
  const limit = pLimit(concurrency);
  await Promise.all(list.map((item) => limit(() => fn(item))));
}

globalThis.gc();
const base = process.memoryUsage().heapUsed;
let peak = 0;
const started = performance.now();
await (mode === 'plimit' ? plimit : hand)(items, 8, async () => {
  await new Promise((resolve) => setImmediate(resolve));
  peak = Math.max(peak, process.memoryUsage().heapUsed - base);
});
const ms = (performance.now() - started).toFixed(0);
console.log(`${mode} ${count} items: ${ms} ms, peak extra heap ${(peak / 2 ** 20).toFixed(1)} MiB`);
