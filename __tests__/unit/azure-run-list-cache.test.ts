import type { ResultsArtifact } from '../../src/server/results/artifact-index.js';
import { RUN_LIST_LIFETIME_MS, RunListCache } from '../../src/server/results/azure/run-list-cache.js';
import type { ListingChange } from '../../src/server/results/azure/run-state.js';

// A cached listing of a run is brought up to date from the run state's change log, and read
// whole again whenever the log cannot explain the gap.
function artifact(id: number): ResultsArtifact {
  const at = '2026-01-01T00:00:00.000Z';
  return {
    id,
    runId: 'r',
    jobId: 'j',
    name: `a${id}`,
    blobId: `b${id}`,
    mimeType: 'application/zip',
    version: 4,
    createdAt: at,
    updatedAt: at,
    expiresAt: at,
    finalized: { size: 1, digest: '', at },
  };
}

let clock = 0;
const cache = new RunListCache(() => clock);

it('answers at the same change number without a read', () => {
  cache.set('r', 3, [artifact(1), artifact(2)]);
  expect(cache.get('r', { changes: 3, log: [] })?.records.map((r) => r.id)).toEqual([1, 2]);
});

it('applies the logged finalizes and deletes since its change number, in id order, idempotently', () => {
  const log: ListingChange[] = [
    { seq: 3, record: artifact(2) }, // already in the listing: applying it again changes nothing
    { seq: 4, record: artifact(5) },
    { seq: 5, removedId: 1 },
    { seq: 6, record: artifact(4) },
  ];
  expect(cache.get('r', { changes: 6, log })?.records.map((r) => r.id)).toEqual([2, 4, 5]);
  // Now current at 6: the same log again changes nothing.
  expect(cache.get('r', { changes: 6, log })?.records.map((r) => r.id)).toEqual([2, 4, 5]);
});

it('reads whole again when the log no longer reaches back to the listing, or the state went back', () => {
  cache.set('r', 10, [artifact(1)]);
  expect(
    cache.get('r', {
      changes: 13,
      log: [
        { seq: 12, record: artifact(2) },
        { seq: 13, removedId: 1 },
      ],
    }),
  ).toBe(undefined);
  cache.set('r', 10, [artifact(1)]);
  expect(cache.get('r', { changes: 9, log: [] })).toBe(undefined);
});

it('answers from a listing near the end of its lifetime, saying it is stale (re-read in the background)', () => {
  cache.set('r', 1, [artifact(1)]);
  expect(cache.get('r', { changes: 1, log: [] })?.stale).toBe(false);
  clock += RUN_LIST_LIFETIME_MS * 0.9;
  expect(cache.get('r', { changes: 1, log: [] })).toMatchObject({ stale: true, records: [artifact(1)] });
  cache.set('r', 1, [artifact(1), artifact(2)]);
  expect(cache.get('r', { changes: 1, log: [] })?.stale).toBe(false);
});

it('drops a listing of another epoch of the run state (deleted by the sweep and made again), whatever its change number', () => {
  cache.set('r', 2, [artifact(1)], clock, 'aaaa');
  expect(cache.get('r', { changes: 2, log: [], epoch: 'aaaa' })?.records).toEqual([artifact(1)]);
  expect(cache.get('r', { changes: 2, log: [], epoch: 'bbbb' })).toBe(undefined);
  // A listing from before epochs existed ('') against a state made since.
  cache.set('r', 2, [artifact(1)]);
  expect(cache.get('r', { changes: 2, log: [], epoch: 'bbbb' })).toBe(undefined);
});
