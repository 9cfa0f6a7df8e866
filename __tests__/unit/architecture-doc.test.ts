import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * docs/architecture.md names the files an upload and a download pass through; this keeps every
 * name true. A backticked name ending in `.ts`, `.js` or `/` must be a file or folder: a path
 * from the repository root, from src/, or the end of a path under src/ (the walkthroughs say
 * `artifact-service.ts` once the folder is clear from the sentence).
 */
const DOC = 'docs/architecture.md';

function sourcePaths(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.posix.join(dir, entry.name);
    return entry.isDirectory() ? [`${full}/`, ...sourcePaths(full)] : [full];
  });
}

/** The backticked file and folder names in a Markdown page. */
function namedPaths(markdown: string): string[] {
  const names = [...markdown.matchAll(/`([^`\s]+)`/g)].map((m) => m[1] as string);
  return [...new Set(names.filter((name) => /^[\w.-]+(?:\/[\w.-]+)*(?:\.(?:ts|js)|\/)$/.test(name)))];
}

describe('docs/architecture.md', () => {
  const names = namedPaths(readFileSync(DOC, 'utf8'));
  const underSrc = sourcePaths('src');
  const exists = (name: string): boolean =>
    existsSync(name) ||
    existsSync(path.join('src', name)) ||
    underSrc.some((file) => file.endsWith(`/${name}`));

  it('names source files and folders', () => {
    expect(names.length).toBeGreaterThan(30);
    expect(names).toEqual(expect.arrayContaining(['client.ts', 'transport/http-manager.ts', 'src/core/']));
  });

  it('names only files and folders that exist', () => {
    expect(names.filter((name) => !exists(name))).toEqual([]);
  });

  it('catches a name that does not exist', () => {
    expect(namedPaths('see `transport/no-such-file.ts` and `pack/`').filter((name) => !exists(name))).toEqual(
      ['transport/no-such-file.ts'],
    );
  });

  it('shows the layers eslint.config.js enforces', () => {
    const config = readFileSync('eslint.config.js', 'utf8');
    const layers = [...config.matchAll(/^ {2}(\w+): \{ dirs: \[([^\]]*)\]/gm)].map((m) => m[1] as string);
    expect(layers).toEqual(['core', 'transport', 'pack', 'backends', 'client', 'action', 'cli', 'server']);
    const table = readFileSync(DOC, 'utf8');
    for (const layer of layers) expect(table).toMatch(new RegExp(`^\\| [^|]*\\b${layer}\\b[^|]*\\|`, 'm'));
    for (const file of [...config.matchAll(/\{ file: '([^']+)'/g)].map((m) => m[1] as string)) {
      expect(table).toContain(`\`${file}\``);
    }
  });
});
