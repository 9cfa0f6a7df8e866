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

/**
 * @actions/core imports its OIDC client (and through it @actions/http-client, undici's
 * ProxyAgent and tunnel) at load time, for getIDToken, which Ferry never calls. esbuild keeps a
 * module it cannot prove free of side effects, so the Action bundles carried ~0.8 MB of code
 * that was evaluated and kept on the heap of every run; with it V8 ran a mark-compact after
 * nearly every scavenge of a large download (docs/benchmarks.md, "Legacy W2 download (session
 * 7)"). Declared side-effect free here, they are dropped when nothing uses them, and kept if a
 * later change does.
 */
const unusedOidcClient = {
  name: 'unused-oidc-client',
  setup(builder) {
    builder.onResolve({ filter: /^(\.\/oidc-utils\.js|@actions\/http-client)$/ }, async (args) => {
      if (args.pluginData?.resolving) return undefined;
      const fromCore = /[\\/]@actions[\\/]core[\\/]/.test(args.importer);
      if (args.path === './oidc-utils.js' && !fromCore) return undefined;
      const resolved = await builder.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: { resolving: true },
      });
      if (resolved.errors.length > 0) return { errors: resolved.errors };
      return { path: resolved.path, sideEffects: false };
    });
  },
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
  plugins: [unusedOidcClient],
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
