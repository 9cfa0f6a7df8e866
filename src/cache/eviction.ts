/** One entry as a directory scan saw it. */
export interface ScannedEntry {
  name: string;
  size: number;
  /** Last use (ms since the epoch): the entry file's mtime, touched on every hit. */
  usedAtMs: number;
}

export interface EvictionLimits {
  maxBytes: number;
  lowWaterBytes: number;
  maxEntries: number;
  lowWaterEntries: number;
  maxAgeMs: number;
}

/**
 * Which entries to remove, as a pure decision: every entry older than maxAge; then, only when
 * the total is above maxBytes (or the count above maxEntries), the least recently used until
 * the total is at most lowWaterBytes (and the count at most lowWaterEntries). Eviction thus
 * runs once per (maxBytes - lowWaterBytes) of inserts, not on every insert. `keep` (the entry
 * just inserted, at most maxBytes) is never chosen by size or count.
 */
export function chooseVictims(
  entries: ScannedEntry[],
  limits: EvictionLimits,
  nowMs: number,
  keep?: string,
): ScannedEntry[] {
  const victims: ScannedEntry[] = [];
  const live: ScannedEntry[] = [];
  for (const entry of entries) {
    if (nowMs - entry.usedAtMs > limits.maxAgeMs) victims.push(entry);
    else live.push(entry);
  }
  let bytes = live.reduce((sum, entry) => sum + entry.size, 0);
  let count = live.length;
  if (bytes <= limits.maxBytes && count <= limits.maxEntries) return victims;
  // Oldest use first; the name breaks ties so every process picks the same order.
  live.sort((a, b) => a.usedAtMs - b.usedAtMs || (a.name < b.name ? -1 : 1));
  for (const entry of live) {
    if (entry.name === keep) continue;
    if (bytes <= limits.lowWaterBytes && count <= limits.lowWaterEntries) break;
    victims.push(entry);
    bytes -= entry.size;
    count--;
  }
  return victims;
}
