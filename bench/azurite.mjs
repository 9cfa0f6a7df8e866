// `--store azurite`: the results protocol's bytes on a server nobody here wrote. `ferry serve`
// runs with an azure_blob store on Azurite (Microsoft's storage emulator, a dev dependency), so
// it only answers the Twirp calls: every client uploads and downloads its blob through SAS URLs
// straight to and from Azurite. Ratios taken this way do not depend on Ferry's own blob server.
//
// Azurite runs as its own process; its CPU is read from /proc so the report can add it to the
// server's. With --throttle, the capping proxy sits in front of Azurite (the account's blob
// endpoint is the proxy), since that is where the bytes go.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Azurite's well-known development account (public, documented by Microsoft). */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const START_TIMEOUT_MS = 30_000;

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const canConnect = (port) =>
  new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

/** User and system CPU seconds of a process so far, from /proc/PID/stat (Linux). */
function processCpu(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at ") ".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = 100; // USER_HZ on Linux
  return { user: Number(fields[11]) / ticks, system: Number(fields[12]) / ticks };
}

/**
 * Starts Azurite's blob service from node_modules on a free loopback port, with its data in a
 * temp dir (on disk, as a real store keeps it; not --inMemoryPersistence). The tests start it
 * through this too (__tests__/helpers/azurite.ts).
 */
export async function startAzurite(repo) {
  const port = await freePort();
  const location = await mkdtemp(path.join(os.tmpdir(), 'ferry-bench-azurite-'));
  const bin = path.join(repo, 'node_modules/azurite/dist/src/blob/main.js');
  const child = spawn(
    process.execPath,
    [
      bin,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(port),
      '--location',
      location,
      '--silent',
      '--disableTelemetry',
      '--skipApiVersionCheck',
      '--loose',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (d) => (output = (output + d.toString()).slice(-4096));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill();
      throw new Error(`Azurite did not start: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid: child.pid,
    port,
    /** Where Azurite listens, for a throttling proxy's upstream. */
    origin: `http://127.0.0.1:${port}/`,
    /** The account as the azure_blob store takes it; `endpointOrigin` overrides where clients go. */
    account: (endpointOrigin = `http://127.0.0.1:${port}/`) => ({
      accountName: DEV_ACCOUNT,
      accountKey: DEV_KEY,
      blobEndpoint: `${endpointOrigin.replace(/\/+$/, '')}/${DEV_ACCOUNT}`,
    }),
    cpu: () => processCpu(child.pid),
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(location, { recursive: true, force: true });
    },
  };
}
