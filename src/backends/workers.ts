import { FerryError, isFerryError } from '../core/errors.js';
import { runPool } from '../core/pool.js';
import type { OperationContext } from './backend.js';

/**
 * Runs `work` over `items` with one worker per HTTP slot (the pool in core/pool.ts), tied to the
 * operation: a stopped operation starts nothing new, and the first failure fails the operation,
 * which aborts the requests of the other workers. That failure is the error thrown.
 */
export async function runWorkers<T>(
  items: ArrayLike<T>,
  slots: number,
  ctx: OperationContext,
  work: (item: T, slot: number) => Promise<void>,
): Promise<void> {
  ctx.operation.throwIfStopped();
  await runPool(items, slots, work, {
    beforeEach: () => ctx.operation.throwIfStopped(),
    onFailure: (error) => {
      if (isFerryError(error)) ctx.operation.fail(error);
      else ctx.operation.fail(new FerryError('ERR_FERRY_PROTOCOL', String(error), { cause: error }));
    },
  });
}
