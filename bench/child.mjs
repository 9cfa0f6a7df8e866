// One measured operation in its own process, so peak RSS and CPU time belong to one client and
// one operation. Usage: node bench/child.mjs <spec.json>. The spec names the client, the
// operation (upload|download) and everything needed; the result is one JSON line, written to
// spec.resultFile and stdout. Module loading happens before the clock starts, and so does
// settling the disk (settle.mjs); only the operation itself is timed.
//
// The embedded clients run client and server in this one process, as the `ferry` CLI does with
// no runner around: `embedded-results` is the CLI's embedded store (backend 'local'), and
// `embedded-legacy` a `startServer` on the same data dir spoken to over the legacy protocol.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { settleDisk } from './settle.mjs';
import { vmHwmKiB } from './vmhwm.mjs';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Peak RSS of this process's own address space (see vmhwm.mjs); maxRSS only without /proc. */
function peakRssKiB() {
  return vmHwmKiB() ?? process.resourceUsage().maxRSS;
}

function finish(result, code) {
  const line = JSON.stringify({ ...result, maxRssMiB: peakRssKiB() / 1024 });
  // The file is what the parent reads (the legacy client prints its own lines to stdout).
  writeFileSync(spec.resultFile, line);
  process.stdout.write(`${line}\n`);
  process.exit(code);
}

try {
  let run;
  if (spec.client === 'ferry' || spec.client === 'ferry-results') {
    const ferry = await import(pathToFileURL(spec.lib ?? path.join(repoRoot, 'lib', 'index.js')).href);
    const protocol =
      spec.client === 'ferry'
        ? { backend: 'legacy', runtimeUrl: spec.runtimeUrl, runId: spec.runId }
        : { backend: 'results', resultsUrl: spec.runtimeUrl };
    const common = {
      ...protocol,
      runtimeToken: spec.token,
      ...(spec.concurrency ? { concurrency: spec.concurrency } : {}),
      ...(spec.compressionLevel !== undefined ? { compressionLevel: spec.compressionLevel } : {}),
    };
    if (spec.op === 'upload') {
      const files = spec.files.map((f) => path.join(spec.root, f));
      run = async () => {
        const r = await ferry.uploadArtifact(spec.name, files, spec.root, common);
        return { fileCount: r.fileCount, size: r.size, uploadedBytes: r.uploadedBytes };
      };
    } else {
      run = async () => {
        const r = await ferry.downloadArtifact(spec.name, { ...common, path: spec.target });
        return { fileCount: r.fileCount, size: r.size };
      };
    }
  } else if (spec.client === 'embedded-results' || spec.client === 'embedded-legacy') {
    const ferry = await import(pathToFileURL(spec.lib ?? path.join(repoRoot, 'lib', 'index.js')).href);
    const embedded = spec.client === 'embedded-results';
    const tuning = {
      ...(spec.concurrency ? { concurrency: spec.concurrency } : {}),
      ...(spec.compressionLevel !== undefined ? { compressionLevel: spec.compressionLevel } : {}),
    };
    // Started and stopped inside the timed region, as the CLI opens its store per command.
    const withStore = async (work) => {
      if (embedded)
        return work({ ...tuning, backend: 'local', localStore: spec.storeDir, runId: spec.runId });
      const server = await ferry.startServer({
        dataDir: spec.storeDir,
        host: '127.0.0.1',
        port: 0,
        token: spec.token,
      });
      try {
        const info = await work({
          ...tuning,
          backend: 'legacy',
          runtimeUrl: server.url,
          runtimeToken: spec.token,
          runId: spec.runId,
        });
        const stats = server.stats();
        return { ...info, requests: stats.requests, connections: stats.connectionsOpened };
      } finally {
        await server.close();
      }
    };
    if (spec.op === 'upload') {
      const files = spec.files.map((f) => path.join(spec.root, f));
      run = () =>
        withStore(async (options) => {
          const r = await ferry.uploadArtifact(spec.name, files, spec.root, options);
          return { fileCount: r.fileCount, size: r.size, uploadedBytes: r.uploadedBytes };
        });
    } else {
      run = () =>
        withStore(async (options) => {
          const r = await ferry.downloadArtifact(spec.name, { ...options, path: spec.target });
          return { fileCount: r.fileCount, size: r.size };
        });
    }
  } else if (spec.client === 'legacy') {
    process.env.ACTIONS_RUNTIME_URL = spec.runtimeUrl;
    process.env.ACTIONS_RUNTIME_TOKEN = spec.token;
    process.env.GITHUB_RUN_ID = spec.runId;
    process.env.GITHUB_WORKSPACE = spec.op === 'upload' ? spec.root : spec.target;
    const require = createRequire(path.join(repoRoot, 'package.json'));
    const client = require('actions-artifact-legacy').create();
    if (spec.op === 'upload') {
      const files = spec.files.map((f) => path.join(spec.root, f));
      run = async () => {
        const r = await client.uploadArtifact(spec.name, files, spec.root, { continueOnError: false });
        if (r.failedItems.length > 0) {
          throw new Error(`legacy upload failed for ${r.failedItems.length} items, e.g. ${r.failedItems[0]}`);
        }
        return { fileCount: r.artifactItems.length, size: r.size };
      };
    } else {
      run = async () => {
        const r = await client.downloadArtifact(spec.name, spec.target, { createArtifactFolder: false });
        return { downloadPath: r.downloadPath };
      };
    }
  } else if (spec.client === 'current') {
    process.env.ACTIONS_RESULTS_URL = spec.runtimeUrl;
    process.env.ACTIONS_RUNTIME_TOKEN = spec.token;
    process.env.GITHUB_WORKSPACE = spec.op === 'upload' ? spec.root : spec.target;
    // Unset means github.com; a loopback GITHUB_SERVER_URL would make the client refuse (GHES check).
    delete process.env.GITHUB_SERVER_URL;
    const { DefaultArtifactClient } = await import('actions-artifact-current');
    const client = new DefaultArtifactClient();
    if (spec.op === 'upload') {
      const files = spec.files.map((f) => path.join(spec.root, f));
      run = async () => {
        const r = await client.uploadArtifact(spec.name, files, spec.root, {
          ...(spec.compressionLevel !== undefined ? { compressionLevel: spec.compressionLevel } : {}),
        });
        return { fileCount: files.length, size: r.size, id: r.id };
      };
    } else {
      run = async () => {
        const { artifact } = await client.getArtifact(spec.name);
        const r = await client.downloadArtifact(artifact.id, {
          path: spec.target,
          expectedHash: artifact.digest,
        });
        if (r.digestMismatch) throw new Error('the official client reported a digest mismatch');
        return { downloadPath: r.downloadPath };
      };
    }
  } else {
    throw new Error(`unknown client ${spec.client}`);
  }

  const settle = await settleDisk();
  // getrusage(RUSAGE_SELF): every thread of this process (zlib and fs work in the thread pool
  // included), user and system apart: small-file work is mostly system time.
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  const info = await run();
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  finish(
    {
      ok: true,
      wallSeconds,
      cpuUserSeconds: cpu.user / 1e6,
      cpuSystemSeconds: cpu.system / 1e6,
      settle,
      info,
    },
    0,
  );
} catch (error) {
  finish(
    {
      ok: false,
      error:
        error instanceof Error
          ? `${error.name}: ${error.message}${error.code ? ` (${error.code})` : ''}`
          : String(error),
      stack: error instanceof Error ? error.stack : undefined,
    },
    1,
  );
}
