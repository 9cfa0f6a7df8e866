#!/usr/bin/env node
// `npm run bench`: Ferry vs the official clients (@actions/artifact 1.1.3 and 6.2.1) on four
// workloads, against Ferry's own local server, next to the machine's floor measured in the same
// run; and Ferry through the embedded store at 10,000 (and, opt-in, more) files. Runs against
// the compiled library in lib/ (`npm run build` first). See `node bench/run.mjs --help` and
// docs/benchmarks.md ("How it is measured").
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startBusyCore } from './busy.mjs';
import { measureFloors, smallFileFloor } from './floor.mjs';
import {
  conditionsLines,
  embeddedTable,
  floorTable,
  machineInfo,
  ratioLines,
  resultsTable,
  sweepTable,
  writeDocs,
} from './report.mjs';
import { startAzurite } from './azurite.mjs';
import { spawnThrottleProxy } from './throttle-proxy.mjs';
import { verifyTree } from './verify.mjs';
import { ensureWorkload, WORKLOADS } from './workloads.mjs';
import { runtimeToken } from './runtime-token.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..');
const CACHE_DIR = path.join(REPO, '.bench');
const CHILD = path.join(HERE, 'child.mjs');
/**
 * The runtime token: a JWT with an Actions.Results scope (the results clients read their
 * backend ids from it; the legacy clients send it as an opaque bearer token), which is also
 * the token the server requires.
 */
const TOKEN = runtimeToken('bench-run', 'bench-job');
/** ferry/legacy speak the legacy protocol; ferry-results/current the results protocol (current = @actions/artifact 6.2.1). */
const CLIENTS = ['ferry', 'legacy', 'ferry-results', 'current'];
const FERRY_CLIENTS = new Set(['ferry', 'ferry-results']);
/** The clients whose blob bytes can live on another server (`--store azurite`). */
const RESULTS_CLIENTS = new Set(['ferry-results', 'current']);
/** Client and server in one process (child.mjs): the legacy protocol and the CLI's embedded store. */
const EMBEDDED_CLIENTS = ['embedded-legacy', 'embedded-results'];
/** W1 has 10,000 files; the embedded file-count workload at N files is W1 scaled by N / 10,000. */
const W1_FILES = 10_000;
/** Workloads with at least this many files get the small-file creation floor. */
const MANY_FILES = 100;
const OPS = ['upload', 'download'];
/** A child that runs longer than this is killed and reported as failed. */
const CHILD_TIMEOUT_MS = 20 * 60_000;

