#!/usr/bin/env node
// The real actions/upload-artifact (v7) and actions/download-artifact (v8) against `ferry serve`,
// run the way a runner runs a JavaScript action: `node <bundle>` with the action's inputs as
// INPUT_* variables (defaults from its action.yml), the runtime token and URLs in the environment,
// and step outputs in the file GITHUB_OUTPUT names. One pass per store: filesystem, azure_blob on
// Azurite, and fast_slow (a filesystem cache in front of that Azurite container).
//
// The bundles are not in this repository and cannot be downloaded by a test: build them from the
// actions' own sources (their lockfiles pin @actions/artifact), e.g.
//   git clone https://github.com/actions/upload-artifact ua && cd ua && npm ci &&
//   npx ncc build src/upload/index.ts -o dist/upload
//   git clone https://github.com/actions/download-artifact da && cd da && npm ci &&
//   npx ncc build src/download-artifact.ts -o dist
// then: node bench/real-actions.mjs --upload ua/dist/upload/index.js --download da/dist/index.js
// (after `npm run build`: it runs lib/cli/bin.js serve). Prints one line per step and exits 1 if any
// step failed; the byte-for-byte comparison of what was downloaded is the pass criterion.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite } from './azurite.mjs';
import { startFerryServe } from './ferry-serve.mjs';
import { runtimeToken } from './runtime-token.mjs';

const { values } = parseArgs({
  options: {
    upload: { type: 'string' },
    download: { type: 'string' },
    stores: { type: 'string', default: 'filesystem,azure_blob,fast_slow' },
    'v3-upload': { type: 'string' },
    'v3-download': { type: 'string' },
  },
});
if (!values.upload || !values.download) {
  console.error(
    'usage: node bench/real-actions.mjs --upload UPLOAD_BUNDLE --download DOWNLOAD_BUNDLE [--stores a,b]',
  );
  process.exit(2);
}
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUN = 'real-actions-run';
const JOB = 'real-actions-job';
// An unsigned runtime token with the results scope, as act mints them: the actions read the run
// and job from it. The server runs without --token on loopback, so it checks no signature.
const TOKEN = runtimeToken(RUN, JOB, { ac: '[]' });

/**
 * Runs an action bundle as the runner does; resolves with its exit code, log and outputs. On the
 * legacy protocol (the v3 actions) the runner sets no ACTIONS_RESULTS_URL.
 */
async function runAction(bundle, inputs, url, work, protocol = 'results') {
  const outputFile = path.join(work, `output-${randomBytes(4).toString('hex')}`);
  await writeFile(outputFile, '');
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ACTIONS_RUNTIME_TOKEN: TOKEN,
    ACTIONS_RESULTS_URL: `${url}/`,
    ACTIONS_RUNTIME_URL: `${url}/`,
    GITHUB_OUTPUT: outputFile,
    GITHUB_WORKSPACE: work,
    GITHUB_REPOSITORY: 'ferry/real-actions',
    GITHUB_RUN_ID: '1',
    GITHUB_SERVER_URL: 'https://github.com',
    RUNNER_TEMP: work,
  };
  if (protocol === 'legacy') delete env.ACTIONS_RESULTS_URL;
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [bundle], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const outputs = await readFile(outputFile, 'utf8');
  return { code, log, outputs, seconds };
}

/** Relative path → sha256 of every file under dir. */
async function hashTree(dir) {
  const result = new Map();
  async function walk(current) {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) await walk(full);
      else
        result.set(
          path.relative(dir, full),
          createHash('sha256')
            .update(await readFile(full))
            .digest('hex'),
        );
    }
  }
  await walk(dir);
  return result;
}

function sameTree(a, b) {
  if (a.size !== b.size) return `${a.size} files uploaded, ${b.size} downloaded`;
  for (const [name, digest] of a) if (b.get(name) !== digest) return `${name} differs or is missing`;
  return '';
}

/**
 * A small tree: nested directories, an empty file, a unicode name, a 6 MiB random file, and 400
 * small files, past the 256 small entries after which Ferry's zip reader hands them to its worker
 * thread (src/pack/zip/small-entry-batches.ts).
 */
