// Peak memory of one many-small-files operation through the embedded store (issue 12 item 5),
// in this one process: client and server together, as the `ferry` CLI runs them.
//
//   node bench/rss-files.mjs --files 20000 --protocol results --op upload   [--store DIR]
//   node bench/rss-files.mjs --files 20000 --protocol results --op download [--store DIR]
//   node bench/rss-files.mjs --files 20000 --op list
//   node bench/rss-files.mjs --files 20000 --protocol results --op upload --via cli
//
// --op list builds the caller's list of absolute paths exactly as the upload does (below) and
// nothing else: what that list alone costs this process, which the upload's figures include.
//
// --via cli runs the `ferry` CLI itself (dist/cli.js, `npm run build`) as its own process, with
// bench/process-report.mjs preloaded to report its peak RSS and CPU: the CLI finds the files
// itself (`ferry upload NAME .` in the files' directory), so no caller's list is involved.
// --protocol results is its embedded store (`--store`); legacy is the CLI against a `ferry serve`
// in a second process (`--url ... --protocol legacy`), whose peak RSS and CPU are reported too.
//
// --protocol results: the CLI's embedded local store (backend 'local'); legacy: a `ferry serve`
// (startServer) on the store directory in this process, spoken to over the legacy protocol, as
// bench/child.mjs does for `embedded-results` / `embedded-legacy`. The files (N files of
// 1-4 KiB of source-like text, three directory levels, 1,000 per directory) are created once
// under .bench/rss-files/N/files and reused; the store defaults to
// .bench/rss-files/N/store-<protocol>, so a download reads what the last upload stored.
//
// The library is lib/index.js (`npx tsc -p tsconfig.build.json` compiles src/ there) unless
// --lib names another index.js. While the operation runs, process.memoryUsage() is sampled
// every 20 ms; every 2 s a line with the current figures goes to stderr (--quiet: none). At the
// end one JSON line goes to stdout: wall time, CPU user / system (process.cpuUsage: every thread),
// the sampled peaks (rss, heapUsed, external, arrayBuffers), VmHWM from /proc/self/status (the
// kernel's peak RSS of this process, the figure that counts) and the load average before and
// after. --snapshot-at S1,S2 writes a V8 heap snapshot (v8.writeHeapSnapshot) into the current
// directory S1, S2 ... seconds into the operation, to compare what is retained by constructor;
// a snapshot costs time and memory of its own, so runs taking them are not measurements.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { vmHwmKiB } from './vmhwm.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '20000' },
    protocol: { type: 'string', default: 'results' },
    op: { type: 'string', default: 'upload' },
    store: { type: 'string' },
    lib: { type: 'string', default: path.join(repoRoot, 'lib', 'index.js') },
    'snapshot-at': { type: 'string', default: '' },
    via: { type: 'string', default: 'sdk' },
    cli: { type: 'string', default: path.join(repoRoot, 'dist', 'cli.js') },
    quiet: { type: 'boolean', default: false },
  },
});
const count = Number(values.files);
if (!Number.isInteger(count) || count < 1)
  throw new Error(`--files must be a positive integer, not ${values.files}`);
if (!['results', 'legacy'].includes(values.protocol)) throw new Error('--protocol is results or legacy');
if (!['upload', 'download', 'list'].includes(values.op)) throw new Error('--op is upload, download or list');
if (!['sdk', 'cli'].includes(values.via)) throw new Error('--via is sdk or cli');

const base = path.join(repoRoot, '.bench', 'rss-files', String(count));
const root = path.join(base, 'files');
const via = values.via === 'cli' ? '-cli' : '';
const storeDir = path.resolve(values.store ?? path.join(base, `store${via}-${values.protocol}`));
const target = path.join(base, `out${via}-${values.protocol}`);
const TOKEN = 'rss-files-token';
const RUN_ID = '4242';
const NAME = `rss-${count}`;

/** Deterministic 1-4 KiB of source-like text for file `i`. */
function fileText(i) {
  let seed = (i * 2654435761) >>> 0;
  const next = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);
  const size = 1024 + (next() % (3 * 1024));
  const words = ['const', 'value', 'return', 'export', 'function', 'import', 'await', 'result', 'if', 'else'];
  let text = `// file ${i}\n`;
  while (text.length < size) text += `${words[next() % words.length]}${next() % 2 ? ' ' : ';\n'}`;
  return text.slice(0, size);
}