const HELP = `Usage: npm run bench -- [flags]   (or: node bench/run.mjs [flags] after npm run build)

  --workloads W1,W2,W3,W4          which workloads (default: all; "none" for only --files)
  --clients ferry,legacy,ferry-results,current
                                   which clients (default: all four; ferry/legacy speak the legacy
                                   protocol, ferry-results/current the results protocol)
  --ops upload,download            which operations (default: both; a download-only run
                                   still uploads first, unmeasured)
  --size-scale X                   scale the workloads (0.05 = 500 files for W1, 25.6 MiB for W2)
  --repeat N                       run every measurement N times, report the median (default 1);
                                   the client order is reversed on every other repetition (and
                                   from uploads to downloads, and from workload to workload), so
                                   use 2 or more when comparing clients
  --busy                           keep one core loaded by another process (a sha256 loop) during
                                   the whole run, floors included; the report says so
  --throttle MBPS                  put a TCP proxy capping every connection at MBPS (10^6 B/s) in
                                   each direction in front of every server (its public URL), as
                                   blob stores cap single streams; e.g. --throttle 40
  --store ferry|azurite            where the blobs live (default ferry: ferry serve's own blob server);
                                   azurite: ferry serve with an azure_blob store on Azurite, so the
                                   results clients move their bytes to and from Microsoft's emulator
                                   through SAS URLs (a server nobody here wrote); the legacy clients
                                   are skipped, as that protocol's bytes always go through ferry serve
  --files N,N                      Ferry through the embedded store (client and server in one
                                   process, both protocols) with W1-like workloads of N files;
                                   time, peak RSS and RSS per file (default 10000; 100000 takes
                                   minutes and ~1 GB in .bench/; "none" to skip)
  --concurrency N                  pass concurrency N to Ferry (default: Ferry's own default)
  --compression-level N            pass compressionLevel N (0-9) to Ferry (default: Ferry's own)
  --ferry-concurrency-sweep 2,4,8  also run Ferry on W1 with each concurrency (honours --ops)
  --cpu-prof                       write a V8 CPU profile of every child to .bench/prof/
                                   (summarise one with: node bench/prof-summary.mjs FILE)
  --write-docs                     write the results to docs/benchmarks.md
  --keep-temp                      keep the temp dir (server data, downloads) for inspection
  -h, --help                       this text

Every timed operation starts after sync and a bounded wait for the kernel's dirty and writeback
pages to drain; each row records the client's user and system CPU apart, the server's CPU, peak
RSS (the child's VmHWM), and the requests and connections the server counted. The machine's
floor (loopback GET, sha256, page-cache writes, small-file creation) is measured in the same
run. Workloads are generated once into .bench/ (gitignored) from a fixed seed.`;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      workloads: { type: 'string', default: Object.keys(WORKLOADS).join(',') },
      clients: { type: 'string', default: CLIENTS.join(',') },
      ops: { type: 'string', default: OPS.join(',') },
      'size-scale': { type: 'string', default: '1' },
      repeat: { type: 'string', default: '1' },
      concurrency: { type: 'string' },
      'compression-level': { type: 'string' },
      'ferry-concurrency-sweep': { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      'write-docs': { type: 'boolean', default: false },
      'keep-temp': { type: 'boolean', default: false },
      busy: { type: 'boolean', default: false },
      throttle: { type: 'string' },
      store: { type: 'string', default: 'ferry' },
      files: { type: 'string', default: String(W1_FILES) },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const list = (flag, allowed) => {
    if (values[flag].trim() === 'none') return [];
    const items = values[flag]
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const item of items) {
      if (!allowed.includes(item))
        throw new Error(`--${flag}: unknown ${JSON.stringify(item)}; use ${allowed.join(',')}`);
    }
    return allowed.filter((a) => items.includes(a)); // canonical order
  };
  const positive = (flag, text, integer) => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
      throw new Error(
        `--${flag} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(text)}`,
      );
    }
    return n;
  };
  const level = (text) => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0 || n > 9)
      throw new Error(`--compression-level must be 0-9, got ${JSON.stringify(text)}`);
    return n;
  };
  return {
    help: values.help,
    workloads: list('workloads', Object.keys(WORKLOADS)),
    clients: list('clients', CLIENTS),
    ops: list('ops', OPS),
    scale: positive('size-scale', values['size-scale'], false),
    repeat: positive('repeat', values.repeat, true),
    concurrency:
      values.concurrency === undefined ? undefined : positive('concurrency', values.concurrency, true),
    compressionLevel: level(values['compression-level']),
    sweep:
      values['ferry-concurrency-sweep'] === undefined
        ? []
        : values['ferry-concurrency-sweep']
            .split(',')
            .map((s) => positive('ferry-concurrency-sweep', s.trim(), true)),
    cpuProf: values['cpu-prof'],
    writeDocs: values['write-docs'],
    keepTemp: values['keep-temp'],
    busy: values.busy,
    throttle: values.throttle === undefined ? undefined : positive('throttle', values.throttle, false),
    store: (() => {
      if (!['ferry', 'azurite'].includes(values.store))
        throw new Error(`--store: unknown ${JSON.stringify(values.store)}; use ferry or azurite`);
      return values.store;
    })(),
    files:
      values.files.trim() === 'none'
        ? []
        : [...new Set(values.files.split(',').map((s) => positive('files', s.trim(), true)))].sort(
            (a, b) => a - b,
          ),
    argv,
  };
}

const log = (line) => process.stderr.write(`[bench] ${line}\n`);

/** Child processes still running, so an interrupt can stop them (by pid, never by name). */
const running = new Set();
/** Servers and temp dirs to release on exit. */
const cleanups = [];

