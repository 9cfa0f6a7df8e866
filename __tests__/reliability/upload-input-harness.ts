import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { bundleForNode, runNode, type ChildResult } from '../helpers/bundle.js';
import { startFixture, type ServerFixture } from '../helpers/server-fixture.js';
import { runtimeJwt } from '../helpers/jwt.js';
import { startLoopback, type Loopback } from '../helpers/loopback.js';
import { SENTINEL } from './invariants.js';
import type { UploadArtifactOptions } from '../../src/client.js';
import type { ArtifactClientOptions } from '../../src/options.js';

export const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

/** A JWT-shaped runtime token with the results scope whose signature is the sentinel secret. */
export const TOKEN = `${runtimeJwt('run-1', 'job-1').split('.').slice(0, 2).join('.')}.${SENTINEL.tokenSignature}`;

export type Protocol = 'legacy' | 'results';

export interface SeenRequest {
  method: string;
  /** Path and query as received. */
  url: string;
}

/** Called for every request before it is forwarded; may mutate the source tree synchronously or not. */
export type Hook = (req: SeenRequest, index: number) => void | Promise<void>;

/**
 * ferry serve behind a counting forwarder on loopback. The forwarder keeps the client's Host
 * header, so the signed blob URLs ferry serve hands out point back at it: every request of both
 * protocols (RPC, chunk PUT, blob block, finalize) passes the hook and is counted, and `open`
 * tells whether the client left sockets behind.
 */
export interface HookedServer {
  fixture: ServerFixture;
  front: Loopback;
  requests: SeenRequest[];
  setHook(hook: Hook | undefined): void;
  options(protocol: Protocol, extra?: UploadArtifactOptions): UploadArtifactOptions;
  /** The same without upload-only options, for download, get, list and delete. */
  plain(protocol: Protocol): ArtifactClientOptions;
  /** Requests that finalize an artifact: legacy PATCH of the container size, results FinalizeArtifact. */
  finalizeCount(): number;
  close(): Promise<void>;
}

export async function startHookedServer(): Promise<HookedServer> {
  const fixture = await startFixture({ token: TOKEN });
  const upstream = new URL(fixture.server.url);
  const requests: SeenRequest[] = [];
  let hook: Hook | undefined;
  const front = await startLoopback((req, res) => {
    const seen = { method: req.method ?? '', url: req.url ?? '' };
    requests.push(seen);
    req.pause();
    void (async () => {
      try {
        await hook?.(seen, requests.length - 1);
      } catch {
        // A failing hook must not hang the request; the test sees its effect (or lack of it).
      }
      const forward = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent: false,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      req.pipe(forward);
      req.resume();
    })();
  });
  return {
    fixture,
    front,
    requests,
    setHook: (next) => {
      hook = next;
    },
    options: (protocol, extra = {}) => ({
      ...(protocol === 'legacy'
        ? { backend: 'legacy', runtimeUrl: front.url, runId: '7' }
        : { backend: 'results', resultsUrl: front.url }),
      runtimeToken: TOKEN,
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
      timeoutMs: 10_000,
      ...extra,
    }),
    plain: (protocol) => ({
      ...(protocol === 'legacy'
        ? { backend: 'legacy', runtimeUrl: front.url, runId: '7' }
        : { backend: 'results', resultsUrl: front.url }),
      runtimeToken: TOKEN,
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
      timeoutMs: 10_000,
    }),
    finalizeCount: () =>
      requests.filter(
        (r) => (r.method === 'PATCH' && r.url.includes('/artifacts')) || r.url.includes('/FinalizeArtifact'),
      ).length,
    close: async () => {
      await front.close();
      await fixture.dispose();
    },
  };
}

/** Whether a request creates the artifact (legacy container POST, results CreateArtifact). */
export function isCreate(req: SeenRequest): boolean {
  return (
    (req.method === 'POST' && /\/_apis\/pipelines\/workflows\/[^/]+\/artifacts/.test(req.url)) ||
    req.url.includes('/CreateArtifact')
  );
}

