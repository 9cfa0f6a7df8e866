import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { forAction, REWRITES } from '../../src/action/hints.js';
import { artifactDirectory } from '../../src/artifact-directory.js';
import { conflictError } from '../../src/pack/conflict.js';
import { secretInArtifact } from '../../src/pack/secret-scan.js';
import { limitError } from '../../src/pack/zip/limits.js';
import { REPO_ROOT } from './run-entry.js';

/** SDK names that must never reach a step's log as advice. */
const SDK_WORDS =
  /\b(artifactIds|mergeMultiple|skipDecompress|extractZip|downloadArtifacts?|separateDirectories|includeHiddenFiles|allowSecretsInFiles|maxEntries|maxTotalBytes|maxRatio)\b/;

/** The SDK's sources (not the Action, CLI or server), with literals split over `+` lines joined. */
async function sdkSources(): Promise<string> {
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!['action', 'cli', 'server'].includes(entry.name)) await walk(full);
      } else if (entry.name.endsWith('.ts')) files.push(full);
    }
  };
  await walk(path.join(REPO_ROOT, 'src'));
  const texts = await Promise.all(files.map((f) => readFile(f, 'utf8')));
  return texts.join('\n').replace(/['"`]\s*\+\s*\n\s*['"`]/g, '');
}

describe('Action error hints name Action inputs', () => {
  it('every rewritten piece of advice still exists, word for word, in the SDK', async () => {
    const sources = await sdkSources();
    const missing = REWRITES.map(([sdk]) => sdk).filter((sdk) => !sources.includes(sdk));
    expect(missing).toEqual([]);
  });

  it('no rewritten advice names an SDK option or function', () => {
    for (const [sdk, action] of REWRITES) {
      expect(forAction(`Failed. ${sdk}. (operation download)`)).toBe(
        `Failed. ${action}. (operation download)`,
      );
      expect(action).not.toMatch(SDK_WORDS);
    }
  });

  it('turns the SDK messages an Action step can show into input advice', () => {
    const messages = [
      conflictError('x.txt', 'the target directory').message,
      limitError('it has 5 entries', 'maxEntries', 4).message,
      limitError('its entries declare at least 9 bytes', 'maxTotalBytes', 8).message,
      limitError("entry 'a' has a compression ratio of 2000:1", 'maxRatio', 1000).message,
      secretInArtifact('dist', 'config.txt', 'the value of ACTIONS_RUNTIME_TOKEN').message,
      ((): string => {
        try {
          artifactDirectory('/tmp/target', '..');
        } catch (error: unknown) {
          return (error as Error).message;
        }
        throw new Error('artifactDirectory accepted ..');
      })(),
    ];
    const translated = messages.map(forAction);
    for (const [i, text] of translated.entries()) {
      expect(messages[i]).toMatch(SDK_WORDS);
      expect(text).not.toMatch(SDK_WORDS);
    }
    expect(translated[0]).toContain("Set input 'conflict' to 'overwrite' to replace it or 'skip' to keep it");
    expect(translated[1]).toContain("raise the input 'max-entries'");
    expect(translated[2]).toContain("raise the input 'max-total-bytes'");
    expect(translated[3]).toContain("raise the input 'max-ratio'");
    expect(translated[4]).toContain("set 'allow-secrets: true'");
    expect(translated[5]).toContain(
      "select other artifacts (input 'pattern' or 'artifact-ids') or set 'merge-multiple: true'",
    );
  });

  it("renames option references that have an input, and leaves the rest (and the message's data) alone", () => {
    expect(forAction("Option 'retentionDays' must be an integer from 1 to 400; got 401")).toBe(
      "Input 'retention-days' must be an integer from 1 to 400; got 401",
    );
    expect(forAction("Option 'pattern' must be a non-empty glob")).toBe(
      "Input 'pattern' must be a non-empty glob",
    );
    expect(forAction("Lower the concurrency (option 'concurrency')")).toBe(
      "Lower the concurrency (option 'concurrency')",
    );
    expect(forAction("Artifact 'mergeMultiple-build' not found")).toBe(
      "Artifact 'mergeMultiple-build' not found",
    );
  });
});
