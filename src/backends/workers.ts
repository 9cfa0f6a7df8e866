import { FerryError, isFerryError } from '../core/errors.js';
import type { OperationContext } from './backend.js';

/**
 * Runs `work` over `items` with one worker per HTTP slot, each pulling the next item. The first
 * failure stops the operation so the other workers start nothing new; it is the error thrown.
 */
export async function runWorkers<T>(
  items: readonly T[],
  slots: number,
  ctx: OperationContext,
  work: (item: T, slot: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let firstError: unknown;
  const worker = async (slot: number): Promise<void> => {
    for (;;) {
      ctx.operation.throwIfStopped();
      const index = next++;
      if (index >= items.length) return;
      try {
        await work(items[index] as T, slot);
      } catch (error: unknown) {
        firstError ??= error;
        if (isFerryError(error)) ctx.operation.fail(error);
        else ctx.operation.fail(new FerryError('ERR_FERRY_PROTOCOL', String(error), { cause: error }));
        throw error;
      }
    }
  };
  const results = await Promise.allSettled(
    Array.from({ length: Math.min(slots, Math.max(items.length, 1)) }, (_, i) => worker(i)),
  );
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw firstError ?? ctx.operation.failure ?? rejected.reason;
}
