/**
 * When finalized artifacts are removed before their retention ends: a filesystem store's
 * eviction policy (NativeLink's shape). Every field is optional; an empty policy evicts nothing.
 */
export interface EvictionPolicy {
  /** Evict once the finalized artifacts together hold more than this many bytes... */
  maxBytes?: number;
  /** ...down to this many (the low-water mark; default maxBytes), so eviction does not run on every upload. */
  lowWaterBytes?: number;
  /** Evict artifacts finalized longer ago than this. */
  maxAgeSeconds?: number;
  /** Keep at most this many finalized artifacts. */
  maxEntries?: number;
}

/** What the policy looks at: a finalized artifact. Live uploads are never candidates. */
export interface EvictionCandidate {
  id: number;
  size: number;
  /** When it was finalized, ms since the epoch. */
  finalizedAt: number;
}

/**
 * The artifacts to evict, oldest first: those past max age, then the oldest until at most
 * maxEntries remain, then (only when the total exceeds maxBytes) the oldest until the total is at
 * or below the low-water mark.
 */
export function selectEvictions(
  candidates: readonly EvictionCandidate[],
  policy: EvictionPolicy,
  now: number,
): EvictionCandidate[] {
  const oldestFirst = [...candidates].sort((a, b) => a.finalizedAt - b.finalizedAt || a.id - b.id);
  let total = oldestFirst.reduce((sum, c) => sum + c.size, 0);
  let remaining = oldestFirst.length;
  const overBytes = policy.maxBytes !== undefined && total > policy.maxBytes;
  const byteTarget = policy.lowWaterBytes ?? policy.maxBytes ?? Number.POSITIVE_INFINITY;
  const evicted: EvictionCandidate[] = [];
  for (const candidate of oldestFirst) {
    const tooOld =
      policy.maxAgeSeconds !== undefined && now - candidate.finalizedAt > policy.maxAgeSeconds * 1000;
    const tooMany = policy.maxEntries !== undefined && remaining > policy.maxEntries;
    const tooBig = overBytes && total > byteTarget;
    if (!tooOld && !tooMany && !tooBig) break; // oldest first: nothing younger qualifies on age either
    evicted.push(candidate);
    total -= candidate.size;
    remaining--;
  }
  return evicted;
}
