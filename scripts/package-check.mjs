// The package as a user gets it: `npm pack` (its prepack builds lib/ and dist/), installed from
// the tarball into an empty ESM project, then
//   - the tarball holds LICENSE, lib/index.js + .d.ts and the bin, and no lib/action or lib/cli;
//   - `tsc --noEmit` (NodeNext, strict, @types/node) type-checks a file importing the package;
//   - the README's SDK example, as written, runs there (embedded local store) and round-trips;
//   - `npx ferry --help` runs the installed bin.
// Dependencies come from the npm cache `npm ci` filled (--offline), or, if it lacks a version
// list, from the registry for that only (--prefer-offline). Run: node scripts/package-check.mjs (CI runs it).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { codeBlocks } from './markdown-blocks.mjs';

const repo = process.cwd();
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const typesNodeVersion = JSON.parse(readFileSync('node_modules/@types/node/package.json', 'utf8')).version;
const tsc = path.join(repo, 'node_modules/typescript/bin/tsc');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const work = mkdtempSync(path.join(os.tmpdir(), 'ferry-package-check-'));
const failures = [];

function run(command, args, cwd, env = {}) {
  console.log(`$ ${[command, ...args].join(' ')}`);
  return execFileSync(command, args, {
    cwd,
    encoding: 'utf8',
    // No "new npm version" notice in CI logs.
    env: { ...process.env, npm_config_update_notifier: 'false', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
}

function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
}

try {
  // 1. Pack: prepack builds lib/ and dist/ from a checkout that has only node_modules.
  const packed = JSON.parse(run(npm, ['pack', '--json', '--pack-destination', work], repo));
  const tarball = path.join(work, packed[0].filename);
  const files = new Set(packed[0].files.map((f) => f.path));
  check(files.has('LICENSE'), 'the tarball holds LICENSE');
  check(files.has('lib/index.js') && files.has('lib/index.d.ts'), 'the tarball holds lib/index.js and .d.ts');
  check(files.has(pkg.bin.ferry.replace(/^\.\//, '')), `the tarball holds the bin (${pkg.bin.ferry})`);
  const internal = [...files].filter((f) => /^lib\/(action|cli)\//.test(f) || f.endsWith('.map'));
  check(
    internal.length === 0,
    `no lib/action, lib/cli or source maps shipped${internal.length ? `: ${internal.slice(0, 3).join(', ')}` : ''}`,
  );
  check(
    /^>=\d+\.\d+\.\d+$/.test(pkg.engines?.node ?? ''),
    `engines.node is a real minimum (${pkg.engines?.node})`,
  );

  // 2. An empty ESM project installs it.
  const project = path.join(work, 'project');
  mkdirSync(project);
  writeFileSync(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'ferry-consumer', private: true, type: 'module' }, null, 2),
  );
  const install = (mode) =>
    run(
      npm,
      [
        'install',
        mode,
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        tarball,
        `@types/node@${typesNodeVersion}`,
      ],
      project,
    );
  try {
    install('--offline');
  } catch {
    // npm ci fetches tarballs by their locked URLs and may not have cached the version lists
    // that resolving the package's ranges needs: those come from the registry.
    console.log('not everything is in the npm cache: installing with --prefer-offline');
    install('--prefer-offline');
  }

  // 3. Types resolve under NodeNext: the README's example and a typed error check, strict.
  const example = codeBlocks(readFileSync('README.md', 'utf8')).find(
    (b) => b.lang === 'ts' && b.code.includes("from 'ferry-artifact'"),
  );
  check(example !== undefined, "README.md has a ts block importing 'ferry-artifact'");
  writeFileSync(path.join(project, 'example.ts'), example?.code ?? '');
  writeFileSync(
    path.join(project, 'types.ts'),
    [
      "import { isFerryError, type FerryErrorCode, type UploadArtifactResponse } from 'ferry-artifact';",
      "export const code: FerryErrorCode = 'ERR_FERRY_INVALID_PATH';",
      'export const seen = (e: unknown): string | undefined => (isFerryError(e) ? e.code : undefined);',
      'export type Size = UploadArtifactResponse["size"];',
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(project, 'tsconfig.json'),
    JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          types: ['node'],
          outDir: 'out-js',
          skipLibCheck: false,
        },
        files: ['example.ts', 'types.ts'],
      },
      null,
      2,
    ),
  );
  // Emitting also checks; the emitted example.js is what runs next.
  run(process.execPath, [tsc, '-p', 'tsconfig.json'], project);
  check(true, 'tsc (NodeNext, strict, @types/node) accepts the README example and the exported types');

  // 4. The README's example runs there, as written, against the embedded local store.
  mkdirSync(path.join(project, 'dist'));
  writeFileSync(path.join(project, 'dist/app.js'), 'console.log("app");\n');
  writeFileSync(path.join(project, 'dist/app.css'), 'body { margin: 0 }\n');
  const home = path.join(work, 'home');
  mkdirSync(home);
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(ACTIONS_|GITHUB_|FERRY_)/.test(k)),
  );
  execFileSync(process.execPath, ['out-js/example.js'], {
    cwd: project,
    env: { ...clean, HOME: home, FERRY_STORE: path.join(work, 'store') },
    stdio: 'inherit',
  });
  for (const name of ['app.js', 'app.css']) {
    const same = readFileSync(path.join(project, 'out', name)).equals(
      readFileSync(path.join(project, 'dist', name)),
    );
    check(same, `the README example round-tripped dist/${name} into out/${name}`);
  }

  // 5. The bin runs.
  const help = run(npm, ['exec', '--offline', '--', 'ferry', '--help'], project, { HOME: home });
  check(/upload/.test(help) && /download/.test(help), 'npx ferry --help prints the commands');
} catch (error) {
  failures.push(error.message);
  console.error(error.message);
} finally {
  rmSync(work, { recursive: true, force: true });
}

if (failures.length > 0) {
  console.error(`package check failed: ${failures.length} problem(s)`);
  process.exit(1);
}
console.log('package check ok');
