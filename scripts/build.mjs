// Builds the bundles in dist/ (committed: the Action runs them without npm install) and the
// library in lib/ (types + ESM for programmatic use). One file per entry point.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

const entries = {
  cli: 'src/cli/bin.ts',
  // The GitHub Action: action.yml (upload), download/action.yml, merge/action.yml.
  upload: 'src/action/upload.ts',
  download: 'src/action/download.ts',
  merge: 'src/action/merge.ts',
};

rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: entries,
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  outExtension: { '.js': '.js' },
  legalComments: 'none',
  // ferry serve imports the Azure SDK with import() only when an azure_blob store is configured:
  // never bundled, so the Action bundles do not grow and the CLI does not parse it at start-up.
  external: ['@azure/storage-blob'],
  // Bundled CommonJS dependencies call require(); give ESM output a real one.
  banner: {
    js: [
      '#!/usr/bin/env node',
      "import { createRequire as __ferryCreateRequire } from 'node:module';",
      'const require = __ferryCreateRequire(import.meta.url);',
    ].join('\n'),
  },
  logLevel: 'warning',
});

rmSync('lib', { recursive: true, force: true });
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
  stdio: 'inherit',
});
