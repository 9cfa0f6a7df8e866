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
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite } from './azurite.mjs';

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
const bin = path.join(repoRoot, 'lib', 'cli', 'bin.js');
const RUN = 'real-actions-run';
const JOB = 'real-actions-job';
// An unsigned runtime token with the results scope, as act mints them: the actions read the run
// and job from it. The server runs without --token on loopback, so it checks no signature.
const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
const TOKEN = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ scp: `Actions.Results:${RUN}:${JOB}`, ac: '[]' })}.c2ln`;

/** Starts `ferry serve` with the given store arguments; resolves with its URL and a stop function. */
async function serve(args, env) {
  const child = spawn(process.execPath, [bin, 'serve', '--access-log', 'off', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  process.once('exit', () => child.kill());
  const diagnostics = [];
  createInterface({ input: child.stderr }).on('line', (line) => diagnostics.push(line));
  const url = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) =>
      reject(new Error(`ferry serve exited with ${code}: ${diagnostics.join('\n')}`)),
    );
  });
  const stop = () =>
    new Promise((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
  return { url: url.trim().replace(/\/+$/, ''), stop, diagnostics };
}

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

/** A small tree: nested directories, an empty file, a unicode name, a 6 MiB random file. */
async function writeSource(dir, seed) {
  await mkdir(path.join(dir, 'nested', 'deeper'), { recursive: true });
  await writeFile(path.join(dir, 'readme.txt'), `seed ${seed}\n`.repeat(100));
  await writeFile(path.join(dir, 'empty.txt'), '');
  await writeFile(path.join(dir, 'nested', 'ünïcode name.json'), JSON.stringify({ seed }));
  await writeFile(path.join(dir, 'nested', 'deeper', 'random.bin'), randomBytes(6 * 1024 * 1024));
  for (let i = 0; i < 50; i += 1)
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

async function exercise(store, url, work) {
  const sources = [];
  for (const name of ['first', 'second']) {
    const dir = path.join(work, `source-${name}`);
    await writeSource(dir, `${store}-${name}`);
    sources.push({ name: `real-${name}`, dir, tree: await hashTree(dir) });
  }
  for (const { name, dir } of sources) {
    const up = await runAction(values.upload, { ...uploadDefaults, name, path: dir }, url, work);
    // GITHUB_OUTPUT holds `name<<DELIMITER`, the value, then the delimiter.
    const id = /artifact-id<<\S+\n(\d+)\n/.exec(up.outputs)?.[1];
    report(
      store,
      `upload ${name} (${up.seconds.toFixed(2)} s)`,
      up.code === 0 && Boolean(id),
      up.code === 0 ? `id ${id}` : tail(up.log),
    );
  }
  // The same name again with overwrite: the action deletes the old artifact first.
  const again = await runAction(
    values.upload,
    { ...uploadDefaults, name: sources[0].name, path: sources[0].dir, overwrite: 'true' },
    url,
    work,
  );
  report(
    store,
    `upload ${sources[0].name} again, overwrite (${again.seconds.toFixed(2)} s)`,
    again.code === 0,
    again.code ? tail(again.log) : '',
  );
  const dup = await runAction(
    values.upload,
    { ...uploadDefaults, name: sources[1].name, path: sources[1].dir },
    url,
    work,
  );
  report(
    store,
    'upload of an existing name without overwrite fails',
    dup.code !== 0,
    dup.code === 0 ? 'it succeeded' : '',
  );

  const one = path.join(work, 'download-one');
  const down = await runAction(
    values.download,
    { ...downloadDefaults, name: sources[0].name, path: one },
    url,
    work,
  );
  const diff = down.code === 0 ? sameTree(sources[0].tree, await hashTree(one)) : tail(down.log);
  report(store, `download ${sources[0].name} (${down.seconds.toFixed(2)} s)`, down.code === 0 && !diff, diff);

  const all = path.join(work, 'download-all');
  const every = await runAction(values.download, { ...downloadDefaults, path: all }, url, work);
  let allDiff = every.code === 0 ? '' : tail(every.log);
  if (!allDiff) {
    for (const { name, tree } of sources) {
      const d = sameTree(tree, await hashTree(path.join(all, name)));
      if (d) allDiff = `${name}: ${d}`;
    }
  }
  report(store, `download all (${every.seconds.toFixed(2)} s)`, every.code === 0 && !allDiff, allDiff);

  // Across implementations: Ferry's own Action bundles (dist/), run the same way.
  const ferryUpload = path.join(repoRoot, 'dist', 'upload.js');
  const ferryDownload = path.join(repoRoot, 'dist', 'download.js');
  const fup = await runAction(
    ferryUpload,
    { ...uploadDefaults, name: 'ferry-made', path: sources[1].dir },
    url,
    work,
  );
  report(
    store,
    `Ferry Action upload (${fup.seconds.toFixed(2)} s)`,
    fup.code === 0,
    fup.code ? tail(fup.log) : '',
  );
  const realGot = path.join(work, 'real-got-ferry');
  const rdown = await runAction(
    values.download,
    { ...downloadDefaults, name: 'ferry-made', path: realGot },
    url,
    work,
  );
  const rdiff = rdown.code === 0 ? sameTree(sources[1].tree, await hashTree(realGot)) : tail(rdown.log);
  report(
    store,
    `real download of Ferry's upload (${rdown.seconds.toFixed(2)} s)`,
    rdown.code === 0 && !rdiff,
    rdiff,
  );
  const ferryGot = path.join(work, 'ferry-got-real');
  const fdown = await runAction(
    ferryDownload,
    { ...downloadDefaults, name: sources[0].name, path: ferryGot },
    url,
    work,
  );
  const fdiff = fdown.code === 0 ? sameTree(sources[0].tree, await hashTree(ferryGot)) : tail(fdown.log);
  report(
    store,
    `Ferry Action download of the real upload (${fdown.seconds.toFixed(2)} s)`,
    fdown.code === 0 && !fdiff,
    fdiff,
  );

  const missing = await runAction(
    values.download,
    { ...downloadDefaults, name: 'no-such-artifact', path: path.join(work, 'x') },
    url,
    work,
  );
  report(
    store,
    'download of a missing name fails',
    missing.code !== 0,
    missing.code === 0 ? 'it succeeded' : '',
  );
}

