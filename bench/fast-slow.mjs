#!/usr/bin/env node
// A fast_slow store's download paths (issue 12 item 4), over an azure_blob slow store on
// Azurite: one results blob downloaded on a miss through `ferry serve` (read from Azurite,
// streamed to the client and into the fast store), on a hit (from the fast store), and
// straight from Azurite by SAS URL (what a plain azure_blob store hands out). With --throttle,
// every connection to Azurite is capped at MBPS (bench/throttle-proxy.mjs), as a real blob
// store caps single streams; client ↔ ferry serve stays loopback, as runners next to their
// cache would be. Server and client each run in their own process (fast-slow-server.mjs,
// fast-slow-client.mjs) so CPU and peak RSS are theirs; Azurite's CPU is read from /proc.
//
//   node bench/fast-slow.mjs [--sizes 64,512] [--throttle MBPS] [--repeat 2]
//       [--modes miss,hit,direct] [--client ferry|plain] [--lib DIR] [--server-prof DIR]
//       [--server-strace DIR] [--server-node-args '--flag ...']
//
// --server-prof: each server process writes a V8 CPU profile (--cpu-prof) into DIR.
// --server-strace: each server process runs under `strace -f -c`, its syscall counts in DIR.
// --lib: a built lib/ (default: a snapshot of ./lib, so `npx tsc -p tsconfig.build.json` first).
// Prints one JSON line per measurement, then a table of medians.
import { spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { cpSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BlockBlobClient } from '@azure/storage-blob';
import { startAzurite } from './azurite.mjs';
import { spawnThrottleProxy } from './throttle-proxy.mjs';
import { runtimeToken } from './runtime-token.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '64,512' },
    throttle: { type: 'string' },
    repeat: { type: 'string', default: '2' },
    modes: { type: 'string', default: 'miss,hit,direct' },
    client: { type: 'string', default: 'ferry' },
    lib: { type: 'string' },
    'server-prof': { type: 'string' },
    'server-strace': { type: 'string' },
    'server-node-args': { type: 'string' },
  },
});
const MiB = 1024 * 1024;
const TWIRP = 'twirp/github.actions.results.api.v1.ArtifactService';
const RUN = 'bench-run';
const JOB = 'bench-job';
const TOKEN = runtimeToken(RUN, JOB, { ac: '[]' });
const IDS = { workflow_run_backend_id: RUN, workflow_job_run_backend_id: JOB };
const log = (line) => process.stderr.write(`${line}\n`);

const tmp = await mkdtemp(path.join(os.tmpdir(), 'ferry-fast-slow-bench-'));
// A fixed build: a rebuild of lib/ during the run changes nothing. Inside the repo, so the
// packages still resolve.
const libDir = path.join(REPO, '.bench', `lib-fast-slow-${process.pid}`);
cpSync(values.lib ? path.resolve(values.lib) : path.join(REPO, 'lib'), libDir, {
  recursive: true,
});
const cleanups = [
  () => rm(tmp, { recursive: true, force: true }),
  () => rm(libDir, { recursive: true, force: true }),
];

const azurite = await startAzurite(REPO);
cleanups.push(() => azurite.stop());
const proxy = values.throttle === undefined ? undefined : await spawnThrottleProxy(Number(values.throttle));
cleanups.push(async () => proxy?.stop());
await proxy?.setUpstream(azurite.origin);
/** Where ferry serve and the SAS URLs reach Azurite: through the cap when there is one. */
const account = azurite.account(proxy?.url);

