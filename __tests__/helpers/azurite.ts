import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Azurite's well-known development account (public, documented by Microsoft). */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const SAS_VERSION = '2021-08-06';

export interface Azurite {
  /** `http://127.0.0.1:PORT/devstoreaccount1` */
  accountUrl: string;
  /** An account SAS query string (no leading '?') allowing everything on blobs and containers. */
  sas: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** Account SAS (service b, resource types s/c/o, all permissions), signed like the Azure SDKs do. */
function accountSas(expiry: Date): string {
  const fields = {
    sv: SAS_VERSION,
    ss: 'b',
    srt: 'sco',
    sp: 'rwdlacup',
    se: expiry.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    spr: 'http',
  };
  const stringToSign = [
    DEV_ACCOUNT,
    fields.sp,
    fields.ss,
    fields.srt,
    '',
    fields.se,
    '',
    fields.spr,
    fields.sv,
    '',
    '',
  ].join('\n');
  const sig = createHmac('sha256', Buffer.from(DEV_KEY, 'base64'))
    .update(stringToSign, 'utf8')
    .digest('base64');
  return new URLSearchParams({ ...fields, sig }).toString();
}

/** Starts the Azurite blob service from node_modules on a free loopback port, with a temp workspace. */
export async function startAzurite(): Promise<Azurite> {
  const port = await freePort();
  const location = await mkdtemp(path.join(os.tmpdir(), 'ferry-azurite-'));
  const bin = path.resolve('node_modules/azurite/dist/src/blob/main.js');
  const child: ChildProcess = spawn(
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
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill();
      throw new Error(`Azurite did not start: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    accountUrl: `http://127.0.0.1:${port}/${DEV_ACCOUNT}`,
    sas: accountSas(new Date(Date.now() + 3600_000)),
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
