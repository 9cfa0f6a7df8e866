import { isFerryError, type FerryError } from '../core/errors.js';
import type { Retrier, RetryBudget } from './retrier.js';

/** What reconciling a failed attempt found: the step's result after all, or nothing (repeat it). */
export type Reconciled<T> = { done: T } | undefined;

export interface ReconciledStep<T> {
  /** The call's name, for the retry log line. */
  call: string;
  signal: AbortSignal | undefined;
  /**
   * One attempt of the step. Its requests must share `budget` (and hand network errors back
   * rather than retry them), so that every attempt they make counts against the step.
   */
  attempt: (budget: RetryBudget) => Promise<T>;
  /**
   * Runs after a retryable failure the policy allows to repeat, and before the repeat: asks the
   * server what the lost attempt did. `{ done }` ends the step with that result; throwing ends
   * it with that error.
   */
  reconcile: (error: FerryError) => Promise<Reconciled<T>>;
}

/**
 * A call that cannot simply be repeated (CreateArtifact, FinalizeArtifact, DeleteArtifact): an
 * answer lost after the request left may mean the server acted on it. Each retryable failure
 * goes to the same policy as a plain request (Retrier.decide); when it allows another attempt,
 * the step sleeps the delay, reconciles, and repeats unless reconciling settled it.
 */
export async function reconciledStep<T>(retrier: Retrier, step: ReconciledStep<T>): Promise<T> {
  const budget = retrier.budget();
  for (;;) {
    try {
      return await step.attempt(budget);
    } catch (error: unknown) {
      if (!isFerryError(error) || !error.retryable) throw error;
      // The call may have retried 5xx answers itself: go on counting from its last attempt.
      budget.attempt = Math.max(budget.attempt, error.context.attempt ?? budget.attempt);
      const decision = retrier.decide(budget, { kind: 'error', error });
      if (!decision.retry) throw error;
      retrier.logger.debug(
        `${step.call} failed (${decision.reason}), retry ${budget.attempt} in ${decision.delayMs} ms (${decision.basis})`,
      );
      await retrier.sleep(decision.delayMs, step.signal);
      budget.attempt++;
      const settled = await step.reconcile(error);
      if (settled) return settled.done;
    }
  }
}
