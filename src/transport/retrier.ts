import type { Logger } from '../core/types.js';
import { silentLogger } from '../core/types.js';
import type { Clock } from './clock.js';
import { decideRetry, type AttemptOutcome, type RetryDecision, type RetryPolicy } from './retry.js';

/**
 * The attempts and elapsed time of one retried step. A request counts its attempts in one; a
 * step that repeats a call itself after reconciling (reconciled-step.ts) hands the same budget
 * to every call it makes, so attempts and the time budget run across the whole step instead of
 * restarting per call.
 */
export class RetryBudget {
  /** 1-based number of the attempt being made (or that just failed). */
  attempt: number;
  readonly startedAt: number;

  constructor(attempt: number, startedAt: number) {
    this.attempt = attempt;
    this.startedAt = startedAt;
  }
}

/**
 * The retry policy of one HttpManager applied over time: `decideRetry` (pure) fed with the
 * clock, the budget and the jitter source, plus the sleep between attempts. Both retry loops,
 * the request loop in HttpManager and the reconcile-then-repeat steps, decide through it.
 */
export class Retrier {
  readonly policy: Readonly<RetryPolicy>;
  readonly logger: Logger;
  readonly #clock: Clock;
  readonly #random: (() => number) | undefined;
  #retries = 0;

  constructor(policy: RetryPolicy, clock: Clock, logger: Logger = silentLogger, random?: () => number) {
    this.policy = policy;
    this.#clock = clock;
    this.logger = logger;
    this.#random = random;
  }

  /** Retries decided so far (for HttpManager's stats). */
  get retries(): number {
    return this.#retries;
  }

  /** A budget starting now at attempt 1. */
  budget(): RetryBudget {
    return new RetryBudget(1, this.#clock.now());
  }

  /** A budget already at its last attempt: one try, never retried (a clean-up outside the operation). */
  singleAttempt(): RetryBudget {
    return new RetryBudget(this.policy.maxAttempts, this.#clock.now());
  }

  /** The policy's decision on `outcome`, the failure of the budget's current attempt. */
  decide(budget: RetryBudget, outcome: AttemptOutcome): RetryDecision {
    const now = this.#clock.now();
    const decision = decideRetry(
      this.policy,
      { attempt: budget.attempt, elapsedMs: now - budget.startedAt, nowMs: now, outcome },
      this.#random,
    );
    if (decision.retry) this.#retries++;
    return decision;
  }

  /** Waits out a retry delay; rejects with AbortError as soon as `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.#clock.sleep(ms, signal);
  }
}
