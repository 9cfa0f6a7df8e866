import { readJsonFile, writeJsonAtomic } from './atomic-file.js';
import { KeyedMutex } from './keyed-mutex.js';

/**
 * Ids that only ever grow. The counter is persisted before an id is handed out, and resumes
 * after the highest id found on disk, so a restart never reuses one (not even the id of a
 * create that crashed half-way).
 */
export class IdCounter {
  readonly #file: string;
  readonly #lock = new KeyedMutex();
  #next = 1;

  constructor(file: string) {
    this.#file = file;
  }

  /** Continues after the larger of the persisted counter and `highestSeen` (ids already on disk). */
  async resume(highestSeen: number): Promise<void> {
    const counter = await readJsonFile(this.#file);
    const persisted =
      typeof counter === 'object' && counter !== null ? Number((counter as { next?: unknown }).next) : NaN;
    this.#next = Math.max(highestSeen + 1, Number.isSafeInteger(persisted) ? persisted : 1);
  }

  allocate(): Promise<number> {
    return this.#lock.run('counter', async () => {
      const id = this.#next;
      await writeJsonAtomic(this.#file, { next: id + 1 });
      this.#next = id + 1;
      return id;
    });
  }
}
