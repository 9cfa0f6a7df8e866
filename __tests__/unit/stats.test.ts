import {
  emptyStats,
  formatStatsLine,
  formatStatsMarkdown,
  mergeStats,
  retryKindOf,
  StatsCollector,
  statsToJson,
} from '../../src/core/stats.js';

function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('stats collector', () => {
  test('counters add up and a snapshot is a copy', () => {
    const stats = new StatsCollector();
    stats.request();
    stats.request();
    stats.retry('status');
    stats.retry('network');
    stats.retry(retryKindOf(429));
    stats.retry(retryKindOf(403, true));
    stats.connectionOpened();
    stats.sent(100);
    stats.received(2048);
    stats.cacheHit(4096);
    stats.cacheMiss();
    stats.spared(3);
    const snap = stats.snapshot();
    expect(snap).toEqual({
      requests: 2,
      retries: { status: 1, network: 1, rateLimit: 2 },
      connectionsOpened: 1,
      bytesSent: 100,
      bytesReceived: 2048,
      cache: { hits: 1, misses: 1, bytesServed: 4096 },
      requestsSpared: 3,
      phases: { metadataMs: 0, transferMs: 0, finalizeMs: 0, extractMs: 0 },
    });
    snap.retries.status = 99;
    expect(stats.snapshot().retries.status).toBe(1);
  });

  test('retry kinds from what failed', () => {
    expect(retryKindOf(undefined)).toBe('network');
    expect(retryKindOf(503)).toBe('status');
    expect(retryKindOf(429)).toBe('rateLimit');
    expect(retryKindOf(403)).toBe('status');
    expect(retryKindOf(403, true)).toBe('rateLimit');
  });

  test('phases: overlapping workers count once, ends are idempotent, running phases count so far', () => {
    const clock = manualClock();
    const stats = new StatsCollector(clock.now);
    const endMeta = stats.startPhase('metadata');
    clock.advance(10);
    endMeta();
    endMeta();
    const a = stats.startPhase('transfer');
    clock.advance(50);
    const b = stats.startPhase('transfer');
    clock.advance(50);
    a();
    clock.advance(20);
    b();
    clock.advance(500);
    const extract = stats.startPhase('extract');
    clock.advance(7);
    expect(stats.snapshot().phases).toEqual({ metadataMs: 10, transferMs: 120, finalizeMs: 0, extractMs: 7 });
    clock.advance(3);
    extract();
    expect(stats.snapshot().phases.extractMs).toBe(10);
  });

  test('merge sums per-artifact stats; JSON is a plain copy', () => {
    const one = new StatsCollector();
    one.request();
    one.cacheHit(10);
    one.retry('rateLimit');
    const two = new StatsCollector();
    two.request();
    two.request();
    two.cacheMiss();
    two.spared();
    const merged = mergeStats([one.snapshot(), two.snapshot(), emptyStats()]);
    expect(merged).toMatchObject({
      requests: 3,
      retries: { status: 0, network: 0, rateLimit: 1 },
      cache: { hits: 1, misses: 1, bytesServed: 10 },
      requestsSpared: 1,
    });
    const json = statsToJson(merged);
    expect(JSON.parse(JSON.stringify(json))).toEqual(merged);
    expect(json.cache).not.toBe(merged.cache);
  });

  test('the log line and the step-summary table', () => {
    const stats = emptyStats();
    stats.requests = 12;
    stats.retries = { status: 1, network: 2, rateLimit: 0 };
    stats.connectionsOpened = 1;
    stats.bytesReceived = 3 * 1024 * 1024;
    stats.cache = { hits: 1, misses: 0, bytesServed: 1536 };
    stats.phases.transferMs = 800;
    expect(formatStatsLine(stats)).toBe(
      'Stats: 12 requests (3 retries: 1 status, 2 network, 0 rate limit), 1 connection opened, sent 0 B, ' +
        'received 3.0 MiB, cache 1 hit / 0 misses (1.5 KiB served), 0 requests spared; ' +
        'metadata 0 ms, transfer 800 ms, finalize 0 ms, extract 0 ms',
    );
    const table = formatStatsMarkdown(stats);
    expect(table.split('\n').slice(0, 4)).toEqual([
      '### Ferry transfer stats',
      '',
      '| Counter | Value |',
      '| --- | --- |',
    ]);
    expect(table).toContain('| Retries (status / network / rate limit) | 1 / 2 / 0 |');
    expect(table).toContain('| Time: metadata / transfer / finalize / extract | 0 / 800 / 0 / 0 ms |');
  });
});
