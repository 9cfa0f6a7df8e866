import { rmdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * Removes the directories `mkdir(target, { recursive: true })` created (its result is
 * `firstCreated`), deepest first, while they are empty: a download that failed leaves no empty
 * target behind, and never removes anything that holds a file.
 */
export async function removeCreatedChain(target: string, firstCreated: string): Promise<void> {
  for (let current = target; ; current = path.dirname(current)) {
    try {
      await rmdir(current);
    } catch {
      return;
    }
    if (current === firstCreated || path.dirname(current) === current) return;
  }
}
