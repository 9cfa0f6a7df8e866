// Child process for the resource-exhaustion cases (__tests__/reliability/resources.test.ts).
// It runs a list of Ferry operations against the library compiled from src/ (FERRY_LIBRARY) under whatever limits the
// parent gave it (`ulimit -n`, `--max-old-space-size`, a small tmpfs) and prints one JSON line:
// each operation's result or typed error, the peak number of open fds it sampled from
// /proc/self/fd, the fd count before and after, and the peak RSS.
//
// Usage: node ops.mjs '<json spec>'
//   spec = { ops: Op[], sampleFdsMs?: number, waitForGo?: boolean }
//   Op   = { op: 'upload', name, dir, options? }          every regular file under dir, root = dir
//        | { op: 'download', name, path, options? }
//        | { op: 'list', options? }
//        | { op: 'downloadMany', path, options? }          downloadArtifacts of every artifact
//        | { op: 'tree', dir }                               every entry under dir (sha256 of files)
//   (a tree op runs inside the child because a tmpfs mounted in its own mount namespace is
//   invisible to the parent)
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { inspect } from 'node:util';

// The parent passes the library compiled from the current src/ (__tests__/helpers/built-lib.ts).
const lib = await import(pathToFileURL(process.env.FERRY_LIBRARY ?? 'FERRY_LIBRARY is not set').href);
const spec = JSON.parse(process.argv[2] ?? '{}');

/**
 * This process's own peak RSS: VmHWM of its address space. Not resourceUsage().maxRSS, which a
 * child spawned by vfork+exec inherits from its parent's address space (a jest worker's few
 * hundred MiB) and so reports the parent's peak, not ours.
 */
function peakRssKiB() {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) : process.resourceUsage().maxRSS;
}

function openFds() {
  try {
    // readdirSync itself holds one descriptor while it reads; do not count it.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    // At the limit even this read fails with EMFILE: that is the limit itself.
    return -1;
  }
}

let peakFds = openFds();
const sampler = setInterval(() => {
  const now = openFds();
  if (now > peakFds) peakFds = now;
}, spec.sampleFdsMs ?? 5);
sampler.unref();

async function listFiles(dir) {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath ?? e.path, e.name));
}

async function tree(dir) {
  const out = {};
  let entries;
  try {
    entries = await readdir(dir, { recursive: true });
  } catch (error) {
    return { '!': String(error?.code ?? error) };
  }
  for (const rel of entries.sort()) {
    const full = path.join(dir, rel);
    const info = await lstat(full);
    out[rel] = info.isFile()
      ? createHash('sha256')
          .update(await readFile(full))
          .digest('hex')
      : info.isDirectory()
        ? 'dir'
        : 'other';
  }
  return out;
}

function describeError(error) {
  const cause = error && typeof error === 'object' ? error.cause : undefined;
  return {
    name: error?.name,
    code: error?.code,
    message: String(error?.message ?? error),
    retryable: error?.retryable,
    context: error?.context,
    causeCode: cause && typeof cause === 'object' ? cause.code : undefined,
    isFerryError: lib.isFerryError(error),
    // Every way a user or a log could see the error, for the parent's secret check (I6).
    rendered: [
      (() => {
        try {
          return JSON.stringify(error);
        } catch {
          return '';
        }
      })(),
      inspect(error, { depth: 10, showHidden: true }),
      String(error),
      error?.stack ?? '',
    ].join('\n'),
  };
}

async function run(op) {
  switch (op.op) {
    case 'upload': {
      const files = await listFiles(op.dir);
      const r = await lib.uploadArtifact(op.name, files, op.dir, op.options ?? {});
      return { fileCount: r.fileCount, size: r.size, digest: r.digest, id: r.id, backend: r.backend };
    }
    case 'download': {
      const r = await lib.downloadArtifact(op.name, { path: op.path, ...(op.options ?? {}) });
      return { fileCount: r.fileCount, size: r.size, digest: r.digest };
    }
    case 'list': {
      const r = await lib.listArtifacts(op.options ?? {});
      return { count: r.length };
    }
    case 'downloadMany': {
      const r = await lib.downloadArtifacts({ path: op.path, ...(op.options ?? {}) });
      return { count: r.downloads.length, fileCount: r.downloads.reduce((n, d) => n + d.fileCount, 0) };
    }
    case 'tree':
      return { tree: await tree(op.dir) };
    default:
      throw new Error(`unknown op ${op.op}`);
  }
}

// With `waitForGo`, the parent lowers this process's fd limit (prlimit) once everything is
// loaded: Node's ESM loader opens many module files at once, so a limit of 32 from the start
// fails before Ferry runs at all, which would test Node, not Ferry.
if (spec.waitForGo) {
  process.stdout.write('READY\n');
  await new Promise((resolve) => {
    process.stdin.once('data', resolve);
  });
  process.stdin.pause();
  process.stdin.destroy();
}

const results = [];
const fdsBefore = openFds();
for (const op of spec.ops ?? []) {
  const started = Date.now();
  const fdsAtStart = openFds();
  try {
    const value = await run(op);
    results.push({ op: op.op, ok: true, value, ms: Date.now() - started, fdsAtStart, fdsAtEnd: openFds() });
  } catch (error) {
    results.push({
      op: op.op,
      ok: false,
      error: describeError(error),
      ms: Date.now() - started,
      fdsAtStart,
      fdsAtEnd: openFds(),
    });
  }
}
// Let sockets that closed at the end of the last operation finish closing before counting.
await new Promise((resolve) => setTimeout(resolve, 50));
clearInterval(sampler);
process.stdout.write(
  JSON.stringify({
    results,
    peakFds,
    fdsBefore,
    fdsAfter: openFds(),
    maxRssMiB: peakRssKiB() / 1024,
  }) + '\n',
);
