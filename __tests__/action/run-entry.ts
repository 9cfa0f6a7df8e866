import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

export type Entry = 'upload' | 'download' | 'merge';

/** Fails fast (with what to do) when the bundles have not been built. */
export function requireBundles(): void {
  const missing = (['upload', 'download', 'merge'] as const)
    .map((e) => path.join(REPO_ROOT, 'dist', `${e}.js`))
    .filter((f) => !existsSync(f));
  if (missing.length) {
    throw new Error(
      `The action tests run the bundled entry points, but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing: run \`npm run build\` first`,
    );
  }
}

export interface StepResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Parsed from the GITHUB_OUTPUT file (`name<<delimiter` blocks). */
  outputs: Record<string, string>;
  /** stdout without `::add-mask::` commands (the runner consumes those and never shows them). */
  log: string;
}

/** Runner env name of an input: `INPUT_` + upper case, spaces → `_`, hyphens kept. */
export function inputEnvName(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

/**
 * Runs `dist/<entry>.js` the way the runner runs a node action: a fresh process, inputs as
 * `INPUT_*` variables, `GITHUB_OUTPUT` pointing at a file, and only the environment given here
 * (plus PATH), so nothing leaks in from the test machine.
 */
export async function runStep(
  entry: Entry,
  inputs: Record<string, string>,
  env: Record<string, string>,
  cwd: string,
): Promise<StepResult> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'ferry-step-'));
  const outputFile = path.join(scratch, 'output');
  await writeFile(outputFile, '');
  const childEnv: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    HOME: env['HOME'] ?? scratch,
    GITHUB_OUTPUT: outputFile,
    FERRY_STORE: path.join(scratch, 'store'),
    ...env,
  };
  for (const [name, value] of Object.entries(inputs)) childEnv[inputEnvName(name)] = value;
  try {
    const { code, stdout, stderr } = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
    }>((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', `${entry}.js`)], {
        cwd,
        env: childEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
      child.on('error', reject);
      child.on('close', (exit) => resolve({ code: exit, stdout: out, stderr: err }));
    });
    const outputs = parseOutputs(await readFile(outputFile, 'utf8'));
    const log = stdout
      .split(/\r?\n/)
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n');
    return { code, stdout, stderr, outputs, log };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Parses `name<<delimiter\nvalue\ndelimiter` blocks (and plain `name=value` lines). */
export function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delimiter] = heredoc as unknown as [string, string, string];
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i] as string);
      out[name] = value.join('\n');
    } else if (line.includes('=')) {
      const at = line.indexOf('=');
      out[line.slice(0, at)] = line.slice(at + 1);
    }
  }
  return out;
}
