import { createHash, randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { RateLimitedError, ValidationError } from '../core/errors.js';
import { silentLogger } from '../core/types.js';
import type { Logger } from '../core/types.js';
import { recognizeAnswer } from './answer-recognizer.js';
import type { ObservedAnswer, Recognition } from './answer-recognizer.js';
import { systemClock } from './clock.js';
import type { Clock } from './clock.js';
import { prepareStateDir } from './state-dir.js';

/** The state file inside the state directory. */
export const STATE_FILE = 'remembered-answers.json';
/** A state file bigger than this was not written by Ferry: ignored. */
const MAX_STATE_BYTES = 256 * 1024;
/** Most limits kept; the soonest to reset are dropped first past it. */
const MAX_ENTRIES = 500;

interface StoredLimit {
  /** ISO time of the reset. */
  resetAt: string;
  status: number;
  evidence: string;
}

interface StateFile {
  version: 1;
  /** Key: `<origin> <sha256 hex of the token>`; the token itself is never stored. */
  limits: Record<string, StoredLimit>;
}

export interface RememberedAnswersOptions {
  /**
   * Directory of the state file, shared by every process that uses it (see resolveStateDir).
   * Undefined: answers are remembered in this process only.
   */
  stateDir?: string | undefined;
  clock?: Clock;
  logger?: Logger;
}

export interface CheckOptions {
  /**
   * When the remembered reset is at most this many seconds away, wait for it instead of
   * failing. 0 or undefined: fail at once.
   */
  waitUpToSeconds?: number;
  signal?: AbortSignal;
}

function keyOf(origin: string, token: string | undefined): string {
  const hash = createHash('sha256')
    .update(token ?? '')
    .digest('hex');
  return `${origin} ${token ? hash : 'anonymous'}`;
}

function originOf(origin: string): string {
  try {
    return new URL(origin).origin;
  } catch {
    throw new ValidationError('ERR_FERRY_INVALID_OPTION', `Not an API origin: '${origin.slice(0, 100)}'`, {
      option: 'origin',
    });
  }
}

/**
 * Permanent answers remembered: a spent rate limit, per API origin and token (hashed), until
 * its reset, in this process and, through a small JSON state file, in every other process that
 * shares the state directory. `check()` goes before each REST request; `observe()` after each
 * 4xx answer. Also warns, once per (status, shape), about a 4xx body of a shape it was not
 * written for.
 */
export class RememberedAnswers {
  readonly #file: string | undefined;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #memory = new Map<string, StoredLimit>();
  readonly #warnedShapes = new Set<string>();
  #spared = 0;

  private constructor(file: string | undefined, clock: Clock, logger: Logger) {
    this.#file = file;
    this.#clock = clock;
    this.#logger = logger;
  }

  /** Opens the store; a state directory that is not safely ours is refused with a warning (memory only). */
  static async open(options: RememberedAnswersOptions = {}): Promise<RememberedAnswers> {
    const logger = options.logger ?? silentLogger;
    let file: string | undefined;
    if (options.stateDir !== undefined) {
      const dir = path.resolve(options.stateDir);
      const refused = await prepareStateDir(dir);
      if (refused)
        logger.warn(
          `Not using the state directory ${dir} (${refused}); rate limits are remembered in this process only`,
        );
      else file = path.join(dir, STATE_FILE);
    }
    return new RememberedAnswers(file, options.clock ?? systemClock, logger);
  }

  /** Requests not sent because a remembered answer said they would fail. */
  get spared(): number {
    return this.#spared;
  }

  /**
   * Before a request: throws RateLimitedError (remembered: true) at once when the token's limit
   * at `origin` is known to be spent, or waits for the reset when it is at most
   * `waitUpToSeconds` away. Costs no request either way.
   */
  async check(origin: string, token: string | undefined, options: CheckOptions = {}): Promise<void> {
    const apiOrigin = originOf(origin);
    const key = keyOf(apiOrigin, token);
    const now = this.#clock.now();
    let limit = this.#memory.get(key);
    if (!limit || Date.parse(limit.resetAt) <= now) {
      limit = (await this.#read()).limits[key];
      if (limit) this.#memory.set(key, limit);
    }
    if (!limit) return;
    const resetAtMs = Date.parse(limit.resetAt);
    if (!(resetAtMs > now)) {
      this.#memory.delete(key);
      return;
    }
    const waitMs = resetAtMs - now;
    if (options.waitUpToSeconds !== undefined && waitMs <= options.waitUpToSeconds * 1000) {
      this.#logger.info(
        `The API rate limit of ${apiOrigin} resets at ${limit.resetAt}; waiting ${Math.ceil(waitMs / 1000)} s`,
      );
      await this.#clock.sleep(waitMs, options.signal);
      return;
    }
    this.#spared++;
    throw new RateLimitedError(apiOrigin, new Date(resetAtMs), true);
  }

  /**
   * After an answer: recognises it; a spent rate limit is remembered (here and in the state
   * file) and returned as the error to throw; an unknown 4xx shape is warned about once.
   */
  async observe(
    origin: string,
    token: string | undefined,
    answer: ObservedAnswer,
  ): Promise<{ recognition: Recognition; error?: RateLimitedError }> {
    const apiOrigin = originOf(origin);
    const recognition = recognizeAnswer(answer, this.#clock.now());
    if (!recognition.knownShape) {
      const id = `${answer.status} ${recognition.shape}`;
      if (!this.#warnedShapes.has(id)) {
        this.#warnedShapes.add(id);
        this.#logger.warn(
          `${answer.status} with ${recognition.shape} from ${apiOrigin}: an answer shape Ferry does not recognise; ` +
            `treated as ${recognition.verdict.kind === 'permanent' ? 'a permanent refusal, not a rate limit' : 'an ordinary error'}`,
        );
      }
    }
    const { verdict } = recognition;
    if (verdict.kind !== 'rate-limit') return { recognition };
    const limit: StoredLimit = {
      resetAt: new Date(verdict.resetAtMs).toISOString(),
      status: answer.status,
      evidence: verdict.evidence,
    };
    const key = keyOf(apiOrigin, token);
    this.#memory.set(key, limit);
    await this.#write(key, limit);
    return { recognition, error: new RateLimitedError(apiOrigin, new Date(verdict.resetAtMs), false) };
  }

  async #read(): Promise<StateFile> {
    const empty: StateFile = { version: 1, limits: {} };
    if (!this.#file) return empty;
    let text: string;
    try {
      const handle = await open(this.#file, 'r');
      try {
        // Bounded: a file this big was not written by Ferry.
        if ((await handle.stat()).size > MAX_STATE_BYTES) return empty;
        text = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch {
      return empty;
    }
    try {
      const parsed = JSON.parse(text) as Partial<StateFile>;
      if (parsed.version !== 1 || typeof parsed.limits !== 'object' || parsed.limits === null) return empty;
      const limits: Record<string, StoredLimit> = {};
      for (const [key, value] of Object.entries(parsed.limits)) {
        if (typeof value?.resetAt === 'string' && !Number.isNaN(Date.parse(value.resetAt)))
          limits[key] = value;
      }
      return { version: 1, limits };
    } catch {
      // Torn or foreign content: as if empty (writers rename whole files, so not ours).
      return empty;
    }
  }

  /** Read, merge, drop expired, write to a temp file and rename: readers see old or new, never half. */
  async #write(key: string, limit: StoredLimit): Promise<void> {
    if (!this.#file) return;
    const state = await this.#read();
    const now = this.#clock.now();
    state.limits[key] = limit;
    const live = Object.entries(state.limits)
      .filter(([, value]) => Date.parse(value.resetAt) > now)
      .sort(([, a], [, b]) => Date.parse(b.resetAt) - Date.parse(a.resetAt))
      .slice(0, MAX_ENTRIES);
    const text = `${JSON.stringify({ version: 1, limits: Object.fromEntries(live) } satisfies StateFile, null, 1)}\n`;
    const temp = `${this.#file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.#file);
    } catch (error: unknown) {
      await rm(temp, { force: true });
      // Remembering is an optimisation: the answer is still remembered in this process.
      this.#logger.warn(`Could not write ${this.#file}: ${(error as Error).message}`);
    }
  }
}