/** Runs one operation in a child process; resolves with its parsed result. */
async function runChild(tmp, spec, nodeArgs) {
  const id = `${spec.workload}-${spec.client}-${spec.op}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const specFile = path.join(tmp, `${id}.spec.json`);
  const resultFile = path.join(tmp, `${id}.result.json`);
  const childTmp = path.join(tmp, `${id}.tmp`);
  mkdirSync(childTmp);
  writeFileSync(specFile, JSON.stringify({ ...spec, resultFile }));
  const env = { ...process.env, TMPDIR: childTmp, TMP: childTmp, TEMP: childTmp };
  // No proxies for loopback benchmarks, whatever the shell has.
  for (const k of Object.keys(env)) if (/^(https?|all|no)_proxy$/i.test(k)) delete env[k];
  const child = spawn(process.execPath, [...nodeArgs, CHILD, specFile], {
    cwd: REPO,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk.toString('utf8')).slice(-16_384);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
  const code = await new Promise((resolve) => child.on('close', (c, signal) => resolve(c ?? signal)));
  clearTimeout(timer);
  running.delete(child);
  await rm(childTmp, { recursive: true, force: true });
  let result;
  try {
    result = JSON.parse(readFileSync(resultFile, 'utf8'));
  } catch {
    result = { ok: false, error: `child exited with ${code} and no result` };
  }
  if (!result.ok) {
    log(`${spec.client} ${spec.op} ${spec.workload} FAILED: ${result.error}`);
    log(`--- last output of the child ---\n${output.trim()}\n---`);
  }
  return result;
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  if (options.store === 'azurite') {
    const skipped = options.clients.filter((c) => !RESULTS_CLIENTS.has(c));
    options.clients = options.clients.filter((c) => RESULTS_CLIENTS.has(c));
    if (skipped.length > 0) log(`--store azurite: skipping ${skipped.join(', ')} (legacy protocol)`);
  }
  if (options.help) {
    console.log(HELP);
    return 0;
  }

  mkdirSync(CACHE_DIR, { recursive: true });
  const startedAt = new Date();
  const machine = machineInfo(); // before the run: the commit whose lib/ is measured
  const loadBefore = os.loadavg()[0].toFixed(2);
  if (os.loadavg()[0] > 1) {
    log(`note: load average ${loadBefore} before starting: something else is running, timings will be noisy`);
  }
  if (!existsSync(path.join(REPO, 'lib', 'index.js'))) {
    throw new Error('lib/index.js is missing: run `npm run build` first');
  }
  // Measure one fixed build: a snapshot of lib/, so a rebuild in the shared checkout during the
  // run (which deletes lib/ first) changes nothing. Inside the repo, so packages still resolve.
  const libSnapshot = path.join(CACHE_DIR, `lib-${process.pid}`);
  cpSync(path.join(REPO, 'lib'), libSnapshot, { recursive: true });
  cleanups.push(async () => rm(libSnapshot, { recursive: true, force: true }));
  const libIndex = path.join(libSnapshot, 'index.js');
  const { startServer } = await import(pathToFileURL(libIndex).href);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'ferry-bench-'));
  cleanups.push(async () => {
    if (options.keepTemp) log(`kept temp dir ${tmp}`);
    else await rm(tmp, { recursive: true, force: true });
  });
  // The load starts before anything is measured, floors included, and runs until the end.
  let busy;
  if (options.busy) {
    busy = await startBusyCore();
    cleanups.push(() => busy.stop());
    log(`--busy: one core kept loaded by process ${busy.pid} during every measurement`);
  }
  const profDir = path.join(CACHE_DIR, 'prof');
  if (options.cpuProf) mkdirSync(profDir, { recursive: true });

  const nodeArgsFor = (label) =>
    options.cpuProf
      ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=${label}-${Date.now()}.cpuprofile`]
      : [];

  let azurite;
  if (options.store === 'azurite') {
    azurite = await startAzurite(REPO);
    cleanups.push(() => azurite.stop());
    log(`--store azurite: blobs on Azurite (process ${azurite.pid}), ferry serve answers the Twirp calls`);
  }

  let serial = 0;
  /**
   * A fresh server (own data dir, or own Azurite container) that lives for one client's upload
   * and download of one workload; with --throttle, behind its own throttling proxy: in front of
   * the server (its public URL), or with --store azurite in front of Azurite, where the bytes go.
   */
  const freshServer = async (label) => {
    const dataDir = path.join(tmp, `server-${label}-${++serial}`);
    const proxy = options.throttle === undefined ? undefined : await spawnThrottleProxy(options.throttle);
    const server = await startServer({
      dataDir,
      port: 0,
      host: '127.0.0.1',
      token: TOKEN,
      ...(proxy && !azurite ? { publicUrl: proxy.url } : {}),
      ...(azurite
        ? {
            azure: {
              account: azurite.account(proxy?.url),
              container: `bench-${serial}`,
              prefix: '',
              createContainer: true,
            },
          }
        : {}),
    });
    await proxy?.setUpstream(azurite ? azurite.origin : `http://127.0.0.1:${server.port}/`);
    const release = async () => {
      await server.close();
      await proxy?.stop();
      if (!options.keepTemp) await rm(dataDir, { recursive: true, force: true });
    };
    cleanups.push(release);
    return { server, release };
  };

  /** Runs one operation and turns the child result into a table row. */
  const measure = async ({ server, storeDir, workload, client, op, name, concurrency, record = true }) => {
    if (busy && !busy.alive()) throw new Error('--busy: the process loading a core has exited');
    const target = op === 'download' ? path.join(tmp, `download-${++serial}`) : undefined;
    const spec = {
      workload: workload.name,
      client,
      op,
      name,
      runtimeUrl: server?.url,
      storeDir,
      token: TOKEN,
      runId: '1',
      lib: libIndex,
      concurrency,
      compressionLevel:
        FERRY_CLIENTS.has(client) || EMBEDDED_CLIENTS.includes(client) || client === 'current'
          ? options.compressionLevel
          : undefined,
      ...(op === 'upload' ? { root: workload.root, files: workload.files.map((f) => f.path) } : { target }),
    };
    const before = server?.stats();
    const load = os.loadavg()[0];
    const serverCpuBefore = process.cpuUsage();
    const azuriteCpuBefore = azurite?.cpu();
    const result = await runChild(
      tmp,
      spec,
      nodeArgsFor(`${workload.name}-${op}-${client}${concurrency ? `-c${concurrency}` : ''}`),
    );
    const after = server?.stats();
    const serverCpu = process.cpuUsage(serverCpuBefore);
    // With --store azurite the bytes are Azurite's work: its CPU counts as the server's too.
    if (azurite) {
      const azuriteCpu = azurite.cpu();
      serverCpu.user += (azuriteCpu.user - azuriteCpuBefore.user) * 1e6;
      serverCpu.system += (azuriteCpu.system - azuriteCpuBefore.system) * 1e6;
    }
    // Embedded clients count their own server's requests (legacy) or none (the CLI's store).
    const row = {
      workload: workload.name,
      op,
      client,
      concurrency,
      compressionLevel: spec.compressionLevel,
      wallSeconds: result.ok ? result.wallSeconds : undefined,
      mbPerSec: result.ok ? workload.totalBytes / 1e6 / result.wallSeconds : undefined,
      filesPerSec: result.ok ? workload.files.length / result.wallSeconds : undefined,
      files: workload.files.length,
      requests: server ? after.requests - before.requests : result.info?.requests,
      connections: server ? after.connectionsOpened - before.connectionsOpened : result.info?.connections,
      rssMiB: result.maxRssMiB,
      clientUserSeconds: result.cpuUserSeconds,
      clientSystemSeconds: result.cpuSystemSeconds,
      // The server runs in this process, which does nothing else while a child runs (the busy
      // load and the throttling proxy are processes of their own). Embedded: in the client.
      serverUserSeconds: server ? serverCpu.user / 1e6 : undefined,
      serverSystemSeconds: server ? serverCpu.system / 1e6 : undefined,
      settle: result.settle,
      loadAverage: load,
      check: 'ok',
      detail: result.ok ? result.info : { error: result.error },
    };
    if (!result.ok) {
      row.check = 'FAILED';
    } else if (op === 'upload') {
      const info = result.info;
      if (
        info.fileCount !== workload.files.length ||
        ((FERRY_CLIENTS.has(client) || EMBEDDED_CLIENTS.includes(client)) &&
          info.size !== workload.totalBytes)
      ) {
        row.check = 'MISMATCH';
        log(
          `${client} upload of ${workload.name} reported ${JSON.stringify(info)}; expected ${workload.files.length} files, ${workload.totalBytes} bytes`,
        );
      }
    } else {
      const verdict = await verifyTree(target, workload);
      if (!verdict.ok) {
        row.check = 'MISMATCH';
        log(
          `${client} download of ${workload.name}: ${verdict.problemCount} problems, e.g.\n  ${verdict.problems.join('\n  ')}`,
        );
      }
      if (!options.keepTemp) await rm(target, { recursive: true, force: true });
    }
    if (record) {
      log(
        `${workload.name} ${op} ${client}${concurrency ? ` c=${concurrency}` : ''}: ${row.wallSeconds?.toFixed(2) ?? '-'} s, ${row.mbPerSec?.toFixed(1) ?? '-'} MB/s, ${row.requests ?? '-'} req, ${row.connections ?? '-'} conns, ${row.rssMiB?.toFixed(0) ?? '-'} MiB, CPU client ${row.clientUserSeconds?.toFixed(2) ?? '-'} user + ${row.clientSystemSeconds?.toFixed(2) ?? '-'} sys / server ${row.serverUserSeconds === undefined ? '- (in the client)' : `${(row.serverUserSeconds + row.serverSystemSeconds).toFixed(2)} s`}, settled ${row.settle ? `${row.settle.settled ? 'yes' : 'NO'} after ${row.settle.waitedMs} ms` : '-'}, load ${load.toFixed(2)}, ${row.check}`,
      );
    }
    return row;
  };

  /** Median-wall row of `runs` (all must have passed), with the spread noted. */
  const summarize = (runs) => {
    const failed = runs.find((r) => r.check !== 'ok');
    if (failed || runs.length === 1) return failed ?? runs[0];
    const sorted = [...runs].sort((a, b) => a.wallSeconds - b.wallSeconds);
    const median = sorted[Math.floor((sorted.length - 1) / 2)];
    return {
      ...median,
      spread: `${sorted[0].wallSeconds.toFixed(2)}-${sorted.at(-1).wallSeconds.toFixed(2)}`,
    };
  };

  /**
   * The clients in the order of turn `turn`: reversed on every other one, so that no client
   * always runs right after the same other one (and its writeback and cleanup). The turn counts
   * repetitions, and also workloads and upload/download, so a single run alternates too.
   */
  const inOrder = (clients, turn) => (turn % 2 === 0 ? clients : [...clients].reverse());
  let workloadTurn = 0;

  const floors = await measureFloors(tmp, options.throttle);
  log(
    `floor: loopback GET ${floors.getMBps.toFixed(0)} MB/s${floors.throttledGetMBps === undefined ? '' : ` (${floors.throttledGetMBps.toFixed(1)} MB/s through the throttling proxy)`}, sha256 ${floors.sha256MBps.toFixed(0)} MB/s, file writes ${floors.writeMBps.toFixed(0)} MB/s`,
  );
  /** Files/s creating each many-file workload's files, by workload name (see floor.mjs). */
  const fileFloors = {};
  const measureFileFloor = async (workload) => {
    if (workload.files.length < MANY_FILES || fileFloors[workload.name] !== undefined) return;
    fileFloors[workload.name] = await smallFileFloor(workload, tmp);
    log(`floor: ${workload.name}: ${fileFloors[workload.name].toFixed(0)} files/s created (sync)`);
  };

  const rows = [];
  const workloads = [];
  for (const name of options.workloads) {
    const turn = workloadTurn++;
    const workload = ensureWorkload(name, options.scale, CACHE_DIR, log);
    workloads.push(workload);
    log(
      `${name}: ${workload.title}: ${workload.files.length} files, ${(workload.totalBytes / 1e6).toFixed(1)} MB`,
    );
    await measureFileFloor(workload);
    const servers = {};
    for (const client of options.clients) servers[client] = await freshServer(`${name}-${client}`);
    const artifactName = (r) => `bench-${name}${r === 0 ? '' : `-r${r}`}`;

    const uploads = Object.fromEntries(options.clients.map((c) => [c, []]));
    const uploadRepeats = options.ops.includes('upload') ? options.repeat : 1;
    for (let r = 0; r < uploadRepeats; r++) {
      for (const client of inOrder(options.clients, turn + r)) {
        uploads[client].push(
          await measure({
            server: servers[client].server,
            workload,
            client,
            op: 'upload',
            name: artifactName(r),
            concurrency: FERRY_CLIENTS.has(client) ? options.concurrency : undefined,
            record: options.ops.includes('upload'),
          }),
        );
      }
    }
    if (options.ops.includes('upload'))
      for (const client of options.clients) rows.push(summarize(uploads[client]));

    if (options.ops.includes('download')) {
      const downloads = Object.fromEntries(options.clients.map((c) => [c, []]));
      for (let r = 0; r < options.repeat; r++) {
        for (const client of inOrder(options.clients, turn + r + 1)) {
          if (uploads[client][0].check !== 'ok') continue; // nothing to download
          downloads[client].push(
            await measure({
              server: servers[client].server,
              workload,
              client,
              op: 'download',
              name: artifactName(0),
              concurrency: FERRY_CLIENTS.has(client) ? options.concurrency : undefined,
            }),
          );
        }
      }
      for (const client of options.clients) {
        if (downloads[client].length > 0) rows.push(summarize(downloads[client]));
        else rows.push({ workload: name, op: 'download', client, check: 'SKIPPED (upload failed)' });
      }
    }
    for (const client of options.clients) await servers[client].release();
  }

  // Through the embedded store: one data dir per client and file count, uploaded then downloaded.
  const embedded = [];
  const embeddedOps = options.ops;
  for (const count of options.files) {
    const turn = workloadTurn++;
    const workload = ensureWorkload('W1', count / W1_FILES, CACHE_DIR, log);
    const label = `${count} files`;
    log(`embedded: ${label} (W1 x ${count / W1_FILES}), ${(workload.totalBytes / 1e6).toFixed(1)} MB`);
    const named = { ...workload, name: label };
    await measureFileFloor(named);
    const stores = Object.fromEntries(
      EMBEDDED_CLIENTS.map((c) => [c, path.join(tmp, `store-${c}-${count}-${++serial}`)]),
    );
    const uploads = Object.fromEntries(EMBEDDED_CLIENTS.map((c) => [c, []]));
    const uploadRepeats = embeddedOps.includes('upload') ? options.repeat : 1;
    for (let r = 0; r < uploadRepeats; r++) {
      for (const client of inOrder(EMBEDDED_CLIENTS, turn + r)) {
        uploads[client].push(
          await measure({
            storeDir: stores[client],
            workload: named,
            client,
            op: 'upload',
            name: `bench-${count}${r === 0 ? '' : `-r${r}`}`,
            concurrency: options.concurrency,
            record: embeddedOps.includes('upload'),
          }),
        );
      }
    }
    if (embeddedOps.includes('upload'))
      for (const c of EMBEDDED_CLIENTS) embedded.push(summarize(uploads[c]));
    if (embeddedOps.includes('download')) {
      const downloads = Object.fromEntries(EMBEDDED_CLIENTS.map((c) => [c, []]));
      for (let r = 0; r < options.repeat; r++) {
        for (const client of inOrder(EMBEDDED_CLIENTS, turn + r + 1)) {
          if (uploads[client][0].check !== 'ok') continue;
          downloads[client].push(
            await measure({
              storeDir: stores[client],
              workload: named,
              client,
              op: 'download',
              name: `bench-${count}`,
              concurrency: options.concurrency,
            }),
          );
        }
      }
      for (const c of EMBEDDED_CLIENTS) if (downloads[c].length > 0) embedded.push(summarize(downloads[c]));
    }
    if (!options.keepTemp) {
      for (const dir of Object.values(stores)) await rm(dir, { recursive: true, force: true });
    }
  }

  const sweep = [];
  if (options.sweep.length > 0) {
    const workload = ensureWorkload('W1', options.scale, CACHE_DIR, log);
    if (!workloads.some((w) => w.name === 'W1')) workloads.push(workload);
    log(`concurrency sweep on W1: ${options.sweep.join(', ')}`);
    for (const concurrency of options.sweep) {
      const { server, release } = await freshServer(`sweep-c${concurrency}`);
      const up = [];
      for (let r = 0; r < options.repeat; r++) {
        up.push(
          await measure({
            server,
            workload,
            client: 'ferry',
            op: 'upload',
            name: `sweep-r${r}`,
            concurrency,
            record: options.ops.includes('upload'),
          }),
        );
      }
      if (options.ops.includes('upload')) sweep.push(summarize(up));
      if (options.ops.includes('download') && up[0].check === 'ok') {
        const down = [];
        for (let r = 0; r < options.repeat; r++) {
          down.push(
            await measure({
              server,
              workload,
              client: 'ferry',
              op: 'download',
              name: 'sweep-r0',
              concurrency,
            }),
          );
        }
        sweep.push(summarize(down));
      }
      await release();
    }
  }

  const loadAfter = os.loadavg()[0].toFixed(2);
  const maxLoad = Math.max(...[...rows, ...embedded, ...sweep].map((r) => r.loadAverage ?? 0));
  const cores = os.availableParallelism();
  // The benchmark itself (client, its zlib/fs threads, the server) accounts for a load of 2-3,
  // and --busy for one more.
  const expectedLoad = cores + 2 + (options.busy ? 1 : 0);
  const noisy =
    maxLoad > expectedLoad
      ? `the 1-minute load average reached ${maxLoad.toFixed(2)} on ${cores} CPUs during the run (the benchmark itself accounts for 2-3${options.busy ? ', --busy for one more' : ''}): other processes competed for the CPU, so wall times are noisy (CPU times less so)`
      : undefined;
  const conditions = conditionsLines({ options, busyPid: busy?.pid });
  console.log('');
  console.log(conditions.join('\n'));
  console.log('');
  if (rows.length > 0) {
    console.log(resultsTable(rows));
    console.log('');
  }
  const ratios = ratioLines(rows);
  if (ratios) console.log(`${ratios}\n`);
  console.log("The machine's floor, measured in this run, next to Ferry's throughput:\n");
  console.log(floorTable({ rows: [...rows, ...embedded], floors, fileFloors }));
  console.log('');
  if (embedded.length > 0) {
    console.log('Ferry through the embedded store (client and server in one process):\n');
    console.log(embeddedTable(embedded));
    console.log('');
  }
  if (sweep.length > 0) {
    console.log('Ferry concurrency sweep on W1:\n');
    console.log(sweepTable(sweep));
    console.log('');
  }
  console.log(`load average (1 min) before / after: ${loadBefore} / ${loadAfter}`);
  if (noisy) console.log(`WARNING: ${noisy}`);

  writeFileSync(
    path.join(CACHE_DIR, 'last-run.json'),
    JSON.stringify({ startedAt, options, machine, floors, fileFloors, rows, embedded, sweep }, null, 2),
  );
  if (options.writeDocs) {
    const docs = path.join(REPO, 'docs', 'benchmarks.md');
    writeDocs(docs, {
      rows,
      embedded,
      floors,
      fileFloors,
      conditions,
      sweep,
      workloads,
      options,
      machine,
      startedAt,
      loadBefore,
      loadAfter,
      noisy,
    });
    log(`wrote ${path.relative(REPO, docs)}`);
  }
  const bad = [...rows, ...embedded, ...sweep].filter((r) => r.check !== 'ok');
  if (bad.length > 0) {
    log(
      `${bad.length} measurement(s) failed their check: ${bad.map((r) => `${r.workload} ${r.op} ${r.client}`).join(', ')}`,
    );
    return 1;
  }
  return 0;
}

async function cleanup() {
  for (const child of running) child.kill('SIGKILL');
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    log(`${signal}: stopping`);
    void cleanup().finally(() => process.exit(130));
  });
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (error) {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error));
} finally {
  await cleanup();
}
process.exit(exitCode);