/** Relative paths of the N files, W1-like: ten packages, modules, 1,000 files per directory. */
function relativePaths() {
  const out = [];
  for (let i = 0; i < count; i++) {
    const dir = Math.floor(i / 1000);
    out.push(`src/pkg${dir % 10}/mod${String(dir).padStart(3, '0')}/file${String(i).padStart(6, '0')}.ts`);
  }
  return out;
}

function ensureFiles() {
  const marker = path.join(base, 'complete');
  if (existsSync(marker)) return;
  rmSync(root, { recursive: true, force: true });
  const paths = relativePaths();
  for (let i = 0; i < count; i++) {
    const file = path.join(root, paths[i]);
    if (i % 1000 === 0) mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, fileText(i));
  }
  writeFileSync(marker, `${count}\n`);
}

const MiB = 1024 * 1024;
const mib = (n) => Math.round((n / MiB) * 10) / 10;

/**
 * Before an upload: the files exist and the store is empty. Before a download: the last upload
 * (of the same --via) left a store, and the target is gone.
 */
function prepare() {
  if (values.op === 'upload') {
    ensureFiles();
    rmSync(storeDir, { recursive: true, force: true });
  } else {
    const upload = values.via === 'cli' ? '--op upload --via cli' : '--op upload';
    if (!existsSync(storeDir)) throw new Error(`no store at ${storeDir}: run ${upload} first`);
    rmSync(target, { recursive: true, force: true });
  }
}

/** The caller's list, as bench/child.mjs builds it: absolute paths, built inside the measurement. */
const callersList = () => relativePaths().map((f) => path.join(root, f));

if (values.op === 'list') {
  const started = Date.now();
  const list = callersList();
  const m = process.memoryUsage();
  process.stdout.write(
    `${JSON.stringify({
      files: count,
      op: 'list',
      paths: list.length,
      wallSeconds: (Date.now() - started) / 1000,
      heapUsedMiB: mib(m.heapUsed),
      vmHwmMiB: Math.round((vmHwmKiB() / 1024) * 10) / 10,
    })}\n`,
  );
  process.exit(0);
}

if (values.via === 'cli') {
  await runCli();
  process.exit(0);
}

/**
 * --via cli: the operation by the `ferry` CLI in a child process (and, for legacy, a `ferry serve`
 * in another), each reporting its own peak RSS and CPU through bench/process-report.mjs.
 */
async function runCli() {
  if (!existsSync(values.cli)) throw new Error(`no CLI at ${values.cli}: run npm run build first`);
  const { spawn } = await import('node:child_process');
  const { mkdtempSync } = await import('node:fs');
  const reports = mkdtempSync(path.join(os.tmpdir(), 'rss-files-'));
  const preload = pathToFileURL(path.join(repoRoot, 'bench', 'process-report.mjs')).href;
  // The server's own log lines go nowhere; the client's errors reach the terminal.
  const start = (args, report, options = {}) =>
    spawn(process.execPath, ['--import', preload, values.cli, ...args], {
      ...options,
      env: { ...process.env, FERRY_BENCH_REPORT: path.join(reports, report) },
      stdio: ['ignore', 'pipe', args[0] === 'serve' ? 'ignore' : 'inherit'],
    });
  const exited = (child) =>
    new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => resolve(code ?? signal));
    });
  const readReport = (name) => JSON.parse(readFileSync(path.join(reports, name), 'utf8'));

  prepare();
  let server;
  let where = ['--store', storeDir, '--run-id', RUN_ID];
  if (values.protocol === 'legacy') {
    server = start(
      ['serve', '--port', '0', '--data', storeDir, '--token', TOKEN, '--access-log', 'off'],
      'server.json',
    );
    const url = await new Promise((resolve, reject) => {
      let text = '';
      server.stdout.on('data', (chunk) => {
        text += chunk;
        const found = /https?:\/\/\S+/.exec(text);
        if (found) resolve(found[0]);
      });
      server.on('exit', () => reject(new Error(`ferry serve exited: ${text}`)));
    });
    where = ['--url', url, '--protocol', 'legacy', '--token', TOKEN, '--run-id', RUN_ID];
  }
  const loadBefore = os.loadavg()[0];
  const started = Date.now();
  const client =
    values.op === 'upload'
      ? start(['upload', NAME, '.', ...where, '--quiet', '--json'], 'client.json', { cwd: root })
      : start(['download', NAME, '--path', target, ...where, '--quiet', '--json'], 'client.json');
  let output = '';
  client.stdout.on('data', (chunk) => (output += chunk));
  const code = await exited(client);
  const wallSeconds = (Date.now() - started) / 1000;
  if (server !== undefined) {
    server.kill('SIGINT');
    await exited(server);
  }
  if (code !== 0) throw new Error(`ferry ${values.op} exited with ${code}: ${output}`);
  const result = JSON.parse(output.trim().split('\n').pop());
  const clientReport = readReport('client.json');
  process.stdout.write(
    `${JSON.stringify({
      files: count,
      protocol: values.protocol,
      op: values.op,
      via: 'cli',
      fileCount: result.fileCount ?? result.downloads?.[0]?.fileCount ?? null,
      wallSeconds,
      ...clientReport,
      ...(server !== undefined ? { server: readReport('server.json') } : {}),
      load: [loadBefore, os.loadavg()[0]].map((l) => Math.round(l * 10) / 10),
    })}\n`,
  );
  rmSync(reports, { recursive: true, force: true });
}