async function writeSource(dir, seed) {
  await mkdir(path.join(dir, 'nested', 'deeper'), { recursive: true });
  await writeFile(path.join(dir, 'readme.txt'), `seed ${seed}\n`.repeat(100));
  await writeFile(path.join(dir, 'empty.txt'), '');
  await writeFile(path.join(dir, 'nested', 'ünïcode name.json'), JSON.stringify({ seed }));
  await writeFile(path.join(dir, 'nested', 'deeper', 'random.bin'), randomBytes(6 * 1024 * 1024));
  for (let i = 0; i < 400; i += 1)
    await writeFile(path.join(dir, 'nested', `small-${i}.log`), `line ${i}\n`.repeat(i));
}

const uploadDefaults = {
  'if-no-files-found': 'warn',
  'retention-days': '0',
  'compression-level': '6',
  overwrite: 'false',
  'include-hidden-files': 'false',
  archive: 'true',
};
const downloadDefaults = {
  repository: 'ferry/real-actions',
  'run-id': '1',
  'merge-multiple': 'false',
  'skip-decompress': 'false',
  'digest-mismatch': 'error',
};

let failed = 0;
function report(store, step, ok, detail) {
  if (!ok) failed += 1;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${store.padEnd(10)} ${step}${detail ? `: ${detail}` : ''}`);
}

/**
 * The steps of one pass, bound to a store, a server and a protocol. Each step runs one action
 * and reports one line: `upload` must succeed, `refused` must fail, `download` must succeed and
 * deliver `expect` (artifact name → tree of the source), each under `path/<name>` when there are
 * several, else in `path`.
 */
function steps(store, url, work, protocol) {
  return {
    async upload(label, bundle, inputs) {
      const run = await runAction(bundle, inputs, url, work, protocol);
      // GITHUB_OUTPUT holds `name<<DELIMITER`, the value, then the delimiter (v4+ only).
      const id = /artifact-id<<\S+\n(\d+)\n/.exec(run.outputs)?.[1];
      const detail = run.code !== 0 ? tail(run.log) : id ? `id ${id}` : '';
      report(store, `${label} (${run.seconds.toFixed(2)} s)`, run.code === 0, detail);
    },
    async refused(label, bundle, inputs) {
      const run = await runAction(bundle, inputs, url, work, protocol);
      report(store, label, run.code !== 0, run.code === 0 ? 'it succeeded' : '');
    },
    async download(label, bundle, inputs, expect) {
      const run = await runAction(bundle, inputs, url, work, protocol);
      let diff = run.code === 0 ? '' : tail(run.log);
      const several = expect.length > 1;
      for (const { name, tree } of run.code === 0 ? expect : []) {
        const got = await hashTree(several ? path.join(inputs.path, name) : inputs.path);
        const d = sameTree(tree, got);
        if (d) diff = `${name}: ${d}`;
      }
      report(store, `${label} (${run.seconds.toFixed(2)} s)`, run.code === 0 && !diff, diff);
    },
  };
}

async function sourcesFor(work, prefix, seed) {
  const sources = [];
  for (const name of ['first', 'second']) {
    const dir = path.join(work, `${prefix}source-${name}`);
    await writeSource(dir, `${seed}-${name}`);
    sources.push({ name: `${prefix}${name}`, dir, tree: await hashTree(dir) });
  }
  return sources;
}

// Ferry's own Action bundles (dist/), run the same way, for the steps across implementations.
const ferryUpload = path.join(repoRoot, 'dist', 'upload.js');
const ferryDownload = path.join(repoRoot, 'dist', 'download.js');

/** upload-artifact v7 and download-artifact v8 (the results protocol). */
async function exercise(store, url, work) {
  const step = steps(store, url, work, 'results');
  const [first, second] = await sourcesFor(work, 'real-', store);
  const up = (source, extra = {}) => ({ ...uploadDefaults, name: source.name, path: source.dir, ...extra });
  const down = (name, dir) => ({
    ...downloadDefaults,
    ...(name ? { name } : {}),
    path: path.join(work, dir),
  });
  await step.upload(`upload ${first.name}`, values.upload, up(first));
  await step.upload(`upload ${second.name}`, values.upload, up(second));
  // The same name again with overwrite: the action deletes the old artifact first.
  await step.upload(`upload ${first.name} again, overwrite`, values.upload, up(first, { overwrite: 'true' }));
  await step.refused('upload of an existing name without overwrite fails', values.upload, up(second));
  await step.download(`download ${first.name}`, values.download, down(first.name, 'one'), [first]);
  await step.download('download all', values.download, down(undefined, 'all'), [first, second]);
  await step.upload('Ferry Action upload', ferryUpload, up({ ...second, name: 'ferry-made' }));
  await step.download("real download of Ferry's upload", values.download, down('ferry-made', 'real-got'), [
    { ...second, name: 'ferry-made' },
  ]);
  await step.download(
    'Ferry Action download of the real upload',
    ferryDownload,
    down(first.name, 'ferry-got'),
    [first],
  );
  await step.refused('download of a missing name fails', values.download, down('no-such-artifact', 'x'));
}

/**
 * upload-artifact v3.2.1 and download-artifact v3.1.0 (their own dist/, @actions/artifact 1.x,
 * the legacy protocol), crossing over with Ferry's Action bundles on the same protocol.
 */
async function exerciseV3(store, url, work) {
  const step = steps(store, url, work, 'legacy');
  const [up3, down3] = [values['v3-upload'], values['v3-download']];
  const [first, second] = await sourcesFor(work, 'v3-', `${store}-v3`);
  const v3Upload = { 'if-no-files-found': 'warn', 'retention-days': '0', 'include-hidden-files': 'false' };
  const down = (name, dir) => ({ ...(name ? { name } : {}), path: path.join(work, dir) });
  await step.upload(`v3 upload ${first.name}`, up3, { ...v3Upload, name: first.name, path: first.dir });
  await step.upload(`v3 upload ${second.name}`, up3, { ...v3Upload, name: second.name, path: second.dir });
  await step.download(`v3 download ${first.name}`, down3, down(first.name, 'v3-one'), [first]);
  await step.download('v3 download all', down3, down(undefined, 'v3-all'), [first, second]);
  await step.upload('Ferry Action upload, legacy', ferryUpload, {
    ...uploadDefaults,
    name: 'ferry-legacy',
    path: second.dir,
  });
  await step.download("v3 download of Ferry's upload", down3, down('ferry-legacy', 'v3-got'), [
    { ...second, name: 'ferry-legacy' },
  ]);
  await step.download(
    'Ferry Action download of the v3 upload',
    ferryDownload,
    { ...downloadDefaults, ...down(first.name, 'ferry-got-v3') },
    [first],
  );
}

const tail = (log) => log.trim().split('\n').slice(-3).join(' | ').slice(0, 400);

async function main() {
  const stores = values.stores.split(',');
  const needsAzure = stores.some((s) => s !== 'filesystem');
  const azurite = needsAzure ? await startAzurite(repoRoot) : undefined;
  try {
    for (const store of stores) {
      const work = await mkdtemp(path.join(os.tmpdir(), `ferry-real-actions-${store}-`));
      const data = path.join(work, 'data');
      let args;
      let env = {};
      if (store === 'filesystem') args = ['--data', data];
      else if (store === 'azure_blob') {
        args = ['--data', data, '--store', `azure://real-actions-${Date.now()}`];
        env = { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString };
      } else if (store === 'fast_slow') {
        // A configured azure_blob container must exist (a typo fails at start): create it.
        const container = `real-actions-fs-${Date.now()}`;
        await BlobServiceClient.fromConnectionString(azurite.connectionString)
          .getContainerClient(container)
          .create();
        const config = {
          stores: {
            cache: { filesystem: { path: path.join(work, 'cache') } },
            az: { azure_blob: { container } },
            main: { fast_slow: { fast: 'cache', slow: 'az' } },
          },
          store: 'main',
        };
        await writeFile(path.join(work, 'serve.json'), JSON.stringify(config));
        args = ['--config', path.join(work, 'serve.json')];
        env = { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString };
      } else throw new Error(`unknown store ${store}`);
      const server = await startFerryServe(['--access-log', 'off', ...args], env);
      try {
        await exercise(store, server.url, work);
        if (values['v3-upload'] && values['v3-download']) await exerciseV3(store, server.url, work);
      } finally {
        await server.stop();
        await rm(work, { recursive: true, force: true });
      }
    }
  } finally {
    await azurite?.stop();
  }
  console.log(`${failed === 0 ? 'all steps passed' : `${failed} step(s) failed`}`);
  process.exitCode = failed === 0 ? 0 : 1;
}

await stat(values.upload);
await stat(values.download);
await main();