function spawnJson(script, spec, nodeArgs = [], wrapper = []) {
  const command = [...wrapper, process.execPath, ...nodeArgs, path.join(REPO, 'bench', script)];
  const child = spawn(command[0], [...command.slice(1), JSON.stringify(spec)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const next = () =>
    new Promise((resolve, reject) => {
      const onExit = (code) => reject(new Error(`${script} exited with ${code}`));
      child.once('exit', onExit);
      lines.once('line', (line) => {
        child.off('exit', onExit);
        resolve(JSON.parse(line));
      });
    });
  return { child, next };
}

let serial = 0;
async function startServerProcess(container, fastDir) {
  const { child, next } = spawnJson(
    'fast-slow-server.mjs',
    {
      libIndex: path.join(libDir, 'index.js'),
      dataDir: path.join(tmp, `data-${++serial}`),
      token: TOKEN,
      account,
      container,
      fastDir,
    },
    [
      ...(values['server-prof']
        ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(values['server-prof'])}`]
        : []),
      ...(values['server-node-args']?.split(' ').filter(Boolean) ?? []),
    ],
    values['server-strace']
      ? ['strace', '-f', '-c', '-o', path.resolve(values['server-strace'], `server-${serial}.txt`)]
      : [],
  );
  const { url } = await next();
  return {
    url,
    stats: async () => {
      child.stdin.write('\n');
      return next();
    },
    stop: async () => {
      if (child.exitCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.end();
      await gone;
    },
  };
}

function twirp(url, method, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}${TWIRP}/${method}`,
      {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${TOKEN}`,
          'Content-Type': 'application/json',
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) reject(new Error(`${method}: HTTP ${res.statusCode} ${text}`));
          else resolve(JSON.parse(text));
        });
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** A random blob of `size` bytes as a finalized artifact; uploaded past the cap (setup only). */
async function uploadArtifact(container, name, size) {
  const server = await startServerProcess(container, null);
  try {
    const created = await twirp(server.url, 'CreateArtifact', {
      ...IDS,
      name,
      version: 4,
    });
    const direct = created.signed_upload_url.replace(proxy ? proxy.url : '\0', azurite.origin);
    const hash = createHash('sha256');
    async function* chunks() {
      for (let left = size; left > 0; left -= 8 * MiB) {
        const chunk = randomFillSync(Buffer.allocUnsafe(Math.min(8 * MiB, left)));
        hash.update(chunk);
        yield chunk;
      }
    }
    await new BlockBlobClient(direct).uploadStream(Readable.from(chunks()), 8 * MiB, 4);
    const sha256 = hash.digest('hex');
    await twirp(server.url, 'FinalizeArtifact', {
      ...IDS,
      name,
      size: String(size),
      hash: `sha256:${sha256}`,
    });
    return sha256;
  } finally {
    await server.stop();
  }
}

async function measure(mode, container, name, size, sha256, fastDir) {
  const server = await startServerProcess(container, mode === 'direct' ? null : fastDir);
  try {
    const { signed_url: url } = await twirp(server.url, 'GetSignedArtifactURL', { ...IDS, name });
    const serverBefore = await server.stats();
    const azuriteBefore = azurite.cpu();
    const { next } = spawnJson('fast-slow-client.mjs', {
      libDir,
      url,
      size,
      sha256,
      plain: values.client === 'plain',
    });
    const client = await next();
    const serverAfter = await server.stats();
    const azuriteAfter = azurite.cpu();
    const row = {
      mode,
      sizeMiB: size / MiB,
      throttle: values.throttle ?? null,
      client: values.client,
      seconds: round(client.seconds),
      MBps: round(size / client.seconds / 1e6, 1),
      clientUser: round(client.user),
      clientSys: round(client.system),
      serverUser: round(serverAfter.user - serverBefore.user),
      serverSys: round(serverAfter.system - serverBefore.system),
      serverPeakRssMiB: Math.round(serverAfter.peakRssMiB),
      azuriteUser: round(azuriteAfter.user - azuriteBefore.user),
      azuriteSys: round(azuriteAfter.system - azuriteBefore.system),
    };
    console.log(JSON.stringify(row));
    return row;
  } finally {
    await server.stop();
  }
}

const round = (n, digits = 2) => Number(n.toFixed(digits));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : round((s[mid - 1] + s[mid]) / 2);
};

try {
  const modes = values.modes.split(',');
  const rows = [];
  for (const sizeMiB of values.sizes.split(',').map(Number)) {
    const size = sizeMiB * MiB;
    const container = `bench-${sizeMiB}`;
    const name = `blob-${sizeMiB}`;
    log(`uploading ${sizeMiB} MiB to Azurite`);
    const sha256 = await uploadArtifact(container, name, size);
    for (let rep = 0; rep < Number(values.repeat); rep++) {
      // A fresh fast directory per repetition: the miss fills it, the hit reads it.
      const fastDir = path.join(tmp, `fast-${sizeMiB}-${rep}`);
      for (const mode of modes) rows.push(await measure(mode, container, name, size, sha256, fastDir));
      await rm(fastDir, { recursive: true, force: true });
    }
  }
  log('\nmedians:');
  log(
    '| size | mode | wall s | MB/s | client user/sys s | server user/sys s | server peak RSS MiB | Azurite user/sys s |',
  );
  log('|---|---|---:|---:|---:|---:|---:|---:|');
  const groups = new Map();
  for (const row of rows) {
    const key = `${row.sizeMiB}|${row.mode}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  for (const [, group] of groups) {
    const m = (k) => median(group.map((r) => r[k]));
    const wall = group.map((r) => r.seconds);
    const mbps = round((group[0].sizeMiB * MiB) / m('seconds') / 1e6, 1);
    log(
      `| ${group[0].sizeMiB} MiB | ${group[0].mode} | ${m('seconds')} [${Math.min(...wall)}-${Math.max(...wall)}] | ${mbps} | ${m('clientUser')} / ${m('clientSys')} | ${m('serverUser')} / ${m('serverSys')} | ${Math.max(...group.map((r) => r.serverPeakRssMiB))} | ${m('azuriteUser')} / ${m('azuriteSys')} |`,
    );
  }
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
}
process.exit(0);
