/** Half-open byte interval [start, end). */
export type ByteRange = readonly [start: number, end: number];

/**
 * Adds a received range to a sorted, merged list. Retried chunks overlap ranges already present;
 * merging keeps the list minimal (one entry once an item is complete).
 */
export function addRange(ranges: readonly ByteRange[], added: ByteRange): ByteRange[] {
  if (added[1] <= added[0]) return [...ranges];
  const all = [...ranges, added].sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [start, end] of all) {
    const last = merged[merged.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

/** True when the ranges cover [0, total) with no gap. */
export function coversAll(ranges: readonly ByteRange[], total: number): boolean {
  const first = ranges[0];
  return ranges.length === 1 && first !== undefined && first[0] === 0 && first[1] >= total;
}

/** Removes [start, end) from the list: a range being rewritten is not "received" until it lands. */
export function removeRange(ranges: readonly ByteRange[], removed: ByteRange): ByteRange[] {
  const [cutStart, cutEnd] = removed;
  if (cutEnd <= cutStart) return [...ranges];
  const out: ByteRange[] = [];
  for (const [start, end] of ranges) {
    if (end <= cutStart || start >= cutEnd) {
      out.push([start, end]);
      continue;
    }
    if (start < cutStart) out.push([start, cutStart]);
    if (end > cutEnd) out.push([cutEnd, end]);
  }
  return out;
}
