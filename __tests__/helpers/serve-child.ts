import { spawn, type ChildProcess } from 'node:child_process';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { rawRequest, type RawResponse } from './server-fixture.js';

const CHILD = path.resolve('__tests__/reliability/children/serve-child.mjs');
export const SERVER_LIB = path.resolve('lib/server/index.js');

/** Why a child server cannot run here (lib/ not built), or undefined when it can. */
export async function childServerUnavailable(): Promise<string | undefined> {
  try {
    await access(SERVER_LIB);
    return undefined;
  } catch {
    return 'lib/ is not built: run `npx tsc -p tsconfig.build.json` (CI builds it before the tests)';
  }
}

export interface ChildServer {
  url: string;
  child: ChildProcess;
  /** Every request log line the server printed so far. */
  log: string[];
  /** SIGKILL, and wait until the process is gone. */
  kill9(): Promise<void>;
  /** SIGTERM (graceful close), and wait until the process is gone. */
  stop(): Promise<void>;
}

export interface ChildServerSpec {
  dataDir: string;
  token?: string;
  limits?: Record<string, number>;
}

/**
 * Starts `ferry serve` (the built library) in a child process, optionally under a wrapper such as
 * `['unshare', '-m', 'bash', '-c', 'mount ...; exec "$@"', '--']`.
 */
export async function startChildServer(spec: ChildServerSpec, wrapper: string[] = []): Promise<ChildServer> {
  const argv = [...wrapper, process.execPath, CHILD, JSON.stringify(spec)];
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => log.push(line));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.once('line', (line) => resolve((JSON.parse(line) as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`ferry serve child exited (${code}): ${log.join('\n')}`)));
  });
  return {
    url,
    child,
    log,
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const TWIRP = 'twirp/github.actions.results.api.v1.ArtifactService';

/** One Twirp JSON call, as the official client makes it. */
export function twirp(url: string, token: string, method: string, body: object): Promise<RawResponse> {
  return rawRequest('POST', `${url}${TWIRP}/${method}`, {
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}
