import { formatBytes } from './format.js';

/** The phases an operation's time is split into. */
export type Phase = 'metadata' | 'transfer' | 'finalize' | 'extract';

/** Why a request was repeated: a retryable status (5xx, 408), a socket fault, or a rate limit (429, 403 with a reset). */
export type RetryKind = 'status' | 'network' | 'rateLimit';

/** Counters and timings every operation result carries as `stats`. A plain object: JSON as is. */
export interface OperationStats {
  /** HTTP requests sent, retries included; requests answered from memory are not counted here. */
  requests: number;
  retries: { status: number; network: number; rateLimit: number };
  /** New TCP (or TLS) connections; a reused keep-alive socket is not counted. */
  connectionsOpened: number;
  /** Request body bytes sent, as on the wire (compressed payloads count compressed). */
  bytesSent: number;
  /** Response body bytes received, as on the wire. */
  bytesReceived: number;
  cache: { hits: number; misses: number; bytesServed: number };
  /** Requests not sent because a remembered answer (a spent rate limit, a batch stopped) made them pointless. */
  requestsSpared: number;
  /**
   * Milliseconds spent in each phase. Concurrent work in one phase counts once (the time at
   * least one worker was in it), so a phase never exceeds the operation's wall time.
   */
  phases: { metadataMs: number; transferMs: number; finalizeMs: number; extractMs: number };
}

/** The part of a collector the transport feeds: what HttpManager knows per request. */
export interface TransportStatsSink {
  request(): void;
  retry(kind: RetryKind): void;
  connectionOpened(): void;
  sent(bytes: number): void;
  received(bytes: number): void;
}

export function emptyStats(): OperationStats {
  return {
    requests: 0,
    retries: { status: 0, network: 0, rateLimit: 0 },
    connectionsOpened: 0,
    bytesSent: 0,
    bytesReceived: 0,
    cache: { hits: 0, misses: 0, bytesServed: 0 },
    requestsSpared: 0,
    phases: { metadataMs: 0, transferMs: 0, finalizeMs: 0, extractMs: 0 },
  };
}

/**
 * The kind of a retry from what failed: a status (undefined for a socket fault) and whether the
 * answer said the rate limit was spent (429, or 403 with a rate-limit header or message).
 */
export function retryKindOf(status: number | undefined, rateLimited = false): RetryKind {
  if (status === undefined) return 'network';
  return rateLimited || status === 429 ? 'rateLimit' : 'status';
}

const PHASE_KEY = {
  metadata: 'metadataMs',
  transfer: 'transferMs',
  finalize: 'finalizeMs',
  extract: 'extractMs',
} as const satisfies Record<Phase, keyof OperationStats['phases']>;

interface PhaseClock {
  active: number;
  since: number;
  totalMs: number;
}

/**
 * Collects one operation's stats. The transport calls the TransportStatsSink methods; the
 * operation brackets its phases with `const end = stats.startPhase('transfer'); … end()`.
 * Not thread-shared: one collector per operation (merge per-artifact ones with mergeStats).
 */
export class StatsCollector implements TransportStatsSink {
  readonly #stats = emptyStats();
  readonly #phases = new Map<Phase, PhaseClock>();
  readonly #now: () => number;

  /** `now` in milliseconds, monotonic; injectable for tests. */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  request(): void {
    this.#stats.requests++;
  }

  retry(kind: RetryKind): void {
    this.#stats.retries[kind]++;
  }

  connectionOpened(): void {
    this.#stats.connectionsOpened++;
  }

  sent(bytes: number): void {
    this.#stats.bytesSent += bytes;
  }

  received(bytes: number): void {
    this.#stats.bytesReceived += bytes;
  }

  cacheHit(bytesServed: number): void {
    this.#stats.cache.hits++;
    this.#stats.cache.bytesServed += bytesServed;
  }

  cacheMiss(): void {
    this.#stats.cache.misses++;
  }

  spared(requests = 1): void {
    this.#stats.requestsSpared += requests;
  }

  /**
   * Starts timing `phase`; the returned function ends it (calling it again does nothing).
   * Overlapping starts of one phase (parallel workers) are timed as their union.
   */
  startPhase(phase: Phase): () => void {
    let clock = this.#phases.get(phase);
    if (!clock) {
      clock = { active: 0, since: 0, totalMs: 0 };
      this.#phases.set(phase, clock);
    }
    if (clock.active++ === 0) clock.since = this.#now();
    let ended = false;
    const running = clock;
    return () => {
      if (ended) return;
      ended = true;
      if (--running.active === 0) running.totalMs += this.#now() - running.since;
    };
  }

