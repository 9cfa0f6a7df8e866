import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { runtimeJwt } from '../helpers/jwt.js';

export type Protocol = 'legacy' | 'results';

export const SERVER_URL = 'https://github.example';
export const REPOSITORY = 'octo/ferry';

/** `ferry serve` with a token, and the runner environment a job would get for it. */
export interface ActionServer {
  protocol: Protocol;
  token: string;
  runId: string;
  dataDir: string;
  root: string;
  server: RunningServer;
  /** Runner environment for a step of this run (legacy: runtime URL; results: results URL + JWT). */
  env(extra?: Record<string, string>): Record<string, string>;
  /** Restarts the server on the same data directory (new port; `env()` follows). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startActionServer(protocol: Protocol, runId = '1001'): Promise<ActionServer> {
  const root = await mkdtemp(path.join(os.tmpdir(), `ferry-action-${protocol}-`));
  const dataDir = path.join(root, 'data');
  const token =
    protocol === 'results' ? runtimeJwt(runId, 'job-7') : `ferry-legacy-secret-${runId}-0123456789`;
  const fixture: ActionServer = {
    protocol,
    token,
    runId,
    dataDir,
    root,
    server: await startServer({ dataDir, token }),
    env(extra = {}) {
      const base: Record<string, string> = {
        ACTIONS_RUNTIME_URL: fixture.server.url,
        ACTIONS_RUNTIME_TOKEN: token,
        GITHUB_RUN_ID: runId,
        GITHUB_SERVER_URL: SERVER_URL,
        GITHUB_REPOSITORY: REPOSITORY,
      };
      if (protocol === 'results') base['ACTIONS_RESULTS_URL'] = fixture.server.url;
      return { ...base, ...extra };
    },
    async restart() {
      await fixture.server.close();
      fixture.server = await startServer({ dataDir, token });
    },
    async close() {
      await fixture.server.close();
      await rm(root, { recursive: true, force: true });
    },
  };
  return fixture;
}
