import { spawn } from 'node:child_process';
import { chmod } from 'node:fs/promises';
import { build } from 'esbuild';

/**
 * Bundles TypeScript entry points from src/ (never dist/, which may be stale while a test runs)
 * into `outdir` as ESM for Node 20, the way scripts/build.mjs builds the CLI and the Action:
 * `entryPoints` maps output names to .ts files; each lands at `outdir/<name>.mjs`.
 * The directory and files are made world-readable so a child running as another user can load them.
 */
export async function bundleForNode(
  entryPoints: Record<string, string>,
  outdir: string,
): Promise<Record<string, string>> {
  await build({
    entryPoints,
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'silent',
    banner: {
      js: "import { createRequire as __ferryCreateRequire } from 'node:module'; const require = __ferryCreateRequire(import.meta.url);",
    },
  });
  await chmod(outdir, 0o755);
  const out: Record<string, string> = {};
  for (const name of Object.keys(entryPoints)) {
    out[name] = `${outdir}/${name}.mjs`;
    await chmod(out[name], 0o644);
  }
  return out;
}

export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node script args` with exactly `env` (PATH added unless given), capturing both streams. */
export function runNode(
  script: string,
  args: readonly string[],
  env: Record<string, string>,
  cwd: string,
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd,
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
