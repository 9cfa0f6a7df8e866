// Peak memory of one many-small-files operation through the embedded store (issue 12 item 5),
// in this one process: client and server together, as the `ferry` CLI runs them.
//
//   node bench/rss-files.mjs --files 20000 --protocol results --op upload   [--store DIR]
//   node bench/rss-files.mjs --files 20000 --protocol results --op download [--store DIR]
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

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '20000' },
    protocol: { type: 'string', default: 'results' },
    op: { type: 'string', default: 'upload' },
    store: { type: 'string' },
    lib: { type: 'string', default: path.join(repoRoot, 'lib', 'index.js') },
    'snapshot-at': { type: 'string', default: '' },
    quiet: { type: 'boolean', default: false },
  },
});
const count = Number(values.files);
if (!Number.isInteger(count) || count < 1)
  throw new Error(`--files must be a positive integer, not ${values.files}`);
if (!['results', 'legacy'].includes(values.protocol)) throw new Error('--protocol is results or legacy');
if (!['upload', 'download'].includes(values.op)) throw new Error('--op is upload or download');

const base = path.join(repoRoot, '.bench', 'rss-files', String(count));
const root = path.join(base, 'files');
const storeDir = path.resolve(values.store ?? path.join(base, `store-${values.protocol}`));
const target = path.join(base, `out-${values.protocol}`);
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

function vmHwmKiB() {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) : NaN;
}

const MiB = 1024 * 1024;
const mib = (n) => Math.round((n / MiB) * 10) / 10;

if (values.op === 'upload') {
  ensureFiles();
  rmSync(storeDir, { recursive: true, force: true });
} else {
  if (!existsSync(storeDir)) throw new Error(`no store at ${storeDir}: run --op upload first`);
  rmSync(target, { recursive: true, force: true });
}
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

// The caller's list, as bench/child.mjs builds it: absolute paths, built inside the measurement.
const run = async (options) =>
  values.op === 'upload'
    ? ferry.uploadArtifact(
        NAME,
        relativePaths().map((f) => path.join(root, f)),
        root,
        options,
      )
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
