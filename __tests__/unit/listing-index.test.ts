import {
  DEFAULT_INDEX_LIFETIME_MS,
  ListingIndex,
  type ListingClock,
  type ListingSource,
} from '../../src/server/listing/listing-index.js';

interface Item {
  id: number;
  run: string;
}

/** A clock whose timers fire only when the test moves time forward. */
class FakeClock implements ListingClock {
  time = 1_000_000;
  readonly timers = new Map<number, { at: number; run: () => void }>();
  #next = 1;
  now = (): number => this.time;
  setTimeout = (run: () => void, ms: number): unknown => {
    const id = this.#next++;
    this.timers.set(id, { at: this.time + ms, run });
    return id;
  };
  clearTimeout = (handle: unknown): void => {
    this.timers.delete(handle as number);
  };
  /** Moves time on, firing the timers that fall due, then lets their promises settle. */
  async advance(ms: number): Promise<void> {
    this.time += ms;
    for (const [id, timer] of [...this.timers]) {
      if (timer.at <= this.time) {
        this.timers.delete(id);
        timer.run();
      }
    }
    for (let i = 0; i < 10; i++) await Promise.resolve();
  }
}

/** A source over an array standing for storage, counting its loads; `gate` holds a load open. */
function source(storage: Item[]): ListingSource<Item> & { loads: number; gate: Promise<void> | undefined } {
  const s = {
    loads: 0,
    gate: undefined as Promise<void> | undefined,
    async loadAll() {
      s.loads++;
      const snapshot = [...storage];
      await s.gate;
      return snapshot;
    },
  };
  return s;
}

const options = (clock: FakeClock, extra: object = {}) => ({
  name: 'test',
  keyOf: (i: Item) => String(i.id),
  runOf: (i: Item) => i.run,
  compare: (a: Item, b: Item) => a.id - b.id,
  clock,
  ...extra,
});

describe('ListingIndex', () => {
  it('builds once at a cold start, with a warning, and answers every list from memory (no load in the request path)', async () => {
    const clock = new FakeClock();
    const storage = [
      { id: 2, run: 'a' },
      { id: 1, run: 'a' },
      { id: 3, run: 'b' },
    ];
    const src = source(storage);
    const logs: string[] = [];
    const index = await ListingIndex.open(
      src,
      options(clock, { log: (_: string, m: string) => logs.push(m) }),
    );
    expect(src.loads).toBe(1);
    expect(logs).toEqual([
      expect.stringMatching(/^listing index "test" started cold: built from storage once \(3 artifacts/),
    ]);
    for (let i = 0; i < 1000; i++) index.list('a');
    expect(index.list('a').map((i) => i.id)).toEqual([1, 2]);
    expect(index.list('missing')).toEqual([]);
    expect(index.list().map((i) => i.id)).toEqual([1, 2, 3]);
    expect(src.loads).toBe(1);
    index.close();
  });

  it('shows a write at once: put and remove apply before the answer, without a load', async () => {
    const clock = new FakeClock();
    const src = source([]);
    const index = await ListingIndex.open(src, options(clock));
    index.apply({ put: { id: 7, run: 'r' } });
    expect(index.list('r')).toEqual([{ id: 7, run: 'r' }]);
    index.apply({ remove: '7' });
    expect(index.list('r')).toEqual([]);
    expect(index.size).toBe(0);
    expect(src.loads).toBe(1);
    index.close();
  });

  it('re-validates from storage at 0.9 of its lifetime, not before, and reports each refresh', async () => {
    const clock = new FakeClock();
    const storage: Item[] = [];
    const src = source(storage);
    const refreshes: { atMs: number; durationMs: number; artifacts: number }[] = [];
    const index = await ListingIndex.open(
      src,
      options(clock, { lifetimeMs: 10_000, onRefresh: (r: never) => refreshes.push(r) }),
    );
    expect(refreshes).toEqual([{ index: 'test', atMs: 1_000_000, durationMs: 0, artifacts: 0 }]);
    // Another instance writes to the shared storage behind this one's back.
    storage.push({ id: 1, run: 'r' });
    await clock.advance(8_999);
    expect(src.loads).toBe(1);
    expect(index.list('r')).toEqual([]);
    await clock.advance(1);
    expect(src.loads).toBe(2);
    expect(index.list('r')).toEqual([{ id: 1, run: 'r' }]);
    expect(refreshes.at(-1)).toEqual({ index: 'test', atMs: 1_009_000, durationMs: 0, artifacts: 1 });
    // And again 0.9 of the lifetime after that refresh.
    await clock.advance(9_000);
    expect(src.loads).toBe(3);
    index.close();
    await clock.advance(100_000);
    expect(src.loads).toBe(3);
  });

  it('keeps the writes applied while a rebuild reads storage (a finalize during the load stays listed, a delete stays deleted)', async () => {
    const clock = new FakeClock();
    const storage: Item[] = [{ id: 1, run: 'r' }];
    const src = source(storage);
    const index = await ListingIndex.open(src, options(clock, { lifetimeMs: 1_000 }));
    let open!: () => void;
    src.gate = new Promise<void>((resolve) => (open = resolve));
    await clock.advance(900);
    expect(src.loads).toBe(2);
    // The load took its snapshot of storage already; these writes land after it.
    storage.push({ id: 2, run: 'r' });
    index.apply({ put: { id: 2, run: 'r' } });
    storage.splice(0, 1);
    index.apply({ remove: '1' });
    open();
    for (let i = 0; i < 10; i++) await Promise.resolve();
    expect(index.list('r')).toEqual([{ id: 2, run: 'r' }]);
    index.close();
  });

  it('a failed re-validation keeps the last build answering and tries again', async () => {
    const clock = new FakeClock();
    const src = source([{ id: 1, run: 'r' }]);
    const logs: string[] = [];
    const index = await ListingIndex.open(
      src,
      options(clock, { lifetimeMs: 1_000, log: (_: string, m: string) => logs.push(m) }),
    );
    src.loadAll = async () => {
      src.loads++;
      throw new Error('storage unreachable');
    };
    await clock.advance(900);
    expect(logs.at(-1)).toBe(
      'listing index "test" could not be re-validated from storage: storage unreachable',
    );
    expect(index.list('r')).toEqual([{ id: 1, run: 'r' }]);
    await clock.advance(900);
    expect(src.loads).toBe(3);
    index.close();
  });

  it('defaults to a five-minute lifetime and refuses a non-positive one', async () => {
    expect(DEFAULT_INDEX_LIFETIME_MS).toBe(300_000);
    await expect(ListingIndex.open(source([]), options(new FakeClock(), { lifetimeMs: 0 }))).rejects.toThrow(
      RangeError,
    );
  });
});
