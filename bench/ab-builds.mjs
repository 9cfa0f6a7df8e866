#!/usr/bin/env node
// Two builds of Ferry side by side on one workload download, interleaved: on a machine whose wall
// times move by 2x between runs minutes apart, one `npm run bench` per build compares the machine
// with itself, not the builds. Here one `ferry serve` (from the --new build) holds the artifact,
// and each repetition runs one download with each build (order alternating), each in its own
// child process (bench/child.mjs: CPU and peak RSS of that child only), right after the previous
// download's files were deleted and the disk settled.
//
//   npm run build && git worktree add /tmp/old <rev> && (cd /tmp/old && npm ci && npx tsc -p tsconfig.build.json)
//   node bench/ab-builds.mjs --old /tmp/old/lib/index.js [--new lib/index.js] [--workload W1]
//        [--protocol results|legacy] [--repeat 8] [--load idle|busy|churn] [--keep-targets]
//
// --load busy keeps one core busy with a sha256 loop; churn runs a process that creates and
// deletes 5,000 small files in a loop (a neighbour's disk work). --keep-targets keeps every
// download until the end instead of deleting it before the next one (no fresh deletes for the
// disk to write back). Prints, per build, the median and
// every wall time, the median client CPU (user / system) and the median peak RSS.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { runtimeToken } from './runtime-token.mjs';
import { WORKLOADS, ensureWorkload } from './workloads.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    old: { type: 'string' },
    new: { type: 'string', default: path.join(REPO, 'lib', 'index.js') },
    workload: { type: 'string', default: 'W1' },
    protocol: { type: 'string', default: 'results' },
    repeat: { type: 'string', default: '8' },
    load: { type: 'string', default: 'idle' },
    'keep-targets': { type: 'boolean', default: false },
  },
});
if (!values.old) throw new Error('--old: the index.js of the build to compare against');
if (!(values.workload in WORKLOADS))
  throw new Error(`--workload: one of ${Object.keys(WORKLOADS).join(', ')}`);
if (!['results', 'legacy'].includes(values.protocol)) throw new Error('--protocol: results or legacy');
if (!['idle', 'busy', 'churn'].includes(values.load)) throw new Error('--load: idle, busy or churn');
const repeat = Number(values.repeat);
if (!Number.isInteger(repeat) || repeat < 1) throw new Error('--repeat: a positive integer');

const builds = { old: path.resolve(values.old), new: path.resolve(values.new) };
const TOKEN = runtimeToken('ab-run', 'ab-job');
const workload = ensureWorkload(values.workload, 1, path.join(REPO, '.bench'), (line) =>
  process.stderr.write(`[ab] ${line}\n`),
);
const client = values.protocol === 'results' ? 'ferry-results' : 'ferry';
const ferry = await import(pathToFileURL(builds.new).href);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ferry-ab-'));
const server = await ferry.startServer({
  dataDir: path.join(tmp, 'data'),
  port: 0,
  host: '127.0.0.1',
  token: TOKEN,
});
const common = { runtimeToken: TOKEN };
const protocolOptions =
  values.protocol === 'results'
    ? { backend: 'results', resultsUrl: server.url }
    : { backend: 'legacy', runtimeUrl: server.url, runId: '1' };
await ferry.uploadArtifact(
  'ab',
  workload.files.map((f) => path.join(workload.root, f.path)),
  workload.root,
  { ...common, ...protocolOptions },
);

const LOADS = {
  busy: "const c=require('crypto');const b=Buffer.alloc(1<<20);for(;;)c.createHash('sha256').update(b).digest()",
  churn: `const fs=require('fs');const d=${JSON.stringify(path.join(tmp, 'churn'))};for(;;){fs.mkdirSync(d,{recursive:true});for(let i=0;i<5000;i++)fs.writeFileSync(d+'/'+i,'x'.repeat(2000));fs.rmSync(d,{recursive:true});}`,
};
const load =
  values.load in LOADS ? spawn(process.execPath, ['-e', LOADS[values.load]], { stdio: 'ignore' }) : undefined;

/** One download by one build in a child; resolves with the child's result line. */
function download(which, target) {
  const spec = {
    workload: values.workload,
    client,
    op: 'download',
    name: 'ab',
    runtimeUrl: server.url,
    token: TOKEN,
    runId: '1',
    lib: builds[which],
    target,
    resultFile: path.join(tmp, 'result.json'),
  };
  const specFile = path.join(tmp, 'spec.json');
  writeFileSync(specFile, JSON.stringify(spec));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO, 'bench', 'child.mjs'), specFile], {
      cwd: REPO,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('close', () => {
      try {
        const result = JSON.parse(readFileSync(spec.resultFile, 'utf8'));
        if (result.ok === false) reject(new Error(`${which}: ${result.error}`));
        else resolve(result);
      } catch (error) {
        reject(error);
      }
    });
  });
}

const results = { old: [], new: [] };
try {
  for (let i = 0; i < repeat; i++) {
    for (const which of i % 2 === 0 ? ['old', 'new'] : ['new', 'old']) {
      const target = path.join(tmp, `target-${which}-${i}`);
      spawnSync('sync');
      results[which].push(await download(which, target));
      if (!values['keep-targets']) rmSync(target, { recursive: true, force: true });
    }
  }
} finally {
  load?.kill();
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
}

const median = (list) => [...list].sort((a, b) => a - b)[list.length >> 1];
console.log(
  `${values.workload} ${values.protocol} download, load ${values.load}, ${repeat} runs each, order alternating` +
    (values['keep-targets'] ? ', targets kept' : ', each target deleted before the next download'),
);
for (const which of ['old', 'new']) {
  const rs = results[which];
  console.log(
    `${which.padEnd(3)} ${builds[which]}: median ${median(rs.map((r) => r.wallSeconds)).toFixed(2)} s ` +
      `[${rs.map((r) => r.wallSeconds.toFixed(2)).join(' ')}], CPU user / sys ` +
      `${median(rs.map((r) => r.cpuUserSeconds)).toFixed(2)} / ${median(rs.map((r) => r.cpuSystemSeconds)).toFixed(2)} s, ` +
      `peak RSS ${median(rs.map((r) => r.maxRssMiB)).toFixed(0)} MiB`,
  );
}