prepare();
const ferry = await import(pathToFileURL(path.resolve(values.lib)).href);

const peaks = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
const sample = () => {
  const m = process.memoryUsage();
  for (const key of Object.keys(peaks)) peaks[key] = Math.max(peaks[key], m[key]);
  return m;
};
const snapshotAt = values['snapshot-at']
  .split(',')
  .filter((s) => s.trim() !== '')
  .map(Number);
const loadBefore = os.loadavg()[0];
const cpuBefore = process.cpuUsage();
const started = Date.now();
const sampler = setInterval(sample, 20);
const reporter = setInterval(() => {
  const m = sample();
  const seconds = (Date.now() - started) / 1000;
  if (!values.quiet)
    process.stderr.write(
      `${seconds.toFixed(0)} s: rss ${mib(m.rss)} heapUsed ${mib(m.heapUsed)} external ${mib(m.external)} arrayBuffers ${mib(m.arrayBuffers)} MiB\n`,
    );
  while (snapshotAt.length > 0 && seconds >= snapshotAt[0]) {
    snapshotAt.shift();
    process.stderr.write(`heap snapshot: ${v8.writeHeapSnapshot()}\n`);
  }
}, 2000);

const run = async (options) =>
  values.op === 'upload'
    ? ferry.uploadArtifact(NAME, callersList(), root, options)
    : ferry.downloadArtifact(NAME, { ...options, path: target });

let result;
if (values.protocol === 'results') {
  result = await run({ backend: 'local', localStore: storeDir, runId: RUN_ID });
} else {
  const server = await ferry.startServer({ dataDir: storeDir, host: '127.0.0.1', port: 0, token: TOKEN });
  try {
    result = await run({ backend: 'legacy', runtimeUrl: server.url, runtimeToken: TOKEN, runId: RUN_ID });
  } finally {
    await server.close();
  }
}
clearInterval(sampler);
clearInterval(reporter);
sample();
const cpu = process.cpuUsage(cpuBefore);
process.stdout.write(
  `${JSON.stringify({
    files: count,
    protocol: values.protocol,
    op: values.op,
    fileCount: result.fileCount,
    wallSeconds: (Date.now() - started) / 1000,
    cpuUserSeconds: cpu.user / 1e6,
    cpuSystemSeconds: cpu.system / 1e6,
    peakSampledMiB: Object.fromEntries(Object.entries(peaks).map(([k, v]) => [k, mib(v)])),
    vmHwmMiB: Math.round((vmHwmKiB() / 1024) * 10) / 10,
    load: [loadBefore, os.loadavg()[0]].map((l) => Math.round(l * 10) / 10),
  })}\n`,
);
