/**
 * The import direction of docs/architecture.md is enforced by `npm run lint`: ESLint, with the
 * repository's own eslint.config.js, is run on virtual files placed in each layer.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
let eslint: ESLint;

beforeAll(() => {
  eslint = new ESLint({ cwd: root });
});

/** The no-restricted-imports messages for `source` linted as if it were the file at `filePath`. */
async function refusals(filePath: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${source}\nexport const used = value;\n`, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('the layer rule in eslint.config.js', () => {
  it.each([
    ['src/core/virtual.ts', "import { value } from '../client.js';", /core may import only core/],
    ['src/core/virtual.ts', "import { value } from '../transport/body.js';", /core may import only core/],
    ['src/transport/virtual.ts', "import { value } from '../backends/backend.js';", /transport may import/],
    ['src/transport/proxy/virtual.ts', "import { value } from '../../options.js';", /transport may import/],
    ['src/pack/zip/virtual.ts', "import { value } from '../../transport/body.js';", /pack may import/],
    ['src/backends/results/virtual.ts', "import { value } from '../../client.js';", /backends may import/],
    ['src/backends/virtual.ts', "import { value } from '../server/index.js';", /backends may import/],
    ['src/merge/virtual.ts', "import { value } from '../cli/args.js';", /client may import/],
    ['src/virtual.ts', "import { value } from './action/inputs.js';", /client may import/],
    ['src/action/virtual.ts', "import { value } from '../backends/backend.js';", /action may import/],
    ['src/action/virtual.ts', "import { value } from '../transport/proxy.js';", /action may import/],
    ['src/cli/virtual.ts', "import type { value } from '../backends/backend.js';", /cli may import/],
    ['src/server/virtual.ts', "import { value } from '../transport/body.js';", /server may import only/],
    ['src/server/results/virtual.ts', "import { value } from '../../client.js';", /server may import only/],
  ])('refuses in %s: %s', async (filePath, source, message) => {
    const messages = await refusals(filePath, source);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(message);
  });

  it.each([
    ['src/core/virtual.ts', "import { value } from './errors.js';"],
    ['src/transport/proxy/virtual.ts', "import { value } from '../../core/errors.js';"],
    ['src/transport/proxy/virtual.ts', "import { value } from '../no-proxy.js';"],
    ['src/backends/results/virtual.ts', "import { value } from '../../transport/body.js';"],
    ['src/backends/results/virtual.ts', "import { value } from '../legacy/download.js';"],
    ['src/virtual.ts', "import { value } from './backends/backend.js';"],
    ['src/action/virtual.ts', "import { value } from '../client.js';"],
    ['src/cli/virtual.ts', "import { value } from '../server/index.js';"],
    ['src/server/http/virtual.ts', "import { value } from '../../core/errors.js';"],
    ['src/core/virtual.ts', "import { value } from 'node:fs';"],
  ])('allows in %s: %s', async (filePath, source) => {
    expect(await refusals(filePath, source)).toEqual([]);
  });
});