/**
 * upload-artifact v3.2.1 and download-artifact v3.1.0 (their own dist/, @actions/artifact 1.x,
 * the legacy protocol), crossing over with Ferry's Action bundles on the same protocol.
 */
async function exerciseV3(store, url, work) {
  const up3 = values['v3-upload'];
  const down3 = values['v3-download'];
  const v3Upload = { 'if-no-files-found': 'warn', 'retention-days': '0', 'include-hidden-files': 'false' };
  const sources = [];
  for (const name of ['first', 'second']) {
    const dir = path.join(work, `v3-source-${name}`);
    await writeSource(dir, `${store}-v3-${name}`);
    sources.push({ name: `v3-${name}`, dir, tree: await hashTree(dir) });
  }
  for (const { name, dir } of sources) {
    const up = await runAction(up3, { ...v3Upload, name, path: dir }, url, work, 'legacy');
    report(
      store,
      `v3 upload ${name} (${up.seconds.toFixed(2)} s)`,
      up.code === 0,
      up.code ? tail(up.log) : '',
    );
  }
  const one = path.join(work, 'v3-download-one');
  const down = await runAction(down3, { name: sources[0].name, path: one }, url, work, 'legacy');
  const diff = down.code === 0 ? sameTree(sources[0].tree, await hashTree(one)) : tail(down.log);
  report(
    store,
    `v3 download ${sources[0].name} (${down.seconds.toFixed(2)} s)`,
    down.code === 0 && !diff,
    diff,
  );
  const all = path.join(work, 'v3-download-all');
  const every = await runAction(down3, { path: all }, url, work, 'legacy');
  let allDiff = every.code === 0 ? '' : tail(every.log);
  if (!allDiff) {
    for (const { name, tree } of sources) {
      const d = sameTree(tree, await hashTree(path.join(all, name)));
      if (d) allDiff = `${name}: ${d}`;
    }
  }
  report(store, `v3 download all (${every.seconds.toFixed(2)} s)`, every.code === 0 && !allDiff, allDiff);
  const ferryUpload = path.join(repoRoot, 'dist', 'upload.js');
  const ferryDownload = path.join(repoRoot, 'dist', 'download.js');
  const fup = await runAction(
    ferryUpload,
    { ...uploadDefaults, name: 'ferry-legacy', path: sources[1].dir },
    url,
    work,
    'legacy',
  );
  report(
    store,
    `Ferry Action upload, legacy (${fup.seconds.toFixed(2)} s)`,
    fup.code === 0,
    fup.code ? tail(fup.log) : '',
  );
  const got = path.join(work, 'v3-got-ferry');
  const rdown = await runAction(down3, { name: 'ferry-legacy', path: got }, url, work, 'legacy');
  const rdiff = rdown.code === 0 ? sameTree(sources[1].tree, await hashTree(got)) : tail(rdown.log);
  report(
    store,
    `v3 download of Ferry's upload (${rdown.seconds.toFixed(2)} s)`,
    rdown.code === 0 && !rdiff,
    rdiff,
  );
  const fgot = path.join(work, 'ferry-got-v3');
  const fdown = await runAction(
    ferryDownload,
    { ...downloadDefaults, name: sources[0].name, path: fgot },
    url,
    work,
    'legacy',
  );
  const fdiff = fdown.code === 0 ? sameTree(sources[0].tree, await hashTree(fgot)) : tail(fdown.log);
  report(
    store,
    `Ferry Action download of the v3 upload (${fdown.seconds.toFixed(2)} s)`,
    fdown.code === 0 && !fdiff,
    fdiff,
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
      const server = await serve(args, env);
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
