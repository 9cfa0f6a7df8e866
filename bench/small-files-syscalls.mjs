#!/usr/bin/env node
// Syscalls and CPU of one many-small-files download through `ferry serve` on loopback
// (issue 12 item 1: small files without a thread-pool round trip each). The server runs in this
// process; the client runs in a child (bench/child.mjs), once under `strace -f -c` (futex and
// total syscall counts) and once under /usr/bin/time (wall, user, system, peak RSS).
//
// Usage: node bench/small-files-syscalls.mjs --lib PATH/index.js [--protocol legacy|results]
//          [--files 10000] [--repeat 1] [--show-strace]
// --lib: a build of the library (lib/index.js after `npm run build`, or any bundle of src/index.ts),
// so that two builds can be compared on the same workload.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runtimeToken } from './runtime-token.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHILD = path.join(REPO, 'bench', 'child.mjs');
/** A JWT with an Actions.Results scope, as in bench/run.mjs (the results client reads its ids from it). */
const TOKEN = runtimeToken('bench-run', 'bench-job');

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : fallback;
};
const lib = path.resolve(flag('lib', path.join(REPO, 'lib', 'index.js')));
const protocol = flag('protocol', 'legacy');
const count = Number(flag('files', '10000'));
const repeat = Number(flag('repeat', '1'));
/** Also print the top of strace's table (calls and time per syscall). */
const showStrace = args.includes('--show-strace');
if (!['legacy', 'results'].includes(protocol)) throw new Error('--protocol is legacy or results');

/** 200 B to 4 KiB of text per file in 100 directories, the same bytes on every run. */
function workload() {
  const root = path.join(REPO, '.bench', `small-files-${count}`);
  const files = [];
  for (let i = 0; i < count; i++) files.push(`d${i % 100}/f${i}.txt`);
  if (!existsSync(path.join(root, files.at(-1)))) {
    for (const [i, file] of files.entries()) {
      const seed = createHash('sha256').update(String(i)).digest('hex');
      const size = 200 + (parseInt(seed.slice(0, 6), 16) % 3900);
      mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      writeFileSync(path.join(root, file), `${seed} line ${i}\n`.repeat(Math.ceil(size / 80)).slice(0, size));
    }
  }
  return { root, files };
}

function run(command, argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stderr) : reject(new Error(`${command} exit ${code}: ${stderr}`)),
    );
  });
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferry-small-bench-'));
const { startServer } = await import(pathToFileURL(lib).href);
const server = await startServer({
  dataDir: path.join(tmp, 'server'),
  port: 0,
  host: '127.0.0.1',
  token: TOKEN,
});
try {
  const { root, files } = workload();
  const client = protocol === 'legacy' ? 'ferry' : 'ferry-results';
  const spec = (op, extra) => {
    const file = path.join(tmp, `${op}-${Math.random().toString(16).slice(2)}.json`);
    const body = {
      client,
      op,
      name: 'small',
      runtimeUrl: server.url,
      token: TOKEN,
      runId: '1',
      lib,
      ...extra,
    };
    writeFileSync(file, JSON.stringify({ ...body, resultFile: `${file}.result` }));
    return file;
  };
  await run(process.execPath, [CHILD, spec('upload', { root, files })]);
  for (let r = 0; r < repeat; r++) {
    // Settle the disk before each timed download.
    await run('sync', []);
    const straced = path.join(tmp, `strace-${r}.txt`);
    const target1 = path.join(tmp, `dl-strace-${r}`);
    await run('strace', [
      '-f',
      '-c',
      '-o',
      straced,
      process.execPath,
      CHILD,
      spec('download', { target: target1 }),
    ]);
    const summary = readFileSync(straced, 'utf8');
    const futex = /\s(\d+)(?:\s+\d+)?\s+futex\n/.exec(summary)?.[1];
    const total = /\s(\d+)(?:\s+\d+)?\s+total\n/.exec(summary)?.[1];
    if (showStrace) console.log(summary.split('\n').slice(0, 14).join('\n'));
    rmSync(target1, { recursive: true, force: true });
    await run('sync', []);
    const target2 = path.join(tmp, `dl-time-${r}`);
    const timed = await run('/usr/bin/time', [
      '-f',
      'TIME %e %U %S %M',
      process.execPath,
      CHILD,
      spec('download', { target: target2 }),
    ]);
    const [, wall, user, sys, rssKiB] = /TIME (\S+) (\S+) (\S+) (\S+)/.exec(timed) ?? [];
    rmSync(target2, { recursive: true, force: true });
    console.log(
      `${protocol} ${count} files: futex ${futex} of ${total} syscalls; wall ${wall} s, user ${user} s, sys ${sys} s, peak RSS ${(Number(rssKiB) / 1024).toFixed(0)} MiB`,
    );
  }
} finally {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
}