  /** A copy of the counters now; phases still running count up to this moment. Whole ms. */
  snapshot(): OperationStats {
    const out = copyStats(this.#stats);
    const now = this.#now();
    for (const [phase, clock] of this.#phases) {
      const ms = clock.totalMs + (clock.active > 0 ? now - clock.since : 0);
      out.phases[PHASE_KEY[phase]] = Math.round(ms);
    }
    return out;
  }
}

function copyStats(stats: OperationStats): OperationStats {
  return {
    ...stats,
    retries: { ...stats.retries },
    cache: { ...stats.cache },
    phases: { ...stats.phases },
  };
}

/**
 * Sums per-artifact stats of a batch (download-many, merge, download-all). Phase times add up
 * across artifacts, so with artifacts in parallel they say how much work each phase was, not
 * how long the batch took.
 */
export function mergeStats(list: readonly OperationStats[]): OperationStats {
  const out = emptyStats();
  for (const s of list) {
    out.requests += s.requests;
    out.retries.status += s.retries.status;
    out.retries.network += s.retries.network;
    out.retries.rateLimit += s.retries.rateLimit;
    out.connectionsOpened += s.connectionsOpened;
    out.bytesSent += s.bytesSent;
    out.bytesReceived += s.bytesReceived;
    out.cache.hits += s.cache.hits;
    out.cache.misses += s.cache.misses;
    out.cache.bytesServed += s.cache.bytesServed;
    out.requestsSpared += s.requestsSpared;
    out.phases.metadataMs += s.phases.metadataMs;
    out.phases.transferMs += s.phases.transferMs;
    out.phases.finalizeMs += s.phases.finalizeMs;
    out.phases.extractMs += s.phases.extractMs;
  }
  return out;
}

/** The CLI's `--json` form: a fresh plain object of the same shape (no class, no shared references). */
export function statsToJson(stats: OperationStats): OperationStats {
  return copyStats(stats);
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** One log line, for the Action's log and the CLI's human output. */
export function formatStatsLine(stats: OperationStats): string {
  const r = stats.retries;
  const retries = r.status + r.network + r.rateLimit;
  const p = stats.phases;
  return (
    `Stats: ${plural(stats.requests, 'request')} (${plural(retries, 'retry', 'retries')}: ` +
    `${r.status} status, ${r.network} network, ${r.rateLimit} rate limit), ` +
    `${plural(stats.connectionsOpened, 'connection')} opened, ` +
    `sent ${formatBytes(stats.bytesSent)}, received ${formatBytes(stats.bytesReceived)}, ` +
    `cache ${plural(stats.cache.hits, 'hit')} / ${plural(stats.cache.misses, 'miss', 'misses')} ` +
    `(${formatBytes(stats.cache.bytesServed)} served), ${plural(stats.requestsSpared, 'request')} spared; ` +
    `metadata ${p.metadataMs} ms, transfer ${p.transferMs} ms, finalize ${p.finalizeMs} ms, extract ${p.extractMs} ms`
  );
}

/** A small markdown table for GITHUB_STEP_SUMMARY. `title` is escaped for markdown by the caller. */
export function formatStatsMarkdown(stats: OperationStats, title = 'Ferry transfer stats'): string {
  const r = stats.retries;
  const p = stats.phases;
  const rows: [string, string][] = [
    ['Requests', String(stats.requests)],
    ['Retries (status / network / rate limit)', `${r.status} / ${r.network} / ${r.rateLimit}`],
    ['Connections opened', String(stats.connectionsOpened)],
    ['Bytes sent / received', `${formatBytes(stats.bytesSent)} / ${formatBytes(stats.bytesReceived)}`],
    [
      'Cache hits / misses (served)',
      `${stats.cache.hits} / ${stats.cache.misses} (${formatBytes(stats.cache.bytesServed)})`,
    ],
    ['Requests spared', String(stats.requestsSpared)],
    [
      'Time: metadata / transfer / finalize / extract',
      `${p.metadataMs} / ${p.transferMs} / ${p.finalizeMs} / ${p.extractMs} ms`,
    ],
  ];
  return [
    `### ${title}`,
    '',
    '| Counter | Value |',
    '| --- | --- |',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    '',
  ].join('\n');
}
