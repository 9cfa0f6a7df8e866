import { chooseVictims } from '../../src/cache/eviction.js';
import type { ScannedEntry } from '../../src/cache/eviction.js';

const limits = { maxBytes: 100, lowWaterBytes: 60, maxEntries: 10, lowWaterEntries: 8, maxAgeMs: 1000 };
const NOW = 1_000_000;

function entries(...sizes: number[]): ScannedEntry[] {
  // Entry i was last used i ms after the first: e0 is the least recently used.
  return sizes.map((size, i) => ({ name: `e${i}`, size, usedAtMs: NOW - 500 + i }));
}

describe('cache eviction decision', () => {
  test('under every limit nothing is evicted, even above the low-water mark', () => {
    expect(chooseVictims(entries(30, 30, 30), limits, NOW)).toEqual([]);
  });

  test('over maxBytes, least recently used go first, down to the low-water mark', () => {
    const victims = chooseVictims(entries(30, 30, 30, 20), limits, NOW);
    expect(victims.map((v) => v.name)).toEqual(['e0', 'e1']);
  });

  test('the entry just inserted is kept even when it is the least recently used', () => {
    const victims = chooseVictims(entries(30, 30, 30, 20), limits, NOW, 'e0');
    expect(victims.map((v) => v.name)).toEqual(['e1', 'e2']);
  });

  test('entries unused for longer than maxAge go whatever the totals', () => {
    const list = entries(10, 10);
    list[0]!.usedAtMs = NOW - 5000;
    expect(chooseVictims(list, limits, NOW).map((v) => v.name)).toEqual(['e0']);
  });

  test('over maxEntries, the count comes down to the low-water count', () => {
    const victims = chooseVictims(entries(...Array<number>(11).fill(1)), limits, NOW);
    expect(victims.map((v) => v.name)).toEqual(['e0', 'e1', 'e2']);
  });
});
