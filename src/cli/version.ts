import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'ferry-artifact';

/**
 * The version in Ferry's own package.json. The CLI runs from src/cli (tests), lib/cli (the
 * library) or dist/ (the bundle), so the file is looked for upwards from this module rather
 * than at a fixed depth; the first package.json named ferry-artifact is ours.
 */
export function packageVersion(from: string = import.meta.url): string {
  let directory = path.dirname(fileURLToPath(from));
  for (;;) {
    const candidate = readPackage(path.join(directory, 'package.json'));
    if (candidate?.name === PACKAGE_NAME && typeof candidate.version === 'string') return candidate.version;
    const parent = path.dirname(directory);
    if (parent === directory) return 'unknown';
    directory = parent;
  }
}

function readPackage(file: string): { name?: unknown; version?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
  } catch {
    return undefined;
  }
}
