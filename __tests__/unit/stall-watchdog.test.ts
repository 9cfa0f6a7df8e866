import { normalizeOptions } from '../../src/options.js';
import {
  DEFAULT_STALL_POLICY,
  RateWindow,
  StalledTransferError,
  watchThroughput,
} from '../../src/transport/stall-watchdog.js';

describe('RateWindow', () => {
  const policy = { minBytesPerSecond: 1000, windowMs: 1000 };

  it('judges nothing before a full window has passed', () => {
    const w = new RateWindow(policy, 0);
    expect(w.check(500)).toBeUndefined();
    expect(w.check(999)).toBeUndefined();
  });

  it('reports a stall with the bytes of the last window when they are below the minimum', () => {
    const w = new RateWindow(policy, 0);
    w.add(10);
    expect(w.check(250)).toBeUndefined();
    w.add(10);
    expect(w.check(1000)).toBe(20);
  });

  it('a steady rate at the minimum is not a stall, however long it lasts', () => {
    const w = new RateWindow(policy, 0);
    for (let t = 250; t <= 60_000; t += 250) {
      w.add(250);
      expect(w.check(t)).toBeUndefined();
    }
  });

  it('a fast start does not hide a later stall: only the last window counts', () => {
    const w = new RateWindow(policy, 0);
    w.add(1_000_000);
    expect(w.check(250)).toBeUndefined();
    expect(w.check(1000)).toBeUndefined();
    // Nothing more arrives: one window after the burst the rate is 0.
    expect(w.check(1250)).toBe(0);
  });
});

describe('watchThroughput', () => {
  it('is a no-op when the minimum is 0', () => {
    const dog = watchThroughput({ minBytesPerSecond: 0, windowMs: 10 }, 'x', {}, () => {
      throw new Error('must not fire');
    });
    dog.add(1);
    dog.stop();
  });

  it('fires once with a typed, retryable error naming the options', async () => {
    const fired: StalledTransferError[] = [];
    const dog = watchThroughput(
      { minBytesPerSecond: 1_000_000, windowMs: 40 },
      'Download',
      { artifactName: 'a' },
      (e) => fired.push(e),
    );
    await new Promise((r) => setTimeout(r, 150));
    dog.stop();
    expect(fired).toHaveLength(1);
    expect(fired[0]).toBeInstanceOf(StalledTransferError);
    expect(fired[0]).toMatchObject({ code: 'ERR_FERRY_TIMEOUT', retryable: true, windowMs: 40 });
    expect(fired[0]?.message).toMatch(
      /^Download stalled: 0 bytes in the last 0\.04 s, below the minimum of 1000000 bytes\/s \(options minBytesPerSecond \/ stallWindowMs\)/,
    );
    expect(fired[0]?.message).toContain("artifact 'a'");
  });
});

describe('options', () => {
  it('default to 1 KiB/s over 60 s and accept 0 to disable', () => {
    const defaults = normalizeOptions({});
    expect(defaults).toMatchObject({ minBytesPerSecond: 1024, stallWindowMs: 60_000 });
    expect(DEFAULT_STALL_POLICY).toEqual({ minBytesPerSecond: 1024, windowMs: 60_000 });
    expect(normalizeOptions({ minBytesPerSecond: 0 }).minBytesPerSecond).toBe(0);
  });

  it.each([
    ['minBytesPerSecond', -1],
    ['minBytesPerSecond', 1.5],
    ['stallWindowMs', 0],
  ])('reject %s = %s naming the option', (option, value) => {
    expect(() => normalizeOptions({ [option]: value })).toThrow(new RegExp(`Option '${option}'`));
  });
});
