import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { startServer, type RunningServer } from '../../server/index.js';
import { registerSecret } from '../../transport/redact.js';
import type { LegacyConfig } from '../legacy/contracts.js';

export const LOCAL_RUN_ID = 'local';

export interface LocalStore {
  config: LegacyConfig;
  close(): Promise<void>;
}

/**
 * The embedded default: with no runner around, Ferry serves its own store in-process on a
 * loopback port and speaks the same protocol to it that it speaks to a real service. One code
 * path, and the laptop case exercises exactly what CI runs.
 */
export async function openLocalStore(dataDir: string, runId: string = LOCAL_RUN_ID): Promise<LocalStore> {
  await mkdir(dataDir, { recursive: true });
  const token = randomBytes(24).toString('hex');
  registerSecret(token);
  const server: RunningServer = await startServer({ dataDir, host: '127.0.0.1', port: 0, token });
  return {
    config: { runtimeUrl: server.url, token, runId },
    close: () => server.close(),
  };
}
