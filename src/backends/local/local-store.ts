import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { registerSecret } from '../../core/secrets.js';
import type { ResultsConfig } from '../results/contracts.js';

export const LOCAL_RUN_ID = 'local';

/**
 * Starts the artifact server that holds the store, on a loopback port. Injected (by
 * src/embedded-store.ts, through the client) rather than imported: backends sit below the
 * server in the layering and never import it; the client layer is where the two meet.
 */
export type StartStoreServer = (options: {
  dataDir: string;
  host: string;
  port: number;
  token: string;
}) => Promise<{ url: string; close(): Promise<void> }>;

export interface LocalStore {
  config: ResultsConfig;
  /** The loopback origin the store serves on: internal, never shown (see store-url.ts). */
  origin: string;
  /** What the store is, for messages: `the embedded store in DIR`. */
  label: string;
  close(): Promise<void>;
}

/**
 * The embedded default: with no runner around, Ferry serves its own store in-process on a
 * loopback port and speaks the results protocol to it, as it would to github.com. One code
 * path, so the laptop case exercises what CI runs, and the store has digests, delete and
 * overwrite. The token is minted per process and only this process knows it.
 */
export async function openLocalStore(
  startServer: StartStoreServer,
  dataDir: string,
  runId: string = LOCAL_RUN_ID,
): Promise<LocalStore> {
  await mkdir(dataDir, { recursive: true });
  const token = mintRuntimeToken(runId);
  registerSecret(token);
  const server = await startServer({ dataDir, host: '127.0.0.1', port: 0, token });
  return {
    config: {
      resultsUrl: server.url,
      token,
      ids: { workflowRunBackendId: runId, workflowJobRunBackendId: runId },
    },
    origin: new URL(server.url).origin,
    label: `the embedded store in ${dataDir}`,
    close: () => server.close(),
  };
}

/**
 * A runtime token shaped like the runner's (a JWT whose scp names the run); signed with a random
 * key nobody keeps. Also what the CLI sends to a `ferry serve` without a token (`--url`).
 */
export function mintRuntimeToken(runId: string): string {
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const header = encode({ alg: 'HS256', typ: 'JWT' });
  const payload = encode({
    scp: `Actions.Results:${runId}:${runId}`,
    nonce: randomBytes(16).toString('hex'),
  });
  return `${header}.${payload}.${randomBytes(32).toString('base64url')}`;
}
