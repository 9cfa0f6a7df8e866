import type { Logger } from './core/types.js';
import { RememberedAnswers } from './transport/remembered-answers.js';
import { resolveStateDir } from './transport/state-dir.js';

/** One store per state directory for the whole process: what one call learns, the next one knows. */
const stores = new Map<string, Promise<RememberedAnswers>>();

/**
 * The process's remembered answers for the state directory the environment and cache imply
 * (FERRY_STATE_DIR, else beside the cache, else a per-user temp directory). A directory that
 * cannot be used leaves them in memory, with a warning (RememberedAnswers.open says why).
 */
export function rememberedAnswersFor(
  cachePath: string | undefined,
  logger: Logger,
): Promise<RememberedAnswers> {
  const stateDir = resolveStateDir({ env: process.env, cachePath });
  let store = stores.get(stateDir);
  if (!store) {
    store = RememberedAnswers.open({ stateDir, logger }).catch((error: unknown) => {
      logger.warn(
        `The state directory ${stateDir} cannot be used (${error instanceof Error ? error.message : String(error)}); rate limits are remembered in this process only`,
      );
      return RememberedAnswers.open({ logger });
    });
    stores.set(stateDir, store);
  }
  return store;
}
