import { FerryError, type ErrorContext } from '../core/errors.js';

/**
 * Minimum throughput of a response body. The socket idle timeout only notices silence: a
 * server (or a broken middlebox) that sends one byte every 25 s never trips a 30 s idle timer
 * and keeps a download "alive" for days. This watches the rate instead.
 */
export interface StallPolicy {
  /** Fewer bytes per second than this, averaged over `windowMs`, is a stall. 0 disables the watchdog. */
  minBytesPerSecond: number;
  /** The averaging window; nothing is judged before a body has been arriving this long. */
  windowMs: number;
}

/**
 * 1 KiB/s over a minute: a link slow enough to trip it moves less than 60 KiB a minute, far
 * below any usable connection, while a merely slow one (a few kB/s) never does.
 */
export const DEFAULT_STALL_POLICY: Readonly<StallPolicy> = Object.freeze({
  minBytesPerSecond: 1024,
  windowMs: 60_000,
});

/** A body that arrived below the minimum rate; retryable (a new connection often recovers). */
export class StalledTransferError extends FerryError {
  override name = 'StalledTransferError';
  /** Bytes that arrived in the last window. */
  readonly bytesInWindow: number;
  readonly windowMs: number;
  readonly minBytesPerSecond: number;

  constructor(what: string, bytesInWindow: number, policy: StallPolicy, context: ErrorContext | undefined) {
    super(
      'ERR_FERRY_TIMEOUT',
      `${what} stalled: ${bytesInWindow} bytes in the last ${formatSeconds(policy.windowMs)}, below the minimum of ${policy.minBytesPerSecond} bytes/s (options minBytesPerSecond / stallWindowMs); the connection was dropped`,
      { retryable: true, context },
    );
    this.bytesInWindow = bytesInWindow;
    this.windowMs = policy.windowMs;
    this.minBytesPerSecond = policy.minBytesPerSecond;
  }
}

/**
 * The arithmetic of the watchdog, without timers: cumulative byte counts sampled over time.
 * `stalled(now)` is true when the bytes added during the last `windowMs` are below
 * `minBytesPerSecond × windowMs`, judged only once a full window has passed since the start.
 */
export class RateWindow {
  readonly #policy: StallPolicy;
  readonly #samples: Array<{ at: number; total: number }>;
  #total = 0;

  constructor(policy: StallPolicy, startedAt: number) {
    this.#policy = policy;
    this.#samples = [{ at: startedAt, total: 0 }];
  }

  add(bytes: number): void {
    this.#total += bytes;
  }

  /** Records a sample at `now` and returns the bytes of the last window if that is a stall. */
  check(now: number): number | undefined {
    const { windowMs, minBytesPerSecond } = this.#policy;
    this.#samples.push({ at: now, total: this.#total });
    // Keep exactly one sample at or before the window start: the baseline to compare with.
    while (this.#samples.length > 1 && (this.#samples[1]?.at ?? now) <= now - windowMs) this.#samples.shift();
    const base = this.#samples[0];
    if (!base || now - base.at < windowMs) return undefined;
    const inWindow = this.#total - base.total;
    return inWindow < (minBytesPerSecond * windowMs) / 1000 ? inWindow : undefined;
  }
}

export interface Watchdog {
  /** Counts bytes that arrived. */
  add(bytes: number): void;
  stop(): void;
}

/**
 * Starts watching one response body; `onStall` gets the error once, then the watchdog stops.
 * The timer is unref'd: the socket it watches is what keeps the process alive.
 */
export function watchThroughput(
  policy: StallPolicy | undefined,
  what: string,
  context: ErrorContext | undefined,
  onStall: (error: StalledTransferError) => void,
): Watchdog {
  if (!policy || policy.minBytesPerSecond <= 0 || policy.windowMs <= 0) {
    return { add: () => undefined, stop: () => undefined };
  }
  const window = new RateWindow(policy, Date.now());
  // Four checks per window: a stall is noticed at most a quarter window late.
  const timer = setInterval(
    () => {
      const bytes = window.check(Date.now());
      if (bytes === undefined) return;
      clearInterval(timer);
      onStall(new StalledTransferError(what, bytes, policy, context));
    },
    Math.max(5, Math.floor(policy.windowMs / 4)),
  );
  timer.unref();
  return { add: (bytes) => window.add(bytes), stop: () => clearInterval(timer) };
}

function formatSeconds(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(2)} s`;
}
