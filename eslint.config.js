import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/*
 * The layers of src/ and the direction of imports between them (docs/architecture.md, issue 11):
 * action/cli -> client -> backends -> transport/pack -> core, and server -> core only. A file may
 * import its own layer and the layers in `may`; no-restricted-imports refuses the others, so a
 * wrong-way import fails `npm run lint` (__tests__/unit/layers-lint.test.ts proves it).
 * 'src' stands for the files directly in src/ (client.ts, options.ts, index.ts, ...); src/client/
 * is listed for the client layer's files when they move into a folder of their own.
 */
const LAYERS = {
  core: { dirs: ['core'], may: [] },
  transport: { dirs: ['transport'], may: ['core'] },
  pack: { dirs: ['pack'], may: ['core'] },
  backends: { dirs: ['backends'], may: ['core', 'transport', 'pack'] },
  client: { dirs: ['src', 'client', 'merge'], may: ['core', 'transport', 'pack', 'backends'] },
  action: { dirs: ['action'], may: ['core', 'pack', 'client'] },
  // `ferry serve` and `ferry token` run the server.
  cli: { dirs: ['cli'], may: ['core', 'pack', 'client', 'server'] },
  server: { dirs: ['server'], may: ['core'] },
};

/** Files allowed one more layer than their own, each for a named reason. */
const EXCEPTIONS = [
  // The public API re-exports startServer (the package's `ferry serve` for programs).
  { file: 'src/index.ts', alsoMay: ['server'] },
  // The embedded local store: the one client-layer file that starts the server (backends/local
  // gets the start function injected, so backends never import the server).
  { file: 'src/embedded-store.ts', alsoMay: ['server'] },
];

const layerOf = new Map(Object.entries(LAYERS).flatMap(([layer, { dirs }]) => dirs.map((d) => [d, layer])));
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The no-restricted-imports patterns for a file `up` directories below src/ in `layer`. */
function refusedImports(layer, up, extra = []) {
  const allowed = new Set([layer, ...LAYERS[layer].may, ...extra]);
  const prefix = up === 0 ? '^\\./' : `^(?:\\.\\./){${up}}`;
  const message = `${layer} may import only ${[...allowed].join(', ')} (docs/architecture.md; issue 11)`;
  const dirs = [...layerOf].filter(([d, l]) => d !== 'src' && !allowed.has(l)).map(([d]) => escape(d));
  const patterns = [];
  if (dirs.length > 0) patterns.push({ regex: `${prefix}(?:${dirs.join('|')})(?:/|$)`, message });
  // A file directly in src/ (any name, so a new client-layer file is covered too).
  if (!allowed.has('client') && up > 0) patterns.push({ regex: `${prefix}[^./][^/]*$`, message });
  return patterns;
}

function layerRules() {
  const blocks = [];
  for (const [layer, { dirs }] of Object.entries(LAYERS)) {
    for (const dir of dirs) {
      const depths = dir === 'src' ? [0] : [1, 2, 3, 4, 5];
      for (const up of depths) {
        const files = dir === 'src' ? ['src/*.ts'] : [`src/${dir}/${'*/'.repeat(up - 1)}*.ts`];
        blocks.push({
          files,
          rules: { 'no-restricted-imports': ['error', { patterns: refusedImports(layer, up) }] },
        });
      }
    }
  }
  for (const { file, alsoMay } of EXCEPTIONS) {
    const parts = file.split('/');
    const dir = parts.length === 2 ? 'src' : parts[1];
    const up = parts.length - 2;
    const patterns = refusedImports(layerOf.get(dir), up, alsoMay);
    blocks.push({ files: [file], rules: { 'no-restricted-imports': ['error', { patterns }] } });
  }
  return blocks;
}

export default tseslint.config(
  { ignores: ['dist/**', 'lib/**', 'node_modules/**', 'coverage/**', '.bench/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        URLSearchParams: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    files: ['src/cli/**', 'bench/**', 'scripts/**', '__tests__/**'],
    rules: { 'no-console': 'off' },
  },
  // The direction of imports between the layers of src/ (docs/architecture.md).
  ...layerRules(),
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
