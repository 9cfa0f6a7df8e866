// Settles the disk before a timed operation: `sync`, then wait (bounded) until the kernel's
// dirty and under-writeback pages fall below a small threshold. Small-file work is dominated by
// system time, and whoever runs right after another client wrote, verified and deleted 10,000
// files pays for that writeback (reference/performance.md, "Measuring on these machines").
// Nothing is dropped (that needs root): the page cache stays warm for every client alike.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Below this much Dirty + Writeback the disk counts as settled. */
export const SETTLED_KIB = 8 * 1024;
/** The wait is bounded: on a shared machine others may keep dirtying pages. */
export const SETTLE_LIMIT_MS = 30_000;
const POLL_MS = 50;

/** Dirty + Writeback from /proc/meminfo in KiB, or undefined where there is no /proc. */
export function dirtyKiB() {
  let text;
  try {
    text = readFileSync('/proc/meminfo', 'utf8');
  } catch {
    return undefined;
  }
  let sum = 0;
  for (const field of ['Dirty', 'Writeback']) {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    if (match) sum += Number(match[1]);
  }
  return sum;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Returns `{ settled, waitedMs, dirtyBeforeKiB, dirtyAfterKiB }`: `settled` is false when the
 * limit ran out first (the row is still measured, and the report says it was not settled).
 */
export async function settleDisk({ thresholdKiB = SETTLED_KIB, limitMs = SETTLE_LIMIT_MS } = {}) {
  const started = Date.now();
  const dirtyBeforeKiB = dirtyKiB();
  spawnSync('sync', { stdio: 'ignore' });
  let dirty = dirtyKiB();
  while (dirty !== undefined && dirty >= thresholdKiB && Date.now() - started < limitMs) {
    await sleep(POLL_MS);
    dirty = dirtyKiB();
  }
  return {
    settled: dirty === undefined || dirty < thresholdKiB,
    waitedMs: Date.now() - started,
    dirtyBeforeKiB,
    dirtyAfterKiB: dirty,
  };
}
