import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { builtLibrary } from './built-lib.js';
import { rawRequest, type RawResponse } from './server-fixture.js';

const CHILD = path.resolve('__tests__/reliability/children/serve-child.mjs');
/** The library compiled from src/ that child servers run (built-lib.ts: nothing is built beforehand). */
let library: string | undefined;

/** Compiles the library the child servers run; why a child server cannot run here, or undefined. */
export async function childServerUnavailable(): Promise<string | undefined> {
  try {
    library = await builtLibrary();
    return undefined;
  } catch (error: unknown) {
    return `the library could not be compiled from src/: ${(error as Error).message}`;
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
  /** An azure_blob store (ServerOptions.azure); it travels as JSON on the command line. */
  azure?: object;
}

/**
 * Starts `ferry serve` (the built library) in a child process, optionally under a wrapper such as
 * `['unshare', '-m', 'bash', '-c', 'mount ...; exec "$@"', '--']`.
 */
export async function startChildServer(spec: ChildServerSpec, wrapper: string[] = []): Promise<ChildServer> {
  library ??= await builtLibrary();
  const argv = [...wrapper, process.execPath, CHILD, JSON.stringify(spec)];
  const child = spawn(argv[0] as string, argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FERRY_LIBRARY: library },
  });
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