/** Whether a request carries file bytes (a legacy chunk PUT or a results Put Block). */
export function isDataPut(req: SeenRequest): boolean {
  return req.method === 'PUT' && (req.url.includes('itemPath=') || req.url.includes('comp=block'));
}

const bundles = new Map<string, Promise<string>>();
/** Directories made for bundles and the driver, removed by {@link disposeBundles}. */
const bundleDirs: string[] = [];

/** Bundles `entry` (a .ts file) the way scripts/build.mjs does, once per test file. */
export function bundle(entry: string): Promise<string> {
  let found = bundles.get(entry);
  if (found === undefined) {
    found = (async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-bundle-'));
      bundleDirs.push(dir);
      const name = path.basename(entry, '.ts');
      return (await bundleForNode({ [name]: entry }, dir))[name] as string;
    })();
    bundles.set(entry, found);
  }
  return found;
}

export interface StepResult extends ChildResult {
  /** stdout lines that are workflow commands, e.g. `::error::...`, `::warning::...`. */
  commands: string[];
}

/**
 * Runs the Action's upload entry (src/action/upload.ts, bundled now, so the test sees the
 * current source rather than a stale dist/) the way the runner does: inputs as INPUT_*
 * variables, GITHUB_OUTPUT a file, and only the given environment.
 */
export async function runUploadStep(
  inputs: Record<string, string>,
  env: Record<string, string>,
  cwd: string,
): Promise<StepResult> {
  const script = await bundle(path.join(REPO_ROOT, 'src', 'action', 'upload.ts'));
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'ferry-step-'));
  const childEnv: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    HOME: scratch,
    GITHUB_OUTPUT: path.join(scratch, 'output'),
    ...env,
  };
  await writeFile(childEnv['GITHUB_OUTPUT'] as string, '');
  for (const [name, value] of Object.entries(inputs)) childEnv[`INPUT_${name.toUpperCase()}`] = value;
  const result = await runNode(script, [], childEnv, cwd);
  await rm(scratch, { recursive: true, force: true });
  return { ...result, commands: result.stdout.split(/\r?\n/).filter((l) => l.startsWith('::')) };
}

let bundled: Promise<string> | undefined;

/** Removes every bundle this test file built (call from afterAll). */
export async function disposeBundles(): Promise<void> {
  await Promise.all(bundleDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  bundles.clear();
  bundled = undefined;
}

/**
 * Bundles a tiny driver around the real src/client.ts (esbuild, as scripts/build.mjs does) so an
 * upload can run in a child process under another uid: as root, chmod 000 does not stop reads.
 * The driver reads `{ name, files, root, options }` as JSON from argv and prints one JSON line.
 */
export function uploadDriver(): Promise<string> {
  bundled ??= (async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-upload-driver-'));
    bundleDirs.push(dir);
    await chmod(dir, 0o755);
    const entry = path.join(dir, 'driver.ts');
    await writeFile(
      entry,
      [
        `import { uploadArtifact } from ${JSON.stringify(path.join(REPO_ROOT, 'src', 'client.ts'))};`,
        `const { name, files, root, options } = JSON.parse(process.argv[2] ?? '{}');`,
        `try {`,
        `  const result = await uploadArtifact(name, files, root, options);`,
        `  process.stdout.write(JSON.stringify({ ok: true, result }) + '\\n');`,
        `} catch (error) {`,
        `  process.stdout.write(JSON.stringify({ ok: false, error: { name: error.name, code: error.code, message: error.message, json: error } }) + '\\n');`,
        `}`,
      ].join('\n'),
    );
    return (await bundleForNode({ driver: entry }, dir))['driver'] as string;
  })();
  return bundled;
}

export type { ChildResult } from '../helpers/bundle.js';

/** Runs `node script args` as user nobody (setpriv), with a minimal environment. */
export function runAsNobody(script: string, args: string[], cwd: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, script, ...args],
      {
        cwd,
        env: { PATH: process.env['PATH'] ?? '', HOME: cwd, TMPDIR: cwd },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
